//! Creating repositories: layout, crash safety, races, and clone URLs.

use crate::support::*;
use provision_core::TreeMode;
use provision_core::ports::{GitHost, PortErrorKind};
use std::os::unix::fs::PermissionsExt;

/// The temporary repositories in the staging directory (its lock files are not).
fn temporaries(f: &Fixture) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(f.host.root().join(".staging")) else { return vec![] };
    let mut names: Vec<String> = entries
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().expect("file type").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_new_repository_is_bare_with_head_on_main_and_its_description() {
    let f = Fixture::new();
    let demo = repo("demo");
    assert!(!f.host.repo_exists(&demo).await.unwrap());
    f.host.create_repo(&demo, "The demo service").await.unwrap();
    assert!(f.host.repo_exists(&demo).await.unwrap());

    let bare = f.bare(&demo);
    assert_eq!(bare, f.dir.path().join("repos/demo.git"));
    assert_eq!(git(&bare, &["rev-parse", "--is-bare-repository"]), "true");
    assert_eq!(git(&bare, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(std::fs::read_to_string(bare.join("description")).unwrap(), "The demo service\n");
    assert_eq!(git(&bare, &["config", "core.logAllRefUpdates"]), "true");
    assert!(f.host.branches(&demo).await.unwrap().is_empty());
    assert!(temporaries(&f).is_empty(), "the temporary directory was renamed into place");
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn creating_an_existing_repository_is_already_exists_and_touches_nothing() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let err = f.host.create_repo(&demo, "other").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::AlreadyExists);
    assert!(err.message.contains("demo"), "{}", err.message);
    assert_eq!(std::fs::read_to_string(f.bare(&demo).join("description")).unwrap(), "a test repository\n");

    // Anything at the final path counts, even a directory that is not a repository.
    let junk = repo("junk");
    std::fs::create_dir_all(f.bare(&junk).join("keep")).unwrap();
    assert!(f.host.repo_exists(&junk).await.unwrap());
    assert_eq!(f.host.create_repo(&junk, "").await.unwrap_err().kind, PortErrorKind::AlreadyExists);
    assert!(f.bare(&junk).join("keep").is_dir());
    assert!(temporaries(&f).is_empty());
}

#[tokio::test]
async fn a_half_initialised_repository_left_by_a_crash_is_not_a_repository_and_is_swept() {
    let f = Fixture::new();
    // What a crash in the middle of create_repo leaves: a temporary directory, never the
    // final path. One of another repository whose name starts alike is not ours to remove.
    std::fs::create_dir_all(f.host.root().join(".staging/demo-0123456789abcdef/objects")).unwrap();
    std::fs::create_dir_all(f.host.root().join(".staging/demo-x-0123456789abcdef/objects")).unwrap();
    let demo = repo("demo");
    assert!(!f.host.repo_exists(&demo).await.unwrap());
    f.host.create_repo(&demo, "").await.unwrap();
    assert_eq!(git(&f.bare(&demo), &["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(temporaries(&f), ["demo-x-0123456789abcdef"], "the crash's leftover of demo is gone");
}

/// Every file in the staging directory: lock files and temporary repositories alike.
fn staging_entries(f: &Fixture) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(f.host.root().join(".staging")) else { return vec![] };
    let mut names: Vec<String> =
        entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn creating_and_writing_many_repositories_leaves_no_lock_files_behind() {
    let f = Fixture::new();
    for n in 0..20 {
        let name = repo(&format!("svc-{n}"));
        f.host.create_repo(&name, "").await.unwrap();
        let tree = files([file("README.md", "# svc\n")]);
        f.commit(&name, "main", None, &tree, TreeMode::Replace, "first").await.unwrap();
        assert_fsck_clean(&f.bare(&name));
    }
    assert_eq!(staging_entries(&f), Vec::<String>::new());
}

#[tokio::test]
async fn a_lock_file_a_killed_holder_left_is_used_and_removed_by_the_next_creator() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.host.root().join(".staging")).unwrap();
    std::fs::write(f.host.root().join(".staging/demo.lock"), "").unwrap();
    f.host.create_repo(&repo("demo"), "").await.unwrap();
    assert_eq!(staging_entries(&f), Vec::<String>::new());
}

/// Each creator is its own host, opening its own lock files, as separate processes do: a
/// `flock` is held by an open file, so threads opening the file separately contend exactly as
/// processes would, including for a file its last holder removed as they waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creators_get_one_repository_and_one_success() {
    let f = Fixture::new();
    for round in 0..20 {
        let name = repo(&format!("race-{round}"));
        let attempts: Vec<_> = (0..6)
            .map(|_| {
                let host = provision_git::LocalGitHost::new(
                    f.host.root(),
                    provision_git::Signature { name: NAME.into(), email: EMAIL.into() },
                );
                let name = name.clone();
                tokio::spawn(async move { host.create_repo(&name, "raced").await })
            })
            .collect();
        let mut created = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(()) => created += 1,
                Err(e) => assert_eq!(e.kind, PortErrorKind::AlreadyExists, "{e}"),
            }
        }
        assert_eq!(created, 1, "round {round}");
        assert_fsck_clean(&f.bare(&name));
    }
    assert_eq!(staging_entries(&f), Vec::<String>::new(), "no temporary repository and no lock file left");
}

#[tokio::test]
async fn the_root_is_created_with_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let host = provision_git::LocalGitHost::new(
        dir.path().join("a/b/c"),
        provision_git::Signature { name: NAME.into(), email: EMAIL.into() },
    );
    host.create_repo(&repo("demo"), "").await.unwrap();
    assert!(dir.path().join("a/b/c/demo.git/HEAD").is_file());
    // Permissions as for any directory made here (umask), not a temporary directory's 0700,
    // so a git daemon running as another user can serve it.
    let probe = dir.path().join("a/b/c/probe");
    std::fs::create_dir(&probe).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("a/b/c/demo.git")), mode(&probe));
}

#[tokio::test]
async fn the_clone_url_is_a_file_url_git_can_clone_with_main_checked_out() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let url = f.host.clone_url(&demo);
    assert_eq!(url, format!("file://{}", f.bare(&demo).display()));
    assert!(url.starts_with("file:///"), "absolute: {url}");

    let tree = files([file("README.md", "# demo\n"), exe("bin/run", "#!/bin/sh\necho hi\n")]);
    f.commit(&demo, "main", None, &tree, TreeMode::Replace, "first").await.unwrap();
    let work = f.dir.path().join("work");
    git(f.dir.path(), &["clone", "--quiet", &url, work.to_str().unwrap()]);
    assert_eq!(git(&work, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(std::fs::read(work.join("README.md")).unwrap(), b"# demo\n");
    let mode = std::fs::metadata(work.join("bin/run")).unwrap().permissions().mode();
    assert_ne!(mode & 0o111, 0, "executable bit survives the checkout: {mode:o}");
}

#[tokio::test]
async fn a_relative_root_gives_absolute_paths() {
    let host = provision_git::LocalGitHost::new(
        "relative/root",
        provision_git::Signature { name: NAME.into(), email: EMAIL.into() },
    );
    assert!(host.repo_path(&repo("x")).is_absolute());
    assert!(host.clone_url(&repo("x")).starts_with("file:///"));
}
