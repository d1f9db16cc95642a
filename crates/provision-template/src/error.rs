//! Errors of loading and rendering blueprints, and the diagnostics `check_dir` reports.

use std::fmt;
use std::path::PathBuf;

/// One problem of a blueprint, at a file and (when known) a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self { file: file.into(), line, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Why a blueprint could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The blueprint's files were read but break rules; every problem is listed.
    #[error("blueprint {origin} is invalid ({} problem{}):{}", diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" }, list(diagnostics))]
    Invalid { origin: String, diagnostics: Vec<Diagnostic> },
    /// A directory given to a catalog holds no `blueprint.toml`, neither itself nor its children.
    #[error("{} holds no blueprint (no blueprint.toml in it or in its subdirectories)", dir.display())]
    NoBlueprint { dir: PathBuf },
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("\n  {d}")).collect()
}

/// Why rendering a blueprint failed. Every variant names the template file (its path inside
/// the blueprint, like `app/main.go.jinja`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A template failed while rendering: an undefined variable, a bad filter argument, …
    #[error("{template}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template { template: String, line: Option<usize>, message: String },
    /// A templated path rendered to something that is not a path inside the repository.
    #[error("{template}: path renders to {rendered:?}, which is not allowed: {reason}")]
    Path { template: String, rendered: String, reason: String },
    /// Two template files rendered to the same path.
    #[error("{template} and {other} both render to {path}")]
    Collision { path: String, template: String, other: String },
}
