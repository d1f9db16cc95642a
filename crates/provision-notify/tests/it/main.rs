//! Integration tests of the notifiers and the dispatcher, against a real SMTP server (Debian's
//! aiosmtpd), a real maildir, and the SQLite store.

#![allow(clippy::unwrap_used)]

mod dispatcher;
mod maildir;
mod outbox;
mod smtp;
mod support;
