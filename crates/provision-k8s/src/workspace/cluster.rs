//! [`WorkspaceCluster`] on Kubernetes: `Workspace` objects in one namespace through the kube
//! client. Only the objects are written here; the controller makes what they describe.

use super::{GROUP, OWNER_LABEL, Phase, VERSION, Workspace, WorkspaceSpec, WorkspaceStatus};
use async_trait::async_trait;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use provision_core::ports::{PortError, PortErrorKind};
use provision_core::problem::Collector;
use provision_core::workspace::{
    self as domain, ShortName, WorkspaceCluster, WorkspaceName, WorkspacePhase, owner_label,
};
use provision_core::{Bytes, Cpu, EmailAddress, Invalid, SshPublicKey};
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

/// The object for `w` (its status is the controller's to write).
pub fn object(w: &domain::Workspace) -> Workspace {
    let owner = w.owner.normalized();
    let mut ws = Workspace::new(
        w.name.as_str(),
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

/// The workspace `ws` describes, with `status` instead of its own when given (the controller's
/// next one). Every spec field is parsed again: an object edited on the cluster into something
/// the API would have refused is reported, field by field, never half read.
pub fn domain(ws: &Workspace, status: Option<&WorkspaceStatus>) -> Result<domain::Workspace, Invalid> {
    let mut c = Collector::new();
    let name = c.take("metadata.name", WorkspaceName::parse(&ws.name_any()));
    let spec = &ws.spec;
    let short = c.take("spec.displayName", ShortName::parse(&spec.display_name));
    let owner = c.take("spec.owner", EmailAddress::parse(&spec.owner));
    let cpu = c.take("spec.cpu", Cpu::parse(&spec.cpu));
    let memory = c.take("spec.memory", Bytes::parse(&spec.memory));
    let storage = c.take("spec.storage", Bytes::parse(&spec.storage));
    let key = c.take("spec.sshPublicKey", SshPublicKey::parse(&spec.ssh_public_key));
    c.finish().map_err(|invalid| invalid.within(&format!("workspaces/{}", ws.name_any())))?;
    let status = status.or(ws.status.as_ref()).cloned().unwrap_or_default();
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
    let checked = "every field was checked by the collector";
    Ok(domain::Workspace {
        name: name.expect(checked),
        short: short.expect(checked),
        owner: owner.expect(checked),
        user: spec.user.clone(),
        cpu: cpu.expect(checked),
        memory: memory.expect(checked),
        storage: storage.expect(checked),
        key: key.expect(checked),
        image: spec.image.clone(),
        status: domain::WorkspaceStatus {
            phase,
            node_port: status.node_port.and_then(|p| u16::try_from(p).ok()),
            access_host: status.access_host,
            access_command: status.access_command,
            message: status.message,
            created_at: ws.metadata.creation_timestamp.as_ref().map(|t| t.0),
        },
    })
}

/// An object the API would have refused, as a port error naming it and its fields.
fn unreadable(invalid: Invalid) -> PortError {
    PortError::permanent(format!("{invalid}; fix or delete it with kubectl"))
}

#[async_trait]
impl WorkspaceCluster for KubeWorkspaces {
    async fn create(&self, workspace: &domain::Workspace) -> Result<domain::Workspace, PortError> {
        let created = self
            .api
            .create(&PostParams::default(), &object(workspace))
            .await
            .map_err(|e| port_error(&format!("create workspace {} in {}", workspace.name, self.namespace), e))?;
        domain(&created, None).map_err(unreadable)
    }

    async fn list(&self, owner: Option<&EmailAddress>) -> Result<Vec<domain::Workspace>, PortError> {
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
        let mut all = list
            .items
            .iter()
            .filter(|ws| owner.is_none_or(|o| ws.spec.owner == o.normalized()))
            .map(|ws| domain(ws, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable)?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn get(&self, name: &WorkspaceName) -> Result<Option<domain::Workspace>, PortError> {
        let found =
            self.api.get_opt(name.as_str()).await.map_err(|e| port_error(&format!("read workspace {name}"), e))?;
        found.as_ref().map(|ws| domain(ws, None)).transpose().map_err(unreadable)
    }

    async fn delete(&self, name: &WorkspaceName) -> Result<bool, PortError> {
        match self.api.delete(name.as_str(), &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(port_error(&format!("delete workspace {name}"), e)),
        }
    }
}
