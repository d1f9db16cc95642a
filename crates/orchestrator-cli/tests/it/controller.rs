//! `orchestrator crd` and `orchestrator controller` through the binary, against `kube-fake`:
//! a Workspace becomes Ready and its owner's access e-mail lands in the maildir once.

use crate::support::Env;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use kube_fake::{FakeApiServer, ResourceKind};
use provision_k8s::workspace::{Phase, Workspace, WorkspaceSpec};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn crd_prints_the_committed_definition() {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(&["crd"]);
    assert_eq!(code, 0, "{stderr}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/workspace-crd.yaml")).unwrap();
    assert_eq!(stdout, committed, "run `cargo xtask codegen`");
    assert!(stdout.contains("name: workspaces.orchestrator.dev"));
}

/// Kills the child when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_makes_a_workspace_ready_and_mails_its_owner_once() {
    let server = FakeApiServer::builder()
        .resource(ResourceKind {
            group: "orchestrator.dev",
            version: "v1alpha1",
            kind: "Workspace",
            plural: "workspaces",
            namespaced: true,
            status_subresource: true,
        })
        .namespace("dev-boxes")
        .simulate_deployments(true)
        .start()
        .await;
    let env = Env::new();
    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(
        env.home().join("config.toml"),
        "[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\nnamespace = \"dev-boxes\"\naccess_host = \"ws.example.com\"\n[smtp]\nfrom = \"Workspaces <ws@example.com>\"\n",
    )
    .unwrap();
    let _controller = Running(
        env.cmd()
            .args(["controller", "--kube-url", &server.url()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let api: Api<Workspace> = Api::namespaced(client.clone(), "dev-boxes");
    let spec = WorkspaceSpec {
        owner: "alice@iiitm.ac.in".into(),
        display_name: "devbox".into(),
        user: "alice".into(),
        cpu: "1".into(),
        memory: "2Gi".into(),
        storage: "10Gi".into(),
        ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z".into(),
        image: "lscr.io/linuxserver/openssh-server:latest".into(),
    };
    api.create(&PostParams::default(), &Workspace::new("alice-devbox-0a1b2c3d", spec)).await.unwrap();

    let mail = env.home().join("mail/new");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, messages) = loop {
        let ws = api.get("alice-devbox-0a1b2c3d").await.unwrap();
        let messages: Vec<_> =
            std::fs::read_dir(&mail).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        if ws.status.as_ref().is_some_and(|s| s.phase == Some(Phase::Ready)) && !messages.is_empty() {
            break (ws.status.unwrap(), messages);
        }
        assert!(Instant::now() < deadline, "not ready and mailed in time: {:?} {messages:?}", ws.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    let port = status.node_port.unwrap();
    let message = std::fs::read_to_string(&messages[0]).unwrap();
    assert!(message.contains("To: alice@iiitm.ac.in"), "{message}");
    assert!(message.contains(&format!("ssh -p {port} alice@ws.example.com")), "{message}");
    let deployment: Api<Deployment> = Api::namespaced(client, "dev-boxes");
    assert!(deployment.get_opt("alice-devbox-0a1b2c3d").await.unwrap().is_some());
}
