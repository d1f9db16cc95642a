//! Merging one branch into another (the template branch into main): real 3-way merges by gix,
//! with git's rename detection and conflict markers; a merge with conflicts is committed on a
//! side branch so the branch merged into never holds markers.
//!
//! Where a merge stands is read from the branches alone: merged when the merged-into branch's
//! history holds the other's tip, conflicted when the conflict branch's tip is the merge of
//! both current tips. So a merge interrupted at any point is either done or still to do, and
//! doing it again finds it done.

use crate::Signature;
use crate::error::Error;
use crate::objects;
use crate::repo::{Location, Moved, actor, commit_id, describe, merge_packs, move_branch, tip};
use gix::ObjectId;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::merge::tree::TreatAsUnresolved;
use gix::refs::Target;
use gix::refs::transaction::PreviousValue;
use provision_core::ports::{ConflictKind, FileChange, MergeConflict, MergePreview, MergeState};
use provision_core::{BranchName, FileSet, RepoPath};
use std::collections::BTreeMap;

/// What to merge, owned so it can cross into a blocking task.
pub(crate) struct MergeSpec {
    pub into: BranchName,
    pub from: BranchName,
    pub conflict_branch: BranchName,
    pub message: String,
    pub renames: Vec<(RepoPath, RepoPath)>,
}

/// The tips of both branches; a missing one is an error naming it.
fn tips(repo: &gix::Repository, at: &Location<'_>, spec: &MergeSpec) -> Result<(ObjectId, ObjectId), Error> {
    let missing = |branch: &BranchName| Error::BranchNotFound { repo: at.name.clone(), branch: branch.clone() };
    let into = tip(repo, at, &spec.into)?.ok_or_else(|| missing(&spec.into))?;
    let from = tip(repo, at, &spec.from)?.ok_or_else(|| missing(&spec.from))?;
    Ok((into, from))
}

/// Where merging `spec.from` into `spec.into` stands.
pub(crate) fn state(at: &Location<'_>, spec: &MergeSpec) -> Result<MergeState, Error> {
    let repo = at.open()?;
    let (Some(into), Some(from)) = (tip(&repo, at, &spec.into)?, tip(&repo, at, &spec.from)?) else {
        return Ok(MergeState::Pending);
    };
    state_of(&repo, at, spec, into, from)
}

fn state_of(
    repo: &gix::Repository,
    at: &Location<'_>,
    spec: &MergeSpec,
    into: ObjectId,
    from: ObjectId,
) -> Result<MergeState, Error> {
    if merge_base(repo, at, spec, into, from)? == Some(from) {
        return Ok(MergeState::Merged);
    }
    let Some(conflicted) = tip(repo, at, &spec.conflict_branch)? else { return Ok(MergeState::Pending) };
    let reading = || at.git(format!("reading branch {}", spec.conflict_branch));
    let commit = repo.find_commit(conflicted).map_err(reading())?;
    let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
    if parents != [into, from] {
        return Ok(MergeState::Pending);
    }
    let message = commit.message_raw().map_err(reading())?.to_str_lossy().into_owned();
    Ok(MergeState::Conflicted { commit: commit_id(conflicted), conflicts: MergeConflict::from_message(&message) })
}

fn merge_base(
    repo: &gix::Repository,
    at: &Location<'_>,
    spec: &MergeSpec,
    into: ObjectId,
    from: ObjectId,
) -> Result<Option<ObjectId>, Error> {
    let base =
        repo.merge_base(into, from).map_err(at.git(format!("finding where {} and {} meet", spec.into, spec.from)))?;
    Ok(base.map(|id| id.detach()))
}

/// The merge of `theirs` (a tree) into `into`, its base being where `into` and `from` meet.
struct Merged {
    tree: ObjectId,
    conflicts: Vec<MergeConflict>,
}

fn merge_trees(
    repo: &gix::Repository,
    at: &Location<'_>,
    spec: &MergeSpec,
    (into, from): (ObjectId, ObjectId),
    theirs: ObjectId,
) -> Result<Merged, Error> {
    let Some(base) = merge_base(repo, at, spec, into, from)? else {
        return Err(Error::UnrelatedBranches {
            repo: at.name.clone(),
            into: spec.into.clone(),
            from: spec.from.clone(),
        });
    };
    let tree_of = |id: ObjectId| -> Result<ObjectId, Error> {
        let reading = || at.git(format!("reading commit {id}"));
        Ok(repo.find_commit(id).map_err(reading())?.tree_id().map_err(reading())?.detach())
    };
    let base = renamed(repo, at, tree_of(base)?, &spec.renames)?;
    let ours = renamed(repo, at, tree_of(into)?, &spec.renames)?;
    let merging = || at.git(format!("merging {} into {}", spec.from, spec.into));
    let options = repo.tree_merge_options().map_err(merging())?;
    let labels = gix::merge::blob::builtin_driver::text::Labels {
        ancestor: Some(BStr::new("base")),
        current: Some(spec.into.as_str().into()),
        other: Some(spec.from.as_str().into()),
    };
    let mut outcome = repo.merge_trees(base, ours, theirs, labels, options).map_err(merging())?;
    let mut conflicts = Vec::new();
    for conflict in outcome.conflicts.iter().filter(|c| c.is_unresolved(TreatAsUnresolved::git())) {
        conflicts.push(describe_conflict(repo, conflict));
    }
    conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    conflicts.dedup();
    let tree = outcome.tree.write().map_err(merging())?.detach();
    Ok(Merged { tree, conflicts })
}

/// A conflict as a file and a kind people understand.
fn describe_conflict(repo: &gix::Repository, conflict: &gix::merge::tree::Conflict) -> MergeConflict {
    use gix::merge::tree::{Resolution, ResolutionFailure};
    let path = conflict.ours.location().to_str_lossy().into_owned();
    // The resolution names the sides in its own order; whether that is ours-then-theirs
    // says who removed the file.
    let (first, _) = conflict.changes_in_resolution();
    let ours_first = std::ptr::eq(first, &conflict.ours);
    let kind = match &conflict.resolution {
        Err(ResolutionFailure::OursModifiedTheirsDeleted) => {
            if ours_first {
                ConflictKind::RemovedUpstream
            } else {
                ConflictKind::RemovedHere
            }
        }
        Ok(Resolution::OursModifiedTheirsModifiedThenBlobContentMerge { merged_blob }) => {
            // As git decides: binary when either side is (the merge then keeps ours as it is,
            // so the merged blob alone could look like text).
            let is_binary = |id: &gix::oid| {
                repo.find_blob(id).map(|blob| blob.data.iter().take(8000).any(|&b| b == 0)).unwrap_or(false)
            };
            let binary = [
                merged_blob.merged_blob_id.as_ref(),
                conflict.ours.entry_mode_and_id().1,
                conflict.theirs.entry_mode_and_id().1,
            ]
            .into_iter()
            .any(is_binary);
            if binary { ConflictKind::Binary } else { ConflictKind::Content }
        }
        _ => ConflictKind::Tree,
    };
    MergeConflict { path, kind }
}

/// `tree` with every `(old, new)` of `renames` whose old path is a file there moved to the new path.
fn renamed(
    repo: &gix::Repository,
    at: &Location<'_>,
    tree: ObjectId,
    renames: &[(RepoPath, RepoPath)],
) -> Result<ObjectId, Error> {
    if renames.is_empty() {
        return Ok(tree);
    }
    let renaming = || at.git("applying a migration's renames");
    let root = repo.find_tree(tree).map_err(renaming())?;
    let mut editor = repo.edit_tree(tree).map_err(renaming())?;
    for (old, new) in renames {
        let Some(entry) = root.lookup_entry(old.as_str().split('/')).map_err(renaming())? else { continue };
        if !entry.mode().is_blob() {
            continue;
        }
        let kind = entry.mode().kind();
        let id = entry.object_id();
        editor.remove(old.as_str()).map_err(renaming())?;
        editor.upsert(new.as_str(), kind, id).map_err(renaming())?;
    }
    Ok(editor.write().map_err(renaming())?.detach())
}

/// Merges `spec.from` into `spec.into`, unless that is done already (see [`state`]).
pub(crate) fn merge(at: &Location<'_>, signature: &Signature, spec: &MergeSpec) -> Result<MergeState, Error> {
    let mut repo = at.open_for_writing()?.with_object_memory();
    let (into, from) = tips(&repo, at, spec)?;
    match state_of(&repo, at, spec, into, from)? {
        MergeState::Pending => {}
        done => return Ok(done),
    }
    let theirs = {
        let reading = || at.git(format!("reading branch {}", spec.from));
        repo.find_commit(from).map_err(reading())?.tree_id().map_err(reading())?.detach()
    };
    let merged = merge_trees(&repo, at, spec, (into, from), theirs)?;

    let mut message = spec.message.trim_end().to_owned();
    for conflict in &merged.conflicts {
        message.push('\n');
        message.push_str(&conflict.trailer());
    }
    message.push('\n');
    let actor = actor(signature);
    let commit = gix::objs::Commit {
        tree: merged.tree,
        parents: [into, from].into_iter().collect(),
        author: actor.clone(),
        committer: actor,
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    let writing = || at.git(format!("writing the merge of {} into {}", spec.from, spec.into));
    let id = repo.write_object(&commit).map_err(writing())?.detach();
    let objects = repo.objects.take_object_memory().unwrap_or_default();
    objects::persist(&repo, objects).map_err(writing())?;

    // A clean merge moves the branch merged into; one with conflicts moves only the conflict
    // branch, from wherever it was (an older attempt's merge is superseded).
    let (branch, expected) = if merged.conflicts.is_empty() {
        (&spec.into, PreviousValue::MustExistAndMatch(Target::Object(into)))
    } else {
        let expected = match tip(&repo, at, &spec.conflict_branch)? {
            Some(old) => PreviousValue::MustExistAndMatch(Target::Object(old)),
            None => PreviousValue::MustNotExist,
        };
        (&spec.conflict_branch, expected)
    };
    let log: BString =
        format!("merge {}: {}", spec.from, if merged.conflicts.is_empty() { "clean" } else { "conflicts" }).into();
    move_branch(&repo, at, branch, expected, id, log, &commit.committer).map_err(|e| match e {
        Moved::Conflict { actual } => {
            Error::BranchMoved { repo: at.name.clone(), branch: branch.clone(), expected: describe(Some(into)), actual }
        }
        Moved::Failed(e) => e,
    })?;
    merge_packs(&repo, at);
    tracing::debug!(repo = %at.name, into = %spec.into, from = %spec.from, commit = %id, conflicts = merged.conflicts.len(), "merged");
    Ok(if merged.conflicts.is_empty() {
        MergeState::Merged
    } else {
        MergeState::Conflicted { commit: commit_id(id), conflicts: merged.conflicts }
    })
}

/// What [`merge`] would do if `spec.from`'s next tip held exactly `files`; writes nothing.
pub(crate) fn preview(at: &Location<'_>, spec: &MergeSpec, files: &FileSet) -> Result<MergePreview, Error> {
    // Everything written here stays in memory and is dropped.
    let repo = at.open()?.with_object_memory();
    let (into, from) = tips(&repo, at, spec)?;
    let writing = || at.git("building the tree of the preview");
    let theirs = crate::repo::write_tree(&repo, files).map_err(writing())?;
    let merged = merge_trees(&repo, at, spec, (into, from), theirs)?;
    let ours = {
        let reading = || at.git(format!("reading branch {}", spec.into));
        repo.find_commit(into).map_err(reading())?.tree_id().map_err(reading())?.detach()
    };
    let (before, after) = (flatten(&repo, at, ours)?, flatten(&repo, at, merged.tree)?);
    let mut changes = Vec::new();
    for (path, entry) in &after {
        match before.get(path) {
            None => changes.push((path.clone(), FileChange::Added)),
            Some(old) if old != entry => changes.push((path.clone(), FileChange::Modified)),
            Some(_) => {}
        }
    }
    changes.extend(before.keys().filter(|p| !after.contains_key(*p)).map(|p| (p.clone(), FileChange::Removed)));
    changes.sort();
    let content = |side: &BTreeMap<String, (gix::objs::tree::EntryMode, ObjectId)>, path: &str| {
        side.get(path)
            .map(|(_, id)| {
                let reading = || at.git(format!("reading file {path}"));
                repo.find_object(*id).map(|o| o.detach().data).map_err(reading())
            })
            .transpose()
    };
    let mut contents = BTreeMap::new();
    for (path, _) in &changes {
        contents.insert(path.clone(), (content(&before, path)?, content(&after, path)?));
    }
    Ok(MergePreview { changes, conflicts: merged.conflicts, contents })
}

/// Every non-tree entry of `tree` by path: its mode and id.
fn flatten(
    repo: &gix::Repository,
    at: &Location<'_>,
    tree: ObjectId,
) -> Result<BTreeMap<String, (gix::objs::tree::EntryMode, ObjectId)>, Error> {
    let reading = || at.git("reading a tree");
    let mut out = BTreeMap::new();
    let mut pending = vec![(String::new(), tree)];
    while let Some((prefix, id)) = pending.pop() {
        let tree = repo.find_tree(id).map_err(reading())?;
        for entry in tree.decode().map_err(reading())?.entries {
            let name = entry.filename.to_str_lossy();
            let path = if prefix.is_empty() { name.into_owned() } else { format!("{prefix}/{name}") };
            if entry.mode.is_tree() {
                pending.push((path, entry.oid.to_owned()));
            } else {
                out.insert(path, (entry.mode, entry.oid.to_owned()));
            }
        }
    }
    Ok(out)
}
