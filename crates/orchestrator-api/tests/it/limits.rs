//! The request limits as the router applies them: a declared body over the limit is refused
//! before it is read, a long target, a large head and a late body are `problem+json`, and the
//! request counter's labels come from closed sets whatever method a client invents. (The
//! connection limits need a socket: the top-level `tests/` crate drives the binary for those.)

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

use crate::support::Api;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, header};
use orchestrator_api::limits::{MAX_HEADERS, MAX_URI_BYTES};
use orchestrator_api::{AppState, BODY_LIMIT, Limits};
use orchestrator_app::runtime::Ports;
use orchestrator_app::{Config, Runtime};
use provision_core::testing::{MemoryGitHost, MemoryStore};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// An API on the in-memory ports holding requests to `limits`.
fn api_with(limits: Limits) -> Api {
    let home = tempfile::tempdir().unwrap();
    let ports = Ports::new(Arc::new(MemoryGitHost::new()), Arc::new(MemoryStore::new()));
    let runtime = Runtime::with_ports(Config::defaults(home.path()), ports);
    Api::from_state(AppState::new(Arc::new(runtime)).with_limits(limits), home)
}

/// A request body that yields `first` (if any) and then never anything more, and says whether
/// it was ever asked for data.
struct Stalling {
    first: Option<Bytes>,
    polled: Arc<AtomicBool>,
}

impl http_body::Body for Stalling {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.polled.store(true, Ordering::SeqCst);
        match self.first.take() {
            Some(bytes) => Poll::Ready(Some(Ok(http_body::Frame::data(bytes)))),
            None => Poll::Pending,
        }
    }
}

fn create_service(content_length: u64, body: Body) -> Request<Body> {
    Request::post("/create-service")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, content_length)
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let api = Api::memory();
    let polled = Arc::new(AtomicBool::new(false));
    let body = Body::new(Stalling { first: None, polled: Arc::clone(&polled) });
    let answer = api.send(create_service(10 * 1024 * 1024 * 1024, body)).await;
    let problem = answer.problem(413);
    assert_eq!(problem["type"], "urn:orchestrator:problem:payload-too-large");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("10737418240") && detail.contains(&BODY_LIMIT.to_string()), "{detail}");
    assert_eq!(answer.headers.get(header::CONNECTION).unwrap(), "close");
    assert!(!polled.load(Ordering::SeqCst), "the body was read");

    // At the limit the body is read (and found to be no JSON object).
    let limit = u64::try_from(BODY_LIMIT).unwrap();
    let answer = api.send(create_service(limit, Body::from(vec![b' '; BODY_LIMIT]))).await;
    answer.problem(400);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    let api = api_with(Limits { body_timeout: Duration::from_millis(100), ..Limits::default() });
    let polled = Arc::new(AtomicBool::new(false));
    let body = Body::new(Stalling { first: Some(Bytes::from_static(b"{\"kind\":")), polled: Arc::clone(&polled) });
    let answer = api.send(create_service(100, body)).await;
    let problem = answer.problem(408);
    assert_eq!(problem["type"], "urn:orchestrator:problem:body-timeout");
    assert!(problem["detail"].as_str().unwrap().contains("100ms"), "{problem}");
    assert!(polled.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_target_over_the_limit_is_a_414() {
    let api = Api::memory();
    let query = "a".repeat(MAX_URI_BYTES);
    let problem = api.get(&format!("/v1/services?{query}")).await.problem(414);
    assert_eq!(problem["type"], "urn:orchestrator:problem:uri-too-long");
    // Just under the limit the request is answered by its route.
    let path = format!("/no-such-route/{}", "a".repeat(MAX_URI_BYTES - "/no-such-route/".len()));
    api.get(&path).await.problem(404);
}

#[tokio::test]
async fn a_head_over_the_limit_or_with_too_many_fields_is_a_431() {
    let api = api_with(Limits { max_header_bytes: 4096, ..Limits::default() });
    let large = Request::get("/healthz").header("x-large", "a".repeat(4096)).body(Body::empty()).unwrap();
    let problem = api.send_raw(large).await.problem(431);
    assert_eq!(problem["type"], "urn:orchestrator:problem:headers-too-large");
    assert!(problem["detail"].as_str().unwrap().contains("4096"), "{problem}");
    let fits = Request::get("/healthz").header("x-large", "a".repeat(3900)).body(Body::empty()).unwrap();
    assert_eq!(api.send_raw(fits).await.status, 200);

    let mut many = Request::get("/healthz");
    for i in 0..=MAX_HEADERS {
        many = many.header(format!("x-field-{i}"), "1");
    }
    let problem = api.send_raw(many.body(Body::empty()).unwrap()).await.problem(431);
    assert!(problem["detail"].as_str().unwrap().contains(&format!("{}", MAX_HEADERS + 1)), "{problem}");
}

/// xorshift64*: random methods, reproducible.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[tokio::test]
async fn invented_methods_add_no_metrics_series() {
    let api = Api::memory();
    let mut seed = 0x5eed_u64;
    for i in 0..1000 {
        let len = 3 + (next(&mut seed) % 10) as usize;
        let method: String = (0..len).map(|_| char::from(b'A' + (next(&mut seed) % 26) as u8)).collect();
        let path = ["/healthz", "/v1/services", &format!("/no/such/route/{i}")][i % 3].to_owned();
        let request = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        api.send(request.body(Body::empty()).unwrap()).await;
    }
    let answer = api.get("/metrics").await;
    assert_eq!(answer.status, 200);
    let text = String::from_utf8(answer.bytes).unwrap();
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("orchestrator_http_requests_total{")).collect();
    // Three routes (two matched, one `unmatched`), each with `other` and the odd standard
    // method the generator happens to spell, each with one status.
    assert!(series.len() <= 8, "{} series:\n{}", series.len(), series.join("\n"));
    assert!(series.iter().any(|l| l.contains("route=\"unmatched\",method=\"other\",status=\"404\"")), "{text}");
    assert!(series.iter().any(|l| l.contains("route=\"/healthz\",method=\"other\",status=\"405\"")), "{text}");
    let total: u64 = series.iter().map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 1000, "every request is counted");
}
