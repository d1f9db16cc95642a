//! Undoing create-service runs on the in-memory ports: what goes, what stays, refusals, a
//! second undo, and an undo interrupted and resumed.

use super::{Fixture, file, input};
use crate::provisioning::{CreateOptions, Error};
use provision_core::engine::FaultPoint;
use provision_core::ports::{CommitRequest, GitHost as _, RunState, Store as _};
use provision_core::testing::CrashAt;
use provision_core::{BranchName, FileEntry, FileSet, RepoName, RepoPath, TreeMode};
use std::sync::Arc;

const GITOPS: &str = "argo-gitdir-services";

async fn created(f: &Fixture, name: &str) -> String {
    let report = f.app().provisioning.create_service(&input(name), &CreateOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    report.run.unwrap().id
}

/// Someone's commit on `main` of `repo`.
async fn someone_commits(f: &Fixture, repo: &str) {
    let repo = RepoName::parse(repo).unwrap();
    let main = BranchName::main();
    let tip = f.git.branch_tip(&repo, &main).await.unwrap();
    let files: FileSet =
        [(RepoPath::parse("handler.go").unwrap(), FileEntry::new(b"package main\n".to_vec()))].into_iter().collect();
    let request = CommitRequest {
        branch: &main,
        parent: tip.as_ref(),
        files: &files,
        mode: TreeMode::Overlay,
        message: "Add a handler",
        skip_unchanged: false,
    };
    f.git.commit(&repo, request).await.unwrap();
}

fn paths(f: &Fixture, repo: &str) -> Vec<String> {
    let r = f.git.repo(repo).unwrap();
    let tip = &r.branches[&BranchName::main()];
    r.commits[tip].tree.paths().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn undo_deletes_the_run_s_repositories_unregisters_by_a_new_commit_and_frees_the_name() {
    let f = Fixture::new();
    let other = created(&f, "other").await;
    let demo = created(&f, "demo").await;
    let before = f.git.history(GITOPS, "main");

    let report = f.app().provisioning.undo(&demo, false, false).await.unwrap();
    let run = report.run.as_ref().unwrap();
    assert_eq!(run.run.state, RunState::Succeeded, "{report:?}");
    assert_eq!(report.deleted, ["demo", "demo-infra"]);
    assert!(report.forgotten && !report.replayed && !report.dry_run);
    let names: Vec<_> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [&format!("unregister demo from {GITOPS}")[..], "delete-repo demo", "delete-repo demo-infra", "forget demo"]
    );

    assert_eq!(f.git.repo_names(), [GITOPS, "other", "other-infra"], "only the run's repositories go");
    // History is added to, never rewritten: the registration stays in it, a commit on top removes it.
    let after = f.git.history(GITOPS, "main");
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[1..], before[..], "every earlier commit is still there");
    assert!(after[0].starts_with("Unregister demo: undo run"), "{after:?}");
    let files = paths(&f, GITOPS);
    assert!(files.iter().all(|p| !p.starts_with("services/demo/")), "{files:?}");
    assert!(files.iter().any(|p| p.starts_with("services/other/")), "the other service stays registered: {files:?}");
    assert!(files.iter().any(|p| p.starts_with("bootstrap/")), "the shared bootstrap stays: {files:?}");

    let services = f.app().provisioning.services().await.unwrap();
    assert_eq!(services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["other"]);
    // The name is free again.
    created(&f, "demo").await;
    assert!(file(&f.git, GITOPS, "main", "services/demo/application-qa.yaml").contains("demo-qa"));
    assert_ne!(other, demo);
}

#[tokio::test]
async fn later_work_refuses_the_undo_naming_it_and_force_deletes_it_too() {
    let f = Fixture::new();
    let demo = created(&f, "demo").await;
    someone_commits(&f, "demo").await;

    let refused = f.app().provisioning.undo(&demo, false, false).await.unwrap_err();
    let Error::LaterWork { work, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!((work[0].repo.as_str(), work[0].commits, work[0].newest.1.as_str()), ("demo", 1, "Add a handler"));
    assert!(refused.to_string().contains("--force"), "{refused}");
    assert_eq!(crate::Classified::kind(&refused), crate::ErrorKind::Conflict);
    assert_eq!(f.git.repo_names(), [GITOPS, "demo", "demo-infra"], "nothing changed");
    assert!(f.store.runs(10).await.unwrap().len() == 1, "no undo run recorded");

    let dry = f.app().provisioning.undo(&demo, true, true).await.unwrap();
    assert!(dry.dry_run && dry.run.is_none());
    assert_eq!(dry.deleted, ["demo", "demo-infra"]);
    assert_eq!(f.git.repo_names(), [GITOPS, "demo", "demo-infra"], "a dry run changes nothing");

    let forced = f.app().provisioning.undo(&demo, true, false).await.unwrap();
    assert_eq!(forced.run.as_ref().unwrap().run.state, RunState::Succeeded);
    assert!(forced.forced);
    assert_eq!(f.git.repo_names(), [GITOPS]);
}

#[tokio::test]
async fn undoing_again_answers_the_first_undo_and_other_runs_are_refused() {
    let f = Fixture::new();
    let demo = created(&f, "demo").await;
    let first = f.app().provisioning.undo(&demo, false, false).await.unwrap();
    let again = f.app().provisioning.undo(&demo, false, false).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.run.as_ref().unwrap().run.id, first.run.as_ref().unwrap().run.id);
    assert_eq!(f.git.history(GITOPS, "main").len(), 2, "one registration, one unregistration");

    // An undo run is no create-service run.
    let undo_id = first.run.unwrap().run.id;
    let refused = f.app().provisioning.undo(&undo_id, false, false).await.unwrap_err();
    assert!(matches!(refused, Error::NotUndoable { .. }), "{refused:?}");
    let missing = f.app().provisioning.undo("no-such-run", false, false).await.unwrap_err();
    assert_eq!(crate::Classified::kind(&missing), crate::ErrorKind::NotFound);
}

#[tokio::test]
async fn an_interrupted_undo_resumes_without_a_second_commit() {
    let f = Fixture::new();
    let demo = created(&f, "demo").await;
    // The unregistering commit is made, the journal does not know it yet.
    let crashing = f.crashing(Arc::new(CrashAt(FaultPoint::AfterEffect(0))));
    assert!(crashing.provisioning.undo(&demo, false, false).await.is_err());
    assert_eq!(f.git.repo_names(), [GITOPS, "demo", "demo-infra"]);

    let resumed = f.app().provisioning.resume_unfinished().await.unwrap();
    assert_eq!(resumed.len(), 1);
    let view = f.app().provisioning.run(resumed[0].as_str()).await.unwrap();
    assert_eq!(view.run.state, RunState::Succeeded, "{view:?}");
    assert_eq!(view.steps[0].detail.as_deref().map(|d| d.starts_with("already committed")), Some(true));
    assert_eq!(f.git.history(GITOPS, "main").len(), 2, "the unregistering commit once");
    assert_eq!(f.git.repo_names(), [GITOPS]);
    assert!(f.app().provisioning.services().await.unwrap().is_empty());
}

#[tokio::test]
async fn work_added_after_the_undo_was_decided_is_never_deleted() {
    let f = Fixture::new();
    let demo = created(&f, "demo").await;
    // The undo stops before deleting; someone commits meanwhile; the resumed deletion looks again.
    let crashing = f.crashing(Arc::new(CrashAt(FaultPoint::BeforeStep(1))));
    assert!(crashing.provisioning.undo(&demo, false, false).await.is_err());
    someone_commits(&f, "demo").await;
    let resumed = f.app().provisioning.resume_unfinished().await.unwrap();
    let view = f.app().provisioning.run(resumed[0].as_str()).await.unwrap();
    assert_eq!(view.run.state, RunState::Failed);
    let error = view.steps[1].error.as_deref().unwrap();
    assert!(error.contains("not made by run") && error.contains("Add a handler"), "{error}");
    assert!(f.git.repo("demo").is_some(), "the work is still there");
}
