//! Errors as the API answers them: one [`ApiError`] per way a request can fail, turned into an
//! RFC 9457 `application/problem+json` body in exactly one place ([`ApiError::into_response`]).
//!
//! Client mistakes are 4xx with what was wrong and where; only failures of the server itself
//! (a store, a git host, a run that failed while executing) are 5xx, and their causes go to the
//! log, never into the answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orchestrator_app::error::{Classified, ErrorKind, Failure};
use serde::{Deserialize, Serialize};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: what every error answer of this API carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem (`urn:orchestrator:problem:<code>`); clients switch on it.
    #[serde(rename = "type")]
    #[schema(example = "urn:orchestrator:problem:validation")]
    pub problem_type: String,
    /// The kind of failure: `invalid`, `not-found`, `conflict`, `unauthorized`, `forbidden`,
    /// `unavailable` or `internal` (the command line's exit code says the same).
    #[schema(value_type = String, example = "invalid")]
    pub kind: ErrorKind,
    /// A short summary of the kind of problem (the same for every problem of this type).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// Every broken rule of the request, each naming its field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The service the problem is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The run the problem is about (see `GET /v1/runs/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The repository the problem is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Where in a malformed JSON body the parser stopped (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// One broken rule of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Where: `name`, `parameters.port`, a header name like `Idempotency-Key`, or `""` for the
    /// whole body.
    pub field: String,
    /// A stable machine-readable rule: `required`, `too-long`, `unknown-field`, `invalid-type`.
    pub rule: String,
    /// A sentence for people.
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, rule: impl Into<String>, message: impl Into<String>) -> Self {
        FieldProblem { field: field.into(), rule: rule.into(), message: message.into() }
    }
}

impl From<&provision_core::problem::Problem> for FieldProblem {
    fn from(p: &provision_core::problem::Problem) -> Self {
        FieldProblem::new(p.field.clone(), p.rule, p.message.clone())
    }
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{} ({})", self.message, self.rule)
        } else {
            write!(f, "{}: {} ({})", self.field, self.message, self.rule)
        }
    }
}

/// The status every failure of `kind` is answered with: the one place the API maps kinds.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The title of every problem of `kind`.
fn title_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "Invalid request",
        ErrorKind::NotFound => "Not found",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::Unauthorized => "Unauthorized",
        ErrorKind::Forbidden => "Forbidden",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Internal => "Internal error",
    }
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What the application refused or failed at, classified there.
    #[error(transparent)]
    App(Box<Failure>),
    #[error("the request body is not valid JSON: {message}")]
    MalformedJson { message: String, line: usize, column: usize },
    /// Valid JSON of the wrong shape: missing, unknown or mistyped fields.
    #[error("the request body does not have the expected fields")]
    BodyShape(Vec<FieldProblem>),
    #[error("the request body must be sent as `Content-Type: application/json`")]
    UnsupportedMediaType { found: Option<String> },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("cannot read the request body")]
    UnreadableBody,
    #[error("the request body did not arrive within {limit:?}")]
    BodyTimeout { limit: std::time::Duration },
    /// A header, query parameter or path segment the API cannot use.
    #[error("bad request")]
    BadRequest(Vec<FieldProblem>),
    #[error("no route {path}")]
    RouteNotFound { path: String },
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    #[error("not ready")]
    NotReady(#[source] provision_core::ports::PortError),
    #[error("the handler panicked")]
    Panic,
    #[error("internal error: {0}")]
    Internal(String),
}

impl<E: Classified> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError::App(Box::new(Failure::from(e)))
    }
}

impl ApiError {
    /// The answer: status and problem body.
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::App(failure) => app_problem(failure),
            ApiError::MalformedJson { message, line, column } => Problem {
                line: Some(*line),
                column: Some(*column),
                errors: vec![FieldProblem::new("", "malformed-json", message.clone())],
                ..problem(
                    StatusCode::BAD_REQUEST,
                    "malformed-json",
                    "Malformed JSON",
                    format!("the request body is not valid JSON: {message} (line {line}, column {column})"),
                )
            },
            ApiError::BodyShape(errors) => Problem {
                errors: errors.clone(),
                ..problem(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request", summary(errors))
            },
            ApiError::UnsupportedMediaType { found } => problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                match found {
                    Some(found) => {
                        format!("the request body must be JSON sent as `Content-Type: application/json`, not {found:?}")
                    }
                    None => "the request has no Content-Type; send the JSON body with `Content-Type: application/json`"
                        .into(),
                },
            ),
            ApiError::PayloadTooLarge { limit } => problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
                format!("the request body is larger than the limit of {limit} bytes"),
            ),
            ApiError::UnreadableBody => problem(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                "Unreadable request body",
                "the request body could not be read completely",
            ),
            ApiError::BodyTimeout { limit } => problem(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Request body timeout",
                format!("the request body did not arrive within {limit:?}, the time the server allows a whole body"),
            ),
            ApiError::BadRequest(errors) => Problem {
                errors: errors.clone(),
                ..problem(StatusCode::BAD_REQUEST, "bad-request", "Bad request", summary(errors))
            },
            ApiError::RouteNotFound { path } => {
                problem(StatusCode::NOT_FOUND, "not-found", "Not found", format!("there is no route {path}"))
            }
            ApiError::MethodNotAllowed { method, path } => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{path} does not accept {method}"),
            ),
            ApiError::NotReady(_) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                "the orchestrator cannot reach its store yet",
            ),
            ApiError::Panic | ApiError::Internal(_) => internal(),
        }
    }

    /// Whether the failure is the server's (or a system it needs), so its cause belongs in
    /// the log.
    fn is_server_side(&self) -> bool {
        match self {
            ApiError::App(failure) => matches!(failure.kind, ErrorKind::Internal | ErrorKind::Unavailable),
            ApiError::NotReady(_) | ApiError::Panic | ApiError::Internal(_) => true,
            _ => false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.is_server_side() {
            tracing::error!(error = %orchestrator_app::error::chain(&self), "request failed");
        }
        self.problem().into_response()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            // A struct of strings and numbers always serializes; keep a valid answer regardless.
            Err(_) => br#"{"type":"urn:orchestrator:problem:internal","title":"Internal error","status":500,"detail":"internal error"}"#.to_vec(),
        };
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A problem of the given code, without extension members; its kind follows from `status`.
pub fn problem(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Problem {
    let kind = match status {
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::CONFLICT => ErrorKind::Conflict,
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
        StatusCode::FORBIDDEN => ErrorKind::Forbidden,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
        s if s.is_client_error() => ErrorKind::Invalid,
        _ => ErrorKind::Internal,
    };
    Problem {
        problem_type: format!("urn:orchestrator:problem:{code}"),
        kind,
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        errors: Vec::new(),
        service: None,
        run: None,
        repo: None,
        line: None,
        column: None,
    }
}

/// The answer for any failure whose cause must stay in the log.
fn internal() -> Problem {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the orchestrator failed to handle the request; the cause is in its log",
    )
}

fn summary(errors: &[FieldProblem]) -> String {
    match errors {
        [] => "the request is invalid".into(),
        [one] if one.field.is_empty() => one.message.clone(),
        [one] => format!("{}: {}", one.field, one.message),
        many => format!(
            "the request has {} problems: {}",
            many.len(),
            many.iter()
                .map(|p| if p.field.is_empty() { p.message.clone() } else { format!("{}: {}", p.field, p.message) })
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// The problem of an application failure: its kind's status and title, its code, its field
/// problems and subject. What the client can fix is told; the causes of the server's own
/// failures stay in the log (a failed run's error excepted: its journal shows the same).
fn app_problem(failure: &Failure) -> Problem {
    let status = status_of(failure.kind);
    let detail = match failure.kind {
        ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Forbidden => {
            let errors: Vec<FieldProblem> = failure.problems.iter().map(FieldProblem::from).collect();
            if errors.is_empty() { failure.message() } else { summary(&errors) }
        }
        // Which of the reasons (none, malformed, unknown, revoked) is not told.
        ErrorKind::Unauthorized => {
            "this needs `Authorization: Bearer <token>` with a valid token (`orchestrator token create`)".to_owned()
        }
        ErrorKind::Unavailable => failure.summary(),
        ErrorKind::Internal => match &failure.subject.run {
            Some(run) => format!("{}; GET /v1/runs/{run} shows its steps", failure.message()),
            None => internal().detail,
        },
    };
    Problem {
        errors: failure.problems.iter().map(FieldProblem::from).collect(),
        service: failure.subject.service.clone(),
        run: failure.subject.run.clone(),
        repo: failure.subject.repo.clone(),
        ..problem(status, failure.code, title_of(failure.kind), detail)
    }
}
