//! The objects a workspace becomes, its phase and its CRD, checked without a cluster.

use super::*;
use kube::Resource;

fn workspace(owner: &str, short: &str) -> Workspace {
    let mut ws = Workspace::new(
        &format!("alice-{short}-0a1b2c3d"),
        WorkspaceSpec {
            owner: owner.to_owned(),
            display_name: short.to_owned(),
            user: "alice".to_owned(),
            cpu: "2".to_owned(),
            memory: "4Gi".to_owned(),
            storage: "20Gi".to_owned(),
            ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOZ1".to_owned(),
            image: "lscr.io/linuxserver/openssh-server:latest".to_owned(),
        },
    );
    ws.metadata.namespace = Some("workspaces".to_owned());
    ws.metadata.uid = Some("6a1f0c2e-0000-4000-8000-000000000001".to_owned());
    ws.metadata.generation = Some(1);
    ws
}

#[test]
fn every_object_is_owned_labelled_and_selected_consistently() {
    let ws = workspace("alice@iiitm.ac.in", "devbox");
    let settings = Settings { storage_class: Some("fast".into()), ..Settings::default() };
    let name = ws.meta().name.clone().unwrap();
    let (pvc, deployment, service) = (claim(&ws, &settings), deployment(&ws, &settings), service(&ws));
    for meta in [&pvc.metadata, &deployment.metadata, &service.metadata] {
        assert_eq!(meta.name.as_deref(), Some(name.as_str()));
        assert_eq!(meta.namespace.as_deref(), Some("workspaces"));
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Workspace", "6a1f0c2e-0000-4000-8000-000000000001"));
        assert_eq!(owner.controller, Some(true));
        assert_eq!(meta.labels.as_ref().unwrap()[OWNER_LABEL], owner_label("alice@iiitm.ac.in"));
    }
    let spec = deployment.spec.unwrap();
    let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
    let selected = spec.selector.match_labels.unwrap();
    assert!(selected.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    assert_eq!(service.spec.as_ref().unwrap().selector.as_ref().unwrap(), &selected);
    assert_eq!(service.spec.as_ref().unwrap().type_.as_deref(), Some("NodePort"));
    let pod = spec.template.spec.unwrap();
    let container = &pod.containers[0];
    let env: BTreeMap<_, _> =
        container.env.as_ref().unwrap().iter().map(|e| (e.name.as_str(), e.value.as_deref().unwrap())).collect();
    assert_eq!(env["PUBLIC_KEY"], ws.spec.ssh_public_key);
    assert_eq!(env["PASSWORD_ACCESS"], "false");
    let resources = container.resources.as_ref().unwrap();
    assert_eq!(resources.requests, resources.limits);
    assert_eq!(resources.limits.as_ref().unwrap()["memory"], Quantity("4Gi".into()));
    assert_eq!(pod.volumes.unwrap()[0].persistent_volume_claim.as_ref().unwrap().claim_name, name);
    let claim_spec = pvc.spec.unwrap();
    assert_eq!(claim_spec.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(claim_spec.resources.unwrap().requests.unwrap()["storage"], Quantity("20Gi".into()));
}

#[test]
fn the_phase_follows_the_replica_and_the_port_and_conditions_keep_their_transition_time() {
    let mut ws = workspace("alice@iiitm.ac.in", "devbox");
    let settings = Settings { access_host: "ws.example.com".into(), ..Settings::default() };
    let t0 = jiff::Timestamp::from_second(1_700_000_000).unwrap();
    let t1 = jiff::Timestamp::from_second(1_700_000_060).unwrap();

    let waiting = status(&ws, &Observed { node_port: Some(30001), ..Default::default() }, &settings, t0);
    assert_eq!(waiting.phase, Some(Phase::Provisioning));
    assert_eq!(waiting.access_command.as_deref(), Some("ssh -p 30001 alice@ws.example.com"));
    ws.status = Some(waiting);

    let ready = status(&ws, &Observed { node_port: Some(30001), available_replicas: 1, refused: None }, &settings, t1);
    assert_eq!(ready.phase, Some(Phase::Ready));
    let since =
        |s: &WorkspaceStatus, t: &str| s.conditions.iter().find(|c| c.type_ == t).unwrap().last_transition_time.0;
    assert_eq!(since(&ready, "Ready"), t1, "Ready turned True now");
    assert_eq!(since(&ready, "PortAllocated"), t0, "the port was allocated before");
    assert_eq!(ready.observed_generation, Some(1));

    let refused = Observed { refused: Some("storage class fast does not exist".into()), ..Default::default() };
    let failed = status(&ws, &refused, &settings, t1);
    assert_eq!(failed.phase, Some(Phase::Failed));
    assert_eq!(failed.message.as_deref(), Some("storage class fast does not exist"));
}

#[test]
fn the_crd_is_namespaced_with_a_status_subresource() {
    use kube::CustomResourceExt;
    let crd = Workspace::crd();
    assert_eq!(crd.metadata.name.as_deref(), Some("workspaces.orchestrator.dev"));
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let schema = serde_json::to_value(&version.schema).unwrap();
    let required = &schema["openAPIV3Schema"]["properties"]["spec"]["required"];
    for field in ["owner", "cpu", "memory", "storage", "sshPublicKey", "image"] {
        assert!(required.as_array().unwrap().iter().any(|f| f == field), "{field} required: {required}");
    }
}
