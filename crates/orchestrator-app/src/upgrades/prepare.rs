//! Preparing an upgrade: what each repository recorded (`.orchestrator/answers.toml` on its
//! template branch), the answers migrated, overridden and checked against the newest
//! blueprint, the new renders, the steps that commit and merge them, and where a repository
//! stands without changing anything.

use crate::config::Layout;
use crate::provisioning::plan::{self, ANSWERS_PATH, CreateServiceRun, RepoRole};
use crate::provisioning::request::CreateService;
use provision_core::RunId;
use provision_core::ports::{
    FileChange, GitHost, MergeConflict, MergePreview, MergeRequest, MergeState, RunState, ServiceRecord,
};
use provision_core::problem::Invalid;
use provision_core::{
    BlueprintName, BranchName, Effect, EnvName, FileSet, Plan, RepoName, RepoPath, ServiceName, TreeMode,
};
use provision_template::{AnswerValue, Answers, Blueprint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What an upgrade run was asked to do, stored with the run so a resumed run plans exactly
/// the same again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpgradeRun {
    pub services: Vec<ServiceUpgrade>,
    /// Services that could not be upgraded at all, and why.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// The registration files in the GitOps repository that the configuration now makes
    /// differently (a changed `git.remote_url`, say): rewritten in one commit on its main.
    #[serde(default)]
    pub registrations: Vec<RepoPath>,
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

/// Why one service cannot be upgraded (the others can).
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
    Plan(#[from] plan::Error),
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
    layout: &Layout,
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
        .filter(|e| layout.environments.contains(e))
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
    let ctx = plan::render_context(layout, &request, &|r| git.clone_url(r));
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
    layout: &Layout,
    blueprint: &Blueprint,
    upgrade: &ServiceUpgrade,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> Result<Vec<PlannedRepo>, Error> {
    let created = created(layout, blueprint, upgrade, clone_url)?;
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

/// What create-service would make for `upgrade`'s service now, under `layout`.
fn created(
    layout: &Layout,
    blueprint: &Blueprint,
    upgrade: &ServiceUpgrade,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> Result<plan::PlannedService, Error> {
    let run = CreateServiceRun {
        request: upgrade.request.clone(),
        answers: upgrade.answers.clone(),
        blueprint_version: upgrade.to_version.clone(),
        blueprint_digest: upgrade.blueprint_digest.clone(),
    };
    Ok(plan::plan(layout, blueprint, &run, clone_url)?)
}

/// The files a service registers in the GitOps repository, as the configuration makes them
/// now (its URLs under `git.remote_url`, or the local clone URLs).
pub(crate) fn registration(
    layout: &Layout,
    blueprint: &Blueprint,
    upgrade: &ServiceUpgrade,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> Result<FileSet, Error> {
    let created = created(layout, blueprint, upgrade, clone_url)?;
    Ok(created.repos.iter().find(|r| r.role == RepoRole::Gitops).map(|r| (*r.files).clone()).unwrap_or_default())
}

/// The registration files on the GitOps repository's main that `wanted` has otherwise: files
/// the orchestrator generated and the configuration now makes differently. A file that is not
/// there (a service unregistered by hand) stays away, and no other file is looked at.
pub(crate) async fn stale_registrations(
    git: &dyn GitHost,
    gitops: &RepoName,
    wanted: &FileSet,
) -> Result<Vec<RepoPath>, provision_core::ports::PortError> {
    let mut stale = Vec::new();
    for (path, entry) in wanted.iter() {
        if let Some(found) = git.read_file(gitops, &BranchName::main(), path).await?
            && found.as_slice() != &*entry.content
        {
            stale.push(path.clone());
        }
    }
    Ok(stale)
}

/// The step rewriting `paths` of the GitOps repository's main to `wanted`: one commit, and
/// none when they already read so.
pub(crate) fn push_registrations(plan: &mut Plan, gitops: &RepoName, paths: &[RepoPath], wanted: &FileSet) {
    if paths.is_empty() {
        return;
    }
    let files: FileSet =
        paths.iter().filter_map(|p| wanted.get(p.as_str()).map(|entry| (p.clone(), entry.clone()))).collect();
    plan.push_after(
        format!("rewrite registrations in {gitops}"),
        Effect::Commit {
            repo: gitops.clone(),
            branch: BranchName::main(),
            files: Arc::new(files),
            mode: TreeMode::Overlay,
            message: format!("Rewrite {} registration file(s) for the configured repository URLs", paths.len()),
            skip_unchanged: true,
        },
        vec![],
    );
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
    /// Behind; what merging would do (each change with the unified diff of `main`'s file).
    Behind { changes: Vec<(String, FileChange, String)>, conflicts: Vec<MergeConflict> },
}

/// The branches of an upgrade's merge: the template branch into main, conflicts aside.
pub(crate) struct Branches {
    into: BranchName,
    from: BranchName,
    conflicts: BranchName,
}

impl Branches {
    pub(crate) fn new(to_version: &str) -> Self {
        Self { into: BranchName::main(), from: BranchName::template(), conflicts: conflict_branch(to_version) }
    }

    pub(crate) fn request<'a>(&'a self, message: &'a str, renames: &'a [(RepoPath, RepoPath)]) -> MergeRequest<'a> {
        MergeRequest { into: &self.into, from: &self.from, conflict_branch: &self.conflicts, message, renames }
    }
}

/// Whether the template branch holds exactly the new render and main holds the template branch.
pub(crate) async fn is_current(git: &dyn GitHost, repo: &PlannedRepo, to_version: &str) -> Result<bool, Error> {
    let name = &repo.upgrade.name;
    let branches = Branches::new(to_version);
    let template = git.read_tree(name, &branches.from).await.map_err(Error::Git)?;
    Ok(template.as_ref() == Some(repo.files.as_ref())
        && git.merge_state(name, &branches.request(&repo.message, &repo.renames)).await.map_err(Error::Git)?
            == MergeState::Merged)
}

/// What merging the new render into main would do; writes nothing.
async fn preview(git: &dyn GitHost, repo: &PlannedRepo, to_version: &str) -> Result<MergePreview, Error> {
    let branches = Branches::new(to_version);
    let request = branches.request(&repo.message, &repo.renames);
    git.preview_merge(&repo.upgrade.name, &request, &repo.files).await.map_err(Error::Git)
}

/// Whether merging the new render of a repository that is behind into main would conflict.
pub(crate) async fn would_conflict(git: &dyn GitHost, repo: &PlannedRepo, to_version: &str) -> Result<bool, Error> {
    Ok(!preview(git, repo, to_version).await?.conflicts.is_empty())
}

/// Compares the new render with the template branch and previews the merge if they differ.
pub(crate) async fn standing(git: &dyn GitHost, repo: &PlannedRepo, to_version: &str) -> Result<Standing, Error> {
    if is_current(git, repo, to_version).await? {
        return Ok(Standing::Current);
    }
    let preview = preview(git, repo, to_version).await?;
    let changes = preview
        .changes
        .into_iter()
        .map(|(path, change)| {
            let (before, after) =
                preview.contents.get(&path).map_or((None, None), |(b, a)| (b.as_deref(), a.as_deref()));
            let diff = crate::diff::between(&path, before, after);
            (path, change, diff)
        })
        .collect();
    Ok(Standing::Behind { changes, conflicts: preview.conflicts })
}
