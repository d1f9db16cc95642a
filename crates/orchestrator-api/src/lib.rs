//! The orchestrator's HTTP API: decode a request, call a capability of the
//! [`orchestrator_app::Runtime`], encode the answer. Thin by design: every rule lives in the
//! application.
//!
//! [`router`] builds the whole service, so tests drive it without a socket
//! (`tower::ServiceExt::oneshot`). Every error answer is `application/problem+json` (RFC 9457):
//! an application error's kind maps to its status in one place ([`problem::status_of`]); no
//! client input yields a 5xx. The JSON types are this crate's (module [`wire`] names them all);
//! the command line's remote mode reads them with the same types.

pub mod access;
pub mod charts;
pub mod extract;
pub mod limits;
pub mod problem;
pub mod routes;
pub mod serve;
pub mod wire;
pub mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orchestrator_app::Runtime;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi as _;

use access::Documented;
pub use extract::BODY_LIMIT;
pub use limits::Limits;
pub use problem::{ApiError, PROBLEM_JSON, Problem};

/// What every handler shares: the runtime, the counts of requests answered, and the limits
/// requests are held to.
#[derive(Clone)]
pub struct AppState {
    runtime: Arc<Runtime>,
    requests: Arc<RequestCounts>,
    limits: Limits,
}

/// Requests answered, by route (the matched pattern, never the raw path), method and status.
/// Every label comes from a closed set, so no client can make new series: a route is one of
/// the router's patterns or `unmatched`, a method one of [`METHODS`] or `other`.
#[derive(Debug, Default)]
pub struct RequestCounts(std::sync::Mutex<std::collections::BTreeMap<(String, &'static str, u16), u64>>);

/// The methods counted by name in the metrics; any other is counted as `other`.
pub const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];

/// A method as a metrics label: its name if it is one of [`METHODS`], else `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    METHODS.iter().copied().find(|known| *known == method.as_str()).unwrap_or("other")
}

impl RequestCounts {
    fn add(&self, route: &str, method: &'static str, status: u16) {
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry((route.to_owned(), method, status)).or_default() += 1;
    }

    fn samples(&self) -> Vec<(String, u64)> {
        let counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts
            .iter()
            .map(|((route, method, status), n)| {
                let route = orchestrator_app::metrics::label(route);
                (format!("route=\"{route}\",method=\"{method}\",status=\"{status}\""), *n)
            })
            .collect()
    }
}

impl AppState {
    pub fn new(runtime: Arc<Runtime>) -> Self {
        AppState { runtime, requests: Arc::default(), limits: Limits::default() }
    }

    /// The same state, holding requests to `limits` instead of the defaults.
    pub fn with_limits(self, limits: Limits) -> Self {
        AppState { limits, ..self }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }
}

/// The whole API as one service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/create-service", post(routes::create_service_seed))
        .route("/create-repo", post(routes::create_repo_seed))
        .route("/v1/services", post(routes::create_service).get(routes::list_services))
        .route("/v1/services/{name}", get(routes::get_service))
        .route("/v1/services/{name}/image", post(routes::bump_image))
        .route("/v1/upgrades", post(routes::upgrade))
        .route("/v1/runs", get(routes::list_runs))
        .route("/v1/runs/{id}", get(routes::get_run))
        .route("/v1/runs/{id}/retry", post(routes::retry_run))
        .route("/v1/runs/{id}/undo", post(routes::undo_run))
        .route("/v1/kinds", get(routes::list_kinds))
        .route("/v1/workspaces", post(workspaces::create).get(workspaces::list))
        .route("/v1/workspaces/{name}", get(workspaces::show).delete(workspaces::delete))
        .route("/api/request", post(workspaces::seed_request))
        .route("/api/delete", post(workspaces::seed_delete))
        .route("/api/healthcheck", get(workspaces::seed_health))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/openapi.json", get(routes::openapi))
        .route("/metrics", get(metrics))
        .route("/charts/index.yaml", get(charts::index))
        .route("/charts/{file}", get(charts::file))
        // Every routed request is checked against the access table before its handler runs.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), access::authorize))
        // Must follow the routes: it applies to those already added.
        .method_not_allowed_fallback(routes::method_not_allowed)
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.limits, limits::enforce))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_request))
        .layer(axum::middleware::map_response(ensure_problem))
        .layer(CatchPanicLayer::custom(panic_problem))
        .layer(
            // Method, path and status only: never headers (Authorization), query strings
            // (which may hold secrets sent by mistake) or bodies.
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).include_headers(false)),
        )
        .with_state(state)
}

/// The span every request is logged in: its method and path, never its query or headers.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Counts every answer by its matched route (`unmatched` for none), method (`other` for one
/// not in [`METHODS`]) and status.
async fn count_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    state.requests.add(&route, method, response.status().as_u16());
    response
}

/// Metrics in the Prometheus text format: requests by route, method and status; runs by
/// state; workspaces by phase; reconcile durations; e-mails sent.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4.", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String))
)]
pub async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let mut text = state.runtime.metrics_text().await;
    orchestrator_app::metrics::family(
        &mut text,
        "orchestrator_http_requests_total",
        "counter",
        "Requests answered, by route, method and status.",
        &state.requests.samples(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// A last guard: an error answer that some layer made without a problem body gets one, so
/// clients never see another error shape.
async fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let mut replaced = problem::problem(status, "http", title, title.to_lowercase()).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().append(name, value.clone());
        }
    }
    replaced
}

/// A panic in a handler is a bug: answer 500 and log it (the payload says where).
fn panic_problem(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "handler panicked");
    ApiError::Panic.problem().into_response()
}

/// The OpenAPI document of this API.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Orchestrator API",
        description = "Provision services: repositories rendered from blueprints, Helm values and GitOps registration, recorded as resumable runs. Every error answer is `application/problem+json` (RFC 9457).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::create_service,
        routes::list_services,
        routes::get_service,
        routes::bump_image,
        routes::upgrade,
        routes::create_service_seed,
        routes::create_repo_seed,
        routes::list_runs,
        routes::get_run,
        routes::retry_run,
        routes::undo_run,
        routes::list_kinds,
        routes::healthz,
        routes::readyz,
        routes::openapi,
        metrics,
        workspaces::create,
        workspaces::list,
        workspaces::show,
        workspaces::delete,
        workspaces::seed_request,
        workspaces::seed_delete,
        workspaces::seed_health,
        charts::index,
        charts::file,
    ),
    components(schemas(
        problem::Problem,
        problem::FieldProblem,
        routes::CreateRepoRequest,
        routes::UpgradeRequest,
        routes::ImageRequest,
        routes::Status,
        workspaces::WorkspaceResponse,
        workspaces::SeedRequest,
        workspaces::SeedSpecification,
        workspaces::SeedDelete
    )),
    modifiers(&BearerAuth, &Documented, &Answers),
    tags(
        (name = "services", description = "Create and list services."),
        (name = "seed", description = "The seed's routes, kept for its clients."),
        (name = "upgrades", description = "Upgrade services to the newest version of their blueprints."),
        (name = "runs", description = "Runs and their journals."),
        (name = "kinds", description = "Blueprints (service kinds)."),
        (name = "health", description = "Probes and this document."),
        (name = "workspaces", description = "Developers' boxes on Kubernetes (bearer token)."),
        (name = "charts", description = "The chart repository in Helm's repository format (`helm repo add <url>/charts`)."),
    )
)]
pub struct ApiDoc;

/// Declares the security schemes: `bearer` for every protected route, and `basic`, which the
/// chart repository's routes also take (the token as the password).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `orchestrator token create`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The chart repository only: any user name, a token from `orchestrator token create` as the \
                         password (what `helm repo add --username --password` sends).",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the answers every operation of a shape may give, so no handler's annotation can
/// forget one: a JSON body may be malformed (400), slow (408), too large (413), of another media
/// type (415) or invalid (422); a path parameter may name nothing (404); a query may be bad (400); a
/// workspace route may find workspaces not configured or the cluster unreachable (503).
struct Answers;

impl utoipa::Modify for Answers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for (path, item) in &mut openapi.paths.paths {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let parameters = operation.parameters.as_deref().unwrap_or_default();
                let located = |place: ParameterIn| {
                    parameters.iter().any(|p| matches!(p, utoipa::openapi::RefOr::T(p) if p.parameter_in == place))
                };
                let mut answers: Vec<(&str, &str)> = Vec::new();
                if operation.request_body.is_some() {
                    answers.extend([
                        ("400", "Malformed JSON, or a bad header or query parameter."),
                        ("408", "The body did not arrive within the body timeout."),
                        ("413", "The body is larger than the limit."),
                        ("415", "The body is not sent as `application/json`."),
                        ("422", "Invalid, missing or unknown fields, each named in `errors`."),
                    ]);
                }
                if located(ParameterIn::Path) {
                    answers.push(("404", "Nothing of that name."));
                }
                if located(ParameterIn::Query) || located(ParameterIn::Header) {
                    answers.push(("400", "A bad query parameter or header."));
                }
                let is_workspace_route = operation.tags.iter().flatten().any(|t| t == "workspaces");
                if is_workspace_route && path != "/api/healthcheck" {
                    answers.push(("503", "Workspaces are not configured here, or the cluster cannot be reached."));
                }
                for (status, description) in answers {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem_response(description));
                }
            }
        }
    }
}

/// A documented answer of `application/problem+json`.
fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build().into()
}

/// The OpenAPI document as pretty JSON, the same on every call (`docs/openapi.json` holds it;
/// `cargo xtask codegen` writes it).
pub fn openapi_json() -> String {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut text = ApiDoc::openapi().to_pretty_json().expect("an OpenAPI document of plain data serializes");
        text.push('\n');
        text
    });
    DOCUMENT.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_a_generic_server_problem() {
        let response = panic_problem(Box::new(String::from("index out of bounds: secret detail")));
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some(PROBLEM_JSON));
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }

    #[tokio::test]
    async fn a_bare_error_answer_becomes_a_problem() {
        let bare =
            (axum::http::StatusCode::IM_A_TEAPOT, [(header::RETRY_AFTER, "5")], "short and stout").into_response();
        let response = ensure_problem(bare).await;
        assert_eq!(response.status(), axum::http::StatusCode::IM_A_TEAPOT);
        assert_eq!(response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some(PROBLEM_JSON));
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("5"));
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 418);
    }
}
