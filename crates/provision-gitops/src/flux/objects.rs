//! The objects a Flux registration writes, as typed structs: the Flux custom resources, with
//! field names and shapes from the upstream CRDs' `v1` schemas (the one version each serves),
//! and the core kinds and kustomize file of an app's plain manifests. Only the fields we set are
//! declared; `None` and empty lists are left out, so the server's defaults apply.

use serde::Serialize;
use std::collections::BTreeMap;

/// `kustomize.toolkit.fluxcd.io_kustomizations.yaml` serves only `v1`.
pub const KUSTOMIZE_API_VERSION: &str = "kustomize.toolkit.fluxcd.io/v1";
/// `source.toolkit.fluxcd.io_gitrepositories.yaml` serves only `v1`.
pub const SOURCE_API_VERSION: &str = "source.toolkit.fluxcd.io/v1";
/// The three `image.toolkit.fluxcd.io` CRDs serve only `v1`.
pub const IMAGE_API_VERSION: &str = "image.toolkit.fluxcd.io/v1";
/// A kustomize `kustomization.yaml` (read by kustomize, never sent to a cluster).
pub const KUSTOMIZE_CONFIG_API_VERSION: &str = "kustomize.config.k8s.io/v1beta1";

/// Object metadata: the part we write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub name: String,
    /// Left out of an app's manifests: their `kustomization.yaml` sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A reference by name to an object in the same namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalObjectReference {
    pub name: String,
}

/// `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: KustomizationSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// Other Kustomizations that must be ready first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    pub interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
    /// For applying and for the health checks; the interval when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    pub path: String,
    pub prune: bool,
    pub source_ref: CrossNamespaceSourceReference,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<NamespacedObjectKindReference>,
}

/// `dependsOn` item: a Kustomization, in this one's namespace when `namespace` is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencyReference {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `sourceRef`: `kind` is one of the CRD's enum (`GitRepository` here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossNamespaceSourceReference {
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `healthChecks` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectKindReference {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub namespace: String,
}

/// `GitRepository` (`source.toolkit.fluxcd.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: GitRepositorySpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    pub interval: String,
    /// `http`, `https` or `ssh` (the CRD's pattern).
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: GitReference,
    /// The Secret with the credentials to fetch (and, for the image automation, push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// A branch of a git repository (`ref` of a GitRepository, `checkout.ref` of an automation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitReference {
    pub branch: String,
}

/// `ImageRepository` (`image.toolkit.fluxcd.io/v1`): scans a registry's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: ImageRepositorySpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRepositorySpec {
    /// The image repository, without a tag.
    pub image: String,
    pub interval: String,
}

/// `ImagePolicy` (`image.toolkit.fluxcd.io/v1`): picks the newest tag by a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicy {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: ImagePolicySpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicySpec {
    pub image_repository_ref: LocalObjectReference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<TagFilter>,
    pub policy: ImagePolicyChoice,
}

/// `filterTags`: only tags matching `pattern`, compared by the `extract`ed capture group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagFilter {
    pub pattern: String,
    pub extract: String,
}

/// `policy`: exactly one of its members (an externally tagged enum serializes as that one key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ImagePolicyChoice {
    Semver { range: String },
    Numerical { order: SortOrder },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SortOrder {
    Asc,
}

/// `ImageUpdateAutomation` (`image.toolkit.fluxcd.io/v1`): writes the policies' picks into
/// the manifests' marked fields and pushes the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomation {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: ImageUpdateAutomationSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    pub interval: String,
    pub source_ref: CrossNamespaceSourceReference,
    pub git: GitSpec,
    pub update: UpdateStrategy,
    /// Which ImagePolicies apply (all in the namespace when left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitSpec {
    pub checkout: GitCheckoutSpec,
    pub commit: CommitSpec,
    pub push: PushSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitCheckoutSpec {
    #[serde(rename = "ref")]
    pub reference: GitReference,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    pub author: CommitUser,
    pub message_template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitUser {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushSpec {
    pub branch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateStrategy {
    pub path: String,
    /// `Setters`, the only value the CRD allows.
    pub strategy: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
}

/// An app's `kustomization.yaml` (kustomize's own `Kustomization`, not Flux's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeFile {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// Set on every resource, so the manifests themselves name none.
    pub namespace: String,
    pub resources: Vec<String>,
}

/// `v1` `Namespace`: kustomize-controller applies into existing namespaces only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
}

/// `apps/v1` `Deployment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: DeploymentSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentSpec {
    pub replicas: u32,
    pub selector: LabelSelector,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodTemplate {
    pub metadata: PodMetadata,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodMetadata {
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodSpec {
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    /// `<repository>:<tag>`; the line Flux's setter marker goes on.
    pub image: String,
    pub ports: Vec<ContainerPort>,
    pub env: Vec<EnvVar>,
    pub liveness_probe: Probe,
    pub readiness_probe: Probe,
    pub resources: ResourceRequirements,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: &'static str,
    pub container_port: u16,
    pub protocol: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: HttpGetAction,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpGetAction {
    pub path: String,
    /// The container port's name.
    pub port: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRequirements {
    pub requests: Quantities,
    pub limits: Quantities,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
}

/// `v1` `Service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: &'static str,
    pub port: u16,
    /// The container port's name.
    pub target_port: &'static str,
    pub protocol: &'static str,
}
