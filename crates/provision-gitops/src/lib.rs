//! GitOps registration of a service, typed and pure (no cluster client; files in, files out),
//! with field names and shapes taken from the upstream CRD schemas: the Argo CD `Application`
//! per environment (this module: the service's infra repository, a Helm chart depending on the
//! base chart, with `values.yaml` and `values-<env>.yaml`) and the repository's Argo CD bootstrap (module [`argo`]:
//! ApplicationSet, AppProject), or the Flux v2 per-environment layout (module [`flux`]:
//! Kustomizations, image automation, the app's plain kustomize manifests).
//!
//! The tests check every generated object against the upstream CRDs with the test-only
//! `crd-schema` crate, as an API server would.

pub mod argo;
pub mod flux;
pub mod ownership;

pub use argo::{Bootstrap, bootstrap_files};
pub use flux::{FluxRegistration, flux_files};

use provision_core::{EnvName, FileEntry, FileSet, Invalid, OwnerName, RepoPath, ServiceName};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot serialize the {kind} {name} as YAML")]
    Yaml {
        kind: &'static str,
        name: String,
        #[source]
        source: serde_saphyr::ser::Error,
    },
    #[error("cannot register {service} with Flux")]
    Flux {
        service: String,
        #[source]
        source: Invalid,
    },
    #[error("cannot put Flux's image setter marker in {file}")]
    ImageMarker {
        file: String,
        #[source]
        source: flux::marker::MarkerError,
    },
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// `argoproj.io/v1alpha1` `Application`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    /// One source (not `sources`: Argo CD treats an Application with `sources` as multi-source,
    /// without rollback, even with one entry).
    pub source: ApplicationSource,
    pub destination: Destination,
    pub sync_policy: SyncPolicy,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    /// The chart's directory in the repository.
    pub path: String,
    pub helm: HelmSource,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmSource {
    pub release_name: String,
    pub value_files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    pub server: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    pub automated: Automated,
    pub sync_options: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    pub prune: bool,
    pub self_heal: bool,
}

/// One object as YAML. Block scalars are off, so every value stays on its key's line (a long
/// image reference folded onto the next line would leave the marker on the wrong one).
pub(crate) fn yaml<T: Serialize + Described>(object: &T) -> Result<String, Error> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(object, options).map_err(|source| Error::Yaml {
        kind: object.kind(),
        name: object.name().to_owned(),
        source,
    })
}

/// What names an object in a serialization error.
pub(crate) trait Described {
    fn kind(&self) -> &'static str;
    fn name(&self) -> &str;
}

/// Where a service's chart comes from, and where it goes.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    pub service: &'a ServiceName,
    pub owner: Option<&'a OwnerName>,
    /// The service's infra repository: a Helm chart whose `Chart.yaml` depends on the base
    /// chart in the chart repository (Argo CD fetches it, as `helm dependency build` does), and
    /// its values files.
    pub infra_repo_url: &'a str,
    /// The namespace Argo CD runs in (`argocd`).
    pub argocd_namespace: &'a str,
    pub project: &'a str,
}

/// The `Application` deploying `reg.service` to `env`: the infra repository's chart at `main`
/// (its root, `path: .`) released as the service with `values.yaml` and `values-<env>.yaml`,
/// into namespace `<service>-<env>`. Which base chart version deploys is what the infra
/// `Chart.yaml` pins.
pub fn application(reg: &Registration<'_>, env: &EnvName) -> Application {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), reg.service.to_string()),
        ("app.kubernetes.io/managed-by".to_owned(), "orchestrator".to_owned()),
        ("orchestrator.dev/environment".to_owned(), env.to_string()),
    ]);
    if let Some(owner) = reg.owner {
        labels.insert("orchestrator.dev/owner".to_owned(), owner.to_string());
    }
    Application {
        api_version: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: ObjectMeta {
            name: format!("{}-{env}", reg.service),
            namespace: reg.argocd_namespace.to_owned(),
            labels,
            finalizers: vec!["resources-finalizer.argocd.argoproj.io".to_owned()],
        },
        spec: ApplicationSpec {
            project: reg.project.to_owned(),
            source: ApplicationSource {
                repo_url: reg.infra_repo_url.to_owned(),
                target_revision: "main".to_owned(),
                path: ".".to_owned(),
                helm: HelmSource {
                    release_name: reg.service.to_string(),
                    value_files: vec!["values.yaml".to_owned(), format!("values-{env}.yaml")],
                },
            },
            destination: Destination {
                server: "https://kubernetes.default.svc".to_owned(),
                namespace: reg.service.namespace(env),
            },
            sync_policy: SyncPolicy {
                automated: Automated { prune: true, self_heal: true },
                sync_options: vec!["CreateNamespace=true".to_owned()],
            },
        },
    }
}

/// The service's registration files, relative to the GitOps repository root:
/// `services/<name>/application-<env>.yaml` for every environment.
pub fn registration_files(reg: &Registration<'_>, envs: &[EnvName]) -> Result<FileSet, Error> {
    let mut files = FileSet::new();
    for env in envs {
        let app = application(reg, env);
        let body = serde_saphyr::to_string(&app).map_err(|source| Error::Yaml {
            kind: "Application",
            name: app.metadata.name.clone(),
            source,
        })?;
        let path = RepoPath::parse(&format!("services/{}/application-{env}.yaml", reg.service))
            .expect("service and environment names are valid path segments");
        files.insert(path, FileEntry::new(body.into_bytes()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_per_environment_deploys_the_infra_chart_with_its_values() {
        let service = ServiceName::parse("demo").unwrap();
        let reg = Registration {
            service: &service,
            owner: None,
            infra_repo_url: "file:///data/git/platform/demo-infra.git",
            argocd_namespace: "argocd",
            project: "default",
        };
        let files = registration_files(&reg, &[EnvName::parse("qa").unwrap()]).unwrap();
        let yaml = String::from_utf8(files.get("services/demo/application-qa.yaml").unwrap().content.to_vec()).unwrap();
        for expected in [
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\n",
            "name: demo-qa\n  namespace: argocd\n",
            "  source:\n    repoURL: file:///data/git/platform/demo-infra.git\n    targetRevision: main\n    path: '.'\n",
            "    helm:\n      releaseName: demo\n      valueFiles:\n      - values.yaml\n      - values-qa.yaml\n",
            "namespace: demo-qa\n",
            "selfHeal: true",
        ] {
            assert!(yaml.contains(expected), "missing {expected:?} in\n{yaml}");
        }
        for gone in ["sources:", "chart:", "$values", "ref:"] {
            assert!(!yaml.contains(gone), "{gone:?} in\n{yaml}");
        }
    }
}
