//! The engine's invariants, each stated by the test that checks it: journaling around every
//! effect, looking before acting, resuming without duplicates, concurrency and failures.

use super::*;
use crate::fileset::{FileSet, RepoPath};
use crate::plan::TreeMode;
use crate::ports::{NewRun, RunCreated, Store};
use crate::testing::{CrashAt, MemoryGitHost, MemoryStore, NoPause, sample_plan};
use std::sync::Arc;

fn repo(name: &str) -> RepoName {
    RepoName::parse(name).unwrap()
}

async fn new_run(store: &MemoryStore, id: &str) -> RunId {
    let id = RunId::parse(id).unwrap();
    let created = store
        .create_run(NewRun {
            id: id.clone(),
            operation: "test".into(),
            request: serde_json::json!({}),
            service: None,
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(created, RunCreated::Created);
    id
}

fn assert_provisioned_once(git: &MemoryGitHost) {
    assert_eq!(git.repo_names(), ["gitops", "svc"]);
    let template = git.history("svc", "orchestrator/template");
    assert_eq!(template.len(), 1, "{template:?}");
    assert_eq!(git.history("svc", "main"), template, "main starts at the pristine render");
    assert_eq!(git.history("gitops", "main").len(), 1);
}

#[tokio::test]
async fn a_run_performs_every_step_once_and_trailers_its_commits() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
    assert_eq!(outcome, Outcome { state: RunState::Succeeded, failure: None });
    assert_provisioned_once(&git);
    assert_eq!(git.history("svc", "main")[0], "Render\n\nProvision-Run: r1/1\n");
    let steps = store.steps(&run).await.unwrap();
    assert!(steps.iter().all(|s| s.state == StepState::Done && s.attempts == 1), "{steps:?}");
    assert_eq!(store.run(&run).await.unwrap().unwrap().state, RunState::Succeeded);
    assert_eq!(git.lookups(), 0, "no step had started before, so no effect was looked for");
}

#[tokio::test]
async fn a_crash_at_any_step_boundary_resumes_without_duplicates() {
    let steps = sample_plan().len();
    let points =
        (0..steps).flat_map(|i| [FaultPoint::BeforeStep(i), FaultPoint::AfterEffect(i), FaultPoint::AfterStep(i)]);
    for point in points {
        let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
        let run = new_run(&store, "r1").await;
        let hook = CrashAt(point);
        let crashed = Engine::new(&git, &store, &NoPause).with_fault_hook(&hook).execute(&run, &sample_plan()).await;
        assert!(matches!(crashed, Err(Error::Crashed(Crashed(p))) if p == point), "{point:?}: {crashed:?}");
        assert_eq!(store.unfinished_runs().await.unwrap().len(), 1, "{point:?}");

        let lookups_before = git.lookups();
        let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
        assert_eq!(outcome.state, RunState::Succeeded, "{point:?}");
        assert_provisioned_once(&git);
        if let FaultPoint::AfterEffect(i) = point
            && matches!(sample_plan().steps[i].effect, Effect::Commit { .. })
        {
            assert!(git.lookups() > lookups_before, "{point:?}: the resumed commit was looked for");
        }
        let journal = store.steps(&run).await.unwrap();
        assert_eq!(journal.len(), steps, "{point:?}");
        // The interrupted step is the only one attempted twice, and only if it had started.
        for s in journal {
            let expected = if s.index == point.step()
                && point != FaultPoint::AfterStep(s.index)
                && point != FaultPoint::BeforeStep(s.index)
            {
                2
            } else {
                1
            };
            assert_eq!(s.attempts, expected, "{point:?} step {}", s.index);
        }
    }
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    git.fail_next(2, PortErrorKind::Transient);
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
    assert_eq!(outcome.state, RunState::Succeeded);
    assert_eq!(store.steps(&run).await.unwrap()[0].attempts, 3);
    assert_provisioned_once(&git);
}

#[tokio::test]
async fn a_permanent_failure_fails_the_run_at_its_step_and_retry_finishes_it() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    git.fail_next(1, PortErrorKind::Permanent);
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
    assert_eq!(outcome.state, RunState::Failed);
    let failure = outcome.failure.unwrap();
    assert_eq!(
        (failure.index, failure.step.as_str(), failure.error.as_str()),
        (0, "ensure-repo svc", "injected failure")
    );
    assert!(!failure.transient, "retrying cannot cure a permanent failure");
    let record = store.run(&run).await.unwrap().unwrap();
    assert_eq!(record.error.as_deref(), Some("step 0 (ensure-repo svc) failed: injected failure"));

    store.reopen_run(&run).await.unwrap();
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
    assert_eq!(outcome.state, RunState::Succeeded);
    assert_provisioned_once(&git);
}

#[tokio::test]
async fn retries_give_up_after_the_policy_allows() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    git.fail_next(10, PortErrorKind::Transient);
    let retry = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    let outcome = Engine::new(&git, &store, &NoPause).with_retry(retry).execute(&run, &sample_plan()).await.unwrap();
    assert_eq!(outcome.state, RunState::Failed);
    assert!(outcome.failure.unwrap().transient, "the retries ran out, the cause may pass");
    assert_eq!(store.steps(&run).await.unwrap()[0].attempts, 3);
}

#[tokio::test]
async fn someone_elses_repository_is_never_written() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    git.seed_foreign_repo(&repo("svc"));
    let run = new_run(&store, "r1").await;
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
    let failure = outcome.failure.unwrap();
    assert!(failure.error.contains("repository svc already exists and was not created by this run"), "{failure:?}");
    assert_eq!(git.history("svc", "main"), ["foreign"]);
    assert!(git.repo("gitops").is_none(), "the run stopped at its first failing step");
}

#[tokio::test]
async fn a_shared_repository_may_hold_other_work() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    git.seed_foreign_repo(&repo("gitops"));
    let run = new_run(&store, "r1").await;
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
    assert_eq!(outcome.state, RunState::Succeeded);
    assert_eq!(git.history("gitops", "main"), ["Register svc\n\nProvision-Run: r1/4\n", "foreign"]);
}

#[tokio::test]
async fn a_claimed_run_is_not_executed_twice() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    let claim = store.try_claim(&run).await.unwrap();
    assert!(claim.is_some());
    let busy = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await;
    assert!(matches!(busy, Err(Error::Busy(_))));
    drop(claim);
    assert!(Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.is_ok());
}

#[tokio::test]
async fn a_journal_from_another_plan_is_refused() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    let hook = CrashAt(FaultPoint::AfterStep(0));
    let _ = Engine::new(&git, &store, &NoPause).with_fault_hook(&hook).execute(&run, &sample_plan()).await;
    let mut other = sample_plan();
    other.steps[0].name = "something else".into();
    let refused = Engine::new(&git, &store, &NoPause).execute(&run, &other).await;
    assert!(matches!(refused, Err(Error::PlanChanged { index: 0, .. })), "{refused:?}");
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let p = RetryPolicy { max_attempts: 10, base: Duration::from_millis(100), max_delay: Duration::from_millis(500) };
    let delays: Vec<_> = (1..=5).map(|a| p.delay(a).as_millis()).collect();
    assert_eq!(delays, [100, 200, 400, 500, 500]);
}

/// Two independent chains (a repository and its render each) and a step after both.
fn two_chains() -> Plan {
    let template = sample_plan();
    let render = |name: &str| {
        let mut effect = template.steps[1].effect.clone();
        if let Effect::Commit { repo: r, .. } = &mut effect {
            *r = repo(name);
        }
        effect
    };
    let mut plan = Plan::default();
    let a = plan.push_after(
        "ensure-repo a",
        Effect::EnsureRepo { repo: repo("a"), description: "".into(), shared: false },
        vec![],
    );
    let a = plan.push_after("render a", render("a"), vec![a]);
    let b = plan.push_after(
        "ensure-repo b",
        Effect::EnsureRepo { repo: repo("b"), description: "".into(), shared: false },
        vec![],
    );
    let b = plan.push_after("render b", render("b"), vec![b]);
    plan.push_after(
        "ensure-repo c",
        Effect::EnsureRepo { repo: repo("c"), description: "".into(), shared: false },
        vec![a, b],
    );
    plan
}

#[tokio::test]
async fn independent_steps_run_together_and_dependencies_are_kept() {
    // Three creations, two of them independent: only if both chains start together do two
    // parties meet; the third (after both) then needs a partner of its own.
    // Every repository creation waits until two are in flight: an engine that ran them one
    // after the other would never get past the first.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let git = MemoryGitHost::new();
    let meet = barrier.clone();
    git.before_create_repo(Arc::new(move |_| {
        let meet = meet.clone();
        Box::pin(async move {
            meet.wait().await;
            Ok(())
        })
    }));
    let store = MemoryStore::new();
    let run = new_run(&store, "r1").await;
    let plan = two_chains();
    let engine = Engine::new(&git, &store, &NoPause);
    let both = async {
        // The step after both chains meets this partner at the barrier.
        let (outcome, _) = tokio::join!(engine.execute(&run, &plan), async {
            while store.steps(&run).await.unwrap().iter().filter(|s| s.state == StepState::Done).count() < 4 {
                tokio::task::yield_now().await;
            }
            barrier.wait().await;
        });
        outcome
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), both).await.expect("the chains ran concurrently");
    assert_eq!(outcome.unwrap().state, RunState::Succeeded);
    let steps = store.steps(&run).await.unwrap();
    let finished = |i: usize| steps[i].finished_at.unwrap();
    assert!(steps[4].started_at > finished(1) && steps[4].started_at > finished(3), "{steps:#?}");
    assert!(steps[1].started_at > finished(0) && steps[3].started_at > finished(2), "{steps:#?}");
}

#[test]
fn a_step_may_depend_only_on_steps_before_it() {
    let mut plan = Plan::default();
    let first =
        plan.push_after("x", Effect::EnsureRepo { repo: repo("x"), description: "".into(), shared: false }, vec![]);
    plan.push_after("y", Effect::EnsureRepo { repo: repo("y"), description: "".into(), shared: false }, vec![first]);
    assert_eq!(plan.steps[1].after, [0]);
    // Planning code that names a later step is a bug, stopped where it is made.
    let built = std::panic::catch_unwind(|| {
        let mut plan = Plan::default();
        plan.push_after("x", Effect::EnsureRepo { repo: repo("x"), description: "".into(), shared: false }, vec![0]);
    });
    let payload = built.expect_err("a dependency on itself is refused");
    let message = payload.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("step 0 depends on a step that is not before it"), "{message}");
}

#[tokio::test]
async fn a_failure_stops_the_run_at_its_wave_unless_the_plan_keeps_going() {
    for keep_going in [false, true] {
        let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
        // The first call is chain a's look for its repository: a's chain fails at once.
        git.fail_next(1, PortErrorKind::Permanent);
        let run = new_run(&store, "r1").await;
        let plan = Plan { keep_going, ..two_chains() };
        let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &plan).await.unwrap();
        assert_eq!(outcome.state, RunState::Failed);
        assert_eq!(outcome.failure.map(|f| f.index), Some(0));
        let done: Vec<usize> =
            store.steps(&run).await.unwrap().iter().filter(|s| s.state == StepState::Done).map(|s| s.index).collect();
        // b's chain: its first step shares the failing wave; its render runs only if the
        // plan keeps going; the step after both never does.
        assert_eq!(done, if keep_going { vec![2, 3] } else { vec![2] }, "keep_going: {keep_going}");
        assert_eq!(git.repo_names(), ["b"]);
    }
}

#[tokio::test]
async fn no_more_steps_run_at_once_than_the_engine_allows() {
    let mut plan = Plan::default();
    for name in ["a", "b", "c", "d", "e"] {
        plan.push_after(
            format!("ensure-repo {name}"),
            Effect::EnsureRepo { repo: repo(name), description: "".into(), shared: false },
            vec![],
        );
    }
    let git = MemoryGitHost::new();
    let (now, most) =
        (Arc::new(std::sync::atomic::AtomicUsize::new(0)), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    git.before_create_repo(Arc::new(move |_| {
        let (n, m) = (n.clone(), m.clone());
        Box::pin(async move {
            let in_flight = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            m.fetch_max(in_flight, std::sync::atomic::Ordering::SeqCst);
            // Let every other step that may start do so before this one ends.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            n.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
    }));
    let store = MemoryStore::new();
    let run = new_run(&store, "r1").await;
    let outcome = Engine::new(&git, &store, &NoPause).with_concurrency(2).execute(&run, &plan).await.unwrap();
    assert_eq!(outcome.state, RunState::Succeeded);
    assert_eq!(git.repo_names().len(), 5);
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2, "two at a time, never more, never fewer");
}

/// A repository provisioned, then changed on main, then upgraded: a new render on the
/// template branch merged into main.
fn upgrade_plan(next: &str) -> Plan {
    let mut plan = sample_plan();
    plan.steps.truncate(3);
    let readme = |content: &str| {
        let path = RepoPath::parse("README.md").unwrap();
        Arc::new([(path, crate::fileset::FileEntry::new(content.as_bytes().to_vec()))].into_iter().collect::<FileSet>())
    };
    let notes = RepoPath::parse("NOTES.md").unwrap();
    let local =
        Arc::new([(notes, crate::fileset::FileEntry::new(b"ours\n".to_vec()))].into_iter().collect::<FileSet>());
    let commit = |branch: BranchName, files, mode, skip_unchanged| Effect::Commit {
        repo: repo("svc"),
        branch,
        files,
        mode,
        message: "m".into(),
        skip_unchanged,
    };
    plan.push("local change", commit(BranchName::main(), local, TreeMode::Overlay, false));
    plan.push("render next", commit(BranchName::template(), readme(next), TreeMode::Replace, true));
    plan.push(
        "merge",
        Effect::Merge {
            repo: repo("svc"),
            into: BranchName::main(),
            from: BranchName::template(),
            conflict_branch: BranchName::parse("orchestrator/upgrade-2").unwrap(),
            message: "Upgrade".into(),
            renames: Arc::new([]),
        },
    );
    plan
}

#[tokio::test]
async fn a_merge_step_merges_once_whenever_the_run_is_interrupted() {
    let steps = upgrade_plan("v2\n").len();
    for point in (0..steps).flat_map(|i| [FaultPoint::BeforeStep(i), FaultPoint::AfterEffect(i)]) {
        let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
        let run = new_run(&store, "r1").await;
        let hook = CrashAt(point);
        let plan = upgrade_plan("v2\n");
        let crashed = Engine::new(&git, &store, &NoPause).with_fault_hook(&hook).execute(&run, &plan).await;
        assert!(crashed.is_err(), "{point:?}");
        let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &plan).await.unwrap();
        assert_eq!(outcome.state, RunState::Succeeded, "{point:?}");
        let main = git.history("svc", "main");
        assert_eq!(main.len(), 3, "{point:?}: render, local change, one merge: {main:?}");
        assert!(main[0].starts_with("Upgrade\n\nProvision-Run: r1/5"), "{main:?}");
        let tree = git.repo("svc").unwrap();
        let tip = &tree.commits[&tree.branches[&BranchName::main()]];
        assert_eq!(tip.tree.get("README.md").unwrap().content.as_ref(), b"v2\n");
        assert_eq!(tip.tree.get("NOTES.md").unwrap().content.as_ref(), b"ours\n");
    }
}

#[tokio::test]
async fn an_unchanged_render_commits_nothing_and_its_merge_finds_it_merged() {
    let (git, store) = (MemoryGitHost::new(), MemoryStore::new());
    let run = new_run(&store, "r1").await;
    // The sample's render is "hi\n": rendering it again changes nothing.
    let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &upgrade_plan("hi\n")).await.unwrap();
    assert_eq!(outcome.state, RunState::Succeeded);
    assert_eq!(git.history("svc", "orchestrator/template").len(), 1);
    assert_eq!(git.history("svc", "main").len(), 2, "no merge commit");
    let steps = store.steps(&run).await.unwrap();
    assert!(steps[4].detail.as_deref().unwrap().starts_with("unchanged at "), "{steps:#?}");
    assert_eq!(steps[5].detail.as_deref(), Some("already merged orchestrator/template into main"));
}
