//! The chart repository at `/charts`: the index and archives served as git holds them, with
//! their content types and ETags; conditional requests; names that are no chart file (a path
//! walk included) answered 404; who may read, with the token as bearer or as the Basic
//! password, and nobody needing one when `[charts] public = true`.

use crate::support::{Answer, Api};
use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine as _;
use orchestrator_app::edits::ChartReport;
use provision_core::Role;
use std::path::{Path, PathBuf};

/// The shared base chart of the workspace.
fn base_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/charts/ms-base-chart")
}

/// Publishes the base chart as `orchestrator chart publish` does.
async fn publish(api: &Api, dir: &Path) -> ChartReport {
    api.runtime().edits.publish_chart(dir).await.expect("the chart is published")
}

/// A copy of the base chart whose `Chart.yaml` says `version`.
fn base_chart_at(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy(&base_chart(), dir.path());
    let chart_yaml = dir.path().join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("the chart has a Chart.yaml");
    let text = text.replace("version: 0.1.0", &format!("version: {version}"));
    assert!(text.contains(&format!("version: {version}")), "{text}");
    std::fs::write(&chart_yaml, text).expect("writable");
    dir
}

fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("readable");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            std::fs::create_dir_all(&target).expect("writable");
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copied");
        }
    }
}

fn get(uri: &str, headers: &[(header::HeaderName, &str)]) -> Request<Body> {
    let mut builder = Request::get(uri);
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    builder.body(Body::empty()).expect("a valid request")
}

fn header(answer: &Answer, name: header::HeaderName) -> &str {
    answer.headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[tokio::test]
async fn the_index_and_the_archives_are_served_as_git_holds_them() {
    let api = Api::memory();
    let report = publish(&api, &base_chart()).await;
    assert_eq!(report.url, "http://127.0.0.1:8080/charts/ms-base-chart-0.1.0.tgz", "the default points here");

    let index = api.get("/charts/index.yaml").await;
    assert_eq!(index.status, 200, "{}", String::from_utf8_lossy(&index.bytes));
    assert_eq!(index.content_type(), "application/x-yaml");
    assert_eq!(header(&index, header::CACHE_CONTROL), "no-cache");
    let text = String::from_utf8(index.bytes.clone()).expect("the index is text");
    assert!(text.contains(&format!("digest: {}", report.digest)), "{text}");
    assert!(text.contains(&report.url), "{text}");
    let index_etag = header(&index, header::ETAG).to_owned();
    assert!(
        index_etag.len() == 66 && index_etag.starts_with('"') && index_etag.ends_with('"'),
        "a strong, quoted sha256: {index_etag}"
    );

    let archive = api.get("/charts/ms-base-chart-0.1.0.tgz").await;
    assert_eq!(archive.status, 200, "{}", String::from_utf8_lossy(&archive.bytes));
    assert_eq!(archive.content_type(), "application/gzip");
    assert_eq!(archive.bytes[..2], [0x1f, 0x8b], "gzip");
    // The ETag is the index's digest of the very bytes served.
    assert_eq!(header(&archive, header::ETAG), format!("\"{}\"", report.digest));

    // HEAD says the same without the body.
    let head = api.send(Request::head("/charts/ms-base-chart-0.1.0.tgz").body(Body::empty()).unwrap()).await;
    assert_eq!(head.status, 200);
    assert_eq!(header(&head, header::ETAG), header(&archive, header::ETAG));
    assert!(head.bytes.is_empty());

    // Another version changes the index, and so its ETag; the first archive stays as it was.
    let next = base_chart_at("0.2.0");
    publish(&api, next.path()).await;
    let index = api.get("/charts/index.yaml").await;
    assert_ne!(header(&index, header::ETAG), index_etag);
    assert!(String::from_utf8_lossy(&index.bytes).contains("ms-base-chart-0.2.0.tgz"));
    assert_eq!(api.get("/charts/ms-base-chart-0.2.0.tgz").await.status, 200);
    assert_eq!(api.get("/charts/ms-base-chart-0.1.0.tgz").await.bytes, archive.bytes);
}

#[tokio::test]
async fn a_copy_the_client_holds_is_not_sent_again() {
    let api = Api::memory();
    publish(&api, &base_chart()).await;
    for uri in ["/charts/index.yaml", "/charts/ms-base-chart-0.1.0.tgz"] {
        let first = api.get(uri).await;
        let etag = header(&first, header::ETAG).to_owned();
        for held in [etag.clone(), format!("\"other\", {etag}"), format!("W/{etag}"), "*".to_owned()] {
            let again = api.send(get(uri, &[(header::IF_NONE_MATCH, &held)])).await;
            assert_eq!(again.status, 304, "{uri} with {held}");
            assert!(again.bytes.is_empty(), "{uri} with {held}");
            assert_eq!(header(&again, header::ETAG), etag, "{uri} with {held}");
        }
        let stale = api.send(get(uri, &[(header::IF_NONE_MATCH, "\"0000\"")])).await;
        assert_eq!(stale.status, 200, "{uri}");
        assert_eq!(stale.bytes, first.bytes, "{uri}");
    }
    let index = api.send(get("/charts/index.yaml", &[(header::IF_NONE_MATCH, "*")])).await;
    assert_eq!(header(&index, header::CACHE_CONTROL), "no-cache");
}

#[tokio::test]
async fn names_that_are_no_chart_file_are_not_found_and_walk_nowhere() {
    let api = Api::memory();
    let problem = api.get("/charts/index.yaml").await.problem(404);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("nothing published yet") && detail.contains("orchestrator chart publish"), "{problem}");
    assert!(
        api.get("/charts/ms-base-chart-0.1.0.tgz").await.problem(404)["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nothing published yet"))
    );

    publish(&api, &base_chart()).await;
    for uri in [
        "/charts/ms-base-chart-9.9.9.tgz",
        "/charts/..%2Findex.yaml",
        "/charts/..%2F..%2Fconfig.toml",
        "/charts/index.yaml.bak",
        "/charts/x.tgz/..",
        "/charts/Chart.yaml",
        "/charts/%FF.tgz",
        "/charts/.git",
        "/charts/",
    ] {
        let problem = api.get(uri).await.problem(404);
        assert_eq!(problem["kind"], "not-found", "{uri}: {problem}");
    }
}

#[tokio::test]
async fn reading_charts_needs_a_reader_token_as_bearer_or_basic_password() {
    let api = Api::memory();
    publish(&api, &base_chart()).await;
    let reader = api.bearer("rita@example.org", Role::Reader).await;
    let token = reader.strip_prefix("Bearer ").expect("a bearer header");
    let uri = "/charts/index.yaml";

    let none = api.send_raw(get(uri, &[])).await;
    assert_eq!(none.problem(401)["kind"], "unauthorized");
    let challenges: Vec<&str> =
        none.headers.get_all(header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(challenges.iter().any(|c| c.starts_with("Basic")), "{challenges:?}");

    assert_eq!(api.send_raw(get(uri, &[(header::AUTHORIZATION, &reader)])).await.status, 200);
    for user in ["helm", "", "argocd"] {
        let answer = api.send_raw(get(uri, &[(header::AUTHORIZATION, &basic(user, token))])).await;
        assert_eq!(answer.status, 200, "user {user:?}: {}", String::from_utf8_lossy(&answer.bytes));
    }
    let archive =
        api.send_raw(get("/charts/ms-base-chart-0.1.0.tgz", &[(header::AUTHORIZATION, &basic("helm", token))])).await;
    assert_eq!(archive.status, 200);

    let wrong = format!("{}x", &token[..token.len() - 1]);
    for authorization in [basic("helm", &wrong), basic(token, ""), "Basic !!!".to_owned(), format!("Basic {token}")] {
        let answer = api.send_raw(get(uri, &[(header::AUTHORIZATION, &authorization)])).await;
        answer.problem(401);
    }
    // Every other route takes a bearer token only.
    let services = api.send_raw(get("/v1/services", &[(header::AUTHORIZATION, &basic("helm", token))])).await;
    services.problem(401);
}

#[tokio::test]
async fn a_public_chart_repository_needs_no_token() {
    let api = Api::configured("[charts]\npublic = true\n");
    publish(&api, &base_chart()).await;
    for uri in ["/charts/index.yaml", "/charts/ms-base-chart-0.1.0.tgz"] {
        assert_eq!(api.send_raw(get(uri, &[])).await.status, 200, "{uri}");
    }
    // Only the charts are public.
    api.send_raw(get("/v1/services", &[])).await.problem(401);
}
