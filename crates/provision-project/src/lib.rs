//! The monorepo's model, pure (no I/O): the project file `orchestrator.toml` ([`project`]),
//! the project's name as a type ([`name`]) and the services a user works on ([`context`]).
//!
//! Invariants, each checked by the unit tests of its module:
//! - a project file is read whole or refused, and a refusal names the file, the line and the
//!   rule of every problem found (unknown keys and wrong types stop the reading; names, paths
//!   and duplicates are all reported together);
//! - no service path leaves the project (it is a [`provision_core::RepoPath`]);
//! - writing a project file and reading it back gives the same project, byte for byte the same
//!   text every time.

pub mod context;
pub mod name;
pub mod project;

pub use context::{Context, ContextError};
pub use name::ProjectName;
pub use project::{FileProblem, Plugin, Project, ProjectError, Service};
