//! The base chart (`templates/charts/ms-base-chart`) under the real Helm engine: strict lint,
//! renders with every switch on, off and one at a time, schema rejections, packaging; and the
//! infra repository this crate generates as a chart of its own, depending on the base chart:
//! strict lint and the same objects as the base chart alone, for each environment, and the
//! edits of its values files.
//!
//! Helm runs through `test_harness::helm` (helm-python-sdk: Helm v4 as a C library). Without it
//! the tests fail, never skip: `cargo xtask ci` installs it.

use provision_core::{EnvName, ServiceName};
use provision_helm::{BaseChart, ImageTag, SealedValues, ServiceSpec, infra_files, put_sealed_values, set_image_tag};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use test_harness::helm::{CHART_NAME, CHART_VERSION, Helm, Values, all_of, chart_dir, helm, one};

/// What infra repositories depend on: orchestrator-app's `Config` defaults (`chart_name`,
/// `chart_version`) and the chart's `Chart.yaml` must agree.
/// The service the chart tests deploy: port 8080, the usual probes, hosts under apps.example.com.
pub(crate) fn spec<'a>(name: &'a ServiceName, image: &'a str) -> ServiceSpec<'a> {
    ServiceSpec {
        name,
        description: "",
        image,
        port: 8080,
        health_path: "/healthz",
        ready_path: "/readyz",
        domain: "apps.example.com",
        tls_issuer: None,
    }
}

fn render_ok(helm: &Helm, values: &[PathBuf]) -> Vec<Value> {
    helm.render(&chart_dir(), "demo", "demo-qa", values).unwrap_or_else(|e| panic!("render failed: {e}"))
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().map(|o| o["kind"].as_str().unwrap().to_owned()).collect()
}

/// Every label `selector` names, the pod carries with the same value.
fn assert_selects(selector: &Value, labels: &Value, what: &str) {
    let selector = selector.as_object().unwrap_or_else(|| panic!("{what}: no selector"));
    assert!(!selector.is_empty(), "{what}: an empty selector selects everything");
    for (k, v) in selector {
        assert_eq!(&labels[k], v, "{what}: selector {k}={v} does not match the pod labels {labels:#}");
    }
}

/// The service's container (the first; init containers are separate).
fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

/// Every switch on, every part configured.
pub(crate) fn everything_on() -> Value {
    json!({
        "nameOverride": "demo",
        "replicaCount": 2,
        "image": { "repository": "registry.example.com/team/demo", "tag": "1.4.2" },
        "imagePullSecrets": ["registry"],
        "service": { "enabled": true, "port": 80, "targetPort": 8080 },
        "probes": {
            "liveness": { "path": "/livez", "port": "http" },
            "readiness": { "path": "/ready", "port": 8080 }
        },
        "env": [{ "name": "PORT", "value": "8080" }],
        "envFrom": [{ "configMapRef": { "name": "demo-config" } }],
        "ingress": {
            "enabled": true,
            "host": "demo-qa.apps.example.com",
            "tls": { "enabled": true, "secretName": "demo-qa-tls" },
            "basicAuth": { "enabled": true, "secretName": "demo-htpasswd", "realm": "Team only" },
            "annotations": { "cert-manager.io/cluster-issuer": "letsencrypt" }
        },
        "persistence": {
            "enabled": true,
            "size": "5Gi",
            "storageClass": "fast-ssd",
            "mountPath": "/var/lib/demo",
            "fixOwnership": { "enabled": true, "user": 65532, "group": 65532 }
        },
        "initContainers": [{ "name": "migrate", "image": "registry.example.com/team/demo-migrate:1.4.2" }],
        "sealedSecrets": {
            "enabled": true,
            "secrets": [
                { "name": "demo-db", "envFrom": true, "encryptedData": { "PASSWORD": "AgBy3i4OJSWK+PiTySYZZA==" } },
                { "name": "demo-tls-client", "mountPath": "/etc/demo/tls" },
                { "name": "demo-shared", "scope": "namespace-wide", "encryptedData": { "TOKEN": "AgCx9Q==" } }
            ]
        }
    })
}

fn everything_off() -> Value {
    json!({
        "image": { "repository": "registry.example.com/team/demo" },
        "deployment": { "enabled": false },
        "service": { "enabled": false },
        "ingress": { "enabled": false, "host": "demo-qa.apps.example.com" },
        "persistence": { "enabled": false },
        "sealedSecrets": { "enabled": false, "secrets": [{ "name": "demo-db", "envFrom": true, "encryptedData": { "A": "b" } }] }
    })
}

#[test]
fn the_chart_lints_strictly_on_its_own_values() {
    let report = helm().lint(&chart_dir(), &[]);
    assert_eq!(report["ok"], true, "{report:#}");
}

#[test]
fn the_chart_is_the_one_infra_repos_depend_on_and_packages_with_its_schema() {
    let helm = helm();
    let dest = tempfile::tempdir().unwrap();
    let package = helm.package(&chart_dir(), dest.path());
    assert_eq!(package["metadata"]["apiVersion"], "v2");
    assert_eq!(package["metadata"]["name"], CHART_NAME);
    assert_eq!(package["metadata"]["version"], CHART_VERSION);
    assert_eq!(package["schema"], true, "values.schema.json must ship in the package: {package:#}");
    let archive = PathBuf::from(package["archive"].as_str().unwrap());
    assert_eq!(archive.file_name().unwrap(), format!("{CHART_NAME}-{CHART_VERSION}.tgz").as_str());
    let digest = package["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap_or_else(|| panic!("{digest}"));
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
    // Packaging the same tree again gives the same archive, so an index entry stays valid.
    let again = helm.package(&chart_dir(), tempfile::tempdir().unwrap().path());
    assert_eq!(again["digest"], package["digest"]);

    // The archive renders what the directory does.
    let values = Values::new();
    let on = [values.json("on.json", &everything_on())];
    let from_archive = helm.render(&archive, "demo", "demo-qa", &on).unwrap();
    assert_eq!(from_archive, render_ok(&helm, &on));

    // orchestrator-app writes the infra repos' dependency from its defaults.
    let config =
        std::fs::read_to_string(test_harness::workspace_root().join("crates/orchestrator-app/src/config.rs")).unwrap();
    for expected in [CHART_NAME, CHART_VERSION] {
        assert!(config.contains(&format!("{expected:?}")), "orchestrator-app's config defaults lost {expected:?}");
    }
}

#[test]
fn every_switch_on_renders_every_part_wired_together() {
    let helm = helm();
    let values = Values::new();
    let objects = render_ok(&helm, &[values.json("on.json", &everything_on())]);
    assert_eq!(
        kinds(&objects),
        ["Deployment", "Ingress", "PersistentVolumeClaim", "SealedSecret", "Service"].map(String::from).into()
    );

    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["metadata"]["name"], "demo");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["strategy"]["type"], "Recreate", "a ReadWriteOnce volume needs Recreate");
    let pod_labels = &spec["template"]["metadata"]["labels"];
    assert_selects(&spec["selector"]["matchLabels"], pod_labels, "Deployment");
    assert_eq!(
        spec["selector"]["matchLabels"],
        json!({"app.kubernetes.io/name": "demo", "app.kubernetes.io/instance": "demo"})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["imagePullSecrets"], json!([{ "name": "registry" }]));

    let app = container(deployment);
    assert_eq!(app["image"], "registry.example.com/team/demo:1.4.2");
    assert_eq!(app["ports"], json!([{ "name": "http", "containerPort": 8080, "protocol": "TCP" }]));
    assert_eq!(app["livenessProbe"]["httpGet"], json!({ "path": "/livez", "port": "http" }));
    assert_eq!(app["readinessProbe"]["httpGet"], json!({ "path": "/ready", "port": 8080 }));
    assert_eq!(app["env"], json!([{ "name": "PORT", "value": "8080" }]));
    assert_eq!(
        app["envFrom"],
        json!([{ "configMapRef": { "name": "demo-config" } }, { "secretRef": { "name": "demo-db" } }])
    );
    assert_eq!(
        app["volumeMounts"],
        json!([
            { "name": "data", "mountPath": "/var/lib/demo" },
            { "name": "secret-demo-tls-client", "mountPath": "/etc/demo/tls", "readOnly": true }
        ])
    );
    assert_eq!(app["resources"]["limits"], json!({ "cpu": "500m", "memory": "256Mi" }));
    assert_eq!(
        pod["volumes"],
        json!([
            { "name": "data", "persistentVolumeClaim": { "claimName": "demo-data" } },
            { "name": "secret-demo-tls-client", "secret": { "secretName": "demo-tls-client" } }
        ])
    );

    // The ownership fix first, then the release's own init containers.
    let init = pod["initContainers"].as_array().unwrap();
    let names: Vec<_> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fix-ownership", "migrate"]);
    assert_eq!(init[0]["command"], json!(["chown", "-R", "65532:65532", "/var/lib/demo"]));
    assert_eq!(init[0]["volumeMounts"], json!([{ "name": "data", "mountPath": "/var/lib/demo" }]));
    assert_eq!(init[0]["securityContext"]["runAsUser"], 0);
    assert_eq!(init[0]["securityContext"]["capabilities"]["add"], json!(["CHOWN", "DAC_READ_SEARCH"]));

    let service = one(&objects, "Service");
    assert_eq!(service["metadata"]["name"], "demo");
    assert_selects(&service["spec"]["selector"], pod_labels, "Service");
    // Not the version label: pods of the outgoing and the incoming image both serve a rollout.
    assert_eq!(service["spec"]["selector"], spec["selector"]["matchLabels"]);
    assert_eq!(
        service["spec"]["ports"],
        json!([{ "name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP" }])
    );

    let ingress = one(&objects, "Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["tls"], json!([{ "hosts": ["demo-qa.apps.example.com"], "secretName": "demo-qa-tls" }]));
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], "demo-qa.apps.example.com");
    assert_eq!(
        rule["http"]["paths"][0],
        json!({ "path": "/", "pathType": "Prefix", "backend": { "service": { "name": "demo", "port": { "number": 80 } } } })
    );
    assert_eq!(
        ingress["metadata"]["annotations"],
        json!({
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": "demo-htpasswd",
            "nginx.ingress.kubernetes.io/auth-realm": "Team only",
            "cert-manager.io/cluster-issuer": "letsencrypt"
        })
    );

    let pvc = one(&objects, "PersistentVolumeClaim");
    assert_eq!(pvc["metadata"]["name"], "demo-data");
    assert_eq!(pvc["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "5Gi");
    assert_eq!(pvc["spec"]["storageClassName"], "fast-ssd");
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));

    // Only the secrets given encryptedData are rendered, in no pinned namespace; a wider scope
    // than strict is annotated for the controller.
    let [sealed, shared] = all_of(&objects, "SealedSecret")[..] else { panic!("two SealedSecrets: {objects:#?}") };
    assert_eq!(sealed["apiVersion"], "bitnami.com/v1alpha1");
    assert_eq!(sealed["metadata"]["name"], "demo-db");
    assert!(sealed["metadata"].get("namespace").is_none(), "{sealed:#}");
    assert!(sealed["metadata"].get("annotations").is_none(), "strict needs no annotation: {sealed:#}");
    assert_eq!(sealed["spec"]["encryptedData"], json!({ "PASSWORD": "AgBy3i4OJSWK+PiTySYZZA==" }));
    assert_eq!(sealed["spec"]["template"]["metadata"]["name"], "demo-db");
    assert_eq!(shared["metadata"]["name"], "demo-shared");
    assert_eq!(shared["metadata"]["annotations"], json!({ "sealedsecrets.bitnami.com/namespace-wide": "true" }));

    for o in &objects {
        assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/name"], "demo", "{o:#}");
        assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/version"], "1.4.2", "{o:#}");
    }
}

#[test]
fn every_switch_off_renders_nothing() {
    let helm = helm();
    let values = Values::new();
    let objects = render_ok(&helm, &[values.json("off.json", &everything_off())]);
    assert!(objects.is_empty(), "{objects:#?}");
}

/// The seed chart's switches read other components' keys; here each turns off its own part.
#[test]
fn each_switch_turns_off_its_own_part_and_nothing_else() {
    let helm = helm();
    let values = Values::new();
    let on = values.json("on.json", &everything_on());
    let all = kinds(&render_ok(&helm, std::slice::from_ref(&on)));
    for (key, kind) in [
        ("deployment", "Deployment"),
        ("service", "Service"),
        ("ingress", "Ingress"),
        ("persistence", "PersistentVolumeClaim"),
        ("sealedSecrets", "SealedSecret"),
    ] {
        let off = values.json(&format!("{key}-off.json"), &json!({ key: { "enabled": false } }));
        let objects = render_ok(&helm, &[on.clone(), off]);
        let mut expected = all.clone();
        expected.remove(kind);
        assert_eq!(kinds(&objects), expected, "{key}.enabled: false");

        if key == "persistence" {
            let pod = &one(&objects, "Deployment")["spec"]["template"]["spec"];
            let init: Vec<_> = pod["initContainers"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
            assert_eq!(init, ["migrate"], "no ownership fix without a volume");
            assert!(pod["volumes"].as_array().unwrap().iter().all(|v| v["name"] != "data"), "{pod:#}");
            assert!(one(&objects, "Deployment")["spec"].get("strategy").is_none());
        }
        if key == "sealedSecrets" {
            let app = container(one(&objects, "Deployment"));
            assert_eq!(app["envFrom"], json!([{ "configMapRef": { "name": "demo-config" } }]), "{app:#}");
            assert_eq!(app["volumeMounts"], json!([{ "name": "data", "mountPath": "/var/lib/demo" }]));
        }
    }

    // Switches inside a part.
    let inner = values.json(
        "inner-off.json",
        &json!({
            "persistence": { "fixOwnership": { "enabled": false } },
            "ingress": { "tls": { "enabled": false }, "basicAuth": { "enabled": false } },
            "probes": { "liveness": { "enabled": false }, "readiness": { "enabled": false } }
        }),
    );
    let objects = render_ok(&helm, &[on, inner]);
    let pod = &one(&objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["initContainers"].as_array().unwrap().len(), 1, "{pod:#}");
    assert!(container(one(&objects, "Deployment")).get("livenessProbe").is_none());
    assert!(container(one(&objects, "Deployment")).get("readinessProbe").is_none());
    let ingress = one(&objects, "Ingress");
    assert!(ingress["spec"].get("tls").is_none(), "{ingress:#}");
    assert_eq!(ingress["metadata"]["annotations"], json!({ "cert-manager.io/cluster-issuer": "letsencrypt" }));
}

#[test]
fn the_storage_class_comes_from_persistence_storage_class() {
    let helm = helm();
    let values = Values::new();
    let on = values.json("on.json", &everything_on());
    for (class, expected) in [(json!("standard"), Some("standard")), (json!("-"), Some("")), (json!(""), None)] {
        let file = values.json("class.json", &json!({ "persistence": { "storageClass": class, "size": "2Gi" } }));
        let objects = render_ok(&helm, &[on.clone(), file]);
        let pvc = one(&objects, "PersistentVolumeClaim");
        assert_eq!(pvc["spec"]["storageClassName"].as_str(), expected, "storageClass {class}");
        assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "2Gi");
    }
    // An existing claim is mounted, not created.
    let existing = values.json("existing.json", &json!({ "persistence": { "existingClaim": "demo-old-data" } }));
    let objects = render_ok(&helm, &[on, existing]);
    assert!(all_of(&objects, "PersistentVolumeClaim").is_empty());
    let pod = &one(&objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "demo-old-data");
}

/// The generated infra repository of `demo` in a directory, with the base chart packaged where
/// `helm dependency build` puts it (`charts/<name>-<version>.tgz`).
fn infra_chart(helm: &Helm, envs: &[EnvName]) -> tempfile::TempDir {
    let name = ServiceName::parse("demo").unwrap();
    let spec = spec(&name, "localhost:5000/platform/demo");
    let base = BaseChart {
        name: CHART_NAME.into(),
        version: CHART_VERSION.into(),
        repository: "https://charts.example.com".into(),
    };
    let files = infra_files(&spec, &base, envs).unwrap();
    helm.umbrella(files.iter().map(|(path, entry)| (path.as_str(), &entry.content[..])))
}

/// The base chart's values in a generated values file, as values at the top level (the layout
/// before, which Argo CD passed to the base chart itself).
fn base_values(file: &std::path::Path) -> Value {
    let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let top: Vec<_> = doc.as_object().unwrap().keys().collect();
    assert_eq!(top, [CHART_NAME], "{}: only the base chart's key at the top level", file.display());
    doc[CHART_NAME].clone()
}

/// `helm template` of the chart: its objects and the NOTES.txt it prints.
fn render_with_notes(
    helm: &Helm,
    chart: &std::path::Path,
    namespace: &str,
    values: &[PathBuf],
) -> (Vec<Value>, String) {
    let mut args: Vec<std::ffi::OsString> =
        vec!["render".into(), chart.into(), "--name".into(), "demo".into(), "--namespace".into(), namespace.into()];
    for v in values {
        args.extend(["-f".into(), v.into()]);
    }
    let answer = helm.call(args);
    assert_eq!(answer["ok"], true, "{answer:#}");
    let objects = answer["objects"].as_array().unwrap().iter().map(|o| o["object"].clone()).collect();
    (objects, answer["notes"].as_str().unwrap().to_owned())
}

#[test]
fn the_infra_repository_is_a_chart_that_lints_and_renders_each_environment() {
    let helm = helm();
    let envs = ["qa", "staging", "prod"].map(|e| EnvName::parse(e).unwrap());
    let infra = infra_chart(&helm, &envs);
    let dir = infra.path();
    let chart = std::fs::read_to_string(dir.join("Chart.yaml")).unwrap();
    assert!(chart.contains(&format!("- name: {CHART_NAME}\n  version: \"{CHART_VERSION}\"\n")), "{chart}");
    assert!(dir.join("templates/NOTES.txt").is_file());

    let old = Values::new();
    for (env, replicas) in [("qa", 1), ("staging", 2), ("prod", 3)] {
        // As Argo CD, a plain `helm install` or a HelmRelease pass them: values.yaml, then values-<env>.yaml.
        let layered = [dir.join("values.yaml"), dir.join(format!("values-{env}.yaml"))];
        let report = helm.lint(dir, &layered);
        assert_eq!(report["ok"], true, "{env}: {report:#}");

        let namespace = format!("demo-{env}");
        let (objects, notes) = render_with_notes(&helm, dir, &namespace, &layered);
        assert_eq!(kinds(&objects), ["Deployment", "Ingress", "Service"].map(String::from).into(), "{env}");
        let host = format!("demo-{env}.apps.example.com");
        let ingress = one(&objects, "Ingress");
        assert_eq!(ingress["spec"]["rules"][0]["host"], host.as_str(), "{env}");
        assert_eq!(ingress["spec"]["tls"], json!([{ "hosts": [host], "secretName": "demo-tls" }]), "{env}");
        assert!(
            notes.contains(&format!(
                "demo is released as demo in {namespace}, deployed by the base chart {CHART_NAME}."
            )),
            "{notes}"
        );
        assert!(notes.contains(&format!("URL:   https://{host}\n")), "{env}: {notes}");

        let deployment = one(&objects, "Deployment");
        assert_eq!(deployment["metadata"]["name"], "demo");
        assert_eq!(deployment["spec"]["replicas"], replicas, "{env}");
        let limits = &deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
        let expected = match env {
            "qa" => json!({ "cpu": "250m", "memory": "128Mi" }),
            "staging" => json!({ "cpu": "500m", "memory": "256Mi" }),
            _ => json!({ "cpu": "1", "memory": "512Mi" }),
        };
        assert_eq!(limits, &expected, "{env}: resources per environment");
        assert_selects(
            &deployment["spec"]["selector"]["matchLabels"],
            &deployment["spec"]["template"]["metadata"]["labels"],
            env,
        );
        let app = container(deployment);
        assert_eq!(app["image"], "localhost:5000/platform/demo:latest");
        assert_eq!(app["ports"][0]["containerPort"], 8080);
        assert_eq!(app["livenessProbe"]["httpGet"], json!({ "path": "/healthz", "port": "http" }));
        assert_eq!(app["readinessProbe"]["httpGet"], json!({ "path": "/readyz", "port": "http" }));
        // The generator writes `env` as maps, which Helm merges: values.yaml's PORT stays.
        assert_eq!(
            app["env"],
            json!([{ "name": "ENVIRONMENT", "value": env }, { "name": "PORT", "value": "8080" }]),
            "{env}"
        );
        let service = one(&objects, "Service");
        assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);

        // The same objects as the base chart alone renders from the same values at the top level.
        let top_level = [
            old.json("values.json", &base_values(&layered[0])),
            old.json(&format!("values-{env}.json"), &base_values(&layered[1])),
        ];
        assert_eq!(helm.lint(&chart_dir(), &top_level)["ok"], true, "{env}");
        assert_eq!(
            objects,
            render_ok_in(&helm, &namespace, &top_level),
            "{env}: the infra chart renders what the base chart does"
        );
    }
}

fn render_ok_in(helm: &Helm, namespace: &str, values: &[PathBuf]) -> Vec<Value> {
    helm.render(&chart_dir(), "demo", namespace, values).unwrap_or_else(|e| panic!("render failed: {e}"))
}

#[test]
fn edits_of_the_infra_values_reach_the_rendered_objects() {
    let helm = helm();
    let envs = ["qa", "prod"].map(|e| EnvName::parse(e).unwrap());
    let infra = infra_chart(&helm, &envs);
    let dir = infra.path();
    let edit = |file: &str, f: &dyn Fn(&str) -> String| {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(&text)).unwrap();
    };
    let image = |env: &str| {
        let layered = [dir.join("values.yaml"), dir.join(format!("values-{env}.yaml"))];
        assert_eq!(helm.lint(dir, &layered)["ok"], true, "{env}");
        let objects = helm.render(dir, "demo", &format!("demo-{env}"), &layered).unwrap();
        container(one(&objects, "Deployment"))["image"].as_str().unwrap().to_owned()
    };

    // values.yaml: every environment.
    edit("values.yaml", &|text| set_image_tag(text, CHART_NAME, &ImageTag::parse("3f2a9c1").unwrap()).unwrap().0);
    assert_eq!(image("qa"), "localhost:5000/platform/demo:3f2a9c1");
    assert_eq!(image("prod"), "localhost:5000/platform/demo:3f2a9c1");
    // A tag bumped into an environment's file (quoted, so "1.10" stays a string) wins there.
    edit("values-prod.yaml", &|text| {
        let (bumped, changed) = set_image_tag(text, CHART_NAME, &ImageTag::parse("1.10").unwrap()).unwrap();
        assert!(changed);
        bumped
    });
    assert_eq!(image("prod"), "localhost:5000/platform/demo:1.10");
    assert_eq!(image("qa"), "localhost:5000/platform/demo:3f2a9c1");

    // A sealed secret put into qa's file is deployed there.
    let data = [("PASSWORD".to_owned(), "AgBy3i4OJSWK".to_owned())].into();
    edit("values-qa.yaml", &|text| {
        put_sealed_values(text, CHART_NAME, &SealedValues { name: "demo-db", scope: "strict", encrypted_data: &data })
            .unwrap()
    });
    let layered = [dir.join("values.yaml"), dir.join("values-qa.yaml")];
    assert_eq!(helm.lint(dir, &layered)["ok"], true);
    let objects = helm.render(dir, "demo", "demo-qa", &layered).unwrap();
    assert_eq!(one(&objects, "SealedSecret")["spec"]["encryptedData"], json!({ "PASSWORD": "AgBy3i4OJSWK" }));
    assert_eq!(container(one(&objects, "Deployment"))["envFrom"], json!([{ "secretRef": { "name": "demo-db" } }]));
}

/// A repository generated before kept the base chart's values at the top level, which the
/// base chart read directly; the edits still find them there.
#[test]
fn edits_of_values_at_the_top_level_reach_the_base_chart() {
    let helm = helm();
    let values = Values::new();
    let base = values.file("values.yaml", "nameOverride: demo\nimage:\n  repository: r/demo\n  tag: latest\n");
    let qa = values.file("values-qa.yaml", "replicaCount: 1\ningress:\n  enabled: false\n");
    let (text, _) =
        set_image_tag(&std::fs::read_to_string(&base).unwrap(), CHART_NAME, &ImageTag::parse("v2").unwrap()).unwrap();
    std::fs::write(&base, text).unwrap();
    let data = [("K".to_owned(), "AgCx".to_owned())].into();
    let sealed = put_sealed_values(
        &std::fs::read_to_string(&qa).unwrap(),
        CHART_NAME,
        &SealedValues { name: "demo-env", scope: "strict", encrypted_data: &data },
    )
    .unwrap();
    assert!(!sealed.contains(CHART_NAME), "{sealed}");
    std::fs::write(&qa, sealed).unwrap();
    let objects = render_ok(&helm, &[base, qa]);
    assert_eq!(container(one(&objects, "Deployment"))["image"], "r/demo:v2");
    assert_eq!(one(&objects, "SealedSecret")["metadata"]["name"], "demo-env");
}

#[test]
fn env_as_a_map_adds_up_across_values_files() {
    let helm = helm();
    let values = Values::new();
    let base = values.file(
        "values.yaml",
        "image:\n  repository: r/demo\nenv:\n  PORT: \"8080\"\n  DB_PASSWORD:\n    secretKeyRef: {name: demo-db, key: password}\n",
    );
    let qa = values.file("values-qa.yaml", "env:\n  ENVIRONMENT: qa\n");
    let objects = render_ok(&helm, &[base, qa]);
    assert_eq!(
        container(one(&objects, "Deployment"))["env"],
        json!([
            { "name": "DB_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "demo-db", "key": "password" } } },
            { "name": "ENVIRONMENT", "value": "qa" },
            { "name": "PORT", "value": "8080" }
        ])
    );
}

#[test]
fn values_the_schema_does_not_know_are_rejected() {
    let helm = helm();
    let values = Values::new();
    let base = values.json("base.json", &json!({ "image": { "repository": "r/demo" } }));
    for (case, bad, expected) in [
        ("unknown top-level key", "replicas: 2\n", "additional properties 'replicas' not allowed"),
        (
            "unknown nested key",
            "ingress:\n  hots: demo-qa.apps.example.com\n",
            "additional properties 'hots' not allowed",
        ),
        (
            "misspelt storage class",
            "persistence:\n  storageclass: gp2\n",
            "additional properties 'storageclass' not allowed",
        ),
        ("wrong type", "replicaCount: two\n", "at '/replicaCount': got string, want integer"),
        ("unquoted version tag", "image:\n  tag: 1.10\n", "at '/image/tag': got number, want string"),
        ("number as env value", "env:\n- name: PORT\n  value: 8080\n", "at '/env/0/value': got number, want string"),
        ("port out of range", "service:\n  targetPort: 70000\n", "/service/targetPort"),
    ] {
        let file = values.file("bad.yaml", bad);
        let layered = [base.clone(), file];
        let err = helm.render(&chart_dir(), "demo", "demo-qa", &layered).expect_err(case);
        assert!(err.contains(expected), "{case}: {err}");
        let report = helm.lint(&chart_dir(), &layered);
        assert_eq!(report["ok"], false, "{case}: {report:#}");
    }
    // An ingress needs its host.
    let no_host = values.file("no-host.yaml", "ingress:\n  enabled: true\n");
    let err = helm.render(&chart_dir(), "demo", "demo-qa", &[base, no_host]).unwrap_err();
    assert!(err.contains("ingress.host is required"), "{err}");
}
