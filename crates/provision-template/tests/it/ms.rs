//! The built-in `ms` blueprint: a Go service that vets, builds and tests with Go 1.19 and the
//! standard library alone, a Dockerfile hadolint accepts, CI that bumps its own infra repo.

use crate::support::{ctx, paths, text, write_fileset};
use provision_core::FileSet;
use provision_template::{Blueprint, RenderContext, Target, builtin};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ms() -> Blueprint {
    builtin::get("ms").expect("ms is built in").unwrap()
}

fn render(target: Target, c: &RenderContext, given: serde_json::Value) -> FileSet {
    let b = ms();
    let given: BTreeMap<String, serde_json::Value> = serde_json::from_value(given).unwrap();
    let answers = b.resolve_answers(&given, c).unwrap();
    b.render(target, c, &answers).unwrap()
}

/// A tool from `$env_var` or PATH. Missing tools fail the test: they are part of the
/// project's test setup, which `cargo xtask ci` installs.
fn tool(name: &str, env_var: Option<&str>) -> PathBuf {
    if let Some(path) = env_var.and_then(std::env::var_os) {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed{}: run `cargo xtask ci`, which installs it (or install it yourself)",
                env_var.map(|v| format!(" (looked at ${v} and PATH)")).unwrap_or_default()
            )
        })
}

fn run(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &Path)]) {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    cmd.env("GOFLAGS", "-mod=mod").env("GOPROXY", "off").env("GOTOOLCHAIN", "local").env("GO111MODULE", "on");
    cmd.env("GOSUMDB", "off").env("CGO_ENABLED", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {} failed ({}):\n{}\n{}",
        program.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_go_service_vets_builds_and_tests() {
    let go = tool("go", None);
    let gofmt = go.parent().map(|d| d.join("gofmt")).filter(|p| p.is_file()).unwrap_or_else(|| tool("gofmt", None));
    // A description that must be escaped in Go source (the template quotes it with go_string).
    let mut c = ctx("payments");
    c.builtins.description = "Takes \"payments\" \\ refunds\nand more: `raw` {{ x }} # ü \u{0} \u{feff}".into();
    let app = render(Target::App, &c, json!({"go_module": "git.example.com/team-a/payments", "port": 9090}));
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    write_fileset(&src, &app);
    let cache = work.path().join("gocache");
    let gopath = work.path().join("gopath");
    let env = [("GOCACHE", cache.as_path()), ("GOPATH", gopath.as_path()), ("HOME", work.path())];
    run(&src, &go, &["vet", "./..."], &env);
    run(&src, &go, &["build", "./..."], &env);
    run(&src, &go, &["test", "-count=1", "./..."], &env);

    let unformatted = Command::new(&gofmt).arg("-l").arg(".").current_dir(&src).output().unwrap();
    assert!(unformatted.status.success());
    assert_eq!(String::from_utf8_lossy(&unformatted.stdout), "", "files not gofmt-ed");
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let hadolint = tool("hadolint", Some("HADOLINT"));
    let app = render(Target::App, &ctx("demo"), json!({}));
    let dockerfile = text(&app, "Dockerfile");
    assert!(dockerfile.contains("FROM golang:1.19 AS build"), "{dockerfile}");
    assert!(dockerfile.contains("FROM scratch") && dockerfile.contains("USER 65532:65532"), "{dockerfile}");
    assert!(dockerfile.contains("EXPOSE 8080") && dockerfile.contains("CGO_ENABLED=0"), "{dockerfile}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(&path, dockerfile).unwrap();
    let out = Command::new(&hadolint)
        .arg("--no-color")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", hadolint.display()));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "hadolint findings:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ci_pushes_the_image_and_bumps_this_services_infra_repo() {
    let app = render(Target::App, &ctx("demo"), json!({}));
    let ci = text(&app, ".github/workflows/ci.yaml");
    assert!(ci.contains("branches: [main]"), "{ci}");
    assert!(ci.contains("go-version-file: go.mod") && ci.contains("make test"), "{ci}");
    assert!(ci.contains("IMAGE: \"registry.example.com/team-a/demo\""), "{ci}");
    assert!(ci.contains("tags=\"$IMAGE:$GITHUB_SHA ") && ci.contains("docker push \"$tag\""), "{ci}");
    assert!(ci.contains("TAGS: ${{ steps.tags.outputs.tags }}"), "{ci}");
    assert!(ci.contains("INFRA_REPO_URL: \"https://git.example.com/team-a/demo-infra.git\""), "{ci}");
    assert!(ci.contains("INFRA_REPO_TOKEN: ${{ secrets.INFRA_REPO_TOKEN }}"), "{ci}");
    assert!(ci.contains("values.yaml") && ci.contains("tag:"), "{ci}");
    assert!(ci.contains("group: \"bump-demo-infra\"") && ci.contains("SERVICE: \"demo\""), "{ci}");
    assert!(!ci.contains("{%") && !ci.contains("{{ name"), "template syntax left in:\n{ci}");
}

/// The awk program of the CI's bump step, run by the system's `awk` on `values`.
fn ci_bump(ci: &str, values: &str, tag: &str) -> String {
    let start =
        ci.find("awk -v tag=\"$GITHUB_SHA\" '").expect("the bump step runs awk") + "awk -v tag=\"$GITHUB_SHA\" '".len();
    let program = &ci[start..start + ci[start..].find("' values.yaml").expect("the awk program ends")];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).unwrap();
    let out = Command::new("awk").args(["-v", &format!("tag={tag}"), program]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ci_bumps_the_base_charts_tag_under_its_key_or_at_the_top_level() {
    let app = render(Target::App, &ctx("demo"), json!({}));
    let ci = text(&app, ".github/workflows/ci.yaml");
    // The infra chart's layout: the base chart's values under its name.
    let nested = "# Generated.\nms-base-chart:\n  nameOverride: demo\n  image:\n    repository: r/demo\n\n    # set by CI\n    tag: latest\n    pullPolicy: IfNotPresent\n  service:\n    tag: not-this\n";
    assert_eq!(ci_bump(&ci, nested, "3f2a9c1"), nested.replace("    tag: latest\n", "    tag: \"3f2a9c1\"\n"));
    // Infra repositories generated before: at the top level.
    let top = "nameOverride: demo\nimage:\n  repository: r/demo\n  tag: latest\nservice:\n  tag: not-this\n";
    assert_eq!(ci_bump(&ci, top, "3f2a9c1"), top.replace("  tag: latest\n", "  tag: \"3f2a9c1\"\n"));
}

#[test]
fn go_mod_and_defaults() {
    let app = render(Target::App, &ctx("demo"), json!({}));
    assert_eq!(text(&app, "go.mod"), "module example.com/demo\n\ngo 1.19\n");
    let main = text(&app, "main.go");
    assert!(main.contains("\"example.com/demo/internal/config\""), "{main}");
    assert!(main.contains("Port:            8080,") && main.contains("LogLevel:        \"info\","), "{main}");
    let infra = render(Target::Infra, &ctx("demo"), json!({}));
    let readme = text(&infra, "README.md");
    assert!(readme.contains("| `values-qa.yaml` |") && readme.contains("| `values-prod.yaml` |"), "{readme}");
    assert!(!infra.contains(&provision_core::RepoPath::parse("values.yaml").unwrap()), "the app generates values.yaml");
}

#[test]
fn rendered_paths() {
    let c = ctx("demo");
    let listing = |t| paths(&render(t, &c, json!({}))).join("\n");
    insta::assert_snapshot!("ms_app_paths", listing(Target::App));
    insta::assert_snapshot!("ms_infra_paths", listing(Target::Infra));
}

#[test]
fn the_manifest_serializes_for_listings() {
    let json = serde_json::to_value(ms().manifest()).unwrap();
    assert_eq!(json["name"], "ms");
    assert_eq!(json["deploy"], json!({"port": 8080, "health_path": "/healthz", "ready_path": "/readyz"}));
    assert_eq!(json["parameters"][0]["name"], "go_module");
    assert_eq!(json["parameters"][0]["type"], "string");
    assert_eq!(json["parameters"][0]["default"], "example.com/{{ name }}");
    assert_eq!(
        json["parameters"][1],
        json!({
            "name": "port", "type": "integer", "min": 1, "max": 65535, "default": 8080, "required": false,
            "description": "Port the service listens on when PORT is not set"
        })
    );
    assert_eq!(json["parameters"][2]["choices"], json!(["debug", "info", "warn", "error"]));
}

#[test]
fn parsing_the_builtins_is_cheap() {
    let start = std::time::Instant::now();
    let all = builtin::blueprints().unwrap();
    let elapsed = start.elapsed();
    assert!(!all.is_empty());
    // Generous for an unoptimized build on a busy machine; typically a few milliseconds.
    assert!(elapsed < std::time::Duration::from_millis(500), "{elapsed:?}");
    eprintln!("parsed {} built-in blueprints in {elapsed:?}", all.len());
}

#[test]
fn go_module_answers_follow_go_s_rules_each_named() {
    let b = ms();
    let c = ctx("demo");
    let long = format!("example.com/{}", "a".repeat(provision_template::GO_MODULE_MAX));
    for (value, rule) in [
        ("example.com/../x", "dot-dot"),
        ("example.com/x/..", "dot-dot"),
        ("example.com//x", "empty-element"),
        ("example.com/x/", "empty-element"),
        (long.as_str(), "too-long"),
        ("Example.com/x", "uppercase"),
        ("example.com/x y", "invalid-character"),
        ("example.com/x\"\nmodule evil", "invalid-character"),
        ("example.com/x/v1", "major-version"),
        ("", "required"),
    ] {
        let given = BTreeMap::from([("go_module".to_owned(), json!(value))]);
        let problems = b.resolve_answers(&given, &c).unwrap_err();
        let found: Vec<(&str, &str)> = problems.problems().iter().map(|p| (p.field.as_str(), p.rule)).collect();
        assert!(found.contains(&("parameters.go_module", rule)), "{value:?}: {found:?}");
        assert!(problems.problems().iter().all(|p| p.message.contains("go_module")), "{problems}");
    }
    let given = BTreeMap::from([("go_module".to_owned(), json!("git.example.com/Team_A/pay~ments/v2"))]);
    let answers = b.resolve_answers(&given, &c).unwrap();
    assert_eq!(
        text(&b.render(Target::App, &c, &answers).unwrap(), "go.mod"),
        "module git.example.com/Team_A/pay~ments/v2\n\ngo 1.19\n"
    );
}
