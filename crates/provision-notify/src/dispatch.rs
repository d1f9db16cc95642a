//! [`Dispatcher`]: delivers the outbox's due messages through a [`Notifier`], each once.
//!
//! # Exactly once, and the window that remains
//!
//! - **Enqueueing** is idempotent by the message's key ([`Outbox::enqueue`]): a controller that
//!   restarts and enqueues the access e-mail again adds nothing.
//! - **Claiming** leases a message to one dispatcher ([`Outbox::claim_due`]) and counts the
//!   attempt before anything is sent, so no other dispatcher, in this process or another, sends
//!   it while the lease runs. Each send is bounded by [`DispatcherOptions::send_timeout`], and
//!   the lease is at least twice that, so a lease does not run out under a send in progress.
//! - **Recording** happens right after the server accepted the message (an SMTP server's `250`
//!   to the data, a file renamed into the maildir): one statement that marks it sent, retried at
//!   once if the store is busy. A sent message is never claimed again, after any restart.
//!
//! What remains is the gap between the server's acceptance and that statement committing: if
//! the process dies there (or the store stays unwritable for the retries), the lease runs out
//! and the message is sent a second time. This is at least once, not exactly once, across
//! that gap only; no protocol can close it with an SMTP server, which has no way to ask whether
//! it already took a message. Two things soften it: every attempt carries the same `Message-ID`
//! (from the key), by which mail systems and readers recognise a duplicate, and the maildir
//! notifier finds a message already delivered by its key and writes it once.
//!
//! # Time
//!
//! Nothing here reads the wall clock directly: [`Dispatcher::dispatch_once`] takes the time,
//! and [`Dispatcher::run`] asks a [`Clock`], so tests need no sleeping.

use jiff::Timestamp;
use provision_core::ports::{Delivery, MessageKey, Notifier, Outbox, OutgoingMessage, PortError, PortErrorKind};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

/// Where the dispatcher's loop gets the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// How the dispatcher paces itself.
#[derive(Debug, Clone)]
pub struct DispatcherOptions {
    /// Messages attempted per pass, at most.
    pub batch: usize,
    /// How long one send may take before it counts as a transient failure.
    pub send_timeout: Duration,
    /// How long a claimed message stays claimed; raised to twice `send_timeout` if shorter.
    pub lease: Duration,
    /// The wait after a message's first failed attempt; it doubles with each further one …
    pub first_retry: Duration,
    /// … up to this.
    pub max_retry: Duration,
    /// After this many attempts a transient failure also gives the message up.
    pub max_attempts: u32,
    /// The longest [`Dispatcher::run`] sleeps without looking at the outbox: messages other
    /// processes enqueue are found within this time.
    pub poll_interval: Duration,
}

impl Default for DispatcherOptions {
    /// 1 s, 2 s, 4 s … capped at 5 minutes; given up after 2016 attempts (a week at the cap).
    fn default() -> Self {
        Self {
            batch: 32,
            send_timeout: Duration::from_secs(120),
            lease: Duration::from_secs(600),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
            max_attempts: 2016,
            poll_interval: Duration::from_secs(30),
        }
    }
}

/// The wait before the attempt after `attempt` (1 for the first): `first`, doubled for each
/// attempt after the first, at most `max`.
pub fn backoff(attempt: u32, first: Duration, max: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    first.saturating_mul(1 << doublings).min(max)
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DispatchReport {
    /// Accepted by the mail system and recorded as sent.
    pub sent: Vec<MessageKey>,
    /// Failed for now, with the time of the next attempt.
    pub retrying: Vec<(MessageKey, Timestamp)>,
    /// Given up: a permanent failure, or the last attempt allowed.
    pub failed: Vec<MessageKey>,
    /// Attempted, but the lease was lost before the result was recorded (another dispatcher
    /// took the message over after the lease ran out); the other dispatcher's result stands.
    pub lost: Vec<MessageKey>,
}

impl DispatchReport {
    /// How many messages the pass claimed.
    pub fn claimed(&self) -> usize {
        self.sent.len() + self.retrying.len() + self.failed.len() + self.lost.len()
    }
}

/// Wakes a running [`Dispatcher::run`], e.g. after enqueueing elsewhere.
#[derive(Debug, Clone)]
pub struct DispatchWaker(Arc<Notify>);

impl DispatchWaker {
    /// A wake-up with nobody waiting is kept for the next wait, so none is lost.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Delivers due outbox messages through a notifier.
pub struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    notifier: Arc<dyn Notifier>,
    options: DispatcherOptions,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

/// A clock that always says the same time: one pass of [`Dispatcher::dispatch_once`].
struct Fixed(Timestamp);

impl Clock for Fixed {
    fn now(&self) -> Timestamp {
        self.0
    }
}

impl Dispatcher {
    /// Default options, the system clock.
    pub fn new(outbox: Arc<dyn Outbox>, notifier: Arc<dyn Notifier>) -> Self {
        Self {
            outbox,
            notifier,
            options: DispatcherOptions::default(),
            clock: Arc::new(SystemClock),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn with_options(mut self, options: DispatcherOptions) -> Self {
        self.options = options;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn waker(&self) -> DispatchWaker {
        DispatchWaker(Arc::clone(&self.wake))
    }

    /// Enqueues `message` at the clock's time and wakes the loop; `true` if it was new.
    pub async fn enqueue(&self, message: &OutgoingMessage) -> Result<bool, PortError> {
        let new = self.outbox.enqueue(message, self.clock.now()).await?;
        if new {
            debug!(key = %message.key, "message enqueued");
            self.wake.notify_one();
        }
        Ok(new)
    }

    /// One pass at time `now`: claims the messages due (up to the batch size), sends each,
    /// records each outcome. A failure of the store ends the pass with its error; messages
    /// claimed and not recorded wait for their lease to run out.
    pub async fn dispatch_once(&self, now: Timestamp) -> Result<DispatchReport, PortError> {
        self.dispatch(&Fixed(now)).await
    }

    async fn dispatch(&self, clock: &dyn Clock) -> Result<DispatchReport, PortError> {
        let lease = self.options.lease.max(self.options.send_timeout.saturating_mul(2));
        let mut report = DispatchReport::default();
        while report.claimed() < self.options.batch {
            // One at a time: a lease starts when its send is about to, not a batch earlier.
            let Some(delivery) = self.outbox.claim_due(clock.now(), 1, lease).await?.pop() else {
                break;
            };
            self.deliver(clock, delivery, &mut report).await?;
        }
        Ok(report)
    }

    async fn deliver(&self, clock: &dyn Clock, d: Delivery, report: &mut DispatchReport) -> Result<(), PortError> {
        let key = d.message.key.clone();
        let sent = match tokio::time::timeout(self.options.send_timeout, self.notifier.send(&d.message)).await {
            Ok(sent) => sent,
            Err(_) => Err(PortError::transient(format!(
                "sending message {key} took longer than {:?}",
                self.options.send_timeout
            ))),
        };
        match sent {
            Ok(()) => {
                if self.record_sent(&d, clock).await? {
                    info!(key = %key, attempt = d.attempt, "message sent");
                    report.sent.push(key);
                } else {
                    report.lost.push(key);
                }
            }
            Err(e) => {
                let error = provision_core::error::chain(&e);
                let retry_at =
                    if e.is_retryable() && d.attempt < self.options.max_attempts {
                        let wait = backoff(d.attempt, self.options.first_retry, self.options.max_retry);
                        Some(clock.now().checked_add(wait).map_err(|e| {
                            PortError::permanent("the next attempt is beyond the calendar").with_source(e)
                        })?)
                    } else {
                        None
                    };
                match self.outbox.mark_failed(&key, d.attempt, &error, retry_at, clock.now()).await {
                    Ok(()) => match retry_at {
                        Some(at) => {
                            warn!(key = %key, attempt = d.attempt, next_attempt = %at, error = %error, "message not sent; will retry");
                            report.retrying.push((key, at));
                        }
                        None => {
                            warn!(key = %key, attempt = d.attempt, error = %error, "message not sent; given up");
                            report.failed.push(key);
                        }
                    },
                    Err(e) if e.kind == PortErrorKind::Conflict => {
                        warn!(key = %key, attempt = d.attempt, "the lease was lost before the failure was recorded");
                        report.lost.push(key);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Marks the delivery sent, trying again at once while the store is busy: every failure
    /// here widens the window in which the message could be sent twice. `false` if the message
    /// had been given up meanwhile by a dispatcher that took over an expired lease.
    async fn record_sent(&self, d: &Delivery, clock: &dyn Clock) -> Result<bool, PortError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.outbox.mark_sent(&d.message.key, d.attempt, clock.now()).await {
                Ok(()) => return Ok(true),
                Err(e) if e.kind == PortErrorKind::Conflict => {
                    warn!(key = %d.message.key, error = %provision_core::error::chain(&e), "a message given up meanwhile was sent after all");
                    return Ok(false);
                }
                Err(e) if e.kind == PortErrorKind::Transient && tries < 5 => {
                    warn!(key = %d.message.key, error = %provision_core::error::chain(&e), "cannot record a sent message yet; trying again");
                }
                Err(e) => {
                    return Err(PortError {
                        message: format!(
                            "message {} was sent, but recording it failed; it will be sent again when its lease \
                             runs out: {}",
                            d.message.key, e.message
                        ),
                        ..e
                    });
                }
            }
        }
    }

    /// Delivers messages until `shutdown` completes: a pass whenever a message is enqueued
    /// through [`Dispatcher::enqueue`] (or [`DispatchWaker::wake`]), when the next retry is due,
    /// and at least every [`DispatcherOptions::poll_interval`]. A pass under way is finished
    /// before it returns, so a shutdown never cuts a send from its record.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let mut failures = 0;
        loop {
            let pause = match self.dispatch(&*self.clock).await {
                Ok(report) if report.claimed() >= self.options.batch => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    self.until_next_due().await
                }
                Err(e) => {
                    failures += 1;
                    let pause = backoff(failures, self.options.first_retry, self.options.max_retry);
                    warn!(error = %provision_core::error::chain(&e), retry_in = ?pause, "dispatching messages failed");
                    pause
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        debug!("dispatcher stopped");
    }

    /// How long until the next message is due, at most the poll interval; never zero, so a
    /// message due by one clock and not yet by the other cannot spin the loop.
    async fn until_next_due(&self) -> Duration {
        let poll = self.options.poll_interval;
        let floor = Duration::from_millis(10).min(poll);
        match self.outbox.next_due().await {
            Ok(Some(due)) => {
                let wait = self.clock.now().duration_until(due);
                Duration::try_from(wait).unwrap_or(Duration::ZERO).clamp(floor, poll)
            }
            Ok(None) => poll,
            Err(e) => {
                warn!(error = %provision_core::error::chain(&e), "cannot read when the next message is due");
                self.options.first_retry.clamp(floor, poll)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_the_cap() {
        let (first, max) = (Duration::from_secs(1), Duration::from_secs(300));
        let waits: Vec<u64> = (1..=12).map(|a| backoff(a, first, max).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, first, max), max);
        assert_eq!(backoff(0, first, max), first);
    }
}
