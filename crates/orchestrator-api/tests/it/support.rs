//! Test support: an API on the in-memory fakes, requests, and answers read back as JSON.
//!
//! Every request goes with an admin's token unless it carries its own `Authorization` (or is
//! sent with [`Api::send_raw`]): the routes' rules are tested here, who may call them in
//! `access.rs`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use orchestrator_api::{AppState, router};
use orchestrator_app::runtime::Ports;
use orchestrator_app::{Config, Runtime};
use provision_core::Role;
use provision_core::ports::{GitHost, Store};
use provision_core::testing::{MemoryGitHost, MemoryStore};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt as _;

/// An API whose app runs on the given ports; the temporary directory lives as long as it.
pub struct Api {
    pub router: Router,
    runtime: Arc<Runtime>,
    admin: tokio::sync::OnceCell<String>,
    _home: tempfile::TempDir,
}

impl Api {
    /// On the in-memory git host and store.
    pub fn memory() -> Api {
        Api::with_ports(Arc::new(MemoryGitHost::new()), Arc::new(MemoryStore::new()))
    }

    /// On `git`, with `store` keeping runs (the outbox and tokens in memory).
    pub fn with_ports(git: Arc<dyn GitHost>, store: Arc<dyn Store>) -> Api {
        let home = tempfile::tempdir().expect("a temporary directory");
        let ports = Ports { store, ..Ports::new(git, Arc::new(MemoryStore::new())) };
        let runtime = Runtime::with_ports(Config::defaults(home.path()), ports);
        Api::from_state(AppState::new(Arc::new(runtime)), home)
    }

    /// On the in-memory fakes, with `config.toml` holding `text`.
    pub fn configured(text: &str) -> Api {
        let home = tempfile::tempdir().expect("a temporary directory");
        let config = Config::from_toml(home.path(), text, std::path::Path::new("config.toml")).expect("a valid config");
        let ports = Ports::new(Arc::new(MemoryGitHost::new()), Arc::new(MemoryStore::new()));
        Api::from_state(AppState::new(Arc::new(Runtime::with_ports(config, ports))), home)
    }

    /// On the real adapters: bare repositories and SQLite under a temporary directory.
    pub async fn real() -> Api {
        let home = tempfile::tempdir().expect("a temporary directory");
        let runtime = Runtime::open(Config::defaults(home.path()), None).await.expect("the runtime opens");
        Api::from_state(AppState::new(Arc::new(runtime)), home)
    }

    pub fn from_state(state: AppState, home: tempfile::TempDir) -> Api {
        let runtime = state.runtime().clone();
        Api { router: router(state), runtime, admin: tokio::sync::OnceCell::new(), _home: home }
    }

    /// The application the API serves, for what a test sets up through another front door
    /// (as `orchestrator chart publish` does).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// `Authorization: Bearer <token>` for a new token of `email` with `role`.
    pub async fn bearer(&self, email: &str, role: Role) -> String {
        let (token, _) = self.runtime.auth.issue_token(email, role, false).await.expect("a token is issued");
        format!("Bearer {}", token.expose())
    }

    /// Sends `request`, with an admin's token unless it has an `Authorization` header.
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        if !request.headers().contains_key(header::AUTHORIZATION) {
            let admin = self.admin.get_or_init(|| self.bearer("admin@example.org", Role::Admin)).await;
            request.headers_mut().insert(header::AUTHORIZATION, admin.parse().expect("a token is a header value"));
        }
        self.send_raw(request).await
    }

    /// Sends `request` exactly as it is.
    pub async fn send_raw(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.expect("a readable body");
        Answer { status, headers, bytes: bytes.to_vec() }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).expect("a valid request")).await
    }

    /// A POST of `body` as `application/json`.
    pub async fn post_json(&self, uri: &str, body: &Value) -> Answer {
        self.send(post(uri, Some("application/json"), &[], body.to_string().into_bytes())).await
    }

    pub async fn post_json_with_key(&self, uri: &str, key: &str, body: &Value) -> Answer {
        self.send(post(
            uri,
            Some("application/json"),
            &[("idempotency-key", key.as_bytes())],
            body.to_string().into_bytes(),
        ))
        .await
    }
}

/// A POST request with raw parts.
pub fn post(uri: &str, content_type: Option<&str>, headers: &[(&str, &[u8])], body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::post(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).expect("a valid request")
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem+json answer of `status` and returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", String::from_utf8_lossy(&self.bytes));
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        let problem = self.json();
        assert_eq!(problem["status"], status, "{problem}");
        for member in ["type", "title", "detail"] {
            assert!(problem[member].is_string(), "{member} missing: {problem}");
        }
        problem
    }
}

/// The `(field, rule)` pairs of a problem's `errors`.
pub fn field_rules(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| (e["field"].as_str().unwrap_or("?").to_owned(), e["rule"].as_str().unwrap_or("?").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn seed_body(kind: &str, name: &str, description: &str) -> Value {
    serde_json::json!({ "kind": kind, "name": name, "description": description })
}
