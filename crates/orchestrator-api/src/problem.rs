//! Errors as the API answers them: one [`ApiError`] per way a request can fail, turned into an
//! RFC 9457 `application/problem+json` body in exactly one place ([`ApiError::into_response`]).
//!
//! Client mistakes are 4xx with what was wrong and where; only failures of the server itself
//! (a store, a git host, a run that failed while executing) are 5xx, and their causes go to the
//! log, never into the answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orchestrator_app::Error as AppError;
use serde::Serialize;
use std::fmt::Write as _;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: what every error answer of this API carries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; clients switch on it.
    #[serde(rename = "type")]
    #[schema(example = "urn:orchestrator:problem:validation")]
    pub kind: String,
    /// A short summary of the kind of problem (the same for every problem of this type).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// Every broken rule of the request, each naming its field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The service the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The run the problem is about (see `GET /v1/runs/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The repository the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Where in a malformed JSON body the parser stopped (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// One broken rule of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What the application refused or failed at.
    #[error(transparent)]
    App(Box<AppError>),
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
    /// A header, query parameter or path segment the API cannot use.
    #[error("bad request")]
    BadRequest(Vec<FieldProblem>),
    #[error("no route {path}")]
    RouteNotFound { path: String },
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    /// The request was fine; executing its run failed on the server's side.
    #[error("run {run} of {service} failed: {error}")]
    RunFailed { run: String, service: String, error: String },
    #[error("not ready")]
    NotReady(#[source] Box<AppError>),
    #[error("the handler panicked")]
    Panic,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(Box::new(e))
    }
}

impl ApiError {
    /// The answer: status and problem body. Logs the causes of server-side failures.
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::App(e) => app_problem(e),
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
            ApiError::RunFailed { run, service, error } => Problem {
                run: Some(run.clone()),
                service: Some(service.clone()),
                ..problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "run-failed",
                    "Run failed",
                    format!("run {run} creating {service} failed: {error}; GET /v1/runs/{run} shows its steps"),
                )
            },
            ApiError::NotReady(_) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                "the orchestrator cannot reach its store yet",
            ),
            ApiError::Panic | ApiError::Internal(_) => internal(),
        }
    }

    /// Whether the failure is the server's, so its cause belongs in the log.
    fn is_server_side(&self) -> bool {
        match self {
            ApiError::App(e) => app_status(e).is_server_error(),
            ApiError::RunFailed { .. } | ApiError::NotReady(_) | ApiError::Panic | ApiError::Internal(_) => true,
            _ => false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.is_server_side() {
            tracing::error!(error = %chain(&self), "request failed");
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

/// A problem of the given kind, without extension members.
pub fn problem(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
    Problem {
        kind: format!("urn:orchestrator:problem:{kind}"),
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

/// The status for each application error: what the client can fix is 4xx.
fn app_status(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid(_) | AppError::KeyReused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::ServiceExists { .. }
        | AppError::RepoExists { .. }
        | AppError::Busy(_)
        | AppError::BlueprintChanged { .. }
        | AppError::BlueprintGone { .. }
        | AppError::NoValuesFile { .. }
        | AppError::Bump { .. }
        | AppError::NoSealingCertificate { .. }
        | AppError::SecretsEdit { .. } => StatusCode::CONFLICT,
        // The configured certificate is the server's to fix.
        AppError::Certificate(_) | AppError::Seal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        // Publishing charts is the command line's (the chart is a directory on its machine).
        AppError::Chart { .. } | AppError::ChartName { .. } | AppError::ChartIndex { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        AppError::RunNotFound(_) | AppError::ServiceNotFound(_) | AppError::WorkspaceNotFound(_) => {
            StatusCode::NOT_FOUND
        }
        AppError::Quota(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::WorkspaceExists { .. } => StatusCode::CONFLICT,
        // The server is not set up for workspaces: nothing the client can change.
        AppError::WorkspacesOff | AppError::NoCluster => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Cluster(_) | AppError::Kube(_) => StatusCode::BAD_GATEWAY,
        AppError::NoOutbox | AppError::NoTokens | AppError::Mail(_) | AppError::Token(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        // Off, it does not exist.
        AppError::LegacyDeleteOff => StatusCode::NOT_FOUND,
        AppError::UnknownOperation(_)
        | AppError::Blueprints(_)
        | AppError::Plan(_)
        | AppError::Open { .. }
        | AppError::Store(_)
        | AppError::Git(_)
        | AppError::Engine(_)
        | AppError::Join(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn app_problem(e: &AppError) -> Problem {
    let status = app_status(e);
    match e {
        AppError::Invalid(invalid) => {
            let errors: Vec<FieldProblem> = invalid.problems().iter().map(FieldProblem::from).collect();
            Problem { errors: errors.clone(), ..problem(status, "validation", "Invalid request", summary(&errors)) }
        }
        AppError::ServiceExists { name, run } => Problem {
            service: Some(name.to_string()),
            run: Some(run.to_string()),
            ..problem(
                status,
                "service-exists",
                "Service already exists",
                format!("service {name} already exists (created by run {run}); see GET /v1/services/{name}"),
            )
        },
        AppError::RepoExists { repo } => Problem {
            repo: Some(repo.clone()),
            ..problem(
                status,
                "repo-exists",
                "Repository already exists",
                format!(
                    "repository {repo} already exists and belongs to no provisioned service; pick another service name"
                ),
            )
        },
        AppError::KeyReused { run, .. } => Problem {
            run: Some(run.to_string()),
            ..problem(
                status,
                "idempotency-key-reused",
                "Idempotency key reused",
                format!(
                    "this Idempotency-Key was already used with a different request (run {run}); use a new key for a new request"
                ),
            )
        },
        AppError::RunNotFound(id) => problem(status, "not-found", "Not found", format!("run {id} does not exist")),
        AppError::ServiceNotFound(name) => {
            problem(status, "not-found", "Not found", format!("service {name} does not exist"))
        }
        AppError::Busy(run) => Problem {
            run: Some(run.to_string()),
            ..problem(
                status,
                "busy",
                "Run busy",
                format!("run {run} is being executed by another process; try again later"),
            )
        },
        AppError::BlueprintChanged { run, .. } | AppError::BlueprintGone { run, .. } => Problem {
            run: Some(run.to_string()),
            ..problem(status, "blueprint-changed", "Blueprint changed", e.to_string())
        },
        AppError::NoValuesFile { .. } | AppError::Bump { .. } => {
            problem(status, "values-file", "Values file cannot take the tag", chain(e))
        }
        AppError::NoSealingCertificate { .. } | AppError::SecretsEdit { .. } => {
            problem(status, "sealing", "Cannot seal", chain(e))
        }
        AppError::WorkspaceNotFound(name) => {
            problem(status, "not-found", "Not found", format!("workspace {name} does not exist"))
        }
        AppError::WorkspaceExists { name } => problem(
            status,
            "workspace-exists",
            "Workspace already exists",
            format!("you have a workspace {name} already; pick another name or delete it first"),
        ),
        AppError::Quota(invalid) => {
            let errors: Vec<FieldProblem> = invalid.problems().iter().map(FieldProblem::from).collect();
            Problem { errors: errors.clone(), ..problem(status, "quota", "Over quota", summary(&errors)) }
        }
        AppError::WorkspacesOff | AppError::NoCluster => problem(status, "unavailable", "Unavailable", e.to_string()),
        // Which of the reasons (none, malformed, unknown, revoked) is not told.
        AppError::Unauthorized(_) => problem(
            status,
            "unauthorized",
            "Unauthorized",
            "this needs `Authorization: Bearer <token>` with a valid token (`orchestrator token create`)",
        ),
        AppError::LegacyDeleteOff => problem(status, "not-found", "Not found", "no route POST /api/delete"),
        AppError::Cluster(_) => {
            problem(status, "cluster", "The cluster failed", "the Kubernetes API failed; try again later".to_owned())
        }
        _ => internal(),
    }
}

/// An error with its causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}
