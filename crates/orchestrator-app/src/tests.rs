//! The application's use cases on the in-memory ports: create-service and its checks, runs
//! resumed and retried, idempotency, environments, Flux; upgrades, tokens, workspaces and golden
//! files in the modules below.

use crate::config::Config;
use crate::provisioning::request::CreateServiceInput;
use crate::provisioning::{CreateOptions, Error};
use crate::runs::RunError;
use crate::runtime::{Ports, Runtime};
use provision_core::engine::{FaultHook, FaultPoint};
use provision_core::ports::{GitHost as _, RunState, Store as _};
use provision_core::testing::{CrashAt, MemoryGitHost, MemoryStore, NoPause};
use std::sync::Arc;

struct Fixture {
    git: Arc<MemoryGitHost>,
    store: MemoryStore,
    config: Config,
}

impl Fixture {
    fn new() -> Self {
        Self { git: Arc::new(MemoryGitHost::new()), store: MemoryStore::new(), config: Config::defaults("/data") }
    }

    fn ports(&self) -> Ports {
        Ports::new(self.git.clone(), Arc::new(self.store.clone())).with_pause(Arc::new(NoPause))
    }

    fn app(&self) -> Runtime {
        Runtime::with_ports(self.config.clone(), self.ports())
    }

    /// A runtime whose runs stop at `hook`'s fault point.
    fn crashing(&self, hook: Arc<dyn FaultHook>) -> Runtime {
        Runtime::with_ports(self.config.clone(), self.ports().with_fault_hook(Some(hook)))
    }
}

fn input(name: &str) -> CreateServiceInput {
    CreateServiceInput {
        kind: "ms".into(),
        name: name.into(),
        description: "some cool description".into(),
        ..Default::default()
    }
}

fn file(git: &MemoryGitHost, repo: &str, branch: &str, path: &str) -> String {
    let r = git.repo(repo).unwrap();
    let tip = r.branches.iter().find(|(b, _)| b.as_str() == branch).unwrap().1;
    String::from_utf8(r.commits[tip].tree.get(path).unwrap_or_else(|| panic!("{path} missing")).content.to_vec())
        .unwrap()
}

#[tokio::test]
async fn create_service_writes_three_repositories() {
    let f = Fixture::new();
    let report = f.app().provisioning.create_service(&input("demo"), &CreateOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(f.git.repo_names(), ["argo-gitdir-services", "demo", "demo-infra"]);
    let answers = file(&f.git, "demo", "main", ".orchestrator/answers.toml");
    assert!(answers.contains("blueprint = \"ms\"\nversion = \"1.0.0\"\ntarget = \"app\"\n"), "{answers}");
    assert!(answers.contains("go_module = \"example.com/demo\""), "{answers}");
    assert!(file(&f.git, "demo-infra", "main", ".orchestrator/answers.toml").contains("target = \"infra\""));
    assert!(
        file(&f.git, "argo-gitdir-services", "main", "services/demo/application-staging.yaml")
            .contains("name: demo-staging")
    );
    assert_eq!(report.plan.len(), 8);
    assert!(report.repos[0].files.iter().filter(|f| f.ends_with(".go")).count() > 3);
}

#[tokio::test]
async fn the_port_parameter_reaches_the_helm_values() {
    let f = Fixture::new();
    let mut request = input("demo");
    request.parameters.insert("port".into(), 9090.into());
    f.app().provisioning.create_service(&request, &CreateOptions::default()).await.unwrap();
    let values = file(&f.git, "demo-infra", "main", "values.yaml");
    assert!(values.contains("targetPort: 9090"), "{values}");
}

#[tokio::test]
async fn every_problem_of_every_field_is_reported_at_once() {
    let f = Fixture::new();
    let mut bad = CreateServiceInput { kind: "nope".into(), name: "Bad..".into(), ..Default::default() };
    let Err(Error::Invalid(invalid)) = f.app().provisioning.create_service(&bad, &CreateOptions::default()).await
    else {
        panic!()
    };
    let fields: Vec<(&str, &str)> = invalid.problems().iter().map(|p| (p.field.as_str(), p.rule)).collect();
    assert!(fields.contains(&("kind", "unknown-kind")), "{fields:?}");
    assert!(fields.contains(&("name", "uppercase")) && fields.contains(&("name", "dot-dot")), "{fields:?}");

    bad.kind = "ms".into();
    bad.parameters.insert("port".into(), "many".into());
    bad.parameters.insert("colour".into(), "red".into());
    let Err(Error::Invalid(invalid)) = f.app().provisioning.create_service(&bad, &CreateOptions::default()).await
    else {
        panic!()
    };
    let fields: Vec<&str> = invalid.problems().iter().map(|p| p.field.as_str()).collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"parameters.port") && fields.contains(&"parameters.colour"),
        "{fields:?}"
    );
    assert!(f.git.repo_names().is_empty());
}

/// The `(rule, message)` of each problem creating `name` meets on `config`; nothing is created.
async fn name_problems(config: &Config, name: &str) -> Vec<(&'static str, String)> {
    let f = Fixture { config: config.clone(), ..Fixture::new() };
    let result =
        f.app().provisioning.create_service(&input(name), &CreateOptions { dry_run: true, ..Default::default() }).await;
    assert!(f.git.repo_names().is_empty());
    match result {
        Ok(_) => Vec::new(),
        Err(Error::Invalid(invalid)) => {
            invalid.problems().iter().filter(|p| p.field == "name").map(|p| (p.rule, p.message.clone())).collect()
        }
        Err(other) => panic!("{name}: {other}"),
    }
}

#[tokio::test]
async fn the_repositories_the_system_keeps_are_not_service_names() {
    let config = Config::from_toml(
        "/data",
        "[git]\ngitops_repo = \"deploys\"\nchart_repo = \"charts-infra\"\n",
        std::path::Path::new("config.toml"),
    )
    .unwrap();
    for (name, repo) in [("deploys", "deploys"), ("charts", "charts-infra")] {
        let problems = name_problems(&config, name).await;
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
        let (rule, message) = &problems[0];
        assert_eq!(*rule, "reserved", "{name}");
        assert!(message.contains(name) && message.contains(repo), "{message}");
    }
    // Both defaults, and the base chart every service's chart depends on.
    for (name, what) in [
        ("argo-gitdir-services", "GitOps repository"),
        ("ms-charts", "chart repository"),
        ("ms-base-chart", "base chart"),
    ] {
        let problems = name_problems(&Config::defaults("/data"), name).await;
        assert!(
            problems.iter().any(|(rule, message)| *rule == "reserved" && message.contains(what)),
            "{name}: {problems:?}"
        );
    }
    // `<name>-infra` is another service's infra repository, whichever comes first.
    let problems = name_problems(&Config::defaults("/data"), "payments-infra").await;
    assert_eq!(problems.iter().map(|(rule, _)| *rule).collect::<Vec<_>>(), ["reserved-suffix"]);
}

#[tokio::test]
async fn no_name_a_service_takes_in_an_environment_is_the_system_s_or_another_service_s() {
    let config = Config::from_toml(
        "/data",
        "[deploy]\nenvironments = [\"qa\", \"prod\", \"eu-prod\", \"system\"]\n[flux]\ndepends_on = [\"infra-{env}\", \"shared-qa\"]\n",
        std::path::Path::new("config.toml"),
    )
    .unwrap();
    let check = |name: &'static str, rule: &'static str, mentions: &'static [&'static str]| {
        let config = config.clone();
        async move {
            let problems = name_problems(&config, name).await;
            assert!(
                problems.iter().any(|(r, message)| *r == rule && mentions.iter().all(|m| message.contains(m))),
                "{name}: expected {rule} mentioning {mentions:?} among {problems:?}"
            );
        }
    };
    // Namespaces and objects the cluster, Argo CD and Flux keep.
    check("kube", "reserved", &["kube-system", "namespace"]).await;
    check("flux", "reserved", &["flux-system", "Flux"]).await;
    check("infra", "reserved", &["infra-qa", "Kustomization"]).await;
    check("shared", "reserved", &["shared-qa", "Kustomization"]).await;
    // Two services' names meet: the one ending like an environment is refused.
    check("pay-eu", "environment-suffix", &["pay-eu-prod", "pay", "eu-prod"]).await;
    check("eu", "environment-suffix", &["eu-prod", "environment eu-prod itself"]).await;
    check("pay-qa", "environment-suffix", &["-qa", "service-pay-qa"]).await;
    check("pay-eu-prod", "environment-suffix", &["-eu-prod"]).await;
    check("qa", "environment-suffix", &["service-qa"]).await;
    // The names they would meet stay free.
    for name in ["pay", "service", "pay-production", "kube-x", "eu-pay", "infrastructure"] {
        assert_eq!(name_problems(&config, name).await, [], "{name}");
    }
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer() {
    let f = Fixture::new();
    let app = f.app();
    let keyed = CreateOptions { dry_run: false, idempotency_key: Some("k1".into()) };
    let first = app.provisioning.create_service(&input("demo"), &keyed).await.unwrap();
    let again = app.provisioning.create_service(&input("demo"), &keyed).await.unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.run.as_ref().unwrap().id, first.run.as_ref().unwrap().id);
    assert_eq!(
        again.repos.iter().map(|r| &r.files).collect::<Vec<_>>(),
        first.repos.iter().map(|r| &r.files).collect::<Vec<_>>()
    );
    assert_eq!(f.git.history("demo", "main").len(), 1);

    let mut other = input("demo");
    other.description = "changed".into();
    assert!(matches!(app.provisioning.create_service(&other, &keyed).await, Err(Error::KeyReused { .. })));
    let err = app.provisioning.create_service(&input("demo"), &CreateOptions::default()).await.unwrap_err();
    assert!(matches!(&err, Error::ServiceExists { name, .. } if name.as_str() == "demo"), "{err}");
}

#[tokio::test]
async fn someone_elses_repository_is_refused_before_any_run() {
    let f = Fixture::new();
    f.git.seed_foreign_repo(&provision_core::RepoName::parse("taken-infra").unwrap());
    let err = f.app().provisioning.create_service(&input("taken"), &CreateOptions::default()).await.unwrap_err();
    assert!(matches!(&err, Error::RepoExists { repo } if repo == "taken-infra"), "{err}");
    assert!(f.store.runs(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let f = Fixture::new();
    let report = f
        .app()
        .provisioning
        .create_service(&input("demo"), &CreateOptions { dry_run: true, idempotency_key: None })
        .await
        .unwrap();
    assert!(report.dry_run && report.run.is_none());
    assert!(report.repos[1].files.contains(&"values-qa.yaml".to_owned()));
    assert!(f.git.repo_names().is_empty());
    assert!(f.store.runs(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_interrupted_run_resumes_when_the_app_starts_again() {
    let f = Fixture::new();
    let crashing = f.crashing(Arc::new(CrashAt(FaultPoint::AfterEffect(4))));
    assert!(matches!(
        crashing.provisioning.create_service(&input("demo"), &CreateOptions::default()).await,
        Err(Error::Run(RunError::Engine(_)))
    ));
    assert!(f.git.repo("demo-infra").is_some());
    assert!(f.git.repo("argo-gitdir-services").is_none());

    let resumed = f.app().provisioning.resume_unfinished().await.unwrap();
    assert_eq!(resumed.len(), 1);
    let run = f.app().provisioning.run(resumed[0].as_str()).await.unwrap();
    assert_eq!(run.run.state, RunState::Succeeded);
    assert_eq!(run.steps[4].attempts, 2);
    assert_eq!(f.git.history("demo-infra", "orchestrator/template").len(), 1);
    assert_eq!(f.git.history("argo-gitdir-services", "main").len(), 1);
    let services = f.app().provisioning.services().await.unwrap();
    assert_eq!((services[0].name.as_str(), services[0].state), ("demo", RunState::Succeeded));
}

#[tokio::test]
async fn a_failed_run_is_retried_from_its_failed_step() {
    let f = Fixture::new();
    let app = f.app();
    // The two existence checks before the run pass; the run's first git call fails for good.
    f.git.fail_later(2, 1, provision_core::ports::PortErrorKind::Permanent);
    let report = app.provisioning.create_service(&input("flaky"), &CreateOptions::default()).await.unwrap();
    assert!(!report.succeeded());
    let error = report.run.as_ref().unwrap().error.as_deref().unwrap();
    assert_eq!(error, "step 0 (ensure-repo flaky) failed: injected failure");
    let id = report.run.unwrap().id;
    let view = app.provisioning.retry_run(&id).await.unwrap();
    assert_eq!(view.run.state, RunState::Succeeded);
    assert_eq!(f.git.history("flaky", "main").len(), 1);
}

/// Reads run `id` until `done` says so; gives up after ten seconds.
async fn wait_for_run(
    runtime: &Runtime,
    id: &str,
    done: impl Fn(&crate::runs::RunView) -> bool,
) -> crate::runs::RunView {
    let read = async {
        loop {
            let view = runtime.provisioning.run(id).await.unwrap();
            if done(&view) {
                return view;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), read).await {
        Ok(view) => view,
        Err(_) => panic!("run {id} never got there: {:#?}", runtime.provisioning.run(id).await.unwrap()),
    }
}

/// Makes the first `times` creations of repository `repo` lose a race, as to another writer.
fn lose_races(git: &MemoryGitHost, repo: &'static str, times: usize) {
    let left = std::sync::atomic::AtomicUsize::new(times);
    git.before_create_repo(Arc::new(move |r| {
        use std::sync::atomic::Ordering::SeqCst;
        let lose = r.as_str() == repo && left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        Box::pin(async move {
            match lose {
                true => Err(provision_core::ports::PortError::new(
                    provision_core::ports::PortErrorKind::Conflict,
                    "another writer got there first",
                )),
                false => Ok(()),
            }
        })
    }));
}

#[tokio::test]
async fn a_command_leaves_a_run_that_failed_for_a_transient_reason_failed() {
    let f = Fixture::new();
    lose_races(&f.git, "lost", 5);
    let report = f.app().provisioning.create_service(&input("lost"), &CreateOptions::default()).await.unwrap();
    let run = report.run.unwrap();
    assert_eq!(run.state, RunState::Failed, "nobody would retry it: {run:?}");
}

#[tokio::test]
async fn a_server_retries_a_run_that_failed_for_a_transient_reason_a_bounded_number_of_times() {
    let home = tempfile::tempdir().unwrap();
    let mut f = Fixture::new();
    f.config = Config::defaults(home.path());
    f.config.runs.retries = 2;
    f.config.runs.retry_delay = std::time::Duration::ZERO;
    let runtime = Arc::new(Runtime::with_ports(f.config.clone(), f.ports().with_background_retries()));
    let background = runtime.background(false);
    // The run's first step loses every race of its first execution and of both retries (the
    // engine tries a step five times each).
    lose_races(&f.git, "doomed", 15);
    let report = runtime.provisioning.create_service(&input("doomed"), &CreateOptions::default()).await.unwrap();
    let run = report.run.unwrap();
    assert_eq!(run.state, RunState::Pending, "reopened for its first retry: {run:?}");

    let view = wait_for_run(&runtime, &run.id, |v| v.run.state == RunState::Failed && v.steps[0].attempts == 15).await;
    assert!(view.run.error.as_deref().is_some_and(|e| e.contains("another writer got there first")), "{view:?}");
    background.stop().await;
    // Stopped with nothing waiting: a third retry would have reopened it (and, with the
    // failures used up, finished it).
    let view = runtime.provisioning.run(&run.id).await.unwrap();
    assert_eq!((view.run.state, view.steps[0].attempts), (RunState::Failed, 15), "{view:?}");
    assert!(f.git.repo("doomed").is_none());

    // By hand it goes on, from its failed step, and makes everything once.
    let view = runtime.provisioning.retry_run(&run.id).await.unwrap();
    assert_eq!(view.run.state, RunState::Succeeded);
    assert_eq!(f.git.history("doomed", "main").len(), 1);
    assert_eq!(f.git.history("argo-gitdir-services", "main").len(), 1);
    let Err(Error::Run(RunError::Succeeded(_))) = runtime.provisioning.retry_run(&run.id).await else {
        panic!("a run that succeeded has nothing to retry")
    };
}

mod golden;
mod tokens;
mod undo;
mod upgrade;
mod workspaces;

/// The tags the generated CI pushes, by running its tag step with bash as a runner would.
fn ci_tags(ci: &str, env: &[(&str, &str)]) -> Vec<String> {
    let workflow: serde_json::Value = serde_saphyr::from_str(ci).unwrap();
    let steps = workflow["jobs"]["image"]["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["id"] == "tags").expect("a step with id tags");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(step["run"].as_str().unwrap())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("IMAGE", workflow["env"]["IMAGE"].as_str().unwrap())
        .env("GITHUB_OUTPUT", &output)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(output).unwrap();
    written.strip_prefix("tags=").unwrap().split_whitespace().map(str::to_owned).collect()
}

#[tokio::test]
async fn ci_pushes_the_tags_argo_values_and_flux_policies_follow() {
    let f = Fixture::new();
    f.app().provisioning.create_service(&input("demo"), &CreateOptions::default()).await.unwrap();
    let ci = file(&f.git, "demo", "main", ".github/workflows/ci.yaml");
    let image = "localhost:5000/platform/demo";
    let sha = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";

    // A push to main: the commit (what the bump job writes into values.yaml), a tag Flux's qa
    // policy (commit-timestamp) picks with a numeric timestamp, and latest.
    let tags = ci_tags(&ci, &[("GITHUB_REF_TYPE", "branch"), ("GITHUB_REF_NAME", "main"), ("GITHUB_SHA", sha)]);
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert_eq!(tags[0], format!("{image}:{sha}"));
    assert_eq!(tags[2], format!("{image}:latest"));
    let qa = regex_lite::Regex::new(provision_gitops::flux::COMMIT_TIMESTAMP_PATTERN).unwrap();
    let timestamped = tags[1].strip_prefix(&format!("{image}:")).unwrap();
    let ts = qa.captures(timestamped).unwrap_or_else(|| panic!("{timestamped} escapes the qa policy"));
    assert!(ts["ts"].parse::<u64>().is_ok(), "Flux orders the timestamp numerically: {timestamped}");
    assert!(!qa.is_match("latest") && !qa.is_match("1.4.0"), "the qa policy follows main builds only");

    // A release tag: the semantic version the semver policies of the other environments follow.
    let tags = ci_tags(&ci, &[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.4.0"), ("GITHUB_SHA", sha)]);
    assert_eq!(tags, [format!("{image}:1.4.0")]);
    let semver = tags[0].rsplit_once(':').unwrap().1;
    assert!(semver::Version::parse(semver).is_ok(), "{semver}");
}

#[tokio::test]
async fn a_service_deploys_to_the_environments_it_names_and_keeps_them_on_upgrade() {
    let f = Fixture::new();
    let mut request = input("solo");
    request.environments = vec!["staging".into()];
    f.app().provisioning.create_service(&request, &CreateOptions::default()).await.unwrap();
    let (repo, main) = (provision_core::RepoName::parse("solo-infra").unwrap(), provision_core::BranchName::main());
    let infra = f.git.read_tree(&repo, &main).await.unwrap().unwrap();
    let paths: Vec<String> = infra.paths().map(|p| p.to_string()).collect();
    assert!(
        paths.contains(&"values-staging.yaml".to_owned()) && !paths.contains(&"values-qa.yaml".to_owned()),
        "{paths:?}"
    );
    let gitops = file(&f.git, "argo-gitdir-services", "main", "services/solo/application-staging.yaml");
    assert!(gitops.contains("name: solo-staging"));
    let answers = file(&f.git, "solo", "orchestrator/template", ".orchestrator/answers.toml");
    assert!(answers.contains("environments = [\"staging\"]"), "{answers}");
    // An upgrade renders the same environments again: nothing behind.
    let check = crate::upgrades::UpgradeOptions { mode: crate::upgrades::UpgradeMode::Check, ..Default::default() };
    let report =
        f.app().upgrades.upgrade(&crate::upgrades::UpgradeTarget::Service("solo".into()), &check).await.unwrap();
    assert!(report.current(), "{report:#?}");

    let mut bad = input("lost");
    bad.environments = vec!["moon".into()];
    let Err(Error::Invalid(invalid)) = f.app().provisioning.create_service(&bad, &CreateOptions::default()).await
    else {
        panic!()
    };
    assert_eq!(
        (invalid.problems()[0].field.as_str(), invalid.problems()[0].rule),
        ("environments[0]", "unknown-environment")
    );
}

#[tokio::test]
async fn a_name_too_long_for_an_environment_s_namespace_is_refused() {
    let mut f = Fixture::new();
    f.config.layout.environments = vec![provision_core::EnvName::parse("preproduction").unwrap()];
    // 50 + 1 + 13 = 64: one too many for the namespace `<name>-<env>`.
    let long = format!("s{}", "x".repeat(49));
    let Err(Error::Invalid(invalid)) =
        f.app().provisioning.create_service(&input(&long), &CreateOptions::default()).await
    else {
        panic!()
    };
    assert_eq!(
        (invalid.problems()[0].field.as_str(), invalid.problems()[0].rule),
        ("name", "too-long-for-environment")
    );
    assert!(invalid.problems()[0].message.contains("at most 49"), "{}", invalid.problems()[0].message);
    let fits = format!("s{}", "x".repeat(48));
    assert!(f.app().provisioning.create_service(&input(&fits), &CreateOptions::default()).await.unwrap().succeeded());
}

#[tokio::test]
async fn a_report_warns_when_registrations_name_this_machine_s_clone_urls() {
    use crate::provisioning::report::WarningCode;
    let mut f = Fixture::new();
    let report = f.app().provisioning.create_service(&input("local"), &CreateOptions::default()).await.unwrap();
    let codes: Vec<WarningCode> = report.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [WarningCode::LocalCloneUrls]);
    assert!(report.warnings[0].message.contains("git.remote_url"), "{}", report.warnings[0].message);
    let dry = CreateOptions { dry_run: true, ..CreateOptions::default() };
    let report = f.app().provisioning.create_service(&input("planned"), &dry).await.unwrap();
    assert_eq!(report.warnings.len(), 1);

    f.config.layout.remote_url = Some("https://git.example.com/platform".into());
    let report = f.app().provisioning.create_service(&input("remote"), &CreateOptions::default()).await.unwrap();
    assert_eq!(report.warnings, []);
}

#[tokio::test]
async fn flux_registration_needs_a_remote_url_and_then_writes_the_flux_layout() {
    let mut f = Fixture::new();
    let mut request = input("fluxy");
    request.gitops = Some("flux".into());
    let Err(Error::Invalid(invalid)) = f.app().provisioning.create_service(&request, &CreateOptions::default()).await
    else {
        panic!("no remote URL configured")
    };
    assert_eq!((invalid.problems()[0].field.as_str(), invalid.problems()[0].rule), ("gitops", "needs-remote-url"));

    f.config.layout.remote_url = Some("https://git.example.com/platform".into());
    request.gitops = Some("both".into());
    assert!(f.app().provisioning.create_service(&request, &CreateOptions::default()).await.unwrap().succeeded());
    let kustomization = file(&f.git, "argo-gitdir-services", "main", "qa/fluxcd/fluxy.yaml");
    assert!(kustomization.contains("kind: ImagePolicy"), "{kustomization}");
    let source = file(&f.git, "argo-gitdir-services", "main", "flux/gitops.yaml");
    assert!(source.contains("https://git.example.com/platform/argo-gitdir-services.git"), "{source}");
    let argo = file(&f.git, "argo-gitdir-services", "main", "services/fluxy/application-qa.yaml");
    assert!(argo.contains("https://git.example.com/platform/fluxy-infra.git"), "{argo}");
    assert!(file(&f.git, "fluxy", "main", ".orchestrator/answers.toml").contains("gitops = \"both\""));
}
