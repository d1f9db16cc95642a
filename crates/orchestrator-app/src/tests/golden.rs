//! Golden files of everything create-service generates for one reference service: every file
//! of every branch of the service repository, the infra repository and the GitOps repository,
//! path and full content, one snapshot per repository. Any change to generated output shows up
//! as a snapshot diff to review.
//!
//! The reference service is `payments` (kind `ms`, blueprint defaults, an owner, three
//! environments, registered with both Argo CD and Flux). Everything in it is deterministic:
//! file contents hold no run id or time (those live only in commit messages, which are not
//! pinned), and the in-memory git host's clone URLs are `memory://<repo>`.
//!
//! A snapshot is `##### branch <name>: <n> files`, then per file in path order a line
//! `=== <path> ===` (`=== <path> (executable) ===`) and its content; a binary file is a line
//! with its size and sha256; a branch holding the same files as `main` is one line saying so.
//!
//! After an intended change, review and accept the new snapshots with `cargo insta review`, or
//! write them directly with
//! `INSTA_UPDATE=always cargo nextest run -p orchestrator-app golden` and read the diff.

use super::*;
use provision_core::FileEntry;
use provision_core::testing::MemRepo;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

const SERVICE: &str = "payments";
const INFRA: &str = "payments-infra";
const GITOPS: &str = "argo-gitdir-services";

/// The configuration the reference service is created with: the defaults, plus a remote URL
/// (Flux needs one), a production environment, a cert-manager issuer and Flux settings.
const CONFIG: &str = r#"
[git]
remote_url = "https://git.example.com/platform"

[deploy]
environments = ["qa", "staging", "prod"]
tls_issuer = "letsencrypt-prod"

[flux]
git_secret = "flux-system"
depends_on = ["infrastructure"]

[flux.tag_policies]
prod = ">=1.0.0 <2.0.0"
"#;

/// Creates the reference service on the in-memory ports.
async fn reference() -> Fixture {
    let mut f = Fixture::new();
    f.config = Config::from_toml("/data", CONFIG, std::path::Path::new("config.toml")).unwrap();
    let request = CreateServiceInput {
        kind: "ms".into(),
        name: SERVICE.into(),
        description: "Card payments and refunds for the checkout".into(),
        owner: Some("team-payments".into()),
        parameters: Default::default(),
        environments: vec!["qa".into(), "staging".into(), "prod".into()],
        gitops: Some("both".into()),
    };
    let report = f.app().provisioning.create_service(&request, &CreateOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(f.git.repo_names(), [GITOPS, SERVICE, INFRA], "a repository without a golden file");
    f
}

fn repository(git: &MemoryGitHost, name: &str) -> MemRepo {
    git.repo(name).unwrap_or_else(|| panic!("no repository {name}"))
}

/// The files of `branch` of `repo`.
fn tree<'a>(repo: &'a MemRepo, branch: &str) -> &'a provision_core::FileSet {
    let tip =
        repo.branches.iter().find(|(b, _)| b.as_str() == branch).unwrap_or_else(|| panic!("no branch {branch}")).1;
    &repo.commits[tip].tree
}

/// One file as `=== <path> ===` and its content; a binary file (not UTF-8, or holding a NUL)
/// as its size and sha256.
fn write_file(out: &mut String, path: &str, entry: &FileEntry) {
    let mode = if entry.executable { " (executable)" } else { "" };
    writeln!(out, "=== {path}{mode} ===").unwrap();
    match std::str::from_utf8(&entry.content) {
        Ok(text) if !text.contains('\0') => {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push_str("\n(no newline at end of file)\n");
            }
        }
        _ => {
            let digest = hex::encode(Sha256::digest(&entry.content));
            writeln!(out, "(binary: {} bytes, sha256 {digest})", entry.content.len()).unwrap();
        }
    }
}

/// Every branch of repository `name`, `main` first, in full; another branch holding the same
/// tree as `main` is one line saying so.
fn golden(git: &MemoryGitHost, name: &str) -> String {
    let repo = repository(git, name);
    let main = tree(&repo, "main");
    let mut branches: Vec<&str> = repo.branches.keys().map(|b| b.as_str()).filter(|b| *b != "main").collect();
    branches.sort_unstable();
    let mut out = String::new();
    for branch in std::iter::once("main").chain(branches) {
        let files = tree(&repo, branch);
        if branch != "main" && files == main {
            writeln!(out, "##### branch {branch}: the same files as main").unwrap();
            continue;
        }
        writeln!(out, "##### branch {branch}: {} files", files.len()).unwrap();
        for (path, entry) in files.iter() {
            write_file(&mut out, path.as_str(), entry);
        }
    }
    out
}

#[tokio::test]
async fn golden_payments() {
    let f = reference().await;
    insta::assert_snapshot!("golden_payments", golden(&f.git, SERVICE));
}

#[tokio::test]
async fn golden_payments_infra() {
    let f = reference().await;
    insta::assert_snapshot!("golden_payments_infra", golden(&f.git, INFRA));
}

#[tokio::test]
async fn golden_gitops() {
    let f = reference().await;
    insta::assert_snapshot!("golden_gitops", golden(&f.git, GITOPS));
}

/// Guards the harness: were it to drop files or branches, the snapshots would shrink with it
/// and still pass once accepted.
#[tokio::test]
async fn golden_files_list_every_file_of_every_branch() {
    let f = reference().await;
    let both: &[&str] = &["main", "orchestrator/template"];
    let cases: [(&str, &[&str], &[&str]); 3] = [
        (SERVICE, &["go.mod", "Dockerfile", ".orchestrator/answers.toml"], both),
        (INFRA, &["Chart.yaml", "values.yaml", "values-prod.yaml"], both),
        (
            GITOPS,
            &["services/payments/application-prod.yaml", "prod/fluxcd/payments.yaml", "flux/gitops.yaml"],
            &["main"],
        ),
    ];
    for (name, expected, branches) in cases {
        let repo = repository(&f.git, name);
        let text = golden(&f.git, name);
        let main = tree(&repo, "main");
        let paths: Vec<&str> = main.paths().map(|p| p.as_str()).collect();
        for path in expected {
            assert!(paths.contains(path), "{name} has no {path}: {paths:?}");
        }
        // `main`'s section has every file's header and content, in path order, and nothing else.
        let section = text.find("\n##### ").map_or(text.as_str(), |end| &text[..=end]);
        let mut at = 0;
        for (path, entry) in main.iter() {
            let header = format!("\n=== {path} ");
            let found = section[at..].find(&header).unwrap_or_else(|| panic!("{name}: {path} missing or out of order"));
            at += found + header.len();
            let content = std::str::from_utf8(&entry.content).unwrap();
            assert!(section[at..].contains(content), "{name}: the content of {path} is missing");
        }
        assert_eq!(section.matches("\n=== ").count(), main.len(), "{name}");
        let listed: Vec<&str> = repo.branches.keys().map(|b| b.as_str()).collect();
        assert_eq!(listed, branches, "{name}");
        for branch in branches {
            assert!(text.contains(&format!("##### branch {branch}:")), "{name}: branch {branch} missing");
        }
    }
}

/// Every custom resource in the reference GitOps repository (Argo CD and Flux objects alike)
/// is one the API server would accept with the upstream CRDs installed.
#[tokio::test]
async fn every_custom_resource_of_the_gitops_repository_passes_the_upstream_schemas() {
    use crd_schema::{Crds, read_manifests};
    let f = reference().await;
    let crds = Crds::load_reference().unwrap_or_else(|e| panic!("{e}"));
    let repo = repository(&f.git, GITOPS);
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for (path, entry) in tree(&repo, "main").iter() {
        let text = std::str::from_utf8(&entry.content).unwrap();
        for object in read_manifests(path.as_str(), text).unwrap_or_else(|e| panic!("{e}")) {
            let (api_version, kind) =
                (object["apiVersion"].as_str().unwrap_or(""), object["kind"].as_str().unwrap_or(""));
            if !crds.defines(api_version, kind) {
                continue;
            }
            if let Err(violations) = crds.validate(&object) {
                panic!("{path}: {kind} breaks its CRD: {violations:?}");
            }
            *checked.entry(kind.to_owned()).or_default() += 1;
        }
    }
    let kinds: Vec<&str> = checked.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        // No AppProject: the reference uses Argo CD's own `default` project.
        [
            "Application",
            "ApplicationSet",
            "GitRepository",
            "ImagePolicy",
            "ImageRepository",
            "ImageUpdateAutomation",
            "Kustomization"
        ],
        "{checked:?}"
    );
}
