//! Backends under test and builders for the values the tests store.

use jiff::Timestamp;
use provision_core::EmailAddress;
use provision_core::names::{BlueprintName, OwnerName, RepoName, ServiceName};
use provision_core::plan::RunId;
use provision_core::ports::{IdempotencyKey, MessageKey, NewRun, NewService, Outbox, OutgoingMessage, Store, Tokens};
use provision_core::testing::MemoryStore;
use provision_store::SqliteStore;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

/// A store implementation with its data: every [`Backend::open`] is a new handle on the same
/// data, like a second connection (memory) or a second process opening the file (SQLite).
pub enum Backend {
    Memory(MemoryStore),
    Sqlite(TempDir),
}

impl Backend {
    pub fn memory() -> Self {
        Backend::Memory(MemoryStore::new())
    }

    pub fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Memory(store) => Arc::new(store.clone()),
            Backend::Sqlite(dir) => Arc::new(SqliteStore::open(&db_path(dir)).await.unwrap()),
        }
    }

    /// A new handle on the outbox, as [`Backend::open`] is on the store.
    pub async fn outbox(&self) -> Arc<dyn Outbox> {
        match self {
            Backend::Memory(store) => Arc::new(store.clone()),
            Backend::Sqlite(dir) => Arc::new(SqliteStore::open(&db_path(dir)).await.unwrap()),
        }
    }

    /// A new handle on the tokens, as [`Backend::open`] is on the store.
    pub async fn tokens(&self) -> Arc<dyn Tokens> {
        match self {
            Backend::Memory(store) => Arc::new(store.clone()),
            Backend::Sqlite(dir) => Arc::new(SqliteStore::open(&db_path(dir)).await.unwrap()),
        }
    }
}

/// Where tests put the database in a data directory.
pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("orchestrator.db")
}

pub fn id(value: &str) -> RunId {
    RunId::parse(value).unwrap()
}

pub fn service_name(value: &str) -> ServiceName {
    ServiceName::parse(value).unwrap()
}

/// A service with both repositories and an owner.
pub fn service(name: &str) -> NewService {
    NewService {
        name: service_name(name),
        kind: BlueprintName::parse("ms").unwrap(),
        blueprint_version: "1.2.0".into(),
        owner: Some(OwnerName::parse("team-a").unwrap()),
        description: format!("the {name} service"),
        repos: vec![RepoName::parse(name).unwrap(), RepoName::parse(&format!("{name}-infra")).unwrap()],
    }
}

/// A run, optionally reserving `service` and carrying an idempotency `(key, fingerprint)`.
pub fn new_run(run: &str, service_to_reserve: Option<&str>, key: Option<(&str, &str)>) -> NewRun {
    NewRun {
        id: id(run),
        operation: "create-service".into(),
        request: serde_json::json!({
            "run": run,
            "nested": {"list": [1, 2.5, "x", null, true], "unicode": "ünï ✓"},
        }),
        service: service_to_reserve.map(service),
        idempotency: key.map(|(key, fingerprint)| IdempotencyKey { key: key.into(), fingerprint: fingerprint.into() }),
    }
}

/// `seconds` after a fixed instant: outbox calls take the time from their caller.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

pub fn msg_key(value: &str) -> MessageKey {
    MessageKey::parse(value).unwrap()
}

/// A plain-text message under `key`.
pub fn message(key: &str, to: &str) -> OutgoingMessage {
    OutgoingMessage {
        key: msg_key(key),
        to: to.into(),
        subject: format!("About {key}"),
        text: format!("Hello,\n\nthis is {key}.\n"),
        html: None,
    }
}

pub fn email(value: &str) -> EmailAddress {
    EmailAddress::parse(value).unwrap()
}
