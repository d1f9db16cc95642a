//! `orchestrator workspace --api URL`: the workspace commands as a client of the orchestrator
//! API (`/v1/workspaces`) with a bearer token, turning its answers into the views direct mode
//! prints and its `problem+json` answers into errors that say what to fix.
//!
//! The token is held in a [`Token`], which no `Debug`, error or log shows.

use orchestrator_api::wire::{Problem, WorkspaceInput, WorkspaceResponse};
use orchestrator_app::error::ErrorKind;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable holding the token (there is no flag: it would show in the process list).
pub const TOKEN_ENV: &str = "ORCHESTRATOR_TOKEN";
/// How long connecting may take before the API counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole call may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read: thousands of workspaces fit; a runaway answer does not fill memory.
const MAX_ANSWER: usize = 16 << 20;

/// A bearer token. `Debug` shows `***`; the text leaves only in the `Authorization` header.
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// The token from `file` (when given, it wins) or from `env` ($ORCHESTRATOR_TOKEN), with
    /// surrounding whitespace trimmed.
    pub fn load(env: Option<std::ffi::OsString>, file: Option<&Path>) -> Result<Token, Error> {
        let text = match (file, env) {
            (Some(path), _) => {
                let bytes = std::fs::read(path).map_err(|source| Error::TokenFile { path: path.to_owned(), source })?;
                String::from_utf8(bytes).map_err(|_| Error::TokenText { from: path.display().to_string() })?
            }
            (None, Some(value)) => value.into_string().map_err(|_| Error::TokenText { from: TOKEN_ENV.to_owned() })?,
            (None, None) => return Err(Error::NoToken),
        };
        let token = text.trim();
        if token.is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            let from = file.map_or_else(|| TOKEN_ENV.to_owned(), |p| p.display().to_string());
            return Err(Error::TokenText { from });
        }
        Ok(Token(token.to_owned()))
    }
}

/// `--api`'s value: an http(s) URL, possibly with a path prefix, holding no credentials.
pub fn parse_api_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("expected an http:// or https:// URL, like https://orchestrator.example.com".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("the URL must hold no credentials; give the token in {TOKEN_ENV} or --token-file"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must have no query or fragment".into());
    }
    Ok(url)
}

/// Why a command against the API failed.
#[derive(Debug)]
pub enum Error {
    /// Neither $ORCHESTRATOR_TOKEN nor a token file.
    NoToken,
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Empty, not UTF-8, or not sendable in a header; `from` is where it came from.
    TokenText {
        from: String,
    },
    /// The HTTP client cannot be made (no TLS roots, say).
    Client(reqwest::Error),
    /// No connection could be made (refused, no such host, a TLS failure, connect timeout).
    Unreachable {
        api: Url,
        source: reqwest::Error,
    },
    /// Connected, but no complete answer in time or the connection broke.
    NoAnswer {
        api: Url,
        source: reqwest::Error,
    },
    /// The server's refusal or failure, with its problem when it sent one.
    Answered {
        status: StatusCode,
        problem: Option<Box<Problem>>,
    },
    /// A redirect: `--api` names the wrong address.
    Redirected {
        api: Url,
        status: StatusCode,
        location: String,
    },
    /// A success answer this client does not understand.
    Unexpected {
        api: Url,
        status: StatusCode,
        reason: String,
    },
    /// A name no request can address (`.` and `..` are dropped from URL paths).
    NoSuchName(String),
    /// `list --email`, which only direct mode has.
    EmailFilter,
}

/// The address as people write it: without the `/` a URL parser adds to a bare host.
fn shown(api: &Url) -> &str {
    api.as_str().trim_end_matches('/')
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoToken => write!(
                f,
                "--api needs a token: set {TOKEN_ENV}, or pass --token-file PATH (or set ORCHESTRATOR_TOKEN_FILE) \
                 naming a file that holds it; an operator issues one with `orchestrator token create --email ADDRESS`"
            ),
            Error::TokenFile { path, .. } => write!(f, "cannot read the token file {}", path.display()),
            Error::TokenText { from } => {
                write!(f, "the token in {from} is empty or not text an HTTP header can carry (the token is not shown)")
            }
            Error::Client(_) => f.write_str("cannot make an HTTP client"),
            Error::Unreachable { api, .. } => write!(f, "cannot reach the orchestrator API at {}", shown(api)),
            Error::NoAnswer { api, .. } => {
                write!(f, "no complete answer from the orchestrator API at {} within {TIMEOUT:?}", shown(api))
            }
            Error::Answered { status, problem } => {
                write!(f, "the orchestrator API answered {status}")?;
                let Some(problem) = problem else { return Ok(()) };
                // With field problems the detail only sums them up; they follow one a line.
                let detail = if problem.errors.is_empty() { problem.detail.as_str() } else { "" };
                for text in [problem.title.as_str(), detail].into_iter().filter(|t| !t.is_empty()) {
                    write!(f, ": {text}")?;
                }
                for p in &problem.errors {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
            Error::Redirected { api, status, location } => write!(
                f,
                "the orchestrator API at {} answered {status}, redirecting to {location}: give --api the address the API is served at",
                shown(api)
            ),
            Error::Unexpected { api, status, reason } => {
                write!(f, "the orchestrator API at {} answered {status} with {reason}", shown(api))
            }
            Error::NoSuchName(name) => write!(f, "workspace {name:?} does not exist"),
            Error::EmailFilter => f.write_str(
                "`list --email` works only directly on the cluster, without --api; through the API, `list` shows \
                 the token owner's workspaces and, with an admin's token, `list --all` everyone's",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::TokenFile { source, .. } => Some(source),
            Error::Client(source) => Some(source),
            Error::Unreachable { source, .. } | Error::NoAnswer { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    /// The problem the API answered with, which carries its own classification.
    pub fn answered(&self) -> Option<&Problem> {
        match self {
            Error::Answered { problem: Some(problem), .. } => Some(problem.as_ref()),
            _ => None,
        }
    }

    /// The kind of a failure the API did not classify: what the user must change (the token,
    /// the address, the name) is invalid input; an API that cannot be reached or answers
    /// "later" is unavailable; anything else is a failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoToken | Error::TokenText { .. } | Error::Redirected { .. } | Error::EmailFilter => {
                ErrorKind::Invalid
            }
            Error::NoSuchName(_) => ErrorKind::NotFound,
            Error::Unreachable { .. } | Error::NoAnswer { .. } => ErrorKind::Unavailable,
            Error::Answered { status, .. } => match *status {
                StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
                StatusCode::FORBIDDEN => ErrorKind::Forbidden,
                StatusCode::NOT_FOUND => ErrorKind::NotFound,
                StatusCode::CONFLICT => ErrorKind::Conflict,
                StatusCode::REQUEST_TIMEOUT
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => ErrorKind::Unavailable,
                s if s.is_client_error() => ErrorKind::Invalid,
                _ => ErrorKind::Internal,
            },
            Error::TokenFile { .. } | Error::Client(_) | Error::Unexpected { .. } => ErrorKind::Internal,
        }
    }

    /// The code of a failure the API did not classify.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoToken | Error::TokenText { .. } | Error::TokenFile { .. } => "token",
            Error::Redirected { .. } | Error::Unreachable { .. } | Error::NoAnswer { .. } => "api-unreachable",
            Error::NoSuchName(_) => "not-found",
            Error::EmailFilter => "usage",
            Error::Answered { .. } | Error::Client(_) | Error::Unexpected { .. } => "api-answer",
        }
    }
}

/// Calls the API at one address as the holder of one token.
pub struct Client {
    http: reqwest::Client,
    api: Url,
    authorization: HeaderValue,
}

impl Client {
    pub fn new(api: Url, token: &Token) -> Result<Client, Error> {
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", token.0)).expect("Token::load keeps only header-safe text");
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .user_agent(concat!("orchestrator/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            // A redirect means --api is wrong; following it could send the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Client)?;
        Ok(Client { http, api, authorization })
    }

    /// `POST /v1/workspaces`.
    pub async fn create(&self, input: &WorkspaceInput) -> Result<WorkspaceResponse, Error> {
        let body = serde_json::to_vec(input).expect("strings and numbers serialize");
        self.call(Method::POST, self.url(None)?, Some(body)).await
    }

    /// `GET /v1/workspaces` (`?all=true`: everyone's, when the token is an admin's).
    pub async fn list(&self, all: bool) -> Result<Vec<WorkspaceResponse>, Error> {
        let mut url = self.url(None)?;
        if all {
            url.query_pairs_mut().append_pair("all", "true");
        }
        self.call(Method::GET, url, None).await
    }

    /// `GET /v1/workspaces/{name}`.
    pub async fn show(&self, name: &str) -> Result<WorkspaceResponse, Error> {
        self.call(Method::GET, self.url(Some(name))?, None).await
    }

    /// `DELETE /v1/workspaces/{name}`.
    pub async fn delete(&self, name: &str) -> Result<WorkspaceResponse, Error> {
        self.call(Method::DELETE, self.url(Some(name))?, None).await
    }

    /// `{api}/v1/workspaces[/{name}]`, the name percent-encoded as one path segment.
    fn url(&self, name: Option<&str>) -> Result<Url, Error> {
        if let Some(name @ ("" | "." | "..")) = name {
            return Err(Error::NoSuchName(name.to_owned()));
        }
        let mut url = self.api.clone();
        {
            let mut segments =
                url.path_segments_mut().expect("parse_api_url takes only http(s) URLs, which have paths");
            segments.pop_if_empty().extend(["v1", "workspaces"]);
            if let Some(name) = name {
                segments.push(name);
            }
        }
        Ok(url)
    }

    async fn call<T: FromAnswer>(&self, method: Method, url: Url, body: Option<Vec<u8>>) -> Result<T, Error> {
        tracing::debug!(%method, %url, "calling the orchestrator API");
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json, application/problem+json");
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let api = || self.api.clone();
        let mut response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Error::Unreachable { api: api(), source: e.without_url() }
            } else {
                Error::NoAnswer { api: api(), source: e.without_url() }
            }
        })?;
        let status = response.status();
        tracing::debug!(%status, "the orchestrator API answered");
        if status.is_redirection() {
            let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("nowhere");
            return Err(Error::Redirected { api: api(), status, location: location.to_owned() });
        }
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"));
        let mut bytes = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| Error::NoAnswer { api: api(), source: e.without_url() })?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_ANSWER {
                let reason = format!("an answer larger than {MAX_ANSWER} bytes");
                return Err(Error::Unexpected { api: api(), status, reason });
            }
        }
        if !status.is_success() {
            // Any JSON error answer is read as a problem; one that is not says only its status.
            let problem = if json { serde_json::from_slice::<Problem>(&bytes).ok().map(Box::new) } else { None };
            return Err(Error::Answered { status, problem });
        }
        let unexpected = |reason: String| Error::Unexpected { api: api(), status, reason };
        if !json {
            return Err(unexpected("an answer that is not JSON: is --api the orchestrator API?".to_owned()));
        }
        T::from_answer(&bytes).map_err(unexpected)
    }
}

/// What a successful answer's JSON becomes: the API's own wire types.
trait FromAnswer: Sized {
    fn from_answer(bytes: &[u8]) -> Result<Self, String>;
}

impl FromAnswer for WorkspaceResponse {
    fn from_answer(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes)
            .map_err(|e| format!("no workspace this orchestrator understands ({e}); is it older than the API?"))
    }
}

impl FromAnswer for Vec<WorkspaceResponse> {
    fn from_answer(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| {
            format!("no list of workspaces this orchestrator understands ({e}); is it older than the API?")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(api: &str) -> Client {
        Client::new(parse_api_url(api).unwrap(), &Token("orc_abc_secret".into())).unwrap()
    }

    #[test]
    fn paths_are_joined_under_the_api_and_names_are_one_encoded_segment() {
        for (api, name, expected) in [
            ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080/v1/workspaces"),
            ("https://x.example/orchestrator/", None, "https://x.example/orchestrator/v1/workspaces"),
            ("https://x.example/orchestrator", Some("a-b-1"), "https://x.example/orchestrator/v1/workspaces/a-b-1"),
            ("http://x.example", Some("a/b c?d#e%"), "http://x.example/v1/workspaces/a%2Fb%20c%3Fd%23e%25"),
        ] {
            assert_eq!(client(api).url(name).unwrap().as_str(), expected);
        }
        for name in ["", ".", ".."] {
            assert!(matches!(client("http://x.example").url(Some(name)), Err(Error::NoSuchName(_))), "{name:?}");
        }
    }

    #[test]
    fn only_plain_http_urls_are_taken() {
        assert!(parse_api_url("https://orchestrator.example.com").is_ok());
        for bad in ["orchestrator.example.com", "ftp://x.example", "https://me:pw@x.example", "http://x.example/?a=1"] {
            assert!(parse_api_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_is_never_shown_and_comes_trimmed_from_its_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  orc_file_secret\n").unwrap();
        let token = Token::load(Some("orc_env_secret".into()), Some(&file)).unwrap();
        assert_eq!(token.0, "orc_file_secret");
        assert_eq!(format!("{token:?}"), "Token(***)");
        assert_eq!(Token::load(Some(" orc_env_secret\n".into()), None).unwrap().0, "orc_env_secret");
        let missing = Token::load(None, None).unwrap_err();
        assert!(
            missing.kind() == ErrorKind::Invalid && missing.to_string().contains("ORCHESTRATOR_TOKEN"),
            "{missing}"
        );
        assert!(missing.to_string().contains("--token-file"), "{missing}");
        for unusable in ["\n", "orc_a\nb"] {
            std::fs::write(&file, unusable).unwrap();
            let error = Token::load(None, Some(&file)).unwrap_err();
            assert!(error.kind() == ErrorKind::Invalid && !error.to_string().contains("orc_a"), "{error}");
        }
        let unreadable = Token::load(None, Some(&dir.path().join("nope"))).unwrap_err();
        assert_eq!(unreadable.kind(), ErrorKind::Internal, "an unreadable file is an I/O failure");
    }

    #[test]
    fn a_problem_shows_its_status_title_detail_and_each_field_with_its_rule() {
        let answered = |status: u16, problem: Option<Problem>| Error::Answered {
            status: StatusCode::from_u16(status).unwrap(),
            problem: problem.map(Box::new),
        };
        let problem: Problem = serde_json::from_value(serde_json::json!({
            "type": "urn:orchestrator:problem:validation", "kind": "invalid", "title": "Invalid request", "status": 422,
            "detail": "the request has 2 problems: …",
            "errors": [
                {"field": "ssh_public_key", "rule": "unsupported-key-type", "message": "use ed25519"},
                {"field": "", "rule": "quota-count", "message": "delete one first"},
            ],
        }))
        .unwrap();
        let invalid = answered(422, Some(problem));
        assert_eq!(
            invalid.to_string(),
            "the orchestrator API answered 422 Unprocessable Entity: Invalid request\n  \
             - ssh_public_key: use ed25519 (unsupported-key-type)\n  - delete one first (quota-count)"
        );
        assert_eq!(invalid.answered().map(|p| (p.kind, p.errors.len())), Some((ErrorKind::Invalid, 2)));
        let not_found: Problem = serde_json::from_value(serde_json::json!({
            "type": "urn:orchestrator:problem:not-found", "kind": "not-found", "title": "Not found", "status": 404,
            "detail": "workspace x",
        }))
        .unwrap();
        let missing = answered(404, Some(not_found));
        assert_eq!(missing.to_string(), "the orchestrator API answered 404 Not Found: Not found: workspace x");
        assert_eq!(missing.answered().map(|p| p.kind), Some(ErrorKind::NotFound));
        // Without a problem the status decides.
        for (status, kind) in [
            (400, ErrorKind::Invalid),
            (401, ErrorKind::Unauthorized),
            (403, ErrorKind::Forbidden),
            (404, ErrorKind::NotFound),
            (408, ErrorKind::Unavailable),
            (429, ErrorKind::Unavailable),
            (500, ErrorKind::Internal),
            (502, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
        ] {
            assert_eq!(answered(status, None).kind(), kind, "{status}");
        }
        assert_eq!(answered(502, None).to_string(), "the orchestrator API answered 502 Bad Gateway");
    }

    #[test]
    fn an_answer_is_read_as_the_api_s_own_type_and_later_fields_are_ignored() {
        let body = serde_json::to_vec(&serde_json::json!({
            "name": "alice-devbox-0a1b2c3d", "display_name": "devbox", "owner": "alice@iiitm.ac.in",
            "user": "alice", "phase": "Ready", "cpu": "1", "memory": "2Gi", "storage": "10Gi", "image": "img",
            "node_port": 30007, "access_host": "ws.example.com",
            "access_command": "ssh -p 30007 alice@ws.example.com",
            "status_url": "/v1/workspaces/alice-devbox-0a1b2c3d", "some_later_field": true,
        }))
        .unwrap();
        let answer = WorkspaceResponse::from_answer(&body).unwrap();
        assert_eq!((answer.display_name.as_str(), answer.node_port), ("devbox", Some(30007)));
        assert_eq!(answer.phase, provision_core::workspace::WorkspacePhase::Ready);
        assert_eq!((answer.message, answer.created_at), (None, None));
        let unknown = String::from_utf8(body).unwrap().replace("\"Ready\"", "\"Hibernating\"");
        let error = WorkspaceResponse::from_answer(unknown.as_bytes()).unwrap_err();
        assert!(error.contains("Hibernating") && error.contains("older than the API"), "{error}");
    }
}
