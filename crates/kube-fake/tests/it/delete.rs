//! Deletion: answers, finalizers, preconditions, garbage collection, namespaces, and
//! kube-runtime's finalizer helper.

use crate::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions, WatchEvent, WatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn owned_configmap(name: &str, owner: &Workspace) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "orchestrator.dev/v1alpha1".into(),
        kind: "Workspace".into(),
        name: owner.name_any(),
        uid: owner.uid().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    cm
}

#[tokio::test]
async fn delete_answers_with_a_status_or_the_object() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("c".into());
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let status =
        cms.delete("c", &DeleteParams::default()).await.unwrap().right().expect("built-in types answer with a Status");
    let details = status.details.unwrap();
    assert_eq!((details.name.as_str(), details.kind.as_str()), ("c", "configmaps"));
    assert_eq!(Some(details.uid), created.metadata.uid);
    assert_eq!(api_error(cms.delete("c", &DeleteParams::default()).await).code, 404);

    let workspaces: Api<Workspace> = Api::namespaced(client, "ns");
    workspaces.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let dry = workspaces.delete("w", &DeleteParams::default().dry_run()).await.unwrap();
    assert!(dry.is_left());
    assert!(workspaces.get("w").await.is_ok(), "a dry run deletes nothing");
    let wrong = Preconditions { uid: Some("someone-else".into()), resource_version: None };
    let err = api_error(workspaces.delete("w", &DeleteParams::default().preconditions(wrong)).await);
    assert_eq!(err.code, 409);
    assert!(err.message.contains("Precondition failed: UID in precondition: someone-else"), "{}", err.message);
    assert!(
        workspaces.delete("w", &DeleteParams::default()).await.unwrap().is_left(),
        "custom resources answer with the object"
    );
}

#[tokio::test]
async fn finalizers_hold_an_object_until_they_are_removed() {
    let (server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client, "ns");
    let mut w = workspace("w", "a");
    w.metadata.finalizers = Some(vec!["orchestrator.dev/cleanup".into()]);
    api.create(&PostParams::default(), &w).await.unwrap();
    let from = server.resource_version().to_string();
    let mut events = api.watch(&WatchParams::default().disable_bookmarks(), &from).await.unwrap().boxed();

    let held = api.delete("w", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    let marked = within("MODIFIED", events.next()).await.unwrap().unwrap();
    assert!(matches!(marked, WatchEvent::Modified(o) if o.metadata.deletion_timestamp.is_some()));
    let again = api.delete("w", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert_eq!(again.resource_version(), held.resource_version(), "deleting again changes nothing");

    let add = api_error(
        api.patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["orchestrator.dev/cleanup", "new"]}})),
        )
        .await,
    );
    assert_eq!(add.code, 422, "no new finalizers while deleting");
    let spec_change =
        api.patch("w", &PatchParams::default(), &Patch::Merge(json!({"spec": {"owner": "b"}}))).await.unwrap();
    assert_eq!(spec_change.spec.owner, "b", "updates still work");
    assert!(matches!(within("MODIFIED", events.next()).await.unwrap().unwrap(), WatchEvent::Modified(_)));

    let last = api
        .patch("w", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .unwrap();
    assert!(last.finalizers().is_empty());
    let gone = within("DELETED", events.next()).await.unwrap().unwrap();
    assert!(matches!(gone, WatchEvent::Deleted(o) if o.name_any() == "w"));
    assert_eq!(api_error(api.get("w").await).code, 404);
}

#[tokio::test]
async fn dependents_are_collected_or_orphaned() {
    let (_server, client) = start().await;
    let workspaces: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    let owner = workspaces.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let second = workspaces.create(&PostParams::default(), &workspace("w2", "a")).await.unwrap();
    cms.create(&PostParams::default(), &owned_configmap("only", &owner)).await.unwrap();
    let mut held = owned_configmap("held", &owner);
    held.metadata.finalizers = Some(vec!["keep".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    let mut shared = owned_configmap("shared", &owner);
    shared
        .metadata
        .owner_references
        .as_mut()
        .unwrap()
        .extend(owned_configmap("x", &second).metadata.owner_references.unwrap());
    cms.create(&PostParams::default(), &shared).await.unwrap();

    workspaces.delete("w", &DeleteParams::background()).await.unwrap();
    assert_eq!(api_error(cms.get("only").await).code, 404, "collected with its owner");
    assert!(cms.get("held").await.unwrap().metadata.deletion_timestamp.is_some(), "deleted, held by its finalizer");
    let survivor = cms.get("shared").await.unwrap();
    let owners: Vec<String> = survivor.owner_references().iter().map(|r| r.name.clone()).collect();
    assert_eq!(owners, ["w2"], "another owner lives: only the dangling reference goes");

    let orphan = cms.create(&PostParams::default(), &owned_configmap("orphan", &second)).await.unwrap();
    workspaces.delete("w2", &DeleteParams::orphan()).await.unwrap();
    let kept = cms.get("orphan").await.unwrap();
    assert!(kept.owner_references().is_empty());
    assert_eq!(kept.metadata.uid, orphan.metadata.uid);

    let mut late = owned_configmap("late", &second);
    late.metadata.owner_references.as_mut().unwrap()[0].name = "w2".into();
    let created = cms.create(&PostParams::default(), &late).await.unwrap();
    assert_eq!(created.name_any(), "late", "the create answers");
    assert_eq!(api_error(cms.get("late").await).code, 404, "then the collector finds its owner gone");
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content_first() {
    let (server, client) = start().await;
    server.create_namespace("doomed").unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let mut plain = ConfigMap::default();
    plain.metadata.name = Some("plain".into());
    cms.create(&PostParams::default(), &plain).await.unwrap();
    let mut held = ConfigMap::default();
    held.metadata.name = Some("held".into());
    held.metadata.finalizers = Some(vec!["keep".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let answer = namespaces.delete("doomed", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert_eq!(answer.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert_eq!(cms.list(&ListParams::default()).await.unwrap().items.len(), 1, "only the held one is left");
    let mut late = ConfigMap::default();
    late.metadata.name = Some("late".into());
    let refused = api_error(cms.create(&PostParams::default(), &late).await);
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert!(refused.message.contains("because it is being terminated"), "{}", refused.message);

    cms.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert_eq!(api_error(namespaces.get("doomed").await).code, 404, "gone once empty");
    assert!(!server.namespaces().contains(&"doomed".to_string()));
}

#[tokio::test]
async fn kube_runtimes_finalizer_helper_adds_and_removes_its_finalizer() {
    let (server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();
    let cleanups = Arc::new(AtomicUsize::new(0));
    let reconcile = |object: Arc<Workspace>| {
        let api = api.clone();
        let cleanups = cleanups.clone();
        async move {
            finalizer(&api, "orchestrator.dev/cleanup", object, |event| async move {
                if let Finalizer::Cleanup(_) = event {
                    cleanups.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<_, kube::Error>(Action::await_change())
            })
            .await
        }
    };

    reconcile(Arc::new(api.get("w").await.unwrap())).await.unwrap();
    let added = api.get("w").await.unwrap();
    assert_eq!(added.finalizers(), ["orchestrator.dev/cleanup"]);
    let patch = server.requests().into_iter().rev().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.content_type.as_deref(), Some("application/json-patch+json"), "test + add as a JSON patch");

    reconcile(Arc::new(added.clone())).await.unwrap();
    assert_eq!(api.get("w").await.unwrap().finalizers().len(), 1, "added once");

    api.delete("w", &DeleteParams::default()).await.unwrap();
    let deleting = api.get("w").await.unwrap();
    reconcile(Arc::new(deleting)).await.unwrap();
    assert_eq!(cleanups.load(Ordering::SeqCst), 1);
    assert_eq!(api_error(api.get("w").await).code, 404, "removing the last finalizer finished the delete");

    let fresh = api.create(&PostParams::default(), &workspace("w2", "a")).await.unwrap();
    reconcile(Arc::new(api.get("w2").await.unwrap())).await.unwrap();
    let err = reconcile(Arc::new(fresh)).await.expect_err("a stale copy's `test` fails");
    let kube::runtime::finalizer::Error::AddFinalizer(kube::Error::Api(status)) = err else { panic!("{err:?}") };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert_eq!(api.get("w2").await.unwrap().finalizers().len(), 1, "not added twice");
}
