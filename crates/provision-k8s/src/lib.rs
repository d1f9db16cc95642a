//! The Kubernetes side of the orchestrator, through the kube client: the connection to a
//! cluster ([`Cluster`]), the `Workspace` custom resource (a developer's box), the
//! [`workspace::cluster::KubeWorkspaces`] adapter of the `WorkspaceCluster` port, and the
//! controller that makes workspaces real.
//!
//! GitOps objects (Argo CD, Flux) are not here: they are files, written by the pure
//! `provision-gitops`; sealed secrets are `provision-sealed`'s.

pub mod connection;
pub mod workspace;

pub use connection::{Cluster, ConnectError};
