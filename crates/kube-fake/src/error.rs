//! The failures the fake answers with, each rendered as the API server's `Status` body.
//!
//! Messages, reasons and codes follow `k8s.io/apimachinery/pkg/api/errors`, so a client that
//! inspects `ErrorResponse { code, reason, message }` sees what a real cluster would send.

use serde_json::{Value, json};
use std::fmt;

/// A resource as named in messages: `deployments.apps`, `services`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() { f.write_str(&self.resource) } else { write!(f, "{}.{}", self.resource, self.group) }
    }
}

/// A kind as named in validation messages: `Deployment.apps`, `Service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() { f.write_str(&self.kind) } else { write!(f, "{}.{}", self.kind, self.group) }
    }
}

/// One entry of `details.causes`: which field is wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldManagerConflict`, …
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    /// A field whose value breaks a rule (`field.Invalid` in the API server).
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {shown}: {detail}"),
            field: field.into(),
        }
    }

    /// A field that must be present (`field.Required`).
    pub fn required(field: &str, detail: &str) -> Self {
        let message =
            if detail.is_empty() { "Required value".to_string() } else { format!("Required value: {detail}") };
        Cause { reason: "FieldValueRequired".into(), message, field: field.into() }
    }
}

/// A failed request, as the API server reports it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: GroupResource, name: String },
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: GroupResource, name: String },
    /// An update lost an optimistic-concurrency race, or a precondition failed.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {detail}")]
    Conflict { resource: GroupResource, name: String, detail: String },
    /// Server-side apply touched fields another manager owns.
    #[error("{message}")]
    ApplyConflict { message: String, causes: Vec<Cause> },
    #[error("{kind} \"{name}\" is invalid: {}", join_causes(causes))]
    Invalid { kind: GroupKind, name: String, causes: Vec<Cause> },
    /// A JSON patch that cannot be applied (a failed `test`, a missing path): the API server
    /// answers these with a bare 422 whose message does not say which operation failed.
    #[error("the server rejected our request due to an error in our request")]
    PatchNotApplicable,
    #[error("{0}")]
    BadRequest(String),
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("the body of the request was in an unknown format - accepted media types include: {0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    Forbidden(String),
    /// No route: an unknown path or resource type.
    #[error("the server could not find the requested resource")]
    UnknownPath,
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// A failure injected by a test (see [`crate::Fault`]).
    #[error("{message}")]
    Injected { code: u16, reason: String, message: String },
}

fn join_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    if parts.len() == 1 { parts.concat() } else { format!("[{}]", parts.join(", ")) }
}

impl Error {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Error::NotFound { .. } | Error::UnknownPath => 404,
            Error::AlreadyExists { .. } | Error::Conflict { .. } | Error::ApplyConflict { .. } => 409,
            Error::Invalid { .. } | Error::PatchNotApplicable => 422,
            Error::BadRequest(_) => 400,
            Error::MethodNotAllowed => 405,
            Error::UnsupportedMediaType(_) => 415,
            Error::Expired(_) => 410,
            Error::Forbidden(_) => 403,
            Error::Internal(_) => 500,
            Error::Injected { code, .. } => *code,
        }
    }

    /// The `reason` of the `Status`.
    pub fn reason(&self) -> &str {
        match self {
            Error::NotFound { .. } | Error::UnknownPath => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } | Error::ApplyConflict { .. } => "Conflict",
            Error::Invalid { .. } | Error::PatchNotApplicable => "Invalid",
            Error::BadRequest(_) => "BadRequest",
            Error::MethodNotAllowed => "MethodNotAllowed",
            Error::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Error::Expired(_) => "Expired",
            Error::Forbidden(_) => "Forbidden",
            Error::Internal(_) => "InternalError",
            Error::Injected { reason, .. } => reason,
        }
    }

    /// The `Status` object the API server sends for this failure.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            Error::NotFound { resource, name }
            | Error::AlreadyExists { resource, name }
            | Error::Conflict { resource, name, .. } => Some(details(&resource.group, &resource.resource, name, &[])),
            Error::ApplyConflict { causes, .. } => Some(details("", "", "", causes)),
            Error::Invalid { kind, name, causes } => Some(details(&kind.group, &kind.kind, name, causes)),
            Error::PatchNotApplicable | Error::UnknownPath => Some(json!({})),
            Error::Internal(message) => Some(json!({ "causes": [{ "message": message }] })),
            _ => None,
        };
        if let (Some(details), Some(object)) = (details, status.as_object_mut()) {
            object.insert("details".into(), details);
        }
        status
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }
}

fn details(group: &str, kind: &str, name: &str, causes: &[Cause]) -> Value {
    let mut details = serde_json::Map::new();
    if !name.is_empty() {
        details.insert("name".into(), name.into());
    }
    if !group.is_empty() {
        details.insert("group".into(), group.into());
    }
    if !kind.is_empty() {
        details.insert("kind".into(), kind.into());
    }
    if !causes.is_empty() {
        let causes = causes
            .iter()
            .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
            .collect::<Vec<_>>();
        details.insert("causes".into(), causes.into());
    }
    Value::Object(details)
}

/// The reason the API server gives to a bare status code, for injected faults.
pub(crate) fn reason_for_code(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        c if c >= 500 => "InternalError",
        _ => "Unknown",
    }
}
