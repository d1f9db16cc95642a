//! Generated files, committed so reviews see them and CI fails when they drift: the OpenAPI
//! document, the Workspace CRD, and the crate map in `docs/ARCHITECTURE.md`.

use anyhow::{Result, bail};

/// (path relative to the root, contents)
fn generated() -> Result<Vec<(&'static str, String)>> {
    let architecture = std::fs::read_to_string(crate::root().join(ARCHITECTURE))?;
    let map = crate::graph::Graph::read()?.map();
    Ok(vec![
        ("docs/openapi.json", orchestrator_api::openapi_json()),
        ("deploy/workspace-crd.yaml", provision_k8s::workspace::crd_yaml()),
        (ARCHITECTURE, crate::graph::with_map(&architecture, &map)?),
    ])
}

/// The code map, whose crate map is generated.
pub const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

pub fn run(check: bool) -> Result<()> {
    let root = crate::root();
    let mut stale = Vec::new();
    for (path, content) in generated()? {
        let file = root.join(path);
        let current = std::fs::read_to_string(&file).unwrap_or_default();
        if current == content {
            continue;
        }
        if check {
            stale.push(path);
        } else {
            std::fs::write(&file, content)?;
            eprintln!("wrote {path}");
        }
    }
    if !stale.is_empty() {
        bail!("generated files are out of date: {}; run `cargo xtask codegen`", stale.join(", "));
    }
    Ok(())
}
