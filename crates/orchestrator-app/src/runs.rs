//! Runs: what each kind of run was asked to do ([`RunRequest`], stored versioned with the run so
//! a resumed run plans exactly the same again, and so the journals of older versions still
//! load), the [`Runner`] that records and executes them on the engine, the errors every run
//! can meet, and the views of runs clients read.
//!
//! A run that fails for a transient reason (its step ran out of retries on a lost race, a
//! lock, a blip) is, in a server, reopened and retried in the background ([`Retries`]);
//! commits into shared repositories go through one writer per branch ([`shared`]).

pub(crate) mod shared;

use crate::backoff::{self, Backoff};
use crate::catalog;
use crate::error::{Classified, ErrorKind, Subject};
use crate::provisioning::plan::CreateServiceRun;
use crate::provisioning::undo::UndoRun;
use crate::upgrades::UpgradeRun;
use crate::upgrades::report::UpgradeReport;
use provision_core::RunId;
use provision_core::engine::{self, Engine, FaultHook, RetryPolicy, StepFailure};
use provision_core::plan::Plan;
use provision_core::ports::{
    GitHost, IdempotencyKey, JournalEvent, NewRun, NewService, Pause, PortError, RunCreated, RunRecord, RunState,
    StepRecord, StepState, Store,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// The version written with every run request. Version 1 (before there was one) stored the
/// bare request and named its kind only in the run's `operation`.
const REQUEST_VERSION: u32 = 2;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    CreateService,
    Upgrade,
    /// Undoing a create-service run.
    Undo,
    /// Recorded by a newer version of the orchestrator.
    Unknown,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::CreateService => "create-service",
            Operation::Upgrade => "upgrade",
            Operation::Undo => "undo",
            Operation::Unknown => "unknown",
        }
    }

    fn parse(value: &str) -> Operation {
        [Operation::CreateService, Operation::Upgrade, Operation::Undo]
            .into_iter()
            .find(|o| o.as_str() == value)
            .unwrap_or(Self::Unknown)
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run was asked to do, with everything needed to plan it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "kebab-case")]
pub enum RunRequest {
    CreateService(CreateServiceRun),
    Upgrade(UpgradeRun),
    Undo(UndoRun),
}

/// A request as stored: versioned.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    #[serde(flatten)]
    request: RunRequest,
}

impl RunRequest {
    pub fn operation(&self) -> Operation {
        match self {
            RunRequest::CreateService(_) => Operation::CreateService,
            RunRequest::Upgrade(_) => Operation::Upgrade,
            RunRequest::Undo(_) => Operation::Undo,
        }
    }

    /// The stored form: the operation's name (the store lists runs by it) and the JSON.
    pub fn to_stored(&self) -> (String, serde_json::Value) {
        let stored = Stored { version: REQUEST_VERSION, request: self.clone() };
        let value = serde_json::to_value(&stored).expect("a run request serializes");
        (self.operation().as_str().to_owned(), value)
    }

    /// Reads what [`Self::to_stored`] wrote, or what version 1 wrote: the bare request, its
    /// kind in `operation`. `None` for what this version cannot read.
    pub fn from_stored(operation: &str, value: &serde_json::Value) -> Option<RunRequest> {
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(version) if version == u64::from(REQUEST_VERSION) => {
                serde_json::from_value::<Stored>(value.clone()).ok().map(|s| s.request)
            }
            Some(_) => None,
            None => match Operation::parse(operation) {
                Operation::CreateService => serde_json::from_value(value.clone()).ok().map(RunRequest::CreateService),
                Operation::Upgrade => serde_json::from_value(value.clone()).ok().map(RunRequest::Upgrade),
                // Undo came after version 1.
                Operation::Undo | Operation::Unknown => None,
            },
        }
    }
}

/// What keeps a run from going on, whatever the run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("run {0} does not exist")]
    NotFound(String),
    #[error("run {0} is being executed by another process")]
    Busy(RunId),
    #[error("run {0} is running; it can be retried once it has stopped")]
    Running(RunId),
    #[error("run {0} succeeded already; there is nothing to retry")]
    Succeeded(RunId),
    #[error("run {run} cannot resume: blueprint {kind} changed since it started; `runs retry {run}` plans it again")]
    BlueprintChanged { run: RunId, kind: String },
    #[error("run {run} cannot resume: its blueprint {kind} is no longer configured")]
    BlueprintGone { run: RunId, kind: String },
    #[error("run {0} was made by an operation this version does not know")]
    UnknownOperation(RunId),
    #[error("run {run} cannot be planned again")]
    Replan {
        run: RunId,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Blueprints(#[from] catalog::Error),
    #[error("the store failed")]
    Store(#[source] PortError),
    #[error(transparent)]
    Engine(engine::Error),
}

impl From<engine::Error> for RunError {
    fn from(e: engine::Error) -> Self {
        match e {
            engine::Error::Busy(run) => RunError::Busy(run),
            other => RunError::Engine(other),
        }
    }
}

impl Classified for RunError {
    fn kind(&self) -> ErrorKind {
        match self {
            RunError::NotFound(_) => ErrorKind::NotFound,
            RunError::Busy(_)
            | RunError::Running(_)
            | RunError::Succeeded(_)
            | RunError::BlueprintChanged { .. }
            | RunError::BlueprintGone { .. } => ErrorKind::Conflict,
            RunError::UnknownOperation(_)
            | RunError::Replan { .. }
            | RunError::Blueprints(_)
            | RunError::Store(_)
            | RunError::Engine(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            RunError::NotFound(_) => "not-found",
            RunError::Busy(_) => "busy",
            RunError::Running(_) => "run-running",
            RunError::Succeeded(_) => "run-succeeded",
            RunError::BlueprintChanged { .. } | RunError::BlueprintGone { .. } => "blueprint-changed",
            RunError::Blueprints(e) => e.code(),
            RunError::UnknownOperation(_) | RunError::Replan { .. } | RunError::Store(_) | RunError::Engine(_) => {
                "internal"
            }
        }
    }

    fn subject(&self) -> Subject {
        let run = match self {
            RunError::Busy(run)
            | RunError::Running(run)
            | RunError::Succeeded(run)
            | RunError::BlueprintChanged { run, .. }
            | RunError::BlueprintGone { run, .. }
            | RunError::UnknownOperation(run)
            | RunError::Replan { run, .. } => Some(run.to_string()),
            _ => None,
        };
        Subject { run, ..Subject::default() }
    }
}

/// What becomes of a run that fails for a transient reason.
#[derive(Clone)]
pub(crate) enum Retries {
    /// It stays failed: a command's process ends; `runs retry` resumes it.
    Off,
    /// It is reopened (`pending`, its last error kept) and retried by this process's
    /// background work, a bounded number of times, after a backoff.
    Background(Arc<RetryQueue>),
}

/// Runs reopened for a background retry, each with how long to wait first; and how such
/// retries go.
pub(crate) struct RetryQueue {
    /// How many background retries a run gets.
    retries: u32,
    /// The wait before the first, second, … background retry.
    backoff: Backoff,
    sender: mpsc::UnboundedSender<(RunId, Duration)>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(RunId, Duration)>>>,
}

impl RetryQueue {
    pub fn new(retries: u32, backoff: Backoff) -> Arc<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        Arc::new(RetryQueue { retries, backoff, sender, receiver: Mutex::new(Some(receiver)) })
    }

    /// The runs to retry, as they are queued: for the one task that retries them (`None`
    /// once taken).
    pub fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<(RunId, Duration)>> {
        self.receiver.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// How the engine retries a failing step within one execution of a run.
const STEP_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 5, base: Duration::from_millis(50), max_delay: Duration::from_secs(5) };

/// Records runs and executes their plans on the engine, journaling every step in the store.
#[derive(Clone)]
pub(crate) struct Runner {
    /// The git host runs write through: shared repositories' commits folded and held up under
    /// contention ([`shared::SharedRepos`]).
    pub git: Arc<dyn GitHost>,
    pub store: Arc<dyn Store>,
    pub pause: Arc<dyn Pause>,
    pub fault: Option<Arc<dyn FaultHook>>,
    pub retries: Retries,
}

impl Runner {
    fn engine(&self) -> Engine<'_> {
        let engine = Engine::new(self.git.as_ref(), self.store.as_ref(), self.pause.as_ref()).with_retry(STEP_RETRY);
        match &self.fault {
            Some(hook) => engine.with_fault_hook(hook.as_ref()),
            None => engine,
        }
    }

    /// Records a new run of `request` (reserving `service` and `idempotency` with it).
    pub async fn create(
        &self,
        request: &RunRequest,
        service: Option<NewService>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<(RunId, RunCreated), RunError> {
        let id = RunId::parse(&uuid::Uuid::now_v7().to_string()).expect("a UUID is a valid run id");
        let (operation, request) = request.to_stored();
        let created = self
            .store
            .create_run(NewRun { id: id.clone(), operation, request, service, idempotency })
            .await
            .map_err(RunError::Store)?;
        Ok((id, created))
    }

    /// Executes (or resumes) run `id`. A run that fails for a transient reason is, with
    /// background retries, reopened and queued for one ([`Self::retry_later`]).
    pub async fn execute(&self, id: &RunId, plan: &Plan) -> Result<(), RunError> {
        let outcome = self.engine().execute(id, plan).await?;
        if let Some(failure) = outcome.failure.filter(|f| f.transient)
            && let Retries::Background(queue) = &self.retries
        {
            self.retry_later(queue, id, &failure).await;
        }
        Ok(())
    }

    /// Reopens run `id`, which failed at `failure` for a transient reason, and queues its
    /// background retry, unless it had all its retries.
    ///
    /// The count is the journal's, so it holds across restarts: every execution of a run
    /// attempts a failing step [`STEP_RETRY`]`.max_attempts` times before giving up, so a step
    /// attempted `n` times in all has been through `n / max_attempts` executions (rounded up),
    /// all but the first of them retries. A run left failed says why in the log; `runs retry`
    /// resumes it by hand.
    async fn retry_later(&self, queue: &RetryQueue, id: &RunId, failure: &StepFailure) {
        let attempts = match self.store.steps(id).await {
            Ok(steps) => steps.iter().find(|s| s.index == failure.index).map_or(1, |s| s.attempts),
            Err(error) => {
                tracing::warn!(run = %id, %error, "cannot read the journal: the run stays failed");
                return;
            }
        };
        let retried = attempts.div_ceil(STEP_RETRY.max_attempts.max(1)).saturating_sub(1);
        if retried >= queue.retries {
            tracing::warn!(run = %id, step = %failure.step, retried, "run failed for a transient reason after its last background retry: it stays failed");
            return;
        }
        if let Err(error) = self.store.reopen_run(id).await {
            tracing::warn!(run = %id, %error, "cannot reopen the run for a background retry: it stays failed");
            return;
        }
        let wait = queue.backoff.delay(retried, backoff::unit());
        tracing::info!(run = %id, step = %failure.step, retry = retried + 1, of = queue.retries, wait_ms = wait.as_millis(), "run failed for a transient reason; retrying it in the background");
        // The receiving task lives as long as the process's background work; without it the
        // run stays pending, and the next start resumes it.
        let _ = queue.sender.send((id.clone(), wait));
    }

    pub async fn record(&self, id: &RunId) -> Result<RunRecord, RunError> {
        self.store.run(id).await.map_err(RunError::Store)?.ok_or_else(|| RunError::NotFound(id.to_string()))
    }

    pub async fn steps(&self, id: &RunId) -> Result<Vec<StepRecord>, RunError> {
        self.store.steps(id).await.map_err(RunError::Store)
    }

    /// The request run `record` was made with.
    pub fn request(record: &RunRecord) -> Result<RunRequest, RunError> {
        RunRequest::from_stored(&record.operation, &record.request)
            .ok_or_else(|| RunError::UnknownOperation(record.id.clone()))
    }

    /// Records that run `id` cannot go on because of `error`, and returns the error.
    pub async fn fail(&self, id: &RunId, error: RunError) -> RunError {
        match self.store.record(id, JournalEvent::RunFailed { error: error.to_string() }).await {
            Ok(()) => error,
            Err(e) => RunError::Store(e),
        }
    }
}

/// A run in brief.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub operation: Operation,
    /// `pending` (not started yet, or waiting for the server to retry it), `running`,
    /// `succeeded` or `failed`.
    #[schema(value_type = String)]
    pub state: RunState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Why the run failed; on a `pending` run, why its last attempt failed before it was
    /// reopened for a retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&RunRecord> for RunSummary {
    fn from(r: &RunRecord) -> Self {
        RunSummary {
            id: r.id.to_string(),
            operation: Operation::parse(&r.operation),
            state: r.state,
            service: r.service.as_ref().map(|s| s.to_string()),
            error: r.error.clone(),
            created_at: r.created_at.to_string(),
            updated_at: r.updated_at.to_string(),
        }
    }
}

/// A run with its journal.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub run: RunSummary,
    pub steps: Vec<StepView>,
    /// An upgrade run's report, per service and repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeReport>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepView {
    pub index: usize,
    pub name: String,
    /// `started`, `done` or `failed`.
    #[schema(value_type = String)]
    pub state: StepState,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl RunView {
    pub fn new(record: &RunRecord, steps: &[StepRecord]) -> Self {
        RunView {
            run: RunSummary::from(record),
            steps: steps
                .iter()
                .map(|s| StepView {
                    index: s.index,
                    name: s.name.clone(),
                    state: s.state,
                    attempts: s.attempts,
                    detail: s.detail.clone(),
                    error: s.error.clone(),
                    started_at: s.started_at.to_string(),
                    finished_at: s.finished_at.map(|t| t.to_string()),
                })
                .collect(),
            upgrade: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_of_version_one_still_load_and_new_ones_carry_their_version() {
        // As version 1 stored a create-service run: the bare request.
        let v1 = serde_json::json!({
            "request": {"kind": "ms", "name": "demo", "description": "d", "owner": null, "parameters": {}},
            "answers": {"port": 8080},
            "blueprint_version": "1.0.0",
            "blueprint_digest": "abc",
        });
        let Some(RunRequest::CreateService(run)) = RunRequest::from_stored("create-service", &v1) else {
            panic!("a version 1 create-service request loads")
        };
        assert_eq!((run.request.name.as_str(), run.blueprint_version.as_str()), ("demo", "1.0.0"));
        assert!(run.request.environments.is_empty(), "absent before there was a choice");
        let v1_upgrade = serde_json::json!({"services": []});
        assert!(matches!(RunRequest::from_stored("upgrade", &v1_upgrade), Some(RunRequest::Upgrade(_))));
        assert!(RunRequest::from_stored("rename", &v1_upgrade).is_none());

        let (operation, stored) = RunRequest::CreateService(run).to_stored();
        assert_eq!(
            (operation.as_str(), &stored["version"], &stored["operation"]),
            ("create-service", &2.into(), &"create-service".into())
        );
        assert!(matches!(RunRequest::from_stored(&operation, &stored), Some(RunRequest::CreateService(_))));
        let mut future = stored.clone();
        future["version"] = 3.into();
        assert!(RunRequest::from_stored(&operation, &future).is_none(), "a newer version is not guessed at");
    }
}
