//! The runtime: the capabilities the configuration makes possible, built once from it over
//! the adapters it names, and the one start-up path both binaries take (open the data
//! directory, resume interrupted runs, connect the cluster) and the work they run in the
//! background (the workspace controller, the e-mail dispatcher, a server's retries of runs
//! that failed for a transient reason).
//!
//! A capability that is not configured does not exist: without a cluster there is no
//! [`Workspaces`], and [`Runtime::workspaces`] says why, once, for both front doors.

use crate::auth::Auth;
use crate::auth::tokens::{TokenFile, TokenFileError};
use crate::backoff::Backoff;
use crate::catalog::{self, Blueprints};
use crate::config::{Config, RunSettings};
use crate::edits::MainEdits;
use crate::error::{Classified, ErrorKind};
use crate::mail::{self, MailAnnouncer};
use crate::metrics::{CountingNotifier, Metrics};
use crate::provisioning::{self, Planner, Provisioning};
use crate::runs::shared::{Contention, SharedRepos};
use crate::runs::{Retries, RetryQueue, Runner};
use crate::upgrades::Upgrades;
use crate::workspaces::{self, Workspaces};
use async_trait::async_trait;
use provision_core::engine::FaultHook;
use provision_core::ports::{GitHost, Outbox, Pause, Store, Tokens};
use provision_core::workspace::WorkspaceCluster;
use provision_k8s::Cluster;
use provision_notify::Dispatcher;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the data directory {path}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
    #[error(transparent)]
    Cluster(#[from] provision_k8s::ConnectError),
    #[error("no Kubernetes cluster is connected")]
    NoCluster,
    #[error(transparent)]
    Mail(#[from] mail::Error),
    #[error("cannot resume interrupted runs")]
    Resume(#[source] provisioning::Error),
    #[error("a background task stopped")]
    Join(#[from] tokio::task::JoinError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // What the operator configured is wrong: a file to fix.
            Error::TokenFile(_) | Error::Mail(_) => ErrorKind::Invalid,
            Error::Cluster(_) | Error::NoCluster => ErrorKind::Unavailable,
            Error::Open { .. } | Error::Resume(_) | Error::Join(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::TokenFile(_) | Error::Mail(_) => "configuration",
            Error::Cluster(_) | Error::NoCluster => "cluster",
            Error::Open { .. } | Error::Resume(_) | Error::Join(_) => "internal",
        }
    }

    fn problems(&self) -> &[provision_core::Problem] {
        match self {
            Error::TokenFile(TokenFileError::Invalid { invalid, .. }) => invalid.problems(),
            _ => &[],
        }
    }
}

/// Waits with the tokio timer.
struct TokioPause;

#[async_trait]
impl Pause for TokioPause {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The adapters a runtime works on.
pub struct Ports {
    pub git: Arc<dyn GitHost>,
    pub store: Arc<dyn Store>,
    pub outbox: Arc<dyn Outbox>,
    pub tokens: Arc<dyn Tokens>,
    /// How retries wait (the tokio timer; tests pass one that does not).
    pub pause: Arc<dyn Pause>,
    /// Stops runs at a step boundary (crash tests only).
    pub fault: Option<Arc<dyn FaultHook>>,
    /// Runs that fail for a transient reason are reopened and retried by the runtime's
    /// [`Runtime::background`] work (a server), rather than left failed (a command).
    pub retry_in_background: bool,
}

impl Ports {
    /// `git`, and one database for runs, the outbox and the tokens (SQLite, or a test's fake).
    pub fn new<D: Store + Outbox + Tokens + 'static>(git: Arc<dyn GitHost>, database: Arc<D>) -> Self {
        Ports {
            git,
            store: database.clone(),
            outbox: database.clone(),
            tokens: database,
            pause: Arc::new(TokioPause),
            fault: None,
            retry_in_background: false,
        }
    }

    pub fn with_pause(self, pause: Arc<dyn Pause>) -> Self {
        Ports { pause, ..self }
    }

    pub fn with_fault_hook(self, hook: Option<Arc<dyn FaultHook>>) -> Self {
        Ports { fault: hook, ..self }
    }

    /// Runs that fail for a transient reason are retried in the background (see
    /// [`Ports::retry_in_background`]).
    pub fn with_background_retries(self) -> Self {
        Ports { retry_in_background: true, ..self }
    }
}

/// Whether start-up connects to a Kubernetes cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterUse {
    /// No: nothing of this process needs one.
    Never,
    /// When workspaces are configured; a cluster that cannot be reached leaves workspaces
    /// unavailable and everything else working (the API server).
    WhenConfigured,
    /// Always: the command needs it and fails without it (the controller, workspace commands).
    Required,
}

/// How [`Runtime::start`] starts.
pub struct Start {
    pub cluster: ClusterUse,
    /// The Kubernetes API server to use instead of `KUBECONFIG` or the in-cluster account.
    pub kube_url: Option<String>,
    /// Stops runs at a step boundary (crash tests only; see [`crate::fault`]).
    pub fault: Option<Arc<dyn FaultHook>>,
    /// A server: runs that fail for a transient reason are reopened and retried by
    /// [`Runtime::background`] (`[runs] retries` times). A command leaves them failed.
    pub retry_in_background: bool,
}

/// The capabilities of one process, and what they share.
pub struct Runtime {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    outbox: Arc<dyn Outbox>,
    pub provisioning: Provisioning,
    pub upgrades: Upgrades,
    pub edits: MainEdits,
    pub auth: Auth,
    /// Workspaces, or why this runtime has none.
    workspaces: Result<Workspaces, String>,
    cluster: Option<Cluster>,
    metrics: Arc<Metrics>,
}

impl Runtime {
    /// The one start-up path of both binaries: the embedded default opened under the data
    /// directory, interrupted runs resumed (before anything else happens, so a server that
    /// listens knows no half-made service), and the cluster connected as `start` says.
    pub async fn start(config: Config, start: Start) -> Result<Runtime, Error> {
        let runtime = Self::open_with(config, start.fault, start.retry_in_background).await?;
        for run in runtime.provisioning.resume_unfinished().await.map_err(Error::Resume)? {
            tracing::warn!(run = %run, "resumed an interrupted run");
        }
        let wanted = match start.cluster {
            ClusterUse::Never => false,
            ClusterUse::WhenConfigured => runtime.config.workspaces.allowed_domains.is_some(),
            ClusterUse::Required => true,
        };
        if !wanted {
            return Ok(runtime);
        }
        match Cluster::connect(start.kube_url.as_deref()).await {
            Ok(cluster) => Ok(runtime.on_cluster(cluster)),
            Err(e) if start.cluster == ClusterUse::WhenConfigured => {
                tracing::warn!(error = %e, "workspaces are configured but no cluster is reachable");
                Ok(Runtime { workspaces: Err(format!("no cluster is reachable ({e})")), ..runtime })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The embedded default: bare repositories and SQLite under `config.home`. The blueprints
    /// load on a blocking thread while the database opens; if they cannot, the error comes
    /// with the first command that needs them.
    pub async fn open(config: Config, fault: Option<Arc<dyn FaultHook>>) -> Result<Runtime, Error> {
        Self::open_with(config, fault, false).await
    }

    async fn open_with(
        config: Config,
        fault: Option<Arc<dyn FaultHook>>,
        retry_in_background: bool,
    ) -> Result<Runtime, Error> {
        let home = config.home.clone();
        let open_err =
            |source: Box<dyn std::error::Error + Send + Sync>| Error::Open { path: home.display().to_string(), source };
        tokio::fs::create_dir_all(&config.home).await.map_err(|e| open_err(Box::new(e)))?;
        let dirs = config.blueprint_dirs.clone();
        let database = config.database();
        let (store, loaded) = tokio::join!(
            provision_store::SqliteStore::open(&database),
            tokio::task::spawn_blocking(move || catalog::load(&dirs))
        );
        let store = Arc::new(store.map_err(|e| open_err(Box::new(e)))?);
        let token_file = match &config.auth.tokens_file {
            Some(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|e| open_err(Box::new(e)))?;
                Some(TokenFile::parse(&text, path)?)
            }
            None => None,
        };
        let blueprints = match loaded {
            Ok(Ok(catalog)) => Blueprints::loaded(config.blueprint_dirs.clone(), catalog),
            _ => Blueprints::new(config.blueprint_dirs.clone()),
        };
        let ports = Ports { retry_in_background, ..Ports::new(local_git(&config), store).with_fault_hook(fault) };
        Ok(Self::build(config, ports, blueprints, token_file))
    }

    /// A runtime on the given adapters (tests use the in-memory fakes), without a cluster.
    pub fn with_ports(config: Config, ports: Ports) -> Runtime {
        let blueprints = Blueprints::new(config.blueprint_dirs.clone());
        Self::build(config, ports, blueprints, None)
    }

    fn build(config: Config, ports: Ports, blueprints: Blueprints, token_file: Option<TokenFile>) -> Runtime {
        let config = Arc::new(config);
        let layout = Arc::new(config.layout.clone());
        let planner = Planner::new(layout.clone(), blueprints, ports.git.clone());
        // Every registration commits into the GitOps repository: one writer per process folds
        // them together, and lost races with other processes are tried again until a deadline.
        let contention = Contention::until(config.runs.contention_deadline);
        let shared =
            SharedRepos::new(ports.git.clone(), vec![layout.gitops_repo.clone()], contention, ports.pause.clone());
        let retries = if ports.retry_in_background && config.runs.retries > 0 {
            let backoff = Backoff { base: config.runs.retry_delay, cap: RunSettings::MAX_RETRY_DELAY };
            Retries::Background(RetryQueue::new(config.runs.retries, backoff))
        } else {
            Retries::Off
        };
        let runner = Runner {
            git: Arc::new(shared),
            store: ports.store.clone(),
            pause: ports.pause,
            fault: ports.fault,
            retries,
        };
        let off = config.workspaces.allowed_domains.is_none();
        Runtime {
            provisioning: Provisioning::new(planner.clone(), runner.clone()),
            upgrades: Upgrades::new(planner, runner),
            edits: MainEdits::new(layout, Arc::new(config.sealing.clone()), ports.git, ports.store.clone()),
            auth: Auth::new(ports.tokens, token_file)
                .disabled(config.auth.disabled)
                .allowlist(config.workspaces.allowed_domains.clone()),
            workspaces: Err(if off {
                workspaces::OFF.to_owned()
            } else {
                "no Kubernetes cluster is connected".to_owned()
            }),
            cluster: None,
            store: ports.store,
            outbox: ports.outbox,
            config,
            metrics: Arc::default(),
        }
    }

    /// Plans without a store (dry runs, listing kinds): nothing is created under the data
    /// directory.
    pub fn planner(config: &Config) -> Planner {
        Planner::new(Arc::new(config.layout.clone()), Blueprints::new(config.blueprint_dirs.clone()), local_git(config))
    }

    /// The monorepo commands: they need no store and no adapter, only the signature commits
    /// carry.
    pub fn monorepo(config: &Config) -> crate::monorepo::Monorepo {
        crate::monorepo::Monorepo::new(provision_git::Signature {
            name: config.layout.author_name.clone(),
            email: config.layout.author_email.clone(),
        })
    }

    /// This runtime with workspaces on `cluster` (when they are configured).
    fn on_cluster(self, cluster: Cluster) -> Runtime {
        let workspaces = Arc::new(cluster.workspaces(&self.config.workspaces.namespace));
        Runtime { cluster: Some(cluster), ..self.with_workspaces(workspaces) }
    }

    /// This runtime with workspaces kept in `cluster` (tests use the in-memory one), when the
    /// configuration lets anyone ask for one.
    pub fn with_workspaces(self, cluster: Arc<dyn WorkspaceCluster>) -> Runtime {
        if self.config.workspaces.allowed_domains.is_none() {
            return self;
        }
        let settings = Arc::new(self.config.workspaces.clone());
        let workspaces = Ok(Workspaces::new(settings, cluster, self.auth.clone()));
        Runtime { workspaces, ..self }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The workspaces capability, or why this runtime has none.
    pub fn workspaces(&self) -> Result<&Workspaces, workspaces::Error> {
        self.workspaces.as_ref().map_err(|why| workspaces::Error::NotConfigured(why.clone()))
    }

    /// The e-mail dispatcher over the outbox and the configured notifier.
    pub fn dispatcher(&self) -> Result<Arc<Dispatcher>, Error> {
        let notifier =
            Arc::new(CountingNotifier { inner: mail::notifier(&self.config)?, metrics: self.metrics.clone() });
        Ok(Arc::new(Dispatcher::new(self.outbox.clone(), notifier)))
    }

    /// Runs the workspace controller and delivers its e-mails until `shutdown`.
    pub async fn run_controller(
        &self,
        shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let Some(cluster) = &self.cluster else {
            return Err(Error::NoCluster);
        };
        let w = &self.config.workspaces;
        let dispatcher = self.dispatcher()?;
        let announcer = MailAnnouncer {
            dispatcher: dispatcher.clone(),
            outbox: self.outbox.clone(),
            templates: mail::templates(&self.config)?,
        };
        let settings = provision_k8s::workspace::Settings {
            access_host: w.access_host.clone(),
            storage_class: w.storage_class.clone(),
            ssh_port: w.ssh_port,
            home_path: w.home_path.clone(),
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut stop_dispatcher = stop_rx.clone();
        let delivering = tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = stop_dispatcher.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let metrics = self.metrics.controller.clone();
        cluster.run_controller(&w.namespace, settings, Arc::new(announcer), metrics, shutdown).await;
        let _ = stop_tx.send(true);
        delivering.await?;
        Ok(())
    }

    /// Starts the background work of a server: the workspace controller with its e-mail when
    /// `controller` is asked and a cluster is connected, else the e-mail dispatcher alone (so
    /// e-mails queued by a controller elsewhere, or before a restart, still go out); and, with
    /// background retries, the retries of runs that failed for a transient reason.
    pub fn background(self: &Arc<Self>, controller: bool) -> Background {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let mut tasks = Vec::new();
        if let Some(due) = self.provisioning.retry_queue() {
            tasks.push(tokio::spawn(retry_runs(self.provisioning.clone(), due, until_stopped())));
        }
        if controller && self.cluster.is_some() {
            let runtime = Arc::clone(self);
            let shutdown = until_stopped();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = runtime.run_controller(shutdown).await {
                    tracing::error!(error = %e, "the workspace controller stopped");
                }
            }));
        } else {
            match self.dispatcher() {
                Ok(dispatcher) => {
                    let shutdown = until_stopped();
                    tasks.push(tokio::spawn(async move { dispatcher.run(shutdown).await }));
                }
                Err(e) => tracing::warn!(error = %e, "e-mail is not delivered from this process"),
            }
        }
        Background { stop, tasks }
    }

    /// Whether the store answers (for readiness probes).
    pub async fn ready(&self) -> Result<(), provision_core::ports::PortError> {
        self.store.runs(1).await.map(|_| ())
    }

    /// Lets the adapters finish before the process exits (the embedded database checkpoints
    /// its log). Call it last.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Every family this process knows, in the Prometheus text format. Gauges that need the
    /// store or the cluster are left out when those cannot answer (the scrape still succeeds).
    pub async fn metrics_text(&self) -> String {
        let runs = self.store.runs(usize::MAX).await.ok();
        let workspaces = match &self.workspaces {
            Ok(w) => w.all().await.ok(),
            Err(_) => None,
        };
        self.metrics.text(runs.as_deref(), workspaces.as_deref())
    }
}

/// Retries each run queued in `due` once its wait is over, several at a time, until
/// `shutdown`. Runs still waiting then stay `pending` in the store, and the next start
/// resumes them.
async fn retry_runs(
    provisioning: Provisioning,
    mut due: tokio::sync::mpsc::UnboundedReceiver<(provision_core::RunId, Duration)>,
    shutdown: impl Future<Output = ()>,
) {
    let mut retrying = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            next = due.recv() => match next {
                Some((run, wait)) => {
                    let provisioning = provisioning.clone();
                    retrying.spawn(async move { provisioning.retry_due(run, wait).await });
                }
                None => break,
            },
            Some(_) = retrying.join_next(), if !retrying.is_empty() => {}
        }
    }
    retrying.abort_all();
}

/// The local git host of `config`: bare repositories under the data directory.
fn local_git(config: &Config) -> Arc<dyn GitHost> {
    let signature =
        provision_git::Signature { name: config.layout.author_name.clone(), email: config.layout.author_email.clone() };
    Arc::new(provision_git::LocalGitHost::new(config.git_root(), signature))
}

/// A server's background work, stopped together.
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Asks every task to stop and waits until they have.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
