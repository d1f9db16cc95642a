//! Server-side apply: creation, field managers, conflicts, force, removal of omitted fields,
//! managedFields, and apply to `/status`.

use crate::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

fn deployment(replicas: i64, image: &str, extra_label: Option<&str>) -> Value {
    let mut labels = json!({"app": "web"});
    if let Some(label) = extra_label {
        labels[label] = json!("yes");
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}},
        },
    })
}

fn fields_of<'a>(object: &'a Deployment, manager: &str, operation: &str) -> &'a Value {
    let entry = object
        .managed_fields()
        .iter()
        .find(|e| e.manager.as_deref() == Some(manager) && e.operation.as_deref() == Some(operation))
        .unwrap_or_else(|| panic!("no {operation} entry for {manager}"));
    assert_eq!(entry.fields_type.as_deref(), Some("FieldsV1"));
    &entry.fields_v1.as_ref().unwrap().0
}

#[tokio::test]
async fn apply_creates_and_records_the_managers_fields() {
    let (server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    let created = api
        .patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(2, "nginx", None)))
        .await
        .unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(created.metadata.generation, Some(1));
    let fields = fields_of(&created, "orchestrator", "Apply");
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    let container = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(container["."], json!({}));
    assert_eq!(container["f:image"], json!({}));
    assert_eq!(created.managed_fields()[0].api_version.as_deref(), Some("apps/v1"));
    assert!(created.managed_fields()[0].time.is_some());

    let request = server.requests().into_iter().rev().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(request.content_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!(request.param("fieldManager"), Some("orchestrator"));
    assert_eq!(request.status, 201, "apply that creates answers 201");
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_a_typed_body() {
    let (_server, client) = start().await;
    let path = "/apis/apps/v1/namespaces/ns/deployments/web";
    let body = deployment(1, "nginx", None).to_string();
    let err = raw(&client, "PATCH", path, "application/apply-patch+yaml", &body).await.unwrap_err();
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        err.message,
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );

    let with_manager = format!("{path}?fieldManager=m");
    let untyped = json!({"metadata": {"name": "web"}}).to_string();
    let err = raw(&client, "PATCH", &with_manager, "application/apply-patch+yaml", &untyped).await.unwrap_err();
    assert_eq!(err.code, 400);
    let managed =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "managedFields": [{}]}});
    let err =
        raw(&client, "PATCH", &with_manager, "application/apply-patch+yaml", &managed.to_string()).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (400, "metadata.managedFields must be nil"));

    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n";
    let created = raw(&client, "PATCH", &with_manager, "application/apply-patch+yaml", yaml).await.unwrap();
    assert_eq!(created["spec"]["replicas"], 5, "YAML bodies are read");
}

#[tokio::test]
async fn a_field_another_manager_owns_conflicts_unless_forced() {
    let (_server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(2, "nginx", None))).await.unwrap();
    let shared =
        api.patch("web", &PatchParams::apply("other"), &Patch::Apply(deployment(2, "nginx", None))).await.unwrap();
    assert_eq!(shared.managed_fields().len(), 2, "the same values are owned together");

    let err =
        api_error(api.patch("web", &PatchParams::apply("other"), &Patch::Apply(deployment(5, "nginx", None))).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(err.message, "Apply failed with 1 conflict: conflict with \"orchestrator\": .spec.replicas");
    let cause = &err.details.unwrap().causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.message.as_str(), cause.field.as_str()),
        ("FieldManagerConflict", "conflict with \"orchestrator\"", ".spec.replicas")
    );

    let err =
        api_error(api.patch("web", &PatchParams::apply("other"), &Patch::Apply(deployment(5, "httpd", None))).await);
    assert_eq!(
        err.message,
        "Apply failed with 2 conflicts: conflicts with \"orchestrator\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    );

    let forced = api
        .patch("web", &PatchParams::apply("other").force(), &Patch::Apply(deployment(5, "nginx", None)))
        .await
        .unwrap();
    assert_eq!(forced.spec.as_ref().unwrap().replicas, Some(5));
    assert!(fields_of(&forced, "orchestrator", "Apply")["f:spec"].get("f:replicas").is_none(), "force takes ownership");
    assert_eq!(fields_of(&forced, "other", "Apply")["f:spec"]["f:replicas"], json!({}));
    let back = api_error(
        api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(2, "nginx", None))).await,
    );
    assert_eq!(back.message, "Apply failed with 1 conflict: conflict with \"other\": .spec.replicas");
}

#[tokio::test]
async fn updates_by_other_clients_conflict_with_apply() {
    let (_server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(2, "nginx", None))).await.unwrap();
    let scaled = api
        .patch(
            "web",
            &PatchParams { field_manager: Some("kubectl".into()), ..PatchParams::default() },
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(fields_of(&scaled, "kubectl", "Update")["f:spec"]["f:replicas"], json!({}));
    assert!(
        fields_of(&scaled, "orchestrator", "Apply")["f:spec"].get("f:replicas").is_none(),
        "the update took the field"
    );
    let err = api_error(
        api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(2, "nginx", None))).await,
    );
    assert_eq!(err.message, "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas");
}

#[tokio::test]
async fn fields_a_manager_stops_applying_are_removed_unless_shared() {
    let (_server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    let pp = PatchParams::apply("orchestrator");
    let with_two = api.patch("web", &pp, &Patch::Apply(deployment(1, "nginx", Some("one")))).await.unwrap();
    assert!(with_two.labels().contains_key("one"));
    let without = api.patch("web", &pp, &Patch::Apply(deployment(1, "nginx", None))).await.unwrap();
    assert!(!without.labels().contains_key("one"), "an omitted field goes");

    api.patch("web", &pp, &Patch::Apply(deployment(1, "nginx", Some("two")))).await.unwrap();
    api.patch(
        "web",
        &PatchParams::apply("other"),
        &Patch::Apply(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"two": "yes"}},
        })),
    )
    .await
    .unwrap();
    let kept = api.patch("web", &pp, &Patch::Apply(deployment(1, "nginx", None))).await.unwrap();
    assert_eq!(kept.labels().get("two").map(String::as_str), Some("yes"), "another manager still owns it");

    let by_update = api
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"three": "x"}}})))
        .await
        .unwrap();
    assert!(by_update.labels().contains_key("three"));
    let untouched = api.patch("web", &pp, &Patch::Apply(deployment(1, "nginx", None))).await.unwrap();
    assert!(untouched.labels().contains_key("three"), "fields the manager never applied stay");
}

#[tokio::test]
async fn containers_merge_by_name_and_allocated_defaults_survive_reapply() {
    let (_server, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    api.patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(1, "nginx", None))).await.unwrap();
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}},
    });
    let both = api.patch("web", &PatchParams::apply("injector"), &Patch::Apply(sidecar)).await.unwrap();
    let containers = both.spec.unwrap().template.spec.unwrap().containers;
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["web", "sidecar"]);
    assert_eq!(containers[0].ports.as_ref().unwrap()[0].protocol.as_deref(), Some("TCP"), "defaulted");
    let again = api
        .patch("web", &PatchParams::apply("orchestrator"), &Patch::Apply(deployment(1, "nginx", None)))
        .await
        .unwrap();
    assert_eq!(again.spec.unwrap().template.spec.unwrap().containers.len(), 2);
}

#[tokio::test]
async fn apply_to_status_changes_only_status() {
    let (_server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client, "ns");
    let missing = api_error(
        api.patch_status(
            "w",
            &PatchParams::apply("ctl"),
            &Patch::Apply(json!({
                "apiVersion": "orchestrator.dev/v1alpha1", "kind": "Workspace", "status": {"phase": "Ready"},
            })),
        )
        .await,
    );
    assert_eq!(missing.code, 404);
    api.patch("w", &PatchParams::apply("api"), &Patch::Apply(workspace("w", "a"))).await.unwrap();
    let status = json!({
        "apiVersion": "orchestrator.dev/v1alpha1", "kind": "Workspace",
        "spec": {"owner": "ignored"}, "status": {"phase": "Provisioning"},
    });
    let applied = api.patch_status("w", &PatchParams::apply("ctl").force(), &Patch::Apply(&status)).await.unwrap();
    assert_eq!(applied.status.as_ref().unwrap().phase.as_deref(), Some("Provisioning"));
    assert_eq!(applied.spec.owner, "a");
    let entry = applied.managed_fields().iter().find(|e| e.manager.as_deref() == Some("ctl")).unwrap();
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(entry.fields_v1.as_ref().unwrap().0, json!({"f:status": {"f:phase": {}}}));

    let main = api.patch("w", &PatchParams::apply("api"), &Patch::Apply(workspace("w", "b"))).await.unwrap();
    assert_eq!(main.status.unwrap().phase.as_deref(), Some("Provisioning"), "main apply keeps status");
    assert_eq!(main.metadata.generation, Some(2));
}
