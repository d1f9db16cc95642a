//! One service, two ways of deploying it: the generated infra chart (Argo CD, Helm)
//! and the Flux layout's plain manifests must describe the same Deployment and Service, or a
//! service registered with both would have two controllers fight over immutable selectors.

use provision_core::{BranchName, EnvName, ServiceName};
use provision_gitops::flux::{CommitAuthor, DEFAULT_NAMESPACE, FluxRegistration, GitOpsRepo, deployment, service};
use provision_helm::{BaseChart, infra_files};
use serde_json::Value;
use test_harness::helm::{CHART_NAME, CHART_VERSION, helm, one};

#[test]
fn the_chart_and_the_flux_manifests_select_and_route_to_the_same_pods() {
    let name = ServiceName::parse("payments").unwrap();
    let image = "registry.example.com/platform/payments";
    let spec = crate::spec(&name, image);
    let base = BaseChart { name: CHART_NAME.into(), version: CHART_VERSION.into(), repository: "https://c".into() };
    let branch = BranchName::main();
    let reg = FluxRegistration {
        service: &name,
        owner: None,
        image,
        initial_tag: "latest",
        port: 8080,
        health_path: "/healthz",
        ready_path: "/readyz",
        gitops: GitOpsRepo {
            name: "gitops",
            url: "https://git.example.com/platform/gitops.git",
            branch: &branch,
            secret: None,
        },
        flux_namespace: DEFAULT_NAMESPACE,
        tag_policies: Default::default(),
        depends_on: Vec::new(),
        commit_author: CommitAuthor { name: "Flux", email: "flux@example.com" },
    };
    let helm = helm();
    for env in ["qa", "prod"].map(|e| EnvName::parse(e).unwrap()) {
        let files = infra_files(&spec, &base, std::slice::from_ref(&env)).unwrap();
        let infra = crate::infra_chart(&helm, &files);
        let layered = [infra.path().join("values.yaml"), infra.path().join(format!("values-{env}.yaml"))];
        let namespace = name.namespace(&env);
        let objects = helm.render(infra.path(), name.as_str(), &namespace, &layered).unwrap();
        let chart_deployment = one(&objects, "Deployment");
        let chart_service = one(&objects, "Service");
        let flux_deployment = serde_json::to_value(deployment(&reg, &env)).unwrap();
        let flux_service = serde_json::to_value(service(&reg, &env)).unwrap();

        assert_eq!(chart_deployment["metadata"]["name"], flux_deployment["metadata"]["name"], "{env}");
        assert_eq!(chart_service["metadata"]["name"], flux_service["metadata"]["name"], "{env}");
        let selector = &chart_deployment["spec"]["selector"]["matchLabels"];
        assert_eq!(selector, &flux_deployment["spec"]["selector"]["matchLabels"], "{env}");
        assert_eq!(&chart_service["spec"]["selector"], selector, "{env}");
        assert_eq!(&flux_service["spec"]["selector"], selector, "{env}");
        for pod in [chart_deployment, &flux_deployment] {
            let labels = &pod["spec"]["template"]["metadata"]["labels"];
            for (key, value) in selector.as_object().unwrap() {
                assert_eq!(&labels[key], value, "{env}: the pods carry the selector");
            }
        }
        let container = |d: &Value| d["spec"]["template"]["spec"]["containers"][0].clone();
        let (chart_container, flux_container) = (container(chart_deployment), container(&flux_deployment));
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(chart_container[probe]["httpGet"]["path"], flux_container[probe]["httpGet"]["path"], "{env}");
        }
        assert_eq!(chart_container["resources"], flux_container["resources"], "{env}: one tier rule");
        assert_eq!(chart_deployment["spec"]["replicas"], flux_deployment["spec"]["replicas"], "{env}");
    }
}
