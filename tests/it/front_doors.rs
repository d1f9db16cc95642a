//! The two front doors agree: the same failing request, sent to the API (its router, on the
//! data directory the command line uses) and given to the `orchestrator` binary, fails the
//! same way — the API's status and the command line's exit code are those of one kind, the
//! problem type and the field problems are the same. And `--set` values reach the blueprint as
//! the API's JSON strings do, converted by the parameter's declared type in one place.

use crate::cli::support::{Env, git};
use axum::body::Body;
use axum::http::{Request, header};
use orchestrator_api::{AppState, router};
use orchestrator_app::{Config, Runtime};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;

/// The status and exit code each kind maps to: the README's table.
const TABLE: &[(&str, u16, i32)] = &[
    ("invalid", 422, 2),
    ("not-found", 404, 3),
    ("conflict", 409, 4),
    ("unauthorized", 401, 5),
    ("forbidden", 403, 7),
    ("unavailable", 503, 6),
    ("internal", 500, 1),
];

/// The README's table, as (kind, HTTP status, exit code) rows.
pub fn readme_table() -> Vec<(String, u16, i32)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let kind = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(3)?.split_whitespace().next()?.parse().ok()?;
            let code = cells.get(4)?.split_whitespace().next()?.parse().ok()?;
            Some((kind.to_owned(), status, code))
        })
        .collect()
}

#[test]
fn the_readme_table_is_the_api_s_mapping_and_this_test_s() {
    let documented = readme_table();
    let expected: Vec<(String, u16, i32)> = TABLE.iter().map(|(k, s, c)| ((*k).to_owned(), *s, *c)).collect();
    assert_eq!(documented, expected, "README.md's table of kinds");
    for kind in orchestrator_app::ErrorKind::ALL {
        let row = TABLE.iter().find(|(k, ..)| *k == kind.as_str()).expect("every kind has a row");
        assert_eq!(orchestrator_api::problem::status_of(kind).as_u16(), row.1, "{kind}");
    }
}

/// An answer of either door: kind, problem type, and the (field, rule) pairs.
#[derive(Debug, PartialEq)]
struct Failure {
    kind: String,
    problem_type: String,
    problems: Vec<(String, String)>,
}

fn failure(error: &Value, problems: &str) -> Failure {
    let mut fields: Vec<(String, String)> = error[problems]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| (p["field"].as_str().unwrap().to_owned(), p["rule"].as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    Failure {
        kind: error["kind"].as_str().unwrap().to_owned(),
        problem_type: error["type"].as_str().unwrap().to_owned(),
        problems: fields,
    }
}

/// The API over the data directory the command line uses.
struct Doors {
    env: Env,
    api: axum::Router,
    /// An admin's `Authorization`: the API's answers here are about the request, not the caller.
    bearer: String,
}

impl Doors {
    async fn open() -> Doors {
        let env = Env::new();
        let config = Config::load(&env.home(), &[], &|_| None).unwrap();
        let runtime = Runtime::open(config, None).await.unwrap();
        let (token, _) = runtime.auth.issue_token("ops@example.org", provision_core::Role::Admin, false).await.unwrap();
        let bearer = format!("Bearer {}", token.expose());
        Doors { api: router(AppState::new(Arc::new(runtime))), env, bearer }
    }

    /// The API's answer to `method uri` with `body`: its status and its problem.
    async fn api(&self, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, &self.bearer);
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response = self.api.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// The command line's exit code and its JSON error (stderr).
    async fn cli(&self, args: &[&str]) -> (i32, Value) {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let mut cmd = self.env.cmd();
        cmd.args(&all);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let error = stderr.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok()).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), error)
    }

    /// Asserts both doors fail `what` as one kind, with the same problem type and problems.
    async fn agree(&self, what: &str, api: (&str, &str, Option<Value>), cli: &[&str], kind: &str) {
        let (status, problem) = self.api(api.0, api.1, api.2).await;
        let (code, error) = self.cli(cli).await;
        let &(_, want_status, want_code) = TABLE.iter().find(|(k, ..)| *k == kind).unwrap();
        assert_eq!(
            (status, code),
            (want_status, want_code),
            "{what}: the API said {problem}, the command line {error}"
        );
        let (through_api, through_cli) = (failure(&problem, "errors"), failure(&error, "problems"));
        assert_eq!(through_api.kind, kind, "{what}: {problem}");
        assert_eq!(through_api, through_cli, "{what}: the doors disagree");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_failing_request_fails_alike_through_the_api_and_the_command_line() {
    let doors = Doors::open().await;
    let (code, error) = doors.cli(&["create-service", "--kind", "ms", "--name", "demo"]).await;
    assert_eq!(code, 0, "{error}");

    doors
        .agree(
            "a name and a parameter breaking their rules",
            ("POST", "/v1/services", Some(json!({"kind": "ms", "name": "Bad_Name", "parameters": {"port": "many"}}))),
            &["create-service", "--kind", "ms", "--name", "Bad_Name", "--set", "port=many"],
            "invalid",
        )
        .await;
    doors
        .agree(
            "an unknown kind",
            ("POST", "/v1/services", Some(json!({"kind": "nope", "name": "other"}))),
            &["create-service", "--kind", "nope", "--name", "other"],
            "invalid",
        )
        .await;
    doors
        .agree(
            "a service that exists",
            ("POST", "/v1/services", Some(json!({"kind": "ms", "name": "demo"}))),
            &["create-service", "--kind", "ms", "--name", "demo"],
            "conflict",
        )
        .await;
    doors
        .agree(
            "a run that does not exist",
            ("GET", "/v1/runs/0190c3b4-0000-7000-8000-000000000000", None),
            &["runs", "show", "0190c3b4-0000-7000-8000-000000000000"],
            "not-found",
        )
        .await;
    doors
        .agree(
            "a service that does not exist",
            ("GET", "/v1/services/nope", None),
            &["services", "show", "nope"],
            "not-found",
        )
        .await;
    doors
        .agree(
            "an upgrade of a service that does not exist",
            ("POST", "/v1/upgrades", Some(json!({"service": "nope"}))),
            &["upgrade", "nope"],
            "not-found",
        )
        .await;
    doors
        .agree(
            "an image tag and an environment breaking their rules",
            ("POST", "/v1/services/demo/image", Some(json!({"tag": "bad tag!", "env": "moon"}))),
            &["bump-image", "demo", "bad tag!", "--env", "moon"],
            "invalid",
        )
        .await;
    doors
        .agree(
            "the tag of a service that does not exist",
            ("POST", "/v1/services/nope/image", Some(json!({"tag": "v1"}))),
            &["bump-image", "nope", "v1"],
            "not-found",
        )
        .await;
}

/// `.orchestrator/answers.toml` on `main` of `repo`, as the git CLI reads it.
fn answers(env: &Env, repo: &str) -> String {
    git(&env.bare(repo), &["show", "main:.orchestrator/answers.toml"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_values_are_typed_by_the_blueprint_alike_through_both_doors() {
    let doors = Doors::open().await;
    // A string parameter given digits, an integer given as text: both as the blueprint says.
    let (code, error) = doors
        .cli(&["create-service", "--kind", "ms", "--name", "by-cli", "--set", "go_module=17", "--set", "port=9090"])
        .await;
    assert_eq!(code, 0, "{error}");
    let body = json!({"kind": "ms", "name": "by-api", "parameters": {"go_module": "17", "port": "9090"}});
    let (status, report) = doors.api("POST", "/v1/services", Some(body)).await;
    assert_eq!(status, 201, "{report}");
    let (cli, api) = (answers(&doors.env, "by-cli"), answers(&doors.env, "by-api"));
    let section = |text: &str| text.split("[answers]").nth(1).unwrap().trim().to_owned();
    assert_eq!(section(&cli), section(&api), "the same answers");
    assert!(section(&cli).contains("go_module = \"17\"") && section(&cli).contains("port = 9090"), "{cli}");

    // And the same refusal for what no type takes.
    doors
        .agree(
            "a boolean where an integer belongs",
            ("POST", "/v1/services", Some(json!({"kind": "ms", "name": "third", "parameters": {"port": "true"}}))),
            &["create-service", "--kind", "ms", "--name", "third", "--set", "port=true"],
            "invalid",
        )
        .await;
}
