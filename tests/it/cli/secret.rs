//! `orchestrator secret seal`: values sealed with a controller's certificate (from config.toml,
//! a file or a URL) land in the infra repository, where the controller's algorithm unseals
//! them; plain values appear nowhere.

use crate::cli::support::{Env, git, log};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use test_harness::sealed_secrets::Controller;

struct Sealing {
    env: Env,
    controller: Controller,
}

/// A data directory whose config seals qa with the controller's certificate (staging has none),
/// and service `pay` in it.
fn setup() -> Sealing {
    let env = Env::new();
    let controller = Controller::new(env.dir.path(), 2048);
    std::fs::create_dir_all(env.home()).unwrap();
    let config = format!("[sealed_secrets.certificates]\nqa = {:?}\n", controller.certificate().to_str().unwrap());
    std::fs::write(env.home().join("config.toml"), config).unwrap();
    env.json(&["create-service", "--kind", "ms", "--name", "pay"]);
    Sealing { env, controller }
}

/// Runs `secret seal ARGS --output json` with `stdin`; returns (exit code, stdout, stderr).
fn seal(env: &Env, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = env
        .cmd()
        .args(["secret", "seal", "--output", "json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    crate::cli::support::decode(child.wait_with_output().unwrap())
}

fn seal_ok(env: &Env, args: &[&str], stdin: &str) -> Value {
    let (code, stdout, stderr) = seal(env, args, stdin);
    assert_eq!(code, 0, "{args:?}:\n{stderr}\n{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// The base chart's `sealedSecrets` of values-<env>.yaml on main, read with the git CLI.
fn sealed_values(env: &Env, file: &str) -> Value {
    let text = git(&env.bare("pay-infra"), &["show", &format!("main:{file}")]);
    let values: Value = serde_saphyr::from_str(&text).unwrap();
    assert!(values.get("sealedSecrets").is_none(), "under the base chart's key, not at the top level:\n{text}");
    values["ms-base-chart"]["sealedSecrets"].clone()
}

/// What the controller makes of entry `name` as the chart renders it in `namespace`.
fn unseal(s: &Sealing, entry: &Value, namespace: &str) -> Result<Value, String> {
    let mut metadata = json!({"name": entry["name"], "namespace": namespace});
    if let Some(scope) = entry["scope"].as_str() {
        metadata["annotations"] = json!({ format!("sealedsecrets.bitnami.com/{scope}"): "true" });
    }
    let object = json!({"metadata": metadata, "spec": {"encryptedData": entry["encryptedData"], "template": {"type": "Opaque"}}});
    s.controller.unseal(&object).map(|secret| secret["data"].clone())
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn values_from_stdin_and_files_are_sealed_into_the_env_values_and_unseal_only_there() {
    let s = setup();
    let tls = s.env.dir.path().join("tls.key.plain");
    std::fs::write(&tls, "-----BEGIN KEY-----\nsecret-tls\n").unwrap();
    let report = seal_ok(
        &s.env,
        &[
            "--service",
            "pay",
            "--env",
            "qa",
            "--from-env-file",
            "-",
            "--from-file",
            &format!("TLS_KEY={}", tls.display()),
        ],
        "# database\nDB_PASSWORD=hunter2\nDB_URL=postgres://app@db/app?x=1\n",
    );
    assert_eq!(report["keys"], json!(["DB_PASSWORD", "DB_URL", "TLS_KEY"]));
    assert_eq!((report["name"].as_str(), report["namespace"].as_str()), (Some("pay"), Some("pay-qa")));
    assert_eq!(report["scope"], "strict");
    let bare = s.env.bare("pay-infra");
    assert_eq!(log(&bare, "main")[0], "Seal DB_PASSWORD, DB_URL, TLS_KEY into secret pay of pay in qa");
    assert_eq!(git(&bare, &["rev-parse", "main"]).trim(), report["commit"]);
    assert_eq!(git(&bare, &["diff", "--name-only", "main^", "main"]), "values-qa.yaml\n");

    let block = sealed_values(&s.env, "values-qa.yaml");
    assert_eq!(block["enabled"], true);
    let entry = &block["secrets"][0];
    assert_eq!(entry["envFrom"], true);
    assert_eq!(
        unseal(&s, entry, "pay-qa").unwrap(),
        json!({"DB_PASSWORD": b64("hunter2"), "DB_URL": b64("postgres://app@db/app?x=1"), "TLS_KEY": b64("-----BEGIN KEY-----\nsecret-tls\n")})
    );
    // Strict: bound to pay-qa/pay.
    assert!(unseal(&s, entry, "pay-staging").is_err());

    // Sealing one key again replaces it and keeps the others.
    seal_ok(&s.env, &["--service", "pay", "--env", "qa", "DB_PASSWORD=changed"], "");
    let entry = &sealed_values(&s.env, "values-qa.yaml")["secrets"][0];
    let data = unseal(&s, entry, "pay-qa").unwrap();
    assert_eq!((data["DB_PASSWORD"].as_str(), data.as_object().unwrap().len()), (Some(b64("changed").as_str()), 3));

    // No plain value anywhere: not in any commit, not in what was printed.
    let history = git(&bare, &["log", "-p", "--all"]);
    for plain in ["hunter2", "postgres://app", "secret-tls", "changed"] {
        assert!(!history.contains(plain), "{plain} is in the history");
        assert!(!report.to_string().contains(plain));
    }
    crate::cli::support::fsck(&bare);
}

#[test]
fn a_wider_scope_is_annotated_and_unseals_under_another_name() {
    let s = setup();
    let report = seal_ok(
        &s.env,
        &["--service", "pay", "--env", "qa", "--name", "pay-shared", "--scope", "namespace-wide", "TOKEN=t0k3n"],
        "",
    );
    assert_eq!(report["scope"], "namespace-wide");
    assert!(report["sealed_secret"].as_str().unwrap().contains("sealedsecrets.bitnami.com/namespace-wide: \"true\""));
    let mut entry = sealed_values(&s.env, "values-qa.yaml")["secrets"][0].clone();
    assert_eq!(entry["scope"], "namespace-wide");
    entry["name"] = json!("renamed");
    assert_eq!(unseal(&s, &entry, "pay-qa").unwrap(), json!({"TOKEN": b64("t0k3n")}));
}

#[test]
fn a_dry_run_prints_the_sealed_secret_and_commits_nothing() {
    let s = setup();
    let before = log(&s.env.bare("pay-infra"), "main");
    let report = seal_ok(&s.env, &["--service", "pay", "--env", "qa", "--dry-run", "A=1"], "");
    assert!(report.get("commit").is_none(), "{report}");
    let object: Value = serde_saphyr::from_str(report["sealed_secret"].as_str().unwrap()).unwrap();
    assert_eq!(object["kind"], "SealedSecret");
    assert_eq!(object["metadata"], json!({"name": "pay", "namespace": "pay-qa"}));
    assert_eq!(s.controller.unseal(&object).unwrap()["data"], json!({"A": b64("1")}));
    assert_eq!(log(&s.env.bare("pay-infra"), "main"), before);
}

/// Serves `body` with `status` to one request on a local port; returns the URL base.
fn serve_once(status: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).unwrap();
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        stream.write_all(answer.as_bytes()).unwrap();
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn the_certificate_can_come_from_a_url() {
    let s = setup();
    let pem = std::fs::read_to_string(s.controller.certificate()).unwrap();
    let url = format!("{}/v1/cert.pem", serve_once("200 OK", pem));
    let report = seal_ok(&s.env, &["--service", "pay", "--env", "staging", "--cert", &url, "A=1"], "");
    assert_eq!(report["certificate"], url);
    let entry = &sealed_values(&s.env, "values-staging.yaml")["secrets"][0];
    assert_eq!(unseal(&s, entry, "pay-staging").unwrap(), json!({"A": b64("1")}));

    // A failing server is an error naming the answer, and never the credentials in the URL.
    let base = serve_once("404 Not Found", String::new());
    let with_token = base.replace("http://", "http://ci:s3cr3t-token@") + "/cert.pem";
    let (code, stdout, stderr) =
        seal(&s.env, &["--service", "pay", "--env", "staging", "--cert", &with_token, "A=1"], "");
    assert_eq!(code, 2, "the certificate given is unusable: {stdout}");
    assert!(stderr.contains("404"), "{stderr}");
    assert!(!stderr.contains("s3cr3t-token"), "{stderr}");
}

#[test]
fn bad_requests_are_refused_before_anything_is_sealed() {
    let s = setup();
    let before = log(&s.env.bare("pay-infra"), "main");
    // Every problem at once, each naming its field.
    let (code, _, stderr) =
        seal(&s.env, &["--service", "pay", "--env", "QA", "--name", "Pay_DB", "a b=1", "K=1", "K=2"], "");
    assert_eq!(code, 2, "{stderr}");
    for field in ["env:", "name:", "values.a b:", "values.K:"] {
        assert!(stderr.contains(field), "{field} missing: {stderr}");
    }
    // No certificate for staging.
    let (code, _, stderr) = seal(&s.env, &["--service", "pay", "--env", "staging", "A=1"], "");
    assert_eq!(code, 6, "no certificate configured: {stderr}");
    assert!(stderr.contains("no sealed-secrets certificate for environment staging"), "{stderr}");
    // Not a certificate.
    let bogus = s.env.dir.path().join("bogus.pem");
    std::fs::write(&bogus, "hello").unwrap();
    let (code, _, stderr) =
        seal(&s.env, &["--service", "pay", "--env", "qa", "--cert", bogus.to_str().unwrap(), "A=1"], "");
    assert_eq!(code, 2, "the certificate given is unusable: {stderr}");
    assert!(stderr.contains("is not a PEM certificate"), "{stderr}");
    // An environment the service does not have, a service that does not exist.
    let (code, _, stderr) =
        seal(&s.env, &["--service", "pay", "--env", "prod", "--cert", bogus.to_str().unwrap(), "A=1"], "");
    assert_eq!(code, 2, "{stderr}");
    let cert = s.controller.certificate();
    let (_, _, stderr) =
        seal(&s.env, &["--service", "pay", "--env", "prod", "--cert", cert.to_str().unwrap(), "A=1"], "");
    assert!(stderr.contains("values-prod.yaml"), "{stderr}");
    let (_, _, stderr) = seal(&s.env, &["--service", "nope", "--env", "qa", "A=1"], "");
    assert!(stderr.contains("service nope does not exist"), "{stderr}");
    // A malformed env file names its line, not its value.
    let (code, _, stderr) =
        seal(&s.env, &["--service", "pay", "--env", "qa", "--from-env-file", "-"], "A=1\nhunter2-no-equals\n");
    assert_eq!(code, 2, "invalid input: {stderr}");
    assert!(stderr.contains("line 2") && !stderr.contains("hunter2"), "{stderr}");
    assert_eq!(log(&s.env.bare("pay-infra"), "main"), before);
}
