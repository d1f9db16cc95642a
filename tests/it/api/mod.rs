//! The `orchestrator-api` binary as a process: killed mid-run and restarted, two of them on
//! one data directory under a burst of creates, and serving workspaces on a cluster.

mod cluster;
mod contention;
pub mod process;
mod restart;
