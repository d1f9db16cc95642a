//! Putting a commit's new objects on disk: loose when there are few, one pack when many; and
//! merging a repository's packs into one when they pile up.
//!
//! A commit is built in gix's object memory (nothing touches the disk until it is complete),
//! then persisted in one go. Creating a file costs far more than hashing or compressing a
//! small object, so a thousand loose objects take hundreds of milliseconds where one pack
//! takes a few. Like `git receive-pack` (`transfer.unpackLimit`), small batches stay loose so
//! a repository does not collect a pack per tiny commit.

use crate::pack;
use gix::odb::memory::Storage;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Below this many new objects they are written loose. One pack is two files however many
/// objects it holds, while each loose object is a file (and often a directory): on disks
/// where creating a file costs a third of a millisecond, packing wins from two objects on.
pub(crate) const PACK_THRESHOLD: usize = 2;

/// Writes `objects` into the repository's object database. They are new to it: gix's object
/// memory only holds objects the database did not have.
///
/// Until a branch points at them they are unreachable, like any objects a crash leaves between
/// writing and moving the branch: `git gc` keeps unreachable objects for its prune period and
/// then removes them, so nothing is pinned forever (no `.keep` file marks the pack).
pub(crate) fn persist(repo: &gix::Repository, objects: Storage) -> Result<(), gix::Error> {
    if objects.len() < PACK_THRESHOLD {
        for (kind, data) in objects.values() {
            gix::objs::Write::write_buf(&repo.objects, *kind, data)?;
        }
        return Ok(());
    }
    write_pack(repo, &objects).map(drop)
}

/// How many packs a repository collects before [`consolidate`] merges them into one. A shared
/// repository (the GitOps one) gets a pack per registration, and every lookup of an object it
/// lacks visits every pack: git merges them at 50 (`gc.autoPackLimit`).
pub(crate) const PACK_LIMIT: usize = 32;

/// Merges every pack of the repository into one if there are more than [`PACK_LIMIT`];
/// returns how many it merged (0 if it did not).
///
/// Guarantees: no object is ever missing. The new pack, holding every object of the packs
/// listed, is in place before any of them is removed, and a pack written meanwhile by another
/// writer is not listed, so it stays. Readers that still map a removed pack keep reading it
/// (the file lives until they unmap it); readers that did not know the new pack find it when
/// they miss an object, as they find any new pack.
pub(crate) fn consolidate(repo: &gix::Repository) -> Result<usize, gix::Error> {
    use gix::error::ResultExt;
    let dir = repo.git_dir().join("objects").join("pack");
    let listing = || gix::error::message("cannot list the packs");
    let mut files = std::collections::HashSet::new();
    for entry in std::fs::read_dir(&dir).or_raise(listing)? {
        files.insert(entry.or_raise(listing)?.path());
    }
    // A pack another tool marked to keep stays as it is.
    let mut indices: Vec<_> = files
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "idx") && !files.contains(&path.with_extension("keep")))
        .cloned()
        .collect();
    indices.sort();
    if indices.len() <= PACK_LIMIT {
        return Ok(0);
    }
    let mut objects = Storage::default();
    for index in &indices {
        let file = gix_pack::index::File::at(index, repo.object_hash())?;
        for entry in file.iter() {
            if objects.contains_key(&entry.oid) {
                continue;
            }
            let object = repo.find_object(entry.oid)?;
            objects.insert(entry.oid, (object.kind, object.data.clone()));
        }
    }
    let written = write_pack(repo, &objects)?;
    for index in &indices {
        // The merged pack of objects that were all in one pack already is that very pack.
        if written == *index {
            continue;
        }
        // The index first: git ignores a pack without one, but not an index without its pack.
        for path in [index.clone(), index.with_extension("pack")] {
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "could not remove a merged pack");
            }
        }
    }
    tracing::debug!(repo = %repo.git_dir().display(), packs = indices.len(), objects = objects.len(), "merged packs");
    Ok(indices.len())
}

/// The name prefix of the temporary files [`write_pack`] writes a pack and its index to
/// before renaming them into place.
const PACK_TEMPORARY: &str = ".tmp-pack-";

/// The name prefix of the temporary files gix writes a loose object to (in `objects/`, the
/// `tempfile` crate's default) before renaming it into place.
const LOOSE_TEMPORARY: &str = ".tmp";

/// How long a temporary file of the object database may stay untouched before it counts as
/// left by a writer that died.
///
/// A writer creates such a file, fills it and renames it into place in one go: everything is
/// encoded in memory first, so the file lives for milliseconds, and its modification time
/// moves while it is written. A file nobody touched for this long has no writer left (one
/// killed, or a machine that lost power): a live writer, in this process or another, is never
/// that slow. Ten minutes also leaves a process paused by a debugger or a swapping machine
/// its file.
pub(crate) const STALE_TEMPORARY: Duration = Duration::from_secs(10 * 60);

/// Removes the temporary files that writers which died left in the object database of the
/// repository at `git_dir`: files whose names start with [`PACK_TEMPORARY`] in
/// `objects/pack/` (this crate's packs) or with [`LOOSE_TEMPORARY`] in `objects/` (gix's
/// loose objects), last modified more than [`STALE_TEMPORARY`] before `now`. Returns how
/// many it removed.
///
/// Only those can be removed safely: a newer one may belong to a writer at work right now,
/// in this process or another, and it is left alone. Git's own temporary files (`tmp_pack_*`,
/// `tmp_obj_*`, a repack's `.tmp-<pid>-pack-*`) are not ours: `git gc` and `git prune`
/// remove them by their own rules. Best effort: what cannot be read or removed is logged and
/// skipped; nothing an object lookup needs is ever touched.
pub(crate) fn sweep_temporaries(git_dir: &Path, now: SystemTime) -> usize {
    let objects = git_dir.join("objects");
    let mut removed = 0;
    for (dir, prefix) in [(objects.join("pack"), PACK_TEMPORARY), (objects, LOOSE_TEMPORARY)] {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot look for temporary files left by dead writers");
                continue;
            }
        };
        for entry in entries.flatten() {
            if !entry.file_name().to_str().is_some_and(|name| name.starts_with(prefix)) {
                continue;
            }
            // A directory or a link of that name is nobody's temporary object.
            let Ok(metadata) = entry.metadata() else { continue };
            let untouched = metadata.modified().ok().and_then(|modified| now.duration_since(modified).ok());
            if !metadata.is_file() || untouched.is_none_or(|age| age <= STALE_TEMPORARY) {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    removed += 1;
                    tracing::warn!(path = %entry.path().display(), bytes = metadata.len(), "removed a temporary file left by a writer that died");
                }
                // Another sweeper got there first.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(path = %entry.path().display(), %error, "cannot remove a temporary file left by a dead writer");
                }
            }
        }
    }
    removed
}

/// Writes `objects` as one pack and its index (see [`crate::pack`]); returns the index's path.
///
/// Both are written to temporary files and renamed into place, the pack first (git ignores a
/// pack without its index). Read-only, as git makes them. A pack of the very same objects that
/// is there already is that pack: nothing is written.
fn write_pack(repo: &gix::Repository, objects: &Storage) -> Result<std::path::PathBuf, gix::Error> {
    use gix::error::ResultExt;
    let objects = objects.iter().map(|(id, (kind, data))| (*id, *kind, data.as_slice())).collect();
    let encoded = pack::encode(repo.object_hash(), objects)?;
    let dir = repo.git_dir().join("objects").join("pack");
    let name = format!("pack-{}", encoded.checksum.to_hex());
    let index = dir.join(format!("{name}.idx"));
    if index.exists() {
        return Ok(index);
    }
    let writing = || gix::error::message("cannot write a pack");
    for (bytes, path) in [(&encoded.pack, dir.join(format!("{name}.pack"))), (&encoded.index, index.clone())] {
        let mut file = tempfile::Builder::new().prefix(PACK_TEMPORARY).tempfile_in(&dir).or_raise(writing)?;
        std::io::Write::write_all(&mut file, bytes).or_raise(writing)?;
        read_only(file.as_file()).or_raise(writing)?;
        file.persist(&path).map_err(|e| e.error).or_raise(writing)?;
    }
    Ok(index)
}

#[cfg(unix)]
fn read_only(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o444))
}

#[cfg(not(unix))]
fn read_only(file: &std::fs::File) -> std::io::Result<()> {
    let mut permissions = file.metadata()?.permissions();
    permissions.set_readonly(true);
    file.set_permissions(permissions)
}
