//! Which files of the GitOps repository belong to one service, and which all services share.
//!
//! A registration writes a service's own files and the shared ones (the Argo CD bootstrap under
//! `bootstrap/`, Flux's `flux/` roots), the latter byte for byte alike for every service. Taking a
//! service away (undo) removes its own files only: the shared ones keep serving the others.
//!
//! A service's own files are, for Argo CD, everything under `services/<name>/` (its
//! Applications and what its blueprint renders there) and, for Flux, `<env>/fluxcd/<name>.yaml`
//! and everything under `<env>/apps/<name>/` in each environment.

use provision_core::{RepoPath, ServiceName};

/// Whether `path` in the GitOps repository is one of `service`'s own files.
pub fn owned_by(service: &ServiceName, path: &RepoPath) -> bool {
    let name = service.as_str();
    let segments: Vec<&str> = path.as_str().split('/').collect();
    match segments.as_slice() {
        ["services", owner, _, ..] => *owner == name,
        [_env, "fluxcd", file] => file.strip_suffix(".yaml") == Some(name),
        [_env, "apps", owner, _, ..] => *owner == name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_owns_its_own_files_and_no_shared_or_neighbouring_ones() {
        let demo = ServiceName::parse("demo").unwrap();
        let owns = |p: &str| owned_by(&demo, &RepoPath::parse(p).unwrap());
        for own in [
            "services/demo/application-qa.yaml",
            "services/demo/extra/dashboard.yaml",
            "qa/fluxcd/demo.yaml",
            "staging/apps/demo/deployment.yaml",
        ] {
            assert!(owns(own), "{own} is demo's");
        }
        for other in [
            "bootstrap/applicationset.yaml",
            "flux/qa.yaml",
            "flux/orchestrator.yaml",
            "services/demo-api/application-qa.yaml",
            "services/demo",
            "qa/fluxcd/demo-api.yaml",
            "qa/fluxcd/demo.yml",
            "qa/apps/demo-api/deployment.yaml",
            "qa/apps/demo",
            "a/b/fluxcd/demo.yaml",
            "README.md",
        ] {
            assert!(!owns(other), "{other} is not demo's");
        }
    }
}
