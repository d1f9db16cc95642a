//! create-service end to end: three repositories, rendered, committed, cloneable.

use crate::cli::support::{Env, fsck, git, log};
use std::process::Command;

const NAME: &str = "ms-my-microservice";

fn create(env: &Env, name: &str) -> serde_json::Value {
    env.json(&["create-service", "--kind", "ms", "--name", name, "--description", "some cool description"])
}

#[test]
fn create_service_makes_three_repositories_git_can_read() {
    let env = Env::new();
    let report = create(&env, NAME);
    assert_eq!(report["run"]["state"], "succeeded", "{report:#}");
    let roles: Vec<(&str, &str)> = report["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["role"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("service", NAME), ("infra", "ms-my-microservice-infra"), ("gitops", "argo-gitdir-services")]);
    for repo in report["repos"].as_array().unwrap() {
        let url = repo["clone_url"].as_str().unwrap();
        assert!(url.starts_with("file://") && url.ends_with(".git"), "{url}");
    }
    assert_eq!(env.repos(), ["argo-gitdir-services.git", "ms-my-microservice-infra.git", "ms-my-microservice.git"]);

    // Every repository passes git's strictest check, and main starts at the pristine render.
    for repo in ["ms-my-microservice", "ms-my-microservice-infra", "argo-gitdir-services"] {
        fsck(&env.bare(repo));
    }
    for repo in [NAME, "ms-my-microservice-infra"] {
        let bare = env.bare(repo);
        assert_eq!(log(&bare, "main"), [format!("Render blueprint ms 1.0.0 for {NAME}")]);
        assert_eq!(git(&bare, &["rev-parse", "main"]), git(&bare, &["rev-parse", "orchestrator/template"]));
        let body = git(&bare, &["log", "-1", "--format=%B", "main"]);
        let run = report["run"]["id"].as_str().unwrap();
        assert!(body.contains(&format!("Provision-Run: {run}/")), "{body}");
    }
    assert_eq!(log(&env.bare("argo-gitdir-services"), "main"), [format!("Register {NAME} for qa, staging")]);

    // The service repository clones and holds the rendered Go service.
    let service = env.clone(NAME);
    for file in [
        "go.mod",
        "main.go",
        "Dockerfile",
        "Makefile",
        "README.md",
        ".github/workflows/ci.yaml",
        ".orchestrator/answers.toml",
    ] {
        assert!(service.join(file).is_file(), "{file} missing in the service repo");
    }
    let answers = std::fs::read_to_string(service.join(".orchestrator/answers.toml")).unwrap();
    assert!(answers.contains("blueprint = \"ms\"") && answers.contains("version = \"1.0.0\""), "{answers}");
    assert!(answers.contains(&format!("name = \"{NAME}\"")), "{answers}");
    let ci = std::fs::read_to_string(service.join(".github/workflows/ci.yaml")).unwrap();
    assert!(ci.contains("ms-my-microservice-infra"), "the CI bumps this service's infra repo:\n{ci}");
    let readme = std::fs::read_to_string(service.join("README.md")).unwrap();
    assert!(readme.contains("some cool description"), "{readme}");

    // The infra repository: a chart on the base chart, values per environment.
    let infra = env.clone("ms-my-microservice-infra");
    let chart = std::fs::read_to_string(infra.join("Chart.yaml")).unwrap();
    assert!(chart.contains("ms-base-chart"), "{chart}");
    assert!(infra.join("templates/NOTES.txt").is_file() && infra.join(".helmignore").is_file());
    for env_name in ["qa", "staging"] {
        let values = std::fs::read_to_string(infra.join(format!("values-{env_name}.yaml"))).unwrap();
        assert!(values.contains(&format!("host: {NAME}-{env_name}.apps.example.com")), "{values}");
    }

    // The GitOps registration: an Argo CD Application per environment.
    let gitops = env.clone("argo-gitdir-services");
    let app = std::fs::read_to_string(gitops.join(format!("services/{NAME}/application-qa.yaml"))).unwrap();
    assert!(app.contains("kind: Application") && app.contains("\n    path: '.'\n"), "{app}");
    assert!(app.contains(report["repos"][1]["clone_url"].as_str().unwrap()), "the chart is the infra repo:\n{app}");
}

#[test]
fn the_generated_service_builds_and_passes_its_tests_from_a_clone() {
    let env = Env::new();
    create(&env, "svc-go");
    let service = env.clone("svc-go");
    let cache = env.dir.path().join("go");
    let out = Command::new("go")
        .args(["test", "./..."])
        .current_dir(&service)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", cache.join("cache"))
        .env("GOPATH", cache.join("path"))
        .output()
        .expect("Debian's golang-go is installed (cargo xtask ci installs it)");
    assert!(
        out.status.success(),
        "go test failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_second_service_registers_next_to_the_first() {
    let env = Env::new();
    create(&env, "alpha");
    create(&env, "beta");
    let gitops = env.bare("argo-gitdir-services");
    assert_eq!(log(&gitops, "main"), ["Register beta for qa, staging", "Register alpha for qa, staging"]);
    let files = git(&gitops, &["ls-tree", "-r", "--name-only", "main"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            "bootstrap/applicationset.yaml",
            "services/alpha/application-qa.yaml",
            "services/alpha/application-staging.yaml",
            "services/beta/application-qa.yaml",
            "services/beta/application-staging.yaml"
        ]
    );
    // The bootstrap, the same with every registration, was written once.
    let bootstrap = git(&gitops, &["log", "--format=%s", "--", "bootstrap/applicationset.yaml"]);
    assert_eq!(bootstrap.lines().collect::<Vec<_>>(), ["Register alpha for qa, staging"]);
    fsck(&gitops);
    let services = env.json(&["services"]);
    let names: Vec<&str> = services.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta"]);
}

#[test]
fn the_human_output_names_repos_urls_files_and_the_run() {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "demo"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Created service demo (kind ms 1.0.0) in run "), "{stdout}");
    assert!(stdout.contains("demo-infra") && stdout.contains("argo-gitdir-services"), "{stdout}");
    assert!(stdout.contains("  main.go\n") && stdout.contains("  values-qa.yaml\n"), "{stdout}");
    assert!(stdout.contains("Clone it: git clone file://"), "{stdout}");
}

#[test]
fn dry_run_prints_the_plan_and_files_and_writes_nothing() {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "demo", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Dry run: nothing was written."), "{stdout}");
    assert!(stdout.contains("0. ensure-repo demo\n"), "{stdout}");
    assert!(stdout.contains("register demo in argo-gitdir-services"), "{stdout}");
    assert!(stdout.contains("  Chart.yaml\n"), "{stdout}");
    assert!(!env.home().exists(), "a dry run created {}", env.home().display());

    let report = env.json(&["create-service", "--kind", "ms", "--name", "demo", "--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert!(report.get("run").is_none());
    assert!(!env.home().exists());
}

#[test]
fn a_dry_run_is_refused_where_the_real_run_would_be() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "demo"]);
    let before = log(&env.bare("argo-gitdir-services"), "main");
    let (code, stdout, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "demo", "--dry-run"]);
    assert_eq!(code, 4, "the real run would be refused as a conflict: {stdout}{stderr}");
    assert!(stderr.contains("demo") && stderr.contains("already exists"), "{stderr}");
    assert!(!stdout.contains("would"), "no plan is shown for a run that cannot happen: {stdout}");
    let (code, _, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "ms-charts", "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("reserved"), "{stderr}");
    assert_eq!(log(&env.bare("argo-gitdir-services"), "main"), before, "nothing was written");
    let (code, _, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "other", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_dry_run_shows_each_file_against_its_branch_with_the_diffs() {
    let env = Env::new();
    env.json(&["create-service", "--kind", "ms", "--name", "first"]);
    let report = env.json(&["create-service", "--kind", "ms", "--name", "second", "--dry-run"]);
    let changes = |role: &str| -> Vec<(String, String)> {
        let repo = report["repos"].as_array().unwrap().iter().find(|r| r["role"] == role).unwrap();
        repo["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["path"].as_str().unwrap().to_owned(), c["change"].as_str().unwrap().to_owned()))
            .collect()
    };
    // The shared bootstrap is there already, exactly so; the new service's registrations are new.
    let gitops = changes("gitops");
    assert!(gitops.contains(&("bootstrap/applicationset.yaml".to_owned(), "unchanged".to_owned())), "{gitops:?}");
    assert!(gitops.contains(&("services/second/application-qa.yaml".to_owned(), "new".to_owned())), "{gitops:?}");
    assert!(changes("service").iter().all(|(_, change)| change == "new"));
    let dockerfile =
        report["repos"][0]["changes"].as_array().unwrap().iter().find(|c| c["path"] == "Dockerfile").unwrap();
    let diff = dockerfile["diff"].as_str().unwrap();
    assert!(diff.starts_with("--- /dev/null\n+++ b/Dockerfile\n@@ -0,0 +1,"), "{diff}");
    assert!(diff.lines().skip(3).all(|l| l.starts_with('+')), "a new file is all additions: {diff}");

    let (code, stdout, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "second", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("  unchanged bootstrap/applicationset.yaml\n"), "{stdout}");
    assert!(
        stdout.contains("\n# argo-gitdir-services (main)\n--- /dev/null\n+++ b/services/second/application-qa.yaml\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("+++ b/bootstrap/applicationset.yaml"), "an unchanged file has no diff: {stdout}");
    assert!(!env.bare("second").exists(), "nothing was written");
}

#[test]
fn invalid_input_lists_every_problem_and_exits_2() {
    let env = Env::new();
    let (code, _, stderr) = env.run(&["create-service", "--kind", "nope", "--name", "Bad.Name-"]);
    assert_eq!(code, 2, "{stderr}");
    for expected in [
        "name: service name must be lowercase",
        "contains '.'",
        "must not end with '-'",
        "unknown kind \"nope\"; known kinds: ms",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in {stderr}");
    }
    let (code, _, stderr) =
        env.run(&["create-service", "--kind", "ms", "--name", "x", "--set", "port=99999", "--set", "bogus=1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("parameters.port") && stderr.contains("parameters.bogus"), "{stderr}");
    assert!(!env.bare("x").exists());
}

#[test]
fn the_same_name_twice_is_refused_naming_the_existing_service() {
    let env = Env::new();
    let first = create(&env, "twice");
    let (code, _, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "twice"]);
    assert_eq!(code, 4, "a conflict: {stderr}");
    let run = first["run"]["id"].as_str().unwrap();
    assert!(stderr.contains(&format!("service twice already exists (created by run {run})")), "{stderr}");
    assert_eq!(log(&env.bare("twice"), "main").len(), 1);
}

#[test]
fn runs_list_and_show_the_journal() {
    let env = Env::new();
    let report = create(&env, "journaled");
    let id = report["run"]["id"].as_str().unwrap();
    let runs = env.json(&["runs"]);
    assert_eq!(runs[0]["id"], id);
    assert_eq!(runs[0]["state"], "succeeded");
    let run = env.json(&["runs", "show", id]);
    let steps: Vec<(&str, &str)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("ensure-repo journaled", "done"),
            ("render journaled onto orchestrator/template", "done"),
            ("start journaled main", "done"),
            ("ensure-repo journaled-infra", "done"),
            ("render journaled-infra onto orchestrator/template", "done"),
            ("start journaled-infra main", "done"),
            ("ensure-repo argo-gitdir-services", "done"),
            ("register journaled in argo-gitdir-services", "done"),
        ]
    );
    let (code, stdout, _) = env.run(&["runs", "show", id]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("state: succeeded") && stdout.contains("[done] ensure-repo journaled: created"),
        "{stdout}"
    );
    let (code, _, stderr) = env.run(&["runs", "show", "0000-nope"]);
    assert_eq!(code, 3, "not found: {stderr}");
    assert!(stderr.contains("run 0000-nope does not exist"), "{stderr}");
}

#[test]
fn flux_registration_through_the_binary_needs_a_remote_url_and_writes_the_flux_layout() {
    let env = Env::new();
    let (code, _, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "fluxy", "--gitops", "flux"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("set git.remote_url in config.toml"), "{stderr}");

    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(env.home().join("config.toml"), "[git]\nremote_url = \"https://git.example.com/platform\"\n")
        .unwrap();
    env.json(&["create-service", "--kind", "ms", "--name", "fluxy", "--gitops", "flux", "--env", "qa"]);
    let gitops = env.bare("argo-gitdir-services");
    let files = git(&gitops, &["ls-tree", "-r", "--name-only", "main"]);
    let files: Vec<&str> = files.lines().collect();
    for expected in ["flux/gitops.yaml", "flux/qa.yaml", "qa/fluxcd/fluxy.yaml", "qa/apps/fluxy/deployment.yaml"] {
        assert!(files.contains(&expected), "{expected} in {files:?}");
    }
    assert!(!files.iter().any(|f| f.starts_with("services/") || f.starts_with("staging/")), "{files:?}");
    let deployment = git(&gitops, &["show", "main:qa/apps/fluxy/deployment.yaml"]);
    assert!(deployment.contains("# {\"$imagepolicy\": \"flux-system:fluxy-qa\"}"), "{deployment}");
    let answers = git(&env.bare("fluxy"), &["show", "main:.orchestrator/answers.toml"]);
    assert!(answers.contains("gitops = \"flux\"") && answers.contains("environments = [\"qa\"]"), "{answers}");
    fsck(&gitops);
}

#[test]
fn without_a_remote_url_create_service_warns_on_stderr_and_in_its_json() {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "warned"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Created service warned"), "{stdout}");
    let warning = stderr.lines().find(|l| l.starts_with("warning: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(warning.contains("git.remote_url") && warning.contains("ORCHESTRATOR_GIT_REMOTE_URL"), "{warning}");
    assert!(!stdout.contains("warning"), "warnings go to stderr: {stdout}");

    let report = env.json(&["create-service", "--kind", "ms", "--name", "warned-json"]);
    assert_eq!(report["warnings"][0]["code"], "local-clone-urls", "{report:#}");
    assert!(report["warnings"][0]["message"].as_str().unwrap().contains("git.remote_url"));

    std::fs::write(env.home().join("config.toml"), "[git]\nremote_url = \"https://git.example.com/platform\"\n")
        .unwrap();
    let (code, _, stderr) = env.run(&["create-service", "--kind", "ms", "--name", "quiet"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
