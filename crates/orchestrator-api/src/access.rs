//! Who may call which route: [`ACCESS`] is the one table of what each route and method needs,
//! and [`authorize`] checks every routed request against it before any handler runs.
//!
//! A route missing from the table needs an admin's token, so a route added without a row is
//! closed, not open (a test checks that every documented route has its row). The token travels
//! only in one `Authorization: Bearer` header: two headers are refused (400), and a request
//! whose query string carries a token is refused (400) without looking it up, since a URL ends
//! up in proxies' logs and browsers' histories.
//!
//! The chart repository's routes ([`Access::Charts`]) also take the token as the password of
//! `Authorization: Basic`, the only credentials Helm, Argo CD and Flux send to an HTTP chart
//! repository; every other route takes a bearer token only.

use crate::AppState;
use crate::problem::{ApiError, FieldProblem};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orchestrator_app::auth::Caller;
use provision_core::Role;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: probes, this API's document, the seed's health check, and the seed's legacy
    /// delete (off unless configured, with its own rule).
    Public,
    /// A token of at least this role.
    Role(Role),
    /// The chart repository: a reader's token, as `Bearer` or as the password of `Basic` (any
    /// user name); nothing when `[charts] public = true`.
    Charts,
}

use Access::{Charts, Public, Role as Needs};

/// Every route and method with what it needs.
pub const ACCESS: &[(&str, &str, Access)] = &[
    ("/healthz", "GET", Public),
    ("/readyz", "GET", Public),
    ("/openapi.json", "GET", Public),
    ("/api/healthcheck", "GET", Public),
    ("/api/delete", "POST", Public),
    ("/metrics", "GET", Needs(Role::Reader)),
    ("/v1/services", "GET", Needs(Role::Reader)),
    ("/v1/services/{name}", "GET", Needs(Role::Reader)),
    ("/v1/runs", "GET", Needs(Role::Reader)),
    ("/v1/runs/{id}", "GET", Needs(Role::Reader)),
    ("/v1/kinds", "GET", Needs(Role::Reader)),
    ("/v1/workspaces", "GET", Needs(Role::Reader)),
    ("/v1/workspaces/{name}", "GET", Needs(Role::Reader)),
    ("/charts/index.yaml", "GET", Charts),
    ("/charts/{file}", "GET", Charts),
    ("/v1/services", "POST", Needs(Role::Member)),
    ("/create-service", "POST", Needs(Role::Member)),
    ("/create-repo", "POST", Needs(Role::Member)),
    ("/v1/services/{name}/image", "POST", Needs(Role::Member)),
    ("/v1/runs/{id}/retry", "POST", Needs(Role::Member)),
    // Deletes repositories: an admin's call.
    ("/v1/runs/{id}/undo", "POST", Needs(Role::Admin)),
    ("/v1/workspaces", "POST", Needs(Role::Member)),
    ("/v1/workspaces/{name}", "DELETE", Needs(Role::Member)),
    ("/api/request", "POST", Needs(Role::Member)),
    ("/v1/upgrades", "POST", Needs(Role::Admin)),
];

/// What `method` on `route` (a matched pattern) needs: its row, or an admin's token for a route
/// without one. `HEAD` needs what `GET` does.
pub fn required(route: &str, method: &Method) -> Access {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    ACCESS.iter().find(|(r, m, _)| *r == route && *m == method).map_or(Needs(Role::Admin), |(_, _, access)| *access)
}

/// Checks a routed request: one `Authorization` header at most, no token in the query, and a
/// token whose role allows the route (unless it is public, or authentication is disabled and
/// no token is sent). The caller it proves goes into the request's extensions for
/// [`Authenticated`].
pub async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match check(&state, &mut request).await {
        Ok(()) => next.run(request).await,
        Err((e, needed)) => {
            let mut response = e.into_response();
            if needed == Charts && response.status() == axum::http::StatusCode::UNAUTHORIZED {
                // Helm and browsers answer this challenge with the Basic carrier.
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"charts\""));
            }
            response
        }
    }
}

async fn check(state: &AppState, request: &mut Request) -> Result<(), (ApiError, Access)> {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let needed = match route {
        Some(route) => required(&route, request.method()),
        None => Needs(Role::Admin),
    };
    check_needed(state, request, needed).await.map_err(|e| (e, needed))
}

async fn check_needed(state: &AppState, request: &mut Request, needed: Access) -> Result<(), ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let authorization = values.next();
    if values.next().is_some() {
        return Err(ApiError::BadRequest(vec![FieldProblem::new(
            "Authorization",
            "duplicate-header",
            "Authorization must be sent once",
        )]));
    }
    if let Some(query) = request.uri().query()
        && carries_token(query)
    {
        return Err(ApiError::BadRequest(vec![FieldProblem::new(
            "query",
            "token-in-query",
            "tokens are not accepted in the URL, which proxies and histories keep: send `Authorization: Bearer \
             <token>`, and revoke a token that was sent in a URL",
        )]));
    }
    let (role, basic) = match needed {
        Public => return Ok(()),
        Charts if state.runtime().config().charts.public => return Ok(()),
        Charts => (Role::Reader, true),
        Needs(role) => (role, false),
    };
    // A header that is not text is no token; the app refuses it as not `Bearer <token>`.
    let authorization = authorization.map(|v| v.to_str().unwrap_or_default());
    let carried = match authorization.and_then(basic_password) {
        Some(password) if basic => Some(format!("Bearer {password}")),
        _ => None,
    };
    let authorization = carried.as_deref().or(authorization);
    if let Some(caller) = state.runtime().auth.authorize(authorization, role).await? {
        request.extensions_mut().insert(caller);
    }
    Ok(())
}

/// The password of `Authorization: Basic base64(user:password)` (RFC 7617; the scheme's name
/// in any case), if the header is one; a Basic header that does not decode carries no
/// password, so it stays a header the app refuses.
fn basic_password(authorization: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, credentials) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(credentials.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_user, password) = text.split_once(':')?;
    Some(password.to_owned())
}

/// Query parameter names clients use for credentials.
const CREDENTIAL_PARAMETERS: &[&str] = &["access_token", "token", "bearer", "api_key", "apikey", "authorization"];

/// Whether a query string holds a credential: a parameter named like one, or a value holding
/// a token's prefix (`orc_`), raw or percent-encoded.
fn carries_token(query: &str) -> bool {
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().to_ascii_lowercase();
        CREDENTIAL_PARAMETERS.contains(&decoded(name).as_str())
            || decoded(value).contains(orchestrator_app::auth::tokens::PREFIX)
    })
}

/// The caller a route acts for: the holder of the request's token. Routes that act for a person
/// (workspaces) need one even when authentication is disabled.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(Authenticated(caller.clone()));
        }
        // Only with authentication disabled and no token sent: this route still needs one.
        let authorization = parts.headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default());
        Ok(Authenticated(state.runtime().auth.authenticate(authorization).await?))
    }
}

/// Writes the table into the OpenAPI document: each operation's security (none for public
/// ones, the bearer token otherwise), the role it needs in its description, and the answers
/// every protected operation may give: 400 (two `Authorization` headers, a token in the query),
/// 401 and 403.
pub struct Documented;

impl utoipa::Modify for Documented {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::DELETE, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
                let (security, needs, unauthorized) = match required(path, &method) {
                    Public => {
                        operation.security = Some(Vec::new());
                        continue;
                    }
                    Needs(role) => {
                        (vec![bearer], format!("Needs a token of role `{role}` or above."), "No valid bearer token.")
                    }
                    Charts => (
                        vec![bearer, SecurityRequirement::new("basic", Vec::<String>::new())],
                        format!(
                            "Needs a token of role `{}` or above, as `Bearer` or as the password of `Basic` (any user name, as \
                             `helm repo add --username x --password <token>` sends it); none when `[charts] public = true`.",
                            Role::Reader
                        ),
                        "No valid token, as bearer or as the Basic password.",
                    ),
                };
                operation.security = Some(security);
                operation.description =
                    Some(operation.description.take().map_or(needs.clone(), |d| format!("{d}\n\n{needs}")));
                let answers = &mut operation.responses.responses;
                for (status, description) in [
                    ("400", "Two `Authorization` headers, or a token in the query string."),
                    ("401", unauthorized),
                    ("403", "The token's role does not allow this."),
                ] {
                    answers.entry(status.to_owned()).or_insert_with(|| crate::problem_response(description));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_without_a_row_needs_an_admin_and_head_is_get() {
        assert_eq!(required("/v1/new-thing", &Method::POST), Needs(Role::Admin));
        assert_eq!(required("/v1/services", &Method::PUT), Needs(Role::Admin));
        assert_eq!(required("/healthz", &Method::HEAD), Public);
        assert_eq!(required("/v1/runs", &Method::HEAD), Needs(Role::Reader));
        assert_eq!(required("/charts/{file}", &Method::HEAD), Charts);
    }

    #[test]
    fn a_basic_header_carries_its_password() {
        use base64::Engine as _;
        let basic = |text: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text));
        assert_eq!(basic_password(&basic("helm:orc_1_secret")).as_deref(), Some("orc_1_secret"));
        assert_eq!(basic_password(&basic(":orc_1_se:cret")).as_deref(), Some("orc_1_se:cret"));
        assert_eq!(basic_password(&basic("x:orc").replace("Basic", "bAsIc")).as_deref(), Some("orc"));
        assert_eq!(basic_password(&basic("no colon")), None);
        assert_eq!(basic_password("Basic !!!"), None);
        assert_eq!(basic_password("Bearer orc_1_secret"), None);
        assert_eq!(basic_password("Basic"), None);
    }

    #[test]
    fn credentials_in_the_query_are_recognised() {
        for query in [
            "access_token=abc",
            "limit=5&token=x",
            "ACCESS_TOKEN=x",
            "a=orc_0123456789ab_ff",
            "a=%6Frc_0123",
            "Authorization=Bearer%20x",
        ] {
            assert!(carries_token(query), "{query}");
        }
        for query in ["limit=5", "dry_run=true", "all=true", "tokenizer=1", ""] {
            assert!(!carries_token(query), "{query}");
        }
    }
}
