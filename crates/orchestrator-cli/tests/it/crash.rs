//! SIGKILL at every step boundary of a create-service run; the next start resumes it and
//! the result is exactly one of each repository and no duplicate commit.

use crate::support::{Env, fsck, log};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

const STEPS: usize = 8;

/// Starts create-service frozen at `point`, waits for the process to say it got there, and
/// kills it with SIGKILL.
fn kill_at(env: &Env, point: &str) {
    let mut child = env
        .cmd()
        .args(["create-service", "--kind", "ms", "--name", "crashy"])
        .env("ORCHESTRATOR_FAULT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("fault-hook: reached") {
            child.kill().unwrap(); // SIGKILL on unix
            child.wait().unwrap();
            return;
        }
    }
    panic!("the process ended without reaching {point}: {:?}\n{seen}", child.wait().unwrap());
}

#[test]
fn a_run_killed_at_any_step_boundary_resumes_on_the_next_start() {
    for step in 0..STEPS {
        for point in ["before", "after-effect", "after"] {
            let env = Env::new();
            let spec = format!("{point}:{step}");
            kill_at(&env, &spec);

            // Any next start resumes the run first; `runs` then shows it finished.
            let runs = env.json(&["runs"]);
            assert_eq!(runs.as_array().unwrap().len(), 1, "{spec}");
            assert_eq!(runs[0]["state"], "succeeded", "{spec}: {runs:#}");

            assert_eq!(env.repos(), ["argo-gitdir-services.git", "crashy-infra.git", "crashy.git"], "{spec}");
            for repo in ["crashy", "crashy-infra"] {
                assert_eq!(log(&env.bare(repo), "main").len(), 1, "{spec}: {repo}");
                assert_eq!(log(&env.bare(repo), "orchestrator/template").len(), 1, "{spec}: {repo}");
                fsck(&env.bare(repo));
            }
            assert_eq!(log(&env.bare("argo-gitdir-services"), "main"), ["Register crashy for qa, staging"], "{spec}");

            let run = env.json(&["runs", "show", runs[0]["id"].as_str().unwrap()]);
            let steps = run["steps"].as_array().unwrap();
            assert_eq!(steps.len(), STEPS, "{spec}");
            assert!(steps.iter().all(|s| s["state"] == "done"), "{spec}: {run:#}");
        }
    }
}
