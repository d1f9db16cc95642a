//! Sealed values as they travel: sealed into a generated `values-<env>.yaml` by
//! `put_sealed_values`, rendered by the real Helm engine from the infra chart (the base chart
//! as its dependency) in the release's namespace, and unsealed there by the controller's algorithm (`test_harness::sealed_secrets`).

use provision_core::{EnvName, ServiceName};
use provision_helm::{BaseChart, SealedValues, infra_files, put_sealed_values};
use provision_sealed::{Scope, SealingKey, SecretName, SecretValue};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use test_harness::helm::{CHART_NAME, CHART_VERSION, all_of, helm, one};
use test_harness::sealed_secrets::Controller;

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn sealed_values_render_as_sealed_secrets_the_controller_unseals_in_the_release_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::new(dir.path(), 2048);
    let key = SealingKey::from_pem(&std::fs::read_to_string(controller.certificate()).unwrap()).unwrap();

    let service = ServiceName::parse("demo").unwrap();
    let spec = crate::spec(&service, "localhost:5000/platform/demo");
    let base = BaseChart { name: CHART_NAME.into(), version: CHART_VERSION.into(), repository: "https://c".into() };
    let env = EnvName::parse("qa").unwrap();
    let files = infra_files(&spec, &base, std::slice::from_ref(&env)).unwrap();
    let text = |path: &str| String::from_utf8(files.get(path).unwrap().content.to_vec()).unwrap();
    let namespace = service.namespace(&env);

    let mut env_values = text("values-qa.yaml");
    for (name, scope, pairs) in [
        ("demo", Scope::Strict, &[("DB_PASSWORD", "hunter2"), ("DB_USER", "app")][..]),
        ("demo-shared", Scope::NamespaceWide, &[("TOKEN", "t0k3n")][..]),
    ] {
        let secret = SecretName::parse(name).unwrap();
        let sealed: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| {
                let value = SecretValue::new(v.as_bytes().to_vec());
                ((*k).to_owned(), key.seal(scope, &namespace, &secret, &value).unwrap())
            })
            .collect();
        let entry = SealedValues { name, scope: scope.as_str(), encrypted_data: &sealed };
        env_values = put_sealed_values(&env_values, CHART_NAME, &entry).unwrap();
    }

    let helm = helm();
    let infra = crate::infra_chart(&helm, &files);
    let layered = [infra.path().join("values.yaml"), infra.path().join("values-qa.yaml")];
    std::fs::write(&layered[1], &env_values).unwrap();
    let objects = helm.render(infra.path(), "demo", &namespace, &layered).unwrap();

    // What the controller makes of each SealedSecret once applied in the release's namespace.
    let unsealed: BTreeMap<String, Value> = all_of(&objects, "SealedSecret")
        .into_iter()
        .map(|sealed| {
            let mut applied = sealed.clone();
            applied["metadata"]["namespace"] = json!(namespace);
            let secret = controller.unseal(&applied).unwrap_or_else(|e| panic!("{e}: {sealed:#}"));
            (secret["name"].as_str().unwrap().to_owned(), secret["data"].clone())
        })
        .collect();
    assert_eq!(
        unsealed,
        BTreeMap::from([
            ("demo".to_owned(), json!({"DB_PASSWORD": b64("hunter2"), "DB_USER": b64("app")})),
            ("demo-shared".to_owned(), json!({"TOKEN": b64("t0k3n")})),
        ])
    );

    // The pods get both as environment.
    let deployment = one(&objects, "Deployment");
    let env_from = &deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"];
    assert_eq!(env_from, &json!([{"secretRef": {"name": "demo"}}, {"secretRef": {"name": "demo-shared"}}]));
}
