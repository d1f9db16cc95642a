//! What `registration_files` generates, and an object of every kind the project will generate,
//! checked against the upstream CRDs (`shared/reference/crds` beside the workspace: without it
//! these tests fail). The mistakes below prove the check would catch real ones.

use crd_schema::{Crds, Rule, Violation, read_manifests};
use provision_core::{EnvName, OwnerName, ServiceName};
use provision_gitops::{Registration, registration_files};
use serde_json::{Value, json};

const APPLICATIONS: &str = "argoproj.io_applications.yaml";

fn crds(files: &[&str]) -> Crds {
    Crds::load_reference_files(files).unwrap_or_else(|e| panic!("{e}"))
}

fn report(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("  {v}\n")).collect()
}

/// Asserts that `object` breaks exactly the `expected` rules at those paths (in any order).
fn check(crds: &Crds, object: &Value, expected: &[(&str, Rule)]) {
    let mut expected: Vec<(String, Rule)> = expected.iter().map(|(p, r)| ((*p).to_owned(), *r)).collect();
    expected.sort_by(|a, b| (&a.0, a.1.keyword()).cmp(&(&b.0, b.1.keyword())));
    assert_eq!(crds.broken_rules(object), expected, "for {object:#}");
}

/// The files registering `service` as `orchestrator-app` plans them (default configuration, the
/// local git host's clone URL for the infra repository), as (path, text).
fn registration(service: &str, owner: Option<&str>, envs: &[&str]) -> Vec<(String, String)> {
    let service = ServiceName::parse(service).unwrap();
    let owner = owner.map(|o| OwnerName::parse(o).unwrap());
    let infra_repo_url = format!("file:///var/lib/orchestrator/git/platform/{}.git", service.infra_repo());
    let registration = Registration {
        service: &service,
        owner: owner.as_ref(),
        infra_repo_url: &infra_repo_url,
        argocd_namespace: "argocd",
        project: "default",
    };
    let envs: Vec<EnvName> = envs.iter().map(|e| EnvName::parse(e).unwrap()).collect();
    registration_files(&registration, &envs)
        .unwrap()
        .iter()
        .map(|(path, file)| (path.as_str().to_owned(), String::from_utf8(file.content.to_vec()).unwrap()))
        .collect()
}

/// The one object in a generated file, read as kubectl reads it.
fn object(path: &str, text: &str) -> Value {
    let mut documents = read_manifests(path, text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(documents.len(), 1, "{path}:\n{text}");
    documents.remove(0)
}

fn generated_application() -> Value {
    let files = registration("payments", Some("team-a"), &["qa"]);
    object(&files[0].0, &files[0].1)
}

#[test]
fn every_generated_application_satisfies_the_application_crd() {
    let crds = crds(&[APPLICATIONS]);
    let (longest_service, longest_env) = ("s".repeat(53), "e".repeat(20));
    for (service, owner, envs) in [
        ("payments", Some("team-a"), vec!["qa", "staging", "prod"]),
        // At the names' limits.
        (longest_service.as_str(), None, vec![longest_env.as_str()]),
        // Names YAML 1.1 reads as booleans (`yes`, `on`, `y`, `no`) must be written quoted.
        ("yes", Some("on"), vec!["y", "no"]),
    ] {
        let files = registration(service, owner, &envs);
        assert_eq!(files.len(), envs.len());
        for (path, text) in &files {
            if let Err(violations) = crds.validate(&object(path, text)) {
                panic!("{path} would be refused:\n{}---\n{text}", report(&violations));
            }
        }
    }
}

#[test]
fn mistakes_in_an_application_are_caught() {
    let crds = crds(&[APPLICATIONS]);
    let base = generated_application();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut app = base.clone();
        change(&mut app);
        app
    };
    check(&crds, &base, &[]);
    check(&crds, &with(&|a| a["spec"]["sourcez"] = json!([])), &[(".spec.sourcez", Rule::UnknownField)]);
    check(
        &crds,
        &with(&|a| {
            let source = a["spec"]["source"].as_object_mut().unwrap();
            let url = source.remove("repoURL").unwrap();
            source.insert("repoUrl".into(), url);
        }),
        &[(".spec.source.repoUrl", Rule::UnknownField), (".spec.source.repoURL", Rule::Required)],
    );
    check(&crds, &with(&|a| a["spec"]["destination"] = json!("in-cluster")), &[(".spec.destination", Rule::Type)]);
    check(
        &crds,
        &with(&|a| _ = a["spec"].as_object_mut().unwrap().remove("project")),
        &[(".spec.project", Rule::Required)],
    );
    check(
        &crds,
        &with(&|a| a["spec"]["syncPolicy"]["automated"]["prune"] = json!("true")),
        &[(".spec.syncPolicy.automated.prune", Rule::Type)],
    );
    check(
        &crds,
        &with(&|a| a["spec"]["source"]["helm"]["valueFiles"] = json!("values.yaml")),
        &[(".spec.source.helm.valueFiles", Rule::Type)],
    );
    check(
        &crds,
        &with(&|a| {
            a["spec"]["syncPolicy"]["retry"] = json!({"limit": "5", "backoff": {"duration": "5s", "factor": 2}})
        }),
        &[(".spec.syncPolicy.retry.limit", Rule::Type)],
    );
    check(
        &crds,
        &with(&|a| {
            a["metadata"]["name"] = json!("Payments_QA");
            a["metadata"]["labels"]["orchestrator.dev/environment"] = json!("q a");
            a["metadata"]["owner"] = json!("team-a");
        }),
        &[
            (".metadata.name", Rule::Metadata),
            (".metadata.labels[orchestrator.dev/environment]", Rule::Metadata),
            (".metadata.owner", Rule::UnknownField),
        ],
    );
}

#[test]
fn scalars_are_typed_as_the_api_server_reads_yaml() {
    let crds = crds(&[APPLICATIONS]);
    let files = registration("payments", None, &["qa"]);
    let (path, text) = &files[0];
    for (from, to, expected) in [
        // YAML 1.1: an unquoted `yes` is a boolean, and labels are strings.
        ("orchestrator.dev/environment: qa", "orchestrator.dev/environment: yes", (".metadata.labels", Rule::Type)),
        // A revision that looks like a number is one unless quoted.
        ("targetRevision: main", "targetRevision: 0.1", (".spec.source.targetRevision", Rule::Type)),
    ] {
        assert!(text.contains(from), "{from:?} not in\n{text}");
        check(&crds, &object(path, &text.replace(from, to)), &[expected]);
    }
}

#[test]
fn int_or_string_and_preserved_fields_in_an_application() {
    let crds = crds(&[APPLICATIONS]);
    let mut app = generated_application();
    let source = &mut app["spec"]["source"];
    source["kustomize"] = json!({"replicas": [{"name": "web", "count": 3}, {"name": "worker", "count": "2"}]});
    // Free-form Helm values (x-kubernetes-preserve-unknown-fields).
    source["helm"]["valuesObject"] =
        json!({"replicaCount": 2, "ingress": {"enabled": true, "hosts": [{"host": "a.example.com"}]}});
    check(&crds, &app, &[]);
    app["spec"]["source"]["kustomize"]["replicas"][0]["count"] = json!(true);
    app["spec"]["source"]["kustomize"]["replicas"][1]["count"] = json!(2.5);
    app["spec"]["source"]["helm"]["valuesObjekt"] = json!({});
    check(
        &crds,
        &app,
        &[
            (".spec.source.kustomize.replicas[0].count", Rule::Type),
            (".spec.source.kustomize.replicas[1].count", Rule::Type),
            (".spec.source.helm.valuesObjekt", Rule::UnknownField),
        ],
    );
}

fn kustomization(spec: Value) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "payments", "namespace": "flux-system"},
        "spec": spec,
    })
}

#[test]
fn mistakes_in_a_flux_kustomization_are_caught() {
    let crds = crds(&["kustomize.toolkit.fluxcd.io_kustomizations.yaml"]);
    let spec = json!({
        "serviceAccountName": "flux",
        "interval": "1m",
        "path": "./qa/apps/payments",
        "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "gitops", "namespace": "flux-system"},
        "healthChecks": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "payments", "namespace": "payments-qa"}],
        "dependsOn": [{"name": "infrastructure"}],
        "timeout": "2m",
    });
    check(&crds, &kustomization(spec.clone()), &[]);
    let mut bad = spec.clone();
    bad["sourceRef"]["kind"] = json!("GitRepo");
    bad["interval"] = json!("5 minutes");
    bad["targetNamespace"] = json!("n".repeat(64));
    bad["namePrefix"] = json!("");
    bad.as_object_mut().unwrap().remove("prune");
    check(
        &crds,
        &kustomization(bad),
        &[
            (".spec.sourceRef.kind", Rule::Enum),
            (".spec.interval", Rule::Pattern),
            (".spec.targetNamespace", Rule::MaxLength),
            (".spec.namePrefix", Rule::MinLength),
            (".spec.prune", Rule::Required),
        ],
    );
    let mut with_status = kustomization(spec);
    with_status["status"] = json!({"conditions": [{
        "type": "Ready", "status": "Maybe", "reason": "1-failed", "message": "",
        "lastTransitionTime": "yesterday", "observedGeneration": -1,
    }]});
    check(
        &crds,
        &with_status,
        &[
            (".status.conditions[0].status", Rule::Enum),
            (".status.conditions[0].reason", Rule::Pattern),
            (".status.conditions[0].lastTransitionTime", Rule::Format),
            (".status.conditions[0].observedGeneration", Rule::Minimum),
        ],
    );
    // The seed's layout used v1beta2, which these CRDs no longer serve.
    let mut old = kustomization(
        json!({"interval": "1m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "gitops"}}),
    );
    old["apiVersion"] = json!("kustomize.toolkit.fluxcd.io/v1beta2");
    let violations = crds.validate(&old).unwrap_err();
    assert_eq!(
        report(&violations),
        "  .kind: no CRD defines Kustomization in kustomize.toolkit.fluxcd.io/v1beta2 (it is in kustomize.toolkit.fluxcd.io/v1) [kind]\n"
    );
}

#[test]
fn mistakes_in_image_automation_objects_are_caught() {
    let crds = crds(&["image.toolkit.fluxcd.io_imagepolicies.yaml", "image.toolkit.fluxcd.io_imagerepositories.yaml"]);
    let policy = |spec: Value| json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy", "metadata": {"name": "payments"}, "spec": spec});
    // The two policies of the seed's layout: qa by timestamp, staging by semver range.
    check(
        &crds,
        &policy(json!({
            "imageRepositoryRef": {"name": "payments", "namespace": "flux-system"},
            "filterTags": {"pattern": "^[a-fA-F0-9]+-(?P<ts>.*)", "extract": "$ts"},
            "policy": {"numerical": {"order": "asc"}},
        })),
        &[],
    );
    check(
        &crds,
        &policy(json!({"imageRepositoryRef": {"name": "payments"}, "policy": {"semver": {"range": ">=1.0.0 <2.0.0"}}})),
        &[],
    );
    check(
        &crds,
        &policy(json!({"policy": {"alphabetical": {"order": "ascending"}}, "digestReflectionPolicy": "Sometimes"})),
        &[
            (".spec.imageRepositoryRef", Rule::Required),
            (".spec.policy.alphabetical.order", Rule::Enum),
            (".spec.digestReflectionPolicy", Rule::Enum),
        ],
    );
    let repository = |spec: Value| json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": {"name": "payments"}, "spec": spec});
    check(&crds, &repository(json!({"image": "localhost:5000/platform/payments", "interval": "1m"})), &[]);
    let exclusions: Vec<String> = (0..26).map(|i| format!("^x{i}$")).collect();
    check(
        &crds,
        &repository(json!({"image": "payments", "interval": "1m", "provider": "github", "exclusionList": exclusions})),
        &[(".spec.provider", Rule::Enum), (".spec.exclusionList", Rule::MaxItems)],
    );
}

#[test]
fn a_sealed_secret_keeps_to_its_nullable_and_byte_fields() {
    let crds = crds(&["bitnami.com_sealedsecrets.yaml"]);
    let sealed = |spec: Value| json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db", "namespace": "payments-qa"}, "spec": spec});
    check(
        &crds,
        &sealed(json!({
            "encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA=="},
            // `template.data` is nullable; `template.metadata` keeps unknown fields.
            "template": {"data": null, "metadata": {"name": "db", "anything": {}}, "type": "Opaque"},
        })),
        &[],
    );
    // A null `encryptedData` is dropped, so the required field is missing.
    check(
        &crds,
        &sealed(json!({"encryptedData": null, "data": "not base64!"})),
        &[(".spec.encryptedData", Rule::Required), (".spec.data", Rule::Format)],
    );
    check(&crds, &sealed(json!({"encryptedData": {"port": 5432}})), &[(".spec.encryptedData[port]", Rule::Type)]);
}

#[test]
fn cel_rules_are_not_evaluated() {
    // The HelmRelease CRD requires "either chart or chartRef" in a CEL rule
    // (x-kubernetes-validations): the API server refuses this object, this check cannot.
    let crds = crds(&["helm.toolkit.fluxcd.io_helmreleases.yaml"]);
    let release = json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "payments"},
        "spec": {"interval": "5m"},
    });
    check(&crds, &release, &[]);
}

#[test]
fn every_crd_loads_and_an_object_of_each_kind_we_generate_validates() {
    let crds = Crds::load_reference().unwrap_or_else(|e| panic!("{e}"));
    let meta = json!({"name": "payments", "namespace": "flux-system"});
    let objects = [
        generated_application(),
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "payments", "namespace": "argocd"}, "spec": {
            "generators": [{"list": {"elements": [{"env": "qa"}, {"env": "staging"}]}}],
            "template": {"metadata": {"name": "payments-{{env}}"}, "spec": {
                "project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "payments-{{env}}"},
                "source": {"repoURL": "https://charts.example.com", "chart": "ms-base-chart", "targetRevision": "0.1.0"},
            }},
        }}),
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "platform", "namespace": "argocd"}, "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "*"}],
        }}),
        kustomization(
            json!({"interval": "1m", "path": "./qa", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "gitops"}}),
        ),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": meta, "spec": {
            "interval": "1m", "url": "https://git.example.com/platform/gitops.git", "ref": {"branch": "main"},
        }}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": meta, "spec": {
            "interval": "10m", "url": "https://charts.example.com",
        }}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": meta, "spec": {
            "image": "localhost:5000/platform/payments", "interval": "1m",
        }}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy", "metadata": meta, "spec": {
            "imageRepositoryRef": {"name": "payments"}, "policy": {"semver": {"range": ">=1.0.0"}},
        }}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation", "metadata": meta, "spec": {
            "interval": "1m",
            "sourceRef": {"kind": "GitRepository", "name": "gitops"},
            "git": {
                "checkout": {"ref": {"branch": "main"}},
                "commit": {"author": {"name": "Orchestrator", "email": "orchestrator@localhost"}},
                "push": {"branch": "main"},
            },
            "update": {"path": "./qa/apps/payments", "strategy": "Setters"},
        }}),
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db", "namespace": "payments-qa"}, "spec": {
            "encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA=="},
        }}),
    ];
    for object in &objects {
        let (api_version, kind) = (object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap());
        assert!(crds.defines(api_version, kind), "no CRD defines {kind} {api_version}; they define {crds:?}");
        if let Err(violations) = crds.validate(object) {
            panic!("{kind} would be refused:\n{}", report(&violations));
        }
    }
    let kinds: Vec<String> = crds.kinds().map(ToString::to_string).collect();
    assert_eq!(kinds.len(), 13, "{kinds:?}");
}

#[test]
fn the_argo_bootstrap_satisfies_the_application_set_and_app_project_crds() {
    let crds = crds(&["argoproj.io_applicationsets.yaml", "argoproj.io_appprojects.yaml"]);
    let envs = [EnvName::parse("qa").unwrap(), EnvName::parse("prod").unwrap()];
    for project in ["services", "default"] {
        let bootstrap = provision_gitops::Bootstrap {
            gitops_repo_url: "https://git.example.com/platform/argo-gitdir-services.git",
            branch: "main",
            argocd_namespace: "argocd",
            project,
            source_repos: vec!["https://charts.example.com".into(), "https://git.example.com/platform/*".into()],
            environments: &envs,
        };
        let files = provision_gitops::bootstrap_files(&bootstrap).unwrap();
        let paths: Vec<&str> = files.paths().map(|p| p.as_str()).collect();
        let expected: &[&str] = if project == "default" {
            &["bootstrap/applicationset.yaml"]
        } else {
            &["bootstrap/applicationset.yaml", "bootstrap/appproject.yaml"]
        };
        assert_eq!(paths, expected, "Argo CD's own default project is never redefined");
        for (path, file) in files.iter() {
            let text = String::from_utf8(file.content.to_vec()).unwrap();
            for object in read_manifests(path.as_str(), &text).unwrap() {
                if let Err(v) = crds.validate(&object) {
                    panic!("{path}:\n{}", report(&v));
                }
            }
        }
        let set = String::from_utf8(files.get("bootstrap/applicationset.yaml").unwrap().content.to_vec()).unwrap();
        assert!(set.contains("- path: services/*"), "{set}");
        assert!(set.contains("path: '{{path}}'") || set.contains("path: \"{{path}}\""), "{set}");
    }
}
