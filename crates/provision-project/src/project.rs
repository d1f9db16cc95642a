//! The project file, `orchestrator.toml` at the root of a monorepo: the one source every
//! monorepo command reads. [`Project::parse`] reads it (every problem with its line and rule),
//! [`Project::to_toml`] writes it back, always the same way.

use crate::name::ProjectName;
use provision_core::{BlueprintName, Invalid, RepoPath, ServiceName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// The project file's name, at the project's root.
pub const FILE: &str = "orchestrator.toml";

/// The blueprint a project file says it was made from.
pub const BLUEPRINT: &str = "project";

/// Where services and plugins run by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Docker,
    Kubernetes,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Docker => "docker",
            Target::Kubernetes => "kubernetes",
        }
    }
}

/// A monorepo, as its project file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: ProjectName,
    /// The Go module prefix of the services (`example.com/shop`).
    pub go_module: String,
    /// The blueprint the project was rendered from, always [`BLUEPRINT`].
    pub blueprint: String,
    /// That blueprint's version.
    pub version: String,
    /// The pinned toolchain image services are built in (`golang:1.19`).
    pub builder_image: String,
    /// Where images are pushed.
    pub registry_url: String,
    pub services: Vec<Service>,
    pub plugins: Vec<Plugin>,
    pub default_target: Target,
}

/// One service of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: ServiceName,
    /// The blueprint it was rendered from.
    pub kind: BlueprintName,
    /// Its directory, inside the project.
    pub path: RepoPath,
}

/// A plugin: a container image with hooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plugin {
    pub image: String,
}

/// One broken rule in a project file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// 1-based.
    pub line: usize,
    /// The key, as a path: `services[1].path`; empty where the file as a whole is wrong.
    pub field: String,
    /// A stable rule name: `unknown-key`, `wrong-type`, `escapes-root`, `duplicate-service`.
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{} ({})", self.message, self.rule)
    }
}

/// A project file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error("{file} is not a valid project file:{}", list(problems))]
    Invalid { file: String, problems: Vec<FileProblem> },
}

impl ProjectError {
    pub fn problems(&self) -> &[FileProblem] {
        match self {
            ProjectError::Invalid { problems, .. } => problems,
        }
    }
}

fn list(problems: &[FileProblem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    project: RawProject,
    builder: RawBuilder,
    registry: RawRegistry,
    #[serde(default)]
    services: Vec<RawService>,
    #[serde(default)]
    plugins: Vec<RawPlugin>,
    targets: RawTargets,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: Spanned<String>,
    go_module: Spanned<String>,
    blueprint: Spanned<String>,
    version: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuilder {
    image: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    url: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Spanned<String>,
    kind: Spanned<String>,
    path: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    image: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    default: Spanned<Target>,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The rule a TOML or serde error breaks, from its message (toml names no kinds).
fn rule_of(message: &str) -> &'static str {
    if message.contains("unknown field") || message.contains("unknown variant") {
        if message.contains("unknown variant") { "unknown-value" } else { "unknown-key" }
    } else if message.contains("invalid type") {
        "wrong-type"
    } else if message.contains("missing field") {
        "missing-key"
    } else if message.contains("duplicate key") {
        "duplicate-key"
    } else {
        "syntax"
    }
}

/// Collects the problems of one file, each at its line.
struct Problems<'a> {
    text: &'a str,
    found: Vec<FileProblem>,
}

impl Problems<'_> {
    fn at(&mut self, span: Range<usize>, field: &str, rule: &'static str, message: String) {
        self.found.push(FileProblem { line: line_of(self.text, span.start), field: field.to_owned(), rule, message });
    }

    fn invalid(&mut self, span: Range<usize>, field: &str, e: Invalid) {
        for p in e.into_problems() {
            self.at(span.clone(), field, p.rule, p.message);
        }
    }

    /// `value` parsed by `parse`, or its problems recorded.
    fn parse<T>(
        &mut self,
        value: &Spanned<String>,
        field: &str,
        parse: impl Fn(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        match parse(value.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(value.span(), field, e);
                None
            }
        }
    }
}

/// A Go module path: `host/path` segments of letters, digits and `-._~`, no empty or dot-only
/// segment.
fn go_module(value: &str) -> Result<String, Invalid> {
    let fail = |rule, message: String| Err(Invalid::one("", rule, message));
    if value.is_empty() {
        return fail("required", "Go module must not be empty".into());
    }
    if let Some(c) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._~/".contains(*c))) {
        return fail(
            "invalid-character",
            format!("Go module {value:?} contains {c:?}; only letters, digits and -._~/ are allowed"),
        );
    }
    if value.split('/').any(|s| s.is_empty() || s.chars().all(|c| c == '.')) {
        return fail("invalid-segment", format!("Go module {value:?} has an empty, '.' or '..' segment"));
    }
    Ok(value.to_owned())
}

/// An image reference: no whitespace; with `pinned`, a tag or a digest.
fn image(value: &str, pinned: bool) -> Result<String, Invalid> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Invalid::one("", "invalid-image", format!("{value:?} is not an image reference")));
    }
    let last = value.rsplit('/').next().unwrap_or(value);
    if pinned && !last.contains(':') && !value.contains('@') {
        return Err(Invalid::one(
            "",
            "unpinned-image",
            format!("image {value:?} names no tag or digest; pin the toolchain, e.g. golang:1.19"),
        ));
    }
    Ok(value.to_owned())
}

fn version(value: &str) -> Result<String, Invalid> {
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
        Ok(value.to_owned())
    } else {
        Err(Invalid::one("", "invalid-version", format!("version {value:?} is not MAJOR.MINOR.PATCH")))
    }
}

fn url(value: &str) -> Result<String, Invalid> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Invalid::one("", "invalid-url", format!("{value:?} is not a registry address")));
    }
    Ok(value.to_owned())
}

impl Project {
    /// A new project as `init` writes it: no services, no plugins, the default toolchain and
    /// target.
    pub fn new(name: ProjectName, go_module_prefix: Option<&str>, version: &str) -> Result<Project, Invalid> {
        let go_module = match go_module_prefix {
            Some(m) => self::go_module(m).map_err(|e| e.within("go_module"))?,
            None => format!("example.com/{name}"),
        };
        Ok(Project {
            go_module,
            blueprint: BLUEPRINT.to_owned(),
            version: version.to_owned(),
            builder_image: "golang:1.19".to_owned(),
            registry_url: "localhost:5000".to_owned(),
            services: Vec::new(),
            plugins: Vec::new(),
            default_target: Target::Docker,
            name,
        })
    }

    /// Reads a project file's `text`; `file` names it in problems.
    ///
    /// Unknown keys, wrong types and TOML syntax stop the reading at the first; every value's
    /// own rules (names, paths, images, duplicates) are then checked together.
    pub fn parse(file: &str, text: &str) -> Result<Project, ProjectError> {
        let invalid = |problems| ProjectError::Invalid { file: file.to_owned(), problems };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            invalid(vec![FileProblem {
                line,
                field: String::new(),
                rule: rule_of(e.message()),
                message: e.message().to_owned(),
            }])
        })?;
        let mut p = Problems { text, found: Vec::new() };
        let name = p.parse(&raw.project.name, "project.name", ProjectName::parse);
        let go_module = p.parse(&raw.project.go_module, "project.go_module", go_module);
        if raw.project.blueprint.get_ref() != BLUEPRINT {
            p.at(
                raw.project.blueprint.span(),
                "project.blueprint",
                "unknown-blueprint",
                format!(
                    "a project is made from the {BLUEPRINT:?} blueprint, not {:?}",
                    raw.project.blueprint.get_ref()
                ),
            );
        }
        let version = p.parse(&raw.project.version, "project.version", version);
        let builder_image = p.parse(&raw.builder.image, "builder.image", |v| image(v, true));
        let registry_url = p.parse(&raw.registry.url, "registry.url", url);
        let mut services = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut paths: BTreeMap<String, usize> = BTreeMap::new();
        for (i, s) in raw.services.iter().enumerate() {
            let field = |key: &str| format!("services[{i}].{key}");
            let name = p.parse(&s.name, &field("name"), ServiceName::parse);
            let kind = p.parse(&s.kind, &field("kind"), BlueprintName::parse);
            let path = p.parse(&s.path, &field("path"), RepoPath::parse);
            if let Some(first) = names.insert(s.name.get_ref().clone(), i) {
                p.at(
                    s.name.span(),
                    &field("name"),
                    "duplicate-service",
                    format!("service {:?} is listed already, as services[{first}]", s.name.get_ref()),
                );
            }
            if let Some(first) = paths.insert(s.path.get_ref().clone(), i) {
                p.at(
                    s.path.span(),
                    &field("path"),
                    "duplicate-path",
                    format!("path {:?} is services[{first}]'s already", s.path.get_ref()),
                );
            }
            if let (Some(name), Some(kind), Some(path)) = (name, kind, path) {
                services.push(Service { name, kind, path });
            }
        }
        let mut plugins = Vec::new();
        for (i, plugin) in raw.plugins.iter().enumerate() {
            if let Some(image) = p.parse(&plugin.image, &format!("plugins[{i}].image"), |v| image(v, false)) {
                plugins.push(Plugin { image });
            }
        }
        match (name, go_module, version, builder_image, registry_url) {
            (Some(name), Some(go_module), Some(version), Some(builder_image), Some(registry_url))
                if p.found.is_empty() =>
            {
                Ok(Project {
                    name,
                    go_module,
                    blueprint: BLUEPRINT.to_owned(),
                    version,
                    builder_image,
                    registry_url,
                    services,
                    plugins,
                    default_target: raw.targets.default.into_inner(),
                })
            }
            _ => {
                p.found.sort_by_key(|f| f.line);
                Err(invalid(p.found))
            }
        }
    }

    /// The project file's text: the same project always gives the same bytes.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        struct File<'a> {
            project: ProjectOut<'a>,
            builder: Image<'a>,
            registry: Url<'a>,
            targets: Targets,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            services: &'a [Service],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            plugins: &'a [Plugin],
        }
        #[derive(Serialize)]
        struct ProjectOut<'a> {
            name: &'a ProjectName,
            go_module: &'a str,
            blueprint: &'a str,
            version: &'a str,
        }
        #[derive(Serialize)]
        struct Image<'a> {
            image: &'a str,
        }
        #[derive(Serialize)]
        struct Url<'a> {
            url: &'a str,
        }
        #[derive(Serialize)]
        struct Targets {
            default: Target,
        }
        let file = File {
            project: ProjectOut {
                name: &self.name,
                go_module: &self.go_module,
                blueprint: &self.blueprint,
                version: &self.version,
            },
            builder: Image { image: &self.builder_image },
            registry: Url { url: &self.registry_url },
            targets: Targets { default: self.default_target },
            services: &self.services,
            plugins: &self.plugins,
        };
        toml::to_string(&file).expect("a project file serializes: every value is a string or a table of strings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"[project]
name = "shop"
go_module = "example.com/shop"
blueprint = "project"
version = "1.0.0"

[builder]
image = "golang:1.19"

[registry]
url = "localhost:5000"

[targets]
default = "docker"

[[services]]
name = "orders"
kind = "ms"
path = "services/orders"
"#;

    fn problems(text: &str) -> Vec<(usize, String, &'static str)> {
        match Project::parse("orchestrator.toml", text) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e.problems().iter().map(|p| (p.line, p.field.clone(), p.rule)).collect(),
        }
    }

    #[test]
    fn a_good_file_reads_and_writes_back_the_same() {
        let project = Project::parse("orchestrator.toml", GOOD).unwrap();
        assert_eq!(project.name.as_str(), "shop");
        assert_eq!(project.services[0].path.as_str(), "services/orders");
        assert_eq!(project.default_target, Target::Docker);
        let text = project.to_toml();
        assert_eq!(Project::parse("x", &text).unwrap(), project);
        assert_eq!(project.to_toml(), text);
    }

    #[test]
    fn a_new_project_has_no_services_and_round_trips() {
        let project = Project::new(ProjectName::parse("shop").unwrap(), None, "1.0.0").unwrap();
        let text = project.to_toml();
        assert!(!text.contains("services"), "{text}");
        assert!(text.contains("go_module = \"example.com/shop\""), "{text}");
        assert_eq!(Project::parse("x", &text).unwrap(), project);
        let bad = Project::new(ProjectName::parse("shop").unwrap(), Some("a b"), "1.0.0").unwrap_err();
        assert_eq!(bad.problems()[0].field, "go_module");
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_their_line_and_rule() {
        let unknown = GOOD.replace("[builder]\n", "[builder]\nshell = \"sh\"\n");
        assert_eq!(problems(&unknown), [(8, String::new(), "unknown-key")]);
        let wrong_type = GOOD.replace("version = \"1.0.0\"", "version = 1");
        assert_eq!(problems(&wrong_type), [(5, String::new(), "wrong-type")]);
        let missing = GOOD.replace("[registry]\nurl = \"localhost:5000\"\n", "");
        assert_eq!(problems(&missing)[0].2, "missing-key");
        let target = GOOD.replace("\"docker\"", "\"vm\"");
        assert_eq!(problems(&target), [(14, String::new(), "unknown-value")]);
    }

    #[test]
    fn every_value_problem_is_reported_with_its_line() {
        let text = GOOD.replace("name = \"shop\"", "name = \"Shop\"").replace("golang:1.19", "golang")
            + "\n[[services]]\nname = \"orders\"\nkind = \"ms\"\npath = \"../x\"\n\n[[services]]\nname = \"Bad\"\nkind = \"ms\"\npath = \"/etc\"\n";
        assert_eq!(
            problems(&text),
            [
                (2, "project.name".to_owned(), "uppercase"),
                (8, "builder.image".to_owned(), "unpinned-image"),
                (22, "services[1].name".to_owned(), "duplicate-service"),
                (24, "services[1].path".to_owned(), "escapes-root"),
                (27, "services[2].name".to_owned(), "uppercase"),
                (29, "services[2].path".to_owned(), "absolute"),
            ]
        );
    }

    #[test]
    fn the_message_names_the_file_line_and_rule() {
        let text = GOOD.replace("services/orders", "../orders");
        let message = Project::parse("/tmp/shop/orchestrator.toml", &text).unwrap_err().to_string();
        assert!(message.starts_with("/tmp/shop/orchestrator.toml is not a valid project file:"), "{message}");
        assert!(message.contains("line 19: services[0].path:"), "{message}");
        assert!(message.contains("(escapes-root)"), "{message}");
    }
}
