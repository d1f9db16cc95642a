//! Workspace routes: `/v1/workspaces` (bearer token), and the seed's `/api/request`,
//! `/api/delete` (only when enabled) and `/api/healthcheck`.

use crate::access::Authenticated;
use crate::extract::{Json, Path, Query};
use crate::{ApiError, AppState, Problem};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use orchestrator_app::workspaces::{AmountInput, SeedInput, WorkspaceInput, Workspaces, workspace_name};
use provision_core::workspace::{Workspace, WorkspacePhase};
use provision_core::{Bytes, Cpu};
use serde::{Deserialize, Serialize};

/// The workspaces capability, or 503 with why this server has none.
fn workspaces(state: &AppState) -> Result<&Workspaces, ApiError> {
    Ok(state.runtime().workspaces()?)
}

/// A workspace as the API shows it (and the command line prints it, through the API or not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkspaceResponse {
    /// The name to address it by: `<owner>-<name>-<hash>`.
    pub name: String,
    /// The name its owner gave it.
    pub display_name: String,
    pub owner: String,
    pub user: String,
    /// `Pending`, `Provisioning`, `Ready`, `Failed` or `Deleting`.
    #[schema(value_type = String)]
    pub phase: WorkspacePhase,
    /// CPU (`500m`, `2`), requested and the limit.
    #[schema(value_type = String)]
    pub cpu: Cpu,
    /// Memory (`4Gi`), requested and the limit.
    #[schema(value_type = String)]
    pub memory: Bytes,
    /// The home volume's size (`20Gi`).
    #[schema(value_type = String)]
    pub storage: Bytes,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_host: Option<String>,
    /// `ssh -p <port> <user>@<host>`, once it can be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<Timestamp>,
    /// Where to follow it: `/v1/workspaces/<name>`.
    pub status_url: String,
}

impl From<Workspace> for WorkspaceResponse {
    fn from(w: Workspace) -> Self {
        WorkspaceResponse {
            status_url: format!("/v1/workspaces/{}", w.name),
            name: w.name.to_string(),
            display_name: w.short.to_string(),
            owner: w.owner.to_string(),
            user: w.user,
            phase: w.status.phase,
            cpu: w.cpu,
            memory: w.memory,
            storage: w.storage,
            image: w.image,
            node_port: w.status.node_port,
            access_host: w.status.access_host,
            access_command: w.status.access_command,
            message: w.status.message,
            created_at: w.status.created_at,
        }
    }
}

/// `202 Accepted` with the workspace and its `Location`: the cluster makes it asynchronously.
fn accepted(view: Workspace) -> Response {
    let response = WorkspaceResponse::from(view);
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&response.status_url) {
        headers.insert(header::LOCATION, location);
    }
    (StatusCode::ACCEPTED, headers, axum::Json(response)).into_response()
}

/// Ask for a workspace.
///
/// The address's domain must be in the allowlist (exactly), and be the caller's own unless the
/// caller is an admin; the SSH key must be ed25519, ecdsa or rsa of 2048 bits or more; CPU,
/// memory and storage must be within the bounds and the owner's quota. Every problem is named.
#[utoipa::path(
    post,
    path = "/v1/workspaces",
    tag = "workspaces",
    request_body(content = WorkspaceInput, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Asked for; follow `status_url`.", body = WorkspaceResponse),
        (status = 401, description = "No valid bearer token.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller has a workspace of that name.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or over quota (each named in `errors`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Workspaces are not configured here.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(input): Json<WorkspaceInput>,
) -> Result<Response, ApiError> {
    Ok(accepted(workspaces(&state)?.create_workspace(&caller, &input).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Everyone's (admins only; ignored for others).
    #[serde(default)]
    pub all: bool,
}

/// The caller's workspaces (an admin's `?all=true`: everyone's).
#[utoipa::path(
    get,
    path = "/v1/workspaces",
    tag = "workspaces",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workspaces.", body = Vec<WorkspaceResponse>),
        (status = 401, description = "No valid bearer token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Vec<WorkspaceResponse>>, ApiError> {
    let all = workspaces(&state)?.workspaces(&caller, query.all).await?;
    Ok(axum::Json(all.into_iter().map(WorkspaceResponse::from).collect()))
}

/// One workspace: phase, node port, access command. Another person's is 404, as if it did not
/// exist.
#[utoipa::path(
    get,
    path = "/v1/workspaces/{name}",
    tag = "workspaces",
    params(("name" = String, Path, description = "The workspace's name, or the name its owner gave it (looked up among the caller's own).")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workspace.", body = WorkspaceResponse),
        (status = 401, description = "No valid bearer token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workspace of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<axum::Json<WorkspaceResponse>, ApiError> {
    let name = workspace_name(&name)?;
    Ok(axum::Json(workspaces(&state)?.workspace(&caller, &name).await?.into()))
}

/// Delete a workspace and everything it owns (its home volume included).
#[utoipa::path(
    delete,
    path = "/v1/workspaces/{name}",
    tag = "workspaces",
    params(("name" = String, Path, description = "The workspace's name, or the name its owner gave it (looked up among the caller's own).")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Deleting.", body = WorkspaceResponse),
        (status = 401, description = "No valid bearer token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workspace of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = workspace_name(&name)?;
    Ok(accepted(workspaces(&state)?.delete_workspace(&caller, &name).await?))
}

/// The seed's request body: RAM in GiB, CPU in cores, each a number or a numeric string.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedRequest {
    #[serde(rename = "Email")]
    pub email: String,
    #[serde(rename = "Specification")]
    pub specification: SeedSpecification,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedSpecification {
    /// GiB: a number, or the number written as a string (`"2"`, `"0.5"`), without a unit.
    #[serde(rename = "RAM")]
    pub ram: AmountInput,
    /// Cores: a number, or the number written as a string (`"1"`, `"0.5"`), without a unit.
    #[serde(rename = "CPU")]
    pub cpu: AmountInput,
    #[serde(rename = "PublicKey")]
    pub public_key: String,
}

/// The seed's `POST /api/request`, with the same checks as `POST /v1/workspaces` (a bearer
/// token included); the workspace is named `default`.
#[utoipa::path(
    post,
    path = "/api/request",
    tag = "workspaces",
    request_body(content = SeedRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Asked for.", body = WorkspaceResponse),
        (status = 401, description = "No valid bearer token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or over quota.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn seed_request(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(request): Json<SeedRequest>,
) -> Result<Response, ApiError> {
    let input = SeedInput {
        email: request.email,
        ram: request.specification.ram,
        cpu: request.specification.cpu,
        public_key: request.specification.public_key,
    };
    Ok(accepted(workspaces(&state)?.create_seed_workspace(&caller, &input).await?))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedDelete {
    #[serde(rename = "Email")]
    pub email: String,
}

/// The seed's unauthenticated `POST /api/delete`: only when `workspaces.legacy_delete` is on
/// (404 otherwise), and only for an address holding a confirmed token (one that was used).
#[utoipa::path(
    post,
    path = "/api/delete",
    tag = "workspaces",
    request_body(content = SeedDelete, content_type = "application/json"),
    responses(
        (status = 200, description = "The workspaces deleted.", body = Vec<WorkspaceResponse>),
        (status = 401, description = "The address has no confirmed token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not enabled.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn seed_delete(
    State(state): State<AppState>,
    Json(request): Json<SeedDelete>,
) -> Result<axum::Json<Vec<WorkspaceResponse>>, ApiError> {
    let deleted = workspaces(&state)?.legacy_delete(&request.email).await?;
    Ok(axum::Json(deleted.into_iter().map(WorkspaceResponse::from).collect()))
}

/// The seed's health check.
#[utoipa::path(get, path = "/api/healthcheck", tag = "workspaces", responses((status = 200, description = "Serving.")))]
pub async fn seed_health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
