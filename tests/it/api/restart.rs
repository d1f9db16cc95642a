//! The `orchestrator-api` binary killed (SIGKILL) in the middle of a create-service run: the
//! next start resumes the run before it listens, and the result has no duplicate.

use crate::api::process::{address, admin_token, http, start, wait_for};
use std::path::Path;
use std::process::Command;

fn git_log(bare: &Path, branch: &str) -> Vec<String> {
    let out = Command::new("git").args(["log", "--format=%s", branch]).current_dir(bare).output().expect("git runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn a_killed_server_resumes_the_run_on_its_next_start() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let token = admin_token(home.path());
    let (mut server, mut stderr) = start(home.path(), &[], &[("ORCHESTRATOR_FAULT", "after-effect:4")]);
    let addr = address(&wait_for(&mut stderr, "listening"));

    // The request hangs where the fault hook froze the run; the server is then killed there.
    let bearer = token.clone();
    let request = std::thread::spawn(move || {
        http(
            &addr,
            "POST",
            "/create-service",
            Some(&bearer),
            Some(r#"{"kind":"ms","name":"resumed","description":"d"}"#),
        )
    });
    wait_for(&mut stderr, "fault-hook: reached AfterEffect(4)");
    server.kill().expect("SIGKILL");
    server.wait().expect("the server is reaped");
    assert!(
        request.join().expect("the client thread ends").map_or(true, |(status, _)| status == 0),
        "no answer was sent"
    );

    // The next start finishes the run before listening.
    let (mut server, mut stderr) = start(home.path(), &[], &[]);
    let addr = address(&wait_for(&mut stderr, "listening"));
    let (status, body) = http(&addr, "GET", "/v1/runs", Some(&token), None).expect("the server answers");
    assert_eq!(status, 200, "{body}");
    let runs: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs:#}");
    assert_eq!(runs[0]["state"], "succeeded", "{runs:#}");
    let (status, body) = http(&addr, "GET", "/v1/services/resumed", Some(&token), None).expect("the server answers");
    assert_eq!(status, 200, "{body}");
    // The same create again is a conflict naming the service, not a second set of repos.
    let (status, body) = http(
        &addr,
        "POST",
        "/create-service",
        Some(&token),
        Some(r#"{"kind":"ms","name":"resumed","description":"d"}"#),
    )
    .expect("answer");
    assert_eq!(status, 409, "{body}");
    server.kill().expect("SIGKILL");
    server.wait().expect("the server is reaped");

    let git = home.path().join("git/platform");
    for repo in ["resumed.git", "resumed-infra.git"] {
        assert_eq!(git_log(&git.join(repo), "main").len(), 1, "{repo}");
        assert_eq!(git_log(&git.join(repo), "orchestrator/template").len(), 1, "{repo}");
    }
    assert_eq!(git_log(&git.join("argo-gitdir-services.git"), "main"), ["Register resumed for qa, staging"]);
}
