//! [`TestCluster`], where a Kubernetes test runs: a real cluster when `KUBECONFIG` is set,
//! kube-fake otherwise; and [`alices_devbox`], the workspace tests ask for.

use kube::core::ApiResource;

/// A namespaced custom resource type whose CRD a [`TestCluster`] installs.
pub trait CustomResource:
    kube::CustomResourceExt + kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
{
}

impl<K> CustomResource for K where
    K: kube::CustomResourceExt + kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
{
}

/// Alice's `devbox` named `name`, as the API would ask for it, as a `K` (the `Workspace` custom
/// resource): read from the JSON an API server would hold.
pub fn alices_devbox<K: serde::de::DeserializeOwned>(name: &str) -> K {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "orchestrator.dev/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {
            "owner": "alice@iiitm.ac.in",
            "displayName": "devbox",
            "user": "alice",
            "cpu": "1",
            "memory": "2Gi",
            "storage": "10Gi",
            "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z",
            "image": "lscr.io/linuxserver/openssh-server:latest",
        },
    }))
    .expect("Alice's devbox is a Workspace")
}

/// Where a Kubernetes test runs, with a namespace of its own.
///
/// [`TestCluster::start`] picks the cluster `KUBECONFIG` names when that variable is set, and
/// a fresh kube-fake (Deployments simulated as available) otherwise; tests written against it
/// run unchanged on both. Either way the setup goes through the API as an installer would:
/// the `Workspace` CRD is created when missing (an installed one is never changed) and waited
/// for until established, then a namespace `orchestrator-test-<random>` labelled
/// `orchestrator.dev/test=true` is created. Dropping the value deletes that namespace, which
/// takes everything in it along.
///
/// Tests of what only the fake can do (injected faults, Deployments held back, the request
/// log) use [`TestCluster::fake`], which never looks at `KUBECONFIG`.
pub struct TestCluster {
    client: kube::Client,
    namespace: String,
    fake: Option<kube_fake::FakeApiServer>,
    /// The custom resource installed, whose objects lose their finalizers at the end.
    custom: ApiResource,
}

/// The label on every namespace a [`TestCluster`] creates.
pub const TEST_NAMESPACE_LABEL: &str = "orchestrator.dev/test";

impl TestCluster {
    /// The cluster `KUBECONFIG` names, or else kube-fake with Deployments that become available;
    /// with `K`'s CRD installed.
    pub async fn start<K: CustomResource>() -> Self {
        if std::env::var_os("KUBECONFIG").is_some() {
            let client = kube::Client::try_default().await.expect("KUBECONFIG names a cluster this test can reach");
            return Self::prepare::<K>(client, None).await;
        }
        Self::fake::<K>(kube_fake::FakeApiServer::builder().simulate_deployments(true)).await
    }

    /// kube-fake as `builder` configures it, whatever `KUBECONFIG` says; with `K`'s CRD installed.
    pub async fn fake<K: CustomResource>(builder: kube_fake::Builder) -> Self {
        let server = builder.start().await;
        let client = kube::Client::try_from(kube::Config::new(server.url().parse().expect("kube-fake's URL parses")))
            .expect("a client for kube-fake");
        Self::prepare::<K>(client, Some(server)).await
    }

    async fn prepare<K: CustomResource>(client: kube::Client, fake: Option<kube_fake::FakeApiServer>) -> Self {
        use k8s_openapi::api::core::v1::Namespace;
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        use kube::api::{Api, PostParams};
        use kube::runtime::wait::{await_condition, conditions};

        let crd = K::crd();
        let name = crd.metadata.name.clone().expect("the generated CRD is named");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let exists = crds.get_opt(&name).await.expect("the cluster lists CRDs").is_some();
        if !exists {
            match crds.create(&PostParams::default(), &crd).await {
                Ok(_) => {}
                // Another test process created it meanwhile.
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => panic!("cannot create the CRD {name}: {e}"),
            }
        }
        let patience = patience(fake.is_some());
        tokio::time::timeout(patience, await_condition(crds, &name, conditions::is_crd_established()))
            .await
            .expect("the CRD is established in time")
            .expect("the cluster reports the CRD's conditions");

        let namespace = format!("orchestrator-test-{:08x}", random_u32());
        let object: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": namespace, "labels": {TEST_NAMESPACE_LABEL: "true"}},
        }))
        .expect("a namespace deserializes");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &object)
            .await
            .expect("the test can create its namespace");
        TestCluster { client, namespace, fake, custom: K::api_resource() }
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The test's own namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The fake, when this is one.
    pub fn fake_server(&self) -> Option<&kube_fake::FakeApiServer> {
        self.fake.as_ref()
    }

    /// `Api<K>` in the test's namespace.
    pub fn api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        kube::Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// How long to wait for the cluster to get somewhere: 20 s on the fake; on a real cluster,
    /// which pulls images and provisions volumes, `ORCHESTRATOR_TEST_PATIENCE_SECS` or 300 s.
    pub fn patience(&self) -> std::time::Duration {
        patience(self.fake.is_some())
    }

    /// The storage class workspaces ask for: `fast` on the fake; on a real cluster
    /// `ORCHESTRATOR_TEST_STORAGE_CLASS`, or none (the cluster's default class).
    pub fn storage_class(&self) -> Option<String> {
        match &self.fake {
            Some(_) => Some("fast".to_owned()),
            None => std::env::var("ORCHESTRATOR_TEST_STORAGE_CLASS").ok().filter(|c| !c.is_empty()),
        }
    }

    /// The arguments that point an `orchestrator` process at this cluster: `--kube-url` for the
    /// fake; nothing for a real one, which the process finds through the `KUBECONFIG` it
    /// inherits.
    pub fn kube_args(&self) -> Vec<String> {
        match &self.fake {
            Some(server) => vec!["--kube-url".to_owned(), server.url()],
            None => Vec::new(),
        }
    }

    /// Polls `check` until it gives a value; panics with `what` after [`Self::patience`].
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.patience();
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(std::time::Duration::from_millis(if self.fake.is_some() { 20 } else { 500 })).await;
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if self.fake.is_some() {
            return;
        }
        // Drop runs on the test's runtime, which cannot wait for itself: a thread with a
        // runtime and a client of its own tears the namespace down.
        let namespace = self.namespace.clone();
        let custom = self.custom.clone();
        let torn_down = std::thread::spawn(move || -> Result<(), String> {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = kube::Client::try_default().await.map_err(|e| e.to_string())?;
                tear_down(client, &namespace, &custom).await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = torn_down {
            eprintln!("could not delete the test namespace {}: {e}", self.namespace);
        }
    }
}

/// Deletes a test namespace. The custom objects in it lose their finalizer first: the
/// controller that would remove it has stopped with the test, and the namespace would stay
/// terminating.
async fn tear_down(client: kube::Client, namespace: &str, custom: &ApiResource) -> Result<(), kube::Error> {
    use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
    let workspaces: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, custom);
    for ws in workspaces.list(&ListParams::default()).await? {
        if ws.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
            let name = ws.metadata.name.unwrap_or_default();
            let release = serde_json::json!({"metadata": {"finalizers": null}});
            workspaces.patch(&name, &PatchParams::default(), &Patch::Merge(&release)).await?;
        }
    }
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client).delete(namespace, &DeleteParams::background()).await?;
    Ok(())
}

fn patience(fake: bool) -> std::time::Duration {
    let secs = if fake {
        20
    } else {
        std::env::var("ORCHESTRATOR_TEST_PATIENCE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(300)
    };
    std::time::Duration::from_secs(secs)
}

/// Enough randomness that parallel test processes never pick the same namespace.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(elapsed) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(elapsed.as_nanos());
    }
    hasher.finish() as u32
}
