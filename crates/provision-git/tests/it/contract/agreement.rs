//! The fake and gix side by side: the same merge scenarios on both, everything they answer and
//! leave behind compared — the preview, the merge's state and conflicts, the files of the
//! branch it wrote, main afterwards — including git's exact conflict markers. Each scenario
//! also states the conflicts gix has, so its name is a checked claim. The contract tests say
//! what both must do; this holds the fake to gix in the corners (adjacent edits, add/add,
//! renames both ways, file/directory clashes).
//!
//! Deliberately absent: diffs that are ambiguous (repeated lines, where the fake's longest
//! common subsequence may align hunks differently from git's diff, so markers can differ).

use super::{CONFLICTS, Host, TEMPLATE, Upgrade, binary, commit, lines, tree};
use crate::support::{exe, file, files, path, repo};
use provision_core::ports::{ConflictKind, GitHost, MergeConflict, MergePreview, MergeState};
use provision_core::{FileSet, RepoPath, TreeMode};
use std::collections::HashSet;

/// A merge of `theirs` into `ours`, both made from `base`, and the conflicts it has (none: it
/// merges cleanly).
struct Scenario {
    name: &'static str,
    conflicts: &'static [(&'static str, ConflictKind)],
    base: FileSet,
    ours: FileSet,
    theirs: FileSet,
    renames: Vec<(RepoPath, RepoPath)>,
}

fn scenario(
    name: &'static str,
    conflicts: &'static [(&'static str, ConflictKind)],
    base: FileSet,
    ours: FileSet,
    theirs: FileSet,
) -> Scenario {
    Scenario { name, conflicts, base, ours, theirs, renames: vec![] }
}

/// What one implementation made of a scenario.
#[derive(Debug, PartialEq)]
struct Outcome {
    preview: MergePreview,
    /// `None` for a clean merge.
    conflicts: Option<Vec<MergeConflict>>,
    /// The branch the merge wrote: main, or the conflict branch.
    written: FileSet,
    main: FileSet,
}

async fn outcome(host: &dyn GitHost, s: &Scenario) -> Outcome {
    let demo = repo("demo");
    host.create_repo(&demo, "a demo").await.unwrap();
    let t1 = commit(host, &demo, TEMPLATE, None, &s.base, TreeMode::Replace, "base").await.unwrap();
    host.create_branch(&demo, &crate::support::branch("main"), &t1).await.unwrap();
    commit(host, &demo, "main", Some(&t1), &s.ours, TreeMode::Replace, "ours").await.unwrap();
    let upgrade = Upgrade::new();
    let request = upgrade.request(&s.renames);
    let preview = host.preview_merge(&demo, &request, &s.theirs).await.unwrap();
    commit(host, &demo, TEMPLATE, Some(&t1), &s.theirs, TreeMode::Replace, "theirs").await.unwrap();
    let (conflicts, written) = match host.merge(&demo, &request).await.unwrap() {
        MergeState::Merged => (None, tree(host, &demo, "main").await),
        MergeState::Conflicted { conflicts, .. } => (Some(conflicts), tree(host, &demo, CONFLICTS).await),
        MergeState::Pending => panic!("{}: a merge answers Merged or Conflicted", s.name),
    };
    Outcome { preview, conflicts, written, main: tree(host, &demo, "main").await }
}

fn scenarios() -> Vec<Scenario> {
    use ConflictKind::*;
    let ten = || files([file("a", lines(10, &[]))]);
    let edit = |at: usize, line: &'static str| files([file("a", lines(10, &[(at, line)]))]);
    let moved = |p: &str, edits: &[(usize, &str)]| files([file(p, lines(10, edits)), file("z", "z\n")]);
    let half_changed = [(6, "6"), (7, "7"), (8, "8"), (9, "9"), (10, "10")];
    vec![
        scenario("edits two lines apart merge", &[], ten(), edit(2, "two here"), edit(4, "four upstream")),
        scenario("edits of adjacent lines conflict", &[("a", Content)], ten(), edit(3, "three here"), edit(4, "four")),
        scenario("the same edit on both sides merges", &[], ten(), edit(3, "same"), edit(3, "same")),
        scenario(
            "an edit of the line after an insertion conflicts",
            &[("a", Content)],
            ten(),
            edit(3, "line 3\ninserted here"),
            edit(4, "four upstream"),
        ),
        scenario(
            "an edit of the line before an insertion conflicts",
            &[("a", Content)],
            ten(),
            edit(3, "line 3\ninserted here"),
            edit(3, "three upstream"),
        ),
        scenario(
            "only the conflicting hunks of a file get markers",
            &[("a", Content)],
            files([file("a", lines(12, &[]))]),
            files([file("a", lines(12, &[(2, "two here"), (8, "eight here")]))]),
            files([file("a", lines(12, &[(2, "two upstream"), (11, "eleven upstream")]))]),
        ),
        scenario(
            "lines common to both sides stay outside the markers",
            &[("a", Content)],
            ten(),
            files([file("a", lines(10, &[(3, "same"), (4, "four here")]))]),
            files([file("a", lines(10, &[(3, "same"), (4, "four upstream")]))]),
        ),
        scenario(
            "sides without a final newline get one before the markers",
            &[("a", Content)],
            files([file("a", "1\n2\n3")]),
            files([file("a", "1\n2\nthree here")]),
            files([file("a", "1\n2\nthree upstream")]),
        ),
        scenario(
            "a final newline removed upstream merges",
            &[],
            files([file("a", "1\n2\n3\n")]),
            files([file("a", "one\n2\n3\n")]),
            files([file("a", "1\n2\n3")]),
        ),
        scenario(
            "a file added on both sides conflicts",
            &[("a", Content)],
            files([file("z", "z\n")]),
            files([file("z", "z\n"), file("a", "ours\ncommon\n")]),
            files([file("z", "z\n"), file("a", "theirs\ncommon\n")]),
        ),
        scenario(
            "a file added identically on both sides merges",
            &[],
            files([file("z", "z\n")]),
            files([file("z", "z\n"), file("a", "same\n")]),
            files([file("z", "z\n"), file("a", "same\n")]),
        ),
        scenario(
            "a binary changed on both sides stays as it is here",
            &[("a", Binary)],
            files([file("a", binary(3))]),
            files([file("a", binary(5))]),
            files([file("a", binary(7))]),
        ),
        scenario(
            "a binary here against text upstream stays binary",
            &[("a", Binary)],
            files([file("a", "text\n")]),
            files([file("a", binary(5))]),
            files([file("a", "text upstream\n")]),
        ),
        scenario(
            "text edited here against a binary upstream stays as it is here, named binary",
            &[("a", Binary)],
            files([file("a", "text\n")]),
            files([file("a", "text here\n")]),
            files([file("a", binary(5))]),
        ),
        scenario(
            "a binary changed upstream only arrives",
            &[],
            files([file("a", binary(3))]),
            files([file("a", binary(3)), file("b", "b\n")]),
            files([file("a", binary(7))]),
        ),
        scenario(
            "a mode changed upstream merges with an edit here",
            &[],
            ten(),
            edit(2, "two"),
            files([exe("a", lines(10, &[]))]),
        ),
        scenario(
            "a mode changed here stays through conflicting edits",
            &[("a", Content)],
            files([file("a", "a\n")]),
            files([exe("a", "a here\n")]),
            files([file("a", "a upstream\n")]),
        ),
        scenario(
            "a file removed upstream and untouched here goes",
            &[],
            files([file("a", "a\n"), file("b", "b\n")]),
            files([file("a", "a\n"), file("b", "b\n")]),
            files([file("a", "a\n")]),
        ),
        scenario(
            "a file removed on both sides goes",
            &[],
            files([file("a", "a\n"), file("b", "b\n")]),
            files([file("a", "a\n")]),
            files([file("a", "a\n")]),
        ),
        scenario(
            "a file removed here and changed upstream comes back",
            &[("b", RemovedHere)],
            files([file("a", "a\n"), file("b", "b\n")]),
            files([file("a", "a\n")]),
            files([file("a", "a\n"), file("b", "b upstream\n")]),
        ),
        scenario(
            "a file added here where upstream adds a directory is moved aside",
            &[("a", Tree)],
            files([file("z", "z\n")]),
            files([file("z", "z\n"), file("a", "a\n")]),
            files([file("z", "z\n"), file("a/c", "c\n")]),
        ),
        scenario(
            "a file added upstream where here is a directory is moved aside",
            &[("a", Tree)],
            files([file("z", "z\n")]),
            files([file("z", "z\n"), file("a/c", "c\n")]),
            files([file("z", "z\n"), file("a", "a\n")]),
        ),
        scenario(
            "a file edited here that upstream turned into a directory is moved aside",
            &[("a", Tree)],
            files([file("a", "a\n")]),
            files([file("a", "a here\n")]),
            files([file("a/c", "c\n")]),
        ),
        scenario(
            "a file upstream turned into a directory goes when untouched here",
            &[],
            files([file("a", "a\n"), file("z", "z\n")]),
            files([file("a", "a\n"), file("z", "z here\n")]),
            files([file("a/c", "c\n"), file("z", "z\n")]),
        ),
        scenario(
            "a file renamed upstream takes the edit made here",
            &[],
            moved("old", &[]),
            moved("old", &[(2, "two here")]),
            moved("new", &[]),
        ),
        scenario(
            "a file renamed here takes the edit made upstream",
            &[],
            moved("old", &[]),
            moved("new", &[]),
            moved("old", &[(9, "nine upstream")]),
        ),
        scenario(
            "a rename upstream with a few lines changed is still found",
            &[],
            moved("old", &[]),
            moved("old", &[(2, "two here")]),
            moved("new", &[(7, "7"), (8, "8"), (9, "9"), (10, "10")]),
        ),
        scenario(
            "a rename upstream with half the lines changed is a removal and an addition",
            &[("old", RemovedUpstream)],
            moved("old", &[]),
            moved("old", &[(2, "two here")]),
            moved("new", &half_changed),
        ),
        scenario(
            "a file renamed to one place on both sides merges there",
            &[],
            moved("old", &[]),
            moved("new", &[(1, "one")]),
            moved("new", &[(9, "nine")]),
        ),
        scenario(
            "a file renamed to two places is a tree conflict",
            &[("ours", Tree)],
            moved("old", &[]),
            moved("ours", &[]),
            moved("theirs", &[]),
        ),
        scenario(
            "a file renamed upstream and removed here is a tree conflict",
            &[("old", Tree)],
            moved("old", &[]),
            files([file("z", "z\n")]),
            moved("new", &[]),
        ),
        scenario(
            "a file renamed here and removed upstream is a tree conflict",
            &[("new", Tree)],
            moved("old", &[]),
            moved("new", &[(1, "x")]),
            files([file("z", "z\n")]),
        ),
        scenario(
            "a rename upstream onto a file added here is a conflict of two added files",
            &[("new", Content)],
            moved("old", &[]),
            files([file("old", lines(10, &[])), file("new", "mine\n"), file("z", "z\n")]),
            moved("new", &[]),
        ),
        scenario(
            "an exact rename pairs with the file removed",
            &[],
            files([file("a1", "same\n"), file("a2", "same\n")]),
            files([file("a1", "same here\n"), file("a2", "same\n")]),
            files([file("b1", "same\n"), file("a2", "same\n")]),
        ),
        scenario(
            "an empty file is never taken for renamed",
            &[("old", RemovedUpstream)],
            files([file("old", "")]),
            files([file("old", "x here\n")]),
            files([file("new", "")]),
        ),
        Scenario {
            name: "a declared rename moves the edit made here",
            conflicts: &[],
            base: moved("c/app", &[]),
            ours: moved("c/app", &[(2, "two here")]),
            theirs: moved("d/app", &half_changed),
            renames: vec![(path("c/app"), path("d/app"))],
        },
    ]
}

#[tokio::test]
async fn the_fake_merges_every_scenario_as_gix_does() {
    let mut disagreements = Vec::new();
    // The table must hold clean merges and every kind of conflict, or agreeing on it would
    // prove little.
    let (mut clean, mut kinds) = (0, HashSet::new());
    for s in scenarios() {
        let (gix, memory) = (Host::gix(), Host::memory());
        let (real, fake) = (outcome(&*gix, &s).await, outcome(&*memory, &s).await);
        let expected: Vec<MergeConflict> =
            s.conflicts.iter().map(|&(path, kind)| MergeConflict { path: path.into(), kind }).collect();
        assert_eq!(real.conflicts.clone().unwrap_or_default(), expected, "{}: gix's conflicts", s.name);
        if expected.is_empty() {
            clean += 1;
        }
        kinds.extend(expected.iter().map(|c| c.kind));
        if real != fake {
            disagreements.push(format!("{}:\n  gix:  {real:?}\n  fake: {fake:?}", s.name));
        }
    }
    assert!(disagreements.is_empty(), "the fake disagrees with gix:\n{}", disagreements.join("\n"));
    assert!(clean >= 10, "only {clean} scenarios merge cleanly");
    use ConflictKind::*;
    assert_eq!(
        kinds,
        HashSet::from([Content, Binary, RemovedUpstream, RemovedHere, Tree]),
        "every kind of conflict occurs"
    );
}
