//! The orchestrator application: the use cases both frontends (CLI and API) call, and the
//! wiring of the adapters behind the ports.
//!
//! Frontends parse and print; every rule lives here or below. On the embedded default the
//! app keeps everything under one data directory: bare git repositories in `git/<org>/`,
//! runs in `orchestrator.db`, run claims in `locks/`.

mod chart;
pub mod cluster;
pub mod config;
pub mod fault;
mod image;
pub mod mail;
pub mod metrics;
pub mod report;
pub mod request;
pub mod secret;
pub mod service;
pub mod tokens;
pub mod upgrade;
pub mod workspace;

pub use config::Config;
pub use report::{
    ChartReport, ImageReport, KindView, ParameterView, RepoReport, RepoUpgradeReport, RunSummary, RunView,
    SecretReport, ServiceReport, ServiceUpgradeReport, ServiceView, StepView, UpgradeOutcome, UpgradeReport,
};
pub use request::{CreateService, CreateServiceInput};
pub use upgrade::{UpgradeMode, UpgradeOptions, UpgradeTarget};

use async_trait::async_trait;
use provision_core::engine::{self, Engine, FaultHook};
use provision_core::ports::{
    Claim, CommitId, CommitRequest, GitHost, IdempotencyKey, JournalEvent, NewRun, NewService, Pause, PortError,
    PortErrorKind, RunCreated, RunRecord, ServiceRecord, StepRecord, Store,
};
use provision_core::problem::{Collector, Problem};
use provision_core::{
    BlueprintName, BranchName, FileEntry, FileSet, Invalid, RepoName, RepoPath, RunId, ServiceName, TreeMode,
};
use provision_template::{Blueprint, Catalog};
use service::{CreateServiceRun, RepoRole};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tracing::{info, warn};

const CREATE_SERVICE: &str = "create-service";

/// How often a single-commit operation is tried when `main` moves under it.
const COMMIT_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("service {name} already exists (created by run {run})")]
    ServiceExists { name: ServiceName, run: RunId },
    #[error("repository {repo} already exists; pick another service name")]
    RepoExists { repo: String },
    #[error("idempotency key {key:?} was already used with a different request (run {run})")]
    KeyReused { key: String, run: RunId },
    #[error("run {0} does not exist")]
    RunNotFound(String),
    #[error("service {0} does not exist")]
    ServiceNotFound(String),
    #[error("run {0} is being executed by another process")]
    Busy(RunId),
    #[error("run {run} cannot resume: blueprint {kind} changed since it started; `runs retry {run}` plans it again")]
    BlueprintChanged { run: RunId, kind: String },
    #[error("run {run} cannot resume: its blueprint {kind} is no longer configured")]
    BlueprintGone { run: RunId, kind: String },
    #[error("run {0} was made by an unknown operation")]
    UnknownOperation(RunId),
    #[error("cannot load the blueprints")]
    Blueprints(#[source] provision_template::Error),
    #[error(transparent)]
    Plan(#[from] service::Error),
    #[error("cannot open the data directory {path}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the store failed")]
    Store(#[source] PortError),
    #[error("git failed")]
    Git(#[source] PortError),
    #[error(transparent)]
    Engine(engine::Error),
    #[error("internal task failed")]
    Join(#[from] tokio::task::JoinError),
    #[error("cannot package the chart in {dir}")]
    Chart {
        dir: String,
        #[source]
        source: Box<provision_helm::PackageError>,
    },
    #[error("the chart's archive name {file:?} is not a valid file name in a repository")]
    ChartName { file: String },
    #[error("cannot update the index of chart repository {repo}")]
    ChartIndex {
        repo: String,
        #[source]
        source: Box<provision_helm::IndexError>,
    },
    #[error("repository {repo} has no readable {file} on main")]
    NoValuesFile { repo: String, file: String },
    #[error(
        "no sealed-secrets certificate for environment {env}: set `certificate` under [sealed_secrets] in config.toml (or `{env} = …` under [sealed_secrets.certificates]), or pass --cert; `kubeseal --fetch-cert` prints the cluster's"
    )]
    NoSealingCertificate { env: String },
    #[error(transparent)]
    Certificate(provision_sealed::CertificateError),
    #[error("cannot seal {key}")]
    Seal {
        key: String,
        #[source]
        source: provision_sealed::SealError,
    },
    #[error("cannot put the sealed values into {file} of {repo}")]
    SecretsEdit {
        repo: String,
        file: String,
        #[source]
        source: Box<provision_helm::SecretsEditError>,
    },
    #[error("workspaces are off: no e-mail domain may ask for one (set workspaces.allowed_email_domains)")]
    WorkspacesOff,
    #[error("no Kubernetes cluster is configured for workspaces (KUBECONFIG, or run in a cluster)")]
    NoCluster,
    #[error("the cluster failed")]
    Cluster(#[source] PortError),
    #[error("POST /api/delete is off (workspaces.legacy_delete)")]
    LegacyDeleteOff,
    #[error("not authenticated: {0}")]
    Unauthorized(tokens::TokenError),
    #[error(transparent)]
    Token(tokens::TokenError),
    #[error("cannot reach Kubernetes: {0}")]
    Kube(String),
    #[error("this app has no outbox for e-mail")]
    NoOutbox,
    #[error("this app keeps no API tokens")]
    NoTokens,
    #[error(transparent)]
    Mail(mail::Error),
    #[error("workspace {name} exists already")]
    WorkspaceExists { name: String },
    #[error("workspace {0} does not exist")]
    WorkspaceNotFound(String),
    #[error("over quota: {0}")]
    Quota(Invalid),
    #[error("cannot set the image tag in {file} of {repo}")]
    Bump {
        repo: String,
        file: String,
        #[source]
        source: provision_helm::BumpError,
    },
}

impl From<engine::Error> for Error {
    fn from(e: engine::Error) -> Self {
        match e {
            engine::Error::Busy(run) => Error::Busy(run),
            other => Error::Engine(other),
        }
    }
}

/// What [`App::edit_on_main`] did.
struct Edited {
    /// The new commit, or `main`'s tip when nothing changed.
    commit: String,
    changed: bool,
}

/// Options of a create-service call.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Plan and render, write nothing.
    pub dry_run: bool,
    /// A client's key: the same key with the same request returns the first run.
    pub idempotency_key: Option<String>,
}

/// Waits with the tokio timer.
struct TokioPause;

#[async_trait]
impl Pause for TokioPause {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The store of an app that only plans: every call fails, none is expected.
struct NoStore;

#[async_trait]
impl Store for NoStore {
    async fn create_run(&self, _: NewRun) -> Result<RunCreated, PortError> {
        Err(no_store())
    }
    async fn run(&self, _: &RunId) -> Result<Option<RunRecord>, PortError> {
        Err(no_store())
    }
    async fn runs(&self, _: usize) -> Result<Vec<RunRecord>, PortError> {
        Err(no_store())
    }
    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError> {
        Err(no_store())
    }
    async fn steps(&self, _: &RunId) -> Result<Vec<StepRecord>, PortError> {
        Err(no_store())
    }
    async fn record(&self, _: &RunId, _: JournalEvent) -> Result<(), PortError> {
        Err(no_store())
    }
    async fn reopen_run(&self, _: &RunId) -> Result<(), PortError> {
        Err(no_store())
    }
    async fn service(&self, _: &ServiceName) -> Result<Option<ServiceRecord>, PortError> {
        Err(no_store())
    }
    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError> {
        Err(no_store())
    }
    async fn set_blueprint_version(&self, _: &ServiceName, _: &str) -> Result<(), PortError> {
        Err(no_store())
    }
    async fn try_claim(&self, _: &RunId) -> Result<Option<Box<dyn Claim>>, PortError> {
        Err(no_store())
    }
}

fn no_store() -> PortError {
    PortError::permanent("this app only plans; it has no store")
}

/// The application, with its adapters.
pub struct App {
    config: Config,
    git: Arc<dyn GitHost>,
    store: Arc<dyn Store>,
    pause: Arc<dyn Pause>,
    fault: Option<Arc<dyn FaultHook>>,
    catalog: OnceCell<Arc<Catalog>>,
    workspaces: Option<Arc<dyn provision_core::workspace::WorkspaceCluster>>,
    outbox: Option<Arc<dyn provision_core::ports::Outbox>>,
    tokens: Option<Arc<dyn provision_core::ports::Tokens>>,
    token_file: Option<Arc<tokens::TokenFile>>,
    metrics: Arc<metrics::Metrics>,
}

impl App {
    /// The embedded default: bare repositories and SQLite under `config.home`. The blueprints
    /// load on a blocking thread while the database opens; if they cannot, the error comes
    /// with the first command that needs them.
    pub async fn open(config: Config) -> Result<App, Error> {
        let home = config.home.clone();
        let open_err =
            |source: Box<dyn std::error::Error + Send + Sync>| Error::Open { path: home.display().to_string(), source };
        tokio::fs::create_dir_all(&config.home).await.map_err(|e| open_err(Box::new(e)))?;
        let dirs = config.blueprint_dirs.clone();
        let database = config.database();
        let (store, catalog) = tokio::join!(
            provision_store::SqliteStore::open(&database),
            tokio::task::spawn_blocking(move || load_catalog(&dirs))
        );
        let store = store.map_err(|e| open_err(Box::new(e)))?;
        let git = provision_git::LocalGitHost::new(
            config.git_root(),
            provision_git::Signature { name: config.author_name.clone(), email: config.author_email.clone() },
        );
        let token_file = match &config.tokens_file {
            Some(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|e| open_err(Box::new(e)))?;
                Some(Arc::new(tokens::TokenFile::parse(&text, path).map_err(|e| open_err(Box::new(e)))?))
            }
            None => None,
        };
        let store = Arc::new(store);
        let mut app = Self::with_ports(config, Arc::new(git), store.clone());
        app.outbox = Some(store.clone());
        app.tokens = Some(store);
        app.token_file = token_file;
        if let Ok(Ok(catalog)) = catalog {
            let _ = app.catalog.set(Arc::new(catalog));
        }
        Ok(app)
    }

    /// An app on the given adapters (tests use the in-memory fakes).
    pub fn with_ports(config: Config, git: Arc<dyn GitHost>, store: Arc<dyn Store>) -> App {
        App {
            config,
            git,
            store,
            pause: Arc::new(TokioPause),
            fault: None,
            catalog: OnceCell::new(),
            workspaces: None,
            outbox: None,
            tokens: None,
            token_file: None,
            metrics: Arc::default(),
        }
    }

    /// An app that can plan and render (dry runs, listing kinds) but touches no data:
    /// nothing is created under the data directory.
    pub fn planner(config: Config) -> App {
        let git = provision_git::LocalGitHost::new(
            config.git_root(),
            provision_git::Signature { name: config.author_name.clone(), email: config.author_email.clone() },
        );
        Self::with_ports(config, Arc::new(git), Arc::new(NoStore))
    }

    /// Stops runs at a fault point (tests only).
    /// Where API tokens are kept (the store, with the embedded default), and the tokens file.
    pub fn with_tokens(
        mut self,
        tokens: Arc<dyn provision_core::ports::Tokens>,
        file: Option<tokens::TokenFile>,
    ) -> Self {
        self.tokens = Some(tokens);
        self.token_file = file.map(Arc::new);
        self
    }

    /// The same app (its adapters are shared).
    fn shallow_clone(&self) -> App {
        App {
            config: self.config.clone(),
            git: self.git.clone(),
            store: self.store.clone(),
            pause: self.pause.clone(),
            fault: self.fault.clone(),
            catalog: self.catalog.clone(),
            workspaces: self.workspaces.clone(),
            outbox: self.outbox.clone(),
            tokens: self.tokens.clone(),
            token_file: self.token_file.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// The outbox e-mails wait in (the store's, with the embedded default).
    pub fn with_outbox(mut self, outbox: Arc<dyn provision_core::ports::Outbox>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    pub fn with_fault_hook(mut self, hook: Arc<dyn FaultHook>) -> Self {
        self.fault = Some(hook);
        self
    }

    pub fn with_pause(mut self, pause: Arc<dyn Pause>) -> Self {
        self.pause = pause;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The blueprints: built-ins, then the configured directories (loaded on first use).
    pub async fn catalog(&self) -> Result<Arc<Catalog>, Error> {
        self.catalog
            .get_or_try_init(|| async {
                let dirs = self.config.blueprint_dirs.clone();
                let catalog = tokio::task::spawn_blocking(move || load_catalog(&dirs)).await??;
                Ok::<_, Error>(Arc::new(catalog))
            })
            .await
            .cloned()
    }

    pub async fn kinds(&self) -> Result<Vec<KindView>, Error> {
        Ok(self.catalog().await?.list().map(|b| KindView::from_blueprint(b)).collect())
    }

    fn engine(&self) -> Engine<'_> {
        let engine = Engine::new(self.git.as_ref(), self.store.as_ref(), self.pause.as_ref());
        match &self.fault {
            Some(hook) => engine.with_fault_hook(hook.as_ref()),
            None => engine,
        }
    }

    /// Validates the request, then (unless `dry_run`) records and executes a run that
    /// creates the service repository, the infra repository and the GitOps registration.
    pub async fn create_service(
        &self,
        input: &CreateServiceInput,
        options: &CreateOptions,
    ) -> Result<ServiceReport, Error> {
        let catalog = self.catalog().await?;
        let (run_request, blueprint) = self.validate(input, &catalog)?;
        let planned = service::plan(&self.config, &blueprint, &run_request, &|r| self.git.clone_url(r))?;

        if options.dry_run {
            return Ok(ServiceReport::new(&run_request, None, &planned, &|r| self.git.clone_url(r), true, false));
        }
        // A repository of the service that exists without the service being ours is someone
        // else's: refuse before any run. (If the service is ours, the store answers below.)
        for repo in planned.repos.iter().filter(|r| r.role != RepoRole::Gitops) {
            if self.git.repo_exists(&repo.name).await.map_err(Error::Git)? {
                if self.store.service(&run_request.request.name).await.map_err(Error::Store)?.is_none() {
                    return Err(Error::RepoExists { repo: repo.name.to_string() });
                }
                break;
            }
        }

        let request_json = serde_json::to_value(&run_request).expect("a run request serializes");
        let idempotency = options
            .idempotency_key
            .as_ref()
            .map(|key| IdempotencyKey { key: key.clone(), fingerprint: fingerprint(&run_request.request) });
        let id = RunId::parse(&uuid::Uuid::now_v7().to_string()).expect("a UUID is a valid run id");
        let created = self
            .store
            .create_run(NewRun {
                id: id.clone(),
                operation: CREATE_SERVICE.into(),
                request: request_json,
                service: Some(NewService {
                    name: run_request.request.name.clone(),
                    kind: run_request.request.kind.clone(),
                    blueprint_version: run_request.blueprint_version.clone(),
                    owner: run_request.request.owner.clone(),
                    description: run_request.request.description.clone(),
                    repos: planned.repos.iter().map(|r| r.name.clone()).collect(),
                }),
                idempotency,
            })
            .await
            .map_err(Error::Store)?;
        match created {
            RunCreated::Created => {}
            RunCreated::Replayed { run } => return self.replay(&run).await,
            RunCreated::KeyReused { run } => {
                return Err(Error::KeyReused { key: options.idempotency_key.clone().unwrap_or_default(), run });
            }
            RunCreated::ServiceExists { name, run } => return Err(Error::ServiceExists { name, run }),
        }
        info!(run = %id, service = %run_request.request.name, "create-service started");
        self.engine().execute(&id, &planned.plan).await?;
        let record =
            self.store.run(&id).await.map_err(Error::Store)?.ok_or_else(|| Error::RunNotFound(id.to_string()))?;
        Ok(ServiceReport::new(&run_request, Some(&record), &planned, &|r| self.git.clone_url(r), false, false))
    }

    /// The report of an earlier run, for a repeated idempotent request.
    async fn replay(&self, id: &RunId) -> Result<ServiceReport, Error> {
        let record =
            self.store.run(id).await.map_err(Error::Store)?.ok_or_else(|| Error::RunNotFound(id.to_string()))?;
        let run_request: CreateServiceRun =
            serde_json::from_value(record.request.clone()).map_err(|_| Error::UnknownOperation(id.clone()))?;
        let blueprint = self.blueprint_for(id, &run_request).await?;
        let planned = service::plan(&self.config, &blueprint, &run_request, &|r| self.git.clone_url(r))?;
        Ok(ServiceReport::new(&run_request, Some(&record), &planned, &|r| self.git.clone_url(r), false, true))
    }

    /// Parses the request and resolves its parameters against its blueprint, reporting every
    /// problem of every field (kind, name, description, owner, parameters) at once.
    fn validate(
        &self,
        input: &CreateServiceInput,
        catalog: &Catalog,
    ) -> Result<(CreateServiceRun, Arc<Blueprint>), Error> {
        let (parsed, mut c) = match CreateService::parse_collecting(input) {
            Ok(request) => (Some(request), Collector::new()),
            Err(c) => (None, c),
        };
        let kind = parsed.as_ref().map(|r| r.kind.clone()).or_else(|| BlueprintName::parse(&input.kind).ok());
        let blueprint = kind.and_then(|kind| {
            let found = catalog.get(&kind);
            if found.is_none() {
                c.push(unknown_kind(&kind, catalog));
            }
            found
        });
        if let Some(request) = &parsed {
            self.check_name_free_of_shared_repos(&request.name, &mut c);
        }
        let mut answers = None;
        if let Some(blueprint) = &blueprint {
            // A request that did not parse still gets its parameters checked, against an
            // example context, so every problem is reported at once.
            let ctx = match &parsed {
                Some(request) => service::render_context(&self.config, request, &|r| self.git.clone_url(r)),
                None => provision_template::RenderContext::example(),
            };
            // Problems come back with their `parameters.<name>` fields.
            answers = c.take("", blueprint.resolve_answers(&input.parameters, &ctx));
        }
        if let Some(request) = &parsed {
            // `<name>-<env>` names the environment's namespace and host label: a DNS label.
            let envs = if request.environments.is_empty() { &self.config.environments } else { &request.environments };
            if let Some(env) = envs.iter().find(|e| request.name.as_str().len() + 1 + e.as_str().len() > 63) {
                c.push(Problem::new(
                    "name",
                    "too-long-for-environment",
                    format!(
                        "{}-{env} (the namespace and host label in environment {env}) would be longer than 63 characters; shorten the name to at most {}",
                        request.name,
                        62 - env.as_str().len()
                    ),
                ));
            }
            if request.gitops.unwrap_or(self.config.gitops).flux() && self.config.remote_url.is_none() {
                c.push(Problem::new(
                    "gitops",
                    "needs-remote-url",
                    "Flux fetches the GitOps repository over https or ssh: set git.remote_url in config.toml",
                ));
            }
            for (i, env) in request.environments.iter().enumerate() {
                if !self.config.environments.contains(env) {
                    let known: Vec<&str> = self.config.environments.iter().map(|e| e.as_str()).collect();
                    c.push(Problem::new(
                        format!("environments[{i}]"),
                        "unknown-environment",
                        format!("unknown environment {env:?}; configured: {}", known.join(", ")),
                    ));
                }
            }
        }
        c.finish()?;
        let (mut request, blueprint, answers) = (
            parsed.expect("no problem means the request parsed"),
            blueprint.expect("no problem means the kind is known"),
            answers.expect("no problem means the answers resolved"),
        );
        if request.environments.is_empty() {
            request.environments = self.config.environments.clone();
        }
        request.gitops = Some(request.gitops.unwrap_or(self.config.gitops));
        let run = CreateServiceRun {
            blueprint_version: blueprint.manifest().version.clone(),
            blueprint_digest: blueprint.digest(),
            request,
            answers,
        };
        Ok((run, blueprint))
    }

    /// The GitOps repository's name cannot double as a service's.
    fn check_name_free_of_shared_repos(&self, name: &ServiceName, c: &mut Collector) {
        if name.repo() == self.config.gitops_repo {
            c.push(Problem::new("name", "reserved", format!("{name} is the GitOps repository's name")));
        }
    }

    async fn blueprint_for(&self, run: &RunId, request: &CreateServiceRun) -> Result<Arc<Blueprint>, Error> {
        self.catalog()
            .await?
            .get(&request.request.kind)
            .ok_or_else(|| Error::BlueprintGone { run: run.clone(), kind: request.request.kind.to_string() })
    }

    /// Resumes every unfinished run (after a crash). Runs another live process holds are skipped.
    pub async fn resume_unfinished(&self) -> Result<Vec<RunId>, Error> {
        let mut resumed = Vec::new();
        for record in self.store.unfinished_runs().await.map_err(Error::Store)? {
            match self.resume(&record.id).await {
                Ok(()) => resumed.push(record.id),
                Err(Error::Busy(_)) => {}
                Err(e) => warn!(run = %record.id, error = %e, "cannot resume run"),
            }
        }
        Ok(resumed)
    }

    async fn resume(&self, id: &RunId) -> Result<(), Error> {
        let record =
            self.store.run(id).await.map_err(Error::Store)?.ok_or_else(|| Error::RunNotFound(id.to_string()))?;
        let plan = match record.operation.as_str() {
            CREATE_SERVICE => {
                let run_request: CreateServiceRun =
                    serde_json::from_value(record.request).map_err(|_| Error::UnknownOperation(id.clone()))?;
                let blueprint = self.blueprint_for(id, &run_request).await?;
                if blueprint.digest() != run_request.blueprint_digest {
                    let kind = run_request.request.kind.to_string();
                    return Err(self.fail(id, Error::BlueprintChanged { run: id.clone(), kind }).await);
                }
                service::plan(&self.config, &blueprint, &run_request, &|r| self.git.clone_url(r))?.plan
            }
            upgrade::UPGRADE => {
                let run: upgrade::UpgradeRun =
                    serde_json::from_value(record.request).map_err(|_| Error::UnknownOperation(id.clone()))?;
                match self.upgrade_plan(id, &run).await {
                    Ok(plan) => plan,
                    Err(e @ Error::BlueprintChanged { .. }) => return Err(self.fail(id, e).await),
                    Err(e) => return Err(e),
                }
            }
            _ => return Err(Error::UnknownOperation(id.clone())),
        };
        info!(run = %id, "resuming run");
        self.engine().execute(id, &plan).await?;
        Ok(())
    }

    /// Records that run `id` cannot go on because of `error`, and returns the error.
    async fn fail(&self, id: &RunId, error: Error) -> Error {
        match self.store.record(id, JournalEvent::RunFailed { error: error.to_string() }).await {
            Ok(()) => error,
            Err(e) => Error::Store(e),
        }
    }

    /// Makes a failed run resumable and resumes it.
    pub async fn retry_run(&self, id: &str) -> Result<RunView, Error> {
        let id = self.run_id(id).await?;
        self.store.reopen_run(&id).await.map_err(Error::Store)?;
        self.resume(&id).await?;
        self.run(id.as_str()).await
    }

    async fn run_id(&self, id: &str) -> Result<RunId, Error> {
        let id = RunId::parse(id).map_err(|_| Error::RunNotFound(id.to_owned()))?;
        match self.store.run(&id).await.map_err(Error::Store)? {
            Some(_) => Ok(id),
            None => Err(Error::RunNotFound(id.to_string())),
        }
    }

    pub async fn run(&self, id: &str) -> Result<RunView, Error> {
        let id = RunId::parse(id).map_err(|_| Error::RunNotFound(id.to_owned()))?;
        let record =
            self.store.run(&id).await.map_err(Error::Store)?.ok_or_else(|| Error::RunNotFound(id.to_string()))?;
        let steps = self.store.steps(&id).await.map_err(Error::Store)?;
        let mut view = RunView::new(&record, &steps);
        if record.operation == upgrade::UPGRADE
            && let Ok(run) = serde_json::from_value::<upgrade::UpgradeRun>(record.request.clone())
        {
            view.upgrade = Some(self.upgrade_report(&run, &record, &steps).await?);
        }
        Ok(view)
    }

    pub async fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, Error> {
        Ok(self.store.runs(limit).await.map_err(Error::Store)?.iter().map(RunSummary::from).collect())
    }

    pub async fn services(&self) -> Result<Vec<ServiceView>, Error> {
        let records = self.store.services().await.map_err(Error::Store)?;
        Ok(records.iter().map(|r| ServiceView::new(r, &self.config, &|repo| self.git.clone_url(repo))).collect())
    }

    pub async fn service(&self, name: &str) -> Result<ServiceView, Error> {
        let parsed = ServiceName::parse(name).map_err(|_| Error::ServiceNotFound(name.to_owned()))?;
        let record = self
            .store
            .service(&parsed)
            .await
            .map_err(Error::Store)?
            .ok_or_else(|| Error::ServiceNotFound(name.to_owned()))?;
        Ok(ServiceView::new(&record, &self.config, &|repo| self.git.clone_url(repo)))
    }

    /// Overlays `files` on `main` of `repo` over `parent` with `message`: `Ok(None)` if `main`
    /// moved meanwhile and `attempt` may be followed by another (the caller reads again), the
    /// commit otherwise. For the single-commit operations (bump-image, chart publish).
    async fn commit_on_main(
        &self,
        repo: &RepoName,
        parent: Option<&CommitId>,
        files: &FileSet,
        message: &str,
        attempt: usize,
    ) -> Result<Option<CommitId>, Error> {
        let main = BranchName::main();
        let request =
            CommitRequest { branch: &main, parent, files, mode: TreeMode::Overlay, message, skip_unchanged: false };
        match self.git.commit(repo, request).await {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.kind == PortErrorKind::Conflict && attempt < COMMIT_ATTEMPTS => Ok(None),
            Err(e) => Err(Error::Git(e)),
        }
    }

    /// Edits `path` on `main` of `repo` in one commit with `message`: `edit` gets the file's
    /// text and answers the new text, or `None` to leave it as it is. When `main` moves under
    /// the commit, the file is read and edited again on the new head.
    async fn edit_on_main(
        &self,
        repo: &RepoName,
        path: &RepoPath,
        message: &str,
        edit: impl Fn(&str) -> Result<Option<String>, Error>,
    ) -> Result<Edited, Error> {
        let main = BranchName::main();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tip = self.git.branch_tip(repo, &main).await.map_err(Error::Git)?;
            let text = self
                .git
                .read_file(repo, &main, path)
                .await
                .map_err(Error::Git)?
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| Error::NoValuesFile { repo: repo.to_string(), file: path.to_string() })?;
            let edited = match edit(&text)? {
                Some(edited) if edited != text => edited,
                _ => return Ok(Edited { commit: tip.map(|t| t.0).unwrap_or_default(), changed: false }),
            };
            let files: FileSet = [(path.clone(), FileEntry::new(edited.into_bytes()))].into_iter().collect();
            if let Some(id) = self.commit_on_main(repo, tip.as_ref(), &files, message, attempt).await? {
                return Ok(Edited { commit: id.0, changed: true });
            }
        }
    }

    /// Lets the adapters finish before the process exits (the embedded database checkpoints
    /// its log). Call it last.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Whether the store answers (for readiness probes).
    pub async fn ready(&self) -> Result<(), Error> {
        self.store.runs(1).await.map(|_| ()).map_err(Error::Store)
    }
}

fn unknown_kind(kind: &BlueprintName, catalog: &Catalog) -> Problem {
    let known: Vec<String> = catalog.list().map(|b| b.manifest().name.to_string()).collect();
    Problem::new("kind", "unknown-kind", format!("unknown kind \"{kind}\"; known kinds: {}", known.join(", ")))
}

/// A stable digest of a validated request, to recognise a repeated idempotent request.
fn fingerprint(request: &CreateService) -> String {
    let bytes = serde_json::to_vec(request).expect("a request serializes");
    hex::encode(Sha256::digest(&bytes))
}

/// Built-ins first, then each configured directory: a blueprint itself (it has a
/// `blueprint.toml`) or a folder of blueprints. Later ones replace earlier ones by name.
pub fn load_catalog(dirs: &[std::path::PathBuf]) -> Result<Catalog, Error> {
    let mut catalog = Catalog::builtin().map_err(Error::Blueprints)?;
    for dir in dirs {
        catalog.add_dir(dir).map_err(Error::Blueprints)?;
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests;
