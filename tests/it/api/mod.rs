//! The `orchestrator-api` binary as a process: who may call it, killed mid-run and restarted,
//! and serving workspaces on a cluster.

mod auth;
mod cluster;
mod names;
pub mod process;
mod restart;
