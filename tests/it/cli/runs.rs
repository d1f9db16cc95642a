//! `orchestrator runs retry` of a run that already succeeded says so and changes nothing.

use crate::cli::support::{Env, log};

#[test]
fn retrying_a_run_that_succeeded_says_so_and_changes_nothing() {
    let env = Env::new();
    let created = env.json(&["create-service", "--kind", "ms", "--name", "once", "--description", "d"]);
    let id = created["run"]["id"].as_str().expect("a run id").to_owned();
    let before: Vec<Vec<String>> =
        ["once", "once-infra", "argo-gitdir-services"].iter().map(|r| log(&env.bare(r), "main")).collect();

    let (code, stdout, stderr) = env.run(&["runs", "retry", &id]);
    assert_eq!(code, 4, "a conflict with what exists: {stdout}{stderr}");
    assert!(stderr.contains(&id) && stderr.contains("succeeded already"), "{stderr}");
    let failure: serde_json::Value = {
        let (_, _, stderr) = env.run(&["runs", "retry", &id, "--output", "json"]);
        serde_json::from_str(&stderr).expect("a JSON error")
    };
    assert_eq!(failure["type"], "urn:orchestrator:problem:run-succeeded", "{failure}");

    let after: Vec<Vec<String>> =
        ["once", "once-infra", "argo-gitdir-services"].iter().map(|r| log(&env.bare(r), "main")).collect();
    assert_eq!(after, before, "no commit was made");
    let runs = env.json(&["runs"]);
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "no run was added: {runs:#}");
    assert_eq!(runs[0]["state"], "succeeded");
}
