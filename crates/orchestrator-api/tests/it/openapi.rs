//! The OpenAPI document: served, valid JSON, listing every route (those of the access table,
//! which `access.rs` holds equal to the document's), and committed unchanged.

use crate::support::Api;
use orchestrator_api::access::ACCESS;
use serde_json::Value;

/// Routes that answer 404 as if absent unless the configuration turns them on, or until there
/// is something to serve (the chart repository's index, before a chart is published).
const OFF_BY_DEFAULT: &[&str] = &["/api/delete", "/charts/index.yaml"];

#[tokio::test]
async fn the_document_is_served_and_lists_every_route() {
    let api = Api::memory();
    let answer = api.get("/openapi.json").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type(), "application/json");
    let doc: Value = answer.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method, _) in ACCESS {
        let method = method.to_lowercase();
        assert!(paths.get(*path).and_then(|p| p.get(&method)).is_some(), "{method} {path} is not documented");
    }
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
    for (path, method, _) in ACCESS {
        let uri = path.replace("{name}", "x").replace("{id}", "x");
        let request = axum::http::Request::builder()
            .method(*method)
            .uri(&uri)
            .body(axum::body::Body::empty())
            .expect("a valid request");
        let answer = api.send(request).await;
        let is_route =
            answer.status != 405 && (answer.status != 404 || path.contains('{') || OFF_BY_DEFAULT.contains(path));
        assert!(is_route, "{method} {uri}: {}", answer.status);
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
