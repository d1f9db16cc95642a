//! In-memory fakes of every port, for the tests of this crate and the layers above.
//!
//! They keep the ports' contracts (atomic branch moves, one run per claim, one service per
//! name) so tests written against them hold for the real adapters. Time is a counter.

use crate::engine::{Crashed, FaultHook, FaultPoint};
use crate::fileset::FileEntry;
use crate::fileset::{FileSet, RepoPath};
use crate::names::{BranchName, RepoName, ServiceName};
use crate::plan::{Effect, Plan, RunId, TreeMode};
use crate::ports::*;
use async_trait::async_trait;
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone)]
pub struct MemCommit {
    /// The first parent.
    pub parent: Option<CommitId>,
    /// A merge commit's second parent.
    pub merged: Option<CommitId>,
    pub tree: FileSet,
    pub message: String,
}

#[derive(Debug, Default, Clone)]
pub struct MemRepo {
    pub description: String,
    pub branches: BTreeMap<BranchName, CommitId>,
    pub commits: HashMap<CommitId, MemCommit>,
}

/// Awaited before every repository creation; an error fails the creation.
pub type CreateHook =
    Arc<dyn Fn(&RepoName) -> Pin<Box<dyn Future<Output = Result<(), PortError>> + Send>> + Send + Sync>;

/// A git host in memory.
#[derive(Default)]
pub struct MemoryGitHost {
    repos: Mutex<BTreeMap<RepoName, MemRepo>>,
    next_id: Mutex<u64>,
    /// What the next calls do, one entry per call: fail with a kind, or pass (`None`).
    failures: Mutex<VecDeque<Option<PortErrorKind>>>,
    before_create: Mutex<Option<CreateHook>>,
    lookups: AtomicUsize,
}

impl MemoryGitHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `hook` before every repository creation: to make creations wait for each other,
    /// or fail.
    pub fn before_create_repo(&self, hook: CreateHook) {
        *lock(&self.before_create) = Some(hook);
    }

    /// The next `n` calls fail with `kind`.
    pub fn fail_next(&self, n: usize, kind: PortErrorKind) {
        self.fail_later(0, n, kind);
    }

    /// After `skip` calls that pass, the `n` calls after them fail with `kind`.
    pub fn fail_later(&self, skip: usize, n: usize, kind: PortErrorKind) {
        let mut failures = lock(&self.failures);
        failures.extend(std::iter::repeat_n(None, skip));
        failures.extend(std::iter::repeat_n(Some(kind), n));
    }

    fn next_id(&self) -> CommitId {
        let mut n = lock(&self.next_id);
        *n += 1;
        CommitId(format!("{:040x}", *n))
    }

    fn injected(&self) -> Result<(), PortError> {
        match lock(&self.failures).pop_front().flatten() {
            Some(kind) => Err(PortError::new(kind, "injected failure")),
            None => Ok(()),
        }
    }

    /// How many times a commit was looked for by its trailer.
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }

    pub fn repo(&self, name: &str) -> Option<MemRepo> {
        lock(&self.repos).iter().find(|(n, _)| n.as_str() == name).map(|(_, r)| r.clone())
    }

    pub fn repo_names(&self) -> Vec<String> {
        lock(&self.repos).keys().map(|r| r.to_string()).collect()
    }

    /// Every commit message of a branch, newest first.
    pub fn history(&self, repo: &str, branch: &str) -> Vec<String> {
        let Some(r) = self.repo(repo) else {
            return vec![];
        };
        let mut out = vec![];
        let mut at = r.branches.iter().find(|(b, _)| b.as_str() == branch).map(|(_, c)| c.clone());
        while let Some(id) = at {
            let c = &r.commits[&id];
            out.push(c.message.clone());
            at = c.parent.clone();
        }
        out
    }

    /// Puts a repository with one commit on `main`, as someone else would have.
    pub fn seed_foreign_repo(&self, name: &RepoName) {
        let id = CommitId("f".repeat(40));
        let mut repo = MemRepo::default();
        repo.commits.insert(
            id.clone(),
            MemCommit { parent: None, merged: None, tree: FileSet::new(), message: "foreign".into() },
        );
        repo.branches.insert(BranchName::main(), id);
        lock(&self.repos).insert(name.clone(), repo);
    }

    fn with_repo<T>(
        &self,
        repo: &RepoName,
        f: impl FnOnce(&mut MemRepo) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        self.injected()?;
        let mut repos = lock(&self.repos);
        let r = repos
            .get_mut(repo)
            .ok_or_else(|| PortError::new(PortErrorKind::NotFound, format!("repository {repo} does not exist")))?;
        f(r)
    }
}

#[async_trait]
impl GitHost for MemoryGitHost {
    async fn repo_exists(&self, repo: &RepoName) -> Result<bool, PortError> {
        self.injected()?;
        Ok(lock(&self.repos).contains_key(repo))
    }

    async fn create_repo(&self, repo: &RepoName, description: &str) -> Result<(), PortError> {
        self.injected()?;
        let hook = lock(&self.before_create).clone();
        if let Some(hook) = hook {
            hook(repo).await?;
        }
        let mut repos = lock(&self.repos);
        if repos.contains_key(repo) {
            return Err(PortError::new(PortErrorKind::AlreadyExists, format!("repository {repo} exists")));
        }
        repos.insert(repo.clone(), MemRepo { description: description.into(), ..Default::default() });
        Ok(())
    }

    async fn branches(&self, repo: &RepoName) -> Result<Vec<(BranchName, CommitId)>, PortError> {
        self.with_repo(repo, |r| Ok(r.branches.iter().map(|(b, c)| (b.clone(), c.clone())).collect()))
    }

    async fn branch_tip(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<CommitId>, PortError> {
        self.with_repo(repo, |r| Ok(r.branches.get(branch).cloned()))
    }

    async fn find_commit(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        line: &str,
        limit: usize,
    ) -> Result<Option<CommitId>, PortError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        self.with_repo(repo, |r| {
            let mut at = r.branches.get(branch).cloned();
            for _ in 0..limit {
                let Some(id) = at else { break };
                let c = &r.commits[&id];
                if c.message.lines().any(|l| l == line) {
                    return Ok(Some(id));
                }
                at = c.parent.clone();
            }
            Ok(None)
        })
    }

    async fn commit(&self, repo: &RepoName, request: CommitRequest<'_>) -> Result<CommitId, PortError> {
        let id = self.next_id();
        self.with_repo(repo, |r| {
            if r.branches.get(request.branch) != request.parent {
                return Err(PortError::new(
                    PortErrorKind::Conflict,
                    format!("branch {} of {repo} moved", request.branch),
                ));
            }
            let mut tree = match (request.mode, request.parent) {
                (TreeMode::Overlay, Some(p)) => r.commits[p].tree.clone(),
                _ => FileSet::new(),
            };
            tree.extend(request.files.clone());
            if let Some(parent) = request.parent
                && request.skip_unchanged
                && r.commits[parent].tree == tree
            {
                return Ok(parent.clone());
            }
            r.commits.insert(
                id.clone(),
                MemCommit { parent: request.parent.cloned(), merged: None, tree, message: request.message.to_owned() },
            );
            r.branches.insert(request.branch.clone(), id.clone());
            Ok(id)
        })
    }

    async fn create_branch(&self, repo: &RepoName, branch: &BranchName, at: &CommitId) -> Result<(), PortError> {
        self.with_repo(repo, |r| {
            if r.branches.contains_key(branch) {
                return Err(PortError::new(PortErrorKind::AlreadyExists, format!("branch {branch} exists")));
            }
            r.branches.insert(branch.clone(), at.clone());
            Ok(())
        })
    }

    async fn read_file(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        path: &RepoPath,
    ) -> Result<Option<Vec<u8>>, PortError> {
        self.with_repo(repo, |r| {
            Ok(r.branches.get(branch).and_then(|c| r.commits[c].tree.get(path.as_str())).map(|e| e.content.to_vec()))
        })
    }

    async fn read_tree(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<FileSet>, PortError> {
        self.with_repo(repo, |r| Ok(r.branches.get(branch).map(|c| r.commits[c].tree.clone())))
    }

    async fn merge_state(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        self.with_repo(repo, |r| Ok(r.merge_state(request)))
    }

    async fn merge(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        let id = self.next_id();
        self.with_repo(repo, |r| {
            let (into, from) = r.tips(request)?;
            let merged = r.merge_trees(&into, &from, request.renames, &r.commits[&from].tree.clone());
            let conflicts = merged.conflicts.clone();
            let mut message = request.message.trim_end().to_owned();
            for c in &conflicts {
                message.push_str(&format!("\n{}", c.trailer()));
            }
            let commit = MemCommit { parent: Some(into.clone()), merged: Some(from), tree: merged.tree, message };
            r.commits.insert(id.clone(), commit);
            if conflicts.is_empty() {
                r.branches.insert(request.into.clone(), id);
                Ok(MergeState::Merged)
            } else {
                r.branches.insert(request.conflict_branch.clone(), id.clone());
                Ok(MergeState::Conflicted { commit: id, conflicts })
            }
        })
    }

    async fn preview_merge(
        &self,
        repo: &RepoName,
        request: &MergeRequest<'_>,
        files: &FileSet,
    ) -> Result<MergePreview, PortError> {
        self.with_repo(repo, |r| {
            let (into, from) = r.tips(request)?;
            let merged = r.merge_trees(&into, &from, request.renames, files);
            let ours = &r.commits[&into].tree;
            let mut changes = Vec::new();
            for (path, entry) in merged.tree.iter() {
                match ours.get(path.as_str()) {
                    None => changes.push((path.to_string(), FileChange::Added)),
                    Some(e) if e.content != entry.content => changes.push((path.to_string(), FileChange::Modified)),
                    Some(_) => {}
                }
            }
            for path in ours.paths() {
                if merged.tree.get(path.as_str()).is_none() {
                    changes.push((path.to_string(), FileChange::Removed));
                }
            }
            changes.sort();
            Ok(MergePreview { changes, conflicts: merged.conflicts })
        })
    }

    fn clone_url(&self, repo: &RepoName) -> String {
        format!("memory://{repo}")
    }
}

struct MemMerge {
    tree: FileSet,
    conflicts: Vec<MergeConflict>,
}

impl MemRepo {
    fn tips(&self, request: &MergeRequest<'_>) -> Result<(CommitId, CommitId), PortError> {
        let tip = |b: &BranchName| {
            self.branches
                .get(b)
                .cloned()
                .ok_or_else(|| PortError::new(PortErrorKind::NotFound, format!("no branch {b}")))
        };
        Ok((tip(request.into)?, tip(request.from)?))
    }

    /// `id` and every commit before it, through all parents.
    fn ancestry(&self, id: &CommitId) -> HashSet<CommitId> {
        let mut seen = HashSet::new();
        let mut pending = vec![id.clone()];
        while let Some(id) = pending.pop() {
            if seen.insert(id.clone()) {
                let c = &self.commits[&id];
                pending.extend(c.parent.iter().chain(c.merged.iter()).cloned());
            }
        }
        seen
    }

    fn merge_state(&self, request: &MergeRequest<'_>) -> MergeState {
        let (Some(into), Some(from)) = (self.branches.get(request.into), self.branches.get(request.from)) else {
            return MergeState::Pending;
        };
        if self.ancestry(into).contains(from) {
            return MergeState::Merged;
        }
        match self.branches.get(request.conflict_branch) {
            Some(c)
                if self.commits[c].parent.as_ref() == Some(into) && self.commits[c].merged.as_ref() == Some(from) =>
            {
                MergeState::Conflicted {
                    commit: c.clone(),
                    conflicts: MergeConflict::from_message(&self.commits[c].message),
                }
            }
            _ => MergeState::Pending,
        }
    }

    /// A file-level 3-way merge of `theirs` into `into`'s tree, the base being the newest
    /// commit of `from`'s first-parent line that `into` holds.
    fn merge_trees(
        &self,
        into: &CommitId,
        from: &CommitId,
        renames: &[(RepoPath, RepoPath)],
        theirs: &FileSet,
    ) -> MemMerge {
        let held = self.ancestry(into);
        let mut at = Some(from.clone());
        let mut base = FileSet::new();
        while let Some(id) = at {
            if held.contains(&id) {
                base = self.commits[&id].tree.clone();
                break;
            }
            at = self.commits[&id].parent.clone();
        }
        let mut ours = self.commits[into].tree.clone();
        for (old, new) in renames {
            for tree in [&mut base, &mut ours] {
                if let Some(entry) = tree.remove(old) {
                    tree.insert(new.clone(), entry);
                }
            }
        }
        let mut paths: Vec<RepoPath> = base.paths().chain(ours.paths()).chain(theirs.paths()).cloned().collect();
        paths.sort();
        paths.dedup();
        let mut tree = FileSet::new();
        let mut conflicts = Vec::new();
        for path in paths {
            let (b, o, t) = (base.get(path.as_str()), ours.get(path.as_str()), theirs.get(path.as_str()));
            let same = |x: Option<&FileEntry>, y: Option<&FileEntry>| x.map(|e| &e.content) == y.map(|e| &e.content);
            let (kept, kind) = if same(o, t) || same(b, t) {
                (o, None)
            } else if same(b, o) {
                (t, None)
            } else {
                match (o, t) {
                    (Some(_), Some(_)) => (o, Some(ConflictKind::Content)),
                    (Some(_), None) => (o, Some(ConflictKind::RemovedUpstream)),
                    (None, _) => (t, Some(ConflictKind::RemovedHere)),
                }
            };
            if let Some(kind) = kind {
                conflicts.push(MergeConflict { path: path.to_string(), kind });
            }
            if let Some(entry) = kept {
                tree.insert(path, entry.clone());
            }
        }
        MemMerge { tree, conflicts }
    }
}

#[derive(Default)]
struct StoreState {
    clock: i64,
    runs: BTreeMap<RunId, RunRecord>,
    created: Vec<RunId>,
    steps: BTreeMap<RunId, BTreeMap<usize, StepRecord>>,
    services: BTreeMap<ServiceName, (NewService, RunId, Timestamp)>,
    keys: HashMap<String, (String, RunId)>,
    claimed: HashSet<RunId>,
    /// The outbox, with each message's enqueue order.
    outbox: BTreeMap<MessageKey, (u64, OutboxRecord)>,
    /// Bearer tokens with their hashes, in the order they were added.
    tokens: Vec<(String, TokenRecord)>,
}

impl StoreState {
    fn tick(&mut self) -> Timestamp {
        self.clock += 1;
        Timestamp::from_second(1_800_000_000 + self.clock).expect("a small offset is a valid timestamp")
    }
}

/// A store in memory. Clones share the same state, like two connections to one database.
#[derive(Default, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<StoreState>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

struct MemClaim {
    state: Arc<Mutex<StoreState>>,
    run: RunId,
}

impl Claim for MemClaim {}

impl Drop for MemClaim {
    fn drop(&mut self) {
        lock(&self.state).claimed.remove(&self.run);
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_run(&self, run: NewRun) -> Result<RunCreated, PortError> {
        let mut s = lock(&self.state);
        if let Some(key) = &run.idempotency
            && let Some((fingerprint, existing)) = s.keys.get(&key.key)
        {
            return Ok(if *fingerprint == key.fingerprint {
                RunCreated::Replayed { run: existing.clone() }
            } else {
                RunCreated::KeyReused { run: existing.clone() }
            });
        }
        if let Some(service) = &run.service
            && let Some((_, existing, _)) = s.services.get(&service.name)
        {
            return Ok(RunCreated::ServiceExists { name: service.name.clone(), run: existing.clone() });
        }
        let now = s.tick();
        if let Some(key) = &run.idempotency {
            s.keys.insert(key.key.clone(), (key.fingerprint.clone(), run.id.clone()));
        }
        if let Some(service) = &run.service {
            s.services.insert(service.name.clone(), (service.clone(), run.id.clone(), now));
        }
        s.created.push(run.id.clone());
        s.runs.insert(
            run.id.clone(),
            RunRecord {
                id: run.id,
                operation: run.operation,
                state: RunState::Pending,
                request: run.request,
                service: run.service.map(|s| s.name),
                error: None,
                created_at: now,
                updated_at: now,
            },
        );
        Ok(RunCreated::Created)
    }

    async fn run(&self, id: &RunId) -> Result<Option<RunRecord>, PortError> {
        Ok(lock(&self.state).runs.get(id).cloned())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, PortError> {
        let s = lock(&self.state);
        Ok(s.created.iter().rev().take(limit).map(|id| s.runs[id].clone()).collect())
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError> {
        let s = lock(&self.state);
        Ok(s.created.iter().map(|id| &s.runs[id]).filter(|r| !r.state.is_finished()).cloned().collect())
    }

    async fn steps(&self, run: &RunId) -> Result<Vec<StepRecord>, PortError> {
        Ok(lock(&self.state).steps.get(run).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    async fn record(&self, run: &RunId, event: JournalEvent) -> Result<(), PortError> {
        let mut s = lock(&self.state);
        let now = s.tick();
        let not_found = || PortError::new(PortErrorKind::NotFound, format!("run {run} does not exist"));
        let set_run = |s: &mut StoreState, state: RunState, error: Option<String>| -> Result<(), PortError> {
            let r = s.runs.get_mut(run).ok_or_else(not_found)?;
            r.state = state;
            r.error = error;
            r.updated_at = now;
            Ok(())
        };
        match event {
            JournalEvent::RunStarted => set_run(&mut s, RunState::Running, None),
            JournalEvent::RunSucceeded => set_run(&mut s, RunState::Succeeded, None),
            JournalEvent::RunFailed { error } => set_run(&mut s, RunState::Failed, Some(error)),
            JournalEvent::StepStarted { index, name } => {
                if !s.runs.contains_key(run) {
                    return Err(not_found());
                }
                let steps = s.steps.entry(run.clone()).or_default();
                let step = steps.entry(index).or_insert(StepRecord {
                    index,
                    name,
                    state: StepState::Started,
                    attempts: 0,
                    detail: None,
                    error: None,
                    started_at: now,
                    finished_at: None,
                });
                step.state = StepState::Started;
                step.attempts += 1;
                step.error = None;
                Ok(())
            }
            JournalEvent::StepRetrying { index, error } => {
                let step = s.steps.get_mut(run).and_then(|m| m.get_mut(&index)).ok_or_else(not_found)?;
                step.attempts += 1;
                step.error = Some(error);
                Ok(())
            }
            JournalEvent::StepDone { index, detail } => {
                let step = s.steps.get_mut(run).and_then(|m| m.get_mut(&index)).ok_or_else(not_found)?;
                step.state = StepState::Done;
                step.detail = Some(detail);
                step.error = None;
                step.finished_at = Some(now);
                Ok(())
            }
            JournalEvent::StepFailed { index, error } => {
                let step = s.steps.get_mut(run).and_then(|m| m.get_mut(&index)).ok_or_else(not_found)?;
                step.state = StepState::Failed;
                step.error = Some(error);
                step.finished_at = Some(now);
                Ok(())
            }
        }
    }

    async fn reopen_run(&self, run: &RunId) -> Result<(), PortError> {
        let mut s = lock(&self.state);
        let now = s.tick();
        let r = s
            .runs
            .get_mut(run)
            .ok_or_else(|| PortError::new(PortErrorKind::NotFound, format!("run {run} does not exist")))?;
        if r.state == RunState::Failed {
            r.state = RunState::Pending;
            r.updated_at = now;
        }
        Ok(())
    }

    async fn service(&self, name: &ServiceName) -> Result<Option<ServiceRecord>, PortError> {
        let s = lock(&self.state);
        Ok(s.services.get(name).map(|(svc, run, at)| service_record(&s, svc, run, *at)))
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError> {
        let s = lock(&self.state);
        Ok(s.services.values().map(|(svc, run, at)| service_record(&s, svc, run, *at)).collect())
    }

    async fn set_blueprint_version(&self, name: &ServiceName, version: &str) -> Result<(), PortError> {
        let mut s = lock(&self.state);
        let (service, _, _) = s
            .services
            .get_mut(name)
            .ok_or_else(|| PortError::new(PortErrorKind::NotFound, format!("service {name} does not exist")))?;
        service.blueprint_version = version.to_owned();
        Ok(())
    }

    async fn try_claim(&self, run: &RunId) -> Result<Option<Box<dyn Claim>>, PortError> {
        let mut s = lock(&self.state);
        if !s.claimed.insert(run.clone()) {
            return Ok(None);
        }
        Ok(Some(Box::new(MemClaim { state: self.state.clone(), run: run.clone() })))
    }
}

/// `t` to the microsecond, as the stores keep outbox times.
fn to_micros(t: Timestamp) -> Result<Timestamp, PortError> {
    Timestamp::from_microsecond(t.as_microsecond())
        .map_err(|e| PortError::permanent("a time outside the representable range").with_source(e))
}

fn outbox_missing(key: &MessageKey) -> PortError {
    PortError::new(PortErrorKind::NotFound, format!("message {key} is not in the outbox"))
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn enqueue(&self, message: &OutgoingMessage, now: Timestamp) -> Result<bool, PortError> {
        let now = to_micros(now)?;
        let mut s = lock(&self.state);
        if s.outbox.contains_key(&message.key) {
            return Ok(false);
        }
        let seq = u64::try_from(s.outbox.len()).unwrap_or(u64::MAX);
        let record = OutboxRecord {
            message: message.clone(),
            state: MessageState::Pending,
            attempts: 0,
            last_error: None,
            created_at: now,
            next_attempt_at: now,
            leased_until: None,
            sent_at: None,
        };
        s.outbox.insert(message.key.clone(), (seq, record));
        Ok(true)
    }

    async fn claim_due(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Vec<Delivery>, PortError> {
        let now = to_micros(now)?;
        let until = to_micros(
            now.checked_add(lease).map_err(|e| PortError::permanent("a lease beyond the calendar").with_source(e))?,
        )?;
        let mut s = lock(&self.state);
        let mut due: Vec<(Timestamp, u64, MessageKey)> = s
            .outbox
            .values()
            .filter(|(_, r)| {
                r.state == MessageState::Pending && r.next_attempt_at <= now && r.leased_until.is_none_or(|l| l <= now)
            })
            .map(|(seq, r)| (r.next_attempt_at, *seq, r.message.key.clone()))
            .collect();
        due.sort();
        let mut claimed = Vec::new();
        for (_, _, key) in due.into_iter().take(limit) {
            let Some((_, r)) = s.outbox.get_mut(&key) else { continue };
            r.attempts += 1;
            r.leased_until = Some(until);
            claimed.push(Delivery { message: r.message.clone(), attempt: r.attempts, leased_until: until });
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, key: &MessageKey, _attempt: u32, now: Timestamp) -> Result<(), PortError> {
        let now = to_micros(now)?;
        let mut s = lock(&self.state);
        let (_, r) = s.outbox.get_mut(key).ok_or_else(|| outbox_missing(key))?;
        match r.state {
            MessageState::Sent => Ok(()),
            MessageState::Failed => Err(PortError::new(
                PortErrorKind::Conflict,
                format!("message {key} failed for good before its send was recorded"),
            )),
            MessageState::Pending => {
                r.state = MessageState::Sent;
                r.sent_at = Some(now);
                r.leased_until = None;
                r.last_error = None;
                Ok(())
            }
        }
    }

    async fn mark_failed(
        &self,
        key: &MessageKey,
        attempt: u32,
        error: &str,
        retry_at: Option<Timestamp>,
        _now: Timestamp,
    ) -> Result<(), PortError> {
        let retry_at = retry_at.map(to_micros).transpose()?;
        let mut s = lock(&self.state);
        let (_, r) = s.outbox.get_mut(key).ok_or_else(|| outbox_missing(key))?;
        if r.state != MessageState::Pending || r.attempts != attempt {
            return Err(PortError::new(
                PortErrorKind::Conflict,
                format!("message {key} is no longer pending under attempt {attempt}"),
            ));
        }
        r.last_error = Some(error.to_owned());
        r.leased_until = None;
        match retry_at {
            Some(at) => r.next_attempt_at = at,
            None => r.state = MessageState::Failed,
        }
        Ok(())
    }

    async fn message(&self, key: &MessageKey) -> Result<Option<OutboxRecord>, PortError> {
        Ok(lock(&self.state).outbox.get(key).map(|(_, r)| r.clone()))
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, PortError> {
        let s = lock(&self.state);
        Ok(s.outbox
            .values()
            .filter(|(_, r)| r.state == MessageState::Pending)
            .map(|(_, r)| r.leased_until.map_or(r.next_attempt_at, |l| l.max(r.next_attempt_at)))
            .min())
    }
}

fn token_missing(id: &str) -> PortError {
    PortError::new(PortErrorKind::NotFound, format!("token {id} does not exist"))
}

#[async_trait]
impl Tokens for MemoryStore {
    async fn add_token(
        &self,
        id: &str,
        sha256_hex: &str,
        email: &crate::EmailAddress,
        admin: bool,
        now: Timestamp,
    ) -> Result<TokenRecord, PortError> {
        if !is_sha256_hex(sha256_hex) {
            return Err(PortError::permanent(format!("token {id}: the hash is not a SHA-256 in lowercase hex")));
        }
        let now = to_micros(now)?;
        let mut s = lock(&self.state);
        if s.tokens.iter().any(|(hash, r)| r.id == id || hash == sha256_hex) {
            return Err(PortError::new(
                PortErrorKind::AlreadyExists,
                format!("a token with id {id} or with the same hash exists"),
            ));
        }
        let record = TokenRecord {
            id: id.to_owned(),
            email: email.normalized(),
            admin,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        s.tokens.push((sha256_hex.to_owned(), record.clone()));
        Ok(record)
    }

    async fn token_by_hash(&self, sha256_hex: &str) -> Result<Option<TokenRecord>, PortError> {
        Ok(lock(&self.state).tokens.iter().find(|(hash, _)| hash == sha256_hex).map(|(_, r)| r.clone()))
    }

    async fn mark_token_used(&self, id: &str, now: Timestamp) -> Result<(), PortError> {
        let now = to_micros(now)?;
        let mut s = lock(&self.state);
        let (_, r) = s.tokens.iter_mut().find(|(_, r)| r.id == id).ok_or_else(|| token_missing(id))?;
        if r.revoked_at.is_none() && r.last_used_at.is_none_or(|t| t < now) {
            r.last_used_at = Some(now);
        }
        Ok(())
    }

    async fn revoke_token(&self, id: &str, now: Timestamp) -> Result<bool, PortError> {
        let now = to_micros(now)?;
        let mut s = lock(&self.state);
        let (_, r) = s.tokens.iter_mut().find(|(_, r)| r.id == id).ok_or_else(|| token_missing(id))?;
        if r.revoked_at.is_some() {
            return Ok(false);
        }
        r.revoked_at = Some(now);
        Ok(true)
    }

    async fn tokens(&self, email: Option<&crate::EmailAddress>) -> Result<Vec<TokenRecord>, PortError> {
        let email = email.map(crate::EmailAddress::normalized);
        let s = lock(&self.state);
        Ok(s.tokens.iter().map(|(_, r)| r).filter(|r| email.as_ref().is_none_or(|e| &r.email == e)).cloned().collect())
    }

    async fn has_confirmed_token(&self, email: &crate::EmailAddress) -> Result<bool, PortError> {
        let email = email.normalized();
        Ok(lock(&self.state).tokens.iter().any(|(_, r)| r.email == email && r.is_confirmed()))
    }
}

/// A notifier in memory: keeps what it was given, and fails when told to.
#[derive(Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<OutgoingMessage>>,
    /// What the next calls do, one entry per call: fail with a kind, or pass (`None`).
    failures: Mutex<VecDeque<Option<PortErrorKind>>>,
    calls: AtomicUsize,
}

impl MemoryNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` sends fail with `kind`.
    pub fn fail_next(&self, n: usize, kind: PortErrorKind) {
        lock(&self.failures).extend(std::iter::repeat_n(Some(kind), n));
    }

    /// Every message accepted, in order.
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        lock(&self.sent).clone()
    }

    /// Every call to `send`, failed ones included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(kind) = lock(&self.failures).pop_front().flatten() {
            return Err(PortError::new(kind, format!("injected failure sending {}", message.key)));
        }
        lock(&self.sent).push(message.clone());
        Ok(())
    }
}

fn service_record(s: &StoreState, svc: &NewService, run: &RunId, at: Timestamp) -> ServiceRecord {
    ServiceRecord {
        name: svc.name.clone(),
        kind: svc.kind.clone(),
        blueprint_version: svc.blueprint_version.clone(),
        owner: svc.owner.clone(),
        description: svc.description.clone(),
        repos: svc.repos.clone(),
        run: run.clone(),
        run_state: s.runs.get(run).map_or(RunState::Pending, |r| r.state),
        created_at: at,
    }
}

/// Does not wait.
pub struct NoPause;

#[async_trait]
impl Pause for NoPause {
    async fn pause(&self, _: Duration) {}
}

/// Crashes the run at one fault point.
pub struct CrashAt(pub FaultPoint);

impl FaultHook for CrashAt {
    fn reached(&self, point: FaultPoint) -> Result<(), Crashed> {
        if point == self.0 { Err(Crashed(point)) } else { Ok(()) }
    }
}

/// The shape of create-service, small: a repository `svc` with a pristine render on the
/// template branch and `main` started from it, then a shared repository `gitops` that gets a
/// registration committed on top of whatever it holds. Five steps.
pub fn sample_plan() -> Plan {
    let repo = |name: &str| RepoName::parse(name).expect("a valid literal repository name");
    let files = |path: &str, content: &str| {
        let path = RepoPath::parse(path).expect("a valid literal path");
        Arc::new([(path, FileEntry::new(content.as_bytes().to_vec()))].into_iter().collect::<FileSet>())
    };
    let mut plan = Plan::default();
    plan.push("ensure-repo svc", Effect::EnsureRepo { repo: repo("svc"), description: "d".into(), shared: false });
    plan.push(
        "render svc",
        Effect::Commit {
            repo: repo("svc"),
            branch: BranchName::template(),
            files: files("README.md", "hi\n"),
            mode: TreeMode::Replace,
            message: "Render".into(),
            skip_unchanged: false,
        },
    );
    plan.push(
        "start-branch svc main",
        Effect::StartBranch { repo: repo("svc"), branch: BranchName::main(), from: BranchName::template() },
    );
    plan.push("ensure-repo gitops", Effect::EnsureRepo { repo: repo("gitops"), description: "d".into(), shared: true });
    plan.push(
        "register svc",
        Effect::Commit {
            repo: repo("gitops"),
            branch: BranchName::main(),
            files: files("services/svc/app.yaml", "kind: Application\n"),
            mode: TreeMode::Overlay,
            message: "Register svc".into(),
            skip_unchanged: false,
        },
    );
    plan
}

/// Workspaces in memory, as a cluster would keep them; tests move them between phases.
#[derive(Default)]
pub struct MemoryWorkspaces {
    workspaces: Mutex<BTreeMap<crate::workspace::WorkspaceName, crate::workspace::Workspace>>,
}

impl MemoryWorkspaces {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<crate::workspace::WorkspaceName, crate::workspace::Workspace>> {
        self.workspaces.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the controller would do: set a workspace's phase and node port.
    pub fn set_phase(&self, name: &str, phase: crate::workspace::WorkspacePhase, node_port: Option<u16>) {
        if let Some(w) = self.lock().values_mut().find(|w| w.name.as_str() == name) {
            w.status.phase = phase;
            w.status.node_port = node_port;
            w.status.access_command = node_port.map(|p| format!("ssh -p {p} {}@localhost", w.user));
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().keys().map(ToString::to_string).collect()
    }
}

#[async_trait]
impl crate::workspace::WorkspaceCluster for MemoryWorkspaces {
    async fn create(&self, w: &crate::workspace::Workspace) -> Result<crate::workspace::Workspace, PortError> {
        let mut all = self.lock();
        if all.contains_key(&w.name) {
            return Err(PortError::new(PortErrorKind::AlreadyExists, format!("workspace {} exists", w.name)));
        }
        let mut created = w.clone();
        created.status = crate::workspace::WorkspaceStatus {
            access_host: Some("localhost".to_owned()),
            ..Default::default()
        };
        all.insert(w.name.clone(), created.clone());
        Ok(created)
    }

    async fn list(
        &self,
        owner: Option<&crate::email::EmailAddress>,
    ) -> Result<Vec<crate::workspace::Workspace>, PortError> {
        Ok(self.lock().values().filter(|w| owner.is_none_or(|o| w.is_owned_by(o))).cloned().collect())
    }

    async fn get(
        &self,
        name: &crate::workspace::WorkspaceName,
    ) -> Result<Option<crate::workspace::Workspace>, PortError> {
        Ok(self.lock().get(name).cloned())
    }

    async fn delete(&self, name: &crate::workspace::WorkspaceName) -> Result<bool, PortError> {
        Ok(self.lock().remove(name).is_some())
    }
}
