//! Upgrading provisioned services to the newest version of their blueprint.
//!
//! Each generated repository keeps `orchestrator/template`, a branch of pristine renders that
//! `main` started from. An upgrade renders the newest blueprint version with the answers the
//! repository recorded (`.orchestrator/answers.toml` on that branch, after the version's
//! migrations and any `--set`), commits the render onto the template branch, and merges the
//! template branch into `main`: a real 3-way merge whose base is the last render `main` holds,
//! so the old blueprint version is never needed again. A merge with conflicts goes to
//! `orchestrator/upgrade-<version>` and `main` stays as it was.

use crate::config::Config;
use crate::report::{
    ChangeView, ConflictView, RepoUpgradeReport, RunSummary, ServiceUpgradeReport, UpgradeOutcome, UpgradeReport,
};
use crate::request::CreateService;
use crate::service::{self, ANSWERS_PATH, CreateServiceRun, RepoRole};
use crate::{App, Error as AppError};
use provision_core::RunId;
use provision_core::ports::{
    FileChange, GitHost, MergeConflict, MergeRequest, MergeState, NewRun, RunCreated, RunRecord, RunState,
    ServiceRecord, StepRecord, StepState,
};
use provision_core::problem::Invalid;
use provision_core::{
    BlueprintName, BranchName, Effect, EnvName, FileSet, Plan, RepoName, RepoPath, ServiceName, TreeMode,
};
use provision_template::{AnswerValue, Answers, Blueprint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::info;

/// The operation name of upgrade runs.
pub const UPGRADE: &str = "upgrade";

/// What an upgrade run was asked to do, stored with the run so a resumed run plans exactly
/// the same again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpgradeRun {
    pub services: Vec<ServiceUpgrade>,
    /// Services that could not be upgraded at all, and why.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

/// A service an upgrade left out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub service: ServiceName,
    pub kind: BlueprintName,
    pub to_version: Option<String>,
    pub error: String,
}

/// One service's part of an upgrade.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceUpgrade {
    /// The service as it was created (its parameters are the final answers, below).
    pub request: CreateService,
    pub to_version: String,
    /// The blueprint's content digest when the run started; a resume with another one refuses.
    pub blueprint_digest: String,
    /// The answers the new render uses: recorded, migrated, overridden, completed.
    pub answers: Answers,
    pub repos: Vec<RepoUpgrade>,
}

/// One repository's part of an upgrade.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoUpgrade {
    pub role: RepoRole,
    pub name: RepoName,
    /// The blueprint version its template branch holds.
    pub from_version: String,
    /// File renames of the migrations between the two versions.
    pub renames: Vec<(RepoPath, RepoPath)>,
    /// Found at the newest render, merged, when the run was planned: it has no steps.
    #[serde(default)]
    pub current: bool,
}

/// `.orchestrator/answers.toml`, as read back.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordedAnswers {
    pub blueprint: String,
    pub version: String,
    #[serde(default)]
    pub service: RecordedService,
    #[serde(default)]
    pub answers: BTreeMap<String, AnswerValue>,
}

/// The `[service]` section of the answers file.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RecordedService {
    /// Where the service deploys (absent in files written before there was a choice).
    #[serde(default)]
    pub environments: Vec<String>,
    /// How it registers for deployment (absent likewise).
    #[serde(default)]
    pub gitops: Option<crate::config::GitopsEngine>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "repository {repo} has no {} on branch {}: it was not made by the orchestrator, or the file was removed from the template branch",
        ANSWERS_PATH,
        BranchName::TEMPLATE
    )]
    NoAnswers { repo: RepoName },
    #[error("{} of repository {repo} cannot be read", ANSWERS_PATH)]
    BadAnswers {
        repo: RepoName,
        #[source]
        source: toml::de::Error,
    },
    #[error("repository {repo} was rendered from blueprint {found}, but service {service} is of kind {kind}")]
    OtherBlueprint { repo: RepoName, service: ServiceName, kind: BlueprintName, found: String },
    #[error("the answers of service {service} do not fit blueprint {kind} {version}")]
    Answers {
        service: ServiceName,
        kind: BlueprintName,
        version: String,
        #[source]
        source: Invalid,
    },
    #[error(transparent)]
    Plan(#[from] service::Error),
    #[error("git failed")]
    Git(#[source] provision_core::ports::PortError),
    #[error("service {service} was never fully created (run {run} is {})", state.as_str())]
    NotCreated { service: ServiceName, run: RunId, state: RunState },
    #[error("blueprint {kind} is not configured")]
    BlueprintGone { kind: BlueprintName },
    #[error(
        "repository {repo} is at version {found} of blueprint {kind}, newer than the configured {version}; downgrades are refused"
    )]
    Newer { repo: RepoName, found: String, kind: BlueprintName, version: String },
}

/// The branch a merge with conflicts goes to.
pub fn conflict_branch(version: &str) -> BranchName {
    BranchName::parse(&format!("orchestrator/upgrade-{version}")).expect("a version makes a valid branch name")
}

/// Reads what a repository's template branch records: blueprint, version, answers.
pub(crate) async fn recorded(git: &dyn GitHost, repo: &RepoName) -> Result<RecordedAnswers, Error> {
    let path = RepoPath::parse(ANSWERS_PATH).expect("a valid constant path");
    let bytes = git.read_file(repo, &BranchName::template(), &path).await.map_err(Error::Git)?;
    let bytes = bytes.ok_or_else(|| Error::NoAnswers { repo: repo.clone() })?;
    let text = String::from_utf8_lossy(&bytes);
    toml::from_str(&text).map_err(|source| Error::BadAnswers { repo: repo.clone(), source })
}

/// Prepares one service's upgrade to `blueprint`: reads what each of its repositories
/// recorded, migrates and overrides the answers (`set`), and checks them against the new
/// version (a new parameter takes its default).
pub(crate) async fn prepare(
    config: &Config,
    git: &dyn GitHost,
    record: &ServiceRecord,
    blueprint: &Blueprint,
    set: &BTreeMap<String, serde_json::Value>,
) -> Result<ServiceUpgrade, Error> {
    let manifest = blueprint.manifest();
    let mut repos = Vec::new();
    let mut answers_from = None;
    for (role, name) in [(RepoRole::Service, record.name.repo()), (RepoRole::Infra, record.name.infra_repo())] {
        let found = recorded(git, &name).await?;
        if found.blueprint != record.kind.as_str() {
            return Err(Error::OtherBlueprint {
                repo: name,
                service: record.name.clone(),
                kind: record.kind.clone(),
                found: found.blueprint,
            });
        }
        if provision_template::parse_version(&found.version) > provision_template::parse_version(&manifest.version) {
            return Err(Error::Newer {
                repo: name,
                found: found.version,
                kind: record.kind.clone(),
                version: manifest.version.clone(),
            });
        }
        let renames = manifest.migrations_since(&found.version).flat_map(|m| m.rename_files.iter().cloned()).collect();
        repos.push(RepoUpgrade { role, name, from_version: found.version.clone(), renames, current: false });
        // The service repository's answers count; the infra repository records the same.
        answers_from.get_or_insert(found);
    }
    let recorded = answers_from.expect("a service has repositories");

    let mut given: BTreeMap<String, serde_json::Value> =
        recorded.answers.iter().map(|(k, v)| (k.clone(), answer_json(v))).collect();
    for migration in manifest.migrations_since(&recorded.version) {
        for (old, new) in &migration.rename_answers {
            if let Some(value) = given.remove(old) {
                given.insert(new.clone(), value);
            }
        }
    }
    // Answers to parameters the new version dropped are dropped with them.
    given.retain(|name, _| manifest.parameter(name).is_some());
    given.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));

    // Environments that are no longer configured are left out of the new render.
    let environments = recorded
        .service
        .environments
        .iter()
        .filter_map(|e| EnvName::parse(e).ok())
        .filter(|e| config.environments.contains(e))
        .collect();
    let request = CreateService {
        kind: record.kind.clone(),
        name: record.name.clone(),
        description: record.description.clone(),
        owner: record.owner.clone(),
        parameters: BTreeMap::new(),
        environments,
        gitops: recorded.service.gitops,
    };
    let ctx = service::render_context(config, &request, &|r| git.clone_url(r));
    let answers = blueprint.resolve_answers(&given, &ctx).map_err(|source| Error::Answers {
        service: record.name.clone(),
        kind: record.kind.clone(),
        version: manifest.version.clone(),
        source,
    })?;
    let request = CreateService { parameters: given, ..request };
    Ok(ServiceUpgrade {
        request,
        to_version: manifest.version.clone(),
        blueprint_digest: blueprint.digest(),
        answers,
        repos,
    })
}

fn answer_json(value: &AnswerValue) -> serde_json::Value {
    match value {
        AnswerValue::String(s) => serde_json::Value::String(s.clone()),
        AnswerValue::Bool(b) => serde_json::Value::Bool(*b),
        AnswerValue::Integer(i) => serde_json::Value::from(*i),
    }
}

/// One repository's new render and how it merges.
#[derive(Debug, Clone)]
pub struct PlannedRepo {
    pub upgrade: RepoUpgrade,
    pub files: Arc<FileSet>,
    pub message: String,
    pub renames: Arc<[(RepoPath, RepoPath)]>,
}

/// Renders a service's repositories as the new version makes them.
pub(crate) fn render(
    config: &Config,
    blueprint: &Blueprint,
    upgrade: &ServiceUpgrade,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> Result<Vec<PlannedRepo>, Error> {
    let run = CreateServiceRun {
        request: upgrade.request.clone(),
        answers: upgrade.answers.clone(),
        blueprint_version: upgrade.to_version.clone(),
        blueprint_digest: upgrade.blueprint_digest.clone(),
    };
    let created = service::plan(config, blueprint, &run, clone_url)?;
    let kind = &upgrade.request.kind;
    Ok(upgrade
        .repos
        .iter()
        .filter_map(|repo| {
            let files = created.repos.iter().find(|r| r.role == repo.role)?.files.clone();
            let message = if repo.from_version == upgrade.to_version {
                format!("Upgrade blueprint {kind} {} (new render)", upgrade.to_version)
            } else {
                format!("Upgrade blueprint {kind} {} → {}", repo.from_version, upgrade.to_version)
            };
            Some(PlannedRepo { upgrade: repo.clone(), files, message, renames: repo.renames.clone().into() })
        })
        .collect())
}

/// The steps of one service's upgrade, added to `plan`: per repository, the render onto the
/// template branch (nothing if unchanged), then the merge into main. Repositories (and
/// services) are independent of each other.
pub(crate) fn push_steps(plan: &mut Plan, upgrade: &ServiceUpgrade, repos: &[PlannedRepo]) {
    let kind = &upgrade.request.kind;
    let name = &upgrade.request.name;
    for repo in repos.iter().filter(|r| !r.upgrade.current) {
        let rendered = plan.push_after(
            format!("render {} {} onto {}", repo.upgrade.name, upgrade.to_version, BranchName::TEMPLATE),
            Effect::Commit {
                repo: repo.upgrade.name.clone(),
                branch: BranchName::template(),
                files: repo.files.clone(),
                mode: TreeMode::Replace,
                message: format!("Render blueprint {kind} {} for {name}", upgrade.to_version),
                skip_unchanged: true,
            },
            vec![],
        );
        plan.push_after(
            format!("merge {} into {} main", BranchName::TEMPLATE, repo.upgrade.name),
            Effect::Merge {
                repo: repo.upgrade.name.clone(),
                into: BranchName::main(),
                from: BranchName::template(),
                conflict_branch: conflict_branch(&upgrade.to_version),
                message: repo.message.clone(),
                renames: repo.renames.clone(),
            },
            vec![rendered],
        );
    }
}

/// Where one repository stands against the newest version, without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The template branch holds this very render and main holds the template branch.
    Current,
    /// Behind; what merging would do.
    Behind { changes: Vec<(String, FileChange)>, conflicts: Vec<MergeConflict> },
}

/// The branches of an upgrade's merge: the template branch into main, conflicts aside.
struct Branches {
    into: BranchName,
    from: BranchName,
    conflicts: BranchName,
}

impl Branches {
    fn new(to_version: &str) -> Self {
        Self { into: BranchName::main(), from: BranchName::template(), conflicts: conflict_branch(to_version) }
    }

    fn request<'a>(&'a self, message: &'a str, renames: &'a [(RepoPath, RepoPath)]) -> MergeRequest<'a> {
        MergeRequest { into: &self.into, from: &self.from, conflict_branch: &self.conflicts, message, renames }
    }
}

/// Whether the template branch holds exactly the new render and main holds the template branch.
async fn is_current(git: &dyn GitHost, repo: &PlannedRepo, to_version: &str) -> Result<bool, Error> {
    let name = &repo.upgrade.name;
    let branches = Branches::new(to_version);
    let template = git.read_tree(name, &branches.from).await.map_err(Error::Git)?;
    Ok(template.as_ref() == Some(repo.files.as_ref())
        && git.merge_state(name, &branches.request(&repo.message, &repo.renames)).await.map_err(Error::Git)?
            == MergeState::Merged)
}

/// Compares the new render with the template branch and previews the merge if they differ.
pub(crate) async fn standing(git: &dyn GitHost, repo: &PlannedRepo, to_version: &str) -> Result<Standing, Error> {
    if is_current(git, repo, to_version).await? {
        return Ok(Standing::Current);
    }
    let branches = Branches::new(to_version);
    let request = branches.request(&repo.message, &repo.renames);
    let preview = git.preview_merge(&repo.upgrade.name, &request, &repo.files).await.map_err(Error::Git)?;
    Ok(Standing::Behind { changes: preview.changes, conflicts: preview.conflicts })
}

/// Which services an upgrade is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeTarget {
    Service(String),
    /// Every service in the inventory.
    All,
}

impl UpgradeTarget {
    /// From a client's `service` and `all`: exactly one of them.
    pub fn parse(service: Option<String>, all: bool) -> Result<Self, Invalid> {
        match (service, all) {
            (Some(name), false) => Ok(UpgradeTarget::Service(name)),
            (None, true) => Ok(UpgradeTarget::All),
            (Some(_), true) => Err(Invalid::new(vec![provision_core::problem::Problem::new(
                "all",
                "conflict",
                "name a service or set all, not both",
            )])),
            (None, false) => Err(Invalid::new(vec![provision_core::problem::Problem::new(
                "service",
                "required",
                "name the service to upgrade, or set all to upgrade every service",
            )])),
        }
    }
}

/// What an upgrade call does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeMode {
    /// Render, commit, merge.
    #[default]
    Upgrade,
    /// Show what would change per repository; write nothing.
    DryRun,
    /// Say which repositories are behind; write nothing.
    Check,
}

impl UpgradeMode {
    fn as_str(self) -> &'static str {
        match self {
            UpgradeMode::Upgrade => "upgrade",
            UpgradeMode::DryRun => "dry-run",
            UpgradeMode::Check => "check",
        }
    }
}

/// Options of an upgrade call.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    pub mode: UpgradeMode,
    /// Answers overriding the recorded ones (recorded by the new render).
    pub set: BTreeMap<String, serde_json::Value>,
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl App {
    /// Upgrades one service, or all, to the newest version of their blueprints, as one run
    /// (or, in [`UpgradeMode::DryRun`] and [`UpgradeMode::Check`], says what that would do).
    pub async fn upgrade(&self, target: &UpgradeTarget, options: &UpgradeOptions) -> Result<UpgradeReport, AppError> {
        let records = match target {
            UpgradeTarget::Service(name) => {
                let parsed = ServiceName::parse(name).map_err(|_| AppError::ServiceNotFound(name.clone()))?;
                let record = self.store.service(&parsed).await.map_err(AppError::Store)?;
                vec![record.ok_or_else(|| AppError::ServiceNotFound(name.clone()))?]
            }
            UpgradeTarget::All => self.store.services().await.map_err(AppError::Store)?,
        };
        let catalog = self.catalog().await?;
        let mut ready = Vec::new();
        let mut skipped = Vec::new();
        for record in &records {
            let blueprint = catalog.get(&record.kind);
            let to_version = blueprint.as_ref().map(|b| b.manifest().version.clone());
            match self.prepare_one(record, blueprint.as_deref(), &options.set).await {
                Ok(work) => ready.push(work),
                // One service's answers that do not fit are the caller's to fix.
                Err(Error::Answers { source, .. }) if matches!(target, UpgradeTarget::Service(_)) => {
                    return Err(AppError::Invalid(source));
                }
                Err(e) => skipped.push(Skipped {
                    service: record.name.clone(),
                    kind: record.kind.clone(),
                    to_version,
                    error: chain(&e),
                }),
            }
        }

        if options.mode != UpgradeMode::Upgrade {
            let mut services = Vec::new();
            for (upgrade, repos) in &ready {
                let mut reports = Vec::new();
                for repo in repos {
                    let report = match standing(self.git.as_ref(), repo, &upgrade.to_version).await {
                        Ok(Standing::Current) => repo_report(upgrade, repo, UpgradeOutcome::UpToDate),
                        Ok(Standing::Behind { changes, conflicts }) => RepoUpgradeReport {
                            changes: changes.into_iter().map(change_view).collect(),
                            conflicts: conflicts.iter().map(conflict_view).collect(),
                            ..repo_report(upgrade, repo, UpgradeOutcome::Behind)
                        },
                        Err(e) => RepoUpgradeReport {
                            error: Some(chain(&e)),
                            ..repo_report(upgrade, repo, UpgradeOutcome::Failed)
                        },
                    };
                    reports.push(report);
                }
                services.push(service_report(upgrade, reports));
            }
            services.extend(skipped.iter().map(skipped_report));
            return Ok(UpgradeReport { mode: options.mode.as_str().into(), run: None, services });
        }

        // Repositories already at the newest render get no steps; with nothing behind, no run.
        for (upgrade, repos) in &mut ready {
            for (planned, recorded) in repos.iter_mut().zip(upgrade.repos.iter_mut()) {
                let current = matches!(is_current(self.git.as_ref(), planned, &upgrade.to_version).await, Ok(true));
                planned.upgrade.current = current;
                recorded.current = current;
            }
        }
        let run = UpgradeRun { services: ready.iter().map(|(u, _)| u.clone()).collect(), skipped };
        if run.services.iter().all(|s| s.repos.iter().all(|r| r.current)) {
            let mut services: Vec<ServiceUpgradeReport> = ready
                .iter()
                .map(|(upgrade, repos)| {
                    let reports = repos.iter().map(|r| repo_report(upgrade, r, UpgradeOutcome::UpToDate)).collect();
                    service_report(upgrade, reports)
                })
                .collect();
            services.extend(run.skipped.iter().map(skipped_report));
            let report = UpgradeReport { mode: options.mode.as_str().into(), run: None, services };
            self.record_versions(&records, &report).await?;
            return Ok(report);
        }
        let mut plan = Plan { keep_going: true, ..Plan::default() };
        for (upgrade, repos) in &ready {
            push_steps(&mut plan, upgrade, repos);
        }
        let id = RunId::parse(&uuid::Uuid::now_v7().to_string()).expect("a UUID is a valid run id");
        let request = serde_json::to_value(&run).expect("an upgrade run serializes");
        let created = self
            .store
            .create_run(NewRun { id: id.clone(), operation: UPGRADE.into(), request, service: None, idempotency: None })
            .await
            .map_err(AppError::Store)?;
        if created != RunCreated::Created {
            return Err(AppError::Store(provision_core::ports::PortError::permanent(format!(
                "run {id} could not be created: {created:?}"
            ))));
        }
        info!(run = %id, services = run.services.len(), "upgrade started");
        self.engine().execute(&id, &plan).await?;
        let record =
            self.store.run(&id).await.map_err(AppError::Store)?.ok_or_else(|| AppError::RunNotFound(id.to_string()))?;
        let steps = self.store.steps(&id).await.map_err(AppError::Store)?;
        let report = self.upgrade_report(&run, &record, &steps).await?;
        self.record_versions(&records, &report).await?;
        Ok(report)
    }

    /// The inventory learns the version of each service whose repositories are all at it.
    async fn record_versions(&self, records: &[ServiceRecord], report: &UpgradeReport) -> Result<(), AppError> {
        for service in &report.services {
            let done = service.error.is_none()
                && service
                    .repos
                    .iter()
                    .all(|r| matches!(r.outcome, UpgradeOutcome::UpToDate | UpgradeOutcome::Upgraded));
            let (Some(version), Some(record)) =
                (&service.to_version, records.iter().find(|r| r.name.as_str() == service.service))
            else {
                continue;
            };
            if done && &record.blueprint_version != version {
                self.store.set_blueprint_version(&record.name, version).await.map_err(AppError::Store)?;
            }
        }
        Ok(())
    }

    /// Reads, migrates and checks one service's answers and renders its new version.
    async fn prepare_one(
        &self,
        record: &ServiceRecord,
        blueprint: Option<&Blueprint>,
        set: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(ServiceUpgrade, Vec<PlannedRepo>), Error> {
        if record.run_state != RunState::Succeeded {
            return Err(Error::NotCreated {
                service: record.name.clone(),
                run: record.run.clone(),
                state: record.run_state,
            });
        }
        let blueprint = blueprint.ok_or_else(|| Error::BlueprintGone { kind: record.kind.clone() })?;
        let upgrade = prepare(&self.config, self.git.as_ref(), record, blueprint, set).await?;
        let repos = render(&self.config, blueprint, &upgrade, &|r| self.git.clone_url(r))?;
        Ok((upgrade, repos))
    }

    /// Plans an upgrade run again from what it recorded (to resume it).
    pub(crate) async fn upgrade_plan(&self, id: &RunId, run: &UpgradeRun) -> Result<Plan, AppError> {
        let catalog = self.catalog().await?;
        let mut plan = Plan { keep_going: true, ..Plan::default() };
        for upgrade in &run.services {
            let kind = &upgrade.request.kind;
            let blueprint =
                catalog.get(kind).ok_or_else(|| AppError::BlueprintGone { run: id.clone(), kind: kind.to_string() })?;
            if blueprint.digest() != upgrade.blueprint_digest {
                return Err(AppError::BlueprintChanged { run: id.clone(), kind: kind.to_string() });
            }
            let repos = render(&self.config, &blueprint, upgrade, &|r| self.git.clone_url(r))
                .map_err(|e| AppError::Store(provision_core::ports::PortError::permanent(chain(&e))))?;
            push_steps(&mut plan, upgrade, &repos);
        }
        Ok(plan)
    }

    /// The report of an upgrade run, from its journal and the branches it merged.
    pub(crate) async fn upgrade_report(
        &self,
        run: &UpgradeRun,
        record: &RunRecord,
        steps: &[StepRecord],
    ) -> Result<UpgradeReport, AppError> {
        let mut services = Vec::new();
        let mut index = 0;
        for upgrade in &run.services {
            let mut reports = Vec::new();
            for repo in &upgrade.repos {
                let base = RepoUpgradeReport {
                    repo: repo.name.to_string(),
                    role: repo.role,
                    from_version: repo.from_version.clone(),
                    to_version: upgrade.to_version.clone(),
                    outcome: UpgradeOutcome::Failed,
                    branch: None,
                    conflicts: Vec::new(),
                    changes: Vec::new(),
                    error: None,
                };
                // A repository found current had no steps (see `push_steps`).
                if repo.current {
                    reports.push(RepoUpgradeReport { outcome: UpgradeOutcome::UpToDate, ..base });
                    continue;
                }
                let (render, merge) =
                    (steps.iter().find(|s| s.index == index), steps.iter().find(|s| s.index == index + 1));
                index += 2;
                let failed = [render, merge].into_iter().flatten().find(|s| s.state == StepState::Failed);
                let report = match (failed, merge) {
                    (Some(step), _) => RepoUpgradeReport { error: step.error.clone(), ..base },
                    (None, Some(merge)) if merge.state == StepState::Done => {
                        let detail = merge.detail.as_deref().unwrap_or_default();
                        let unchanged =
                            render.and_then(|r| r.detail.as_deref()).is_some_and(|d| d.starts_with("unchanged"));
                        if detail.contains("conflicting file") {
                            let branch = conflict_branch(&upgrade.to_version);
                            let conflicts = self.current_conflicts(&repo.name, &upgrade.to_version).await;
                            RepoUpgradeReport {
                                outcome: UpgradeOutcome::Conflicts,
                                branch: Some(branch.to_string()),
                                conflicts,
                                ..base
                            }
                        } else if unchanged && detail.starts_with("already merged") {
                            RepoUpgradeReport { outcome: UpgradeOutcome::UpToDate, ..base }
                        } else {
                            RepoUpgradeReport { outcome: UpgradeOutcome::Upgraded, ..base }
                        }
                    }
                    _ => {
                        let why = if record.state == RunState::Failed { "not attempted" } else { "not done yet" };
                        RepoUpgradeReport { error: Some(why.into()), ..base }
                    }
                };
                reports.push(report);
            }
            services.push(service_report(upgrade, reports));
        }
        services.extend(run.skipped.iter().map(skipped_report));
        Ok(UpgradeReport { mode: UpgradeMode::Upgrade.as_str().into(), run: Some(RunSummary::from(record)), services })
    }

    /// The conflicts the conflict branch records, as long as it is the merge of main's and
    /// the template branch's tips.
    async fn current_conflicts(&self, repo: &RepoName, to_version: &str) -> Vec<ConflictView> {
        let branches = Branches::new(to_version);
        match self.git.merge_state(repo, &branches.request("", &[])).await {
            Ok(MergeState::Conflicted { conflicts, .. }) => conflicts.iter().map(conflict_view).collect(),
            _ => Vec::new(),
        }
    }
}

fn repo_report(upgrade: &ServiceUpgrade, repo: &PlannedRepo, outcome: UpgradeOutcome) -> RepoUpgradeReport {
    RepoUpgradeReport {
        repo: repo.upgrade.name.to_string(),
        role: repo.upgrade.role,
        from_version: repo.upgrade.from_version.clone(),
        to_version: upgrade.to_version.clone(),
        outcome,
        branch: None,
        conflicts: Vec::new(),
        changes: Vec::new(),
        error: None,
    }
}

fn service_report(upgrade: &ServiceUpgrade, repos: Vec<RepoUpgradeReport>) -> ServiceUpgradeReport {
    ServiceUpgradeReport {
        service: upgrade.request.name.to_string(),
        kind: upgrade.request.kind.to_string(),
        to_version: Some(upgrade.to_version.clone()),
        error: None,
        repos,
    }
}

fn skipped_report(skipped: &Skipped) -> ServiceUpgradeReport {
    ServiceUpgradeReport {
        service: skipped.service.to_string(),
        kind: skipped.kind.to_string(),
        to_version: skipped.to_version.clone(),
        error: Some(skipped.error.clone()),
        repos: Vec::new(),
    }
}

fn conflict_view(c: &MergeConflict) -> ConflictView {
    ConflictView { path: c.path.clone(), kind: c.kind.as_str().into() }
}

fn change_view((path, change): (String, FileChange)) -> ChangeView {
    let change = match change {
        FileChange::Added => "added",
        FileChange::Modified => "modified",
        FileChange::Removed => "removed",
    };
    ChangeView { path, change: change.into() }
}
