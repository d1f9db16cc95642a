//! Services: cluster IPs and node ports.

use crate::*;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, Patch, PatchParams};

fn node_port_service(name: &str, node_port: Option<i32>) -> Value {
    let mut port = json!({"name": "ssh", "port": 22});
    if let Some(n) = node_port {
        port["nodePort"] = json!(n);
    }
    json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [port]},
    })
}

fn node_port(service: &Service) -> Option<i32> {
    service.spec.as_ref()?.ports.as_ref()?[0].node_port
}

#[tokio::test]
async fn node_ports_are_allocated_checked_and_released() {
    let (_server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let pp = PatchParams::apply("orchestrator");
    let first = api.patch("a", &pp, &Patch::Apply(node_port_service("a", None))).await.unwrap();
    assert_eq!(node_port(&first), Some(30000), "the lowest free port");
    let spec = first.spec.as_ref().unwrap();
    assert!(spec.cluster_ip.as_deref().is_some_and(|ip| ip.starts_with("10.96.")));
    assert_eq!(spec.ports.as_ref().unwrap()[0].protocol.as_deref(), Some("TCP"));
    let second = api.patch("b", &pp, &Patch::Apply(node_port_service("b", None))).await.unwrap();
    assert_eq!(node_port(&second), Some(30001));
    assert_ne!(second.spec.as_ref().unwrap().cluster_ip, spec.cluster_ip);

    let again = api.patch("a", &pp, &Patch::Apply(node_port_service("a", None))).await.unwrap();
    assert_eq!(node_port(&again), Some(30000), "re-applying keeps the allocated port");
    assert_eq!(again.metadata.resource_version, first.metadata.resource_version);

    let taken = api_error(api.patch("c", &pp, &Patch::Apply(node_port_service("c", Some(30001)))).await);
    assert_eq!((taken.code, taken.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        taken.message,
        "Service \"c\" is invalid: spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated"
    );
    let outside = api_error(api.patch("c", &pp, &Patch::Apply(node_port_service("c", Some(8080)))).await);
    assert!(
        outside.message.contains("provided port is not in the valid range. The range of valid ports is 30000-32767"),
        "{}",
        outside.message
    );

    api.delete("b", &DeleteParams::default()).await.unwrap();
    let reused = api.patch("c", &pp, &Patch::Apply(node_port_service("c", Some(30001)))).await.unwrap();
    assert_eq!(node_port(&reused), Some(30001), "freed with the service");

    let cluster_ip =
        api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"spec": {"type": "ClusterIP"}}))).await.unwrap();
    assert_eq!(node_port(&cluster_ip), None, "a ClusterIP service has no node ports");
    let taken_back = api.patch("d", &pp, &Patch::Apply(node_port_service("d", None))).await.unwrap();
    assert_eq!(node_port(&taken_back), Some(30000));
}

#[tokio::test]
async fn service_names_are_dns_1035_labels_and_updates_keep_the_ip() {
    let (_server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let err = api_error(
        api.create(&PostParams::default(), &serde_json::from_value(node_port_service("1ssh", None)).unwrap()).await,
    );
    assert_eq!(err.code, 422);
    assert!(err.message.contains("a DNS-1035 label must consist of"), "{}", err.message);

    let created = api
        .create(&PostParams::default(), &serde_json::from_value(node_port_service("ssh", None)).unwrap())
        .await
        .unwrap();
    let mut replacement: Service = serde_json::from_value(node_port_service("ssh", None)).unwrap();
    replacement.metadata.resource_version = created.metadata.resource_version.clone();
    let replaced = api.replace("ssh", &PostParams::default(), &replacement).await.unwrap();
    assert_eq!(replaced.spec.as_ref().unwrap().cluster_ip, created.spec.as_ref().unwrap().cluster_ip);
    assert_eq!(node_port(&replaced), node_port(&created), "a PUT without them keeps the allocations");
    let mut moved = replaced.clone();
    moved.spec.as_mut().unwrap().cluster_ip = Some("10.0.0.1".into());
    moved.spec.as_mut().unwrap().cluster_ips = None;
    let err = api_error(api.replace("ssh", &PostParams::default(), &moved).await);
    assert!(err.message.contains("spec.clusterIP: Invalid value: \"10.0.0.1\": field is immutable"), "{}", err.message);
}
