//! E-mail addresses as types, and the allowlist of domains whose people may ask for a workspace.
//!
//! [`EmailAddress::parse`] accepts a strict subset of RFC 5322's `addr-spec`: a dot-atom local
//! part, `@`, and a domain of ASCII letter-digit-hyphen labels. Everything a person could use to
//! make an address *look* like it belongs to an allowed domain while mail goes elsewhere is
//! refused: quoted local parts, comments, display names, IP literals, a trailing dot, several
//! `@`, whitespace, control characters, and any non-ASCII character at all (so look-alike
//! letters, fullwidth forms, zero-width and right-to-left characters cannot pass). The
//! source-routing characters `%` and `!` are refused too, although RFC 5322 allows them: some
//! servers still relay `user%elsewhere@allowed.example` onward, which would let mail for an
//! allowed domain reach another one.
//!
//! Internationalised domains are compared in their ASCII (punycode, `xn--`) form, exactly: an
//! allowlist entry may be written in punycode, and a look-alike domain in punycode is a
//! different string from the entry, so it does not match.
//!
//! [`DomainAllowlist::allows`] compares the lowercased domain with each entry for equality:
//! never a suffix or substring match, so `x@iiitm.ac.in.evil.com` and `x@sub.iiitm.ac.in` are
//! not at `iiitm.ac.in`.

use crate::problem::{Invalid, Problem};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// RFC 5321's limit on a forward path, minus the angle brackets.
const MAX_ADDRESS: usize = 254;
/// RFC 5321's limit on a local part.
const MAX_LOCAL: usize = 64;
/// RFC 1035's limit on a domain name written with dots and without the trailing dot.
const MAX_DOMAIN: usize = 253;
/// RFC 1035's limit on a label.
const MAX_LABEL: usize = 63;

/// An e-mail address `local@domain`: the local part as the person wrote it, the domain
/// lowercased.
///
/// Equality compares the local part case-sensitively, as RFC 5321 allows servers to; use
/// [`EmailAddress::normalized`] for identity and quotas, where `Ann@x.org` and `ann@x.org`
/// are one person.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress {
    /// `local@domain`, the domain lowercased.
    address: String,
    /// Where the `@` is in `address`.
    at: usize,
}

impl EmailAddress {
    /// Parses `value`, reporting every broken rule. Nothing is trimmed: surrounding whitespace
    /// is an error, like whitespace anywhere else.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let mut problems = Vec::new();
        let mut push = |rule: &'static str, message: String| problems.push(Problem::new("", rule, message));
        if value.is_empty() {
            push("required", "e-mail address must not be empty".into());
            return Err(Invalid::new(problems));
        }
        if value.len() > MAX_ADDRESS {
            push(
                "too-long",
                format!("e-mail address is {} characters long; at most {MAX_ADDRESS} are allowed", value.len()),
            );
        }
        check_characters(value, "e-mail address", &mut push);
        // These change the grammar (a quoted string may hold an `@`, a display name wraps the
        // address), so splitting at `@` would only report the same mistake again.
        let mut grammar_broken = false;
        if value.contains(['<', '>']) {
            grammar_broken = true;
            push(
                "display-name",
                "e-mail address must be the bare address, like ann@example.org, without a name or angle brackets"
                    .into(),
            );
        }
        if value.contains(['(', ')']) {
            grammar_broken = true;
            push("comment", "e-mail address must not contain comments in parentheses".into());
        }
        if value.contains('"') {
            grammar_broken = true;
            push(
                "quoted-local-part",
                "e-mail address must not contain quotes; quoted local parts are not accepted".into(),
            );
        }
        if !grammar_broken {
            match value.matches('@').count() {
                0 => push("no-at", "e-mail address must contain '@', like ann@example.org".into()),
                1 => {
                    let (local, domain) = value.split_once('@').unwrap_or_default();
                    check_local(local, &mut push);
                    check_domain(domain, "e-mail domain", &mut push);
                }
                n => push("several-at", format!("e-mail address contains '@' {n} times; exactly one is allowed")),
            }
        }
        if !problems.is_empty() {
            return Err(Invalid::new(problems));
        }
        let at = value.find('@').unwrap_or_default();
        let address = format!("{}@{}", &value[..at], value[at + 1..].to_ascii_lowercase());
        Ok(Self { address, at })
    }

    /// The part before the `@`, as written.
    pub fn local(&self) -> &str {
        &self.address[..self.at]
    }

    /// The part after the `@`, lowercased.
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// `local@domain`, the domain lowercased and the local part as written.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The whole address lowercased: the one key for a person, for ownership and quotas.
    pub fn normalized(&self) -> String {
        self.address.to_ascii_lowercase()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({:?})", self.address)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.address
    }
}

impl FromStr for EmailAddress {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Self::parse(s)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.address)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The domains whose addresses may ask, lowercased. An address is allowed when its domain
/// equals an entry: subdomains are not included unless listed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DomainAllowlist {
    domains: BTreeSet<String>,
}

impl DomainAllowlist {
    /// Parses the entries, each a domain like `iiitm.ac.in` (any case; duplicates are merged).
    /// The problems of entry `i` are under field `i`. An empty list is refused: it would turn
    /// everyone away, which is more likely a missing setting than a wish.
    pub fn parse<I, S>(entries: I) -> Result<Self, Invalid>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut problems = Vec::new();
        let mut domains = BTreeSet::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let entry = entry.as_ref();
            let field = i.to_string();
            let before = problems.len();
            let mut push =
                |rule: &'static str, message: String| problems.push(Problem::new(field.as_str(), rule, message));
            if entry.is_empty() {
                push("required", "allowed domain must not be empty".into());
                continue;
            }
            check_characters(entry, "allowed domain", &mut push);
            if entry.contains('@') {
                push(
                    "invalid-domain",
                    format!("allowed domain {entry:?} must be a domain like example.org, not an address"),
                );
            } else {
                check_domain(entry, "allowed domain", &mut push);
            }
            if problems.len() == before {
                domains.insert(entry.to_ascii_lowercase());
            }
        }
        if problems.is_empty() && domains.is_empty() {
            problems.push(Problem::new(
                "",
                "required",
                "at least one allowed domain is needed; none would refuse everyone",
            ));
        }
        if problems.is_empty() { Ok(Self { domains }) } else { Err(Invalid::new(problems)) }
    }

    /// Whether the address's domain is exactly one of the entries.
    pub fn allows(&self, email: &EmailAddress) -> bool {
        self.domains.contains(email.domain())
    }

    /// `Ok` if [`allows`](Self::allows), otherwise a problem of field `email` with rule
    /// `domain-not-allowed` naming the allowed domains.
    pub fn check(&self, email: &EmailAddress) -> Result<(), Invalid> {
        if self.allows(email) {
            return Ok(());
        }
        let allowed = self.domains.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
        Err(Invalid::one(
            "email",
            "domain-not-allowed",
            format!(
                "addresses at {} are not allowed; only addresses at exactly {allowed} are (subdomains are not included)",
                email.domain()
            ),
        ))
    }

    /// The entries, lowercased and sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(String::as_str)
    }
}

impl Serialize for DomainAllowlist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.domains.serialize(s)
    }
}

impl<'de> Deserialize<'de> for DomainAllowlist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        Self::parse(entries).map_err(serde::de::Error::custom)
    }
}

/// RFC 5322 `atext`: what a dot-atom may hold besides dots.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Characters the finer checks leave alone because this reports them, once each kind:
/// whitespace, control characters and anything outside ASCII.
fn check_characters(value: &str, what: &str, push: &mut impl FnMut(&'static str, String)) {
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| c.is_ascii_whitespace() || *c == '\u{b}') {
        push("whitespace", format!("{what} contains whitespace ({c:?} at character {}); none is allowed", i + 1));
    }
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| is_ascii_control(*c)) {
        push(
            "control-character",
            format!("{what} contains the control character {c:?} at character {}; none is allowed", i + 1),
        );
    }
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        push(
            "non-ascii",
            format!(
                "{what} contains the non-ASCII character {c:?} (U+{:04X}) at character {}; only ASCII is accepted, so look-alike and invisible characters cannot pass",
                u32::from(c),
                i + 1
            ),
        );
    }
}

/// A control character that is not reported as whitespace.
fn is_ascii_control(c: char) -> bool {
    c.is_ascii_control() && !(c.is_ascii_whitespace() || c == '\u{b}')
}

fn quoted_list(chars: impl Iterator<Item = char>) -> String {
    let mut seen: Vec<char> = Vec::new();
    for c in chars {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
}

fn check_local(local: &str, push: &mut impl FnMut(&'static str, String)) {
    if local.is_empty() {
        push("missing-local-part", "e-mail address has nothing before the '@'".into());
        return;
    }
    if local.len() > MAX_LOCAL {
        push(
            "too-long",
            format!("the part before the '@' is {} characters long; at most {MAX_LOCAL} are allowed", local.len()),
        );
    }
    let bad = local.chars().filter(|c| c.is_ascii_graphic() && !is_atext(*c) && *c != '.');
    let bad = quoted_list(bad);
    if !bad.is_empty() {
        push(
            "invalid-local-part",
            format!(
                "the part before the '@' contains {bad}; only letters, digits, '.' and !#$&'*+-/=?^_`{{|}}~ are allowed"
            ),
        );
    }
    let routing = quoted_list(local.chars().filter(|c| matches!(c, '%' | '!')));
    if !routing.is_empty() {
        push(
            "source-route",
            format!(
                "the part before the '@' contains {routing}, which some mail servers use to relay mail to another domain; it is not accepted"
            ),
        );
    }
    if local.starts_with('.') || local.ends_with('.') {
        push("invalid-local-part", "the part before the '@' must not start or end with '.'".into());
    }
    if local.contains("..") {
        push("invalid-local-part", "the part before the '@' must not contain '..'".into());
    }
}

/// Checks a domain in its ASCII form, leaving whitespace, control and non-ASCII characters to
/// [`check_characters`].
fn check_domain(domain: &str, what: &str, push: &mut impl FnMut(&'static str, String)) {
    if domain.is_empty() {
        push("missing-domain", format!("{what} is missing: nothing follows the '@'"));
        return;
    }
    if domain.starts_with('[') || domain.contains([']', '[']) {
        push("ip-literal", format!("{what} must be a name like example.org, not an address in brackets"));
        return;
    }
    if domain.len() > MAX_DOMAIN {
        push("too-long", format!("{what} is {} characters long; at most {MAX_DOMAIN} are allowed", domain.len()));
    }
    let name = match domain.strip_suffix('.') {
        Some(name) => {
            push("trailing-dot", format!("{what} must not end with '.'"));
            name
        }
        None => domain,
    };
    let bad = quoted_list(
        name.chars().filter(|c| c.is_ascii_graphic() && !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')),
    );
    if !bad.is_empty() {
        push("invalid-domain", format!("{what} contains {bad}; only letters, digits, '-' and '.' are allowed"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        push("invalid-domain", format!("{what} must not start with '.' or contain '..'"));
    }
    if let Some(long) = labels.iter().find(|l| l.len() > MAX_LABEL) {
        push(
            "too-long",
            format!("{what} has a part of {} characters between dots; at most {MAX_LABEL} are allowed", long.len()),
        );
    }
    if let Some(label) = labels.iter().find(|l| l.starts_with('-') || l.ends_with('-')) {
        push("invalid-domain", format!("{what} has the part {label:?}, which starts or ends with '-'"));
    }
    if labels.len() < 2 && !name.is_empty() {
        push("invalid-domain", format!("{what} must have at least two parts, like example.org"));
    } else if let Some(tld) = labels.last().filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())) {
        push(
            "invalid-domain",
            format!("{what} ends in the all-digit part {tld:?}; it must be a name, not an IP address"),
        );
    }
}

#[cfg(test)]
mod table;

#[cfg(test)]
mod tests {
    use super::*;

    fn allowlist() -> DomainAllowlist {
        DomainAllowlist::parse(["iiitm.ac.in"]).unwrap()
    }

    #[test]
    fn parts_keep_the_local_case_and_lowercase_the_domain() {
        let email = EmailAddress::parse("First.Last+ws@IIITM.Ac.In").unwrap();
        assert_eq!(email.local(), "First.Last+ws");
        assert_eq!(email.domain(), "iiitm.ac.in");
        assert_eq!(email.as_str(), "First.Last+ws@iiitm.ac.in");
        assert_eq!(email.normalized(), "first.last+ws@iiitm.ac.in");
        assert!(allowlist().allows(&email));
    }

    #[test]
    fn problems_move_under_the_callers_field() {
        let err = EmailAddress::parse("x@").unwrap_err().within("email");
        assert_eq!(err.problems()[0].field, "email");
        assert_eq!(err.problems()[0].rule, "missing-domain");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = EmailAddress::parse(".x y@-bad").unwrap_err();
        let rules: Vec<&str> = err.problems().iter().map(|p| p.rule).collect();
        assert_eq!(rules, ["whitespace", "invalid-local-part", "invalid-domain", "invalid-domain"]);
    }

    #[test]
    fn non_ascii_messages_name_the_code_point() {
        let err = EmailAddress::parse("x@iiitm.\u{0430}c.in").unwrap_err();
        assert!(err.to_string().contains("U+0430"), "{err}");
    }

    #[test]
    fn the_allowlist_check_names_the_allowed_domains() {
        let list = DomainAllowlist::parse(["IIITM.ac.in", "example.org", "iiitm.ac.in"]).unwrap();
        assert_eq!(list.domains().collect::<Vec<_>>(), ["example.org", "iiitm.ac.in"]);
        let err = list.check(&EmailAddress::parse("x@evil.com").unwrap()).unwrap_err();
        let [problem] = err.problems() else { panic!("{err}") };
        assert_eq!((problem.field.as_str(), problem.rule), ("email", "domain-not-allowed"));
        assert!(problem.message.contains("example.org, iiitm.ac.in"), "{}", problem.message);
        assert!(list.check(&EmailAddress::parse("x@example.org").unwrap()).is_ok());
    }

    #[test]
    fn allowlist_entries_are_domains() {
        let rules = |entries: &[&str]| match DomainAllowlist::parse(entries) {
            Ok(_) => vec![],
            Err(e) => e.problems().iter().map(|p| (p.field.clone(), p.rule)).collect(),
        };
        assert_eq!(rules(&[]), [(String::new(), "required")]);
        assert_eq!(rules(&["iiitm.ac.in", ""]), [("1".to_owned(), "required")]);
        assert_eq!(rules(&["*.iiitm.ac.in"]), [("0".to_owned(), "invalid-domain")]);
        assert_eq!(rules(&[".iiitm.ac.in"]), [("0".to_owned(), "invalid-domain")]);
        assert_eq!(rules(&["@iiitm.ac.in"]), [("0".to_owned(), "invalid-domain")]);
        assert_eq!(rules(&["iiitm.ac.in."]), [("0".to_owned(), "trailing-dot")]);
        assert_eq!(rules(&["iiitm.\u{0430}c.in"]), [("0".to_owned(), "non-ascii")]);
        assert_eq!(rules(&["localhost"]), [("0".to_owned(), "invalid-domain")]);
        assert!(rules(&["xn--bcher-kva.example"]).is_empty());
    }

    #[test]
    fn serde_parses_at_the_boundary() {
        let email: EmailAddress = serde_json::from_str("\"ann@Example.org\"").unwrap();
        assert_eq!(serde_json::to_string(&email).unwrap(), "\"ann@example.org\"");
        assert!(serde_json::from_str::<EmailAddress>("\"Ann <ann@example.org>\"").is_err());
        let list: DomainAllowlist = serde_json::from_str(r#"["Example.org"]"#).unwrap();
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"["example.org"]"#);
        assert!(serde_json::from_str::<DomainAllowlist>(r#"["example.org."]"#).is_err());
    }
}
