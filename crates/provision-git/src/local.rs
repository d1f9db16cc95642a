//! [`LocalGitHost`]: the [`GitHost`] port over bare repositories under one directory.

use crate::error::Error;
use crate::merge::{self, MergeSpec};
use crate::repo::{self, CommitSpec, Location, OpenRepos};
use async_trait::async_trait;
use provision_core::ports::{
    CommitId, CommitRequest, GitHost, LoggedCommit, MergePreview, MergeRequest, MergeState, PortError,
};
use provision_core::{BranchName, FileSet, RepoName, RepoPath};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Who the commits and reflog entries written by the orchestrator are by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
}

/// Bare repositories on the local disk, one per [`RepoName`], at `<root>/<repo>.git`.
///
/// All git work happens on tokio's blocking threads. Objects are written into each
/// repository's object database directly; branches move by compare-and-swap under git's
/// own ref locks, so `git` processes and other orchestrator processes can share the root.
#[derive(Debug, Clone)]
pub struct LocalGitHost {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    signature: Signature,
    opened: OpenRepos,
}

impl LocalGitHost {
    /// Repositories live at `<root>/<repo>.git` (bare). `root` is created, with its parents,
    /// when the first repository is. A relative `root` is made absolute now, so clone URLs
    /// stay right whatever the working directory later is.
    pub fn new(root: impl Into<PathBuf>, signature: Signature) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        Self { inner: Arc::new(Inner { root, signature, opened: OpenRepos::default() }) }
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub fn repo_path(&self, repo: &RepoName) -> PathBuf {
        self.inner.root.join(format!("{repo}.git"))
    }

    /// Runs `work` on a blocking thread with the repository's location.
    async fn blocking<T, F>(&self, repo: &RepoName, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Location<'_>, &Inner) -> Result<T, Error> + Send + 'static,
    {
        let inner = self.inner.clone();
        let name = repo.clone();
        let path = self.repo_path(repo);
        tokio::task::spawn_blocking(move || work(&Location { name: &name, path: &path, opened: &inner.opened }, &inner))
            .await
            .map_err(|source| Error::Task { repo: repo.clone(), source })?
            .map_err(PortError::from)
    }
}

#[async_trait]
impl GitHost for LocalGitHost {
    async fn repo_exists(&self, repo: &RepoName) -> Result<bool, PortError> {
        self.blocking(repo, |at, _| Ok(repo::exists(at))).await
    }

    async fn create_repo(&self, repo: &RepoName, description: &str) -> Result<(), PortError> {
        let description = description.to_owned();
        self.blocking(repo, move |at, inner| repo::create(&inner.root, at, &description)).await?;
        tracing::info!(repo = %repo, path = %self.repo_path(repo).display(), "created repository");
        Ok(())
    }

    async fn delete_repo(&self, repo: &RepoName) -> Result<(), PortError> {
        self.blocking(repo, move |at, inner| repo::delete(&inner.root, at)).await?;
        tracing::info!(repo = %repo, path = %self.repo_path(repo).display(), "deleted repository");
        Ok(())
    }

    async fn log(&self, repo: &RepoName, limit: usize) -> Result<Vec<LoggedCommit>, PortError> {
        let commits = self.blocking(repo, move |at, _| repo::log(at, limit)).await?;
        Ok(commits.into_iter().map(|(id, message)| LoggedCommit { id, message }).collect())
    }

    async fn branches(&self, repo: &RepoName) -> Result<Vec<(BranchName, CommitId)>, PortError> {
        self.blocking(repo, |at, _| repo::branches(at)).await
    }

    async fn branch_tip(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<CommitId>, PortError> {
        let branch = branch.clone();
        self.blocking(repo, move |at, _| repo::branch_tip(at, &branch)).await
    }

    async fn find_commit(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        line: &str,
        limit: usize,
    ) -> Result<Option<CommitId>, PortError> {
        let branch = branch.clone();
        let line = line.to_owned();
        self.blocking(repo, move |at, _| repo::find_commit(at, &branch, &line, limit)).await
    }

    async fn commit(&self, repo: &RepoName, request: CommitRequest<'_>) -> Result<CommitId, PortError> {
        let spec = CommitSpec {
            branch: request.branch.clone(),
            parent: request.parent.cloned(),
            // Contents are shared, not copied: this clones paths and reference counts.
            files: request.files.clone(),
            mode: request.mode,
            message: request.message.to_owned(),
            skip_unchanged: request.skip_unchanged,
        };
        self.blocking(repo, move |at, inner| repo::commit(at, &inner.signature, spec)).await
    }

    async fn create_branch(&self, repo: &RepoName, branch: &BranchName, at: &CommitId) -> Result<(), PortError> {
        let branch = branch.clone();
        let commit = at.clone();
        self.blocking(repo, move |at, inner| repo::create_branch(at, &inner.signature, &branch, &commit)).await
    }

    async fn read_file(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        path: &RepoPath,
    ) -> Result<Option<Vec<u8>>, PortError> {
        let branch = branch.clone();
        let path = path.clone();
        self.blocking(repo, move |at, _| repo::read_file(at, &branch, &path)).await
    }

    async fn read_tree(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<FileSet>, PortError> {
        let branch = branch.clone();
        self.blocking(repo, move |at, _| repo::read_tree(at, &branch)).await
    }

    async fn merge_state(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        let spec = merge_spec(request);
        self.blocking(repo, move |at, _| merge::state(at, &spec)).await
    }

    async fn merge(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        let spec = merge_spec(request);
        self.blocking(repo, move |at, inner| merge::merge(at, &inner.signature, &spec)).await
    }

    async fn preview_merge(
        &self,
        repo: &RepoName,
        request: &MergeRequest<'_>,
        files: &FileSet,
    ) -> Result<MergePreview, PortError> {
        let spec = merge_spec(request);
        let files = files.clone();
        self.blocking(repo, move |at, _| merge::preview(at, &spec, &files)).await
    }

    fn clone_url(&self, repo: &RepoName) -> String {
        format!("file://{}", self.repo_path(repo).display())
    }
}

fn merge_spec(request: &MergeRequest<'_>) -> MergeSpec {
    MergeSpec {
        into: request.into.clone(),
        from: request.from.clone(),
        conflict_branch: request.conflict_branch.clone(),
        message: request.message.to_owned(),
        renames: request.renames.to_vec(),
    }
}
