//! The provisioning domain: names parsed into types, file sets, plans of idempotent steps,
//! the ports adapters implement, and the engine that runs a plan against them.
//!
//! This crate does no I/O. Time, randomness, git, storage and sleeping all arrive through
//! the ports in [`ports`], so the engine can be driven by in-memory fakes
//! (feature `testing`) or by the real adapters.

pub mod email;
pub mod engine;
pub mod error;
pub mod fileset;
pub mod names;
pub mod plan;
pub mod ports;
pub mod problem;
pub mod quantity;
pub mod role;
pub mod ssh;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tier;
pub mod workspace;

pub use email::{DomainAllowlist, EmailAddress};
pub use fileset::{FileEntry, FileSet, RepoPath};
pub use names::{BlueprintName, BranchName, EnvName, OwnerName, ProjectName, RepoName, ServiceName};
pub use plan::{Effect, Plan, RunId, Step, TreeMode};
pub use problem::{Invalid, Problem};
pub use quantity::{Amount, Bytes, Cpu, ResourceBounds};
pub use role::Role;
pub use ssh::{SshKeyKind, SshPublicKey};
pub use tier::Tier;
