//! An [`OutgoingMessage`] as an RFC 5322 message: what the SMTP server receives and what the
//! maildir holds, byte for byte the same kind of message.

use crate::Error;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use provision_core::ports::{MessageKey, OutgoingMessage, PortError};
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

/// Who messages come from (`ORCHESTRATOR_SMTP_FROM`): `noreply@example.com` or
/// `Orchestrator <noreply@example.com>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sender(Mailbox);

impl Sender {
    pub fn parse(from: &str) -> Result<Self, Error> {
        Mailbox::from_str(from.trim())
            .map(Sender)
            .map_err(|e| Error::Sender { value: from.to_owned(), reason: e.to_string() })
    }

    /// The address alone, for the SMTP envelope.
    pub fn address(&self) -> String {
        self.0.email.to_string()
    }
}

impl FromStr for Sender {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sender({})", self.0)
    }
}

/// The `Message-ID` of the message under `key`: the same for every attempt, so a receiving
/// system that sees a message twice (a crash between the server's acceptance and its record)
/// can tell it is one message. `<` encoded key `@` sender's domain `>`.
pub fn message_id(key: &MessageKey, from: &Sender) -> String {
    let mut id = String::with_capacity(key.as_str().len() + 16);
    for b in key.as_str().bytes() {
        // The key's other characters (`/` `.` `:` `@` `=` `+`) are escaped so the left part is
        // an unambiguous dot-atom whatever the key holds.
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            id.push(char::from(b));
        } else {
            id.push_str(&format!("={b:02X}"));
        }
    }
    format!("<{id}@{}>", from.0.email.domain())
}

/// `message` from `from`, dated `date`. A recipient that is not an address, or a subject of
/// more than one line, is a permanent error: no retry can fix it.
pub(crate) fn build(from: &Sender, message: &OutgoingMessage, date: SystemTime) -> Result<lettre::Message, PortError> {
    let key = &message.key;
    let to = Mailbox::from_str(&message.to).map_err(|e| {
        PortError::permanent(format!("message {key}: the recipient {:?} is not an e-mail address", message.to))
            .with_source(e)
    })?;
    if message.subject.contains(['\r', '\n']) {
        return Err(PortError::permanent(format!("message {key}: the subject has more than one line")));
    }
    let builder = lettre::Message::builder()
        .from(from.0.clone())
        .to(to)
        .subject(message.subject.clone())
        .date(date)
        .message_id(Some(message_id(key, from)))
        .user_agent(concat!("provision-notify/", env!("CARGO_PKG_VERSION")).to_owned());
    let built = match &message.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html.clone())),
        None => builder.singlepart(SinglePart::plain(message.text.clone())),
    };
    built.map_err(|e| PortError::permanent(format!("message {key} cannot be written as an e-mail")).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> MessageKey {
        MessageKey::parse(s).expect("a valid key")
    }

    #[test]
    fn a_sender_is_an_address_with_an_optional_name() {
        let s = Sender::parse("Orchestrator <noreply@example.com>").expect("valid");
        assert_eq!(
            (s.address(), s.to_string()),
            ("noreply@example.com".into(), "Orchestrator <noreply@example.com>".into())
        );
        assert_eq!(Sender::parse(" ops@example.com ").expect("valid").address(), "ops@example.com");
        let e = Sender::parse("not an address").unwrap_err();
        assert!(e.to_string().contains("\"not an address\""), "{e}");
    }

    #[test]
    fn the_message_id_comes_from_the_key() {
        let from = Sender::parse("noreply@mail.example.com").expect("valid");
        assert_eq!(
            message_id(&key("workspace-ready/6f1c-uid_x.y"), &from),
            "<workspace-ready=2F6f1c-uid_x=2Ey@mail.example.com>"
        );
        assert_ne!(message_id(&key("a/b"), &from), message_id(&key("a=2Fb"), &from));
    }

    #[test]
    fn a_bad_recipient_or_subject_is_permanent() {
        let from = Sender::parse("noreply@example.com").expect("valid");
        let mut m =
            OutgoingMessage { key: key("k"), to: "nobody".into(), subject: "s".into(), text: "t".into(), html: None };
        let e = build(&from, &m, SystemTime::UNIX_EPOCH).unwrap_err();
        assert_eq!(e.kind, provision_core::ports::PortErrorKind::Permanent);
        assert!(e.to_string().contains("\"nobody\""), "{e}");
        m.to = "ada@example.com".into();
        m.subject = "one\r\nBcc: eve@example.com".into();
        assert!(!build(&from, &m, SystemTime::UNIX_EPOCH).unwrap_err().is_retryable());
    }
}
