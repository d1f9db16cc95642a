//! `cargo xtask bench`: speed measured side by side with the tools this one replaces, in one
//! run on one machine, written to docs/BENCHMARKS.md.
//!
//! - create-service (the whole `orchestrator` process: three repositories) against
//!   `copier copy` of the same `ms` app template (copier from PyPI in a venv; the blueprint's
//!   `.jinja` files are Jinja2, so copier renders the very same files given a `copier.yml`);
//! - a ~1000-file blueprint against `cp -r` + `git init/add/commit` of the same tree;
//! - `orchestrator upgrade` of a ~40-file service carrying a local edit against `copier update`
//!   of the same project with the same edit (copier's template is a git repository tagged
//!   `v1.0.0` and `v2.0.0` holding the very same `app/` files as the two blueprint versions);
//! - `orchestrator upgrade --all` over 100 services, set against one `copier update`.

use crate::{root, run_cmd};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
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
    run_quiet(cmd)?;
    Ok(start.elapsed())
}

/// Runs `cmd` with stdout discarded and stdin closed; fails, with its stderr, if it fails.
fn run_quiet(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
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

/// Measures two commands side by side: their runs interleaved, so that the machine's drift
/// (this VM's speed changes from one minute to the next) weighs on both alike and their ratio
/// holds. One warm-up run of each is not counted.
fn measure_side_by_side(
    a: (&'static str, usize, &mut dyn FnMut(usize) -> Result<Command>),
    b: (&'static str, usize, &mut dyn FnMut(usize) -> Result<Command>),
) -> Result<(Sample, Sample)> {
    let ((a_name, a_runs, make_a), (b_name, b_runs, make_b)) = (a, b);
    time(&mut make_a(usize::MAX)?)?;
    time(&mut make_b(usize::MAX)?)?;
    let (mut a_times, mut b_times) = (Vec::with_capacity(a_runs), Vec::with_capacity(b_runs));
    while a_times.len() < a_runs || b_times.len() < b_runs {
        // Whichever is further behind its share runs next.
        let a_behind = a_times.len() * b_runs <= b_times.len() * a_runs;
        if a_times.len() < a_runs && (a_behind || b_times.len() == b_runs) {
            a_times.push(time(&mut make_a(a_times.len())?)?);
        } else {
            b_times.push(time(&mut make_b(b_times.len())?)?);
        }
    }
    let (a, b) = (Sample { name: a_name, times: a_times }, Sample { name: b_name, times: b_times });
    for s in [&a, &b] {
        eprintln!("bench: {}: median {} (min {}, {} runs)", s.name, ms(s.median()), ms(s.min()), s.times.len());
    }
    Ok((a, b))
}

pub fn run(args: &[&str]) -> Result<()> {
    let quick = args.contains(&"--quick");
    let runs = if quick { 3 } else { 20 };
    let root = root();
    // What people download: the `dist` profile.
    run_cmd(Command::new("cargo").args(["build", "--profile", "dist", "--locked", "-p", "orchestrator-cli"]))?;
    let orchestrator = root.join("target/dist/orchestrator");
    let work = root.join("target/bench");
    // The last run's files (some 90 000) are set aside and deleted only after measuring: on
    // ext4 without a journal, creating files in the half minute after a mass delete is slow
    // (the allocator skips recently freed inodes), which would time the deletion, not the tools.
    let previous = root.join("target/bench-previous");
    if work.exists() {
        let _ = std::fs::remove_dir_all(&previous);
        std::fs::rename(&work, &previous)?;
    }
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
    // The blueprint quotes through two filters of its own (`yaml`, `go_string`); copier gets
    // them as a Jinja extension in its venv, so it renders the same files.
    let site = output(
        Command::new(venv.join("bin/python")).args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]),
    )?;
    std::fs::write(Path::new(site.trim()).join("orchestrator_filters.py"), COPIER_FILTERS)?;

    // 1. create-service, three repositories: successive services in one data directory, as
    // a platform team runs it (the first run, which also creates the database and the GitOps
    // repository, is the uncounted warm-up); and 2. copier copy of the same app template,
    // their runs interleaved.
    let copier_src = work.join("copier-ms");
    copy_dir(&root.join("templates/ms/app"), &copier_src)?;
    std::fs::write(copier_src.join("copier.yml"), COPIER_YML)?;
    let copier_runs = if quick { 3 } else { 10 };
    let (create, copier_sample) = measure_side_by_side(
        ("orchestrator create-service (3 repos)", runs, &mut |i| {
            let mut cmd = Command::new(&orchestrator);
            cmd.args([
                "create-service",
                "--kind",
                "ms",
                "--name",
                &format!("bench-svc-{i}"),
                "--description",
                "benchmark",
            ])
            .env("ORCHESTRATOR_HOME", work.join("create"))
            .env_remove("ORCHESTRATOR_BLUEPRINTS");
            Ok(cmd)
        }),
        ("copier copy (ms app template only)", copier_runs, &mut |i| {
            let mut cmd = Command::new(&copier);
            cmd.args(["copy", "--defaults", "--trust", "--quiet", "--overwrite"])
                .arg(&copier_src)
                .arg(work.join(format!("copier-out-{i}")));
            Ok(cmd)
        }),
    )?;

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

    // 4. One upgrade of a 40-file service carrying a local edit, against copier update; and
    // 5. upgrade --all over 100 services.
    let up40 = write_up40(&work.join("up40"))?;
    let upgrade = measure_upgrade(&orchestrator, &work, &up40, runs)?;
    let copier_update = measure_copier_update(&copier, &work, &up40, copier_runs)?;
    let upgrade_all = measure_upgrade_all(&orchestrator, &work, &up40, if quick { 1 } else { 3 })?;

    let speedup = ratio(copier_sample.median(), create.median());
    let speedup_min = ratio(copier_sample.min(), create.min());
    let big_ratio = ratio(big_sample.median(), cp_sample.median());
    let upgrade_speedup = ratio(copier_update.median(), upgrade.median());
    let upgrade_speedup_min = ratio(copier_update.min(), upgrade.min());
    let fleet_ratio = ratio(upgrade_all.median(), copier_update.median());
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let targets = [
        format!(
            "create-service (three repositories, journaled) vs `copier copy` of the app template alone: **{speedup:.0}× faster** by medians, {speedup_min:.0}× by minima (target ≥ 50×: {}).",
            verdict(speedup >= 50.0)
        ),
        format!(
            "{files}-file blueprint: create-service takes **{big_ratio:.2}×** the time of `cp -r` + `git init/add/commit` of the same tree (target ≤ 3×: {}).",
            verdict(big_ratio <= 3.0)
        ),
        format!(
            "upgrade of a {UP40_FILES}-file service with a local edit (render onto the template branch and 3-way merge into `main`, service and infra repositories, committed) vs `copier update` of the same project with the same edit (left uncommitted): **{upgrade_speedup:.0}× faster** by medians, {upgrade_speedup_min:.0}× by minima (target ≥ 20×: {}).",
            verdict(upgrade_speedup >= 20.0)
        ),
        format!(
            "`upgrade --all` over {FLEET} services: **{}**, {fleet_ratio:.2}× the time of one `copier update` (target < 1×: {}).",
            ms(upgrade_all.median()),
            verdict(fleet_ratio < 1.0)
        ),
    ];
    let report = render_report(
        &[&create, &copier_sample, &big_sample, &cp_sample, &upgrade, &copier_update, &upgrade_all],
        &targets,
        &copier_version,
        quick,
    )?;
    std::fs::write(root.join("docs/BENCHMARKS.md"), report)?;
    eprintln!("bench: create-service is {speedup:.0}x faster than copier copy; 1000 files at {big_ratio:.2}x cp+git");
    eprintln!(
        "bench: upgrade is {upgrade_speedup:.0}x faster than copier update; upgrade --all of {FLEET} at {fleet_ratio:.2}x one copier update"
    );
    eprintln!("bench: wrote docs/BENCHMARKS.md");
    let _ = std::fs::remove_dir_all(&previous);
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// The blueprint's quoting filters for copier's Jinja: JSON's double-quoted strings, lists and
/// maps are what `yaml` writes for the values here, and a Go string literal for `go_string`.
const COPIER_FILTERS: &str = "\
import json
from jinja2.ext import Extension


class Filters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters['yaml'] = lambda value: json.dumps(value, ensure_ascii=False)
        environment.filters['go_string'] = lambda value: json.dumps(str(value), ensure_ascii=False)
";

const COPIER_YML: &str = "\
_templates_suffix: .jinja
_jinja_extensions: [orchestrator_filters.Filters]
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

/// Files in version 1 of the "up40" blueprint's `app/`.
const UP40_FILES: usize = 40;
/// Services `upgrade --all` upgrades at once.
const FLEET: usize = 100;
/// The files (by index) whose last line version 2 changes: five templates, five plain files.
const UP40_CHANGED: [usize; 10] = [1, 4, 9, 12, 17, 20, 25, 28, 33, 36];
/// The files a team edits near the top: all three also change at the end in version 2, so
/// both tools have a real merge to make, and a clean one.
const LOCAL_EDITS: [usize; 3] = [1, 4, 12];
/// The file version 2 removes; version 2 also adds `src/added.txt`.
const UP40_REMOVED: usize = 38;
const LOCAL_EDIT_LINE: &str = "# edited by the team";

/// The two versions of "up40" as blueprints, and the same files as a copier template: a git
/// repository with the commits tagged `v1.0.0` and `v2.0.0`.
struct Up40 {
    v1: PathBuf,
    v2: PathBuf,
    copier_template: PathBuf,
}

/// Writes both blueprint versions and the copier template repository under `dir`.
fn write_up40(dir: &Path) -> Result<Up40> {
    let up40 = Up40 { v1: dir.join("v1"), v2: dir.join("v2"), copier_template: dir.join("copier-template") };
    for (version, blueprint) in [(1, &up40.v1), (2, &up40.v2)] {
        std::fs::create_dir_all(blueprint)?;
        std::fs::write(blueprint.join("blueprint.toml"), up40_manifest(version))?;
        write_files(&blueprint.join("app"), &up40_app(version))?;
    }
    write_copier_template(&up40.copier_template)?;
    Ok(up40)
}

fn up40_manifest(version: u8) -> String {
    format!(
        r#"name = "up40"
version = "{version}.0.0"
description = "40 files, for the upgrade benchmark"
[deploy]
port = 8080
health_path = "/healthz"
ready_path = "/readyz"
[[parameters]]
name = "port"
type = "integer"
description = "Port the service listens on"
default = 8080
[[parameters]]
name = "log_level"
type = "choice"
description = "Log level"
choices = ["debug", "info", "warn", "error"]
default = "info"
"#
    )
}

const UP40_COPIER_YML: &str = "\
_templates_suffix: .jinja
_answers_file: .copier-answers.yml
_subdirectory: app
name: {type: str, default: up-svc}
port: {type: int, default: 8080}
log_level: {type: str, default: info, choices: [debug, info, warn, error]}
";

/// The `app/` files of `version` (1 or 2) as (path, content): three in four are `.jinja`
/// templates using `name`, `port` and `log_level`, the rest plain; 20 to 80 lines each, in
/// six folders.
fn up40_app(version: u8) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = (0..UP40_FILES)
        .filter(|&i| version == 1 || i != UP40_REMOVED)
        .map(|i| {
            let last = if version == 2 && UP40_CHANGED.contains(&i) { 2 } else { 1 };
            (up40_path(i), up40_body(i, last))
        })
        .collect();
    if version == 2 {
        files.push(("src/added.txt.jinja".into(), "added in version 2 for {{ name }}\n".into()));
    }
    files
}

/// Where file `i` sits in `app/`, `.jinja` suffix included.
fn up40_path(i: usize) -> String {
    let dir = ["", "src/", "src/handlers/", "config/", "docs/", "deploy/k8s/"][i % 6];
    let suffix = if is_template(i) { ".jinja" } else { "" };
    format!("{dir}file{i:02}.txt{suffix}")
}

/// Where file `i` sits in a rendered project.
fn up40_rendered(i: usize) -> String {
    up40_path(i).trim_end_matches(".jinja").to_owned()
}

/// Three files in four; the others, and one in two of `UP40_CHANGED`, are plain.
fn is_template(i: usize) -> bool {
    i % 4 != 1
}

/// File `i`'s lines; its last line names `last_version`, the only line version 2 changes.
fn up40_body(i: usize, last_version: u8) -> String {
    let lines = 20 + (i * 13) % 61;
    let mut body = String::new();
    for l in 0..lines - 1 {
        let _ = match (is_template(i), l % 5) {
            (true, 0) => writeln!(body, "# {{{{ name }}}}: file {i}, line {l}"),
            (true, 1) => writeln!(body, "listen = {{{{ port }}}}  # line {l}"),
            (true, 2) => writeln!(body, "log_level = \"{{{{ log_level }}}}\"  # line {l}"),
            _ => writeln!(body, "file {i} line {l}: the quick brown fox jumps over the lazy dog"),
        };
    }
    let _ = writeln!(body, "end of file {i}, version {last_version}");
    body
}

fn write_files(dir: &Path, files: &[(String, String)]) -> Result<()> {
    for (path, content) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The copier template: `copier.yml`, the answers-file template copier needs to update, and
/// `app/` of version 1 then of version 2, committed and tagged.
fn write_copier_template(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    git(dir, &["init", "-q"])?;
    std::fs::write(dir.join("copier.yml"), UP40_COPIER_YML)?;
    for version in [1, 2] {
        let app = dir.join("app");
        let _ = std::fs::remove_dir_all(&app);
        write_files(&app, &up40_app(version))?;
        std::fs::write(app.join("{{ _copier_conf.answers_file }}.jinja"), "{{ _copier_answers|to_nice_yaml }}\n")?;
        git(dir, &["add", "-A"])?;
        git(dir, &["commit", "-qm", &format!("up40 {version}.0.0")])?;
        git(dir, &["tag", &format!("v{version}.0.0")])?;
    }
    Ok(())
}

/// `measure`'s run ids: 0..runs, and `usize::MAX` for the warm-up.
fn run_ids(runs: usize) -> impl Iterator<Item = usize> {
    (0..runs).chain([usize::MAX])
}

fn run_label(i: usize) -> String {
    if i == usize::MAX { "warm-up".into() } else { i.to_string() }
}

fn up_service(i: usize) -> String {
    format!("up-svc-{}", run_label(i))
}

/// One `orchestrator upgrade` of a service whose `main` carries a team's commit. Setup, not
/// timed: one service per run in one data directory, each edited through a clone and a push.
/// Checks afterwards that the upgrade merged version 2 and kept the edit.
fn measure_upgrade(orchestrator: &Path, work: &Path, up40: &Up40, runs: usize) -> Result<Sample> {
    let home = work.join("upgrade");
    let names: Vec<String> = run_ids(runs).map(up_service).collect();
    create_services(orchestrator, &home, &up40.v1, &names)?;
    for name in &names {
        push_local_edit(&bare_repo(&home, name), &work.join("upgrade-clones").join(name))?;
    }
    let sample = measure("orchestrator upgrade (40 files, local edit)", runs, |i| {
        let mut cmd = upgrade_cmd(orchestrator, &home, &up40.v2);
        cmd.arg(up_service(i));
        Ok(cmd)
    })?;
    let bare = bare_repo(&home, &up_service(0));
    check_upgrade_commit(&bare)?;
    for i in LOCAL_EDITS {
        let file = up40_rendered(i);
        let text = git_output(&bare, &["show", &format!("main:{file}")])?;
        check_merged(&text).with_context(|| format!("{file} on main of {}", bare.display()))?;
    }
    Ok(sample)
}

/// One `copier update` to `v2.0.0` of a project copied at `v1.0.0`, committed, then edited
/// and committed as in `measure_upgrade` (copier updates only clean git repositories). Checks
/// afterwards that the update brought version 2 and kept the edit.
fn measure_copier_update(copier: &Path, work: &Path, up40: &Up40, runs: usize) -> Result<Sample> {
    let project = |i| work.join(format!("copier-update-{}", run_label(i)));
    for i in run_ids(runs) {
        copier_project(copier, &up40.copier_template, &project(i), &up_service(i))?;
    }
    let sample = measure("copier update (same 40 files, same edit)", runs, |i| {
        let mut cmd = Command::new(copier);
        cmd.args(["update", "--trust", "--defaults", "--skip-answered", "--quiet", "--vcs-ref", "v2.0.0"])
            .current_dir(project(i));
        with_git_identity(&mut cmd);
        Ok(cmd)
    })?;
    for i in LOCAL_EDITS {
        let path = project(0).join(up40_rendered(i));
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        check_merged(&text).with_context(|| format!("{} after copier update", path.display()))?;
    }
    Ok(sample)
}

/// `orchestrator upgrade --all` over `FLEET` services of up40 1.0.0, a fresh data directory
/// per repetition (set up untimed); checks that every service of the first got the upgrade.
fn measure_upgrade_all(orchestrator: &Path, work: &Path, up40: &Up40, repetitions: usize) -> Result<Sample> {
    let home = |i| work.join(format!("upgrade-all-{}", run_label(i)));
    let names: Vec<String> = (0..FLEET).map(|n| format!("fleet-{n}")).collect();
    for i in run_ids(repetitions) {
        create_services(orchestrator, &home(i), &up40.v1, &names)?;
    }
    let sample = measure("orchestrator upgrade --all (100 services)", repetitions, |i| {
        let mut cmd = upgrade_cmd(orchestrator, &home(i), &up40.v2);
        cmd.arg("--all");
        Ok(cmd)
    })?;
    for name in &names {
        check_upgrade_commit(&bare_repo(&home(0), name))?;
    }
    Ok(sample)
}

fn upgrade_cmd(orchestrator: &Path, home: &Path, blueprints: &Path) -> Command {
    let mut cmd = Command::new(orchestrator);
    cmd.arg("upgrade").env("ORCHESTRATOR_HOME", home).env("ORCHESTRATOR_BLUEPRINTS", blueprints);
    cmd
}

/// Creates one up40 service per name in the data directory `home`.
fn create_services(orchestrator: &Path, home: &Path, blueprints: &Path, names: &[String]) -> Result<()> {
    for name in names {
        run_quiet(
            Command::new(orchestrator)
                .args(["create-service", "--kind", "up40", "--name", name])
                .env("ORCHESTRATOR_HOME", home)
                .env("ORCHESTRATOR_BLUEPRINTS", blueprints),
        )?;
    }
    Ok(())
}

fn bare_repo(home: &Path, service: &str) -> PathBuf {
    home.join(format!("git/platform/{service}.git"))
}

/// A team's commit on `main`: clone, edit near the top of the `LOCAL_EDITS` files, push.
fn push_local_edit(bare: &Path, clone: &Path) -> Result<()> {
    run_quiet(Command::new("git").args(["clone", "-q"]).arg(bare).arg(clone))?;
    edit_near_top(clone)?;
    git(clone, &["commit", "-qam", "Local edit"])?;
    git(clone, &["push", "-q", "origin", "HEAD:main"])
}

/// `copier copy` at `v1.0.0` into `dir`, committed as a new git repository, then edited as
/// `push_local_edit` does and committed.
fn copier_project(copier: &Path, template: &Path, dir: &Path, name: &str) -> Result<()> {
    let mut copy = Command::new(copier);
    copy.args(["copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "v1.0.0", "--data"])
        .arg(format!("name={name}"))
        .arg(template)
        .arg(dir);
    run_quiet(with_git_identity(&mut copy))?;
    git(dir, &["init", "-q"])?;
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-qm", "Copy up40 1.0.0"])?;
    edit_near_top(dir)?;
    git(dir, &["commit", "-qam", "Local edit"])
}

/// Replaces the first line of each `LOCAL_EDITS` file of a rendered project.
fn edit_near_top(project: &Path) -> Result<()> {
    for i in LOCAL_EDITS {
        let path = project.join(up40_rendered(i));
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let rest = text.split_once('\n').map_or("", |(_, rest)| rest);
        std::fs::write(&path, format!("{LOCAL_EDIT_LINE}\n{rest}"))?;
    }
    Ok(())
}

/// Whether a rendered file holds both the team's edit and version 2's last line.
fn check_merged(text: &str) -> Result<()> {
    if !text.starts_with(LOCAL_EDIT_LINE) {
        bail!("the local edit is gone");
    }
    if !text.trim_end().ends_with("version 2") {
        bail!("version 2's last line is missing");
    }
    Ok(())
}

fn check_upgrade_commit(bare: &Path) -> Result<()> {
    let subject = git_output(bare, &["log", "-1", "--format=%s", "main"])?;
    if !subject.starts_with("Upgrade blueprint up40 1.0.0 → 2.0.0") {
        bail!("main of {} was not upgraded: its last commit is {subject:?}", bare.display());
    }
    Ok(())
}

/// Commits need an identity; the machine running the bench may have none configured.
fn with_git_identity(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
}

/// `git -C dir args…`, quietly.
fn git(dir: &Path, args: &[&str]) -> Result<()> {
    run_quiet(with_git_identity(Command::new("git").arg("-C").arg(dir).args(args)))
}

/// `git -C dir args…`'s stdout, trimmed.
fn git_output(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().context("cannot start git")?;
    if !out.status.success() {
        bail!("git -C {} {} failed: {}", dir.display(), args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
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

fn render_report(samples: &[&Sample], targets: &[String], copier: &str, quick: bool) -> Result<String> {
    let rustc = output(Command::new("rustc").arg("--version"))?;
    let git = output(Command::new("git").arg("--version"))?;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Made by `cargo xtask bench{}` (whole processes of the `dist` build people download, wall time, warm page cache, one warm-up run not counted).\n",
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
    let _ = writeln!(
        s,
        "\nThe machine is a shared virtual machine whose speed drifts: batches of the same binary differ by up to a third from one minute to the next, for every tool alike. create-service and `copier copy` therefore run interleaved (two of ours, one of copier's), so the drift weighs on both alike. The previous run's files are deleted after measuring, not before: on this ext4 without a journal, creating files in the half minute after a mass delete is slow for every tool. Compare numbers within one report, not across reports."
    );
    let _ = writeln!(s, "\n## Targets\n");
    for target in targets {
        let _ = writeln!(s, "- {target}");
    }
    Ok(s)
}
