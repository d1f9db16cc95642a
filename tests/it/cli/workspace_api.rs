//! `orchestrator workspace --api`: the workspace commands through the real API router, served
//! on a loopback port from the test's runtime, as the holders of bearer tokens. What they print
//! is what direct mode prints; errors name the status, the problem and each field, never the
//! token.

use crate::cli::support::{Env, decode};
use orchestrator_api::AppState;
use orchestrator_api::workspaces::WorkspaceResponse;
use orchestrator_app::auth::Caller;
use orchestrator_app::runtime::Ports;
use orchestrator_app::workspaces::{AmountInput, WorkspaceInput};
use orchestrator_app::{Config, Runtime};
use provision_core::testing::{MemoryGitHost, MemoryStore, MemoryWorkspaces};
use provision_core::workspace::{ShortName, WorkspaceName, WorkspacePhase};
use provision_core::{EmailAddress, Role};
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;

const KEY: &str = include_str!("../../../crates/provision-core/src/ssh/fixtures/ed25519.pub");

/// The variables that choose the mode and the token: each test sets its own.
const MODE_VARS: [&str; 4] =
    ["ORCHESTRATOR_API_URL", "ORCHESTRATOR_KUBE_URL", "ORCHESTRATOR_TOKEN", "ORCHESTRATOR_TOKEN_FILE"];

/// The API server, serving on 127.0.0.1 until the test's runtime ends, and a data directory
/// for the command line (which API mode must leave untouched).
struct Api {
    url: String,
    app: Arc<Runtime>,
    cluster: Arc<MemoryWorkspaces>,
    env: Env,
}

async fn serve() -> Api {
    let env = Env::new();
    let text = "[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\n";
    let config = Config::from_toml(env.dir.path().join("server"), text, std::path::Path::new("config.toml")).unwrap();
    let store = Arc::new(MemoryStore::new());
    let cluster = Arc::new(MemoryWorkspaces::new());
    let app = Arc::new(
        Runtime::with_ports(config, Ports::new(Arc::new(MemoryGitHost::new()), store)).with_workspaces(cluster.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = orchestrator_api::router(AppState::new(app.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Api { url, app, cluster, env }
}

/// `orchestrator ARGS` with none of the mode's variables but `vars`.
fn command(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = env.cmd();
    for var in MODE_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args).envs(vars.iter().copied());
    cmd
}

/// Runs the binary without blocking the runtime the server answers from.
async fn output(cmd: Command) -> (i32, String, String) {
    decode(tokio::process::Command::from(cmd).output().await.unwrap())
}

impl Api {
    async fn token(&self, email: &str, admin: bool) -> String {
        self.app
            .auth
            .issue_token(email, if admin { Role::Admin } else { Role::Member }, false)
            .await
            .unwrap()
            .0
            .expose()
            .to_owned()
    }

    /// `orchestrator workspace --api URL ARGS` with `token` in ORCHESTRATOR_TOKEN.
    async fn run(&self, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["workspace", "--api", &self.url];
        all.extend(args);
        let vars: Vec<(&str, &str)> = token.map(|t| ("ORCHESTRATOR_TOKEN", t)).into_iter().collect();
        let result = output(command(&self.env, &all, &vars)).await;
        assert!(!self.env.home().exists(), "API mode made a data directory: {args:?}");
        result
    }

    /// Runs expecting success; the JSON printed.
    async fn json(&self, token: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let (code, stdout, stderr) = self.run(Some(token), &all).await;
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    fn key_file(&self, text: &str) -> String {
        let path = self.env.dir.path().join("key.pub");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// A workspace made by the application itself, as its owner would ask for it.
    async fn create(&self, owner: &str, name: &str) -> String {
        let caller = Caller { email: EmailAddress::parse(owner).unwrap(), role: Role::Member };
        let input = WorkspaceInput {
            email: owner.into(),
            name: name.into(),
            cpu: Some(AmountInput::Text("1".into())),
            memory: Some(AmountInput::Text("2Gi".into())),
            ssh_public_key: KEY.into(),
            ..WorkspaceInput::default()
        };
        self.app.workspaces().unwrap().create_workspace(&caller, &input).await.unwrap().name.to_string()
    }

    /// What direct mode prints for `name`.
    async fn view(&self, name: &str) -> WorkspaceResponse {
        let operator = Caller { email: EmailAddress::parse("operator@orchestrator.local").unwrap(), role: Role::Admin };
        let name = WorkspaceName::parse(name).unwrap();
        self.app.workspaces().unwrap().workspace(&operator, &name).await.unwrap().into()
    }
}

fn name_of(owner: &str, short: &str) -> String {
    WorkspaceName::new(&EmailAddress::parse(owner).unwrap(), &ShortName::parse(short).unwrap()).to_string()
}

fn names(listed: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = listed.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_answers_with_the_workspace_printed_as_direct_mode_prints_it() {
    let api = serve().await;
    let alice = api.token("alice@iiitm.ac.in", false).await;
    let key = api.key_file(KEY);
    let create = ["create", "--email", "alice@iiitm.ac.in", "--name", "devbox", "--cpu", "1", "--memory", "2Gi"];
    let (code, stdout, stderr) = api.run(Some(&alice), &[&create[..], &["--ssh-key-file", &key]].concat()).await;
    assert_eq!(code, 0, "{stderr}");
    let name = name_of("alice@iiitm.ac.in", "devbox");
    assert!(name.starts_with("alice-devbox-"), "{name}");
    assert!(stdout.starts_with(&format!("{name}  alice@iiitm.ac.in  Pending  cpu 1 memory 2Gi storage ")), "{stdout}");
    assert_eq!(api.cluster.names(), std::slice::from_ref(&name));

    // Bob's token from a file (trimmed), the answer as JSON: exactly what direct mode prints.
    let token_file = api.env.dir.path().join("bob.token");
    std::fs::write(&token_file, format!("\n  {}  \n", api.token("bob@iiitm.ac.in", false).await)).unwrap();
    let (code, stdout, stderr) = api
        .run(
            None,
            &[
                "--token-file",
                token_file.to_str().unwrap(),
                "create",
                "--email",
                "bob@iiitm.ac.in",
                "--name",
                "devbox",
                "--cpu",
                "500m",
                "--memory",
                "1Gi",
                "--ssh-key-file",
                &key,
                "--output",
                "json",
            ],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    let bobs = name_of("bob@iiitm.ac.in", "devbox");
    assert_eq!(printed, serde_json::to_value(api.view(&bobs).await).unwrap());
    let mut keys: Vec<&str> = printed.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    #[rustfmt::skip]
    assert_eq!(keys, ["access_host", "cpu", "display_name", "image", "memory", "name", "owner", "phase", "status_url",
        "storage", "user"], "the API's own JSON: nothing unset, nothing renamed");
    assert_eq!(printed["phase"], "Pending");
    assert_eq!(printed["cpu"], "500m");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_the_callers_own_and_an_admins_list_all_everyones() {
    let api = serve().await;
    let alices = api.create("alice@iiitm.ac.in", "devbox").await;
    let bobs = api.create("bob@iiitm.ac.in", "devbox").await;
    let alice = api.token("alice@iiitm.ac.in", false).await;
    let admin = api.token("root@iiitm.ac.in", true).await;

    assert_eq!(names(&api.json(&alice, &["list"]).await), [alices.as_str()]);
    assert_eq!(names(&api.json(&alice, &["list", "--all"]).await), [alices.as_str()], "a user's --all is their own");
    assert_eq!(names(&api.json(&admin, &["list", "--all"]).await), [alices.as_str(), bobs.as_str()]);
    assert_eq!(names(&api.json(&admin, &["list"]).await), Vec::<&str>::new(), "without --all an admin's own");
    let (code, stdout, stderr) = api.run(Some(&alice), &["list"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("{alices}  alice@iiitm.ac.in  Pending  ")) && !stdout.contains(&bobs),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_sees_and_deletes_a_workspace_and_others_get_404_with_exit_3() {
    let api = serve().await;
    let name = api.create("alice@iiitm.ac.in", "devbox").await;
    api.cluster.set_phase(&name, WorkspacePhase::Ready, Some(30007));
    let alice = api.token("alice@iiitm.ac.in", false).await;
    let bob = api.token("bob@iiitm.ac.in", false).await;

    let (code, stdout, stderr) = api.run(Some(&alice), &["show", &name]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&format!("{name}  alice@iiitm.ac.in  Ready  ")), "{stdout}");
    assert!(stdout.contains("\n  ssh -p 30007 alice@localhost\n"), "{stdout}");

    for verb in ["show", "delete"] {
        let (code, stdout, stderr) = api.run(Some(&bob), &[verb, &name]).await;
        assert_eq!(code, 3, "{verb}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(
            stderr,
            format!("error: the orchestrator API answered 404 Not Found: Not found: workspace {name} does not exist\n")
        );
    }
    assert_eq!(api.cluster.names(), std::slice::from_ref(&name));

    let (code, stdout, stderr) = api.run(Some(&alice), &["delete", &name]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&name), "{stdout}");
    assert!(api.cluster.names().is_empty());
    let (code, _, stderr) = api.run(Some(&alice), &["show", &name]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("404 Not Found"), "{stderr}");

    // A name is one path segment, whatever it holds: the API read it whole (no route was
    // missed) and, since no workspace can be named so, answered "not found", quoting it.
    let (code, _, stderr) = api.run(Some(&alice), &["show", "a/b c?d"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("workspace \"a/b c?d\" does not exist"), "{stderr}");
    assert_eq!(api.cluster.calls().iter().filter(|c| c.contains("a/b")).count(), 0, "never asked the cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_shows_and_deletes_a_workspace_by_the_name_they_gave_it() {
    let api = serve().await;
    let alices = api.create("alice@iiitm.ac.in", "devbox").await;
    let bobs = api.create("bob@iiitm.ac.in", "devbox").await;
    let alice = api.token("alice@iiitm.ac.in", false).await;
    let bob = api.token("bob@iiitm.ac.in", false).await;

    let (code, stdout, stderr) = api.run(Some(&alice), &["show", "devbox"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&format!("{alices}  alice@iiitm.ac.in  ")), "{stdout}");
    let shown = api.json(&bob, &["show", "devbox"]).await;
    assert_eq!(shown["name"], bobs.as_str(), "bob's devbox is bob's");

    // Alice gave no workspace the name `other`; bob's full name is not hers to use either.
    for (name, verb) in [("other", "show"), ("other", "delete"), (bobs.as_str(), "delete")] {
        let (code, _, stderr) = api.run(Some(&alice), &[verb, name]).await;
        assert_eq!(code, 3, "{verb} {name}: {stderr}");
        assert!(stderr.contains("404 Not Found"), "{stderr}");
    }

    let (code, stdout, stderr) = api.run(Some(&alice), &["delete", "devbox"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&alices), "{stdout}");
    assert_eq!(api.cluster.names(), [bobs], "only alice's went");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_error_says_how_to_give_one() {
    let api = serve().await;
    let (code, stdout, stderr) = api.run(None, &["list"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("set ORCHESTRATOR_TOKEN, or pass --token-file PATH"), "{stderr}");

    let empty = api.env.dir.path().join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    let (code, _, stderr) = api.run(None, &["list", "--token-file", empty.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("empty.token is empty"), "{stderr}");

    // The token never goes on the command line, where the process list shows it.
    let (code, _, stderr) = api.run(None, &["list", "--token", "orc_x"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unexpected argument '--token'"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_refused_with_401_and_exit_5_and_never_shown() {
    let api = serve().await;
    api.create("alice@iiitm.ac.in", "devbox").await;
    let secret = "Zq9x7Wv3Ut5Sr1Pq8On6Ml4Kj2Ih0Gf";
    let bad = format!("orc_0123456789ab_{secret}");
    let token_file = api.env.dir.path().join("bad.token");
    std::fs::write(&token_file, &bad).unwrap();
    let from_file = ["list", "--token-file", token_file.to_str().unwrap()];
    for (token, args) in
        [(Some(bad.as_str()), &["list"][..]), (None, &from_file), (Some(&bad), &["list", "-o", "json"])]
    {
        let mut all = vec!["workspace", "--api", api.url.as_str()];
        all.extend(args);
        // Every log line too, the HTTP client's own included.
        let mut vars = vec![("ORCHESTRATOR_LOG", "trace")];
        vars.extend(token.map(|t| ("ORCHESTRATOR_TOKEN", t)));
        let (code, stdout, stderr) = output(command(&api.env, &all, &vars)).await;
        assert_eq!(code, 5, "{args:?}: {stderr}");
        assert!(stderr.contains("401 Unauthorized") && stderr.contains("a valid token"), "{stderr}");
        for text in [&stdout, &stderr] {
            assert!(!text.contains(secret), "the token was shown: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_ssh_key_is_refused_naming_the_field_and_its_rule() {
    let api = serve().await;
    let alice = api.token("alice@iiitm.ac.in", false).await;
    let key = api.key_file("ssh-dss AAAAB3NzaC1kc3MAAACBAP alice@laptop\n");
    let create = [
        "create",
        "--email",
        "alice@iiitm.ac.in",
        "--name",
        "devbox",
        "--cpu",
        "1",
        "--memory",
        "2Gi",
        "--ssh-key-file",
    ];
    let (code, stdout, stderr) = api.run(Some(&alice), &[&create[..], &[&key]].concat()).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with("error: the orchestrator API answered 422 Unprocessable Entity: Invalid request\n"),
        "{stderr}"
    );
    assert!(stderr.contains("\n  - ssh_public_key: ") && stderr.contains("(unsupported-type)"), "{stderr}");

    let (code, _, stderr) = api.run(Some(&alice), &[&create[..], &[&key, "--output", "json"]].concat()).await;
    assert_eq!(code, 2, "{stderr}");
    let error: Value = serde_json::from_str(&stderr).unwrap();
    let problems = error["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p["field"] == "ssh_public_key" && p["rule"] == "unsupported-type"), "{error}");
    assert!(api.cluster.names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_mode_refuses_kube_url_and_email_filters_as_usage_errors() {
    let api = serve().await;
    let alice = api.token("alice@iiitm.ac.in", false).await;
    let (code, _, stderr) = api.run(Some(&alice), &["--kube-url", "http://127.0.0.1:8001", "list"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("'--api <URL>' cannot be used with '--kube-url <URL>'"), "{stderr}");
    let (code, _, stderr) = api.run(Some(&alice), &["list", "--email", "alice@iiitm.ac.in"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`list --email` works only directly on the cluster, without --api"), "{stderr}");
    let (code, _, stderr) = output(command(&api.env, &["workspace", "--api", "ftp://x.example", "list"], &[])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("expected an http:// or https:// URL"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_fails_with_exit_6() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let cmd =
        command(&env, &["workspace", "--api", &url, "show", "x"], &[("ORCHESTRATOR_TOKEN", "orc_0123456789ab_x")]);
    let (code, stdout, stderr) = output(cmd).await;
    assert_eq!(code, 6, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with(&format!("error: cannot reach the orchestrator API at {url}: ")), "{stderr}");
    assert!(!stderr.contains("orc_0123456789ab_x"), "{stderr}");
}

#[test]
fn workspace_help_teaches_both_modes() {
    let env = Env::new();
    let (code, stdout, stderr) = decode(command(&env, &["workspace", "--help"], &[]).output().unwrap());
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
}
