//! File sets: the files of one repository tree, keyed by paths that cannot leave the repo.
//!
//! A [`RepoPath`] is relative, `/`-separated, and has no empty, `.` or `..` segment, no
//! `.git` segment, no backslash and no NUL: whatever a template renders, the result can only
//! name a file inside its repository. Contents are shared (`Arc`), so copying a blueprint's
//! static files into many renders copies no bytes.

use crate::problem::Invalid;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A path inside a repository.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath(String);

impl RepoPath {
    /// The longest path accepted, in bytes (git and most file systems cope with 4096).
    pub const MAX_LEN: usize = 4096;

    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let bad = |rule, message: String| Err(Invalid::one("", rule, message));
        if value.is_empty() {
            return bad("required", "path must not be empty".into());
        }
        if value.len() > Self::MAX_LEN {
            return bad("too-long", format!("path is longer than {} bytes", Self::MAX_LEN));
        }
        if value.starts_with('/') {
            return bad("absolute", format!("path {value:?} is absolute; it must be relative to the repository root"));
        }
        if value.contains('\\') {
            return bad("backslash", format!("path {value:?} contains a backslash"));
        }
        if value.chars().any(char::is_control) {
            return bad("control-character", format!("path {value:?} contains a control character"));
        }
        for segment in value.split('/') {
            match segment {
                "" => {
                    return bad("empty-segment", format!("path {value:?} has an empty segment"));
                }
                "." | ".." => {
                    return bad(
                        "escapes-root",
                        format!("path {value:?} has a {segment:?} segment; it could leave the repository"),
                    );
                }
                s if s.eq_ignore_ascii_case(".git") => {
                    return bad("git-dir", format!("path {value:?} reaches into '.git'"));
                }
                _ => {}
            }
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same path below `prefix` (itself a valid path).
    pub fn under(&self, prefix: &RepoPath) -> RepoPath {
        RepoPath(format!("{}/{}", prefix.0, self.0))
    }
}

// RepoPath orders, hashes and compares exactly like its string, so maps keyed by it can be
// searched with a `&str`.
impl std::borrow::Borrow<str> for RepoPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for RepoPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RepoPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One file's content and mode.
#[derive(Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub content: Arc<[u8]>,
    pub executable: bool,
}

impl FileEntry {
    pub fn new(content: impl Into<Arc<[u8]>>) -> Self {
        Self { content: content.into(), executable: false }
    }

    pub fn executable(content: impl Into<Arc<[u8]>>) -> Self {
        Self { content: content.into(), executable: true }
    }
}

impl fmt::Debug for FileEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileEntry({} bytes{})", self.content.len(), if self.executable { ", executable" } else { "" })
    }
}

/// The files of one tree, ordered by path.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct FileSet {
    files: BTreeMap<RepoPath, FileEntry>,
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file; returns the one it replaced.
    pub fn insert(&mut self, path: RepoPath, entry: FileEntry) -> Option<FileEntry> {
        self.files.insert(path, entry)
    }

    pub fn get(&self, path: &str) -> Option<&FileEntry> {
        self.files.get(path)
    }

    pub fn contains(&self, path: &RepoPath) -> bool {
        self.files.contains_key(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&RepoPath, &FileEntry)> {
        self.files.iter()
    }

    /// Removes a file; returns it.
    pub fn remove(&mut self, path: &RepoPath) -> Option<FileEntry> {
        self.files.remove(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &RepoPath> {
        self.files.keys()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total size of all contents in bytes.
    pub fn total_bytes(&self) -> usize {
        self.files.values().map(|e| e.content.len()).sum()
    }

    /// Every file moved below `prefix`.
    pub fn under(self, prefix: &RepoPath) -> FileSet {
        FileSet { files: self.files.into_iter().map(|(p, e)| (p.under(prefix), e)).collect() }
    }

    /// Adds every file of `other`, replacing files at the same paths.
    pub fn extend(&mut self, other: FileSet) {
        self.files.extend(other.files);
    }
}

impl FromIterator<(RepoPath, FileEntry)> for FileSet {
    fn from_iter<I: IntoIterator<Item = (RepoPath, FileEntry)>>(iter: I) -> Self {
        Self { files: iter.into_iter().collect() }
    }
}

impl IntoIterator for FileSet {
    type Item = (RepoPath, FileEntry);
    type IntoIter = std::collections::btree_map::IntoIter<RepoPath, FileEntry>;
    fn into_iter(self) -> Self::IntoIter {
        self.files.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_repository() {
        for ok in ["a", "a/b.txt", ".github/workflows/ci.yaml", "x/.gitignore", "..a/b..", "a/.../b"] {
            assert!(RepoPath::parse(ok).is_ok(), "{ok}");
        }
        for (bad, rule) in [
            ("", "required"),
            ("/etc/passwd", "absolute"),
            ("../x", "escapes-root"),
            ("a/../../x", "escapes-root"),
            ("a/./b", "escapes-root"),
            ("a//b", "empty-segment"),
            ("a/", "empty-segment"),
            (".git/config", "git-dir"),
            ("a/.GIT/hooks/x", "git-dir"),
            ("a\\..\\b", "backslash"),
            ("a\0b", "control-character"),
        ] {
            let err = RepoPath::parse(bad).unwrap_err();
            assert_eq!(err.problems()[0].rule, rule, "{bad:?}");
        }
    }

    #[test]
    fn file_sets_share_contents() {
        let content: Arc<[u8]> = Arc::from(&b"hello"[..]);
        let mut set = FileSet::new();
        set.insert(RepoPath::parse("a").unwrap(), FileEntry::new(content.clone()));
        let moved = set.under(&RepoPath::parse("services/x").unwrap());
        let (path, entry) = moved.iter().next().unwrap();
        assert_eq!(path.as_str(), "services/x/a");
        assert!(Arc::ptr_eq(&entry.content, &content));
    }
}
