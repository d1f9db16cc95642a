//! Configuration: every setting with its default, read from `config.toml` in the data
//! directory by the binaries and overridden by their flags and `ORCHESTRATOR_*` variables.

mod env;
mod workspaces;

pub use env::{ENV_VARS, EnvVar, Kind as EnvKind};
pub use provision_sealed::CertificateSource;
pub use workspaces::{MailSettings, Quota, WorkspaceSettings};

use crate::error::{Classified, ErrorKind};
use provision_core::problem::{Collector, Problem};
use provision_core::{EnvName, Invalid, RepoName};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings the application runs with, all parsed, in the pieces the capabilities take.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: git repositories, the database, locks.
    pub home: PathBuf,
    /// Blueprint directories, later ones replacing earlier ones (and the built-ins) by name.
    pub blueprint_dirs: Vec<PathBuf>,
    /// Where services' repositories live and how they deploy (`[git]`, `[deploy]`, `[flux]`).
    pub layout: Layout,
    /// Workspaces: who may ask, bounds, quota, where they run (`[workspaces]`).
    pub workspaces: WorkspaceSettings,
    /// How e-mail is sent (`[smtp]`).
    pub mail: MailSettings,
    /// Who may call the API (`[auth]`).
    pub auth: AuthSettings,
    /// The sealed-secrets controller's certificate `secret seal` encrypts with, per
    /// environment (clusters differ) with a default for the others.
    pub sealing: SealingCertificates,
    /// How runs hold up when servers contend for a shared repository, and when they fail for
    /// a passing reason (`[runs]`).
    pub runs: RunSettings,
    /// Where people and clusters reach the API server (`[api] public_url`), without a trailing
    /// `/`: the chart repository it serves is `<public_url>/charts`.
    pub public_url: String,
    /// How the API serves the chart repository (`[charts]`).
    pub charts: ChartSettings,
}

/// `[charts]`, parsed: how the API serves the chart repository at `/charts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChartSettings {
    /// Anyone may read the chart repository, without a token (`[charts] public = true`): for
    /// clusters and `helm dependency update` that should need no credentials.
    pub public: bool,
}

/// The API server's address when `[api] public_url` is not set: `orchestrator-api`'s default
/// `--listen`.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// `[runs]`, parsed: contention and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// How long a commit into a shared repository (the GitOps one, which every registration
    /// writes) keeps trying, with jittered backoff, while other processes keep moving its
    /// branch, before its step fails as transient.
    pub contention_deadline: Duration,
    /// How many times a server retries, in the background, a run that failed for a transient
    /// reason; 0 leaves such runs failed.
    pub retries: u32,
    /// The first background retry waits up to this long (a random part of it), each next one
    /// up to twice as long as the one before, at most [`RunSettings::MAX_RETRY_DELAY`].
    pub retry_delay: Duration,
}

impl RunSettings {
    /// The longest a background retry waits.
    pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings { contention_deadline: Duration::from_secs(30), retries: 5, retry_delay: Duration::from_secs(2) }
    }
}

/// `[auth]`, parsed: where tokens come from besides the store, and whether they are needed.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// A file of API token hashes besides those in the store (`[auth] tokens_file`).
    pub tokens_file: Option<PathBuf>,
    /// Every route is served without a token (`[auth] disabled = true`): for a trusted local
    /// set-up only. A token that is sent is still checked.
    pub disabled: bool,
}

/// Where a service's repositories live and how it is deployed: everything planning a service
/// (and editing what was generated) needs to know.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The namespace repositories are created in (`<home>/git/<org>/`); the owner of services
    /// that name none.
    pub org: String,
    pub gitops_repo: RepoName,
    /// The Helm chart repository (`index.yaml` and packaged charts) `chart publish` writes.
    pub chart_repo: RepoName,
    pub environments: Vec<EnvName>,
    /// Image repositories are `<registry>/<service>`.
    pub image_registry: String,
    /// Hosts are `<service>-<env>.<domain>`.
    pub domain: String,
    /// The cert-manager ClusterIssuer annotated on every Ingress (`deploy.tls_issuer`).
    pub tls_issuer: Option<String>,
    pub chart: provision_helm::BaseChart,
    pub argocd_namespace: String,
    pub argocd_project: String,
    /// Which GitOps engine new services register with, unless they say.
    pub gitops: GitopsEngine,
    /// Where clusters fetch the repositories from (`https://git.example.com/platform`): the
    /// GitOps objects name `<remote_url>/<repo>.git`. Unset, they name the local clone URLs,
    /// which Argo CD on this machine can read and Flux cannot (it fetches http(s) and ssh only).
    pub remote_url: Option<String>,
    /// Who commits: the orchestrator's commits, and Flux's image updates.
    pub author_name: String,
    pub author_email: String,
    /// How services register with Flux (`[flux]`).
    pub flux: FluxSettings,
}

impl Layout {
    /// The URL clusters fetch repository `repo` from: under `remote_url`, else `local`.
    pub fn cluster_url(&self, repo: &RepoName, local: impl FnOnce() -> String) -> String {
        match &self.remote_url {
            Some(base) => format!("{base}/{repo}.git"),
            None => local(),
        }
    }

    /// The repositories the system keeps for itself: no service may be named after one.
    pub fn reserved_repos(&self) -> [(&RepoName, &'static str); 2] {
        [(&self.gitops_repo, "the GitOps repository"), (&self.chart_repo, "the chart repository")]
    }
}

/// `[flux]`, parsed.
#[derive(Debug, Clone, Default)]
pub struct FluxSettings {
    /// The Secret with the GitOps repository's credentials (GitRepository `secretRef`).
    pub git_secret: Option<String>,
    /// Which image tags each environment follows; others follow the default
    /// ([`provision_gitops::flux::TagPolicy::default_for`]).
    pub tag_policies: std::collections::BTreeMap<EnvName, provision_gitops::flux::TagPolicy>,
    /// Kustomizations every app waits for.
    pub depends_on: Vec<provision_gitops::flux::Dependency>,
}

/// Where the sealed-secrets certificate of each environment is read from.
#[derive(Debug, Clone, Default)]
pub struct SealingCertificates {
    pub default: Option<CertificateSource>,
    pub by_env: std::collections::BTreeMap<EnvName, CertificateSource>,
}

impl SealingCertificates {
    /// The certificate for `env`: its own, else the default.
    pub fn for_env(&self, env: &EnvName) -> Option<&CertificateSource> {
        self.by_env.get(env).or(self.default.as_ref())
    }
}

/// The GitOps engine a service registers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitopsEngine {
    /// An Argo CD `Application` per environment.
    Argo,
    /// Flux v2 Kustomizations and image automation per environment.
    Flux,
    Both,
}

impl GitopsEngine {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "argo" => Some(Self::Argo),
            "flux" => Some(Self::Flux),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    pub fn argo(self) -> bool {
        matches!(self, Self::Argo | Self::Both)
    }

    pub fn flux(self) -> bool {
        matches!(self, Self::Flux | Self::Both)
    }
}

/// `config.toml` as written by people: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub git: GitSection,
    #[serde(default)]
    pub deploy: DeploySection,
    #[serde(default)]
    pub blueprints: BlueprintSection,
    #[serde(default)]
    pub sealed_secrets: SealedSecretsSection,
    #[serde(default)]
    pub flux: FluxSection,
    #[serde(default)]
    pub workspaces: workspaces::WorkspacesSection,
    #[serde(default)]
    pub smtp: workspaces::SmtpSection,
    #[serde(default)]
    pub auth: workspaces::AuthSection,
    #[serde(default)]
    pub runs: RunsSection,
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub charts: ChartsSection,
}

/// `[api]`: `public_url = "https://orchestrator.example.com"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    pub public_url: Option<String>,
}

/// `[charts]`: `public = true` serves the chart repository without a token.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartsSection {
    #[serde(default)]
    pub public: bool,
}

/// `[runs]`: `contention_deadline = 30` (seconds), `retries = 5`, `retry_delay = 2` (seconds).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsSection {
    pub contention_deadline: Option<i64>,
    pub retries: Option<i64>,
    pub retry_delay: Option<i64>,
}

/// `[flux]`: `git_secret = "flux-system"`, `depends_on = ["infrastructure", "infra-{env}"]`
/// (`{env}` becomes each environment), and `[flux.tag_policies]` per environment:
/// `"commit-timestamp"` or a semver range such as `">=1.0.0 <2.0.0"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxSection {
    pub git_secret: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub tag_policies: std::collections::BTreeMap<String, String>,
}

/// `[sealed_secrets]`: `certificate = "cert.pem"` (a path, relative to the data directory,
/// or an http(s) URL), and per environment `[sealed_secrets.certificates] prod = "…"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSecretsSection {
    pub certificate: Option<String>,
    #[serde(default)]
    pub certificates: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSection {
    pub org: Option<String>,
    pub remote_url: Option<String>,
    pub gitops_repo: Option<String>,
    pub chart_repo: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    pub environments: Option<Vec<String>>,
    pub image_registry: Option<String>,
    pub domain: Option<String>,
    pub tls_issuer: Option<String>,
    pub chart_name: Option<String>,
    pub chart_version: Option<String>,
    pub chart_repository: Option<String>,
    pub argocd_namespace: Option<String>,
    pub argocd_project: Option<String>,
    pub gitops: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueprintSection {
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: {invalid}")]
    Invalid { file: PathBuf, invalid: Invalid },
    #[error("cannot read {file}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A configuration that cannot be used is the operator's to fix: a file or a variable.
impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { .. } => ErrorKind::Internal,
            Error::Syntax { .. } | Error::Invalid { .. } => ErrorKind::Invalid,
        }
    }
    fn code(&self) -> &'static str {
        "configuration"
    }
    fn problems(&self) -> &[provision_core::Problem] {
        match self {
            Error::Invalid { invalid, .. } => invalid.problems(),
            _ => &[],
        }
    }
}

impl Config {
    /// The configuration of the data directory `home` (made absolute): `<home>/config.toml`
    /// when there is one, overridden by the variables `env` knows ([`ENV_VARS`]); then
    /// `extra_blueprints` (from flags or `ORCHESTRATOR_BLUEPRINTS`) after the file's, empty
    /// entries ignored. Binaries pass `&|name| std::env::var(name).ok()`.
    pub fn load(
        home: &Path,
        extra_blueprints: &[PathBuf],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let home = std::path::absolute(home).map_err(|source| Error::Read { file: home.to_owned(), source })?;
        let file = home.join("config.toml");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(Error::Read { file, source }),
        };
        let mut config = Self::parse(home, &text, &file, env)?;
        config.blueprint_dirs.extend(extra_blueprints.iter().filter(|p| !p.as_os_str().is_empty()).cloned());
        Ok(config)
    }

    /// The defaults for a data directory: works with nothing configured.
    pub fn defaults(home: impl Into<PathBuf>) -> Self {
        Self::from_file(home.into(), ConfigFile::default(), Path::new("config.toml"))
            .expect("the built-in defaults are valid")
    }

    /// Parses the text of `config.toml` (`file` names it in errors).
    pub fn from_toml(home: impl Into<PathBuf>, text: &str, file: &Path) -> Result<Self, Error> {
        Self::parse(home.into(), text, file, &|_| None)
    }

    fn parse(home: PathBuf, text: &str, file: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let syntax = |message: String| Error::Syntax { file: file.to_owned(), message };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        env::overlay(&mut table, env).map_err(|problems| Error::Invalid {
            file: PathBuf::from("the environment"),
            invalid: Invalid::new(problems),
        })?;
        let parsed: ConfigFile = table.try_into().map_err(|e: toml::de::Error| syntax(e.to_string()))?;
        Self::from_file(home, parsed, file)
    }

    fn from_file(home: PathBuf, mut file: ConfigFile, path: &Path) -> Result<Self, Error> {
        let mut c = Collector::new();
        let gitops_repo = c.take(
            "git.gitops_repo",
            RepoName::parse(file.git.gitops_repo.as_deref().unwrap_or("argo-gitdir-services")),
        );
        let chart_repo =
            c.take("git.chart_repo", RepoName::parse(file.git.chart_repo.as_deref().unwrap_or("ms-charts")));
        let org = file.git.org.unwrap_or_else(|| "platform".into());
        if RepoName::parse(&org).is_err() {
            c.push(Problem::new("git.org", "invalid-org", format!("{org:?} is not usable as a directory name")));
        }
        let env_names = file.deploy.environments.take().unwrap_or_else(|| vec!["qa".into(), "staging".into()]);
        if env_names.is_empty() {
            c.push(Problem::new("deploy.environments", "required", "at least one environment is needed"));
        }
        let mut environments = Vec::new();
        for (i, e) in env_names.iter().enumerate() {
            if let Some(env) = c.take(&format!("deploy.environments[{i}]"), EnvName::parse(e)) {
                if environments.contains(&env) {
                    c.push(Problem::new(
                        format!("deploy.environments[{i}]"),
                        "duplicate",
                        format!("{env} is listed twice"),
                    ));
                }
                environments.push(env);
            }
        }
        let gitops = match file.deploy.gitops.as_deref() {
            None => Some(GitopsEngine::Argo),
            Some(value) => match GitopsEngine::parse(value) {
                Some(engine) => Some(engine),
                None => {
                    c.push(Problem::new(
                        "deploy.gitops",
                        "unknown-engine",
                        format!("{value:?} is not argo, flux or both"),
                    ));
                    None
                }
            },
        };
        let remote_url = file.git.remote_url.take().map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &remote_url {
            check_url(&mut c, "git.remote_url", url, &["https://", "http://", "ssh://"]);
        }
        let public_url = file
            .api
            .public_url
            .take()
            .map_or_else(|| DEFAULT_PUBLIC_URL.to_owned(), |u| u.trim_end_matches('/').to_owned());
        check_url(&mut c, "api.public_url", &public_url, &["https://", "http://"]);
        if let Some(registry) = &file.deploy.image_registry
            && (registry.is_empty()
                || !registry.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._:/".contains(c)))
        {
            c.push(Problem::new(
                "deploy.image_registry",
                "invalid-character",
                format!("{registry:?} is not an image repository prefix (a-z, 0-9, '-', '.', '_', ':' and '/')"),
            ));
        }
        let mut sealing = SealingCertificates::default();
        if let Some(value) = &file.sealed_secrets.certificate {
            match CertificateSource::parse(value, &home) {
                Ok(source) => sealing.default = Some(source),
                Err(message) => c.push(Problem::new("sealed_secrets.certificate", "invalid-location", message)),
            }
        }
        for (env, value) in &file.sealed_secrets.certificates {
            let field = format!("sealed_secrets.certificates.{env}");
            let env = c.take(&field, EnvName::parse(env));
            match CertificateSource::parse(value, &home) {
                Ok(source) => {
                    if let Some(env) = env {
                        sealing.by_env.insert(env, source);
                    }
                }
                Err(message) => c.push(Problem::new(field, "invalid-location", message)),
            }
        }
        if let Some(issuer) = &file.deploy.tls_issuer
            && !is_object_name(issuer)
        {
            c.push(Problem::new(
                "deploy.tls_issuer",
                "invalid-name",
                format!("{issuer:?} is not a Kubernetes object name (a-z, 0-9, '-' and '.', at most 253)"),
            ));
        }
        let flux = flux_settings(&file.flux, &mut c);
        let workspaces = WorkspaceSettings::parse(&file.workspaces, &mut c);
        let mail = MailSettings::parse(&file.smtp, &home, &mut c);
        let auth = AuthSettings {
            tokens_file: file.auth.tokens_file.as_ref().map(|f| home.join(f)),
            disabled: file.auth.disabled,
        };
        let runs = run_settings(&file.runs, &mut c);
        c.finish().map_err(|invalid| Error::Invalid { file: path.to_owned(), invalid })?;
        let d = file.deploy;
        let layout = Layout {
            org,
            gitops_repo: gitops_repo.expect("checked by the collector"),
            chart_repo: chart_repo.expect("checked by the collector"),
            environments,
            image_registry: d.image_registry.unwrap_or_else(|| "localhost:5000/platform".into()),
            domain: d.domain.unwrap_or_else(|| "apps.example.com".into()),
            tls_issuer: d.tls_issuer,
            chart: provision_helm::BaseChart {
                name: d.chart_name.unwrap_or_else(|| "ms-base-chart".into()),
                version: d.chart_version.unwrap_or_else(|| "0.1.0".into()),
                // The chart repository this installation's API serves, unless another is named.
                repository: d.chart_repository.unwrap_or_else(|| format!("{public_url}/charts")),
            },
            argocd_namespace: d.argocd_namespace.unwrap_or_else(|| "argocd".into()),
            argocd_project: d.argocd_project.unwrap_or_else(|| "default".into()),
            gitops: gitops.expect("checked by the collector"),
            remote_url,
            author_name: file.git.author_name.unwrap_or_else(|| "Orchestrator".into()),
            author_email: file.git.author_email.unwrap_or_else(|| "orchestrator@localhost".into()),
            flux,
        };
        let charts = ChartSettings { public: file.charts.public };
        Ok(Config {
            home,
            blueprint_dirs: file.blueprints.paths,
            layout,
            workspaces,
            mail,
            auth,
            sealing,
            runs,
            public_url,
            charts,
        })
    }

    /// Where the local git host keeps bare repositories.
    pub fn git_root(&self) -> PathBuf {
        self.home.join("git").join(&self.layout.org)
    }

    pub fn database(&self) -> PathBuf {
        self.home.join("orchestrator.db")
    }
}

/// Checks a URL setting: one of `schemes`, and only characters that mean the same in every
/// generated file it lands in (CI workflows, Makefiles, Dockerfiles, YAML), where a quote, a
/// `$`, a `#`, a blank or a newline would change what the file says.
fn check_url(c: &mut Collector, field: &str, url: &str, schemes: &[&str]) {
    if !schemes.iter().any(|scheme| url.starts_with(scheme)) {
        c.push(Problem::new(field, "scheme", format!("{url:?} must start with {}", join_or(schemes))));
    }
    if let Some(bad) = url.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._~:/@%+!,;=[]".contains(*c))) {
        c.push(Problem::new(
            field,
            "invalid-character",
            format!("{url:?} contains {bad:?}; only letters, digits and - . _ ~ : / @ % + ! , ; = [ ] are allowed"),
        ));
    }
}

/// `a, b or c`.
fn join_or(schemes: &[&str]) -> String {
    match schemes.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn run_settings(section: &RunsSection, c: &mut Collector) -> RunSettings {
    let defaults = RunSettings::default();
    let mut within = |key: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>, unit: &str| {
        let value = value?;
        if range.contains(&value) {
            u64::try_from(value).ok()
        } else {
            c.push(Problem::new(
                format!("runs.{key}"),
                "out-of-range",
                format!("runs.{key} must be between {} and {}{unit}, not {value}", range.start(), range.end()),
            ));
            None
        }
    };
    let deadline = within("contention_deadline", section.contention_deadline, 1..=3600, " seconds");
    let retries = within("retries", section.retries, 0..=100, "");
    let delay = within("retry_delay", section.retry_delay, 0..=300, " seconds");
    RunSettings {
        contention_deadline: deadline.map_or(defaults.contention_deadline, Duration::from_secs),
        retries: retries.and_then(|n| u32::try_from(n).ok()).unwrap_or(defaults.retries),
        retry_delay: delay.map_or(defaults.retry_delay, Duration::from_secs),
    }
}

fn flux_settings(section: &FluxSection, c: &mut Collector) -> FluxSettings {
    use provision_gitops::flux::{Dependency, TagPolicy};
    let mut flux = FluxSettings { git_secret: section.git_secret.clone(), ..Default::default() };
    if let Some(secret) = &section.git_secret
        && (secret.contains('.') || !is_object_name(secret) || secret.len() > 63)
    {
        c.push(Problem::new(
            "flux.git_secret",
            "invalid-name",
            format!("{secret:?} is not a Secret name (a-z, 0-9 and '-')"),
        ));
    }
    for (i, dependency) in section.depends_on.iter().enumerate() {
        let (name, parsed) = match dependency.strip_suffix("-{env}") {
            Some(prefix) => (prefix, Dependency::PerEnvironment(prefix.to_owned())),
            None => (dependency.as_str(), Dependency::Shared(dependency.clone())),
        };
        if is_object_name(name) && !name.contains('.') {
            flux.depends_on.push(parsed);
        } else {
            c.push(Problem::new(
                format!("flux.depends_on[{i}]"),
                "invalid-name",
                format!("{dependency:?} is not a Kustomization name (a-z, 0-9 and '-'; `-{{env}}` at the end for one per environment)"),
            ));
        }
    }
    for (env, policy) in &section.tag_policies {
        let field = format!("flux.tag_policies.{env}");
        let Some(env) = c.take(&field, EnvName::parse(env)) else { continue };
        let policy = match policy.trim() {
            "commit-timestamp" => TagPolicy::CommitTimestamp,
            "" => {
                c.push(Problem::new(field, "required", "\"commit-timestamp\" or a semver range like \">=1.0.0\""));
                continue;
            }
            range => TagPolicy::Semver(range.to_owned()),
        };
        flux.tag_policies.insert(env, policy);
    }
    flux
}

/// A Kubernetes object name (a DNS-1123 subdomain).
fn is_object_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    name.len() <= 253
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_with_nothing_configured() {
        let c = Config::defaults("/data");
        assert_eq!(c.layout.gitops_repo.as_str(), "argo-gitdir-services");
        assert_eq!(c.layout.environments.iter().map(|e| e.as_str()).collect::<Vec<_>>(), ["qa", "staging"]);
        assert_eq!(c.git_root(), Path::new("/data/git/platform"));
    }

    #[test]
    fn load_reads_the_file_and_appends_extra_blueprints() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), &[PathBuf::from("/x"), PathBuf::new()], &|_| None).unwrap();
        assert_eq!(c.blueprint_dirs, [PathBuf::from("/x")]);
        std::fs::write(dir.path().join("config.toml"), "[blueprints]\npaths = [\"/a\"]\n[git]\norg = \"acme\"\n")
            .unwrap();
        let c = Config::load(dir.path(), &[PathBuf::from("/b")], &|_| None).unwrap();
        assert_eq!(c.blueprint_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.git_root(), dir.path().join("git/acme"));
        std::fs::write(dir.path().join("config.toml"), "[git\n").unwrap();
        let err = Config::load(dir.path(), &[], &|_| None).unwrap_err().to_string();
        assert!(err.contains("config.toml"), "{err}");
    }

    #[test]
    fn the_file_overrides_and_every_problem_is_named() {
        let c = Config::from_toml("/d", "[deploy]\nenvironments = [\"qa\", \"prod\"]\n", Path::new("c.toml")).unwrap();
        assert_eq!(c.layout.environments.len(), 2);
        let err = Config::from_toml(
            "/d",
            "[deploy]\nenvironments = [\"QA\", \"qa\", \"qa\"]\n[git]\ngitops_repo = \"a/b\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("deploy.environments[0]")
                && err.contains("deploy.environments[2]")
                && err.contains("git.gitops_repo"),
            "{err}"
        );
        let err = Config::from_toml("/d", "[deploy]\nnope = 1\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("nope"), "{err}");
        let c = Config::from_toml("/d", "[deploy]\ntls_issuer = \"letsencrypt.prod\"\n", Path::new("c")).unwrap();
        assert_eq!(c.layout.tls_issuer.as_deref(), Some("letsencrypt.prod"));
        let err = Config::from_toml("/d", "[deploy]\ntls_issuer = \"Lets Encrypt\"\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("deploy.tls_issuer"), "{err}");
        // What lands in generated files holds nothing that changes their meaning.
        let ok = "[git]\nremote_url = \"ssh://git@git.example.com:2222/team-a/\"\n[deploy]\nimage_registry = \"registry.example.com:5000/team_a\"\n";
        let c = Config::from_toml("/d", ok, Path::new("c")).unwrap();
        assert_eq!(c.layout.remote_url.as_deref(), Some("ssh://git@git.example.com:2222/team-a"));
        for (toml, field) in [
            ("[git]\nremote_url = \"https://git.example.com/a#b\"\n", "git.remote_url"),
            ("[git]\nremote_url = \"https://git.example.com/a: b\"\n", "git.remote_url"),
            ("[git]\nremote_url = \"https://git.example.com/a\\nmodule x\"\n", "git.remote_url"),
            ("[git]\nremote_url = \"https://git.example.com/$(id)\"\n", "git.remote_url"),
            ("[deploy]\nimage_registry = \"registry.example.com/a b\"\n", "deploy.image_registry"),
            ("[deploy]\nimage_registry = \"registry.example.com/a\\\"#\"\n", "deploy.image_registry"),
            ("[deploy]\nimage_registry = \"\"\n", "deploy.image_registry"),
        ] {
            let Err(Error::Invalid { invalid, .. }) = Config::from_toml("/d", toml, Path::new("c")) else {
                panic!("{toml} was accepted")
            };
            let rules: Vec<(&str, &str)> = invalid.problems().iter().map(|p| (p.field.as_str(), p.rule)).collect();
            assert_eq!(rules, [(field, "invalid-character")], "{toml}");
        }
    }

    #[test]
    fn the_chart_repository_defaults_to_the_one_the_api_serves() {
        let defaults = Config::defaults("/d");
        assert_eq!(defaults.public_url, "http://127.0.0.1:8080");
        assert_eq!(defaults.layout.chart.repository, "http://127.0.0.1:8080/charts");
        assert!(!defaults.charts.public, "reading charts needs a token unless configured");

        let c = Config::from_toml(
            "/d",
            "[api]\npublic_url = \"https://orc.example.com/\"\n[charts]\npublic = true\n",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.public_url, "https://orc.example.com", "a trailing / is trimmed");
        assert_eq!(c.layout.chart.repository, "https://orc.example.com/charts");
        assert!(c.charts.public);

        // An explicit chart repository wins; the environment wins over the file.
        let env = |name: &str| match name {
            "ORCHESTRATOR_PUBLIC_URL" => Some("http://10.0.0.5:8080".to_owned()),
            "ORCHESTRATOR_CHARTS_PUBLIC" => Some("true".to_owned()),
            _ => None,
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "[api]\npublic_url = \"https://orc.example.com\"\n").unwrap();
        let c = Config::load(dir.path(), &[], &env).unwrap();
        assert_eq!(c.layout.chart.repository, "http://10.0.0.5:8080/charts");
        assert!(c.charts.public);
        let c =
            Config::from_toml("/d", "[deploy]\nchart_repository = \"https://charts.example.com\"\n", Path::new("c"))
                .unwrap();
        assert_eq!(c.layout.chart.repository, "https://charts.example.com");

        for (toml, rule) in [
            ("[api]\npublic_url = \"ssh://orc.example.com\"\n", "scheme"),
            ("[api]\npublic_url = \"orc.example.com\"\n", "scheme"),
            ("[api]\npublic_url = \"https://orc.example.com/a b\"\n", "invalid-character"),
            ("[api]\npublic_url = \"https://orc.example.com/$(id)\"\n", "invalid-character"),
        ] {
            let Err(Error::Invalid { invalid, .. }) = Config::from_toml("/d", toml, Path::new("c")) else {
                panic!("{toml} was accepted")
            };
            let rules: Vec<(&str, &str)> = invalid.problems().iter().map(|p| (p.field.as_str(), p.rule)).collect();
            assert_eq!(rules, [("api.public_url", rule)], "{toml}");
        }
    }

    #[test]
    fn workspace_settings_come_from_the_file_and_the_environment() {
        let defaults = Config::defaults("/d");
        assert!(defaults.workspaces.allowed_domains.is_none(), "nobody may ask until domains are configured");
        assert_eq!(defaults.workspaces.namespace, "workspaces");
        assert_eq!(defaults.workspaces.quota.count, 3);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[workspaces]\nallowed_email_domains = [\"example.org\"]\ncpu_max = \"2\"\n[smtp]\nurl = \"smtp://u:hunter2@mail:587\"\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "ORCHESTRATOR_ALLOWED_EMAIL_DOMAINS" => Some("iiitm.ac.in,example.com".to_owned()),
            "ORCHESTRATOR_ACCESS_HOST" => Some("ws.example.com".to_owned()),
            _ => None,
        };
        let c = Config::load(dir.path(), &[], &env).unwrap();
        let domains: Vec<&str> = c.workspaces.allowed_domains.as_ref().unwrap().domains().collect();
        assert_eq!(domains, ["example.com", "iiitm.ac.in"], "the variable wins over the file");
        assert_eq!(c.workspaces.access_host, "ws.example.com");
        assert_eq!(c.workspaces.cpu.max.to_string(), "2");
        assert!(!format!("{c:?}").contains("hunter2"), "the SMTP password is never printed");

        let bad = "[workspaces]\nallowed_email_domains = [\"x@y\"]\ncpu_min = \"8\"\nmemory_max = \"16gb\"\nssh_port = 70000\n[smtp]\nurl = \"http://x\"\n";
        let err = Config::from_toml("/d", bad, Path::new("c.toml")).unwrap_err().to_string();
        for field in [
            "workspaces.allowed_email_domains",
            "workspaces.cpu_max",
            "workspaces.memory_max",
            "workspaces.ssh_port",
            "smtp.url",
        ] {
            assert!(err.contains(field), "{field}: {err}");
        }
        let err =
            Config::load(dir.path(), &[], &|n: &str| (n == "ORCHESTRATOR_WORKSPACE_SSH_PORT").then(|| "x".to_owned()))
                .unwrap_err()
                .to_string();
        assert!(err.contains("ORCHESTRATOR_WORKSPACE_SSH_PORT"), "{err}");
    }

    #[test]
    fn run_settings_have_defaults_and_bounds() {
        assert_eq!(Config::defaults("/d").runs, RunSettings::default());
        let c = Config::from_toml("/d", "[runs]\ncontention_deadline = 5\nretries = 0\n", Path::new("c")).unwrap();
        assert_eq!(
            c.runs,
            RunSettings {
                contention_deadline: Duration::from_secs(5),
                retries: 0,
                retry_delay: Duration::from_secs(2)
            }
        );
        let env = |name: &str| (name == "ORCHESTRATOR_RUN_RETRY_DELAY").then(|| "7".to_owned());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path(), &[], &env).unwrap().runs.retry_delay, Duration::from_secs(7));
        let bad = "[runs]\ncontention_deadline = 0\nretries = -1\nretry_delay = 301\n";
        let err = Config::from_toml("/d", bad, Path::new("c.toml")).unwrap_err().to_string();
        for field in ["runs.contention_deadline", "runs.retries", "runs.retry_delay"] {
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn flux_settings_are_parsed_with_every_problem_named() {
        use provision_gitops::flux::{Dependency, TagPolicy};
        let text = "[flux]\ngit_secret = \"flux-system\"\ndepends_on = [\"infrastructure\", \"infra-{env}\"]\n[flux.tag_policies]\nqa = \"commit-timestamp\"\nprod = \">=1.0.0 <2.0.0\"\n";
        let c = Config::from_toml("/d", text, Path::new("c.toml")).unwrap();
        assert_eq!(c.layout.flux.git_secret.as_deref(), Some("flux-system"));
        assert_eq!(
            c.layout.flux.depends_on,
            [Dependency::Shared("infrastructure".into()), Dependency::PerEnvironment("infra".into())]
        );
        let prod = EnvName::parse("prod").unwrap();
        assert_eq!(c.layout.flux.tag_policies[&prod], TagPolicy::Semver(">=1.0.0 <2.0.0".into()));
        let bad = "[flux]\ngit_secret = \"Flux System\"\ndepends_on = [\"a/b\"]\n[flux.tag_policies]\nQA = \"x\"\nprod = \" \"\n";
        let err = Config::from_toml("/d", bad, Path::new("c.toml")).unwrap_err().to_string();
        for field in ["flux.git_secret", "flux.depends_on[0]", "flux.tag_policies.QA", "flux.tag_policies.prod"] {
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn sealing_certificates_are_files_or_urls_per_environment() {
        let text = "[sealed_secrets]\ncertificate = \"certs/qa.pem\"\n[sealed_secrets.certificates]\nprod = \"https://sealed.prod.example.com/v1/cert.pem\"\n";
        let c = Config::from_toml("/d", text, Path::new("c.toml")).unwrap();
        let env = |e: &str| EnvName::parse(e).unwrap();
        assert_eq!(c.sealing.for_env(&env("qa")), Some(&CertificateSource::File("/d/certs/qa.pem".into())));
        assert_eq!(
            c.sealing.for_env(&env("prod")),
            Some(&CertificateSource::Url("https://sealed.prod.example.com/v1/cert.pem".into()))
        );
        assert_eq!(Config::defaults("/d").sealing.for_env(&env("qa")), None);
        let secret = CertificateSource::parse("https://ci:t0ken@certs.example.com/qa.pem?sig=s3cret", Path::new("/"));
        assert_eq!(secret.unwrap().to_string(), "https://certs.example.com/qa.pem…");
        let bad =
            "[sealed_secrets]\ncertificate = \"ftp://x/cert.pem\"\n[sealed_secrets.certificates]\nPROD = \"a.pem\"\n";
        let err = Config::from_toml("/d", bad, Path::new("c.toml")).unwrap_err().to_string();
        assert!(
            err.contains("sealed_secrets.certificate:") && err.contains("sealed_secrets.certificates.PROD"),
            "{err}"
        );
    }
}
