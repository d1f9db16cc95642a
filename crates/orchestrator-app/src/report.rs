//! What the use cases answer: plain serializable views that the CLI prints as text or JSON
//! and the API returns as JSON.

use crate::config::Config;
use crate::service::{CreateServiceRun, PlannedService, RepoRole};
use provision_core::RepoName;
use provision_core::ports::{RunRecord, ServiceRecord, StepRecord};
use provision_template::Blueprint;
use serde::Serialize;

/// A blueprint and the parameters it asks for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KindView {
    pub name: String,
    pub version: String,
    pub description: String,
    pub parameters: Vec<ParameterView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParameterView {
    pub name: String,
    /// `string`, `bool`, `integer` or `choice`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub required: bool,
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// The other rules: pattern, bounds, choices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
}

/// A run in brief.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub operation: String,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&RunRecord> for RunSummary {
    fn from(r: &RunRecord) -> Self {
        RunSummary {
            id: r.id.to_string(),
            operation: r.operation.clone(),
            state: r.state.as_str().to_owned(),
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
    pub state: String,
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
                    state: s.state.as_str().to_owned(),
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

/// A repository a run wrote (or, in a dry run, would write).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoReport {
    pub role: RepoRole,
    pub name: String,
    pub clone_url: String,
    pub branch: String,
    /// The files the run commits into it.
    pub files: Vec<String>,
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
}

impl ServiceReport {
    pub(crate) fn new(
        run: &CreateServiceRun,
        record: Option<&RunRecord>,
        planned: &PlannedService,
        clone_url: &dyn Fn(&RepoName) -> String,
        dry_run: bool,
        replayed: bool,
    ) -> Self {
        let request = &run.request;
        ServiceReport {
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
                })
                .collect(),
            plan: planned.plan.steps.iter().map(|s| s.name.clone()).collect(),
            dry_run,
            replayed,
        }
    }

    /// Whether the run finished successfully (or nothing ran: a dry run).
    pub fn succeeded(&self) -> bool {
        self.run.as_ref().is_none_or(|r| r.state == "succeeded")
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
    /// The state of the run that created it.
    pub state: String,
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
    pub(crate) fn new(r: &ServiceRecord, config: &Config, clone_url: &dyn Fn(&RepoName) -> String) -> Self {
        let role = |repo: &RepoName| {
            if *repo == r.name.repo() {
                RepoRole::Service
            } else if *repo == r.name.infra_repo() {
                RepoRole::Infra
            } else if *repo == config.gitops_repo {
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
            state: r.run_state.as_str().to_owned(),
            created_at: r.created_at.to_string(),
            repos: r
                .repos
                .iter()
                .map(|repo| ServiceRepoView { role: role(repo), name: repo.to_string(), clone_url: clone_url(repo) })
                .collect(),
        }
    }
}

impl KindView {
    pub(crate) fn from_blueprint(b: &Blueprint) -> Self {
        let m = b.manifest();
        KindView {
            name: m.name.to_string(),
            version: m.version.clone(),
            description: m.description.clone(),
            parameters: m.parameters.iter().map(ParameterView::from).collect(),
        }
    }
}

impl From<&provision_template::Parameter> for ParameterView {
    fn from(p: &provision_template::Parameter) -> Self {
        use provision_template::ParameterKind as K;
        let constraints = match &p.kind {
            K::String { pattern: Some(pattern) } => vec![format!("matches {}", pattern.as_str())],
            K::Integer { min, max } => {
                let mut c = Vec::new();
                if let Some(min) = min {
                    c.push(format!("at least {min}"));
                }
                if let Some(max) = max {
                    c.push(format!("at most {max}"));
                }
                c
            }
            K::Choice { choices } => vec![format!("one of {}", choices.join(", "))],
            K::String { pattern: None } | K::Bool => Vec::new(),
        };
        ParameterView {
            name: p.name.clone(),
            kind: p.kind.type_name().to_owned(),
            description: p.description.clone(),
            required: p.required,
            default: p.default.as_ref().map(|d| serde_json::to_value(d).expect("an answer serializes")),
            constraints,
        }
    }
}

/// How one repository's upgrade went (or, checking, stands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeOutcome {
    /// Already at the newest render, merged.
    UpToDate,
    /// Merged cleanly into main.
    Upgraded,
    /// Merged with conflicts onto the upgrade branch; main unchanged.
    Conflicts,
    /// Not upgraded; `error` says why.
    Failed,
    /// (Checks and dry runs) an upgrade would change main.
    Behind,
}

/// A file that conflicts, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub path: String,
    /// `content` (conflict markers), `binary` (left as it is here), `removed-upstream` (the
    /// template removed it, it was changed here: kept), `removed-here` (it was removed here,
    /// the template changed it: back), `tree` (renames or a file where a directory was).
    pub kind: String,
}

/// A file an upgrade changes on main.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    pub path: String,
    /// `added`, `modified` or `removed`.
    pub change: String,
}

/// One repository of an upgrade.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoUpgradeReport {
    pub repo: String,
    pub role: RepoRole,
    pub from_version: String,
    pub to_version: String,
    pub outcome: UpgradeOutcome,
    /// The branch holding the merge with conflicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictView>,
    /// (Checks and dry runs) what merging would change on main.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One service of an upgrade.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceUpgradeReport {
    pub service: String,
    pub kind: String,
    /// The newest version of the blueprint; absent when it is not configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
    /// Why the service could not be upgraded at all (its repositories are then absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub repos: Vec<RepoUpgradeReport>,
}

/// The answer to an upgrade, a dry run of one, or a check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpgradeReport {
    /// `upgrade`, `dry-run` or `check`.
    pub mode: String,
    /// The run that upgraded (absent when nothing was to run, in dry runs and checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSummary>,
    pub services: Vec<ServiceUpgradeReport>,
}

impl UpgradeReport {
    fn repos(&self) -> impl Iterator<Item = &RepoUpgradeReport> {
        self.services.iter().flat_map(|s| s.repos.iter())
    }

    /// Every repository is up to date or upgraded cleanly.
    pub fn clean(&self) -> bool {
        self.services.iter().all(|s| s.error.is_none())
            && self.repos().all(|r| matches!(r.outcome, UpgradeOutcome::UpToDate | UpgradeOutcome::Upgraded))
    }

    /// Every repository is up to date.
    pub fn current(&self) -> bool {
        self.services.iter().all(|s| s.error.is_none()) && self.repos().all(|r| r.outcome == UpgradeOutcome::UpToDate)
    }
}

/// The answer to bump-image.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageReport {
    pub service: String,
    /// The environment whose values file changed; absent: `values.yaml`, every environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    pub tag: String,
    /// The infra repository.
    pub repo: String,
    pub file: String,
    /// The commit that set the tag, or `main`'s tip if the tag was set already.
    pub commit: String,
    /// Whether a commit was made (false: the tag was set already).
    pub changed: bool,
}

/// The answer to secret seal: what was sealed for where, never a plain value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecretReport {
    pub service: String,
    pub env: String,
    /// The Secret (and SealedSecret) name.
    pub name: String,
    /// The namespace it unseals in: `<service>-<env>`.
    pub namespace: String,
    /// `strict`, `namespace-wide` or `cluster-wide`.
    pub scope: String,
    /// The keys sealed now.
    pub keys: Vec<String>,
    /// The infra repository and the values file holding the sealed values.
    pub repo: String,
    pub file: String,
    /// Where the certificate came from (a URL without credentials).
    pub certificate: String,
    /// When the certificate expires, when it is a certificate (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_expires: Option<String>,
    /// The commit; absent for a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The SealedSecret as the chart renders it from these values, as YAML (the keys sealed
    /// now only).
    pub sealed_secret: String,
}

/// The answer to chart publish.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChartReport {
    pub chart: String,
    pub version: String,
    /// The archive, next to `index.yaml` in the chart repository.
    pub file: String,
    /// Its sha256, as the index records it.
    pub digest: String,
    /// Where Helm downloads it from (`deploy.chart_repository` + the file).
    pub url: String,
    /// The chart repository.
    pub repo: String,
    /// The commit that published it, or `main`'s tip if it was published already.
    pub commit: String,
    /// Whether this call published it (false: that very archive was in the index already).
    pub published: bool,
}
