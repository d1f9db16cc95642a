//! The whole workspace flow through the `orchestrator-api` binary with its embedded
//! controller: ask with a token, follow the status URL until Ready, get the access e-mail,
//! count it in `/metrics`, delete. Runs on the cluster `KUBECONFIG` names when it is set (the
//! server finds it the same way), and on kube-fake otherwise.

use crate::api::process::{http, serving_from_async};
use k8s_openapi::api::apps::v1::Deployment;
use orchestrator_app::{Config, Runtime};
use provision_core::Role;
use serde_json::Value;
use test_harness::TestCluster;

const KEY: &str = include_str!("../../../crates/provision-core/src/ssh/fixtures/ed25519.pub");

/// `http` off the runtime's threads; panics when the server cannot be reached.
async fn call(address: &str, method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let (address, method, path) = (address.to_owned(), method.to_owned(), path.to_owned());
    let bearer = bearer.map(str::to_owned);
    let body = body.map(|b| b.to_string());
    let (status, text) =
        tokio::task::spawn_blocking(move || http(&address, &method, &path, bearer.as_deref(), body.as_deref()))
            .await
            .expect("the request thread ends")
            .expect("the server answers");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

mod on_any_cluster {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_workspace_asked_for_through_the_api_becomes_ready_mails_its_owner_and_goes() {
        let cluster = TestCluster::start::<provision_k8s::workspace::Workspace>().await;
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("config.toml"),
            format!(
                "[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\nnamespace = \"{}\"\naccess_host = \"ws.example.com\"\n[smtp]\nfrom = \"Workspaces <ws@example.com>\"\n",
                cluster.namespace()
            ),
        )
        .unwrap();
        let app = Runtime::open(Config::load(home.path(), &[], &|_| None).unwrap(), None).await.unwrap();
        let (alice, _) = app.auth.issue_token("alice@iiitm.ac.in", Role::Member, false).await.unwrap();
        let (bob, _) = app.auth.issue_token("bob@iiitm.ac.in", Role::Member, false).await.unwrap();
        app.close().await;
        let (alice, bob) = (alice.expose().to_owned(), bob.expose().to_owned());

        let mut args = vec!["--controller".to_owned()];
        args.extend(cluster.kube_args());
        let (_server, addr) = serving_from_async(home.path(), args).await;

        let ask = serde_json::json!({
            "email": "alice@iiitm.ac.in", "name": "devbox", "cpu": "1", "memory": "2Gi", "storage": "5Gi",
            "ssh_public_key": KEY,
        });
        let (status, created) = call(&addr, "POST", "/v1/workspaces", Some(&alice), Some(ask)).await;
        assert_eq!(status, 202, "{created}");
        let url = created["status_url"].as_str().unwrap().to_owned();
        let name = created["name"].as_str().unwrap().to_owned();
        assert!(name.starts_with("alice-devbox-"), "{created}");

        let ready = cluster
            .eventually("the workspace is Ready through the API", || async {
                let (status, shown) = call(&addr, "GET", &url, Some(&alice), None).await;
                assert_eq!(status, 200, "{shown}");
                (shown["phase"] == "Ready").then_some(shown)
            })
            .await;
        let port = ready["node_port"].as_u64().unwrap();
        assert_eq!(ready["access_command"], format!("ssh -p {port} alice@ws.example.com"));
        assert!(cluster.api::<Deployment>().get_opt(&name).await.unwrap().is_some());

        // Bob cannot see it, nor delete it.
        let (status, problem) = call(&addr, "GET", &url, Some(&bob), None).await;
        assert_eq!(status, 404, "{problem}");
        let (status, _) = call(&addr, "DELETE", &url, Some(&bob), None).await;
        assert_eq!(status, 404);

        // The access e-mail lands in the maildir (no SMTP server configured), once.
        let mail = home.path().join("mail/new");
        let messages = cluster
            .eventually("the access e-mail is delivered", || async {
                let (_, text) = call(&addr, "GET", "/metrics", Some(&alice), None).await;
                let sent = text.as_str().unwrap().contains("orchestrator_emails_total{result=\"sent\"} 1");
                let messages: Vec<_> =
                    std::fs::read_dir(&mail).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
                (sent && !messages.is_empty()).then_some(messages)
            })
            .await;
        assert_eq!(messages.len(), 1, "{messages:?}");
        let message = std::fs::read_to_string(&messages[0]).unwrap();
        assert!(message.contains(&format!("ssh -p {port} alice@ws.example.com")), "{message}");
        let (_, metrics) = call(&addr, "GET", "/metrics", Some(&alice), None).await;
        let metrics = metrics.as_str().unwrap();
        assert!(metrics.contains("orchestrator_workspaces{phase=\"Ready\"} 1"), "{metrics}");
        assert!(metrics.contains("route=\"/v1/workspaces\""), "{metrics}");

        let (status, deleting) = call(&addr, "DELETE", &url, Some(&alice), None).await;
        assert_eq!(status, 202, "{deleting}");
        cluster
            .eventually("the workspace is gone", || async {
                let (status, _) = call(&addr, "GET", &url, Some(&alice), None).await;
                (status == 404).then_some(())
            })
            .await;
        let deployments = cluster.api::<Deployment>();
        cluster
            .eventually("its Deployment is gone", || async {
                deployments.get_opt(&name).await.unwrap().is_none().then_some(())
            })
            .await;
        let (_, listed) = call(&addr, "GET", "/v1/workspaces", Some(&alice), None).await;
        assert_eq!(listed, serde_json::json!([]));
    }
}
