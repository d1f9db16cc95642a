//! What a render is given: the built-in variables every template sees, and the answers to a
//! blueprint's parameters, checked against their definitions.

use crate::manifest::{Manifest, Parameter, ParameterKind};
use minijinja::Value;
use provision_core::problem::{Invalid, Problem};
use provision_core::{EnvName, OwnerName, RepoName, ServiceName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The value of one parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    String(String),
    Bool(bool),
    Integer(i64),
}

impl AnswerValue {
    /// The name of the value's type, as written in `blueprint.toml`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AnswerValue::String(_) => "string",
            AnswerValue::Bool(_) => "bool",
            AnswerValue::Integer(_) => "integer",
        }
    }
}

impl fmt::Display for AnswerValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerValue::String(s) => f.write_str(s),
            AnswerValue::Bool(b) => write!(f, "{b}"),
            AnswerValue::Integer(i) => write!(f, "{i}"),
        }
    }
}

impl From<&AnswerValue> for Value {
    fn from(v: &AnswerValue) -> Value {
        match v {
            AnswerValue::String(s) => Value::from(s.as_str()),
            AnswerValue::Bool(b) => Value::from(*b),
            AnswerValue::Integer(i) => Value::from(*i),
        }
    }
}

/// Resolved parameters: every parameter of the blueprint, with its value.
pub type Answers = BTreeMap<String, AnswerValue>;

/// The names of the built-in variables, present in every render. Parameters must not use them.
pub const BUILTIN_VARIABLES: &[&str] = &[
    "name",
    "description",
    "kind",
    "owner",
    "blueprint_version",
    "infra_repo",
    "infra_repo_url",
    "service_repo_url",
    "image",
    "environments",
];

/// The built-in variables the caller knows. `kind` and `blueprint_version` are not here: the
/// blueprint being rendered supplies them from its manifest, so they cannot disagree with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Builtins {
    /// The service name (`name`).
    pub name: ServiceName,
    pub description: String,
    pub owner: OwnerName,
    /// The service's infra repository (`<name>-infra`).
    pub infra_repo: RepoName,
    pub infra_repo_url: String,
    pub service_repo_url: String,
    /// The image repository, without a tag (`registry.example.com/team/demo`).
    pub image: String,
    /// The deployment environments, in order.
    pub environments: Vec<EnvName>,
}

/// Everything a render sees besides the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderContext {
    pub builtins: Builtins,
}

impl RenderContext {
    pub fn new(builtins: Builtins) -> Self {
        Self { builtins }
    }

    /// A plausible context for a service named `example`, used to trial-render blueprints.
    pub fn example() -> Self {
        let name = ServiceName::parse("example").expect("a valid literal service name");
        Self {
            builtins: Builtins {
                infra_repo: name.infra_repo(),
                name,
                description: "An example service".into(),
                owner: OwnerName::parse("platform").expect("a valid literal owner"),
                infra_repo_url: "https://git.example.com/platform/example-infra.git".into(),
                service_repo_url: "https://git.example.com/platform/example.git".into(),
                image: "registry.example.com/platform/example".into(),
                environments: ["dev", "prod"]
                    .into_iter()
                    .map(|e| EnvName::parse(e).expect("a valid literal environment"))
                    .collect(),
            },
        }
    }

    /// The built-in variables of a render of the blueprint described by `manifest`.
    pub(crate) fn variables(&self, manifest: &Manifest) -> BTreeMap<String, Value> {
        let b = &self.builtins;
        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: Value| vars.insert(k.to_owned(), v);
        set("name", Value::from(b.name.as_str()));
        set("description", Value::from(b.description.as_str()));
        set("kind", Value::from(manifest.name.as_str()));
        set("owner", Value::from(b.owner.as_str()));
        set("blueprint_version", Value::from(manifest.version.as_str()));
        set("infra_repo", Value::from(b.infra_repo.as_str()));
        set("infra_repo_url", Value::from(b.infra_repo_url.as_str()));
        set("service_repo_url", Value::from(b.service_repo_url.as_str()));
        set("image", Value::from(b.image.as_str()));
        set("environments", Value::from(b.environments.iter().map(|e| Value::from(e.as_str())).collect::<Vec<_>>()));
        debug_assert_eq!(vars.len(), BUILTIN_VARIABLES.len());
        vars
    }
}

/// Checks `given` against the parameter definitions and fills defaults. `default_of` renders
/// a string parameter's default. Reports every problem, each under `parameters.<name>`.
pub(crate) fn resolve(
    manifest: &Manifest,
    given: &BTreeMap<String, serde_json::Value>,
    default_of: impl Fn(&Parameter) -> Result<Option<AnswerValue>, String>,
) -> Result<Answers, Invalid> {
    let mut problems = Vec::new();
    let mut answers = Answers::new();
    let known: Vec<&str> = manifest.parameters.iter().map(|p| p.name.as_str()).collect();
    for name in given.keys() {
        if !known.contains(&name.as_str()) {
            let has = if known.is_empty() {
                format!("blueprint {} takes no parameters", manifest.name)
            } else {
                format!("blueprint {} takes {}", manifest.name, known.join(", "))
            };
            problems.push(Problem::new(field(name), "unknown", format!("unknown parameter {name:?}; {has}")));
        }
    }
    for parameter in &manifest.parameters {
        let name = &parameter.name;
        let value = match given.get(name) {
            Some(v) if !v.is_null() => match convert(parameter, v) {
                Ok(value) => value,
                Err(message) => {
                    problems.push(Problem::new(field(name), "type", message));
                    continue;
                }
            },
            _ if parameter.required => {
                problems.push(Problem::new(field(name), "required", format!("parameter {name:?} is required")));
                continue;
            }
            _ => match default_of(parameter) {
                Ok(Some(v)) => v,
                Ok(None) => match parameter.kind {
                    ParameterKind::String { .. } => AnswerValue::String(String::new()),
                    ParameterKind::Bool => AnswerValue::Bool(false),
                    // The manifest check demands a default (or `required`) for these.
                    ParameterKind::Integer { .. } | ParameterKind::Choice { .. } => {
                        problems.push(Problem::new(field(name), "required", format!("parameter {name:?} is required")));
                        continue;
                    }
                },
                Err(message) => {
                    problems.push(Problem::new(field(name), "default", message));
                    continue;
                }
            },
        };
        match check(&parameter.kind, &format!("parameter {name:?}"), &value) {
            Ok(()) => {
                answers.insert(name.clone(), value);
            }
            Err(broken) => {
                problems.extend(broken.into_iter().map(|(rule, message)| Problem::new(field(name), rule, message)));
            }
        }
    }
    if problems.is_empty() { Ok(answers) } else { Err(Invalid::new(problems)) }
}

fn field(name: &str) -> String {
    format!("parameters.{name}")
}

/// Converts a given JSON value to the parameter's type. Strings are accepted for booleans and
/// integers, since command lines and forms deliver text.
fn convert(parameter: &Parameter, value: &serde_json::Value) -> Result<AnswerValue, String> {
    use serde_json::Value as J;
    let name = &parameter.name;
    let wrong = |expected: &str| format!("parameter {name:?} must be {expected}, not {}", describe(value));
    match (&parameter.kind, value) {
        (ParameterKind::String { .. } | ParameterKind::Choice { .. }, J::String(s)) => {
            Ok(AnswerValue::String(s.clone()))
        }
        (ParameterKind::String { .. } | ParameterKind::Choice { .. }, _) => Err(wrong("a string")),
        (ParameterKind::Bool, J::Bool(b)) => Ok(AnswerValue::Bool(*b)),
        (ParameterKind::Bool, J::String(s)) if s == "true" || s == "false" => Ok(AnswerValue::Bool(s == "true")),
        (ParameterKind::Bool, _) => Err(wrong("a boolean (true or false)")),
        (ParameterKind::Integer { .. }, J::Number(n)) if n.as_i64().is_some() => {
            Ok(AnswerValue::Integer(n.as_i64().unwrap_or_default()))
        }
        (ParameterKind::Integer { .. }, J::String(s)) if s.trim().parse::<i64>().is_ok() => {
            Ok(AnswerValue::Integer(s.trim().parse().unwrap_or_default()))
        }
        (ParameterKind::Integer { .. }, _) => Err(wrong("an integer")),
    }
}

fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match value {
        J::Null => "null".into(),
        J::Bool(b) => format!("the boolean {b}"),
        J::Number(n) => format!("the number {n}"),
        J::String(s) => format!("the string {s:?}"),
        J::Array(_) => "a list".into(),
        J::Object(_) => "an object".into(),
    }
}

/// Checks a value against a parameter type's constraints, every broken one as `(rule,
/// message)`. `subject` names the value in messages (`parameter "port"`, `default`).
pub(crate) fn check(
    kind: &ParameterKind,
    subject: &str,
    value: &AnswerValue,
) -> Result<(), Vec<(&'static str, String)>> {
    let one = |rule: &'static str, message: String| Err(vec![(rule, message)]);
    match (kind, value) {
        (ParameterKind::String { pattern, format, max_length }, AnswerValue::String(s)) => {
            let mut problems = Vec::new();
            let length = s.chars().count();
            if let Some(max) = max_length.filter(|max| length > *max) {
                problems
                    .push(("too-long", format!("{subject} is {length} characters long; at most {max} are allowed")));
            }
            if let Some(format) = format {
                problems.extend(format.check(subject, s));
            }
            if let Some(p) = pattern.as_ref().filter(|p| !p.is_match(s)) {
                problems
                    .push(("pattern", format!("{subject} is {s:?}, which does not match the pattern {}", p.as_str())));
            }
            if problems.is_empty() { Ok(()) } else { Err(problems) }
        }
        (ParameterKind::Bool, AnswerValue::Bool(_)) => Ok(()),
        (ParameterKind::Integer { min, max }, AnswerValue::Integer(i)) => {
            if let Some(min) = min.filter(|min| i < min) {
                one("minimum", format!("{subject} is {i}, less than the minimum {min}"))
            } else if let Some(max) = max.filter(|max| i > max) {
                one("maximum", format!("{subject} is {i}, more than the maximum {max}"))
            } else {
                Ok(())
            }
        }
        (ParameterKind::Choice { choices }, AnswerValue::String(s)) => {
            if choices.contains(s) {
                Ok(())
            } else {
                one("choice", format!("{subject} is {s:?}; it must be one of: {}", choices.join(", ")))
            }
        }
        (kind, value) => one("type", format!("{subject} is a {}, not a {}", value.type_name(), kind.type_name())),
    }
}
