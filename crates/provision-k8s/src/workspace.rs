//! The `Workspace` custom resource (a developer's box on the cluster) and what it becomes: its
//! names, the PersistentVolumeClaim, Deployment and NodePort Service that run it, and its phase.
//!
//! Everything here is pure: the controller (module `controller`) reads and writes the cluster,
//! and decides with these functions. A workspace's objects share its name, live in its
//! namespace, and are owned by it (owner references), so deleting it removes them all.

pub mod cluster;
pub mod controller;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Service, ServicePort,
    ServiceSpec, TCPSocketAction, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use provision_core::workspace::owner_label;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const GROUP: &str = "orchestrator.dev";
pub const VERSION: &str = "v1alpha1";
/// The field manager of everything the controller applies.
pub const FIELD_MANAGER: &str = "orchestrator-workspace-controller";
/// Label on a workspace and its objects: a hash of the owner's address (addresses are not
/// label values), for listing one owner's workspaces with a label selector.
pub const OWNER_LABEL: &str = "orchestrator.dev/owner";
/// Label on a workspace's objects naming it.
pub const WORKSPACE_LABEL: &str = "orchestrator.dev/workspace";

/// A developer's box: what the owner asked for. Validated by the API before it is created.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "orchestrator.dev",
    version = "v1alpha1",
    kind = "Workspace",
    namespaced,
    status = "WorkspaceStatus",
    shortname = "ws",
    printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".spec.owner"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Port","type":"integer","jsonPath":".status.nodePort"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSpec {
    /// The owner's e-mail address, lowercased.
    pub owner: String,
    /// The name the owner gave it (the resource's name adds the owner and a hash).
    pub display_name: String,
    /// The login on the box.
    pub user: String,
    /// CPU, as a Kubernetes quantity (`500m`, `2`): requested and the limit.
    pub cpu: String,
    /// Memory (`4Gi`): requested and the limit.
    pub memory: String,
    /// The home volume's size (`20Gi`).
    pub storage: String,
    /// The only key that may log in: `<type> <base64>`, nothing else.
    pub ssh_public_key: String,
    /// The container image: an SSH server that takes the key from `PUBLIC_KEY` and the user
    /// from `USER_NAME` (the linuxserver.io openssh-server convention).
    pub image: String,
}

/// Where a workspace stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Created; the controller has not acted on it yet.
    Pending,
    /// Its objects exist; it is not reachable yet.
    Provisioning,
    /// An available replica and an allocated node port: it can be reached.
    Ready,
    /// It cannot run as asked (the reason is in `message` and the conditions).
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Provisioning => "Provisioning",
            Phase::Ready => "Ready",
            Phase::Failed => "Failed",
        }
    }
}

/// What the controller observed, in the status subresource.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The Service's node port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,
    /// The host to connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_host: Option<String>,
    /// `ssh -p <port> <user>@<host>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_command: Option<String>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When the owner's access e-mail was queued: set once, so it is never sent twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<String>,
    /// Why it failed, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The `Workspace` CustomResourceDefinition as YAML, generated from [`WorkspaceSpec`] and
/// [`WorkspaceStatus`] (`orchestrator crd`, and `deploy/workspace-crd.yaml` through `cargo
/// xtask codegen`).
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    let body = serde_saphyr::to_string_with_options(&Workspace::crd(), options).expect("a CRD serializes");
    format!("# Generated from the Workspace type (provision-k8s); do not edit: `cargo xtask codegen`.\n{body}")
}

/// How the controller runs workspaces: one configuration for all.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The host users connect to (a node's address or a load balancer in front of the nodes).
    pub access_host: String,
    /// The home volume's storage class; none: the cluster's default.
    pub storage_class: Option<String>,
    /// The port the image's SSH server listens on.
    pub ssh_port: i32,
    /// Where the home volume is mounted.
    pub home_path: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { access_host: "localhost".into(), storage_class: None, ssh_port: 2222, home_path: "/config".into() }
    }
}

/// The labels of a workspace's objects and its pods' selector.
fn labels(ws: &Workspace) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "workspace".to_owned()),
        ("app.kubernetes.io/managed-by".to_owned(), "orchestrator".to_owned()),
        (WORKSPACE_LABEL.to_owned(), name_of(ws)),
        (OWNER_LABEL.to_owned(), owner_label(&ws.spec.owner)),
    ])
}

fn selector(ws: &Workspace) -> BTreeMap<String, String> {
    BTreeMap::from([(WORKSPACE_LABEL.to_owned(), name_of(ws))])
}

fn name_of(ws: &Workspace) -> String {
    ws.metadata.name.clone().unwrap_or_default()
}

/// The owner reference every object of `ws` carries: deleting `ws` deletes them.
pub fn owner_reference(ws: &Workspace) -> OwnerReference {
    OwnerReference {
        api_version: format!("{GROUP}/{VERSION}"),
        kind: "Workspace".to_owned(),
        name: name_of(ws),
        uid: ws.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn metadata(ws: &Workspace) -> ObjectMeta {
    ObjectMeta {
        name: Some(name_of(ws)),
        namespace: ws.metadata.namespace.clone(),
        labels: Some(labels(ws)),
        owner_references: Some(vec![owner_reference(ws)]),
        ..Default::default()
    }
}

/// The home volume.
pub fn claim(ws: &Workspace, settings: &Settings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: metadata(ws),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: settings.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(ws.spec.storage.clone()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One pod running the SSH server with the owner's key as the only authorized key, the home
/// volume mounted, its CPU and memory both requested and limited. `Recreate`: the volume is
/// ReadWriteOnce, so an old pod must let go before a new one mounts it.
pub fn deployment(ws: &Workspace, settings: &Settings) -> Deployment {
    let resources: BTreeMap<String, Quantity> = BTreeMap::from([
        ("cpu".to_owned(), Quantity(ws.spec.cpu.clone())),
        ("memory".to_owned(), Quantity(ws.spec.memory.clone())),
    ]);
    let env =
        |name: &str, value: &str| EnvVar { name: name.to_owned(), value: Some(value.to_owned()), ..Default::default() };
    let probe = Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::String("ssh".to_owned()), ..Default::default() }),
        period_seconds: Some(10),
        ..Default::default()
    };
    Deployment {
        metadata: metadata(ws),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(selector(ws)), ..Default::default() },
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".to_owned()), ..Default::default() }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(ws)), ..Default::default() }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    containers: vec![Container {
                        name: "ssh".to_owned(),
                        image: Some(ws.spec.image.clone()),
                        env: Some(vec![
                            env("PUBLIC_KEY", &ws.spec.ssh_public_key),
                            env("USER_NAME", &ws.spec.user),
                            env("PASSWORD_ACCESS", "false"),
                            env("SUDO_ACCESS", "false"),
                        ]),
                        ports: Some(vec![ContainerPort {
                            name: Some("ssh".to_owned()),
                            container_port: settings.ssh_port,
                            protocol: Some("TCP".to_owned()),
                            ..Default::default()
                        }]),
                        resources: Some(ResourceRequirements {
                            requests: Some(resources.clone()),
                            limits: Some(resources),
                            ..Default::default()
                        }),
                        readiness_probe: Some(probe),
                        volume_mounts: Some(vec![VolumeMount {
                            name: "home".to_owned(),
                            mount_path: settings.home_path.clone(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    volumes: Some(vec![Volume {
                        name: "home".to_owned(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: name_of(ws),
                            read_only: Some(false),
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The NodePort Service in front of the SSH port; the cluster picks the node port.
pub fn service(ws: &Workspace) -> Service {
    Service {
        metadata: metadata(ws),
        spec: Some(ServiceSpec {
            type_: Some("NodePort".to_owned()),
            selector: Some(selector(ws)),
            ports: Some(vec![ServicePort {
                name: Some("ssh".to_owned()),
                port: 22,
                target_port: Some(IntOrString::String("ssh".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the controller saw of a workspace's objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The Service's node port, once allocated.
    pub node_port: Option<i32>,
    /// The Deployment's available replicas.
    pub available_replicas: i32,
    /// Why the objects could not be applied (the cluster refused them).
    pub refused: Option<String>,
}

/// The status `ws` should have given what was observed, at `now`. Conditions keep their
/// transition time while their status stays; `notified_at` is kept (the caller sets it).
pub fn status(ws: &Workspace, observed: &Observed, settings: &Settings, now: jiff::Timestamp) -> WorkspaceStatus {
    let previous = ws.status.clone().unwrap_or_default();
    let generation = ws.metadata.generation;
    let ready = observed.refused.is_none() && observed.available_replicas > 0 && observed.node_port.is_some();
    let phase = match (&observed.refused, ready) {
        (Some(_), _) => Phase::Failed,
        (None, true) => Phase::Ready,
        (None, false) => Phase::Provisioning,
    };
    let condition = |type_: &str, ok: bool, reason: &str, message: String| {
        let status = if ok { "True" } else { "False" };
        let since = previous
            .conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map_or_else(|| Time(now), |c| c.last_transition_time.clone());
        Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: since,
        }
    };
    let port = observed.node_port;
    let conditions = vec![
        condition(
            "Ready",
            ready,
            if ready {
                "Reachable"
            } else if observed.refused.is_some() {
                "Refused"
            } else {
                "Provisioning"
            },
            match (&observed.refused, port) {
                (Some(why), _) => why.clone(),
                (None, Some(port)) if ready => format!("reachable on {}:{port}", settings.access_host),
                _ => "waiting for the pod to become available and the node port to be allocated".to_owned(),
            },
        ),
        condition(
            "Available",
            observed.available_replicas > 0,
            if observed.available_replicas > 0 { "MinimumReplicasAvailable" } else { "NoReplicaAvailable" },
            format!("{} available replica(s)", observed.available_replicas),
        ),
        condition(
            "PortAllocated",
            port.is_some(),
            if port.is_some() { "NodePortAllocated" } else { "NoNodePort" },
            port.map_or_else(|| "no node port yet".to_owned(), |p| format!("node port {p}")),
        ),
    ];
    WorkspaceStatus {
        phase: Some(phase),
        node_port: port,
        access_host: Some(settings.access_host.clone()),
        access_command: port.map(|p| format!("ssh -p {p} {}@{}", ws.spec.user, settings.access_host)),
        observed_generation: generation,
        conditions,
        notified_at: previous.notified_at,
        message: observed.refused.clone(),
    }
}

#[cfg(test)]
mod tests;
