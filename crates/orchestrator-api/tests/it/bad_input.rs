//! Every kind of bad input, as a table: each answers its status as `problem+json`, names the
//! field and rule at fault, and none is a 5xx.

use crate::support::{Api, field_rules, post, seed_body};
use axum::body::Body;
use axum::http::Request;
use serde_json::json;

/// One bad request and what it must answer.
struct Case {
    what: &'static str,
    request: fn() -> Request<Body>,
    status: u16,
    /// A `(field, rule)` the problem's `errors` must hold; `None` for problems without fields.
    expect: Option<(&'static str, &'static str)>,
}

fn json_to(uri: &str, body: serde_json::Value) -> Request<Body> {
    post(uri, Some("application/json"), &[], body.to_string().into_bytes())
}

fn raw_to(uri: &str, body: &str) -> Request<Body> {
    post(uri, Some("application/json"), &[], body.as_bytes().to_vec())
}

fn seed(kind: &str, name: &str, description: &str) -> Request<Body> {
    json_to("/create-service", seed_body(kind, name, description))
}

fn v1(body: serde_json::Value) -> Request<Body> {
    json_to("/v1/services", body)
}

fn with_key(key: &[u8]) -> Request<Body> {
    post(
        "/v1/services",
        Some("application/json"),
        &[("idempotency-key", key)],
        json!({ "kind": "ms", "name": "keyed" }).to_string().into_bytes(),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("a valid request")
}

fn method(method: &str, uri: &str) -> Request<Body> {
    Request::builder().method(method).uri(uri).body(Body::empty()).expect("a valid request")
}

const fn case(
    what: &'static str,
    request: fn() -> Request<Body>,
    status: u16,
    expect: Option<(&'static str, &'static str)>,
) -> Case {
    Case { what, request, status, expect }
}

fn cases() -> Vec<Case> {
    vec![
        // What the application refuses: 422 with the field and the rule.
        case("unknown kind", || seed("nope", "svc", "d"), 422, Some(("kind", "unknown-kind"))),
        case("unknown kind on v1", || v1(json!({"kind": "nope", "name": "svc"})), 422, Some(("kind", "unknown-kind"))),
        case("empty kind", || seed("", "svc", "d"), 422, Some(("kind", "required"))),
        case("empty name", || seed("ms", "", "d"), 422, Some(("name", "required"))),
        case("54-character name", || seed("ms", &"a".repeat(54), "d"), 422, Some(("name", "too-long"))),
        case("uppercase name", || seed("ms", "MyService", "d"), 422, Some(("name", "uppercase"))),
        case("leading dash", || seed("ms", "-svc", "d"), 422, Some(("name", "leading-dash"))),
        case("trailing dash", || seed("ms", "svc-", "d"), 422, Some(("name", "trailing-dash"))),
        case("dots", || seed("ms", "svc.name", "d"), 422, Some(("name", "invalid-character"))),
        case("slashes", || seed("ms", "svc/name", "d"), 422, Some(("name", "invalid-character"))),
        case("path traversal", || seed("ms", "../etc", "d"), 422, Some(("name", "dot-dot"))),
        case("dot-dot", || seed("ms", "..", "d"), 422, Some(("name", "dot-dot"))),
        case("Cyrillic look-alike", || seed("ms", "s\u{0435}rvice", "d"), 422, Some(("name", "non-ascii"))),
        case("reserved name", || seed("ms", "default", "d"), 422, Some(("name", "reserved"))),
        case("infra suffix", || seed("ms", "x-infra", "d"), 422, Some(("name", "reserved-suffix"))),
        case("GitOps repository's name", || seed("ms", "argo-gitdir-services", "d"), 422, Some(("name", "reserved"))),
        case("digit first", || seed("ms", "1svc", "d"), 422, Some(("name", "must-start-with-letter"))),
        case("two-line description", || seed("ms", "svc", "a\nb"), 422, Some(("description", "control-character"))),
        case("long description", || seed("ms", "svc", &"d".repeat(351)), 422, Some(("description", "too-long"))),
        case(
            "bad owner",
            || v1(json!({"kind": "ms", "name": "svc", "owner": "-team"})),
            422,
            Some(("owner", "leading-dash")),
        ),
        case(
            "out-of-range parameter",
            || v1(json!({"kind": "ms", "name": "svc", "parameters": {"port": 0}})),
            422,
            Some(("parameters.port", "")),
        ),
        // The body's shape: 422 naming the field path.
        case(
            "missing kind (seed)",
            || json_to("/create-service", json!({"name": "svc", "description": "d"})),
            422,
            Some(("kind", "required")),
        ),
        case(
            "missing name (seed)",
            || json_to("/create-repo", json!({"kind": "ms", "description": "d"})),
            422,
            Some(("name", "required")),
        ),
        case(
            "missing description (seed)",
            || json_to("/create-repo", json!({"kind": "ms", "name": "svc"})),
            422,
            Some(("description", "required")),
        ),
        case("missing name (v1)", || v1(json!({"kind": "ms"})), 422, Some(("name", "required"))),
        case(
            "name is a number",
            || json_to("/create-repo", json!({"kind": "ms", "name": 5, "description": "d"})),
            422,
            Some(("name", "invalid-type")),
        ),
        case("kind is null", || v1(json!({"kind": null, "name": "svc"})), 422, Some(("kind", "invalid-type"))),
        case(
            "parameters is a list",
            || v1(json!({"kind": "ms", "name": "svc", "parameters": []})),
            422,
            Some(("parameters", "invalid-type")),
        ),
        case(
            "owner is an object",
            || v1(json!({"kind": "ms", "name": "svc", "owner": {"x": 1}})),
            422,
            Some(("owner", "invalid-type")),
        ),
        case(
            "unknown field (seed)",
            || json_to("/create-service", json!({"kind": "ms", "name": "svc", "description": "d", "extra": 1})),
            422,
            Some(("extra", "unknown-field")),
        ),
        case(
            "owner on the seed route",
            || json_to("/create-repo", json!({"kind": "ms", "name": "svc", "description": "d", "owner": "t"})),
            422,
            Some(("owner", "unknown-field")),
        ),
        case(
            "unknown field (v1)",
            || v1(json!({"kind": "ms", "name": "svc", "nme": "x"})),
            422,
            Some(("nme", "unknown-field")),
        ),
        case(
            "duplicate field",
            || raw_to("/v1/services", r#"{"kind":"ms","name":"a","name":"b"}"#),
            422,
            Some(("name", "duplicate-field")),
        ),
        case("array body", || raw_to("/v1/services", r#"["ms","svc"]"#), 422, Some(("", "invalid-type"))),
        case("string body", || raw_to("/create-repo", r#""ms""#), 422, Some(("", "invalid-type"))),
        case("null body", || raw_to("/create-repo", "null"), 422, Some(("", "invalid-type"))),
        // Not JSON at all: 400 with where the parser stopped.
        case("not JSON", || raw_to("/create-service", "kind=ms&name=svc"), 400, Some(("", "malformed-json"))),
        case("truncated JSON", || raw_to("/v1/services", r#"{"kind":"ms","name":"#), 400, Some(("", "malformed-json"))),
        case(
            "trailing garbage",
            || raw_to("/v1/services", r#"{"kind":"ms","name":"svc"} {}"#),
            400,
            Some(("", "malformed-json")),
        ),
        case("empty body", || raw_to("/create-repo", ""), 400, Some(("", "malformed-json"))),
        case(
            "invalid UTF-8",
            || post("/v1/services", Some("application/json"), &[], b"{\"kind\":\"m\xffs\"}".to_vec()),
            400,
            Some(("", "malformed-json")),
        ),
        case(
            "deeply nested body",
            || raw_to("/v1/services", &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
            422,
            Some(("", "invalid-type")),
        ),
        case(
            "deeply nested parameter",
            || {
                raw_to(
                    "/v1/services",
                    &format!(
                        r#"{{"kind":"ms","name":"svc","parameters":{{"a":{}{}}}}}"#,
                        "[".repeat(10_000),
                        "]".repeat(10_000)
                    ),
                )
            },
            400,
            Some(("", "malformed-json")),
        ),
        // Content type and size.
        case(
            "text/plain",
            || post("/create-service", Some("text/plain"), &[], seed_body("ms", "svc", "d").to_string().into_bytes()),
            415,
            None,
        ),
        case(
            "form content type",
            || post("/v1/services", Some("application/x-www-form-urlencoded"), &[], b"kind=ms".to_vec()),
            415,
            None,
        ),
        case(
            "latin1 charset",
            || post("/v1/services", Some("application/json; charset=latin1"), &[], b"{}".to_vec()),
            415,
            None,
        ),
        case(
            "no content type",
            || post("/create-repo", None, &[], seed_body("ms", "svc", "d").to_string().into_bytes()),
            415,
            None,
        ),
        case("oversize body", || seed("ms", "svc", &"d".repeat(70 * 1024)), 413, None),
        case(
            "oversize garbage",
            || post("/v1/services", Some("application/json"), &[], vec![b'x'; 65 * 1024 + 1]),
            413,
            None,
        ),
        // Headers and query parameters: 400.
        case("empty Idempotency-Key", || with_key(b""), 400, Some(("Idempotency-Key", "invalid-header"))),
        case(
            "256-character Idempotency-Key",
            || with_key("k".repeat(256).as_bytes()),
            400,
            Some(("Idempotency-Key", "invalid-header")),
        ),
        case("Idempotency-Key with a space", || with_key(b"a b"), 400, Some(("Idempotency-Key", "invalid-header"))),
        case("non-ASCII Idempotency-Key", || with_key(b"cl\xc3\xa9"), 400, Some(("Idempotency-Key", "invalid-header"))),
        case(
            "dry_run not a boolean",
            || json_to("/v1/services?dry_run=yes", json!({"kind": "ms", "name": "svc"})),
            400,
            Some(("dry_run", "invalid")),
        ),
        case(
            "unknown query parameter",
            || json_to("/create-repo?dryrun=true", seed_body("ms", "svc", "d")),
            400,
            Some(("dryrun", "unknown-field")),
        ),
        case(
            "unknown environment on create",
            || v1(json!({"kind": "ms", "name": "svc", "environments": ["qa", "moon"]})),
            422,
            Some(("environments[1]", "unknown-environment")),
        ),
        case(
            "environments not a list",
            || v1(json!({"kind": "ms", "name": "svc", "environments": "qa"})),
            422,
            Some(("environments", "invalid-type")),
        ),
        case(
            "unknown GitOps engine",
            || v1(json!({"kind": "ms", "name": "svc", "gitops": "helm"})),
            422,
            Some(("gitops", "unknown-engine")),
        ),
        case(
            "Flux without a remote URL",
            || v1(json!({"kind": "ms", "name": "svc", "gitops": "flux"})),
            422,
            Some(("gitops", "needs-remote-url")),
        ),
        // Image bumps.
        case("empty tag", || json_to("/v1/services/svc/image", json!({"tag": ""})), 422, Some(("tag", "invalid"))),
        case(
            "tag with a slash",
            || json_to("/v1/services/svc/image", json!({"tag": "a/b"})),
            422,
            Some(("tag", "invalid")),
        ),
        case(
            "unknown environment",
            || json_to("/v1/services/svc/image", json!({"tag": "v1", "env": "moon"})),
            422,
            Some(("env", "unknown-environment")),
        ),
        case("tag missing", || json_to("/v1/services/svc/image", json!({})), 422, Some(("tag", "required"))),
        case("image of an unknown service", || json_to("/v1/services/nope/image", json!({"tag": "v1"})), 404, None),
        case("GET image", || get("/v1/services/svc/image"), 405, None),
        // Upgrades.
        case("upgrade of nothing", || json_to("/v1/upgrades", json!({})), 422, Some(("service", "required"))),
        case(
            "upgrade of one and all",
            || json_to("/v1/upgrades", json!({"service": "svc", "all": true})),
            422,
            Some(("all", "conflict")),
        ),
        case(
            "upgrade mode unknown",
            || json_to("/v1/upgrades", json!({"all": true, "mode": "sideways"})),
            422,
            Some(("mode", "unknown-variant")),
        ),
        case(
            "upgrade field unknown",
            || json_to("/v1/upgrades", json!({"all": true, "force": true})),
            422,
            Some(("force", "unknown-field")),
        ),
        case("upgrade of an unknown service", || json_to("/v1/upgrades", json!({"service": "nope"})), 404, None),
        case("upgrade of an invalid name", || json_to("/v1/upgrades", json!({"service": "../x"})), 404, None),
        case("GET upgrades", || get("/v1/upgrades"), 405, None),
        case("limit zero", || get("/v1/runs?limit=0"), 400, Some(("limit", "out-of-range"))),
        case("limit not a number", || get("/v1/runs?limit=ten"), 400, Some(("limit", "invalid"))),
        // Routes and methods.
        case("unknown route", || get("/nope"), 404, None),
        case("unknown route under v1", || get("/v1/services/a/b"), 404, None),
        case("unknown run", || get("/v1/runs/0190c3b4-0000-7000-8000-000000000000"), 404, None),
        case("malformed run id", || get("/v1/runs/..%2F..%2Fetc"), 404, None),
        case("unknown service", || get("/v1/services/nope"), 404, None),
        case("invalid service name", || get("/v1/services/NOPE"), 404, None),
        case(
            "go module with a .. element",
            || v1(json!({"kind": "ms", "name": "gomod", "parameters": {"go_module": "example.com/../x"}})),
            422,
            Some(("parameters.go_module", "dot-dot")),
        ),
        case(
            "go module far too long",
            || {
                v1(
                    json!({"kind": "ms", "name": "gomod", "parameters": {"go_module": format!("example.com/{}", "a".repeat(300))}}),
                )
            },
            422,
            Some(("parameters.go_module", "too-long")),
        ),
        // Path parameters are parsed into their types before anything is asked: a value that
        // cannot be a service name or a run id names none.
        case("service name escaping its path", || get("/v1/services/..%2F..%2Fetc%2Fpasswd"), 404, None),
        case("service name with a query", || get("/v1/services/x%3FlabelSelector%3Da"), 404, None),
        case("service name with a space", || get("/v1/services/x%20y"), 404, None),
        case("service name with a NUL", || get("/v1/services/%00"), 404, None),
        case("service name with invalid UTF-8", || get("/v1/services/%ff"), 400, None),
        case("a very long service name", || get(&format!("/v1/services/{}", "a".repeat(5000))), 404, None),
        case("run id escaping its path", || get("/v1/runs/..%2F..%2Fapi%2Fv1"), 404, None),
        case("run id with a space", || get("/v1/runs/x%20y"), 404, None),
        case("run id with a NUL", || get("/v1/runs/%00"), 404, None),
        case("a very long run id", || get(&format!("/v1/runs/{}", "0".repeat(5000))), 404, None),
        case(
            "image of a service name escaping its path",
            || json_to("/v1/services/..%2F..%2Fx/image", json!({"tag": "v1"})),
            404,
            None,
        ),
        case(
            "image of a service name with a NUL",
            || json_to("/v1/services/%00/image", json!({"tag": "v1"})),
            404,
            None,
        ),
        case(
            "image tag with a NUL",
            || json_to("/v1/services/svc/image", json!({"tag": "v1\0"})),
            422,
            Some(("tag", "invalid")),
        ),
        case(
            "image tag escaping a path",
            || json_to("/v1/services/svc/image", json!({"tag": "../../x"})),
            422,
            Some(("tag", "invalid")),
        ),
        case(
            "image tag with a space and a colon",
            || json_to("/v1/services/svc/image", json!({"tag": "v1: x"})),
            422,
            Some(("tag", "invalid")),
        ),
        case(
            "a very long image tag",
            || json_to("/v1/services/svc/image", json!({"tag": "v".repeat(5000)})),
            422,
            Some(("tag", "invalid")),
        ),
        case(
            "environment escaping a path",
            || json_to("/v1/services/svc/image", json!({"tag": "v1", "env": "../qa"})),
            422,
            Some(("env", "unknown-environment")),
        ),
        case(
            "environment with a NUL",
            || json_to("/v1/services/svc/image", json!({"tag": "v1", "env": "qa\0"})),
            422,
            Some(("env", "unknown-environment")),
        ),
        case("GET on a create route", || get("/create-service"), 405, None),
        case("DELETE services", || method("DELETE", "/v1/services"), 405, None),
        case("PUT create-repo", || method("PUT", "/create-repo"), 405, None),
        case("POST healthz", || method("POST", "/healthz"), 405, None),
    ]
}

#[tokio::test]
async fn every_bad_input_is_a_problem_naming_its_field() {
    let api = Api::memory();
    let mut failures = Vec::new();
    for case in cases() {
        let answer = api.send((case.request)()).await;
        let problem = match std::panic::catch_unwind(|| answer.problem(case.status)) {
            Ok(problem) => problem,
            Err(_) => {
                failures.push(format!(
                    "{}: answered {} {:?} {}",
                    case.what,
                    answer.status,
                    answer.content_type(),
                    String::from_utf8_lossy(&answer.bytes)
                ));
                continue;
            }
        };
        if let Some((field, rule)) = case.expect {
            let found = field_rules(&problem);
            if !found.iter().any(|(f, r)| f == field && (rule.is_empty() || r == rule)) {
                failures.push(format!("{}: expected ({field}, {rule}) among {found:?}: {problem}", case.what));
            }
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn no_bad_input_is_a_server_error() {
    let api = Api::memory();
    for case in cases() {
        let answer = api.send((case.request)()).await;
        assert!(
            answer.status.is_client_error(),
            "{}: {} {}",
            case.what,
            answer.status,
            String::from_utf8_lossy(&answer.bytes)
        );
    }
    // And nothing was created by any of them.
    assert_eq!(api.get("/v1/services").await.json(), json!([]));
}

#[tokio::test]
async fn every_problem_of_a_request_is_reported_at_once() {
    let api = Api::memory();
    let answer = api
        .post_json("/v1/services", &json!({"kind": "nope", "name": "Bad.Name", "description": "a\nb", "owner": "-x"}))
        .await;
    let problem = answer.problem(422);
    let fields: Vec<String> = field_rules(&problem).into_iter().map(|(f, _)| f).collect();
    for field in ["kind", "name", "description", "owner"] {
        assert!(fields.iter().any(|f| f == field), "{field} missing in {problem}");
    }
}

#[tokio::test]
async fn every_mistyped_field_of_a_body_is_reported_not_only_the_first() {
    let api = Api::memory();
    for uri in ["/create-repo", "/create-service", "/v1/services"] {
        let answer = api.post_json(uri, &json!({"kind": 1, "name": 2, "description": 3})).await;
        let problem = answer.problem(422);
        let mut found = field_rules(&problem);
        found.sort();
        assert_eq!(
            found,
            [
                ("description".to_owned(), "invalid-type".to_owned()),
                ("kind".to_owned(), "invalid-type".to_owned()),
                ("name".to_owned(), "invalid-type".to_owned()),
            ],
            "{uri}: {problem}"
        );
    }
    // Unknown, duplicate and missing fields are reported alongside.
    let answer = api.send(raw_to("/create-repo", r#"{"kind":1,"kind":2,"colour":"red"}"#)).await;
    let problem = answer.problem(422);
    let mut found = field_rules(&problem);
    found.sort();
    assert_eq!(
        found,
        [
            ("colour".to_owned(), "unknown-field".to_owned()),
            ("description".to_owned(), "required".to_owned()),
            ("kind".to_owned(), "duplicate-field".to_owned()),
            ("kind".to_owned(), "invalid-type".to_owned()),
            ("name".to_owned(), "required".to_owned()),
        ],
        "{problem}"
    );
}

#[tokio::test]
async fn malformed_json_says_where() {
    let api = Api::memory();
    let answer = api.send(raw_to("/v1/services", "{\n  \"kind\": \"ms\",\n  \"name\" \"svc\"\n}")).await;
    let problem = answer.problem(400);
    assert_eq!((problem["line"].as_u64(), problem["column"].as_u64()), (Some(3), Some(10)), "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("line 3")), "{problem}");
}

#[tokio::test]
async fn a_method_not_allowed_lists_the_allowed_ones() {
    let api = Api::memory();
    let answer = api.send(method("DELETE", "/v1/services")).await;
    answer.problem(405);
    let allow = answer.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow:?}");
}
