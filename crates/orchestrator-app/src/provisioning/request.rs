//! A create-service request as clients send it, and every rule it is checked by: its own
//! fields, its kind and parameters against the blueprint, and against the configured layout
//! (environments, names the system keeps, what Flux needs). Every problem is reported at once.

use crate::config::{GitopsEngine, Layout};
use crate::provisioning::plan::{self, CreateServiceRun};
use provision_core::problem::{Collector, Problem};
use provision_core::{BlueprintName, EnvName, Invalid, OwnerName, RepoName, ServiceName};
use provision_template::{Blueprint, Catalog};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The longest description accepted (GitHub's limit for repository descriptions).
pub const MAX_DESCRIPTION: usize = 350;

/// A request to create a service, as sent by a client: strings, checked by [`CreateService::parse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceInput {
    /// The blueprint (service kind), e.g. `ms`.
    pub kind: String,
    /// The service name: lowercase letters, digits and `-`, starting with a letter, at most 53 characters.
    #[schema(pattern = "^[a-z]([a-z0-9-]{0,51}[a-z0-9])?$", max_length = 53)]
    pub name: String,
    /// One line, at most 350 characters.
    #[serde(default)]
    #[schema(max_length = 350, pattern = "^[^\\n\\r]*$")]
    pub description: String,
    /// The owning team (a DNS label).
    #[serde(default)]
    pub owner: Option<String>,
    /// Answers to the blueprint's parameters; see `GET /v1/kinds`. Strings are converted to a
    /// parameter's declared type (`"8080"` for an integer, `"true"` for a boolean).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The environments to deploy to, among the configured ones; empty or absent: all of them.
    #[serde(default)]
    pub environments: Vec<String>,
    /// `argo`, `flux` or `both`; absent: `deploy.gitops` of the configuration.
    #[serde(default)]
    pub gitops: Option<String>,
}

/// A validated create-service request (the blueprint's parameters are checked later,
/// against the blueprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateService {
    pub kind: BlueprintName,
    pub name: ServiceName,
    pub description: String,
    pub owner: Option<OwnerName>,
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Where the service deploys; empty (runs recorded before there was a choice): the
    /// configured environments.
    #[serde(default)]
    pub environments: Vec<EnvName>,
    /// How it registers for deployment; absent (runs recorded before there was a choice):
    /// the configured engine.
    #[serde(default)]
    pub gitops: Option<GitopsEngine>,
}

/// Checks a description: one line of printable text, at most [`MAX_DESCRIPTION`] characters.
pub fn parse_description(value: &str) -> Result<String, Invalid> {
    let mut problems = Vec::new();
    let len = value.chars().count();
    if len > MAX_DESCRIPTION {
        problems.push(Problem::new(
            "",
            "too-long",
            format!("description is {len} characters long; at most {MAX_DESCRIPTION} are allowed"),
        ));
    }
    if value.chars().any(char::is_control) {
        problems.push(Problem::new("", "control-character", "description must be one line without control characters"));
    }
    if problems.is_empty() { Ok(value.trim().to_owned()) } else { Err(Invalid::new(problems)) }
}

impl CreateService {
    /// Parses every field, reporting every problem of every field at once.
    pub fn parse(input: &CreateServiceInput) -> Result<Self, Invalid> {
        Self::parse_collecting(input).map_err(|c| c.finish().expect_err("a failed parse recorded a problem"))
    }

    /// Like [`CreateService::parse`], but hands back the collector so the caller can add the
    /// problems only it can see (an unknown kind, bad parameters) to the same report.
    fn parse_collecting(input: &CreateServiceInput) -> Result<Self, Collector> {
        let mut c = Collector::new();
        let kind = c.take("kind", BlueprintName::parse(&input.kind));
        let name = c.take("name", ServiceName::parse(&input.name));
        let description = c.take("description", parse_description(&input.description));
        let owner = match &input.owner {
            Some(o) => c.take("owner", OwnerName::parse(o)).map(Some),
            None => Some(None),
        };
        let mut environments = Vec::new();
        for (i, raw) in input.environments.iter().enumerate() {
            let field = format!("environments[{i}]");
            match c.take(&field, EnvName::parse(raw)) {
                Some(env) if environments.contains(&env) => {
                    c.push(Problem::new(field, "duplicate", format!("environment {env} is listed twice")));
                }
                Some(env) => environments.push(env),
                None => {}
            }
        }
        let gitops = input.gitops.as_deref().and_then(|value| {
            let engine = GitopsEngine::parse(value);
            if engine.is_none() {
                c.push(Problem::new("gitops", "unknown-engine", format!("{value:?} is not argo, flux or both")));
            }
            engine
        });
        match (kind, name, description, owner) {
            (Some(kind), Some(name), Some(description), Some(owner)) if c.is_empty() => {
                Ok(Self { kind, name, description, owner, parameters: input.parameters.clone(), environments, gitops })
            }
            _ => Err(c),
        }
    }
}

/// Parses `input` and resolves its parameters against its blueprint in `catalog`, reporting
/// every problem of every field (kind, name, description, owner, parameters, environments,
/// gitops) at once; the run to plan, with the configured defaults filled in.
pub(crate) fn validate(
    layout: &Layout,
    catalog: &Catalog,
    input: &CreateServiceInput,
    clone_url: &dyn Fn(&RepoName) -> String,
) -> Result<(CreateServiceRun, Arc<Blueprint>), Invalid> {
    let (parsed, mut c) = match CreateService::parse_collecting(input) {
        Ok(request) => (Some(request), Collector::new()),
        Err(c) => (None, c),
    };
    let kind = parsed.as_ref().map(|r| r.kind.clone()).or_else(|| BlueprintName::parse(&input.kind).ok());
    let blueprint = kind.and_then(|kind| {
        let found = catalog.get(&kind);
        if found.is_none() {
            c.push(unknown_kind(&kind, catalog));
        }
        found
    });
    let mut answers = None;
    if let Some(blueprint) = &blueprint {
        // A request that did not parse still gets its parameters checked, against an example
        // context, so every problem is reported at once.
        let ctx = match &parsed {
            Some(request) => plan::render_context(layout, request, clone_url),
            None => provision_template::RenderContext::example(),
        };
        // Problems come back with their `parameters.<name>` fields.
        answers = c.take("", blueprint.resolve_answers(&input.parameters, &ctx));
    }
    if let Some(request) = &parsed {
        check_against_layout(layout, request, &mut c);
    }
    c.finish()?;
    let checked = "no problem means every part was found";
    let (mut request, blueprint, answers) =
        (parsed.expect(checked), blueprint.expect(checked), answers.expect(checked));
    if request.environments.is_empty() {
        request.environments = layout.environments.clone();
    }
    request.gitops = Some(request.gitops.unwrap_or(layout.gitops));
    let run = CreateServiceRun {
        blueprint_version: blueprint.manifest().version.clone(),
        blueprint_digest: blueprint.digest(),
        request,
        answers,
    };
    Ok((run, blueprint))
}

/// Namespaces every cluster has, which no service may deploy into.
const CLUSTER_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The names a service takes are its own: none is one the system keeps, and none is a name
/// another service takes. A service `<name>` takes the repositories `<name>` and
/// `<name>-infra`, the chart `<name>`, and in every configured environment `<env>` the name
/// `<name>-<env>` (its namespace, its host label, its Argo CD Application and Flux objects);
/// the Argo CD ApplicationSet names its directory's Application `service-<name>`.
///
/// `<name>-infra` is refused by [`ServiceName`] itself. Names the configuration makes are
/// refused here (`reserved`), and so are the ones that would make two services' names meet
/// (`environment-suffix`): `<name>-<env>` of one service is another's only if one name ends in
/// `-<x>` where `<x>` is an environment or `<x>-<env>` is one (`pay-eu` in `prod` and `pay` in
/// `eu-prod`; `service-pay`'s Application in `qa` and `pay-qa`'s `service-pay-qa`), or is `<x>`
/// itself (a service `eu` in `prod` would be named like the environment `eu-prod`). So the one
/// ending in or equal to `<x>` is refused, always, whichever comes first.
fn check_names_the_system_keeps(layout: &Layout, name: &ServiceName, c: &mut Collector) {
    for (repo, what) in layout.reserved_repos() {
        if *repo == name.repo() {
            c.push(Problem::new("name", "reserved", format!("{name} would take {repo}, {what}'s name")));
        } else if *repo == name.infra_repo() {
            c.push(Problem::new(
                "name",
                "reserved",
                format!("{name} would take {repo}, {what}'s name, as its infra repository"),
            ));
        }
    }
    if name.as_str() == layout.chart.name {
        c.push(Problem::new(
            "name",
            "reserved",
            format!("{name} would name its chart like the base chart {name} every service's chart depends on"),
        ));
    }
    let flux_namespace = provision_gitops::flux::DEFAULT_NAMESPACE;
    let mut kept: Vec<(String, String)> = CLUSTER_NAMESPACES
        .iter()
        .map(|ns| (ns.to_string(), format!("the cluster's namespace {ns}")))
        .chain([
            (layout.argocd_namespace.clone(), format!("Argo CD's namespace {}", layout.argocd_namespace)),
            (flux_namespace.to_owned(), format!("Flux's namespace {flux_namespace}")),
            (
                provision_gitops::flux::DEFAULT_SOURCE_NAME.to_owned(),
                "the Flux GitRepository of the GitOps repository".to_owned(),
            ),
        ])
        .collect();
    for dependency in &layout.flux.depends_on {
        use provision_gitops::flux::Dependency;
        match dependency {
            Dependency::Shared(kustomization) => kept.push((
                kustomization.clone(),
                format!("the Flux Kustomization {kustomization} every service waits for"),
            )),
            Dependency::PerEnvironment(prefix) => kept.extend(layout.environments.iter().map(|env| {
                let kustomization = format!("{prefix}-{env}");
                let what = format!("the Flux Kustomization {kustomization} every service in {env} waits for");
                (kustomization, what)
            })),
        }
    }
    for env in &layout.environments {
        let derived = name.namespace(env);
        if let Some((_, what)) = kept.iter().find(|(kept, _)| *kept == derived) {
            c.push(Problem::new("name", "reserved", format!("{name} in {env} would be named {derived}, {what}")));
        }
    }
    let suffix = |x: &str| name.as_str().strip_suffix(x).and_then(|rest| rest.strip_suffix('-'));
    for env in &layout.environments {
        if name.as_str() == env.as_str() {
            c.push(Problem::new(
                "name",
                "environment-suffix",
                format!(
                    "{name} is environment {env}'s name: its Argo CD Application service-{name} would be named like service service's in {env}"
                ),
            ));
        } else if let Some(other) = suffix(env.as_str()) {
            c.push(Problem::new(
                "name",
                "environment-suffix",
                format!(
                    "{name} ends in -{env}, as every name of service {other} in environment {env} does ({other}-{env}); its Argo CD Application service-{name} would be named like service service-{other}'s in {env}"
                ),
            ));
        }
        for longer in &layout.environments {
            let Some(x) = longer.as_str().strip_suffix(env.as_str()).and_then(|x| x.strip_suffix('-')) else {
                continue;
            };
            if name.as_str() == x {
                c.push(Problem::new(
                    "name",
                    "environment-suffix",
                    format!("{name} in environment {env} would be named {longer}, like environment {longer} itself"),
                ));
            } else if let Some(other) = suffix(x) {
                c.push(Problem::new(
                    "name",
                    "environment-suffix",
                    format!(
                        "{name} in environment {env} would be named {name}-{env}, as service {other} is in environment {longer}"
                    ),
                ));
            }
        }
    }
}

/// The rules the configured layout sets for a request.
fn check_against_layout(layout: &Layout, request: &CreateService, c: &mut Collector) {
    let name = &request.name;
    check_names_the_system_keeps(layout, name, c);
    // `<name>-<env>` names the environment's namespace and host label: a DNS label.
    let envs = if request.environments.is_empty() { &layout.environments } else { &request.environments };
    if let Some(env) = envs.iter().find(|e| name.as_str().len() + 1 + e.as_str().len() > 63) {
        c.push(Problem::new(
            "name",
            "too-long-for-environment",
            format!(
                "{} (the namespace and host label in environment {env}) would be longer than 63 characters; shorten the name to at most {}",
                name.namespace(env),
                62 - env.as_str().len()
            ),
        ));
    }
    if request.gitops.unwrap_or(layout.gitops).flux() && layout.remote_url.is_none() {
        c.push(Problem::new(
            "gitops",
            "needs-remote-url",
            "Flux fetches the GitOps repository over https or ssh: set git.remote_url in config.toml",
        ));
    }
    for (i, env) in request.environments.iter().enumerate() {
        if !layout.environments.contains(env) {
            let known: Vec<&str> = layout.environments.iter().map(|e| e.as_str()).collect();
            c.push(Problem::new(
                format!("environments[{i}]"),
                "unknown-environment",
                format!("unknown environment {:?}; configured: {}", env.as_str(), known.join(", ")),
            ));
        }
    }
}

fn unknown_kind(kind: &BlueprintName, catalog: &Catalog) -> Problem {
    let known: Vec<String> = catalog.list().map(|b| b.manifest().name.to_string()).collect();
    Problem::new("kind", "unknown-kind", format!("unknown kind \"{kind}\"; known kinds: {}", known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_problem_is_reported_together() {
        let input = CreateServiceInput {
            kind: "".into(),
            name: "Bad.Name".into(),
            description: "two\nlines".into(),
            owner: Some("-team".into()),
            parameters: BTreeMap::new(),
            environments: vec!["qa".into(), "QA".into(), "qa".into()],
            gitops: Some("helm".into()),
        };
        let err = CreateService::parse(&input).unwrap_err();
        let fields: Vec<_> = err.problems().iter().map(|p| (p.field.as_str(), p.rule)).collect();
        assert_eq!(
            fields,
            [
                ("kind", "required"),
                ("name", "uppercase"),
                ("name", "invalid-character"),
                ("description", "control-character"),
                ("owner", "leading-dash"),
                ("environments[1]", "uppercase"),
                ("environments[2]", "duplicate"),
                ("gitops", "unknown-engine"),
            ]
        );
    }

    #[test]
    fn a_good_request_parses() {
        let input = CreateServiceInput {
            kind: "ms".into(),
            name: "ms-my-microservice".into(),
            description: "some cool description".into(),
            ..Default::default()
        };
        let parsed = CreateService::parse(&input).unwrap();
        assert_eq!(parsed.name.as_str(), "ms-my-microservice");
        assert_eq!(parsed.owner, None);
    }
}
