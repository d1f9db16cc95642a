//! Committing file sets: trees git accepts, modes, overlay and replace, compare-and-swap.

use crate::support::*;
use provision_core::ports::{CommitId, GitHost, PortErrorKind};
use provision_core::{FileSet, TreeMode};
use std::os::unix::fs::PermissionsExt;
use std::time::{SystemTime, UNIX_EPOCH};

fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

/// Names whose git order differs from plain byte order of the names ('-' < '.' < '/' < '0'):
/// git sorts a tree `foo` as `foo/`. A wrong order is what `fsck --strict` rejects.
fn tricky_tree() -> FileSet {
    files([
        file("README.md", "# demo\n"),
        exe("bin/run.sh", "#!/bin/sh\necho hi\n"),
        file("foo", "not a dir\n"),
        file("foo-bar", "dash\n"),
        file("foo.txt", "dot\n"),
        file("foo0", "zero\n"),
        file("fo/o", "nested\n"),
        file("src/deep/nested/data.bin", all_bytes()),
        file("src/deep/empty", ""),
        file("src/deep-sibling/x", "x\n"),
        file("src/deep.txt", "y\n"),
    ])
}

#[tokio::test]
async fn a_commit_clones_byte_for_byte_with_modes_and_passes_fsck_strict() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let tree = tricky_tree();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let id = f.commit(&demo, "main", None, &tree, TreeMode::Replace, "Initial render\n\nbody\n").await.unwrap();
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();

    assert_eq!(rev_parse(&bare, "main"), id.0);
    assert_eq!(id.0.len(), 40);
    assert_fsck_clean(&bare);

    let modes = ls_tree(&bare, "main");
    let expected: Vec<(String, String)> = {
        let mut v: Vec<_> = tree
            .iter()
            .map(|(p, e)| (p.to_string(), if e.executable { "100755" } else { "100644" }.to_owned()))
            .collect();
        v.sort();
        v
    };
    let mut got = modes.clone();
    got.sort();
    assert_eq!(got, expected);

    for (p, e) in tree.iter() {
        assert_eq!(git_bytes(&bare, &["show", &format!("main:{p}")]), &*e.content, "{p}");
    }

    let log = git(&bare, &["log", "--format=%an|%ae|%cn|%ce|%s|%b|%P", "main"]);
    assert_eq!(log, format!("{NAME}|{EMAIL}|{NAME}|{EMAIL}|Initial render|body\n|"));
    let time: u64 = git(&bare, &["log", "-1", "--format=%ct", "main"]).parse().unwrap();
    assert!((before..=after).contains(&time), "{before} <= {time} <= {after}");
    assert_eq!(git(&bare, &["cat-file", "-t", &id.0]), "commit");

    let work = f.dir.path().join("work");
    git(f.dir.path(), &["clone", "--quiet", &f.host.clone_url(&demo), work.to_str().unwrap()]);
    assert_eq!(git(&work, &["status", "--porcelain"]), "", "the checkout matches the commit");
    for (p, e) in tree.iter() {
        let on_disk = work.join(p.as_str());
        assert_eq!(std::fs::read(&on_disk).unwrap(), &*e.content, "{p}");
        let mode = std::fs::metadata(&on_disk).unwrap().permissions().mode();
        assert_eq!(mode & 0o100 != 0, e.executable, "{p} mode {mode:o}");
    }
}

#[tokio::test]
async fn branch_moves_are_in_the_reflog_by_the_signature() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let one = f.commit(&demo, "main", None, &files([file("a", "1")]), TreeMode::Replace, "first\n").await.unwrap();
    f.commit(&demo, "main", Some(&one), &files([file("a", "2")]), TreeMode::Replace, "second\n\nbody\n").await.unwrap();
    let reflog = git(&f.bare(&demo), &["reflog", "show", "--format=%gs|%gn|%ge", "refs/heads/main"]);
    assert_eq!(
        reflog.lines().collect::<Vec<_>>(),
        [format!("commit: second|{NAME}|{EMAIL}"), format!("commit (initial): first|{NAME}|{EMAIL}")]
    );
}

#[tokio::test]
async fn an_empty_replace_commits_the_empty_tree() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let one = f.commit(&demo, "main", None, &files([file("a", "1")]), TreeMode::Replace, "a").await.unwrap();
    f.commit(&demo, "main", Some(&one), &FileSet::new(), TreeMode::Replace, "nothing").await.unwrap();
    assert!(ls_tree(&f.bare(&demo), "main").is_empty());
    assert_eq!(f.host.read_tree(&demo, &branch("main")).await.unwrap(), Some(FileSet::new()));
    assert_fsck_clean(&f.bare(&demo));
}

#[tokio::test]
async fn overlay_keeps_other_files_and_replaces_changed_ones() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let first = files([file("a", "1"), file("keep/x", "k"), file("dir/y", "y"), exe("tool", "t1")]);
    let one = f.commit(&demo, "main", None, &first, TreeMode::Replace, "first").await.unwrap();

    let overlay = files([file("a", "2"), file("dir/new", "n"), file("tool", "t2")]);
    let two = f.commit(&demo, "main", Some(&one), &overlay, TreeMode::Overlay, "overlay").await.unwrap();

    assert_eq!(rev_parse(&bare, "main^"), one.0);
    assert_eq!(rev_parse(&bare, "main"), two.0);
    assert_eq!(
        ls_tree(&bare, "main"),
        [
            ("a".to_owned(), "100644".to_owned()),
            ("dir/new".to_owned(), "100644".to_owned()),
            ("dir/y".to_owned(), "100644".to_owned()),
            ("keep/x".to_owned(), "100644".to_owned()),
            ("tool".to_owned(), "100644".to_owned()),
        ],
        "tool lost its executable bit because the overlay says so"
    );
    assert_eq!(git(&bare, &["show", "main:a"]), "2");
    assert_eq!(git(&bare, &["show", "main:keep/x"]), "k");
    assert_eq!(git(&bare, &["show", "main:dir/y"]), "y");
    assert_eq!(git(&bare, &["show", "main:tool"]), "t2");
    // The unchanged subtree is shared, not rewritten.
    assert_eq!(rev_parse(&bare, "main:keep"), rev_parse(&bare, "main^:keep"));
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn overlay_without_a_parent_is_just_the_files() {
    let (f, demo) = Fixture::with_repo("demo").await;
    f.commit(&demo, "main", None, &files([file("only", "o")]), TreeMode::Overlay, "root").await.unwrap();
    assert_eq!(ls_tree(&f.bare(&demo), "main"), [("only".to_owned(), "100644".to_owned())]);
}

#[tokio::test]
async fn replace_removes_files_but_keeps_history() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let one = f
        .commit(&demo, "main", None, &files([file("a", "1"), file("d/b", "2")]), TreeMode::Replace, "first")
        .await
        .unwrap();
    f.commit(&demo, "main", Some(&one), &files([file("c", "3")]), TreeMode::Replace, "second").await.unwrap();
    assert_eq!(ls_tree(&bare, "main"), [("c".to_owned(), "100644".to_owned())]);
    assert_eq!(rev_parse(&bare, "main^"), one.0);
    assert_eq!(git(&bare, &["log", "--format=%s", "main"]), "second\nfirst");
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn a_stale_parent_is_a_conflict_and_the_branch_stays() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let tree = files([file("a", "1")]);
    let one = f.commit(&demo, "main", None, &tree, TreeMode::Replace, "first").await.unwrap();

    // A new branch was asked for, but it exists.
    let err = f.commit(&demo, "main", None, &tree, TreeMode::Replace, "again").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Conflict);
    assert!(err.message.contains("main") && err.message.contains("demo"), "{}", err.message);

    let two = f.commit(&demo, "main", Some(&one), &files([file("a", "2")]), TreeMode::Overlay, "second").await.unwrap();
    let err = f.commit(&demo, "main", Some(&one), &tree, TreeMode::Overlay, "stale").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Conflict, "{err}");
    assert!(err.message.contains(&two.0), "names where the branch is: {}", err.message);
    assert_eq!(rev_parse(&bare, "main"), two.0);

    // Moved by someone else with git itself.
    let foreign = git(&bare, &["commit-tree", "-p", &two.0, "-m", "foreign", &format!("{}^{{tree}}", two.0)]);
    git(&bare, &["update-ref", "refs/heads/main", &foreign, &two.0]);
    let err = f.commit(&demo, "main", Some(&two), &tree, TreeMode::Overlay, "late").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Conflict);
    assert_eq!(rev_parse(&bare, "main"), foreign);

    // A parent on a branch that does not exist.
    let err = f.commit(&demo, "other", Some(&two), &tree, TreeMode::Overlay, "x").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Conflict);
    assert!(git_output(&bare, &["rev-parse", "--verify", "--quiet", "refs/heads/other"]).stdout.is_empty());
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn a_malformed_parent_id_is_permanent() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let err = f
        .commit(&demo, "main", Some(&CommitId("not-hex".into())), &FileSet::new(), TreeMode::Replace, "x")
        .await
        .unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Permanent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commits_on_one_parent_move_the_branch_once() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let one = f.commit(&demo, "main", None, &files([file("a", "0")]), TreeMode::Replace, "first").await.unwrap();
    let f = std::sync::Arc::new(f);
    let racers: Vec<_> = (0..6)
        .map(|i| {
            let (f, demo, one) = (f.clone(), demo.clone(), one.clone());
            tokio::spawn(async move {
                let tree = files([file("a", format!("{i}"))]);
                f.commit(&demo, "main", Some(&one), &tree, TreeMode::Overlay, &format!("racer {i}")).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(id) => winners.push(id),
            // Losers either see the new tip (Conflict) or find the winner still holding the lock.
            Err(e) => assert!(matches!(e.kind, PortErrorKind::Conflict | PortErrorKind::Transient), "{e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let bare = f.bare(&demo);
    assert_eq!(rev_parse(&bare, "main"), winners[0].0);
    assert_eq!(rev_parse(&bare, "main^"), one.0);
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn a_ref_lock_left_by_a_killed_writer_is_cleared() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let one = f.commit(&demo, "main", None, &files([file("a", "1")]), TreeMode::Replace, "first").await.unwrap();
    // What a process killed in the middle of moving `main` leaves behind. Orchestrator
    // writers hold the repository's writers' lock while they move refs, and nobody holds it
    // now, so this lock file belongs to nobody alive.
    let lock = bare.join("refs/heads/main.lock");
    std::fs::write(&lock, "left by a killed writer\n").unwrap();

    let tree = files([file("a", "2")]);
    let two = f.commit(&demo, "main", Some(&one), &tree, TreeMode::Overlay, "after the crash").await.unwrap();
    assert_eq!(rev_parse(&bare, "main"), two.0);
    assert!(!lock.exists());
    assert_fsck_clean(&bare);
}

/// Creates `path` holding `bytes`, last modified `age` ago.
fn leftover(path: &std::path::Path, bytes: &[u8], age: std::time::Duration) {
    std::fs::write(path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn temporary_files_left_by_killed_writers_are_removed_when_the_repository_is_next_written() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let many = files([file("a", "1"), file("b", "2")]);
    let one = f.commit(&demo, "main", None, &many, TreeMode::Replace, "packed").await.unwrap();
    let packs = |bare: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(bare.join("objects/pack"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = packs(&bare);
    assert_eq!(before.len(), 2, "one pack and its index: {before:?}");

    // What a writer SIGKILLed between creating its temporary file and renaming it leaves
    // behind (0 bytes, or a part), next to files that must stay: a writer's temporary file
    // that is fresh (it may be at work right now), git's own temporaries, and a directory.
    let hour = std::time::Duration::from_secs(3600);
    let pack = bare.join("objects/pack");
    let dead = [pack.join(".tmp-pack-dEAd01"), pack.join(".tmp-pack-dEAd02"), bare.join("objects/.tmpDeAd03")];
    leftover(&dead[0], b"", hour);
    leftover(&dead[1], b"PACK\0\0\0\x02", hour);
    leftover(&dead[2], b"", hour);
    let alive = [
        pack.join(".tmp-pack-L1ve01"),
        bare.join("objects/.tmpL1ve02"),
        pack.join("tmp_pack_g1t001"),
        bare.join("objects/tmp_obj_g1t002"),
    ];
    leftover(&alive[0], b"", std::time::Duration::from_secs(1));
    leftover(&alive[1], b"", std::time::Duration::from_secs(1));
    leftover(&alive[2], b"", hour);
    leftover(&alive[3], b"", hour);
    std::fs::create_dir(bare.join("objects/.tmp-not-a-file")).unwrap();

    // Reading writes nothing, so it sweeps nothing: not even a new process's first look.
    let restarted = || {
        provision_git::LocalGitHost::new(
            f.host.root(),
            provision_git::Signature { name: NAME.into(), email: EMAIL.into() },
        )
    };
    assert_eq!(restarted().branch_tip(&demo, &branch("main")).await.unwrap(), Some(one.clone()));
    assert!(dead.iter().all(|p| p.exists()));

    // The next process to write the repository removes what no live writer can own.
    let host = restarted();
    let next = files([file("c", "3")]);
    let request = provision_core::ports::CommitRequest {
        branch: &branch("main"),
        parent: Some(&one),
        files: &next,
        mode: TreeMode::Overlay,
        message: "after the crash",
        skip_unchanged: false,
    };
    let two = host.commit(&demo, request).await.unwrap();
    for path in &dead {
        assert!(!path.exists(), "{} was left by a dead writer", path.display());
    }
    for path in &alive {
        assert!(path.exists(), "{} may still be written", path.display());
    }
    assert!(bare.join("objects/.tmp-not-a-file").is_dir());
    let after = packs(&bare);
    assert!(before.iter().all(|p| after.contains(p)), "no pack is touched: {before:?} {after:?}");
    assert_eq!(rev_parse(&bare, "main"), two.0);
    assert_eq!(git(&bare, &["show", "main:a"]), "1");
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn a_file_that_is_also_a_directory_is_refused() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let tree = files([file("a", "file"), file("a/b", "below")]);
    let err = f.commit(&demo, "main", None, &tree, TreeMode::Replace, "x").await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Permanent);
    assert!(err.message.contains("\"a\"") || err.message.contains(" a "), "{}", err.message);
    assert!(f.host.branches(&demo).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_repository_is_not_found() {
    let f = Fixture::new();
    let ghost = repo("ghost");
    let main = branch("main");
    let tree = files([file("a", "1")]);
    let kinds = [
        f.host.branches(&ghost).await.map(|_| ()),
        f.host.branch_tip(&ghost, &main).await.map(|_| ()),
        f.host.find_commit(&ghost, &main, "x", 10).await.map(|_| ()),
        f.commit(&ghost, "main", None, &tree, TreeMode::Replace, "x").await.map(|_| ()),
        f.host.create_branch(&ghost, &main, &CommitId("0".repeat(40))).await,
        f.host.read_file(&ghost, &main, &path("a")).await.map(|_| ()),
        f.host.read_tree(&ghost, &main).await.map(|_| ()),
    ];
    for (i, result) in kinds.into_iter().enumerate() {
        let err = result.unwrap_err();
        assert_eq!(err.kind, PortErrorKind::NotFound, "call {i}: {err}");
        assert!(err.message.contains("ghost"), "{}", err.message);
    }
    assert!(!f.bare(&ghost).exists(), "reading does not create");
}

#[tokio::test]
async fn a_thousand_files_commit_quickly_and_round_trip() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let tree: FileSet = (0..1000)
        .map(|i| {
            let p = format!("dir{:02}/sub{}/file{i:04}.txt", i % 17, i % 3);
            let content = format!("file {i}\n{}", "x".repeat(i % 200));
            if i % 10 == 0 { exe(&p, content) } else { file(&p, content) }
        })
        .collect();
    assert_eq!(tree.len(), 1000);

    // How fast is `cargo xtask bench`'s to measure (the 1000-file blueprint).
    let id = f.commit(&demo, "main", None, &tree, TreeMode::Replace, "big").await.unwrap();

    assert_eq!(rev_parse(&bare, "main"), id.0);
    // 1000 blobs, 69 trees and a commit went into one pack, released for gc.
    assert_eq!(object_counts(&bare), (0, 1, 1070));
    let pack_dir = std::fs::read_dir(bare.join("objects/pack")).unwrap();
    let mut pack_files: Vec<String> =
        pack_dir.map(|e| e.unwrap().path().extension().unwrap().to_string_lossy().into_owned()).collect();
    pack_files.sort();
    assert_eq!(pack_files, ["idx", "pack"], "no .keep left behind");
    #[cfg(unix)]
    for entry in std::fs::read_dir(bare.join("objects/pack")).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o444, "read-only, as git writes packs");
    }
    let listed = ls_tree(&bare, "main");
    assert_eq!(listed.len(), 1000);
    assert_eq!(listed.iter().filter(|(_, m)| m == "100755").count(), 100);
    assert_fsck_clean(&bare);
    assert_eq!(f.host.read_tree(&demo, &branch("main")).await.unwrap(), Some(tree.clone()));

    // A second, overlaid commit of the same files writes nothing new and changes nothing.
    let again = f.commit(&demo, "main", Some(&id), &tree, TreeMode::Overlay, "same").await.unwrap();
    assert_eq!(rev_parse(&bare, "main^{tree}"), rev_parse(&bare, &format!("{}^{{tree}}", id.0)));
    assert_eq!(rev_parse(&bare, "main"), again.0);
    assert_eq!(object_counts(&bare), (1, 1, 1070), "only the new commit, loose");
}

#[tokio::test]
async fn a_commit_of_many_objects_is_one_pack_and_a_single_object_stays_loose() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let tree: FileSet = (0..50).map(|i| file(&format!("f{i}"), format!("{i}"))).collect();
    let first = f.commit(&demo, "main", None, &tree, TreeMode::Replace, "small").await.unwrap();
    assert_eq!(object_counts(&bare), (0, 1, 52), "50 blobs, a tree and a commit in one pack");
    // The same tree again: only the commit is new, and a single object is written loose.
    f.commit(&demo, "main", Some(&first), &tree, TreeMode::Replace, "again").await.unwrap();
    assert_eq!(object_counts(&bare), (1, 1, 52));
    assert_fsck_clean(&bare);
}

/// (loose objects, packs, objects in packs) from `git count-objects -v`.
fn object_counts(bare: &std::path::Path) -> (u64, u64, u64) {
    let out = git(bare, &["count-objects", "-v"]);
    let get = |key: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(": ")))
            .unwrap_or_else(|| panic!("{key} in {out}"))
            .parse()
            .unwrap()
    };
    (get("count"), get("packs"), get("in-pack"))
}

#[tokio::test]
async fn overlay_never_turns_a_directory_into_a_file_or_back() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let one = f
        .commit(
            &demo,
            "main",
            None,
            &files([file("dir/x", "x"), file("plain", "p"), file("deep/sub/f", "f")]),
            TreeMode::Replace,
            "first",
        )
        .await
        .unwrap();
    for (tree, conflict) in [
        (files([file("dir", "now a file")]), "dir"),
        (files([file("plain/y", "below a file")]), "plain"),
        (files([file("deep/ok", "fine"), file("deep/sub", "now a file")]), "deep/sub"),
        (files([file("deep/sub/f/g", "below a deep file")]), "deep/sub/f"),
    ] {
        let err = f.commit(&demo, "main", Some(&one), &tree, TreeMode::Overlay, "x").await.unwrap_err();
        assert_eq!(err.kind, PortErrorKind::Permanent, "{err}");
        assert!(err.message.starts_with(&format!("{conflict} would be both")), "{}", err.message);
    }
    assert_eq!(rev_parse(&bare, "main"), one.0);
    // Replace may do it: the tree is exactly the files.
    f.commit(&demo, "main", Some(&one), &files([file("dir", "a file")]), TreeMode::Replace, "y").await.unwrap();
    assert_eq!(ls_tree(&bare, "main"), [("dir".to_owned(), "100644".to_owned())]);
}

#[tokio::test]
async fn a_signature_git_cannot_write_is_refused_before_the_branch_moves() {
    let dir = tempfile::tempdir().unwrap();
    let host = provision_git::LocalGitHost::new(
        dir.path(),
        provision_git::Signature { name: "Evil <x@y>\nInjected".into(), email: EMAIL.into() },
    );
    let demo = repo("demo");
    host.create_repo(&demo, "").await.unwrap();
    let main = branch("main");
    let request = provision_core::ports::CommitRequest {
        branch: &main,
        parent: None,
        files: &files([file("a", "1")]),
        mode: TreeMode::Replace,
        message: "x",
        skip_unchanged: false,
    };
    let err = host.commit(&demo, request).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Permanent, "{err}");
    assert!(host.branches(&demo).await.unwrap().is_empty());
}

#[tokio::test]
async fn packs_that_pile_up_are_merged_into_one_and_nothing_is_lost() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    // Another long-lived host on the same repositories, as the API server beside the CLI:
    // its cached handle must live through packs appearing and being merged away.
    let other = provision_git::LocalGitHost::new(
        f.host.root(),
        provision_git::Signature { name: NAME.into(), email: EMAIL.into() },
    );
    let main = branch("main");
    let mut tip = None;
    // Each commit adds two files: a pack of its own (blobs, trees, commit).
    for i in 0..100 {
        let files = files([file(&format!("d{i}/a"), format!("a{i}")), file(&format!("d{i}/b"), format!("b{i}"))]);
        let message = format!("c{i}");
        let request = provision_core::ports::CommitRequest {
            branch: &main,
            parent: tip.as_ref(),
            files: &files,
            mode: TreeMode::Overlay,
            message: &message,
            skip_unchanged: false,
        };
        let host = if i % 10 == 9 { &other } else { &f.host };
        tip = Some(host.commit(&demo, request).await.unwrap());
    }
    // The 33rd pack made 33, more than the limit of 32: merged into one; so again at 65 and
    // 97; 3 came after the last merge.
    let (loose, packs, _) = object_counts(&bare);
    assert_eq!(loose, 0);
    assert_eq!(packs, 4);
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "100");
    assert_eq!(ls_tree(&bare, "main").len(), 200);
    assert_eq!(git(&bare, &["show", "main:d0/a"]), "a0");
    assert_eq!(other.read_file(&demo, &main, &path("d98/b")).await.unwrap().unwrap(), b"b98");
    assert_fsck_clean(&bare);
}
