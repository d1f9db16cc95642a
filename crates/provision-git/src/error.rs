//! What can go wrong in this crate, and how each failure maps onto a [`PortErrorKind`].

use provision_core::ports::{PortError, PortErrorKind};
use provision_core::{BranchName, RepoName};
use std::path::PathBuf;

/// A failed operation on a local repository. Every variant names the repository (and the
/// branch or path where there is one); the underlying cause is its `source`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("repository {repo} does not exist")]
    RepoNotFound { repo: RepoName },

    #[error("repository {repo} exists already")]
    RepoExists { repo: RepoName },

    #[error("could not create repository {repo} at {}", path.display())]
    CreateRepo {
        repo: RepoName,
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("could not delete repository {repo} at {}", path.display())]
    DeleteRepo {
        repo: RepoName,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not open repository {repo} at {}", path.display())]
    Open {
        repo: RepoName,
        path: PathBuf,
        #[source]
        source: gix::Error,
    },

    /// A git operation failed for a reason retrying will not fix (corrupt or unreadable data).
    #[error("{action} in repository {repo} failed")]
    Git {
        repo: RepoName,
        /// What was being done: "reading branch main", "writing file a/b".
        action: String,
        #[source]
        source: gix::Error,
    },

    #[error("branch {branch} of {repo} moved: expected {expected}, found {actual}")]
    BranchMoved { repo: RepoName, branch: BranchName, expected: String, actual: String },

    #[error("cannot take the writers' lock of {repo} at {path}")]
    WritersLock {
        repo: RepoName,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("branch {branch} of {repo} is locked by another writer")]
    BranchLocked {
        repo: RepoName,
        branch: BranchName,
        #[source]
        source: gix::Error,
    },

    #[error("branch {branch} exists in {repo}")]
    BranchExists { repo: RepoName, branch: BranchName },

    #[error("repository {repo} has no branch {branch}")]
    BranchNotFound { repo: RepoName, branch: BranchName },

    #[error("branches {into} and {from} of {repo} share no history, so there is no base to merge from")]
    UnrelatedBranches { repo: RepoName, into: BranchName, from: BranchName },

    #[error("commit {commit} does not exist in {repo}")]
    CommitNotFound { repo: RepoName, commit: String },

    #[error("{id:?} is not a commit id (40 hex digits)")]
    InvalidCommitId { id: String },

    #[error("{path} would be both a file and a directory on branch {branch} of {repo}")]
    FileAndDirectory { repo: RepoName, branch: BranchName, path: String },

    /// Something in the repository that a [`provision_core::FileSet`] or a [`BranchName`]
    /// cannot hold: a symlink, a submodule, a path that is not UTF-8.
    #[error("{what} in {repo} cannot be represented: {why}")]
    Unrepresentable { repo: RepoName, what: String, why: &'static str },

    #[error("the blocking task working on {repo} did not finish")]
    Task {
        repo: RepoName,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl Error {
    /// What the engine should make of this failure.
    pub fn kind(&self) -> PortErrorKind {
        match self {
            Error::RepoNotFound { .. } | Error::CommitNotFound { .. } | Error::BranchNotFound { .. } => {
                PortErrorKind::NotFound
            }
            Error::RepoExists { .. } | Error::BranchExists { .. } => PortErrorKind::AlreadyExists,
            Error::BranchMoved { .. } => PortErrorKind::Conflict,
            Error::BranchLocked { .. } => PortErrorKind::Transient,
            Error::CreateRepo { .. }
            | Error::DeleteRepo { .. }
            | Error::WritersLock { .. }
            | Error::Open { .. }
            | Error::Git { .. }
            | Error::InvalidCommitId { .. }
            | Error::FileAndDirectory { .. }
            | Error::Unrepresentable { .. }
            | Error::UnrelatedBranches { .. }
            | Error::Task { .. } => PortErrorKind::Permanent,
        }
    }

    fn into_source(self) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        match self {
            Error::CreateRepo { source, .. } => Some(source),
            Error::Open { source, .. } | Error::Git { source, .. } | Error::BranchLocked { source, .. } => {
                Some(Box::new(source))
            }
            Error::Task { source, .. } => Some(Box::new(source)),
            Error::WritersLock { source, .. } | Error::DeleteRepo { source, .. } => Some(Box::new(source)),
            Error::RepoNotFound { .. }
            | Error::RepoExists { .. }
            | Error::BranchMoved { .. }
            | Error::BranchExists { .. }
            | Error::BranchNotFound { .. }
            | Error::UnrelatedBranches { .. }
            | Error::CommitNotFound { .. }
            | Error::InvalidCommitId { .. }
            | Error::FileAndDirectory { .. }
            | Error::Unrepresentable { .. } => None,
        }
    }
}

impl From<Error> for PortError {
    fn from(error: Error) -> Self {
        // The message is this error's own; its cause stays the source, so the engine's
        // error chain shows each once.
        let kind = error.kind();
        let message = error.to_string();
        PortError { kind, message, source: error.into_source() }
    }
}
