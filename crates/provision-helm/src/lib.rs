//! Helm generation for a service's infra repository, a Helm chart of its own (an umbrella
//! chart): `Chart.yaml` depending on the shared base chart (published in the chart
//! repository), `values.yaml` and one `values-<env>.yaml` per environment, and
//! `templates/NOTES.txt`; built from typed structs and serialized to YAML.
//!
//! The values are the base chart's, under the base chart's name — the key under which Helm
//! passes a parent's values to a dependency — so Argo CD (the infra repository as the
//! Application's one source, `valueFiles: [values.yaml, values-<env>.yaml]`), a plain
//! `helm dependency build && helm install -f values.yaml -f values-<env>.yaml .` and a Flux
//! HelmRelease of the chart all deploy the same objects. The edits on those files
//! ([`set_image_tag`], [`put_sealed_values`]) address that place, and the top level of files
//! generated before, which kept the values there.

mod bump;
mod nest;
mod package;
mod secrets;

pub use bump::{BumpError, ImageTag, set_image_tag};
pub use package::{
    Added, ChartMetadata, ChartType, Index, IndexEntry, IndexError, IndexTime, MAX_CHART_SIZE, MAX_FILE_SIZE,
    Maintainer, MetadataDependency, PackageError, Packaged, chart_url, package, read_chart_dir,
};
pub use secrets::{SealedValues, SecretsEditError, put_sealed_values};

use provision_core::{EnvName, FileEntry, FileSet, RepoPath, ServiceName, Tier};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot serialize {file} as YAML")]
    Yaml {
        file: String,
        #[source]
        source: serde_saphyr::ser::Error,
    },
}

/// The shared base chart a service deploys with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseChart {
    pub name: String,
    pub version: String,
    /// The Helm repository (index.yaml) the chart is published to.
    pub repository: String,
}

/// What the values describe: one service.
#[derive(Debug, Clone)]
pub struct ServiceSpec<'a> {
    pub name: &'a ServiceName,
    pub description: &'a str,
    /// Image repository without a tag.
    pub image: &'a str,
    pub port: u16,
    pub health_path: &'a str,
    pub ready_path: &'a str,
    /// Hosts are `<name>-<env>.<domain>`.
    pub domain: &'a str,
    /// The cert-manager ClusterIssuer that gets each host its TLS certificate; none: the
    /// certificate Secret (`<name>-<env>-tls`) is made some other way.
    pub tls_issuer: Option<&'a str>,
}

/// The Ingress annotation naming the cert-manager ClusterIssuer of its certificate.
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";

/// `Chart.yaml` (Helm chart API v2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartManifest {
    pub api_version: &'static str,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: String,
    pub app_version: String,
    pub dependencies: Vec<ChartDependency>,
}

#[derive(Debug, Serialize)]
pub struct ChartDependency {
    pub name: String,
    pub version: String,
    pub repository: String,
}

/// `values.yaml`: what every environment shares.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    pub name_override: String,
    pub replica_count: u32,
    pub image: Image,
    pub service: Service,
    pub probes: Probes,
    pub resources: Resources,
    /// Name to value: a map, so Helm merges the environment's variables into these (a list
    /// in `values-<env>.yaml` would replace them).
    pub env: BTreeMap<String, String>,
    pub ingress: Ingress,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub repository: String,
    /// Replaced by the service's CI with each build (`bump-image`).
    pub tag: String,
    pub pull_policy: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub port: u16,
    pub target_port: u16,
}

#[derive(Debug, Serialize)]
pub struct Probes {
    pub liveness: Probe,
    pub readiness: Probe,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub path: String,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

#[derive(Debug, Serialize)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `values-<env>.yaml`: what differs per environment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvValues {
    pub replica_count: u32,
    /// Sized for the environment: small where people test, roomy where they depend on it.
    pub resources: Resources,
    /// Merged by Helm into `values.yaml`'s.
    pub env: BTreeMap<String, String>,
    pub ingress: Ingress,
}

/// The container's requests and limits in an environment's tier.
fn resources(tier: Tier) -> Resources {
    let (requests, limits) = tier.resources();
    let q = |q: provision_core::tier::Quantity| Quantities { cpu: q.cpu.into(), memory: q.memory.into() };
    Resources { requests: q(requests), limits: q(limits) }
}

pub fn chart_manifest(spec: &ServiceSpec<'_>, base: &BaseChart) -> ChartManifest {
    ChartManifest {
        api_version: "v2",
        name: spec.name.to_string(),
        description: if spec.description.is_empty() {
            format!("Deployment of {}", spec.name)
        } else {
            spec.description.to_owned()
        },
        kind: "application",
        version: "0.1.0".into(),
        app_version: "latest".into(),
        dependencies: vec![ChartDependency {
            name: base.name.clone(),
            version: base.version.clone(),
            repository: base.repository.clone(),
        }],
    }
}

pub fn values(spec: &ServiceSpec<'_>) -> Values {
    let probe = |path: &str| Probe { path: path.to_owned(), initial_delay_seconds: 5, period_seconds: 10 };
    Values {
        name_override: spec.name.to_string(),
        replica_count: 1,
        image: Image { repository: spec.image.to_owned(), tag: "latest".into(), pull_policy: "IfNotPresent" },
        service: Service { kind: "ClusterIP", port: 80, target_port: spec.port },
        probes: Probes { liveness: probe(spec.health_path), readiness: probe(spec.ready_path) },
        resources: Resources {
            requests: Quantities { cpu: "100m".into(), memory: "128Mi".into() },
            limits: Quantities { cpu: "500m".into(), memory: "256Mi".into() },
        },
        env: [("PORT".to_owned(), spec.port.to_string())].into(),
        ingress: Ingress { enabled: false, host: None, annotations: BTreeMap::new() },
    }
}

pub fn env_values(spec: &ServiceSpec<'_>, env: &EnvName) -> EnvValues {
    EnvValues {
        replica_count: Tier::of(env).replicas(),
        resources: resources(Tier::of(env)),
        env: [("ENVIRONMENT".to_owned(), env.to_string())].into(),
        ingress: Ingress {
            enabled: true,
            host: Some(format!("{}-{}.{}", spec.name, env, spec.domain)),
            annotations: spec
                .tls_issuer
                .map(|issuer| BTreeMap::from([(CLUSTER_ISSUER_ANNOTATION.to_owned(), issuer.to_owned())]))
                .unwrap_or_default(),
        },
    }
}

fn yaml(file: &str, header: &str, value: &impl Serialize) -> Result<FileEntry, Error> {
    let body = serde_saphyr::to_string(value).map_err(|source| Error::Yaml { file: file.to_owned(), source })?;
    Ok(FileEntry::new(format!("{header}{body}").into_bytes()))
}

/// `templates/NOTES.txt` of the infra chart: how the release is reached, read from the base
/// chart's values (`__BASE__` stands for its key, a quoted string). Every lookup goes through
/// `index`, which yields nothing for a missing key, so it renders under strict lint too.
const NOTES: &str = r#"{{- $app := index .Values __BASE__ | default dict }}
{{- $ingress := index $app "ingress" | default dict }}
{{- $tls := index $ingress "tls" | default dict }}
{{ .Chart.Name }} is released as {{ .Release.Name }} in {{ .Release.Namespace }}, deployed by the base chart {{ __BASE__ }}.
  Pods:  kubectl -n {{ .Release.Namespace }} get pods -l app.kubernetes.io/instance={{ .Release.Name }}
{{- if index $ingress "enabled" }}
  URL:   http{{ if index $tls "enabled" }}s{{ end }}://{{ index $ingress "host" }}
{{- end }}
"#;

/// Values of the base chart, under its key.
fn under<'a, T>(base: &'a BaseChart, values: &'a T) -> BTreeMap<&'a str, &'a T> {
    BTreeMap::from([(base.name.as_str(), values)])
}

/// The infra repository's generated files, a chart of its own: `Chart.yaml`, `values.yaml`,
/// `values-<env>.yaml` (the base chart's values under its name) and `templates/NOTES.txt`.
/// Helm fetches the base chart into `charts/` (`helm dependency build`; Argo CD does it itself).
pub fn infra_files(spec: &ServiceSpec<'_>, base: &BaseChart, envs: &[EnvName]) -> Result<FileSet, Error> {
    let path = |p: &str| RepoPath::parse(p).expect("generated infra paths are valid");
    let header = "# Generated by the orchestrator. Edit freely: template upgrades merge with your changes.\n";
    let nested = format!(
        "{header}# The values of the base chart {0}, under its name: Helm passes a chart's values to a\n# dependency under the dependency's name.\n",
        base.name
    );
    let mut files = FileSet::new();
    files.insert(path("Chart.yaml"), yaml("Chart.yaml", header, &chart_manifest(spec, base))?);
    files.insert(path("values.yaml"), yaml("values.yaml", &nested, &under(base, &values(spec)))?);
    for env in envs {
        let name = format!("values-{env}.yaml");
        let env_header = format!("{nested}# Values for the {env} environment, layered over values.yaml.\n");
        files.insert(path(&name), yaml(&name, &env_header, &under(base, &env_values(spec, env)))?);
    }
    let quoted = serde_json::to_string(&base.name).expect("a string serializes as JSON");
    files.insert(path("templates/NOTES.txt"), FileEntry::new(NOTES.replace("__BASE__", &quoted).into_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &ServiceName) -> ServiceSpec<'_> {
        ServiceSpec {
            name,
            description: "some cool description",
            image: "localhost:5000/platform/demo",
            port: 8080,
            health_path: "/healthz",
            ready_path: "/readyz",
            domain: "apps.example.com",
            tls_issuer: None,
        }
    }

    fn text(files: &FileSet, path: &str) -> String {
        String::from_utf8(files.get(path).unwrap().content.to_vec()).unwrap()
    }

    #[test]
    fn infra_repo_gets_chart_values_and_one_file_per_environment() {
        let name = ServiceName::parse("demo").unwrap();
        let base = BaseChart {
            name: "ms-base-chart".into(),
            version: "0.1.0".into(),
            repository: "https://charts.example.com".into(),
        };
        let envs = [EnvName::parse("qa").unwrap(), EnvName::parse("staging").unwrap()];
        let files = infra_files(&spec(&name), &base, &envs).unwrap();
        let paths: Vec<_> = files.paths().map(|p| p.as_str()).collect();
        assert_eq!(
            paths,
            ["Chart.yaml", "templates/NOTES.txt", "values-qa.yaml", "values-staging.yaml", "values.yaml"]
        );

        let chart = text(&files, "Chart.yaml");
        assert!(chart.contains("apiVersion: v2\n"), "{chart}");
        assert!(
            chart.contains(
                "dependencies:\n- name: ms-base-chart\n  version: \"0.1.0\"\n  repository: https://charts.example.com\n"
            ),
            "{chart}"
        );

        // The base chart's values sit under its name, nothing else at the top level.
        let values = text(&files, "values.yaml");
        assert!(values.contains("\nms-base-chart:\n  nameOverride: demo\n"), "{values}");
        assert!(
            values.contains("\n  image:\n    repository: localhost:5000/platform/demo\n    tag: latest\n"),
            "{values}"
        );
        assert!(values.contains("    targetPort: 8080"), "{values}");
        let staging = text(&files, "values-staging.yaml");
        for file in [&values, &staging] {
            let top: Vec<_> = file.lines().filter(|l| !l.starts_with([' ', '#', '-'])).collect();
            assert_eq!(top, ["ms-base-chart:"], "{file}");
        }
        assert!(staging.contains("\n  replicaCount: 2\n"), "{staging}");
        assert!(staging.contains("    host: demo-staging.apps.example.com\n"), "{staging}");
        assert!(!staging.contains("annotations"), "no issuer, no annotation: {staging}");

        let notes = text(&files, "templates/NOTES.txt");
        assert!(notes.starts_with("{{- $app := index .Values \"ms-base-chart\" | default dict }}\n"), "{notes}");
    }

    #[test]
    fn a_tls_issuer_annotates_every_environments_ingress() {
        let name = ServiceName::parse("demo").unwrap();
        let spec = ServiceSpec { tls_issuer: Some("letsencrypt-prod"), ..spec(&name) };
        let qa = env_values(&spec, &EnvName::parse("qa").unwrap());
        assert_eq!(qa.ingress.annotations[CLUSTER_ISSUER_ANNOTATION], "letsencrypt-prod");
    }
}
