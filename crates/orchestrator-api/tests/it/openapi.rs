//! The OpenAPI document: served, valid JSON, listing every route, and committed unchanged.

use crate::support::Api;
use serde_json::Value;

/// Every route and its methods.
const ROUTES: &[(&str, &[&str])] = &[
    ("/create-service", &["post"]),
    ("/create-repo", &["post"]),
    ("/v1/services", &["get", "post"]),
    ("/v1/services/{name}", &["get"]),
    ("/v1/services/{name}/image", &["post"]),
    ("/v1/upgrades", &["post"]),
    ("/v1/runs", &["get"]),
    ("/v1/runs/{id}", &["get"]),
    ("/v1/runs/{id}/retry", &["post"]),
    ("/v1/kinds", &["get"]),
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/openapi.json", &["get"]),
    ("/v1/workspaces", &["get", "post"]),
    ("/v1/workspaces/{name}", &["get", "delete"]),
    ("/api/request", &["post"]),
    ("/api/delete", &["post"]),
    ("/api/healthcheck", &["get"]),
];

/// Routes that answer 404 as if absent unless the configuration turns them on.
const OFF_BY_DEFAULT: &[&str] = &["/api/delete"];

#[tokio::test]
async fn the_document_is_served_and_lists_every_route() {
    let api = Api::memory();
    let answer = api.get("/openapi.json").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type(), "application/json");
    let doc: Value = answer.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in ROUTES {
        for method in *methods {
            assert!(paths.get(*path).and_then(|p| p.get(*method)).is_some(), "{method} {path} is not documented");
        }
    }
    assert_eq!(paths.len(), ROUTES.len(), "documented paths: {:?}", paths.keys().collect::<Vec<_>>());
    for schema in [
        "ServiceReport",
        "CreateServiceInput",
        "CreateRepoRequest",
        "Problem",
        "FieldProblem",
        "RunView",
        "KindView",
        "UpgradeRequest",
        "UpgradeReport",
    ] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }
    // Each documented route answers something other than 404 / 405.
    for (path, methods) in ROUTES {
        for method in *methods {
            let uri = path.replace("{name}", "x").replace("{id}", "x");
            let request = axum::http::Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .body(axum::body::Body::empty())
                .expect("a valid request");
            let answer = api.send(request).await;
            let is_route =
                answer.status != 405 && (answer.status != 404 || path.contains('{') || OFF_BY_DEFAULT.contains(path));
            assert!(is_route, "{method} {uri}: {}", answer.status);
        }
    }
}

#[test]
fn the_document_is_deterministic() {
    assert_eq!(orchestrator_api::openapi_json(), orchestrator_api::openapi_json());
}

#[test]
fn the_committed_document_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = orchestrator_api::openapi_json();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date with the API: run `cargo xtask codegen` to write it again"
    );
}
