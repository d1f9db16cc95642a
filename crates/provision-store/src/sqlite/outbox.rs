//! The outbox in SQLite: e-mails waiting to be delivered, claimed under leases.
//!
//! A claim is one `UPDATE … RETURNING` statement, so it is atomic under SQLite's single writer:
//! two dispatchers (threads or processes) never claim the same message while its lease runs.
//! The attempt count doubles as the lease's generation: a claim increments it, and a failure
//! report names the attempt it belongs to, so a report that comes back after its lease was
//! taken over changes nothing.

use super::{
    SqliteStore, db_error, execute, fixed_width as text, get, optional_parsed, parsed, query_all, query_first,
};
use async_trait::async_trait;
use jiff::Timestamp;
use provision_core::ports::{
    Delivery, MessageKey, MessageState, Outbox, OutboxRecord, OutgoingMessage, PortError, PortErrorKind,
};
use rusqlite::{Connection, Row, params};
use std::time::Duration;

fn sql_attempt(attempt: u32) -> i64 {
    i64::from(attempt)
}

fn missing(key: &MessageKey) -> PortError {
    PortError::new(PortErrorKind::NotFound, format!("message {key} is not in the outbox"))
}

fn key(row: &Row<'_>) -> Result<MessageKey, PortError> {
    parsed(row, "key", MessageKey::parse)
}

fn message(row: &Row<'_>) -> Result<OutgoingMessage, PortError> {
    Ok(OutgoingMessage {
        key: key(row)?,
        to: get(row, "recipient")?,
        subject: get(row, "subject")?,
        text: get(row, "text_body")?,
        html: get(row, "html_body")?,
    })
}

fn attempts(row: &Row<'_>) -> Result<u32, PortError> {
    let attempts: i64 = get(row, "attempts")?;
    u32::try_from(attempts).map_err(|e| super::invalid("attempts", &attempts, e))
}

fn record(row: &Row<'_>) -> Result<OutboxRecord, PortError> {
    Ok(OutboxRecord {
        message: message(row)?,
        state: parsed(row, "state", |s| MessageState::parse(s).ok_or("not a message state"))?,
        attempts: attempts(row)?,
        last_error: get(row, "last_error")?,
        created_at: parsed(row, "created_at", str::parse::<Timestamp>)?,
        next_attempt_at: parsed(row, "next_attempt_at", str::parse::<Timestamp>)?,
        leased_until: optional_parsed(row, "leased_until", str::parse::<Timestamp>)?,
        sent_at: optional_parsed(row, "sent_at", str::parse::<Timestamp>)?,
    })
}

/// The state of `key`'s message, to say why an update changed no row.
fn state_of(db: &Connection, key: &MessageKey) -> Result<Option<MessageState>, PortError> {
    query_first(
        db,
        "SELECT state FROM outbox WHERE key = ?",
        [key.as_str()],
        || format!("cannot read message {key}"),
        |row| parsed(row, "state", |s| MessageState::parse(s).ok_or("not a message state")),
    )
}

fn claim_due(db: &Connection, now: &str, until: &str, limit: i64) -> Result<Vec<Delivery>, PortError> {
    let mut claimed = query_all(
        db,
        "UPDATE outbox SET attempts = attempts + 1, leased_until = ?1 \
         WHERE seq IN ( \
             SELECT seq FROM outbox \
             WHERE state = 'pending' AND next_attempt_at <= ?2 AND (leased_until IS NULL OR leased_until <= ?2) \
             ORDER BY next_attempt_at, seq LIMIT ?3 \
         ) \
         RETURNING seq, key, recipient, subject, text_body, html_body, attempts, next_attempt_at, leased_until",
        params![until, now, limit],
        || "cannot claim due messages".into(),
        |row| {
            let order = (get::<String>(row, "next_attempt_at")?, get::<i64>(row, "seq")?);
            let delivery = Delivery {
                message: message(row)?,
                attempt: attempts(row)?,
                leased_until: parsed(row, "leased_until", str::parse::<Timestamp>)?,
            };
            Ok((order, delivery))
        },
    )?;
    // RETURNING gives no order; the claim's is earliest due first.
    claimed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(claimed.into_iter().map(|(_, d)| d).collect())
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue(&self, message: &OutgoingMessage, now: Timestamp) -> Result<bool, PortError> {
        let now = text(now)?;
        let m = message.clone();
        self.with_db(move |db| {
            let inserted = execute(
                db,
                "INSERT INTO outbox (key, recipient, subject, text_body, html_body, state, attempts, \
                 created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) \
                 ON CONFLICT (key) DO NOTHING",
                params![m.key.as_str(), m.to, m.subject, m.text, m.html, now, now],
            )
            .map_err(|e| db_error(e, format!("cannot enqueue message {}", m.key)))?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn claim_due(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Vec<Delivery>, PortError> {
        let until = now
            .checked_add(lease)
            .map_err(|e| PortError::permanent("a lease ending beyond the calendar").with_source(e))?;
        let (now, until) = (text(now)?, text(until)?);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_db(move |db| claim_due(db, &now, &until, limit)).await
    }

    async fn mark_sent(&self, key: &MessageKey, _attempt: u32, now: Timestamp) -> Result<(), PortError> {
        let now = text(now)?;
        let key = key.clone();
        self.with_db(move |db| {
            let updated = execute(
                db,
                "UPDATE outbox SET state = 'sent', sent_at = ?, leased_until = NULL, last_error = NULL \
                 WHERE key = ? AND state = 'pending'",
                params![now, key.as_str()],
            )
            .map_err(|e| db_error(e, format!("cannot record message {key} as sent")))?;
            if updated == 1 {
                return Ok(());
            }
            match state_of(db, &key)? {
                None => Err(missing(&key)),
                Some(MessageState::Failed) => Err(PortError::new(
                    PortErrorKind::Conflict,
                    format!("message {key} failed for good before its send was recorded"),
                )),
                Some(_) => Ok(()),
            }
        })
        .await
    }

    async fn mark_failed(
        &self,
        key: &MessageKey,
        attempt: u32,
        error: &str,
        retry_at: Option<Timestamp>,
        _now: Timestamp,
    ) -> Result<(), PortError> {
        let retry_at = retry_at.map(text).transpose()?;
        let state = if retry_at.is_some() { MessageState::Pending } else { MessageState::Failed };
        let (key, error) = (key.clone(), error.to_owned());
        self.with_db(move |db| {
            let updated = execute(
                db,
                "UPDATE outbox SET state = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?, \
                 leased_until = NULL WHERE key = ? AND state = 'pending' AND attempts = ?",
                params![state.as_str(), retry_at, error, key.as_str(), sql_attempt(attempt)],
            )
            .map_err(|e| db_error(e, format!("cannot record the failure of message {key}")))?;
            if updated == 1 {
                return Ok(());
            }
            match state_of(db, &key)? {
                None => Err(missing(&key)),
                Some(_) => Err(PortError::new(
                    PortErrorKind::Conflict,
                    format!("message {key} is no longer pending under attempt {attempt}"),
                )),
            }
        })
        .await
    }

    async fn message(&self, key: &MessageKey) -> Result<Option<OutboxRecord>, PortError> {
        let key = key.clone();
        self.with_db(move |db| {
            query_first(
                db,
                "SELECT key, recipient, subject, text_body, html_body, state, attempts, last_error, \
                 created_at, next_attempt_at, leased_until, sent_at FROM outbox WHERE key = ?",
                [key.as_str()],
                || format!("cannot read message {key}"),
                record,
            )
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, PortError> {
        self.with_db(|db| {
            let earliest = query_first(
                db,
                "SELECT MIN(CASE WHEN leased_until > next_attempt_at THEN leased_until ELSE next_attempt_at END) \
                 AS due FROM outbox WHERE state = 'pending'",
                [],
                || "cannot read when the next message is due".into(),
                |row| optional_parsed(row, "due", str::parse::<Timestamp>),
            )?;
            Ok(earliest.flatten())
        })
        .await
    }
}
