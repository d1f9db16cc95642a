//! [`MaildirNotifier`]: messages written into a maildir, for the embedded default (no SMTP
//! server configured). Any mail reader opens it (`mutt -f <dir>`).
//!
//! The maildir protocol: a message is written and synced under `tmp/`, then renamed into `new/`,
//! so a reader never sees half a message. The file name carries the message's key, and a key
//! already in `new/` or `cur/` is not written again: a retry after a crash between the rename
//! and the outbox's record finds the message there and delivers nothing more.

use crate::Error;
use crate::email::{self, Sender};
use async_trait::async_trait;
use provision_core::ports::{MessageKey, Notifier, OutgoingMessage, PortError};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::debug;

/// Writes every message as a file in `<dir>/new/`.
#[derive(Debug)]
pub struct MaildirNotifier {
    dir: PathBuf,
    from: Sender,
    host: String,
    /// Makes `tmp/` names unique within this process.
    counter: AtomicU64,
}

impl MaildirNotifier {
    /// Creates `dir` and its `tmp/`, `new/` and `cur/` if needed.
    pub fn new(dir: impl Into<PathBuf>, from: Sender) -> Result<Self, Error> {
        let dir = dir.into();
        for sub in ["tmp", "new", "cur"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|source| Error::Maildir { path, source })?;
        }
        Ok(Self { dir, from, host: host_name(), counter: AtomicU64::new(0) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The paths of the messages in `new/` (not yet seen by a reader), in name order.
    pub fn new_messages(&self) -> io::Result<Vec<PathBuf>> {
        let mut paths: Vec<PathBuf> =
            fs::read_dir(self.dir.join("new"))?.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>()?;
        paths.sort();
        Ok(paths)
    }
}

#[async_trait]
impl Notifier for MaildirNotifier {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        // On disk, lines end as Unix text files' do (the maildir convention); on the wire, CRLF.
        let bytes = crlf_to_lf(&email::build(&self.from, message, SystemTime::now())?.formatted());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let unique = format!(
            "{}.M{}P{}Q{}_K{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.counter.fetch_add(1, Ordering::Relaxed),
            file_key(&message.key),
            self.host
        );
        let (dir, key) = (self.dir.clone(), message.key.clone());
        let written = tokio::task::spawn_blocking(move || deliver(&dir, &key, &unique, &bytes)).await;
        let failed = |what: &str| {
            format!("cannot write message {} into the maildir {}: {what}", message.key, self.dir.display())
        };
        match written {
            Ok(Ok(path)) => {
                debug!(key = %message.key, path = %path.display(), "message in the maildir");
                Ok(())
            }
            Ok(Err(e)) => Err(PortError::transient(failed("an I/O error")).with_source(e)),
            Err(e) => Err(PortError::transient(failed("the writer stopped")).with_source(e)),
        }
    }
}

/// Writes `bytes` as `tmp/<unique>`, syncs it, and renames it to `new/<unique>`; unless the
/// key's message is in `new/` or `cur/` already. Blocking.
fn deliver(dir: &Path, key: &MessageKey, unique: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let marker = format!("_K{}.", file_key(key));
    for sub in ["new", "cur"] {
        for entry in fs::read_dir(dir.join(sub))? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().contains(&marker) {
                return Ok(entry.path());
            }
        }
    }
    let tmp = dir.join("tmp").join(unique);
    let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        // Best effort: a reader ignores tmp/, and maildir readers sweep it.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let new = dir.join("new").join(unique);
    fs::rename(&tmp, &new)?;
    // The rename is durable once the directory is synced.
    File::open(dir.join("new"))?.sync_all()?;
    Ok(new)
}

fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

/// The key as part of a file name: letters, digits and `-` as they are, any other byte as
/// `=XX`. It holds no `_` or `.`, so `_K<key>.` finds exactly this key.
fn file_key(key: &MessageKey) -> String {
    let mut out = String::with_capacity(key.as_str().len());
    for b in key.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// This machine's name for maildir file names, with the characters the protocol reserves
/// (`/`, `:`) and ours (`.`, `_`) escaped.
fn host_name() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let name = if name.is_empty() { "localhost".to_owned() } else { name };
    name.chars()
        .map(|c| match c {
            '/' => "\\057".to_owned(),
            ':' => "\\072".to_owned(),
            '.' | '_' => "-".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
