//! Tidy checks: invariants of the workspace itself, stated next to the tests that guard them.

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use std::process::Command;

    /// Each workspace crate and the workspace crates it may depend on (normal dependencies).
    /// Core ← template and the adapters (none imports another) ← app ← the binaries.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("provision-core", &[]),
        ("provision-template", &["provision-core"]),
        ("provision-git", &["provision-core"]),
        ("provision-helm", &["provision-core"]),
        ("provision-gitops", &["provision-core"]),
        ("provision-k8s", &["provision-core"]),
        ("provision-sealed", &["provision-core"]),
        ("provision-store", &["provision-core"]),
        ("provision-notify", &["provision-core"]),
        // Test support, dev-dependencies only: a fake Kubernetes API server, the CRD schema
        // checker, the shared harness, and the end-to-end tests.
        ("kube-fake", &[]),
        ("crd-schema", &[]),
        ("test-harness", &["kube-fake"]),
        ("e2e", &[]),
        (
            "orchestrator-app",
            &[
                "provision-core",
                "provision-template",
                "provision-git",
                "provision-gitops",
                "provision-helm",
                "provision-k8s",
                "provision-sealed",
                "provision-notify",
                "provision-store",
            ],
        ),
        ("orchestrator-cli", &["orchestrator-api", "orchestrator-app", "provision-core", "provision-template"]),
        ("orchestrator-api", &["orchestrator-app", "provision-core"]),
        ("xtask", &["orchestrator-api", "provision-k8s"]),
    ];

    /// Crates the I/O-free core must never reach, even transitively.
    const NOT_IN_CORE: &[&str] = &[
        "kube",
        "gix",
        "octocrab",
        "bollard",
        "lettre",
        "sqlx",
        "rusqlite",
        "axum",
        "clap",
        "tokio",
        "reqwest",
        "minijinja",
    ];

    fn metadata() -> Value {
        let out = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(crate::root())
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
    }

    #[test]
    fn workspace_dependencies_point_one_way() {
        let meta = metadata();
        let members: BTreeSet<&str> = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["source"].is_null())
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
        assert_eq!(members, allowed.keys().copied().collect(), "every workspace crate has a rule in ALLOWED");
        for p in meta["packages"].as_array().unwrap().iter().filter(|p| p["source"].is_null()) {
            let name = p["name"].as_str().unwrap();
            for dep in p["dependencies"].as_array().unwrap() {
                let dep_name = dep["name"].as_str().unwrap();
                if members.contains(dep_name) && dep["kind"].is_null() {
                    assert!(allowed[name].contains(&dep_name), "{name} must not depend on {dep_name}");
                }
            }
        }
    }

    #[test]
    fn the_core_reaches_no_io_crate() {
        let meta = metadata();
        let packages: BTreeMap<&str, &str> = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let nodes: BTreeMap<&str, Vec<(&str, bool)>> = meta["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let deps = n["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        let normal = d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null());
                        (d["pkg"].as_str().unwrap(), normal)
                    })
                    .collect();
                (n["id"].as_str().unwrap(), deps)
            })
            .collect();
        let core = packages.iter().find(|(_, n)| **n == "provision-core").map(|(id, _)| *id).unwrap();
        let mut seen = BTreeSet::new();
        let mut todo = vec![core];
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            for (dep, normal) in &nodes[id] {
                if *normal {
                    todo.push(dep);
                }
            }
        }
        let reached: BTreeSet<&str> = seen.iter().map(|id| packages[id]).collect();
        for banned in NOT_IN_CORE {
            assert!(!reached.contains(banned), "provision-core reaches {banned}");
        }
    }
}
