//! `orchestrator upgrade` end to end: the built-in `ms` blueprint, a newer version of it in a
//! blueprint directory, a team's pushes to the generated repository, and the git CLI reading
//! back what the upgrade merged. Also SIGKILL at every step boundary of an upgrade run.

use crate::cli::support::{Env, copy_dir, decode, fsck, git, kill_at, log};
use std::path::{Path, PathBuf};

/// A copy of the built-in `ms` blueprint at version 1.1.0: a line appended to `main.go`, a
/// new `CHANGELOG.md`, and `Makefile` removed.
fn ms_1_1(env: &Env) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/ms");
    let target = env.dir.path().join("blueprints/ms");
    copy_dir(&source, &target);
    let manifest = target.join("blueprint.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("version = \"1.0.0\"", "version = \"1.1.0\"");
    std::fs::write(&manifest, text).unwrap();
    let main = target.join("app/main.go.jinja");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str("\n// Upgraded to blueprint 1.1.0.\n");
    std::fs::write(&main, text).unwrap();
    std::fs::write(target.join("app/CHANGELOG.md"), "# Changes\n\n1.1.0: a changelog.\n").unwrap();
    std::fs::remove_file(target.join("app/Makefile.jinja")).unwrap();
    target
}

/// Runs the binary with `blueprints` configured; returns (exit code, stdout, stderr).
fn run_with(env: &Env, blueprints: &Path, args: &[&str]) -> (i32, String, String) {
    decode(env.cmd().env("ORCHESTRATOR_BLUEPRINTS", blueprints).args(args).output().unwrap())
}

fn json_with(env: &Env, blueprints: &Path, args: &[&str], expected_code: i32) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let (code, stdout, stderr) = run_with(env, blueprints, &all);
    assert_eq!(code, expected_code, "{args:?}:\n{stderr}\n{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Clones `repo`, lets `change` edit the working tree, commits and pushes to main.
fn push_change(env: &Env, repo: &str, change: impl FnOnce(&Path)) {
    let work = env.clone(repo);
    change(&work);
    git(&work, &["add", "-A"]);
    git(&work, &["-c", "user.name=Dev", "-c", "user.email=dev@example.test", "commit", "-qm", "Local change"]);
    git(&work, &["push", "-q", "origin", "main"]);
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

#[test]
fn an_upgrade_merges_the_new_blueprint_into_what_the_team_pushed() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "pay", "--description", "Payments"]);
    push_change(&env, "pay", |work| {
        edit(&work.join("README.md"), |t| t.replacen("Payments", "Payments, owned by the money team", 1));
        std::fs::write(work.join("NOTES.md"), "ours\n").unwrap();
    });
    let pushed = git(&env.bare("pay"), &["rev-parse", "main"]);
    let v1_1 = ms_1_1(&env);

    let check = json_with(&env, &v1_1, &["upgrade", "--check"], 1);
    let behind = &check["services"][0]["repos"][0];
    assert_eq!(behind["outcome"], "behind", "{check:#}");
    let changes: Vec<String> = behind["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["change"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    for expected in ["added CHANGELOG.md", "removed Makefile", "modified main.go"] {
        assert!(changes.contains(&expected.to_owned()), "{expected}: {changes:?}");
    }
    assert_eq!(git(&env.bare("pay"), &["rev-parse", "main"]), pushed, "a check writes nothing");

    // A dry run shows what main would become, file by file, the team's work kept.
    let dry = json_with(&env, &v1_1, &["upgrade", "pay", "--dry-run"], 0);
    let diffs: Vec<(&str, &str)> = dry["services"][0]["repos"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap(), c["diff"].as_str().unwrap()))
        .collect();
    let diff = |path: &str| {
        diffs.iter().find(|(p, _)| *p == path).map(|(_, d)| *d).unwrap_or_else(|| panic!("{path}: {diffs:?}"))
    };
    assert!(
        diff("main.go").contains("--- a/main.go\n+++ b/main.go\n")
            && diff("main.go").contains("\n+// Upgraded to blueprint 1.1.0.\n")
    );
    assert!(diff("CHANGELOG.md").starts_with("--- /dev/null\n+++ b/CHANGELOG.md\n"), "{}", diff("CHANGELOG.md"));
    assert!(diff("Makefile").starts_with("--- a/Makefile\n+++ /dev/null\n"), "{}", diff("Makefile"));
    // README.md: the template's line changes, the team's edit is kept.
    let readme = diff("README.md");
    assert!(readme.lines().any(|l| l.starts_with('+') && l.contains("(version 1.1.0)")), "{readme}");
    assert!(!readme.lines().any(|l| l.starts_with('-') && l.contains("money team")), "{readme}");
    let (code, text, _) = run_with(&env, &v1_1, &["upgrade", "pay", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(text.starts_with("Dry run: nothing was written.\n"), "{text}");
    assert!(text.contains("+++ b/CHANGELOG.md\n@@ -0,0 +1,3 @@\n+# Changes\n"), "{text}");
    assert_eq!(git(&env.bare("pay"), &["rev-parse", "main"]), pushed, "a dry run writes nothing");

    let report = json_with(&env, &v1_1, &["upgrade", "pay"], 0);
    let outcomes: Vec<(&str, &str)> = report["services"][0]["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["repo"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("pay", "upgraded"), ("pay-infra", "upgraded")], "{report:#}");

    let bare = env.bare("pay");
    assert_eq!(log(&bare, "main")[0], "Upgrade blueprint ms 1.0.0 → 1.1.0");
    assert_eq!(git(&bare, &["rev-parse", "main^1"]).trim(), pushed.trim(), "the team's work is the first parent");
    assert_eq!(git(&bare, &["rev-parse", "main^2"]), git(&bare, &["rev-parse", "orchestrator/template"]));
    let readme = git(&bare, &["show", "main:README.md"]);
    assert!(readme.contains("Payments, owned by the money team"), "{readme}");
    assert!(readme.contains("(version 1.1.0)"), "the template's change arrives too: {readme}");
    assert!(git(&bare, &["show", "main:main.go"]).ends_with("// Upgraded to blueprint 1.1.0.\n"));
    assert_eq!(git(&bare, &["show", "main:NOTES.md"]), "ours\n");
    assert!(git(&bare, &["ls-tree", "--name-only", "main"]).lines().any(|l| l == "CHANGELOG.md"));
    assert!(!git(&bare, &["ls-tree", "--name-only", "main"]).lines().any(|l| l == "Makefile"));
    assert!(git(&bare, &["show", "orchestrator/template:.orchestrator/answers.toml"]).contains("version = \"1.1.0\""));
    fsck(&bare);
    fsck(&env.bare("pay-infra"));

    // Current now: the check passes and another upgrade changes nothing.
    let check = json_with(&env, &v1_1, &["upgrade", "--check"], 0);
    assert!(check["services"][0]["repos"].as_array().unwrap().iter().all(|r| r["outcome"] == "up-to-date"));
    let (code, stdout, _) = run_with(&env, &v1_1, &["upgrade", "--all"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("pay                      up to date"), "{stdout}");
    assert_eq!(log(&bare, "main").len(), 4);
}

#[test]
fn conflicting_changes_go_to_an_upgrade_branch_and_main_stays() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "pay"]);
    // The team changed the very end of main.go, which 1.1.0 changes too.
    push_change(&env, "pay", |work| {
        edit(&work.join("main.go"), |t| format!("{t}\n// Ours.\n"));
    });
    let bare = env.bare("pay");
    let pushed = git(&bare, &["rev-parse", "main"]);
    let v1_1 = ms_1_1(&env);

    let (code, stdout, stderr) = run_with(&env, &v1_1, &["upgrade", "pay"]);
    assert_eq!(code, 1, "conflicts exit 1: {stdout}{stderr}");
    assert!(stdout.contains("conflicts 1.0.0 → 1.1.0, committed on orchestrator/upgrade-1.1.0"), "{stdout}");
    assert!(stdout.contains("conflict  main.go (content)"), "{stdout}");
    assert!(stdout.contains("pay-infra                upgraded 1.0.0 → 1.1.0"), "{stdout}");
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed, "main is untouched");

    let side = "orchestrator/upgrade-1.1.0";
    let merged = git(&bare, &["show", &format!("{side}:main.go")]);
    assert!(
        merged.contains(
            "<<<<<<< main\n// Ours.\n=======\n// Upgraded to blueprint 1.1.0.\n>>>>>>> orchestrator/template"
        ),
        "{merged}"
    );
    assert_eq!(git(&bare, &["rev-parse", &format!("{side}^1")]), pushed);
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%(trailers:key=Conflict,valueonly)", side]).trim(),
        "content main.go"
    );
    fsck(&bare);

    // Until the team merges it, a check says the newest render waits, not "behind 1.1.0 → 1.1.0".
    let (code, stdout, _) = run_with(&env, &v1_1, &["upgrade", "--check", "pay"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("behind: 1.1.0 is not merged into main yet, would conflict"), "{stdout}");
    assert!(!stdout.contains("1.1.0 → 1.1.0"), "{stdout}");

    // The team resolves it on the branch and merges it: the repository is current.
    let work = env.dir.path().join("resolve");
    git(env.dir.path(), &["clone", "-q", "--branch", side, bare.to_str().unwrap(), work.to_str().unwrap()]);
    edit(&work.join("main.go"), |t| {
        let start = t.find("<<<<<<< main").unwrap();
        format!("{}// Ours.\n// Upgraded to blueprint 1.1.0.\n", &t[..start])
    });
    let dev = ["-c", "user.name=Dev", "-c", "user.email=dev@example.test"];
    git(&work, &[&dev[..], &["commit", "-qam", "Resolve the upgrade"]].concat());
    git(&work, &["checkout", "-q", "main"]);
    git(&work, &[&dev[..], &["merge", "-q", "--no-edit", side]].concat());
    git(&work, &["push", "-q", "origin", "main"]);
    let check = json_with(&env, &v1_1, &["upgrade", "--check", "pay"], 0);
    assert_eq!(check["services"][0]["repos"][0]["outcome"], "up-to-date", "{check:#}");
}

#[test]
fn an_upgrade_killed_at_any_step_boundary_is_never_half_merged_and_resumes() {
    // Per repository: render onto the template branch, merge into main.
    for step in 0..4 {
        for point in ["before", "after-effect", "after"] {
            let spec = format!("{point}:{step}");
            let env = Env::new();
            env.json(&["create-service", "--kind", "ms", "--name", "pay"]);
            push_change(&env, "pay", |work| std::fs::write(work.join("NOTES.md"), "ours\n").unwrap());
            let before: Vec<String> =
                ["pay", "pay-infra"].iter().map(|r| git(&env.bare(r), &["rev-parse", "main"])).collect();
            let v1_1 = ms_1_1(&env);
            let mut upgrade = env.cmd();
            upgrade.env("ORCHESTRATOR_BLUEPRINTS", &v1_1).args(["upgrade", "pay"]);
            kill_at(upgrade, &spec);

            // Killed: each main is where it was or merged, nothing in between.
            for (repo, before) in ["pay", "pay-infra"].iter().zip(&before) {
                let now = git(&env.bare(repo), &["rev-parse", "main"]);
                if &now != before {
                    assert_eq!(git(&env.bare(repo), &["rev-parse", "main^1"]), *before, "{spec}: {repo}");
                }
                fsck(&env.bare(repo));
            }

            // The next start resumes the upgrade and finishes it, once.
            let runs = json_with(&env, &v1_1, &["runs"], 0);
            let upgrade = runs.as_array().unwrap().iter().find(|r| r["operation"] == "upgrade").unwrap();
            assert_eq!(upgrade["state"], "succeeded", "{spec}: {runs:#}");
            for repo in ["pay", "pay-infra"] {
                let bare = env.bare(repo);
                let main = log(&bare, "main");
                assert_eq!(
                    main.iter().filter(|s| s.starts_with("Upgrade blueprint")).count(),
                    1,
                    "{spec}: {repo}: {main:?}"
                );
                assert_eq!(log(&bare, "orchestrator/template").len(), 2, "{spec}: {repo}");
                fsck(&bare);
            }
            let (code, _, _) = run_with(&env, &v1_1, &["upgrade", "--check"]);
            assert_eq!(code, 0, "{spec}: current after the resume");
        }
    }
}

#[test]
fn after_git_remote_url_is_set_upgrade_rewrites_the_registrations_it_generated() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "svc"]);
    let gitops = env.bare("argo-gitdir-services");
    let local = format!("file://{}", env.bare("svc-infra").display());
    assert!(git(&gitops, &["show", "main:services/svc/application-qa.yaml"]).contains(&local));
    // A file the platform team keeps there themselves, naming the same URL.
    push_change(&env, "argo-gitdir-services", |dir| {
        std::fs::write(dir.join("NOTES.md"), format!("values live at {local}\n")).unwrap();
    });
    let before = log(&gitops, "main");

    std::fs::write(env.home().join("config.toml"), "[git]\nremote_url = \"https://git.example.com/platform\"\n")
        .unwrap();
    let report = env.json(&["upgrade", "--all"]);
    let run = report["run"]["id"].as_str().unwrap_or_else(|| panic!("a run: {report:#}"));

    let after = log(&gitops, "main");
    assert_eq!(after.len(), before.len() + 1, "one commit: {after:?}");
    assert!(after[0].starts_with("Rewrite "), "{after:?}");
    let body = git(&gitops, &["log", "-1", "--format=%B", "main"]);
    assert!(body.contains(&format!("Provision-Run: {run}/")), "{body}");
    let changed = git(&gitops, &["diff", "--name-only", "main~1", "main"]);
    let changed: Vec<&str> = changed.lines().collect();
    assert!(changed.contains(&"services/svc/application-qa.yaml"), "{changed:?}");
    assert!(changed.iter().all(|f| f.starts_with("services/svc/") || f.starts_with("bootstrap/")), "{changed:?}");
    for env_name in ["qa", "staging"] {
        let app = git(&gitops, &["show", &format!("main:services/svc/application-{env_name}.yaml")]);
        assert!(app.contains("https://git.example.com/platform/svc-infra.git"), "{app}");
        assert!(!app.contains("file://"), "{app}");
    }
    assert_eq!(git(&gitops, &["show", "main:NOTES.md"]), format!("values live at {local}\n"), "left alone");
    fsck(&gitops);

    // Once is enough.
    env.json(&["upgrade", "--all"]);
    assert_eq!(log(&gitops, "main").len(), after.len());
}
