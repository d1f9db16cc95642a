//! `orchestrator bump-image`: one line of one values file changes, read back with the git CLI.

use crate::cli::support::{Env, git, log};

#[test]
fn a_bump_changes_only_the_tag_line_and_the_same_tag_again_changes_nothing() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "pay"]);
    // The team annotated the values; the bump must keep that.
    let work = env.clone("pay-infra");
    let values = std::fs::read_to_string(work.join("values.yaml")).unwrap();
    let annotated = values.replace("    tag: latest\n", "    tag: latest # CI sets this\n    # pinned by the team:\n");
    std::fs::write(work.join("values.yaml"), &annotated).unwrap();
    git(&work, &["-c", "user.name=Dev", "-c", "user.email=dev@example.test", "commit", "-qam", "Annotate"]);
    git(&work, &["push", "-q", "origin", "main"]);

    let report = env.json(&["bump-image", "pay", "3f2a9c1"]);
    assert_eq!(report["changed"], true, "{report}");
    assert_eq!(report["file"], "values.yaml");
    let bare = env.bare("pay-infra");
    assert_eq!(log(&bare, "main")[0], "Bump pay image to 3f2a9c1 in all environments");
    let diff = git(&bare, &["diff", "--unified=0", "main^", "main"]);
    let changed: Vec<&str> =
        diff.lines().filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---")).collect();
    assert_eq!(changed, ["-    tag: latest # CI sets this", "+    tag: \"3f2a9c1\"  # CI sets this"], "{diff}");
    assert_eq!(
        git(&bare, &["show", "main:values.yaml"]),
        annotated.replace("tag: latest # CI", "tag: \"3f2a9c1\"  # CI")
    );

    let again = env.json(&["bump-image", "pay", "3f2a9c1"]);
    assert_eq!(again["changed"], false);
    assert_eq!(log(&bare, "main").len(), 3, "nothing committed the second time");

    // One environment: its values file gets the image block, among the base chart's values.
    let qa = env.json(&["bump-image", "pay", "v1.4.0", "--env", "qa"]);
    assert_eq!(qa["file"], "values-qa.yaml");
    let values_qa = git(&bare, &["show", "main:values-qa.yaml"]);
    assert!(values_qa.ends_with("\n  image:\n    tag: \"v1.4.0\"\n"), "{values_qa}");
    let parsed: serde_json::Value = serde_saphyr::from_str(&values_qa).unwrap();
    assert_eq!(parsed["ms-base-chart"]["image"]["tag"], "v1.4.0", "{values_qa}");
    assert_eq!(log(&bare, "main")[0], "Bump pay image to v1.4.0 in qa");
}

#[test]
fn a_bad_tag_or_environment_is_refused_naming_the_field() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "pay"]);
    let (code, _, stderr) = env.run(&["bump-image", "pay", "bad tag", "--env", "moon", "--output", "json"]);
    assert_eq!(code, 2, "{stderr}");
    let problems: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    let fields: Vec<&str> =
        problems["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["tag", "env"], "{stderr}");
    let (code, _, stderr) = env.run(&["bump-image", "nope", "v1"]);
    assert_eq!(code, 3, "not found: {stderr}");
    assert!(stderr.contains("service nope does not exist"), "{stderr}");
    assert_eq!(log(&env.bare("pay-infra"), "main").len(), 1);
}

#[test]
fn a_dry_run_bump_shows_the_diff_and_commits_nothing() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "pay"]);
    let bare = env.bare("pay-infra");
    let before = log(&bare, "main");

    let report = env.json(&["bump-image", "pay", "3f2a9c1", "--dry-run"]);
    assert_eq!((report["dry_run"].as_bool(), report["changed"].as_bool()), (Some(true), Some(true)), "{report}");
    let diff = report["diff"].as_str().expect("a diff");
    assert!(diff.starts_with("--- a/values.yaml\n+++ b/values.yaml\n@@ "), "{diff}");
    assert!(diff.contains("\n-    tag: latest\n+    tag: \"3f2a9c1\"\n"), "{diff}");
    let (code, stdout, stderr) = env.run(&["bump-image", "pay", "3f2a9c1", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("Dry run: nothing was committed.") && stdout.contains("+    tag: \"3f2a9c1\""),
        "{stdout}"
    );
    assert_eq!(log(&bare, "main"), before, "nothing was committed");

    env.json(&["bump-image", "pay", "3f2a9c1"]);
    let same = env.json(&["bump-image", "pay", "3f2a9c1", "--dry-run"]);
    assert_eq!(same["changed"], false, "{same}");
    assert!(same.get("diff").is_none(), "{same}");
}
