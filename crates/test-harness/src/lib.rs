//! Test support shared by the crates' tests (a dev-dependency only; the tidy check holds it to
//! that): [`cluster`], where a Kubernetes test runs; [`helm`], the real Helm engine;
//! [`sealed_secrets`], the sealed-secrets controller's unsealing, written independently of ours.

pub mod cluster;
pub mod helm;
pub mod sealed_secrets;

use std::path::{Path, PathBuf};

pub use cluster::{TestCluster, alices_devbox};

/// The workspace root (this crate sits in `crates/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
