//! Upgrading provisioned services to the newest version of their blueprint.
//!
//! Each generated repository keeps `orchestrator/template`, a branch of pristine renders that
//! `main` started from. An upgrade renders the newest blueprint version with the answers the
//! repository recorded (`.orchestrator/answers.toml` on that branch, after the version's
//! migrations and any `--set`), commits the render onto the template branch, and merges the
//! template branch into `main`: a real 3-way merge whose base is the last render `main` holds,
//! so the old blueprint version is never needed again. A merge with conflicts goes to
//! `orchestrator/upgrade-<version>` and `main` stays as it was.

pub mod prepare;
pub mod report;

pub use prepare::UpgradeRun;

use crate::error::{Classified, ErrorKind, Subject, chain};
use crate::provisioning::Planner;
use crate::provisioning::plan::RepoRole;
use crate::runs::{RunError, RunRequest, Runner};
use prepare::{PlannedRepo, ServiceUpgrade, Skipped, Standing, is_current, prepare, push_steps, render, standing};
use provision_core::ports::{RunCreated, RunState, ServiceRecord};
use provision_core::problem::{Invalid, Problem};
use provision_core::{FileSet, Plan, RunId, ServiceName};
use provision_template::Blueprint;
use report::{
    RepoUpgradeReport, ServiceUpgradeReport, UpgradeOutcome, UpgradeReport, change_view, conflict_view, repo_report,
    service_report, skipped_report,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tracing::info;

/// Why an upgrade was refused or failed as a whole (one service that cannot be upgraded is
/// reported in the answer instead, and the others go on).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("service {0} does not exist")]
    ServiceNotFound(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("cannot compare the registrations in repository {repo} with the configuration")]
    Registrations {
        repo: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::ServiceNotFound(_) => ErrorKind::NotFound,
            Error::Run(e) => e.kind(),
            Error::Registrations { .. } => ErrorKind::Unavailable,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(e) => e.code(),
            Error::ServiceNotFound(_) => "not-found",
            Error::Run(e) => e.code(),
            Error::Registrations { .. } => "unavailable",
        }
    }

    fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(e) => e.problems(),
            _ => &[],
        }
    }

    fn subject(&self) -> Subject {
        match self {
            Error::ServiceNotFound(name) => Subject { service: Some(name.clone()), ..Subject::default() },
            Error::Run(e) => e.subject(),
            Error::Invalid(_) | Error::Registrations { .. } => Subject::default(),
        }
    }
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
            (Some(_), true) => Err(Invalid::one("all", "conflict", "name a service or set all, not both")),
            (None, false) => Err(Invalid::one(
                "service",
                "required",
                "name the service to upgrade, or set all to upgrade every service",
            )),
        }
    }
}

/// What an upgrade call does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Options of an upgrade call.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    pub mode: UpgradeMode,
    /// Answers overriding the recorded ones (recorded by the new render), converted to each
    /// parameter's declared type by the blueprint.
    pub set: BTreeMap<String, serde_json::Value>,
}

/// Upgrading services, as runs.
#[derive(Clone)]
pub struct Upgrades {
    planner: Planner,
    runner: Runner,
}

impl Upgrades {
    pub(crate) fn new(planner: Planner, runner: Runner) -> Self {
        Upgrades { planner, runner }
    }

    /// Upgrades one service, or all, to the newest version of their blueprints, as one run
    /// (or, in [`UpgradeMode::DryRun`] and [`UpgradeMode::Check`], says what that would do).
    pub async fn upgrade(&self, target: &UpgradeTarget, options: &UpgradeOptions) -> Result<UpgradeReport, Error> {
        let store = &self.runner.store;
        let records = match target {
            UpgradeTarget::Service(name) => {
                let parsed = ServiceName::parse(name).map_err(|_| Error::ServiceNotFound(name.clone()))?;
                let record = store.service(&parsed).await.map_err(RunError::Store)?;
                vec![record.ok_or_else(|| Error::ServiceNotFound(name.clone()))?]
            }
            UpgradeTarget::All => store.services().await.map_err(RunError::Store)?,
        };
        let catalog = self.planner.blueprints.catalog().await.map_err(RunError::from)?;
        let mut ready = Vec::new();
        let mut skipped = Vec::new();
        for record in &records {
            let blueprint = catalog.get(&record.kind);
            let to_version = blueprint.as_ref().map(|b| b.manifest().version.clone());
            match self.prepare_one(record, blueprint.as_deref(), &options.set).await {
                Ok(work) => ready.push(work),
                // One service's answers that do not fit are the caller's to fix.
                Err(prepare::Error::Answers { source, .. }) if matches!(target, UpgradeTarget::Service(_)) => {
                    return Err(Error::Invalid(source));
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
            return Ok(self.check(options.mode, &ready, &skipped).await);
        }

        // Repositories already at the newest render get no steps; with nothing behind, no run.
        let git = self.planner.git.as_ref();
        for (upgrade, repos) in &mut ready {
            for (planned, recorded) in repos.iter_mut().zip(upgrade.repos.iter_mut()) {
                let current = matches!(is_current(git, planned, &upgrade.to_version).await, Ok(true));
                planned.upgrade.current = current;
                recorded.current = current;
            }
        }
        let gitops = &self.planner.layout.gitops_repo;
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| Error::Registrations {
            repo: gitops.to_string(),
            source,
        };
        // Each service rendered above, so its registration renders too.
        let wanted = self.registrations(&catalog, ready.iter().map(|(u, _)| u)).map_err(|e| failed(Box::new(e)))?;
        let mut registrations =
            prepare::stale_registrations(git, gitops, &wanted).await.map_err(|e| failed(Box::new(e)))?;
        // A registration deploys the infra repository's `main`: while its merge would conflict,
        // `main` keeps the values the old registration reads, so the service's registration
        // waits too (the upgrade after the conflict is resolved rewrites it).
        // Only services with a registration to rewrite ask (a preview is a whole merge in memory).
        for (upgrade, repos) in &ready {
            let service = &upgrade.request.name;
            if !registrations.iter().any(|path| provision_gitops::ownership::owned_by(service, path)) {
                continue;
            }
            for repo in repos.iter().filter(|r| r.upgrade.role == RepoRole::Infra && !r.upgrade.current) {
                // Known to be behind (not current), so only the merge is previewed.
                if matches!(prepare::would_conflict(git, repo, &upgrade.to_version).await, Ok(true)) {
                    registrations.retain(|path| !provision_gitops::ownership::owned_by(service, path));
                }
            }
        }
        let services = ready.iter().map(|(u, _)| u.clone()).collect();
        let run = UpgradeRun { services, skipped, registrations };
        if run.registrations.is_empty() && run.services.iter().all(|s| s.repos.iter().all(|r| r.current)) {
            let mut services: Vec<ServiceUpgradeReport> = ready
                .iter()
                .map(|(upgrade, repos)| {
                    let reports = repos.iter().map(|r| repo_report(upgrade, r, UpgradeOutcome::UpToDate)).collect();
                    service_report(upgrade, reports)
                })
                .collect();
            services.extend(run.skipped.iter().map(skipped_report));
            let report = UpgradeReport { mode: options.mode, run: None, services };
            self.record_versions(&records, &report).await?;
            return Ok(report);
        }
        let mut plan = Plan { keep_going: true, ..Plan::default() };
        for (upgrade, repos) in &ready {
            push_steps(&mut plan, upgrade, repos);
        }
        prepare::push_registrations(&mut plan, gitops, &run.registrations, &wanted);
        let (id, created) = self.runner.create(&RunRequest::Upgrade(run.clone()), None, None).await?;
        if created != RunCreated::Created {
            let error =
                provision_core::ports::PortError::permanent(format!("run {id} could not be created: {created:?}"));
            return Err(RunError::Store(error).into());
        }
        info!(run = %id, services = run.services.len(), "upgrade started");
        self.runner.execute(&id, &plan).await?;
        let record = self.runner.record(&id).await?;
        let steps = self.runner.steps(&id).await?;
        let report = report::of_run(git, &run, &record, &steps).await;
        self.record_versions(&records, &report).await?;
        Ok(report)
    }

    /// Where each repository stands against the newest render, and what merging would do;
    /// writes nothing.
    async fn check(
        &self,
        mode: UpgradeMode,
        ready: &[(ServiceUpgrade, Vec<PlannedRepo>)],
        skipped: &[Skipped],
    ) -> UpgradeReport {
        let mut services = Vec::new();
        for (upgrade, repos) in ready {
            let mut reports = Vec::new();
            for repo in repos {
                let report = match standing(self.planner.git.as_ref(), repo, &upgrade.to_version).await {
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
        UpgradeReport { mode, run: None, services }
    }

    /// The inventory learns the version of each service whose repositories are all at it.
    async fn record_versions(&self, records: &[ServiceRecord], report: &UpgradeReport) -> Result<(), RunError> {
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
                self.runner.store.set_blueprint_version(&record.name, version).await.map_err(RunError::Store)?;
            }
        }
        Ok(())
    }

    /// The registration files of `services` as the configuration makes them now.
    fn registrations<'a>(
        &self,
        catalog: &provision_template::Catalog,
        services: impl Iterator<Item = &'a ServiceUpgrade>,
    ) -> Result<FileSet, prepare::Error> {
        registrations(&self.planner, services, |kind| catalog.get(kind))
    }

    /// Reads, migrates and checks one service's answers and renders its new version.
    async fn prepare_one(
        &self,
        record: &ServiceRecord,
        blueprint: Option<&Blueprint>,
        set: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(ServiceUpgrade, Vec<PlannedRepo>), prepare::Error> {
        if record.run_state != RunState::Succeeded {
            return Err(prepare::Error::NotCreated {
                service: record.name.clone(),
                run: record.run.clone(),
                state: record.run_state,
            });
        }
        let blueprint = blueprint.ok_or_else(|| prepare::Error::BlueprintGone { kind: record.kind.clone() })?;
        let git = self.planner.git.as_ref();
        let upgrade = prepare(&self.planner.layout, git, record, blueprint, set).await?;
        let repos = render(&self.planner.layout, blueprint, &upgrade, &|r| self.planner.clone_url(r))?;
        Ok((upgrade, repos))
    }
}

/// Plans an upgrade run again from what it recorded (to resume it); refused when a blueprint
/// changed since it started.
pub(crate) async fn replan(planner: &Planner, id: &RunId, run: &UpgradeRun) -> Result<Plan, RunError> {
    let mut plan = Plan { keep_going: true, ..Plan::default() };
    for upgrade in &run.services {
        let kind = &upgrade.request.kind;
        let blueprint = planner.blueprint(id, kind).await?;
        if blueprint.digest() != upgrade.blueprint_digest {
            return Err(RunError::BlueprintChanged { run: id.clone(), kind: kind.to_string() });
        }
        let repos = render(&planner.layout, &blueprint, upgrade, &|r| planner.clone_url(r))
            .map_err(|e| RunError::Replan { run: id.clone(), source: Box::new(e) })?;
        push_steps(&mut plan, upgrade, &repos);
    }
    if !run.registrations.is_empty() {
        let catalog = planner.blueprints.catalog().await?;
        let wanted = registrations(planner, run.services.iter(), |kind| catalog.get(kind))
            .map_err(|e| RunError::Replan { run: id.clone(), source: Box::new(e) })?;
        prepare::push_registrations(&mut plan, &planner.layout.gitops_repo, &run.registrations, &wanted);
    }
    Ok(plan)
}

/// The registration files of `services` as the configuration makes them now, together (the
/// shared files are the same bytes from every service).
fn registrations<'a, B: std::ops::Deref<Target = Blueprint>>(
    planner: &Planner,
    services: impl Iterator<Item = &'a ServiceUpgrade>,
    blueprint: impl Fn(&provision_core::BlueprintName) -> Option<B>,
) -> Result<FileSet, prepare::Error> {
    let mut wanted = FileSet::new();
    for upgrade in services {
        let kind = &upgrade.request.kind;
        let blueprint = blueprint(kind).ok_or_else(|| prepare::Error::BlueprintGone { kind: kind.clone() })?;
        wanted.extend(prepare::registration(&planner.layout, &blueprint, upgrade, &|r| planner.clone_url(r))?);
    }
    Ok(wanted)
}
