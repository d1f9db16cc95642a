//! The `orchestrator-api` binary as a process: start it, follow its JSON logs, talk HTTP/1.1
//! to it over a plain socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

/// Starts the binary on a free port with the data directory `home`, more arguments and
/// environment variables; its stderr (the logs) is piped.
pub fn start(home: &Path, args: &[&str], env: &[(&str, &str)]) -> (Child, BufReader<ChildStderr>) {
    let mut cmd = Command::new(crate::binaries::orchestrator_api());
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("ORCHESTRATOR_HOME", home)
        .env("ORCHESTRATOR_LOG", "info")
        .env_remove("ORCHESTRATOR_BLUEPRINTS")
        .env_remove("ORCHESTRATOR_FAULT")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the API binary starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    (child, stderr)
}

/// A new admin's token for the data directory `home`, issued by `orchestrator token create`
/// as an operator would (the server finds it in the store it shares).
pub fn admin_token(home: &Path) -> String {
    token(home, "admin")
}

/// A new token of `role` (`reader`, `member`, `admin`) for the data directory `home`, issued
/// as [`admin_token`] is.
pub fn token(home: &Path, role: &str) -> String {
    let out = Command::new(crate::binaries::orchestrator())
        .args(["token", "create", "--email", "ops@example.org", "--role", role, "--output", "json"])
        .env("ORCHESTRATOR_HOME", home)
        .env_remove("ORCHESTRATOR_BLUEPRINTS")
        .output()
        .expect("the command line runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let issued: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    issued["token"].as_str().expect("the token is printed").to_owned()
}

/// Reads log lines until one contains `needle`; returns that line.
pub fn wait_for(stderr: &mut BufReader<ChildStderr>, needle: &str) -> String {
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
pub fn address(line: &str) -> String {
    let log: serde_json::Value = serde_json::from_str(line).expect("JSON logs");
    log["fields"]["address"].as_str().expect("the listening line names the address").to_owned()
}

/// One HTTP/1.1 exchange over a plain socket, with a bearer token if given; returns (status,
/// body).
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    let body = body.unwrap_or("");
    let authorization = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Starts the binary (as [`start`]) and waits until it listens; its logs are then read on and
/// dropped, so it never blocks writing them. Returns it and its address.
pub fn serving(home: &Path, args: &[&str], env: &[(&str, &str)]) -> (Running, String) {
    let (child, mut stderr) = start(home, args, env);
    let running = Running(child);
    let addr = address(&wait_for(&mut stderr, "listening"));
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (running, addr)
}

/// [`serving`] from async code: started on a blocking thread, so the runtime keeps running.
pub async fn serving_from_async(home: &Path, args: Vec<String>) -> (Running, String) {
    let home = home.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serving(&home, &args, &[])
    })
    .await
    .expect("the starting thread ends")
}

/// Kills the server when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
