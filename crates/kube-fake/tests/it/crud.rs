//! Create, get, list, discovery and the errors of malformed requests.

use crate::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::ResourceExt;
use kube::api::{ListParams, ObjectMeta};

#[tokio::test]
async fn create_fills_metadata_and_get_returns_the_object() {
    let (server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    let before = server.resource_version();
    let created = api.create(&PostParams::default(), &workspace("alice", "alice@example.com")).await.unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("ns"));
    assert_eq!(meta.generation, Some(1));
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.resource_version, Some((before + 1).to_string()), "one global counter");
    let managed = meta.managed_fields.as_ref().unwrap();
    assert_eq!(managed[0].operation.as_deref(), Some("Update"));
    assert_eq!(managed[0].manager, None, "kube-rs sends no User-Agent to name a manager after");
    let named = PostParams { field_manager: Some("api".into()), ..PostParams::default() };
    let second = api.create(&named, &workspace("second", "b")).await.unwrap();
    assert_eq!(second.managed_fields()[0].manager.as_deref(), Some("api"));

    let fetched = api.get("alice").await.unwrap();
    assert_eq!(fetched.spec, created.spec);
    assert_eq!(fetched.metadata.resource_version, meta.resource_version);
    let stored = server.get("orchestrator.dev/v1alpha1", "Workspace", Some("ns"), "alice").unwrap();
    assert_eq!(stored["spec"]["owner"], "alice@example.com");

    let missing = api_error(api.get("bob").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "workspaces.orchestrator.dev \"bob\" not found");
    let details = missing.details.unwrap();
    assert_eq!(
        (details.name.as_str(), details.group.as_str(), details.kind.as_str()),
        ("bob", "orchestrator.dev", "workspaces")
    );
}

#[tokio::test]
async fn create_rejects_duplicates_missing_namespaces_and_bad_names() {
    let (_server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    api.create(&PostParams::default(), &workspace("alice", "a")).await.unwrap();
    let duplicate = api_error(api.create(&PostParams::default(), &workspace("alice", "a")).await);
    assert_eq!((duplicate.code, duplicate.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(duplicate.message, "workspaces.orchestrator.dev \"alice\" already exists");

    let elsewhere: Api<Workspace> = Api::namespaced(client.clone(), "nowhere");
    let no_namespace = api_error(elsewhere.create(&PostParams::default(), &workspace("alice", "a")).await);
    assert_eq!((no_namespace.code, no_namespace.message.as_str()), (404, "namespaces \"nowhere\" not found"));

    let bad = api_error(api.create(&PostParams::default(), &workspace("Not_Valid", "a")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
    assert!(
        bad.message.starts_with(
            "Workspace.orchestrator.dev \"Not_Valid\" is invalid: metadata.name: Invalid value: \"Not_Valid\": a lowercase RFC 1123 subdomain"
        ),
        "{}",
        bad.message
    );
    let cause = &bad.details.unwrap().causes[0];
    assert_eq!((cause.reason.as_str(), cause.field.as_str()), ("FieldValueInvalid", "metadata.name"));

    let unnamed = Workspace { metadata: ObjectMeta::default(), ..workspace("x", "a") };
    let unnamed = api_error(api.create(&PostParams::default(), &unnamed).await);
    assert_eq!(unnamed.code, 422);
    assert!(
        unnamed.message.contains("metadata.name: Required value: name or generateName is required"),
        "{}",
        unnamed.message
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let dotted = Namespace {
        metadata: ObjectMeta { name: Some("a.b".into()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    let dotted = api_error(namespaces.create(&PostParams::default(), &dotted).await);
    assert!(dotted.message.contains("RFC 1123 label"), "namespaces are labels: {}", dotted.message);
    let long = Namespace {
        metadata: ObjectMeta { name: Some("n".repeat(64)), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    let long = api_error(namespaces.create(&PostParams::default(), &long).await);
    assert!(long.message.contains("must be no more than 63 characters"), "{}", long.message);
}

#[tokio::test]
async fn create_checks_the_body_against_the_path() {
    let (_server, client) = start().await;
    let other_version = json!({"apiVersion": "orchestrator.dev/v9", "kind": "Workspace", "metadata": {"name": "w"}, "spec": {"owner": "a"}});
    let path = "/apis/orchestrator.dev/v1alpha1/namespaces/ns/workspaces";
    let err = raw(&client, "POST", path, "application/json", &other_version.to_string()).await.unwrap_err();
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        err.message,
        "the API version in the data (orchestrator.dev/v9) does not match the expected API version (orchestrator.dev/v1alpha1)"
    );
    let other_kind = json!({"apiVersion": "orchestrator.dev/v1alpha1", "kind": "Other", "metadata": {"name": "w"}});
    let err = raw(&client, "POST", path, "application/json", &other_kind.to_string()).await.unwrap_err();
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        err.message,
        "Other.orchestrator.dev \"w\" is invalid: kind: Invalid value: \"Other\": must be Workspace"
    );

    let other_namespace = json!({"metadata": {"name": "w", "namespace": "default"}, "spec": {"owner": "a"}});
    let err = raw(&client, "POST", path, "application/json", &other_namespace.to_string()).await.unwrap_err();
    assert_eq!(err.code, 400);
    let untyped = json!({"metadata": {"name": "w"}, "spec": {"owner": "a"}});
    let created = raw(&client, "POST", path, "application/json", &untyped.to_string()).await.unwrap();
    assert_eq!(created["kind"], "Workspace", "type fields default from the path");

    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n";
    let created = raw(&client, "POST", "/api/v1/namespaces/ns/configmaps", "application/yaml", yaml).await.unwrap();
    assert_eq!(created["data"]["a"], "b");
    let not_json = raw(&client, "POST", path, "application/json", "{not json").await.unwrap_err();
    assert_eq!(not_json.code, 400);
    let protobuf = raw(&client, "POST", path, "application/vnd.kubernetes.protobuf", "x").await.unwrap_err();
    assert_eq!((protobuf.code, protobuf.reason.as_str()), (415, "UnsupportedMediaType"));

    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    let existing = api.get("from-yaml").await.unwrap();
    let mut again = existing.clone();
    again.metadata.name = Some("copy".into());
    let err = api_error(api.create(&PostParams::default(), &again).await);
    assert_eq!(
        (err.code, err.message.as_str()),
        (500, "Internal error occurred: resourceVersion should not be set on objects to be created")
    );
}

#[tokio::test]
async fn generate_name_and_dry_run() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    let template = ConfigMap {
        metadata: ObjectMeta { generate_name: Some("job-".into()), ..ObjectMeta::default() },
        ..ConfigMap::default()
    };
    let first = api.create(&PostParams::default(), &template).await.unwrap();
    let second = api.create(&PostParams::default(), &template).await.unwrap();
    assert!(first.name_any().starts_with("job-") && first.name_any().len() == "job-".len() + 5);
    assert_ne!(first.name_any(), second.name_any());

    let before = server.resource_version();
    let dry = PostParams { dry_run: true, ..PostParams::default() };
    let mut named = ConfigMap::default();
    named.metadata.name = Some("dry".into());
    let answered = api.create(&dry, &named).await.unwrap();
    assert_eq!(answered.name_any(), "dry");
    assert_eq!(server.resource_version(), before, "a dry run stores nothing");
    assert_eq!(api_error(api.get("dry").await).code, 404);
}

#[tokio::test]
async fn lists_filter_by_labels_and_fields_and_page() {
    let (server, client) = start().await;
    server.create_namespace("other").unwrap();
    create_configmap(&client, "a", json!({"app": "web", "tier": "front"})).await;
    create_configmap(&client, "b", json!({"app": "api", "tier": "back"})).await;
    create_configmap(&client, "c", json!({"app": "db"})).await;
    let other = dynamic_api(&client, "v1", "ConfigMap", "configmaps", Some("other"));
    other.create(&PostParams::default(), &configmap("d", json!({"app": "web"}))).await.unwrap();

    let names =
        |list: kube::core::ObjectList<DynamicObject>| list.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>();
    let api = configmaps(&client);
    let list = |selector: &'static str| {
        let api = api.clone();
        async move { names(api.list(&ListParams::default().labels(selector)).await.unwrap()) }
    };
    assert_eq!(list("app=web").await, ["a"]);
    assert_eq!(list("app==web").await, ["a"]);
    assert_eq!(list("app!=web").await, ["b", "c"]);
    assert_eq!(list("app in (web,api)").await, ["a", "b"]);
    assert_eq!(list("app notin (web,api)").await, ["c"]);
    assert_eq!(list("tier").await, ["a", "b"]);
    assert_eq!(list("!tier").await, ["c"]);
    assert_eq!(list("tier,app!=api").await, ["a"]);
    let by_name = api.list(&ListParams::default().fields("metadata.name=b")).await.unwrap();
    assert_eq!(names(by_name), ["b"]);

    let everywhere = dynamic_api(&client, "v1", "ConfigMap", "configmaps", None);
    let all = everywhere.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(names(all.clone()), ["a", "d"], "across namespaces, by namespace then name");
    assert_eq!(all.metadata.resource_version, Some(server.resource_version().to_string()));
    let in_other = everywhere.list(&ListParams::default().fields("metadata.namespace=other")).await.unwrap();
    assert_eq!(names(in_other), ["d"]);

    let bad = api_error(api.list(&ListParams::default().labels("app in web")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));
    let unsupported = api_error(api.list(&ListParams::default().fields("data.key=value")).await);
    assert_eq!((unsupported.code, unsupported.message.as_str()), (400, "field label not supported: data.key"));

    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(names(page.clone()), ["a", "b"]);
    let token = page.metadata.continue_.clone().unwrap();
    assert_eq!(page.metadata.remaining_item_count, Some(1));
    let rest = api.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(names(rest.clone()), ["c"]);
    assert_eq!(rest.metadata.continue_, None);
    assert_eq!(rest.metadata.resource_version, page.metadata.resource_version);

    let raw_list = raw(&client, "GET", "/api/v1/namespaces/ns/configmaps", "application/json", "").await.unwrap();
    assert_eq!((raw_list["kind"].as_str(), raw_list["apiVersion"].as_str()), (Some("ConfigMapList"), Some("v1")));
}

#[tokio::test]
async fn paths_methods_and_discovery() {
    let (_server, client) = start().await;
    let unknown = raw(&client, "GET", "/apis/nothing.io/v1/things", "application/json", "").await.unwrap_err();
    assert_eq!((unknown.code, unknown.reason.as_str()), (404, "NotFound"));
    let no_status =
        raw(&client, "GET", "/api/v1/namespaces/ns/configmaps/x/status", "application/json", "").await.unwrap_err();
    assert_eq!(no_status.code, 404, "configmaps have no status subresource");
    let on_item =
        raw(&client, "POST", "/api/v1/namespaces/ns/configmaps/x", "application/json", "{}").await.unwrap_err();
    assert_eq!((on_item.code, on_item.reason.as_str()), (405, "MethodNotAllowed"));

    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let (resource, caps) =
        discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk("orchestrator.dev", "v1alpha1", "Workspace")).unwrap();
    assert_eq!(resource.plural, "workspaces");
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));
    assert!(discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk("apps", "v1", "Deployment")).is_some());
    assert!(discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk("", "v1", "Service")).is_some());

    let deployments: Api<Deployment> = Api::all(client.clone());
    assert!(deployments.list(&ListParams::default()).await.unwrap().items.is_empty());
    let namespaces: Api<Namespace> = Api::all(client);
    let all = namespaces.list(&ListParams::default()).await.unwrap();
    let names: Vec<String> = all.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["default", "ns"]);
    assert_eq!(all.items[0].status.as_ref().unwrap().phase.as_deref(), Some("Active"));
}

#[tokio::test]
async fn malformed_requests_get_client_errors_never_server_errors() {
    let (_server, client) = start().await;
    create_configmap(&client, "c", json!({})).await;
    let cm = "/api/v1/namespaces/ns/configmaps";
    let item = "/api/v1/namespaces/ns/configmaps/c";
    let apply = "/api/v1/namespaces/ns/configmaps/c?fieldManager=x";
    let json = "application/json";
    let cases: &[(&str, String, &str, &str)] = &[
        ("GET", format!("{cm}?labelSelector=%3D%3D"), json, ""),
        ("GET", format!("{cm}?limit=abc"), json, ""),
        ("GET", format!("{cm}?continue=garbage"), json, ""),
        ("GET", format!("{cm}?watch=true&resourceVersion=abc"), json, ""),
        ("GET", format!("{cm}?watch=true&timeoutSeconds=-1"), json, ""),
        ("GET", format!("{item}/status/extra"), json, ""),
        ("GET", "/api/v1/namespaces/n%2Fs/configmaps/c".into(), json, ""),
        ("POST", cm.into(), json, "[]"),
        ("POST", cm.into(), json, "\"text\""),
        ("POST", cm.into(), json, r#"{"metadata": 5}"#),
        ("POST", cm.into(), json, r#"{"metadata": {"name": 5}}"#),
        ("POST", "/api/v1/namespaces/ns/services".into(), json, r#"{"metadata": {"name": "s"}, "spec": "x"}"#),
        (
            "POST",
            "/api/v1/namespaces/ns/services".into(),
            json,
            r#"{"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": "x"}]}}"#,
        ),
        (
            "POST",
            "/api/v1/namespaces/ns/services".into(),
            json,
            r#"{"metadata": {"name": "t"}, "spec": {"ports": "x"}}"#,
        ),
        (
            "POST",
            "/apis/apps/v1/namespaces/ns/deployments".into(),
            json,
            r#"{"metadata": {"name": "d"}, "spec": {"template": 1}}"#,
        ),
        ("PUT", item.into(), json, "[1]"),
        ("PUT", item.into(), json, r#"{"metadata": {"name": "c", "resourceVersion": 7}}"#),
        ("PATCH", item.into(), "application/json-patch+json", "{}"),
        ("PATCH", item.into(), "application/json-patch+json", r#"[{"op": "add"}]"#),
        ("PATCH", item.into(), "application/json-patch+json", r#"[{"op": "add", "path": "nope", "value": 1}]"#),
        ("PATCH", item.into(), "application/json-patch+json", r#"[{"op": "replace", "path": "", "value": 1}]"#),
        ("PATCH", item.into(), "application/merge-patch+json", "[]"),
        ("PATCH", item.into(), "application/merge-patch+json", r#"{"metadata": null}"#),
        (
            "PATCH",
            item.into(),
            "application/merge-patch+json",
            r#"{"metadata": {"finalizers": "x", "ownerReferences": 3}}"#,
        ),
        ("PATCH", format!("{item}?dryRun=Some"), "application/merge-patch+json", "{}"),
        ("PATCH", apply.into(), "application/apply-patch+yaml", "- a\n- b\n"),
        ("PATCH", apply.into(), "application/apply-patch+yaml", ": : :"),
        (
            "PATCH",
            apply.into(),
            "application/apply-patch+yaml",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "ownerReferences": [{"name": "x"}]}}"#,
        ),
        (
            "PATCH",
            apply.into(),
            "application/apply-patch+yaml",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"}"#,
        ),
        ("PATCH", item.into(), "text/plain", "x"),
        ("DELETE", format!("{item}?propagationPolicy=Sideways"), json, ""),
        ("DELETE", item.into(), json, "{not json"),
        ("DELETE", format!("{cm}?labelSelector=a%20b"), json, ""),
        ("PUT", cm.into(), json, "{}"),
    ];
    for (method, path, content_type, body) in cases {
        if let Err(status) = raw(&client, method, path, content_type, body).await {
            assert!((400..500).contains(&status.code), "{method} {path} {body}: {} {}", status.code, status.message);
        }
    }
}
