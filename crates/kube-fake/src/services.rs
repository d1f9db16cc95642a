//! What the API server fills into a Service: defaults, the cluster IP, and node ports from
//! 30000–32767 for `NodePort` and `LoadBalancer` services.

use crate::error::Cause;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

pub(crate) const NODE_PORTS: RangeInclusive<u64> = 30000..=32767;

/// Every node port a service holds.
pub(crate) fn node_ports(service: &Value) -> impl Iterator<Item = u64> + '_ {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
}

/// Fills defaults and allocations into `new`. `old` is the stored service on an update (its
/// cluster IP and node ports carry over when the update leaves them out, as the API server's
/// `patchAllocatedValues` does); `taken` are the node ports other services hold.
pub(crate) fn allocate(
    new: &mut Value,
    old: Option<&Value>,
    taken: &BTreeSet<u64>,
    next_ip: &mut u32,
) -> Result<(), Vec<Cause>> {
    let Some(object) = new.as_object_mut() else { return Ok(()) };
    let spec = object.entry("spec").or_insert_with(|| Value::Object(Map::new()));
    let Some(spec) = spec.as_object_mut() else {
        return Err(vec![Cause::invalid("spec", spec, "must be an object")]);
    };
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    spec.insert("type".into(), service_type.clone().into());
    spec.entry("sessionAffinity").or_insert_with(|| "None".into());
    let mut problems = Vec::new();

    if service_type != "ExternalName" {
        let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP")).and_then(Value::as_str).filter(|ip| !ip.is_empty());
        let requested = spec.get("clusterIP").and_then(Value::as_str).filter(|ip| !ip.is_empty()).map(str::to_string);
        let ip = match (requested, old_ip) {
            (Some(new_ip), Some(old_ip)) if new_ip != old_ip => {
                problems.push(Cause::invalid("spec.clusterIP", &new_ip.clone().into(), "field is immutable"));
                new_ip
            }
            (Some(ip), _) => ip,
            (None, Some(old_ip)) => old_ip.to_string(),
            (None, None) => {
                let n = *next_ip;
                *next_ip += 1;
                format!("10.96.{}.{}", n / 256, n % 256)
            }
        };
        spec.insert("clusterIPs".into(), json!([ip]));
        spec.insert("clusterIP".into(), ip.into());
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert_with(|| "SingleStack".into());
        spec.entry("internalTrafficPolicy").or_insert_with(|| "Cluster".into());
    }

    let wants_node_ports = service_type == "NodePort" || service_type == "LoadBalancer";
    if wants_node_ports {
        spec.entry("externalTrafficPolicy").or_insert_with(|| "Cluster".into());
    }
    let old_ports: Vec<Value> =
        old.and_then(|o| o.pointer("/spec/ports")).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut in_use: BTreeSet<u64> = taken.clone();
    let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else {
        return if problems.is_empty() { Ok(()) } else { Err(problems) };
    };
    // Explicit node ports are claimed first, so allocation never hands one out twice.
    for (i, port) in ports.iter_mut().enumerate() {
        let Some(port) = port.as_object_mut() else { continue };
        port.entry("protocol").or_insert_with(|| "TCP".into());
        if let Some(number) = port.get("port").cloned() {
            port.entry("targetPort").or_insert(number);
        }
        if !wants_node_ports {
            port.remove("nodePort");
            continue;
        }
        let Some(requested) = port.get("nodePort").filter(|v| v.as_u64() != Some(0)).cloned() else { continue };
        let field = format!("spec.ports[{i}].nodePort");
        match requested.as_u64() {
            Some(n) if !NODE_PORTS.contains(&n) => problems.push(Cause::invalid(
                &field,
                &requested,
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            )),
            Some(n) if taken.contains(&n) => {
                problems.push(Cause::invalid(&field, &requested, "provided port is already allocated"));
            }
            Some(n) if in_use.contains(&n) => {
                problems.push(Cause {
                    reason: "FieldValueDuplicate".into(),
                    message: format!("Duplicate value: {n}"),
                    field,
                });
            }
            Some(n) => {
                in_use.insert(n);
            }
            None => problems.push(Cause::invalid(&field, &requested, "must be an integer")),
        }
    }
    if wants_node_ports {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if port.get("nodePort").and_then(Value::as_u64).is_some_and(|n| n != 0) {
                continue;
            }
            let same = |p: &&Value| {
                p.get("port") == port.get("port") && p.get("protocol").unwrap_or(&json!("TCP")) == &port["protocol"]
            };
            let kept = old_ports.iter().find(same).and_then(|p| p.get("nodePort")).and_then(Value::as_u64);
            let chosen =
                kept.filter(|n| !in_use.contains(n)).or_else(|| NODE_PORTS.clone().find(|n| !in_use.contains(n)));
            match chosen {
                Some(n) => {
                    in_use.insert(n);
                    port.insert("nodePort".into(), n.into());
                }
                None => problems.push(Cause::invalid("spec.ports", &Value::Null, "range is full")),
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_port_service(ports: Value) -> Value {
        json!({"spec": {"type": "NodePort", "ports": ports}})
    }

    #[test]
    fn allocates_the_lowest_free_ports_and_an_ip() {
        let taken = BTreeSet::from([30000]);
        let mut next_ip = 10;
        let mut svc = node_port_service(json!([{"port": 22}, {"port": 80, "nodePort": 30001}]));
        allocate(&mut svc, None, &taken, &mut next_ip).expect("allocates");
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], json!(30002));
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], json!(22));
        assert_eq!(svc["spec"]["clusterIP"], json!("10.96.0.10"));
    }

    #[test]
    fn taken_and_out_of_range_ports_are_invalid() {
        let taken = BTreeSet::from([30000]);
        let mut svc = node_port_service(json!([{"port": 22, "nodePort": 30000}, {"port": 80, "nodePort": 80}]));
        let problems = allocate(&mut svc, None, &taken, &mut 10).expect_err("invalid");
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.contains("already allocated"));
        assert!(problems[1].message.contains("valid range"));
    }

    #[test]
    fn updates_keep_allocated_values() {
        let mut old = node_port_service(json!([{"port": 22}]));
        allocate(&mut old, None, &BTreeSet::new(), &mut 10).expect("allocates");
        let mut new = node_port_service(json!([{"port": 22}]));
        allocate(&mut new, Some(&old), &BTreeSet::new(), &mut 10).expect("keeps");
        assert_eq!(new["spec"]["ports"], old["spec"]["ports"]);
        assert_eq!(new["spec"]["clusterIP"], old["spec"]["clusterIP"]);
    }
}
