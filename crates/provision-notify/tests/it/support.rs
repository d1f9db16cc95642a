//! A real SMTP server for the tests (Debian's aiosmtpd, driven by `smtpd.py`), certificates
//! made with the `openssl` command, messages read back by Python's `email` package, and
//! builders for the values the tests use.

use jiff::Timestamp;
use provision_core::ports::{MessageKey, OutgoingMessage};
use provision_notify::{
    Clock, Sender, SmtpNotifier, SmtpOptions, SmtpUrl, Templates, sample_workspace, workspace_ready_key,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// Debian's Python, which has `python3-aiosmtpd` (not whatever `python3` is first on the PATH).
const PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/smtpd.py");
/// Bounds waiting for a child process to be ready; the wait itself ends on its word.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A message as the test server received it, decoded by Python's `email` package.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub mail_from: Option<String>,
    #[serde(default)]
    pub rcpt_tos: Vec<String>,
    pub login: Option<String>,
    #[serde(default)]
    pub tls: bool,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub date: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// The message as it came, for failure messages.
    pub raw: String,
    pub defects: Vec<String>,
}

/// How the test server is set up.
#[derive(Debug, Clone, Default)]
pub struct SmtpdConfig {
    /// `user`, `password`: AUTH required.
    pub auth: Option<(String, String)>,
    /// Offer AUTH without TLS.
    pub auth_plaintext: bool,
    pub starttls: Option<ServerCert>,
    pub implicit_tls: Option<ServerCert>,
}

#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A running aiosmtpd, killed when dropped. Messages go to its `out` directory, which outlives
/// restarts.
pub struct Smtpd {
    child: Option<Child>,
    pub port: u16,
    out: PathBuf,
    config: SmtpdConfig,
}

impl Smtpd {
    /// Starts a server on a port of its choosing, saving into `out` (created).
    pub async fn start(out: &Path, config: SmtpdConfig) -> Smtpd {
        Self::start_on(out, config, 0).await
    }

    /// Starts a server on `port` (0: any free one), waiting until it listens.
    pub async fn start_on(out: &Path, config: SmtpdConfig, port: u16) -> Smtpd {
        std::fs::create_dir_all(out).unwrap();
        let mut command = Command::new(PYTHON);
        command.arg(SCRIPT).arg(out).arg("--port").arg(port.to_string());
        if let Some((user, password)) = &config.auth {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        if config.auth_plaintext {
            command.arg("--auth-plaintext");
        }
        if let Some(c) = &config.starttls {
            command.arg("--starttls").arg(&c.cert).arg(&c.key);
        }
        if let Some(c) = &config.implicit_tls {
            command.arg("--tls").arg(&c.cert).arg(&c.key);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PYTHON} {SCRIPT}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(READY_DEADLINE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(port) = line.strip_prefix("listening ") {
                    return Some(port.trim().parse::<u16>().unwrap());
                }
            }
            None
        })
        .await;
        let Ok(Some(port)) = ready else {
            let _ = child.start_kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr).await;
            panic!("the test SMTP server did not start listening ({ready:?}):\n{stderr}");
        };
        Smtpd { child: Some(child), port, out: out.to_owned(), config }
    }

    /// Kills the server and waits until it is gone, so its port is free.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Starts the server again, on the same port and with the same setup.
    pub async fn restart(&mut self) {
        self.stop().await;
        *self = Self::start_on(&self.out.clone(), self.config.clone(), self.port).await;
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json") && !is_hidden(p))
            .collect();
        files.sort();
        files.iter().map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()).collect()
    }

    /// `smtp://[user:password@]127.0.0.1:<port>?tls=<tls>`.
    pub fn url(&self, credentials: Option<(&str, &str)>, tls: &str) -> SmtpUrl {
        let login = credentials.map(|(u, p)| format!("{u}:{p}@")).unwrap_or_default();
        SmtpUrl::parse(&format!("smtp://{login}127.0.0.1:{}?tls={tls}", self.port)).unwrap()
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// A port nobody listens on now (the kernel's choice of a free one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A certificate authority and a server certificate for `127.0.0.1` and `localhost` it signed,
/// made with the `openssl` command in `dir`.
pub struct TestPki {
    pub ca_pem: Vec<u8>,
    pub server: ServerCert,
}

pub fn test_pki(dir: &Path) -> TestPki {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=provision-notify test CA"],
        &["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]
    .concat());
    run(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    TestPki {
        ca_pem: std::fs::read(dir.join("ca.pem")).unwrap(),
        server: ServerCert { cert: dir.join("server.pem"), key: dir.join("server.key") },
    }
}

/// Reads a file holding one RFC 5322 message (a maildir's) with Python's `email` package.
pub fn parse_message_file(path: &Path) -> Received {
    let out = std::process::Command::new(PYTHON).arg(SCRIPT).arg("--parse").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn sender() -> Sender {
    Sender::parse("Provisioning Orchestrator <orchestrator@example.com>").unwrap()
}

/// An SMTP notifier for `url`, trusting `ca` besides the public roots, with a short timeout.
pub fn smtp(url: SmtpUrl, ca: Option<&[u8]>) -> SmtpNotifier {
    let mut options = SmtpOptions::new(url, sender());
    options.timeout = Duration::from_secs(10);
    options.root_certificates = ca.map(|c| vec![c.to_vec()]).unwrap_or_default();
    SmtpNotifier::new(options).unwrap()
}

pub fn key(value: &str) -> MessageKey {
    MessageKey::parse(value).unwrap()
}

/// The built-in access e-mail of the sample workspace `uid`, owned by `to` (as written).
pub fn workspace_ready(uid: &str, to: &str) -> OutgoingMessage {
    let mut workspace = sample_workspace();
    workspace.owner = provision_core::EmailAddress::parse(to).unwrap();
    Templates::builtin().workspace_ready(workspace_ready_key(uid).unwrap(), &workspace).unwrap()
}

/// A plain-text message.
pub fn plain(key_: &str, to: &str) -> OutgoingMessage {
    OutgoingMessage {
        key: key(key_),
        to: to.into(),
        subject: format!("About {key_}"),
        text: format!("Hello,\n\nthis is {key_}.\n"),
        html: None,
    }
}

/// `seconds` after a fixed instant.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

/// `at(0)` plus the time tokio's (paused, in these tests) clock has advanced since creation.
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        Self { start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        at(0).checked_add(self.start.elapsed()).unwrap()
    }
}
