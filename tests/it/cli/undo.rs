//! `orchestrator runs undo`: the repositories the run made are deleted, the GitOps repository
//! gets a commit on top that removes the service's files (read back with the git CLI, the
//! registration still in history), the inventory forgets; later work refuses it; SIGKILL at
//! any step boundary of the undo is resumed by the next start with nothing done twice.

use crate::cli::support::{Env, fsck, git, kill_at, log};

const GITOPS: &str = "argo-gitdir-services";

fn create(env: &Env, name: &str) -> String {
    let created = env.json(&["create-service", "--kind", "ms", "--name", name, "--description", "d"]);
    created["run"]["id"].as_str().expect("a run id").to_owned()
}

#[test]
fn undo_removes_what_the_run_made_and_keeps_shared_history() {
    let env = Env::new();
    create(&env, "keeper");
    let id = create(&env, "oops");
    let before = log(&env.bare(GITOPS), "main");

    // Someone works in the new repository: the undo is refused, naming the commit.
    let work = env.clone("oops");
    std::fs::write(work.join("NOTES.md"), "mine\n").unwrap();
    git(&work, &["add", "NOTES.md"]);
    git(&work, &["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "Add notes"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let (code, stdout, stderr) = env.run(&["runs", "undo", &id]);
    assert_eq!(code, 4, "a conflict with later work: {stdout}{stderr}");
    assert!(stderr.contains("Add notes") && stderr.contains("--force"), "{stderr}");
    assert_eq!(
        env.repos(),
        [
            format!("{GITOPS}.git"),
            "keeper-infra.git".into(),
            "keeper.git".into(),
            "oops-infra.git".into(),
            "oops.git".into()
        ]
    );

    // A dry run says what would go and changes nothing.
    let (code, stdout, _) = env.run(&["runs", "undo", &id, "--force", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Dry run") && stdout.contains("delete repository oops (forced)"), "{stdout}");
    assert_eq!(log(&env.bare(GITOPS), "main"), before);

    let report = env.json(&["runs", "undo", &id, "--force"]);
    assert_eq!(report["run"]["state"], "succeeded", "{report:#}");
    assert_eq!(report["deleted"], serde_json::json!(["oops", "oops-infra"]));
    assert_eq!(report["forgotten"], true);
    assert_eq!(env.repos(), [format!("{GITOPS}.git"), "keeper-infra.git".into(), "keeper.git".into()]);

    // The GitOps history is kept; one commit on top unregisters the service.
    let after = log(&env.bare(GITOPS), "main");
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[1..], before[..]);
    assert!(after[0].starts_with("Unregister oops: undo run"), "{after:?}");
    let tree = git(&env.bare(GITOPS), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!tree.contains("services/oops/"), "{tree}");
    assert!(tree.contains("services/keeper/") && tree.contains("bootstrap/"), "{tree}");
    let registered = git(&env.bare(GITOPS), &["ls-tree", "-r", "--name-only", "main~1"]);
    assert!(registered.contains("services/oops/"), "the registration is still in history: {registered}");
    fsck(&env.bare(GITOPS));

    let services = env.json(&["services"]);
    assert_eq!(services.as_array().unwrap().len(), 1, "{services:#}");
    assert_eq!(services[0]["name"], "keeper");
    // Undoing again answers the first undo; the name can be created anew.
    let again = env.json(&["runs", "undo", &id, "--force"]);
    assert_eq!((again["replayed"].as_bool(), &again["run"]["id"]), (Some(true), &report["run"]["id"]));
    create(&env, "oops");
}

#[test]
fn an_undo_killed_at_any_step_boundary_resumes_on_the_next_start() {
    // Steps: unregister, delete oops, delete oops-infra, forget.
    for step in 0..4 {
        for point in ["before", "after-effect", "after"] {
            let env = Env::new();
            let spec = format!("{point}:{step}");
            let id = create(&env, "oops");
            let mut undo = env.cmd();
            undo.args(["runs", "undo", &id]);
            kill_at(undo, &spec);

            // Any next start resumes the undo first.
            let runs = env.json(&["runs"]);
            assert_eq!(runs.as_array().unwrap().len(), 2, "{spec}");
            assert_eq!(
                (&runs[0]["operation"], &runs[0]["state"]),
                (&"undo".into(), &"succeeded".into()),
                "{spec}: {runs:#}"
            );
            assert_eq!(env.repos(), [format!("{GITOPS}.git")], "{spec}");
            assert_eq!(log(&env.bare(GITOPS), "main").len(), 2, "{spec}: one registration, one unregistration");
            assert_eq!(env.json(&["services"]), serde_json::json!([]), "{spec}");
        }
    }
}
