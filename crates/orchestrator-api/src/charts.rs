//! The chart repository (`git.chart_repo`) served in Helm's repository format: `index.yaml`
//! and the chart archives, as they are on its `main`, so `helm repo add`, `helm dependency
//! update` and Argo CD read the charts `orchestrator chart publish` wrote.
//!
//! The file segment becomes a [`ChartFileName`] before anything reads: only `index.yaml` or an
//! archive's name, anything else answers 404 like a file that is not there. Every answer
//! carries a strong `ETag` (the quoted sha256 of the content); a request whose
//! `If-None-Match` names it (or `*`) gets 304 without a body. Who may read is the access
//! table's [`crate::access::Access::Charts`].

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orchestrator_app::edits::{ChartFile, ChartFileName, Error as EditError};

/// What Helm's own `helm serve` and ChartMuseum answer for the index.
pub const INDEX_CONTENT_TYPE: &str = "application/x-yaml";
/// A chart archive (`.tgz`).
pub const ARCHIVE_CONTENT_TYPE: &str = "application/gzip";

/// A chart archive (`.tgz`): bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ChartArchive(pub Vec<u8>);

/// The chart repository's index.
#[utoipa::path(
    get,
    path = "/charts/index.yaml",
    operation_id = "chart_index",
    tag = "charts",
    params(("If-None-Match" = Option<String>, Header, description = "ETags of a copy the client holds; `*` for any.")),
    responses(
        (status = 200, description = "Helm's `index.yaml` of the chart repository, as on its `main`. `ETag` is its quoted sha256; `Cache-Control: no-cache`.", content_type = "application/x-yaml", body = String),
        (status = 304, description = "`If-None-Match` names the current `ETag`: no body."),
        (status = 404, description = "Nothing published yet (`orchestrator chart publish`).", body = crate::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    serve(&state, &ChartFileName::Index, &headers).await
}

/// A file of the chart repository: a chart archive `<name>-<version>.tgz` (or `index.yaml`).
#[utoipa::path(
    get,
    path = "/charts/{file}",
    operation_id = "chart_file",
    tag = "charts",
    params(
        ("file" = String, Path, description = "A chart archive `<name>-<version>.tgz` (letters, digits and `-._+`), as the index's `urls` name it."),
        ("If-None-Match" = Option<String>, Header, description = "ETags of a copy the client holds; `*` for any."),
    ),
    responses(
        (status = 200, description = "The archive, as on the chart repository's `main`; its sha256 is the index's `digest` and, quoted, the `ETag`.", content_type = "application/gzip", body = ChartArchive),
        (status = 304, description = "`If-None-Match` names the current `ETag`: no body."),
        (status = 404, description = "No such file, a name that is not an archive's, or nothing published yet.", body = crate::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The server failed.", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn file(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A segment that does not even decode names no file either.
    let name = file.ok().and_then(|Path(file)| ChartFileName::parse(&file)).ok_or_else(not_a_chart_file)?;
    serve(&state, &name, &headers).await
}

/// The 404 of a name that cannot be a file of the chart repository; it does not repeat the
/// name, which may be anything.
fn not_a_chart_file() -> ApiError {
    ApiError::from(EditError::ChartFileNotFound {
        file: "of that name (only index.yaml and archives <name>-<version>.tgz are served)".to_owned(),
    })
}

async fn serve(state: &AppState, name: &ChartFileName, headers: &HeaderMap) -> Result<Response, ApiError> {
    let ChartFile { bytes, sha256 } = state.runtime().edits.chart_file(name).await?;
    let etag = HeaderValue::from_str(&format!("\"{sha256}\"")).expect("a quoted hex digest is a header value");
    let content_type = if name.is_index() { INDEX_CONTENT_TYPE } else { ARCHIVE_CONTENT_TYPE };
    let mut response = if none_match(headers, &sha256) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = bytes.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let answer = response.headers_mut();
    answer.insert(header::ETAG, etag);
    if name.is_index() {
        // The index changes with every publish: caches ask again each time (and get a 304).
        answer.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    Ok(response)
}

/// Whether `If-None-Match` names the content of digest `sha256` (RFC 9110 §13.1.2: `*`, or a
/// list of entity tags compared weakly, so `W/"…"` matches too).
fn none_match(headers: &HeaderMap, sha256: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*"
                || tag.strip_prefix("W/").unwrap_or(tag).strip_prefix('"').and_then(|t| t.strip_suffix('"'))
                    == Some(sha256)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn if_none_match_names_the_content_in_a_list_weakly_or_by_star() {
        for values in [&["\"abc\""][..], &["\"x\", \"abc\""], &["W/\"abc\""], &["*"], &["\"x\"", "\"abc\""]] {
            assert!(none_match(&with(values), "abc"), "{values:?}");
        }
        for values in [&[][..], &["\"abcd\""], &["abc"], &["\"x\", W/\"y\""], &[""]] {
            assert!(!none_match(&with(values), "abc"), "{values:?}");
        }
    }
}
