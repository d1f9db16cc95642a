//! [`ProjectName`]: the name a monorepo is made under. It becomes a directory, the last
//! segment of the Go module, an image name and the prefix of Kubernetes names, so it follows
//! the DNS-1123 label rules, shortened to leave room for what gets appended to it.

use provision_core::{Invalid, Problem};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A project's name: `[a-z0-9-]`, starting and ending with a letter or digit, at most
/// [`ProjectName::MAX_LEN`] characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectName(String);

impl ProjectName {
    /// At most 40 characters: Kubernetes names are `<project>-<service>-…` within 63.
    pub const MAX_LEN: usize = 40;

    /// Parses `value`, reporting every broken rule.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let mut problems = Vec::new();
        let mut push = |rule: &'static str, message: String| problems.push(Problem::new("", rule, message));
        if value.is_empty() {
            push("required", "project name must not be empty".into());
            return Err(Invalid::new(problems));
        }
        let chars = value.chars().count();
        if chars > Self::MAX_LEN {
            push(
                "too-long",
                format!(
                    "project name is {chars} characters long; at most {} are allowed (it prefixes Kubernetes names of at most 63)",
                    Self::MAX_LEN
                ),
            );
        }
        if value.chars().any(|c| c.is_ascii_uppercase()) {
            push("uppercase", "project name must be lowercase".into());
        }
        let mut bad: Vec<String> =
            value.chars().filter(|c| !(c.is_ascii_alphanumeric() || *c == '-')).map(|c| format!("{c:?}")).collect();
        bad.dedup();
        if !bad.is_empty() {
            push(
                "invalid-character",
                format!("project name contains {}; only a-z, 0-9 and '-' are allowed", bad.join(", ")),
            );
        }
        if value.starts_with('-') {
            push("leading-dash", "project name must not start with '-'".into());
        }
        if value.ends_with('-') {
            push("trailing-dash", "project name must not end with '-'".into());
        }
        if problems.is_empty() { Ok(Self(value.to_owned())) } else { Err(Invalid::new(problems)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProjectName({:?})", self.0)
    }
}

impl Serialize for ProjectName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProjectName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

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
        assert_eq!(rules("../x"), ["invalid-character"]);
        assert_eq!(rules("ﬆhop"), ["invalid-character"]);
        assert!(rules(&"a".repeat(40)).is_empty());
        assert_eq!(rules(&"a".repeat(41)), ["too-long"]);
    }
}
