//! The handlers: each decodes a request, calls the application once, and encodes the answer.
//! No business rule lives here; the `#[utoipa::path]` annotations document them in
//! `docs/openapi.json`.

use crate::AppState;
use crate::extract::{IdempotencyKey, Json, Path, Query};
use crate::problem::{ApiError, FieldProblem, Problem};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use orchestrator_app::catalog::KindView;
use orchestrator_app::edits::ImageReport;
use orchestrator_app::provisioning::CreateOptions;
use orchestrator_app::provisioning::report::{ServiceReport, ServiceView};
use orchestrator_app::provisioning::request::CreateServiceInput;
use orchestrator_app::provisioning::undo::UndoReport;
use orchestrator_app::runs::{RunSummary, RunView};
use orchestrator_app::upgrades::report::UpgradeReport;
use orchestrator_app::upgrades::{UpgradeMode, UpgradeOptions, UpgradeTarget};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The seed's request body (`POST /create-service`, `POST /create-repo`): every field required.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRepoRequest {
    /// The blueprint (service kind), e.g. `ms`; see `GET /v1/kinds`.
    #[schema(example = "ms", min_length = 1)]
    pub kind: String,
    /// The service name: lowercase letters, digits and `-`, starting with a letter, at most 53 characters.
    #[schema(example = "ms-my-microservice", pattern = "^[a-z]([a-z0-9-]{0,51}[a-z0-9])?$", max_length = 53)]
    pub name: String,
    /// One line, at most 350 characters.
    #[schema(example = "some cool description", max_length = 350, pattern = "^[^\\n\\r]*$")]
    pub description: String,
}

impl From<CreateRepoRequest> for CreateServiceInput {
    fn from(r: CreateRepoRequest) -> Self {
        CreateServiceInput { kind: r.kind, name: r.name, description: r.description, ..Default::default() }
    }
}

/// Query parameters of the create routes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Plan and render without writing anything; answers 200 with the report.
    pub dry_run: Option<bool>,
}

/// Query parameters of `POST /v1/runs/{id}/undo`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UndoQuery {
    /// Delete the run's repositories even though someone committed to them since.
    pub force: Option<bool>,
    /// Say what the undo would do; change nothing.
    pub dry_run: Option<bool>,
}

/// Query parameters of `GET /v1/runs`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// How many runs to list, newest first (1 to 1000, default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

const DEFAULT_RUNS: usize = 20;
const MAX_RUNS: usize = 1000;

/// The answer of the probes that succeed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: String,
}

/// Where a created service can be read back.
fn service_location(name: &str) -> String {
    format!("/v1/services/{name}")
}

/// Where a run can be followed.
fn run_location(id: &str) -> String {
    format!("/v1/runs/{id}")
}

/// Creates (or, with `dry_run`, plans) a service and answers with its report.
///
/// A run that has not finished (the replay of a request whose run is still going, or a run
/// that failed for a transient reason and waits for the server to retry it) is 202 with the
/// run's `Location`: the service is not created yet. A run that failed while executing is the
/// server's failure, not the client's: 500 with the run's id, whose steps `GET /v1/runs/{id}`
/// shows.
async fn create(
    state: &AppState,
    input: CreateServiceInput,
    query: CreateQuery,
    key: IdempotencyKey,
) -> Result<Response, ApiError> {
    let dry_run = query.dry_run.unwrap_or(false);
    let options = CreateOptions { dry_run, idempotency_key: key.0 };
    let report = state.runtime().provisioning.create_service(&input, &options).await?;
    if dry_run {
        return Ok((StatusCode::OK, axum::Json(report)).into_response());
    }
    if let Some(run) = report.run.as_ref().filter(|run| !run.state.is_finished()) {
        let location = run_location(&run.id);
        return accepted(&location, report);
    }
    report.outcome()?;
    created(&service_location(&report.service), report)
}

/// 201 Created with `location`, answering `body`.
fn created(location: &str, body: impl Serialize) -> Result<Response, ApiError> {
    with_location(StatusCode::CREATED, location, body)
}

/// 202 Accepted: the work goes on, `location` follows it; answering `body`.
fn accepted(location: &str, body: impl Serialize) -> Result<Response, ApiError> {
    with_location(StatusCode::ACCEPTED, location, body)
}

fn with_location(status: StatusCode, location: &str, body: impl Serialize) -> Result<Response, ApiError> {
    let value = HeaderValue::from_str(location)
        .map_err(|_| ApiError::Internal(format!("{location:?} is not a valid header value")))?;
    Ok((status, [(header::LOCATION, value)], axum::Json(body)).into_response())
}

/// The three create routes differ only in path, tag and body; one macro writes each with its
/// OpenAPI description, so the documented answers cannot drift apart.
macro_rules! create_route {
    ($(#[doc = $doc:tt])* $name:ident, $path:tt, $tag:tt, $body:ty) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = $tag,
            params(
                CreateQuery,
                ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters; the same key with the same request answers the first run's report again (`replayed: true`), with another request 422."),
            ),
            request_body(content = $body, content_type = "application/json"),
            responses(
                (status = 201, description = "Created; the run succeeded.", body = ServiceReport,
                    headers(("Location" = String, description = "`/v1/services/{name}`"))),
                (status = 202, description = "Accepted, not created yet: the run has not finished. The replay of a request whose run is still going, or a run that failed for a transient reason (another server won the race for the GitOps repository too long, say) and that the server retries. Follow the run at `Location`.", body = ServiceReport,
                    headers(("Location" = String, description = "`/v1/runs/{id}`"))),
                (status = 200, description = "Dry run: the plan and the files, nothing written.", body = ServiceReport),
                (status = 400, description = "Malformed JSON, a bad query parameter or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "The service (or one of its repositories) already exists.", body = Problem, content_type = "application/problem+json"),
                (status = 413, description = "The body is larger than 64 KiB.", body = Problem, content_type = "application/problem+json"),
                (status = 415, description = "The body is not sent as `application/json`.", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = "Invalid, missing or unknown fields (each named in `errors`), an unknown kind, or a reused Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
                (status = 500, description = "The run failed (its id is in `run`), or the server did.", body = Problem, content_type = "application/problem+json"),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            Query(query): Query<CreateQuery>,
            key: IdempotencyKey,
            Json(input): Json<$body>,
        ) -> Result<Response, ApiError> {
            create(&state, input.into(), query, key).await
        }
    };
}

create_route!(
    /// Create a service: its repository, its infra repository and its GitOps registration.
    create_service, "/v1/services", "services", CreateServiceInput
);
create_route!(
    /// Create a service (the seed's route; `kind`, `name` and `description` are all required).
    create_service_seed, "/create-service", "seed", CreateRepoRequest
);
create_route!(
    /// Create a service (the seed's real route, the same as `POST /create-service`).
    create_repo_seed, "/create-repo", "seed", CreateRepoRequest
);

/// The body of `POST /v1/upgrades`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The service to upgrade; leave it out and set `all` to upgrade every service.
    #[schema(example = "ms-my-microservice")]
    pub service: Option<String>,
    /// Upgrade every service in the inventory.
    #[serde(default)]
    pub all: bool,
    /// `upgrade` (the default), `dry-run` (what would change, nothing written) or `check`
    /// (which repositories are behind, nothing written).
    #[serde(default)]
    pub mode: UpgradeMode,
    /// Answers overriding the recorded ones, checked against the blueprint and recorded.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub set: BTreeMap<String, serde_json::Value>,
}

/// Upgrade one service, or all, to the newest version of their blueprints.
///
/// Each repository's newest render goes onto its `orchestrator/template` branch and is merged
/// into `main` (3-way, the base being the last render main holds); a merge with conflicts is
/// committed on `orchestrator/upgrade-<version>` instead and `main` is left as it was. The
/// report lists every repository: `up-to-date`, `upgraded`, `conflicts` (with the files),
/// `failed` (with the reason) or, in checks and dry runs, `behind`.
#[utoipa::path(
    post,
    path = "/v1/upgrades",
    tag = "upgrades",
    request_body(content = UpgradeRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "A run upgraded what was behind; its report is also at `GET /v1/runs/{id}`.", body = UpgradeReport,
            headers(("Location" = String, description = "`/v1/runs/{id}`"))),
        (status = 200, description = "Nothing was behind, or a dry run or check: nothing written.", body = UpgradeReport),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 64 KiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of `service` and `all`, an unknown field or mode, or a `set` answer the blueprint refuses (each named in `errors`).", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upgrade(State(state): State<AppState>, Json(request): Json<UpgradeRequest>) -> Result<Response, ApiError> {
    let target = UpgradeTarget::parse(request.service, request.all)?;
    let options = UpgradeOptions { mode: request.mode, set: request.set };
    let report = state.runtime().upgrades.upgrade(&target, &options).await?;
    let Some(run) = &report.run else {
        return Ok((StatusCode::OK, axum::Json(report)).into_response());
    };
    created(&run_location(&run.id), report)
}

/// The body of `POST /v1/services/{name}/image`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRequest {
    /// The new image tag: letters, digits, `_`, `.` and `-`, at most 128 characters.
    #[schema(example = "3f2a9c1")]
    pub tag: String,
    /// One environment (`values-<env>.yaml`); absent: every environment (`values.yaml`).
    #[schema(example = "qa")]
    pub env: Option<String>,
}

/// Set a service's image tag in its infra repository, as its CI does after each build.
///
/// One commit changing only the tag line of `values.yaml` (or of `values-<env>.yaml`);
/// comments and order are kept. The same tag again commits nothing (`changed: false`).
#[utoipa::path(
    post,
    path = "/v1/services/{name}/image",
    tag = "services",
    params(("name" = String, Path, description = "The service name."), CreateQuery),
    request_body(content = ImageRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The tag is set (with `dry_run`: the diff of what would be, nothing written).", body = ImageReport),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The values file is missing or its `image` is not a block of keys.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 64 KiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid tag, an unknown environment or field (each named in `errors`).", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn bump_image(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<CreateQuery>,
    Json(request): Json<ImageRequest>,
) -> Result<axum::Json<ImageReport>, ApiError> {
    let dry_run = query.dry_run.unwrap_or(false);
    Ok(axum::Json(state.runtime().edits.bump_image(&name, &request.tag, request.env.as_deref(), dry_run).await?))
}

/// List the provisioned services.
#[utoipa::path(
    get,
    path = "/v1/services",
    tag = "services",
    responses(
        (status = 200, description = "Every provisioned service.", body = Vec<ServiceView>),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_services(State(state): State<AppState>) -> Result<axum::Json<Vec<ServiceView>>, ApiError> {
    Ok(axum::Json(state.runtime().provisioning.services().await?))
}

/// Show one service with its repositories.
#[utoipa::path(
    get,
    path = "/v1/services/{name}",
    tag = "services",
    params(("name" = String, Path, description = "The service name.")),
    responses(
        (status = 200, description = "The service.", body = ServiceView),
        (status = 404, description = "No such service.", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<ServiceView>, ApiError> {
    Ok(axum::Json(state.runtime().provisioning.service(&name).await?))
}

/// List runs, newest first.
#[utoipa::path(
    get,
    path = "/v1/runs",
    tag = "runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "The newest runs.", body = Vec<RunSummary>),
        (status = 400, description = "A bad `limit`.", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_runs(
    State(state): State<AppState>,
    Query(query): Query<RunsQuery>,
) -> Result<axum::Json<Vec<RunSummary>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_RUNS);
    if !(1..=MAX_RUNS).contains(&limit) {
        return Err(ApiError::BadRequest(vec![FieldProblem::new(
            "limit",
            "out-of-range",
            format!("query parameter limit must be between 1 and {MAX_RUNS}"),
        )]));
    }
    Ok(axum::Json(state.runtime().provisioning.runs(limit).await?))
}

/// Show a run: its state and its steps with their attempts, results and errors.
#[utoipa::path(
    get,
    path = "/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The run and its journal.", body = RunView),
        (status = 404, description = "No such run.", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_run(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<RunView>, ApiError> {
    Ok(axum::Json(state.runtime().provisioning.run(&id).await?))
}

/// Retry a run that failed: it resumes from its failed step, in the background.
///
/// Steps that were done stay done, and every step first looks for what it may have done
/// already (a commit carrying the run's trailer), so a retry never makes anything twice. A run
/// that is `pending` or `running` with nobody executing it (its server died, or it waits for
/// a background retry) is resumed now. Follow it at `Location`.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/retry",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 202, description = "The retry started: the run as it stands.", body = RunView,
            headers(("Location" = String, description = "`/v1/runs/{id}`"))),
        (status = 404, description = "No such run.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run is running (`urn:orchestrator:problem:run-running`) or succeeded already (`urn:orchestrator:problem:run-succeeded`).", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry_run(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let view = state.runtime().provisioning.start_retry(&id).await?;
    accepted(&run_location(&view.run.id), view)
}

/// Undo a create-service run: unregister the service, delete the repositories the run made,
/// forget the service.
///
/// The service's own files leave the GitOps repository by a new commit on `main` (its history
/// is never rewritten; the files every service shares stay); the service and infra repositories
/// the run made are deleted; the inventory forgets the service, so its name is free again. The
/// undo is a run of its own, journaled and resumed like any other, and answers once it has
/// stopped. Refused while the run is unfinished, and when someone committed to a repository
/// the run made since (`force` deletes that work too). Undoing a run again answers the first
/// undo (`replayed`).
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/undo",
    tag = "runs",
    params(("id" = String, Path, description = "The create-service run to undo."), UndoQuery),
    responses(
        (status = 200, description = "The undo ran (see `run.state`), or, with `dry_run`, what it would do.", body = UndoReport),
        (status = 400, description = "An unknown or malformed query parameter.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Work was added since (`urn:orchestrator:problem:later-work`, naming the commits), the run is unfinished (`run-running`) or is no create-service run (`not-undoable`).", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn undo_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<UndoQuery>,
) -> Result<axum::Json<UndoReport>, ApiError> {
    let (force, dry_run) = (query.force.unwrap_or(false), query.dry_run.unwrap_or(false));
    Ok(axum::Json(state.runtime().provisioning.undo(&id, force, dry_run).await?))
}

/// List the blueprints (service kinds) and the parameters each asks for.
#[utoipa::path(
    get,
    path = "/v1/kinds",
    tag = "kinds",
    responses(
        (status = 200, description = "The service kinds.", body = Vec<KindView>),
        (status = 500, description = "The server failed (e.g. a configured blueprint does not load).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_kinds(State(state): State<AppState>) -> Result<axum::Json<Vec<KindView>>, ApiError> {
    Ok(axum::Json(state.runtime().provisioning.planner().kinds().await?))
}

/// Liveness: the process answers. Does no I/O.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "Alive.", body = Status))
)]
pub async fn healthz() -> axum::Json<Status> {
    axum::Json(Status { status: "ok".into() })
}

/// Readiness: the store answers and interrupted runs have been resumed.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready.", body = Status),
        (status = 503, description = "Not ready.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Status>, Response> {
    state.runtime().ready().await.map_err(|e| ApiError::NotReady(e).into_response())?;
    Ok(axum::Json(Status { status: "ready".into() }))
}

/// This API's OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object))
)]
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], crate::openapi_json()).into_response()
}

/// Any path without a route.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound { path: uri.path().to_owned() }
}

/// A route that exists, asked with a method it does not accept.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned() }
}
