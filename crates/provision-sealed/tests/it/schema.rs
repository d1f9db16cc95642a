//! Generated SealedSecrets checked against the upstream CRD (`shared/reference/crds` beside the
//! workspace: without it this test fails), as the API server would check them.

use crd_schema::{Crds, read_manifests};
use provision_sealed::{Scope, SealedSecret, SealingKey, SecretKey, SecretName, SecretValue};

#[test]
fn a_generated_sealed_secret_is_accepted_in_every_scope() {
    let crds = Crds::load_reference_files(&["bitnami.com_sealedsecrets.yaml"]).unwrap_or_else(|e| panic!("{e}"));
    let key = SealingKey::from_pem(include_str!("../fixtures/sealing-cert.pem")).unwrap();
    let name = SecretName::parse("payments-secrets").unwrap();
    for scope in Scope::ALL {
        let data = ["DB_PASSWORD", "tls.key"].map(|k| {
            (
                SecretKey::parse(k).unwrap(),
                key.seal(scope, "payments-qa", &name, &SecretValue::new(b"value".to_vec())).unwrap(),
            )
        });
        let sealed = SealedSecret::new(name.clone(), "payments-qa", scope, data.into());
        let yaml = sealed.to_yaml().unwrap();
        let objects = read_manifests("sealedsecret.yaml", &yaml).unwrap();
        assert_eq!(objects.len(), 1, "{yaml}");
        assert_eq!(crds.broken_rules(&objects[0]), [], "{scope:?}: {yaml}");
    }
}
