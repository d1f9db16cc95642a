//! The `orchestrator-api` binary as a process: who may call it, killed mid-run and restarted,
//! two of them on one data directory under a burst of creates, serving workspaces on a cluster,
//! holding out against hostile connections, and serving the chart repository to Helm.

mod auth;
mod charts;
mod cluster;
mod contention;
mod limits;
mod names;
pub mod process;
mod restart;
