//! Tidy checks: invariants of the workspace itself, stated next to the tests that guard them.

#[cfg(test)]
mod tests {
    use crate::graph::{Graph, TEST_ONLY};
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Each workspace crate and the workspace crates it may depend on (normal dependencies).
    /// Core ← template, the monorepo's model and the adapters (none imports another) ← app ← the binaries; the
    /// test-only crates are dev-dependencies of the others, never normal ones.
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
        // The monorepo's model: pure, like the core it builds on.
        ("provision-project", &["provision-core"]),
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
                "provision-notify",
                "provision-project",
                "provision-sealed",
                "provision-store",
            ],
        ),
        ("orchestrator-api", &["orchestrator-app", "provision-core"]),
        ("orchestrator-cli", &["orchestrator-api", "orchestrator-app", "provision-core", "provision-template"]),
        ("xtask", &["orchestrator-api", "provision-k8s"]),
    ];

    /// The libraries that talk to another system, and the only crates that may use them
    /// (normal dependencies; test-only crates may use anything). The application wires the
    /// adapters and uses none of these itself.
    const OWNERS: &[(&str, &[&str])] = &[
        ("kube", &["provision-k8s"]),
        ("gix", &["provision-git"]),
        ("gix-pack", &["provision-git"]),
        ("octocrab", &["provision-git"]),
        ("bollard", &["provision-docker"]),
        ("lettre", &["provision-notify"]),
        ("sqlx", &["provision-store"]),
        ("rusqlite", &["provision-store"]),
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

    fn graph() -> Graph {
        Graph::read().expect("cargo metadata answers")
    }

    #[test]
    fn workspace_dependencies_point_one_way() {
        let graph = graph();
        let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
        let members: BTreeSet<&str> = graph.edges.keys().map(String::as_str).collect();
        assert_eq!(members, allowed.keys().copied().collect(), "every workspace crate has a rule in ALLOWED");
        for (name, deps) in &graph.edges {
            for dep in deps {
                assert!(allowed[name.as_str()].contains(&dep.as_str()), "{name} must not depend on {dep}");
                assert!(
                    !TEST_ONLY.contains(&dep.as_str()) || TEST_ONLY.contains(&name.as_str()),
                    "{name} ships with {dep}"
                );
            }
        }
    }

    #[test]
    fn each_outside_system_s_library_is_used_by_its_adapter_only() {
        let graph = graph();
        for (name, deps) in graph.external.iter().filter(|(n, _)| !TEST_ONLY.contains(&n.as_str())) {
            for (library, owners) in OWNERS {
                if deps.contains(*library) {
                    assert!(owners.contains(&name.as_str()), "{name} uses {library}, which only {owners:?} may");
                }
            }
        }
    }

    #[test]
    fn the_core_reaches_no_io_crate() {
        let meta = graph().metadata;
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

    #[test]
    fn the_architecture_document_shows_the_real_crate_map() {
        let text = std::fs::read_to_string(crate::root().join(crate::codegen::ARCHITECTURE)).unwrap();
        let expected = crate::graph::with_map(&text, &graph().map()).unwrap();
        assert!(text == expected, "docs/ARCHITECTURE.md's crate map is not the workspace's: run `cargo xtask codegen`");
    }

    /// Every Rust file of the workspace (sources, tests, examples, build scripts), never the
    /// target directory.
    fn rust_files() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let root = crate::root();
        let mut files = Vec::new();
        for dir in ["crates", "tests", "xtask"] {
            walk(&root.join(dir), &mut files);
        }
        assert!(files.len() > 100, "found only {} Rust files", files.len());
        files
    }

    #[test]
    fn every_module_says_what_it_is_for() {
        let missing: Vec<String> = rust_files()
            .into_iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap();
                !text.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with("//!"))
            })
            .map(|p| p.display().to_string())
            .collect();
        assert!(
            missing.is_empty(),
            "these files do not start with a `//!` line saying what they are for: {missing:#?}"
        );
    }

    #[test]
    fn no_test_passes_by_panicking() {
        let attribute = ["#[should", "_panic"].concat();
        let offending: Vec<String> = rust_files()
            .into_iter()
            .filter(|path| std::fs::read_to_string(path).unwrap().contains(&attribute))
            .map(|p| p.display().to_string())
            .collect();
        assert!(offending.is_empty(), "assert what a test expects instead of {attribute}]: {offending:#?}");
    }
}
