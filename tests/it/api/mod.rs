//! The `orchestrator-api` binary as a process: who may call it, killed mid-run and restarted,
//! two of them on one data directory under a burst of creates, and serving workspaces on a
//! cluster.

mod auth;
mod cluster;
mod contention;
mod names;
pub mod process;
mod restart;
