//! Merging the template branch into main: the trees git would make, conflicts on a branch,
//! renames from migrations, previews that write nothing, and a second merge that finds the
//! first one.

use crate::support::*;
use provision_core::ports::{ConflictKind, FileChange, GitHost, MergeConflict, MergeRequest, MergeState};
use provision_core::{FileSet, RepoName, RepoPath, TreeMode};

/// Numbered lines `1..=n`, one per line, `edit` replacing some of them.
fn lines(n: usize, edit: &[(usize, &str)]) -> String {
    (1..=n)
        .map(|i| edit.iter().find(|(at, _)| *at == i).map_or_else(|| format!("line {i}\n"), |(_, l)| format!("{l}\n")))
        .collect()
}

fn binary(seed: u8) -> Vec<u8> {
    (0..64u8).map(|i| i.wrapping_mul(seed)).chain([0, 0, seed]).collect()
}

const TEMPLATE: &str = "orchestrator/template";

/// A repository whose template branch holds `v1`, with `main` started from it and then
/// changed to `local` by its users.
async fn provisioned(v1: &FileSet, local: &FileSet) -> (Fixture, RepoName) {
    let (f, demo) = Fixture::with_repo("demo").await;
    let t1 = f.commit(&demo, TEMPLATE, None, v1, TreeMode::Replace, "Render v1").await.unwrap();
    f.host.create_branch(&demo, &branch("main"), &t1).await.unwrap();
    f.commit(&demo, "main", Some(&t1), local, TreeMode::Replace, "Local changes").await.unwrap();
    (f, demo)
}

/// Renders `next` onto the template branch and merges it into main.
async fn upgrade(f: &Fixture, demo: &RepoName, next: &FileSet, renames: &[(RepoPath, RepoPath)]) -> MergeState {
    let tip = f.host.branch_tip(demo, &branch(TEMPLATE)).await.unwrap();
    f.commit(demo, TEMPLATE, tip.as_ref(), next, TreeMode::Replace, "Render next").await.unwrap();
    let (into, from, conflicts) = (branch("main"), branch(TEMPLATE), branch("orchestrator/upgrade-2"));
    let request = request(&into, &from, &conflicts, renames);
    assert_eq!(f.host.merge_state(demo, &request).await.unwrap(), MergeState::Pending);
    f.host.merge(demo, &request).await.unwrap()
}

fn request<'a>(
    into: &'a provision_core::BranchName,
    from: &'a provision_core::BranchName,
    conflicts: &'a provision_core::BranchName,
    renames: &'a [(RepoPath, RepoPath)],
) -> MergeRequest<'a> {
    MergeRequest { into, from, conflict_branch: conflicts, message: "Upgrade 1 → 2\n\nProvision-Run: r/1\n", renames }
}

fn show(f: &Fixture, demo: &RepoName, rev_path: &str) -> String {
    git(&f.bare(demo), &["show", rev_path])
}

fn paths(f: &Fixture, demo: &RepoName, rev: &str) -> Vec<String> {
    ls_tree(&f.bare(demo), rev).into_iter().map(|(p, _)| p).collect()
}

#[tokio::test]
async fn a_clean_merge_keeps_local_edits_and_brings_the_template_s_changes() {
    let v1 = files([
        file("main.go", lines(40, &[])),
        file("README.md", "# demo\n"),
        file("gone.txt", "the template drops this\n"),
        file("kept-deleted.txt", "users delete this\n"),
        file("old-name.txt", lines(20, &[])),
        file("logo.bin", binary(3)),
    ]);
    let local = files([
        file("main.go", lines(40, &[(3, "line 3 changed here")])),
        file("README.md", "# demo\n"),
        file("gone.txt", "the template drops this\n"),
        file("old-name.txt", lines(20, &[(2, "line 2 changed here")])),
        file("logo.bin", binary(3)),
        file("NOTES.md", "a file of our own\n"),
    ]);
    let (f, demo) = provisioned(&v1, &local).await;
    let main_before = rev_parse(&f.bare(&demo), "main");
    let v2 = files([
        file("main.go", lines(40, &[(35, "line 35 changed upstream")])),
        file("README.md", "# demo\n\nNow with docs.\n"),
        file("kept-deleted.txt", "users delete this\n"),
        file("new-name.txt", lines(20, &[(19, "line 19 changed upstream")])),
        file("logo.bin", binary(5)),
        file("added.txt", "new in v2\n"),
    ]);

    assert_eq!(upgrade(&f, &demo, &v2, &[]).await, MergeState::Merged);

    let bare = f.bare(&demo);
    assert_eq!(git(&bare, &["rev-parse", "main^1"]), main_before, "main's own history comes first");
    assert_eq!(git(&bare, &["rev-parse", "main^2"]), rev_parse(&bare, TEMPLATE));
    assert_eq!(
        paths(&f, &demo, "main"),
        ["NOTES.md", "README.md", "added.txt", "logo.bin", "main.go", "new-name.txt"],
        "added arrive, removed go, the deleted stay deleted, the renamed follow"
    );
    assert_eq!(
        show(&f, &demo, "main:main.go"),
        lines(40, &[(3, "line 3 changed here"), (35, "line 35 changed upstream")]).trim_end()
    );
    assert_eq!(
        show(&f, &demo, "main:new-name.txt"),
        lines(20, &[(2, "line 2 changed here"), (19, "line 19 changed upstream")]).trim_end()
    );
    assert_eq!(git_bytes(&bare, &["show", "main:logo.bin"]), binary(5), "an untouched binary takes the template's");
    assert_eq!(show(&f, &demo, "main:NOTES.md"), "a file of our own");
    assert!(git(&bare, &["log", "-1", "--format=%B", "main"]).starts_with("Upgrade 1 → 2"));
    assert_fsck_clean(&bare);

    // Merging again finds it done and writes nothing.
    let (into, from, conflicts) = (branch("main"), branch(TEMPLATE), branch("orchestrator/upgrade-2"));
    let again = f.host.merge(&demo, &request(&into, &from, &conflicts, &[])).await.unwrap();
    assert_eq!(again, MergeState::Merged);
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "4");
}

#[tokio::test]
async fn conflicts_are_committed_on_their_branch_with_markers_and_main_stays() {
    let v1 = files([
        file("main.go", lines(10, &[])),
        file("edited-here.txt", "v1\n"),
        file("removed-here.txt", "v1\n"),
        file("data.bin", binary(3)),
        file("clean.txt", "v1\n"),
    ]);
    let local = files([
        file("main.go", lines(10, &[(5, "line 5 changed here")])),
        file("edited-here.txt", "changed here\n"),
        file("data.bin", binary(7)),
        file("clean.txt", "v1\n"),
    ]);
    let (f, demo) = provisioned(&v1, &local).await;
    let bare = f.bare(&demo);
    let main_before = rev_parse(&bare, "main");
    let v2 = files([
        file("main.go", lines(10, &[(5, "line 5 changed upstream")])),
        file("removed-here.txt", "changed upstream\n"),
        file("data.bin", binary(9)),
        file("clean.txt", "v2\n"),
    ]);

    let state = upgrade(&f, &demo, &v2, &[]).await;

    let expected = vec![
        MergeConflict { path: "data.bin".into(), kind: ConflictKind::Binary },
        MergeConflict { path: "edited-here.txt".into(), kind: ConflictKind::RemovedUpstream },
        MergeConflict { path: "main.go".into(), kind: ConflictKind::Content },
        MergeConflict { path: "removed-here.txt".into(), kind: ConflictKind::RemovedHere },
    ];
    let MergeState::Conflicted { commit, conflicts } = state else { panic!("{state:?}") };
    assert_eq!(conflicts, expected);
    assert_eq!(rev_parse(&bare, "main"), main_before, "main is untouched");
    let side = "orchestrator/upgrade-2";
    assert_eq!(rev_parse(&bare, side), commit.0);
    assert_eq!(git(&bare, &["rev-parse", &format!("{side}^1")]), main_before);
    assert_eq!(git(&bare, &["rev-parse", &format!("{side}^2")]), rev_parse(&bare, TEMPLATE));
    let merged = show(&f, &demo, &format!("{side}:main.go"));
    assert!(
        merged.contains(
            "<<<<<<< main\nline 5 changed here\n=======\nline 5 changed upstream\n>>>>>>> orchestrator/template"
        ),
        "{merged}"
    );
    assert_eq!(show(&f, &demo, &format!("{side}:clean.txt")), "v2", "the rest merges");
    assert_eq!(show(&f, &demo, &format!("{side}:edited-here.txt")), "changed here");
    assert_eq!(show(&f, &demo, &format!("{side}:removed-here.txt")), "changed upstream");
    let message = git(&bare, &["log", "-1", "--format=%B", side]);
    assert!(message.contains("Conflict: content main.go"), "{message}");
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%(trailers:key=Conflict,valueonly)", side]),
        "binary data.bin\nremoved-upstream edited-here.txt\ncontent main.go\nremoved-here removed-here.txt",
        "git reads the conflicts as trailers"
    );
    assert_fsck_clean(&bare);

    // The state is read back from the branch, and merging again adds nothing.
    let (into, from, side_branch) = (branch("main"), branch(TEMPLATE), branch(side));
    let request = request(&into, &from, &side_branch, &[]);
    let again = MergeState::Conflicted { commit: commit.clone(), conflicts: expected };
    assert_eq!(f.host.merge_state(&demo, &request).await.unwrap(), again);
    assert_eq!(f.host.merge(&demo, &request).await.unwrap(), again);
    assert_eq!(rev_parse(&bare, side), commit.0);
}

#[tokio::test]
async fn renames_apply_to_the_base_and_main_before_merging() {
    let v1 = files([file("config/app.yaml", lines(10, &[]))]);
    let local = files([file("config/app.yaml", lines(10, &[(2, "line 2 changed here")]))]);
    let (f, demo) = provisioned(&v1, &local).await;
    // v2 moved the file and rewrote its second half: too different for rename detection to
    // pair the two, so the migration declares the rename.
    let upstream: Vec<(usize, &str)> =
        vec![(5, "5 up"), (6, "6 up"), (7, "7 up"), (8, "8 up"), (9, "9 up"), (10, "ten")];
    let v2 = files([file("deploy/app.yaml", lines(10, &upstream))]);
    let renames = [(path("config/app.yaml"), path("deploy/app.yaml"))];

    // Without the declaration, git sees a file removed upstream that was changed here.
    let (g, undeclared) = provisioned(&v1, &local).await;
    assert!(matches!(upgrade(&g, &undeclared, &v2, &[]).await, MergeState::Conflicted { .. }));

    assert_eq!(upgrade(&f, &demo, &v2, &renames).await, MergeState::Merged);
    assert_eq!(paths(&f, &demo, "main"), ["deploy/app.yaml"]);
    let mut merged = upstream.clone();
    merged.insert(0, (2, "line 2 changed here"));
    assert_eq!(show(&f, &demo, "main:deploy/app.yaml"), lines(10, &merged).trim_end());
    assert_fsck_clean(&f.bare(&demo));
}

#[tokio::test]
async fn a_preview_tells_the_merge_and_writes_nothing() {
    let v1 = files([file("a.txt", lines(5, &[])), file("b.txt", "b\n"), file("c.txt", "c\n")]);
    let local = files([file("a.txt", lines(5, &[(1, "one here")])), file("b.txt", "b here\n"), file("c.txt", "c\n")]);
    let (f, demo) = provisioned(&v1, &local).await;
    let bare = f.bare(&demo);
    let refs_before = git(&bare, &["show-ref"]);
    let objects_before = git(&bare, &["count-objects", "-v"]);
    let next =
        files([file("a.txt", lines(5, &[(5, "five upstream")])), file("b.txt", "b upstream\n"), file("d.txt", "d\n")]);

    let (into, from, side) = (branch("main"), branch(TEMPLATE), branch("orchestrator/upgrade-2"));
    let preview = f.host.preview_merge(&demo, &request(&into, &from, &side, &[]), &next).await.unwrap();

    assert_eq!(
        preview.changes,
        [
            ("a.txt".to_owned(), FileChange::Modified),
            ("b.txt".to_owned(), FileChange::Modified),
            ("c.txt".to_owned(), FileChange::Removed),
            ("d.txt".to_owned(), FileChange::Added),
        ]
    );
    assert_eq!(preview.conflicts, [MergeConflict { path: "b.txt".into(), kind: ConflictKind::Content }]);
    assert_eq!(git(&bare, &["show-ref"]), refs_before);
    assert_eq!(git(&bare, &["count-objects", "-v"]), objects_before);
}

#[tokio::test]
async fn an_unchanged_render_commits_nothing_when_asked() {
    let (f, demo) = Fixture::with_repo("demo").await;
    let v1 = files([file("a", "1")]);
    let t1 = f.commit(&demo, TEMPLATE, None, &v1, TreeMode::Replace, "v1").await.unwrap();
    let template = branch(TEMPLATE);
    let same = provision_core::ports::CommitRequest {
        branch: &template,
        parent: Some(&t1),
        files: &v1,
        mode: TreeMode::Replace,
        message: "again",
        skip_unchanged: true,
    };
    assert_eq!(f.host.commit(&demo, same).await.unwrap(), t1);
    assert_eq!(git(&f.bare(&demo), &["rev-list", "--count", TEMPLATE]), "1");
    let changed = provision_core::ports::CommitRequest { files: &files([file("a", "2")]), ..same };
    assert_ne!(f.host.commit(&demo, changed).await.unwrap(), t1);
}

#[tokio::test]
async fn a_second_merge_starts_from_the_render_the_first_one_brought() {
    let v1 = files([file("app.go", lines(12, &[]))]);
    let local = files([file("app.go", lines(12, &[(1, "one here")]))]);
    let (f, demo) = provisioned(&v1, &local).await;
    let v2 = files([file("app.go", lines(12, &[(12, "twelve in v2")]))]);
    assert_eq!(upgrade(&f, &demo, &v2, &[]).await, MergeState::Merged);
    // After v2 the team rewrites the line v2 changed; v3 changes another one. From v1's
    // render line 12 would conflict (v1, ours, v3 all differ); from v2's it is ours.
    let main = f.host.branch_tip(&demo, &branch("main")).await.unwrap();
    let ours = files([file("app.go", lines(12, &[(1, "one here"), (12, "twelve here")]))]);
    f.commit(&demo, "main", main.as_ref(), &ours, TreeMode::Replace, "More local changes").await.unwrap();
    let v3 = files([file("app.go", lines(12, &[(6, "six in v3"), (12, "twelve in v2")]))]);

    assert_eq!(upgrade(&f, &demo, &v3, &[]).await, MergeState::Merged);
    assert_eq!(
        show(&f, &demo, "main:app.go"),
        lines(12, &[(1, "one here"), (6, "six in v3"), (12, "twelve here")]).trim_end()
    );
    let bare = f.bare(&demo);
    assert_eq!(git(&bare, &["merge-base", "main^1", "main^2"]), git(&bare, &["rev-parse", &format!("{TEMPLATE}^")]));
    assert_fsck_clean(&bare);
}
