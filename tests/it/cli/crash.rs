//! SIGKILL at every step boundary of a create-service run; the next start resumes it and
//! the result is exactly one of each repository and no duplicate commit.

use crate::cli::support::{Env, fsck, kill_at, log};

const STEPS: usize = 8;

#[test]
fn a_run_killed_at_any_step_boundary_resumes_on_the_next_start() {
    for step in 0..STEPS {
        for point in ["before", "after-effect", "after"] {
            let env = Env::new();
            let spec = format!("{point}:{step}");
            let mut create = env.cmd();
            create.args(["create-service", "--kind", "ms", "--name", "crashy"]);
            kill_at(create, &spec);

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
