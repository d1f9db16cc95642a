//! `cargo xtask`: everything a person or CI runs on the project.
//!
//! - `ci`: installs what is missing, then fmt, clippy, cargo-deny, codegen check, all tests.
//! - `codegen [--check]`: writes the generated files (OpenAPI document, CRD, crate map);
//!   `--check` fails on drift.
//! - `hostile`: crafted hostile requests and schemathesis against the API binary (part of `ci`).
//! - `bench`: measures create-service and upgrades against copier and writes docs/BENCHMARKS.md.

mod bench;
mod ci;
mod codegen;
mod graph;
mod hostile;
#[cfg(test)]
mod tidy;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("codegen") => codegen::run(rest.contains(&"--check")),
        Some("bench") => bench::run(&rest),
        Some("hostile") => ci::hostile(),
        _ => {
            eprintln!("usage: cargo xtask <ci | codegen [--check] | bench [--quick] | hostile>");
            std::process::exit(2);
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_owned()
}

/// Runs a command in the workspace root, echoing it, failing on a non-zero exit.
pub fn run_cmd(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", show(cmd));
    let status = cmd.current_dir(root()).status().with_context(|| format!("cannot start {}", show(cmd)))?;
    if !status.success() {
        bail!("{} failed with {status}", show(cmd));
    }
    Ok(())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Whether `program args…` runs and exits 0.
pub fn has(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}
