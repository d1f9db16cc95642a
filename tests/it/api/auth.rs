//! Authentication through the binary: a service route needs a token; a token sent in the URL
//! is refused and, like every query string, never reaches the logs; turning authentication off
//! is an explicit setting the server announces when it starts.

use crate::api::process::{Running, address, admin_token, http, start, wait_for};
use std::io::Read;

const SEED: &str = r#"{"kind":"ms","name":"ms-auth","description":"d"}"#;

#[test]
fn no_token_no_service_and_a_token_in_the_url_is_refused_and_never_logged() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let token = admin_token(home.path());
    let (child, mut stderr) = start(home.path(), &[], &[]);
    let mut server = Running(child);
    let addr = address(&wait_for(&mut stderr, "listening"));

    let (status, body) = http(&addr, "POST", "/create-service", None, Some(SEED)).expect("an answer");
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(&addr, "GET", &format!("/v1/runs?access_token={token}"), None, None).expect("an answer");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("token-in-query") && !body.contains(&token), "{body}");
    let (status, body) = http(&addr, "GET", "/v1/runs?limit=7", Some(&token), None).expect("an answer");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&addr, "POST", "/create-service", Some(&token), Some(SEED)).expect("an answer");
    assert_eq!(status, 201, "{body}");

    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("the server is reaped");
    let mut logs = String::new();
    stderr.read_to_string(&mut logs).expect("the logs are readable");
    assert!(logs.contains("\"path\":\"/v1/runs\""), "requests are logged by path:\n{logs}");
    let secret = token.rsplit('_').next().expect("a token has a secret");
    assert!(!logs.contains(secret), "the token reached the logs:\n{logs}");
    assert!(!logs.contains("limit=7") && !logs.contains("access_token"), "a query string reached the logs:\n{logs}");
}

#[test]
fn authentication_is_off_only_when_configured_and_the_server_says_so() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let (child, mut stderr) = start(home.path(), &[], &[("ORCHESTRATOR_AUTH_DISABLED", "true")]);
    let _server = Running(child);
    let addr = address(&wait_for(&mut stderr, "listening"));
    let warning = wait_for(&mut stderr, "authentication is DISABLED");
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    let (status, body) = http(&addr, "POST", "/create-service", None, Some(SEED)).expect("an answer");
    assert_eq!(status, 201, "{body}");
}
