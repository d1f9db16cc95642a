//! The engine journaling into SQLite: a run killed at any step boundary is finished by a
//! process that opens the database anew, and no effect happens twice.

use crate::support::{db_path, id, new_run};
use provision_core::engine::{Crashed, Engine, Error as EngineError, FaultPoint};
use provision_core::ports::{RunCreated, RunState, StepState, Store};
use provision_core::testing::{CrashAt, MemoryGitHost, NoPause, sample_plan};
use provision_store::SqliteStore;

fn assert_provisioned_once(git: &MemoryGitHost, point: FaultPoint) {
    assert_eq!(git.repo_names(), ["gitops", "svc"], "{point:?}");
    let template = git.history("svc", "orchestrator/template");
    assert_eq!(template.len(), 1, "{point:?}: {template:?}");
    assert_eq!(git.history("svc", "main"), template, "{point:?}: main starts at the pristine render");
    assert_eq!(git.history("gitops", "main").len(), 1, "{point:?}");
}

#[tokio::test]
async fn a_run_killed_at_any_step_boundary_is_finished_by_a_new_process() {
    let steps = sample_plan().len();
    let points =
        (0..steps).flat_map(|i| [FaultPoint::BeforeStep(i), FaultPoint::AfterEffect(i), FaultPoint::AfterStep(i)]);
    for point in points {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let git = MemoryGitHost::new();
        let run = id("r1");

        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.create_run(new_run("r1", Some("svc"), None)).await.unwrap(), RunCreated::Created);
        let hook = CrashAt(point);
        let crashed = Engine::new(&git, &store, &NoPause).with_fault_hook(&hook).execute(&run, &sample_plan()).await;
        assert!(matches!(crashed, Err(EngineError::Crashed(Crashed(p))) if p == point), "{point:?}: {crashed:?}");
        store.close().await;
        drop(store);

        // The next process: a fresh store on the same file finds the run unfinished and resumes it.
        let store = SqliteStore::open(&path).await.unwrap();
        let unfinished = store.unfinished_runs().await.unwrap();
        assert_eq!(unfinished.iter().map(|r| &r.id).collect::<Vec<_>>(), [&run], "{point:?}");
        let outcome = Engine::new(&git, &store, &NoPause).execute(&run, &sample_plan()).await.unwrap();
        assert_eq!(outcome.state, RunState::Succeeded, "{point:?}");
        assert_provisioned_once(&git, point);

        let journal = store.steps(&run).await.unwrap();
        assert_eq!(journal.len(), steps, "{point:?}");
        for s in journal {
            assert_eq!(s.state, StepState::Done, "{point:?} step {}", s.index);
            // The interrupted step is the only one attempted twice, and only if it had started.
            let interrupted = s.index == point.step()
                && point != FaultPoint::AfterStep(s.index)
                && point != FaultPoint::BeforeStep(s.index);
            assert_eq!(s.attempts, if interrupted { 2 } else { 1 }, "{point:?} step {}", s.index);
        }
        let record = store.run(&run).await.unwrap().unwrap();
        assert_eq!((record.state, record.error), (RunState::Succeeded, None), "{point:?}");
        assert_eq!(store.services().await.unwrap()[0].run_state, RunState::Succeeded);
        assert_eq!(store.unfinished_runs().await.unwrap(), [], "{point:?}");
    }
}
