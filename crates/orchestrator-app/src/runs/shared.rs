//! Commits into shared repositories (the GitOps repository, which every create-service run
//! registers in), held up under contention: a [`GitHost`] in front of another.
//!
//! Every registration is an overlay of its own files onto the repository's `main`. Many runs
//! registering at once, in one process or several, all race to move that one branch; with
//! plain compare-and-swap most of them lose and try again, and under a burst some run out of
//! attempts. Here, in front of the real host:
//!
//! - **in one process, one writer per shared branch folds what is waiting into one commit**:
//!   while it commits, new requests queue, and its next commit takes them all (their files
//!   overlaid in arrival order, their messages, trailers included, in one message, so each
//!   run's step still finds its own commit by its `Provision-Run` trailer);
//! - **across processes, a lost race is tried again on the new tip**, after a full-jitter
//!   exponential backoff ([`crate::backoff`]), until a deadline; requests arriving meanwhile
//!   join the next attempt. Past the deadline each waiting request fails as what it is,
//!   retryable, so the engine (and then the server's background retries) may try again.
//!
//! The caller's `parent` is not what an overlay into a shared repository is checked against:
//! the writer reads the tip itself and moves the branch by compare-and-swap against what it
//! read. That is what the engine's own retry does after a lost race (read the tip again,
//! overlay again), without losing the round. Other repositories, and commits that replace a
//! tree or skip unchanged ones, go straight through with the caller's compare-and-swap.

use crate::backoff::{self, Backoff, Deadline};
use async_trait::async_trait;
use provision_core::ports::{
    CommitId, CommitRequest, GitHost, LoggedCommit, MergePreview, MergeRequest, MergeState, Pause, PortError,
};
use provision_core::{BranchName, FileSet, RepoName, RepoPath, TreeMode};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How a shared repository's writer holds up when other processes keep moving its branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Contention {
    /// The wait after each lost race.
    pub backoff: Backoff,
    /// Trying stops this long after the first attempt of a commit.
    pub deadline: Duration,
}

impl Contention {
    /// Waits of up to 10 ms, 20 ms, … at most a second, until `deadline`. A commit takes a few
    /// milliseconds, so a first window of 10 ms spreads a handful of racing writers out.
    pub fn until(deadline: Duration) -> Self {
        Contention { backoff: Backoff { base: Duration::from_millis(10), cap: Duration::from_secs(1) }, deadline }
    }
}

/// A [`GitHost`] whose overlays into the `shared` repositories are folded together and tried
/// again after lost races (see the module documentation); everything else passes through.
pub(crate) struct SharedRepos(Arc<State>);

/// A shared branch: its writer's queue lives in [`State::queues`] while the writer runs.
type Key = (RepoName, BranchName);

struct State {
    inner: Arc<dyn GitHost>,
    shared: Vec<RepoName>,
    contention: Contention,
    pause: Arc<dyn Pause>,
    /// The requests waiting for each shared branch's writer. A branch has an entry exactly
    /// while its writer runs.
    queues: Mutex<HashMap<Key, Vec<Waiting>>>,
}

/// A request waiting for its branch's writer.
struct Waiting {
    files: FileSet,
    message: String,
    answer: oneshot::Sender<Result<CommitId, PortError>>,
}

impl SharedRepos {
    pub fn new(inner: Arc<dyn GitHost>, shared: Vec<RepoName>, contention: Contention, pause: Arc<dyn Pause>) -> Self {
        SharedRepos(Arc::new(State { inner, shared, contention, pause, queues: Mutex::default() }))
    }

    /// How many requests wait for the writer of `branch` of `repo` (not counting those it is
    /// committing).
    #[cfg(test)]
    fn waiting(&self, repo: &RepoName, branch: &BranchName) -> usize {
        self.0.queues().get(&(repo.clone(), branch.clone())).map_or(0, Vec::len)
    }

    /// Queues an overlay of `files` onto `branch` of `repo` for its writer (starting one if
    /// none runs) and waits for the commit that holds it.
    async fn overlay(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        files: &FileSet,
        message: &str,
    ) -> Result<CommitId, PortError> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { files: files.clone(), message: message.to_owned(), answer };
        let key = (repo.clone(), branch.clone());
        let start_writer = match self.0.queues().entry(key.clone()) {
            Entry::Occupied(mut queue) => {
                queue.get_mut().push(waiting);
                false
            }
            Entry::Vacant(queue) => {
                queue.insert(vec![waiting]);
                true
            }
        };
        if start_writer {
            tokio::spawn(Arc::clone(&self.0).write(key));
        }
        answered.await.unwrap_or_else(|_| {
            Err(PortError::transient(format!("the writer of branch {branch} of {repo} stopped before committing")))
        })
    }
}

/// Removes a branch's queue if its writer stops without finishing (a panic), so the next
/// request starts a new writer instead of waiting for none; the requests in it are answered
/// with an error as their senders drop.
struct Running<'a> {
    state: &'a State,
    key: &'a Key,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.state.queues().remove(self.key);
        }
    }
}

impl State {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Waiting>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes every request waiting for `key`'s writer. With `last`, an empty queue is removed:
    /// the writer stops, and the next request starts another.
    fn take(&self, key: &Key, last: bool) -> Vec<Waiting> {
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(key) else { return Vec::new() };
        let batch = std::mem::take(queue);
        if batch.is_empty() && last {
            queues.remove(key);
        }
        batch
    }

    /// The writer of one shared branch: commits what waits, in batches, until nothing does.
    async fn write(self: Arc<Self>, key: Key) {
        let mut running = Running { state: &self, key: &key, finished: false };
        loop {
            let batch = self.take(&key, true);
            if batch.is_empty() {
                running.finished = true;
                return;
            }
            if let Err(batch) = self.commit(&key, batch, true).await {
                // One of them cannot be committed, whatever the tip: each alone, so that only
                // its own request fails.
                for one in batch {
                    let _ = self.commit(&key, vec![one], false).await;
                }
            }
        }
    }

    /// Commits `batch` as one commit onto the branch's tip, again after each lost race until
    /// the deadline; with `fold`, requests that arrive meanwhile join the next attempt.
    /// Answers every request, except when a batch of several fails for a reason retrying
    /// cannot cure: that batch is handed back unanswered.
    async fn commit(&self, key: &Key, mut batch: Vec<Waiting>, fold: bool) -> Result<(), Vec<Waiting>> {
        let (repo, branch) = key;
        let started = Instant::now();
        let mut deadline = Deadline::new(self.contention.backoff, self.contention.deadline);
        loop {
            let error = match self.commit_once(key, &batch).await {
                Ok(id) => {
                    tracing::debug!(%repo, %branch, commit = %id, requests = batch.len(), lost = deadline.failures(), "committed into a shared repository");
                    for waiting in batch {
                        let _ = waiting.answer.send(Ok(id.clone()));
                    }
                    return Ok(());
                }
                Err(e) => e,
            };
            if !error.is_retryable() {
                if batch.len() > 1 {
                    return Err(batch);
                }
                for waiting in batch {
                    let _ = waiting.answer.send(Err(PortError::new(error.kind, provision_core::error::chain(&error))));
                }
                return Ok(());
            }
            let Some(wait) = deadline.next(started.elapsed(), backoff::unit()) else {
                let gave_up = format!(
                    "gave up committing to branch {branch} of {repo} after {} attempts in {:.1} s: {}",
                    deadline.failures() + 1,
                    started.elapsed().as_secs_f64(),
                    provision_core::error::chain(&error),
                );
                tracing::warn!(%repo, %branch, requests = batch.len(), "{gave_up}");
                for waiting in batch {
                    let _ = waiting.answer.send(Err(PortError::new(error.kind, gave_up.clone())));
                }
                return Ok(());
            };
            tracing::debug!(%repo, %branch, error = %error, wait_ms = wait.as_millis(), "lost a race for a shared branch; trying again");
            self.pause.pause(wait).await;
            if fold {
                batch.extend(self.take(key, false));
            }
        }
    }

    /// One attempt: every request's files overlaid onto the branch's tip as it is now.
    async fn commit_once(&self, (repo, branch): &Key, batch: &[Waiting]) -> Result<CommitId, PortError> {
        let tip = self.inner.branch_tip(repo, branch).await?;
        let mut files = FileSet::new();
        for waiting in batch {
            files.extend(waiting.files.clone());
        }
        let messages: Vec<&str> = batch.iter().map(|w| w.message.as_str()).collect();
        let message = combined_message(&messages);
        let request = CommitRequest {
            branch,
            parent: tip.as_ref(),
            files: &files,
            mode: TreeMode::Overlay,
            message: &message,
            skip_unchanged: false,
        };
        self.inner.commit(repo, request).await
    }
}

/// The message of one commit made for several requests: the first request's subject and how
/// many more, each request's message without its trailers, then every trailer, so `git
/// interpret-trailers` and a look for a `Provision-Run` line find each request's. One request's
/// message is kept as it is.
fn combined_message(messages: &[&str]) -> String {
    let [first, rest @ ..] = messages else { return String::new() };
    if rest.is_empty() {
        return (*first).to_owned();
    }
    let split: Vec<(&str, Vec<&str>)> = messages.iter().map(|m| split_trailers(m)).collect();
    let subject = first.lines().next().unwrap_or_default();
    let bodies: Vec<&str> = split.iter().map(|(body, _)| *body).collect();
    let separator = if bodies.iter().any(|b| b.contains('\n')) { "\n\n" } else { "\n" };
    let trailers: Vec<&str> = split.iter().flat_map(|(_, trailers)| trailers.iter().copied()).collect();
    let mut message = format!("{subject} (and {} more)\n\n{}\n", rest.len(), bodies.join(separator));
    if !trailers.is_empty() {
        message.push('\n');
        message.push_str(&trailers.join("\n"));
        message.push('\n');
    }
    message
}

/// A message's text before its trailer block, and the trailer lines (`Key: value`, the last
/// paragraph when every line of it is one).
fn split_trailers(message: &str) -> (&str, Vec<&str>) {
    let message = message.trim_end();
    let is_trailer = |line: &str| {
        line.split_once(": ")
            .is_some_and(|(key, _)| !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    match message.rsplit_once("\n\n") {
        Some((body, last)) if last.lines().all(is_trailer) => (body.trim_end(), last.lines().collect()),
        _ => (message, Vec::new()),
    }
}

#[async_trait]
impl GitHost for SharedRepos {
    async fn repo_exists(&self, repo: &RepoName) -> Result<bool, PortError> {
        self.0.inner.repo_exists(repo).await
    }

    async fn create_repo(&self, repo: &RepoName, description: &str) -> Result<(), PortError> {
        self.0.inner.create_repo(repo, description).await
    }

    async fn delete_repo(&self, repo: &RepoName) -> Result<(), PortError> {
        self.0.inner.delete_repo(repo).await
    }

    async fn log(&self, repo: &RepoName, limit: usize) -> Result<Vec<LoggedCommit>, PortError> {
        self.0.inner.log(repo, limit).await
    }

    async fn branches(&self, repo: &RepoName) -> Result<Vec<(BranchName, CommitId)>, PortError> {
        self.0.inner.branches(repo).await
    }

    async fn branch_tip(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<CommitId>, PortError> {
        self.0.inner.branch_tip(repo, branch).await
    }

    async fn find_commit(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        line: &str,
        limit: usize,
    ) -> Result<Option<CommitId>, PortError> {
        self.0.inner.find_commit(repo, branch, line, limit).await
    }

    /// An overlay into a shared repository goes to its branch's writer (onto the tip as it is
    /// then, whatever `request.parent` says); any other commit passes through.
    async fn commit(&self, repo: &RepoName, request: CommitRequest<'_>) -> Result<CommitId, PortError> {
        if request.mode == TreeMode::Overlay && !request.skip_unchanged && self.0.shared.contains(repo) {
            return self.overlay(repo, request.branch, request.files, request.message).await;
        }
        self.0.inner.commit(repo, request).await
    }

    async fn create_branch(&self, repo: &RepoName, branch: &BranchName, at: &CommitId) -> Result<(), PortError> {
        self.0.inner.create_branch(repo, branch, at).await
    }

    async fn read_file(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        path: &RepoPath,
    ) -> Result<Option<Vec<u8>>, PortError> {
        self.0.inner.read_file(repo, branch, path).await
    }

    async fn read_tree(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<FileSet>, PortError> {
        self.0.inner.read_tree(repo, branch).await
    }

    async fn merge_state(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        self.0.inner.merge_state(repo, request).await
    }

    async fn merge(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        self.0.inner.merge(repo, request).await
    }

    async fn preview_merge(
        &self,
        repo: &RepoName,
        request: &MergeRequest<'_>,
        files: &FileSet,
    ) -> Result<MergePreview, PortError> {
        self.0.inner.preview_merge(repo, request, files).await
    }

    fn clone_url(&self, repo: &RepoName) -> String {
        self.0.inner.clone_url(repo)
    }
}

#[cfg(test)]
mod tests;
