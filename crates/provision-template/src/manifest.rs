//! The blueprint manifest, `blueprint.toml`: what a service kind is called, its version, how
//! it is deployed, and the typed parameters it takes.
//!
//! The manifest is read from TOML's spanned document rather than through serde, so every
//! problem (not only the first) is reported, each with its line.

use crate::answers::{AnswerValue, BUILTIN_VARIABLES};
use crate::format::Format;
use provision_core::{BlueprintName, RepoPath};
use serde::{Serialize, Serializer};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The manifest's file name, at the root of a blueprint.
pub const MANIFEST_FILE: &str = "blueprint.toml";

/// What `blueprint.toml` declares.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub name: BlueprintName,
    /// `x.y.z`.
    pub version: String,
    pub description: String,
    pub deploy: Deploy,
    pub parameters: Vec<Parameter>,
    /// What upgrading across a version changes before the merge, oldest first.
    pub migrations: Vec<Migration>,
}

/// `[[migrations]]`: declared renames that upgrading a repository from a version before
/// `version` to `version` or later applies before merging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// `x.y.z`: the version that made these renames.
    pub version: String,
    /// Recorded answers renamed, `(old, new)`.
    pub rename_answers: Vec<(String, String)>,
    /// Files renamed in the generated repositories, `(old, new)`: local changes made at the
    /// old path merge into the new one.
    pub rename_files: Vec<(RepoPath, RepoPath)>,
}

impl Manifest {
    /// The version as numbers, for ordering.
    pub fn version_numbers(&self) -> [u64; 3] {
        parse_version(&self.version).unwrap_or_default()
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The migrations an upgrade from version `from` to this one crosses, oldest first. A
    /// `from` that is not a version crosses them all.
    pub fn migrations_since(&self, from: &str) -> impl Iterator<Item = &Migration> {
        let from = parse_version(from).unwrap_or_default();
        self.migrations.iter().filter(move |m| parse_version(&m.version).is_some_and(|v| v > from))
    }
}

/// Parses a `major.minor.patch` version (digits only, no leading zeros).
pub fn parse_version(value: &str) -> Option<[u64; 3]> {
    let mut parts = value.split('.');
    let mut out = [0; 3];
    for slot in &mut out {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || (part.len() > 1 && part.starts_with('0')) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// How the service is deployed; the application generates Helm values from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deploy {
    /// The container port the service listens on (the chart's default).
    pub port: u16,
    /// Liveness probe path.
    pub health_path: String,
    /// Readiness probe path.
    pub ready_path: String,
}

/// One parameter a blueprint takes.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub name: String,
    #[serde(flatten)]
    pub kind: ParameterKind,
    pub description: String,
    /// For strings, a template rendered with the built-in variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<AnswerValue>,
    /// Must be given by the caller (then it has no default).
    pub required: bool,
}

/// A parameter's type and the constraints that go with it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ParameterKind {
    String {
        #[serde(skip_serializing_if = "Option::is_none")]
        pattern: Option<Pattern>,
        /// A built-in rule the value follows (`format = "go-module"`).
        #[serde(skip_serializing_if = "Option::is_none")]
        format: Option<Format>,
        /// The most characters the value may have.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_length: Option<usize>,
    },
    Bool,
    Integer {
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    Choice {
        choices: Vec<String>,
    },
}

impl ParameterKind {
    /// The type's name as written in `blueprint.toml`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParameterKind::String { .. } => "string",
            ParameterKind::Bool => "bool",
            ParameterKind::Integer { .. } => "integer",
            ParameterKind::Choice { .. } => "choice",
        }
    }
}

/// A regular expression a string parameter must match (searched, like JSON Schema's
/// `pattern`: anchor it with `^…$` to match the whole value).
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Self, regex_lite::Error> {
        Ok(Self { source: source.to_owned(), regex: regex_lite::Regex::new(source)? })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// A manifest problem at a line (1-based) of `blueprint.toml`.
pub(crate) type LineProblem = (Option<usize>, String);

/// A parsed manifest and, per parameter, the line of its default (for later checks).
pub(crate) struct Parsed {
    pub manifest: Manifest,
    pub default_lines: Vec<Option<usize>>,
}

/// Words a parameter cannot be called: template keywords and special names.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "self",
    "super",
    "varargs",
    "kwargs",
    "caller",
    "range",
    "dict",
    "namespace",
    "lipsum",
    "cycler",
    "joiner",
];

/// Parses `blueprint.toml`, returning the manifest only if nothing is wrong.
pub(crate) fn parse(text: &str) -> Result<Parsed, Vec<LineProblem>> {
    let lines = Lines::new(text);
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| (e.span().map(|s| lines.at(s.start)), format!("TOML syntax: {}", e.message().trim())))
            .collect());
    }
    let mut w = Walker { lines, problems: Vec::new() };
    let root = doc.get_ref();
    w.unknown_keys(root, &["name", "version", "description", "deploy", "parameters", "migrations"], "");

    let name = w.string(root, "name", None, "").and_then(|(value, span)| match BlueprintName::parse(&value) {
        Ok(n) => Some(n),
        Err(e) => {
            for p in e.problems() {
                w.at(&span, format!("name: {}", p.message));
            }
            None
        }
    });
    let version = w.string(root, "version", None, "").and_then(|(value, span)| {
        if parse_version(&value).is_some() {
            Some(value)
        } else {
            w.at(&span, format!("version {value:?} is not a version of the form MAJOR.MINOR.PATCH (like 1.0.0)"));
            None
        }
    });
    let description = w.string(root, "description", None, "").map(|(v, _)| v);
    let deploy = w.deploy(root);
    let (parameters, default_lines) = w.parameters(root);
    let migrations = w.migrations(root, version.as_deref());

    match (name, version, description, deploy, parameters, migrations) {
        (Some(name), Some(version), Some(description), Some(deploy), Some(parameters), Some(migrations))
            if w.problems.is_empty() =>
        {
            let manifest = Manifest { name, version, description, deploy, parameters, migrations };
            Ok(Parsed { manifest, default_lines })
        }
        _ => Err(w.problems),
    }
}

/// Maps byte offsets to 1-based lines.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    fn at(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }
}

type Entry<'t, 'i> = (&'t Spanned<std::borrow::Cow<'i, str>>, &'t Spanned<DeValue<'i>>);

struct Walker {
    lines: Lines,
    problems: Vec<LineProblem>,
}

impl Walker {
    fn at(&mut self, span: &Range<usize>, message: String) {
        self.problems.push((Some(self.lines.at(span.start)), message));
    }

    fn nowhere(&mut self, message: String) {
        self.problems.push((None, message));
    }

    /// Reports a missing key at the table (or nowhere, for the document root).
    fn missing(&mut self, table_span: Option<&Range<usize>>, message: String) {
        match table_span {
            Some(span) => self.at(span, message),
            None => self.nowhere(message),
        }
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], within: &str) {
        for (key, _) in table.iter() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.at(
                    &key.span(),
                    format!("unknown key {within}{:?}; allowed here: {}", key.get_ref(), allowed.join(", ")),
                );
            }
        }
    }

    fn get<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<Entry<'t, 'i>> {
        table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
    }

    /// A required string, with its span.
    fn string(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        table_span: Option<&Range<usize>>,
        within: &str,
    ) -> Option<(String, Range<usize>)> {
        match Self::get(table, key) {
            None => {
                self.missing(table_span, format!("missing {within}{key} (a string)"));
                None
            }
            Some((_, v)) => match v.get_ref() {
                DeValue::String(s) => Some((s.to_string(), v.span())),
                other => {
                    self.at(&v.span(), format!("{within}{key} must be a string, not {}", other.type_str()));
                    None
                }
            },
        }
    }

    fn optional_string(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        within: &str,
    ) -> Option<Option<(String, Range<usize>)>> {
        if Self::get(table, key).is_none() { Some(None) } else { self.string(table, key, None, within).map(Some) }
    }

    fn integer(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<i64> {
        match value.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.at(&value.span(), format!("{what} does not fit in a 64-bit integer"));
                    None
                }
            },
            other => {
                self.at(&value.span(), format!("{what} must be an integer, not {}", other.type_str()));
                None
            }
        }
    }

    fn deploy(&mut self, root: &DeTable<'_>) -> Option<Deploy> {
        let Some((_, value)) = Self::get(root, "deploy") else {
            self.nowhere("missing [deploy] table (port, health_path, ready_path)".into());
            return None;
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.at(&value.span(), format!("deploy must be a table, not {}", value.get_ref().type_str()));
            return None;
        };
        let span = value.span();
        self.unknown_keys(table, &["port", "health_path", "ready_path"], "deploy.");
        let port = match Self::get(table, "port") {
            None => {
                self.at(&span, "missing deploy.port (an integer)".into());
                None
            }
            Some((_, v)) => self.integer(v, "deploy.port").and_then(|p| match u16::try_from(p) {
                Ok(p) if p > 0 => Some(p),
                _ => {
                    self.at(&v.span(), format!("deploy.port is {p}; a port is between 1 and 65535"));
                    None
                }
            }),
        };
        let path = |w: &mut Self, key: &str| {
            w.string(table, key, Some(&span), "deploy.").and_then(|(p, s)| {
                if p.starts_with('/') && !p.chars().any(char::is_whitespace) {
                    Some(p)
                } else {
                    w.at(&s, format!("deploy.{key} is {p:?}; it must be an HTTP path starting with '/'"));
                    None
                }
            })
        };
        let health_path = path(self, "health_path");
        let ready_path = path(self, "ready_path");
        Some(Deploy { port: port?, health_path: health_path?, ready_path: ready_path? })
    }

    /// `[[migrations]]`, sorted by version; each no newer than the blueprint (`current`).
    fn migrations(&mut self, root: &DeTable<'_>, current: Option<&str>) -> Option<Vec<Migration>> {
        let Some((_, value)) = Self::get(root, "migrations") else { return Some(Vec::new()) };
        let DeValue::Array(items) = value.get_ref() else {
            self.at(
                &value.span(),
                format!("migrations must be an array of tables ([[migrations]]), not {}", value.get_ref().type_str()),
            );
            return None;
        };
        let before = self.problems.len();
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let within = format!("migrations[{index}].");
            let DeValue::Table(table) = item.get_ref() else {
                self.at(
                    &item.span(),
                    format!("migrations[{index}] must be a table, not {}", item.get_ref().type_str()),
                );
                continue;
            };
            self.unknown_keys(table, &["version", "rename_answers", "rename_files"], &within);
            let version = self.string(table, "version", Some(&item.span()), &within).and_then(|(v, span)| {
                match (parse_version(&v), current.and_then(parse_version)) {
                    (None, _) => self.at(&span, format!("{within}version {v:?} is not of the form MAJOR.MINOR.PATCH")),
                    (Some(m), Some(c)) if m > c => self.at(
                        &span,
                        format!(
                            "{within}version {v} is newer than the blueprint's own version {}",
                            current.unwrap_or("")
                        ),
                    ),
                    _ => return Some(v),
                }
                None
            });
            let answers = self.renames(table, "rename_answers", &within, |w, span, name| {
                let valid = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    w.at(span, format!("{within}rename_answers: {name:?} is not a parameter name ([a-z_][a-z0-9_]*)"));
                }
                valid.then(|| name.to_owned())
            });
            let files = self.renames(table, "rename_files", &within, |w, span, path| match RepoPath::parse(path) {
                Ok(p) => Some(p),
                Err(e) => {
                    w.at(span, format!("{within}rename_files: {path:?} is not a path inside a repository: {e}"));
                    None
                }
            });
            if let (Some(version), Some(rename_answers), Some(rename_files)) = (version, answers, files) {
                out.push(Migration { version, rename_answers, rename_files });
            }
        }
        out.sort_by_key(|m| parse_version(&m.version));
        (self.problems.len() == before).then_some(out)
    }

    /// An inline table of renames, `{ old = "new" }`, each side checked by `parse`.
    fn renames<T>(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        within: &str,
        parse: impl Fn(&mut Self, &Range<usize>, &str) -> Option<T>,
    ) -> Option<Vec<(T, T)>> {
        let Some((_, value)) = Self::get(table, key) else { return Some(Vec::new()) };
        let DeValue::Table(renames) = value.get_ref() else {
            self.at(
                &value.span(),
                format!("{within}{key} must be a table of old = \"new\", not {}", value.get_ref().type_str()),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (old, new) in renames.iter() {
            let DeValue::String(new_name) = new.get_ref() else {
                self.at(&new.span(), format!("{within}{key}.{} must be a string", old.get_ref()));
                ok = false;
                continue;
            };
            match (parse(self, &old.span(), old.get_ref()), parse(self, &new.span(), new_name)) {
                (Some(o), Some(n)) => out.push((o, n)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn parameters(&mut self, root: &DeTable<'_>) -> (Option<Vec<Parameter>>, Vec<Option<usize>>) {
        let Some((_, value)) = Self::get(root, "parameters") else {
            return (Some(Vec::new()), Vec::new());
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.at(
                &value.span(),
                format!("parameters must be an array of tables ([[parameters]]), not {}", value.get_ref().type_str()),
            );
            return (None, Vec::new());
        };
        let mut out = Vec::new();
        let mut lines = Vec::new();
        let mut ok = true;
        let mut seen: Vec<String> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                self.at(
                    &item.span(),
                    format!("parameters[{index}] must be a table, not {}", item.get_ref().type_str()),
                );
                ok = false;
                continue;
            };
            match self.parameter(table, &item.span(), index, &mut seen) {
                Some((p, line)) => {
                    out.push(p);
                    lines.push(line);
                }
                None => ok = false,
            }
        }
        (ok.then_some(out), lines)
    }

    fn parameter(
        &mut self,
        table: &DeTable<'_>,
        span: &Range<usize>,
        index: usize,
        seen: &mut Vec<String>,
    ) -> Option<(Parameter, Option<usize>)> {
        let before = self.problems.len();
        let name = self.string(table, "name", Some(span), &format!("parameters[{index}]."));
        let label = match &name {
            Some((n, _)) => format!("parameter {n:?}"),
            None => format!("parameters[{index}]"),
        };
        let within = format!("{label}: ");
        self.unknown_keys(
            table,
            &[
                "name",
                "type",
                "description",
                "default",
                "required",
                "pattern",
                "format",
                "max_length",
                "min",
                "max",
                "choices",
            ],
            &within,
        );
        if let Some((n, s)) = &name {
            let valid = n.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
                && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                self.at(s, format!("parameter name {n:?} must match [a-z_][a-z0-9_]*"));
            } else if BUILTIN_VARIABLES.contains(&n.as_str()) {
                self.at(s, format!("parameter name {n:?} shadows the built-in variable of the same name"));
            } else if RESERVED.contains(&n.as_str()) {
                self.at(s, format!("parameter name {n:?} is a reserved word of the template language"));
            }
            if seen.contains(n) {
                self.at(s, format!("parameter {n:?} is defined twice"));
            }
            seen.push(n.clone());
        }
        let description =
            self.optional_string(table, "description", &within).map(|d| d.map(|(d, _)| d).unwrap_or_default());
        let required = match Self::get(table, "required") {
            None => false,
            Some((_, v)) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                other => {
                    self.at(&v.span(), format!("{within}required must be a boolean, not {}", other.type_str()));
                    false
                }
            },
        };
        let type_name = self.string(table, "type", Some(span), &within);
        let kind = type_name.and_then(|(t, s)| self.kind(table, &t, &s, &within));
        let for_type = |key: &str| Self::get(table, key).map(|(k, _)| k.span());
        // Constraints that do not belong to the declared type.
        if let Some(kind) = &kind {
            let allowed: &[&str] = match kind {
                ParameterKind::String { .. } => &["pattern", "format", "max_length"],
                ParameterKind::Integer { .. } => &["min", "max"],
                ParameterKind::Choice { .. } => &["choices"],
                ParameterKind::Bool => &[],
            };
            for key in ["pattern", "format", "max_length", "min", "max", "choices"] {
                if let Some(s) = for_type(key).filter(|_| !allowed.contains(&key)) {
                    self.at(&s, format!("{within}{key} does not apply to a {} parameter", kind.type_name()));
                }
            }
        }
        let mut default_line = None;
        let default = match (Self::get(table, "default"), &kind) {
            (None, _) => None,
            (Some((_, v)), Some(kind)) => {
                default_line = Some(self.lines.at(v.span().start));
                self.default(v, kind, &within)
            }
            (Some(_), None) => None,
        };
        if let Some(kind) = &kind {
            if required && default.is_some() {
                self.at(span, format!("{within}a required parameter has no default (it would never be used)"));
            }
            let needs_default = matches!(kind, ParameterKind::Integer { .. } | ParameterKind::Choice { .. });
            if needs_default && !required && Self::get(table, "default").is_none() {
                self.at(span, format!("{within}an optional {} parameter needs a default", kind.type_name()));
            }
        }
        if self.problems.len() != before {
            return None;
        }
        let parameter =
            Parameter { name: name?.0, kind: kind?, description: description.unwrap_or_default(), default, required };
        Some((parameter, default_line))
    }

    fn kind(
        &mut self,
        table: &DeTable<'_>,
        type_name: &str,
        span: &Range<usize>,
        within: &str,
    ) -> Option<ParameterKind> {
        match type_name {
            "string" => {
                let pattern = match self.optional_string(table, "pattern", within)? {
                    None => None,
                    Some((p, s)) => match Pattern::new(&p) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            let detail = e.to_string();
                            let detail = detail.lines().last().unwrap_or_default().trim().to_owned();
                            self.at(&s, format!("{within}pattern {p:?} is not a valid regular expression: {detail}"));
                            return None;
                        }
                    },
                };
                let format = match self.optional_string(table, "format", within)? {
                    None => None,
                    Some((name, s)) => match Format::parse(&name) {
                        Some(format) => Some(format),
                        None => {
                            let known: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                            self.at(&s, format!("{within}unknown format {name:?}; known: {}", known.join(", ")));
                            return None;
                        }
                    },
                };
                let max_length = match Self::get(table, "max_length") {
                    None => None,
                    Some((_, v)) => match self.integer(v, &format!("{within}max_length"))? {
                        n if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                        n => {
                            self.at(&v.span(), format!("{within}max_length is {n}; it must be at least 1"));
                            return None;
                        }
                    },
                };
                Some(ParameterKind::String { pattern, format, max_length })
            }
            "bool" => Some(ParameterKind::Bool),
            "integer" => {
                let min = Self::get(table, "min").map(|(_, v)| (self.integer(v, &format!("{within}min")), v.span()));
                let max = Self::get(table, "max").map(|(_, v)| (self.integer(v, &format!("{within}max")), v.span()));
                let min_value = min.as_ref().and_then(|m| m.0);
                let max_value = max.as_ref().and_then(|m| m.0);
                if min.as_ref().is_some_and(|m| m.0.is_none()) || max.as_ref().is_some_and(|m| m.0.is_none()) {
                    return None;
                }
                if let (Some(lo), Some(hi), Some((_, s))) = (min_value, max_value, &max)
                    && lo > hi
                {
                    self.at(s, format!("{within}min {lo} is greater than max {hi}"));
                    return None;
                }
                Some(ParameterKind::Integer { min: min_value, max: max_value })
            }
            "choice" => {
                let Some((_, value)) = Self::get(table, "choices") else {
                    self.at(span, format!("{within}a choice parameter needs choices = [\"…\", …]"));
                    return None;
                };
                let DeValue::Array(items) = value.get_ref() else {
                    self.at(&value.span(), format!("{within}choices must be an array of strings"));
                    return None;
                };
                let mut choices = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) if choices.contains(&s.to_string()) => {
                            self.at(&item.span(), format!("{within}choice {s:?} is listed twice"));
                        }
                        DeValue::String(s) => choices.push(s.to_string()),
                        other => {
                            self.at(&item.span(), format!("{within}choices must be strings, not {}", other.type_str()))
                        }
                    }
                }
                if items.is_empty() {
                    self.at(&value.span(), format!("{within}choices must not be empty"));
                }
                (choices.len() == items.len() && !choices.is_empty()).then_some(ParameterKind::Choice { choices })
            }
            other => {
                self.at(span, format!("{within}unknown type {other:?}; use string, bool, integer or choice"));
                None
            }
        }
    }

    /// Checks a default's type and constraints. String defaults are templates: their pattern
    /// is checked once they are rendered, by the blueprint.
    fn default(&mut self, value: &Spanned<DeValue<'_>>, kind: &ParameterKind, within: &str) -> Option<AnswerValue> {
        let span = value.span();
        let mismatch = |w: &mut Self| {
            w.at(
                &span,
                format!("{within}default must be a {} value, not {}", kind.type_name(), value.get_ref().type_str()),
            );
            None
        };
        let answer = match (kind, value.get_ref()) {
            (ParameterKind::String { .. } | ParameterKind::Choice { .. }, DeValue::String(s)) => {
                AnswerValue::String(s.to_string())
            }
            (ParameterKind::Bool, DeValue::Boolean(b)) => AnswerValue::Bool(*b),
            (ParameterKind::Integer { .. }, DeValue::Integer(_)) => {
                AnswerValue::Integer(self.integer(value, &format!("{within}default"))?)
            }
            _ => return mismatch(self),
        };
        if !matches!(kind, ParameterKind::String { .. })
            && let Err(problems) = crate::answers::check(kind, "default", &answer)
        {
            for (_, message) in problems {
                self.at(&span, format!("{within}{message}"));
            }
            return None;
        }
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.2.3"), Some([1, 2, 3]));
        assert_eq!(parse_version("10.0.0"), Some([10, 0, 0]));
        for bad in ["1.2", "1.2.3.4", "01.2.3", "1.2.x", "", "1..2", "v1.2.3", "1.2.3-rc1"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_are_one_based() {
        let l = Lines::new("a\nbb\n\nc");
        assert_eq!([l.at(0), l.at(1), l.at(2), l.at(4), l.at(5), l.at(6)], [1, 1, 2, 2, 3, 4]);
    }

    #[test]
    fn every_problem_has_a_line() {
        let text = r#"name = "Bad_Name"
version = "1.0"
description = "x"
colour = "blue"

[deploy]
port = 70000
health_path = "healthz"

[[parameters]]
name = "port"
type = "integer"
default = 0
min = 1

[[parameters]]
name = "name"
type = "string"

[[parameters]]
name = "flavour"
type = "choice"
choices = ["a", "a"]
default = "c"
"#;
        let problems = parse(text).err().unwrap();
        let shown: Vec<String> = problems.iter().map(|(l, m)| format!("{}: {m}", l.unwrap_or(0))).collect();
        let expect = [
            "4: unknown key",
            "1: name: kind must be lowercase",
            "2: version \"1.0\"",
            "7: deploy.port is 70000",
            "6: missing deploy.ready_path",
            "8: deploy.health_path is \"healthz\"",
            "13: parameter \"port\": default is 0, less than the minimum 1",
            "17: parameter name \"name\" shadows",
            "23: parameter \"flavour\": choice \"a\" is listed twice",
        ];
        for e in expect {
            assert!(shown.iter().any(|s| s.starts_with(e)), "missing {e:?} in {shown:#?}");
        }
    }
}
