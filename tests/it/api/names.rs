//! Names from a URL reach the cluster parsed or not at all: the `orchestrator-api` binary on
//! kube-fake, whose request log shows every call the server made. The paths are the issue's,
//! sent as raw bytes on the socket so nothing normalises them on the way.

use crate::api::process::{http, serving_from_async};
use orchestrator_app::{Config, Runtime};
use test_harness::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_path_that_names_no_workspace_never_reaches_the_cluster() {
    let cluster = TestCluster::fake::<provision_k8s::workspace::Workspace>(kube_fake::FakeApiServer::builder()).await;
    let fake = cluster.fake_server().expect("a fake cluster");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!("[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\nnamespace = \"{}\"\n", cluster.namespace()),
    )
    .unwrap();
    let app = Runtime::open(Config::load(home.path(), &[], &|_| None).unwrap(), None).await.unwrap();
    let (admin, _) = app.auth.issue_token("root@iiitm.ac.in", provision_core::Role::Admin, false).await.unwrap();
    app.close().await;
    let admin = admin.expose().to_owned();

    let (_server, addr) = serving_from_async(home.path(), cluster.kube_args()).await;
    fake.clear_requests();

    let long = "x".repeat(5000);
    let hostile = [
        "..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets%2Fx",
        "x%3FlabelSelector%3Da",
        "x%20y",
        "%00",
        "%2e%2e",
        "a%2Fb",
        "x%23y",
        "Alice-devbox-0a1b2c3d",
        long.as_str(),
    ];
    let paths: Vec<String> = hostile.iter().map(|name| format!("/v1/workspaces/{name}")).collect();
    let answers = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::new();
        for path in &paths {
            for method in ["GET", "DELETE"] {
                let (status, body) = http(&addr, method, path, Some(&admin), None).expect("the server answers");
                answers.push((format!("{method} {path}"), status, body));
            }
        }
        // A well-formed name nobody has is asked for, by that name alone.
        let (status, body) =
            http(&addr, "GET", "/v1/workspaces/alice-devbox-0a1b2c3d", Some(&admin), None).expect("the server answers");
        answers.push(("GET alice-devbox-0a1b2c3d".to_owned(), status, body));
        answers
    })
    .await
    .unwrap();
    for (request, status, body) in &answers {
        assert_eq!(*status, 404, "{request}: {body}");
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["type"], "urn:orchestrator:problem:not-found", "{request}: {problem}");
    }

    let asked: Vec<String> = fake
        .requests()
        .into_iter()
        .map(|r| {
            let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", r.method, r.path, query.join("&"))
        })
        .collect();
    assert_eq!(
        asked,
        [format!(
            "GET /apis/orchestrator.dev/v1alpha1/namespaces/{}/workspaces/alice-devbox-0a1b2c3d?",
            cluster.namespace()
        )],
        "only the well-formed name reached the cluster"
    );
}
