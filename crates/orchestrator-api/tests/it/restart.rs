//! The `orchestrator-api` binary killed (SIGKILL) in the middle of a create-service run: the
//! next start resumes the run before it listens, and the result has no duplicate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

fn start(home: &Path, fault: Option<&str>) -> (Child, BufReader<ChildStderr>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator-api"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("ORCHESTRATOR_HOME", home)
        .env("ORCHESTRATOR_LOG", "info")
        .env_remove("ORCHESTRATOR_BLUEPRINTS")
        .env_remove("ORCHESTRATOR_FAULT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(fault) = fault {
        cmd.env("ORCHESTRATOR_FAULT", fault);
    }
    let mut child = cmd.spawn().expect("the API binary starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    (child, stderr)
}

/// Reads log lines until one contains `needle`; returns that line.
fn wait_for(stderr: &mut BufReader<ChildStderr>, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("stderr is readable");
        assert!(n > 0, "the server exited before logging {needle:?}:\n{seen}");
        if line.contains(needle) {
            return line;
        }
        seen.push_str(&line);
    }
}

/// The address from the `listening` log line.
fn address(line: &str) -> String {
    let log: serde_json::Value = serde_json::from_str(line).expect("JSON logs");
    log["fields"]["address"].as_str().expect("the listening line names the address").to_owned()
}

/// One HTTP/1.1 exchange over a plain socket; returns (status, body).
fn http(address: &str, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn git_log(bare: &Path, branch: &str) -> Vec<String> {
    let out = Command::new("git").args(["log", "--format=%s", branch]).current_dir(bare).output().expect("git runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn a_killed_server_resumes_the_run_on_its_next_start() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let (mut server, mut stderr) = start(home.path(), Some("after-effect:4"));
    let addr = address(&wait_for(&mut stderr, "listening"));

    // The request hangs where the fault hook froze the run; the server is then killed there.
    let request = std::thread::spawn(move || {
        http(&addr, "POST", "/create-service", Some(r#"{"kind":"ms","name":"resumed","description":"d"}"#))
    });
    wait_for(&mut stderr, "fault-hook: reached AfterEffect(4)");
    server.kill().expect("SIGKILL");
    server.wait().expect("the server is reaped");
    assert!(
        request.join().expect("the client thread ends").map_or(true, |(status, _)| status == 0),
        "no answer was sent"
    );

    // The next start finishes the run before listening.
    let (mut server, mut stderr) = start(home.path(), None);
    let addr = address(&wait_for(&mut stderr, "listening"));
    let (status, body) = http(&addr, "GET", "/v1/runs", None).expect("the server answers");
    assert_eq!(status, 200, "{body}");
    let runs: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs:#}");
    assert_eq!(runs[0]["state"], "succeeded", "{runs:#}");
    let (status, body) = http(&addr, "GET", "/v1/services/resumed", None).expect("the server answers");
    assert_eq!(status, 200, "{body}");
    // The same create again is a conflict naming the service, not a second set of repos.
    let (status, body) =
        http(&addr, "POST", "/create-service", Some(r#"{"kind":"ms","name":"resumed","description":"d"}"#))
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
