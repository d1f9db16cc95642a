//! The `Store` contract, as the reference fake `MemoryStore` keeps it. Every function here runs
//! against every backend (see `contract_tests!` in `main.rs`), so the adapters cannot drift
//! from the fake the layers above are tested with.

use crate::support::{Backend, id, new_run, service, service_name};
use provision_core::ports::{JournalEvent, PortErrorKind, RunCreated, RunState, ServiceRecord, StepState, Store};
use std::sync::Arc;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

async fn create(store: &dyn Store, run: &str, service: Option<&str>, key: Option<(&str, &str)>) -> RunCreated {
    store.create_run(new_run(run, service, key)).await.unwrap()
}

async fn record(store: &dyn Store, run: &str, event: JournalEvent) {
    store.record(&id(run), event).await.unwrap();
}

async fn state(store: &dyn Store, run: &str) -> RunState {
    store.run(&id(run)).await.unwrap().unwrap().state
}

fn ids(runs: &[provision_core::ports::RunRecord]) -> Vec<&str> {
    runs.iter().map(|r| r.id.as_str()).collect()
}

pub async fn a_new_run_is_pending_and_reserves_its_service(b: &Backend) {
    let store = b.open().await;
    let new = new_run("r1", Some("payments"), Some(("k1", "f1")));
    assert_eq!(store.create_run(new.clone()).await.unwrap(), RunCreated::Created);

    let run = store.run(&id("r1")).await.unwrap().unwrap();
    assert_eq!(run.id, id("r1"));
    assert_eq!(run.operation, "create-service");
    assert_eq!(run.state, RunState::Pending);
    assert_eq!(run.request, new.request, "the request round-trips as JSON");
    assert_eq!(run.service, Some(service_name("payments")));
    assert_eq!(run.error, None);
    assert_eq!(run.created_at, run.updated_at);

    let expected = service("payments");
    let record = store.service(&service_name("payments")).await.unwrap().unwrap();
    assert_eq!(
        record,
        ServiceRecord {
            name: expected.name,
            kind: expected.kind,
            blueprint_version: expected.blueprint_version,
            owner: expected.owner,
            description: expected.description,
            repos: expected.repos,
            run: id("r1"),
            run_state: RunState::Pending,
            created_at: run.created_at,
        }
    );
    assert_eq!(store.services().await.unwrap(), [record]);
    assert_eq!(store.steps(&id("r1")).await.unwrap(), []);
}

pub async fn unknown_runs_and_services_are_absent(b: &Backend) {
    let store = b.open().await;
    assert_eq!(store.run(&id("nope")).await.unwrap(), None);
    assert_eq!(store.steps(&id("nope")).await.unwrap(), []);
    assert_eq!(store.service(&service_name("nope")).await.unwrap(), None);
    assert_eq!(store.runs(10).await.unwrap(), []);
    assert_eq!(store.unfinished_runs().await.unwrap(), []);
    assert_eq!(store.services().await.unwrap(), []);
}

pub async fn the_same_key_and_request_replay_the_run(b: &Backend) {
    let store = b.open().await;
    assert_eq!(create(&*store, "r1", Some("payments"), Some(("k", "f"))).await, RunCreated::Created);
    assert_eq!(create(&*store, "r2", Some("payments"), Some(("k", "f"))).await, RunCreated::Replayed { run: id("r1") });
    assert_eq!(create(&*store, "r3", None, Some(("k", "f"))).await, RunCreated::Replayed { run: id("r1") });
    assert_eq!(ids(&store.runs(10).await.unwrap()), ["r1"]);
    assert_eq!(store.run(&id("r2")).await.unwrap(), None);
}

pub async fn the_same_key_with_another_request_is_refused(b: &Backend) {
    let store = b.open().await;
    assert_eq!(create(&*store, "r1", Some("payments"), Some(("k", "f1"))).await, RunCreated::Created);
    assert_eq!(
        create(&*store, "r2", Some("billing"), Some(("k", "f2"))).await,
        RunCreated::KeyReused { run: id("r1") }
    );
    assert_eq!(ids(&store.runs(10).await.unwrap()), ["r1"]);
    assert_eq!(store.service(&service_name("billing")).await.unwrap(), None, "nothing was reserved");
}

pub async fn the_key_is_looked_up_before_the_service_name(b: &Backend) {
    let store = b.open().await;
    create(&*store, "r1", Some("payments"), Some(("k", "f"))).await;
    // A retried request finds its run, not a conflict with the service it reserved.
    assert_eq!(create(&*store, "r2", Some("payments"), Some(("k", "f"))).await, RunCreated::Replayed { run: id("r1") });
    assert_eq!(
        create(&*store, "r3", Some("payments"), Some(("k", "g"))).await,
        RunCreated::KeyReused { run: id("r1") }
    );
}

pub async fn a_taken_service_name_is_refused_and_nothing_is_recorded(b: &Backend) {
    let store = b.open().await;
    assert_eq!(create(&*store, "r1", Some("payments"), None).await, RunCreated::Created);
    assert_eq!(
        create(&*store, "r2", Some("payments"), Some(("k2", "f"))).await,
        RunCreated::ServiceExists { name: service_name("payments"), run: id("r1") }
    );
    assert_eq!(store.run(&id("r2")).await.unwrap(), None);
    // The refused request's key was not recorded either: it is free for another request.
    assert_eq!(create(&*store, "r3", Some("billing"), Some(("k2", "other"))).await, RunCreated::Created);
    assert_eq!(
        create(&*store, "r4", Some("billing"), Some(("k2", "other"))).await,
        RunCreated::Replayed { run: id("r3") }
    );
    assert_eq!(store.service(&service_name("payments")).await.unwrap().unwrap().run, id("r1"));
    assert_eq!(ids(&store.runs(10).await.unwrap()), ["r3", "r1"]);
}

pub async fn runs_without_a_service_reserve_nothing(b: &Backend) {
    let store = b.open().await;
    assert_eq!(create(&*store, "r1", None, None).await, RunCreated::Created);
    assert_eq!(create(&*store, "r2", None, None).await, RunCreated::Created);
    assert_eq!(store.run(&id("r1")).await.unwrap().unwrap().service, None);
    assert_eq!(store.services().await.unwrap(), []);
}

pub async fn the_journal_follows_a_run_through_its_steps(b: &Backend) {
    let store = b.open().await;
    create(&*store, "r1", Some("payments"), None).await;

    record(&*store, "r1", JournalEvent::RunStarted).await;
    assert_eq!(state(&*store, "r1").await, RunState::Running);
    assert_eq!(store.service(&service_name("payments")).await.unwrap().unwrap().run_state, RunState::Running);

    record(&*store, "r1", JournalEvent::StepStarted { index: 0, name: "ensure-repo payments".into() }).await;
    let step = &store.steps(&id("r1")).await.unwrap()[0];
    assert_eq!(
        (step.index, step.name.as_str(), step.state, step.attempts),
        (0, "ensure-repo payments", StepState::Started, 1)
    );
    assert_eq!((&step.detail, &step.error, step.finished_at), (&None, &None, None));

    record(&*store, "r1", JournalEvent::StepRetrying { index: 0, error: "flaky".into() }).await;
    let step = &store.steps(&id("r1")).await.unwrap()[0];
    assert_eq!((step.state, step.attempts, step.error.as_deref()), (StepState::Started, 2, Some("flaky")));

    record(&*store, "r1", JournalEvent::StepDone { index: 0, detail: "created".into() }).await;
    let done = store.steps(&id("r1")).await.unwrap()[0].clone();
    assert_eq!((done.state, done.attempts), (StepState::Done, 2));
    assert_eq!((done.detail.as_deref(), done.error.as_deref()), (Some("created"), None));
    assert!(done.finished_at.is_some());

    // Steps come back by index, compared as numbers.
    record(&*store, "r1", JournalEvent::StepStarted { index: 10, name: "ten".into() }).await;
    record(&*store, "r1", JournalEvent::StepStarted { index: 2, name: "two".into() }).await;
    let indexes: Vec<_> = store.steps(&id("r1")).await.unwrap().iter().map(|s| s.index).collect();
    assert_eq!(indexes, [0, 2, 10]);

    record(&*store, "r1", JournalEvent::StepFailed { index: 2, error: "boom".into() }).await;
    let failed = store.steps(&id("r1")).await.unwrap()[1].clone();
    assert_eq!((failed.state, failed.attempts, failed.error.as_deref()), (StepState::Failed, 1, Some("boom")));
    assert_eq!(failed.detail, None);
    assert!(failed.finished_at.is_some());
    assert_eq!(store.steps(&id("r1")).await.unwrap()[0], done, "other steps are untouched");

    record(&*store, "r1", JournalEvent::RunFailed { error: "step 2 (two) failed: boom".into() }).await;
    let run = store.run(&id("r1")).await.unwrap().unwrap();
    assert_eq!((run.state, run.error.as_deref()), (RunState::Failed, Some("step 2 (two) failed: boom")));
    assert_eq!(store.service(&service_name("payments")).await.unwrap().unwrap().run_state, RunState::Failed);

    store.reopen_run(&id("r1")).await.unwrap();
    record(&*store, "r1", JournalEvent::RunStarted).await;
    let run = store.run(&id("r1")).await.unwrap().unwrap();
    assert_eq!((run.state, run.error), (RunState::Running, None), "starting again clears the run's error");

    record(&*store, "r1", JournalEvent::RunSucceeded).await;
    let run = store.run(&id("r1")).await.unwrap().unwrap();
    assert_eq!((run.state, run.error), (RunState::Succeeded, None));
}

pub async fn starting_a_step_again_counts_an_attempt_and_keeps_its_history(b: &Backend) {
    let store = b.open().await;
    create(&*store, "r1", None, None).await;
    record(&*store, "r1", JournalEvent::StepStarted { index: 0, name: "render".into() }).await;
    record(&*store, "r1", JournalEvent::StepDone { index: 0, detail: "committed abc".into() }).await;
    record(&*store, "r1", JournalEvent::StepFailed { index: 0, error: "boom".into() }).await;
    let first = store.steps(&id("r1")).await.unwrap()[0].clone();

    // As a resume does: the same index again, here even under another name.
    record(&*store, "r1", JournalEvent::StepStarted { index: 0, name: "renamed".into() }).await;
    let again = store.steps(&id("r1")).await.unwrap()[0].clone();
    assert_eq!((again.state, again.attempts, again.error), (StepState::Started, 2, None));
    // What the reference fake keeps: the first name and start time, the last detail and finish.
    assert_eq!(again.name, "render");
    assert_eq!(again.started_at, first.started_at);
    assert_eq!(again.detail.as_deref(), Some("committed abc"));
    assert_eq!(again.finished_at, first.finished_at);
}

pub async fn journaling_for_a_missing_run_or_step_is_not_found(b: &Backend) {
    let store = b.open().await;
    create(&*store, "r1", None, None).await;
    for event in [JournalEvent::RunStarted, JournalEvent::RunSucceeded, JournalEvent::RunFailed { error: "e".into() }] {
        let e = store.record(&id("ghost"), event.clone()).await.unwrap_err();
        assert_eq!(e.kind, PortErrorKind::NotFound, "{event:?}");
        assert!(e.to_string().contains("ghost"), "{e}");
    }
    for event in [
        JournalEvent::StepRetrying { index: 7, error: "e".into() },
        JournalEvent::StepDone { index: 7, detail: "d".into() },
        JournalEvent::StepFailed { index: 7, error: "e".into() },
    ] {
        let e = store.record(&id("r1"), event.clone()).await.unwrap_err();
        assert_eq!(e.kind, PortErrorKind::NotFound, "{event:?}");
        assert!(e.to_string().contains("r1"), "{e}");
    }
    let e = store.reopen_run(&id("ghost")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::NotFound);
    assert!(e.to_string().contains("ghost"), "{e}");
    assert_eq!(store.steps(&id("r1")).await.unwrap(), []);
    assert_eq!(state(&*store, "r1").await, RunState::Pending);
}

pub async fn runs_are_listed_newest_first(b: &Backend) {
    let store = b.open().await;
    // Creation order differs from the ids' alphabetical order.
    for run in ["c", "a", "b"] {
        create(&*store, run, None, None).await;
    }
    assert_eq!(ids(&store.runs(10).await.unwrap()), ["b", "a", "c"]);
    assert_eq!(ids(&store.runs(2).await.unwrap()), ["b", "a"]);
    assert_eq!(store.runs(0).await.unwrap(), []);
    // Journaling does not reorder.
    record(&*store, "c", JournalEvent::RunStarted).await;
    assert_eq!(ids(&store.runs(usize::MAX).await.unwrap()), ["b", "a", "c"]);
}

pub async fn unfinished_runs_are_listed_oldest_first(b: &Backend) {
    let store = b.open().await;
    for run in ["c", "a", "b", "d"] {
        create(&*store, run, None, None).await;
    }
    record(&*store, "c", JournalEvent::RunStarted).await;
    record(&*store, "c", JournalEvent::RunSucceeded).await;
    record(&*store, "a", JournalEvent::RunStarted).await;
    record(&*store, "a", JournalEvent::RunFailed { error: "boom".into() }).await;
    record(&*store, "b", JournalEvent::RunStarted).await;
    let unfinished = store.unfinished_runs().await.unwrap();
    assert_eq!(ids(&unfinished), ["b", "d"]);
    assert_eq!(unfinished.iter().map(|r| r.state).collect::<Vec<_>>(), [RunState::Running, RunState::Pending]);

    store.reopen_run(&id("a")).await.unwrap();
    assert_eq!(ids(&store.unfinished_runs().await.unwrap()), ["a", "b", "d"]);
}

pub async fn services_are_ordered_by_name_with_their_run_state(b: &Backend) {
    let store = b.open().await;
    for (run, name) in [("r1", "zeta"), ("r2", "alpha"), ("r3", "mid-1"), ("r4", "mid")] {
        assert_eq!(create(&*store, run, Some(name), None).await, RunCreated::Created);
    }
    let mut bare = new_run("r5", Some("bare"), None);
    if let Some(s) = bare.service.as_mut() {
        s.owner = None;
        s.repos.clear();
    }
    store.create_run(bare).await.unwrap();
    record(&*store, "r1", JournalEvent::RunStarted).await;
    record(&*store, "r1", JournalEvent::RunSucceeded).await;
    record(&*store, "r2", JournalEvent::RunFailed { error: "boom".into() }).await;
    record(&*store, "r3", JournalEvent::RunStarted).await;

    let services = store.services().await.unwrap();
    let listed: Vec<_> = services.iter().map(|s| (s.name.as_str(), s.run.as_str(), s.run_state)).collect();
    assert_eq!(
        listed,
        [
            ("alpha", "r2", RunState::Failed),
            ("bare", "r5", RunState::Pending),
            ("mid", "r4", RunState::Pending),
            ("mid-1", "r3", RunState::Running),
            ("zeta", "r1", RunState::Succeeded),
        ]
    );
    let bare = &services[1];
    assert_eq!((&bare.owner, bare.repos.len()), (&None, 0));
    for s in &services {
        assert_eq!(store.service(&s.name).await.unwrap().as_ref(), Some(s));
    }
}

pub async fn only_a_failed_run_is_reopened(b: &Backend) {
    let store = b.open().await;
    for run in ["pending", "running", "succeeded", "failed"] {
        create(&*store, run, None, None).await;
    }
    record(&*store, "running", JournalEvent::RunStarted).await;
    record(&*store, "succeeded", JournalEvent::RunSucceeded).await;
    record(&*store, "failed", JournalEvent::RunFailed { error: "boom".into() }).await;
    for run in ["pending", "running", "succeeded", "failed"] {
        store.reopen_run(&id(run)).await.unwrap();
    }
    for (run, expected) in [
        ("pending", RunState::Pending),
        ("running", RunState::Running),
        ("succeeded", RunState::Succeeded),
        ("failed", RunState::Pending),
    ] {
        assert_eq!(state(&*store, run).await, expected, "{run}");
    }
    // The cause stays visible until the run starts again.
    assert_eq!(store.run(&id("failed")).await.unwrap().unwrap().error.as_deref(), Some("boom"));
}

pub async fn a_claimed_run_cannot_be_claimed_again_until_released(b: &Backend) {
    let (first, second) = (b.open().await, b.open().await);
    create(&*first, "r1", None, None).await;
    create(&*first, "r2", None, None).await;

    let claim = first.try_claim(&id("r1")).await.unwrap().expect("a free run can be claimed");
    assert!(first.try_claim(&id("r1")).await.unwrap().is_none(), "same handle");
    assert!(second.try_claim(&id("r1")).await.unwrap().is_none(), "another handle");
    let other = second.try_claim(&id("r2")).await.unwrap().expect("claims are per run");

    drop(claim);
    let again = second.try_claim(&id("r1")).await.unwrap().expect("a dropped claim is released");
    assert!(first.try_claim(&id("r1")).await.unwrap().is_none());
    drop((again, other));
    assert!(first.try_claim(&id("r1")).await.unwrap().is_some());
}

pub async fn a_second_handle_sees_the_same_data(b: &Backend) {
    let (first, second) = (b.open().await, b.open().await);
    create(&*first, "r1", Some("payments"), Some(("k", "f"))).await;
    record(&*first, "r1", JournalEvent::StepStarted { index: 0, name: "s".into() }).await;
    assert_eq!(second.run(&id("r1")).await.unwrap(), first.run(&id("r1")).await.unwrap());
    assert_eq!(second.steps(&id("r1")).await.unwrap(), first.steps(&id("r1")).await.unwrap());
    assert_eq!(second.services().await.unwrap(), first.services().await.unwrap());
    assert_eq!(create(&*second, "r2", None, Some(("k", "f"))).await, RunCreated::Replayed { run: id("r1") });
}

const CONTENDERS: usize = 16;

/// Creates `CONTENDERS` runs at once from two handles, each run made by `make(i)`.
async fn race(b: &Backend, make: impl Fn(usize) -> provision_core::ports::NewRun) -> Vec<RunCreated> {
    let handles: [Arc<dyn Store>; 2] = [b.open().await, b.open().await];
    let start = Arc::new(Barrier::new(CONTENDERS));
    let mut tasks = JoinSet::new();
    for i in 0..CONTENDERS {
        let (store, start, run) = (handles[i % 2].clone(), start.clone(), make(i));
        tasks.spawn(async move {
            start.wait().await;
            store.create_run(run).await.unwrap()
        });
    }
    tasks.join_all().await
}

pub async fn concurrent_creations_of_one_service_yield_one_run(b: &Backend) {
    let outcomes = race(b, |i| new_run(&format!("r{i}"), Some("contested"), None)).await;
    let store = b.open().await;
    let runs = store.runs(100).await.unwrap();
    assert_eq!(runs.len(), 1, "{outcomes:?}");
    let winner = runs[0].id.clone();
    assert_eq!(outcomes.iter().filter(|o| **o == RunCreated::Created).count(), 1, "{outcomes:?}");
    let refused = RunCreated::ServiceExists { name: service_name("contested"), run: winner.clone() };
    assert_eq!(outcomes.iter().filter(|o| **o == refused).count(), CONTENDERS - 1, "{outcomes:?}");
    assert_eq!(store.service(&service_name("contested")).await.unwrap().unwrap().run, winner);
}

pub async fn concurrent_creations_with_one_key_yield_one_run(b: &Backend) {
    let outcomes = race(b, |i| new_run(&format!("r{i}"), None, Some(("k", "f")))).await;
    let runs = b.open().await.runs(100).await.unwrap();
    assert_eq!(runs.len(), 1, "{outcomes:?}");
    let replayed = RunCreated::Replayed { run: runs[0].id.clone() };
    assert_eq!(outcomes.iter().filter(|o| **o == RunCreated::Created).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == replayed).count(), CONTENDERS - 1, "{outcomes:?}");
}

pub async fn an_upgraded_service_records_its_new_blueprint_version(b: &Backend) {
    let store = b.open().await;
    create(store.as_ref(), "r1", Some("payments"), None).await;
    let name = service_name("payments");
    store.set_blueprint_version(&name, "2.1.0").await.unwrap();
    assert_eq!(store.service(&name).await.unwrap().unwrap().blueprint_version, "2.1.0");
    assert_eq!(store.services().await.unwrap()[0].blueprint_version, "2.1.0");
    let missing = store.set_blueprint_version(&service_name("nope"), "2.1.0").await.unwrap_err();
    assert_eq!(missing.kind, PortErrorKind::NotFound);
}

pub async fn a_forgotten_service_frees_its_name_and_its_keys(b: &Backend) {
    let store = b.open().await;
    create(store.as_ref(), "r1", Some("payments"), Some(("k1", "f1"))).await;
    let name = service_name("payments");
    assert!(!store.forget_service(&name, &id("r2")).await.unwrap(), "another run's entry is kept");
    assert!(store.service(&name).await.unwrap().is_some());
    assert!(store.forget_service(&name, &id("r1")).await.unwrap());
    assert_eq!(store.service(&name).await.unwrap(), None);
    assert!(!store.forget_service(&name, &id("r1")).await.unwrap(), "forgetting twice finds nothing");
    assert!(store.run(&id("r1")).await.unwrap().is_some(), "the run and its journal stay");
    // The name and the key may be used again, by a new run.
    assert_eq!(create(store.as_ref(), "r3", Some("payments"), Some(("k1", "f1"))).await, RunCreated::Created);
    assert_eq!(store.service(&name).await.unwrap().unwrap().run, id("r3"));
}

pub mod outbox;
pub mod tokens;
pub use outbox::*;
pub use tokens::*;
