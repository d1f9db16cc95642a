//! `SmtpNotifier` against a real SMTP server: what arrives, TLS both ways, login, and how
//! failures are classified.

use crate::support::{Smtpd, SmtpdConfig, free_port, plain, smtp, test_pki, workspace_ready};
use provision_core::ports::{Notifier, PortErrorKind};
use provision_notify::SmtpUrl;

#[tokio::test]
async fn the_access_email_arrives_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let message = workspace_ready("7d0b6f1c-uid", "Ada.Lovelace@example.com");
    smtp(server.url(None, "none"), None).send(&message).await.unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!(r.mail_from.as_deref(), Some("orchestrator@example.com"), "the envelope sender");
    assert_eq!(r.rcpt_tos, ["Ada.Lovelace@example.com"]);
    assert_eq!(r.from, "Provisioning Orchestrator <orchestrator@example.com>");
    assert_eq!(r.to, "Ada.Lovelace@example.com");
    assert_eq!(r.subject, "Your workspace ada-lovelace-3f9c is ready");
    assert_eq!(r.message_id, "<workspace-ready=2F7d0b6f1c-uid@example.com>");
    assert!(!r.date.is_empty());
    assert_eq!(r.content_type, "multipart/alternative");
    assert_eq!(r.text.as_deref(), Some(message.text.as_str()), "the text, decoded, is what was rendered");
    assert!(r.text.as_deref().unwrap().contains("ssh -p 30022 ada@node-1.example.com"));
    assert!(r.html.as_deref().unwrap().contains("<pre>ssh -p 30022 ada@node-1.example.com</pre>"));
    assert_eq!(r.defects, Vec::<String>::new());
    assert!(!r.tls && r.login.is_none());
}

#[tokio::test]
async fn long_lines_and_unicode_survive_the_transfer_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let mut message = plain("k", "ada@example.com");
    message.subject = "Ünïcode ✓ — and a long subject ".repeat(4).trim_end().to_owned();
    message.text = format!("Grüße ✓\n{}\n.\n..leading dots\n", "x".repeat(2000));
    smtp(server.url(None, "none"), None).send(&message).await.unwrap();

    let r = &server.received()[0];
    assert_eq!(r.content_type, "text/plain");
    assert_eq!(r.subject, message.subject, "{}", r.raw);
    // Line breaks at the very end are the transfer encoding's: lettre ends a body with one of
    // its own, which a quoted-printable decoder keeps.
    let text = r.text.as_deref().unwrap();
    assert_eq!(text.trim_end_matches('\n'), message.text.trim_end_matches('\n'), "{}", r.raw);
    assert_eq!(r.html, None);
}

#[tokio::test]
async fn starttls_with_login() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let config = SmtpdConfig {
        auth: Some(("ada".into(), "s3cret:@/".into())),
        starttls: Some(pki.server.clone()),
        ..Default::default()
    };
    let server = Smtpd::start(&dir.path().join("received"), config).await;
    let url = server.url(Some(("ada", "s3cret%3A%40%2F")), "starttls");
    let notifier = smtp(url, Some(&pki.ca_pem));
    notifier.check().await.unwrap();
    notifier.send(&plain("k", "bob@example.com")).await.unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls, "the message went over TLS");
    assert_eq!(received[0].login.as_deref(), Some("ada"));
}

#[tokio::test]
async fn implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let config = SmtpdConfig { implicit_tls: Some(pki.server.clone()), ..Default::default() };
    let server = Smtpd::start(&dir.path().join("received"), config).await;
    smtp(server.url(None, "tls"), Some(&pki.ca_pem)).send(&plain("k", "bob@example.com")).await.unwrap();
    assert!(server.received()[0].tls);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_retried_later() {
    let dir = tempfile::tempdir().unwrap();
    let pki = test_pki(dir.path());
    let config = SmtpdConfig { starttls: Some(pki.server.clone()), ..Default::default() };
    let server = Smtpd::start(&dir.path().join("received"), config).await;
    // Only the public roots: the test CA is unknown.
    let e = smtp(server.url(None, "starttls"), None).send(&plain("k", "bob@example.com")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Transient, "a configuration problem: the message waits; {e:?}");
    assert_eq!(server.received().len(), 0);
}

#[tokio::test]
async fn starttls_is_required_never_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let e = smtp(server.url(None, "starttls"), None).send(&plain("k", "bob@example.com")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Transient, "{e:?}");
    assert_eq!(server.received().len(), 0, "nothing went out in plain text");
}

#[tokio::test]
async fn a_refused_login_waits_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = SmtpdConfig { auth: Some(("ada".into(), "right".into())), auth_plaintext: true, ..Default::default() };
    let server = Smtpd::start(&dir.path().join("received"), config).await;

    smtp(server.url(Some(("ada", "right")), "none"), None).send(&plain("a", "bob@example.com")).await.unwrap();
    assert_eq!(server.received()[0].login.as_deref(), Some("ada"), "AUTH over plain text when told to");

    let notifier = smtp(server.url(Some(("ada", "wrong-pw")), "none"), None);
    let e = notifier.send(&plain("b", "bob@example.com")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Transient, "{e:?}");
    let shown = format!("{e}: {} {e:?}", std::error::Error::source(&e).unwrap());
    assert!(shown.contains("535"), "{shown}");
    assert!(!shown.contains("wrong-pw"), "{shown}");
    assert!(shown.contains("smtp://ada:***@127.0.0.1"), "{shown}");
    assert!(notifier.check().await.is_err());
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn replies_4xx_are_transient_and_5xx_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Smtpd::start(&dir.path().join("received"), SmtpdConfig::default()).await;
    let notifier = smtp(server.url(None, "none"), None);
    let later = notifier.send(&plain("a", "later@example.com")).await.unwrap_err();
    assert_eq!(later.kind, PortErrorKind::Transient, "451: {later:?}");
    let nobody = notifier.send(&plain("b", "nobody@example.com")).await.unwrap_err();
    assert_eq!(nobody.kind, PortErrorKind::Permanent, "550: {nobody:?}");
    assert!(nobody.to_string().contains("message b to nobody@example.com"), "{nobody}");
    let bad = notifier.send(&plain("c", "not an address")).await.unwrap_err();
    assert_eq!(bad.kind, PortErrorKind::Permanent, "{bad:?}");
    assert_eq!(server.received().len(), 0);
    // The connection is still good for the next message.
    notifier.send(&plain("d", "ada@example.com")).await.unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_server_that_is_down_is_transient() {
    let url = SmtpUrl::parse(&format!("smtp://127.0.0.1:{}?tls=none", free_port())).unwrap();
    let notifier = smtp(url, None);
    let e = notifier.send(&plain("k", "ada@example.com")).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::Transient, "{e:?}");
    assert_eq!(notifier.check().await.unwrap_err().kind, PortErrorKind::Transient);
}
