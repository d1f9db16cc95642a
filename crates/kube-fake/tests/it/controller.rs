//! A kube-runtime `Controller` end to end: watches, owned objects, status, garbage collection.

use crate::*;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use std::sync::Arc;

struct Context {
    client: Client,
}

fn error_policy(_: Arc<Workspace>, _: &kube::Error, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

/// Applies the workspace's Deployment (owned by it) and reports whether it is available.
async fn reconcile(workspace: Arc<Workspace>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    let namespace = workspace.namespace().unwrap();
    let name = workspace.name_any();
    let owner = workspace.controller_owner_ref(&()).unwrap();
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let desired = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("ws-{name}"), "ownerReferences": [owner]},
        "spec": {
            "selector": {"matchLabels": {"workspace": name}},
            "template": {
                "metadata": {"labels": {"workspace": name}},
                "spec": {"containers": [{"name": "box", "image": "busybox"}]},
            },
        },
    });
    let pp = PatchParams::apply("workspace-controller").force();
    let deployment = deployments.patch(&format!("ws-{name}"), &pp, &Patch::Apply(desired)).await?;
    let ready = deployment
        .status
        .and_then(|s| s.conditions)
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Available" && c.status == "True"));
    let phase = if ready { "Ready" } else { "Provisioning" };
    let status = json!({
        "apiVersion": "orchestrator.dev/v1alpha1", "kind": "Workspace", "status": {"phase": phase},
    });
    let workspaces: Api<Workspace> = Api::namespaced(ctx.client.clone(), &namespace);
    workspaces.patch_status(&name, &pp, &Patch::Apply(status)).await?;
    Ok(Action::await_change())
}

fn run_controller(client: &Client) -> tokio::task::JoinHandle<()> {
    let workspaces: Api<Workspace> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::all(client.clone());
    let ctx = Arc::new(Context { client: client.clone() });
    tokio::spawn(
        Controller::new(workspaces, watcher::Config::default())
            .owns(deployments, watcher::Config::default())
            .run(reconcile, error_policy, ctx)
            .for_each(|_| async {}),
    )
}

async fn phase_of(api: &Api<Workspace>, name: &str, phase: &str) {
    eventually(&format!("{name} to be {phase}"), || async {
        let w = api.get(name).await.ok()?;
        (w.status?.phase.as_deref() == Some(phase)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_controller_reconciles_objects_created_before_and_after_it_starts() {
    let (server, client) = start_with(FakeApiServer::builder().simulate_deployments(true)).await;
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    api.create(&PostParams::default(), &workspace("before", "a")).await.unwrap();
    let controller = run_controller(&client);
    phase_of(&api, "before", "Ready").await;
    api.create(&PostParams::default(), &workspace("after", "b")).await.unwrap();
    phase_of(&api, "after", "Ready").await;

    let requests = server.requests();
    let watched: Vec<&str> = requests.iter().filter(|r| r.is_watch()).map(|r| r.path.as_str()).collect();
    assert!(watched.contains(&"/apis/orchestrator.dev/v1alpha1/workspaces"), "{watched:?}");
    assert!(watched.contains(&"/apis/apps/v1/deployments"), "{watched:?}");
    let applies = requests.iter().filter(|r| r.param("fieldManager") == Some("workspace-controller")).count();
    assert!(applies >= 4, "server-side apply of deployments and status");
    controller.abort();
}

#[tokio::test]
async fn a_workspace_stays_provisioning_until_its_deployment_is_available() {
    let builder = FakeApiServer::builder().simulate_deployments(true).deployments_available(false);
    let (server, client) = start_with(builder).await;
    let controller = run_controller(&client);
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    phase_of(&api, "w", "Provisioning").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    let deployment = deployments.get("ws-w").await.unwrap();
    assert_eq!(deployment.owner_references()[0].name, "w");

    server.set_deployment_available("ns", "ws-w", true);
    phase_of(&api, "w", "Ready").await;

    api.delete("w", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_error(deployments.get("ws-w").await).code, 404, "collected with its owner");
    controller.abort();
}

#[tokio::test]
async fn the_event_recorder_creates_an_event_then_patches_its_series() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let (server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    let w = api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let reporter = Reporter { controller: "workspace-controller".into(), instance: None };
    let recorder = Recorder::new(client.clone(), reporter);
    let event = Event {
        type_: EventType::Normal,
        reason: "Provisioned".into(),
        note: Some("ready".into()),
        action: "Provision".into(),
        secondary: None,
    };
    recorder.publish(&event, &w.object_ref(&())).await.unwrap();
    recorder.publish(&event, &w.object_ref(&())).await.unwrap();
    let events = server.list("events.k8s.io/v1", "Event", Some("ns"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["regarding"]["name"], "w");
    assert_eq!(events[0]["series"]["count"], 2, "the second publish patched the first");
    let methods: Vec<String> = server.requests().iter().skip(1).map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["POST", "PATCH"]);
}
