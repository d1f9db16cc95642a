//! The `orchestrator-api` binary as a process: who may call it, killed mid-run and restarted,
//! two of them on one data directory under a burst of creates, serving workspaces on a cluster,
//! and holding out against hostile connections.

mod auth;
mod cluster;
mod contention;
mod limits;
mod names;
pub mod process;
mod restart;
