//! The dispatcher's policy with in-memory ports: backoff, giving up, batches, the loop's
//! wake-ups and timer (on tokio's paused clock, so nothing sleeps), timeouts, and two
//! dispatchers sharing one SQLite outbox.

use crate::support::{TokioClock, at, plain};
use async_trait::async_trait;
use provision_core::ports::{MessageState, Notifier, Outbox, OutgoingMessage, PortError, PortErrorKind};
use provision_core::testing::{MemoryNotifier, MemoryStore};
use provision_notify::{Dispatcher, DispatcherOptions};
use provision_store::SqliteStore;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

fn dispatcher(store: &MemoryStore, notifier: &Arc<MemoryNotifier>) -> Dispatcher {
    Dispatcher::new(Arc::new(store.clone()), notifier.clone())
}

#[tokio::test]
async fn transient_failures_back_off_exponentially_and_are_recorded() {
    let (store, notifier) = (MemoryStore::new(), Arc::new(MemoryNotifier::new()));
    let d = dispatcher(&store, &notifier);
    let m = plain("k", "ada@example.com");
    store.enqueue(&m, at(0)).await.unwrap();
    notifier.fail_next(10, PortErrorKind::Transient);

    // Each pass at the time the last one set: 1, 2, 4, … seconds apart, capped at 300.
    let mut now = at(0);
    let mut waits = Vec::new();
    for attempt in 1..=10 {
        let report = d.dispatch_once(now).await.unwrap();
        let [(key, next)] = report.retrying.as_slice() else { panic!("{report:?}") };
        assert_eq!(key, &m.key);
        let record = store.message(&m.key).await.unwrap().unwrap();
        assert_eq!((record.attempts, record.next_attempt_at, record.state), (attempt, *next, MessageState::Pending));
        assert!(record.last_error.unwrap().contains("injected failure"));
        waits.push(now.duration_until(*next).as_secs());
        now = *next;
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
    assert_eq!(d.dispatch_once(now).await.unwrap().sent, std::slice::from_ref(&m.key));
    assert_eq!(notifier.sent(), [m]);
    assert_eq!(notifier.calls(), 11);
}

#[tokio::test]
async fn a_permanent_failure_or_the_last_attempt_gives_up() {
    let (store, notifier) = (MemoryStore::new(), Arc::new(MemoryNotifier::new()));
    let options = DispatcherOptions { max_attempts: 3, ..Default::default() };
    let d = dispatcher(&store, &notifier).with_options(options);
    store.enqueue(&plain("permanent", "a@example.com"), at(0)).await.unwrap();
    notifier.fail_next(1, PortErrorKind::Permanent);
    assert_eq!(d.dispatch_once(at(0)).await.unwrap().failed, [crate::support::key("permanent")]);

    store.enqueue(&plain("flaky", "a@example.com"), at(0)).await.unwrap();
    notifier.fail_next(3, PortErrorKind::Transient);
    assert_eq!(d.dispatch_once(at(0)).await.unwrap().retrying.len(), 1);
    assert_eq!(d.dispatch_once(at(1)).await.unwrap().retrying.len(), 1);
    assert_eq!(d.dispatch_once(at(3)).await.unwrap().failed, [crate::support::key("flaky")], "attempt 3 of 3");
    for key in ["permanent", "flaky"] {
        let record = store.message(&crate::support::key(key)).await.unwrap().unwrap();
        assert_eq!(record.state, MessageState::Failed, "{key}");
    }
    assert_eq!(d.dispatch_once(at(10_000)).await.unwrap().claimed(), 0);
    assert_eq!(notifier.sent(), []);
}

#[tokio::test]
async fn a_pass_attempts_at_most_a_batch_earliest_due_first() {
    let (store, notifier) = (MemoryStore::new(), Arc::new(MemoryNotifier::new()));
    let d = dispatcher(&store, &notifier).with_options(DispatcherOptions { batch: 2, ..Default::default() });
    for (key, t) in [("c", 3), ("a", 1), ("b", 2)] {
        store.enqueue(&plain(key, "a@example.com"), at(t)).await.unwrap();
    }
    let first = d.dispatch_once(at(10)).await.unwrap();
    assert_eq!(first.sent.iter().map(|k| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(d.dispatch_once(at(10)).await.unwrap().sent.len(), 1);
    assert_eq!(notifier.sent().len(), 3);
}

/// Sends nothing until told to, and says when a send begins.
struct Gate {
    started: mpsc::UnboundedSender<String>,
    open: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

#[async_trait]
impl Notifier for Gate {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        let _ = self.started.send(message.key.to_string());
        let gate = self.open.lock().await.take();
        match gate {
            Some(gate) => gate.await.map_err(|_| PortError::transient("the gate was dropped")),
            // After the first send: hang for ever (until the timeout).
            None => std::future::pending().await,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_send_that_outlasts_its_timeout_is_a_transient_failure() {
    let store = MemoryStore::new();
    let (started, mut began) = mpsc::unbounded_channel();
    let gate = Arc::new(Gate { started, open: tokio::sync::Mutex::new(None) });
    let options = DispatcherOptions { send_timeout: Duration::from_secs(60), ..Default::default() };
    let d = Dispatcher::new(Arc::new(store.clone()), gate).with_options(options);
    store.enqueue(&plain("k", "a@example.com"), at(0)).await.unwrap();
    // On the paused clock the timeout fires as soon as nothing else can run.
    let report = d.dispatch_once(at(0)).await.unwrap();
    assert_eq!(report.retrying.len(), 1, "{report:?}");
    assert_eq!(began.recv().await.as_deref(), Some("k"));
    let record = store.message(&crate::support::key("k")).await.unwrap().unwrap();
    assert!(record.last_error.unwrap().contains("took longer than 60s"));
}

/// A `MemoryNotifier` that also says, on a channel, which message it accepted: tests wait on
/// the channel, so on tokio's paused clock every task is idle and time moves to the next timer.
struct Signalling {
    inner: MemoryNotifier,
    accepted: mpsc::UnboundedSender<String>,
}

#[async_trait]
impl Notifier for Signalling {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        self.inner.send(message).await?;
        let _ = self.accepted.send(message.key.to_string());
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_loop_sends_on_enqueue_and_retries_on_its_timer_until_shut_down() {
    let store = MemoryStore::new();
    let (accepted, mut sent) = mpsc::unbounded_channel();
    let notifier = Arc::new(Signalling { inner: MemoryNotifier::new(), accepted });
    let clock = Arc::new(TokioClock::new());
    let options = DispatcherOptions { poll_interval: Duration::from_secs(3600), ..Default::default() };
    let d = Arc::new(
        Dispatcher::new(Arc::new(store.clone()), notifier.clone()).with_clock(clock.clone()).with_options(options),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn({
        let d = Arc::clone(&d);
        async move { d.run(async { stopped.await.unwrap_or(()) }).await }
    });

    // Enqueued through the dispatcher: the loop wakes at once, long before its poll interval.
    notifier.inner.fail_next(2, PortErrorKind::Transient);
    let m = plain("k", "a@example.com");
    let start = tokio::time::Instant::now();
    assert!(d.enqueue(&m).await.unwrap());
    // The paused clock moves only when every task waits: to the loop's retry timer.
    let key = tokio::time::timeout(Duration::from_secs(3600), sent.recv()).await.unwrap();
    assert_eq!(key.as_deref(), Some("k"));
    assert_eq!(start.elapsed(), Duration::from_secs(3), "attempts at 0 s, 1 s and 3 s");
    let record = store.message(&m.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts, record.sent_at), (MessageState::Sent, 3, Some(at(3))));

    // A message enqueued behind the dispatcher's back (another process) is found by polling,
    // within the poll interval.
    let start = tokio::time::Instant::now();
    store.enqueue(&plain("other", "a@example.com"), clock.now()).await.unwrap();
    let key = tokio::time::timeout(Duration::from_secs(7200), sent.recv()).await.unwrap();
    assert_eq!(key.as_deref(), Some("other"));
    assert!(start.elapsed() <= Duration::from_secs(3600), "{:?}", start.elapsed());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), running).await.unwrap().unwrap();
    assert_eq!(notifier.inner.calls(), 4);
}

use provision_notify::Clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_on_one_database_send_each_message_once() {
    const MESSAGES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orchestrator.db");
    let notifier = Arc::new(MemoryNotifier::new());
    let first = SqliteStore::open(&db).await.unwrap();
    let second = SqliteStore::open(&db).await.unwrap();
    for i in 0..MESSAGES {
        first.enqueue(&plain(&format!("m{i}"), "a@example.com"), at(0)).await.unwrap();
    }
    let dispatchers = [first, second].map(|s| Arc::new(Dispatcher::new(Arc::new(s), notifier.clone())));
    let passes = dispatchers.iter().map(|d| {
        let d = Arc::clone(d);
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let report = d.dispatch_once(at(1)).await.unwrap();
                if report.claimed() == 0 {
                    return sent;
                }
                sent += report.sent.len();
            }
        })
    });
    let counts: Vec<usize> = futures_join(passes).await;
    assert_eq!(counts.iter().sum::<usize>(), MESSAGES, "{counts:?}");
    let keys: HashSet<String> = notifier.sent().iter().map(|m| m.key.to_string()).collect();
    assert_eq!((notifier.sent().len(), keys.len()), (MESSAGES, MESSAGES));
}

async fn futures_join(tasks: impl Iterator<Item = tokio::task::JoinHandle<usize>>) -> Vec<usize> {
    let mut out = Vec::new();
    for t in tasks.collect::<Vec<_>>() {
        out.push(t.await.unwrap());
    }
    out
}

/// Takes the message over while it is being sent, as a second dispatcher does once a lease has
/// run out: claims it again far in the future, then gives it up.
struct TakenOver {
    store: MemoryStore,
    fail: bool,
}

#[async_trait]
impl Notifier for TakenOver {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        let again = self.store.claim_due(at(100_000), 1, Duration::from_secs(60)).await.unwrap();
        assert_eq!(again[0].attempt, 2);
        if self.fail {
            Err(PortError::transient("connection reset"))
        } else {
            self.store.mark_failed(&message.key, 2, "given up by the other", None, at(100_000)).await.unwrap();
            Ok(())
        }
    }
}

#[tokio::test]
async fn a_result_that_comes_back_after_a_takeover_is_reported_lost() {
    for fail in [true, false] {
        let store = MemoryStore::new();
        let d = Dispatcher::new(Arc::new(store.clone()), Arc::new(TakenOver { store: store.clone(), fail }));
        store.enqueue(&plain("k", "a@example.com"), at(0)).await.unwrap();
        let report = d.dispatch_once(at(0)).await.unwrap();
        assert_eq!(report.lost, [crate::support::key("k")], "{report:?}");
        assert_eq!(report.claimed(), 1);
        let record = store.message(&crate::support::key("k")).await.unwrap().unwrap();
        // The newer attempt's word stands: still leased to it, or given up by it.
        let expected = if fail { MessageState::Pending } else { MessageState::Failed };
        assert_eq!((record.state, record.attempts), (expected, 2), "fail: {fail}");
    }
}
