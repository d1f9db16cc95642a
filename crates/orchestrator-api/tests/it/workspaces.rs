//! The workspace routes on an in-memory cluster: bearer tokens, who sees what (another
//! person's workspace is 404), validation, and the seed's routes.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

use crate::support::{Answer, Api, field_rules};
use axum::body::Body;
use axum::http::{Request, header};
use orchestrator_api::AppState;
use orchestrator_app::runtime::Ports;
use orchestrator_app::{Config, Runtime};
use provision_core::Role;
use provision_core::testing::{MemoryGitHost, MemoryStore, MemoryWorkspaces};
use provision_core::workspace::WorkspacePhase;
use serde_json::{Value, json};
use std::sync::Arc;

const KEY: &str = include_str!("../../../provision-core/src/ssh/fixtures/ed25519.pub");

struct Setup {
    api: Api,
    cluster: Arc<MemoryWorkspaces>,
}

async fn setup(extra: &str) -> Setup {
    let home = tempfile::tempdir().unwrap();
    let text = format!("[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\n{extra}");
    let config = Config::from_toml(home.path(), &text, std::path::Path::new("config.toml")).unwrap();
    let store = Arc::new(MemoryStore::new());
    let cluster = Arc::new(MemoryWorkspaces::new());
    let app = Arc::new(
        Runtime::with_ports(config, Ports::new(Arc::new(MemoryGitHost::new()), store)).with_workspaces(cluster.clone()),
    );
    let api = Api::from_state(AppState::new(app), home);
    Setup { api, cluster }
}

impl Setup {
    async fn token(&self, email: &str, admin: bool) -> String {
        self.api.bearer(email, if admin { Role::Admin } else { Role::Member }).await
    }

    async fn call(&self, method: &str, uri: &str, auth: Option<&str>, body: Option<&Value>) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            builder = builder.header(header::AUTHORIZATION, auth);
        }
        let body = match body {
            Some(b) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.api.send_raw(builder.body(body).unwrap()).await
    }
}

fn request(email: &str, name: &str) -> Value {
    json!({"email": email, "name": name, "cpu": "1", "memory": "2Gi", "ssh_public_key": KEY})
}

#[tokio::test]
async fn without_a_valid_token_nothing_is_listed_or_made() {
    let s = setup("").await;
    let body = request("alice@iiitm.ac.in", "devbox");
    for auth in [None, Some("Bearer nope"), Some("Basic YWxpY2U6cHc="), Some("Bearer orc_0123456789ab_00")] {
        for (method, uri, body) in [
            ("POST", "/v1/workspaces", Some(&body)),
            ("GET", "/v1/workspaces", None),
            ("GET", "/v1/workspaces/alice-devbox-00000000", None),
            ("DELETE", "/v1/workspaces/alice-devbox-00000000", None),
            (
                "POST",
                "/api/request",
                Some(&json!({"Email": "alice@iiitm.ac.in", "Specification": {"RAM": 2, "CPU": 1, "PublicKey": KEY}})),
            ),
        ] {
            let answer = s.call(method, uri, auth, body).await;
            let problem = answer.problem(401);
            assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer", "{method} {uri}");
            assert!(!problem.to_string().contains("orc_0123"), "the token is not echoed: {problem}");
        }
    }
    assert!(s.cluster.names().is_empty());
}

#[tokio::test]
async fn a_workspace_is_accepted_shown_and_deleted_by_its_owner_only() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    let bob = s.token("bob@iiitm.ac.in", false).await;
    let admin = s.token("root@iiitm.ac.in", true).await;

    let created = s.call("POST", "/v1/workspaces", Some(&alice), Some(&request("alice@iiitm.ac.in", "devbox"))).await;
    assert_eq!(created.status, 202, "{}", String::from_utf8_lossy(&created.bytes));
    let body = created.json();
    let name = body["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("alice-devbox-"));
    assert_eq!(created.headers[header::LOCATION], format!("/v1/workspaces/{name}"));
    assert_eq!(body["phase"], "Pending");
    s.call("POST", "/v1/workspaces", Some(&bob), Some(&request("bob@iiitm.ac.in", "devbox"))).await;
    s.cluster.set_phase(&name, WorkspacePhase::Ready, Some(30007));

    let shown = s.call("GET", &format!("/v1/workspaces/{name}"), Some(&alice), None).await;
    assert_eq!(shown.json()["access_command"], "ssh -p 30007 alice@localhost");
    let mine = s.call("GET", "/v1/workspaces?all=true", Some(&alice), None).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "a user's all is their own: {mine}");
    let everyone = s.call("GET", "/v1/workspaces?all=true", Some(&admin), None).await.json();
    assert_eq!(everyone.as_array().unwrap().len(), 2);

    // Bob cannot tell alice's workspace exists.
    for method in ["GET", "DELETE"] {
        let answer = s.call(method, &format!("/v1/workspaces/{name}"), Some(&bob), None).await;
        let problem = answer.problem(404);
        let unknown = s.call(method, "/v1/workspaces/alice-other-12345678", Some(&bob), None).await.problem(404);
        assert_eq!(
            problem["detail"].as_str().unwrap().replace(&name, "X"),
            unknown["detail"].as_str().unwrap().replace("alice-other-12345678", "X")
        );
    }
    let deleted = s.call("DELETE", &format!("/v1/workspaces/{name}"), Some(&alice), None).await;
    assert_eq!(deleted.status, 202);
    assert!(!s.cluster.names().contains(&name));
}

#[tokio::test]
async fn an_owner_reaches_a_workspace_by_the_name_they_gave_it_and_no_one_else_does() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    let bob = s.token("bob@iiitm.ac.in", false).await;
    let admin = s.token("root@iiitm.ac.in", true).await;
    let made = |token: String, email: &'static str, name: &'static str| {
        let s = &s;
        async move {
            let answer = s.call("POST", "/v1/workspaces", Some(&token), Some(&request(email, name))).await;
            assert_eq!(answer.status, 202, "{}", String::from_utf8_lossy(&answer.bytes));
            answer.json()["name"].as_str().unwrap().to_owned()
        }
    };
    let alices = made(alice.clone(), "alice@iiitm.ac.in", "devbox").await;
    let bobs = made(bob.clone(), "bob@iiitm.ac.in", "devbox").await;
    let bobs_other = made(bob.clone(), "bob@iiitm.ac.in", "scratch").await;

    // Each owner's `devbox` is their own.
    let shown = s.call("GET", "/v1/workspaces/devbox", Some(&alice), None).await;
    assert_eq!(shown.status, 200, "{}", String::from_utf8_lossy(&shown.bytes));
    assert_eq!(shown.json()["name"], alices.as_str());
    assert_eq!(s.call("GET", "/v1/workspaces/devbox", Some(&bob), None).await.json()["name"], bobs.as_str());
    // A name alice did not give is not found for her, though bob has one: the same answer as
    // for a name nobody gave. The admin's own names are the admin's only.
    let scratch = s.call("GET", "/v1/workspaces/scratch", Some(&alice), None).await.problem(404);
    let nothing = s.call("GET", "/v1/workspaces/nothing", Some(&alice), None).await.problem(404);
    assert_eq!(
        scratch["detail"].as_str().unwrap().replace("scratch", "X"),
        nothing["detail"].as_str().unwrap().replace("nothing", "X")
    );
    s.call("DELETE", "/v1/workspaces/scratch", Some(&alice), None).await.problem(404);
    s.call("GET", "/v1/workspaces/devbox", Some(&admin), None).await.problem(404);
    assert!(s.cluster.names().contains(&bobs_other), "alice deleted nothing");

    // Deleting by the given name deletes the owner's, and only theirs.
    let deleted = s.call("DELETE", "/v1/workspaces/devbox", Some(&alice), None).await;
    assert_eq!(deleted.status, 202, "{}", String::from_utf8_lossy(&deleted.bytes));
    assert_eq!(deleted.json()["name"], alices.as_str());
    let mut left = s.cluster.names();
    left.sort();
    let mut expected = vec![bobs.clone(), bobs_other];
    expected.sort();
    assert_eq!(left, expected);
    s.call("GET", "/v1/workspaces/devbox", Some(&alice), None).await.problem(404);
    // The full name still works, for the owner and an admin.
    assert_eq!(s.call("GET", &format!("/v1/workspaces/{bobs}"), Some(&admin), None).await.status, 200);
}

/// The paths of the issue whose names reached the cluster's URLs unparsed, and their kin.
fn hostile_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        "..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets%2Fx",
        "x%3FlabelSelector%3Da",
        "x%20y",
        "%00",
        "..",
        "%2e%2e",
        "a%2Fb",
        "Alice-devbox-0a1b2c3d",
        "alice-devbox-0a1b2c3d%0A",
        "alice-d%C3%A9vbox",
        "x%23y",
    ]
    .iter()
    .map(|p| format!("/v1/workspaces/{p}"))
    .collect();
    paths.push(format!("/v1/workspaces/{}", "x".repeat(5000)));
    paths
}

#[tokio::test]
async fn a_path_no_workspace_can_have_is_404_and_never_reaches_the_cluster() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    let admin = s.token("root@iiitm.ac.in", true).await;
    for path in hostile_paths() {
        for method in ["GET", "DELETE"] {
            for auth in [&alice, &admin] {
                let answer = s.call(method, &path, Some(auth), None).await;
                let problem = answer.problem(404);
                assert_eq!(problem["type"], "urn:orchestrator:problem:not-found", "{problem}");
                let detail = problem["detail"].as_str().unwrap();
                assert!(detail.chars().count() < 100, "{method} {path}: the answer is bounded: {detail}");
            }
        }
    }
    assert_eq!(s.cluster.calls(), Vec::<String>::new(), "no hostile name reached the cluster");

    // A well-formed name nobody has is looked up, by that name alone.
    s.call("GET", "/v1/workspaces/alice-devbox-0a1b2c3d", Some(&alice), None).await.problem(404);
    assert_eq!(s.cluster.calls(), ["get alice-devbox-0a1b2c3d"]);
}

#[tokio::test]
async fn invalid_requests_name_every_field_and_asking_for_someone_else_is_refused() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    let bad = json!({"email": "alice@iiitm.ac.in.evil.com", "name": "X", "cpu": "0", "memory": "2gb", "ssh_public_key": "ssh-dss AAAA"});
    let problem = s.call("POST", "/v1/workspaces", Some(&alice), Some(&bad)).await.problem(422);
    let fields: Vec<String> = field_rules(&problem).into_iter().map(|(f, _)| f).collect();
    for field in ["email", "name", "cpu", "memory", "ssh_public_key"] {
        assert!(fields.iter().any(|f| f == field), "{field}: {problem}");
    }
    let theirs =
        s.call("POST", "/v1/workspaces", Some(&alice), Some(&request("bob@iiitm.ac.in", "x"))).await.problem(422);
    assert_eq!(field_rules(&theirs), [("email".to_owned(), "not-yours".to_owned())]);
    let unknown =
        s.call("POST", "/v1/workspaces", Some(&alice), Some(&json!({"email": "alice@iiitm.ac.in", "size": 1}))).await;
    assert!(field_rules(&unknown.problem(422)).iter().any(|(_, rule)| rule == "unknown-field"));
}

#[tokio::test]
async fn the_seed_routes_keep_their_shapes_and_delete_only_when_enabled_for_confirmed_addresses() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    assert_eq!(s.call("GET", "/api/healthcheck", None, None).await.json(), json!({"status": "ok"}));
    let seed = json!({"Email": "alice@iiitm.ac.in", "Specification": {"RAM": 2, "CPU": 1, "PublicKey": KEY}});
    let made = s.call("POST", "/api/request", Some(&alice), Some(&seed)).await;
    assert_eq!(made.status, 202, "{}", String::from_utf8_lossy(&made.bytes));
    assert_eq!((made.json()["memory"].as_str(), made.json()["cpu"].as_str()), (Some("2Gi"), Some("1")));
    // Off by default: it does not exist.
    s.call("POST", "/api/delete", None, Some(&json!({"Email": "alice@iiitm.ac.in"}))).await.problem(404);

    let on = setup("legacy_delete = true\n").await;
    let alice = on.token("alice@iiitm.ac.in", false).await;
    let carol = on.token("carol@iiitm.ac.in", false).await;
    on.call(
        "POST",
        "/api/request",
        Some(&carol),
        Some(&json!({"Email": "carol@iiitm.ac.in", "Specification": {"RAM": 2, "CPU": 1, "PublicKey": KEY}})),
    )
    .await;
    // Using a token confirms that its address received it.
    on.call("POST", "/api/request", Some(&alice), Some(&seed)).await;
    // Dave has no token at all: refused, nothing deleted.
    on.call("POST", "/api/delete", None, Some(&json!({"Email": "dave@iiitm.ac.in"}))).await.problem(401);
    let deleted = on.call("POST", "/api/delete", None, Some(&json!({"Email": "alice@iiitm.ac.in"}))).await;
    assert_eq!(deleted.status, 200, "{}", String::from_utf8_lossy(&deleted.bytes));
    assert_eq!(deleted.json().as_array().unwrap().len(), 1);
    assert_eq!(on.cluster.names().len(), 1, "carol's stays");
}

/// The body of seed 004's README, as it is written: RAM and CPU as strings.
fn literal_seed(ram: Value, cpu: Value) -> Value {
    json!({"Email": "alice@iiitm.ac.in", "Specification": {"RAM": ram, "CPU": cpu, "PublicKey": KEY}})
}

#[tokio::test]
async fn the_seed_s_literal_body_with_numeric_strings_is_accepted_in_gib_and_cores() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    let made = s.call("POST", "/api/request", Some(&alice), Some(&literal_seed(json!("2"), json!("1")))).await;
    assert_eq!(made.status, 202, "{}", String::from_utf8_lossy(&made.bytes));
    assert_eq!((made.json()["memory"].as_str(), made.json()["cpu"].as_str()), (Some("2Gi"), Some("1")));
    assert_eq!(s.cluster.names().len(), 1);

    let bob = s.token("bob@iiitm.ac.in", false).await;
    let body = json!({"Email": "bob@iiitm.ac.in", "Specification": {"RAM": "0.5", "CPU": "0.25", "PublicKey": KEY}});
    let made = s.call("POST", "/api/request", Some(&bob), Some(&body)).await;
    assert_eq!(made.status, 202, "{}", String::from_utf8_lossy(&made.bytes));
    assert_eq!((made.json()["memory"].as_str(), made.json()["cpu"].as_str()), (Some("512Mi"), Some("250m")));
}

#[tokio::test]
async fn the_seed_refuses_what_is_not_a_quantity_naming_the_field_and_the_rule() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    for (bad, rule) in [
        (json!("2Gi"), "unknown-suffix"),
        (json!("abc"), ""),
        (json!("NaN"), ""),
        (json!("inf"), ""),
        (json!("-1"), "negative"),
        (json!("0"), "zero"),
        (json!(""), "required"),
        (json!(-1), "negative"),
        (json!(0), "zero"),
        (json!(true), "invalid-type"),
        (json!(null), "invalid-type"),
        (json!({"value": 2}), "invalid-type"),
    ] {
        for (field, body) in [
            ("Specification.RAM", literal_seed(bad.clone(), json!("1"))),
            ("Specification.CPU", literal_seed(json!("2"), bad.clone())),
        ] {
            let answer = s.call("POST", "/api/request", Some(&alice), Some(&body)).await;
            let problem = answer.problem(422);
            let found = field_rules(&problem);
            assert!(
                found.iter().any(|(f, r)| f == field && (rule.is_empty() || r == rule)),
                "{bad} as {field}: expected rule {rule:?} among {found:?}"
            );
            assert_eq!(found.len(), 1, "only {field} is wrong in {body}: {found:?}");
        }
    }
    // Every wrong field at once, by the seed's names.
    let both =
        json!({"Email": "alice@elsewhere.org", "Specification": {"RAM": "2Gi", "CPU": "fast", "PublicKey": "x"}});
    let problem = s.call("POST", "/api/request", Some(&alice), Some(&both)).await.problem(422);
    let mut fields: Vec<String> = field_rules(&problem).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(fields, ["Email", "Specification.CPU", "Specification.PublicKey", "Specification.RAM"], "{problem}");
    assert!(s.cluster.names().is_empty());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_workspaces_by_phase() {
    let s = setup("").await;
    let alice = s.token("alice@iiitm.ac.in", false).await;
    s.call("POST", "/v1/workspaces", Some(&alice), Some(&request("alice@iiitm.ac.in", "devbox"))).await;
    s.call("POST", "/v1/workspaces", Some(&alice), Some(&request("alice@iiitm.ac.in", "devbox"))).await;
    s.call("GET", "/v1/workspaces/alice-nope-00000000", None, None).await;
    s.call("GET", "/no/such/route", None, None).await;
    s.call("GET", "/metrics", None, None).await.problem(401);
    let reader = s.api.bearer("rita@iiitm.ac.in", Role::Reader).await;
    let answer = s.call("GET", "/metrics", Some(&reader), None).await;
    assert_eq!(answer.status, 200);
    assert!(answer.content_type().starts_with("text/plain; version=0.0.4"), "{}", answer.content_type());
    let text = String::from_utf8(answer.bytes).unwrap();
    for line in [
        "orchestrator_http_requests_total{route=\"/v1/workspaces\",method=\"POST\",status=\"202\"} 1",
        "orchestrator_http_requests_total{route=\"/v1/workspaces\",method=\"POST\",status=\"409\"} 1",
        "orchestrator_http_requests_total{route=\"/v1/workspaces/{name}\",method=\"GET\",status=\"401\"} 1",
        "orchestrator_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
        "orchestrator_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 1",
        "orchestrator_workspaces{phase=\"Pending\"} 1",
        "orchestrator_workspaces{phase=\"Ready\"} 0",
        "orchestrator_runs{state=\"succeeded\"} 0",
        "orchestrator_reconcile_duration_seconds_count 0",
        "orchestrator_emails_total{result=\"sent\"} 0",
        "# TYPE orchestrator_http_requests_total counter",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
    }
}
