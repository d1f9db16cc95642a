//! The SQLite store: the embedded default, one database file under the data directory.
//!
//! Guarantees, beyond the [`Store`] contract:
//! - creating a run is one `BEGIN IMMEDIATE` transaction, so creators are serialised by the
//!   database's write lock across threads and processes; `UNIQUE` keys back it up;
//! - every write survives the process being killed the moment the call returns (WAL,
//!   `synchronous = NORMAL`). A power loss may lose the last transactions, never consistency:
//!   the journal is the engine's memory, not its proof, since every step looks for its effect
//!   before acting, and an fsync per journal entry would cost more than the rest of a run;
//! - a busy database surfaces as [`PortErrorKind::Transient`] after the busy timeout, so the
//!   engine's retries apply;
//! - a statement never stalls an async worker thread, and runs on the calling thread wherever
//!   it can, waiting for no other thread: on a multi-thread tokio runtime inside
//!   [`tokio::task::block_in_place`] (in `Runtime::block_on`, where the CLI runs, that is all;
//!   on a worker, tokio first hands the worker's other tasks to another thread); on a
//!   current-thread runtime, whose only thread must not block, on tokio's blocking pool;
//!   outside any runtime directly, since there is no async worker to stall;
//! - claims are file locks in `<database dir>/locks/`, released by the kernel if the process dies;
//! - the outbox ([`provision_core::ports::Outbox`], module `outbox`) leases messages with one
//!   atomic statement, so two dispatchers never hold the same message at once;
//! - bearer tokens ([`provision_core::ports::Tokens`], module `tokens`) are kept as their
//!   SHA-256 only; a `CHECK` refuses any other text in the hash column.
//!
//! A store holds one connection, shared by its clones and used by one call at a time: SQLite
//! has one writer anyway, and its reads take microseconds. Several stores on one file (in one
//! process or several) are coordinated by SQLite's own locks.

mod outbox;
mod tokens;

use crate::{Error, claim};
use async_trait::async_trait;
use jiff::Timestamp;
use jiff::fmt::temporal::DateTimePrinter;
use provision_core::names::{BlueprintName, OwnerName, RepoName, ServiceName};
use provision_core::plan::RunId;
use provision_core::ports::{
    Claim, JournalEvent, NewRun, PortError, PortErrorKind, RunCreated, RunRecord, RunState, ServiceRecord, StepRecord,
    StepState, Store,
};
use rusqlite::types::FromSql;
use rusqlite::{Connection, ErrorCode, OpenFlags, Params, Row, TransactionBehavior, ffi, params};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinError;
use tracing::{Span, debug, info, warn};

/// The migrations, in order: applying the first `n` gives schema version `n`
/// (`PRAGMA user_version`). Released migrations are never edited, only appended to.
const MIGRATIONS: &[&str] = &[
    include_str!("sqlite/0001_initial.sql"),
    include_str!("sqlite/0002_outbox.sql"),
    include_str!("sqlite/0003_tokens.sql"),
    include_str!("sqlite/0004_token_roles.sql"),
];

/// Prepared statements kept per connection: more than the store has, so none is prepared twice.
const STATEMENT_CACHE: usize = 32;

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a statement waits for another writer before failing as transient.
    pub busy_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { busy_timeout: Duration::from_secs(5) }
    }
}

/// Runs, journal, services, idempotency keys, the outbox and the API's tokens in one SQLite
/// database. Clones share the connection.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Database>,
    locks: PathBuf,
}

#[derive(Debug)]
struct Database {
    path: PathBuf,
    /// `None` once [`SqliteStore::close`] has closed it.
    connection: Mutex<Option<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` (e.g. `<data>/orchestrator.db`),
    /// applies migrations, enables WAL and a busy timeout. Claim lock files live in
    /// `<path's dir>/locks/`, which is created with its parents.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        Self::open_with(path, Options::default()).await
    }

    /// [`SqliteStore::open`] with explicit options.
    pub async fn open_with(path: &Path, options: Options) -> Result<Self, Error> {
        let owned = path.to_owned();
        blocking(move || connect(owned, &options))
            .await
            .unwrap_or_else(|_| Err(Error::Shutdown { path: path.to_owned() }))
    }

    /// Closes the connection; as the last one on the file, SQLite checkpoints the write-ahead
    /// log into the database and removes it, so the next process starts without replaying it.
    /// Later calls on this store or its clones fail. Claims taken from it stay held until
    /// dropped.
    pub async fn close(&self) {
        let db = Arc::clone(&self.db);
        let closed = blocking(move || match lock(&db).take() {
            Some(connection) => connection.close().map_err(|(_, e)| e),
            None => Ok(()),
        })
        .await;
        let path = self.db.path.display();
        match closed {
            Ok(Ok(())) => debug!(path = %path, "store closed"),
            Ok(Err(e)) => warn!(path = %path, error = %e, "cannot close the database cleanly"),
            Err(e) => warn!(path = %path, error = %e, "the database was not closed"),
        }
    }

    /// Runs `f` on the connection without stalling an async worker (see the module doc): the
    /// one way every call reaches the database.
    async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let db = Arc::clone(&self.db);
        blocking(move || match lock(&db).as_mut() {
            Some(connection) => f(connection),
            None => Err(PortError::permanent(format!("the database {} is closed", db.path.display()))),
        })
        .await
        .unwrap_or_else(|e| Err(shutting_down(e)))
    }
}

/// The connection, even if a call panicked while holding it: SQLite's state is transactional
/// (a dropped transaction rolls back), so nothing half-done is left to see.
fn lock(db: &Database) -> std::sync::MutexGuard<'_, Option<Connection>> {
    db.connection.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work`, which may block, without stalling an async worker thread: in place on a
/// multi-thread runtime, on the blocking pool on a current-thread one, directly outside any
/// runtime. A panic in `work` resumes in the caller; `Err` only if the runtime is shutting down.
/// (Inside a `LocalSet` on a multi-thread runtime `block_in_place` panics; nothing here uses one.)
async fn blocking<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> Result<R, JoinError> {
    match Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(work)),
        Ok(runtime) => {
            let span = Span::current();
            match runtime.spawn_blocking(move || span.in_scope(work)).await {
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                done => done,
            }
        }
        Err(_) => Ok(work()),
    }
}

fn shutting_down(e: JoinError) -> PortError {
    PortError::permanent("the async runtime is shutting down").with_source(e)
}

/// Opens the database and brings its schema up to date. Blocking.
fn connect(path: PathBuf, options: &Options) -> Result<SqliteStore, Error> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let locks = dir.join("locks");
    std::fs::create_dir_all(&locks).map_err(|source| Error::LockDir { path: locks.clone(), source })?;
    let failed = |source| Error::Open { path: path.clone(), source };
    // No URI flag: the path is a file name, whatever it starts with. NO_MUTEX: the store's
    // mutex already gives the connection to one thread at a time.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut connection = Connection::open_with_flags(&path, flags).map_err(failed)?;
    // First, so that switching to WAL waits for another process opening the file too.
    connection.busy_timeout(options.busy_timeout).map_err(failed)?;
    // A small log (100 pages): the first connection of a process replays the whole log, so
    // its size bounds start-up time (well under a millisecond to replay).
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 100;",
        )
        .map_err(failed)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let version = migrate(&mut connection, &path)?;
    info!(path = %path.display(), schema_version = version, "store opened");
    Ok(SqliteStore { db: Arc::new(Database { path, connection: Mutex::new(Some(connection)) }), locks })
}

/// Brings the schema to the newest version in one transaction; returns that version.
fn migrate(connection: &mut Connection, path: &Path) -> Result<i64, Error> {
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let failed = |version| move |source| Error::Migrate { path: path.to_owned(), version, source };
    // IMMEDIATE: two processes opening a new database at once migrate one after the other.
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed(supported))?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(failed(supported))?;
    if found > supported {
        return Err(Error::SchemaTooNew { path: path.to_owned(), found, supported });
    }
    for (version, script) in (1..).zip(MIGRATIONS).skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(script).map_err(failed(version))?;
        // `user_version` lives in the database header, so it commits with the migration.
        tx.execute_batch(&format!("PRAGMA user_version = {version}")).map_err(failed(version))?;
        info!(path = %path.display(), version, "schema migrated");
    }
    tx.commit().map_err(failed(supported))?;
    Ok(supported)
}

/// The store's clock, truncated to microseconds: what SQLite text and PostgreSQL
/// `timestamptz` both keep exactly, so a read returns what was written.
fn now() -> Result<Timestamp, PortError> {
    Timestamp::from_microsecond(Timestamp::now().as_microsecond())
        .map_err(|e| PortError::permanent("the clock is outside the representable range").with_source(e))
}

/// Fixed-width RFC 3339 (six fractional digits, `Z`): ordered as text as in time.
const FIXED_WIDTH: DateTimePrinter = DateTimePrinter::new().precision(Some(6));

/// `t` as the tables from schema version 2 on store a caller's time (the outbox, the tokens):
/// truncated to the microsecond, fixed-width, so comparing the text compares the times.
fn fixed_width(t: Timestamp) -> Result<String, PortError> {
    let t = Timestamp::from_microsecond(t.as_microsecond())
        .map_err(|e| PortError::permanent("a time outside the representable range").with_source(e))?;
    Ok(FIXED_WIDTH.timestamp_to_string(&t))
}

/// A database failure, classified: a held lock is worth retrying, anything else is not.
fn db_error(error: rusqlite::Error, context: impl Into<String>) -> PortError {
    // Primary codes: the extended ones (e.g. SQLITE_BUSY_SNAPSHOT) mean the same here.
    let kind = match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => PortErrorKind::Transient,
        _ => PortErrorKind::Permanent,
    };
    PortError::new(kind, context).with_source(error)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_extended_error_code(), Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
}

/// Runs one cached statement; returns how many rows it changed.
fn execute(db: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
    db.prepare_cached(sql)?.execute(params)
}

/// The rows `sql` returns, decoded; `context` says what was being read if the database fails.
fn query_all<T>(
    db: &Connection,
    sql: &str,
    params: impl Params,
    context: impl Fn() -> String,
    mut decode: impl FnMut(&Row<'_>) -> Result<T, PortError>,
) -> Result<Vec<T>, PortError> {
    let failed = |e| db_error(e, context());
    let mut statement = db.prepare_cached(sql).map_err(failed)?;
    let mut rows = statement.query(params).map_err(failed)?;
    let mut decoded = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// The first row `sql` returns, decoded, if any.
fn query_first<T>(
    db: &Connection,
    sql: &str,
    params: impl Params,
    context: impl Fn() -> String,
    decode: impl FnOnce(&Row<'_>) -> Result<T, PortError>,
) -> Result<Option<T>, PortError> {
    let failed = |e| db_error(e, context());
    let mut statement = db.prepare_cached(sql).map_err(failed)?;
    let mut rows = statement.query(params).map_err(failed)?;
    rows.next().map_err(failed)?.map(decode).transpose()
}

fn not_found(message: String) -> PortError {
    PortError::new(PortErrorKind::NotFound, message)
}

fn to_json(what: String, value: &impl serde::Serialize) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::permanent(format!("cannot encode {what}")).with_source(e))
}

fn sql_index(run: &RunId, index: usize) -> Result<i64, PortError> {
    i64::try_from(index).map_err(|_| PortError::permanent(format!("run {run}: step index {index} is too large")))
}

/// `error` with `context` (which run, which service) in front of its message.
fn within(context: impl fmt::Display, error: PortError) -> PortError {
    PortError { message: format!("{context}: {}", error.message), ..error }
}

fn get<T: FromSql>(row: &Row<'_>, column: &str) -> Result<T, PortError> {
    row.get(column).map_err(|e| db_error(e, format!("cannot read column {column}")))
}

/// A text column parsed into a domain value; a value that does not parse is named in the error.
fn parsed<T, E: fmt::Display>(
    row: &Row<'_>,
    column: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, PortError> {
    let value: String = get(row, column)?;
    parse(&value).map_err(|e| invalid(column, &value, e))
}

fn optional_parsed<T, E: fmt::Display>(
    row: &Row<'_>,
    column: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, PortError> {
    let value: Option<String> = get(row, column)?;
    value.map(|value| parse(&value).map_err(|e| invalid(column, &value, e))).transpose()
}

fn invalid(column: &str, value: &dyn fmt::Debug, error: impl fmt::Display) -> PortError {
    PortError::permanent(format!("the database holds an invalid {column} {value:?}: {error}"))
}

fn run_state(value: &str) -> Result<RunState, &'static str> {
    RunState::parse(value).ok_or("not a run state")
}

macro_rules! select_runs {
    ($($tail:literal)*) => {
        concat!(
            "SELECT id, operation, state, request, service, error, created_at, updated_at FROM runs ",
            $($tail),*
        )
    };
}

fn run_record(row: &Row<'_>) -> Result<RunRecord, PortError> {
    let id = parsed(row, "id", RunId::parse)?;
    let fields = || {
        Ok(RunRecord {
            id: id.clone(),
            operation: get(row, "operation")?,
            state: parsed(row, "state", run_state)?,
            request: parsed(row, "request", |s| serde_json::from_str(s))?,
            service: optional_parsed(row, "service", ServiceName::parse)?,
            error: get(row, "error")?,
            created_at: parsed(row, "created_at", str::parse::<Timestamp>)?,
            updated_at: parsed(row, "updated_at", str::parse::<Timestamp>)?,
        })
    };
    fields().map_err(|e| within(format_args!("run {id}"), e))
}

fn step_record(run: &RunId, row: &Row<'_>) -> Result<StepRecord, PortError> {
    let fields = || {
        let index: i64 = get(row, "step_index")?;
        let attempts: i64 = get(row, "attempts")?;
        Ok(StepRecord {
            index: usize::try_from(index).map_err(|e| invalid("step_index", &index, e))?,
            name: get(row, "name")?,
            state: parsed(row, "state", |s| StepState::parse(s).ok_or("not a step state"))?,
            attempts: u32::try_from(attempts).map_err(|e| invalid("attempts", &attempts, e))?,
            detail: get(row, "detail")?,
            error: get(row, "error")?,
            started_at: parsed(row, "started_at", str::parse::<Timestamp>)?,
            finished_at: optional_parsed(row, "finished_at", str::parse::<Timestamp>)?,
        })
    };
    fields().map_err(|e| within(format_args!("run {run}"), e))
}

macro_rules! select_services {
    ($($tail:literal)*) => {
        concat!(
            "SELECT s.name, s.kind, s.blueprint_version, s.owner, s.description, s.repos, ",
            "s.run_id, r.state AS run_state, s.created_at FROM services s JOIN runs r ON r.id = s.run_id ",
            $($tail),*
        )
    };
}

fn service_record(row: &Row<'_>) -> Result<ServiceRecord, PortError> {
    let name = parsed(row, "name", ServiceName::parse)?;
    let fields = || {
        Ok(ServiceRecord {
            name: name.clone(),
            kind: parsed(row, "kind", BlueprintName::parse)?,
            blueprint_version: get(row, "blueprint_version")?,
            owner: optional_parsed(row, "owner", OwnerName::parse)?,
            description: get(row, "description")?,
            repos: parsed(row, "repos", |s| serde_json::from_str::<Vec<RepoName>>(s))?,
            run: parsed(row, "run_id", RunId::parse)?,
            run_state: parsed(row, "run_state", run_state)?,
            created_at: parsed(row, "created_at", str::parse::<Timestamp>)?,
        })
    };
    fields().map_err(|e| within(format_args!("service {name}"), e))
}

/// Creates `run` in one IMMEDIATE transaction; see [`Store::create_run`].
fn create_run(
    db: &mut Connection,
    run: &NewRun,
    request: &str,
    repos: Option<&str>,
    at: &str,
) -> Result<RunCreated, PortError> {
    let failed = |e| db_error(e, format!("cannot create run {}", run.id));
    let context = || format!("cannot create run {}", run.id);

    // IMMEDIATE takes the write lock now, so the lookups below see every committed run:
    // concurrent creators (threads or processes) are serialised by the database.
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
    if let Some(key) = &run.idempotency {
        let found = query_first(
            &tx,
            "SELECT fingerprint, run_id FROM idempotency_keys WHERE key = ?",
            [&key.key],
            context,
            |row| Ok((get::<String>(row, "fingerprint")?, parsed(row, "run_id", RunId::parse)?)),
        )?;
        if let Some((fingerprint, existing)) = found {
            return Ok(if fingerprint == key.fingerprint {
                RunCreated::Replayed { run: existing }
            } else {
                RunCreated::KeyReused { run: existing }
            });
        }
    }
    if let Some(service) = &run.service {
        let found =
            query_first(&tx, "SELECT run_id FROM services WHERE name = ?", [service.name.as_str()], context, |row| {
                parsed(row, "run_id", RunId::parse)
            })?;
        if let Some(existing) = found {
            return Ok(RunCreated::ServiceExists { name: service.name.clone(), run: existing });
        }
    }

    // The lookups are authoritative under the write lock; a UNIQUE violation here can only
    // be a reused run id.
    let inserted = (|| {
        execute(
            &tx,
            "INSERT INTO runs (id, operation, state, request, service, error, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            params![
                run.id.as_str(),
                run.operation,
                RunState::Pending.as_str(),
                request,
                run.service.as_ref().map(|s| s.name.as_str()),
                at,
                at,
            ],
        )?;
        if let Some(key) = &run.idempotency {
            execute(
                &tx,
                "INSERT INTO idempotency_keys (key, fingerprint, run_id, created_at) VALUES (?, ?, ?, ?)",
                params![key.key, key.fingerprint, run.id.as_str(), at],
            )?;
        }
        if let Some(service) = &run.service {
            execute(
                &tx,
                "INSERT INTO services (name, kind, blueprint_version, owner, description, repos, run_id, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    service.name.as_str(),
                    service.kind.as_str(),
                    service.blueprint_version,
                    service.owner.as_ref().map(|o| o.as_str()),
                    service.description,
                    repos,
                    run.id.as_str(),
                    at,
                ],
            )?;
        }
        Ok(())
    })();
    match inserted {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(
                PortError::new(PortErrorKind::AlreadyExists, format!("run {} exists already", run.id)).with_source(e)
            );
        }
        Err(e) => return Err(failed(e)),
    }
    tx.commit().map_err(failed)?;
    Ok(RunCreated::Created)
}

/// Applies `event` to the journal of `run`; see [`Store::record`].
fn record(db: &Connection, run: &RunId, event: &JournalEvent, at: &str) -> Result<(), PortError> {
    let run_state = |state: RunState, error: Option<&str>| {
        execute(
            db,
            "UPDATE runs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
            params![state.as_str(), error, at, run.as_str()],
        )
    };
    // What a change of no row means: the run is missing, or the step.
    let (affected, step) = match event {
        JournalEvent::RunStarted => (run_state(RunState::Running, None), None),
        JournalEvent::RunSucceeded => (run_state(RunState::Succeeded, None), None),
        JournalEvent::RunFailed { error } => (run_state(RunState::Failed, Some(error)), None),
        JournalEvent::StepStarted { index, name } => {
            // A step started again keeps its name, first start time and last detail,
            // and counts one more attempt.
            let done = execute(
                db,
                "INSERT INTO steps (run_id, step_index, name, state, attempts, started_at) \
                 SELECT ?, ?, ?, 'started', 1, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?) \
                 ON CONFLICT (run_id, step_index) \
                 DO UPDATE SET state = 'started', attempts = steps.attempts + 1, error = NULL",
                params![run.as_str(), sql_index(run, *index)?, name, at, run.as_str()],
            );
            (done, None)
        }
        JournalEvent::StepRetrying { index, error } => {
            let done = execute(
                db,
                "UPDATE steps SET attempts = attempts + 1, error = ? WHERE run_id = ? AND step_index = ?",
                params![error, run.as_str(), sql_index(run, *index)?],
            );
            (done, Some(index))
        }
        JournalEvent::StepDone { index, detail } => {
            let done = execute(
                db,
                "UPDATE steps SET state = 'done', detail = ?, error = NULL, finished_at = ? \
                 WHERE run_id = ? AND step_index = ?",
                params![detail, at, run.as_str(), sql_index(run, *index)?],
            );
            (done, Some(index))
        }
        JournalEvent::StepFailed { index, error } => {
            let done = execute(
                db,
                "UPDATE steps SET state = 'failed', error = ?, finished_at = ? \
                 WHERE run_id = ? AND step_index = ?",
                params![error, at, run.as_str(), sql_index(run, *index)?],
            );
            (done, Some(index))
        }
    };
    match affected.map_err(|e| db_error(e, format!("cannot journal {event:?} for run {run}")))? {
        0 => Err(match step {
            None => not_found(format!("run {run} does not exist")),
            Some(index) => not_found(format!("run {run} has no step {index} in its journal")),
        }),
        _ => Ok(()),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_run(&self, run: NewRun) -> Result<RunCreated, PortError> {
        let request = to_json(format!("the request of run {}", run.id), &run.request)?;
        let repos = match &run.service {
            Some(s) => Some(to_json(format!("the repositories of service {}", s.name), &s.repos)?),
            None => None,
        };
        let at = now()?.to_string();
        let id = run.id.clone();
        let created = self.with_db(move |db| create_run(db, &run, &request, repos.as_deref(), &at)).await?;
        if created == RunCreated::Created {
            debug!(run = %id, "run created");
        }
        Ok(created)
    }

    async fn run(&self, id: &RunId) -> Result<Option<RunRecord>, PortError> {
        let id = id.clone();
        self.with_db(move |db| {
            query_first(db, select_runs!("WHERE id = ?"), [id.as_str()], || format!("cannot read run {id}"), run_record)
        })
        .await
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_db(move |db| {
            query_all(db, select_runs!("ORDER BY seq DESC LIMIT ?"), [limit], || "cannot list runs".into(), run_record)
        })
        .await
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError> {
        self.with_db(|db| {
            query_all(
                db,
                select_runs!("WHERE state IN ('pending', 'running') ORDER BY seq"),
                [],
                || "cannot list unfinished runs".into(),
                run_record,
            )
        })
        .await
    }

    async fn steps(&self, run: &RunId) -> Result<Vec<StepRecord>, PortError> {
        let run = run.clone();
        self.with_db(move |db| {
            query_all(
                db,
                "SELECT step_index, name, state, attempts, detail, error, started_at, finished_at \
                 FROM steps WHERE run_id = ? ORDER BY step_index",
                [run.as_str()],
                || format!("cannot read the journal of run {run}"),
                |row| step_record(&run, row),
            )
        })
        .await
    }

    async fn record(&self, run: &RunId, event: JournalEvent) -> Result<(), PortError> {
        let at = now()?.to_string();
        let run = run.clone();
        self.with_db(move |db| record(db, &run, &event, &at)).await
    }

    async fn reopen_run(&self, run: &RunId) -> Result<(), PortError> {
        let at = now()?.to_string();
        let run = run.clone();
        self.with_db(move |db| {
            let reopened = execute(
                db,
                "UPDATE runs SET state = 'pending', updated_at = ? WHERE id = ? AND state = 'failed'",
                params![at, run.as_str()],
            )
            .map_err(|e| db_error(e, format!("cannot reopen run {run}")))?;
            // Reopening a run that is not failed changes nothing; only a missing run is an error.
            if reopened == 0 {
                let exists = query_first(
                    db,
                    "SELECT 1 FROM runs WHERE id = ?",
                    [run.as_str()],
                    || format!("cannot read run {run}"),
                    |_| Ok(()),
                )?;
                if exists.is_none() {
                    return Err(not_found(format!("run {run} does not exist")));
                }
            }
            Ok(())
        })
        .await
    }

    async fn service(&self, name: &ServiceName) -> Result<Option<ServiceRecord>, PortError> {
        let name = name.clone();
        self.with_db(move |db| {
            query_first(
                db,
                select_services!("WHERE s.name = ?"),
                [name.as_str()],
                || format!("cannot read service {name}"),
                service_record,
            )
        })
        .await
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError> {
        // SQLite's default BINARY collation orders like the fake's byte-wise string order
        // (PostgreSQL needs `COLLATE "C"` for the same).
        self.with_db(|db| {
            query_all(db, select_services!("ORDER BY s.name"), [], || "cannot list services".into(), service_record)
        })
        .await
    }

    async fn set_blueprint_version(&self, name: &ServiceName, version: &str) -> Result<(), PortError> {
        let (name, version) = (name.clone(), version.to_owned());
        self.with_db(move |db| {
            let updated = execute(
                db,
                "UPDATE services SET blueprint_version = ? WHERE name = ?",
                params![version, name.as_str()],
            )
            .map_err(|e| db_error(e, format!("cannot record the blueprint version of service {name}")))?;
            if updated == 0 {
                return Err(not_found(format!("service {name} does not exist")));
            }
            Ok(())
        })
        .await
    }

    async fn forget_service(&self, name: &ServiceName, created_by: &RunId) -> Result<bool, PortError> {
        let (name, run) = (name.clone(), created_by.clone());
        self.with_db(move |db| {
            let context = || format!("cannot remove service {name} from the inventory");
            let tx =
                db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| db_error(e, context()))?;
            let removed = execute(
                &tx,
                "DELETE FROM services WHERE name = ? AND run_id = ?",
                params![name.as_str(), run.as_str()],
            )
            .map_err(|e| db_error(e, context()))?;
            if removed > 0 {
                execute(&tx, "DELETE FROM idempotency_keys WHERE run_id = ?", params![run.as_str()])
                    .map_err(|e| db_error(e, context()))?;
            }
            tx.commit().map_err(|e| db_error(e, context()))?;
            Ok(removed > 0)
        })
        .await
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }

    async fn try_claim(&self, run: &RunId) -> Result<Option<Box<dyn Claim>>, PortError> {
        let path = self.locks.join(format!("{run}.lock"));
        let lock_path = path.clone();
        let claimed = blocking(move || claim::try_lock(&lock_path))
            .await
            .map_err(|e| within(format_args!("cannot claim run {run}"), shutting_down(e)))?
            .map_err(|e| {
                PortError::permanent(format!("cannot claim run {run} with lock file {}", path.display())).with_source(e)
            })?;
        debug!(run = %run, claimed = claimed.is_some(), "claim");
        Ok(claimed.map(|c| Box::new(c) as Box<dyn Claim>))
    }
}
