//! The `orchestrator-api` binary as a process: killed mid-run and restarted, and serving
//! workspaces on a cluster.

mod cluster;
mod names;
pub mod process;
mod restart;
