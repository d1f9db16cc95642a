//! Sealed values opened by the controller's own algorithm (a Go program, see
//! `test_harness::sealed_secrets`) with a key it made: what the cluster would do with them.

use provision_sealed::{Scope, SealError, SealedSecret, SealingKey, SecretKey, SecretName, SecretValue};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use test_harness::sealed_secrets::Controller;

struct Sealer {
    controller: Controller,
    key: SealingKey,
    _dir: tempfile::TempDir,
}

/// A controller key (`bits`) and our sealing key read from its certificate.
fn sealer(bits: u32) -> Sealer {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::new(dir.path(), bits);
    let key = SealingKey::from_pem(&std::fs::read_to_string(controller.certificate()).unwrap()).unwrap();
    Sealer { controller, key, _dir: dir }
}

fn seal(s: &Sealer, scope: Scope, namespace: &str, name: &str, values: &[(&str, &[u8])]) -> Value {
    let name = SecretName::parse(name).unwrap();
    let data: BTreeMap<SecretKey, String> = values
        .iter()
        .map(|(k, v)| {
            let sealed = s.key.seal(scope, namespace, &name, &SecretValue::new(v.to_vec())).unwrap();
            (SecretKey::parse(k).unwrap(), sealed)
        })
        .collect();
    let yaml = SealedSecret::new(name, namespace, scope, data).to_yaml().unwrap();
    serde_saphyr::from_str(&yaml).unwrap()
}

fn moved(sealed: &Value, namespace: &str, name: &str) -> Value {
    let mut other = sealed.clone();
    other["metadata"]["namespace"] = json!(namespace);
    other["metadata"]["name"] = json!(name);
    other
}

fn b64(text: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn the_controller_unseals_what_we_seal_with_its_4096_bit_certificate() {
    let s = sealer(4096);
    assert_eq!(s.key.bits(), 4096);
    let binary: &[u8] = &[0, 159, 146, 150, 255, b'\n'];
    let big = vec![b'x'; 100_000];
    let sealed = seal(
        &s,
        Scope::Strict,
        "payments-qa",
        "payments",
        &[("DB_PASSWORD", b"hunter2"), ("tls.key", binary), ("EMPTY", b""), ("BIG", &big)],
    );
    let secret = s.controller.unseal(&sealed).unwrap();
    assert_eq!(secret["name"], "payments");
    assert_eq!(secret["namespace"], "payments-qa");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"],
        json!({"DB_PASSWORD": b64(b"hunter2"), "tls.key": b64(binary), "EMPTY": "", "BIG": b64(&big)})
    );
}

#[test]
fn a_strict_secret_unseals_under_its_own_name_and_namespace_only() {
    let s = sealer(2048);
    let sealed = seal(&s, Scope::Strict, "payments-qa", "payments", &[("A", b"1")]);
    assert!(s.controller.unseal(&sealed).is_ok());
    for (namespace, name) in [("payments-prod", "payments"), ("payments-qa", "other"), ("attacker", "payments")] {
        let err = s.controller.unseal(&moved(&sealed, namespace, name)).unwrap_err();
        assert!(err.contains("cannot unseal A"), "{namespace}/{name}: {err}");
    }
}

#[test]
fn wider_scopes_unseal_where_their_annotation_says() {
    let s = sealer(2048);
    let wide = seal(&s, Scope::NamespaceWide, "payments-qa", "payments", &[("A", b"1")]);
    assert_eq!(wide["metadata"]["annotations"], json!({"sealedsecrets.bitnami.com/namespace-wide": "true"}));
    assert_eq!(s.controller.unseal(&moved(&wide, "payments-qa", "renamed")).unwrap()["data"]["A"], b64(b"1"));
    assert!(s.controller.unseal(&moved(&wide, "payments-prod", "payments")).is_err());

    let cluster = seal(&s, Scope::ClusterWide, "payments-qa", "payments", &[("A", b"1")]);
    assert_eq!(s.controller.unseal(&moved(&cluster, "elsewhere", "renamed")).unwrap()["data"]["A"], b64(b"1"));
    // Without its annotation, the controller takes it for strict and cannot open it.
    let mut stripped = cluster.clone();
    stripped["metadata"].as_object_mut().unwrap().remove("annotations");
    assert!(s.controller.unseal(&stripped).is_err());
}

#[test]
fn a_value_sealed_for_another_cluster_stays_sealed() {
    let ours = sealer(2048);
    let theirs = sealer(2048);
    let sealed = seal(&theirs, Scope::Strict, "payments-qa", "payments", &[("A", b"1")]);
    assert!(ours.controller.unseal(&sealed).is_err());
}

#[test]
fn a_tampered_value_is_refused_by_the_controller() {
    let s = sealer(2048);
    let mut sealed = seal(&s, Scope::Strict, "payments-qa", "payments", &[("A", b"secret")]);
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(sealed["spec"]["encryptedData"]["A"].as_str().unwrap()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    sealed["spec"]["encryptedData"]["A"] = json!(engine.encode(bytes));
    assert!(s.controller.unseal(&sealed).is_err(), "GCM authenticates the value");
}

#[test]
fn small_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::new(dir.path(), 1024);
    let err = SealingKey::from_pem(&std::fs::read_to_string(controller.certificate()).unwrap()).unwrap_err();
    assert!(matches!(err, SealError::KeyTooSmall { bits: 1024 }), "{err:?}");
}
