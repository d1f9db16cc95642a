//! Runs that have not finished, over HTTP: an idempotent replay of a request whose run is
//! still going answers 202 with the run's `Location`; `POST /v1/runs/{id}/retry` resumes a
//! failed run in the background (202), refuses a running or succeeded one (409, saying which)
//! and knows no unknown one (404); a run that failed for a transient reason answers 202 and the
//! server finishes it.

use crate::support::{Answer, Api, post, seed_body};
use axum::http::StatusCode;
use orchestrator_api::AppState;
use orchestrator_app::runtime::Ports;
use orchestrator_app::{Config, Runtime};
use provision_core::ports::{PortError, PortErrorKind};
use provision_core::testing::{MemoryGitHost, MemoryStore, NoPause};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

fn location(answer: &Answer) -> String {
    answer.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Holds every repository creation of a git host until opened, and tells when one arrived:
/// a run held there is running, its claim taken.
struct Gate {
    arrived: Arc<Semaphore>,
    open: Arc<Semaphore>,
}

impl Gate {
    fn on(git: &MemoryGitHost) -> Gate {
        let gate = Gate { arrived: Arc::new(Semaphore::new(0)), open: Arc::new(Semaphore::new(0)) };
        let (arrived, open) = (gate.arrived.clone(), gate.open.clone());
        git.before_create_repo(Arc::new(move |_| {
            let (arrived, open) = (arrived.clone(), open.clone());
            Box::pin(async move {
                arrived.add_permits(1);
                let _pass = open.acquire().await.map_err(|_| PortError::permanent("the gate was closed"))?;
                Ok(())
            })
        }));
        gate
    }

    /// Waits until a repository creation is held at the gate.
    async fn reached(&self) {
        self.arrived.acquire().await.expect("the gate stays").forget();
    }

    /// Lets every creation through, from now on.
    fn open(&self) {
        self.open.add_permits(1);
    }
}

/// `request` sent by a task of its own, so the test can go on while it waits.
fn spawn_post(api: &Arc<Api>, uri: &str, key: &str, body: &Value) -> tokio::task::JoinHandle<Answer> {
    let (api, uri, key, body) = (api.clone(), uri.to_owned(), key.to_owned(), body.clone());
    tokio::spawn(async move { api.post_json_with_key(&uri, &key, &body).await })
}

async fn retry(api: &Api, run: &str) -> Answer {
    api.send(post(&format!("/v1/runs/{run}/retry"), None, &[], Vec::new())).await
}

/// Reads the run until it is in `state`; gives up after ten seconds.
async fn wait_for_state(api: &Api, run: &str, state: &str) -> Value {
    let read = async {
        loop {
            let view = api.get(&format!("/v1/runs/{run}")).await.json();
            if view["state"] == state {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.unwrap_or_else(|_| panic!("run {run} never was {state}"))
}

#[tokio::test]
async fn an_idempotent_replay_while_the_run_goes_on_is_202_with_the_run_and_201_once_it_succeeded() {
    let git = Arc::new(MemoryGitHost::new());
    let gate = Gate::on(&git);
    let api = Arc::new(Api::with_ports(git.clone(), Arc::new(MemoryStore::new())));
    let body = json!({"kind": "ms", "name": "slow", "description": "takes its time"});
    let first = spawn_post(&api, "/v1/services", "key-slow", &body);
    gate.reached().await;

    let replay = api.post_json_with_key("/v1/services", "key-slow", &body).await;
    assert_eq!(replay.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&replay.bytes));
    let report = replay.json();
    let run = report["run"]["id"].as_str().expect("the run").to_owned();
    assert_eq!(location(&replay), format!("/v1/runs/{run}"));
    assert_eq!((&report["run"]["state"], &report["replayed"]), (&json!("running"), &json!(true)), "{report}");
    assert_eq!(report["service"], "slow");
    // Where it points, the run is going on.
    assert_eq!(api.get(&location(&replay)).await.json()["state"], "running");

    gate.open();
    let first = first.await.expect("the first request is answered");
    assert_eq!(first.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first.bytes));
    assert_eq!(first.json()["run"]["id"], run.as_str());
    let after = api.post_json_with_key("/v1/services", "key-slow", &body).await;
    assert_eq!(after.status, StatusCode::CREATED);
    assert_eq!(location(&after), "/v1/services/slow");
    assert_eq!((&after.json()["run"]["state"], &after.json()["replayed"]), (&json!("succeeded"), &json!(true)));
    assert_eq!(git.history("slow", "main").len(), 1, "one run, one commit");
}

#[tokio::test]
async fn a_failed_run_is_retried_over_http_once_and_then_has_nothing_left_to_retry() {
    let git = Arc::new(MemoryGitHost::new());
    // The two checks before the run pass; the run's first git call fails for good.
    git.fail_later(2, 1, PortErrorKind::Permanent);
    let api = Api::with_ports(git.clone(), Arc::new(MemoryStore::new()));
    let failed = api.post_json("/create-service", &seed_body("ms", "flaky", "d")).await.problem(500);
    let run = failed["run"].as_str().expect("the failed run is named").to_owned();

    let answer = retry(&api, &run).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(location(&answer), format!("/v1/runs/{run}"));
    let view = answer.json();
    assert_eq!(view["id"], run.as_str());
    assert!(["pending", "running"].contains(&view["state"].as_str().unwrap_or_default()), "reopened: {view}");

    let done = wait_for_state(&api, &run, "succeeded").await;
    assert_eq!(done["steps"][0]["attempts"], 2, "{done}");
    assert_eq!(api.get("/v1/services/flaky").await.json()["state"], "succeeded");
    for repo in ["flaky", "flaky-infra", "argo-gitdir-services"] {
        assert_eq!(git.history(repo, "main").len(), 1, "{repo}: nothing made twice");
    }

    let again = retry(&api, &run).await.problem(409);
    assert_eq!(again["type"], "urn:orchestrator:problem:run-succeeded");
    assert_eq!(again["run"], run.as_str());
    assert!(again["detail"].as_str().is_some_and(|d| d.contains("succeeded")), "{again}");
}

#[tokio::test]
async fn a_running_run_is_not_retried_and_unknown_runs_are_not_found() {
    let git = Arc::new(MemoryGitHost::new());
    let gate = Gate::on(&git);
    let api = Arc::new(Api::with_ports(git.clone(), Arc::new(MemoryStore::new())));
    let create = spawn_post(&api, "/create-service", "key-held", &seed_body("ms", "held", "d"));
    gate.reached().await;
    let runs = api.get("/v1/runs").await.json();
    let run = runs[0]["id"].as_str().expect("the run").to_owned();
    assert_eq!(runs[0]["state"], "running");

    let refused = retry(&api, &run).await.problem(409);
    assert_eq!(refused["type"], "urn:orchestrator:problem:run-running");
    assert_eq!(refused["run"], run.as_str());
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("running")), "{refused}");
    gate.open();
    assert_eq!(create.await.expect("answered").status, StatusCode::CREATED);

    // Ids are parsed first: a malformed one is as unknown as a well-formed one nobody made.
    for id in ["not-a-run", "0190c3b4-0000-7000-8000-000000000000"] {
        assert_eq!(retry(&api, id).await.problem(404)["type"], "urn:orchestrator:problem:not-found", "{id}");
    }
    let wrong_method = api.get(&format!("/v1/runs/{run}/retry")).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_run_failing_for_a_transient_reason_answers_202_and_the_server_finishes_it() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::defaults(home.path());
    config.runs.retry_delay = Duration::ZERO;
    let git = Arc::new(MemoryGitHost::new());
    // The run's first step loses every race of its first execution (the engine tries a step
    // five times), as to another server.
    let left = std::sync::atomic::AtomicUsize::new(5);
    git.before_create_repo(Arc::new(move |repo| {
        use std::sync::atomic::Ordering::SeqCst;
        let lose = repo.as_str() == "contended" && left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        Box::pin(async move {
            match lose {
                true => Err(PortError::new(PortErrorKind::Conflict, "another server got there first")),
                false => Ok(()),
            }
        })
    }));
    let ports =
        Ports::new(git.clone(), Arc::new(MemoryStore::new())).with_pause(Arc::new(NoPause)).with_background_retries();
    let runtime = Arc::new(Runtime::with_ports(config, ports));
    let background = runtime.background(false);
    let api = Api::from_state(AppState::new(runtime), home);

    let answer = api.post_json("/create-service", &seed_body("ms", "contended", "d")).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer.bytes));
    let report = answer.json();
    let run = report["run"]["id"].as_str().expect("the run").to_owned();
    assert_eq!(location(&answer), format!("/v1/runs/{run}"));
    assert_eq!(report["run"]["state"], "pending", "reopened for its retry: {report}");
    assert!(report["run"]["error"].as_str().is_some_and(|e| e.contains("another server got there first")), "{report}");

    let done = wait_for_state(&api, &run, "succeeded").await;
    assert_eq!(done["steps"][0]["attempts"], 6, "five attempts, then one in the retry: {done}");
    assert_eq!(api.get("/v1/services/contended").await.json()["state"], "succeeded");
    for repo in ["contended", "contended-infra", "argo-gitdir-services"] {
        assert_eq!(git.history(repo, "main").len(), 1, "{repo}: nothing made twice");
    }
    background.stop().await;
}

#[tokio::test]
async fn a_create_service_run_is_undone_over_http_by_an_admin_only() {
    let git = Arc::new(MemoryGitHost::new());
    let api = Api::with_ports(git.clone(), Arc::new(MemoryStore::new()));
    let created = api.post_json("/v1/services", &json!({"kind": "ms", "name": "gone", "description": "d"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let run = created.json()["run"]["id"].as_str().expect("the run").to_owned();
    let undo = |query: &str| post(&format!("/v1/runs/{run}/undo{query}"), None, &[], Vec::new());

    // Deleting repositories is an admin's call.
    let member = api.bearer("dev@example.org", provision_core::Role::Member).await;
    let as_member = post(&format!("/v1/runs/{run}/undo"), None, &[("authorization", member.as_bytes())], Vec::new());
    let forbidden = api.send(as_member).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(git.repo_names(), ["argo-gitdir-services", "gone", "gone-infra"]);

    let dry = api.send(undo("?dry_run=true")).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", String::from_utf8_lossy(&dry.bytes));
    assert_eq!((&dry.json()["dry_run"], &dry.json()["deleted"]), (&json!(true), &json!(["gone", "gone-infra"])));
    assert_eq!(git.repo_names(), ["argo-gitdir-services", "gone", "gone-infra"], "a dry run changes nothing");

    let done = api.send(undo("")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", String::from_utf8_lossy(&done.bytes));
    let report = done.json();
    assert_eq!(
        (&report["run"]["operation"], &report["run"]["state"]),
        (&json!("undo"), &json!("succeeded")),
        "{report}"
    );
    let files = &report["unregistered"]["files"];
    assert_eq!(files, &json!(["services/gone/application-qa.yaml", "services/gone/application-staging.yaml"]));
    assert_eq!(git.repo_names(), ["argo-gitdir-services"]);
    assert_eq!(api.get("/v1/services/gone").await.status, StatusCode::NOT_FOUND);

    let bad = api.send(undo("?force=maybe")).await.problem(400);
    assert!(bad["detail"].as_str().is_some_and(|d| d.contains("force")), "{bad}");
    let undo_run = report["run"]["id"].as_str().unwrap();
    let not_create = api.send(post(&format!("/v1/runs/{undo_run}/undo"), None, &[], Vec::new())).await.problem(409);
    assert_eq!(not_create["type"], "urn:orchestrator:problem:not-undoable");
    api.send(post("/v1/runs/nope/undo", None, &[], Vec::new())).await.problem(404);
}
