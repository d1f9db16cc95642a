//! Integration tests of kube-fake, one binary (see STYLE.md): the real `kube` client and
//! kube-runtime against the fake over HTTP.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

mod apply;
mod controller;
mod crds;
mod crud;
mod delete;
mod deployments;
mod faults;
mod services;
mod update;
mod watch;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::Status;
use kube::{Client, CustomResource};
use kube_fake::{FakeApiServer, ResourceKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// The test custom resource, registered in every server these tests start.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(group = "orchestrator.dev", version = "v1alpha1", kind = "Workspace", namespaced, status = "WorkspaceStatus")]
pub struct WorkspaceSpec {
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct WorkspaceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

pub const WORKSPACES: ResourceKind = ResourceKind {
    group: "orchestrator.dev",
    version: "v1alpha1",
    kind: "Workspace",
    plural: "workspaces",
    namespaced: true,
    status_subresource: true,
};

pub fn client_for(server: &FakeApiServer) -> Client {
    let config = kube::Config::new(server.url().parse().unwrap());
    Client::try_from(config).unwrap()
}

/// A server with the Workspace type and a namespace `ns`, and a client for it.
pub async fn start() -> (FakeApiServer, Client) {
    start_with(FakeApiServer::builder()).await
}

pub async fn start_with(builder: kube_fake::Builder) -> (FakeApiServer, Client) {
    let server = builder.resource(WORKSPACES).namespace("ns").start().await;
    let client = client_for(&server);
    (server, client)
}

pub fn workspace(name: &str, owner: &str) -> Workspace {
    Workspace::new(name, WorkspaceSpec { owner: owner.into(), cpu: None })
}

/// The API error (`Status`) a call failed with.
pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `check` until it gives a value, for at most 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits a future for at most 10 s.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub fn dynamic_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    plural: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let resource = kube::api::ApiResource::from_gvk_with_plural(&gvk, plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

pub fn configmaps(client: &Client) -> Api<DynamicObject> {
    dynamic_api(client, "v1", "ConfigMap", "configmaps", Some("ns"))
}

pub fn configmap(name: &str, labels: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"},
    }))
    .unwrap()
}

pub async fn create_configmap(client: &Client, name: &str, labels: Value) -> DynamicObject {
    configmaps(client).create(&PostParams::default(), &configmap(name, labels)).await.unwrap()
}

/// A raw request through the kube client (for bodies and content types kube's API does not send).
pub async fn raw(client: &Client, method: &str, path: &str, content_type: &str, body: &str) -> Result<Value, Status> {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.as_bytes().to_vec())
        .unwrap();
    match client.request::<Value>(request).await {
        Ok(value) => Ok(value),
        Err(kube::Error::Api(status)) => Err(*status),
        Err(other) => panic!("transport error: {other:?}"),
    }
}

#[tokio::test]
async fn a_client_over_plain_http_needs_no_crypto_provider() {
    let (_server, client) = start().await;
    let version = client.apiserver_version().await.unwrap();
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "33"));
}
