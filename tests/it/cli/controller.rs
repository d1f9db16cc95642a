//! `orchestrator crd`, `orchestrator controller` and `orchestrator workspace` through the
//! binary: a Workspace becomes Ready and its owner's access e-mail arrives once.
//!
//! The tests in `on_any_cluster` run on the cluster `KUBECONFIG` names when it is set (the
//! processes find it the same way), and on kube-fake otherwise.

use crate::cli::support::Env;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;
use provision_k8s::workspace::{Phase, Workspace};
use std::process::Stdio;
use std::time::{Duration, Instant};
use test_harness::TestCluster;

#[test]
fn crd_prints_the_committed_definition() {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(&["crd"]);
    assert_eq!(code, 0, "{stderr}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/workspace-crd.yaml")).unwrap();
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

/// `orchestrator controller` on `cluster`, with `env`'s configuration.
fn controller(env: &Env, cluster: &TestCluster) -> Running {
    let mut cmd = env.cmd();
    cmd.arg("controller").args(cluster.kube_args()).stdout(Stdio::null()).stderr(Stdio::null());
    Running(cmd.spawn().unwrap())
}

/// Writes `env`'s config.toml: workspaces in `cluster`'s namespace, then `extra`.
fn configure(env: &Env, cluster: &TestCluster, extra: &str) {
    std::fs::create_dir_all(env.home()).unwrap();
    let namespace = cluster.namespace();
    std::fs::write(
        env.home().join("config.toml"),
        format!(
            "[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\nnamespace = \"{namespace}\"\naccess_host = \"ws.example.com\"\n{extra}"
        ),
    )
    .unwrap();
}

/// Polls until `name` is Ready and notified, and returns it.
async fn until_announced(cluster: &TestCluster, name: &str) -> Workspace {
    let api = cluster.api::<Workspace>();
    cluster
        .eventually(&format!("{name} is Ready and announced"), || async {
            let ws = api.get(name).await.unwrap();
            let announced =
                ws.status.as_ref().is_some_and(|s| s.phase == Some(Phase::Ready) && s.notified_at.is_some());
            announced.then_some(ws)
        })
        .await
}

/// Alice's `devbox`, as the API would create it.
fn alices_devbox() -> Workspace {
    test_harness::alices_devbox("alice-devbox-0a1b2c3d")
}

mod on_any_cluster {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_controller_makes_a_workspace_ready_and_mails_its_owner_once() {
        let cluster = TestCluster::start::<Workspace>().await;
        let env = Env::new();
        configure(&env, &cluster, "[smtp]\nfrom = \"Workspaces <ws@example.com>\"\n");
        let _controller = controller(&env, &cluster);
        cluster.api::<Workspace>().create(&PostParams::default(), &alices_devbox()).await.unwrap();

        let mail = env.home().join("mail/new");
        let messages = cluster
            .eventually("the access e-mail is in the maildir", || async {
                let messages: Vec<_> =
                    std::fs::read_dir(&mail).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
                (!messages.is_empty()).then_some(messages)
            })
            .await;
        let status = until_announced(&cluster, "alice-devbox-0a1b2c3d").await.status.unwrap();
        assert_eq!(messages.len(), 1, "{messages:?}");
        let port = status.node_port.unwrap();
        let message = std::fs::read_to_string(&messages[0]).unwrap();
        assert!(message.contains("To: alice@iiitm.ac.in"), "{message}");
        assert!(message.contains(&format!("ssh -p {port} alice@ws.example.com")), "{message}");
        assert!(cluster.api::<Deployment>().get_opt("alice-devbox-0a1b2c3d").await.unwrap().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workspace_commands_work_directly_on_the_cluster() {
        let cluster = TestCluster::start::<Workspace>().await;
        let env = Env::new();
        configure(&env, &cluster, "");
        let key = env.dir.path().join("id_ed25519.pub");
        std::fs::write(
            &key,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z alice@laptop\n",
        )
        .unwrap();
        let kube_args = cluster.kube_args();
        let run = |args: Vec<&str>| {
            let mut all = vec!["workspace"];
            all.extend(kube_args.iter().map(String::as_str));
            all.extend(args);
            env.run(&all)
        };
        let key_arg = key.to_str().unwrap();
        let create = |email| {
            vec![
                "create",
                "--email",
                email,
                "--name",
                "devbox",
                "--cpu",
                "1",
                "--memory",
                "2Gi",
                "--ssh-key-file",
                key_arg,
            ]
        };
        let (code, stdout, stderr) = run([create("alice@iiitm.ac.in"), vec!["--output", "json"]].concat());
        assert_eq!(code, 0, "{stderr}");
        let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let name = created["name"].as_str().unwrap().to_owned();
        assert!(name.starts_with("alice-devbox-"), "{created}");
        assert_eq!(created["phase"], "Pending");
        // The key reached the cluster without its comment.
        let object = cluster.api::<Workspace>().get(&name).await.unwrap();
        assert_eq!(
            object.spec.ssh_public_key,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z"
        );

        let (_, listed, _) = run(vec!["list", "--output", "json"]);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&listed).unwrap().as_array().unwrap().len(), 1);
        let (code, shown, _) = run(vec!["show", &name]);
        assert_eq!(code, 0);
        assert!(shown.contains(&name) && shown.contains("Pending"), "{shown}");
        // The same checks as the API: a domain not allowed is refused, naming the field.
        let (code, _, stderr) = run(create("x@evil.com"));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("email") && stderr.contains("domain-not-allowed"), "{stderr}");
        let (code, _, stderr) = run(vec!["delete", &name]);
        assert_eq!(code, 0, "{stderr}");
        let api = cluster.api::<Workspace>();
        cluster
            .eventually("the workspace is gone", || async { api.get_opt(&name).await.unwrap().is_none().then_some(()) })
            .await;
        let (code, _, stderr) = run(vec!["show", &name]);
        assert_eq!(code, 3, "not found: {stderr}");
        assert!(stderr.contains("does not exist"), "{stderr}");
    }
    /// Debian's aiosmtpd (`python3-aiosmtpd`, run by Debian's Python) on `port`, saving into the
    /// maildir `dir`; killed when dropped.
    fn smtpd(port: u16, dir: &std::path::Path) -> Running {
        let child = std::process::Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's python3-aiosmtpd is installed (cargo xtask ci installs it)");
        let running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd never listened on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        running
    }

    fn delivered(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir.join("new")).map(|d| d.count()).unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_access_email_queued_while_the_smtp_server_is_down_arrives_once_it_is_back() {
        use provision_core::ports::{MessageKey, MessageState, Outbox};
        let cluster = TestCluster::start::<Workspace>().await;
        let env = Env::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        configure(
            &env,
            &cluster,
            &format!("[smtp]\nurl = \"smtp://127.0.0.1:{port}?tls=none\"\nfrom = \"ws@example.com\"\n"),
        );
        let _controller = controller(&env, &cluster);
        let created = cluster.api::<Workspace>().create(&PostParams::default(), &alices_devbox()).await.unwrap();
        let uid = created.metadata.uid.clone().unwrap();

        // The server is down: the workspace becomes ready and its e-mail is queued, not sent.
        until_announced(&cluster, "alice-devbox-0a1b2c3d").await;
        let mail = env.dir.path().join("smtpd");
        assert_eq!(delivered(&mail), 0);

        // It comes back on the same port: the dispatcher's next retry delivers the message.
        let _smtpd = smtpd(port, &mail);
        let store = provision_store::SqliteStore::open(&env.home().join("orchestrator.db")).await.unwrap();
        let key = MessageKey::parse(&format!("workspace-ready/{uid}")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let record = store.message(&key).await.unwrap().expect("the message is in the outbox");
            if record.state == MessageState::Sent {
                assert!(record.attempts >= 2, "the first attempt failed while the server was down: {record:?}");
                break;
            }
            assert!(Instant::now() < deadline, "never sent: {record:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(delivered(&mail), 1, "exactly one e-mail");
        let message =
            std::fs::read_to_string(std::fs::read_dir(mail.join("new")).unwrap().next().unwrap().unwrap().path())
                .unwrap();
        assert!(message.contains("alice@iiitm.ac.in") && message.contains("@ws.example.com"), "{message}");
    }
}
