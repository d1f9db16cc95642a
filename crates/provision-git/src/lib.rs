//! Git hosts for generated repositories: [`LocalGitHost`] keeps bare repositories on disk,
//! written with gix (no `git` binary, no libgit2), cloneable with plain `git`; and
//! [`create_working_copy`] for a project people work in directly (a monorepo).
//!
//! Invariants, each checked by the integration tests in `tests/it` with the real `git` CLI:
//! - a repository appears fully initialised or not at all (built aside, renamed into place);
//! - `git fsck --strict` finds nothing wrong with what is written;
//! - a branch moves only by compare-and-swap against the tip the caller last saw;
//! - merges are git's: what `git merge` would make of the same trees, conflict markers included.

mod error;
mod local;
mod merge;
mod objects;
mod pack;
mod repo;
mod working_copy;

pub use error::Error;
pub use local::{LocalGitHost, Signature};
pub use working_copy::{WorkingCopyError, create_working_copy};
