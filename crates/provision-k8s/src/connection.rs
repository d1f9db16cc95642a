//! The connection to a cluster: `KUBECONFIG` (or the in-cluster service account), or an API
//! server's URL. What is done with it goes through this crate's own types, so no kube type
//! reaches the layers above.

use crate::workspace::Settings;
use crate::workspace::cluster::KubeWorkspaces;
use crate::workspace::controller::{self, Announcer, Context, Metrics};
use std::future::Future;
use std::sync::Arc;

/// The cluster could not be reached or configured.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach Kubernetes: {0}")]
pub struct ConnectError(String);

/// A client of one cluster.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
}

impl Cluster {
    /// The cluster at `url` (tests, or a proxy such as `kubectl proxy`), else the one
    /// `KUBECONFIG` or the in-cluster account names.
    pub async fn connect(url: Option<&str>) -> Result<Cluster, ConnectError> {
        let client = match url {
            Some(url) => {
                let uri = url.parse().map_err(|e| ConnectError(format!("{url:?} is not a URL: {e}")))?;
                kube::Client::try_from(kube::Config::new(uri)).map_err(|e| ConnectError(e.to_string()))?
            }
            None => kube::Client::try_default().await.map_err(|e| ConnectError(e.to_string()))?,
        };
        Ok(Cluster { client })
    }

    /// The workspaces of `namespace`.
    pub fn workspaces(&self, namespace: &str) -> KubeWorkspaces {
        KubeWorkspaces::new(self.client.clone(), namespace)
    }

    /// Runs the workspace controller over `namespace` until `shutdown` completes.
    pub async fn run_controller(
        &self,
        namespace: &str,
        settings: Settings,
        announcer: Arc<dyn Announcer>,
        metrics: Arc<Metrics>,
        shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ) {
        let ctx = Arc::new(Context::new(self.client.clone(), settings, announcer, metrics));
        controller::run(ctx, namespace, shutdown).await;
    }
}

impl From<kube::Client> for Cluster {
    fn from(client: kube::Client) -> Self {
        Cluster { client }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_for_an_https_server_starts_with_one_crypto_provider() {
        // Builds the TLS configuration (it panics when no provider is chosen).
        Cluster::connect(Some("https://127.0.0.1:6443")).await.unwrap();
        Cluster::connect(Some("http://127.0.0.1:8001")).await.unwrap();
        let error = Cluster::connect(Some("not a url")).await.err().unwrap();
        assert!(error.to_string().contains("\"not a url\" is not a URL"), "{error}");
    }
}
