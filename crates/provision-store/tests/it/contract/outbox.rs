//! The `Outbox` contract: one message per key, claims under leases that nobody else takes
//! while they run, attempts counted at claim time, sends recorded for ever.

use crate::support::{Backend, at, message, msg_key};
use provision_core::ports::{Delivery, MessageState, Outbox, PortErrorKind};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const LEASE: Duration = Duration::from_secs(60);

fn keys(claimed: &[Delivery]) -> Vec<&str> {
    claimed.iter().map(|d| d.message.key.as_str()).collect()
}

async fn claim(outbox: &dyn Outbox, now: i64) -> Vec<Delivery> {
    outbox.claim_due(at(now), 100, LEASE).await.unwrap()
}

pub async fn enqueueing_is_idempotent_by_key(b: &Backend) {
    let outbox = b.outbox().await;
    let first = message("workspace-ready/u1", "ada@example.com");
    assert!(outbox.enqueue(&first, at(0)).await.unwrap(), "newly enqueued");

    let mut other = message("workspace-ready/u1", "bob@example.com");
    other.subject = "something else".into();
    assert!(!outbox.enqueue(&other, at(5)).await.unwrap(), "the key is taken");
    assert!(!b.outbox().await.enqueue(&first, at(6)).await.unwrap(), "from another handle too");

    let record = outbox.message(&msg_key("workspace-ready/u1")).await.unwrap().unwrap();
    assert_eq!(record.message, first, "the first message under a key is the one kept");
    assert_eq!((record.state, record.attempts, record.last_error), (MessageState::Pending, 0, None));
    assert_eq!((record.created_at, record.next_attempt_at), (at(0), at(0)));
    assert_eq!((record.leased_until, record.sent_at), (None, None));
    assert_eq!(outbox.message(&msg_key("workspace-ready/nope")).await.unwrap(), None);
}

pub async fn a_message_round_trips_with_its_html_and_unicode(b: &Backend) {
    let outbox = b.outbox().await;
    let mut m = message("k", "ada@example.com");
    m.subject = "Ünïcode ✓ subject".into();
    m.text = "line 1\r\nline 2\n\n  indented\n".into();
    m.html = Some("<p>Hello &amp; welcome</p>".into());
    outbox.enqueue(&m, at(0)).await.unwrap();
    assert_eq!(outbox.message(&m.key).await.unwrap().unwrap().message, m);
    assert_eq!(claim(&*outbox, 0).await[0].message, m);
}

pub async fn only_due_messages_are_claimed_earliest_first(b: &Backend) {
    let outbox = b.outbox().await;
    // Enqueued out of due order: "late" first, "early" and "tie" at the same time after "mid".
    for (key, now) in [("late", 30), ("mid", 10), ("early", 5), ("tie", 5)] {
        outbox.enqueue(&message(key, "a@example.com"), at(now)).await.unwrap();
    }
    assert_eq!(claim(&*outbox, 4).await, [], "nothing is due yet");
    assert_eq!(outbox.claim_due(at(100), 0, LEASE).await.unwrap(), []);

    let two = outbox.claim_due(at(20), 2, LEASE).await.unwrap();
    assert_eq!(keys(&two), ["early", "tie"], "earliest due first, ties in enqueue order");
    assert!(two.iter().all(|d| d.attempt == 1 && d.leased_until == at(80)), "{two:?}");
    assert_eq!(keys(&claim(&*outbox, 20).await), ["mid"], "late is not due at 20");
    assert_eq!(keys(&claim(&*outbox, 30).await), ["late"]);

    let record = outbox.message(&msg_key("early")).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts, record.leased_until), (MessageState::Pending, 1, Some(at(80))));
    assert_eq!(record.next_attempt_at, at(5), "a claim does not move the next attempt");
}

pub async fn a_leased_message_is_claimed_by_nobody_else_until_the_lease_expires(b: &Backend) {
    let (first, second) = (b.outbox().await, b.outbox().await);
    first.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap();
    let claimed = claim(&*first, 0).await;
    assert_eq!((keys(&claimed), claimed[0].attempt), (vec!["k"], 1));

    assert_eq!(claim(&*first, 1).await, [], "same handle");
    assert_eq!(claim(&*second, 59).await, [], "another handle, lease running");
    assert_eq!(first.next_due().await.unwrap(), Some(at(60)), "due again when the lease ends");

    // The holder died without reporting: once the lease has run out, the message is due again.
    let again = claim(&*second, 60).await;
    assert_eq!((keys(&again), again[0].attempt, again[0].leased_until), (vec!["k"], 2, at(120)));
    assert_eq!(first.message(&msg_key("k")).await.unwrap().unwrap().attempts, 2);
}

pub async fn a_sent_message_is_never_claimed_again(b: &Backend) {
    let outbox = b.outbox().await;
    outbox.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap();
    let d = claim(&*outbox, 0).await.remove(0);
    outbox.mark_sent(&d.message.key, d.attempt, at(2)).await.unwrap();

    let record = outbox.message(&d.message.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts, record.sent_at), (MessageState::Sent, 1, Some(at(2))));
    assert_eq!((record.leased_until, &record.last_error), (None, &None));
    assert_eq!(claim(&*outbox, 1_000_000).await, []);
    assert_eq!(outbox.next_due().await.unwrap(), None);

    // Recording it again (a retried report) changes nothing.
    outbox.mark_sent(&d.message.key, d.attempt, at(9)).await.unwrap();
    assert_eq!(outbox.message(&d.message.key).await.unwrap().unwrap(), record);
    // A failure reported for it now is refused and changes nothing.
    let e = outbox.mark_failed(&d.message.key, d.attempt, "late", Some(at(10)), at(9)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Conflict, "{e:?}");
    assert_eq!(outbox.message(&d.message.key).await.unwrap().unwrap(), record);
    // Enqueueing the key again does not bring it back.
    assert!(!outbox.enqueue(&message("k", "a@example.com"), at(10)).await.unwrap());
    assert_eq!(claim(&*outbox, 1_000_000).await, []);
}

pub async fn a_failed_attempt_waits_for_its_retry_time(b: &Backend) {
    let outbox = b.outbox().await;
    outbox.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap();
    let d = claim(&*outbox, 0).await.remove(0);
    outbox.mark_failed(&d.message.key, d.attempt, "connection refused", Some(at(1)), at(0)).await.unwrap();

    let record = outbox.message(&d.message.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (MessageState::Pending, 1));
    assert_eq!((record.next_attempt_at, record.leased_until), (at(1), None));
    assert_eq!(record.last_error.as_deref(), Some("connection refused"));
    assert_eq!(outbox.next_due().await.unwrap(), Some(at(1)));

    assert_eq!(claim(&*outbox, 0).await, [], "not before its retry time");
    let again = claim(&*outbox, 1).await;
    assert_eq!((keys(&again), again[0].attempt), (vec!["k"], 2));
    outbox.mark_sent(&d.message.key, 2, at(1)).await.unwrap();
    let record = outbox.message(&d.message.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts, record.last_error), (MessageState::Sent, 2, None));
}

pub async fn a_message_given_up_stays_failed(b: &Backend) {
    let outbox = b.outbox().await;
    outbox.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap();
    let d = claim(&*outbox, 0).await.remove(0);
    outbox.mark_failed(&d.message.key, d.attempt, "550 no such user", None, at(0)).await.unwrap();

    let record = outbox.message(&d.message.key).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (MessageState::Failed, 1));
    assert_eq!((record.last_error.as_deref(), record.leased_until), (Some("550 no such user"), None));
    assert_eq!(claim(&*outbox, 1_000_000).await, []);
    assert_eq!(outbox.next_due().await.unwrap(), None);
    let e = outbox.mark_sent(&d.message.key, d.attempt, at(1)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Conflict, "{e:?}");
    assert_eq!(outbox.message(&d.message.key).await.unwrap().unwrap(), record);
}

pub async fn a_late_report_of_a_taken_over_attempt_changes_nothing(b: &Backend) {
    let outbox = b.outbox().await;
    outbox.enqueue(&message("k", "a@example.com"), at(0)).await.unwrap();
    let slow = claim(&*outbox, 0).await.remove(0);
    let fresh = claim(&*outbox, 60).await.remove(0);
    assert_eq!((slow.attempt, fresh.attempt), (1, 2));

    let e = outbox.mark_failed(&slow.message.key, slow.attempt, "timed out", Some(at(61)), at(70)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Conflict, "{e:?}");
    assert!(e.to_string().contains('k'), "{e}");
    let record = outbox.message(&slow.message.key).await.unwrap().unwrap();
    assert_eq!((record.leased_until, record.last_error), (Some(at(120)), None), "attempt 2's lease stands");

    // A send, though, is recorded whoever holds the message now: the mail went out.
    outbox.mark_sent(&slow.message.key, slow.attempt, at(71)).await.unwrap();
    assert_eq!(outbox.message(&slow.message.key).await.unwrap().unwrap().state, MessageState::Sent);
    let e = outbox.mark_failed(&fresh.message.key, fresh.attempt, "x", Some(at(80)), at(72)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Conflict, "{e:?}");
}

pub async fn reports_about_unknown_messages_are_not_found(b: &Backend) {
    let outbox = b.outbox().await;
    let ghost = msg_key("ghost");
    let e = outbox.mark_sent(&ghost, 1, at(0)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::NotFound, "{e:?}");
    assert!(e.to_string().contains("ghost"), "{e}");
    let e = outbox.mark_failed(&ghost, 1, "e", None, at(0)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::NotFound, "{e:?}");
    assert_eq!(outbox.next_due().await.unwrap(), None);
}

pub async fn the_next_due_time_is_the_earliest_claimable_one(b: &Backend) {
    let outbox = b.outbox().await;
    assert_eq!(outbox.next_due().await.unwrap(), None);
    outbox.enqueue(&message("a", "a@example.com"), at(10)).await.unwrap();
    outbox.enqueue(&message("b", "a@example.com"), at(20)).await.unwrap();
    assert_eq!(outbox.next_due().await.unwrap(), Some(at(10)));
    // "a" leased until 70: "b" at 20 is now the earliest.
    assert_eq!(keys(&outbox.claim_due(at(10), 1, LEASE).await.unwrap()), ["a"]);
    assert_eq!(outbox.next_due().await.unwrap(), Some(at(20)));
    let b_claim = claim(&*outbox, 20).await.remove(0);
    assert_eq!(outbox.next_due().await.unwrap(), Some(at(70)));
    outbox.mark_sent(&b_claim.message.key, b_claim.attempt, at(21)).await.unwrap();
    outbox.mark_failed(&msg_key("a"), 1, "e", Some(at(15)), at(21)).await.unwrap();
    assert_eq!(outbox.next_due().await.unwrap(), Some(at(15)), "a retry time in the past is due now");
}

pub async fn times_are_kept_to_the_microsecond(b: &Backend) {
    let outbox = b.outbox().await;
    let precise = at(0).checked_add(Duration::from_nanos(1_234_567)).unwrap();
    outbox.enqueue(&message("k", "a@example.com"), precise).await.unwrap();
    let record = outbox.message(&msg_key("k")).await.unwrap().unwrap();
    let micro = at(0).checked_add(Duration::from_micros(1_234)).unwrap();
    assert_eq!((record.created_at, record.next_attempt_at), (micro, micro));
    // Compared in time, not as text: due 1.234 ms after the whole second, claimable from then.
    assert_eq!(outbox.claim_due(at(0), 10, LEASE).await.unwrap(), []);
    assert_eq!(keys(&outbox.claim_due(micro, 10, LEASE).await.unwrap()), ["k"]);
}

pub async fn concurrent_claims_hand_out_each_message_once(b: &Backend) {
    const MESSAGES: usize = 24;
    const CLAIMERS: usize = 8;
    let handles: [Arc<dyn Outbox>; 2] = [b.outbox().await, b.outbox().await];
    for i in 0..MESSAGES {
        handles[0].enqueue(&message(&format!("m{i}"), "a@example.com"), at(0)).await.unwrap();
    }
    let start = Arc::new(Barrier::new(CLAIMERS));
    let mut tasks = JoinSet::new();
    for i in 0..CLAIMERS {
        let (outbox, start) = (handles[i % 2].clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            loop {
                let claimed = outbox.claim_due(at(1), 1, LEASE).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|d| (d.message.key.to_string(), d.attempt)));
            }
        });
    }
    let all: Vec<(String, u32)> = tasks.join_all().await.into_iter().flatten().collect();
    assert_eq!(all.len(), MESSAGES, "{all:?}");
    assert!(all.iter().all(|(_, attempt)| *attempt == 1), "{all:?}");
    assert_eq!(all.iter().map(|(k, _)| k).collect::<HashSet<_>>().len(), MESSAGES, "{all:?}");
}
