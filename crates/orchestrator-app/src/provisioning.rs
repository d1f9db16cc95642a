//! Provisioning and runs: create-service (checked, planned, recorded, executed), the runs it
//! and upgrades make (listed, shown, resumed after a crash, retried), and the inventory of
//! services. Planning alone ([`Planner`]) needs no store: a dry run writes nothing anywhere.

pub mod plan;
pub mod report;
pub mod request;
pub mod undo;

use crate::catalog::{self, Blueprints, KindView};
use crate::config::Layout;
use crate::error::{Classified, ErrorKind, Subject};
use crate::runs::{Retries, RunError, RunRequest, RunSummary, RunView, Runner};
use crate::upgrades;
use plan::{CreateServiceRun, PlannedService, RepoRole};
use provision_core::ports::{GitHost, IdempotencyKey, NewService, PortError, RunCreated, RunState, Store};
use provision_core::{Invalid, RepoName, RunId, ServiceName};
use provision_template::Blueprint;
use report::{ServiceReport, ServiceView};
use request::{CreateService, CreateServiceInput};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Why provisioning refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("service {name} already exists (created by run {run})")]
    ServiceExists { name: ServiceName, run: RunId },
    #[error("repository {repo} already exists and belongs to no provisioned service; pick another service name")]
    RepoExists { repo: String },
    /// A dry run without the inventory at hand found a repository of the service: the real run
    /// would be refused, whether the service exists or the name is someone else's.
    #[error(
        "repository {repo} already exists: the service was created already, or another owns the name; a real run would be refused"
    )]
    RepoTaken { repo: String },
    #[error(
        "idempotency key {key:?} was already used with a different request (run {run}); use a new key for a new request"
    )]
    KeyReused { key: String, run: RunId },
    #[error("service {0} does not exist")]
    ServiceNotFound(String),
    #[error("run {run} is {operation} run; only create-service runs can be undone")]
    NotUndoable { run: RunId, operation: String },
    #[error("run {run} is {state}; it can be undone once it has stopped (`runs retry {run}` finishes it first)")]
    UndoUnfinished { run: RunId, state: &'static str },
    #[error(
        "run {run} cannot be undone: {}; `runs undo {run} --force` deletes that work too",
        work.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    LaterWork { run: RunId, work: Vec<undo::LaterWork> },
    /// The request was fine; executing its run failed (its journal says where).
    #[error("run {run} creating {service} failed: {error}")]
    RunFailed { run: String, service: String, error: String },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Blueprints(#[from] catalog::Error),
    #[error(transparent)]
    Plan(#[from] plan::Error),
    #[error("git failed")]
    Git(#[source] PortError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) | Error::KeyReused { .. } => ErrorKind::Invalid,
            Error::ServiceExists { .. }
            | Error::RepoExists { .. }
            | Error::RepoTaken { .. }
            | Error::NotUndoable { .. }
            | Error::UndoUnfinished { .. }
            | Error::LaterWork { .. } => ErrorKind::Conflict,
            Error::ServiceNotFound(_) => ErrorKind::NotFound,
            Error::Run(e) => e.kind(),
            Error::RunFailed { .. } | Error::Blueprints(_) | Error::Plan(_) | Error::Git(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(e) => e.code(),
            Error::KeyReused { .. } => "idempotency-key-reused",
            Error::ServiceExists { .. } => "service-exists",
            Error::RepoExists { .. } | Error::RepoTaken { .. } => "repo-exists",
            Error::ServiceNotFound(_) => "not-found",
            Error::NotUndoable { .. } => "not-undoable",
            Error::UndoUnfinished { .. } => "run-running",
            Error::LaterWork { .. } => "later-work",
            Error::RunFailed { .. } => "run-failed",
            Error::Run(e) => e.code(),
            Error::Blueprints(e) => e.code(),
            Error::Plan(_) | Error::Git(_) => "internal",
        }
    }

    fn problems(&self) -> &[provision_core::Problem] {
        match self {
            Error::Invalid(e) => e.problems(),
            _ => &[],
        }
    }

    fn subject(&self) -> Subject {
        match self {
            Error::ServiceExists { name, run } => {
                Subject { service: Some(name.to_string()), run: Some(run.to_string()), ..Subject::default() }
            }
            Error::RepoExists { repo } | Error::RepoTaken { repo } => {
                Subject { repo: Some(repo.clone()), ..Subject::default() }
            }
            Error::KeyReused { run, .. } | Error::NotUndoable { run, .. } | Error::UndoUnfinished { run, .. } => {
                Subject { run: Some(run.to_string()), ..Subject::default() }
            }
            Error::LaterWork { run, work } => Subject {
                run: Some(run.to_string()),
                repo: work.first().map(|w| w.repo.to_string()),
                ..Subject::default()
            },
            Error::RunFailed { run, service, .. } => {
                Subject { service: Some(service.clone()), run: Some(run.clone()), ..Subject::default() }
            }
            Error::Run(e) => e.subject(),
            _ => Subject::default(),
        }
    }
}

/// Options of a create-service call.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Plan and render, write nothing.
    pub dry_run: bool,
    /// A client's key: the same key with the same request returns the first run.
    pub idempotency_key: Option<String>,
}

/// Checks and plans what runs do: the layout, the blueprints and the git host's clone URLs.
/// Writes nothing and needs no store.
#[derive(Clone)]
pub struct Planner {
    pub(crate) layout: Arc<Layout>,
    pub(crate) blueprints: Blueprints,
    pub(crate) git: Arc<dyn GitHost>,
}

impl Planner {
    pub fn new(layout: Arc<Layout>, blueprints: Blueprints, git: Arc<dyn GitHost>) -> Self {
        Planner { layout, blueprints, git }
    }

    /// Every blueprint and the parameters it asks for.
    pub async fn kinds(&self) -> Result<Vec<KindView>, catalog::Error> {
        self.blueprints.kinds().await
    }

    pub(crate) fn clone_url(&self, repo: &RepoName) -> String {
        self.git.clone_url(repo)
    }

    /// Checks `input` and plans its run.
    async fn plan_create(&self, input: &CreateServiceInput) -> Result<(CreateServiceRun, PlannedService), Error> {
        let catalog = self.blueprints.catalog().await?;
        let (run, blueprint) = request::validate(&self.layout, &catalog, input, &|r| self.clone_url(r))?;
        let planned = plan::plan(&self.layout, &blueprint, &run, &|r| self.clone_url(r))?;
        Ok((run, planned))
    }

    /// What create-service would do with `input`: every check the real run makes that needs no
    /// store (the request, the blueprint's parameters, the names the system keeps, a repository
    /// of the service that exists already), the plan and the files; nothing is written.
    pub async fn dry_run(&self, input: &CreateServiceInput) -> Result<ServiceReport, Error> {
        let (run, planned) = self.plan_create(input).await?;
        self.dry_report(&run, &planned).await
    }

    /// The report of a planned dry run, refused when a repository of the service exists; each
    /// file it would write is diffed against its repository's `main` as it is (the service's
    /// repositories do not exist yet, so their files are all new).
    async fn dry_report(&self, run: &CreateServiceRun, planned: &PlannedService) -> Result<ServiceReport, Error> {
        for repo in planned.repos.iter().filter(|r| r.role != RepoRole::Gitops) {
            if self.git.repo_exists(&repo.name).await.map_err(Error::Git)? {
                return Err(Error::RepoTaken { repo: repo.name.to_string() });
            }
        }
        let mut report = self.report(run, None, planned, true, false);
        let main = provision_core::BranchName::main();
        for (shown, repo) in report.repos.iter_mut().zip(&planned.repos) {
            let shared = repo.role == RepoRole::Gitops && self.git.repo_exists(&repo.name).await.map_err(Error::Git)?;
            let current = match shared {
                true => self.git.read_tree(&repo.name, &main).await.map_err(Error::Git)?,
                false => None,
            };
            shown.changes = crate::diff::changes(current.as_ref(), &repo.files);
        }
        Ok(report)
    }

    /// The report of a run (`None` for a dry run) of `run`, planned as `planned`.
    pub(crate) fn report(
        &self,
        run: &CreateServiceRun,
        record: Option<&provision_core::ports::RunRecord>,
        planned: &PlannedService,
        dry_run: bool,
        replayed: bool,
    ) -> ServiceReport {
        ServiceReport::new(run, record, planned, &self.layout, &|r| self.clone_url(r), dry_run, replayed)
    }

    /// The blueprint run `id` was made with, as it is configured now.
    pub(crate) async fn blueprint(
        &self,
        id: &RunId,
        kind: &provision_core::BlueprintName,
    ) -> Result<Arc<Blueprint>, RunError> {
        self.blueprints
            .catalog()
            .await?
            .get(kind)
            .ok_or_else(|| RunError::BlueprintGone { run: id.clone(), kind: kind.to_string() })
    }

    /// The plan of a create-service run, made again from what it recorded; refused when its
    /// blueprint changed since (the same run must make the same files).
    async fn replan_create(&self, id: &RunId, run: &CreateServiceRun) -> Result<PlannedService, RunError> {
        let blueprint = self.blueprint(id, &run.request.kind).await?;
        if blueprint.digest() != run.blueprint_digest {
            return Err(RunError::BlueprintChanged { run: id.clone(), kind: run.request.kind.to_string() });
        }
        plan::plan(&self.layout, &blueprint, run, &|r| self.clone_url(r))
            .map_err(|e| RunError::Replan { run: id.clone(), source: Box::new(e) })
    }
}

/// Creating services, and the runs that do it.
#[derive(Clone)]
pub struct Provisioning {
    planner: Planner,
    runner: Runner,
}

impl Provisioning {
    pub(crate) fn new(planner: Planner, runner: Runner) -> Self {
        Provisioning { planner, runner }
    }

    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    fn store(&self) -> &dyn Store {
        self.runner.store.as_ref()
    }

    /// Validates the request, then (unless `dry_run`) records and executes a run that creates
    /// the service repository, the infra repository and the GitOps registration.
    pub async fn create_service(
        &self,
        input: &CreateServiceInput,
        options: &CreateOptions,
    ) -> Result<ServiceReport, Error> {
        let (run, planned) = self.planner.plan_create(input).await?;
        if options.dry_run {
            // The inventory says whose a taken name is; the planner checks the repositories.
            if let Some(existing) = self.store().service(&run.request.name).await.map_err(RunError::Store)? {
                return Err(Error::ServiceExists { name: existing.name, run: existing.run });
            }
            return self.planner.dry_report(&run, &planned).await;
        }
        let git = &self.planner.git;
        // A repository of the service that exists without the service being ours is someone
        // else's: refuse before any run. (If the service is ours, the store answers below.)
        for repo in planned.repos.iter().filter(|r| r.role != RepoRole::Gitops) {
            if git.repo_exists(&repo.name).await.map_err(Error::Git)? {
                if self.store().service(&run.request.name).await.map_err(RunError::Store)?.is_none() {
                    return Err(Error::RepoExists { repo: repo.name.to_string() });
                }
                break;
            }
        }
        let idempotency = options
            .idempotency_key
            .as_ref()
            .map(|key| IdempotencyKey { key: key.clone(), fingerprint: fingerprint(&run.request) });
        let service = NewService {
            name: run.request.name.clone(),
            kind: run.request.kind.clone(),
            blueprint_version: run.blueprint_version.clone(),
            owner: run.request.owner.clone(),
            description: run.request.description.clone(),
            repos: planned.repos.iter().map(|r| r.name.clone()).collect(),
        };
        let request = RunRequest::CreateService(run.clone());
        let (id, created) = self.runner.create(&request, Some(service), idempotency).await?;
        match created {
            RunCreated::Created => {}
            RunCreated::Replayed { run } => return self.replay(&run).await,
            RunCreated::KeyReused { run } => {
                return Err(Error::KeyReused { key: options.idempotency_key.clone().unwrap_or_default(), run });
            }
            RunCreated::ServiceExists { name, run } => return Err(Error::ServiceExists { name, run }),
        }
        info!(run = %id, service = %run.request.name, "create-service started");
        self.runner.execute(&id, &planned.plan).await?;
        let record = self.runner.record(&id).await?;
        Ok(self.planner.report(&run, Some(&record), &planned, false, false))
    }

    /// The report of an earlier run, for a repeated idempotent request.
    async fn replay(&self, id: &RunId) -> Result<ServiceReport, Error> {
        let record = self.runner.record(id).await?;
        let RunRequest::CreateService(run) = Runner::request(&record)? else {
            return Err(RunError::UnknownOperation(id.clone()).into());
        };
        let blueprint = self.planner.blueprint(id, &run.request.kind).await?;
        let planned = plan::plan(&self.planner.layout, &blueprint, &run, &|r| self.planner.clone_url(r))?;
        Ok(self.planner.report(&run, Some(&record), &planned, false, true))
    }

    /// Resumes every unfinished run (after a crash). Runs another live process holds are skipped.
    pub async fn resume_unfinished(&self) -> Result<Vec<RunId>, Error> {
        let mut resumed = Vec::new();
        for record in self.store().unfinished_runs().await.map_err(RunError::Store)? {
            match self.resume(&record.id).await {
                Ok(()) => resumed.push(record.id),
                Err(RunError::Busy(_)) => {}
                Err(e) => warn!(run = %record.id, error = %e, "cannot resume run"),
            }
        }
        Ok(resumed)
    }

    /// Plans run `id` again from what it recorded and executes what is left of it. A run whose
    /// blueprint changed is failed for good: it could no longer make what it started making.
    async fn resume(&self, id: &RunId) -> Result<(), RunError> {
        let record = self.runner.record(id).await?;
        let planned = match Runner::request(&record)? {
            RunRequest::CreateService(run) => self.planner.replan_create(id, &run).await.map(|p| p.plan),
            RunRequest::Upgrade(run) => upgrades::replan(&self.planner, id, &run).await,
            RunRequest::Undo(run) => Ok(undo::plan(&run)),
        };
        let plan = match planned {
            Ok(plan) => plan,
            Err(e @ RunError::BlueprintChanged { .. }) => return Err(self.runner.fail(id, e).await),
            Err(e) => return Err(e),
        };
        info!(run = %id, "resuming run");
        self.runner.execute(id, &plan).await
    }

    /// Makes a failed run resumable and resumes it; answers once it has stopped.
    ///
    /// Refused for a run that is running ([`RunError::Running`]) or succeeded
    /// ([`RunError::Succeeded`]). A run that is `pending` or `running` in the store but held
    /// by no live process (its process died, or it waits for a background retry) is resumed.
    pub async fn retry_run(&self, id: &str) -> Result<RunView, Error> {
        let id = self.reopen(id).await?;
        self.resume(&id).await?;
        self.run(id.as_str()).await
    }

    /// [`Self::retry_run`], answering at once: the run is reopened, and resumed by a task of
    /// its own. The view is the run as it stands when the retry starts.
    pub async fn start_retry(&self, id: &str) -> Result<RunView, Error> {
        let id = self.reopen(id).await?;
        let provisioning = self.clone();
        let run = id.clone();
        tokio::spawn(async move {
            match provisioning.resume(&run).await {
                Ok(()) => info!(run = %run, "retried run stopped"),
                // Someone else took it up meanwhile (a background retry, another process).
                Err(RunError::Busy(_)) => info!(run = %run, "retried run was taken up elsewhere"),
                Err(e) => warn!(run = %run, error = %e, "cannot retry run"),
            }
        });
        self.run(id.as_str()).await
    }

    /// Checks that run `id` may be retried and makes it resumable.
    async fn reopen(&self, id: &str) -> Result<RunId, RunError> {
        let id = self.run_id(id).await?;
        if self.runner.record(&id).await?.state == RunState::Succeeded {
            return Err(RunError::Succeeded(id));
        }
        // Running is holding the run's claim, in this process or another; a run whose process
        // died holds none. (Taken and let go at once: the engine takes its own.)
        if self.store().try_claim(&id).await.map_err(RunError::Store)?.is_none() {
            return Err(RunError::Running(id));
        }
        self.store().reopen_run(&id).await.map_err(RunError::Store)?;
        Ok(id)
    }

    /// Undoes create-service run `id` ([`undo`] says what that takes); with `dry_run`, says
    /// what it would do and does nothing. Refused while the run is unfinished, for another kind
    /// of run, and (unless `force`) when someone committed to a repository it made since.
    /// Undoing a run again answers the first undo.
    pub async fn undo(&self, id: &str, force: bool, dry_run: bool) -> Result<undo::UndoReport, Error> {
        let target = RunId::parse(id).map_err(|_| RunError::NotFound(id.to_owned()))?;
        let record = self.runner.record(&target).await?;
        let create = match Runner::request(&record)? {
            RunRequest::CreateService(create) => create,
            other => return Err(Error::NotUndoable { run: target, operation: other.operation().to_string() }),
        };
        if !record.state.is_finished() {
            return Err(Error::UndoUnfinished { run: target, state: record.state.as_str() });
        }
        let name = &create.request.name;
        let git = self.planner.git.as_ref();
        let decided = undo::decide(
            git,
            self.store(),
            &self.planner.layout.gitops_repo,
            &target,
            name,
            &[name.repo(), name.infra_repo()],
            force,
        )
        .await
        .map_err(Error::Git)?;
        if !decided.later_work.is_empty() && !force {
            return Err(Error::LaterWork { run: target, work: decided.later_work });
        }
        if dry_run {
            return Ok(undo::UndoReport::new(&decided.run, None, false));
        }
        let idempotency = IdempotencyKey { key: undo::key(&target, force), fingerprint: "undo".into() };
        let (id, created) = self.runner.create(&RunRequest::Undo(decided.run.clone()), None, Some(idempotency)).await?;
        let (id, run, replayed) = match created {
            RunCreated::Created => (id, decided.run, false),
            RunCreated::Replayed { run } | RunCreated::KeyReused { run } => {
                let record = self.runner.record(&run).await?;
                let earlier = undo::recorded(&record).ok_or_else(|| RunError::UnknownOperation(run.clone()))?;
                (run, earlier, true)
            }
            RunCreated::ServiceExists { run, .. } => return Err(RunError::UnknownOperation(run).into()),
        };
        if !replayed {
            info!(run = %id, target = %target, service = %name, "undo started");
            self.runner.execute(&id, &undo::plan(&run)).await?;
        }
        let record = self.runner.record(&id).await?;
        let view = RunView::new(&record, &self.runner.steps(&id).await?);
        Ok(undo::UndoReport::new(&run, Some(view), replayed))
    }

    /// The runs queued for a background retry, for the one task that retries them: `None`
    /// without background retries, or once taken.
    pub(crate) fn retry_queue(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<(RunId, Duration)>> {
        match &self.runner.retries {
            Retries::Background(queue) => queue.take_receiver(),
            Retries::Off => None,
        }
    }

    /// A background retry of run `id`, after waiting `wait`: resumed if it still waits for
    /// one (`pending`), left alone if something else took it up meanwhile (`runs retry`,
    /// another process's start, which resumes pending runs).
    pub(crate) async fn retry_due(&self, id: RunId, wait: Duration) {
        self.runner.pause.pause(wait).await;
        match self.runner.record(&id).await {
            Ok(record) if record.state == RunState::Pending => {}
            Ok(record) => {
                info!(run = %id, state = record.state.as_str(), "background retry not needed");
                return;
            }
            Err(e) => {
                warn!(run = %id, error = %e, "cannot retry run in the background");
                return;
            }
        }
        info!(run = %id, "retrying run in the background");
        match self.resume(&id).await {
            Ok(()) => match self.runner.record(&id).await {
                Ok(record) => info!(run = %id, state = record.state.as_str(), "background retry stopped"),
                Err(e) => warn!(run = %id, error = %e, "cannot read the retried run"),
            },
            Err(RunError::Busy(_)) => info!(run = %id, "run was taken up elsewhere"),
            Err(e) => warn!(run = %id, error = %e, "cannot retry run in the background"),
        }
    }

    async fn run_id(&self, id: &str) -> Result<RunId, RunError> {
        let parsed = RunId::parse(id).map_err(|_| RunError::NotFound(id.to_owned()))?;
        self.runner.record(&parsed).await.map(|_| parsed)
    }

    /// A run with its journal (and an upgrade run's report).
    pub async fn run(&self, id: &str) -> Result<RunView, Error> {
        let id = RunId::parse(id).map_err(|_| RunError::NotFound(id.to_owned()))?;
        let record = self.runner.record(&id).await?;
        let steps = self.runner.steps(&id).await?;
        let mut view = RunView::new(&record, &steps);
        if let Ok(RunRequest::Upgrade(run)) = Runner::request(&record) {
            view.upgrade = Some(upgrades::report::of_run(self.planner.git.as_ref(), &run, &record, &steps).await);
        }
        Ok(view)
    }

    /// The newest runs.
    pub async fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, Error> {
        let records = self.store().runs(limit).await.map_err(RunError::Store)?;
        Ok(records.iter().map(RunSummary::from).collect())
    }

    /// The inventory.
    pub async fn services(&self) -> Result<Vec<ServiceView>, Error> {
        let records = self.store().services().await.map_err(RunError::Store)?;
        Ok(records
            .iter()
            .map(|r| ServiceView::new(r, &self.planner.layout, &|repo| self.planner.clone_url(repo)))
            .collect())
    }

    /// One service of the inventory.
    pub async fn service(&self, name: &str) -> Result<ServiceView, Error> {
        let not_found = || Error::ServiceNotFound(name.to_owned());
        let parsed = ServiceName::parse(name).map_err(|_| not_found())?;
        let record = self.store().service(&parsed).await.map_err(RunError::Store)?.ok_or_else(not_found)?;
        Ok(ServiceView::new(&record, &self.planner.layout, &|repo| self.planner.clone_url(repo)))
    }
}

/// A stable digest of a validated request, to recognise a repeated idempotent request.
fn fingerprint(request: &CreateService) -> String {
    let bytes = serde_json::to_vec(request).expect("a request serializes");
    hex::encode(Sha256::digest(&bytes))
}
