//! One error vocabulary for both front doors: every error of every capability says what kind
//! of failure it is ([`ErrorKind`]: whose fault, and whether trying again can help), gives it a
//! stable name ([`Classified::code`]) and lists the broken rules of invalid input; [`Failure`]
//! carries that to a frontend, which maps the kind once — the API to an HTTP status, the
//! command line to an exit code — so the same failure reads the same through both.

use provision_core::problem::{Invalid, Problem};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of failure an error is, from the caller's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The request breaks a rule: the caller must change it (each rule named in the problems).
    Invalid,
    /// What the request names does not exist (or is not the caller's to see).
    NotFound,
    /// The request collides with what exists: a name taken, a run busy, a file that cannot
    /// take the change. Trying again as it is will not help until that changes.
    Conflict,
    /// The caller did not prove who they are.
    Unauthorized,
    /// The caller proved who they are, and their role does not allow it.
    Forbidden,
    /// This installation cannot do it now: not configured for it, or a system it needs is
    /// down. Nothing is wrong with the request.
    Unavailable,
    /// The orchestrator failed (a bug, a failed run, storage trouble); its log says why.
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failure is about, for clients that act on it (`GET /v1/runs/{run}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

/// An error that knows its kind: every capability's `Error` implements it.
pub trait Classified: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> ErrorKind;

    /// A stable name of this very failure, in kebab case (`service-exists`, `validation`): the
    /// API's problem `type` ends with it, the command line's JSON error carries it.
    fn code(&self) -> &'static str;

    /// The broken rules, each naming its field (for `Invalid`; empty otherwise).
    fn problems(&self) -> &[Problem] {
        &[]
    }

    /// What the failure is about.
    fn subject(&self) -> Subject {
        Subject::default()
    }
}

/// A failure as a frontend shows it: kind, code, problems, subject, and the error itself for
/// its message and causes.
#[derive(Debug)]
pub struct Failure {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub problems: Vec<Problem>,
    pub subject: Subject,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl Failure {
    /// The error and its causes on one line, `: `-separated.
    pub fn message(&self) -> String {
        chain(self.error.as_ref())
    }

    /// The error itself, without its causes.
    pub fn summary(&self) -> String {
        self.error.to_string()
    }
}

impl<E: Classified> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            kind: e.kind(),
            code: e.code(),
            problems: e.problems().to_vec(),
            subject: e.subject(),
            error: Box::new(e),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Invalid input is classified on its own: every problem with its field and rule.
impl Classified for Invalid {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
    fn code(&self) -> &'static str {
        "validation"
    }
    fn problems(&self) -> &[Problem] {
        Invalid::problems(self)
    }
}

pub use provision_core::error::chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_in_kebab_case_alike_everywhere() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(serde_json::from_value::<ErrorKind>(json).unwrap(), kind);
        }
    }

    #[test]
    fn a_failure_keeps_kind_code_problems_and_the_causes() {
        let invalid = Invalid::new(vec![Problem::new("name", "too-long", "name is too long")]);
        let failure = Failure::from(invalid);
        assert_eq!((failure.kind, failure.code), (ErrorKind::Invalid, "validation"));
        assert_eq!(failure.problems.len(), 1);
        assert!(failure.message().contains("name is too long"), "{}", failure.message());
    }
}
