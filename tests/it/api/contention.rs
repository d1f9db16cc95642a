//! Two `orchestrator-api` processes on one data directory take 200 create-service requests of
//! distinct names at once, spread over both: every one is created, none answers a 5xx, the
//! inventory holds each service once, and the GitOps repository, read back by the `git` CLI,
//! registers all 200, each run's registration found by its trailer.
//!
//! Every registration commits into that one repository's `main`: in each process they are
//! folded into shared commits, and the two processes race for the branch, losing races to each
//! other and trying again.

use crate::api::process::{admin_token, http, serving};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const SERVICES: usize = 200;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn two_servers_on_one_home_create_two_hundred_services_at_once() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let token = admin_token(home.path());
    // One after the other: the first creates the database, the second finds it.
    let (_a, a) = serving(home.path(), &[], &[]);
    let (_b, b) = serving(home.path(), &[], &[]);

    let started = Instant::now();
    let requests: Vec<_> = (0..SERVICES)
        .map(|i| {
            let addr = if i % 2 == 0 { a.clone() } else { b.clone() };
            let body = format!(r#"{{"kind":"ms","name":"svc-{i:03}","description":"one of many"}}"#);
            let token = token.clone();
            std::thread::spawn(move || http(&addr, "POST", "/create-service", Some(&token), Some(&body)))
        })
        .collect();
    let answers: Vec<(u16, String)> =
        requests.into_iter().map(|r| r.join().expect("the client thread ends").expect("the server answers")).collect();
    let took = started.elapsed();

    let failed: Vec<&(u16, String)> = answers.iter().filter(|(status, _)| *status != 201).collect();
    let server_errors = answers.iter().filter(|(status, _)| *status >= 500).count();
    assert!(failed.is_empty(), "{} of {SERVICES} not created ({server_errors} 5xx): {failed:#?}", failed.len());
    let mut runs = BTreeSet::new();
    for (_, body) in &answers {
        let report: serde_json::Value = serde_json::from_str(body).expect("a JSON report");
        assert_eq!(report["run"]["state"], "succeeded", "{report}");
        runs.insert(report["run"]["id"].as_str().expect("a run id").to_owned());
    }
    assert_eq!(runs.len(), SERVICES, "one run per request");

    // The inventory, through either server: each service once, every run succeeded.
    let expected: BTreeSet<String> = (0..SERVICES).map(|i| format!("svc-{i:03}")).collect();
    let (status, body) = http(&b, "GET", "/v1/services", Some(&token), None).expect("the server answers");
    assert_eq!(status, 200, "{body}");
    let services: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let listed: Vec<&str> = services.as_array().expect("a list").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(listed.len(), SERVICES, "no service twice: {listed:?}");
    assert_eq!(listed.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>(), expected);
    assert!(services.as_array().into_iter().flatten().all(|s| s["state"] == "succeeded"), "{services:#}");

    // The GitOps repository, as git reads it: every service registered, every run's
    // registration carrying its trailer, nothing broken.
    let platform = home.path().join("git/platform");
    let gitops = platform.join("argo-gitdir-services.git");
    let files = git(&gitops, &["ls-tree", "-r", "--name-only", "main"]);
    let registered: BTreeSet<String> = files
        .lines()
        .filter_map(|path| path.strip_prefix("services/")?.split_once('/').map(|(name, _)| name.to_owned()))
        .collect();
    assert_eq!(registered, expected);
    for name in &expected {
        for env in ["qa", "staging"] {
            let path = format!("services/{name}/application-{env}.yaml");
            assert!(files.lines().any(|f| f == path), "{path} is missing");
        }
    }
    let trailers = git(&gitops, &["log", "--format=%(trailers:key=Provision-Run,valueonly)", "main"]);
    let registered_by: BTreeSet<String> = trailers
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('/').expect("<run>/<step>").0.to_owned())
        .collect();
    assert_eq!(registered_by, runs, "each run's registration is found by its trailer");
    let commits: usize = git(&gitops, &["rev-list", "--count", "main"]).trim().parse().expect("a count");
    assert!(commits <= SERVICES, "{commits} registration commits");
    let fsck = Command::new("git").args(["fsck", "--strict", "--no-progress"]).current_dir(&gitops).output();
    assert!(fsck.expect("git runs").status.success(), "git fsck --strict fails on the GitOps repository");
    // Each service's own repositories were made once, by its own run.
    for name in &expected {
        for repo in [format!("{name}.git"), format!("{name}-infra.git")] {
            assert_eq!(git(&platform.join(&repo), &["rev-list", "--count", "main"]).trim(), "1", "{repo}");
        }
    }
    eprintln!(
        "{SERVICES} creates over two servers took {:.1} s; the GitOps repository got {commits} commits",
        took.as_secs_f64()
    );
}
