//! Putting a commit's new objects on disk: loose when there are few, one pack when many; and
//! merging a repository's packs into one when they pile up.
//!
//! A commit is built in gix's object memory (nothing touches the disk until it is complete),
//! then persisted in one go. Creating a file costs far more than hashing or compressing a
//! small object, so a thousand loose objects take hundreds of milliseconds where one pack
//! takes a few. Like `git receive-pack` (`transfer.unpackLimit`), small batches stay loose so
//! a repository does not collect a pack per tiny commit.

use gix::odb::memory::Storage;
use gix::zlib::stream::deflate::{Compress, FlushCompress};
use gix::zlib::{Compression, Status};
use gix_pack::data::output;
use std::sync::atomic::AtomicBool;

/// Below this many new objects they are written loose. One pack is two files however many
/// objects it holds, while each loose object is a file (and often a directory): on disks
/// where creating a file costs a third of a millisecond, packing wins from two objects on.
pub(crate) const PACK_THRESHOLD: usize = 2;

/// Writes `objects` into the repository's object database. They are new to it: gix's object
/// memory only holds objects the database did not have.
///
/// Until a branch points at them they are unreachable, like any objects a crash leaves between
/// writing and moving the branch: `git gc` keeps unreachable objects for its prune period and
/// then removes them, so nothing is pinned forever (no `.keep` file stays behind).
pub(crate) fn persist(repo: &gix::Repository, objects: Storage) -> Result<(), gix::Error> {
    if objects.len() < PACK_THRESHOLD {
        for (kind, data) in objects.values() {
            gix::objs::Write::write_buf(&repo.objects, *kind, data)?;
        }
        return Ok(());
    }
    write_pack(repo, &objects).map(|_| ())
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
    let mut indices = Vec::new();
    for entry in std::fs::read_dir(&dir).or_raise(listing)? {
        let path = entry.or_raise(listing)?.path();
        // A pack another tool marked to keep stays as it is.
        if path.extension().is_some_and(|e| e == "idx") && !path.with_extension("keep").exists() {
            indices.push(path);
        }
    }
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
        if written.as_deref() == Some(index.as_path()) {
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

/// Writes `objects` as one pack and its index; returns the index's path.
fn write_pack(repo: &gix::Repository, objects: &Storage) -> Result<Option<std::path::PathBuf>, gix::Error> {
    use gix::error::ResultExt;
    let hash = repo.object_hash();
    // One compressor for all objects: setting one up costs more than compressing a small file.
    // Level 1, as git uses for loose objects: generated files are small and the pack is
    // repacked by any later `git gc`.
    let mut compressor = Compress::new(Compression::BEST_SPEED);
    let mut entries = Vec::with_capacity(objects.len());
    for (id, (kind, data)) in objects.iter() {
        entries.push(output::Entry {
            id: *id,
            kind: output::entry::Kind::Base(*kind),
            decompressed_size: data.len(),
            compressed_data: deflate(&mut compressor, data)?,
        });
    }
    let count = u32::try_from(entries.len()).or_raise(|| gix::error::message("too many objects for one pack"))?;
    let mut pack = Vec::new();
    let mut writer = output::bytes::FromEntriesIter::new(
        std::iter::once(Ok::<_, gix::Error>(entries)),
        &mut pack,
        count,
        gix_pack::data::Version::V2,
        hash,
    );
    for written in &mut writer {
        written?;
    }
    // Indexing re-reads the pack, verifying every object, and moves pack and index into
    // place (pack first: git ignores a pack without its index).
    let outcome = gix_pack::Bundle::write_to_directory(
        &mut pack.as_slice(),
        Some(&repo.git_dir().join("objects").join("pack")),
        &mut gix::progress::Discard,
        &AtomicBool::new(false),
        None::<gix::objs::find::Never>,
        hash,
        gix_pack::bundle::write::Options { thread_limit: Some(1), ..Default::default() },
    )?;
    if let Some(keep) = outcome.keep_path
        && let Err(error) = std::fs::remove_file(&keep)
    {
        tracing::warn!(path = %keep.display(), %error, "could not remove a pack's .keep file");
    }
    Ok(outcome.index_path)
}

/// `data` as one complete zlib stream, reusing `compressor`.
fn deflate(compressor: &mut Compress, data: &[u8]) -> Result<Vec<u8>, gix::Error> {
    compressor.reset();
    let (start_in, start_out) = (compressor.total_in(), compressor.total_out());
    // Deflate expands incompressible data by a few bytes per block at most.
    let mut out = vec![0u8; data.len() + data.len() / 1024 + 64];
    loop {
        let consumed = usize::try_from(compressor.total_in() - start_in).expect("at most data.len()");
        let produced = usize::try_from(compressor.total_out() - start_out).expect("at most out.len()");
        let status = compressor.compress(&data[consumed..], &mut out[produced..], FlushCompress::Finish)?;
        let produced = usize::try_from(compressor.total_out() - start_out).expect("at most out.len()");
        match status {
            Status::StreamEnd => {
                out.truncate(produced);
                return Ok(out);
            }
            Status::Ok | Status::BufError => {
                // Only a full output buffer stops a finishing stream short of its end.
                let grown = out.len() * 2;
                out.resize(grown, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut decompress = gix::zlib::Decompress::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut input = compressed;
        loop {
            let (before_in, before_out) = (decompress.total_in(), decompress.total_out());
            let status = decompress.decompress(input, &mut buf, gix::zlib::FlushDecompress::None).unwrap();
            input = &input[(decompress.total_in() - before_in) as usize..];
            out.extend_from_slice(&buf[..(decompress.total_out() - before_out) as usize]);
            if status == Status::StreamEnd {
                return out;
            }
        }
    }

    #[test]
    fn deflate_round_trips_whatever_the_input_and_reuses_its_state() {
        let mut compressor = Compress::new(Compression::BEST_SPEED);
        // Pseudo-random bytes do not compress, so the first output buffer is too small.
        let mut noise = Vec::with_capacity(300_000);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        while noise.len() < 300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        for data in [&b""[..], b"hello\n", &[b'a'; 100_000][..], &noise[..]] {
            let compressed = deflate(&mut compressor, data).unwrap();
            assert_eq!(inflate(&compressed), data, "{} bytes", data.len());
        }
    }
}
