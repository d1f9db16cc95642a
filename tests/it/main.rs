//! End-to-end tests across crates, one binary (see STYLE.md): adapters that must agree (the
//! chart and Flux, sealing and the chart), and the two binaries driven as users drive them
//! (`cli`, `api`), the front doors agreeing on every failure (`front_doors`).

// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod api;
mod binaries;
mod cli;
mod engines;
mod front_doors;
mod sealed;

use provision_core::{FileSet, ServiceName};
use provision_helm::ServiceSpec;

/// The service the chart tests deploy: port 8080, the usual probes, hosts under apps.example.com.
fn spec<'a>(name: &'a ServiceName, image: &'a str) -> ServiceSpec<'a> {
    ServiceSpec {
        name,
        description: "",
        image,
        port: 8080,
        health_path: "/healthz",
        ready_path: "/readyz",
        domain: "apps.example.com",
        tls_issuer: None,
    }
}

/// The generated infra repository `files` as a chart directory, with the base chart packaged
/// where `helm dependency build` puts it (`charts/`), ready for `helm template`.
fn infra_chart(helm: &test_harness::helm::Helm, files: &FileSet) -> tempfile::TempDir {
    helm.umbrella(files.iter().map(|(path, entry)| (path.as_str(), &entry.content[..])))
}
