//! The environment variables that override `config.toml`: one per setting, in [`ENV_VARS`],
//! which `docs/CONFIGURATION.md` lists (a test keeps the two the same).
//!
//! A variable replaces its key in the file's table before the table is read, so it is checked
//! by the same rules and its problems name the same field. Lists are comma-separated; maps are
//! `key=value` pairs separated by `;` (a semver range may hold commas).

use provision_core::problem::Problem;
use toml::{Table, Value};

/// How a variable's text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Comma-separated, blanks around items dropped, empty items ignored.
    List,
    /// `key=value;key=value`.
    Map,
    Bool,
    Integer,
}

/// One setting's variable.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    /// `[section]` and key in `config.toml`.
    pub section: &'static str,
    pub key: &'static str,
    pub kind: Kind,
}

const fn var(name: &'static str, section: &'static str, key: &'static str, kind: Kind) -> EnvVar {
    EnvVar { name, section, key, kind }
}

/// Every setting of `config.toml` and its variable.
pub const ENV_VARS: &[EnvVar] = &[
    var("ORCHESTRATOR_GIT_ORG", "git", "org", Kind::Text),
    var("ORCHESTRATOR_GIT_REMOTE_URL", "git", "remote_url", Kind::Text),
    var("ORCHESTRATOR_GITOPS_REPO", "git", "gitops_repo", Kind::Text),
    var("ORCHESTRATOR_CHART_REPO", "git", "chart_repo", Kind::Text),
    var("ORCHESTRATOR_GIT_AUTHOR_NAME", "git", "author_name", Kind::Text),
    var("ORCHESTRATOR_GIT_AUTHOR_EMAIL", "git", "author_email", Kind::Text),
    var("ORCHESTRATOR_ENVIRONMENTS", "deploy", "environments", Kind::List),
    var("ORCHESTRATOR_IMAGE_REGISTRY", "deploy", "image_registry", Kind::Text),
    var("ORCHESTRATOR_DOMAIN", "deploy", "domain", Kind::Text),
    var("ORCHESTRATOR_TLS_ISSUER", "deploy", "tls_issuer", Kind::Text),
    var("ORCHESTRATOR_CHART_NAME", "deploy", "chart_name", Kind::Text),
    var("ORCHESTRATOR_CHART_VERSION", "deploy", "chart_version", Kind::Text),
    var("ORCHESTRATOR_CHART_REPOSITORY", "deploy", "chart_repository", Kind::Text),
    var("ORCHESTRATOR_ARGOCD_NAMESPACE", "deploy", "argocd_namespace", Kind::Text),
    var("ORCHESTRATOR_ARGOCD_PROJECT", "deploy", "argocd_project", Kind::Text),
    var("ORCHESTRATOR_GITOPS", "deploy", "gitops", Kind::Text),
    var("ORCHESTRATOR_BLUEPRINT_PATHS", "blueprints", "paths", Kind::List),
    var("ORCHESTRATOR_FLUX_GIT_SECRET", "flux", "git_secret", Kind::Text),
    var("ORCHESTRATOR_FLUX_DEPENDS_ON", "flux", "depends_on", Kind::List),
    var("ORCHESTRATOR_FLUX_TAG_POLICIES", "flux", "tag_policies", Kind::Map),
    var("ORCHESTRATOR_SEALING_CERTIFICATE", "sealed_secrets", "certificate", Kind::Text),
    var("ORCHESTRATOR_SEALING_CERTIFICATES", "sealed_secrets", "certificates", Kind::Map),
    var("ORCHESTRATOR_ALLOWED_EMAIL_DOMAINS", "workspaces", "allowed_email_domains", Kind::List),
    var("ORCHESTRATOR_WORKSPACE_NAMESPACE", "workspaces", "namespace", Kind::Text),
    var("ORCHESTRATOR_ACCESS_HOST", "workspaces", "access_host", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_IMAGE", "workspaces", "image", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_STORAGE_CLASS", "workspaces", "storage_class", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_SSH_PORT", "workspaces", "ssh_port", Kind::Integer),
    var("ORCHESTRATOR_WORKSPACE_HOME_PATH", "workspaces", "home_path", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_CPU_MIN", "workspaces", "cpu_min", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_CPU_MAX", "workspaces", "cpu_max", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_MEMORY_MIN", "workspaces", "memory_min", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_MEMORY_MAX", "workspaces", "memory_max", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_STORAGE_MIN", "workspaces", "storage_min", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_STORAGE_MAX", "workspaces", "storage_max", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_DEFAULT_STORAGE", "workspaces", "default_storage", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_QUOTA_COUNT", "workspaces", "quota_count", Kind::Integer),
    var("ORCHESTRATOR_WORKSPACE_QUOTA_CPU", "workspaces", "quota_cpu", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_QUOTA_MEMORY", "workspaces", "quota_memory", Kind::Text),
    var("ORCHESTRATOR_WORKSPACE_QUOTA_STORAGE", "workspaces", "quota_storage", Kind::Text),
    var("ORCHESTRATOR_LEGACY_DELETE", "workspaces", "legacy_delete", Kind::Bool),
    var("ORCHESTRATOR_SMTP_URL", "smtp", "url", Kind::Text),
    var("ORCHESTRATOR_SMTP_FROM", "smtp", "from", Kind::Text),
    var("ORCHESTRATOR_MAIL_TEMPLATES", "smtp", "templates", Kind::Text),
    var("ORCHESTRATOR_TOKENS_FILE", "auth", "tokens_file", Kind::Text),
    var("ORCHESTRATOR_AUTH_DISABLED", "auth", "disabled", Kind::Bool),
    var("ORCHESTRATOR_CONTENTION_DEADLINE", "runs", "contention_deadline", Kind::Integer),
    var("ORCHESTRATOR_RUN_RETRIES", "runs", "retries", Kind::Integer),
    var("ORCHESTRATOR_RUN_RETRY_DELAY", "runs", "retry_delay", Kind::Integer),
    var("ORCHESTRATOR_PUBLIC_URL", "api", "public_url", Kind::Text),
    var("ORCHESTRATOR_CHARTS_PUBLIC", "charts", "public", Kind::Bool),
];

/// Puts every variable `lookup` knows into `table`; the names of those it used, or the
/// problems of those it could not read.
pub fn overlay(table: &mut Table, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<&'static str>, Vec<Problem>> {
    let mut used = Vec::new();
    let mut problems = Vec::new();
    for var in ENV_VARS {
        let Some(text) = lookup(var.name) else { continue };
        let value = match var.kind {
            Kind::Text => Value::String(text),
            Kind::List => Value::Array(
                text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.to_owned())).collect(),
            ),
            Kind::Map => {
                let mut map = Table::new();
                for pair in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    match pair.split_once('=') {
                        Some((k, v)) if !k.trim().is_empty() => {
                            map.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
                        }
                        _ => problems.push(Problem::new(
                            var.name,
                            "invalid-map",
                            format!("{} must be key=value pairs separated by ';'; got {pair:?}", var.name),
                        )),
                    }
                }
                Value::Table(map)
            }
            Kind::Bool => match text.trim() {
                "true" | "1" | "yes" => Value::Boolean(true),
                "false" | "0" | "no" | "" => Value::Boolean(false),
                other => {
                    problems.push(Problem::new(
                        var.name,
                        "invalid-bool",
                        format!("{} must be true or false, not {other:?}", var.name),
                    ));
                    continue;
                }
            },
            Kind::Integer => match text.trim().parse::<i64>() {
                Ok(n) => Value::Integer(n),
                Err(_) => {
                    problems.push(Problem::new(
                        var.name,
                        "invalid-integer",
                        format!("{} must be a whole number, not {text:?}", var.name),
                    ));
                    continue;
                }
            },
        };
        let section = table.entry(var.section).or_insert_with(|| Value::Table(Table::new()));
        match section {
            Value::Table(section) => {
                section.insert(var.key.to_owned(), value);
                used.push(var.name);
            }
            _ => problems.push(Problem::new(var.section, "invalid-type", format!("[{}] must be a table", var.section))),
        }
    }
    if problems.is_empty() { Ok(used) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn variables_replace_their_keys_with_typed_values() {
        let mut table: Table = toml::from_str("[deploy]\ndomain = \"file.example.com\"\n").unwrap();
        let used = overlay(
            &mut table,
            &lookup(&[
                ("ORCHESTRATOR_DOMAIN", "env.example.com"),
                ("ORCHESTRATOR_ALLOWED_EMAIL_DOMAINS", "iiitm.ac.in, , example.org"),
                ("ORCHESTRATOR_FLUX_TAG_POLICIES", "prod=>=1.0.0 <2.0.0; qa=commit-timestamp"),
                ("ORCHESTRATOR_LEGACY_DELETE", "true"),
                ("ORCHESTRATOR_WORKSPACE_SSH_PORT", "2022"),
            ]),
        )
        .unwrap();
        assert_eq!(used.len(), 5);
        assert_eq!(table["deploy"]["domain"].as_str(), Some("env.example.com"));
        let domains: Vec<&str> = table["workspaces"]["allowed_email_domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(domains, ["iiitm.ac.in", "example.org"]);
        assert_eq!(table["flux"]["tag_policies"]["prod"].as_str(), Some(">=1.0.0 <2.0.0"));
        assert_eq!(table["workspaces"]["legacy_delete"].as_bool(), Some(true));
        assert_eq!(table["workspaces"]["ssh_port"].as_integer(), Some(2022));
    }

    #[test]
    fn unreadable_variables_are_named() {
        let mut table = Table::new();
        let problems = overlay(
            &mut table,
            &lookup(&[("ORCHESTRATOR_LEGACY_DELETE", "maybe"), ("ORCHESTRATOR_WORKSPACE_SSH_PORT", "22x")]),
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["ORCHESTRATOR_WORKSPACE_SSH_PORT", "ORCHESTRATOR_LEGACY_DELETE"]);
    }

    #[test]
    fn every_variable_is_named_once_and_documented() {
        let mut names: Vec<&str> = ENV_VARS.iter().map(|v| v.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a variable is listed twice");
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIGURATION.md")).unwrap();
        for var in ENV_VARS {
            let row = format!("| `{}` | `{}.{}` |", var.name, var.section, var.key);
            assert!(doc.contains(&row), "docs/CONFIGURATION.md has no row starting {row}");
        }
    }
}
