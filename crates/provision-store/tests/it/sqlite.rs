//! What only the SQLite store promises: durability across reopening (the outbox's too),
//! versioned migrations (a version-1 database gains the outbox, a version-2 one the tokens, a
//! version-3 one token roles),
//! a busy database reported as transient, claims that die with their process, every runtime
//! flavour served, a close that checkpoints the log.

use crate::support::{at, db_path, email, id, message, msg_key, new_run, service_name};
use provision_core::Role;
use provision_core::ports::{JournalEvent, Outbox, PortErrorKind, RunCreated, RunState, StepState, Store, Tokens};
use provision_store::{Error, Options, SqliteStore};
use rusqlite::{Connection, TransactionBehavior};
use std::io::Write;
use std::path::Path;
use std::pin::pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// A plain connection to the database, as the `sqlite3` shell or another program would open it.
fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// The newest schema version: 1 runs, journal, services and keys; 2 the outbox; 3 tokens;
/// 4 token roles.
const SCHEMA_VERSION: i64 = 4;

fn pragma<T: rusqlite::types::FromSql>(path: &Path, name: &str) -> T {
    raw(path).query_row(&format!("PRAGMA {name}"), [], |row| row.get(0)).unwrap()
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    store.create_run(new_run("r1", Some("payments"), Some(("k", "f")))).await.unwrap();
    store.create_run(new_run("r2", None, None)).await.unwrap();
    for event in [
        JournalEvent::RunStarted,
        JournalEvent::StepStarted { index: 0, name: "ensure-repo payments".into() },
        JournalEvent::StepRetrying { index: 0, error: "flaky".into() },
        JournalEvent::StepDone { index: 0, detail: "created".into() },
        JournalEvent::StepStarted { index: 1, name: "render payments".into() },
        JournalEvent::StepFailed { index: 1, error: "boom".into() },
        JournalEvent::RunFailed { error: "step 1 failed".into() },
    ] {
        store.record(&id("r1"), event).await.unwrap();
    }
    let snapshot = async |store: &SqliteStore| {
        (
            store.runs(10).await.unwrap(),
            store.unfinished_runs().await.unwrap(),
            store.steps(&id("r1")).await.unwrap(),
            store.services().await.unwrap(),
        )
    };
    let before = snapshot(&store).await;
    store.close().await;
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(snapshot(&store).await, before, "timestamps included");
    assert_eq!(
        store.create_run(new_run("r3", None, Some(("k", "f")))).await.unwrap(),
        RunCreated::Replayed { run: id("r1") }
    );
    assert_eq!(
        store.create_run(new_run("r4", Some("payments"), None)).await.unwrap(),
        RunCreated::ServiceExists { name: service_name("payments"), run: id("r1") }
    );
}

#[tokio::test]
async fn timestamps_keep_microseconds_so_they_round_trip_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir)).await.unwrap();
    store.create_run(new_run("r1", None, None)).await.unwrap();
    let run = store.run(&id("r1")).await.unwrap().unwrap();
    assert_eq!(run.created_at.subsec_nanosecond() % 1000, 0, "{}", run.created_at);
}

#[tokio::test]
async fn the_schema_is_versioned_and_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    store.create_run(new_run("r1", None, None)).await.unwrap();
    store.close().await;
    assert_eq!(pragma::<i64>(&path, "user_version"), SCHEMA_VERSION);
    assert_eq!(pragma::<String>(&path, "journal_mode"), "wal");

    // Opening again applies nothing and keeps the data.
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store.run(&id("r1")).await.unwrap().is_some());
    assert_eq!(pragma::<i64>(&path, "user_version"), SCHEMA_VERSION);
}

#[tokio::test]
async fn a_database_of_schema_version_1_gains_the_outbox_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // A database as the previous release left it.
    let old = raw(&path);
    old.execute_batch(include_str!("../../src/sqlite/0001_initial.sql")).unwrap();
    old.execute_batch(
        "PRAGMA user_version = 1; \
         INSERT INTO runs (id, operation, state, request, created_at, updated_at) \
         VALUES ('r1', 'create-service', 'succeeded', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
    )
    .unwrap();
    drop(old);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(pragma::<i64>(&path, "user_version"), SCHEMA_VERSION);
    assert_eq!(store.run(&id("r1")).await.unwrap().unwrap().state, RunState::Succeeded);
    assert!(store.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap());
    assert_eq!(store.claim_due(at(0), 10, Duration::from_secs(60)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_database_of_schema_version_2_gains_the_tokens_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // A database as the release with the outbox left it.
    let old = raw(&path);
    old.execute_batch(include_str!("../../src/sqlite/0001_initial.sql")).unwrap();
    old.execute_batch(include_str!("../../src/sqlite/0002_outbox.sql")).unwrap();
    old.execute_batch(
        "PRAGMA user_version = 2; \
         INSERT INTO runs (id, operation, state, request, created_at, updated_at) \
         VALUES ('r1', 'create-service', 'succeeded', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'); \
         INSERT INTO outbox (key, recipient, subject, text_body, state, attempts, created_at, next_attempt_at) \
         VALUES ('k', 'a@example.com', 's', 't', 'sent', 1, '2026-01-01T00:00:00.000000Z', \
                 '2026-01-01T00:00:00.000000Z');",
    )
    .unwrap();
    drop(old);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(pragma::<i64>(&path, "user_version"), SCHEMA_VERSION);
    assert_eq!(store.run(&id("r1")).await.unwrap().unwrap().state, RunState::Succeeded);
    assert_eq!(store.message(&msg_key("k")).await.unwrap().unwrap().state, provision_core::ports::MessageState::Sent);
    let hash = "ab".repeat(32);
    store.add_token("a1b2c3d4e5f6", &hash, &email("ann@example.org"), Role::Member, at(0)).await.unwrap();
    store.mark_token_used("a1b2c3d4e5f6", at(1)).await.unwrap();
    assert!(store.has_confirmed_token(&email("ann@example.org")).await.unwrap());
}

#[tokio::test]
async fn a_database_of_schema_version_3_gives_its_tokens_roles_that_keep_their_rights() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // A database as the release with tokens but no roles left it: an admin and a plain token.
    let old = raw(&path);
    for script in [
        include_str!("../../src/sqlite/0001_initial.sql"),
        include_str!("../../src/sqlite/0002_outbox.sql"),
        include_str!("../../src/sqlite/0003_tokens.sql"),
    ] {
        old.execute_batch(script).unwrap();
    }
    old.execute_batch(&format!(
        "PRAGMA user_version = 3; \
         INSERT INTO tokens (id, sha256, email, admin, created_at, last_used_at) \
         VALUES ('a1b2c3d4e5f6', '{}', 'ops@example.org', 1, '2026-01-01T00:00:00.000000Z', \
                 '2026-01-02T00:00:00.000000Z'), \
                ('0123456789ab', '{}', 'ann@example.org', 0, '2026-01-01T00:00:00.000000Z', NULL);",
        "ab".repeat(32),
        "cd".repeat(32)
    ))
    .unwrap();
    drop(old);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(pragma::<i64>(&path, "user_version"), SCHEMA_VERSION);
    let roles: Vec<(String, Role, bool)> =
        store.tokens(None).await.unwrap().into_iter().map(|r| (r.id.clone(), r.role, r.is_confirmed())).collect();
    assert_eq!(
        roles,
        [("a1b2c3d4e5f6".to_owned(), Role::Admin, true), ("0123456789ab".to_owned(), Role::Member, false)],
        "an admin stays admin, any other token may still do what it could: a member's rights"
    );
    let e = raw(&path).execute("UPDATE tokens SET role = 'root'", []).unwrap_err();
    assert!(e.to_string().contains("CHECK"), "only the three roles: {e}");
}

#[tokio::test]
async fn tokens_survive_reopening_and_only_their_hash_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    let hash = "cd".repeat(32);
    store.add_token("a1b2c3d4e5f6", &hash, &email("Ann@Example.org"), Role::Admin, at(0)).await.unwrap();
    store.mark_token_used("a1b2c3d4e5f6", at(1)).await.unwrap();
    store.add_token("0123456789ab", &"ef".repeat(32), &email("bob@example.org"), Role::Member, at(2)).await.unwrap();
    store.revoke_token("0123456789ab", at(3)).await.unwrap();
    let before = store.tokens(None).await.unwrap();
    store.close().await;
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.tokens(None).await.unwrap(), before);
    assert!(store.has_confirmed_token(&email("ann@example.org")).await.unwrap());
    let columns: Vec<String> = raw(&path)
        .prepare("SELECT name FROM pragma_table_info('tokens') ORDER BY cid")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(columns, ["seq", "id", "sha256", "email", "created_at", "last_used_at", "revoked_at", "role"]);
    // The CHECK refuses a plain token even from a program that bypasses the store.
    let e = raw(&path)
        .execute(
            "INSERT INTO tokens (id, sha256, email, role, created_at) VALUES ('x', ?, 'a@b.c', 'member', 'now')",
            [format!("orc_a1b2c3d4e5f6_{}", "0".repeat(60))],
        )
        .unwrap_err();
    assert!(e.to_string().contains("CHECK"), "{e}");
}

#[tokio::test]
async fn the_outbox_survives_reopening_exactly_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    for key in ["sent", "retrying", "leased", "failed", "waiting"] {
        let mut m = message(key, "ada@example.com");
        m.html = (key == "sent").then(|| "<p>hi</p>".into());
        store.enqueue(&m, at(0)).await.unwrap();
    }
    let claimed = store.claim_due(at(0), 4, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claimed.len(), 4);
    store.mark_sent(&msg_key("sent"), 1, at(1)).await.unwrap();
    store.mark_failed(&msg_key("retrying"), 1, "421 try later", Some(at(2)), at(1)).await.unwrap();
    store.mark_failed(&msg_key("failed"), 1, "550 no such user", None, at(1)).await.unwrap();
    let keys = ["sent", "retrying", "leased", "failed", "waiting"].map(msg_key);
    let mut before = Vec::new();
    for key in &keys {
        before.push(store.message(key).await.unwrap().unwrap());
    }
    store.close().await;
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    for (key, before) in keys.iter().zip(&before) {
        assert_eq!(&store.message(key).await.unwrap().unwrap(), before, "{key}");
    }
    assert_eq!(before.iter().map(|r| r.state).collect::<Vec<_>>(), {
        use provision_core::ports::MessageState::*;
        [Sent, Pending, Pending, Failed, Pending]
    });
    // The restart claims what was waiting and what was due, and never the sent message.
    let claimed = store.claim_due(at(2), 10, Duration::from_secs(60)).await.unwrap();
    let claimed: Vec<_> = claimed.iter().map(|d| (d.message.key.as_str(), d.attempt)).collect();
    assert_eq!(claimed, [("waiting", 1), ("retrying", 2)], "earliest due first");
    assert_eq!(store.claim_due(at(60), 10, Duration::from_secs(60)).await.unwrap()[0].attempt, 2, "leased");
}

#[tokio::test]
async fn outbox_times_are_written_fixed_width_so_text_order_is_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    store.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap();
    let written: String =
        raw(&path).query_row("SELECT next_attempt_at FROM outbox WHERE key = 'k'", [], |row| row.get(0)).unwrap();
    assert_eq!(written, "2027-01-15T08:00:00.000000Z");
}

#[tokio::test]
async fn a_database_from_a_newer_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    SqliteStore::open(&path).await.unwrap().close().await;
    raw(&path).execute_batch("PRAGMA user_version = 99").unwrap();

    let e = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(e, Error::SchemaTooNew { found: 99, supported: SCHEMA_VERSION, .. }), "{e:?}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

#[tokio::test]
async fn an_unusable_location_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let e = SqliteStore::open(&file.join("orchestrator.db")).await.unwrap_err();
    assert!(matches!(e, Error::LockDir { .. }), "{e:?}");
    assert!(e.to_string().contains(&file.join("locks").display().to_string()), "{e}");
}

#[tokio::test]
async fn a_busy_database_is_a_transient_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let options = Options { busy_timeout: Duration::from_millis(20) };
    let store = SqliteStore::open_with(&path, options).await.unwrap();
    store.create_run(new_run("r1", None, None)).await.unwrap();

    // Another program holds the write lock.
    let mut other = raw(&path);
    let tx = other.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
    let e = store.create_run(new_run("r2", None, None)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Transient, "{e:?}");
    assert!(e.to_string().contains("r2"), "{e}");
    let e = store.record(&id("r1"), JournalEvent::RunStarted).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Transient, "{e:?}");
    assert!(e.is_retryable());
    // Readers are not blocked by a writer (WAL).
    assert_eq!(store.runs(10).await.unwrap().len(), 1);

    tx.rollback().unwrap();
    assert_eq!(store.create_run(new_run("r2", None, None)).await.unwrap(), RunCreated::Created);
    store.record(&id("r1"), JournalEvent::RunStarted).await.unwrap();
}

#[tokio::test]
async fn a_reused_run_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir)).await.unwrap();
    store.create_run(new_run("r1", None, None)).await.unwrap();
    let e = store.create_run(new_run("r1", Some("payments"), Some(("k", "f")))).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::AlreadyExists, "{e:?}");
    assert!(e.to_string().contains("r1"), "{e}");
    // The failed transaction left nothing behind.
    assert_eq!(store.service(&service_name("payments")).await.unwrap(), None);
    assert_eq!(store.create_run(new_run("r2", None, Some(("k", "f")))).await.unwrap(), RunCreated::Created);
}

#[tokio::test]
async fn a_row_that_does_not_decode_is_a_permanent_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    store.create_run(new_run("r1", None, None)).await.unwrap();
    raw(&path).execute("UPDATE runs SET updated_at = 'yesterday' WHERE id = 'r1'", []).unwrap();
    let e = store.run(&id("r1")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Permanent, "{e:?}");
    assert!(e.to_string().starts_with("run r1: the database holds an invalid updated_at \"yesterday\""), "{e}");
}

/// Stricter than the in-memory fake, which journals steps of runs it does not know.
#[tokio::test]
async fn a_step_of_a_missing_run_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir)).await.unwrap();
    let e = store.record(&id("ghost"), JournalEvent::StepStarted { index: 0, name: "s".into() }).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::NotFound, "{e:?}");
    assert!(e.to_string().contains("ghost"), "{e}");
    assert_eq!(store.steps(&id("ghost")).await.unwrap(), []);
}

#[tokio::test]
async fn claims_are_lock_files_beside_the_database_and_outlive_their_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let first = SqliteStore::open(&path).await.unwrap();
    let claim = first.try_claim(&id("r1")).await.unwrap().expect("free");
    assert!(dir.path().join("locks/r1.lock").is_file());
    first.close().await;
    drop(first);

    let second = SqliteStore::open(&path).await.unwrap();
    assert!(second.try_claim(&id("r1")).await.unwrap().is_none(), "the claim, not the store, holds the lock");
    drop(claim);
    assert!(second.try_claim(&id("r1")).await.unwrap().is_some());

    // A removed lock directory is made again.
    std::fs::remove_dir_all(dir.path().join("locks")).unwrap();
    assert!(second.try_claim(&id("r2")).await.unwrap().is_some());
}

/// Names the database a child process claims run `r1` in; see `claim_holder`.
const CHILD_DB: &str = "PROVISION_STORE_TEST_CLAIM_DB";
/// What the child says once it holds the claim.
const CLAIMED: &str = "claim-holder: holding r1";

/// Not a test on its own: the child process of `a_claim_dies_with_its_process`. It claims run
/// `r1`, says [`CLAIMED`] on stdout, and holds the claim until killed.
#[tokio::test]
#[ignore = "run as a child process by a_claim_dies_with_its_process"]
async fn claim_holder() {
    let Some(path) = std::env::var_os(CHILD_DB) else { return };
    let store = SqliteStore::open(Path::new(&path)).await.unwrap();
    let _claim = store.try_claim(&id("r1")).await.unwrap().expect("the parent does not hold r1");
    // Straight to the process's stdout: the test harness captures `println!`.
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(format!("\n{CLAIMED}\n").as_bytes()).and_then(|()| stdout.flush()).unwrap();
    drop(stdout);
    // Blocks until the parent kills this process (or closes stdin).
    tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_claim_dies_with_its_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sqlite::claim_holder", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Waits for the child's word, not for time to pass.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let said = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // libtest may have begun the line with the test's name.
            if line.ends_with(CLAIMED) {
                return true;
            }
        }
        false
    };
    // The timeout only bounds a broken child; the wait itself ends on the child's word.
    let claimed = tokio::time::timeout(Duration::from_secs(120), said).await;
    assert_eq!(claimed, Ok(true), "the child process did not claim the run");
    assert!(store.try_claim(&id("r1")).await.unwrap().is_none(), "the child holds r1");

    child.kill().await.unwrap();
    assert!(store.try_claim(&id("r1")).await.unwrap().is_some(), "the kernel released the dead child's claim");
}

/// A run created, journaled and read back: what every runtime must support.
async fn round_trip(store: &SqliteStore, run: &str) {
    assert_eq!(store.create_run(new_run(run, Some(run), Some((run, "f")))).await.unwrap(), RunCreated::Created);
    store.record(&id(run), JournalEvent::RunStarted).await.unwrap();
    store.record(&id(run), JournalEvent::StepStarted { index: 0, name: "ensure-repo".into() }).await.unwrap();
    store.record(&id(run), JournalEvent::StepDone { index: 0, detail: "created".into() }).await.unwrap();
    store.record(&id(run), JournalEvent::RunSucceeded).await.unwrap();
    let steps = store.steps(&id(run)).await.unwrap();
    assert_eq!(steps.iter().map(|s| (s.index, s.state)).collect::<Vec<_>>(), [(0, StepState::Done)]);
    assert_eq!(store.run(&id(run)).await.unwrap().unwrap().state, RunState::Succeeded);
    assert_eq!(store.service(&service_name(run)).await.unwrap().unwrap().run, id(run));
    assert!(store.try_claim(&id(run)).await.unwrap().is_some());
}

// The store runs statements in place on a multi-thread runtime (in `block_on` and on its
// workers), on the blocking pool on a current-thread one, and directly outside any runtime.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_works_on_a_multi_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir)).await.unwrap();
    round_trip(&store, "in-block-on").await;
    let worker = store.clone();
    tokio::spawn(async move { round_trip(&worker, "on-a-worker").await }).await.unwrap();
    assert_eq!(store.runs(10).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_store_works_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir)).await.unwrap();
    round_trip(&store, "in-block-on").await;
    let task = store.clone();
    tokio::spawn(async move { round_trip(&task, "in-a-task").await }).await.unwrap();
    assert_eq!(store.runs(10).await.unwrap().len(), 2);
}

#[test]
fn the_store_works_outside_any_runtime() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let store = SqliteStore::open(&db_path(&dir)).await.unwrap();
        round_trip(&store, "no-runtime").await;
        store.close().await;
    });
}

/// Polls `future` on this thread, with no tokio runtime around it.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[tokio::test]
async fn closing_checkpoints_the_log_and_later_calls_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    store.create_run(new_run("r1", None, None)).await.unwrap();
    let wal = dir.path().join("orchestrator.db-wal");
    assert!(wal.is_file(), "writes go to the log first");

    let clone = store.clone();
    store.close().await;
    assert!(!wal.exists(), "the log was checkpointed into the database and removed");
    let e = clone.run(&id("r1")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Permanent, "{e:?}");
    assert!(e.to_string().contains(&format!("the database {} is closed", path.display())), "{e}");
    store.close().await;

    // Nothing was lost, even though no process will replay a log.
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store.run(&id("r1")).await.unwrap().is_some());
}
