//! The contract of merging the template branch into main: 3-way merges that keep local edits,
//! renames found and declared, conflicts committed on their own branch, where a merge stands,
//! doing it again, and previews that write nothing.

use super::{
    CONFLICTS, TEMPLATE, Upgrade, binary, changes, commit, lines, provisioned, provisioned_as, render, text, tree,
};
use crate::support::{branch, exe, file, files, path, repo};
use provision_core::ports::{
    ConflictKind, FileChange, GitHost, MergeConflict, MergePreview, MergeState, PortErrorKind,
};
use provision_core::{FileEntry, FileSet, RepoName, TreeMode};

fn conflict(path: &str, kind: ConflictKind) -> MergeConflict {
    MergeConflict { path: path.into(), kind }
}

/// `main.go` of ten lines whose line 5 both sides changed, as git writes it with markers.
fn main_go_with_markers() -> String {
    lines(4, &[])
        + "<<<<<<< main\nline 5 changed here\n=======\nline 5 changed upstream\n>>>>>>> orchestrator/template\n"
        + &lines(10, &[]).split_inclusive('\n').skip(5).collect::<String>()
}

/// The tip of `branch`, which must exist.
async fn tip(h: &dyn GitHost, repo: &RepoName, name: &str) -> provision_core::ports::CommitId {
    h.branch_tip(repo, &branch(name)).await.unwrap().unwrap_or_else(|| panic!("branch {name} of {repo} exists"))
}

pub async fn a_clean_merge_keeps_local_edits_and_takes_the_template_s_changes(h: &dyn GitHost) {
    let v1 = files([
        file("main.go", lines(40, &[])),
        file("README.md", "# demo\n"),
        file("gone.txt", "the template drops this\n"),
        file("kept-deleted.txt", "users delete this\n"),
        file("run.sh", "#!/bin/sh\nexec demo\n"),
        file("logo.bin", binary(3)),
    ]);
    let local = files([
        file("main.go", lines(40, &[(3, "line 3 changed here")])),
        file("README.md", "# demo\n"),
        file("gone.txt", "the template drops this\n"),
        file("run.sh", "#!/bin/sh\nexec demo\n"),
        file("logo.bin", binary(3)),
        file("NOTES.md", "a file of our own\n"),
    ]);
    let demo = provisioned(h, &v1, &local).await;
    let main_before = tip(h, &demo, "main").await;
    let v2 = files([
        file("main.go", lines(40, &[(35, "line 35 changed upstream")])),
        file("README.md", "# demo\n\nNow with docs.\n"),
        file("kept-deleted.txt", "users delete this\n"),
        exe("run.sh", "#!/bin/sh\nexec demo\n"),
        file("logo.bin", binary(5)),
        file("added.txt", "new in v2\n"),
    ]);
    let t2 = render(h, &demo, &v2).await;
    let upgrade = Upgrade::new();

    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Pending);
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged);

    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged);
    let expected = files([
        file("NOTES.md", "a file of our own\n"),
        file("README.md", "# demo\n\nNow with docs.\n"),
        file("added.txt", "new in v2\n"),
        file("logo.bin", binary(5)),
        file("main.go", lines(40, &[(3, "line 3 changed here"), (35, "line 35 changed upstream")])),
        exe("run.sh", "#!/bin/sh\nexec demo\n"),
    ]);
    assert_eq!(
        tree(h, &demo, "main").await,
        expected,
        "local edits and files stay, the template's changes (lines, files, modes) arrive, removed files go"
    );
    let merge = tip(h, &demo, "main").await;
    assert_ne!(merge, main_before);
    assert_eq!(h.find_commit(&demo, &upgrade.into, "Provision-Run: r/1", 1).await.unwrap(), Some(merge.clone()));
    assert_eq!(
        h.find_commit(&demo, &upgrade.into, "Local changes", 2).await.unwrap(),
        Some(main_before),
        "main's own history is the merge's first parent"
    );
    assert_eq!(h.branch_tip(&demo, &upgrade.from).await.unwrap(), Some(t2), "the template branch stays");
    assert_eq!(h.branch_tip(&demo, &upgrade.conflicts).await.unwrap(), None, "a clean merge needs no conflict branch");
}

pub async fn a_file_renamed_on_either_side_carries_the_other_side_s_edits(h: &dyn GitHost) {
    // Ten settings, the ninth being `ninth`.
    let settings = |ninth: &str| -> String {
        (1..=10).map(|i| if i == 9 { format!("{ninth}\n") } else { format!("setting_{i}: {i}\n") }).collect()
    };
    let v1 = files([file("old-name.txt", lines(20, &[])), file("config.yaml", settings("setting_9: 9"))]);
    // Here the template's file is edited, and another one renamed as it was.
    let local = files([
        file("old-name.txt", lines(20, &[(2, "line 2 changed here")])),
        file("settings.yaml", settings("setting_9: 9")),
    ]);
    let demo = provisioned(h, &v1, &local).await;
    // Upstream the first file is renamed and edited (still mostly the same), the other edited.
    let v2 = files([
        file("new-name.txt", lines(20, &[(19, "line 19 changed upstream")])),
        file("config.yaml", settings("setting_9: nine")),
    ]);
    render(h, &demo, &v2).await;

    assert_eq!(h.merge(&demo, &Upgrade::new().request(&[])).await.unwrap(), MergeState::Merged);

    let expected = files([
        file("new-name.txt", lines(20, &[(2, "line 2 changed here"), (19, "line 19 changed upstream")])),
        file("settings.yaml", settings("setting_9: nine")),
    ]);
    assert_eq!(tree(h, &demo, "main").await, expected, "each side's edits follow the file the other side renamed");
}

pub async fn declared_renames_move_local_edits_where_rename_detection_cannot(h: &dyn GitHost) {
    let v1 = files([file("config/app.yaml", lines(10, &[]))]);
    let local = files([file("config/app.yaml", lines(10, &[(2, "line 2 changed here")]))]);
    let demo = provisioned(h, &v1, &local).await;
    // Moved, and half of it rewritten: too different for rename detection to pair the files.
    let upstream = [(6, "six"), (7, "seven"), (8, "eight"), (9, "nine"), (10, "ten")];
    let v2 = files([file("deploy/app.yaml", lines(10, &upstream))]);
    let upgrade = Upgrade::new();
    let renames = [(path("config/app.yaml"), path("deploy/app.yaml"))];

    let undeclared = h.preview_merge(&demo, &upgrade.request(&[]), &v2).await.unwrap();
    assert_eq!(
        undeclared.conflicts,
        [conflict("config/app.yaml", ConflictKind::RemovedUpstream)],
        "without the declared rename the template seems to remove a file edited here"
    );
    let declared = h.preview_merge(&demo, &upgrade.request(&renames), &v2).await.unwrap();
    assert_eq!(declared.conflicts, []);
    assert_eq!(
        declared.changes,
        [("config/app.yaml".to_owned(), FileChange::Removed), ("deploy/app.yaml".to_owned(), FileChange::Added)]
    );
    render(h, &demo, &v2).await;
    assert_eq!(h.merge(&demo, &upgrade.request(&renames)).await.unwrap(), MergeState::Merged);

    let mut both = upstream.to_vec();
    both.push((2, "line 2 changed here"));
    assert_eq!(tree(h, &demo, "main").await, files([file("deploy/app.yaml", lines(10, &both))]));
}

pub async fn a_content_conflict_is_committed_on_the_conflict_branch_and_main_stays(h: &dyn GitHost) {
    let v1 = files([file("main.go", lines(10, &[])), file("clean.txt", "v1\n")]);
    let local = files([file("main.go", lines(10, &[(5, "line 5 changed here")])), file("clean.txt", "v1\n")]);
    let demo = provisioned(h, &v1, &local).await;
    let main_before = tip(h, &demo, "main").await;
    let v2 = files([file("main.go", lines(10, &[(5, "line 5 changed upstream")])), file("clean.txt", "v2\n")]);
    let t2 = render(h, &demo, &v2).await;
    let upgrade = Upgrade::new();

    let state = h.merge(&demo, &upgrade.request(&[])).await.unwrap();

    let MergeState::Conflicted { commit, conflicts } = state.clone() else { panic!("a conflict, not {state:?}") };
    assert_eq!(conflicts, [conflict("main.go", ConflictKind::Content)]);
    assert_eq!(tip(h, &demo, "main").await, main_before, "main is untouched");
    assert_eq!(tree(h, &demo, "main").await, local);
    assert_eq!(tip(h, &demo, TEMPLATE).await, t2);
    assert_eq!(tip(h, &demo, CONFLICTS).await, commit, "the merge is the conflict branch's tip");
    assert_eq!(text(h, &demo, CONFLICTS, "main.go").await, main_go_with_markers(), "git's conflict markers");
    assert_eq!(text(h, &demo, CONFLICTS, "clean.txt").await, "v2\n", "the rest merges");
    for line in ["Provision-Run: r/1", "Conflict: content main.go"] {
        let found = h.find_commit(&demo, &upgrade.conflicts, line, 1).await.unwrap();
        assert_eq!(found, Some(commit.clone()), "the merge's message holds {line:?}");
    }
    assert_eq!(
        h.find_commit(&demo, &upgrade.conflicts, "Local changes", 2).await.unwrap(),
        Some(main_before),
        "main is the conflicted merge's first parent"
    );

    // Where the merge stands is read back from the branches, and merging again adds nothing.
    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), state);
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), state);
    assert_eq!(tip(h, &demo, CONFLICTS).await, commit, "no second merge commit");
}

pub async fn every_conflict_kind_is_named_and_leaves_the_file_the_port_says(h: &dyn GitHost) {
    let v1 = files([
        file("main.go", lines(10, &[])),
        file("edited-here.txt", "edited in v1\n"),
        file("removed-here.txt", "removed in v1\n"),
        file("data.bin", binary(3)),
        file("clean.txt", "v1\n"),
    ]);
    let local = files([
        file("main.go", lines(10, &[(5, "line 5 changed here")])),
        file("edited-here.txt", "changed here\n"),
        file("data.bin", binary(7)),
        file("clean.txt", "v1\n"),
        file("shared", "a file here\n"),
    ]);
    let demo = provisioned(h, &v1, &local).await;
    let v2 = files([
        file("main.go", lines(10, &[(5, "line 5 changed upstream")])),
        file("removed-here.txt", "changed upstream\n"),
        file("data.bin", binary(9)),
        file("clean.txt", "v2\n"),
        file("shared/config.yaml", "a directory upstream\n"),
    ]);
    render(h, &demo, &v2).await;

    let state = h.merge(&demo, &Upgrade::new().request(&[])).await.unwrap();

    let expected = [
        conflict("data.bin", ConflictKind::Binary),
        conflict("edited-here.txt", ConflictKind::RemovedUpstream),
        conflict("main.go", ConflictKind::Content),
        conflict("removed-here.txt", ConflictKind::RemovedHere),
        conflict("shared", ConflictKind::Tree),
    ];
    let MergeState::Conflicted { conflicts, commit } = state else { panic!("conflicts, not {state:?}") };
    assert_eq!(conflicts, expected, "one per file, by path");
    for c in &expected {
        let found = h.find_commit(&demo, &branch(CONFLICTS), &c.trailer(), 1).await.unwrap();
        assert_eq!(found, Some(commit.clone()), "the merge's message lists {c:?}");
    }
    let merged = files([
        file("clean.txt", "v2\n"),
        // Binary: it stays as it is here.
        file("data.bin", binary(7)),
        // Removed upstream, changed here: it stays, as changed here.
        file("edited-here.txt", "changed here\n"),
        file("main.go", main_go_with_markers()),
        // Removed here, changed upstream: upstream's version is there.
        file("removed-here.txt", "changed upstream\n"),
        // A file here where upstream has a directory: git keeps the directory and moves the
        // file aside, named after its branch.
        file("shared/config.yaml", "a directory upstream\n"),
        file("shared~main", "a file here\n"),
    ]);
    assert_eq!(tree(h, &demo, CONFLICTS).await, merged);
    assert_eq!(tree(h, &demo, "main").await, local, "main is untouched");
}

pub async fn merge_state_is_pending_until_the_template_tip_is_in_main(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let upgrade = Upgrade::new();
    let state = || async { h.merge_state(&demo, &upgrade.request(&[])).await.unwrap() };
    assert_eq!(state().await, MergeState::Pending, "no branches yet");
    let v1 = files([file("a", lines(5, &[]))]);
    let t1 = commit(h, &demo, TEMPLATE, None, &v1, TreeMode::Replace, "Render v1").await.unwrap();
    assert_eq!(state().await, MergeState::Pending, "no main yet");

    h.create_branch(&demo, &upgrade.into, &t1).await.unwrap();
    assert_eq!(state().await, MergeState::Merged, "main started from the template tip holds it");
    let local = files([file("a", lines(5, &[(1, "one here")]))]);
    let m1 = commit(h, &demo, "main", Some(&t1), &local, TreeMode::Replace, "Local changes").await.unwrap();
    assert_eq!(state().await, MergeState::Merged, "and still does after local commits");

    render(h, &demo, &files([file("a", lines(5, &[(5, "five upstream")]))])).await;
    assert_eq!(state().await, MergeState::Pending, "a new render is to be merged");
    assert_eq!(tip(h, &demo, "main").await, m1, "asking wrote nothing");
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged);
    assert_eq!(state().await, MergeState::Merged);
    let main = tip(h, &demo, "main").await;
    commit(h, &demo, "main", Some(&main), &files([file("b", "b\n")]), TreeMode::Overlay, "More").await.unwrap();
    assert_eq!(state().await, MergeState::Merged, "local commits after the merge keep it merged");
}

pub async fn merging_again_after_a_clean_merge_writes_nothing(h: &dyn GitHost) {
    let v1 = files([file("a", lines(5, &[]))]);
    let demo = provisioned(h, &v1, &files([file("a", lines(5, &[(1, "one here")]))])).await;
    let upgrade = Upgrade::new();
    let before = h.branches(&demo).await.unwrap();
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged, "nothing new to merge");
    assert_eq!(h.branches(&demo).await.unwrap(), before, "merging what main holds writes nothing");

    render(h, &demo, &files([file("a", lines(5, &[(5, "five upstream")]))])).await;
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged);
    let merged = h.branches(&demo).await.unwrap();
    let main = tree(h, &demo, "main").await;

    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged, "it finds the merge done");
    assert_eq!(h.branches(&demo).await.unwrap(), merged, "no second merge commit");
    assert_eq!(tree(h, &demo, "main").await, main);
}

pub async fn a_conflict_branch_left_from_older_tips_is_pending_and_superseded(h: &dyn GitHost) {
    let v1 = files([file("a.txt", "v1\n")]);
    let demo = provisioned(h, &v1, &files([file("a.txt", "here\n")])).await;
    render(h, &demo, &files([file("a.txt", "upstream\n")])).await;
    let upgrade = Upgrade::new();
    let MergeState::Conflicted { commit: first, conflicts } = h.merge(&demo, &upgrade.request(&[])).await.unwrap()
    else {
        panic!("a conflict")
    };
    assert_eq!(conflicts, [conflict("a.txt", ConflictKind::Content)]);
    // Main moves on: the conflict branch holds the merge of a main that is gone.
    let main = tip(h, &demo, "main").await;
    let more = files([file("more.txt", "more\n")]);
    let m2 = commit(h, &demo, "main", Some(&main), &more, TreeMode::Overlay, "More local changes").await.unwrap();

    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Pending);
    let again = h.merge(&demo, &upgrade.request(&[])).await.unwrap();

    let MergeState::Conflicted { commit: second, conflicts } = again.clone() else {
        panic!("a conflict, not {again:?}")
    };
    assert_ne!(second, first, "a new merge of the current tips");
    assert_eq!(conflicts, [conflict("a.txt", ConflictKind::Content)]);
    assert_eq!(tip(h, &demo, CONFLICTS).await, second, "the conflict branch moved to it");
    assert_eq!(h.find_commit(&demo, &upgrade.conflicts, "More local changes", 2).await.unwrap(), Some(m2.clone()));
    assert_eq!(text(h, &demo, CONFLICTS, "more.txt").await, "more\n");
    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), again);
    assert_eq!(tip(h, &demo, "main").await, m2, "main is untouched");
}

pub async fn merging_missing_or_unrelated_branches_fails_and_writes_nothing(h: &dyn GitHost) {
    let demo = repo("demo");
    h.create_repo(&demo, "a demo").await.unwrap();
    let upgrade = Upgrade::new();
    let v1 = files([file("a", "template\n")]);
    commit(h, &demo, TEMPLATE, None, &v1, TreeMode::Replace, "Render v1").await.unwrap();

    let no_main = h.merge(&demo, &upgrade.request(&[])).await.expect_err("there is no main");
    assert_eq!(no_main.kind, PortErrorKind::NotFound, "{no_main}");
    assert!(no_main.message.contains("main"), "the error names the branch: {no_main}");
    let preview = h.preview_merge(&demo, &upgrade.request(&[]), &v1).await.expect_err("there is no main");
    assert_eq!(preview.kind, PortErrorKind::NotFound, "{preview}");

    // A main that shares no history with the template branch: there is no base to merge from.
    commit(h, &demo, "main", None, &files([file("a", "someone else's\n")]), TreeMode::Replace, "Mine").await.unwrap();
    let before = h.branches(&demo).await.unwrap();
    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Pending);
    let unrelated = h.merge(&demo, &upgrade.request(&[])).await.expect_err("no merge base");
    assert_eq!(unrelated.kind, PortErrorKind::Permanent, "{unrelated}");
    let preview = h.preview_merge(&demo, &upgrade.request(&[]), &v1).await.expect_err("no merge base");
    assert_eq!(preview.kind, PortErrorKind::Permanent, "{preview}");
    assert_eq!(h.branches(&demo).await.unwrap(), before, "nothing was written");
}

/// Previews the merge of `next` in a new repository `name` made of `v1` and `local`, checks
/// it wrote nothing, then renders `next`, merges, and checks the preview told exactly what the
/// merge did. Returns the preview.
async fn preview_then_merge(
    h: &dyn GitHost,
    name: &str,
    v1: &FileSet,
    local: &FileSet,
    next: &FileSet,
) -> MergePreview {
    let demo = provisioned_as(h, name, v1, local).await;
    let upgrade = Upgrade::new();
    let branches = h.branches(&demo).await.unwrap();
    let main = tree(h, &demo, "main").await;

    let preview = h.preview_merge(&demo, &upgrade.request(&[]), next).await.unwrap();

    assert_eq!(h.branches(&demo).await.unwrap(), branches, "a preview moves and creates no branch");
    assert_eq!(tree(h, &demo, TEMPLATE).await, *v1, "a preview renders nothing");
    assert_eq!(h.merge_state(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged, "nothing to merge yet");

    render(h, &demo, next).await;
    let (after, conflicts) = match h.merge(&demo, &upgrade.request(&[])).await.unwrap() {
        MergeState::Merged => (tree(h, &demo, "main").await, vec![]),
        MergeState::Conflicted { conflicts, .. } => (tree(h, &demo, CONFLICTS).await, conflicts),
        MergeState::Pending => panic!("a merge answers Merged or Conflicted"),
    };
    assert_eq!(preview.changes, changes(&main, &after), "the preview's changes are the merge's");
    assert_eq!(preview.conflicts, conflicts, "the preview's conflicts are the merge's");
    preview
}

pub async fn a_preview_writes_nothing_and_tells_what_the_merge_then_does(h: &dyn GitHost) {
    let v1 = files([
        file("a.txt", lines(5, &[])),
        file("b.txt", "b\n"),
        file("c.txt", "c\n"),
        file("run.sh", "#!/bin/sh\n"),
        file("same.txt", "same\n"),
    ]);
    let local = files([
        file("a.txt", lines(5, &[(1, "one here")])),
        file("b.txt", "b here\n"),
        file("c.txt", "c\n"),
        file("run.sh", "#!/bin/sh\n"),
        file("same.txt", "same\n"),
    ]);
    let next = files([
        file("a.txt", lines(5, &[(5, "five upstream")])),
        file("b.txt", "b upstream\n"),
        file("d.txt", "d\n"),
        exe("run.sh", "#!/bin/sh\n"),
        file("same.txt", "same\n"),
    ]);
    let with_conflicts = preview_then_merge(h, "conflicted", &v1, &local, &next).await;
    let change = |p: &str, c| (p.to_owned(), c);
    assert_eq!(
        with_conflicts.changes,
        [
            change("a.txt", FileChange::Modified),
            change("b.txt", FileChange::Modified),
            change("c.txt", FileChange::Removed),
            change("d.txt", FileChange::Added),
            change("run.sh", FileChange::Modified),
        ],
        "a merged edit, a file with markers, a removal, an addition, a new mode; same.txt unchanged"
    );
    assert_eq!(with_conflicts.conflicts, [conflict("b.txt", ConflictKind::Content)]);
    // Each changed file's contents before and after, for showing the diff.
    let side = |text: &str| Some(text.as_bytes().to_vec());
    assert_eq!(with_conflicts.contents.keys().collect::<Vec<_>>(), ["a.txt", "b.txt", "c.txt", "d.txt", "run.sh"]);
    assert_eq!(with_conflicts.contents["c.txt"], (side("c\n"), None));
    assert_eq!(with_conflicts.contents["d.txt"], (None, side("d\n")));
    let (before, after) = &with_conflicts.contents["a.txt"];
    assert_eq!(before.as_deref(), Some(lines(5, &[(1, "one here")]).as_bytes()));
    assert_eq!(after.as_deref(), Some(lines(5, &[(1, "one here"), (5, "five upstream")]).as_bytes()));
    let markers = String::from_utf8(with_conflicts.contents["b.txt"].1.clone().unwrap()).unwrap();
    assert!(markers.contains("<<<<<<<") && markers.contains("b upstream"), "{markers}");

    // The same upgrade where only a.txt was edited here (on other lines) merges cleanly.
    let mut clean_local = v1.clone();
    clean_local.insert(path("a.txt"), FileEntry::new(lines(5, &[(1, "one here")]).into_bytes()));
    let clean = preview_then_merge(h, "clean", &v1, &clean_local, &next).await;
    assert_eq!(clean.conflicts, []);
    assert_eq!(
        clean.changes,
        [
            change("a.txt", FileChange::Modified),
            change("b.txt", FileChange::Modified),
            change("c.txt", FileChange::Removed),
            change("d.txt", FileChange::Added),
            change("run.sh", FileChange::Modified),
        ]
    );
}

pub async fn a_second_upgrade_merges_from_the_render_main_holds(h: &dyn GitHost) {
    let v1 = files([file("app.go", lines(12, &[]))]);
    let demo = provisioned(h, &v1, &files([file("app.go", lines(12, &[(1, "one here")]))])).await;
    let upgrade = Upgrade::new();
    render(h, &demo, &files([file("app.go", lines(12, &[(12, "twelve in v2")]))])).await;
    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged);
    // After v2 the team rewrites the line v2 changed; v3 changes another one. From v1's render
    // line 12 would conflict (v1, ours and v3 all differ); from v2's it is ours.
    let main = tip(h, &demo, "main").await;
    let ours = files([file("app.go", lines(12, &[(1, "one here"), (12, "twelve here")]))]);
    commit(h, &demo, "main", Some(&main), &ours, TreeMode::Replace, "More local changes").await.unwrap();
    render(h, &demo, &files([file("app.go", lines(12, &[(6, "six in v3"), (12, "twelve in v2")]))])).await;

    assert_eq!(h.merge(&demo, &upgrade.request(&[])).await.unwrap(), MergeState::Merged);
    assert_eq!(
        text(h, &demo, "main", "app.go").await,
        lines(12, &[(1, "one here"), (6, "six in v3"), (12, "twelve here")])
    );
}
