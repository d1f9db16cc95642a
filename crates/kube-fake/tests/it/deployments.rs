//! The simulated kube-controller-manager: Deployments report their status.

use crate::*;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams, WatchEvent, WatchParams};

fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "box", "image": "busybox"}]},
            },
        },
    })
}

fn available(d: &Deployment) -> Option<String> {
    let conditions = d.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find(|c| c.type_ == "Available").map(|c| c.status.clone())
}

async fn settled(api: &Api<Deployment>, name: &str, generation: i64) -> Deployment {
    eventually("the deployment's status", || async {
        let d = api.get(name).await.ok()?;
        (d.status.as_ref()?.observed_generation == Some(generation)).then_some(d)
    })
    .await
}

#[tokio::test]
async fn simulated_deployments_become_available_through_a_status_write() {
    let (server, client) = start_with(FakeApiServer::builder().simulate_deployments(true)).await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    let from = server.resource_version().to_string();
    let mut events = api.watch(&WatchParams::default().disable_bookmarks(), &from).await.unwrap().boxed();
    api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment("web", 2))).await.unwrap();
    assert!(matches!(within("ADDED", events.next()).await.unwrap().unwrap(), WatchEvent::Added(_)));
    let modified = match within("MODIFIED", events.next()).await.unwrap().unwrap() {
        WatchEvent::Modified(d) => d,
        other => panic!("expected the status write, got {other:?}"),
    };
    let status = modified.status.as_ref().unwrap();
    assert_eq!(
        (status.replicas, status.ready_replicas, status.available_replicas, status.updated_replicas),
        (Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(available(&modified).as_deref(), Some("True"));
    let writer = modified
        .metadata
        .managed_fields
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.subresource.as_deref() == Some("status"))
        .unwrap();
    assert_eq!(writer.manager.as_deref(), Some("kube-controller-manager"));

    api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment("web", 3))).await.unwrap();
    let scaled = settled(&api, "web", 2).await;
    assert_eq!(scaled.status.unwrap().available_replicas, Some(3));
}

#[tokio::test]
async fn a_test_can_hold_deployments_unavailable() {
    let builder = FakeApiServer::builder().simulate_deployments(true).deployments_available(false);
    let (server, client) = start_with(builder).await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment("web", 1))).await.unwrap();
    let held = settled(&api, "web", 1).await;
    assert_eq!(available(&held).as_deref(), Some("False"));
    assert_eq!(held.status.as_ref().unwrap().unavailable_replicas, Some(1));
    assert_eq!(held.status.as_ref().unwrap().available_replicas, None);

    server.set_deployment_available("ns", "web", true);
    let up = api.get("web").await.unwrap();
    assert_eq!(available(&up).as_deref(), Some("True"), "settled at once");
    server.set_deployment_available("ns", "web", false);
    assert_eq!(available(&api.get("web").await.unwrap()).as_deref(), Some("False"));
}

#[tokio::test]
async fn without_simulation_deployments_get_defaults_but_no_status() {
    let (_server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    let mut spec = deployment("web", 1);
    spec["spec"].as_object_mut().unwrap().remove("replicas");
    let created = api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(spec)).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(1), "defaulted");
    assert!(created.status.is_none());
}
