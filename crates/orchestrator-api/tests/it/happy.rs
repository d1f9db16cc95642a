//! The happy paths: creating through each route, dry runs, idempotent replays, conflicts, and
//! reading runs, services and kinds back.

use crate::support::{Api, seed_body};
use serde_json::{Value, json};

fn location(answer: &crate::support::Answer) -> String {
    answer.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[track_caller]
fn assert_created(answer: &crate::support::Answer, name: &str) -> Value {
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(location(answer), format!("/v1/services/{name}"));
    let report = answer.json();
    assert_eq!(report["service"], name);
    assert_eq!(report["run"]["state"], "succeeded", "{report}");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["replayed"], false);
    let repos: Vec<&str> =
        report["repos"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
    assert!(repos.contains(&name) && repos.contains(&format!("{name}-infra").as_str()), "{repos:?}");
    report
}

#[tokio::test]
async fn both_seed_routes_and_v1_create_a_service() {
    let api = Api::memory();
    let report =
        assert_created(&api.post_json("/create-service", &seed_body("ms", "ms-one", "the first")).await, "ms-one");
    assert_eq!(report["description"], "the first");
    assert_created(&api.post_json("/create-repo", &seed_body("ms", "ms-two", "the second")).await, "ms-two");
    let report = assert_created(
        &api.post_json(
            "/v1/services",
            &json!({"kind": "ms", "name": "ms-three", "owner": "team-a", "parameters": {"port": 9090}}),
        )
        .await,
        "ms-three",
    );
    assert_eq!(report["owner"], "team-a");

    let services = api.get("/v1/services").await;
    assert_eq!(services.status, 200);
    let names: Vec<Value> = services.json().as_array().into_iter().flatten().map(|s| s["name"].clone()).collect();
    assert_eq!(names, [json!("ms-one"), json!("ms-three"), json!("ms-two")]);
}

#[tokio::test]
async fn a_charset_parameter_is_accepted() {
    let api = Api::memory();
    let answer = api
        .send(crate::support::post(
            "/create-repo",
            Some("application/json; charset=utf-8"),
            &[],
            seed_body("ms", "charset", "d").to_string().into_bytes(),
        ))
        .await;
    assert_created(&answer, "charset");
}

#[tokio::test]
async fn a_dry_run_plans_and_writes_nothing() {
    let api = Api::memory();
    let answer = api.post_json("/v1/services?dry_run=true", &json!({"kind": "ms", "name": "planned"})).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
    assert!(answer.headers.get("location").is_none());
    let report = answer.json();
    assert_eq!(report["dry_run"], true);
    assert!(report.get("run").is_none(), "{report}");
    assert!(report["plan"].as_array().is_some_and(|p| !p.is_empty()), "{report}");
    assert_eq!(api.get("/v1/services").await.json(), json!([]));
    assert_eq!(api.get("/v1/runs").await.json(), json!([]));
    // And dry_run=false creates.
    assert_created(&api.post_json("/create-service?dry_run=false", &seed_body("ms", "planned", "")).await, "planned");
}

#[tokio::test]
async fn a_dry_run_is_refused_where_the_real_run_would_be() {
    let api = Api::memory();
    assert_created(&api.post_json("/create-service", &seed_body("ms", "taken", "")).await, "taken");
    let again = api.post_json("/create-service?dry_run=true", &seed_body("ms", "taken", "")).await;
    let problem = again.problem(409);
    assert_eq!(problem["type"], "urn:orchestrator:problem:service-exists", "{problem}");
    assert_eq!(problem["service"], "taken", "{problem}");
    let reserved = api.post_json("/create-service?dry_run=true", &seed_body("ms", "ms-charts", "")).await;
    assert_eq!(crate::support::field_rules(&reserved.problem(422))[0], ("name".to_owned(), "reserved".to_owned()));
    let runs = api.get("/v1/runs").await.json();
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "a dry run records nothing: {runs}");
}

#[tokio::test]
async fn an_idempotent_replay_answers_the_first_report() {
    let api = Api::memory();
    let body = json!({"kind": "ms", "name": "once", "description": "only once"});
    let first = api.post_json_with_key("/v1/services", "key-1", &body).await;
    let mut first_report = assert_created(&first, "once");
    let second = api.post_json_with_key("/v1/services", "key-1", &body).await;
    assert_eq!(second.status, 201, "{}", String::from_utf8_lossy(&second.bytes));
    assert_eq!(location(&second), "/v1/services/once");
    let mut second_report = second.json();
    assert_eq!(second_report["replayed"], true);
    first_report["replayed"] = json!(null);
    second_report["replayed"] = json!(null);
    assert_eq!(first_report, second_report);
    assert_eq!(api.get("/v1/runs").await.json().as_array().map(Vec::len), Some(1));

    // The same key for another request is refused.
    let other = api.post_json_with_key("/v1/services", "key-1", &json!({"kind": "ms", "name": "other"})).await;
    let problem = other.problem(422);
    assert_eq!(problem["type"], "urn:orchestrator:problem:idempotency-key-reused");
    assert_eq!(problem["run"], first_report["run"]["id"]);

    // The seed routes take the key too.
    let seed = seed_body("ms", "seeded", "d");
    let a = api.post_json_with_key("/create-repo", "key-2", &seed).await;
    let b = api.post_json_with_key("/create-service", "key-2", &seed).await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (201, 201));
    assert_eq!(a.json()["run"], b.json()["run"]);
}

#[tokio::test]
async fn creating_an_existing_service_again_is_a_conflict_naming_it() {
    let api = Api::memory();
    let first = assert_created(&api.post_json("/create-repo", &seed_body("ms", "taken", "d")).await, "taken");
    let again = api.post_json("/v1/services", &json!({"kind": "ms", "name": "taken"})).await;
    let problem = again.problem(409);
    assert_eq!(problem["type"], "urn:orchestrator:problem:service-exists");
    assert_eq!(problem["service"], "taken");
    assert_eq!(problem["run"], first["run"]["id"]);
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("taken")), "{problem}");
}

#[tokio::test]
async fn runs_services_and_kinds_read_back() {
    let api = Api::memory();
    let report = assert_created(&api.post_json("/create-service", &seed_body("ms", "readable", "d")).await, "readable");
    let run_id = report["run"]["id"].as_str().expect("a run id").to_owned();

    let run = api.get(&format!("/v1/runs/{run_id}")).await;
    assert_eq!(run.status, 200);
    let run = run.json();
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["state"], "succeeded");
    let steps = run["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), report["plan"].as_array().map_or(0, Vec::len));
    assert!(steps.iter().all(|s| s["state"] == "done"), "{run}");

    let runs = api.get("/v1/runs?limit=1").await;
    assert_eq!(runs.status, 200);
    assert_eq!(runs.json()[0]["id"], run_id.as_str());

    let service = api.get("/v1/services/readable").await;
    assert_eq!(service.status, 200);
    let service = service.json();
    assert_eq!(service["name"], "readable");
    assert_eq!(service["run"], run_id.as_str());

    let kinds = api.get("/v1/kinds").await;
    assert_eq!(kinds.status, 200);
    let kinds = kinds.json();
    let ms = kinds.as_array().into_iter().flatten().find(|k| k["name"] == "ms").expect("the built-in kind ms");
    assert!(ms["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "port")), "{ms}");
}

#[tokio::test]
async fn probes() {
    let api = Api::memory();
    let health = api.get("/healthz").await;
    assert_eq!((health.status.as_u16(), health.json()), (200, json!({"status": "ok"})));
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", String::from_utf8_lossy(&ready.bytes));
    assert_eq!(ready.json()["status"], "ready");
}

#[tokio::test]
async fn the_real_adapters_serve_the_same_api() {
    let api = Api::real().await;
    assert_eq!(api.get("/readyz").await.status, 200);
    let report = assert_created(&api.post_json("/create-repo", &seed_body("ms", "on-disk", "d")).await, "on-disk");
    let run_id = report["run"]["id"].as_str().expect("a run id").to_owned();
    assert_eq!(api.get(&format!("/v1/runs/{run_id}")).await.json()["state"], "succeeded");
    assert_eq!(api.get("/v1/services/on-disk").await.status, 200);
    let again = api.post_json("/create-service", &seed_body("ms", "on-disk", "d")).await;
    assert_eq!(again.problem(409)["service"], "on-disk");
}

#[tokio::test]
async fn upgrades_answer_with_their_report_and_a_run_when_one_ran() {
    let api = Api::memory();
    assert_created(&api.post_json("/v1/services", &json!({"kind": "ms", "name": "up"})).await, "up");

    // Nothing is behind: no run, 200.
    let answer = api.post_json("/v1/upgrades", &json!({"service": "up"})).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
    let report = answer.json();
    assert_eq!(report["mode"], "upgrade");
    assert!(report.get("run").is_none(), "{report}");
    let outcomes: Vec<&Value> =
        report["services"][0]["repos"].as_array().unwrap().iter().map(|r| &r["outcome"]).collect();
    assert_eq!(outcomes, [&json!("up-to-date"), &json!("up-to-date")]);

    // A changed answer makes a new render: checked first, then upgraded by a run.
    let set = json!({"all": true, "mode": "check", "set": {"log_level": "debug"}});
    let check = api.post_json("/v1/upgrades", &set).await;
    assert_eq!(check.status, 200);
    assert_eq!(check.json()["services"][0]["repos"][0]["outcome"], "behind");
    let bad = api.post_json("/v1/upgrades", &json!({"service": "up", "set": {"log_level": "loud"}})).await;
    assert_eq!(crate::support::field_rules(&bad.problem(422))[0].0, "parameters.log_level");

    let answer = api.post_json("/v1/upgrades", &json!({"service": "up", "set": {"log_level": "debug"}})).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let report = answer.json();
    let run = report["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location(&answer), format!("/v1/runs/{run}"));
    assert_eq!(report["services"][0]["repos"][0]["outcome"], "upgraded", "{report}");
    let view = api.get(&format!("/v1/runs/{run}")).await.json();
    assert_eq!(view["operation"], "upgrade");
    assert_eq!(view["upgrade"]["services"][0]["repos"][0]["outcome"], "upgraded", "{view}");
}

#[tokio::test]
async fn one_server_registers_more_services_than_a_repository_keeps_packs() {
    // Every registration adds a pack to the GitOps repository, which the server keeps open:
    // past 32 they are merged, and the server's handle must live through it.
    let api = Api::real().await;
    for i in 0..40 {
        let name = format!("svc-{i}");
        assert_created(&api.post_json("/v1/services", &json!({"kind": "ms", "name": name})).await, &name);
    }
    let services = api.get("/v1/services").await.json();
    assert_eq!(services.as_array().map(Vec::len), Some(40));
}

#[tokio::test]
async fn an_image_bump_answers_what_it_committed() {
    let api = Api::memory();
    assert_created(&api.post_json("/v1/services", &json!({"kind": "ms", "name": "img"})).await, "img");
    let answer = api.post_json("/v1/services/img/image", &json!({"tag": "3f2a9c1"})).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
    let report = answer.json();
    assert_eq!((report["changed"].clone(), report["file"].clone()), (json!(true), json!("values.yaml")));
    assert_eq!(report["repo"], "img-infra");
    let again = api.post_json("/v1/services/img/image", &json!({"tag": "3f2a9c1"})).await.json();
    assert_eq!(again["changed"], false);
    assert_eq!(again["commit"], report["commit"]);
    let qa = api.post_json("/v1/services/img/image", &json!({"tag": "v2", "env": "qa"})).await.json();
    assert_eq!((qa["env"].clone(), qa["file"].clone()), (json!("qa"), json!("values-qa.yaml")));
}

#[tokio::test]
async fn a_create_without_a_remote_url_warns_that_registrations_name_local_clone_urls() {
    let api = Api::memory();
    let report = assert_created(&api.post_json("/v1/services", &json!({"kind": "ms", "name": "local"})).await, "local");
    let warnings = report["warnings"].as_array().expect("a warnings list");
    assert_eq!(warnings.len(), 1, "{report:#}");
    assert_eq!(warnings[0]["code"], "local-clone-urls");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("git.remote_url") && message.contains("ORCHESTRATOR_GIT_REMOTE_URL"), "{message}");
    // A dry run says so too: it is what the run would do.
    let planned = api.post_json("/v1/services?dry_run=true", &json!({"kind": "ms", "name": "planned"})).await;
    assert_eq!(planned.json()["warnings"][0]["code"], "local-clone-urls");

    let api = Api::configured("[git]\nremote_url = \"https://git.example.com/platform\"\n");
    let report =
        assert_created(&api.post_json("/v1/services", &json!({"kind": "ms", "name": "remote"})).await, "remote");
    assert_eq!(report["warnings"], json!([]));
}
