//! [`ProjectName`]: the name a monorepo is made under. It becomes a directory, the last
//! segment of the Go module, an image name and the prefix of Kubernetes names, so it follows
//! the DNS-1123 label rules, shortened to leave room for what gets appended to it. The type is
//! provision-core's, with every other name the orchestrator parses.

pub use provision_core::ProjectName;

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(value: &str) -> Vec<&'static str> {
        ProjectName::parse(value).err().map(|e| e.problems().iter().map(|p| p.rule).collect()).unwrap_or_default()
    }

    #[test]
    fn names_follow_dns_label_rules_and_report_every_broken_one() {
        assert!(rules("shop").is_empty());
        assert!(rules("1st-shop").is_empty());
        assert_eq!(rules(""), ["required"]);
        assert_eq!(rules("Shop_"), ["uppercase", "invalid-character"]);
        assert_eq!(rules("-shop-"), ["leading-dash", "trailing-dash"]);
        assert_eq!(rules("../x"), ["invalid-character", "dot-dot", "leading-dash"]);
        assert_eq!(rules("ﬆhop"), ["non-ascii"]);
        assert!(rules(&"a".repeat(40)).is_empty());
        assert_eq!(rules(&"a".repeat(41)), ["too-long"]);
    }
}
