//! The Argo CD bootstrap of the GitOps repository (`argo-gitdir-services` layout): an
//! `ApplicationSet` whose git-directory generator makes one Application per directory
//! `services/<name>/`, syncing that directory (the service's `Application`s, one per
//! environment) into Argo CD's namespace — so registering a service is committing its
//! directory, nothing else — and, unless it is Argo CD's built-in `default`, the `AppProject`
//! those Applications belong to, allowed only what they use.
//!
//! Every registration writes these files byte for byte the same (they depend only on the
//! configuration), so registrations never clobber each other; applying `bootstrap/` once
//! (`kubectl apply -n argocd -f bootstrap/`) hands the repository to Argo CD.

use crate::{Automated, Destination, Error, ObjectMeta, SyncPolicy};
use provision_core::{EnvName, FileEntry, FileSet, RepoPath};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where the bootstrap files go in the GitOps repository.
pub const BOOTSTRAP_DIR: &str = "bootstrap";
/// The in-cluster API server, as Argo CD names it.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// What the bootstrap needs to know.
#[derive(Debug, Clone)]
pub struct Bootstrap<'a> {
    /// The GitOps repository as Argo CD fetches it.
    pub gitops_repo_url: &'a str,
    pub branch: &'a str,
    pub argocd_namespace: &'a str,
    pub project: &'a str,
    /// Repositories (or `*` patterns) the project's Applications may read: the infra
    /// repositories (the services' charts), the chart repository their `Chart.yaml`s depend
    /// on, the GitOps repository.
    pub source_repos: Vec<String>,
    pub environments: &'a [EnvName],
}

/// `argoproj.io/v1alpha1` `ApplicationSet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSet {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSetSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    pub generators: Vec<Generator>,
    pub template: ApplicationTemplate,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generator {
    pub git: GitGenerator,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub revision: String,
    pub directories: Vec<DirectoryPattern>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectoryPattern {
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationTemplate {
    pub metadata: TemplateMeta,
    pub spec: TemplateSpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateMeta {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    pub project: String,
    pub source: DirectorySource,
    pub destination: Destination,
    pub sync_policy: SyncPolicy,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub path: String,
}

/// `argoproj.io/v1alpha1` `AppProject`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProject {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: AppProjectSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    pub description: String,
    pub source_repos: Vec<String>,
    pub destinations: Vec<ProjectDestination>,
    pub cluster_resource_whitelist: Vec<GroupKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectDestination {
    pub server: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/managed-by".to_owned(), "orchestrator".to_owned())])
}

/// The ApplicationSet over `services/*`.
pub fn application_set(b: &Bootstrap<'_>) -> ApplicationSet {
    ApplicationSet {
        api_version: "argoproj.io/v1alpha1",
        kind: "ApplicationSet",
        metadata: ObjectMeta {
            name: "services".into(),
            namespace: b.argocd_namespace.into(),
            labels: labels(),
            ..Default::default()
        },
        spec: ApplicationSetSpec {
            generators: vec![Generator {
                git: GitGenerator {
                    repo_url: b.gitops_repo_url.into(),
                    revision: b.branch.into(),
                    directories: vec![DirectoryPattern { path: "services/*".into() }],
                },
            }],
            template: ApplicationTemplate {
                metadata: TemplateMeta { name: "service-{{path.basename}}".into(), labels: labels() },
                spec: TemplateSpec {
                    project: b.project.into(),
                    source: DirectorySource {
                        repo_url: b.gitops_repo_url.into(),
                        target_revision: b.branch.into(),
                        path: "{{path}}".into(),
                    },
                    destination: Destination { server: IN_CLUSTER.into(), namespace: b.argocd_namespace.into() },
                    sync_policy: SyncPolicy {
                        automated: Automated { prune: true, self_heal: true },
                        sync_options: Vec::new(),
                    },
                },
            },
        },
    }
}

/// The project: the configured source repositories; Applications into Argo CD's namespace
/// (the per-service ones) and into `*-<env>` for each environment (the services'); Namespaces
/// as the only cluster-scoped kind (`CreateNamespace=true`).
pub fn app_project(b: &Bootstrap<'_>) -> AppProject {
    let mut destinations = vec![ProjectDestination { server: IN_CLUSTER.into(), namespace: b.argocd_namespace.into() }];
    destinations.extend(
        b.environments
            .iter()
            .map(|env| ProjectDestination { server: IN_CLUSTER.into(), namespace: format!("*-{env}") }),
    );
    AppProject {
        api_version: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: ObjectMeta {
            name: b.project.into(),
            namespace: b.argocd_namespace.into(),
            labels: labels(),
            ..Default::default()
        },
        spec: AppProjectSpec {
            description: "Services provisioned by the orchestrator".into(),
            source_repos: b.source_repos.clone(),
            destinations,
            cluster_resource_whitelist: vec![GroupKind { group: String::new(), kind: "Namespace".into() }],
        },
    }
}

/// `bootstrap/applicationset.yaml`, and `bootstrap/appproject.yaml` unless the project is
/// Argo CD's own `default` (which every installation has and this must not redefine).
pub fn bootstrap_files(b: &Bootstrap<'_>) -> Result<FileSet, Error> {
    let header = "# Written by the orchestrator with every registration, always the same: apply once with\n\
                  # `kubectl apply -n argocd -f bootstrap/` to hand this repository to Argo CD.\n";
    let mut files = FileSet::new();
    let mut put = |file: &str, kind: &'static str, name: &str, body: Result<String, serde_saphyr::ser::Error>| {
        let body = body.map_err(|source| Error::Yaml { kind, name: name.to_owned(), source })?;
        let path = RepoPath::parse(&format!("{BOOTSTRAP_DIR}/{file}")).expect("a valid constant path");
        files.insert(path, FileEntry::new(format!("{header}{body}").into_bytes()));
        Ok::<_, Error>(())
    };
    let set = application_set(b);
    put("applicationset.yaml", "ApplicationSet", &set.metadata.name, serde_saphyr::to_string(&set))?;
    if b.project != "default" {
        let project = app_project(b);
        put("appproject.yaml", "AppProject", &project.metadata.name, serde_saphyr::to_string(&project))?;
    }
    Ok(files)
}
