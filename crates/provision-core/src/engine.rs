//! The engine: runs a plan step by step, journaling before and after every effect.
//!
//! Guarantees, given ports that keep their contracts:
//! - every effect that may already have happened is looked for before it is performed, so a
//!   step whose effect happened but was not journaled (a crash between the two) is detected,
//!   not repeated. A step the journal has never seen started cannot have acted (its start is
//!   journaled before its effect), so on a run's first pass nothing is looked for;
//! - a run is executed by one process at a time ([`Store::try_claim`]);
//! - retryable port failures are retried with exponential backoff; anything else, or too
//!   many retries, fails the run with the step and the cause recorded;
//! - resuming a run skips the steps the journal records as done;
//! - a step starts only when the steps it comes after are done; steps that are ready together
//!   run concurrently (their effects are on different things, the plan says so).

use crate::names::{BranchName, RepoName};
use crate::plan::{Effect, Plan, RunId};
use crate::ports::{
    CommitRequest, GitHost, JournalEvent, MergeRequest, MergeState, Pause, PortError, PortErrorKind, RunState,
    StepState, Store,
};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tracing::{info, warn};

/// How many commits back a step looks for its own trailer. Other runs may commit to a shared
/// repository (the GitOps one) between a crash and the resume; this bounds the walk.
const TRAILER_SEARCH_DEPTH: usize = 1000;

/// Retries of retryable failures: `max_attempts` in all, waiting `base`, `2·base`, … capped at `max_delay`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base: Duration::from_millis(50), max_delay: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max_delay)
    }
}

/// Points of a run where a test can stop the process as if it had been killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Step `n` is about to be journaled as started.
    BeforeStep(usize),
    /// Step `n`'s effect happened; the journal does not know yet.
    AfterEffect(usize),
    /// Step `n` is journaled as done.
    AfterStep(usize),
}

impl FaultPoint {
    pub fn step(self) -> usize {
        match self {
            FaultPoint::BeforeStep(n) | FaultPoint::AfterEffect(n) | FaultPoint::AfterStep(n) => n,
        }
    }
}

/// A test-only hook called at every [`FaultPoint`]. Returning `Err` makes the engine stop
/// at once, recording nothing more, as a killed process would.
pub trait FaultHook: Send + Sync {
    fn reached(&self, point: FaultPoint) -> Result<(), Crashed>;
}

/// The fault hook stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("run stopped by the fault hook at {0:?}")]
pub struct Crashed(pub FaultPoint);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("run {0} is being executed by another process")]
    Busy(RunId),
    #[error("run {run}: the store failed")]
    Store {
        run: RunId,
        #[source]
        source: PortError,
    },
    #[error("run {run} no longer matches its journal: step {index} was {journaled:?}, the plan now says {planned:?}")]
    PlanChanged { run: RunId, index: usize, journaled: String, planned: String },
    #[error(transparent)]
    Crashed(#[from] Crashed),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: RunState,
    /// The failing step's index and name, and the cause.
    pub failure: Option<StepFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub index: usize,
    pub step: String,
    pub error: String,
    /// The cause was one retrying may cure ([`PortError::is_retryable`]: a lost race, a lock,
    /// a blip) and the engine gave up only because its retries ran out: trying the run again
    /// later may finish it.
    pub transient: bool,
}

/// Executes plans against the ports.
pub struct Engine<'a> {
    git: &'a dyn GitHost,
    store: &'a dyn Store,
    pause: &'a dyn Pause,
    hook: Option<&'a dyn FaultHook>,
    retry: RetryPolicy,
    concurrency: usize,
}

/// How many steps of a wave run at once by default: enough to overlap git work on a few
/// cores, few enough that a plan of hundreds of repositories does not flood the blocking pool.
pub const DEFAULT_CONCURRENCY: usize = 8;

impl<'a> Engine<'a> {
    pub fn new(git: &'a dyn GitHost, store: &'a dyn Store, pause: &'a dyn Pause) -> Self {
        Self { git, store, pause, hook: None, retry: RetryPolicy::default(), concurrency: DEFAULT_CONCURRENCY }
    }

    pub fn with_fault_hook(mut self, hook: &'a dyn FaultHook) -> Self {
        self.hook = Some(hook);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// At most `steps` (at least one) of a wave run at once.
    pub fn with_concurrency(mut self, steps: usize) -> Self {
        self.concurrency = steps.max(1);
        self
    }

    fn reached(&self, point: FaultPoint) -> Result<(), Crashed> {
        self.hook.map_or(Ok(()), |h| h.reached(point))
    }

    /// Runs (or resumes) `plan` as run `run`, which must exist in the store.
    ///
    /// Assumes `plan` is the plan the run was created with; a journal whose step names differ
    /// is refused ([`Error::PlanChanged`]) rather than mixed with another plan.
    pub async fn execute(&self, run: &RunId, plan: &Plan) -> Result<Outcome, Error> {
        let store_err = |source| Error::Store { run: run.clone(), source };
        let Some(_claim) = self.store.try_claim(run).await.map_err(store_err)? else {
            return Err(Error::Busy(run.clone()));
        };
        let journal = self.store.steps(run).await.map_err(store_err)?;
        for record in &journal {
            let planned = plan.steps.get(record.index).map(|s| s.name.as_str()).unwrap_or("<none>");
            if planned != record.name {
                return Err(Error::PlanChanged {
                    run: run.clone(),
                    index: record.index,
                    journaled: record.name.clone(),
                    planned: planned.to_owned(),
                });
            }
        }
        self.store.record(run, JournalEvent::RunStarted).await.map_err(store_err)?;
        info!(run = %run, steps = plan.len(), "run started");

        // Waves: every step whose dependencies are done runs now, together (at most
        // `concurrency` at a time). A failure lets its wave finish and stops the run there, or,
        // if the plan keeps going, stops only the steps after it. Dependencies point
        // backwards, so every wave has a step until all are done or stopped.
        let mut done: Vec<bool> =
            (0..plan.len()).map(|i| journal.iter().any(|r| r.index == i && r.state == StepState::Done)).collect();
        let started_before: Vec<bool> = (0..plan.len()).map(|i| journal.iter().any(|r| r.index == i)).collect();
        let mut stopped = vec![false; plan.len()];
        let mut failures: Vec<StepFailure> = Vec::new();
        loop {
            let wave: Vec<usize> = (0..plan.len())
                .filter(|&i| !done[i] && !stopped[i] && plan.steps[i].after.iter().all(|&d| done[d]))
                .collect();
            if wave.is_empty() {
                break;
            }
            let steps = wave.iter().map(|&index| self.step(run, plan, index, &started_before)).collect();
            let results = join_all(steps, self.concurrency).await;
            for (&index, result) in wave.iter().zip(results) {
                match result? {
                    Ok(()) => done[index] = true,
                    Err(f) => {
                        stopped[index] = true;
                        failures.push(f);
                    }
                }
            }
            if !failures.is_empty() && !plan.keep_going {
                break;
            }
            // What comes after a failed step cannot run.
            for i in 0..plan.len() {
                stopped[i] |= plan.steps[i].after.iter().any(|&d| stopped[d]);
            }
        }
        if let Some(first) = failures.first() {
            let mut run_error = format!("step {} ({}) failed: {}", first.index, first.step, first.error);
            if failures.len() > 1 {
                run_error.push_str(&format!(" (and {} more failed steps)", failures.len() - 1));
            }
            self.store.record(run, JournalEvent::RunFailed { error: run_error }).await.map_err(store_err)?;
            return Ok(Outcome { state: RunState::Failed, failure: failures.into_iter().next() });
        }
        self.store.record(run, JournalEvent::RunSucceeded).await.map_err(store_err)?;
        info!(run = %run, "run succeeded");
        Ok(Outcome { state: RunState::Succeeded, failure: None })
    }

    /// Runs one step: journals its start, performs its effect (retrying what may be retried),
    /// journals how it ended. `Ok(Err(_))` is the step's own failure, already journaled.
    /// `started_before[i]`: the journal already had step `i`, so its effect may have happened.
    async fn step(
        &self,
        run: &RunId,
        plan: &Plan,
        index: usize,
        started_before: &[bool],
    ) -> Result<Result<(), StepFailure>, Error> {
        let store_err = |source| Error::Store { run: run.clone(), source };
        let step = &plan.steps[index];
        self.reached(FaultPoint::BeforeStep(index))?;
        self.store
            .record(run, JournalEvent::StepStarted { index, name: step.name.clone() })
            .await
            .map_err(store_err)?;
        let mut attempt = 1;
        let result = loop {
            match self.apply(run, plan, index, started_before, attempt).await {
                Ok(detail) => break Ok(detail),
                Err(e) if e.is_retryable() && attempt < self.retry.max_attempts => {
                    warn!(run = %run, index, step = %step.name, attempt, error = %e, "step failed, retrying");
                    self.store
                        .record(run, JournalEvent::StepRetrying { index, error: e.to_string() })
                        .await
                        .map_err(store_err)?;
                    self.pause.pause(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(detail) => {
                self.reached(FaultPoint::AfterEffect(index))?;
                info!(run = %run, index, step = %step.name, %detail, "step done");
                self.store.record(run, JournalEvent::StepDone { index, detail }).await.map_err(store_err)?;
                self.reached(FaultPoint::AfterStep(index))?;
                Ok(Ok(()))
            }
            Err(e) => {
                let error = crate::error::chain(&e);
                warn!(run = %run, index, step = %step.name, %error, "step failed");
                self.store
                    .record(run, JournalEvent::StepFailed { index, error: error.clone() })
                    .await
                    .map_err(store_err)?;
                Ok(Err(StepFailure { index, step: step.name.clone(), error, transient: e.is_retryable() }))
            }
        }
    }

    /// Performs step `index`'s effect unless it is already there. It is looked for only when an
    /// earlier attempt, in this process or before a crash, may have performed it (a commit
    /// written, its answer lost). Returns what it found or did.
    async fn apply(
        &self,
        run: &RunId,
        plan: &Plan,
        index: usize,
        started_before: &[bool],
        attempt: u32,
    ) -> Result<String, PortError> {
        let look = started_before[index] || attempt > 1;
        match &plan.steps[index].effect {
            Effect::EnsureRepo { repo, description, shared } => {
                self.ensure_repo(run, plan, repo, description, *shared, started_before).await
            }
            Effect::Commit { repo, branch, files, mode, message, skip_unchanged } => {
                let trailer = run.trailer(index);
                if look && let Some(id) = self.git.find_commit(repo, branch, &trailer, TRAILER_SEARCH_DEPTH).await? {
                    return Ok(format!("already committed {id}"));
                }
                let parent = self.git.branch_tip(repo, branch).await?;
                let message = format!("{}\n\n{trailer}\n", message.trim_end());
                let request = CommitRequest {
                    branch,
                    parent: parent.as_ref(),
                    files,
                    mode: *mode,
                    message: &message,
                    skip_unchanged: *skip_unchanged,
                };
                let id = self.git.commit(repo, request).await?;
                Ok(if Some(&id) == parent.as_ref() { format!("unchanged at {id}") } else { format!("committed {id}") })
            }
            Effect::Merge { repo, into, from, conflict_branch, message, renames } => {
                let trailer = run.trailer(index);
                let message = format!("{}\n\n{trailer}\n", message.trim_end());
                let request = MergeRequest { into, from, conflict_branch, message: &message, renames };
                // Merging is looked for every time: the state is in the branches, cheap to read,
                // and another run may have merged meanwhile.
                let (state, before) = match self.git.merge_state(repo, &request).await? {
                    MergeState::Pending => (self.git.merge(repo, &request).await?, ""),
                    state => (state, "already "),
                };
                Ok(match state {
                    MergeState::Merged => format!("{before}merged {from} into {into}"),
                    MergeState::Conflicted { commit, conflicts } => format!(
                        "{before}merged {from} with {} conflicting file(s) on {conflict_branch} at {commit}",
                        conflicts.len()
                    ),
                    MergeState::Pending => format!("{from} is not merged into {into}"),
                })
            }
            Effect::StartBranch { repo, branch, from } => self.start_branch(repo, branch, from).await,
            Effect::DeleteRepo { repo, only_by } => self.delete_repo(repo, only_by.as_ref()).await,
            Effect::ForgetService { service, created_by } => {
                Ok(if self.store.forget_service(service, created_by).await? {
                    format!("forgot {service}")
                } else {
                    format!("{service} is not in the inventory as made by run {created_by}")
                })
            }
        }
    }

    /// Deletes `repo` unless it is gone already; with `only_by`, only while every commit in it
    /// is that run's (looked at right before deleting, so work added since the plan was made
    /// is never lost).
    async fn delete_repo(&self, repo: &RepoName, only_by: Option<&RunId>) -> Result<String, PortError> {
        if !self.git.repo_exists(repo).await? {
            return Ok("already gone".into());
        }
        if let Some(run) = only_by {
            let others: Vec<_> = self
                .git
                .log(repo, TRAILER_SEARCH_DEPTH)
                .await?
                .into_iter()
                .filter(|c| !run.marks(&c.message))
                .collect();
            if let Some(newest) = others.first() {
                return Err(PortError::permanent(format!(
                    "repository {repo} has {} commit(s) not made by run {run} (the newest: {} {:?}); it is left as it is",
                    others.len(),
                    short(&newest.id),
                    newest.subject()
                )));
            }
        }
        match self.git.delete_repo(repo).await {
            Ok(()) => Ok("deleted".into()),
            Err(e) if e.kind == PortErrorKind::NotFound => Ok("already gone".into()),
            Err(e) => Err(e),
        }
    }

    async fn ensure_repo(
        &self,
        run: &RunId,
        plan: &Plan,
        repo: &RepoName,
        description: &str,
        shared: bool,
        started_before: &[bool],
    ) -> Result<String, PortError> {
        if !self.git.repo_exists(repo).await? {
            match self.git.create_repo(repo, description).await {
                Ok(()) => return Ok("created".into()),
                Err(e) if e.kind == PortErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        if shared {
            return Ok("already there".into());
        }
        if self.git.branches(repo).await?.is_empty() {
            return Ok("already there, empty".into());
        }
        // Not empty: ours only if a commit step of this run already wrote to it, which only
        // a step that started before can have done.
        for (index, step) in plan.steps.iter().enumerate() {
            if let Effect::Commit { repo: r, branch, .. } = &step.effect
                && started_before[index]
                && r == repo
                && self.git.find_commit(repo, branch, &run.trailer(index), TRAILER_SEARCH_DEPTH).await?.is_some()
            {
                return Ok("already there, written by this run".into());
            }
        }
        Err(PortError::new(
            PortErrorKind::AlreadyExists,
            format!("repository {repo} already exists and was not created by this run; it is left untouched"),
        ))
    }

    async fn start_branch(&self, repo: &RepoName, branch: &BranchName, from: &BranchName) -> Result<String, PortError> {
        if let Some(id) = self.git.branch_tip(repo, branch).await? {
            return Ok(format!("already at {id}"));
        }
        let Some(at) = self.git.branch_tip(repo, from).await? else {
            return Err(PortError::permanent(format!("repository {repo} has no branch {from} to start {branch} from")));
        };
        match self.git.create_branch(repo, branch, &at).await {
            Ok(()) => Ok(format!("created at {at}")),
            Err(e) if e.kind == PortErrorKind::AlreadyExists => Ok("already there".into()),
            Err(e) => Err(e),
        }
    }
}

/// A commit id as people read it.
pub fn short(id: &crate::ports::CommitId) -> &str {
    id.0.get(..12).unwrap_or(&id.0)
}

/// Drives all `futures` to completion on the current task (no runtime needed: the core
/// spawns nothing), at most `limit` of them started and unfinished at a time, in order, and
/// returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        // Futures start in order, so the first `limit` unfinished ones are those in flight
        // and those that may start now.
        let mut in_flight = 0;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if in_flight == limit {
                break;
            }
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => in_flight += 1,
                }
            }
        }
        if outputs.iter().all(Option::is_some) { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

#[cfg(test)]
mod tests;
