//! What `flux_files` generates: the per-environment layout, every Flux object checked against
//! the upstream CRDs, the app's plain manifests checked as a cluster and kustomize would read
//! them (kinds, selectors, the setter marker), the objects' references to one another, and
//! golden files for a reference service.

use crd_schema::{Crds, Violation, read_manifests};
use provision_core::{BranchName, EnvName, OwnerName, ServiceName};
use provision_gitops::flux::marker::image_markers;
use provision_gitops::flux::{
    CommitAuthor, DEFAULT_NAMESPACE, DEFAULT_SOURCE_NAME, Dependency, GitOpsRepo, TagPolicy, flux_files,
};
use provision_gitops::{Error, FluxRegistration};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const FLUX_CRDS: &[&str] = &[
    "kustomize.toolkit.fluxcd.io_kustomizations.yaml",
    "source.toolkit.fluxcd.io_gitrepositories.yaml",
    "image.toolkit.fluxcd.io_imagerepositories.yaml",
    "image.toolkit.fluxcd.io_imagepolicies.yaml",
    "image.toolkit.fluxcd.io_imageupdateautomations.yaml",
];

/// The settings a registration is made with, owned so tests can vary them.
struct Settings {
    service: ServiceName,
    owner: Option<OwnerName>,
    image: String,
    url: String,
    branch: BranchName,
    tag_policies: BTreeMap<EnvName, TagPolicy>,
    depends_on: Vec<Dependency>,
}

impl Settings {
    fn new(service: &str) -> Settings {
        Settings {
            service: ServiceName::parse(service).unwrap(),
            owner: None,
            image: format!("registry.example.com/platform/{service}"),
            url: "https://git.example.com/platform/gitops.git".to_owned(),
            branch: BranchName::main(),
            tag_policies: BTreeMap::new(),
            depends_on: Vec::new(),
        }
    }

    /// The reference service of the golden files.
    fn reference() -> Settings {
        Settings {
            owner: Some(OwnerName::parse("team-a").unwrap()),
            depends_on: vec![Dependency::Shared("infrastructure".to_owned())],
            ..Settings::new("payments")
        }
    }

    fn registration(&self) -> FluxRegistration<'_> {
        FluxRegistration {
            service: &self.service,
            owner: self.owner.as_ref(),
            image: &self.image,
            initial_tag: "0.1.0",
            port: 8080,
            health_path: "/healthz",
            ready_path: "/readyz",
            gitops: GitOpsRepo { name: DEFAULT_SOURCE_NAME, url: &self.url, branch: &self.branch, secret: None },
            flux_namespace: DEFAULT_NAMESPACE,
            tag_policies: self.tag_policies.clone(),
            depends_on: self.depends_on.clone(),
            commit_author: CommitAuthor { name: "Flux", email: "flux@example.com" },
        }
    }

    /// The generated files, path → text.
    fn files(&self, envs: &[&str]) -> BTreeMap<String, String> {
        flux_files(&self.registration(), &envs_of(envs))
            .unwrap_or_else(|e| panic!("{}", error_text(&e)))
            .iter()
            .map(|(path, file)| (path.as_str().to_owned(), String::from_utf8(file.content.to_vec()).unwrap()))
            .collect()
    }
}

fn envs_of(envs: &[&str]) -> Vec<EnvName> {
    envs.iter().map(|e| EnvName::parse(e).unwrap()).collect()
}

/// An error and its causes, one per line.
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n  {cause}"));
        source = cause.source();
    }
    text
}

fn report(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("  {v}\n")).collect()
}

fn documents(path: &str, text: &str) -> Vec<Value> {
    read_manifests(path, text).unwrap_or_else(|e| panic!("{e}"))
}

/// The one document of `kind` in a generated file.
fn object(files: &BTreeMap<String, String>, path: &str, kind: &str) -> Value {
    let text = files.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", files.keys()));
    let mut found: Vec<Value> = documents(path, text).into_iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{kind} in {path}:\n{text}");
    found.remove(0)
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().unwrap();
    !selector.is_empty() && selector.iter().all(|(key, value)| &labels[key] == value)
}

/// Checks everything `flux_files` generated for `service` in `envs`: each Flux object against
/// its CRD, each app manifest as a cluster and kustomize would take it, and that the objects
/// name one another consistently.
fn check_layout(crds: &Crds, settings: &Settings, envs: &[&str], files: &BTreeMap<String, String>) {
    let app = settings.service.as_str();
    let ns = DEFAULT_NAMESPACE;
    for (path, text) in files {
        let is_flux = path.starts_with("flux/") || path.contains("/fluxcd/");
        for document in documents(path, text) {
            if is_flux {
                assert_eq!(document["metadata"]["namespace"], ns, "{path}");
                if let Err(violations) = crds.validate(&document) {
                    panic!("{path}: {} would be refused:\n{}---\n{text}", document["kind"], report(&violations));
                }
            } else {
                let kind = (document["apiVersion"].as_str().unwrap(), document["kind"].as_str().unwrap());
                assert!(
                    [
                        ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
                        ("v1", "Namespace"),
                        ("apps/v1", "Deployment"),
                        ("v1", "Service")
                    ]
                    .contains(&kind),
                    "{path}: unexpected {kind:?}"
                );
            }
        }
    }

    for env in envs {
        let instance = format!("{app}-{env}");
        let dir = format!("{env}/apps/{app}");

        // The app's kustomize directory lists exactly its files, each holding one object.
        let kustomize = object(files, &format!("{dir}/kustomization.yaml"), "Kustomization");
        assert_eq!(kustomize["namespace"], instance);
        let listed: BTreeSet<String> = kustomize["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{dir}/{}", r.as_str().unwrap()))
            .collect();
        let present: BTreeSet<String> = files
            .keys()
            .filter(|p| p.starts_with(&format!("{dir}/")) && !p.ends_with("/kustomization.yaml"))
            .cloned()
            .collect();
        assert_eq!(listed, present);
        let namespace = object(files, &format!("{dir}/namespace.yaml"), "Namespace");
        assert_eq!(namespace["metadata"]["name"], instance);

        // The Deployment selects its pods, the Service routes to them and to a declared port.
        let deployment_path = format!("{dir}/deployment.yaml");
        let deployment = object(files, &deployment_path, "Deployment");
        assert_eq!(deployment["apiVersion"], "apps/v1");
        assert!(deployment["metadata"].get("namespace").is_none(), "the kustomization sets it");
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(labels_match(&deployment["spec"]["selector"]["matchLabels"], pod_labels), "{deployment:#}");
        let containers = deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1);
        let container = &containers[0];
        let port_names: Vec<&Value> = container["ports"].as_array().unwrap().iter().map(|p| &p["name"]).collect();
        for probe in ["livenessProbe", "readinessProbe"] {
            assert!(port_names.contains(&&container[probe]["httpGet"]["port"]), "{probe}");
        }
        assert_eq!(container["ports"][0]["containerPort"], 8080);
        let service = object(files, &format!("{dir}/service.yaml"), "Service");
        assert_eq!(service["apiVersion"], "v1");
        assert!(labels_match(&service["spec"]["selector"], pod_labels), "{service:#}");
        assert!(port_names.contains(&&service["spec"]["ports"][0]["targetPort"]));

        // The image line carries a well-formed marker naming this environment's policy.
        let markers = image_markers(&files[&deployment_path]);
        assert_eq!(markers.len(), 1, "{}", files[&deployment_path]);
        assert_eq!(markers[0].image, container["image"].as_str().unwrap());
        assert_eq!(markers[0].image, format!("{}:0.1.0", settings.image));
        assert_eq!(markers[0].policy(), Some((ns, instance.as_str())));

        // The Flux objects point at the app's directory, its Deployment and one another.
        let fluxcd = format!("{env}/fluxcd/{app}.yaml");
        let kustomization = object(files, &fluxcd, "Kustomization");
        assert_eq!(kustomization["metadata"]["name"], instance);
        assert_eq!(kustomization["spec"]["path"], format!("./{dir}"));
        assert_eq!(kustomization["spec"]["prune"], true);
        assert_eq!(kustomization["spec"]["sourceRef"], json!({"kind": "GitRepository", "name": DEFAULT_SOURCE_NAME}));
        assert_eq!(
            kustomization["spec"]["healthChecks"],
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"], "namespace": instance}])
        );
        let repository = object(files, &fluxcd, "ImageRepository");
        assert_eq!(repository["spec"]["image"], settings.image);
        let policy = object(files, &fluxcd, "ImagePolicy");
        assert_eq!(policy["metadata"]["name"], instance);
        assert_eq!(policy["spec"]["imageRepositoryRef"]["name"], repository["metadata"]["name"]);
        let automation = object(files, &fluxcd, "ImageUpdateAutomation");
        assert_eq!(automation["spec"]["update"], json!({"path": format!("./{dir}"), "strategy": "Setters"}));
        assert!(labels_match(&automation["spec"]["policySelector"]["matchLabels"], &policy["metadata"]["labels"]));
        let branch = settings.branch.as_str();
        assert_eq!(automation["spec"]["git"]["checkout"]["ref"]["branch"], branch);
        assert_eq!(automation["spec"]["git"]["push"]["branch"], branch);
        assert_eq!(automation["spec"]["sourceRef"]["name"], DEFAULT_SOURCE_NAME);

        // The environment's root applies the whole fluxcd directory, which lists nothing.
        let root = object(files, &format!("flux/{env}.yaml"), "Kustomization");
        assert_eq!(root["metadata"]["name"], *env);
        assert_eq!(root["spec"]["path"], format!("./{env}/fluxcd"));
        assert!(!files.contains_key(&format!("{env}/fluxcd/kustomization.yaml")));
    }

    let source = object(files, &format!("flux/{DEFAULT_SOURCE_NAME}.yaml"), "GitRepository");
    assert_eq!(source["spec"]["url"], settings.url);
    assert_eq!(source["spec"]["ref"]["branch"], settings.branch.as_str());
    let bootstrap = object(files, &format!("flux/{DEFAULT_SOURCE_NAME}.yaml"), "Kustomization");
    assert_eq!(bootstrap["spec"]["path"], "./flux");
    assert!(!files.contains_key("flux/kustomization.yaml"));
}

fn crds() -> Crds {
    Crds::load_reference_files(FLUX_CRDS).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_layout_of_two_environments() {
    let files = Settings::reference().files(&["qa", "staging"]);
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "flux/gitops.yaml",
            "flux/qa.yaml",
            "flux/staging.yaml",
            "qa/apps/payments/deployment.yaml",
            "qa/apps/payments/kustomization.yaml",
            "qa/apps/payments/namespace.yaml",
            "qa/apps/payments/service.yaml",
            "qa/fluxcd/payments.yaml",
            "staging/apps/payments/deployment.yaml",
            "staging/apps/payments/kustomization.yaml",
            "staging/apps/payments/namespace.yaml",
            "staging/apps/payments/service.yaml",
            "staging/fluxcd/payments.yaml",
        ]
    );
    let kinds: Vec<Value> = documents("qa/fluxcd/payments.yaml", &files["qa/fluxcd/payments.yaml"])
        .iter()
        .map(|d| d["kind"].clone())
        .collect();
    assert_eq!(kinds, ["Kustomization", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"]);
    assert!(Settings::reference().files(&[]).is_empty());
}

#[test]
fn every_generated_object_is_valid_and_the_layout_holds_together() {
    let crds = crds();
    let (longest_service, longest_env) = ("s".repeat(53), "e".repeat(9));
    for (settings, envs) in [
        (Settings::reference(), vec!["qa", "staging", "prod"]),
        (Settings::new("payments"), vec!["qa"]),
        // At the names' limits: `<name>-<env>` is 63 characters.
        (Settings::new(&longest_service), vec![longest_env.as_str(), "qa"]),
        // Names YAML 1.1 reads as booleans (`yes`, `on`, `y`, `no`) must be written quoted.
        (Settings { owner: Some(OwnerName::parse("on").unwrap()), ..Settings::new("yes") }, vec!["y", "no"]),
        // Per-environment dependencies, configured policies, another branch.
        (
            Settings {
                depends_on: vec![Dependency::PerEnvironment("infra".into()), Dependency::Shared("base".into())],
                tag_policies: BTreeMap::from([(EnvName::parse("staging").unwrap(), TagPolicy::CommitTimestamp)]),
                branch: BranchName::parse("release/gitops").unwrap(),
                url: "ssh://git@git.example.com/platform/gitops.git".into(),
                ..Settings::new("orders")
            },
            vec!["staging", "prod"],
        ),
    ] {
        let files = settings.files(&envs);
        assert_eq!(files.len(), 1 + 6 * envs.len());
        check_layout(&crds, &settings, &envs, &files);
    }
}

#[test]
fn qa_follows_commit_timestamps_and_staging_and_prod_follow_semver() {
    let files = Settings::reference().files(&["qa", "staging", "prod"]);
    let policy = |env: &str| object(&files, &format!("{env}/fluxcd/payments.yaml"), "ImagePolicy")["spec"].clone();
    assert_eq!(
        policy("qa"),
        json!({
            "imageRepositoryRef": {"name": "payments-qa"},
            "filterTags": {"pattern": "^[a-fA-F0-9]+-(?P<ts>.*)", "extract": "$ts"},
            "policy": {"numerical": {"order": "asc"}},
        })
    );
    for env in ["staging", "prod"] {
        assert_eq!(
            policy(env),
            json!({"imageRepositoryRef": {"name": format!("payments-{env}")}, "policy": {"semver": {"range": ">=0.0.0"}}}),
        );
    }

    // A configured policy replaces the default of its environment only.
    let settings = Settings {
        tag_policies: BTreeMap::from([
            (EnvName::parse("prod").unwrap(), TagPolicy::Semver(">=1.0.0 <2.0.0".into())),
            (EnvName::parse("dev").unwrap(), TagPolicy::CommitTimestamp),
        ]),
        ..Settings::reference()
    };
    let files = settings.files(&["qa", "dev", "prod"]);
    let policy =
        |env: &str| object(&files, &format!("{env}/fluxcd/payments.yaml"), "ImagePolicy")["spec"]["policy"].clone();
    assert_eq!(policy("qa"), json!({"numerical": {"order": "asc"}}));
    assert_eq!(policy("dev"), json!({"numerical": {"order": "asc"}}));
    assert_eq!(policy("prod"), json!({"semver": {"range": ">=1.0.0 <2.0.0"}}));
}

#[test]
fn the_image_line_carries_the_setter_marker() {
    let files = Settings::reference().files(&["qa", "staging"]);
    for env in ["qa", "staging"] {
        let text = &files[&format!("{env}/apps/payments/deployment.yaml")];
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("$imagepolicy")).collect();
        assert_eq!(
            lines,
            [format!(
                r#"        image: registry.example.com/platform/payments:0.1.0 # {{"$imagepolicy": "flux-system:payments-{env}"}}"#
            )]
        );
    }
    // A reference longer than a folded line stays on the image line.
    let long = Settings {
        image: format!("registry.example.com/{}/{}", "o".repeat(40), "s".repeat(53)),
        ..Settings::new(&"s".repeat(53))
    };
    let files = long.files(&["qa"]);
    let text = &files[&format!("qa/apps/{}/deployment.yaml", "s".repeat(53))];
    let markers = image_markers(text);
    assert_eq!(markers.len(), 1, "{text}");
    assert_eq!(markers[0].image, format!("{}:0.1.0", long.image));
}

#[test]
fn services_registered_one_after_another_do_not_clobber_each_other() {
    let crds = crds();
    let (payments, orders) = (Settings::reference(), Settings::new("orders"));
    let first = payments.files(&["qa", "staging"]);
    let second = orders.files(&["staging", "prod"]);
    // A file both write (the shared roots) is the same from either, so overlay commits in any
    // order leave the same tree; every other file belongs to one service.
    let shared: Vec<&String> = first.keys().filter(|p| second.contains_key(*p)).collect();
    assert_eq!(shared, ["flux/gitops.yaml", "flux/staging.yaml"]);
    for path in shared {
        assert_eq!(first[path], second[path], "{path}");
    }
    let mut tree = first.clone();
    tree.extend(second.clone());
    let mut other_order = second;
    other_order.extend(first);
    assert_eq!(tree, other_order);
    // Both services are in staging's fluxcd directory, which the root applies whole.
    let staging: Vec<&str> = tree.keys().filter(|p| p.starts_with("staging/fluxcd/")).map(String::as_str).collect();
    assert_eq!(staging, ["staging/fluxcd/orders.yaml", "staging/fluxcd/payments.yaml"]);
    check_layout(&crds, &payments, &["qa", "staging"], &tree);
    check_layout(&crds, &orders, &["staging", "prod"], &tree);
}

/// The problems `flux_files` reports, as (field, rule).
fn problems(settings: &Settings, edit: impl FnOnce(&mut FluxRegistration<'_>), envs: &[&str]) -> Vec<(String, String)> {
    let mut registration = settings.registration();
    edit(&mut registration);
    match flux_files(&registration, &envs_of(envs)) {
        Ok(_) => Vec::new(),
        Err(Error::Flux { service, source }) => {
            assert_eq!(service, settings.service.as_str());
            source.problems().iter().map(|p| (p.field.clone(), p.rule.to_owned())).collect()
        }
        Err(other) => panic!("{}", error_text(&other)),
    }
}

#[test]
fn a_name_too_long_for_an_environment_is_refused_naming_the_longest_that_fits() {
    let settings = Settings::new(&"s".repeat(53));
    assert!(problems(&settings, |_| {}, &["e".repeat(9).as_str()]).is_empty());
    let registration = settings.registration();
    let error = flux_files(&registration, &envs_of(&["qa", "production"])).unwrap_err();
    let text = error_text(&error);
    assert!(text.starts_with(&format!("cannot register {} with Flux", "s".repeat(53))), "{text}");
    assert!(text.contains("environments[1]"), "{text}");
    assert!(text.contains("shorten the name to at most 52 (too-long-for-environment)"), "{text}");
}

#[test]
fn every_problem_of_a_registration_is_reported_at_once() {
    let settings = Settings::new("payments");
    let found = problems(
        &settings,
        |r| {
            r.image = "registry.example.com/platform/payments:1.0";
            r.initial_tag = "-latest";
            r.port = 0;
            r.health_path = "healthz";
            r.gitops.url = "file:///var/lib/orchestrator/git/platform/gitops.git";
            r.gitops.name = "GitOps";
            r.flux_namespace = "flux_system";
            r.commit_author = CommitAuthor { name: " ", email: "flux" };
            r.tag_policies.insert(EnvName::parse("prod").unwrap(), TagPolicy::Semver(" ".into()));
            r.depends_on = vec![Dependency::Shared("Infra".into()), Dependency::PerEnvironment("payments".into())];
        },
        &["qa", "flux", "qa"],
    );
    let expected = [
        ("image", "image-with-tag"),
        ("initial_tag", "invalid-tag"),
        ("port", "invalid-port"),
        ("health_path", "invalid-path"),
        ("gitops.url", "unsupported-url"),
        ("gitops.name", "invalid-name"),
        ("flux_namespace", "invalid-name"),
        ("commit_author.name", "required"),
        ("commit_author.email", "invalid-email"),
        ("tag_policies.prod", "invalid-range"),
        ("depends_on[0]", "invalid-name"),
        ("depends_on[1]", "self-dependency"),
        ("environments[1]", "reserved"),
        ("environments[2]", "duplicate"),
        ("depends_on[1]", "self-dependency"),
    ];
    let mut found = found;
    let mut expected: Vec<(String, String)> =
        expected.iter().map(|(f, r)| ((*f).to_owned(), (*r).to_owned())).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);

    // An environment named like the GitRepository would share its Kustomization's name.
    assert_eq!(problems(&settings, |_| {}, &["gitops"]), [("environments[0]".to_owned(), "reserved".to_owned())]);
    // Digests and uppercase are not repository references either.
    assert_eq!(
        problems(&settings, |r| r.image = "registry.example.com/platform/payments@sha256:abc", &["qa"]),
        [("image".to_owned(), "image-with-tag".to_owned())]
    );
    assert_eq!(
        problems(&settings, |r| r.image = "Registry.example.com/payments", &["qa"]),
        [("image".to_owned(), "invalid-image".to_owned())]
    );
    // A registry with a port is fine.
    assert!(problems(&settings, |r| r.image = "localhost:5000/platform/payments", &["qa"]).is_empty());
}

#[test]
fn golden_files_of_a_reference_service() {
    let files = Settings::reference().files(&["qa", "staging"]);
    for (path, text) in &files {
        insta::assert_snapshot!(path.replace('/', "__"), text);
    }
}
