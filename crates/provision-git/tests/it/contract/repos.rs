//! The contract of repositories, branches, commits and reading files back.

use super::{commit, lines, tree};
use crate::support::{branch, exe, file, files, path, repo};
use provision_core::TreeMode;
use provision_core::ports::{CommitId, CommitRequest, GitHost, MergeRequest, PortErrorKind};

pub async fn a_created_repository_exists_and_is_empty(h: &dyn GitHost) {
    let demo = repo("demo");
    assert!(!h.repo_exists(&demo).await.unwrap(), "no repository before it is created");
    h.create_repo(&demo, "a demo").await.unwrap();
    assert!(h.repo_exists(&demo).await.unwrap(), "the repository exists once created");
    assert!(!h.repo_exists(&repo("other")).await.unwrap(), "creating one repository creates no other");
    assert_eq!(h.branches(&demo).await.unwrap(), [], "a new repository has no branch");
    assert_eq!(h.branch_tip(&demo, &branch("main")).await.unwrap(), None);
    assert_eq!(h.read_tree(&demo, &branch("main")).await.unwrap(), None, "no branch, no tree");
    assert_eq!(h.read_file(&demo, &branch("main"), &path("README.md")).await.unwrap(), None);
    assert_eq!(h.find_commit(&demo, &branch("main"), "anything", 10).await.unwrap(), None);
}

pub async fn creating_a_repository_twice_is_already_exists_and_keeps_it(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let c1 = commit(h, &demo, "main", None, &files([file("a", "1\n")]), TreeMode::Replace, "One").await.unwrap();

    let again = h.create_repo(&demo, "a demo").await.expect_err("a second creation fails");
    assert_eq!(again.kind, PortErrorKind::AlreadyExists, "{again}");
    assert!(again.message.contains("demo"), "the error names the repository: {again}");
    assert_eq!(h.branches(&demo).await.unwrap(), [(branch("main"), c1)], "the repository is left as it was");
}

pub async fn every_call_on_a_missing_repository_is_not_found(h: &dyn GitHost) {
    let ghost = repo("ghost");
    let main = branch("main");
    let (into, from, side) = (branch("main"), branch("orchestrator/template"), branch("side"));
    let request = MergeRequest { into: &into, from: &from, conflict_branch: &side, message: "m", renames: &[] };
    let some = files([file("a", "1\n")]);
    let write = CommitRequest {
        branch: &main,
        parent: None,
        files: &some,
        mode: TreeMode::Replace,
        message: "m",
        skip_unchanged: false,
    };
    let at = CommitId("e".repeat(40));
    let failures = [
        ("branches", h.branches(&ghost).await.err()),
        ("branch_tip", h.branch_tip(&ghost, &main).await.err()),
        ("find_commit", h.find_commit(&ghost, &main, "m", 10).await.err()),
        ("commit", h.commit(&ghost, write).await.err()),
        ("create_branch", h.create_branch(&ghost, &main, &at).await.err()),
        ("read_file", h.read_file(&ghost, &main, &path("a")).await.err()),
        ("read_tree", h.read_tree(&ghost, &main).await.err()),
        ("merge_state", h.merge_state(&ghost, &request).await.err()),
        ("merge", h.merge(&ghost, &request).await.err()),
        ("preview_merge", h.preview_merge(&ghost, &request, &some).await.err()),
        ("log", h.log(&ghost, 10).await.err()),
        ("delete_repo", h.delete_repo(&ghost).await.err()),
    ];
    for (call, error) in failures {
        let error = error.unwrap_or_else(|| panic!("{call} on a missing repository fails"));
        assert_eq!(error.kind, PortErrorKind::NotFound, "{call}: {error}");
        assert!(error.message.contains("ghost"), "{call}: the error names the repository: {error}");
    }
    assert!(!h.repo_exists(&ghost).await.unwrap(), "no call created it");
}

pub async fn a_root_commit_starts_a_branch_whose_files_read_back(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let written = files([
        file("README.md", "# demo\n"),
        file("src/main.rs", "fn main() {}\n"),
        exe("bin/run.sh", "#!/bin/sh\nexec demo\n"),
        file("deep/er/than/that.txt", "deep\n"),
        file("logo.bin", super::binary(7)),
        file("empty", ""),
    ]);

    let c1 = commit(h, &demo, "main", None, &written, TreeMode::Replace, "Initial").await.unwrap();

    assert!(c1.0.len() == 40 && c1.0.bytes().all(|b| b.is_ascii_hexdigit()), "a full hex commit id: {c1}");
    assert_eq!(h.branch_tip(&demo, &branch("main")).await.unwrap(), Some(c1.clone()));
    assert_eq!(h.branches(&demo).await.unwrap(), [(branch("main"), c1)]);
    assert_eq!(tree(h, &demo, "main").await, written, "every file, its content and mode, and nothing else");
    for (p, entry) in written.iter() {
        let read = h.read_file(&demo, &branch("main"), p).await.unwrap();
        assert_eq!(read.as_deref(), Some(&*entry.content), "read_file {p}");
    }
    assert_eq!(h.read_file(&demo, &branch("main"), &path("src")).await.unwrap(), None, "a directory is no file");
    assert_eq!(h.read_file(&demo, &branch("main"), &path("missing.txt")).await.unwrap(), None);
    assert_eq!(h.read_file(&demo, &branch("other"), &path("README.md")).await.unwrap(), None, "no such branch");
    assert_eq!(h.read_tree(&demo, &branch("other")).await.unwrap(), None, "no such branch");
}

pub async fn replace_mode_writes_exactly_the_files_given(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let first = files([file("a", "a\n"), file("b", "b\n"), file("dir/c", "c\n")]);
    let c1 = commit(h, &demo, "main", None, &first, TreeMode::Replace, "One").await.unwrap();
    let second = files([file("b", "b changed\n"), file("d", "d\n")]);

    let c2 = commit(h, &demo, "main", Some(&c1), &second, TreeMode::Replace, "Two").await.unwrap();

    assert_ne!(c2, c1);
    assert_eq!(tree(h, &demo, "main").await, second, "files not given are gone, directories included");
    assert_eq!(h.branch_tip(&demo, &branch("main")).await.unwrap(), Some(c2));
}

pub async fn overlay_mode_keeps_the_parent_s_files_and_replaces_the_given_ones(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let root = files([file("dir/c", "c\n")]);
    // Overlaying onto no parent is the files alone.
    let c1 = commit(h, &demo, "main", None, &root, TreeMode::Overlay, "One").await.unwrap();
    assert_eq!(tree(h, &demo, "main").await, root);
    let more = files([file("a", "a\n"), file("dir/b", "b\n")]);
    let c2 = commit(h, &demo, "main", Some(&c1), &more, TreeMode::Overlay, "Two").await.unwrap();
    let changed = files([exe("a", "a\n"), file("dir/b", "b changed\n"), file("e/f", "f\n")]);

    commit(h, &demo, "main", Some(&c2), &changed, TreeMode::Overlay, "Three").await.unwrap();

    let expected = files([exe("a", "a\n"), file("dir/b", "b changed\n"), file("dir/c", "c\n"), file("e/f", "f\n")]);
    assert_eq!(tree(h, &demo, "main").await, expected, "the parent's files stay; given ones replace them, mode too");
}

pub async fn a_commit_on_a_stale_parent_is_a_conflict_and_moves_nothing(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let v1 = files([file("a", "1\n")]);
    let v2 = files([file("a", "2\n")]);
    let c1 = commit(h, &demo, "main", None, &v1, TreeMode::Replace, "One").await.unwrap();
    let c2 = commit(h, &demo, "main", Some(&c1), &v2, TreeMode::Replace, "Two").await.unwrap();
    let lost = files([file("a", "lost\n")]);

    let stale = commit(h, &demo, "main", Some(&c1), &lost, TreeMode::Replace, "Stale").await.expect_err("stale");
    assert_eq!(stale.kind, PortErrorKind::Conflict, "{stale}");
    assert!(stale.is_retryable(), "the engine re-reads and retries a moved branch");
    assert!(stale.message.contains("main"), "the error names the branch: {stale}");
    let root = commit(h, &demo, "main", None, &lost, TreeMode::Replace, "Root").await.expect_err("a root on a branch");
    assert_eq!(root.kind, PortErrorKind::Conflict, "a root commit needs the branch not to exist: {root}");
    let gone = commit(h, &demo, "feature", Some(&c1), &lost, TreeMode::Overlay, "Gone").await.expect_err("no branch");
    assert_eq!(gone.kind, PortErrorKind::Conflict, "a parent on a missing branch is stale too: {gone}");

    assert_eq!(h.branches(&demo).await.unwrap(), [(branch("main"), c2)], "no branch moved or appeared");
    assert_eq!(tree(h, &demo, "main").await, v2);
    for message in ["Stale", "Root"] {
        assert_eq!(h.find_commit(&demo, &branch("main"), message, 10).await.unwrap(), None, "{message} left no commit");
    }
}

pub async fn skip_unchanged_answers_the_parent_when_the_tree_is_the_same(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let v1 = files([file("a", "1\n"), file("b/c", "c\n")]);
    let c1 = commit(h, &demo, "main", None, &v1, TreeMode::Replace, "v1").await.unwrap();
    let main = branch("main");
    let same = CommitRequest {
        branch: &main,
        parent: Some(&c1),
        files: &v1,
        mode: TreeMode::Replace,
        message: "Same again",
        skip_unchanged: true,
    };
    let subset = files([file("b/c", "c\n")]);

    assert_eq!(h.commit(&demo, same).await.unwrap(), c1, "the same tree commits nothing");
    let overlaid = CommitRequest { files: &subset, mode: TreeMode::Overlay, ..same };
    assert_eq!(h.commit(&demo, overlaid).await.unwrap(), c1, "overlaying files it holds changes nothing");
    assert_eq!(h.branch_tip(&demo, &main).await.unwrap(), Some(c1.clone()));
    assert_eq!(h.find_commit(&demo, &main, "Same again", 10).await.unwrap(), None, "no commit was written");

    let mode = files([exe("a", "1\n"), file("b/c", "c\n")]);
    let c2 = h.commit(&demo, CommitRequest { files: &mode, ..same }).await.unwrap();
    assert_ne!(c2, c1, "a new mode is a change");
    let c3 = h.commit(&demo, CommitRequest { parent: Some(&c2), files: &subset, ..same }).await.unwrap();
    assert_ne!(c3, c2, "replacing with fewer files is a change");
    let c4 = h.commit(&demo, CommitRequest { parent: Some(&c3), files: &subset, skip_unchanged: false, ..same }).await;
    assert_ne!(c4.unwrap(), c3, "without skip_unchanged the same tree is committed again");
}

pub async fn find_commit_finds_a_whole_line_in_first_parent_history_within_the_limit(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let v1 = files([file("a", lines(10, &[]))]);
    let t1 = commit(h, &demo, super::TEMPLATE, None, &v1, TreeMode::Replace, "Render v1\n\nProvision-Run: r1/0\n")
        .await
        .unwrap();
    h.create_branch(&demo, &branch("main"), &t1).await.unwrap();
    let local = files([file("a", lines(10, &[(1, "one here")]))]);
    let m1 =
        commit(h, &demo, "main", Some(&t1), &local, TreeMode::Replace, "Local\n\nProvision-Run: r1/9\n").await.unwrap();
    let main = branch("main");

    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r1/0", 2).await.unwrap(), Some(t1.clone()));
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r1/0", 1).await.unwrap(), None, "beyond the limit");
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r1/9", 1).await.unwrap(), Some(m1.clone()));
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r1", 10).await.unwrap(), None, "a whole line, not a prefix");
    assert_eq!(h.find_commit(&demo, &main, "Run: r1/0", 10).await.unwrap(), None, "a whole line, not a suffix");
    assert_eq!(h.find_commit(&demo, &branch("nope"), "Local", 10).await.unwrap(), None, "no branch, no commit");

    // After a merge the template's new commit is history of main, but not first-parent history.
    let v2 = files([file("a", lines(10, &[(10, "ten upstream")]))]);
    let t2 = commit(h, &demo, super::TEMPLATE, Some(&t1), &v2, TreeMode::Replace, "Render v2\n\nProvision-Run: r2/0\n")
        .await
        .unwrap();
    let upgrade = super::Upgrade::new();
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), provision_core::ports::MergeState::Merged);
    let merge = h.branch_tip(&demo, &main).await.unwrap().expect("main");
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r/1", 1).await.unwrap(), Some(merge), "the merge");
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r1/9", 2).await.unwrap(), Some(m1), "its first parent");
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r1/0", 3).await.unwrap(), Some(t1));
    assert_eq!(h.find_commit(&demo, &main, "Provision-Run: r2/0", 10).await.unwrap(), None, "a second parent");
    assert_eq!(h.find_commit(&demo, &upgrade.from, "Provision-Run: r2/0", 1).await.unwrap(), Some(t2));
}

pub async fn branches_are_listed_by_name_with_their_tips(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let mut expected = Vec::new();
    for (name, content) in [("main", "m"), ("orchestrator/template", "t"), ("a-first", "a"), ("feature/x", "x")] {
        let id = commit(h, &demo, name, None, &files([file("f", content)]), TreeMode::Replace, name).await.unwrap();
        expected.push((branch(name), id));
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));

    let listed = h.branches(&demo).await.unwrap();

    let names: Vec<&str> = listed.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(names, ["a-first", "feature/x", "main", "orchestrator/template"]);
    assert_eq!(listed, expected, "each with its tip");
}

pub async fn a_branch_is_created_once_and_only_at_an_existing_commit(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let v1 = files([file("a", "1\n")]);
    let c1 = commit(h, &demo, "main", None, &v1, TreeMode::Replace, "One").await.unwrap();
    let c2 = commit(h, &demo, "main", Some(&c1), &files([file("a", "2\n")]), TreeMode::Replace, "Two").await.unwrap();
    let feature = branch("feature/x");

    h.create_branch(&demo, &feature, &c1).await.unwrap();
    assert_eq!(h.branch_tip(&demo, &feature).await.unwrap(), Some(c1.clone()));
    assert_eq!(h.read_tree(&demo, &feature).await.unwrap(), Some(v1), "the branch holds the commit's files");

    let again = h.create_branch(&demo, &feature, &c2).await.expect_err("the branch exists");
    assert_eq!(again.kind, PortErrorKind::AlreadyExists, "{again}");
    assert_eq!(h.branch_tip(&demo, &feature).await.unwrap(), Some(c1), "an existing branch does not move");

    let nowhere = h.create_branch(&demo, &branch("nowhere"), &CommitId("e".repeat(40))).await.expect_err("no commit");
    assert_eq!(nowhere.kind, PortErrorKind::NotFound, "{nowhere}");
    assert_eq!(h.branch_tip(&demo, &branch("nowhere")).await.unwrap(), None, "no branch to a missing commit");
}

pub async fn a_file_and_a_directory_at_one_path_are_refused(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let both = files([file("a", "file\n"), file("a/b", "below\n")]);
    let error = commit(h, &demo, "main", None, &both, TreeMode::Replace, "Both").await.expect_err("a and a/b");
    assert_eq!(error.kind, PortErrorKind::Permanent, "{error}");
    assert_eq!(h.branch_tip(&demo, &branch("main")).await.unwrap(), None, "nothing was committed");

    let v1 = files([file("a", "file\n"), file("d/x", "x\n")]);
    let c1 = commit(h, &demo, "main", None, &v1, TreeMode::Replace, "One").await.unwrap();
    for (what, overlay) in [("a file below a file", file("a/b", "b\n")), ("a file over a directory", file("d", "d\n"))]
    {
        let overlay = files([overlay]);
        let error = commit(h, &demo, "main", Some(&c1), &overlay, TreeMode::Overlay, "Two").await.expect_err(what);
        assert_eq!(error.kind, PortErrorKind::Permanent, "{what}: {error}");
    }
    assert_eq!(h.branch_tip(&demo, &branch("main")).await.unwrap(), Some(c1));
    assert_eq!(tree(h, &demo, "main").await, v1);
}

pub async fn remove_mode_drops_the_given_paths_and_keeps_the_rest(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let all = files([file("keep.txt", "k\n"), file("services/a/app.yaml", "a\n"), file("services/b/app.yaml", "b\n")]);
    let c1 = commit(h, &demo, "main", None, &all, TreeMode::Replace, "One").await.unwrap();
    // Contents are not looked at; a path that is not there is no error.
    let gone = files([file("services/a/app.yaml", "whatever"), file("never/there", "")]);
    let c2 = commit(h, &demo, "main", Some(&c1), &gone, TreeMode::Remove, "Remove a").await.unwrap();
    assert_ne!(c1, c2);
    assert_eq!(tree(h, &demo, "main").await, files([file("keep.txt", "k\n"), file("services/b/app.yaml", "b\n")]));
    // Removing what is gone already gives the same tree: skip_unchanged commits nothing.
    let main = branch("main");
    let again = CommitRequest {
        branch: &main,
        parent: Some(&c2),
        files: &gone,
        mode: TreeMode::Remove,
        message: "Remove a again",
        skip_unchanged: true,
    };
    assert_eq!(h.commit(&demo, again).await.unwrap(), c2);
}

pub async fn the_log_lists_every_commit_of_every_branch_once(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    assert_eq!(h.log(&demo, 10).await.unwrap(), [], "an empty repository has no history");
    let c1 =
        commit(h, &demo, "main", None, &files([file("a", "1\n")]), TreeMode::Replace, "One\n\nbody\n").await.unwrap();
    h.create_branch(&demo, &branch("side"), &c1).await.unwrap();
    let c2 = commit(h, &demo, "main", Some(&c1), &files([file("a", "2\n")]), TreeMode::Replace, "Two").await.unwrap();
    let c3 = commit(h, &demo, "side", Some(&c1), &files([file("b", "3\n")]), TreeMode::Replace, "Three").await.unwrap();
    let log = h.log(&demo, 10).await.unwrap();
    let mut ids: Vec<_> = log.iter().map(|c| c.id.clone()).collect();
    ids.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![c1.clone(), c2, c3];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(ids, expected, "each commit once, from every branch");
    let first = log.iter().find(|c| c.id == c1).unwrap();
    assert_eq!((first.subject(), first.message.as_str()), ("One", "One\n\nbody\n"));
    assert_eq!(h.log(&demo, 2).await.unwrap().len(), 2, "at most the limit");
}

pub async fn a_deleted_repository_is_gone_and_its_name_free_again(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    commit(h, &demo, "main", None, &files([file("a", "1\n")]), TreeMode::Replace, "One").await.unwrap();
    h.create_repo(&repo("other"), "another").await.unwrap();
    h.delete_repo(&demo).await.unwrap();
    assert!(!h.repo_exists(&demo).await.unwrap(), "deleted");
    assert!(h.repo_exists(&repo("other")).await.unwrap(), "deleting one repository deletes no other");
    let twice = h.delete_repo(&demo).await.expect_err("deleting twice fails");
    assert_eq!(twice.kind, PortErrorKind::NotFound, "{twice}");
    // The name is free: a new repository there is a new, empty one.
    h.create_repo(&demo, "again").await.unwrap();
    assert_eq!(h.branches(&demo).await.unwrap(), [], "nothing of the deleted one is left");
    assert_eq!(h.read_file(&demo, &branch("main"), &path("a")).await.unwrap(), None);
}
