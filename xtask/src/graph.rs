//! The workspace's crates and their dependencies on each other, read from `cargo metadata`:
//! the rules they must keep (checked by the tidy tests) and the map `docs/ARCHITECTURE.md`
//! shows (written by `cargo xtask codegen`, compared by the tidy tests).

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::Command;

/// Crates that only tests use: never a normal dependency of a crate that ships.
pub const TEST_ONLY: &[&str] = &["kube-fake", "crd-schema", "test-harness", "e2e"];

/// What the workspace is made of, as `cargo metadata` says.
pub struct Graph {
    /// Every workspace crate and the workspace crates it depends on (normal dependencies).
    pub edges: BTreeMap<String, BTreeSet<String>>,
    /// Every workspace crate and the outside crates it depends on directly (normal dependencies).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tidy tests"))]
    pub external: BTreeMap<String, BTreeSet<String>>,
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tidy tests"))]
    pub metadata: Value,
}

impl Graph {
    pub fn read() -> Result<Graph> {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(crate::root())
            .output()
            .context("cannot run cargo metadata")?;
        ensure!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let metadata: Value = serde_json::from_slice(&out.stdout).context("cargo metadata prints JSON")?;
        let packages = metadata["packages"].as_array().context("packages")?;
        let members: BTreeSet<String> = packages
            .iter()
            .filter(|p| p["source"].is_null())
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let mut edges = BTreeMap::new();
        let mut external = BTreeMap::new();
        for p in packages.iter().filter(|p| p["source"].is_null()) {
            let name = p["name"].as_str().context("a package name")?.to_owned();
            let normal = p["dependencies"]
                .as_array()
                .context("dependencies")?
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_owned));
            let (inside, outside): (BTreeSet<String>, BTreeSet<String>) = normal.partition(|d| members.contains(d));
            edges.insert(name.clone(), inside);
            external.insert(name, outside);
        }
        Ok(Graph { edges, external, metadata })
    }

    /// The map for `docs/ARCHITECTURE.md`: per layer, each crate and what it depends on in the
    /// workspace.
    pub fn map(&self) -> String {
        let depth = self.depths();
        let mut out = String::from("```text\n");
        let shipped = |name: &&String| !TEST_ONLY.contains(&name.as_str()) && name.as_str() != "xtask";
        let mut layers: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
        for name in self.edges.keys().filter(shipped) {
            layers.entry(depth[name]).or_default().push(name);
        }
        for crates in layers.values() {
            for name in crates {
                let deps: Vec<&str> = self.edges[*name].iter().map(String::as_str).collect();
                let deps = if deps.is_empty() { "(nothing of the workspace)".to_owned() } else { deps.join(", ") };
                let _ = writeln!(out, "{name:<18} ← {deps}");
            }
        }
        out.push_str("\ntests only (dev-dependencies):\n");
        for name in self.edges.keys().filter(|n| TEST_ONLY.contains(&n.as_str())) {
            let deps: Vec<&str> = self.edges[name].iter().map(String::as_str).collect();
            let deps = if deps.is_empty() { "(nothing of the workspace)".to_owned() } else { deps.join(", ") };
            let _ = writeln!(out, "{name:<18} ← {deps}");
        }
        out.push_str("```\n");
        out
    }

    /// How far each crate is from the bottom: 0 for one depending on no workspace crate.
    fn depths(&self) -> BTreeMap<&String, usize> {
        let mut depth: BTreeMap<&String, usize> = BTreeMap::new();
        // The graph is acyclic (cargo refuses cycles of normal dependencies): relax until fixed.
        loop {
            let mut changed = false;
            for (name, deps) in &self.edges {
                let d = deps.iter().map(|dep| depth.get(dep).map_or(1, |d| d + 1)).max().unwrap_or(0);
                if depth.get(name) != Some(&d) {
                    depth.insert(name, d);
                    changed = true;
                }
            }
            if !changed {
                return depth;
            }
        }
    }
}

/// The markers around the generated map in `docs/ARCHITECTURE.md`.
pub const BEGIN: &str = "<!-- crate map: written by `cargo xtask codegen` from `cargo metadata`; do not edit -->\n";
pub const END: &str = "<!-- end of crate map -->\n";

/// `text` with what stands between the markers replaced by `map`.
pub fn with_map(text: &str, map: &str) -> Result<String> {
    let start = text.find(BEGIN).context("docs/ARCHITECTURE.md has no crate map marker")? + BEGIN.len();
    let end = text[start..].find(END).context("docs/ARCHITECTURE.md has no end of the crate map")? + start;
    Ok(format!("{}{map}{}", &text[..start], &text[end..]))
}
