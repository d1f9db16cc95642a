//! What provisioning answers: the report of a create-service, and services as the inventory
//! knows them.

use super::plan::{CreateServiceRun, PlannedService, RepoRole};
use crate::config::Layout;
use crate::runs::RunSummary;
use provision_core::RepoName;
use provision_core::ports::{RunRecord, RunState, ServiceRecord};
use serde::Serialize;

/// A repository a run wrote (or, in a dry run, would write).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoReport {
    pub role: RepoRole,
    pub name: String,
    pub clone_url: String,
    pub branch: String,
    /// The files the run commits into it.
    pub files: Vec<String>,
    /// In a dry run: each of those files against the branch as it is now (new, changed or
    /// unchanged) with the unified diff of each change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::diff::FileChange>,
}

/// What a caller should know about a create-service that did what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    pub code: WarningCode,
    /// For people: what happened, and the setting that changes it.
    pub message: String,
}

/// The stable part of a warning, for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WarningCode {
    /// `git.remote_url` is not set: the GitOps registrations name the repositories by the
    /// clone URLs of this machine, which a cluster elsewhere cannot fetch.
    LocalCloneUrls,
}

impl WarningCode {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::LocalCloneUrls => "local-clone-urls",
        }
    }
}

/// The warnings every create-service under `layout` carries; `example` is a clone URL the
/// registrations name.
pub(crate) fn warnings(layout: &Layout, example: Option<&str>) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if layout.remote_url.is_none() {
        let example = example.map(|url| format!(" (such as {url})")).unwrap_or_default();
        warnings.push(Warning {
            code: WarningCode::LocalCloneUrls,
            message: format!(
                "the GitOps registrations name the repositories by the clone URLs of this machine{example}, \
                 which a cluster elsewhere cannot fetch: set git.remote_url in config.toml (or \
                 ORCHESTRATOR_GIT_REMOTE_URL) to the base URL clusters fetch them from; `orchestrator \
                 upgrade --all` then rewrites the registrations it generated"
            ),
        });
    }
    warnings
}

/// The answer to create-service.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceReport {
    pub service: String,
    pub kind: String,
    pub blueprint_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub description: String,
    /// Absent in a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSummary>,
    pub repos: Vec<RepoReport>,
    /// The plan's steps, in order.
    pub plan: Vec<String>,
    pub dry_run: bool,
    /// This answers a repeated request with the same idempotency key.
    pub replayed: bool,
    /// What the caller should know though nothing failed (empty when nothing).
    pub warnings: Vec<Warning>,
}

impl ServiceReport {
    pub(crate) fn new(
        run: &CreateServiceRun,
        record: Option<&RunRecord>,
        planned: &PlannedService,
        layout: &Layout,
        clone_url: &dyn Fn(&RepoName) -> String,
        dry_run: bool,
        replayed: bool,
    ) -> Self {
        let request = &run.request;
        let example = planned.repos.first().map(|r| clone_url(&r.name));
        ServiceReport {
            warnings: warnings(layout, example.as_deref()),
            service: request.name.to_string(),
            kind: request.kind.to_string(),
            blueprint_version: run.blueprint_version.clone(),
            owner: request.owner.as_ref().map(|o| o.to_string()),
            description: request.description.clone(),
            run: record.map(RunSummary::from),
            repos: planned
                .repos
                .iter()
                .map(|r| RepoReport {
                    role: r.role,
                    name: r.name.to_string(),
                    clone_url: clone_url(&r.name),
                    branch: "main".into(),
                    files: r.files.paths().map(|p| p.to_string()).collect(),
                    changes: Vec::new(),
                })
                .collect(),
            plan: planned.plan.steps.iter().map(|s| s.name.clone()).collect(),
            dry_run,
            replayed,
        }
    }

    /// Whether the run finished successfully (or nothing ran: a dry run).
    pub fn succeeded(&self) -> bool {
        self.run.as_ref().is_none_or(|r| r.state == RunState::Succeeded)
    }

    /// The report of a run that succeeded (or of a dry run); a run that did not is the
    /// orchestrator's failure, naming the run whose journal says why.
    pub fn outcome(&self) -> Result<(), super::Error> {
        match &self.run {
            Some(run) if run.state != RunState::Succeeded => Err(super::Error::RunFailed {
                run: run.id.clone(),
                service: self.service.clone(),
                error: run.error.clone().unwrap_or_else(|| format!("the run is {}", run.state.as_str())),
            }),
            _ => Ok(()),
        }
    }
}

/// A provisioned service from the inventory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceView {
    pub name: String,
    pub kind: String,
    pub blueprint_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub description: String,
    pub run: String,
    /// The state of the run that created it: `pending`, `running`, `succeeded` or `failed`.
    #[schema(value_type = String)]
    pub state: RunState,
    pub created_at: String,
    pub repos: Vec<ServiceRepoView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceRepoView {
    pub role: RepoRole,
    pub name: String,
    pub clone_url: String,
}

impl ServiceView {
    pub(crate) fn new(r: &ServiceRecord, layout: &Layout, clone_url: &dyn Fn(&RepoName) -> String) -> Self {
        let role = |repo: &RepoName| {
            if *repo == r.name.repo() {
                RepoRole::Service
            } else if *repo == r.name.infra_repo() {
                RepoRole::Infra
            } else if *repo == layout.gitops_repo {
                RepoRole::Gitops
            } else {
                RepoRole::Service
            }
        };
        ServiceView {
            name: r.name.to_string(),
            kind: r.kind.to_string(),
            blueprint_version: r.blueprint_version.clone(),
            owner: r.owner.as_ref().map(|o| o.to_string()),
            description: r.description.clone(),
            run: r.run.to_string(),
            state: r.run_state,
            created_at: r.created_at.to_string(),
            repos: r
                .repos
                .iter()
                .map(|repo| ServiceRepoView { role: role(repo), name: repo.to_string(), clone_url: clone_url(repo) })
                .collect(),
        }
    }
}
