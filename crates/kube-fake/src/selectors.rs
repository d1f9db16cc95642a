//! Label and field selectors of list and watch requests (`labelSelector`, `fieldSelector`).

use crate::error::Error;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed label selector: requirements that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3` as the API server does.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut requirements = Vec::new();
        for part in split_top_level(input) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(
                parse_requirement(part)
                    .map_err(|why| Error::bad_request(format!("unable to parse requirement: {why}")))?,
            );
        }
        Ok(LabelSelector(requirements))
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::GreaterThan(k, n) => get(k).and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x > *n),
            Requirement::LessThan(k, n) => get(k).and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x < *n),
        })
    }
}

/// Splits on commas outside parentheses (`a in (x,y),b` is two requirements).
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_of(key.trim())?));
    }
    for (op, build) in [
        ("!=", Requirement::NotEquals as fn(String, String) -> Requirement),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            return Ok(build(key_of(k.trim())?, value_of(v.trim())?));
        }
    }
    for (op, greater) in [(">", true), ("<", false)] {
        if let Some((k, v)) = part.split_once(op) {
            let n = v
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("for 'Gt', 'Lt' operators, the value must be an integer: {part}"))?;
            let k = key_of(k.trim())?;
            return Ok(if greater { Requirement::GreaterThan(k, n) } else { Requirement::LessThan(k, n) });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        for (op, not) in [("notin", true), ("in", false)] {
            if let Some(set) = rest.strip_prefix(op) {
                let set = set.trim();
                let inner = set
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .ok_or_else(|| format!("found '{set}', expected: '('"))?;
                let values = inner.split(',').map(|v| value_of(v.trim())).collect::<Result<Vec<_>, _>>()?;
                let key = key_of(key)?;
                return Ok(if not { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
            }
        }
        return Err(format!("found '{rest}', expected: in, notin, =, ==, !=, gt, lt"));
    }
    Ok(Requirement::Exists(key_of(part)?))
}

fn key_of(key: &str) -> Result<String, String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253);
    if name_ok && prefix_ok { Ok(key.to_string()) } else { Err(format!("invalid label key \"{key}\"")) }
}

fn value_of(value: &str) -> Result<String, String> {
    let ok = value.is_empty()
        || (value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
    if ok { Ok(value.to_string()) } else { Err(format!("invalid label value: \"{value}\"")) }
}

/// A parsed field selector over `metadata.name` and `metadata.namespace`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(Error::bad_request(format!("invalid selector: '{input}'; can't understand '{part}'")));
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" {
                return Err(Error::bad_request(format!("field label not supported: {field}")));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let key = if field == "metadata.name" { "name" } else { "namespace" };
            let actual = object.pointer(&format!("/metadata/{key}")).and_then(Value::as_str).unwrap_or("");
            (actual == value) == *equal
        })
    }
}

/// Both selectors of a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
        self.labels.matches(labels) && self.fields.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selects(selector: &str, labels: Value) -> bool {
        LabelSelector::parse(selector).expect("valid selector").matches(labels.as_object())
    }

    #[test]
    fn equality_set_and_existence_requirements() {
        let labels = json!({"app": "web", "tier": "front", "n": "5"});
        assert!(selects("app=web", labels.clone()));
        assert!(selects("app==web,tier=front", labels.clone()));
        assert!(!selects("app!=web", labels.clone()));
        assert!(selects("missing!=x", labels.clone()));
        assert!(selects("app in (api, web)", labels.clone()));
        assert!(!selects("app notin (api,web)", labels.clone()));
        assert!(selects("missing notin (a)", labels.clone()));
        assert!(!selects("missing in (a)", labels.clone()));
        assert!(selects("app,!missing", labels.clone()));
        assert!(!selects("!app", labels.clone()));
        assert!(selects("n>4,n<6", labels.clone()));
        assert!(selects("", labels));
    }

    #[test]
    fn malformed_selectors_are_bad_requests() {
        for bad in ["app in a", "a b", "=x", "app=Bad Value", "x>y"] {
            let err = LabelSelector::parse(bad).expect_err(bad);
            assert_eq!(err.code(), 400, "{bad}");
        }
        assert_eq!(FieldSelector::parse("spec.x=1").expect_err("unsupported").code(), 400);
    }

    #[test]
    fn field_selectors_match_name_and_namespace() {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns"}});
        assert!(FieldSelector::parse("metadata.name=a,metadata.namespace==ns").expect("valid").matches(&obj));
        assert!(!FieldSelector::parse("metadata.name!=a").expect("valid").matches(&obj));
    }
}
