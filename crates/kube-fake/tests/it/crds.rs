//! CustomResourceDefinitions written through the API start serving their types; the
//! `kube-fake` binary serves through the kubeconfig it writes.

use crate::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::wait::{await_condition, conditions};
use kube::{CustomResourceExt, ResourceExt};
use std::io::BufRead;

/// A type no server in these tests registers at start.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(group = "example.dev", version = "v1", kind = "Widget", namespaced, status = "WidgetStatus")]
pub struct WidgetSpec {
    pub size: u32,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct WidgetStatus {
    pub ready: bool,
}

fn widget(name: &str, size: u32) -> Widget {
    Widget::new(name, WidgetSpec { size })
}

/// Creates the Widget CRD and waits, as installers do, until it is established.
async fn install(client: &Client) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd()).await.unwrap();
    within("the CRD to be established", await_condition(crds, "widgets.example.dev", conditions::is_crd_established()))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_created_crd_is_established_and_its_type_served() {
    let (_server, client) = start().await;
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "ns");
    // Not served before its CRD exists.
    assert_eq!(api_error(widgets.list(&Default::default()).await).code, 404);

    let crd = install(&client).await;
    let status = crd.status.unwrap();
    let names = status.accepted_names.unwrap();
    assert_eq!((names.kind.as_str(), names.plural.as_str()), ("Widget", "widgets"));
    assert_eq!(names.list_kind.as_deref(), Some("WidgetList"));
    assert_eq!(status.stored_versions.unwrap(), ["v1"]);

    let created = widgets.create(&PostParams::default(), &widget("w1", 3)).await.unwrap();
    assert_eq!(created.spec.size, 3);
    // The status subresource the CRD declares is one: a write to the object keeps the status.
    let mut with_status = created.clone();
    with_status.status = Some(WidgetStatus { ready: true });
    let replaced = widgets.replace("w1", &PostParams::default(), &with_status).await.unwrap();
    assert_eq!(replaced.status, None);
    let status = serde_json::json!({"status": {"ready": true}});
    let patched = widgets.patch_status("w1", &Default::default(), &kube::api::Patch::Merge(&status)).await.unwrap();
    assert_eq!(patched.status, Some(WidgetStatus { ready: true }));
    assert_eq!(widgets.list(&Default::default()).await.unwrap().items.len(), 1);

    // Discovery lists the new group.
    let discovery = kube::Discovery::new(client.clone()).filter(&["example.dev"]).run().await.unwrap();
    assert!(discovery.has_group("example.dev"));
}

#[tokio::test]
async fn a_crd_is_checked_as_the_api_server_checks_it() {
    let (_server, client) = start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut misnamed = Widget::crd();
    misnamed.metadata.name = Some("widgets.other.dev".into());
    let status = api_error(crds.create(&PostParams::default(), &misnamed).await);
    assert_eq!(status.code, 422);
    let causes = status.details.unwrap().causes;
    assert_eq!(causes[0].field, "metadata.name", "{causes:?}");
    assert!(causes[0].message.contains("must be spec.names.plural+\".\"+spec.group"), "{causes:?}");

    let mut two_storage = Widget::crd();
    let mut second = two_storage.spec.versions[0].clone();
    second.name = "v2".into();
    two_storage.spec.versions.push(second);
    let status = api_error(crds.create(&PostParams::default(), &two_storage).await);
    assert_eq!(status.code, 422);
    assert!(status.message.contains("exactly one version marked as storage version"), "{}", status.message);

    // A refused CRD serves nothing, and neither does a dry run.
    let dry = PostParams { dry_run: true, ..PostParams::default() };
    crds.create(&dry, &Widget::crd()).await.unwrap();
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "ns");
    assert_eq!(api_error(widgets.list(&Default::default()).await).code, 404);
    assert!(crds.get_opt("widgets.example.dev").await.unwrap().is_none());
}

#[tokio::test]
async fn applying_the_same_crd_again_changes_nothing() {
    let (_server, client) = start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = kube::api::PatchParams::apply("installer");
    let first = crds.patch("widgets.example.dev", &pp, &kube::api::Patch::Apply(Widget::crd())).await.unwrap();
    let again = crds.patch("widgets.example.dev", &pp, &kube::api::Patch::Apply(Widget::crd())).await.unwrap();
    assert_eq!(first.resource_version(), again.resource_version());
    let widgets: Api<Widget> = Api::namespaced(client, "ns");
    widgets.create(&PostParams::default(), &widget("w1", 1)).await.unwrap();
}

/// Stops the server process when the test ends, however it ends.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_through_the_kubeconfig_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kube-fake"))
        .args(["--simulate-deployments", "--namespace", "team-a", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _process = Process(child);
    // The first line is written once the server listens and the kubeconfig is complete.
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_owned()
    })
    .await
    .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let kubeconfig = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), url);
    let client = Client::try_from(config).unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces.list(&Default::default()).await.unwrap().iter().map(|n| n.name_any()).collect();
    assert_eq!(names, ["default", "team-a"]);
    install(&client).await;
    let widgets: Api<Widget> = Api::namespaced(client, "team-a");
    widgets.create(&PostParams::default(), &widget("w1", 2)).await.unwrap();
}
