//! Random bodies, headers and paths: whatever a client sends, the answer is never a 5xx, and
//! every error is `problem+json`. Seeded, so a failure repeats.

use crate::support::{Api, post};
use axum::body::Body;
use axum::http::Request;

/// xorshift64*: enough randomness for inputs, and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces that make bodies close to valid JSON, so the fuzz reaches past the parser.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"kind\"",
    "\"name\"",
    "\"description\"",
    "\"owner\"",
    "\"parameters\"",
    "\"port\"",
    "\"ms\"",
    "\"svc\"",
    "\"\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "65536",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"s\u{0435}rvice\"",
    "\"..\"",
    "\"a/b\"",
    " ",
    "\n",
    "\"",
    "\\",
    "{\"kind\":\"ms\",\"name\":",
];

fn body(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(40);
    if rng.below(4) == 0 {
        (0..len * 4).map(|_| rng.next() as u8).collect()
    } else {
        (0..len).flat_map(|_| rng.pick(TOKENS).as_bytes().to_vec()).collect()
    }
}

#[tokio::test]
async fn random_bodies_never_get_a_server_error() {
    let api = Api::memory();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let uris = ["/v1/services", "/create-service", "/create-repo", "/v1/services?dry_run=true"];
    for i in 0..400 {
        let uri = *rng.pick(&uris);
        let content_type =
            *rng.pick(&[Some("application/json"), Some("application/json; charset=utf-8"), Some("text/plain"), None]);
        let body = body(&mut rng);
        let answer = api.send(post(uri, content_type, &[], body.clone())).await;
        let status = answer.status.as_u16();
        assert!(
            status < 500,
            "case {i}: {uri} {content_type:?} {:?} answered {status}: {}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&answer.bytes)
        );
        if status >= 400 {
            assert_eq!(answer.content_type(), "application/problem+json", "case {i}");
        }
    }
}

#[tokio::test]
async fn random_paths_and_keys_never_get_a_server_error() {
    let api = Api::memory();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    const SEGMENTS: &[&str] = &[
        "v1",
        "runs",
        "services",
        "kinds",
        "%2e%2e",
        "..",
        "%ff",
        "%00",
        "x",
        "NAME",
        "?limit=-1",
        "?limit=99999999999999999999",
        "?dry_run",
    ];
    for i in 0..300 {
        let path: String = (0..1 + rng.below(4)).map(|_| format!("/{}", rng.pick(SEGMENTS))).collect();
        let method = *rng.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);
        let key: Vec<u8> = (0..rng.below(300)).map(|_| 0x20 + rng.below(0x60) as u8).collect();
        let Ok(request) = Request::builder()
            .method(method)
            .uri(&path)
            .header("content-type", "application/json")
            .header("idempotency-key", key.as_slice())
            .body(Body::from("{\"kind\":\"ms\",\"name\":\"fuzzed\"}"))
        else {
            continue;
        };
        let answer = api.send(request).await;
        assert!(answer.status.as_u16() < 500, "case {i}: {method} {path}: {}", answer.status);
        if answer.status.as_u16() >= 400 && method != "HEAD" {
            assert_eq!(answer.content_type(), "application/problem+json", "case {i}: {method} {path}");
        }
    }
}
