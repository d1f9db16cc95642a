//! Planning create-service: from a validated request and its blueprint to the files of the
//! three repositories and the plan of steps that provisions them.

use crate::config::{GitopsEngine, Layout};
use crate::provisioning::request::CreateService;
use provision_core::{
    BranchName, Effect, EnvName, FileEntry, FileSet, OwnerName, Plan, RepoName, RepoPath, ServiceName, TreeMode,
};
use provision_template::{AnswerValue, Answers, Blueprint, Builtins, RenderContext, Target};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a create-service run was asked to do, stored with the run so a resumed run plans
/// exactly the same again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateServiceRun {
    pub request: CreateService,
    pub answers: Answers,
    pub blueprint_version: String,
    /// The blueprint's content digest when the run started; a resume with another one refuses.
    pub blueprint_digest: String,
}

/// What a repository is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RepoRole {
    Service,
    Infra,
    Gitops,
}

/// One repository a run writes, with the files it commits.
#[derive(Debug, Clone)]
pub struct PlannedRepo {
    pub role: RepoRole,
    pub name: RepoName,
    pub files: Arc<FileSet>,
}

/// Everything a create-service run will do.
#[derive(Debug, Clone)]
pub struct PlannedService {
    pub repos: Vec<PlannedRepo>,
    pub plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("blueprint {kind} cannot be rendered for {service}")]
    Render {
        kind: String,
        service: String,
        #[source]
        source: Box<provision_template::RenderError>,
    },
    #[error("cannot generate the Helm files of {service}")]
    Helm {
        service: String,
        #[source]
        source: provision_helm::Error,
    },
    #[error("cannot generate the Argo CD registration of {service}")]
    Gitops {
        service: String,
        #[source]
        source: provision_gitops::Error,
    },
    #[error("cannot write the answers file of {service}")]
    Answers {
        service: String,
        #[source]
        source: toml::ser::Error,
    },
}

/// The variables every template sees, besides the blueprint's own parameters. A service
/// without an owner is owned by the organisation. Repository URLs are the ones CI and clusters
/// reach (`git.remote_url`), the local clone URLs when none is configured.
pub fn render_context(
    layout: &Layout,
    request: &CreateService,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> RenderContext {
    let name = &request.name;
    RenderContext::new(Builtins {
        name: name.clone(),
        description: request.description.clone(),
        owner: request.owner.clone().unwrap_or_else(|| default_owner(layout)),
        infra_repo: name.infra_repo(),
        infra_repo_url: layout.cluster_url(&name.infra_repo(), || clone_url(&name.infra_repo())),
        service_repo_url: layout.cluster_url(&name.repo(), || clone_url(&name.repo())),
        image: image(layout, name),
        environments: environments(layout, request).to_vec(),
    })
}

/// Where the service deploys: its own choice, or (for runs recorded before there was one) the
/// configured environments.
pub fn environments<'a>(layout: &'a Layout, request: &'a CreateService) -> &'a [EnvName] {
    if request.environments.is_empty() { &layout.environments } else { &request.environments }
}

fn default_owner(layout: &Layout) -> OwnerName {
    OwnerName::parse(&layout.org).unwrap_or_else(|_| OwnerName::parse("platform").expect("a valid literal owner"))
}

fn image(layout: &Layout, name: &ServiceName) -> String {
    format!("{}/{name}", layout.image_registry.trim_end_matches('/'))
}

/// The container port: the blueprint's `port` parameter when it has one, else its deploy default.
fn port(blueprint: &Blueprint, answers: &Answers) -> u16 {
    match answers.get("port") {
        Some(AnswerValue::Integer(p)) => u16::try_from(*p).unwrap_or(blueprint.manifest().deploy.port),
        _ => blueprint.manifest().deploy.port,
    }
}

/// `.orchestrator/answers.toml`: which blueprint, version and answers made this repository,
/// so an upgrade can render the next version with the same answers.
#[derive(Serialize)]
struct AnswersFile<'a> {
    blueprint: &'a str,
    version: &'a str,
    target: &'a str,
    service: AnswersService<'a>,
    answers: &'a Answers,
}

#[derive(Serialize)]
struct AnswersService<'a> {
    name: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    environments: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gitops: Option<GitopsEngine>,
}

pub const ANSWERS_PATH: &str = ".orchestrator/answers.toml";

fn answers_file(layout: &Layout, run: &CreateServiceRun, target: &str) -> Result<FileEntry, Error> {
    let request = &run.request;
    let file = AnswersFile {
        blueprint: request.kind.as_str(),
        version: &run.blueprint_version,
        target,
        service: AnswersService {
            name: request.name.as_str(),
            description: &request.description,
            owner: request.owner.as_ref().map(|o| o.as_str()),
            environments: environments(layout, request).iter().map(|e| e.as_str()).collect(),
            gitops: request.gitops,
        },
        answers: &run.answers,
    };
    let body = toml::to_string(&file).map_err(|source| Error::Answers { service: request.name.to_string(), source })?;
    Ok(FileEntry::new(
        format!("# Written by the orchestrator: the blueprint, version and answers this repository was rendered from.\n# `orchestrator upgrade` reads it; change answers with `--set`, not by hand.\n{body}")
            .into_bytes(),
    ))
}

/// Plans a create-service run: renders the three repositories' files and lists the steps.
pub fn plan(
    layout: &Layout,
    blueprint: &Blueprint,
    run: &CreateServiceRun,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> Result<PlannedService, Error> {
    let request = &run.request;
    let name = &request.name;
    let ctx = render_context(layout, request, clone_url);
    let render = |target| {
        blueprint.render(target, &ctx, &run.answers).map_err(|source| Error::Render {
            kind: request.kind.to_string(),
            service: name.to_string(),
            source: Box::new(source),
        })
    };
    let answers_path = RepoPath::parse(ANSWERS_PATH).expect("a valid constant path");

    let mut app = render(Target::App)?;
    app.insert(answers_path.clone(), answers_file(layout, run, "app")?);

    let deploy = &blueprint.manifest().deploy;
    let image = image(layout, name);
    let spec = provision_helm::ServiceSpec {
        name,
        description: &request.description,
        image: &image,
        port: port(blueprint, &run.answers),
        health_path: &deploy.health_path,
        ready_path: &deploy.ready_path,
        domain: &layout.domain,
        tls_issuer: layout.tls_issuer.as_deref(),
    };
    let mut infra = if blueprint.has_target(Target::Infra) { render(Target::Infra)? } else { FileSet::new() };
    infra.extend(
        provision_helm::infra_files(&spec, &layout.chart, environments(layout, request))
            .map_err(|source| Error::Helm { service: name.to_string(), source })?,
    );
    infra.insert(answers_path, answers_file(layout, run, "infra")?);

    let engine = request.gitops.unwrap_or(layout.gitops);
    let infra_url = layout.cluster_url(&name.infra_repo(), || clone_url(&name.infra_repo()));
    let registration = provision_gitops::Registration {
        service: name,
        owner: request.owner.as_ref(),
        infra_repo_url: &infra_url,
        argocd_namespace: &layout.argocd_namespace,
        project: &layout.argocd_project,
    };
    let envs = environments(layout, request);
    let gitops_err = |source| Error::Gitops { service: name.to_string(), source };
    let mut gitops = FileSet::new();
    if engine.argo() {
        gitops.extend(provision_gitops::registration_files(&registration, envs).map_err(gitops_err)?);
        // The same bytes with every registration: the repository's hand-over to Argo CD.
        let gitops_url = layout.cluster_url(&layout.gitops_repo, || clone_url(&layout.gitops_repo));
        let repos = infra_url.rsplit_once('/').map_or_else(|| infra_url.clone(), |(base, _)| format!("{base}/*"));
        let mut source_repos = vec![layout.chart.repository.clone(), repos];
        if !gitops_url.starts_with(source_repos[1].trim_end_matches('*')) {
            source_repos.push(gitops_url.clone());
        }
        let bootstrap = provision_gitops::Bootstrap {
            gitops_repo_url: &gitops_url,
            branch: "main",
            argocd_namespace: &layout.argocd_namespace,
            project: &layout.argocd_project,
            source_repos,
            environments: &layout.environments,
        };
        gitops.extend(provision_gitops::bootstrap_files(&bootstrap).map_err(gitops_err)?);
    }
    if engine.flux() {
        let gitops_url = layout.cluster_url(&layout.gitops_repo, || clone_url(&layout.gitops_repo));
        let main = BranchName::main();
        let flux = provision_gitops::FluxRegistration {
            service: name,
            owner: request.owner.as_ref(),
            image: &image,
            initial_tag: "latest",
            port: spec.port,
            health_path: &deploy.health_path,
            ready_path: &deploy.ready_path,
            gitops: provision_gitops::flux::GitOpsRepo {
                name: provision_gitops::flux::DEFAULT_SOURCE_NAME,
                url: &gitops_url,
                branch: &main,
                secret: layout.flux.git_secret.as_deref(),
            },
            flux_namespace: provision_gitops::flux::DEFAULT_NAMESPACE,
            tag_policies: layout.flux.tag_policies.clone(),
            depends_on: layout.flux.depends_on.clone(),
            commit_author: provision_gitops::flux::CommitAuthor {
                name: &layout.author_name,
                email: &layout.author_email,
            },
        };
        gitops.extend(provision_gitops::flux_files(&flux, envs).map_err(gitops_err)?);
    }
    if blueprint.has_target(Target::Gitops) {
        let dir = RepoPath::parse(&format!("services/{name}")).expect("a service name is a valid path segment");
        gitops.extend(render(Target::Gitops)?.under(&dir));
    }

    let repos = vec![
        PlannedRepo { role: RepoRole::Service, name: name.repo(), files: Arc::new(app) },
        PlannedRepo { role: RepoRole::Infra, name: name.infra_repo(), files: Arc::new(infra) },
        PlannedRepo { role: RepoRole::Gitops, name: layout.gitops_repo.clone(), files: Arc::new(gitops) },
    ];

    // Two chains that touch different repositories run side by side; the registration waits
    // for both, so Argo CD never sees an application whose repositories do not exist yet.
    let mut plan = Plan::default();
    let version = &run.blueprint_version;
    let mut chain_ends = Vec::new();
    for repo in &repos[..2] {
        let description = match repo.role {
            RepoRole::Infra => format!("Helm values of {name}"),
            _ => request.description.clone(),
        };
        let ensured = plan.push_after(
            format!("ensure-repo {}", repo.name),
            Effect::EnsureRepo { repo: repo.name.clone(), description, shared: false },
            vec![],
        );
        let rendered = plan.push_after(
            format!("render {} onto {}", repo.name, BranchName::TEMPLATE),
            Effect::Commit {
                repo: repo.name.clone(),
                branch: BranchName::template(),
                files: repo.files.clone(),
                mode: TreeMode::Replace,
                message: format!("Render blueprint {} {version} for {name}", request.kind),
                skip_unchanged: false,
            },
            vec![ensured],
        );
        chain_ends.push(plan.push_after(
            format!("start {} main", repo.name),
            Effect::StartBranch { repo: repo.name.clone(), branch: BranchName::main(), from: BranchName::template() },
            vec![rendered],
        ));
    }
    let gitops_repo = &repos[2];
    plan.push_after(
        format!("ensure-repo {}", gitops_repo.name),
        Effect::EnsureRepo {
            repo: gitops_repo.name.clone(),
            description: "Argo CD registrations of services".into(),
            shared: true,
        },
        chain_ends,
    );
    let envs: Vec<&str> = environments(layout, request).iter().map(|e| e.as_str()).collect();
    plan.push(
        format!("register {name} in {}", gitops_repo.name),
        Effect::Commit {
            repo: gitops_repo.name.clone(),
            branch: BranchName::main(),
            files: gitops_repo.files.clone(),
            mode: TreeMode::Overlay,
            message: format!("Register {name} for {}", envs.join(", ")),
            skip_unchanged: false,
        },
    );
    Ok(PlannedService { repos, plan })
}
