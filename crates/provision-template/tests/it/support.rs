//! Helpers shared by the tests: contexts, in-memory and on-disk blueprints, writing renders.

use provision_core::{EnvName, FileSet, OwnerName, ServiceName};
use provision_template::{Blueprint, Builtins, RenderContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MANIFEST: &str = r#"name = "tiny"
version = "0.1.0"
description = "A test blueprint"

[deploy]
port = 8080
health_path = "/healthz"
ready_path = "/readyz"
"#;

/// A context for a service named `name`.
pub fn ctx(name: &str) -> RenderContext {
    let name = ServiceName::parse(name).unwrap();
    RenderContext::new(Builtins {
        infra_repo: name.infra_repo(),
        description: format!("The {name} service"),
        owner: OwnerName::parse("team-a").unwrap(),
        infra_repo_url: format!("https://git.example.com/team-a/{name}-infra.git"),
        service_repo_url: format!("https://git.example.com/team-a/{name}.git"),
        image: format!("registry.example.com/team-a/{name}"),
        environments: vec![EnvName::parse("qa").unwrap(), EnvName::parse("prod").unwrap()],
        name,
    })
}

/// A blueprint from `(path, text)` files, with [`MANIFEST`] plus `extra_manifest` appended.
pub fn blueprint(extra_manifest: &str, files: &[(&str, &str)]) -> Blueprint {
    let mut all = vec![("blueprint.toml".to_owned(), bytes(&format!("{MANIFEST}{extra_manifest}")))];
    all.extend(files.iter().map(|(p, c)| (p.to_string(), bytes(c))));
    Blueprint::from_files("test", all).unwrap()
}

pub fn bytes(text: &str) -> Arc<[u8]> {
    Arc::from(text.as_bytes())
}

/// Writes `files` (`(path, text)`) below `dir`, creating directories.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
}

/// Writes a render to `dir`, keeping executable bits.
pub fn write_fileset(dir: &Path, files: &FileSet) {
    for (path, entry) in files.iter() {
        let full = dir.join(path.as_str());
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, &entry.content).unwrap();
        #[cfg(unix)]
        if entry.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

pub fn text(files: &FileSet, path: &str) -> String {
    let entry = files.get(path).unwrap_or_else(|| panic!("{path} not rendered; have {:?}", paths(files)));
    String::from_utf8(entry.content.to_vec()).unwrap()
}

pub fn paths(files: &FileSet) -> Vec<String> {
    files.paths().map(|p| p.to_string()).collect()
}

/// The workspace's `templates/<kind>` directory.
pub fn templates_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates").join(kind)
}
