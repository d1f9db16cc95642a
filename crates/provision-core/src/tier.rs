//! How much of a service an environment runs: one rule for every way of deploying (Helm
//! values, Flux manifests), so they agree.

use crate::names::EnvName;

/// An environment's tier, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Where people test: qa, dev, and any name not below.
    Test,
    /// Where a release is rehearsed: staging, preprod.
    Rehearsal,
    /// Where people depend on it: prod, production.
    Production,
}

/// CPU and memory, as Kubernetes quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub cpu: &'static str,
    pub memory: &'static str,
}

impl Tier {
    pub fn of(env: &EnvName) -> Self {
        match env.as_str() {
            "prod" | "production" => Tier::Production,
            "staging" | "preprod" => Tier::Rehearsal,
            _ => Tier::Test,
        }
    }

    pub fn replicas(self) -> u32 {
        match self {
            Tier::Test => 1,
            Tier::Rehearsal => 2,
            Tier::Production => 3,
        }
    }

    /// Requests and limits of the service's container.
    pub fn resources(self) -> (Quantity, Quantity) {
        let q = |cpu, memory| Quantity { cpu, memory };
        match self {
            Tier::Test => (q("50m", "64Mi"), q("250m", "128Mi")),
            Tier::Rehearsal => (q("100m", "128Mi"), q("500m", "256Mi")),
            Tier::Production => (q("250m", "256Mi"), q("1", "512Mi")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_tiers_and_tiers_grow() {
        let tier = |name: &str| Tier::of(&EnvName::parse(name).unwrap());
        assert_eq!([tier("qa"), tier("dev"), tier("perf")], [Tier::Test; 3]);
        assert_eq!([tier("staging"), tier("preprod")], [Tier::Rehearsal; 2]);
        assert_eq!([tier("prod"), tier("production")], [Tier::Production; 2]);
        let replicas: Vec<u32> = [Tier::Test, Tier::Rehearsal, Tier::Production].map(Tier::replicas).to_vec();
        assert_eq!(replicas, [1, 2, 3]);
    }
}
