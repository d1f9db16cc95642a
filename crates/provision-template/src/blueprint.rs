//! A blueprint (a service kind) loaded into memory, and pure rendering of its targets.
//!
//! Loading reads every file once and compiles every `.jinja` template and every templated
//! path segment once; rendering only evaluates them. Rendering never writes: it returns a
//! [`FileSet`] whose paths have passed [`RepoPath::parse`], so a path that would leave the
//! repository is an error naming its template, not a file.

use crate::answers::{AnswerValue, Answers, RenderContext};
use crate::error::{Diagnostic, Error, RenderError};
use crate::manifest::{self, MANIFEST_FILE, Manifest, ParameterKind};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use provision_core::problem::Invalid;
use provision_core::{BlueprintName, FileEntry, FileSet, RepoPath};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The suffix of files rendered as templates; it is removed from the rendered path.
pub const TEMPLATE_SUFFIX: &str = ".jinja";

/// Which repository a sub-template of a blueprint produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The service repository (`app/`, required).
    App,
    /// Extra files of the infra repository (`infra/`).
    Infra,
    /// Extra files registered in the GitOps repository (`gitops/`).
    Gitops,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::App, Target::Infra, Target::Gitops];

    /// The blueprint directory holding this target's files.
    pub fn dir(self) -> &'static str {
        match self {
            Target::App => "app",
            Target::Infra => "infra",
            Target::Gitops => "gitops",
        }
    }

    fn from_dir(dir: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.dir() == dir)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir())
    }
}

/// One segment of a file's path inside its target.
enum Segment {
    Literal(String),
    /// The name of the compiled template in the environment.
    Template(String),
}

enum Body {
    /// Copied byte for byte; renders share the bytes.
    Copy(Arc<[u8]>),
    /// Rendered; the template is named by the file's source path.
    Template,
}

struct TemplateFile {
    target: Target,
    /// The path inside the blueprint (`app/main.go.jinja`): names the file in errors.
    source: String,
    /// The path inside the target, `.jinja` removed.
    segments: Vec<Segment>,
    body: Body,
    executable: bool,
}

/// A service kind: its manifest and its files, with every template compiled.
pub struct Blueprint {
    origin: String,
    manifest: Manifest,
    env: Environment<'static>,
    files: Vec<TemplateFile>,
    /// Per string parameter with a default: the compiled default's template name.
    defaults: BTreeMap<String, String>,
    digest: String,
}

impl fmt::Debug for Blueprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blueprint")
            .field("origin", &self.origin)
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("files", &self.files.len())
            .field("digest", &self.digest)
            .finish()
    }
}

impl Blueprint {
    /// Loads the blueprint in `dir`, reading every file once. Fails with every problem found
    /// (see [`crate::check_dir`] for the same list without failing, plus a trial render).
    pub fn load_dir(dir: &Path) -> Result<Blueprint, Error> {
        let (files, diagnostics) = read_dir_files(dir)?;
        let origin = dir.display().to_string();
        let (blueprint, more) = assemble(&origin, files);
        finish(origin, blueprint, diagnostics.into_iter().chain(more).collect())
    }

    /// Loads a blueprint from files in memory (paths relative to the blueprint root, `/`
    /// separated). `origin` names it in messages.
    pub fn from_files(origin: &str, files: Vec<(String, Arc<[u8]>)>) -> Result<Blueprint, Error> {
        Self::from_entries(origin, files.into_iter().map(|(p, c)| (p, FileEntry::new(c))).collect())
    }

    /// Like [`Blueprint::from_files`], with each file's executable bit.
    pub fn from_entries(origin: &str, files: Vec<(String, FileEntry)>) -> Result<Blueprint, Error> {
        let (blueprint, diagnostics) = assemble(origin, files);
        finish(origin.to_owned(), blueprint, diagnostics)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn name(&self) -> &BlueprintName {
        &self.manifest.name
    }

    /// Where the blueprint was loaded from (a directory, or `builtin:<name>`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn has_target(&self, target: Target) -> bool {
        self.file_count(target) > 0
    }

    /// How many template files (before rendering) the target has.
    pub fn file_count(&self, target: Target) -> usize {
        self.files.iter().filter(|f| f.target == target).count()
    }

    /// The target's template files, as paths inside the blueprint (`app/main.go.jinja`).
    pub fn sources(&self, target: Target) -> impl Iterator<Item = &str> {
        self.files.iter().filter(move |f| f.target == target).map(|f| f.source.as_str())
    }

    /// SHA-256 (hex) over every file of the blueprint: paths, executable bits and bytes.
    /// Two blueprints with the same digest render the same.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    /// Checks `given` against the parameters: fills defaults (string defaults rendered with
    /// the built-ins), checks types and constraints, rejects unknown names. Reports every
    /// problem at once, each under `parameters.<name>`. A JSON `null` counts as not given;
    /// `"true"`/`"false"` and decimal strings are accepted for bool and integer parameters,
    /// since command lines and forms deliver text.
    pub fn resolve_answers(
        &self,
        given: &BTreeMap<String, serde_json::Value>,
        ctx: &RenderContext,
    ) -> Result<Answers, Invalid> {
        let vars = Value::from(ctx.variables(&self.manifest));
        crate::answers::resolve(&self.manifest, given, |parameter| match self.defaults.get(&parameter.name) {
            Some(template) => self
                .env
                .get_template(template)
                .and_then(|t| t.render(&vars))
                .map(|s| Some(AnswerValue::String(s)))
                .map_err(|e| format!("default of parameter {:?} does not render: {}", parameter.name, describe(&e))),
            None => Ok(parameter.default.clone()),
        })
    }

    /// Renders one target. Pure: returns the files, writes nothing. Files whose path has a
    /// segment rendering to the empty string are left out.
    pub fn render(&self, target: Target, ctx: &RenderContext, answers: &Answers) -> Result<FileSet, RenderError> {
        let vars = self.variables(ctx, answers);
        let mut out = FileSet::new();
        let mut from: BTreeMap<RepoPath, &str> = BTreeMap::new();
        for file in self.files.iter().filter(|f| f.target == target) {
            if let Some((path, entry)) = self.render_file(file, &vars)? {
                if let Some(other) = from.insert(path.clone(), &file.source) {
                    return Err(RenderError::Collision {
                        path: path.to_string(),
                        template: other.to_owned(),
                        other: file.source.clone(),
                    });
                }
                out.insert(path, entry);
            }
        }
        Ok(out)
    }

    /// Renders every file of every target, collecting every error (for checks).
    pub(crate) fn render_all_errors(&self, ctx: &RenderContext, answers: &Answers) -> Vec<RenderError> {
        let vars = self.variables(ctx, answers);
        let mut errors = Vec::new();
        let mut from: BTreeMap<(Target, RepoPath), &str> = BTreeMap::new();
        for file in &self.files {
            match self.render_file(file, &vars) {
                Ok(Some((path, _))) => {
                    if let Some(other) = from.insert((file.target, path.clone()), &file.source) {
                        errors.push(RenderError::Collision {
                            path: path.to_string(),
                            template: other.to_owned(),
                            other: file.source.clone(),
                        });
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    fn variables(&self, ctx: &RenderContext, answers: &Answers) -> Value {
        let mut vars = ctx.variables(&self.manifest);
        vars.extend(answers.iter().map(|(k, v)| (k.clone(), Value::from(v))));
        Value::from(vars)
    }

    fn render_file(&self, file: &TemplateFile, vars: &Value) -> Result<Option<(RepoPath, FileEntry)>, RenderError> {
        let mut parts = Vec::with_capacity(file.segments.len());
        for segment in &file.segments {
            let part = match segment {
                Segment::Literal(s) => s.clone(),
                Segment::Template(name) => {
                    let part = self.env.get_template(name).and_then(|t| t.render(vars)).map_err(|e| {
                        RenderError::Template {
                            template: file.source.clone(),
                            line: None,
                            message: format!("in the file's path: {}", self.explain(&e, name, vars)),
                        }
                    })?;
                    // Like copier: a path part rendering to nothing leaves the file out.
                    if part.is_empty() {
                        return Ok(None);
                    }
                    part
                }
            };
            parts.push(part);
        }
        let rendered = parts.join("/");
        let path = RepoPath::parse(&rendered).map_err(|e| RenderError::Path {
            template: file.source.clone(),
            rendered: rendered.clone(),
            reason: e.problems().iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; "),
        })?;
        let content = match &file.body {
            Body::Copy(bytes) => Arc::clone(bytes),
            Body::Template => {
                let text = self.env.get_template(&file.source).and_then(|t| t.render(vars)).map_err(|e| {
                    RenderError::Template {
                        template: file.source.clone(),
                        line: e.line(),
                        message: self.explain(&e, &file.source, vars),
                    }
                })?;
                Arc::from(text.into_bytes())
            }
        };
        Ok(Some((path, FileEntry { content, executable: file.executable })))
    }

    /// The error's description; for an undefined value, which names are not defined.
    fn explain(&self, error: &minijinja::Error, template: &str, vars: &Value) -> String {
        let mut message = describe(error);
        if error.kind() == minijinja::ErrorKind::UndefinedError {
            let missing: Vec<String> = self
                .undeclared(template)
                .into_iter()
                .filter(|n| vars.get_attr(n).map_or(true, |v| v.is_undefined()))
                .collect();
            if !missing.is_empty() {
                message.push_str(&format!(" (not defined: {})", missing.join(", ")));
            }
        }
        message
    }

    /// Top-level names a template reads that it does not define itself (globals excluded).
    fn undeclared(&self, template: &str) -> BTreeSet<String> {
        let Ok(t) = self.env.get_template(template) else { return BTreeSet::new() };
        let globals: BTreeSet<&str> = self.env.globals().map(|(n, _)| n).collect();
        t.undeclared_variables(false).into_iter().filter(|n| !globals.contains(n.as_str())).collect()
    }

    /// Every template (file body or path segment) reading a variable that is neither built in
    /// nor a parameter: `(source path, line in the body if found, names)`. Unlike a trial
    /// render, this also sees branches the sample values do not take.
    pub(crate) fn unknown_variables(&self) -> Vec<(String, Option<usize>, Vec<String>)> {
        let known: BTreeSet<&str> = crate::answers::BUILTIN_VARIABLES
            .iter()
            .copied()
            .chain(self.manifest.parameters.iter().map(|p| p.name.as_str()))
            .collect();
        let mut out = Vec::new();
        for file in &self.files {
            let mut names: Vec<(String, bool)> = Vec::new();
            if matches!(file.body, Body::Template) {
                names.extend(self.undeclared(&file.source).into_iter().map(|n| (n, true)));
            }
            for segment in &file.segments {
                if let Segment::Template(name) = segment {
                    names.extend(self.undeclared(name).into_iter().map(|n| (n, false)));
                }
            }
            let unknown: Vec<(String, bool)> = names.into_iter().filter(|(n, _)| !known.contains(n.as_str())).collect();
            if unknown.is_empty() {
                continue;
            }
            let line = unknown
                .iter()
                .filter(|(_, in_body)| *in_body)
                .find_map(|(n, _)| self.env.get_template(&file.source).ok().and_then(|t| line_of_word(t.source(), n)));
            let names: BTreeSet<String> = unknown.into_iter().map(|(n, _)| n).collect();
            out.push((file.source.clone(), line, names.into_iter().collect()));
        }
        out
    }
}

fn finish(origin: String, blueprint: Option<Blueprint>, diagnostics: Vec<Diagnostic>) -> Result<Blueprint, Error> {
    match blueprint {
        Some(b) if diagnostics.is_empty() => Ok(b),
        _ => Err(Error::Invalid { origin, diagnostics }),
    }
}

/// "kind: detail" of a template error, without the location (carried separately).
pub(crate) fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

/// The first line (1-based) where `word` appears as a whole identifier.
fn line_of_word(text: &str, word: &str) -> Option<usize> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.lines()
        .position(|line| {
            line.match_indices(word).any(|(i, _)| {
                let before = line[..i].chars().next_back();
                let after = line[i + word.len()..].chars().next();
                !before.is_some_and(ident) && !after.is_some_and(ident)
            })
        })
        .map(|i| i + 1)
}

fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Copier's rendering: no autoescape, trailing newlines kept. Strict: a typo is an error.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    crate::quote::register(&mut env);
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.keep_trailing_newline(true);
    if let Ok(syntax) = syntax.build() {
        env.set_syntax(syntax);
    }
    env
}

/// Splits a path at the `/`s outside template tags, so `{{ a ~ '/' ~ b }}` stays one segment
/// (possible for blueprints in memory; a file name on disk cannot hold a `/`).
fn split_segments(path: &str) -> Vec<&str> {
    let bytes = path.as_bytes();
    let mut segments = Vec::new();
    let (mut start, mut i, mut inside) = (0, 0, false);
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'{', Some(b'{' | b'%' | b'#')) if !inside => {
                inside = true;
                i += 2;
            }
            (b'}' | b'%' | b'#', Some(b'}')) if inside => {
                inside = false;
                i += 2;
            }
            (b'/', _) if !inside => {
                segments.push(&path[start..i]);
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    if inside {
        // An unclosed tag: a syntax error the segment's compilation reports.
        return path.split('/').collect();
    }
    segments.push(&path[start..]);
    segments
}

fn has_expression(segment: &str) -> bool {
    segment.contains("{{") || segment.contains("{%") || segment.contains("{#")
}

/// Builds a blueprint from its files. Returns the blueprint when the manifest is valid (even
/// if some templates are broken, so checks can still trial-render the rest) and every problem.
pub(crate) fn assemble(origin: &str, mut files: Vec<(String, FileEntry)>) -> (Option<Blueprint>, Vec<Diagnostic>) {
    let at = |path: &str| PathBuf::from(origin).join(path);
    let mut diagnostics = Vec::new();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let digest = digest(&files);

    let manifest = match files.iter().find(|(p, _)| p == MANIFEST_FILE) {
        None => {
            diagnostics.push(Diagnostic::new(at(MANIFEST_FILE), None, "missing blueprint.toml (the manifest)"));
            None
        }
        Some((_, entry)) => match std::str::from_utf8(&entry.content) {
            Err(e) => {
                diagnostics.push(Diagnostic::new(at(MANIFEST_FILE), None, format!("not UTF-8 text: {e}")));
                None
            }
            Ok(text) => match manifest::parse(text) {
                Ok(parsed) => Some(parsed),
                Err(problems) => {
                    diagnostics
                        .extend(problems.into_iter().map(|(line, m)| Diagnostic::new(at(MANIFEST_FILE), line, m)));
                    None
                }
            },
        },
    };

    let mut env = new_environment();
    let mut compiled = Vec::new();
    let mut unknown_dirs = BTreeSet::new();
    let mut static_paths: BTreeMap<(Target, String), String> = BTreeMap::new();
    for (path, entry) in &files {
        let Some((top, rest)) = path.split_once('/') else { continue };
        let Some(target) = Target::from_dir(top) else {
            if unknown_dirs.insert(top.to_owned()) {
                diagnostics.push(Diagnostic::new(
                    at(top),
                    None,
                    format!("unknown directory {top:?}: a blueprint holds blueprint.toml, app/, infra/ and gitops/"),
                ));
            }
            continue;
        };
        let mut raw: Vec<&str> = split_segments(rest);
        let is_template = path.ends_with(TEMPLATE_SUFFIX);
        if let Some(last) = raw.last_mut().filter(|_| is_template) {
            *last = &last[..last.len() - TEMPLATE_SUFFIX.len()];
            if last.is_empty() {
                diagnostics.push(Diagnostic::new(at(path), None, "a template needs a name before '.jinja'"));
                continue;
            }
        }
        let mut ok = true;
        let mut segments = Vec::with_capacity(raw.len());
        for (i, segment) in raw.iter().enumerate() {
            if has_expression(segment) {
                let name = format!("{path}#path{i}");
                match env.add_template_owned(name.clone(), (*segment).to_owned()) {
                    Ok(()) => segments.push(Segment::Template(name)),
                    Err(e) => {
                        ok = false;
                        diagnostics.push(Diagnostic::new(
                            at(path),
                            None,
                            format!("path segment {segment:?} is not a valid template: {}", describe(&e)),
                        ));
                    }
                }
            } else {
                segments.push(Segment::Literal((*segment).to_owned()));
            }
        }
        if segments.iter().all(|s| matches!(s, Segment::Literal(_))) {
            let dest = raw.join("/");
            if let Err(e) = RepoPath::parse(&dest) {
                let reason = e.problems().iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ");
                diagnostics.push(Diagnostic::new(at(path), None, format!("cannot be a repository path: {reason}")));
                ok = false;
            } else if let Some(other) = static_paths.insert((target, dest.clone()), path.clone()) {
                diagnostics.push(Diagnostic::new(at(path), None, format!("renders to {dest}, like {other}")));
            }
        }
        let body = if is_template {
            match std::str::from_utf8(&entry.content) {
                Err(e) => {
                    diagnostics.push(Diagnostic::new(at(path), None, format!("a template must be UTF-8 text: {e}")));
                    ok = false;
                    Body::Template
                }
                Ok(text) => {
                    if let Err(e) = env.add_template_owned(path.clone(), text.to_owned()) {
                        diagnostics.push(Diagnostic::new(at(path), e.line(), describe(&e)));
                        ok = false;
                    }
                    Body::Template
                }
            }
        } else {
            Body::Copy(Arc::clone(&entry.content))
        };
        if ok {
            compiled.push(TemplateFile { target, source: path.clone(), segments, body, executable: entry.executable });
        }
    }
    if !files.iter().any(|(p, _)| p.starts_with("app/")) {
        diagnostics.push(Diagnostic::new(at("app"), None, "missing app/ (the service repository's template)"));
    }

    let Some(parsed) = manifest else { return (None, diagnostics) };
    let manifest = parsed.manifest;
    let mut defaults = BTreeMap::new();
    let example = RenderContext::example();
    let example_vars = Value::from(example.variables(&manifest));
    for (parameter, line) in manifest.parameters.iter().zip(parsed.default_lines) {
        let (ParameterKind::String { .. }, Some(AnswerValue::String(default))) = (&parameter.kind, &parameter.default)
        else {
            continue;
        };
        let name = format!("{MANIFEST_FILE}#parameters.{}.default", parameter.name);
        let mut problem = |message: String| diagnostics.push(Diagnostic::new(at(MANIFEST_FILE), line, message));
        let label = format!("parameter {:?}: default", parameter.name);
        if let Err(e) = env.add_template_owned(name.clone(), default.clone()) {
            problem(format!("{label} is not a valid template: {}", describe(&e)));
            continue;
        }
        let Ok(template) = env.get_template(&name) else { continue };
        let unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|n| !crate::answers::BUILTIN_VARIABLES.contains(&n.as_str()))
            .collect();
        if !unknown.is_empty() {
            problem(format!("{label} may use only built-in variables, not {}", unknown.join(", ")));
            continue;
        }
        match template.render(&example_vars) {
            Err(e) => problem(format!("{label} does not render: {}", describe(&e))),
            Ok(value) => {
                let subject = format!("{label} for a service named {:?}", example.builtins.name.as_str());
                if let Err(broken) = crate::answers::check(&parameter.kind, &subject, &AnswerValue::String(value)) {
                    for (_, message) in broken {
                        problem(message);
                    }
                }
            }
        }
        defaults.insert(parameter.name.clone(), name);
    }
    let blueprint = Blueprint { origin: origin.to_owned(), manifest, env, files: compiled, defaults, digest };
    (Some(blueprint), diagnostics)
}

fn digest(sorted: &[(String, FileEntry)]) -> String {
    let mut hasher = Sha256::new();
    for (path, entry) in sorted {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update([u8::from(entry.executable)]);
        hasher.update((entry.content.len() as u64).to_le_bytes());
        hasher.update(&entry.content);
    }
    hex::encode(hasher.finalize())
}

/// A blueprint's files: paths relative to its root, with contents and modes.
pub(crate) type Files = Vec<(String, FileEntry)>;

/// Reads every file below `dir` once, with paths relative to it and `/`-separated. `.git`
/// directories are skipped; symbolic links and special files are refused (a blueprint from
/// an untrusted source must not pull host files into a repository).
pub(crate) fn read_dir_files(dir: &Path) -> Result<(Files, Vec<Diagnostic>), Error> {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        let read = |p: &Path, e| Error::Read { path: p.to_path_buf(), source: e };
        let mut entries = std::fs::read_dir(&path)
            .map_err(|e| read(&path, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| read(&path, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let full = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                diagnostics.push(Diagnostic::new(&full, None, "file name is not UTF-8"));
                continue;
            };
            let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let meta = std::fs::symlink_metadata(&full).map_err(|e| read(&full, e))?;
            if meta.is_dir() {
                if name != ".git" {
                    pending.push((full, rel));
                }
            } else if meta.is_file() {
                let content = std::fs::read(&full).map_err(|e| read(&full, e))?;
                files.push((rel, FileEntry { content: Arc::from(content), executable: is_executable(&meta) }));
            } else if meta.file_type().is_symlink() {
                diagnostics.push(Diagnostic::new(&full, None, "symbolic links are not allowed in a blueprint"));
            } else {
                diagnostics.push(Diagnostic::new(&full, None, "not a regular file"));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((files, diagnostics))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blueprints_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Blueprint>();
    }

    #[test]
    fn paths_split_outside_tags() {
        assert_eq!(split_segments("a/{{ '/etc' }}/b"), ["a", "{{ '/etc' }}", "b"]);
        assert_eq!(split_segments("{% if x %}d{% endif %}/f"), ["{% if x %}d{% endif %}", "f"]);
        assert_eq!(split_segments("a//b/"), ["a", "", "b", ""]);
        assert_eq!(split_segments("{{ x /y"), ["{{ x ", "y"]);
    }

    #[test]
    fn words_are_found_whole() {
        assert_eq!(line_of_word("a\n{{ names }}\n{{ name }}", "name"), Some(3));
        assert_eq!(line_of_word("{{ x_name }}", "name"), None);
    }
}
