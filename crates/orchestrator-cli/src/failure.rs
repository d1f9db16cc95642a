//! Why a command failed, from any source (the application, the API in remote mode, a file the
//! user named), as one shape: the kind of failure, the problem type the API would answer, the
//! message and the field problems. The kind picks the exit code, here and nowhere else.

use orchestrator_api::wire::FieldProblem;
use orchestrator_app::error::{Classified, ErrorKind, Failure};
use std::path::PathBuf;
use std::process::ExitCode;

/// A failed command.
#[derive(Debug)]
pub struct CliFailure {
    pub kind: ErrorKind,
    /// `urn:orchestrator:problem:<code>`, as the API's problem `type` says it.
    pub problem_type: String,
    /// The error and its causes.
    pub message: String,
    pub problems: Vec<FieldProblem>,
}

/// The exit code of each kind of failure: the one place the command line maps kinds.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Internal => 1,
        ErrorKind::Invalid => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::Conflict => 4,
        ErrorKind::Unauthorized => 5,
        ErrorKind::Forbidden => 7,
        ErrorKind::Unavailable => 6,
    }
}

impl CliFailure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(exit_code(self.kind))
    }

    fn new(kind: ErrorKind, code: &str, message: String) -> Self {
        CliFailure { kind, problem_type: format!("urn:orchestrator:problem:{code}"), message, problems: Vec::new() }
    }
}

impl<E: Classified> From<E> for CliFailure {
    fn from(e: E) -> Self {
        let f = Failure::from(e);
        CliFailure {
            kind: f.kind,
            problem_type: format!("urn:orchestrator:problem:{}", f.code),
            message: f.message(),
            problems: f.problems.iter().map(FieldProblem::from).collect(),
        }
    }
}

impl From<crate::remote::Error> for CliFailure {
    fn from(e: crate::remote::Error) -> Self {
        let message = orchestrator_app::error::chain(&e);
        match e.answered() {
            // The API's own classification, as it sent it.
            Some(problem) => CliFailure {
                kind: problem.kind,
                problem_type: problem.problem_type.clone(),
                message,
                problems: problem.errors.clone(),
            },
            None => CliFailure::new(e.kind(), e.code(), message),
        }
    }
}

/// A file the user named could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}", path.display())]
pub struct Unreadable {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl From<Unreadable> for CliFailure {
    fn from(e: Unreadable) -> Self {
        CliFailure::new(ErrorKind::Invalid, "unreadable-file", orchestrator_app::error::chain(&e))
    }
}

/// What the user gave cannot be used (beyond what clap checks), said in `message`.
pub fn usage(message: impl Into<String>) -> CliFailure {
    CliFailure::new(ErrorKind::Invalid, "usage", message.into())
}

/// The machine this runs on failed the command (a thread, a runtime).
pub fn internal(message: impl Into<String>) -> CliFailure {
    CliFailure::new(ErrorKind::Internal, "internal", message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_exit_code_and_invalid_input_stays_two() {
        let codes: std::collections::BTreeSet<u8> = ErrorKind::ALL.into_iter().map(exit_code).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert_eq!(exit_code(ErrorKind::Invalid), 2);
        assert!(!codes.contains(&0));
    }

    #[test]
    fn the_readme_documents_each_kind_s_exit_code() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        for kind in ErrorKind::ALL {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{kind}` |")))
                .unwrap_or_else(|| panic!("README.md has no row for {kind}"));
            let code = row.split('|').nth(4).and_then(|c| c.split_whitespace().next()).unwrap();
            assert_eq!(code, exit_code(kind).to_string(), "{row}");
        }
    }
}
