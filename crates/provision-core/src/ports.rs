//! Ports: the traits adapters implement so the engine can act on the world.
//!
//! They speak domain types only ([`RepoName`], [`FileSet`], [`RunId`]); no adapter type
//! leaks through. Every port has an in-memory fake in [`crate::testing`].

use crate::fileset::{FileSet, RepoPath};
use crate::names::{BlueprintName, BranchName, OwnerName, RepoName, ServiceName};
use crate::plan::{RunId, TreeMode};
/// Where workspaces live (see module [`crate::workspace`]).
pub use crate::workspace::WorkspaceCluster;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How a port call failed, which decides what the engine does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortErrorKind {
    /// Worth retrying as is: a lock, a lost race, a network blip.
    Transient,
    /// Someone else changed the thing first (a branch moved); retrying re-reads it.
    Conflict,
    /// The thing does not exist.
    NotFound,
    /// The thing exists already.
    AlreadyExists,
    /// Retrying cannot help.
    Permanent,
}

/// An adapter failure, with a message that names what failed (a repo, a branch, a run)
/// and never a secret.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    pub kind: PortErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl PortError {
    pub fn new(kind: PortErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Transient, message)
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Permanent, message)
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, PortErrorKind::Transient | PortErrorKind::Conflict)
    }
}

/// A commit's full hex id.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommitId(pub String);

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommitId({})", self.0)
    }
}

/// What to commit, and onto what.
#[derive(Debug, Clone, Copy)]
pub struct CommitRequest<'a> {
    pub branch: &'a BranchName,
    /// The branch tip this commit builds on; `None` makes a root commit on a new branch.
    /// The branch moves only if its tip is still `parent` (else [`PortErrorKind::Conflict`]).
    pub parent: Option<&'a CommitId>,
    pub files: &'a FileSet,
    pub mode: TreeMode,
    /// The whole message, trailers included.
    pub message: &'a str,
    /// When the files give the parent's tree again, commit nothing and answer the parent.
    pub skip_unchanged: bool,
}

/// Merging one branch into another: `from` (the template branch) into `into` (main).
#[derive(Debug, Clone, Copy)]
pub struct MergeRequest<'a> {
    pub into: &'a BranchName,
    pub from: &'a BranchName,
    /// Where a merge with conflicts is committed instead of `into`.
    pub conflict_branch: &'a BranchName,
    /// The merge commit's whole message, trailers included; the conflicts are appended.
    pub message: &'a str,
    /// Files renamed (old path, new path) in the merge base and in `into` before merging, so
    /// changes made at the old path arrive at the new one.
    pub renames: &'a [(RepoPath, RepoPath)],
}

/// How a file conflicts. "Upstream" is the merged-in side (`from`, the template); "here" is
/// the side merged into (`into`, main).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Both changed the same lines: the file holds standard conflict markers.
    Content,
    /// Both changed a binary file: it stays as it is here.
    Binary,
    /// Upstream removed the file, it was changed here: it stays, as changed here.
    RemovedUpstream,
    /// It was removed here, upstream changed it: upstream's version is there.
    RemovedHere,
    /// Anything else git cannot decide (renames to one place, a file where a directory was).
    Tree,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Content => "content",
            ConflictKind::Binary => "binary",
            ConflictKind::RemovedUpstream => "removed-upstream",
            ConflictKind::RemovedHere => "removed-here",
            ConflictKind::Tree => "tree",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Content, Self::Binary, Self::RemovedUpstream, Self::RemovedHere, Self::Tree]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One conflicting file of a merge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MergeConflict {
    pub path: String,
    pub kind: ConflictKind,
}

/// The trailer that records one conflict in a conflicted merge's message:
/// `Conflict: <kind> <path>`, newlines in the path written `\n` (paths hold no backslash).
pub const CONFLICT_TRAILER: &str = "Conflict:";

impl MergeConflict {
    pub fn trailer(&self) -> String {
        format!("{CONFLICT_TRAILER} {} {}", self.kind.as_str(), self.path.replace('\n', "\\n"))
    }

    /// The conflicts recorded in a merge commit's message by [`MergeConflict::trailer`].
    pub fn from_message(message: &str) -> Vec<MergeConflict> {
        message
            .lines()
            .filter_map(|line| line.strip_prefix(CONFLICT_TRAILER)?.trim_start().split_once(' '))
            .filter_map(|(kind, path)| {
                Some(MergeConflict { kind: ConflictKind::parse(kind)?, path: path.replace("\\n", "\n") })
            })
            .collect()
    }
}

/// Where merging `from` into `into` stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeState {
    /// `into`'s history holds `from`'s tip.
    Merged,
    /// The merge of the current tips, with conflicts, is `commit`, the conflict branch's tip.
    Conflicted { commit: CommitId, conflicts: Vec<MergeConflict> },
    /// Neither: the merge is still to be made.
    Pending,
}

/// How a file would change on `into`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileChange {
    Added,
    Modified,
    Removed,
}

/// What a merge would do, computed without writing anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergePreview {
    /// Every file of `into` the merge changes, by path.
    pub changes: Vec<(String, FileChange)>,
    pub conflicts: Vec<MergeConflict>,
    /// Each changed file's contents on `into` before and after the merge, by path (`None`:
    /// absent on that side), for showing what the merge would do.
    pub contents: std::collections::BTreeMap<String, Sides>,
}

/// A file's contents before and after a change (`None`: absent on that side).
pub type Sides = (Option<Vec<u8>>, Option<Vec<u8>>);

/// One commit of a repository's history, as [`GitHost::log`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCommit {
    pub id: CommitId,
    /// The whole message, trailers included.
    pub message: String,
}

impl LoggedCommit {
    /// The message's first line.
    pub fn subject(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

/// Where generated repositories live: local bare repositories, GitHub, any git remote.
#[async_trait]
pub trait GitHost: Send + Sync {
    async fn repo_exists(&self, repo: &RepoName) -> Result<bool, PortError>;
    /// Creates an empty repository ([`PortErrorKind::AlreadyExists`] if there is one).
    async fn create_repo(&self, repo: &RepoName, description: &str) -> Result<(), PortError>;
    /// Deletes the repository with everything in it ([`PortErrorKind::NotFound`] if there is
    /// none). Only undo calls it, for a repository its run made.
    async fn delete_repo(&self, repo: &RepoName) -> Result<(), PortError>;
    /// Every commit reachable from any branch, each once, walking back from each tip, at most `limit`
    /// ([`PortErrorKind::NotFound`] without the repository).
    async fn log(&self, repo: &RepoName, limit: usize) -> Result<Vec<LoggedCommit>, PortError>;
    /// The branches and their tips ([`PortErrorKind::NotFound`] without the repository).
    async fn branches(&self, repo: &RepoName) -> Result<Vec<(BranchName, CommitId)>, PortError>;
    async fn branch_tip(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<CommitId>, PortError>;
    /// The newest commit among the first `limit` of `branch`'s first-parent history whose
    /// message has `line` as one of its lines.
    async fn find_commit(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        line: &str,
        limit: usize,
    ) -> Result<Option<CommitId>, PortError>;
    /// Writes a commit and moves the branch to it, atomically against `request.parent`.
    async fn commit(&self, repo: &RepoName, request: CommitRequest<'_>) -> Result<CommitId, PortError>;
    /// Creates `branch` at `at` ([`PortErrorKind::AlreadyExists`] if it exists).
    async fn create_branch(&self, repo: &RepoName, branch: &BranchName, at: &CommitId) -> Result<(), PortError>;
    /// One file at a branch tip; `None` if the branch or the file is missing.
    async fn read_file(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        path: &RepoPath,
    ) -> Result<Option<Vec<u8>>, PortError>;
    /// Every file at a branch tip; `None` if the branch is missing.
    async fn read_tree(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<FileSet>, PortError>;
    /// Where merging `request.from` into `request.into` stands; reads only.
    async fn merge_state(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError>;
    /// Merges `request.from` into `request.into`: a real 3-way merge whose base is their merge
    /// base, after `request.renames`. A clean merge is a merge commit on `into` (moved by
    /// compare-and-swap: [`PortErrorKind::Conflict`] if it moved meanwhile); one with conflicts
    /// is committed on `request.conflict_branch` (its message listing them), `into` untouched.
    /// Answers [`MergeState::Merged`] or [`MergeState::Conflicted`].
    async fn merge(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError>;
    /// What [`GitHost::merge`] would do if `from`'s next tip had exactly `files`; writes nothing.
    async fn preview_merge(
        &self,
        repo: &RepoName,
        request: &MergeRequest<'_>,
        files: &FileSet,
    ) -> Result<MergePreview, PortError>;
    /// Where users clone the repository from. Never carries a credential.
    fn clone_url(&self, repo: &RepoName) -> String;
}

/// The lifecycle of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 4] = [RunState::Pending, RunState::Running, RunState::Succeeded, RunState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed)
    }
}

/// The lifecycle of a step in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Its effect may or may not have happened: the next attempt looks before acting.
    Started,
    Done,
    Failed,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Started => "started",
            StepState::Done => "done",
            StepState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [StepState::Started, StepState::Done, StepState::Failed].into_iter().find(|v| v.as_str() == s)
    }
}

/// The service a run provisions, reserved by name when the run is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewService {
    pub name: ServiceName,
    pub kind: BlueprintName,
    pub blueprint_version: String,
    pub owner: Option<OwnerName>,
    pub description: String,
    pub repos: Vec<RepoName>,
}

/// A client's idempotency key and a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// A run to record.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: RunId,
    /// What the run does: `create-service`.
    pub operation: String,
    /// The validated request, enough to plan the run again on resume.
    pub request: serde_json::Value,
    pub service: Option<NewService>,
    pub idempotency: Option<IdempotencyKey>,
}

/// What [`Store::create_run`] did. Creating the run, reserving the service name and
/// recording the idempotency key happen in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum RunCreated {
    Created,
    /// The same key with the same fingerprint was seen: this is that run.
    Replayed {
        run: RunId,
    },
    /// The same key was used with a different request.
    KeyReused {
        run: RunId,
    },
    /// A service by this name exists (created by `run`).
    ServiceExists {
        name: ServiceName,
        run: RunId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub operation: String,
    pub state: RunState,
    pub request: serde_json::Value,
    pub service: Option<ServiceName>,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    pub name: String,
    pub state: StepState,
    pub attempts: u32,
    /// What the step found or did: `created`, `already there`, a commit id.
    pub detail: Option<String>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub name: ServiceName,
    pub kind: BlueprintName,
    pub blueprint_version: String,
    pub owner: Option<OwnerName>,
    pub description: String,
    pub repos: Vec<RepoName>,
    pub run: RunId,
    pub run_state: RunState,
    pub created_at: Timestamp,
}

/// One journal transition. The store stamps each with its own clock.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalEvent {
    RunStarted,
    /// Written before the effect. Starting a step again counts another attempt.
    StepStarted {
        index: usize,
        name: String,
    },
    /// A retryable failure; the step stays `started`.
    StepRetrying {
        index: usize,
        error: String,
    },
    /// Written after the effect.
    StepDone {
        index: usize,
        detail: String,
    },
    StepFailed {
        index: usize,
        error: String,
    },
    RunSucceeded,
    RunFailed {
        error: String,
    },
}

/// Exclusive right to execute a run, released when dropped (or when its process dies).
pub trait Claim: Send + Sync {}

/// Runs, their journal, the service inventory and idempotency keys.
#[async_trait]
pub trait Store: Send + Sync {
    async fn create_run(&self, run: NewRun) -> Result<RunCreated, PortError>;
    async fn run(&self, id: &RunId) -> Result<Option<RunRecord>, PortError>;
    /// Newest first.
    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, PortError>;
    /// Runs not yet succeeded or failed, oldest first.
    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError>;
    /// The journal of a run, by step index.
    async fn steps(&self, run: &RunId) -> Result<Vec<StepRecord>, PortError>;
    async fn record(&self, run: &RunId, event: JournalEvent) -> Result<(), PortError>;
    /// Makes a failed run resumable again (`runs retry`).
    async fn reopen_run(&self, run: &RunId) -> Result<(), PortError>;
    async fn service(&self, name: &ServiceName) -> Result<Option<ServiceRecord>, PortError>;
    /// Ordered by name.
    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError>;
    /// Records that the service's repositories are now at `version` of its blueprint (after
    /// an upgrade); [`PortErrorKind::NotFound`] without the service.
    async fn set_blueprint_version(&self, name: &ServiceName, version: &str) -> Result<(), PortError>;
    /// Removes `name` from the inventory if run `created_by` made its entry, and the
    /// idempotency keys that replay that run, so the name may be created again. `false`: there
    /// was no such entry (already forgotten, or someone else's).
    async fn forget_service(&self, name: &ServiceName, created_by: &RunId) -> Result<bool, PortError>;
    /// `None` if another live process holds the run.
    async fn try_claim(&self, run: &RunId) -> Result<Option<Box<dyn Claim>>, PortError>;
    /// Finishes pending work (an embedded database checkpoints its log) before the process
    /// exits. Calls after it may fail.
    async fn close(&self) {}
}

/// Waiting between retries (a timer in production, nothing in tests).
#[async_trait]
pub trait Pause: Send + Sync {
    async fn pause(&self, duration: Duration);
}

/// The caller-chosen identity of an outgoing message, unique for ever: `workspace-ready/<uid>`.
/// The outbox holds one message per key, so enqueueing twice sends once.
///
/// 1 to 200 characters of ASCII letters, digits and `-_./:@+=`, not starting or ending with a
/// `/` or `.`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageKey(String);

impl MessageKey {
    pub const MAX_LEN: usize = 200;

    /// Parses `value`, reporting every broken rule.
    pub fn parse(value: &str) -> Result<Self, crate::Invalid> {
        use crate::Problem;
        let mut problems = Vec::new();
        if value.is_empty() {
            problems.push(Problem::new("key", "empty", "a message key must not be empty"));
        }
        if value.len() > Self::MAX_LEN {
            problems.push(Problem::new(
                "key",
                "too-long",
                format!("a message key has at most {} characters, not {}", Self::MAX_LEN, value.len()),
            ));
        }
        let mut bad: Vec<char> =
            value.chars().filter(|c| !(c.is_ascii_alphanumeric() || "-_./:@+=".contains(*c))).collect();
        bad.dedup();
        if !bad.is_empty() {
            problems.push(Problem::new(
                "key",
                "invalid-character",
                format!("a message key holds only ASCII letters, digits and -_./:@+=, not {bad:?}"),
            ));
        }
        if value.starts_with(['/', '.']) || value.ends_with(['/', '.']) {
            problems.push(Problem::new("key", "edge", "a message key must not start or end with '/' or '.'"));
        }
        if problems.is_empty() { Ok(Self(value.to_owned())) } else { Err(crate::Invalid::new(problems)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageKey({:?})", self.0)
    }
}

impl Serialize for MessageKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MessageKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An e-mail to deliver. The sender (`From`) belongs to the notifier's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub key: MessageKey,
    /// One recipient's address, already validated (`ada@example.com`).
    pub to: String,
    /// One line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative to `text`, if any.
    pub html: Option<String>,
}

/// Delivers a message: an SMTP server, a maildir, a log.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Hands `message` to the mail system. `Ok` means it was accepted (an SMTP server answered
    /// `250` to the message's data, a file is in place); [`PortErrorKind::Transient`] means
    /// trying the same message later may succeed (server down, `4xx`), anything else that it
    /// cannot (`5xx`, an address the server refuses).
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError>;
}

/// Where an outbox message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageState {
    /// Waiting for its next attempt, or being attempted under a lease.
    Pending,
    /// Accepted by the mail system; never attempted again.
    Sent,
    /// Given up: a permanent failure, or too many attempts.
    Failed,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [MessageState::Pending, MessageState::Sent, MessageState::Failed].into_iter().find(|v| v.as_str() == s)
    }
}

/// A message in the outbox and its delivery so far. Times are kept to the microsecond.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub message: OutgoingMessage,
    pub state: MessageState,
    /// Attempts started: each claim counts one, whether or not it reported back.
    pub attempts: u32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    /// When a pending message may next be claimed (once its lease, if any, has expired).
    pub next_attempt_at: Timestamp,
    /// Until when the current attempt holds the message; `None` when no attempt is under way.
    pub leased_until: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
}

/// A claimed message: the right to attempt it once, until the lease expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message: OutgoingMessage,
    /// Which attempt this is (1 for the first): [`Outbox::mark_failed`] names it so that a late
    /// report of an attempt whose lease was taken over cannot overwrite a newer attempt's.
    pub attempt: u32,
    pub leased_until: Timestamp,
}

/// Messages waiting to be delivered, in the store, so that a message survives a restart and an
/// outage of the mail server and is delivered once.
///
/// The store does not read a clock here: every call says what time it is (`now`), so a
/// dispatcher and its tests decide what "due" means. Times are truncated to the microsecond.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Puts `message` in the outbox, pending and due at `now`, unless a message with its key is
    /// there already (in any state): then nothing changes, and the first message's content is
    /// what gets delivered. `true` if it was newly enqueued.
    async fn enqueue(&self, message: &OutgoingMessage, now: Timestamp) -> Result<bool, PortError>;
    /// Claims up to `limit` pending messages due at `now` (next attempt at or before `now`, no
    /// lease or an expired one), earliest due first: each counts one more attempt and is leased
    /// until `now + lease`. A message leased to one caller is claimed by no other, in this
    /// process or another, until its lease expires.
    async fn claim_due(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Vec<Delivery>, PortError>;
    /// Records that `attempt` of the message was accepted by the mail system: the message is
    /// sent, its lease released, and it is never claimed again. Recording a send is never
    /// refused for an old lease (the mail went out, whoever holds the message now); marking a
    /// sent message again changes nothing. [`PortErrorKind::NotFound`] without the message,
    /// [`PortErrorKind::Conflict`] if it failed for good meanwhile.
    async fn mark_sent(&self, key: &MessageKey, attempt: u32, now: Timestamp) -> Result<(), PortError>;
    /// Records that `attempt` failed with `error`: pending again, due at `retry_at` — or, with
    /// `None`, failed for good. [`PortErrorKind::Conflict`] (and nothing changes) if the message
    /// is no longer pending under that attempt (it was sent, given up, or claimed again after the
    /// lease expired); [`PortErrorKind::NotFound`] without the message.
    async fn mark_failed(
        &self,
        key: &MessageKey,
        attempt: u32,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), PortError>;
    async fn message(&self, key: &MessageKey) -> Result<Option<OutboxRecord>, PortError>;
    /// The earliest time a pending message becomes claimable (its next attempt, or the end of
    /// its lease if later); `None` if nothing is pending.
    async fn next_due(&self) -> Result<Option<Timestamp>, PortError>;
}

/// A bearer token as the store keeps it: whose it is and what became of it, never the token.
/// Times are kept to the microsecond.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token's public name, part of the token's text (12 lowercase hex digits as the app
    /// makes them): safe to show, log and type.
    pub id: String,
    /// The holder's address, normalized ([`crate::EmailAddress::normalized`]).
    pub email: String,
    /// What the holder may do.
    pub role: crate::Role,
    pub created_at: Timestamp,
    /// The last time the token was presented, if ever: a token that was used reached its holder.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// Used at least once and not revoked: its holder is proven to have received it.
    pub fn is_confirmed(&self) -> bool {
        self.last_used_at.is_some() && self.revoked_at.is_none()
    }
}

/// The API's bearer tokens. The store holds each token's SHA-256 (64 lowercase hex digits),
/// never the token: the plain token is neither stored nor passed here, and a store refuses a
/// "hash" that is not 64 lowercase hex digits, so a token stored by mistake is refused.
///
/// As in the [`Outbox`], every call that writes says what time it is (`now`); times are
/// truncated to the microsecond. Tokens are never deleted: a revoked one stays, as a record.
#[async_trait]
pub trait Tokens: Send + Sync {
    /// Records a new token of `email` ([`PortErrorKind::AlreadyExists`] if a token has this id
    /// or this hash; [`PortErrorKind::Permanent`] if `sha256_hex` is not 64 lowercase hex digits).
    async fn add_token(
        &self,
        id: &str,
        sha256_hex: &str,
        email: &crate::EmailAddress,
        role: crate::Role,
        now: Timestamp,
    ) -> Result<TokenRecord, PortError>;
    /// The token whose SHA-256 is `sha256_hex`, revoked or not.
    async fn token_by_hash(&self, sha256_hex: &str) -> Result<Option<TokenRecord>, PortError>;
    /// Records that the token was presented at `now`: its `last_used_at` becomes `now` unless it
    /// is later already. A revoked token is left as it is, so it never becomes confirmed after
    /// its revocation. [`PortErrorKind::NotFound`] without the token.
    async fn mark_token_used(&self, id: &str, now: Timestamp) -> Result<(), PortError>;
    /// Revokes the token at `now`: `true` if it was live, `false` if it was revoked already
    /// (its revocation time kept). [`PortErrorKind::NotFound`] without the token.
    async fn revoke_token(&self, id: &str, now: Timestamp) -> Result<bool, PortError>;
    /// Every token of `email` (of everyone with `None`), revoked ones included, oldest first.
    async fn tokens(&self, email: Option<&crate::EmailAddress>) -> Result<Vec<TokenRecord>, PortError>;
    /// Whether `email` holds a confirmed token ([`TokenRecord::is_confirmed`]).
    async fn has_confirmed_token(&self, email: &crate::EmailAddress) -> Result<bool, PortError>;
}

/// Whether `value` is what [`Tokens`] keeps of a token: a SHA-256 as 64 lowercase hex digits.
pub fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
