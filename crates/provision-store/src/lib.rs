//! Store adapters: where runs, their journal, the service inventory, idempotency keys, the
//! outbox of e-mails and the API's bearer tokens (as hashes) live.
//!
//! [`SqliteStore`] is the embedded default: one SQLite file under the data directory, and
//! claims as OS file locks beside it, so a crashed process never keeps a run claimed. It keeps
//! the contracts of [`provision_core::ports::Store`], [`provision_core::ports::Outbox`] and
//! [`provision_core::ports::Tokens`] exactly as the in-memory fake
//! (`provision_core::testing::MemoryStore`) states them; the integration tests run one contract
//! suite against both.

mod claim;
mod sqlite;

pub use sqlite::{Options, SqliteStore};

use std::path::PathBuf;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot create the lock directory {}", path.display())]
    LockDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot migrate the database {} to schema version {version}", path.display())]
    Migrate {
        path: PathBuf,
        version: i64,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database {} has schema version {found}, newer than the {supported} this program knows; \
         use a newer orchestrator",
        path.display()
    )]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("cannot open the database {}: the async runtime is shutting down", path.display())]
    Shutdown { path: PathBuf },
}
