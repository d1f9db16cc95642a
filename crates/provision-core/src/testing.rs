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

/// A git host in memory. Its merges are git's 3-way merges, line by line with git's markers,
/// renames followed (see `MemRepo::merge_trees`); `provision-git`'s contract suite
/// (`tests/it/contract`) holds it to the gix adapter.
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

    async fn delete_repo(&self, repo: &RepoName) -> Result<(), PortError> {
        self.injected()?;
        match lock(&self.repos).remove(repo) {
            Some(_) => Ok(()),
            None => Err(PortError::new(PortErrorKind::NotFound, format!("repository {repo} does not exist"))),
        }
    }

    async fn log(&self, repo: &RepoName, limit: usize) -> Result<Vec<LoggedCommit>, PortError> {
        self.with_repo(repo, |r| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            let mut stack: Vec<CommitId> = r.branches.values().rev().cloned().collect();
            while let Some(id) = stack.pop() {
                if out.len() == limit {
                    break;
                }
                if !seen.insert(id.clone()) {
                    continue;
                }
                let c = &r.commits[&id];
                stack.extend(c.merged.iter().chain(c.parent.iter()).cloned());
                out.push(LoggedCommit { id, message: c.message.clone() });
            }
            Ok(out)
        })
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
                (TreeMode::Overlay | TreeMode::Remove, Some(p)) => r.commits[p].tree.clone(),
                _ => FileSet::new(),
            };
            if request.mode == TreeMode::Remove {
                tree = tree
                    .iter()
                    .filter(|(path, _)| request.files.get(path.as_str()).is_none())
                    .map(|(p, e)| (p.clone(), e.clone()))
                    .collect();
            } else {
                tree.extend(request.files.clone());
            }
            if let Some(path) = file_and_directory(&tree) {
                return Err(PortError::permanent(format!(
                    "{path} would be both a file and a directory on branch {} of {repo}",
                    request.branch
                )));
            }
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
            if !r.commits.contains_key(at) {
                return Err(PortError::new(PortErrorKind::NotFound, format!("commit {at} does not exist in {repo}")));
            }
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
            // Done already (merged, or this very merge committed with conflicts): nothing to do.
            match r.merge_state(request) {
                MergeState::Pending => {}
                done => return Ok(done),
            }
            let merged = r.merge_trees(repo, (&into, &from), request, &r.commits[&from].tree)?;
            let conflicts = merged.conflicts.clone();
            let mut message = request.message.trim_end().to_owned();
            for c in &conflicts {
                message.push_str(&format!("\n{}", c.trailer()));
            }
            message.push('\n');
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
            let merged = r.merge_trees(repo, (&into, &from), request, files)?;
            let ours = &r.commits[&into].tree;
            let mut changes = Vec::new();
            for (path, entry) in merged.tree.iter() {
                match ours.get(path.as_str()) {
                    None => changes.push((path.to_string(), FileChange::Added)),
                    // A new mode is a change too, as git sees it.
                    Some(e) if e != entry => changes.push((path.to_string(), FileChange::Modified)),
                    Some(_) => {}
                }
            }
            for path in ours.paths() {
                if merged.tree.get(path.as_str()).is_none() {
                    changes.push((path.to_string(), FileChange::Removed));
                }
            }
            changes.sort();
            let content = |tree: &FileSet, path: &str| tree.get(path).map(|e| e.content.to_vec());
            let contents = changes
                .iter()
                .map(|(path, _)| (path.clone(), (content(ours, path), content(&merged.tree, path))))
                .collect();
            Ok(MergePreview { changes, conflicts: merged.conflicts, contents })
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

    /// The newest commit of `from`'s first-parent line that `into` holds: the merge base, for
    /// a template branch that only ever grows.
    fn merge_base(&self, into: &CommitId, from: &CommitId) -> Option<CommitId> {
        let held = self.ancestry(into);
        let mut at = Some(from.clone());
        while let Some(id) = at {
            if held.contains(&id) {
                return Some(id);
            }
            at = self.commits[&id].parent.clone();
        }
        None
    }

    /// A 3-way merge of `theirs` into `into`'s tree from their merge base, as git makes it:
    /// `request.renames` applied to the base and `into` first, renames on either side found
    /// by similarity (identical files, or ones sharing at least half their bytes line by
    /// line: close to git's 50 % score), each file merged line by line with git's conflict
    /// markers (changes that overlap or touch conflict; lines common to both sides' versions
    /// at the edges of a conflict stay outside the markers), a binary file changed on both
    /// sides kept as it is here, and a file where the other side has a directory moved aside
    /// to `<path>~<branch>`. Where diffs are ambiguous (repeated lines) the hunks may differ
    /// from git's.
    fn merge_trees(
        &self,
        repo: &RepoName,
        (into, from): (&CommitId, &CommitId),
        request: &MergeRequest<'_>,
        theirs: &FileSet,
    ) -> Result<MemMerge, PortError> {
        let Some(base) = self.merge_base(into, from) else {
            return Err(PortError::permanent(format!(
                "branches {} and {} of {repo} share no history, so there is no base to merge from",
                request.into, request.from
            )));
        };
        let mut base = self.commits[&base].tree.clone();
        let mut ours = self.commits[into].tree.clone();
        let mut theirs = theirs.clone();
        for (old, new) in request.renames {
            for tree in [&mut base, &mut ours] {
                move_file(tree, old, new);
            }
        }
        let mut conflicts = BTreeMap::new();
        follow_renames(&mut base, &mut ours, &mut theirs, &mut conflicts);

        let mut paths: Vec<RepoPath> = base.paths().chain(ours.paths()).chain(theirs.paths()).cloned().collect();
        paths.sort();
        paths.dedup();
        let labels = (request.into.as_str(), request.from.as_str());
        let mut tree = FileSet::new();
        for path in paths {
            let (b, o, t) = (base.get(path.as_str()), ours.get(path.as_str()), theirs.get(path.as_str()));
            let (kept, kind) = merge_file(b, o, t, labels);
            if let Some(kind) = kind {
                conflicts.entry(path.to_string()).or_insert(kind);
            }
            if let Some(entry) = kept {
                tree.insert(path, entry);
            }
        }

        // A file where the other side has a directory: git keeps the directory and moves the
        // file aside, named after the branch it came from.
        let mut directories = HashSet::new();
        for path in tree.paths() {
            let p = path.as_str();
            directories.extend(p.match_indices('/').map(|(i, _)| p[..i].to_owned()));
        }
        let clashing: Vec<RepoPath> = tree.paths().filter(|p| directories.contains(p.as_str())).cloned().collect();
        for path in clashing {
            let side = if ours.contains(&path) { request.into } else { request.from };
            let aside = RepoPath::parse(&format!("{path}~{}", side.as_str().replace('/', "_")));
            if let (Ok(aside), Some(entry)) = (aside, tree.remove(&path)) {
                tree.insert(aside, entry);
            }
            conflicts.insert(path.to_string(), ConflictKind::Tree);
        }
        let conflicts = conflicts.into_iter().map(|(path, kind)| MergeConflict { path, kind }).collect();
        Ok(MemMerge { tree, conflicts })
    }
}

/// The first path of `tree` that is a file and, for another file, a directory: git cannot hold
/// both.
fn file_and_directory(tree: &FileSet) -> Option<&RepoPath> {
    let mut directories = HashSet::new();
    for path in tree.paths() {
        let p = path.as_str();
        directories.extend(p.match_indices('/').map(|(i, _)| &p[..i]));
    }
    tree.paths().find(|p| directories.contains(p.as_str()))
}

/// Moves the file at `old`, if there is one, to `new`.
fn move_file(tree: &mut FileSet, old: &RepoPath, new: &RepoPath) {
    if let Some(entry) = tree.remove(old) {
        tree.insert(new.clone(), entry);
    }
}

/// Applies the renames each side made (as [`renames_in`] finds them) to the base and the
/// other side, so that what one side changed at the old path meets the file at its new one.
/// A rename the other side cannot follow is a tree conflict, as in git: renamed to two places
/// (at our new path; both files stay), or renamed on one side and removed on the other (at
/// our path of the file; the renamed file stays). Where the other side has a file at the new
/// path already, git merges the two files as added on both sides, and so does this.
fn follow_renames(
    base: &mut FileSet,
    ours: &mut FileSet,
    theirs: &mut FileSet,
    conflicts: &mut BTreeMap<String, ConflictKind>,
) {
    let in_ours = renames_in(base, ours);
    let in_theirs = renames_in(base, theirs);
    for (old, new) in &in_theirs {
        match in_ours.get(old) {
            Some(ours_new) if ours_new == new => move_file(base, old, new),
            Some(ours_new) => {
                base.remove(old);
                conflicts.insert(ours_new.to_string(), ConflictKind::Tree);
            }
            None if !ours.contains(old) => {
                conflicts.insert(old.to_string(), ConflictKind::Tree);
            }
            None if ours.contains(new) => {}
            None => {
                move_file(base, old, new);
                move_file(ours, old, new);
            }
        }
    }
    for (old, new) in &in_ours {
        if in_theirs.contains_key(old) || theirs.contains(new) {
            continue;
        }
        if theirs.contains(old) {
            move_file(base, old, new);
            move_file(theirs, old, new);
        } else {
            conflicts.insert(new.to_string(), ConflictKind::Tree);
        }
    }
}

/// The renames git's rename detection finds from `base` to `side`, old path to new: a
/// non-empty file gone from `side` paired with a file new there that is identical or similar
/// enough, best pairs first.
fn renames_in(base: &FileSet, side: &FileSet) -> BTreeMap<RepoPath, RepoPath> {
    let gone: Vec<(&RepoPath, &FileEntry)> =
        base.iter().filter(|(p, e)| !side.contains(p) && !e.content.is_empty()).collect();
    let added: Vec<(&RepoPath, &FileEntry)> =
        side.iter().filter(|(p, e)| !base.contains(p) && !e.content.is_empty()).collect();
    let mut candidates = Vec::new();
    for (old, before) in &gone {
        for (new, after) in &added {
            let score = similarity(&before.content, &after.content);
            if score >= 0.5 {
                candidates.push((score, *old, *new));
            }
        }
    }
    // Best score first; among equals, by path, so the pairing does not depend on hashing.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| (a.1, a.2).cmp(&(b.1, b.2))));
    let mut renames = BTreeMap::new();
    let mut taken = HashSet::new();
    for (_, old, new) in candidates {
        if !renames.contains_key(old) && taken.insert(new) {
            renames.insert(old.clone(), new.clone());
        }
    }
    renames
}

/// How much of `a` and `b` is the same: the bytes of their common lines over the larger size.
fn similarity(a: &[u8], b: &[u8]) -> f64 {
    if a == b {
        return 1.0;
    }
    let larger = a.len().max(b.len());
    // The common part is at most the smaller file: skip diffs that cannot reach half.
    if a.len().min(b.len()) * 2 < larger {
        return 0.0;
    }
    let before = lines_of(a);
    let changed: usize =
        diff_lines(&before, &lines_of(b)).iter().flat_map(|h| &before[h.base.clone()]).map(|line| line.len()).sum();
    (a.len() - changed) as f64 / larger as f64
}

/// One file's 3-way merge: what stays at its path, and the conflict there if any.
fn merge_file(
    base: Option<&FileEntry>,
    ours: Option<&FileEntry>,
    theirs: Option<&FileEntry>,
    labels: (&str, &str),
) -> (Option<FileEntry>, Option<ConflictKind>) {
    if ours == theirs || base == theirs {
        return (ours.cloned(), None);
    }
    if base == ours {
        return (theirs.cloned(), None);
    }
    match (ours, theirs) {
        (Some(o), Some(t)) => {
            // The mode merges on its own: a side that changed it wins.
            let executable = if base.map(|b| b.executable) == Some(o.executable) { t.executable } else { o.executable };
            let (content, kind) = merge_content(base.map(|b| &*b.content), &o.content, &t.content, labels);
            (Some(FileEntry { content, executable }), kind)
        }
        (Some(o), None) => (Some(o.clone()), Some(ConflictKind::RemovedUpstream)),
        (None, Some(t)) => (Some(t.clone()), Some(ConflictKind::RemovedHere)),
        (None, None) => (None, None),
    }
}

/// The merge of a file's contents changed on both sides (`base` is `None` when both added it).
fn merge_content(
    base: Option<&[u8]>,
    ours: &Arc<[u8]>,
    theirs: &Arc<[u8]>,
    (into, from): (&str, &str),
) -> (Arc<[u8]>, Option<ConflictKind>) {
    let base = base.unwrap_or_default();
    if ours == theirs || *base == **theirs {
        return (ours.clone(), None);
    }
    if *base == **ours {
        return (theirs.clone(), None);
    }
    // Git's test for binary: a NUL byte among the first 8000.
    let binary = |data: &[u8]| data.iter().take(8000).any(|&b| b == 0);
    if binary(base) || binary(ours) || binary(theirs) {
        return (ours.clone(), Some(ConflictKind::Binary));
    }
    let (b, o, t) = (lines_of(base), lines_of(ours), lines_of(theirs));
    let (ours_hunks, theirs_hunks) = (diff_lines(&b, &o), diff_lines(&b, &t));
    let mut out: Vec<u8> = Vec::new();
    let mut conflicted = false;
    // The base lines written so far, and how far each side's lines are ahead of the base's.
    let (mut done, mut ours_shift, mut theirs_shift) = (0, 0isize, 0isize);
    let (mut i, mut j) = (0, 0);
    loop {
        let start = match (ours_hunks.get(i), theirs_hunks.get(j)) {
            (None, None) => break,
            (Some(h), None) | (None, Some(h)) => h.base.start,
            (Some(x), Some(y)) => x.base.start.min(y.base.start),
        };
        // Every hunk of either side overlapping or touching the region joins it.
        let (mut end, first_ours, first_theirs) = (start, i, j);
        loop {
            if let Some(h) = ours_hunks.get(i).filter(|h| h.base.start <= end) {
                end = end.max(h.base.end);
                i += 1;
            } else if let Some(h) = theirs_hunks.get(j).filter(|h| h.base.start <= end) {
                end = end.max(h.base.end);
                j += 1;
            } else {
                break;
            }
        }
        out.extend(b[done..start].concat());
        let region = |lines: &[&[u8]], hunks: &[Hunk], shift: &mut isize| -> Vec<u8> {
            let from = start.saturating_add_signed(*shift);
            *shift += hunks.iter().map(|h| h.side.len() as isize - h.base.len() as isize).sum::<isize>();
            lines[from..end.saturating_add_signed(*shift)].concat()
        };
        let mine = region(&o, &ours_hunks[first_ours..i], &mut ours_shift);
        let other = region(&t, &theirs_hunks[first_theirs..j], &mut theirs_shift);
        if first_theirs == j || mine == other {
            out.extend(mine);
        } else if first_ours == i {
            out.extend(other);
        } else {
            conflicted = true;
            write_conflict(&mut out, &lines_of(&mine), &lines_of(&other), (into, from));
        }
        done = end;
    }
    out.extend(b[done..].concat());
    (out.into(), conflicted.then_some(ConflictKind::Content))
}

/// Both sides' versions of a region between git's markers, the lines they share at either edge
/// outside them. A side not ending in a newline gets one before the next marker.
fn write_conflict(out: &mut Vec<u8>, ours: &[&[u8]], theirs: &[&[u8]], (into, from): (&str, &str)) {
    let head = ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
    let tail = ours[head..].iter().rev().zip(theirs[head..].iter().rev()).take_while(|(a, b)| a == b).count();
    out.extend(ours[..head].concat());
    let mut side = |marker: String, lines: &[&[u8]]| {
        out.extend(marker.as_bytes());
        out.extend(lines.concat());
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    };
    side(format!("<<<<<<< {into}\n"), &ours[head..ours.len() - tail]);
    side("=======\n".to_owned(), &theirs[head..theirs.len() - tail]);
    out.extend(format!(">>>>>>> {from}\n").as_bytes());
    out.extend(ours[ours.len() - tail..].concat());
}

/// The lines of `data`, each with its newline (the last one may have none).
fn lines_of(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// Base lines `base` replaced by the side's lines `side`.
#[derive(Debug)]
struct Hunk {
    base: std::ops::Range<usize>,
    side: std::ops::Range<usize>,
}

/// The hunks turning `a` into `b`, from a longest common subsequence of their lines.
fn diff_lines(a: &[&[u8]], b: &[&[u8]]) -> Vec<Hunk> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (x, y) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    // common[i][j]: the length of the longest common subsequence of x[i..] and y[j..].
    let width = y.len() + 1;
    let mut common = vec![0u32; (x.len() + 1) * width];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            common[i * width + j] = if x[i] == y[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let mut hunks: Vec<Hunk> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            i += 1;
            j += 1;
            continue;
        }
        let (from_i, from_j) = (i, j);
        if j < y.len() && (i == x.len() || common[i * width + j + 1] > common[(i + 1) * width + j]) {
            j += 1;
        } else {
            i += 1;
        }
        // Grows the hunk ending where this step started, or opens one.
        match hunks.last_mut() {
            Some(h) if h.base.end == head + from_i && h.side.end == head + from_j => {
                h.base.end = head + i;
                h.side.end = head + j;
            }
            _ => hunks.push(Hunk { base: head + from_i..head + i, side: head + from_j..head + j }),
        }
    }
    hunks
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

    async fn forget_service(&self, name: &ServiceName, created_by: &RunId) -> Result<bool, PortError> {
        let mut s = lock(&self.state);
        if s.services.get(name).is_none_or(|(_, run, _)| run != created_by) {
            return Ok(false);
        }
        s.services.remove(name);
        s.keys.retain(|_, (_, run)| run != created_by);
        Ok(true)
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
        role: crate::Role,
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
            role,
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

/// Workspaces in memory, as a cluster would keep them; tests move them between phases and
/// read back every call the cluster was asked ([`MemoryWorkspaces::calls`]).
#[derive(Default)]
pub struct MemoryWorkspaces {
    workspaces: Mutex<BTreeMap<crate::workspace::WorkspaceName, crate::workspace::Workspace>>,
    calls: Mutex<Vec<String>>,
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

    /// Every call made through the port so far, oldest first: `create <name>`, `list`,
    /// `get <name>`, `delete <name>`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(call);
    }
}

#[async_trait]
impl crate::workspace::WorkspaceCluster for MemoryWorkspaces {
    async fn create(&self, w: &crate::workspace::Workspace) -> Result<crate::workspace::Workspace, PortError> {
        self.record(format!("create {}", w.name));
        let mut all = self.lock();
        if all.contains_key(&w.name) {
            return Err(PortError::new(PortErrorKind::AlreadyExists, format!("workspace {} exists", w.name)));
        }
        let mut created = w.clone();
        created.status =
            crate::workspace::WorkspaceStatus { access_host: Some("localhost".to_owned()), ..Default::default() };
        all.insert(w.name.clone(), created.clone());
        Ok(created)
    }

    async fn list(
        &self,
        owner: Option<&crate::email::EmailAddress>,
    ) -> Result<Vec<crate::workspace::Workspace>, PortError> {
        self.record("list".to_owned());
        Ok(self.lock().values().filter(|w| owner.is_none_or(|o| w.is_owned_by(o))).cloned().collect())
    }

    async fn get(
        &self,
        name: &crate::workspace::WorkspaceName,
    ) -> Result<Option<crate::workspace::Workspace>, PortError> {
        self.record(format!("get {name}"));
        Ok(self.lock().get(name).cloned())
    }

    async fn delete(&self, name: &crate::workspace::WorkspaceName) -> Result<bool, PortError> {
        self.record(format!("delete {name}"));
        Ok(self.lock().remove(name).is_some())
    }
}
