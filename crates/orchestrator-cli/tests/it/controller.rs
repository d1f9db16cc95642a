//! `orchestrator crd` and `orchestrator controller` through the binary, against `kube-fake`:
//! a Workspace becomes Ready and its owner's access e-mail lands in the maildir once.

use crate::support::Env;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
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
    let server =
        provision_k8s::testing::fake_api_server().namespace("dev-boxes").simulate_deployments(true).start().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_commands_work_directly_on_the_cluster() {
    let server = provision_k8s::testing::fake_api_server().namespace("workspaces").start().await;
    let env = Env::new();
    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(env.home().join("config.toml"), "[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\n")
        .unwrap();
    let key = env.dir.path().join("id_ed25519.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z alice@laptop\n",
    )
    .unwrap();
    let url = server.url();
    let run = |args: Vec<&str>| {
        let mut all = vec!["workspace", "--kube-url", url.as_str()];
        all.extend(args);
        env.run(&all)
    };
    let key_arg = key.to_str().unwrap();
    let (code, stdout, stderr) = run(vec![
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
        key_arg,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let name = created["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("alice-devbox-"), "{created}");
    assert_eq!(created["phase"], "Pending");
    // The key reached the cluster without its comment.
    let object = server.get("orchestrator.dev/v1alpha1", "Workspace", Some("workspaces"), &name).unwrap();
    assert_eq!(
        object["spec"]["sshPublicKey"],
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z"
    );

    let (_, listed, _) = run(vec!["list", "--output", "json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&listed).unwrap().as_array().unwrap().len(), 1);
    let (code, shown, _) = run(vec!["show", &name]);
    assert_eq!(code, 0);
    assert!(shown.contains(&name) && shown.contains("Pending"), "{shown}");
    // The same checks as the API: a domain not allowed is refused, naming the field.
    let (code, _, stderr) = run(vec![
        "create",
        "--email",
        "x@evil.com",
        "--name",
        "devbox",
        "--cpu",
        "1",
        "--memory",
        "2Gi",
        "--ssh-key-file",
        key_arg,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("email") && stderr.contains("domain-not-allowed"), "{stderr}");
    let (code, _, stderr) = run(vec!["delete", &name]);
    assert_eq!(code, 0, "{stderr}");
    assert!(server.get("orchestrator.dev/v1alpha1", "Workspace", Some("workspaces"), &name).is_none());
    let (code, _, stderr) = run(vec!["show", &name]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}
