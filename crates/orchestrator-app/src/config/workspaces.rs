//! `[workspaces]`, `[smtp]` and `[auth]`: who may ask for a workspace, how big it may be, where
//! it runs, how its owner hears of it, and where the API's tokens are.

use provision_core::problem::{Collector, Problem};
use provision_core::{Bytes, Cpu, DomainAllowlist, ResourceBounds};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[workspaces]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspacesSection {
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    pub namespace: Option<String>,
    pub access_host: Option<String>,
    pub image: Option<String>,
    pub storage_class: Option<String>,
    pub ssh_port: Option<i64>,
    pub home_path: Option<String>,
    pub cpu_min: Option<String>,
    pub cpu_max: Option<String>,
    pub memory_min: Option<String>,
    pub memory_max: Option<String>,
    pub storage_min: Option<String>,
    pub storage_max: Option<String>,
    pub default_storage: Option<String>,
    pub quota_count: Option<i64>,
    pub quota_cpu: Option<String>,
    pub quota_memory: Option<String>,
    pub quota_storage: Option<String>,
    #[serde(default)]
    pub legacy_delete: bool,
}

/// `[smtp]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    pub url: Option<String>,
    pub from: Option<String>,
    pub templates: Option<String>,
}

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub tokens_file: Option<String>,
    /// Serve every route without a token (a trusted local set-up only; the server says so
    /// when it starts).
    #[serde(default)]
    pub disabled: bool,
}

/// What one owner may hold at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub count: u32,
    pub cpu: Cpu,
    pub memory: Bytes,
    pub storage: Bytes,
}

/// `[workspaces]`, parsed.
#[derive(Debug, Clone)]
pub struct WorkspaceSettings {
    /// Whose e-mail domains may ask; empty: nobody (workspaces are off).
    pub allowed_domains: Option<DomainAllowlist>,
    /// The namespace workspaces (and their objects) live in.
    pub namespace: String,
    /// The host users connect to.
    pub access_host: String,
    /// The image when a request names none.
    pub image: String,
    pub storage_class: Option<String>,
    pub ssh_port: i32,
    pub home_path: String,
    pub cpu: ResourceBounds<Cpu>,
    pub memory: ResourceBounds<Bytes>,
    pub storage: ResourceBounds<Bytes>,
    /// The storage of a request that names none (the seed's shape has none).
    pub default_storage: Bytes,
    pub quota: Quota,
    /// Whether the seed's unauthenticated `POST /api/delete` exists.
    pub legacy_delete: bool,
}

/// `[smtp]`, parsed.
#[derive(Clone, Default)]
pub struct MailSettings {
    /// `smtp://user:pass@host:port?tls=…`; none: messages go to `<home>/mail` (a maildir).
    pub smtp_url: Option<String>,
    pub from: String,
    /// A directory of message templates replacing the built-in ones.
    pub templates: Option<PathBuf>,
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn cpu(millicores: u64) -> Cpu {
    Cpu::from_millicores(millicores).expect("built-in amounts are not zero")
}

fn bytes(n: u64) -> Bytes {
    Bytes::new(n).expect("built-in amounts are not zero")
}

fn dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !value.ends_with('-')
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl WorkspaceSettings {
    pub fn parse(s: &WorkspacesSection, c: &mut Collector) -> WorkspaceSettings {
        let allowed_domains = if s.allowed_email_domains.is_empty() {
            None
        } else {
            c.take("workspaces.allowed_email_domains", DomainAllowlist::parse(&s.allowed_email_domains))
        };
        let namespace = s.namespace.clone().unwrap_or_else(|| "workspaces".into());
        if !dns_label(&namespace) {
            c.push(Problem::new(
                "workspaces.namespace",
                "invalid-name",
                format!("{namespace:?} is not a namespace name"),
            ));
        }
        let text = |field: &str, value: &Option<String>| value.clone().map(|v| (format!("workspaces.{field}"), v));
        let mut cpu_of = |field: &str, value: &Option<String>, default: Cpu| match text(field, value) {
            Some((name, v)) => c.take(&name, Cpu::parse(&v)).unwrap_or(default),
            None => default,
        };
        let cpu_bounds = ResourceBounds {
            min: cpu_of("cpu_min", &s.cpu_min, cpu(250)),
            max: cpu_of("cpu_max", &s.cpu_max, cpu(4000)),
        };
        let quota_cpu = cpu_of("quota_cpu", &s.quota_cpu, cpu(8000));
        let mut bytes_of = |field: &str, value: &Option<String>, default: Bytes| match text(field, value) {
            Some((name, v)) => c.take(&name, Bytes::parse(&v)).unwrap_or(default),
            None => default,
        };
        let memory = ResourceBounds {
            min: bytes_of("memory_min", &s.memory_min, bytes(512 * MIB)),
            max: bytes_of("memory_max", &s.memory_max, bytes(16 * GIB)),
        };
        let storage = ResourceBounds {
            min: bytes_of("storage_min", &s.storage_min, bytes(GIB)),
            max: bytes_of("storage_max", &s.storage_max, bytes(100 * GIB)),
        };
        let default_storage = bytes_of("default_storage", &s.default_storage, bytes(10 * GIB));
        let quota_memory = bytes_of("quota_memory", &s.quota_memory, bytes(32 * GIB));
        let quota_storage = bytes_of("quota_storage", &s.quota_storage, bytes(200 * GIB));
        for (field, ok) in [
            ("workspaces.cpu_max", cpu_bounds.min <= cpu_bounds.max),
            ("workspaces.memory_max", memory.min <= memory.max),
            ("workspaces.storage_max", storage.min <= storage.max),
        ] {
            if !ok {
                c.push(Problem::new(field, "below-minimum", format!("{field} is below its minimum")));
            }
        }
        let ssh_port = match s.ssh_port {
            None => 2222,
            Some(p) if (1..=65535).contains(&p) => i32::try_from(p).expect("checked range"),
            Some(p) => {
                c.push(Problem::new("workspaces.ssh_port", "invalid-port", format!("{p} is not a port (1 to 65535)")));
                2222
            }
        };
        let count = match s.quota_count {
            None => 3,
            Some(n) if (1..=1000).contains(&n) => u32::try_from(n).expect("checked range"),
            Some(n) => {
                c.push(Problem::new(
                    "workspaces.quota_count",
                    "out-of-range",
                    format!("{n} is not between 1 and 1000"),
                ));
                3
            }
        };
        let home_path = s.home_path.clone().unwrap_or_else(|| "/config".into());
        if !home_path.starts_with('/') {
            c.push(Problem::new("workspaces.home_path", "invalid-path", "the home path must be absolute"));
        }
        WorkspaceSettings {
            allowed_domains,
            namespace,
            access_host: s.access_host.clone().unwrap_or_else(|| "localhost".into()),
            image: s.image.clone().unwrap_or_else(|| "lscr.io/linuxserver/openssh-server:latest".into()),
            storage_class: s.storage_class.clone(),
            ssh_port,
            home_path,
            cpu: cpu_bounds,
            memory,
            storage,
            default_storage,
            quota: Quota { count, cpu: quota_cpu, memory: quota_memory, storage: quota_storage },
            legacy_delete: s.legacy_delete,
        }
    }
}

/// The SMTP URL may hold a password: it is never printed.
impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("templates", &self.templates)
            .finish()
    }
}

impl MailSettings {
    pub fn parse(s: &SmtpSection, home: &Path, c: &mut Collector) -> MailSettings {
        if let Some(url) = &s.url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            // The full URL may hold a password: it is not repeated.
            c.push(Problem::new("smtp.url", "scheme", "the SMTP URL must start with smtp:// (or smtps://)"));
        }
        MailSettings {
            smtp_url: s.url.clone(),
            from: s.from.clone().unwrap_or_else(|| "orchestrator@localhost".into()),
            templates: s.templates.as_ref().map(|t| home.join(t)),
        }
    }
}
