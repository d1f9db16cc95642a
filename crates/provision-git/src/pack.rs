//! Packs and their indexes encoded straight from objects in memory (gitformat-pack(5): pack
//! version 2, index version 2), with no delta and nothing read back.
//!
//! The objects come from gix's object memory, which named each one by hashing its content, so
//! their ids, offsets and checksums are all known while the pack is written: the index
//! follows from them. Indexing a pack the way `git index-pack` does (inflate every object
//! again and hash it) is for packs that arrive from elsewhere.
//!
//! Guarantees: the same objects give the same bytes (they are written in id order), and the
//! index is byte for byte what `git index-pack` makes of the pack (a test compares them).

use gix::ObjectId;
use gix::objs::Kind;
use gix::zlib::stream::deflate::{Compress, FlushCompress};
use gix::zlib::{Compression, Status};

/// A pack and its index, ready to be written.
pub(crate) struct Encoded {
    pub pack: Vec<u8>,
    pub index: Vec<u8>,
    /// The pack's checksum, which names both files (`pack-<checksum>.pack`).
    pub checksum: ObjectId,
}

/// Offsets from here on take the 64-bit table of the index.
const LARGE_OFFSET: u64 = 0x8000_0000;

/// Encodes `objects`, each `(id, kind, content)` with `id` the hash of the object, as one pack
/// and its index.
pub(crate) fn encode(hash: gix::hash::Kind, mut objects: Vec<(ObjectId, Kind, &[u8])>) -> Result<Encoded, gix::Error> {
    use gix::error::ResultExt;
    objects.sort_unstable_by_key(|o| o.0);
    objects.dedup_by(|a, b| a.0 == b.0);
    let count = u32::try_from(objects.len()).or_raise(|| gix::error::message("too many objects for one pack"))?;

    let mut pack =
        Vec::with_capacity(12 + objects.iter().map(|o| o.2.len() / 2 + 16).sum::<usize>() + hash.len_in_bytes());
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    // (offset, CRC-32 of the entry as stored) per object, in id order.
    let mut entries = Vec::with_capacity(objects.len());
    with_compressor(|compressor| {
        for (_, kind, data) in &objects {
            let offset = pack.len();
            entry_header(&mut pack, *kind, data.len());
            deflate_into(compressor, data, &mut pack)?;
            entries.push((offset as u64, crc32fast::hash(&pack[offset..])));
        }
        Ok::<_, gix::Error>(())
    })?;
    let checksum = digest(hash, &pack)?;
    pack.extend_from_slice(checksum.as_slice());

    let mut index =
        Vec::with_capacity(8 + 256 * 4 + objects.len() * (hash.len_in_bytes() + 8) + 2 * hash.len_in_bytes());
    index.extend_from_slice(b"\xfftOc");
    index.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for (id, _, _) in &objects {
        fanout[usize::from(id.as_slice()[0])] += 1;
    }
    let mut total = 0;
    for slot in fanout {
        total += slot;
        index.extend_from_slice(&total.to_be_bytes());
    }
    for (id, _, _) in &objects {
        index.extend_from_slice(id.as_slice());
    }
    for (_, crc) in &entries {
        index.extend_from_slice(&crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for (offset, _) in &entries {
        let small = if *offset < LARGE_OFFSET {
            *offset as u32
        } else {
            large.push(*offset);
            let position = u32::try_from(large.len() - 1).expect("fewer large offsets than objects, a u32");
            position | LARGE_OFFSET as u32
        };
        index.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        index.extend_from_slice(&offset.to_be_bytes());
    }
    index.extend_from_slice(checksum.as_slice());
    let index_checksum = digest(hash, &index)?;
    index.extend_from_slice(index_checksum.as_slice());
    Ok(Encoded { pack, index, checksum })
}

/// An entry's header: its type, and its size in 7-bit groups, least significant first (the
/// first byte holds 4 bits of it).
fn entry_header(out: &mut Vec<u8>, kind: Kind, size: usize) {
    let kind: u8 = match kind {
        Kind::Commit => 1,
        Kind::Tree => 2,
        Kind::Blob => 3,
        Kind::Tag => 4,
    };
    let mut size = size as u64;
    let mut byte = (kind << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size != 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
}

fn digest(hash: gix::hash::Kind, bytes: &[u8]) -> Result<ObjectId, gix::Error> {
    let mut hasher = gix::hash::hasher(hash);
    hasher.update(bytes);
    use gix::error::ResultExt;
    hasher.try_finalize().or_raise(|| gix::error::message("cannot hash a pack"))
}

thread_local! {
    /// A compressor per thread, kept between packs: setting one up zeroes some 300 KiB, which
    /// costs more than compressing the few small files of a typical commit.
    static COMPRESSOR: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
}

fn with_compressor<R>(work: impl FnOnce(&mut Compress) -> R) -> R {
    COMPRESSOR.with(|cell| {
        // Level 1, as git uses for loose objects: generated files are small, and any later
        // `git gc` repacks them anyway.
        let mut compressor = cell.take().unwrap_or_else(|| Compress::new(Compression::BEST_SPEED));
        let result = work(&mut compressor);
        *cell.borrow_mut() = Some(compressor);
        result
    })
}

/// Appends `data` to `out` as one complete zlib stream, reusing `compressor`.
fn deflate_into(compressor: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> Result<(), gix::Error> {
    compressor.reset();
    let (start_in, start_out, start_len) = (compressor.total_in(), compressor.total_out(), out.len());
    // Deflate expands incompressible data by a few bytes per block at most.
    out.resize(start_len + data.len() + data.len() / 1024 + 64, 0);
    loop {
        let consumed = usize::try_from(compressor.total_in() - start_in).expect("at most data.len()");
        let produced = usize::try_from(compressor.total_out() - start_out).expect("at most out.len()");
        let status = compressor.compress(&data[consumed..], &mut out[start_len + produced..], FlushCompress::Finish)?;
        let produced = usize::try_from(compressor.total_out() - start_out).expect("at most out.len()");
        match status {
            Status::StreamEnd => {
                out.truncate(start_len + produced);
                return Ok(());
            }
            Status::Ok | Status::BufError => {
                // Only a full output buffer stops a finishing stream short of its end.
                let grown = out.len() + (out.len() - start_len).max(64);
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

    /// `len` pseudo-random bytes (xorshift), the same every time.
    fn noise(len: usize) -> Vec<u8> {
        let mut noise = Vec::with_capacity(len + 8);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        while noise.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        noise.truncate(len);
        noise
    }

    #[test]
    fn deflate_round_trips_whatever_the_input_and_reuses_its_state() {
        let mut compressor = Compress::new(Compression::BEST_SPEED);
        // Pseudo-random bytes do not compress, so the first output buffer is too small.
        let noise = noise(300_000);
        let mut out = b"prefix".to_vec();
        for data in [&b""[..], b"hello\n", &[b'a'; 100_000][..], &noise[..]] {
            out.truncate(6);
            deflate_into(&mut compressor, data, &mut out).unwrap();
            assert_eq!(&out[..6], b"prefix", "what was there stays");
            assert_eq!(inflate(&out[6..]), data, "{} bytes", data.len());
        }
    }

    fn object(kind: Kind, data: &[u8]) -> (ObjectId, Kind, Vec<u8>) {
        (gix::objs::compute_hash(gix::hash::Kind::Sha1, kind, data).unwrap(), kind, data.to_vec())
    }

    /// A blob of each size class (empty, one header byte, several, larger than a deflate
    /// block), a tree holding two of them and a commit of the tree.
    fn sample() -> Vec<(ObjectId, Kind, Vec<u8>)> {
        let noise = noise(200_000);
        let blobs = [
            object(Kind::Blob, b""),
            object(Kind::Blob, b"hello\n"),
            object(Kind::Blob, &[b'a'; 5000]),
            object(Kind::Blob, &noise),
        ];
        let mut tree = Vec::new();
        for (name, blob) in [("a.txt", &blobs[1]), ("b.bin", &blobs[3])] {
            tree.extend_from_slice(format!("100644 {name}\0").as_bytes());
            tree.extend_from_slice(blob.0.as_slice());
        }
        let tree = object(Kind::Tree, &tree);
        let commit = format!(
            "tree {}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nsample\n",
            tree.0
        );
        let commit = object(Kind::Commit, commit.as_bytes());
        blobs.into_iter().chain([tree, commit]).collect()
    }

    fn encode_sample(objects: &[(ObjectId, Kind, Vec<u8>)]) -> Encoded {
        encode(gix::hash::Kind::Sha1, objects.iter().map(|(id, kind, data)| (*id, *kind, data.as_slice())).collect())
            .unwrap()
    }

    #[test]
    fn the_index_is_what_git_index_pack_makes_of_the_pack() {
        let objects = sample();
        let encoded = encode_sample(&objects);
        let dir = tempfile::tempdir().unwrap();
        let pack = dir.path().join("sample.pack");
        std::fs::write(&pack, &encoded.pack).unwrap();
        let theirs = dir.path().join("theirs.idx");
        let output = std::process::Command::new("git")
            .args(["index-pack", "--strict", "-o"])
            .arg(&theirs)
            .arg(&pack)
            .output()
            .unwrap();
        assert!(output.status.success(), "git index-pack: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), encoded.checksum.to_string());
        assert!(std::fs::read(&theirs).unwrap() == encoded.index, "the index differs from git's");

        // And git reads every object back as it went in.
        std::fs::write(dir.path().join("sample.idx"), &encoded.index).unwrap();
        let output = std::process::Command::new("git").args(["verify-pack", "-v"]).arg(&pack).output().unwrap();
        assert!(output.status.success(), "git verify-pack: {}", String::from_utf8_lossy(&output.stderr));
        let listing = String::from_utf8_lossy(&output.stdout);
        for (id, kind, data) in &objects {
            let line = listing.lines().find(|l| l.starts_with(&id.to_string())).expect("every object is listed");
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!((fields[1], fields[2]), (kind.to_string().as_str(), data.len().to_string().as_str()), "{line}");
        }
    }

    #[test]
    fn the_same_objects_make_the_same_pack_whatever_their_order() {
        let objects = sample();
        let mut reversed = objects.clone();
        reversed.reverse();
        reversed.push(objects[0].clone());
        let (a, b) = (encode_sample(&objects), encode_sample(&reversed));
        assert_eq!(a.checksum, b.checksum);
        assert!(a.pack == b.pack && a.index == b.index);
        assert_eq!(u32::from_be_bytes(a.pack[8..12].try_into().unwrap()), 6, "a repeated object is stored once");
    }

    #[test]
    fn entry_headers_carry_type_and_size_in_seven_bit_groups() {
        let header = |kind, size| {
            let mut out = Vec::new();
            entry_header(&mut out, kind, size);
            out
        };
        assert_eq!(header(Kind::Blob, 0), [0x30]);
        assert_eq!(header(Kind::Commit, 15), [0x1f]);
        assert_eq!(header(Kind::Tree, 16), [0xa0, 0x01]);
        assert_eq!(header(Kind::Tag, 0x7ff), [0xcf, 0x7f]);
        assert_eq!(header(Kind::Blob, 0x800), [0xb0, 0x80, 0x01]);
    }
}
