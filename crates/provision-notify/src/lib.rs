//! Notifier adapters and the outbox dispatcher: how the orchestrator's e-mails (a workspace's
//! access instructions) reach people, each exactly once.
//!
//! - [`SmtpNotifier`]: an SMTP server through lettre, over rustls, with `STARTTLS` (required,
//!   never opportunistic) or implicit TLS or none, and `AUTH` when the URL has credentials.
//!   Configured by an [`SmtpUrl`] (`smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]`,
//!   `ORCHESTRATOR_SMTP_URL`) and a [`Sender`] (`ORCHESTRATOR_SMTP_FROM`); the password is never
//!   printed. Failures are classified for retrying: unreachable server, timeouts, `4xx`, TLS and
//!   login trouble are transient; other `5xx` replies permanent.
//! - [`MaildirNotifier`]: without SMTP, messages are files in a maildir (`<data>/mail/new/`),
//!   written by the maildir protocol (`tmp/`, sync, rename), once per message key.
//! - [`LogNotifier`]: messages only logged.
//! - [`Templates`]: the messages' subject, text and HTML, minijinja templates built in
//!   ([`Templates::builtin`]) or overridden from a directory ([`Templates::from_dir`]); the
//!   access e-mail of a ready workspace says what its domain model holds.
//! - [`Dispatcher`]: takes due messages from the store's outbox
//!   ([`provision_core::ports::Outbox`]) and delivers them, retrying transient failures with
//!   exponential backoff (1 s, 2 s, 4 s … 5 min), as a loop woken by each enqueue
//!   ([`Dispatcher::run`]) or one pass at a given time ([`Dispatcher::dispatch_once`]). The
//!   [`dispatch`] module states the exactly-once argument and the window it leaves.
//!
//! Everything speaks [`provision_core::ports::OutgoingMessage`]; nothing of lettre leaks into
//! the ports. This crate reads no environment variable and no file it is not given.

mod email;
mod log;
mod maildir;
mod smtp;
mod templates;
mod url;

pub mod dispatch;

pub use dispatch::{Clock, DispatchReport, DispatchWaker, Dispatcher, DispatcherOptions, SystemClock, backoff};
pub use email::{Sender, message_id};
pub use log::LogNotifier;
pub use maildir::MaildirNotifier;
pub use smtp::{SmtpNotifier, SmtpOptions};
pub use templates::{Templates, sample_workspace, workspace_ready_key};
pub use url::{Credentials, Password, SmtpUrl, TlsMode};

use provision_core::Problem;
use std::fmt;
use std::path::PathBuf;

/// Why a notifier or the templates could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `url` has its password replaced by `***`.
    #[error("invalid SMTP URL {url}: {}", Problems(problems))]
    SmtpUrl { url: String, problems: Vec<Problem> },
    #[error("invalid sender {value:?}: {reason}")]
    Sender { value: String, reason: String },
    #[error("cannot set up TLS for {url}: {reason}")]
    Tls { url: String, reason: String },
    #[error("cannot create the maildir folder {}", path.display())]
    Maildir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the message templates in {} have problems: {}", dir.display(), Problems(problems))]
    Templates { dir: PathBuf, problems: Vec<Problem> },
    #[error("cannot render the message template {template}: {reason}")]
    Render { template: String, reason: String },
}

/// Problems as one line: `field: message; field: message`.
struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if p.field.is_empty() {
                write!(f, "{}", p.message)?;
            } else {
                write!(f, "{}: {}", p.field, p.message)?;
            }
        }
        Ok(())
    }
}
