//! How large a request may be and how long its parts may take to arrive: the [`Limits`] the
//! server holds every connection ([`crate::serve`]) and every request ([`enforce`]) to, with
//! defaults for a server behind a reverse proxy.
//!
//! What the router sees it refuses as `problem+json`, before any handler runs and before any
//! byte of a body is read: a declared `Content-Length` over [`BODY_LIMIT`] (413), a request
//! target over [`MAX_URI_BYTES`] (414), a head over [`Limits::max_header_bytes`] or with more
//! than [`MAX_HEADERS`] fields (431). A body that does not arrive within
//! [`Limits::body_timeout`] is a 408 (the JSON extractor answers it). hyper's own parser sits
//! below these checks with looser bounds of its own ([`Limits::read_buffer_bytes`],
//! [`Limits::parser_max_headers`]): what it refuses never reaches the router and is answered by
//! hyper itself, without a body (docs/SECURITY.md, "Limits").

use crate::extract::BODY_LIMIT;
use crate::problem::{self, ApiError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tower_http::timeout::DeadlineBody;

/// The longest request target (path and query) answered; longer ones get a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header fields a request may carry; more get a 431.
pub const MAX_HEADERS: usize = 100;

/// The smallest head limit accepted: hyper's read buffer (twice it) cannot be smaller than 8 KiB.
pub const MIN_HEADER_BYTES: usize = 4 * 1024;

/// What the server allows a client. [`Limits::default`] holds the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a complete request head: from the connection's opening,
    /// or on a kept-alive connection from the first byte of the next request. A connection
    /// that misses it is closed without an answer.
    pub header_timeout: Duration,
    /// How long a whole request body may take to arrive, counted from the end of its head; a
    /// late body is answered 408 and its connection closed.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait, between requests, for the first byte of the
    /// next one before the server closes it.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog, unaccepted, until
    /// one closes.
    pub max_connections: usize,
    /// The largest request head (request line and header fields) answered, in bytes.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    /// Behind a proxy: a head arrives in one write, so 10 s is generous; 30 s carries a whole
    /// 64 KiB body at 20 kbit/s; 75 s idle outlasts the 60 s idle timeouts of common load
    /// balancers, so the proxy, not this server, closes a pooled connection and never sends a
    /// request onto one being closed; 1024 connections are far more than a proxy keeps open;
    /// 16 KiB of head (Node.js's default too) holds an API client's few short headers and
    /// what proxies add to them many times over.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
        }
    }
}

impl Limits {
    /// hyper's read buffer per connection: twice the head limit, so a head somewhat over the
    /// limit still reaches [`enforce`] and gets a `problem+json` 431, while what one connection
    /// can make the server hold stays bounded. A head that does not fit even this is refused
    /// by hyper (a bare 431) once the buffer is full, without reading more. (hyper reads into
    /// whatever its allocation has room for, which stays under twice this size.)
    pub fn read_buffer_bytes(&self) -> usize {
        (2 * self.max_header_bytes).max(8 * 1024)
    }

    /// The header count at which hyper's parser gives up (a bare 431): twice [`MAX_HEADERS`],
    /// so that counts between the two get a `problem+json` 431 from [`enforce`].
    pub fn parser_max_headers() -> usize {
        2 * MAX_HEADERS
    }
}

/// Middleware: refuses a request whose head breaks a limit, then bounds the time its body
/// may take ([`Limits::body_timeout`]). The limits go into the request's extensions so the
/// JSON extractor can name the timeout when it expires.
pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    if let Some(refusal) = refusal(&limits, &request) {
        return refusal;
    }
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(limits);
    let body = Body::new(DeadlineBody::new(limits.body_timeout, body));
    next.run(Request::from_parts(parts, body)).await
}

/// The answer refusing a request whose head breaks a limit, if it does.
fn refusal(limits: &Limits, request: &Request) -> Option<Response> {
    let uri = request.uri();
    // The request target as it arrived: origin form (`/path?query`) or absolute form.
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len() + uri.scheme_str().map_or(0, str::len) + 3);
    if target > MAX_URI_BYTES {
        return Some(
            problem::problem(
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "URI too long",
                format!("the request target is {target} bytes long; the limit is {MAX_URI_BYTES}"),
            )
            .into_response(),
        );
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADERS {
        return Some(
            problem::problem(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                "Request header fields too large",
                format!("the request has {} header fields; the limit is {MAX_HEADERS}", headers.len()),
            )
            .into_response(),
        );
    }
    // The head's size on the wire, as sent without optional whitespace: `METHOD target
    // HTTP/1.1\r\n`, `name: value\r\n` per field, and the blank line.
    let fields: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    let head = request.method().as_str().len() + 1 + target + 11 + fields + 2;
    if head > limits.max_header_bytes {
        return Some(
            problem::problem(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                "Request header fields too large",
                format!(
                    "the request line and header fields take {head} bytes; the limit is {}",
                    limits.max_header_bytes
                ),
            )
            .into_response(),
        );
    }
    // hyper has already refused a malformed or contradictory Content-Length.
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|n| *n > BODY_LIMIT as u64) {
        let too_large = ApiError::PayloadTooLarge { limit: BODY_LIMIT }.problem();
        let mut response = problem::Problem {
            detail: format!(
                "the request declares a body of {declared} bytes (Content-Length); the limit is {BODY_LIMIT} bytes"
            ),
            ..too_large
        }
        .into_response();
        // The body stays unread, so the connection cannot carry another request.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(response);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_s_bounds_lie_above_the_router_s() {
        let limits = Limits::default();
        assert!(limits.read_buffer_bytes() > limits.max_header_bytes);
        assert!(Limits::parser_max_headers() > MAX_HEADERS);
        let smallest = Limits { max_header_bytes: MIN_HEADER_BYTES, ..limits };
        // hyper refuses a read buffer under 8 KiB (it panics).
        assert_eq!(smallest.read_buffer_bytes(), 8 * 1024);
    }
}
