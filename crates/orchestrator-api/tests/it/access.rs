//! Who may call what: every documented route has its row in the access table, nothing but the
//! probes, the document and the seed's health check answers without a token, each role may do
//! exactly its part, and a token travels only in one `Authorization` header.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

use crate::support::{Api, post, seed_body};
use axum::body::Body;
use axum::http::{Method, Request, header};
use orchestrator_api::access::{ACCESS, Access, required};
use provision_core::Role;
use serde_json::{Value, json};

/// Every (path, method) of the OpenAPI document.
fn documented() -> Vec<(String, String)> {
    let document: Value = serde_json::from_str(&orchestrator_api::openapi_json()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((path.clone(), method.to_uppercase()));
        }
    }
    operations
}

fn request(method: &str, uri: &str, authorization: &[&str], body: Option<&Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for value in authorization {
        builder = builder.header(header::AUTHORIZATION, *value);
    }
    match body {
        Some(body) => {
            builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap()
        }
        None => builder.body(Body::empty()).unwrap(),
    }
}

#[test]
fn every_documented_route_has_its_row_and_every_row_is_documented() {
    let documented = documented();
    for (path, method) in &documented {
        let row = ACCESS.iter().find(|(p, m, _)| p == path && m == method);
        assert!(row.is_some(), "{method} {path} has no row in the access table");
    }
    for (path, method, _) in ACCESS {
        assert!(
            documented.iter().any(|(p, m)| p == path && m == method),
            "{method} {path} is in the access table but not documented"
        );
    }
    let public: Vec<&str> = ACCESS.iter().filter(|(.., a)| *a == Access::Public).map(|(p, ..)| *p).collect();
    assert_eq!(public, ["/healthz", "/readyz", "/openapi.json", "/api/healthcheck", "/api/delete"]);
    assert_eq!(required("/v1/upgrades", &Method::POST), Access::Role(Role::Admin));
}

#[test]
fn the_document_says_what_each_operation_needs() {
    let document: Value = serde_json::from_str(&orchestrator_api::openapi_json()).unwrap();
    for (path, method, access) in ACCESS {
        let operation = &document["paths"][path][method.to_lowercase()];
        let security = operation["security"].as_array().unwrap_or_else(|| panic!("{method} {path}: no security"));
        match access {
            Access::Public => assert!(security.is_empty(), "{method} {path}"),
            Access::Role(_) | Access::Charts => {
                let (role, schemes) = match access {
                    Access::Role(role) => (*role, vec![json!({"bearer": []})]),
                    _ => (Role::Reader, vec![json!({"bearer": []}), json!({"basic": []})]),
                };
                assert_eq!(security, &schemes, "{method} {path}");
                for status in ["400", "401", "403"] {
                    assert!(operation["responses"][status].is_object(), "{method} {path}: {status} undocumented");
                }
                let description = operation["description"].as_str().unwrap_or_default();
                assert!(description.contains(&format!("role `{role}`")), "{method} {path}: {description}");
            }
        }
    }
}

#[tokio::test]
async fn without_a_token_only_the_public_routes_answer_and_nothing_is_made() {
    let api = Api::memory();
    for (path, method, access) in ACCESS {
        let uri = path.replace("{name}", "ms-x").replace("{id}", "0123");
        let body = json!({"kind": "ms", "name": "ms-x", "description": "d"});
        let answer = api.send_raw(request(method, &uri, &[], Some(&body))).await;
        match access {
            Access::Public => assert_ne!(answer.status, 401, "{method} {path}"),
            Access::Role(_) | Access::Charts => {
                let problem = answer.problem(401);
                assert_eq!(problem["kind"], "unauthorized", "{method} {path}");
                let challenge = answer.headers.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
                assert_eq!(challenge, Some("Bearer"), "{method} {path}");
            }
        }
    }
    let services = api.get("/v1/services").await;
    assert_eq!(services.json(), json!([]), "no request without a token made anything");
}

#[tokio::test]
async fn each_role_does_its_part() {
    let api = Api::memory();
    let reader = api.bearer("rita@example.org", Role::Reader).await;
    let member = api.bearer("max@example.org", Role::Member).await;
    let admin = api.bearer("ada@example.org", Role::Admin).await;
    let seed = seed_body("ms", "ms-roles", "made by a member");

    // A reader reads and may not create.
    assert_eq!(api.send(request("GET", "/v1/services", &[&reader], None)).await.status, 200);
    assert_eq!(api.send(request("GET", "/v1/kinds", &[&reader], None)).await.status, 200);
    let refused = api.send(request("POST", "/create-service", &[&reader], Some(&seed))).await;
    let problem = refused.problem(403);
    assert_eq!(problem["kind"], "forbidden");
    assert!(problem["detail"].as_str().unwrap().contains("reader"), "{problem}");
    assert!(!problem["detail"].as_str().unwrap().contains(reader.trim_start_matches("Bearer ")), "{problem}");

    // A member creates through the seed's own body, and sets image tags, but may not upgrade.
    let created = api.send(request("POST", "/create-service", &[&member], Some(&seed))).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.bytes));
    let image = json!({"tag": "1.2.3"});
    let bumped = api.send(request("POST", "/v1/services/ms-roles/image", &[&member], Some(&image))).await;
    assert_eq!(bumped.status, 200, "{}", String::from_utf8_lossy(&bumped.bytes));
    let upgrade = json!({"service": "ms-roles"});
    api.send(request("POST", "/v1/upgrades", &[&member], Some(&upgrade))).await.problem(403);

    // An admin upgrades.
    let upgraded = api.send(request("POST", "/v1/upgrades", &[&admin], Some(&upgrade))).await;
    assert!(upgraded.status.is_success(), "{}", String::from_utf8_lossy(&upgraded.bytes));

    let names: Vec<Value> =
        api.get("/v1/services").await.json().as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, [json!("ms-roles")], "the reader's request made nothing");
}

#[tokio::test]
async fn a_token_travels_in_one_authorization_header_only() {
    let api = Api::memory();
    let admin = api.bearer("ada@example.org", Role::Admin).await;
    let seed = seed_body("ms", "ms-twice", "d");
    let twice = api.send(request("POST", "/create-service", &[&admin, &admin], Some(&seed))).await;
    let problem = twice.problem(400);
    assert_eq!(crate::support::field_rules(&problem), [("Authorization".to_owned(), "duplicate-header".to_owned())]);

    let token = admin.trim_start_matches("Bearer ");
    for uri in
        [format!("/v1/runs?access_token={token}"), format!("/v1/services?x={token}"), "/v1/kinds?token=1".to_owned()]
    {
        let answer = api.send(request("GET", &uri, &[&admin], None)).await;
        let problem = answer.problem(400);
        assert_eq!(crate::support::field_rules(&problem), [("query".to_owned(), "token-in-query".to_owned())], "{uri}");
        assert!(!String::from_utf8_lossy(&answer.bytes).contains(token), "the token is not repeated");
    }
    let services = api.get("/v1/services").await;
    assert_eq!(services.json(), json!([]), "the refused create made nothing");
}

#[tokio::test]
async fn with_authentication_disabled_services_need_no_token_and_workspaces_still_do() {
    let api = Api::configured("[auth]\ndisabled = true\n[workspaces]\nallowed_email_domains = [\"example.org\"]\n");
    let created = api
        .send_raw(post(
            "/create-service",
            Some("application/json"),
            &[],
            seed_body("ms", "ms-open", "d").to_string().into_bytes(),
        ))
        .await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.bytes));
    // A workspace is someone's: without a token there is nobody to make it for.
    api.send_raw(request("GET", "/v1/workspaces", &[], None)).await.problem(401);
    // A token that is sent is still checked.
    api.send_raw(request("GET", "/v1/services", &["Bearer orc_0123456789ab_00"], None)).await.problem(401);
}
