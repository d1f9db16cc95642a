//! Exactly once, end to end: the dispatcher, the SQLite outbox and a real SMTP server that goes
//! down and comes back, and processes that restart.

use crate::support::{Smtpd, SmtpdConfig, at, plain, smtp, workspace_ready};
use provision_core::ports::{MessageState, Outbox};
use provision_notify::{Dispatcher, DispatcherOptions, SmtpUrl};
use provision_store::SqliteStore;
use std::sync::Arc;
use std::time::Duration;

async fn dispatcher(store: &SqliteStore, url: SmtpUrl) -> Dispatcher {
    Dispatcher::new(Arc::new(store.clone()), Arc::new(smtp(url, None)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_waits_out_an_outage_and_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("orchestrator.db")).await.unwrap();
    let mut server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let dispatcher = dispatcher(&store, server.url(None, "none")).await;
    // A first message goes out, leaving a pooled connection behind.
    store.enqueue(&plain("before", "bob@example.com"), at(0)).await.unwrap();
    assert_eq!(dispatcher.dispatch_once(at(0)).await.unwrap().sent.len(), 1);

    // The server goes down; the access e-mail is enqueued meanwhile.
    server.stop().await;
    let message = workspace_ready("uid-1", "ada@example.com");
    assert!(store.enqueue(&message, at(10)).await.unwrap());
    let report = dispatcher.dispatch_once(at(10)).await.unwrap();
    assert_eq!(report.retrying, [(message.key.clone(), at(11))], "{report:?}");
    let record = store.message(&message.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts, record.next_attempt_at), (MessageState::Pending, 1, at(11)));
    assert_eq!(record.leased_until, None);
    let error = record.last_error.unwrap();
    assert!(error.contains("workspace-ready/uid-1") && error.to_lowercase().contains("refused"), "{error}");

    // Not due before its time.
    let early = at(10).checked_add(Duration::from_millis(500)).unwrap();
    assert_eq!(dispatcher.dispatch_once(early).await.unwrap().claimed(), 0);

    // Still down at the next attempt: the wait doubles.
    let report = dispatcher.dispatch_once(at(11)).await.unwrap();
    assert_eq!(report.retrying, [(message.key.clone(), at(13))], "{report:?}");

    // Back up, on the same port.
    server.restart().await;
    let report = dispatcher.dispatch_once(at(13)).await.unwrap();
    assert_eq!(report.sent, std::slice::from_ref(&message.key), "{report:?}");
    let record = store.message(&message.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts, record.sent_at), (MessageState::Sent, 3, Some(at(13))));

    // Later passes find nothing more to do.
    for later in [at(14), at(3600), at(86_400 * 30)] {
        assert_eq!(dispatcher.dispatch_once(later).await.unwrap().claimed(), 0);
    }
    let received = server.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received.iter().filter(|r| r.subject == message.subject).count(), 1);
    assert_eq!(received[1].to, "ada@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_never_sends_a_sent_message_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orchestrator.db");
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let message = workspace_ready("uid-2", "ada@example.com");

    let store = SqliteStore::open(&db).await.unwrap();
    let first = dispatcher(&store, server.url(None, "none")).await;
    assert!(store.enqueue(&message, at(0)).await.unwrap());
    assert!(!store.enqueue(&message, at(0)).await.unwrap(), "the same key twice is one message");
    assert_eq!(first.dispatch_once(at(0)).await.unwrap().sent, std::slice::from_ref(&message.key));
    drop(first);
    store.close().await;
    drop(store);

    // The next process: a new store on the same file, a new notifier and dispatcher. The
    // controller enqueues the access e-mail again, as it does after every restart.
    let store = SqliteStore::open(&db).await.unwrap();
    let second = dispatcher(&store, server.url(None, "none")).await;
    assert!(!store.enqueue(&message, at(100)).await.unwrap());
    for later in [at(100), at(86_400)] {
        assert_eq!(second.dispatch_once(later).await.unwrap().claimed(), 0);
    }
    assert_eq!(server.received().len(), 1);
    assert_eq!(store.message(&message.key).await.unwrap().unwrap().state, MessageState::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_claimed_by_a_process_that_died_is_sent_when_its_lease_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orchestrator.db");
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let message = plain("k", "ada@example.com");
    let options = DispatcherOptions { lease: Duration::from_secs(600), ..Default::default() };

    // A process claims the message and dies before sending (or before its send is recorded).
    let store = SqliteStore::open(&db).await.unwrap();
    store.enqueue(&message, at(0)).await.unwrap();
    assert_eq!(store.claim_due(at(0), 1, options.lease).await.unwrap().len(), 1);
    store.close().await;
    drop(store);

    let store = SqliteStore::open(&db).await.unwrap();
    let next = dispatcher(&store, server.url(None, "none")).await.with_options(options);
    assert_eq!(next.dispatch_once(at(599)).await.unwrap().claimed(), 0, "the lease still runs");
    assert_eq!(next.dispatch_once(at(600)).await.unwrap().sent, std::slice::from_ref(&message.key));
    assert_eq!(next.dispatch_once(at(1200)).await.unwrap().claimed(), 0);
    assert_eq!(server.received().len(), 1);
    assert_eq!(store.message(&message.key).await.unwrap().unwrap().attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_given_up_and_the_others_still_go_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("orchestrator.db")).await.unwrap();
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let dispatcher = dispatcher(&store, server.url(None, "none")).await;
    for (key, to) in [("a", "ada@example.com"), ("b", "nobody@example.com"), ("c", "later@example.com")] {
        store.enqueue(&plain(key, to), at(0)).await.unwrap();
    }
    let report = dispatcher.dispatch_once(at(0)).await.unwrap();
    let keys = |ks: &[provision_core::ports::MessageKey]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(keys(&report.sent), ["a"]);
    assert_eq!(keys(&report.failed), ["b"], "550: permanent");
    assert_eq!(report.retrying.iter().map(|(k, t)| (k.as_str(), *t)).collect::<Vec<_>>(), [("c", at(1))], "451");
    let b = store.message(&crate::support::key("b")).await.unwrap().unwrap();
    assert_eq!(b.state, MessageState::Failed);
    assert!(b.last_error.unwrap().contains("550"));
    assert_eq!(dispatcher.dispatch_once(at(86_400)).await.unwrap().failed, [], "b is never tried again");
    assert_eq!(server.received().len(), 1);
}
