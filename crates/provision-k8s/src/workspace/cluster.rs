//! [`WorkspaceCluster`] on Kubernetes: `Workspace` objects in one namespace through the kube
//! client. Only the objects are written here; the controller makes what they describe.

use super::{GROUP, OWNER_LABEL, Phase, VERSION, Workspace, WorkspaceSpec};
use async_trait::async_trait;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use provision_core::EmailAddress;
use provision_core::ports::{PortError, PortErrorKind};
use provision_core::workspace::{NewWorkspace, WorkspaceCluster, WorkspacePhase, WorkspaceView, owner_label};
use std::collections::BTreeMap;

/// The workspaces of one namespace of a cluster.
#[derive(Clone)]
pub struct KubeWorkspaces {
    api: Api<Workspace>,
    namespace: String,
}

impl KubeWorkspaces {
    pub fn new(client: Client, namespace: &str) -> Self {
        KubeWorkspaces { api: Api::namespaced(client, namespace), namespace: namespace.to_owned() }
    }
}

/// A kube error as a port error, naming what was being done and never more than the API said.
fn port_error(doing: &str, e: kube::Error) -> PortError {
    if let kube::Error::Api(status) = &e
        && type_not_served(status)
    {
        let message = format!(
            "cannot {doing}: the cluster does not serve Workspaces ({GROUP}/{VERSION}); install the CRD: `orchestrator crd | kubectl apply -f -`"
        );
        return PortError::new(PortErrorKind::Permanent, message).with_source(e);
    }
    let kind = match &e {
        kube::Error::Api(status) => match status.code {
            404 => PortErrorKind::NotFound,
            409 if status.reason == "AlreadyExists" => PortErrorKind::AlreadyExists,
            409 => PortErrorKind::Conflict,
            429 | 500..=599 => PortErrorKind::Transient,
            _ => PortErrorKind::Permanent,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => PortErrorKind::Transient,
        _ => PortErrorKind::Permanent,
    };
    let message = match &e {
        kube::Error::Api(status) => {
            format!("cannot {doing}: the Kubernetes API answered {} ({})", status.code, status.message)
        }
        other => format!("cannot {doing}: {other}"),
    };
    PortError::new(kind, message).with_source(e)
}

/// Whether a 404 says the resource type is unknown (a missing object names itself in the
/// details; an unknown path does not).
fn type_not_served(status: &kube::core::Status) -> bool {
    status.code == 404 && status.details.as_ref().is_none_or(|d| d.name.is_empty() && d.kind.is_empty())
}

/// The object for `w`.
pub fn object(w: &NewWorkspace) -> Workspace {
    let owner = w.owner.normalized();
    let mut ws = Workspace::new(
        &w.name,
        WorkspaceSpec {
            owner: owner.clone(),
            display_name: w.short.to_string(),
            user: w.user.clone(),
            cpu: w.cpu.to_string(),
            memory: w.memory.to_string(),
            storage: w.storage.to_string(),
            ssh_public_key: w.key.authorized_keys_line(),
            image: w.image.clone(),
        },
    );
    ws.metadata.labels = Some(BTreeMap::from([
        (OWNER_LABEL.to_owned(), owner_label(&owner)),
        ("app.kubernetes.io/managed-by".to_owned(), "orchestrator".to_owned()),
    ]));
    ws
}

/// What a user sees of `ws`.
pub fn view(ws: &Workspace) -> WorkspaceView {
    let status = ws.status.clone().unwrap_or_default();
    let phase = if ws.metadata.deletion_timestamp.is_some() {
        WorkspacePhase::Deleting
    } else {
        match status.phase {
            None | Some(Phase::Pending) => WorkspacePhase::Pending,
            Some(Phase::Provisioning) => WorkspacePhase::Provisioning,
            Some(Phase::Ready) => WorkspacePhase::Ready,
            Some(Phase::Failed) => WorkspacePhase::Failed,
        }
    };
    WorkspaceView {
        name: ws.name_any(),
        short: ws.spec.display_name.clone(),
        owner: ws.spec.owner.clone(),
        user: ws.spec.user.clone(),
        phase,
        cpu: ws.spec.cpu.clone(),
        memory: ws.spec.memory.clone(),
        storage: ws.spec.storage.clone(),
        image: ws.spec.image.clone(),
        node_port: status.node_port.and_then(|p| u16::try_from(p).ok()),
        access_host: status.access_host,
        access_command: status.access_command,
        message: status.message,
        created_at: ws.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()),
    }
}

#[async_trait]
impl WorkspaceCluster for KubeWorkspaces {
    async fn create(&self, workspace: &NewWorkspace) -> Result<WorkspaceView, PortError> {
        let created = self
            .api
            .create(&PostParams::default(), &object(workspace))
            .await
            .map_err(|e| port_error(&format!("create workspace {} in {}", workspace.name, self.namespace), e))?;
        Ok(view(&created))
    }

    async fn list(&self, owner: Option<&EmailAddress>) -> Result<Vec<WorkspaceView>, PortError> {
        let params = match owner {
            Some(owner) => ListParams::default().labels(&format!("{OWNER_LABEL}={}", owner_label(&owner.normalized()))),
            None => ListParams::default(),
        };
        let list = self
            .api
            .list(&params)
            .await
            .map_err(|e| port_error(&format!("list workspaces in {}", self.namespace), e))?;
        // The label is a hash: the spec's owner decides.
        let mut views: Vec<WorkspaceView> =
            list.items.iter().filter(|ws| owner.is_none_or(|o| ws.spec.owner == o.normalized())).map(view).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(views)
    }

    async fn get(&self, name: &str) -> Result<Option<WorkspaceView>, PortError> {
        let found = self.api.get_opt(name).await.map_err(|e| port_error(&format!("read workspace {name}"), e))?;
        Ok(found.as_ref().map(view))
    }

    async fn delete(&self, name: &str) -> Result<bool, PortError> {
        match self.api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(port_error(&format!("delete workspace {name}"), e)),
        }
    }
}
