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
//! - claims are file locks in `<database dir>/locks/`, released by the kernel if the process dies.

use crate::{Error, claim};
use async_trait::async_trait;
use jiff::Timestamp;
use provision_core::names::{BlueprintName, OwnerName, RepoName, ServiceName};
use provision_core::plan::RunId;
use provision_core::ports::{
    Claim, JournalEvent, NewRun, PortError, PortErrorKind, RunCreated, RunRecord, RunState, ServiceRecord, StepRecord,
    StepState, Store,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{debug, info};

/// The migrations, in order: applying the first `n` gives schema version `n`
/// (`PRAGMA user_version`). Released migrations are never edited, only appended to.
const MIGRATIONS: &[&str] = &[include_str!("sqlite/0001_initial.sql")];

/// SQLite's primary result codes for "another connection holds the lock".
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a statement waits for another writer before failing as transient.
    pub busy_timeout: Duration,
    /// Connections in the pool. SQLite has one writer at a time; more connections serve readers.
    pub max_connections: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self { busy_timeout: Duration::from_secs(5), max_connections: 4 }
    }
}

/// Runs, journal, services and idempotency keys in one SQLite database.
/// Clones share the connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    locks: PathBuf,
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
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let locks = dir.join("locks");
        tokio::fs::create_dir_all(&locks).await.map_err(|source| Error::LockDir { path: locks.clone(), source })?;
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // A small log: the first connection of a process replays the whole log, so its
            // size bounds start-up time (100 pages: well under a millisecond to replay).
            .pragma("wal_autocheckpoint", "100")
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect)
            .await
            .map_err(|source| Error::Open { path: path.to_owned(), source })?;
        let version = migrate(&pool, path).await?;
        info!(path = %path.display(), schema_version = version, "store opened");
        Ok(Self { pool, locks })
    }

    /// Closes the connections, waiting for those in use to be returned; the last one
    /// checkpoints the write-ahead log into the database and removes it, so the next process
    /// starts without replaying it. Claims taken from this store stay held until dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Brings the schema to the newest version in one transaction; returns that version.
async fn migrate(pool: &SqlitePool, path: &Path) -> Result<i64, Error> {
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let failed = |version| move |source| Error::Migrate { path: path.to_owned(), version, source };
    // IMMEDIATE: two processes opening a new database at once migrate one after the other.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed(supported))?;
    let found: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *tx).await.map_err(failed(supported))?;
    if found > supported {
        return Err(Error::SchemaTooNew { path: path.to_owned(), found, supported });
    }
    for (version, script) in (1..).zip(MIGRATIONS).skip(usize::try_from(found).unwrap_or(0)) {
        sqlx::raw_sql(*script).execute(&mut *tx).await.map_err(failed(version))?;
        // `user_version` lives in the database header, so it commits with the migration.
        sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA user_version = {version}")))
            .execute(&mut *tx)
            .await
            .map_err(failed(version))?;
        info!(path = %path.display(), version, "schema migrated");
    }
    tx.commit().await.map_err(failed(supported))?;
    Ok(supported)
}

/// The store's clock, truncated to microseconds: what SQLite text and PostgreSQL
/// `timestamptz` both keep exactly, so a read returns what was written.
fn now() -> Result<Timestamp, PortError> {
    Timestamp::from_microsecond(Timestamp::now().as_microsecond())
        .map_err(|e| PortError::permanent("the clock is outside the representable range").with_source(e))
}

/// A database failure, classified: a held lock is worth retrying, anything else is not.
fn db_error(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> PortError {
    move |e| {
        let kind = match &e {
            sqlx::Error::PoolTimedOut => PortErrorKind::Transient,
            sqlx::Error::Database(db) => {
                match db.code().and_then(|c| c.parse::<i32>().ok()).map(|extended| extended & 0xff) {
                    Some(SQLITE_BUSY | SQLITE_LOCKED) => PortErrorKind::Transient,
                    _ => PortErrorKind::Permanent,
                }
            }
            _ => PortErrorKind::Permanent,
        };
        PortError::new(kind, context).with_source(e)
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|db| db.is_unique_violation())
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

fn get<T>(row: &SqliteRow, column: &str) -> Result<T, PortError>
where
    T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(db_error(format!("cannot read column {column}")))
}

/// A text column parsed into a domain value; a value that does not parse is named in the error.
fn parsed<T, E: fmt::Display>(
    row: &SqliteRow,
    column: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, PortError> {
    let value: String = get(row, column)?;
    parse(&value).map_err(|e| invalid(column, &value, e))
}

fn optional_parsed<T, E: fmt::Display>(
    row: &SqliteRow,
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

fn run_record(row: &SqliteRow) -> Result<RunRecord, PortError> {
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

fn step_record(run: &RunId, row: &SqliteRow) -> Result<StepRecord, PortError> {
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

fn service_record(row: &SqliteRow) -> Result<ServiceRecord, PortError> {
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

impl SqliteStore {
    async fn run_exists(&self, run: &RunId) -> Result<bool, PortError> {
        let row = sqlx::query("SELECT 1 FROM runs WHERE id = ?")
            .bind(run.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!("cannot read run {run}")))?;
        Ok(row.is_some())
    }

    async fn set_run_state(
        &self,
        run: &RunId,
        state: RunState,
        error: Option<&str>,
        at: &str,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("UPDATE runs SET state = ?, error = ?, updated_at = ? WHERE id = ?")
            .bind(state.as_str())
            .bind(error)
            .bind(at)
            .bind(run.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_run(&self, run: NewRun) -> Result<RunCreated, PortError> {
        let failed = || db_error(format!("cannot create run {}", run.id));
        let request = to_json(format!("the request of run {}", run.id), &run.request)?;
        let repos = match &run.service {
            Some(s) => Some(to_json(format!("the repositories of service {}", s.name), &s.repos)?),
            None => None,
        };
        let at = now()?.to_string();

        // IMMEDIATE takes the write lock now, so the lookups below see every committed run:
        // concurrent creators (threads or processes) are serialised by the database.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed())?;
        if let Some(key) = &run.idempotency {
            let row = sqlx::query("SELECT fingerprint, run_id FROM idempotency_keys WHERE key = ?")
                .bind(&key.key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(failed())?;
            if let Some(row) = row {
                let existing = parsed(&row, "run_id", RunId::parse)?;
                return Ok(if get::<String>(&row, "fingerprint")? == key.fingerprint {
                    RunCreated::Replayed { run: existing }
                } else {
                    RunCreated::KeyReused { run: existing }
                });
            }
        }
        if let Some(service) = &run.service {
            let row = sqlx::query("SELECT run_id FROM services WHERE name = ?")
                .bind(service.name.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(failed())?;
            if let Some(row) = row {
                return Ok(RunCreated::ServiceExists {
                    name: service.name.clone(),
                    run: parsed(&row, "run_id", RunId::parse)?,
                });
            }
        }

        // The lookups are authoritative under the write lock; a UNIQUE violation here can only
        // be a reused run id.
        let inserted = async {
            sqlx::query(
                "INSERT INTO runs (id, operation, state, request, service, error, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            )
            .bind(run.id.as_str())
            .bind(&run.operation)
            .bind(RunState::Pending.as_str())
            .bind(&request)
            .bind(run.service.as_ref().map(|s| s.name.as_str()))
            .bind(&at)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
            if let Some(key) = &run.idempotency {
                sqlx::query("INSERT INTO idempotency_keys (key, fingerprint, run_id, created_at) VALUES (?, ?, ?, ?)")
                    .bind(&key.key)
                    .bind(&key.fingerprint)
                    .bind(run.id.as_str())
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(service) = &run.service {
                sqlx::query(
                    "INSERT INTO services (name, kind, blueprint_version, owner, description, repos, run_id, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(service.name.as_str())
                .bind(service.kind.as_str())
                .bind(&service.blueprint_version)
                .bind(service.owner.as_ref().map(|o| o.as_str()))
                .bind(&service.description)
                .bind(&repos)
                .bind(run.id.as_str())
                .bind(&at)
                .execute(&mut *tx)
                .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match inserted {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(PortError::new(PortErrorKind::AlreadyExists, format!("run {} exists already", run.id))
                    .with_source(e));
            }
            Err(e) => return Err(failed()(e)),
        }
        tx.commit().await.map_err(failed())?;
        debug!(run = %run.id, "run created");
        Ok(RunCreated::Created)
    }

    async fn run(&self, id: &RunId) -> Result<Option<RunRecord>, PortError> {
        sqlx::query(select_runs!("WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!("cannot read run {id}")))?
            .as_ref()
            .map(run_record)
            .transpose()
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, PortError> {
        sqlx::query(select_runs!("ORDER BY seq DESC LIMIT ?"))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("cannot list runs"))?
            .iter()
            .map(run_record)
            .collect()
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError> {
        sqlx::query(select_runs!("WHERE state IN ('pending', 'running') ORDER BY seq"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("cannot list unfinished runs"))?
            .iter()
            .map(run_record)
            .collect()
    }

    async fn steps(&self, run: &RunId) -> Result<Vec<StepRecord>, PortError> {
        sqlx::query(
            "SELECT step_index, name, state, attempts, detail, error, started_at, finished_at \
             FROM steps WHERE run_id = ? ORDER BY step_index",
        )
        .bind(run.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error(format!("cannot read the journal of run {run}")))?
        .iter()
        .map(|row| step_record(run, row))
        .collect()
    }

    async fn record(&self, run: &RunId, event: JournalEvent) -> Result<(), PortError> {
        let at = now()?.to_string();
        let failed = || db_error(format!("cannot journal {event:?} for run {run}"));
        let no_run = || not_found(format!("run {run} does not exist"));
        let no_step = |index| not_found(format!("run {run} has no step {index} in its journal"));
        let (affected, missing) = match &event {
            JournalEvent::RunStarted => (self.set_run_state(run, RunState::Running, None, &at).await, no_run()),
            JournalEvent::RunSucceeded => (self.set_run_state(run, RunState::Succeeded, None, &at).await, no_run()),
            JournalEvent::RunFailed { error } => {
                (self.set_run_state(run, RunState::Failed, Some(error), &at).await, no_run())
            }
            JournalEvent::StepStarted { index, name } => {
                // A step started again keeps its name, first start time and last detail,
                // and counts one more attempt.
                let done = sqlx::query(
                    "INSERT INTO steps (run_id, step_index, name, state, attempts, started_at) \
                     SELECT ?, ?, ?, 'started', 1, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?) \
                     ON CONFLICT (run_id, step_index) \
                     DO UPDATE SET state = 'started', attempts = steps.attempts + 1, error = NULL",
                )
                .bind(run.as_str())
                .bind(sql_index(run, *index)?)
                .bind(name)
                .bind(&at)
                .bind(run.as_str())
                .execute(&self.pool)
                .await;
                (done.map(|d| d.rows_affected()), no_run())
            }
            JournalEvent::StepRetrying { index, error } => {
                let done = sqlx::query(
                    "UPDATE steps SET attempts = attempts + 1, error = ? WHERE run_id = ? AND step_index = ?",
                )
                .bind(error)
                .bind(run.as_str())
                .bind(sql_index(run, *index)?)
                .execute(&self.pool)
                .await;
                (done.map(|d| d.rows_affected()), no_step(index))
            }
            JournalEvent::StepDone { index, detail } => {
                let done = sqlx::query(
                    "UPDATE steps SET state = 'done', detail = ?, error = NULL, finished_at = ? \
                     WHERE run_id = ? AND step_index = ?",
                )
                .bind(detail)
                .bind(&at)
                .bind(run.as_str())
                .bind(sql_index(run, *index)?)
                .execute(&self.pool)
                .await;
                (done.map(|d| d.rows_affected()), no_step(index))
            }
            JournalEvent::StepFailed { index, error } => {
                let done = sqlx::query(
                    "UPDATE steps SET state = 'failed', error = ?, finished_at = ? \
                     WHERE run_id = ? AND step_index = ?",
                )
                .bind(error)
                .bind(&at)
                .bind(run.as_str())
                .bind(sql_index(run, *index)?)
                .execute(&self.pool)
                .await;
                (done.map(|d| d.rows_affected()), no_step(index))
            }
        };
        match affected.map_err(failed())? {
            0 => Err(missing),
            _ => Ok(()),
        }
    }

    async fn reopen_run(&self, run: &RunId) -> Result<(), PortError> {
        let at = now()?.to_string();
        let done = sqlx::query("UPDATE runs SET state = 'pending', updated_at = ? WHERE id = ? AND state = 'failed'")
            .bind(&at)
            .bind(run.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error(format!("cannot reopen run {run}")))?;
        // Reopening a run that is not failed changes nothing; only a missing run is an error.
        if done.rows_affected() == 0 && !self.run_exists(run).await? {
            return Err(not_found(format!("run {run} does not exist")));
        }
        Ok(())
    }

    async fn service(&self, name: &ServiceName) -> Result<Option<ServiceRecord>, PortError> {
        sqlx::query(select_services!("WHERE s.name = ?"))
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!("cannot read service {name}")))?
            .as_ref()
            .map(service_record)
            .transpose()
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError> {
        // SQLite's default BINARY collation orders like the fake's byte-wise string order
        // (PostgreSQL needs `COLLATE "C"` for the same).
        sqlx::query(select_services!("ORDER BY s.name"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("cannot list services"))?
            .iter()
            .map(service_record)
            .collect()
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }

    async fn try_claim(&self, run: &RunId) -> Result<Option<Box<dyn Claim>>, PortError> {
        let path = self.locks.join(format!("{run}.lock"));
        let lock_path = path.clone();
        let claimed = tokio::task::spawn_blocking(move || claim::try_lock(&lock_path))
            .await
            .map_err(|e| PortError::permanent(format!("cannot claim run {run}: the lock task failed")).with_source(e))?
            .map_err(|e| {
                PortError::permanent(format!("cannot claim run {run} with lock file {}", path.display())).with_source(e)
            })?;
        debug!(run = %run, claimed = claimed.is_some(), "claim");
        Ok(claimed.map(|c| Box::new(c) as Box<dyn Claim>))
    }
}
