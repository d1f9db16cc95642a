//! `cargo xtask bench`: speed measured side by side with the tools this one replaces, in one
//! run on one machine, written to docs/BENCHMARKS.md.
//!
//! - create-service (the whole `orchestrator` process: three repositories) against
//!   `copier copy` of the same `ms` app template (copier from PyPI in a venv; the blueprint's
//!   `.jinja` files are Jinja2, so copier renders the very same files given a `copier.yml`);
//! - a ~1000-file blueprint against `cp -r` + `git init/add/commit` of the same tree.

use crate::{root, run_cmd};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Sample {
    name: &'static str,
    times: Vec<Duration>,
}

impl Sample {
    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t[t.len() / 2]
    }

    fn min(&self) -> Duration {
        self.times.iter().copied().min().unwrap_or_default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `cmd` and returns its wall time; fails if it fails.
fn time(cmd: &mut Command) -> Result<Duration> {
    let start = Instant::now();
    let out =
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().context("cannot start a benchmarked command")?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(elapsed)
}

fn measure(name: &'static str, runs: usize, mut make: impl FnMut(usize) -> Result<Command>) -> Result<Sample> {
    // One warm-up run (page cache, first-start effects), not counted.
    time(&mut make(usize::MAX)?)?;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        times.push(time(&mut make(i)?)?);
    }
    let s = Sample { name, times };
    eprintln!("bench: {name}: median {} (min {}, {runs} runs)", ms(s.median()), ms(s.min()));
    Ok(s)
}

pub fn run(args: &[&str]) -> Result<()> {
    let quick = args.contains(&"--quick");
    let runs = if quick { 3 } else { 20 };
    let root = root();
    run_cmd(Command::new("cargo").args(["build", "--release", "--locked", "-p", "orchestrator-cli"]))?;
    let orchestrator = root.join("target/release/orchestrator");
    let work = root.join("target/bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    let venv = root.join("target/tools/bench-venv");
    if !venv.join("bin/copier").exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run_cmd(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "copier",
        ]))?;
    }
    let copier = venv.join("bin/copier");
    let copier_version = output(Command::new(&copier).arg("--version"))?;

    // 1. create-service, three repositories: successive services in one data directory, as
    // a platform team runs it (the first run, which also creates the database and the GitOps
    // repository, is the uncounted warm-up).
    let create = measure("orchestrator create-service (3 repos)", runs, |i| {
        let mut cmd = Command::new(&orchestrator);
        cmd.args(["create-service", "--kind", "ms", "--name", &format!("bench-svc-{i}"), "--description", "benchmark"])
            .env("ORCHESTRATOR_HOME", work.join("create"))
            .env_remove("ORCHESTRATOR_BLUEPRINTS");
        Ok(cmd)
    })?;

    // 2. copier copy of the same app template.
    let copier_src = work.join("copier-ms");
    copy_dir(&root.join("templates/ms/app"), &copier_src)?;
    std::fs::write(copier_src.join("copier.yml"), COPIER_YML)?;
    let copier_runs = if quick { 3 } else { 10 };
    let copier_sample = measure("copier copy (ms app template only)", copier_runs, |i| {
        let mut cmd = Command::new(&copier);
        cmd.args(["copy", "--defaults", "--trust", "--quiet", "--overwrite"])
            .arg(&copier_src)
            .arg(work.join(format!("copier-out-{i}")));
        Ok(cmd)
    })?;

    // 3. A ~1000-file blueprint against cp -r + git add/commit of the same tree.
    let big = work.join("blueprints/big");
    let files = write_big_blueprint(&big)?;
    let big_sample = measure("orchestrator create-service (1000-file blueprint)", runs, |i| {
        let mut cmd = Command::new(&orchestrator);
        cmd.args(["create-service", "--kind", "big", "--name", &format!("bench-big-{i}")])
            .env("ORCHESTRATOR_HOME", work.join("big"))
            .env("ORCHESTRATOR_BLUEPRINTS", &big);
        Ok(cmd)
    })?;
    let cp_sample = measure("cp -r + git init/add/commit (same 1000 files)", runs, |i| {
        let target = work.join(format!("cp-{i}"));
        let script = format!(
            "cp -r '{}' '{}' && cd '{}' && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm bench",
            big.join("app").display(),
            target.display(),
            target.display()
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]);
        Ok(cmd)
    })?;

    let speedup = copier_sample.median().as_secs_f64() / create.median().as_secs_f64();
    let speedup_min = copier_sample.min().as_secs_f64() / create.min().as_secs_f64();
    let big_ratio = big_sample.median().as_secs_f64() / cp_sample.median().as_secs_f64();
    let report = render_report(
        &[&create, &copier_sample, &big_sample, &cp_sample],
        (speedup, speedup_min),
        big_ratio,
        files,
        &copier_version,
        quick,
    )?;
    std::fs::write(root.join("docs/BENCHMARKS.md"), report)?;
    eprintln!("bench: create-service is {speedup:.0}x faster than copier copy; 1000 files at {big_ratio:.2}x cp+git");
    eprintln!("bench: wrote docs/BENCHMARKS.md");
    Ok(())
}

const COPIER_YML: &str = "\
_templates_suffix: .jinja
_answers_file: .copier-answers.yml
name: {type: str, default: bench-svc}
description: {type: str, default: benchmark}
kind: {type: str, default: ms}
owner: {type: str, default: platform}
blueprint_version: {type: str, default: 1.0.0}
infra_repo: {type: str, default: bench-svc-infra}
infra_repo_url: {type: str, default: file:///tmp/bench-svc-infra.git}
service_repo_url: {type: str, default: file:///tmp/bench-svc.git}
image: {type: str, default: localhost:5000/platform/bench-svc}
environments: {type: yaml, default: [qa, staging]}
go_module: {type: str, default: example.com/bench-svc}
port: {type: int, default: 8080}
log_level: {type: str, default: info}
";

/// 900 static files and 100 templates in nested folders, about 2 KiB each.
fn write_big_blueprint(dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir.join("app"))?;
    std::fs::write(
        dir.join("blueprint.toml"),
        "name = \"big\"\nversion = \"1.0.0\"\ndescription = \"1000 files\"\n[deploy]\nport = 8080\nhealth_path = \"/healthz\"\nready_path = \"/readyz\"\n",
    )?;
    let line = "the quick brown fox jumps over the lazy dog 0123456789\n";
    for i in 0..1000 {
        let sub = dir.join(format!("app/pkg{:02}/sub{}", i % 40, i % 7));
        std::fs::create_dir_all(&sub)?;
        let mut body = String::new();
        for l in 0..36 {
            let _ = write!(body, "{i}:{l} {line}");
        }
        if i % 10 == 0 {
            std::fs::write(sub.join(format!("file{i}.txt.jinja")), format!("service {{{{ name }}}}\n{body}"))?;
        } else {
            std::fs::write(sub.join(format!("file{i}.txt")), body)?;
        }
    }
    Ok(1000)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().context("cannot run a version query")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cores} cores ({cpu})")
}

fn render_report(
    samples: &[&Sample],
    (speedup, speedup_min): (f64, f64),
    big_ratio: f64,
    files: usize,
    copier: &str,
    quick: bool,
) -> Result<String> {
    let rustc = output(Command::new("rustc").arg("--version"))?;
    let git = output(Command::new("git").arg("--version"))?;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Made by `cargo xtask bench{}` (whole processes, wall time, warm page cache, one warm-up run not counted).\n",
        if quick { " --quick" } else { "" }
    );
    let _ = writeln!(s, "- machine: {}", machine());
    let _ = writeln!(s, "- {rustc}; {git}; {copier}\n");
    let _ = writeln!(s, "| what | runs | median | min |\n|---|---|---|---|");
    for sample in samples {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            sample.name,
            sample.times.len(),
            ms(sample.median()),
            ms(sample.min())
        );
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let _ = writeln!(
        s,
        "\nThe machine is a shared virtual machine whose speed drifts: batches of the same binary differ by up to a third from one minute to the next, for every tool alike. Compare numbers within one report, not across reports."
    );
    let _ = writeln!(s, "\n## Targets\n");
    let _ = writeln!(
        s,
        "- create-service (three repositories, journaled) vs `copier copy` of the app template alone: **{speedup:.0}× faster** by medians, {speedup_min:.0}× by minima (target ≥ 50×: {}).",
        verdict(speedup >= 50.0)
    );
    let _ = writeln!(
        s,
        "- {files}-file blueprint: create-service takes **{big_ratio:.2}×** the time of `cp -r` + `git init/add/commit` of the same tree (target ≤ 3×: {}).",
        verdict(big_ratio <= 3.0)
    );
    Ok(s)
}
