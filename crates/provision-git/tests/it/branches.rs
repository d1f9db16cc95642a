//! Reading back: branches, tips, history search, files and trees; creating branches.

use crate::support::*;
use provision_core::ports::{CommitId, GitHost, PortErrorKind};
use provision_core::{FileEntry, FileSet, TreeMode};
use std::io::Write;
use std::process::Stdio;

/// A `main` with three commits carrying run trailers, oldest first.
async fn three_commits() -> (Fixture, provision_core::RepoName, Vec<CommitId>) {
    let (f, demo) = Fixture::with_repo("demo").await;
    let mut ids: Vec<CommitId> = Vec::new();
    for (i, subject) in ["first", "second", "third"].into_iter().enumerate() {
        let message = format!("{subject}\n\nProvision-Run: run-1/{i}\n");
        let tree = files([file("n", format!("{i}"))]);
        let id = f.commit(&demo, "main", ids.last(), &tree, TreeMode::Overlay, &message).await.unwrap();
        ids.push(id);
    }
    (f, demo, ids)
}

#[tokio::test]
async fn find_commit_matches_a_whole_line_within_the_limit() {
    let (f, demo, ids) = three_commits().await;
    let main = branch("main");
    let find = |line: &'static str, limit| {
        let (host, demo, main) = (f.host.clone(), demo.clone(), main.clone());
        async move { host.find_commit(&demo, &main, line, limit).await.unwrap() }
    };
    assert_eq!(find("Provision-Run: run-1/1", 10).await, Some(ids[1].clone()));
    assert_eq!(find("Provision-Run: run-1/2", 1).await, Some(ids[2].clone()));
    assert_eq!(find("third", 10).await, Some(ids[2].clone()), "the subject is a line too");
    // Exact lines only: no prefixes, no substrings, no trailing space.
    assert_eq!(find("Provision-Run: run-1/", 10).await, None);
    assert_eq!(find("Provision-Run: run-1/1 ", 10).await, None);
    assert_eq!(find("run-1/1", 10).await, None);
    // The limit counts commits from the tip.
    assert_eq!(find("Provision-Run: run-1/0", 2).await, None);
    assert_eq!(find("Provision-Run: run-1/0", 3).await, Some(ids[0].clone()));
    assert_eq!(find("Provision-Run: run-1/2", 0).await, None);
    let other = branch("other");
    assert_eq!(f.host.find_commit(&demo, &other, "third", 10).await.unwrap(), None);
}

#[tokio::test]
async fn find_commit_follows_first_parents_only() {
    let (f, demo, ids) = three_commits().await;
    let bare = f.bare(&demo);
    // A side branch carrying the trailer we look for, merged as a second parent.
    let tree = format!("{}^{{tree}}", ids[2].0);
    let side = git(&bare, &["commit-tree", "-m", "side\n\nProvision-Run: side/0", &tree]);
    let merge = git(&bare, &["commit-tree", "-p", &ids[2].0, "-p", &side, "-m", "merge", &tree]);
    git(&bare, &["update-ref", "refs/heads/main", &merge, &ids[2].0]);

    let main = branch("main");
    assert_eq!(f.host.find_commit(&demo, &main, "Provision-Run: side/0", 50).await.unwrap(), None);
    assert_eq!(
        f.host.find_commit(&demo, &main, "Provision-Run: run-1/0", 50).await.unwrap(),
        Some(ids[0].clone()),
        "the first-parent chain goes on past the merge"
    );
}

#[tokio::test]
async fn branch_tips_and_branches_agree_with_git() {
    let (f, demo, ids) = three_commits().await;
    let bare = f.bare(&demo);
    assert_eq!(f.host.branch_tip(&demo, &branch("main")).await.unwrap(), Some(ids[2].clone()));
    assert_eq!(f.host.branch_tip(&demo, &branch("nope")).await.unwrap(), None);

    let template = branch("orchestrator/template");
    f.host.create_branch(&demo, &template, &ids[0]).await.unwrap();
    assert_eq!(rev_parse(&bare, "refs/heads/orchestrator/template"), ids[0].0);
    assert_eq!(
        git(&bare, &["reflog", "show", "--format=%gs|%gn", "refs/heads/orchestrator/template"]),
        format!("branch: Created from {}|{NAME}", ids[0].0)
    );
    // git packs refs; they must still be found.
    git(&bare, &["branch", "zz-packed", &ids[1].0]);
    git(&bare, &["pack-refs", "--all"]);

    let listed = f.host.branches(&demo).await.unwrap();
    let listed: Vec<(String, String)> = listed.into_iter().map(|(b, c)| (b.to_string(), c.0)).collect();
    let by_git: Vec<(String, String)> =
        git(&bare, &["for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/"])
            .lines()
            .map(|l| {
                let (b, c) = l.split_once(' ').unwrap();
                (b.to_owned(), c.to_owned())
            })
            .collect();
    assert_eq!(listed, by_git);
    assert_eq!(listed.len(), 3);
    assert_eq!(f.host.branch_tip(&demo, &branch("zz-packed")).await.unwrap(), Some(ids[1].clone()));
}

#[tokio::test]
async fn create_branch_only_creates() {
    let (f, demo, ids) = three_commits().await;
    let bare = f.bare(&demo);
    let feature = branch("feature");
    f.host.create_branch(&demo, &feature, &ids[1]).await.unwrap();

    let err = f.host.create_branch(&demo, &feature, &ids[2]).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::AlreadyExists);
    assert!(err.message.contains("feature"), "{}", err.message);
    // Even at the commit it already points to: the caller asked to create it.
    let err = f.host.create_branch(&demo, &feature, &ids[1]).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::AlreadyExists);
    assert_eq!(rev_parse(&bare, "feature"), ids[1].0);

    let err = f.host.create_branch(&demo, &branch("ghost"), &CommitId("1".repeat(40))).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::NotFound);
    // A tree is not a commit.
    let tree = CommitId(rev_parse(&bare, "main^{tree}"));
    let err = f.host.create_branch(&demo, &branch("ghost"), &tree).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::NotFound);
    assert!(git_output(&bare, &["rev-parse", "--verify", "--quiet", "refs/heads/ghost"]).stdout.is_empty());
    assert_fsck_clean(&bare);
}

#[tokio::test]
async fn read_tree_round_trips_nested_binary_and_executable_files() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let tree = files([
        file("README.md", "hello\n"),
        exe("scripts/build.sh", "#!/bin/sh\n"),
        file("a/b/c/d/e/deep.txt", "deep\n"),
        file("a/b/sibling.bin", binary.clone()),
        file("a/copy.bin", binary),
        file("empty", ""),
        file("crlf.txt", "one\r\ntwo\r\n"),
        file("ünïcödé/名前.txt", "utf-8 names\n"),
    ]);
    f.commit(&demo, "main", None, &tree, TreeMode::Replace, "x").await.unwrap();
    let main = branch("main");
    let read = f.host.read_tree(&demo, &main).await.unwrap().unwrap();
    assert_eq!(read, tree);
    // Identical blobs come back sharing one buffer.
    let (a, b) = (read.get("a/copy.bin").unwrap(), read.get("a/b/sibling.bin").unwrap());
    assert!(std::sync::Arc::ptr_eq(&a.content, &b.content));
    assert_eq!(f.host.read_tree(&demo, &branch("missing")).await.unwrap(), None);
    assert_fsck_clean(&f.bare(&demo));
}

#[tokio::test]
async fn read_file_reads_one_file_at_the_tip() {
    let (f, demo, _) = three_commits().await;
    let main = branch("main");
    let tree = files([file("docs/guide.md", "guide\n")]);
    let tip = f.host.branch_tip(&demo, &main).await.unwrap();
    f.commit(&demo, "main", tip.as_ref(), &tree, TreeMode::Overlay, "docs").await.unwrap();

    assert_eq!(f.host.read_file(&demo, &main, &path("n")).await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(f.host.read_file(&demo, &main, &path("docs/guide.md")).await.unwrap(), Some(b"guide\n".to_vec()));
    assert_eq!(f.host.read_file(&demo, &main, &path("docs")).await.unwrap(), None, "a directory");
    assert_eq!(f.host.read_file(&demo, &main, &path("docs/nope")).await.unwrap(), None);
    assert_eq!(f.host.read_file(&demo, &main, &path("n/below-a-file")).await.unwrap(), None);
    assert_eq!(f.host.read_file(&demo, &branch("missing"), &path("n")).await.unwrap(), None);
}

#[tokio::test]
async fn symlinks_written_by_git_are_refused_not_dropped() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let bare = f.bare(&demo);
    let blob = git_with_stdin(&bare, &["hash-object", "-w", "--stdin"], b"target");
    let regular = git_with_stdin(&bare, &["hash-object", "-w", "--stdin"], b"plain\n");
    let listing = format!("120000 blob {blob}\tlink\n100644 blob {regular}\tplain\n");
    let tree = git_with_stdin(&bare, &["mktree"], listing.as_bytes());
    let commit = git(&bare, &["commit-tree", "-m", "foreign", &tree]);
    git(&bare, &["update-ref", "refs/heads/main", &commit]);

    let main = branch("main");
    let err = f.host.read_tree(&demo, &main).await.unwrap_err();
    assert_eq!(err.kind, PortErrorKind::Permanent);
    assert!(err.message.contains("link") && err.message.contains("symbolic link"), "{}", err.message);
    assert!(f.host.read_file(&demo, &main, &path("link")).await.is_err());
    assert_eq!(f.host.read_file(&demo, &main, &path("plain")).await.unwrap(), Some(b"plain\n".to_vec()));

    // Overlaying keeps the symlink, which the adapter never had to represent.
    let id = CommitId(commit);
    let overlay: FileSet = [(path("new"), FileEntry::new(&b"n"[..]))].into_iter().collect();
    f.commit(&demo, "main", Some(&id), &overlay, TreeMode::Overlay, "add").await.unwrap();
    assert_eq!(
        ls_tree(&bare, "main"),
        [
            ("link".to_owned(), "120000".to_owned()),
            ("new".to_owned(), "100644".to_owned()),
            ("plain".to_owned(), "100644".to_owned())
        ]
    );
    assert_fsck_clean(&bare);
}

fn git_with_stdin(dir: &std::path::Path, args: &[&str], input: &[u8]) -> String {
    let mut child = git_command(dir).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("git runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
