//! What an upgrade answers: per service and repository, what happened or would, built from a
//! run's journal and the branches it merged, or from a check that changed nothing.

use super::UpgradeMode;
use super::prepare::{Branches, PlannedRepo, ServiceUpgrade, Skipped, UpgradeRun, conflict_branch};
use crate::provisioning::plan::RepoRole;
use crate::runs::RunSummary;
use provision_core::RepoName;
use provision_core::ports::{
    ConflictKind, FileChange, GitHost, MergeConflict, MergeState, RunRecord, RunState, StepRecord, StepState,
};
use serde::Serialize;

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
    #[schema(value_type = String)]
    pub kind: ConflictKind,
}

/// A file an upgrade changes on main.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    pub path: String,
    /// `added`, `modified` or `removed`.
    #[schema(value_type = String)]
    pub change: FileChange,
    /// The unified diff of `main`'s file (`--- a/path`, `+++ b/path`; conflict markers where the
    /// merge would conflict); for a file that is not UTF-8 text, one line saying it differs.
    pub diff: String,
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
    pub mode: UpgradeMode,
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

/// The report of an upgrade run, from its journal and the branches it merged.
pub(crate) async fn of_run(
    git: &dyn GitHost,
    run: &UpgradeRun,
    record: &RunRecord,
    steps: &[StepRecord],
) -> UpgradeReport {
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
                        let conflicts = current_conflicts(git, &repo.name, &upgrade.to_version).await;
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
    UpgradeReport { mode: UpgradeMode::Upgrade, run: Some(RunSummary::from(record)), services }
}

/// The conflicts the conflict branch records, as long as it is the merge of main's and
/// the template branch's tips.
async fn current_conflicts(git: &dyn GitHost, repo: &RepoName, to_version: &str) -> Vec<ConflictView> {
    let branches = Branches::new(to_version);
    match git.merge_state(repo, &branches.request("", &[])).await {
        Ok(MergeState::Conflicted { conflicts, .. }) => conflicts.iter().map(conflict_view).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn repo_report(upgrade: &ServiceUpgrade, repo: &PlannedRepo, outcome: UpgradeOutcome) -> RepoUpgradeReport {
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

pub(crate) fn service_report(upgrade: &ServiceUpgrade, repos: Vec<RepoUpgradeReport>) -> ServiceUpgradeReport {
    ServiceUpgradeReport {
        service: upgrade.request.name.to_string(),
        kind: upgrade.request.kind.to_string(),
        to_version: Some(upgrade.to_version.clone()),
        error: None,
        repos,
    }
}

pub(crate) fn skipped_report(skipped: &Skipped) -> ServiceUpgradeReport {
    ServiceUpgradeReport {
        service: skipped.service.to_string(),
        kind: skipped.kind.to_string(),
        to_version: skipped.to_version.clone(),
        error: Some(skipped.error.clone()),
        repos: Vec::new(),
    }
}

pub(crate) fn conflict_view(c: &MergeConflict) -> ConflictView {
    ConflictView { path: c.path.clone(), kind: c.kind }
}

pub(crate) fn change_view((path, change, diff): (String, FileChange, String)) -> ChangeView {
    ChangeView { path, change, diff }
}
