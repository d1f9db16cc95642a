//! `MaildirNotifier`: messages as files in `new/`, readable by a mail reader, once per key.

use crate::support::{at, parse_message_file, plain, sender, workspace_ready};
use provision_core::ports::{MessageState, Notifier, Outbox};
use provision_core::testing::MemoryStore;
use provision_notify::{Dispatcher, MaildirNotifier};
use std::sync::Arc;

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_message_is_a_readable_file_in_new() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let notifier = MaildirNotifier::new(&maildir, sender()).unwrap();
    let message = workspace_ready("uid-1", "ada@example.com");
    notifier.send(&message).await.unwrap();

    let files = notifier.new_messages().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(names(&maildir.join("tmp")), Vec::<String>::new(), "nothing left in tmp/");
    assert_eq!(names(&maildir.join("cur")), Vec::<String>::new());
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(!name.contains(['/', ':']), "{name}");
    assert!(name.contains("_Kworkspace-ready=2Fuid-1."), "the key is in the name: {name}");

    let r = parse_message_file(&files[0]);
    assert_eq!(r.from, "Provisioning Orchestrator <orchestrator@example.com>");
    assert_eq!((r.to.as_str(), r.subject.as_str()), ("ada@example.com", message.subject.as_str()));
    assert_eq!(r.message_id, "<workspace-ready=2Fuid-1@example.com>");
    assert_eq!(r.text.as_deref(), Some(message.text.as_str()));
    assert!(r.text.unwrap().contains("ssh -p 30022 ada@node-1.example.com"));
    assert_eq!(r.html, message.html);
    assert_eq!(r.defects, Vec::<String>::new());
}

#[tokio::test]
async fn a_key_already_delivered_is_not_written_again_even_once_read() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let notifier = MaildirNotifier::new(&maildir, sender()).unwrap();
    notifier.send(&plain("k", "ada@example.com")).await.unwrap();
    notifier.send(&plain("k", "ada@example.com")).await.unwrap();
    assert_eq!(notifier.new_messages().unwrap().len(), 1);

    // A mail reader moves what it has seen to cur/ and flags it.
    let seen = &notifier.new_messages().unwrap()[0];
    let flagged = maildir.join("cur").join(format!("{}:2,S", seen.file_name().unwrap().to_string_lossy()));
    std::fs::rename(seen, &flagged).unwrap();
    // A new process (a retry after a crash between the rename and the outbox's record).
    let again = MaildirNotifier::new(&maildir, sender()).unwrap();
    again.send(&plain("k", "ada@example.com")).await.unwrap();
    assert_eq!(again.new_messages().unwrap().len(), 0);
    assert_eq!(names(&maildir.join("cur")).len(), 1);

    // Keys that merely share a prefix are other messages.
    again.send(&plain("k-2", "ada@example.com")).await.unwrap();
    again.send(&plain("k.2", "ada@example.com")).await.unwrap();
    assert_eq!(again.new_messages().unwrap().len(), 2);
}

#[tokio::test]
async fn the_dispatcher_delivers_into_the_maildir_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let notifier = Arc::new(MaildirNotifier::new(dir.path().join("mail"), sender()).unwrap());
    let dispatcher = Dispatcher::new(Arc::new(store.clone()), notifier.clone());
    let message = workspace_ready("uid-9", "ada@example.com");
    store.enqueue(&message, at(0)).await.unwrap();
    assert_eq!(dispatcher.dispatch_once(at(0)).await.unwrap().sent, std::slice::from_ref(&message.key));
    assert_eq!(store.message(&message.key).await.unwrap().unwrap().state, MessageState::Sent);
    assert_eq!(notifier.new_messages().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unwritable_maildir_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let e = MaildirNotifier::new(file.join("mail"), sender()).unwrap_err();
    assert!(e.to_string().contains(&file.join("mail").join("tmp").display().to_string()), "{e}");
}
