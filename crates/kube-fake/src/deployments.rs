//! Deployments: the API server's defaults, and the status kube-controller-manager and the
//! kubelets would report once the pods run (or would not, for a test that says so).

use serde_json::{Map, Value, json};

/// The defaults a Deployment gets on every write (`SetDefaults_Deployment`, the parts that
/// controllers read).
pub(crate) fn default(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    spec.entry("replicas").or_insert_with(|| 1.into());
    spec.entry("revisionHistoryLimit").or_insert_with(|| 10.into());
    spec.entry("progressDeadlineSeconds").or_insert_with(|| 600.into());
    spec.entry("strategy").or_insert_with(
        || json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
    );
    let containers = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(|s| s.get_mut("containers"))
        .and_then(Value::as_array_mut);
    for container in containers.into_iter().flatten() {
        let ports = container.get_mut("ports").and_then(Value::as_array_mut);
        for port in ports.into_iter().flatten().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| "TCP".into());
        }
    }
}

/// The status a Deployment settles at: all replicas up to date and available, or (when the
/// test holds it back) up to date but unavailable. Condition times are kept from `current`
/// when the condition did not change, so settling twice writes nothing.
pub(crate) fn settled_status(deployment: &Value, available: bool, now: &str) -> Value {
    let replicas = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let generation = deployment.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
    let name = deployment.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let current = deployment.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let condition = |kind: &str, status: &str, reason: &str, message: String| {
        let previous = current.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(kind));
        let same = previous
            .is_some_and(|c| c.get("status") == Some(&json!(status)) && c.get("reason") == Some(&json!(reason)));
        let time =
            |field: &str| previous.filter(|_| same).and_then(|c| c.get(field)).cloned().unwrap_or_else(|| now.into());
        json!({
            "type": kind, "status": status, "lastUpdateTime": time("lastUpdateTime"),
            "lastTransitionTime": time("lastTransitionTime"), "reason": reason, "message": message,
        })
    };
    let mut status = Map::new();
    status.insert("observedGeneration".into(), generation.into());
    // Zero counts are left out, as the API server's encoding of the typed status does.
    let mut count = |field: &str, n: i64| {
        if n != 0 {
            status.insert(field.into(), n.into());
        }
    };
    count("replicas", replicas);
    count("updatedReplicas", replicas);
    let conditions = if available {
        count("readyReplicas", replicas);
        count("availableReplicas", replicas);
        vec![
            condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into()),
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{name}\" has successfully progressed."),
            ),
        ]
    } else {
        count("unavailableReplicas", replicas);
        vec![
            condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            ),
            condition("Progressing", "True", "ReplicaSetUpdated", format!("ReplicaSet \"{name}\" is progressing.")),
        ]
    };
    status.insert("conditions".into(), conditions.into());
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_status_reports_every_replica() {
        let mut d = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3}});
        let status = settled_status(&d, true, "t1");
        assert_eq!(status["availableReplicas"], json!(3));
        assert_eq!(status["observedGeneration"], json!(2));
        d["status"] = status.clone();
        assert_eq!(settled_status(&d, true, "t2"), status, "settling again changes nothing");
        let held = settled_status(&d, false, "t3");
        assert_eq!(held["unavailableReplicas"], json!(3));
        assert!(held.get("availableReplicas").is_none());
        assert_eq!(held["conditions"][0]["lastTransitionTime"], json!("t3"));
    }
}
