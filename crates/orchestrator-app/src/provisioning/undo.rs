//! Undoing a create-service run: the repositories it made are deleted, the service's own files
//! leave the shared GitOps repository by a commit on top of its history (never by rewriting
//! it), and the inventory forgets the service, so the name can be used again.
//!
//! What to undo is decided once, when the undo is asked for, from what the run left behind:
//! a repository is the run's when its commits carry the run's trailer (or it is empty and the
//! run's journal started creating it); a repository that holds anyone else's commits since is
//! refused unless forced. The decision is stored with the undo run, so a resumed undo plans
//! exactly the same steps; each step is idempotent (a deleted repository is "already gone", the
//! unregistering commit is found by its trailer) and the deletion looks again, right before it
//! deletes, that nobody committed meanwhile.

use crate::runs::{RunView, Runner};
use provision_core::engine::short;
use provision_core::ports::{CommitId, GitHost, RunRecord, Store};
use provision_core::{BranchName, Effect, FileEntry, FileSet, Plan, RepoName, RepoPath, RunId, ServiceName, TreeMode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How far back the history of a repository is read: far more than a create-service run and
/// anything that could follow it before an undo writes.
const HISTORY_LIMIT: usize = 1000;

/// What an undo run does, decided when it was asked for and stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UndoRun {
    /// The create-service run undone.
    pub target: RunId,
    pub service: ServiceName,
    /// Delete repositories even though someone committed to them since.
    pub force: bool,
    /// The service's own files in the shared GitOps repository, removed by one commit.
    pub unregister: Option<Unregister>,
    /// The repositories the run made, deleted in this order.
    pub delete: Vec<RepoName>,
    /// The inventory lists the service as made by the run.
    pub forget: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unregister {
    pub repo: RepoName,
    pub paths: Vec<RepoPath>,
    /// The run's commits there that registered the service.
    pub reverts: Vec<CommitId>,
}

/// A repository the undo would delete that holds work the run did not make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaterWork {
    pub repo: RepoName,
    pub commits: usize,
    /// The newest of them: short id and subject.
    pub newest: (String, String),
}

impl std::fmt::Display for LaterWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} has {} commit(s) made since (the newest: {} {:?})",
            self.repo, self.commits, self.newest.0, self.newest.1
        )
    }
}

/// What was found while deciding.
pub(crate) struct Decided {
    pub run: UndoRun,
    pub later_work: Vec<LaterWork>,
}

/// Decides what undoing `target` (a create-service run of `service` whose repositories are
/// `repos`) takes: reads the repositories, the GitOps repository and the inventory; writes
/// nothing.
pub(crate) async fn decide(
    git: &dyn GitHost,
    store: &dyn Store,
    gitops: &RepoName,
    target: &RunId,
    service: &ServiceName,
    repos: &[RepoName],
    force: bool,
) -> Result<Decided, provision_core::ports::PortError> {
    let journal = store.steps(target).await?;
    let mut delete = Vec::new();
    let mut later_work = Vec::new();
    for repo in repos {
        if !git.repo_exists(repo).await? {
            continue;
        }
        let log = git.log(repo, HISTORY_LIMIT).await?;
        let (ours, others): (Vec<_>, Vec<_>) = log.iter().partition(|c| target.marks(&c.message));
        let started_creating = journal.iter().any(|s| s.name == format!("ensure-repo {repo}"));
        if ours.is_empty() && !(log.is_empty() && started_creating) {
            // Not the run's: someone else's repository of that name.
            continue;
        }
        if let Some(newest) = others.first() {
            later_work.push(LaterWork {
                repo: repo.clone(),
                commits: others.len(),
                newest: (short(&newest.id).to_owned(), newest.subject().to_owned()),
            });
        }
        delete.push(repo.clone());
    }

    let main = BranchName::main();
    let mut unregister = None;
    if git.repo_exists(gitops).await? {
        let mut reverts = Vec::new();
        for step in &journal {
            if let Some(id) = git.find_commit(gitops, &main, &target.trailer(step.index), HISTORY_LIMIT).await? {
                reverts.push(id);
            }
        }
        if !reverts.is_empty() {
            let tree = git.read_tree(gitops, &main).await?.unwrap_or_default();
            let paths: Vec<RepoPath> =
                tree.paths().filter(|p| provision_gitops::ownership::owned_by(service, p)).cloned().collect();
            if !paths.is_empty() {
                unregister = Some(Unregister { repo: gitops.clone(), paths, reverts });
            }
        }
    }

    let forget = store.service(service).await?.is_some_and(|s| s.run == *target);
    Ok(Decided {
        run: UndoRun { target: target.clone(), service: service.clone(), force, unregister, delete, forget },
        later_work,
    })
}

/// The steps of an undo: unregister first (so nothing deploys from repositories about to go),
/// then delete the repositories, then forget the service.
pub fn plan(run: &UndoRun) -> Plan {
    let mut plan = Plan::default();
    let (service, target) = (&run.service, &run.target);
    if let Some(unregister) = &run.unregister {
        let files: FileSet = unregister.paths.iter().map(|p| (p.clone(), FileEntry::new(Vec::new()))).collect();
        let reverted: Vec<&str> = unregister.reverts.iter().map(short).collect();
        plan.push(
            format!("unregister {service} from {}", unregister.repo),
            Effect::Commit {
                repo: unregister.repo.clone(),
                branch: BranchName::main(),
                files: Arc::new(files),
                mode: TreeMode::Remove,
                message: format!(
                    "Unregister {service}: undo run {target}\n\nReverts {} of run {target}: removes {service}'s own files. \
                     The files every service shares stay.",
                    reverted.join(", ")
                ),
                skip_unchanged: true,
            },
        );
    }
    for repo in &run.delete {
        plan.push(
            format!("delete-repo {repo}"),
            Effect::DeleteRepo { repo: repo.clone(), only_by: (!run.force).then(|| target.clone()) },
        );
    }
    if run.forget {
        plan.push(
            format!("forget {service}"),
            Effect::ForgetService { service: service.clone(), created_by: target.clone() },
        );
    }
    plan
}

/// The answer to an undo.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UndoReport {
    /// The create-service run undone.
    pub target: String,
    pub service: String,
    /// The undo run and its journal; none for a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunView>,
    /// The GitOps repository and the service's files removed from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unregistered: Option<Unregistered>,
    /// The repositories deleted.
    pub deleted: Vec<String>,
    /// The inventory forgets the service (false: it does not list it as made by that run).
    pub forgotten: bool,
    /// The repositories are deleted although someone committed to them since.
    pub forced: bool,
    /// Nothing was done: what an undo would do.
    pub dry_run: bool,
    /// The run was undone before: this is that undo.
    pub replayed: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unregistered {
    pub repo: String,
    pub files: Vec<String>,
    /// The commits that registered the service, reverted by the undo's.
    pub reverts: Vec<String>,
}

impl UndoReport {
    pub(crate) fn new(run: &UndoRun, view: Option<RunView>, replayed: bool) -> Self {
        UndoReport {
            target: run.target.to_string(),
            service: run.service.to_string(),
            unregistered: run.unregister.as_ref().map(|u| Unregistered {
                repo: u.repo.to_string(),
                files: u.paths.iter().map(|p| p.to_string()).collect(),
                reverts: u.reverts.iter().map(|id| id.0.clone()).collect(),
            }),
            deleted: run.delete.iter().map(|r| r.to_string()).collect(),
            forgotten: run.forget,
            forced: run.force,
            dry_run: view.is_none(),
            replayed,
            run: view,
        }
    }
}

/// The key an undo is recorded under: a second undo of the same run (as forced) answers the
/// first. It holds a space, which no client's `Idempotency-Key` may.
pub(crate) fn key(target: &RunId, force: bool) -> String {
    if force { format!("undo --force {target}") } else { format!("undo {target}") }
}

/// The request stored with an undo run, as [`Runner::request`] reads it back.
pub(crate) fn recorded(record: &RunRecord) -> Option<UndoRun> {
    match Runner::request(record) {
        Ok(crate::runs::RunRequest::Undo(run)) => Some(run),
        _ => None,
    }
}
