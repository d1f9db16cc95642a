//! PUT, merge, strategic and JSON patches, the status subresource and generation.

use crate::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_conflicts() {
    let (_server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client, "ns");
    let created = api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let mut first = created.clone();
    first.spec.owner = "b".into();
    let replaced = api.replace("w", &PostParams::default(), &first).await.unwrap();
    assert_ne!(replaced.resource_version(), created.resource_version());
    assert_eq!(replaced.metadata.generation, Some(2));

    let mut stale = created.clone();
    stale.spec.owner = "c".into();
    let err = api_error(api.replace("w", &PostParams::default(), &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        "Operation cannot be fulfilled on workspaces.orchestrator.dev \"w\": the object has been modified; please apply your changes to the latest version and try again"
    );

    stale.metadata.resource_version = None;
    let unconditional = api.replace("w", &PostParams::default(), &stale).await.unwrap();
    assert_eq!(unconditional.spec.owner, "c");
    assert_eq!(unconditional.metadata.uid, created.metadata.uid, "system metadata is kept");

    let mut renamed = unconditional.clone();
    renamed.metadata.name = Some("other".into());
    let err = api_error(api.replace("w", &PostParams::default(), &renamed).await);
    assert_eq!(err.code, 400);
    let absent = api_error(api.replace("absent", &PostParams::default(), &workspace("absent", "a")).await);
    assert_eq!(absent.code, 404);
}

#[tokio::test]
async fn a_write_that_changes_nothing_keeps_the_resource_version() {
    let (_server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client, "ns");
    let created = api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let same = api.replace("w", &PostParams::default(), &created).await.unwrap();
    assert_eq!(same.resource_version(), created.resource_version());
    let patched =
        api.patch("w", &PatchParams::default(), &Patch::Merge(json!({"spec": {"owner": "a"}}))).await.unwrap();
    assert_eq!(patched.resource_version(), created.resource_version());
    let applied = api.patch("w", &PatchParams::apply("mgr"), &Patch::Apply(workspace("w", "a"))).await.unwrap();
    let again = api.patch("w", &PatchParams::apply("mgr"), &Patch::Apply(workspace("w", "a"))).await.unwrap();
    assert_eq!(again.resource_version(), applied.resource_version(), "re-applying the same configuration is a no-op");
    assert_eq!(again.metadata.managed_fields, applied.metadata.managed_fields);
}

#[tokio::test]
async fn the_status_subresource_splits_spec_and_status() {
    let (_server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client, "ns");
    let mut with_status = workspace("w", "a");
    with_status.status = Some(WorkspaceStatus { phase: Some("Ready".into()) });
    let created = api.create(&PostParams::default(), &with_status).await.unwrap();
    assert_eq!(created.status, None, "create drops status where it is a subresource");

    let status = json!({"status": {"phase": "Provisioning"}, "spec": {"owner": "ignored"}});
    let patched = api.patch_status("w", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(patched.status.as_ref().unwrap().phase.as_deref(), Some("Provisioning"));
    assert_eq!(patched.spec.owner, "a", "status writes change only status");
    assert_eq!(patched.metadata.generation, Some(1), "a status change is no new generation");

    let mut main = patched.clone();
    main.status = Some(WorkspaceStatus { phase: Some("Hacked".into()) });
    main.spec.owner = "b".into();
    let replaced = api.replace("w", &PostParams::default(), &main).await.unwrap();
    assert_eq!(replaced.status.as_ref().unwrap().phase.as_deref(), Some("Provisioning"), "main writes keep status");
    assert_eq!(replaced.metadata.generation, Some(2));

    let mut put_status = replaced.clone();
    put_status.status = Some(WorkspaceStatus { phase: Some("Ready".into()) });
    let via_put = api.replace_status("w", &PostParams::default(), &put_status).await.unwrap();
    assert_eq!(via_put.status.unwrap().phase.as_deref(), Some("Ready"));
    let stale = api_error(api.replace_status("w", &PostParams::default(), &put_status).await);
    assert_eq!(stale.code, 409, "PUT /status checks the resourceVersion too");
    assert_eq!(api.get_status("w").await.unwrap().status.unwrap().phase.as_deref(), Some("Ready"));

    let labels = api
        .patch("w", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})))
        .await
        .unwrap();
    assert_eq!(labels.metadata.generation, Some(2), "metadata changes are no new generation");
}

#[tokio::test]
async fn merge_and_strategic_patches() {
    let (_server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    api.create(&PostParams::default(), &deployment("web", 1)).await.unwrap();
    let merged = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": null, "x": "y"}}, "spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.labels().get("x").map(String::as_str), Some("y"));
    assert!(!merged.labels().contains_key("app"), "null removes");
    assert_eq!(merged.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(merged.metadata.generation, Some(2));

    let strategic =
        api.patch("web", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"replicas": 4}}))).await.unwrap();
    assert_eq!(strategic.spec.unwrap().replicas, Some(4));

    let workspaces: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    workspaces.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let err = api_error(workspaces.patch("w", &PatchParams::default(), &Patch::Strategic(json!({"spec": {}}))).await);
    assert_eq!(
        (err.code, err.reason.as_str()),
        (415, "UnsupportedMediaType"),
        "custom resources take no strategic merge patch"
    );
    let missing = api_error(api.patch("nope", &PatchParams::default(), &Patch::Merge(json!({}))).await);
    assert_eq!(missing.code, 404);
}

#[tokio::test]
async fn json_patches_apply_atomically_and_failed_tests_are_invalid() {
    let (_server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client, "ns");
    api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let ops = |ops: Value| Patch::<()>::Json(serde_json::from_value(ops).unwrap());
    let patched = api
        .patch(
            "w",
            &PatchParams::default(),
            &ops(json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["one"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "two"},
                {"op": "replace", "path": "/spec/owner", "value": "b"},
                {"op": "copy", "from": "/spec/owner", "path": "/spec/cpu"},
            ])),
        )
        .await
        .unwrap();
    assert_eq!(patched.finalizers(), ["one", "two"]);
    assert_eq!(patched.spec.cpu.as_deref(), Some("b"));

    let failed = api_error(
        api.patch(
            "w",
            &PatchParams::default(),
            &ops(json!([
                {"op": "replace", "path": "/spec/owner", "value": "c"},
                {"op": "test", "path": "/metadata/finalizers/0", "value": "two"},
            ])),
        )
        .await,
    );
    assert_eq!((failed.code, failed.reason.as_str()), (422, "Invalid"));
    assert_eq!(failed.message, "the server rejected our request due to an error in our request");
    assert_eq!(api.get("w").await.unwrap().spec.owner, "b", "a failed patch changes nothing");

    let moved = api
        .patch(
            "w",
            &PatchParams::default(),
            &ops(json!([
                {"op": "move", "from": "/spec/cpu", "path": "/spec/owner"},
                {"op": "remove", "path": "/metadata/finalizers/0"},
            ])),
        )
        .await
        .unwrap();
    assert_eq!((moved.spec.owner.as_str(), moved.spec.cpu.as_deref()), ("b", None));
    assert_eq!(moved.finalizers(), ["two"]);
    let missing =
        api_error(api.patch("w", &PatchParams::default(), &ops(json!([{"op": "remove", "path": "/spec/nope"}]))).await);
    assert_eq!(missing.code, 422);
}
