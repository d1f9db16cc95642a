//! The workspace controller with the real kube client: what it applies, the status it
//! records, the one announcement per workspace, retries, and deletion.
//!
//! The tests in `on_any_cluster` run on the cluster `KUBECONFIG` names when it is set, and on
//! kube-fake otherwise (see `test_harness::TestCluster`); the others need what only
//! the fake can do: injected faults, Deployments held back, the request log.

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_fake::{FakeApiServer, Fault};
use provision_k8s::workspace::controller::{Announcer, Context, FINALIZER, Metrics, run};
use provision_k8s::workspace::{FIELD_MANAGER, Phase, Settings, Workspace};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use test_harness::TestCluster;
use tokio::sync::oneshot;

/// Records announcements; fails the first `fail` ready calls.
#[derive(Default)]
struct Recorder {
    /// Each announcement: the object's uid and the workspace as announced.
    ready: Mutex<Vec<(String, provision_core::workspace::Workspace)>>,
    deleted: Mutex<Vec<String>>,
    fail: AtomicUsize,
}

#[async_trait]
impl Announcer for Recorder {
    async fn ready(&self, uid: &str, workspace: &provision_core::workspace::Workspace) -> Result<(), String> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err("the outbox is unavailable".into());
        }
        self.ready.lock().unwrap().push((uid.to_owned(), workspace.clone()));
        Ok(())
    }

    async fn deleted(&self, uid: &str) -> Result<(), String> {
        self.deleted.lock().unwrap().push(uid.to_owned());
        Ok(())
    }
}

struct Harness {
    cluster: TestCluster,
    client: Client,
    recorder: Arc<Recorder>,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The controller running on `cluster`, in the cluster's test namespace.
fn harness(cluster: TestCluster) -> Harness {
    let mut h = Harness {
        client: cluster.client(),
        cluster,
        recorder: Arc::new(Recorder::default()),
        metrics: Arc::new(Metrics::default()),
        stop: None,
        task: None,
    };
    h.start();
    h
}

/// The controller on kube-fake, with simulated Deployments that are `available` or held back.
async fn on_the_fake(available: bool) -> Harness {
    let builder = FakeApiServer::builder().simulate_deployments(true).deployments_available(available);
    harness(TestCluster::fake::<Workspace>(builder).await)
}

impl Harness {
    fn start(&mut self) {
        let settings = Settings {
            access_host: "ws.example.com".into(),
            storage_class: self.cluster.storage_class(),
            ..Settings::default()
        };
        let ctx = Arc::new(Context::new(self.client.clone(), settings, self.recorder.clone(), self.metrics.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        let namespace = self.cluster.namespace().to_owned();
        self.task = Some(tokio::spawn(async move {
            run(ctx, &namespace, async move {
                let _ = stopped.await;
            })
            .await;
        }));
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    fn api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        self.cluster.api()
    }

    /// The fake, for the tests that need it.
    fn server(&self) -> &FakeApiServer {
        self.cluster.fake_server().expect("this test runs on kube-fake")
    }

    async fn create(&self, name: &str) -> Workspace {
        let ws = test_harness::alices_devbox::<Workspace>(name);
        self.api::<Workspace>().create(&PostParams::default(), &ws).await.unwrap()
    }

    /// Polls `name` until `done` holds of it.
    async fn until(&self, name: &str, what: &str, done: impl Fn(&Workspace) -> bool) -> Workspace {
        let api = self.api::<Workspace>();
        self.cluster
            .eventually(&format!("{name} {what}"), || async { api.get_opt(name).await.unwrap().filter(|ws| done(ws)) })
            .await
    }

    /// Polls until the object `name` of type `K` is gone.
    async fn until_gone<K>(&self, name: &str)
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api = self.api::<K>();
        self.cluster
            .eventually(&format!("{} {name} is gone", K::kind(&K::DynamicType::default())), || async {
                api.get_opt(name).await.unwrap().is_none().then_some(())
            })
            .await;
    }
}

fn phase(ws: &Workspace) -> Option<Phase> {
    ws.status.as_ref().and_then(|s| s.phase)
}

/// Whether the controller server-side applied the object (its managedFields say so).
fn applied_by_the_controller(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    meta.managed_fields
        .iter()
        .flatten()
        .any(|m| m.manager.as_deref() == Some(FIELD_MANAGER) && m.operation.as_deref() == Some("Apply"))
}

mod on_any_cluster {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_workspace_gets_its_objects_a_port_and_one_announcement() {
        let mut h = harness(TestCluster::start::<Workspace>().await);
        let created = h.create("alice-devbox-0a1b2c3d").await;
        let ready = h.until("alice-devbox-0a1b2c3d", "became Ready", |ws| phase(ws) == Some(Phase::Ready)).await;
        let status = ready.status.clone().unwrap();
        let port = status.node_port.unwrap();
        assert!((30000..=32767).contains(&port), "{port}");
        assert_eq!(status.access_command.as_deref(), Some(format!("ssh -p {port} alice@ws.example.com").as_str()));
        assert_eq!(status.observed_generation, Some(1));
        assert!(status.notified_at.is_some());
        assert!(ready.finalizers().iter().any(|f| f == FINALIZER));

        // Each object is owned by the workspace, so deleting it takes them along, and each was
        // applied server-side under the controller's field manager.
        let uid = created.uid().unwrap();
        let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            let by_it = meta.owner_references.iter().flatten().any(|r| r.uid == uid && r.controller == Some(true));
            by_it && applied_by_the_controller(meta)
        };
        let pvc = h.api::<PersistentVolumeClaim>().get("alice-devbox-0a1b2c3d").await.unwrap();
        assert!(owned(&pvc.metadata), "{:#?}", pvc.metadata);
        if let Some(class) = h.cluster.storage_class() {
            assert_eq!(pvc.spec.unwrap().storage_class_name, Some(class));
        }
        let deployment = h.api::<Deployment>().get("alice-devbox-0a1b2c3d").await.unwrap();
        assert!(owned(&deployment.metadata), "{:#?}", deployment.metadata);
        let service = h.api::<Service>().get("alice-devbox-0a1b2c3d").await.unwrap();
        assert!(owned(&service.metadata), "{:#?}", service.metadata);
        assert_eq!(service.spec.unwrap().type_.as_deref(), Some("NodePort"));

        let announced = h.recorder.ready.lock().unwrap().clone();
        assert_eq!(announced.len(), 1, "{announced:#?}");
        let (announced_uid, workspace) = &announced[0];
        assert_eq!((workspace.status.node_port.map(i32::from), announced_uid.as_str()), (Some(port), uid.as_str()));
        assert_eq!(workspace.owner.as_str(), "alice@iiitm.ac.in");
        assert_eq!(workspace.status.phase, provision_core::workspace::WorkspacePhase::Ready);
        assert!(workspace.status.access_command.as_deref().is_some_and(|c| c.contains(&port.to_string())));

        // A restarted controller finds it announced and does not announce again.
        h.stop().await;
        let before = h.metrics.reconciles.load(Ordering::SeqCst);
        h.start();
        h.api::<Workspace>()
            .patch(
                "alice-devbox-0a1b2c3d",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"labels": {"touched": "yes"}}})),
            )
            .await
            .unwrap();
        h.until("alice-devbox-0a1b2c3d", "was reconciled again", |_| {
            h.metrics.reconciles.load(Ordering::SeqCst) > before
        })
        .await;
        assert_eq!(h.recorder.ready.lock().unwrap().len(), 1);

        // Deleting the workspace withdraws the announcement and removes what it owned.
        h.api::<Workspace>().delete("alice-devbox-0a1b2c3d", &DeleteParams::default()).await.unwrap();
        h.until_gone::<Workspace>("alice-devbox-0a1b2c3d").await;
        // Withdrawing is idempotent, and a cached copy may ask again while the deletion settles.
        let mut withdrawn = h.recorder.deleted.lock().unwrap().clone();
        withdrawn.dedup();
        assert_eq!(withdrawn, [uid]);
        h.until_gone::<Deployment>("alice-devbox-0a1b2c3d").await;
        h.until_gone::<Service>("alice-devbox-0a1b2c3d").await;
        h.until_gone::<PersistentVolumeClaim>("alice-devbox-0a1b2c3d").await;
        h.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_workspace_whose_service_the_cluster_refuses_fails_with_its_reason() {
        let mut h = harness(TestCluster::start::<Workspace>().await);
        // Made with kubectl, not the API: a Service name must start with a letter.
        h.create("9box-33333333").await;
        let failed = h.until("9box-33333333", "failed", |ws| phase(ws) == Some(Phase::Failed)).await;
        let message = failed.status.unwrap().message.unwrap();
        assert!(message.contains("refused the Service"), "{message}");
        assert!(message.contains("DNS-1035"), "the API server's reason is kept: {message}");
        assert!(h.recorder.ready.lock().unwrap().is_empty());
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_waits_provisioning_until_the_deployment_is_available() {
    let mut h = on_the_fake(false).await;
    h.create("bob-box-11111111").await;
    let waiting = h.until("bob-box-11111111", "became Provisioning", |ws| phase(ws) == Some(Phase::Provisioning)).await;
    assert!(waiting.status.unwrap().node_port.is_some(), "the port comes before the pod");
    assert!(h.recorder.ready.lock().unwrap().is_empty(), "nothing announced before it is ready");
    h.server().set_deployment_available(h.cluster.namespace(), "bob-box-11111111", true);
    h.until("bob-box-11111111", "became Ready", |ws| phase(ws) == Some(Phase::Ready)).await;
    assert_eq!(h.recorder.ready.lock().unwrap().len(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_and_the_announcement_still_happens_once() {
    let mut h = on_the_fake(true).await;
    // The API server fails the first applies of the Deployment; the announcer fails once.
    h.server().fail_next(Fault::new(500).method("PATCH").path_contains("/deployments/").times(2));
    h.recorder.fail.store(1, Ordering::SeqCst);
    h.create("carol-box-22222222").await;
    let ready = h
        .until("carol-box-22222222", "was announced", |ws| ws.status.as_ref().is_some_and(|s| s.notified_at.is_some()))
        .await;
    assert_eq!(phase(&ready), Some(Phase::Ready));
    assert_eq!(h.server().pending_faults(), 0);
    assert_eq!(h.recorder.ready.lock().unwrap().len(), 1);
    assert!(h.metrics.reconcile_errors.load(Ordering::SeqCst) >= 3, "two apply failures and one announcement failure");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_the_cluster_refuses_is_not_retried_in_a_loop() {
    let mut h = on_the_fake(true).await;
    h.create("9box-33333333").await;
    h.until("9box-33333333", "failed", |ws| phase(ws) == Some(Phase::Failed)).await;
    // It waits for a change rather than retrying: a few reconciles, then none.
    let settled = h.metrics.reconciles.load(Ordering::SeqCst);
    h.create("alice-devbox-44444444").await;
    h.until("alice-devbox-44444444", "became Ready", |ws| phase(ws) == Some(Phase::Ready)).await;
    assert!(h.metrics.reconciles.load(Ordering::SeqCst) - settled < 10, "the failed one is not retried in a loop");
    assert_eq!(phase(&h.api::<Workspace>().get("9box-33333333").await.unwrap()), Some(Phase::Failed));
    h.stop().await;
}

/// (API group, resource, verb) of a request as RBAC sees it.
fn rbac_verb(r: &kube_fake::RequestRecord) -> (String, String, String) {
    let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    // api/v1/namespaces/ns/<resource>[/name[/sub]] or apis/<group>/<version>/namespaces/ns/...
    let (group, rest) = match parts.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", group, _, rest @ ..] => (*group, rest),
        _ => panic!("unexpected path {}", r.path),
    };
    let rest = match rest {
        ["namespaces", _, rest @ ..] => rest,
        other => other,
    };
    let (resource, named) = match rest {
        [resource] => ((*resource).to_owned(), false),
        [resource, _] => ((*resource).to_owned(), true),
        [resource, _, sub] => (format!("{resource}/{sub}"), true),
        _ => panic!("unexpected path {}", r.path),
    };
    let verb = match (r.method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if r.is_watch() => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PATCH", _) => "patch",
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        (other, _) => panic!("unexpected method {other}"),
    };
    (group.to_owned(), resource, verb.to_owned())
}

/// The rules of Role `name` in `deploy/workspace-rbac.yaml`, as (group, resource, verb).
fn role_rules(name: &str) -> std::collections::BTreeSet<(String, String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/workspace-rbac.yaml")).unwrap();
    let objects = crd_schema::read_manifests("workspace-rbac.yaml", &text).unwrap();
    let role = objects.iter().find(|o| o["kind"] == "Role" && o["metadata"]["name"] == name).unwrap();
    let mut rules = std::collections::BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    rules.insert((
                        group.as_str().unwrap().to_owned(),
                        resource.as_str().unwrap().to_owned(),
                        verb.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    rules
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_role_grants_exactly_what_the_controller_does() {
    let cluster = TestCluster::fake::<Workspace>(FakeApiServer::builder().simulate_deployments(true)).await;
    // Installing the CRD and making the namespace are the installer's and the test's.
    cluster.fake_server().unwrap().clear_requests();
    let mut h = harness(cluster);
    h.create("erin-box-55555555").await;
    h.until("erin-box-55555555", "became Ready", |ws| phase(ws) == Some(Phase::Ready)).await;
    h.stop().await;
    let mut used = std::collections::BTreeSet::new();
    for r in h.server().requests() {
        let (group, resource, verb) = rbac_verb(&r);
        // The test's own requests: it creates the workspace and reads it.
        if group == "orchestrator.dev" && resource == "workspaces" && (verb == "create" || verb == "get") {
            continue;
        }
        // Server-side apply of a new object needs `create` as well as `patch`.
        if verb == "patch"
            && r.content_type.as_deref() == Some("application/apply-patch+yaml")
            && resource != "workspaces/status"
        {
            used.insert((group.clone(), resource.clone(), "create".to_owned()));
        }
        used.insert((group, resource, verb));
    }
    assert_eq!(
        used,
        role_rules("orchestrator-workspace-controller"),
        "deploy/workspace-rbac.yaml must grant exactly these"
    );
}

/// Alice's devbox as the application asks for it.
fn alices_workspace() -> provision_core::workspace::Workspace {
    use provision_core::workspace::ShortName;
    use provision_core::{Bytes, Cpu, EmailAddress, SshPublicKey};
    provision_core::workspace::Workspace::new(
        &EmailAddress::parse("Alice@IIITM.ac.in").unwrap(),
        ShortName::parse("devbox").unwrap(),
        Cpu::parse("1500m").unwrap(),
        Bytes::parse("2Gi").unwrap(),
        Bytes::parse("10Gi").unwrap(),
        SshPublicKey::parse(include_str!("../../../provision-core/src/ssh/fixtures/ed25519.pub")).unwrap(),
        "lscr.io/linuxserver/openssh-server:latest".into(),
    )
}

#[tokio::test]
async fn a_workspace_reads_back_as_it_was_asked_for_and_a_hand_edited_one_is_named_with_its_fields() {
    use provision_core::workspace::{WorkspaceCluster as _, WorkspacePhase};
    let cluster = TestCluster::fake::<Workspace>(FakeApiServer::builder()).await;
    let workspaces = provision_k8s::workspace::cluster::KubeWorkspaces::new(cluster.client(), cluster.namespace());
    let asked = alices_workspace();
    let created = workspaces.create(&asked).await.unwrap();
    assert_eq!(created.status.phase, WorkspacePhase::Pending);
    assert!(created.status.created_at.is_some(), "the API server's creation time");
    let mut expected = asked.clone();
    expected.status.created_at = created.status.created_at;
    assert_eq!(created, expected, "the typed request survives the custom resource");
    assert_eq!(workspaces.get(&asked.name).await.unwrap(), Some(expected));

    // Someone edits the object on the cluster into what the API would have refused.
    let api = cluster.api::<Workspace>();
    let broken = serde_json::json!({"spec": {"cpu": "lots", "memory": "2Gi", "sshPublicKey": "ssh-rsa AAAA"}});
    api.patch(asked.name.as_str(), &PatchParams::default(), &Patch::Merge(&broken)).await.unwrap();
    let error = workspaces.list(None).await.unwrap_err().to_string();
    let name = asked.name.as_str();
    for field in [format!("workspaces/{name}.spec.cpu"), format!("workspaces/{name}.spec.sshPublicKey")] {
        assert!(error.contains(&field), "{field} missing from {error}");
    }
    assert!(!error.contains(&format!("workspaces/{name}.spec.memory")), "{error}");
}

#[tokio::test]
async fn the_api_role_grants_exactly_what_the_api_does() {
    use provision_core::EmailAddress;
    use provision_core::workspace::WorkspaceCluster as _;
    let cluster = TestCluster::fake::<Workspace>(FakeApiServer::builder()).await;
    let server = cluster.fake_server().unwrap();
    server.clear_requests();
    // Every call the API makes on the cluster: ask, list everyone's and one owner's, show,
    // delete, and delete what is gone already.
    let workspaces = provision_k8s::workspace::cluster::KubeWorkspaces::new(cluster.client(), cluster.namespace());
    let owner = EmailAddress::parse("alice@iiitm.ac.in").unwrap();
    let new = alices_workspace();
    workspaces.create(&new).await.unwrap();
    assert_eq!(workspaces.list(None).await.unwrap().len(), 1);
    assert_eq!(workspaces.list(Some(&owner)).await.unwrap().len(), 1);
    assert!(workspaces.get(&new.name).await.unwrap().is_some());
    assert!(workspaces.delete(&new.name).await.unwrap());
    assert!(!workspaces.delete(&new.name).await.unwrap());
    let used: std::collections::BTreeSet<_> = server.requests().iter().map(rbac_verb).collect();
    assert_eq!(used, role_rules("orchestrator-workspace-api"), "deploy/workspace-rbac.yaml must grant exactly these");
}

#[tokio::test]
async fn a_cluster_without_the_crd_is_told_to_install_it() {
    use provision_core::workspace::WorkspaceCluster as _;
    let server = FakeApiServer::builder().start().await;
    let client = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let workspaces = provision_k8s::workspace::cluster::KubeWorkspaces::new(client, "default");
    let error = workspaces.list(None).await.unwrap_err();
    assert!(error.to_string().contains("does not serve Workspaces (orchestrator.dev/v1alpha1)"), "{error}");
    assert!(error.to_string().contains("orchestrator crd | kubectl apply -f -"), "{error}");
}
