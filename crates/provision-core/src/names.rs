//! Names as types: every name the orchestrator acts on is parsed once, at the boundary.
//!
//! A [`ServiceName`] becomes a repository name, a Helm release, a Kubernetes object and a
//! host label, so it obeys the strictest of those rules. Parsing reports every broken rule
//! (empty, too long, uppercase, non-ASCII look-alikes, dots, slashes, dashes at the ends,
//! reserved words) at once.

use crate::problem::{Invalid, Problem};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The rules one kind of name follows.
struct Rules {
    /// What the name is, for messages: "service name".
    what: &'static str,
    max_len: usize,
    /// Why `max_len`, for the message.
    max_reason: &'static str,
    /// Must begin with a lowercase letter (DNS-1035) rather than a letter or digit.
    letter_first: bool,
    /// Extra characters allowed besides `[a-z0-9-]`.
    extra: &'static [char],
    reserved: &'static [&'static str],
}

fn check(value: &str, rules: &Rules) -> Vec<Problem> {
    let what = rules.what;
    let mut problems = Vec::new();
    let mut push = |rule: &'static str, message: String| problems.push(Problem::new("", rule, message));
    if value.is_empty() {
        push("required", format!("{what} must not be empty"));
        return problems;
    }
    let chars = value.chars().count();
    if chars > rules.max_len {
        push(
            "too-long",
            format!("{what} is {chars} characters long; at most {} are allowed ({})", rules.max_len, rules.max_reason),
        );
    }
    if let Some(c) = value.chars().find(|c| !c.is_ascii()) {
        push(
            "non-ascii",
            format!(
                "{what} contains the non-ASCII character {c:?} (U+{:04X}); only ASCII letters a-z, digits and '-' are allowed, so look-alike letters cannot pass",
                u32::from(c)
            ),
        );
    }
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        push("uppercase", format!("{what} must be lowercase"));
    }
    let bad: Vec<char> = value
        .chars()
        .filter(|c| {
            c.is_ascii()
                && !(c.is_ascii_lowercase()
                    || c.is_ascii_uppercase()
                    || c.is_ascii_digit()
                    || *c == '-'
                    || rules.extra.contains(c))
        })
        .collect();
    if !bad.is_empty() {
        let mut shown: Vec<String> = bad.iter().map(|c| format!("{c:?}")).collect();
        shown.dedup();
        let allowed = if rules.extra.is_empty() {
            "a-z, 0-9 and '-'".to_owned()
        } else {
            format!("a-z, 0-9, '-' and {}", rules.extra.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", "))
        };
        push("invalid-character", format!("{what} contains {}; only {allowed} are allowed", shown.join(", ")));
    }
    if value.contains("..") {
        push("dot-dot", format!("{what} must not contain '..'"));
    }
    let first = value.chars().next().unwrap_or('a');
    if rules.letter_first && !first.is_ascii_alphabetic() && first.is_ascii() && first != '-' {
        push("must-start-with-letter", format!("{what} must start with a letter"));
    }
    if value.starts_with('-') || value.starts_with('.') {
        push("leading-dash", format!("{what} must not start with '{first}'"));
    }
    if value.ends_with('-') || value.ends_with('.') {
        push("trailing-dash", format!("{what} must not end with '{}'", value.chars().last().unwrap_or('-')));
    }
    if value.len() >= 4 && value.as_bytes()[2..4] == *b"--" && value.is_ascii() {
        push(
            "punycode-prefix",
            format!("{what} must not have '--' in its third and fourth characters (reserved for IDNA, like 'xn--')"),
        );
    }
    let lower = value.to_ascii_lowercase();
    if rules.reserved.contains(&lower.as_str()) {
        push("reserved", format!("{what} {value:?} is reserved"));
    }
    problems
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $rules:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            const RULES: Rules = $rules;

            /// Parses `value`, reporting every broken rule.
            pub fn parse(value: &str) -> Result<Self, Invalid> {
                let problems = Self::extra_problems(value, check(value, &Self::RULES));
                if problems.is_empty() { Ok(Self(value.to_owned())) } else { Err(Invalid::new(problems)) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

const DNS_LABEL_RESERVED: &[&str] = &[
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "argocd",
    "flux-system",
    "orchestrator",
    "api",
    "admin",
    "root",
    "git",
    "www",
    "localhost",
    "none",
    "null",
    "undefined",
    "con",
    "nul",
    "aux",
    "prn",
];

name_type!(
    /// A service: a DNS-1035 label of at most 53 characters (Helm's release-name limit), not
    /// ending in `-infra` (that suffix names the service's infra repository).
    ServiceName,
    Rules {
        what: "service name",
        max_len: 53,
        max_reason: "it becomes a Helm release name, limited to 53",
        letter_first: true,
        extra: &[],
        reserved: DNS_LABEL_RESERVED,
    }
);

impl ServiceName {
    fn extra_problems(value: &str, mut problems: Vec<Problem>) -> Vec<Problem> {
        if value.ends_with("-infra") {
            problems.push(Problem::new(
                "",
                "reserved-suffix",
                "service name must not end in '-infra': that suffix names a service's infra repository",
            ));
        }
        problems
    }

    /// The service's own repository.
    pub fn repo(&self) -> RepoName {
        RepoName(self.0.clone())
    }

    /// The repository holding the service's Helm values.
    pub fn infra_repo(&self) -> RepoName {
        RepoName(format!("{}-infra", self.0))
    }

    /// The namespace the service runs in, in `env`: `<service>-<env>`, where Argo CD and Flux
    /// both deploy it, and what a strict-scope sealed secret is bound to. (Create-service
    /// refuses a name for which this is longer than a DNS label.)
    pub fn namespace(&self, env: &EnvName) -> String {
        format!("{}-{env}", self.0)
    }
}

name_type!(
    /// A git repository on a host: lowercase, `[a-z0-9._-]`, at most 100 characters
    /// (GitHub's limit), never `..`-containing or ending in `.git`.
    RepoName,
    Rules {
        what: "repository name",
        max_len: 100,
        max_reason: "GitHub's limit",
        letter_first: false,
        extra: &['.', '_'],
        reserved: &[],
    }
);

impl RepoName {
    fn extra_problems(value: &str, mut problems: Vec<Problem>) -> Vec<Problem> {
        if value.ends_with(".git") {
            problems.push(Problem::new("", "git-suffix", "repository name must not end in '.git'"));
        }
        problems
    }
}

name_type!(
    /// A deployment environment (`qa`, `staging`, `prod`): a DNS-1035 label of at most 20
    /// characters, since it joins the service name in host labels.
    EnvName,
    Rules {
        what: "environment name",
        max_len: 20,
        max_reason: "it is appended to service names in host labels",
        letter_first: true,
        extra: &[],
        reserved: &[],
    }
);

impl EnvName {
    fn extra_problems(_: &str, problems: Vec<Problem>) -> Vec<Problem> {
        problems
    }
}

name_type!(
    /// A blueprint (a service kind, like `ms`): a DNS-1035 label.
    BlueprintName,
    Rules {
        what: "kind",
        max_len: 63,
        max_reason: "a DNS label",
        letter_first: true,
        extra: &[],
        reserved: &[],
    }
);

impl BlueprintName {
    fn extra_problems(_: &str, problems: Vec<Problem>) -> Vec<Problem> {
        problems
    }
}

name_type!(
    /// The team or person owning a service: a DNS-1123 label, used as a Kubernetes label value.
    OwnerName,
    Rules {
        what: "owner",
        max_len: 63,
        max_reason: "a Kubernetes label value",
        letter_first: false,
        extra: &[],
        reserved: &[],
    }
);

impl OwnerName {
    fn extra_problems(_: &str, problems: Vec<Problem>) -> Vec<Problem> {
        problems
    }
}

name_type!(
    /// A monorepo project: a DNS-1123 label of at most 40 characters. It becomes a directory,
    /// the last segment of the Go module, an image name and the prefix of Kubernetes names
    /// (`<project>-<service>-…` within 63).
    ProjectName,
    Rules {
        what: "project name",
        max_len: 40,
        max_reason: "it prefixes Kubernetes names of at most 63",
        letter_first: false,
        extra: &[],
        reserved: &[],
    }
);

impl ProjectName {
    /// At most 40 characters: Kubernetes names are `<project>-<service>-…` within 63.
    pub const MAX_LEN: usize = 40;

    fn extra_problems(_: &str, problems: Vec<Problem>) -> Vec<Problem> {
        problems
    }
}

/// A git branch: `/`-separated components of `[A-Za-z0-9._-]`, as `git check-ref-format`
/// allows them, minus the exotic parts (no `..`, no component starting with `.` or ending in
/// `.lock`, no `@{`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct BranchName(String);

impl BranchName {
    /// Where pristine renders of a blueprint live (see the upgrade design).
    pub const TEMPLATE: &'static str = "orchestrator/template";

    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let mut problems = Vec::new();
        let mut push = |rule, message: String| problems.push(Problem::new("", rule, message));
        if value.is_empty() {
            push("required", "branch name must not be empty".into());
        } else if value.len() > 200 {
            push("too-long", "branch name is longer than 200 bytes".into());
        }
        for component in value.split('/') {
            if component.is_empty() {
                push("empty-component", format!("branch name {value:?} has an empty component"));
            } else if component.starts_with('.') || component.ends_with('.') || component.ends_with(".lock") {
                push(
                    "invalid-component",
                    format!("branch component {component:?} must not start or end with '.', or end in '.lock'"),
                );
            }
            if let Some(c) = component.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
                push(
                    "invalid-character",
                    format!("branch name contains {c:?}; only A-Z, a-z, 0-9, '.', '_', '-' and '/' are allowed"),
                );
            }
        }
        if value.contains("..") {
            push("dot-dot", "branch name must not contain '..'".into());
        }
        if problems.is_empty() { Ok(Self(value.to_owned())) } else { Err(Invalid::new(problems)) }
    }

    pub fn main() -> Self {
        Self("main".into())
    }

    pub fn template() -> Self {
        Self(Self::TEMPLATE.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BranchName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(value: &str) -> Vec<&'static str> {
        match ServiceName::parse(value) {
            Ok(_) => vec![],
            Err(e) => e.problems().iter().map(|p| p.rule).collect(),
        }
    }

    #[test]
    fn service_names_follow_every_rule_at_once() {
        assert_eq!(rules("ms-my-microservice"), Vec::<&str>::new());
        assert_eq!(rules("a1"), Vec::<&str>::new());
        assert_eq!(rules(""), ["required"]);
        assert_eq!(rules(&"a".repeat(54)), ["too-long"]);
        assert!(rules(&"a".repeat(53)).is_empty());
        assert_eq!(rules("My-Service"), ["uppercase"]);
        assert_eq!(rules("-svc"), ["leading-dash"]);
        assert_eq!(rules("svc-"), ["trailing-dash"]);
        assert_eq!(rules("a.b"), ["invalid-character"]);
        assert_eq!(rules("a/b"), ["invalid-character"]);
        assert_eq!(rules("a..b"), ["invalid-character", "dot-dot"]);
        assert_eq!(rules("../etc"), ["invalid-character", "dot-dot", "must-start-with-letter", "leading-dash"]);
        assert_eq!(rules("1svc"), ["must-start-with-letter"]);
        assert_eq!(rules("default"), ["reserved"]);
        assert_eq!(rules("payments-infra"), ["reserved-suffix"]);
        assert_eq!(rules("xn--bcher-kva"), ["punycode-prefix"]);
        // Cyrillic 'е' (U+0435) looks like Latin 'e'.
        assert_eq!(rules("s\u{0435}rvice"), ["non-ascii"]);
        assert_eq!(rules("Bad_Name."), ["uppercase", "invalid-character", "trailing-dash"]);
    }

    #[test]
    fn problems_explain_the_rule() {
        let err = ServiceName::parse("s\u{0435}rvice").unwrap_err();
        assert!(err.to_string().contains("U+0435"), "{err}");
    }

    #[test]
    fn repo_names_allow_dots_but_not_traversal() {
        assert!(RepoName::parse("ms-charts").is_ok());
        assert!(RepoName::parse("my.repo_x").is_ok());
        assert!(RepoName::parse("..").is_err());
        assert!(RepoName::parse("a/b").is_err());
        assert!(RepoName::parse("x.git").is_err());
    }

    #[test]
    fn branch_names() {
        assert!(BranchName::parse("orchestrator/template").is_ok());
        assert!(BranchName::parse("orchestrator/upgrade-1.2.0").is_ok());
        for bad in ["", "a//b", "a/.b", "x.lock", "a..b", "a b", "a@{1}", "feature.", "a./b"] {
            assert!(BranchName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_parses_at_the_boundary() {
        let ok: ServiceName = serde_json::from_str("\"demo\"").unwrap();
        assert_eq!(ok.infra_repo().as_str(), "demo-infra");
        assert!(serde_json::from_str::<ServiceName>("\"Demo\"").is_err());
    }
}
