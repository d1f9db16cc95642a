//! Embeds the workspace's `templates/<kind>/` blueprints: writes a table of
//! `(kind, [(path, include_bytes!(…), executable)])` to `OUT_DIR/builtin_blueprints.rs`.
//! `templates/charts` (Helm charts) and `templates/project` (the monorepo's own files, which
//! `orchestrator-app` embeds) are not service blueprints and are skipped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let templates = manifest_dir.join("../../templates");
    println!("cargo:rerun-if-changed={}", templates.display());
    let mut out = String::from("&[\n");
    if templates.is_dir() {
        for kind in sorted_entries(&templates) {
            let name = kind.file_name().and_then(|n| n.to_str()).map(str::to_owned).expect("UTF-8 kind name");
            if !kind.is_dir() || name == "charts" || name == "project" || name.starts_with('.') {
                continue;
            }
            println!("cargo:rerun-if-changed={}", kind.display());
            writeln!(out, "    ({name:?}, &[").expect("write to string");
            let mut files = Vec::new();
            walk(&kind, &kind, &mut files);
            files.sort();
            for (rel, path, executable) in files {
                println!("cargo:rerun-if-changed={}", path.display());
                let path = path.canonicalize().expect("canonical template path");
                writeln!(out, "        ({rel:?}, include_bytes!({:?}), {executable}),", path.display().to_string())
                    .expect("write to string");
            }
            out.push_str("    ]),\n");
        }
    }
    out.push_str("]\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_blueprints.rs");
    std::fs::write(dest, out).expect("write builtin_blueprints.rs");
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read templates dir").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    entries
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf, bool)>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for path in sorted_entries(dir) {
        let meta = std::fs::symlink_metadata(&path).expect("stat template file");
        if meta.is_dir() {
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            walk(root, &path, files);
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).expect("below root");
            let rel: Vec<&str> = rel.components().map(|c| c.as_os_str().to_str().expect("UTF-8 path")).collect();
            files.push((rel.join("/"), path.clone(), executable(&meta)));
        } else {
            panic!("{}: only regular files and directories may be in a built-in blueprint", path.display());
        }
    }
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
}
