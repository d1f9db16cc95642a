//! Claims as advisory file locks, one lock file per run.
//!
//! The kernel releases a lock when the file is closed, and so when its process dies: a crashed
//! orchestrator never leaves a run claimed. Locks are per open file, so two handles in one
//! process exclude each other as two processes do. Lock files are never deleted: removing one
//! while another process has it open would let two processes lock two different files.

use provision_core::ports::Claim;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;

/// A held lock on a run's lock file; dropping it closes the file, which unlocks it.
#[derive(Debug)]
pub(crate) struct FileClaim {
    _file: File,
}

impl Claim for FileClaim {}

/// Locks `path` (creating it and its directory if needed) without waiting.
/// `Ok(None)` if someone else holds it. Blocking: call it off the async threads.
pub(crate) fn try_lock(path: &Path) -> io::Result<Option<FileClaim>> {
    let file = match open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Someone removed the lock directory since the store was opened.
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            open(path)?
        }
        other => other?,
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(FileClaim { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).truncate(false).write(true).open(path)
}
