//! The Kubernetes side of workspaces for the binaries: the client (`KUBECONFIG` or the
//! in-cluster service account), the workspace store on it, and the controller and e-mail
//! dispatcher run until shutdown.

use crate::mail::{self, MailAnnouncer};
use crate::{App, Error};
use provision_k8s::workspace::Settings;
use provision_k8s::workspace::cluster::KubeWorkspaces;
use provision_k8s::workspace::controller::{self, Context};
use provision_notify::Dispatcher;
use std::future::Future;
use std::sync::Arc;

/// A client for the cluster `KUBECONFIG` (or the in-cluster account) names.
pub async fn client() -> Result<kube::Client, Error> {
    kube::Client::try_default().await.map_err(|e| Error::Kube(e.to_string()))
}

/// A client for the API server at `url` (tests, or a proxy such as `kubectl proxy`).
pub fn client_for(url: &str) -> Result<kube::Client, Error> {
    let config = kube::Config::new(url.parse().map_err(|e| Error::Kube(format!("{url:?} is not a URL: {e}")))?);
    kube::Client::try_from(config).map_err(|e| Error::Kube(e.to_string()))
}

impl App {
    /// Workspaces live in `client`'s cluster, in `workspaces.namespace`.
    pub fn on_cluster(self, client: kube::Client) -> App {
        let namespace = self.config.workspaces.namespace.clone();
        self.with_workspaces(Arc::new(KubeWorkspaces::new(client, &namespace)))
    }

    /// This app with workspaces on `client`'s cluster (for a shared app the caller cannot move).
    pub fn clone_on_cluster(&self, client: kube::Client) -> App {
        let namespace = self.config.workspaces.namespace.clone();
        let mut app = self.shallow_clone();
        app.workspaces = Some(Arc::new(KubeWorkspaces::new(client, &namespace)));
        app
    }

    /// The e-mail dispatcher over the app's outbox and the configured notifier.
    pub fn dispatcher(&self) -> Result<Arc<Dispatcher>, Error> {
        let outbox = self.outbox.clone().ok_or(Error::NoOutbox)?;
        let notifier = Arc::new(crate::metrics::CountingNotifier {
            inner: mail::notifier(&self.config).map_err(Error::Mail)?,
            metrics: self.metrics.clone(),
        });
        Ok(Arc::new(Dispatcher::new(outbox, notifier)))
    }

    /// Runs the workspace controller on `client` and delivers its e-mails until `shutdown`.
    pub async fn run_controller(
        &self,
        client: kube::Client,
        shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let w = &self.config.workspaces;
        let dispatcher = self.dispatcher()?;
        let announcer = MailAnnouncer {
            dispatcher: dispatcher.clone(),
            outbox: self.outbox.clone().ok_or(Error::NoOutbox)?,
            templates: mail::templates(&self.config).map_err(Error::Mail)?,
        };
        let settings = Settings {
            access_host: w.access_host.clone(),
            storage_class: w.storage_class.clone(),
            ssh_port: w.ssh_port,
            home_path: w.home_path.clone(),
        };
        let ctx = Arc::new(Context::new(client, settings, Arc::new(announcer), self.metrics.controller.clone()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut stop_dispatcher = stop_rx.clone();
        let delivering = tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = stop_dispatcher.wait_for(|stop| *stop).await;
                })
                .await;
        });
        controller::run(ctx, &w.namespace, shutdown).await;
        let _ = stop_tx.send(true);
        delivering.await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_client_for_an_https_server_starts_with_one_crypto_provider() {
        // Builds the TLS configuration (it panics when no provider is chosen).
        super::client_for("https://127.0.0.1:6443").unwrap();
        super::client_for("http://127.0.0.1:8001").unwrap();
        assert!(super::client_for("not a url").is_err());
    }
}
