//! Blueprints: listing, user blueprints replacing built-ins, checking a directory.

use crate::cli::support::Env;
use std::path::Path;

fn workspace_templates() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../templates"))
}

#[test]
fn kinds_lists_the_built_in_blueprints_with_their_parameters() {
    let env = Env::new();
    let kinds = env.json(&["kinds"]);
    let ms = kinds.as_array().unwrap().iter().find(|k| k["name"] == "ms").expect("ms is built in");
    assert_eq!(ms["version"], "1.0.0");
    let params: Vec<&str> = ms["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(params.contains(&"go_module") && params.contains(&"port"), "{params:?}");
    let (code, stdout, _) = env.run(&["kinds"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("ms 1.0.0  "), "{stdout}");
    assert!(stdout.contains("--set port=<integer>"), "{stdout}");
}

#[test]
fn the_built_in_blueprint_checks_clean() {
    let env = Env::new();
    let dir = workspace_templates().join("ms");
    let (code, stdout, stderr) = env.run(&["kinds", "--check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.ends_with(": ok\n"), "{stdout}");
}

#[test]
fn check_reports_every_problem_with_file_and_line() {
    let env = Env::new();
    let dir = env.dir.path().join("broken");
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("blueprint.toml"), "name = \"broken\"\nversion = \"1.0.0\"\ndescription = \"x\"\n[deploy]\nport = 8080\nhealth_path = \"/healthz\"\nready_path = \"/readyz\"\n").unwrap();
    std::fs::write(dir.join("app/a.txt.jinja"), "ok\n{% if %}\n").unwrap();
    std::fs::write(dir.join("app/b.txt.jinja"), "line one\nline two\n{{ name | }}\n").unwrap();
    let (code, stdout, _) = env.run(&["kinds", "--check", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("a.txt.jinja:2:"), "{stdout}");
    assert!(stdout.contains("b.txt.jinja:3:"), "{stdout}");
    assert!(stdout.contains("2 problem(s)"), "{stdout}");
}

#[test]
fn a_user_blueprint_replaces_the_built_in_of_the_same_name_and_renders() {
    let env = Env::new();
    let dir = env.dir.path().join("mine/ms");
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("blueprint.toml"), "name = \"ms\"\nversion = \"9.0.0\"\ndescription = \"our own ms\"\n[deploy]\nport = 8080\nhealth_path = \"/healthz\"\nready_path = \"/readyz\"\n").unwrap();
    std::fs::write(dir.join("app/HELLO.md.jinja"), "hello {{ name }}\n").unwrap();
    let folder = env.dir.path().join("mine");
    let mut cmd = env.cmd();
    let out = cmd.args(["kinds", "--output", "json"]).env("ORCHESTRATOR_BLUEPRINTS", &folder).output().unwrap();
    let kinds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ms: Vec<_> = kinds.as_array().unwrap().iter().filter(|k| k["name"] == "ms").collect();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["version"], "9.0.0");

    let out = env
        .cmd()
        .args(["create-service", "--kind", "ms", "--name", "custom", "--output", "json"])
        .env("ORCHESTRATOR_BLUEPRINTS", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["repos"][0]["files"], serde_json::json!([".orchestrator/answers.toml", "HELLO.md"]));
    let clone = env.clone("custom");
    assert_eq!(std::fs::read_to_string(clone.join("HELLO.md")).unwrap(), "hello custom\n");
}
