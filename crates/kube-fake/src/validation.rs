//! Object-name rules (DNS-1123 subdomain, DNS-1123 label, DNS-1035 label) with the API
//! server's own wording.

use crate::kinds::{NAMESPACES, ResourceId, SERVICES};

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// The rule a resource type's names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// Most types: up to 253 characters, dot-separated labels.
    Subdomain,
    /// Namespaces: one label of up to 63 characters.
    Label,
    /// Services: a label that starts with a letter (it becomes a DNS name and env var).
    Dns1035,
}

pub(crate) fn rule_for(id: ResourceId) -> NameRule {
    if id == NAMESPACES {
        NameRule::Label
    } else if id == SERVICES {
        NameRule::Dns1035
    } else {
        NameRule::Subdomain
    }
}

/// Every rule `name` breaks, in the API server's words (empty when the name is valid).
pub(crate) fn name_problems(rule: NameRule, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (max, ok, message) = match rule {
        NameRule::Subdomain => (253, name.split('.').all(is_label), SUBDOMAIN),
        NameRule::Label => (63, is_label(name), LABEL),
        NameRule::Dns1035 => (63, is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()), DNS1035),
    };
    if name.len() > max {
        problems.push(format!("must be no more than {max} characters"));
    }
    if !ok {
        problems.push(message.to_string());
    }
    problems
}

fn is_label(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty() && s.starts_with(alnum) && s.ends_with(alnum) && s.chars().all(|c| alnum(c) || c == '-')
}

/// The five characters the API server appends to a `generateName` come from this alphabet
/// (no vowels, so no words; no look-alike digits).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A deterministic stand-in for the API server's random suffix: the `n`th suffix.
pub(crate) fn generated_suffix(mut n: u64) -> String {
    let base = ALPHABET.len() as u64;
    let mut out = Vec::with_capacity(5);
    for _ in 0..5 {
        // The modulo keeps the index below the alphabet's length.
        let index = usize::try_from(n % base).unwrap_or_default();
        out.push(ALPHABET[index]);
        n /= base;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_their_rule() {
        assert!(name_problems(NameRule::Subdomain, "a.b-c.d").is_empty());
        assert_eq!(name_problems(NameRule::Subdomain, "Bad_Name").len(), 1);
        assert!(name_problems(NameRule::Label, "a.b")[0].contains("RFC 1123 label"));
        assert!(name_problems(NameRule::Dns1035, "1abc")[0].contains("DNS-1035"));
        assert!(name_problems(NameRule::Label, &"a".repeat(64))[0].contains("63"));
        assert!(name_problems(NameRule::Subdomain, "").len() == 1);
    }

    #[test]
    fn suffixes_are_distinct_and_five_long() {
        assert_eq!(generated_suffix(0), "bbbbb");
        assert_ne!(generated_suffix(1), generated_suffix(2));
        assert_eq!(generated_suffix(12345).len(), 5);
    }
}
