//! Flux v2 registration of a service: the files that make Flux deploy it to each environment
//! and keep its image current, laid out per environment as in seed 003
//! (`shared/reference/README.md` §4), written with the API versions the upstream CRDs serve
//! (`kustomize.toolkit.fluxcd.io/v1`, `source.toolkit.fluxcd.io/v1`,
//! `image.toolkit.fluxcd.io/v1`: each CRD serves only that one).
//!
//! In the GitOps repository, for service `<app>`, environment `<env>`, Flux namespace `<ns>`
//! and GitRepository `<src>`:
//!
//! ```text
//! flux/<src>.yaml               GitRepository <src> (the GitOps repo, its branch) and the
//!                               Kustomization <src> applying ./flux: apply this folder once
//!                               (`kubectl apply -f flux/` after `flux install`) and Flux
//!                               keeps it, and every environment's root, in sync from then on
//! flux/<env>.yaml               the environment's root: Kustomization <env> applying ./<env>/fluxcd
//! <env>/fluxcd/<app>.yaml       Kustomization <app>-<env> applying ./<env>/apps/<app> (ready
//!                               when its Deployment is: `healthChecks` on it rather than `wait`
//!                               on everything; `dependsOn` as configured),
//!                               ImageRepository, ImagePolicy and ImageUpdateAutomation <app>-<env>
//! <env>/apps/<app>/             plain kustomize, Flux-agnostic but for the setter marker:
//!   kustomization.yaml          namespace <app>-<env>; namespace, deployment and service
//!   namespace.yaml              kustomize-controller applies into existing namespaces only
//!   deployment.yaml             image: <image>:<tag> # {"$imagepolicy": "<ns>:<app>-<env>"}
//!   service.yaml
//! ```
//!
//! Every Flux object lives in `<ns>`, so objects of one service in several environments sharing
//! a cluster are told apart by the `-<env>` suffix, and the marker names the policy as
//! `<ns>:<app>-<env>`.
//!
//! **No shared list.** A registration is an overlay commit of whole files into a repository
//! that all services share, so a file two services both write must come out byte for byte the
//! same from either. The seed lists each environment's apps in `<env>/fluxcd/kustomization.yaml`:
//! a second service's commit would replace the first one's list. Here no such file exists: a
//! Flux Kustomization whose path holds no `kustomization.yaml` has kustomize-controller generate
//! one listing every manifest under it, so the root `<env>` picks up each `<env>/fluxcd/<app>.yaml`
//! as it lands, and `./flux` (the same way) picks up each `flux/<env>.yaml`. A service owns only
//! its own files; the shared ones (`flux/<src>.yaml`, `flux/<env>.yaml`) depend only on the
//! registration's GitOps settings and the environment, never on the service, so every writer
//! writes them alike. Nobody may add a `kustomization.yaml` to `flux/` or `<env>/fluxcd/`: it
//! would turn the directory back into a list. An environment may not be named `flux` (its
//! files would land in the bootstrap folder) nor like the GitRepository (two Kustomizations of
//! one name).
//!
//! Image policies are typed per environment ([`TagPolicy`]): by default `qa` follows
//! `<commit>-<timestamp>` tags (newest timestamp) and every other environment semver releases.
//! The marker is a comment, not part of the image value: the Deployment is serialized from its
//! struct, then [`marker::mark_image_line`] appends the marker to the image line and nothing
//! else; [`marker::image_markers`] reads markers back.

pub mod marker;
pub mod objects;

use crate::{Described, Error, yaml};
use objects::*;
use provision_core::{BranchName, EnvName, FileEntry, FileSet, Invalid, OwnerName, Problem, RepoPath, ServiceName};
use std::collections::{BTreeMap, BTreeSet};

/// Where Flux runs unless configured otherwise (what `flux install` creates).
pub const DEFAULT_NAMESPACE: &str = "flux-system";
/// The default name of the GitOps repository's GitRepository.
pub const DEFAULT_SOURCE_NAME: &str = "gitops";
/// The folder of the bootstrap files; no environment may be named so.
pub const BOOTSTRAP_DIR: &str = "flux";
/// `filterTags.pattern` for `<commit sha>-<timestamp>` tags, as the seed's qa uses.
pub const COMMIT_TIMESTAMP_PATTERN: &str = "^[a-fA-F0-9]+-(?P<ts>.*)";
/// The semver range of environments without a configured policy other than `qa`.
pub const DEFAULT_SEMVER_RANGE: &str = ">=0.0.0";

/// How often the GitOps repository is fetched.
const SOURCE_INTERVAL: &str = "1m";
/// How often Kustomizations re-apply (they also run whenever the source has a new revision).
const KUSTOMIZATION_INTERVAL: &str = "10m";
const RETRY_INTERVAL: &str = "1m";
/// For applying an app and waiting for its Deployment to become ready.
const APP_TIMEOUT: &str = "5m";
/// How often registries are scanned and the automation looks for newer picks.
const IMAGE_INTERVAL: &str = "5m";

/// Which tags of the service's image an environment follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagPolicy {
    /// Tags `<commit sha>-<timestamp>` ([`COMMIT_TIMESTAMP_PATTERN`]); the numerically greatest
    /// timestamp wins.
    CommitTimestamp,
    /// Semantic-version tags within a range (`>=1.0.0 <2.0.0`); the highest wins.
    Semver(String),
}

impl TagPolicy {
    /// The policy of an environment nothing is configured for: `qa` follows every build,
    /// every other environment semver releases ([`DEFAULT_SEMVER_RANGE`]).
    pub fn default_for(env: &EnvName) -> TagPolicy {
        if env.as_str() == "qa" {
            TagPolicy::CommitTimestamp
        } else {
            TagPolicy::Semver(DEFAULT_SEMVER_RANGE.to_owned())
        }
    }
}

/// A Flux Kustomization (in the Flux namespace) an app's Kustomization waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependency {
    /// The same one in every environment (`infrastructure`).
    Shared(String),
    /// `<prefix>-<env>`: one per environment (`infra` → `infra-qa`).
    PerEnvironment(String),
}

impl Dependency {
    fn name(&self, env: &EnvName) -> String {
        match self {
            Dependency::Shared(name) => name.clone(),
            Dependency::PerEnvironment(prefix) => format!("{prefix}-{env}"),
        }
    }
}

/// The GitOps repository as Flux sees it.
#[derive(Debug, Clone)]
pub struct GitOpsRepo<'a> {
    /// The GitRepository's name ([`DEFAULT_SOURCE_NAME`]).
    pub name: &'a str,
    /// A URL source-controller can fetch and image-automation-controller push to: `https://`,
    /// `http://` or `ssh://` (the CRD allows no other).
    pub url: &'a str,
    /// The branch Flux deploys from and the image automation pushes to.
    pub branch: &'a BranchName,
    /// The Secret (in the Flux namespace) with the credentials to fetch it and push to it: for
    /// https `username`/`password` or `bearerToken`, for ssh `identity` and `known_hosts`.
    /// None for a repository anyone may read (the image automation then cannot push).
    pub secret: Option<&'a str>,
}

/// Who the image automation's commits are by.
#[derive(Debug, Clone)]
pub struct CommitAuthor<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// What registering a service with Flux needs.
#[derive(Debug, Clone)]
pub struct FluxRegistration<'a> {
    pub service: &'a ServiceName,
    pub owner: Option<&'a OwnerName>,
    /// The image repository, without tag or digest (`registry.example.com/platform/payments`).
    pub image: &'a str,
    /// The tag deployed until the image automation picks one.
    pub initial_tag: &'a str,
    pub port: u16,
    pub health_path: &'a str,
    pub ready_path: &'a str,
    pub gitops: GitOpsRepo<'a>,
    /// The namespace Flux runs in ([`DEFAULT_NAMESPACE`]).
    pub flux_namespace: &'a str,
    /// Per environment; the others get [`TagPolicy::default_for`].
    pub tag_policies: BTreeMap<EnvName, TagPolicy>,
    /// What every environment's app Kustomization waits for (nothing by default).
    pub depends_on: Vec<Dependency>,
    pub commit_author: CommitAuthor<'a>,
}

impl FluxRegistration<'_> {
    /// The policy `env` follows.
    pub fn tag_policy(&self, env: &EnvName) -> TagPolicy {
        self.tag_policies.get(env).cloned().unwrap_or_else(|| TagPolicy::default_for(env))
    }
}

/// The service's Flux files in every environment, relative to the GitOps repository root (see
/// the module documentation for the layout). Nothing for no environment.
///
/// Every problem with the registration is reported at once: names too long for `<app>-<env>`
/// (a namespace and a label value: at most 63 characters), an environment named like the
/// bootstrap folder or the GitRepository, a URL Flux cannot fetch, an image with a tag, ….
pub fn flux_files(reg: &FluxRegistration<'_>, envs: &[EnvName]) -> Result<FileSet, Error> {
    check(reg, envs).map_err(|source| Error::Flux { service: reg.service.to_string(), source })?;
    let mut files = FileSet::new();
    if envs.is_empty() {
        return Ok(files);
    }
    let mut put = |path: String, body: String| -> Result<(), Error> {
        let path = RepoPath::parse(&path).map_err(|source| Error::Flux { service: reg.service.to_string(), source })?;
        files.insert(path, FileEntry::new(body.into_bytes()));
        Ok(())
    };

    let shared = "# Shared by every service registered with Flux: each registration writes this file\n\
                  # the same. Change the orchestrator's settings rather than this file.\n";
    put(
        format!("{BOOTSTRAP_DIR}/{}.yaml", reg.gitops.name),
        documents(shared, &[yaml(&git_repository(reg))?, yaml(&bootstrap_kustomization(reg))?]),
    )?;
    for env in envs {
        let app = reg.service;
        put(format!("{BOOTSTRAP_DIR}/{env}.yaml"), documents(shared, &[yaml(&root_kustomization(reg, env))?]))?;

        let header = format!("# Flux objects of {app} in {env}, generated by the orchestrator.\n");
        put(
            format!("{env}/fluxcd/{app}.yaml"),
            documents(
                &header,
                &[
                    yaml(&app_kustomization(reg, env))?,
                    yaml(&image_repository(reg, env))?,
                    yaml(&image_policy(reg, env))?,
                    yaml(&image_update_automation(reg, env))?,
                ],
            ),
        )?;

        let dir = format!("{env}/apps/{app}");
        let header = format!("# {app} in {env}, generated by the orchestrator.\n");
        let deployment_path = format!("{dir}/deployment.yaml");
        let unmarked = yaml(&deployment(reg, env))?;
        let marked = marker::mark_image_line(&unmarked, &image_reference(reg), reg.flux_namespace, &instance(reg, env))
            .map_err(|source| Error::ImageMarker { file: deployment_path.clone(), source })?;
        put(format!("{dir}/kustomization.yaml"), documents(&header, &[yaml(&kustomize_file(reg, env))?]))?;
        put(format!("{dir}/namespace.yaml"), documents(&header, &[yaml(&namespace(reg, env))?]))?;
        put(deployment_path, documents(&header, &[marked]))?;
        put(format!("{dir}/service.yaml"), documents(&header, &[yaml(&service(reg, env))?]))?;
    }
    Ok(files)
}

/// `<image>:<initial tag>`: the Deployment's image until Flux sets another.
fn image_reference(reg: &FluxRegistration<'_>) -> String {
    format!("{}:{}", reg.image, reg.initial_tag)
}

/// `<app>-<env>`: the name of the app's Flux objects and its namespace.
fn instance(reg: &FluxRegistration<'_>, env: &EnvName) -> String {
    reg.service.namespace(env)
}

fn labels(reg: &FluxRegistration<'_>, env: &EnvName) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), reg.service.to_string()),
        ("app.kubernetes.io/managed-by".to_owned(), "orchestrator".to_owned()),
        ("orchestrator.dev/environment".to_owned(), env.to_string()),
    ]);
    if let Some(owner) = reg.owner {
        labels.insert("orchestrator.dev/owner".to_owned(), owner.to_string());
    }
    labels
}

/// Labels of the shared objects: nothing about any one service.
fn shared_labels(env: Option<&EnvName>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([("app.kubernetes.io/managed-by".to_owned(), "orchestrator".to_owned())]);
    if let Some(env) = env {
        labels.insert("orchestrator.dev/environment".to_owned(), env.to_string());
    }
    labels
}

fn flux_meta(name: String, reg: &FluxRegistration<'_>, labels: BTreeMap<String, String>) -> Metadata {
    Metadata { name, namespace: Some(reg.flux_namespace.to_owned()), labels }
}

fn source_ref(reg: &FluxRegistration<'_>) -> CrossNamespaceSourceReference {
    CrossNamespaceSourceReference { kind: "GitRepository", name: reg.gitops.name.to_owned(), namespace: None }
}

/// The GitOps repository's `GitRepository`.
pub fn git_repository(reg: &FluxRegistration<'_>) -> GitRepository {
    GitRepository {
        api_version: SOURCE_API_VERSION,
        kind: "GitRepository",
        metadata: flux_meta(reg.gitops.name.to_owned(), reg, shared_labels(None)),
        spec: GitRepositorySpec {
            interval: SOURCE_INTERVAL.to_owned(),
            url: reg.gitops.url.to_owned(),
            reference: GitReference { branch: reg.gitops.branch.to_string() },
            secret_ref: reg.gitops.secret.map(|name| LocalObjectReference { name: name.to_owned() }),
        },
    }
}

/// The Kustomization applying `./flux`: the GitRepository, itself, and every environment's root.
pub fn bootstrap_kustomization(reg: &FluxRegistration<'_>) -> Kustomization {
    Kustomization {
        api_version: KUSTOMIZE_API_VERSION,
        kind: "Kustomization",
        metadata: flux_meta(reg.gitops.name.to_owned(), reg, shared_labels(None)),
        spec: KustomizationSpec {
            depends_on: Vec::new(),
            interval: KUSTOMIZATION_INTERVAL.to_owned(),
            retry_interval: Some(RETRY_INTERVAL.to_owned()),
            timeout: None,
            path: format!("./{BOOTSTRAP_DIR}"),
            prune: true,
            source_ref: source_ref(reg),
            health_checks: Vec::new(),
        },
    }
}

/// The environment's root Kustomization `<env>`, applying every file of `./<env>/fluxcd`.
pub fn root_kustomization(reg: &FluxRegistration<'_>, env: &EnvName) -> Kustomization {
    Kustomization {
        api_version: KUSTOMIZE_API_VERSION,
        kind: "Kustomization",
        metadata: flux_meta(env.to_string(), reg, shared_labels(Some(env))),
        spec: KustomizationSpec {
            depends_on: Vec::new(),
            interval: KUSTOMIZATION_INTERVAL.to_owned(),
            retry_interval: Some(RETRY_INTERVAL.to_owned()),
            timeout: None,
            path: format!("./{env}/fluxcd"),
            prune: true,
            source_ref: source_ref(reg),
            health_checks: Vec::new(),
        },
    }
}

/// The app's Kustomization `<app>-<env>`, applying `./<env>/apps/<app>` and ready when its
/// Deployment is.
pub fn app_kustomization(reg: &FluxRegistration<'_>, env: &EnvName) -> Kustomization {
    Kustomization {
        api_version: KUSTOMIZE_API_VERSION,
        kind: "Kustomization",
        metadata: flux_meta(instance(reg, env), reg, labels(reg, env)),
        spec: KustomizationSpec {
            depends_on: reg
                .depends_on
                .iter()
                .map(|d| DependencyReference { name: d.name(env), namespace: None })
                .collect(),
            interval: KUSTOMIZATION_INTERVAL.to_owned(),
            retry_interval: Some(RETRY_INTERVAL.to_owned()),
            timeout: Some(APP_TIMEOUT.to_owned()),
            path: format!("./{env}/apps/{}", reg.service),
            prune: true,
            source_ref: source_ref(reg),
            health_checks: vec![NamespacedObjectKindReference {
                api_version: "apps/v1",
                kind: "Deployment",
                name: reg.service.to_string(),
                namespace: instance(reg, env),
            }],
        },
    }
}

/// The `ImageRepository` `<app>-<env>` scanning the service's image.
pub fn image_repository(reg: &FluxRegistration<'_>, env: &EnvName) -> ImageRepository {
    ImageRepository {
        api_version: IMAGE_API_VERSION,
        kind: "ImageRepository",
        metadata: flux_meta(instance(reg, env), reg, labels(reg, env)),
        spec: ImageRepositorySpec { image: reg.image.to_owned(), interval: IMAGE_INTERVAL.to_owned() },
    }
}

/// The `ImagePolicy` `<app>-<env>`, by the environment's [`TagPolicy`].
pub fn image_policy(reg: &FluxRegistration<'_>, env: &EnvName) -> ImagePolicy {
    let (filter_tags, policy) = match reg.tag_policy(env) {
        TagPolicy::CommitTimestamp => (
            Some(TagFilter { pattern: COMMIT_TIMESTAMP_PATTERN.to_owned(), extract: "$ts".to_owned() }),
            ImagePolicyChoice::Numerical { order: SortOrder::Asc },
        ),
        TagPolicy::Semver(range) => (None, ImagePolicyChoice::Semver { range }),
    };
    ImagePolicy {
        api_version: IMAGE_API_VERSION,
        kind: "ImagePolicy",
        metadata: flux_meta(instance(reg, env), reg, labels(reg, env)),
        spec: ImagePolicySpec {
            image_repository_ref: LocalObjectReference { name: instance(reg, env) },
            filter_tags,
            policy,
        },
    }
}

/// The `ImageUpdateAutomation` `<app>-<env>`: the app's policy only, setters under
/// `./<env>/apps/<app>`, committed and pushed to the GitOps branch.
pub fn image_update_automation(reg: &FluxRegistration<'_>, env: &EnvName) -> ImageUpdateAutomation {
    let branch = reg.gitops.branch.to_string();
    let selector = labels(reg, env)
        .into_iter()
        .filter(|(key, _)| key == "app.kubernetes.io/name" || key == "orchestrator.dev/environment")
        .collect();
    ImageUpdateAutomation {
        api_version: IMAGE_API_VERSION,
        kind: "ImageUpdateAutomation",
        metadata: flux_meta(instance(reg, env), reg, labels(reg, env)),
        spec: ImageUpdateAutomationSpec {
            interval: IMAGE_INTERVAL.to_owned(),
            source_ref: source_ref(reg),
            git: GitSpec {
                checkout: GitCheckoutSpec { reference: GitReference { branch: branch.clone() } },
                commit: CommitSpec {
                    author: CommitUser {
                        name: reg.commit_author.name.to_owned(),
                        email: reg.commit_author.email.to_owned(),
                    },
                    message_template: format!(
                        "Update {} in {env}: {{{{range .Changed.Changes}}}}{{{{.OldValue}}}} -> {{{{.NewValue}}}} {{{{end}}}}",
                        reg.service
                    ),
                },
                push: PushSpec { branch },
            },
            update: UpdateStrategy { path: format!("./{env}/apps/{}", reg.service), strategy: "Setters" },
            policy_selector: Some(LabelSelector { match_labels: selector }),
        },
    }
}

/// The app's `kustomization.yaml`.
pub fn kustomize_file(reg: &FluxRegistration<'_>, env: &EnvName) -> KustomizeFile {
    KustomizeFile {
        api_version: KUSTOMIZE_CONFIG_API_VERSION,
        kind: "Kustomization",
        namespace: instance(reg, env),
        resources: ["namespace.yaml", "deployment.yaml", "service.yaml"].map(str::to_owned).to_vec(),
    }
}

/// The app's namespace, `<app>-<env>`.
pub fn namespace(reg: &FluxRegistration<'_>, env: &EnvName) -> Namespace {
    Namespace {
        api_version: "v1",
        kind: "Namespace",
        metadata: Metadata { name: instance(reg, env), namespace: None, labels: labels(reg, env) },
    }
}

/// What the Deployment selects and the Service routes to: the base chart's selector for a
/// release named after the service, so a Deployment made by the chart (Argo CD) and this one
/// are the same object to Kubernetes, whose selectors cannot change.
fn selector(reg: &FluxRegistration<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), reg.service.to_string()),
        ("app.kubernetes.io/instance".to_owned(), reg.service.to_string()),
    ])
}

/// The app's Deployment, with the initial image (the marker is added to its YAML).
pub fn deployment(reg: &FluxRegistration<'_>, env: &EnvName) -> Deployment {
    // One rule for every way of deploying: the Helm values follow it too.
    let tier = provision_core::Tier::of(env);
    let (requests, limits) = tier.resources();
    let probe = |path: &str| Probe {
        http_get: HttpGetAction { path: path.to_owned(), port: "http" },
        initial_delay_seconds: 5,
        period_seconds: 10,
    };
    let mut pod_labels = selector(reg);
    pod_labels.insert("orchestrator.dev/environment".to_owned(), env.to_string());
    Deployment {
        api_version: "apps/v1",
        kind: "Deployment",
        metadata: Metadata { name: reg.service.to_string(), namespace: None, labels: labels(reg, env) },
        spec: DeploymentSpec {
            replicas: tier.replicas(),
            selector: LabelSelector { match_labels: selector(reg) },
            template: PodTemplate {
                metadata: PodMetadata { labels: pod_labels },
                spec: PodSpec {
                    containers: vec![Container {
                        name: reg.service.to_string(),
                        image: image_reference(reg),
                        ports: vec![ContainerPort { name: "http", container_port: reg.port, protocol: "TCP" }],
                        env: vec![
                            EnvVar { name: "PORT".to_owned(), value: reg.port.to_string() },
                            EnvVar { name: "ENVIRONMENT".to_owned(), value: env.to_string() },
                        ],
                        liveness_probe: probe(reg.health_path),
                        readiness_probe: probe(reg.ready_path),
                        resources: ResourceRequirements {
                            requests: Quantities { cpu: requests.cpu.to_owned(), memory: requests.memory.to_owned() },
                            limits: Quantities { cpu: limits.cpu.to_owned(), memory: limits.memory.to_owned() },
                        },
                    }],
                },
            },
        },
    }
}

/// The app's Service: port 80 to the container's `http` port.
pub fn service(reg: &FluxRegistration<'_>, env: &EnvName) -> Service {
    Service {
        api_version: "v1",
        kind: "Service",
        metadata: Metadata { name: reg.service.to_string(), namespace: None, labels: labels(reg, env) },
        spec: ServiceSpec {
            kind: "ClusterIP",
            selector: selector(reg),
            ports: vec![ServicePort { name: "http", port: 80, target_port: "http", protocol: "TCP" }],
        },
    }
}

fn documents(header: &str, documents: &[String]) -> String {
    format!("{header}{}", documents.join("---\n"))
}

macro_rules! described {
    ($($ty:ty),*) => {$(
        impl Described for $ty {
            fn kind(&self) -> &'static str {
                self.kind
            }
            fn name(&self) -> &str {
                &self.metadata.name
            }
        }
    )*};
}

described!(
    Kustomization,
    GitRepository,
    ImageRepository,
    ImagePolicy,
    ImageUpdateAutomation,
    Namespace,
    Deployment,
    Service
);

impl Described for KustomizeFile {
    fn kind(&self) -> &'static str {
        "kustomization.yaml"
    }
    fn name(&self) -> &str {
        &self.namespace
    }
}

/// The longest a name may be that is a DNS-1123 label: a namespace, or a Kustomization name
/// (kustomize-controller writes it into a label of every object it applies).
const LABEL_MAX: usize = 63;

fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= LABEL_MAX
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

fn check(reg: &FluxRegistration<'_>, envs: &[EnvName]) -> Result<(), Invalid> {
    let mut problems = Vec::new();
    let mut push =
        |field: String, rule: &'static str, message: String| problems.push(Problem::new(field, rule, message));
    let label = |what: &str, value: &str| {
        format!("{what} {value:?} must be a DNS label: 1 to 63 characters of a-z, 0-9 and '-', not at either end")
    };

    let image = reg.image;
    if image.contains('@') || image.rsplit('/').next().is_some_and(|last| last.contains(':')) {
        push(
            "image".into(),
            "image-with-tag",
            format!("image {image:?} must name the repository only, without tag or digest: Flux picks the tag"),
        );
    } else if image.is_empty()
        || image.starts_with('/')
        || image.ends_with('/')
        || !image.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b))
    {
        push(
            "image".into(),
            "invalid-image",
            format!(
                "image {image:?} must be a repository reference: lowercase a-z, 0-9, '.', '_', '-', '/' (and ':' before a registry's port)"
            ),
        );
    }
    let tag = reg.initial_tag;
    if tag.is_empty()
        || tag.len() > 128
        || tag.starts_with(['.', '-'])
        || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        push(
            "initial_tag".into(),
            "invalid-tag",
            format!(
                "tag {tag:?} must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-', not starting with '.' or '-'"
            ),
        );
    }
    if reg.port == 0 {
        push("port".into(), "invalid-port", "port must be between 1 and 65535".into());
    }
    for (field, path) in [("health_path", reg.health_path), ("ready_path", reg.ready_path)] {
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            push(field.into(), "invalid-path", format!("{field} {path:?} must be an HTTP path starting with '/'"));
        }
    }
    let url = reg.gitops.url;
    if !["https://", "http://", "ssh://"].iter().any(|scheme| url.len() > scheme.len() && url.starts_with(scheme)) {
        push(
            "gitops.url".into(),
            "unsupported-url",
            format!("GitOps URL {url:?} must be https://, http:// or ssh://: Flux fetches and pushes with no other"),
        );
    }
    if !is_dns_label(reg.gitops.name) {
        push("gitops.name".into(), "invalid-name", label("GitRepository name", reg.gitops.name));
    }
    if !is_dns_label(reg.flux_namespace) {
        push("flux_namespace".into(), "invalid-name", label("Flux namespace", reg.flux_namespace));
    }
    if reg.commit_author.name.trim().is_empty() {
        push("commit_author.name".into(), "required", "the image automation's commit author needs a name".into());
    }
    if !reg.commit_author.email.contains('@') || reg.commit_author.email.contains(char::is_whitespace) {
        push(
            "commit_author.email".into(),
            "invalid-email",
            format!("commit author email {:?} must be an address", reg.commit_author.email),
        );
    }
    if let Some(secret) = reg.gitops.secret
        && !is_dns_label(secret)
    {
        push("gitops.secret".into(), "invalid-name", label("git credentials Secret", secret));
    }
    for (env, policy) in &reg.tag_policies {
        if let TagPolicy::Semver(range) = policy
            && (range.trim().is_empty() || range.contains(['\n', '\r']))
        {
            push(
                format!("tag_policies.{env}"),
                "invalid-range",
                format!("the semver range of {env} must be one non-empty line, like '>=1.0.0 <2.0.0'"),
            );
        }
    }

    for (j, dependency) in reg.depends_on.iter().enumerate() {
        if let Dependency::Shared(name) = dependency
            && !is_dns_label(name)
        {
            push(format!("depends_on[{j}]"), "invalid-name", label("dependency", name));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, env) in envs.iter().enumerate() {
        let field = format!("environments[{i}]");
        if !seen.insert(env) {
            push(field, "duplicate", format!("environment {env} is listed twice"));
            continue;
        }
        let name = instance(reg, env);
        if name.len() > LABEL_MAX {
            push(
                field.clone(),
                "too-long-for-environment",
                format!(
                    "{name} (the namespace and Flux object names in environment {env}) would be longer than {LABEL_MAX} characters; shorten the name to at most {}",
                    LABEL_MAX - 1 - env.as_str().len()
                ),
            );
        }
        if env.as_str() == BOOTSTRAP_DIR {
            push(
                field.clone(),
                "reserved",
                format!("environment {env:?} would put its files in the bootstrap folder {BOOTSTRAP_DIR}/"),
            );
        }
        if env.as_str() == reg.gitops.name {
            push(
                field.clone(),
                "reserved",
                format!("environment {env:?} would name its root Kustomization like the GitRepository's own"),
            );
        }
        for (j, dependency) in reg.depends_on.iter().enumerate() {
            let dependency_name = dependency.name(env);
            if matches!(dependency, Dependency::PerEnvironment(_)) && !is_dns_label(&dependency_name) {
                push(
                    format!("depends_on[{j}]"),
                    "invalid-name",
                    label(&format!("in {env}, dependency"), &dependency_name),
                );
            } else if dependency_name == name {
                push(format!("depends_on[{j}]"), "self-dependency", format!("in {env}, {name} cannot wait for itself"));
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(Invalid::new(problems)) }
}
