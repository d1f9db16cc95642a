//! Validation problems: every rule an input breaks, each naming its field.
//!
//! Parsers collect all problems instead of stopping at the first, so a user fixes a request
//! in one round trip. The API maps [`Invalid`] to `application/problem+json`, the CLI to a
//! list on stderr.

use serde::Serialize;
use std::fmt;

/// One broken rule of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where the problem is, as a JSON-pointer-like path: `name`, `parameters.port`.
    pub field: String,
    /// A stable machine-readable rule name: `too-long`, `invalid-character`, `reserved`.
    pub rule: &'static str,
    /// A sentence for people, saying what is wrong and what is allowed.
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), rule, message: message.into() }
    }

    /// The same problem, moved under a parent field (`name` → `service.name`).
    pub fn within(mut self, parent: &str) -> Self {
        if !parent.is_empty() {
            self.field = if self.field.is_empty() { parent.to_owned() } else { format!("{parent}.{}", self.field) };
        }
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.rule)
    }
}

/// An input that broke one or more rules. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    problems: Vec<Problem>,
}

impl Invalid {
    /// Panics in debug builds if `problems` is empty: an `Invalid` always says why.
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty(), "Invalid without a problem");
        Self { problems }
    }

    pub fn one(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(vec![Problem::new(field, rule, message)])
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// The same problems, moved under a parent field.
    pub fn within(self, parent: &str) -> Self {
        Self::new(self.problems.into_iter().map(|p| p.within(parent)).collect())
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid input: {one}"),
            many => {
                write!(f, "invalid input ({} problems):", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

/// Collects problems from several parsers and yields the parsed values only if none failed.
#[derive(Debug, Default)]
pub struct Collector {
    problems: Vec<Problem>,
}

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `Ok` values; records the problems of `Err`, moved under `field`.
    pub fn take<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.problems.extend(e.within(field).into_problems());
                None
            }
        }
    }

    pub fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.problems.is_empty() { Ok(()) } else { Err(Invalid::new(self.problems)) }
    }
}
