//! The API's bearer tokens in SQLite: each kept as its SHA-256, found by it.
//!
//! Every write is one statement whose `WHERE` says when it applies (a live token, an older
//! last use), so concurrent requests (threads or processes) cannot undo one another: a use
//! recorded after a revocation changes nothing, and `last_used_at` only moves forward.

use super::{SqliteStore, db_error, execute, fixed_width, get, is_unique_violation, optional_parsed, parsed};
use super::{query_all, query_first};
use async_trait::async_trait;
use jiff::Timestamp;
use provision_core::ports::{PortError, PortErrorKind, TokenRecord, Tokens, is_sha256_hex};
use provision_core::{EmailAddress, Role};
use rusqlite::{Connection, Row, params};

macro_rules! select_tokens {
    ($tail:literal) => {
        concat!("SELECT id, email, role, created_at, last_used_at, revoked_at FROM tokens ", $tail)
    };
}

fn record(row: &Row<'_>) -> Result<TokenRecord, PortError> {
    Ok(TokenRecord {
        id: get(row, "id")?,
        email: get(row, "email")?,
        role: parsed(row, "role", Role::parse)?,
        created_at: parsed(row, "created_at", str::parse::<Timestamp>)?,
        last_used_at: optional_parsed(row, "last_used_at", str::parse::<Timestamp>)?,
        revoked_at: optional_parsed(row, "revoked_at", str::parse::<Timestamp>)?,
    })
}

fn missing(id: &str) -> PortError {
    PortError::new(PortErrorKind::NotFound, format!("token {id} does not exist"))
}

fn exists(db: &Connection, id: &str) -> Result<bool, PortError> {
    let found =
        query_first(db, "SELECT 1 FROM tokens WHERE id = ?", [id], || format!("cannot read token {id}"), |_| Ok(()))?;
    Ok(found.is_some())
}

#[async_trait]
impl Tokens for SqliteStore {
    async fn add_token(
        &self,
        id: &str,
        sha256_hex: &str,
        email: &EmailAddress,
        role: Role,
        now: Timestamp,
    ) -> Result<TokenRecord, PortError> {
        // The CHECK constraint refuses it too; this says why, in the fake's words.
        if !is_sha256_hex(sha256_hex) {
            return Err(PortError::permanent(format!("token {id}: the hash is not a SHA-256 in lowercase hex")));
        }
        let created_at = Timestamp::from_microsecond(now.as_microsecond())
            .map_err(|e| PortError::permanent("a time outside the representable range").with_source(e))?;
        let record = TokenRecord {
            id: id.to_owned(),
            email: email.normalized(),
            role,
            created_at,
            last_used_at: None,
            revoked_at: None,
        };
        let (at, hash, inserted) = (fixed_width(now)?, sha256_hex.to_owned(), record.clone());
        self.with_db(move |db| {
            let r = &inserted;
            execute(
                db,
                "INSERT INTO tokens (id, sha256, email, role, created_at) VALUES (?, ?, ?, ?, ?)",
                params![r.id, hash, r.email, r.role.as_str(), at],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    PortError::new(
                        PortErrorKind::AlreadyExists,
                        format!("a token with id {} or with the same hash exists", r.id),
                    )
                } else {
                    db_error(e, format!("cannot add token {}", r.id))
                }
            })
        })
        .await?;
        Ok(record)
    }

    async fn token_by_hash(&self, sha256_hex: &str) -> Result<Option<TokenRecord>, PortError> {
        let hash = sha256_hex.to_owned();
        self.with_db(move |db| {
            query_first(db, select_tokens!("WHERE sha256 = ?"), [hash], || "cannot look a token up".into(), record)
        })
        .await
    }

    async fn mark_token_used(&self, id: &str, now: Timestamp) -> Result<(), PortError> {
        let (at, id) = (fixed_width(now)?, id.to_owned());
        self.with_db(move |db| {
            let updated = execute(
                db,
                "UPDATE tokens SET last_used_at = ?1 \
                 WHERE id = ?2 AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < ?1)",
                params![at, id],
            )
            .map_err(|e| db_error(e, format!("cannot record the use of token {id}")))?;
            // Nothing changed: revoked, or used as late already — fine — or missing.
            if updated == 0 && !exists(db, &id)? {
                return Err(missing(&id));
            }
            Ok(())
        })
        .await
    }

    async fn revoke_token(&self, id: &str, now: Timestamp) -> Result<bool, PortError> {
        let (at, id) = (fixed_width(now)?, id.to_owned());
        self.with_db(move |db| {
            let revoked =
                execute(db, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", params![at, id])
                    .map_err(|e| db_error(e, format!("cannot revoke token {id}")))?;
            if revoked == 0 && !exists(db, &id)? {
                return Err(missing(&id));
            }
            Ok(revoked == 1)
        })
        .await
    }

    async fn tokens(&self, email: Option<&EmailAddress>) -> Result<Vec<TokenRecord>, PortError> {
        let email = email.map(EmailAddress::normalized);
        self.with_db(move |db| match email {
            Some(email) => query_all(
                db,
                select_tokens!("WHERE email = ? ORDER BY seq"),
                [&email],
                || format!("cannot list the tokens of {email}"),
                record,
            ),
            None => query_all(db, select_tokens!("ORDER BY seq"), [], || "cannot list the tokens".into(), record),
        })
        .await
    }

    async fn has_confirmed_token(&self, email: &EmailAddress) -> Result<bool, PortError> {
        let email = email.normalized();
        self.with_db(move |db| {
            let found = query_first(
                db,
                "SELECT 1 FROM tokens WHERE email = ? AND last_used_at IS NOT NULL AND revoked_at IS NULL LIMIT 1",
                [&email],
                || format!("cannot read the tokens of {email}"),
                |_| Ok(()),
            )?;
            Ok(found.is_some())
        })
        .await
    }
}
