//! The `orchestrator-api` binary as a process: killed mid-run and restarted, serving
//! workspaces on a cluster, and holding out against hostile connections.

mod cluster;
mod limits;
pub mod process;
mod restart;
