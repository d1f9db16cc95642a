//! Driving the provisioning engine with adapters of your own.
//!
//! `provision-core` does no I/O: the engine reaches git, the journal of runs and the clock only
//! through the traits in `provision_core::ports`, and any crate can implement them. This example
//! does, with no other crate's adapters and none of the `testing` feature's fakes: a git host
//! that keeps repositories in memory and prints every write, a store that keeps runs and their
//! journals in memory, a pause that sleeps. Then it plans a small run (create a repository,
//! commit two sets of files, start a branch), has the engine execute it, and prints the journal.
//! Each port method is implemented for real (the git host only declines to merge), which is
//! most of the length.
//!
//! Run it with `cargo run -p provision-core --example own_adapters`.

use async_trait::async_trait;
use jiff::Timestamp;
use provision_core::engine::Engine;
use provision_core::ports::{
    Claim, CommitId, CommitRequest, GitHost, JournalEvent, LoggedCommit, MergePreview, MergeRequest, MergeState,
    NewRun, Pause, PortError, PortErrorKind, RunCreated, RunRecord, RunState, ServiceRecord, StepRecord, StepState,
    Store,
};
use provision_core::{BranchName, Effect, FileEntry, FileSet, Plan, RepoName, RepoPath, RunId, ServiceName, TreeMode};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Commit {
    parent: Option<CommitId>,
    files: FileSet,
    message: String,
}

#[derive(Default)]
struct Repo {
    commits: HashMap<CommitId, Commit>,
    branches: BTreeMap<BranchName, CommitId>,
}

impl Repo {
    fn tip(&self, branch: &BranchName) -> Option<&Commit> {
        self.branches.get(branch).and_then(|id| self.commits.get(id))
    }
}

/// Repositories in memory, every write printed. It cannot merge (this example's plan has no
/// merge step): those calls fail for good.
#[derive(Default)]
struct PrintingGitHost {
    repos: Mutex<BTreeMap<RepoName, Repo>>,
}

impl PrintingGitHost {
    fn with<T>(&self, name: &RepoName, work: impl FnOnce(&mut Repo) -> Result<T, PortError>) -> Result<T, PortError> {
        let mut repos = lock(&self.repos);
        let missing = || PortError::new(PortErrorKind::NotFound, format!("repository {name} does not exist"));
        work(repos.get_mut(name).ok_or_else(missing)?)
    }
}

fn cannot_merge() -> PortError {
    PortError::permanent("this example's git host does not merge")
}

#[async_trait]
impl GitHost for PrintingGitHost {
    async fn repo_exists(&self, repo: &RepoName) -> Result<bool, PortError> {
        Ok(lock(&self.repos).contains_key(repo))
    }

    async fn create_repo(&self, repo: &RepoName, description: &str) -> Result<(), PortError> {
        let mut repos = lock(&self.repos);
        if repos.contains_key(repo) {
            return Err(PortError::new(PortErrorKind::AlreadyExists, format!("repository {repo} exists")));
        }
        println!("git: created repository {repo} ({description})");
        repos.insert(repo.clone(), Repo::default());
        Ok(())
    }

    async fn delete_repo(&self, repo: &RepoName) -> Result<(), PortError> {
        match lock(&self.repos).remove(repo) {
            Some(_) => {
                println!("git: deleted repository {repo}");
                Ok(())
            }
            None => Err(PortError::new(PortErrorKind::NotFound, format!("repository {repo} does not exist"))),
        }
    }

    async fn log(&self, repo: &RepoName, limit: usize) -> Result<Vec<LoggedCommit>, PortError> {
        // This host never merges: every commit has one parent at most.
        self.with(repo, |r| {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for tip in r.branches.values() {
                let mut at = Some(tip.clone());
                while let Some(id) = at.filter(|id| out.len() < limit && seen.insert(id.clone())) {
                    let commit = &r.commits[&id];
                    at = commit.parent.clone();
                    out.push(LoggedCommit { id, message: commit.message.clone() });
                }
            }
            Ok(out)
        })
    }

    async fn branches(&self, repo: &RepoName) -> Result<Vec<(BranchName, CommitId)>, PortError> {
        self.with(repo, |r| Ok(r.branches.iter().map(|(b, c)| (b.clone(), c.clone())).collect()))
    }

    async fn branch_tip(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<CommitId>, PortError> {
        self.with(repo, |r| Ok(r.branches.get(branch).cloned()))
    }

    async fn find_commit(
        &self,
        repo: &RepoName,
        branch: &BranchName,
        line: &str,
        limit: usize,
    ) -> Result<Option<CommitId>, PortError> {
        self.with(repo, |r| {
            let mut at = r.branches.get(branch).cloned();
            for _ in 0..limit {
                let Some(commit) = at.as_ref().and_then(|id| r.commits.get(id)) else { break };
                if commit.message.lines().any(|l| l == line) {
                    return Ok(at);
                }
                at = commit.parent.clone();
            }
            Ok(None)
        })
    }

    async fn commit(&self, repo: &RepoName, request: CommitRequest<'_>) -> Result<CommitId, PortError> {
        self.with(repo, |r| {
            // The branch moves only from where the caller saw it: a compare-and-swap.
            if r.branches.get(request.branch) != request.parent {
                return Err(PortError::new(PortErrorKind::Conflict, format!("branch {} moved", request.branch)));
            }
            let parent = r.tip(request.branch);
            let mut files = match (request.mode, parent) {
                (TreeMode::Overlay | TreeMode::Remove, Some(parent)) => parent.files.clone(),
                _ => FileSet::new(),
            };
            if request.mode == TreeMode::Remove {
                files = files
                    .iter()
                    .filter(|(p, _)| request.files.get(p.as_str()).is_none())
                    .map(|(p, e)| (p.clone(), e.clone()))
                    .collect();
            } else {
                files.extend(request.files.clone());
            }
            if let Some(id) =
                request.parent.filter(|_| request.skip_unchanged && parent.is_some_and(|p| p.files == files))
            {
                return Ok(id.clone());
            }
            let id = CommitId(format!("{:040x}", r.commits.len() + 1));
            let title = request.message.lines().next().unwrap_or_default();
            println!("git: committed {title:?} on {repo} {}: {} file(s)", request.branch, files.len());
            let commit = Commit { parent: request.parent.cloned(), files, message: request.message.to_owned() };
            r.commits.insert(id.clone(), commit);
            r.branches.insert(request.branch.clone(), id.clone());
            Ok(id)
        })
    }

    async fn create_branch(&self, repo: &RepoName, branch: &BranchName, at: &CommitId) -> Result<(), PortError> {
        self.with(repo, |r| {
            if !r.commits.contains_key(at) {
                return Err(PortError::new(PortErrorKind::NotFound, format!("no commit {at} in {repo}")));
            }
            if r.branches.contains_key(branch) {
                return Err(PortError::new(PortErrorKind::AlreadyExists, format!("branch {branch} exists")));
            }
            println!("git: started branch {branch} of {repo} at {at}");
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
        self.with(repo, |r| Ok(r.tip(branch).and_then(|c| c.files.get(path.as_str())).map(|e| e.content.to_vec())))
    }

    async fn read_tree(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<FileSet>, PortError> {
        self.with(repo, |r| Ok(r.tip(branch).map(|commit| commit.files.clone())))
    }

    async fn merge_state(&self, _: &RepoName, _: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        Err(cannot_merge())
    }

    async fn merge(&self, _: &RepoName, _: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        Err(cannot_merge())
    }

    async fn preview_merge(&self, _: &RepoName, _: &MergeRequest<'_>, _: &FileSet) -> Result<MergePreview, PortError> {
        Err(cannot_merge())
    }

    fn clone_url(&self, repo: &RepoName) -> String {
        format!("memory://{repo}")
    }
}

/// A run's steps by index.
type Journal = BTreeMap<usize, StepRecord>;

/// Runs and their journals in memory. It keeps no services and no idempotency keys (runs that
/// bring them are refused), and a claim is a name in a set until it is dropped.
#[derive(Default)]
struct MemoryJournal {
    runs: Mutex<BTreeMap<RunId, (RunRecord, Journal)>>,
    claimed: Arc<Mutex<HashSet<RunId>>>,
}

/// Step `index` of a run's journal.
fn journaled<'a>(steps: &'a mut Journal, run: &RunId, index: usize) -> Result<&'a mut StepRecord, PortError> {
    steps
        .get_mut(&index)
        .ok_or_else(|| PortError::new(PortErrorKind::NotFound, format!("run {run} has no step {index}")))
}

/// The claim on a run, given up when dropped.
struct Held(RunId, Arc<Mutex<HashSet<RunId>>>);

impl Claim for Held {}

impl Drop for Held {
    fn drop(&mut self) {
        lock(&self.1).remove(&self.0);
    }
}

#[async_trait]
impl Store for MemoryJournal {
    async fn create_run(&self, run: NewRun) -> Result<RunCreated, PortError> {
        if run.service.is_some() || run.idempotency.is_some() {
            return Err(PortError::permanent("this store keeps neither services nor idempotency keys"));
        }
        let now = Timestamp::now();
        let (id, operation, request) = (run.id.clone(), run.operation, run.request);
        let record = RunRecord {
            id,
            operation,
            state: RunState::Pending,
            request,
            service: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        lock(&self.runs).insert(run.id, (record, BTreeMap::new()));
        Ok(RunCreated::Created)
    }

    async fn run(&self, id: &RunId) -> Result<Option<RunRecord>, PortError> {
        Ok(lock(&self.runs).get(id).map(|(run, _)| run.clone()))
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, PortError> {
        let mut runs: Vec<RunRecord> = lock(&self.runs).values().map(|(run, _)| run.clone()).collect();
        runs.sort_by_key(|run| std::cmp::Reverse(run.created_at));
        runs.truncate(limit);
        Ok(runs)
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError> {
        let mut runs = self.runs(usize::MAX).await?;
        runs.retain(|run| !run.state.is_finished());
        runs.reverse();
        Ok(runs)
    }

    async fn steps(&self, run: &RunId) -> Result<Vec<StepRecord>, PortError> {
        Ok(lock(&self.runs).get(run).map(|(_, steps)| steps.values().cloned().collect()).unwrap_or_default())
    }

    async fn record(&self, run: &RunId, event: JournalEvent) -> Result<(), PortError> {
        let mut runs = lock(&self.runs);
        let missing = || PortError::new(PortErrorKind::NotFound, format!("run {run} does not exist"));
        let (record, steps) = runs.get_mut(run).ok_or_else(missing)?;
        let now = Timestamp::now();
        record.updated_at = now;
        match event {
            JournalEvent::RunStarted => record.state = RunState::Running,
            JournalEvent::RunSucceeded => record.state = RunState::Succeeded,
            JournalEvent::RunFailed { error } => (record.state, record.error) = (RunState::Failed, Some(error)),
            JournalEvent::StepStarted { index, name } => {
                let step = steps.entry(index).or_insert_with(|| StepRecord {
                    index,
                    name,
                    state: StepState::Started,
                    attempts: 0,
                    detail: None,
                    error: None,
                    started_at: now,
                    finished_at: None,
                });
                (step.state, step.attempts) = (StepState::Started, step.attempts + 1);
            }
            JournalEvent::StepRetrying { index, error } => journaled(steps, run, index)?.error = Some(error),
            JournalEvent::StepDone { index, detail } => {
                let step = journaled(steps, run, index)?;
                (step.state, step.detail, step.finished_at) = (StepState::Done, Some(detail), Some(now));
            }
            JournalEvent::StepFailed { index, error } => {
                let step = journaled(steps, run, index)?;
                (step.state, step.error, step.finished_at) = (StepState::Failed, Some(error), Some(now));
            }
        }
        Ok(())
    }

    async fn reopen_run(&self, run: &RunId) -> Result<(), PortError> {
        if let Some((record, _)) = lock(&self.runs).get_mut(run).filter(|(r, _)| r.state == RunState::Failed) {
            record.state = RunState::Pending;
        }
        Ok(())
    }

    async fn forget_service(&self, _: &ServiceName, _: &RunId) -> Result<bool, PortError> {
        Ok(false)
    }

    async fn service(&self, _: &ServiceName) -> Result<Option<ServiceRecord>, PortError> {
        Ok(None)
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError> {
        Ok(Vec::new())
    }

    async fn set_blueprint_version(&self, name: &ServiceName, _: &str) -> Result<(), PortError> {
        Err(PortError::new(PortErrorKind::NotFound, format!("no service {name}")))
    }

    async fn try_claim(&self, run: &RunId) -> Result<Option<Box<dyn Claim>>, PortError> {
        let fresh = lock(&self.claimed).insert(run.clone());
        Ok(fresh.then(|| Box::new(Held(run.clone(), self.claimed.clone())) as Box<dyn Claim>))
    }
}

/// Waits between retries with tokio's timer.
struct Sleep;

#[async_trait]
impl Pause for Sleep {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (git, store) = (PrintingGitHost::default(), MemoryJournal::default());
    // Every user string becomes a type first: a path that could leave the repository is refused.
    let file = |path: &str, text: &str| -> Result<(RepoPath, FileEntry), Error> {
        Ok((RepoPath::parse(path)?, FileEntry::new(text.as_bytes())))
    };
    let sources: FileSet =
        [file("README.md", "# hello\n")?, file("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n")?]
            .into_iter()
            .collect();
    let changelog: FileSet = [file("CHANGELOG.md", "# 0.1.0\n\nFirst release.\n")?].into_iter().collect();
    let (repo, main) = (RepoName::parse("hello")?, BranchName::main());
    let commit = |files: FileSet, mode, message: &str| Effect::Commit {
        repo: repo.clone(),
        branch: main.clone(),
        files: Arc::new(files),
        mode,
        message: message.into(),
        skip_unchanged: true,
    };

    let mut plan = Plan::default();
    plan.push(
        "ensure-repo hello",
        Effect::EnsureRepo { repo: repo.clone(), description: "says hello".into(), shared: false },
    );
    plan.push("commit the sources", commit(sources, TreeMode::Replace, "Add the sources"));
    plan.push("add a changelog", commit(changelog, TreeMode::Overlay, "Add a changelog"));
    let release =
        Effect::StartBranch { repo: repo.clone(), branch: BranchName::parse("release/0.1")?, from: main.clone() };
    plan.push("start release/0.1", release);

    let run = RunId::parse("example-1")?;
    let request = serde_json::json!({ "repo": repo.as_str() });
    store
        .create_run(NewRun { id: run.clone(), operation: "example".into(), request, service: None, idempotency: None })
        .await?;
    let outcome = Engine::new(&git, &store, &Sleep).execute(&run, &plan).await?;

    println!("\nrun {run} {}; its journal:", outcome.state.as_str());
    for step in store.steps(&run).await? {
        let said = step.detail.or(step.error).unwrap_or_default();
        println!("  {} {:<20} {:<8} attempt {}: {said}", step.index, step.name, step.state.as_str(), step.attempts);
    }
    let files = git.read_tree(&repo, &main).await?.unwrap_or_default();
    let paths: Vec<&str> = files.paths().map(RepoPath::as_str).collect();
    println!("\n{} main holds {}", git.clone_url(&repo), paths.join(", "));
    match outcome.failure {
        None => Ok(()),
        Some(failure) => Err(format!("step {} ({}) failed: {}", failure.index, failure.step, failure.error).into()),
    }
}
