//! The chart repository served by the `orchestrator-api` process, read by the real Helm engine:
//! a chart published with `orchestrator chart publish` is found in the index, pulled with a
//! reader's token as the Basic password and rendered; with `charts.public` a generated infra
//! repository resolves its base chart with `helm dependency update` and no credentials, lints
//! and renders its environment.

use crate::api::process::{serving, token};
use std::path::Path;
use std::process::Command;
use test_harness::helm::{Basic, CHART_NAME, CHART_VERSION, Values, chart_dir, helm, one};

/// Publishes the base chart into the data directory `home` with the command line, its index
/// pointing at the server at `addr` (its public URL).
fn publish(home: &Path, addr: &str) -> serde_json::Value {
    let out = Command::new(crate::binaries::orchestrator())
        .args(["chart", "publish", "--output", "json"])
        .arg(chart_dir())
        .env("ORCHESTRATOR_HOME", home)
        .env("ORCHESTRATOR_PUBLIC_URL", format!("http://{addr}/"))
        .env_remove("ORCHESTRATOR_BLUEPRINTS")
        .env_remove("ORCHESTRATOR_CHART_REPOSITORY")
        .output()
        .expect("the command line runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["url"], format!("http://{addr}/charts/{CHART_NAME}-{CHART_VERSION}.tgz"), "{report}");
    report
}

#[test]
fn helm_pulls_a_published_chart_with_a_reader_token_and_renders_it() {
    let helm = helm();
    let home = tempfile::tempdir().expect("a temporary directory");
    let reader = token(home.path(), "reader");
    let (_server, addr) = serving(home.path(), &[], &[]);
    let report = publish(home.path(), &addr);
    let repo = format!("http://{addr}/charts");
    let basic = Basic { username: "helm", password: &reader };

    let refused = helm.repo_index(&repo, None).expect_err("no credentials, no index");
    assert!(refused.contains("401"), "{refused}");
    let wrong = Basic { username: "helm", password: "orc_000000000000_nope" };
    assert!(helm.repo_index(&repo, Some(wrong)).is_err(), "a wrong token reads nothing");

    let index = helm.repo_index(&repo, Some(basic)).expect("Helm reads the index");
    let entry = &index["entries"][CHART_NAME][0];
    assert_eq!(entry["version"], CHART_VERSION, "{index:#}");
    assert_eq!(entry["digest"], report["digest"], "{index:#}");

    let dest = tempfile::tempdir().expect("a temporary directory");
    let (archive, digest) =
        helm.pull(CHART_NAME, &repo, CHART_VERSION, dest.path(), Some(basic)).expect("Helm pulls the chart");
    // Helm names the digest with its algorithm; the index holds the bare hex.
    assert_eq!(digest.strip_prefix("sha256:"), entry["digest"].as_str(), "the archive Helm got is the one indexed");

    let values = Values::new();
    let file = values.json(
        "values.yaml",
        &serde_json::json!({"image": {"repository": "registry.example.com/demo", "tag": "1.2.3"}}),
    );
    let objects = helm.render(&archive, "demo", "apps", &[file]).expect("the pulled chart renders");
    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["metadata"]["labels"]["app.kubernetes.io/instance"], "demo", "{deployment:#}");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example.com/demo:1.2.3",
        "{deployment:#}"
    );
}

#[test]
fn a_generated_infra_repository_resolves_its_base_chart_from_the_served_repository_and_renders() {
    let helm = helm();
    let home = tempfile::tempdir().expect("a temporary directory");
    let (_server, addr) = serving(home.path(), &[], &[("ORCHESTRATOR_CHARTS_PUBLIC", "true")]);
    publish(home.path(), &addr);

    // A service created as users do, its Chart.yaml pointing at the served repository.
    let out = Command::new(crate::binaries::orchestrator())
        .args(["create-service", "--kind", "ms", "--name", "demo", "--output", "json"])
        .env("ORCHESTRATOR_HOME", home.path())
        .env("ORCHESTRATOR_PUBLIC_URL", format!("http://{addr}"))
        .env_remove("ORCHESTRATOR_BLUEPRINTS")
        .env_remove("ORCHESTRATOR_CHART_REPOSITORY")
        .output()
        .expect("the command line runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let chart = tempfile::tempdir().expect("a temporary directory");
    let clone = Command::new("git")
        .args(["clone", "--quiet"])
        .arg(home.path().join("git/platform/demo-infra.git"))
        .arg(chart.path().join("demo-infra"))
        .output()
        .expect("git runs");
    assert!(clone.status.success(), "{}", String::from_utf8_lossy(&clone.stderr));
    let infra = chart.path().join("demo-infra");
    let manifest = std::fs::read_to_string(infra.join("Chart.yaml")).expect("the infra repository has a Chart.yaml");
    assert!(manifest.contains(&format!("repository: http://{addr}/charts")), "{manifest}");

    // `helm dependency update` fetches the base chart from the server, with no credentials.
    let archives = helm.dependency_update(&infra).expect("Helm resolves the dependency");
    assert_eq!(archives, [format!("{CHART_NAME}-{CHART_VERSION}.tgz")]);
    let values = [infra.join("values.yaml"), infra.join("values-qa.yaml")];
    let lint = helm.lint(&infra, &values);
    assert_eq!(lint["ok"], true, "the infra repository is a valid chart: {lint:#}");

    let objects = helm.render(&infra, "demo", "demo-qa", &values).expect("the infra chart renders");
    let deployment = one(&objects, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert!(container["image"].as_str().is_some_and(|i| i.ends_with("/demo:latest")), "{deployment:#}");
    let ingress = one(&objects, "Ingress");
    assert!(ingress["spec"]["rules"][0]["host"].as_str().is_some_and(|h| h.starts_with("demo-qa.")), "{ingress:#}");
}
