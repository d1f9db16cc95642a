//! Extractors whose every rejection is an [`ApiError`], so a malformed body, query, path or
//! header gets the same `problem+json` answer as a request the application refused.

use crate::limits::Limits;
use crate::problem::{ApiError, FieldProblem};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// The largest request body accepted (enforced by `DefaultBodyLimit` in the router).
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body: `Content-Type: application/json` (a `charset=utf-8` parameter is
/// allowed), at most [`BODY_LIMIT`] bytes, one JSON object of the target type.
///
/// Malformed JSON is a 400 with the line and column; valid JSON of the wrong shape (missing,
/// unknown, duplicate or mistyped fields) is a 422 naming each field by its path. A body that
/// does not arrive within the body timeout ([`crate::Limits::body_timeout`]) is a 408.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_content_type(req.headers())?;
        let timeout = req.extensions().get::<Limits>().copied().unwrap_or_default().body_timeout;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: BODY_LIMIT }
            } else if timed_out(&rejection) {
                ApiError::BodyTimeout { limit: timeout }
            } else {
                ApiError::UnreadableBody
            }
        })?;
        decode(&bytes).map(Json)
    }
}

/// Whether reading the body failed because its deadline passed (the error the body timeout
/// of [`crate::limits::enforce`] raises, somewhere down the rejection's causes).
fn timed_out(rejection: &BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Requires `application/json`, with at most a UTF-8 charset parameter.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType { found: None });
    };
    let unsupported =
        || ApiError::UnsupportedMediaType { found: Some(String::from_utf8_lossy(value.as_bytes()).into_owned()) };
    let text = value.to_str().map_err(|_| unsupported())?;
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(unsupported());
    }
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=').ok_or_else(unsupported)?;
        let value = value.trim().trim_matches('"');
        if !name.trim().eq_ignore_ascii_case("charset")
            || !(value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8"))
        {
            return Err(unsupported());
        }
    }
    Ok(())
}

/// Decodes a JSON object into `T`: syntax first (400), then the object's shape (422).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Checking the syntax of the whole body before its shape means a body broken half-way is
    // reported as broken, not as having a field of the wrong type.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::MalformedJson { message: bare_message(&e), line: e.line(), column: e.column() });
    }
    // serde would also accept an array for a struct (its fields in order): only objects are.
    let first = bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(ApiError::BodyShape(vec![FieldProblem::new(
            "",
            "invalid-type",
            "the request body must be a JSON object",
        )]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_data() {
                let first = shape_problem(&path, &bare_message(&inner));
                let mut problems = every_shape_problem::<T>(bytes);
                if problems.is_empty() {
                    problems.push(first);
                }
                Err(ApiError::BodyShape(problems))
            } else {
                Err(ApiError::MalformedJson {
                    message: bare_message(&inner),
                    line: inner.line(),
                    column: inner.column(),
                })
            }
        }
    }
}

/// The most shape problems one body reports; past it, the client fixes these first.
const MOST_PROBLEMS: usize = 32;

/// Values put in place of a missing or mistyped field so that serde, which stops at the first
/// problem, goes on to the next field: the first that the field's type takes is kept.
fn stand_ins() -> [serde_json::Value; 7] {
    use serde_json::json;
    [json!(""), json!(0), json!(false), json!({}), json!([]), json!(null), json!(0.5)]
}

/// Every shape problem of a syntactically valid JSON object, as `T` sees them: duplicate
/// fields (found in the text, since a parsed object keeps one of them), then, decoding again
/// and again, each problem serde stops at, with the field it names removed (an unknown
/// field) or stood in for (a missing or mistyped one) so the next decode goes further.
/// Bounded by [`MOST_PROBLEMS`]; what it cannot get past ends the search.
fn every_shape_problem<T: DeserializeOwned>(bytes: &[u8]) -> Vec<FieldProblem> {
    let mut problems = duplicate_fields(bytes);
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return problems;
    };
    // A field stood in for, and the index of the stand-in it holds.
    let mut standing: Vec<(Vec<String>, usize)> = Vec::new();
    let candidates = stand_ins();
    for _ in 0..MOST_PROBLEMS * candidates.len() {
        if problems.len() >= MOST_PROBLEMS {
            break;
        }
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(_) => break,
            Err(e) => e,
        };
        let mut at: Vec<String> = Vec::new();
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Map { key } => at.push(key.clone()),
                serde_path_to_error::Segment::Seq { index } => at.push(index.to_string()),
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = error.inner().to_string();
        let problem = shape_problem(&error.path().to_string(), &message);
        if problem.rule == "required"
            && let Some(name) = problem.field.rsplit('.').next()
        {
            at.push(name.to_owned());
        }
        // An error at a stand-in means it does not fit: the next is tried. One inside it (a
        // member an object stand-in lacks) is stood in for in turn.
        if let Some(entry) = standing.iter_mut().filter(|(p, _)| at.starts_with(p)).max_by_key(|(p, _)| p.len()) {
            if entry.0 == at {
                entry.1 += 1;
                match candidates.get(entry.1) {
                    Some(next) if put(&mut value, &at, Some(next.clone())) => continue,
                    _ => break,
                }
            }
            if !put(&mut value, &at, Some(candidates[0].clone())) {
                break;
            }
            standing.push((at, 0));
            continue;
        }
        let unknown = problem.rule == "unknown-field";
        if !problems.iter().any(|p| p.field == problem.field && p.rule == problem.rule) {
            problems.push(problem);
        }
        let placed =
            if unknown { put(&mut value, &at, None) } else { put(&mut value, &at, Some(candidates[0].clone())) };
        if !placed {
            break;
        }
        if !unknown {
            standing.push((at, 0));
        }
    }
    problems
}

/// Replaces (or, with `None`, removes) the member at `path` of `value`; whether it could.
fn put(value: &mut serde_json::Value, path: &[String], new: Option<serde_json::Value>) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut here = value;
    for key in parents {
        here = match here {
            serde_json::Value::Object(map) => match map.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            serde_json::Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (here, new) {
        (serde_json::Value::Object(map), Some(new)) => {
            map.insert(last.clone(), new);
            true
        }
        (serde_json::Value::Object(map), None) => map.remove(last).is_some(),
        (serde_json::Value::Array(items), Some(new)) => match last.parse::<usize>().ok().and_then(|i| items.get_mut(i))
        {
            Some(slot) => {
                *slot = new;
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Every member name given twice in one object of a JSON text, by its path.
fn duplicate_fields(bytes: &[u8]) -> Vec<FieldProblem> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The text is valid JSON (checked before), so this walk cannot fail.
    let _ = serde::de::DeserializeSeed::deserialize(Duplicates { path: String::new(), found: &mut found }, &mut de);
    found
}

/// Walks a JSON value, noting the members an object names twice.
struct Duplicates<'a> {
    path: String,
    found: &'a mut Vec<FieldProblem>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Duplicates<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Duplicates<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let path = join_path(&self.path, &index.to_string());
            if seq.next_element_seed(Duplicates { path, found: self.found })?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join_path(&self.path, &key);
            if !seen.insert(key) && !self.found.iter().any(|p| p.field == path) {
                self.found.push(FieldProblem::new(
                    path.clone(),
                    "duplicate-field",
                    format!("{path} is given more than once"),
                ));
            }
            map.next_value_seed(Duplicates { path, found: self.found })?;
        }
        Ok(())
    }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") }
}

/// serde_json's message without its " at line L column C" suffix (reported separately).
fn bare_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).map(str::to_owned).unwrap_or(text)
}

/// A serde data error as a field problem: serde names a missing or duplicate field only in
/// its message, one level below the path it reports.
fn shape_problem(path: &str, message: &str) -> FieldProblem {
    let path = if path == "." { "" } else { path };
    let join = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
    let quoted = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned);
    if let Some(name) = quoted("missing field `") {
        return FieldProblem::new(join(&name), "required", format!("{} is required", join(&name)));
    }
    if let Some(name) = quoted("duplicate field `") {
        return FieldProblem::new(join(&name), "duplicate-field", format!("{} is given more than once", join(&name)));
    }
    let rule = [
        ("unknown field", "unknown-field"),
        ("invalid type", "invalid-type"),
        ("invalid value", "invalid-value"),
        ("invalid length", "invalid-length"),
        ("unknown variant", "unknown-variant"),
    ]
    .iter()
    .find(|(prefix, _)| message.starts_with(prefix))
    .map_or("invalid", |(_, rule)| rule);
    FieldProblem::new(path, rule, message)
}

/// A query string deserialized into `T`; a bad one is a 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::BadRequest(vec![query_problem(&rejection)])),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> FieldProblem {
    // axum keeps serde_path_to_error's error (with the parameter's name) as the cause.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<serde_path_to_error::Error<serde::de::value::Error>>() {
            let mut problem = shape_problem(&e.path().to_string(), &e.inner().to_string());
            problem.message = format!("query parameter {}", problem.message);
            return problem;
        }
        source = e.source();
    }
    FieldProblem::new("", "invalid-query", rejection.body_text())
}

/// One path segment, percent-decoded.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) if rejection.status().is_server_error() => Err(ApiError::Internal(rejection.body_text())),
            Err(rejection) => {
                Err(ApiError::BadRequest(vec![FieldProblem::new("", "invalid-path", rejection.body_text())]))
            }
        }
    }
}

/// The name of the header that makes a create request idempotent.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyKey(None));
        };
        let bad =
            |message: &str| ApiError::BadRequest(vec![FieldProblem::new(IDEMPOTENCY_KEY, "invalid-header", message)]);
        if values.next().is_some() {
            return Err(bad("Idempotency-Key must be sent once"));
        }
        let bytes = value.as_bytes();
        if bytes.is_empty() || bytes.len() > 255 {
            return Err(bad("Idempotency-Key must be 1 to 255 characters long"));
        }
        if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(bad(
                "Idempotency-Key must consist of visible ASCII characters (no spaces or control characters)",
            ));
        }
        // Every byte is visible ASCII, so this is the same text.
        Ok(IdempotencyKey(Some(String::from_utf8_lossy(bytes).into_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        kind: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
    }

    fn shape(body: &str) -> (String, String) {
        match decode::<Body>(body.as_bytes()) {
            Err(ApiError::BodyShape(p)) => (p[0].field.clone(), p[0].rule.clone()),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn shape_problems_name_the_field_path() {
        assert_eq!(shape("{}"), ("kind".into(), "required".into()));
        assert_eq!(shape(r#"{"kind":5}"#), ("kind".into(), "invalid-type".into()));
        assert_eq!(shape(r#"{"kind":"a","x":1}"#), ("x".into(), "unknown-field".into()));
        assert_eq!(shape(r#"{"kind":"a","kind":"b"}"#), ("kind".into(), "duplicate-field".into()));
        assert_eq!(shape(r#"{"kind":"a","inner":{}}"#), ("inner.port".into(), "required".into()));
        assert_eq!(shape(r#"{"kind":"a","inner":{"port":70000}}"#), ("inner.port".into(), "invalid-value".into()));
        assert_eq!(shape(r#"["a"]"#), ("".into(), "invalid-type".into()));
        assert_eq!(shape("null"), ("".into(), "invalid-type".into()));
    }

    fn every_problem(body: &str) -> Vec<(String, String)> {
        match decode::<Body>(body.as_bytes()) {
            Err(ApiError::BodyShape(p)) => {
                let mut found: Vec<_> = p.into_iter().map(|p| (p.field, p.rule)).collect();
                found.sort();
                found
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn every_shape_problem_is_reported_not_only_the_first() {
        let pair = |f: &str, r: &str| (f.to_owned(), r.to_owned());
        assert_eq!(
            every_problem(r#"{"kind":1,"x":2,"inner":{"port":"a","y":true}}"#),
            [
                pair("inner.port", "invalid-type"),
                pair("inner.y", "unknown-field"),
                pair("kind", "invalid-type"),
                pair("x", "unknown-field"),
            ]
        );
        assert_eq!(every_problem(r#"{"inner":{}}"#), [pair("inner.port", "required"), pair("kind", "required")]);
        assert_eq!(
            every_problem(r#"{"kind":"a","kind":"b","z":1,"inner":{"port":1,"port":2}}"#),
            [pair("inner.port", "duplicate-field"), pair("kind", "duplicate-field"), pair("z", "unknown-field")]
        );
        // A mistyped field is not also reported missing.
        assert_eq!(every_problem(r#"{"kind":[1]}"#), [pair("kind", "invalid-type")]);
        // However many there are, the answer stays bounded.
        let many: Vec<String> = (0..500).map(|i| format!("\"f{i}\":{i}")).collect();
        let problems = every_problem(&format!("{{\"kind\":\"a\",{}}}", many.join(",")));
        assert_eq!(problems.len(), MOST_PROBLEMS);
        assert!(problems.iter().all(|(_, rule)| rule == "unknown-field"));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        match decode::<Body>(b"{\n  \"kind\": \"a\",,\n}") {
            Err(ApiError::MalformedJson { line, column, message }) => {
                assert_eq!((line, column), (2, 15), "{message}");
                assert!(!message.contains("at line"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode::<Body>(b""), Err(ApiError::MalformedJson { .. })));
        assert!(matches!(decode::<Body>(br#"{"kind":"a"} x"#), Err(ApiError::MalformedJson { .. })));
        assert!(matches!(decode::<Body>(br#"{"kind":5,"#), Err(ApiError::MalformedJson { .. })));
    }

    #[test]
    fn content_types() {
        let check = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            check_content_type(&h).is_ok()
        };
        assert!(check("application/json"));
        assert!(check("Application/JSON; charset=UTF-8"));
        assert!(check("application/json;charset=\"utf-8\""));
        assert!(!check("application/json; charset=latin1"));
        assert!(!check("text/plain"));
        assert!(!check("application/jsonx"));
        assert!(!check("application/x-www-form-urlencoded"));
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
