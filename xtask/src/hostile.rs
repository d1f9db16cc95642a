//! `cargo xtask hostile` (and a step of `ci`): the API binary as a hostile client meets it.
//!
//! Starts `kube-fake` with the Workspace CRD installed and an `orchestrator-api` on it with
//! workspaces configured (so every route can answer for real), issues tokens with the
//! command line, then:
//! 1. sends the crafted requests of [`crafted`] as raw bytes, each with the answer it must get
//!    (a status, a problem+json body unless the HTTP layer itself refuses it, never a 5xx);
//! 2. sends requests with a thousand random methods and checks `/metrics` grows by a handful
//!    of series at most;
//! 3. runs schemathesis (PyPI, in the tools venv) over the served OpenAPI document with a fixed
//!    seed and a bounded number of examples, failing on any server error, undocumented status,
//!    wrong content type, or body or header that breaks the document.
//!
//! It prints the counts of each part; any miss fails the step.

use crate::ci::KillOnDrop;
use crate::{root, run_cmd};
use anyhow::{Context, Result, bail, ensure};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Examples schemathesis draws per operation, and its seed: fixed, so a run repeats.
const EXAMPLES: &str = "30";
const SEED: &str = "20261207";

pub fn run(tools: &Path) -> Result<()> {
    run_cmd(Command::new("cargo").args([
        "build",
        "--locked",
        "-p",
        "orchestrator-cli",
        "-p",
        "orchestrator-api",
        "-p",
        "kube-fake",
        "--bins",
    ]))?;
    let target = crate::ci::target_dir();
    let bin = target.join("debug");
    let home = target.join("tmp/hostile");
    if home.exists() {
        std::fs::remove_dir_all(&home).context("cannot clear the hostile suite's data directory")?;
    }
    std::fs::create_dir_all(&home)?;

    let (_kube, kube_url) =
        crate::ci::start_kube_fake(Command::new(bin.join("kube-fake")).args(["--namespace", "workspaces"]))?;
    let crd = std::fs::read(root().join("deploy/workspace-crd.yaml")).context("the generated CRD")?;
    let (status, body) = exchange(
        kube_url.trim_start_matches("http://"),
        &request(
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &[("Content-Type", "application/yaml")],
            &crd,
        ),
    )?;
    ensure!(status == 201, "kube-fake refused the CRD: {status} {body}");
    std::fs::write(
        home.join("config.toml"),
        "[workspaces]\nallowed_email_domains = [\"example.org\"]\nnamespace = \"workspaces\"\naccess_host = \"ws.example.org\"\n",
    )?;

    let token = |email: &str, role: &str| -> Result<String> {
        let out = Command::new(bin.join("orchestrator"))
            .args(["token", "create", "--email", email, "--role", role, "--output", "json"])
            .env("ORCHESTRATOR_HOME", &home)
            .output()?;
        ensure!(out.status.success(), "token create: {}", String::from_utf8_lossy(&out.stderr));
        let issued: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        Ok(issued["token"].as_str().context("a token")?.to_owned())
    };
    let admin = token("ops@example.org", "admin")?;
    let reader = token("rita@example.org", "reader")?;

    let (api, logs) = spawn_api(&bin.join("orchestrator-api"), &home, &kube_url)?;
    let _api = KillOnDrop(api);
    let addr = logs;

    let checked = crafted(&admin, &reader);
    let mut misses = Vec::new();
    for case in &checked {
        let (status, body) = match exchange(&addr, &case.bytes) {
            Ok(answer) => answer,
            Err(e) => {
                misses.push(format!("{}: {e:#}", case.name));
                continue;
            }
        };
        let problem = body.contains("\"type\":\"urn:orchestrator:problem:");
        if status != case.status || (case.problem && !problem) || status >= 500 {
            misses.push(format!(
                "{}: expected {}{}, got {status} {body}",
                case.name,
                case.status,
                if case.problem { " problem+json" } else { "" }
            ));
        }
    }
    eprintln!("hostile: {} crafted requests, {} answered as expected", checked.len(), checked.len() - misses.len());
    ensure!(misses.is_empty(), "crafted requests answered wrongly:\n{}", misses.join("\n"));

    let series = metric_series(&addr, &reader)?;
    let mut state = 0x9e37_79b9_u32;
    for _ in 0..1000 {
        let method: String = (0..8)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                char::from(b'A' + u8::try_from(state % 26).expect("below 26"))
            })
            .collect();
        let (status, _) = exchange(&addr, &request(&method, "/healthz", &[], b""))?;
        ensure!(status < 500, "method {method}: {status}");
    }
    let grown = metric_series(&addr, &reader)? - series;
    eprintln!("hostile: 1000 random methods added {grown} request series to /metrics");
    ensure!(grown <= 3, "1000 random methods added {grown} series: labels must come from closed sets");

    schemathesis(tools, &addr, &admin)
}

/// One crafted request and the answer it must get.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    status: u16,
    /// The answer must be problem+json (false only where the HTTP layer answers by itself).
    problem: bool,
}

/// The requests hostile clients were seen to send, and those the HTTP layer must refuse.
fn crafted(admin: &str, reader: &str) -> Vec<Case> {
    let bearer = format!("Bearer {admin}");
    let auth = [("Authorization", bearer.as_str())];
    let json = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let get = |path: &str| request("GET", path, &auth, b"");
    let post = |path: &str, body: &str| request("POST", path, &json, body.as_bytes());
    let case = |name, bytes, status| Case { name, bytes, status, problem: true };
    let bare = |name, bytes, status| Case { name, bytes, status, problem: false };
    let seed = r#"{"kind":"ms","name":"ms-hostile","description":"d"}"#;
    let long_header = "x".repeat(100 * 1024);
    vec![
        case(
            "workspace name climbing to kube-system secrets",
            get("/v1/workspaces/..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets%2Fx"),
            404,
        ),
        case("workspace name smuggling a label selector", get("/v1/workspaces/x%3FlabelSelector%3Da"), 404),
        case("workspace name with a space", get("/v1/workspaces/x%20y"), 404),
        case("workspace name with NUL", get("/v1/workspaces/%00"), 404),
        case("service name climbing out", get("/v1/services/..%2F..%2Fetc"), 404),
        case("run id with NUL", get("/v1/runs/%00"), 404),
        case(
            "no token",
            request("POST", "/create-service", &[("Content-Type", "application/json")], seed.as_bytes()),
            401,
        ),
        case(
            "a reader upgrading",
            request(
                "POST",
                "/v1/upgrades",
                &[("Authorization", &format!("Bearer {reader}")), ("Content-Type", "application/json")],
                br#"{"all":true}"#,
            ),
            403,
        ),
        case(
            "two Authorization headers",
            request("GET", "/v1/runs", &[("Authorization", &bearer), ("Authorization", &bearer)], b""),
            400,
        ),
        case("a token in the query string", request("GET", &format!("/v1/runs?access_token={admin}"), &[], b""), 400),
        case(
            "a reserved repository as a service name",
            post("/create-service", r#"{"kind":"ms","name":"ms-charts","description":"d"}"#),
            422,
        ),
        case(
            "go_module climbing with ..",
            post("/v1/services", r#"{"kind":"ms","name":"ms-mod","parameters":{"go_module":"example.com/../../x"}}"#),
            422,
        ),
        case("every field of the wrong type", post("/create-service", r#"{"kind":1,"name":2,"description":3}"#), 422),
        case("malformed JSON", post("/v1/services", "{\"kind\":"), 400),
        case(
            "not JSON",
            request("POST", "/v1/services", &[("Authorization", &bearer), ("Content-Type", "text/plain")], b"kind=ms"),
            415,
        ),
        case("limit of zero", get("/v1/runs?limit=0"), 400),
        case(
            "an Idempotency-Key of 300 characters",
            request(
                "POST",
                "/v1/services",
                &[
                    ("Authorization", &bearer),
                    ("Content-Type", "application/json"),
                    ("Idempotency-Key", &"k".repeat(300)),
                ],
                seed.as_bytes(),
            ),
            400,
        ),
        case("no such route", get("/v2/nothing"), 404),
        case("an unknown method on a route", request("BREW", "/v1/services", &auth, b""), 405),
        case(
            "a declared body of 10 GB",
            raw(format!(
                "POST /v1/services HTTP/1.1\r\nHost: t\r\n{}Content-Type: application/json\r\nContent-Length: 10000000000\r\nConnection: close\r\n\r\n",
                header_line(&bearer)
            )),
            413,
        ),
        case(
            "a workspace for another domain",
            post("/v1/workspaces", r#"{"email":"eve@evil.com","name":"box","ssh_public_key":"x"}"#),
            422,
        ),
        bare("a header of 100 KiB", request("GET", "/healthz", &[("X-Long", &long_header)], b""), 431),
        bare(
            "a NUL in a header",
            raw("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\nConnection: close\r\n\r\n".to_owned()),
            400,
        ),
        bare(
            "a folded header",
            raw("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n".to_owned()),
            400,
        ),
        bare(
            "a Content-Length that is no number",
            raw("POST /v1/services HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\nConnection: close\r\n\r\n".to_owned()),
            400,
        ),
    ]
}

fn header_line(bearer: &str) -> String {
    format!("Authorization: {bearer}\r\n")
}

fn raw(text: String) -> Vec<u8> {
    text.into_bytes()
}

/// An HTTP/1.1 request with `Connection: close` and the body's length.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends `bytes` and reads the answer until the server closes: (status, body).
fn exchange(addr: &str, bytes: &[u8]) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    // A guard against a server that never answers, not a synchronisation.
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    // The server may answer and close before reading all of a refused request.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).context("no HTTP answer")?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// How many request series `/metrics` holds.
fn metric_series(addr: &str, reader: &str) -> Result<usize> {
    let (status, body) =
        exchange(addr, &request("GET", "/metrics", &[("Authorization", &format!("Bearer {reader}"))], b""))?;
    ensure!(status == 200, "/metrics: {status} {body}");
    Ok(body.lines().filter(|l| l.starts_with("orchestrator_http_requests_total{")).count())
}

/// Runs schemathesis over the served document as an admin.
fn schemathesis(tools: &Path, addr: &str, admin: &str) -> Result<()> {
    let report = root().join("target/tmp/hostile/schemathesis");
    let out = Command::new(tools.join("schemathesis"))
        .args(["run", &format!("http://{addr}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"])
        .args(["--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1", "--generation-database", "none"])
        .args(["--no-color", "--report-dir"])
        .arg(&report)
        .current_dir(root().join("target/tmp/hostile"))
        .output()
        .context("cannot run schemathesis")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> =
        text.lines().filter(|l| l.contains("generated") || l.contains("Tested:") || l.starts_with("=")).collect();
    eprintln!("hostile: schemathesis (seed {SEED}, {EXAMPLES} examples per operation):\n{}", summary.join("\n"));
    if !out.status.success() {
        bail!("schemathesis found problems:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Starts the API on a free port and returns it with the address it logs.
fn spawn_api(binary: &Path, home: &Path, kube_url: &str) -> Result<(Child, String)> {
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0", "--kube-url", kube_url])
        .env("ORCHESTRATOR_HOME", home)
        .env("ORCHESTRATOR_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start orchestrator-api")?;
    let mut stderr = BufReader::new(child.stderr.take().context("stderr is piped")?);
    loop {
        let mut line = String::new();
        ensure!(stderr.read_line(&mut line)? > 0, "orchestrator-api exited before listening");
        if line.contains("\"listening\"") {
            let log: serde_json::Value = serde_json::from_str(&line)?;
            let addr = log["fields"]["address"].as_str().context("the listening line names the address")?.to_owned();
            // The logs are drained, so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return Ok((child, addr));
        }
    }
}
