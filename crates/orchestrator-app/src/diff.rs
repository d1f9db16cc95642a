//! What a dry run shows of each repository: every file it would write, whether it is new,
//! changed or unchanged against what the branch holds now, and the unified diff of each change.

use provision_core::FileSet;
use serde::Serialize;

/// Lines of context around each change in a diff.
const CONTEXT: usize = 3;

/// What writing a file would do to the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The branch has no such file.
    New,
    /// The branch has it with other content (or another mode).
    Changed,
    /// The branch has it exactly so: writing it changes nothing.
    Unchanged,
}

/// One file a run would write, against the branch as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FileChange {
    pub path: String,
    pub change: ChangeKind,
    /// The unified diff (`--- a/path`, `+++ b/path`), absent when unchanged; for a file that is
    /// not UTF-8 text, one line saying that it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Each file of `planned` against `current` (the branch's files; `None`: no branch yet), in
/// path order.
pub fn changes(current: Option<&FileSet>, planned: &FileSet) -> Vec<FileChange> {
    planned
        .iter()
        .map(|(path, entry)| {
            let path = path.as_str();
            let before = current.and_then(|files| files.get(path));
            let change = match before {
                None => ChangeKind::New,
                Some(b) if b.content == entry.content && b.executable == entry.executable => ChangeKind::Unchanged,
                Some(_) => ChangeKind::Changed,
            };
            let diff = (change != ChangeKind::Unchanged).then(|| {
                let old = before.map_or(&[][..], |b| &b.content[..]);
                unified(path, before.is_some(), old, &entry.content)
            });
            FileChange { path: path.to_owned(), change, diff }
        })
        .collect()
}

/// The unified diff of one text file's `old` and `new` contents.
pub fn text(path: &str, old: &str, new: &str) -> String {
    unified(path, true, old.as_bytes(), new.as_bytes())
}

/// The unified diff of a file that is `before` and then `after` (`None`: no such file on that
/// side, `/dev/null` in the header).
pub fn between(path: &str, before: Option<&[u8]>, after: Option<&[u8]>) -> String {
    let side = |content: Option<&[u8]>, prefix: &str| match content {
        Some(_) => format!("{prefix}/{path}"),
        None => "/dev/null".to_owned(),
    };
    sides(&side(before, "a"), &side(after, "b"), before.unwrap_or_default(), after.unwrap_or_default())
}

/// The unified diff of `old` to `new`; `existed` says whether the old side is a file.
fn unified(path: &str, existed: bool, old: &[u8], new: &[u8]) -> String {
    let from = if existed { format!("a/{path}") } else { "/dev/null".to_owned() };
    sides(&from, &format!("b/{path}"), old, new)
}

/// The unified diff of `old` (named `from`) to `new` (named `to`).
fn sides(from: &str, to: &str, old: &[u8], new: &[u8]) -> String {
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return format!("Binary files {from} and {to} differ\n");
    };
    if old == new {
        return format!("--- {from}\n+++ {to}\n(the file's mode changes)\n");
    }
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(CONTEXT).header(from, to).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::{FileEntry, RepoPath};

    fn files(entries: &[(&str, &str)]) -> FileSet {
        let mut set = FileSet::new();
        for (path, content) in entries {
            set.insert(RepoPath::parse(path).unwrap(), FileEntry::new(content.as_bytes().to_vec()));
        }
        set
    }

    #[test]
    fn each_file_is_new_changed_or_unchanged_with_its_diff() {
        let current = files(&[("a.yaml", "one\ntwo\nthree\n"), ("same.txt", "x\n")]);
        let planned = files(&[("a.yaml", "one\n2\nthree\n"), ("same.txt", "x\n"), ("new.txt", "hello\n")]);
        let got = changes(Some(&current), &planned);
        let kinds: Vec<(&str, ChangeKind)> = got.iter().map(|c| (c.path.as_str(), c.change)).collect();
        assert_eq!(
            kinds,
            [("a.yaml", ChangeKind::Changed), ("new.txt", ChangeKind::New), ("same.txt", ChangeKind::Unchanged)]
        );
        assert_eq!(
            got[0].diff.as_deref(),
            Some("--- a/a.yaml\n+++ b/a.yaml\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n")
        );
        assert_eq!(got[1].diff.as_deref(), Some("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n"));
        assert_eq!(got[2].diff, None);
        assert!(changes(None, &planned).iter().all(|c| c.change == ChangeKind::New));
    }

    #[test]
    fn a_diff_between_two_sides_names_a_missing_one_dev_null() {
        assert_eq!(between("gone.txt", Some(b"bye\n"), None), "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n");
        assert_eq!(between("new.txt", None, Some(b"hi\n")), "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n");
        assert_eq!(
            between("run.sh", Some(b"x\n"), Some(b"x\n")),
            "--- a/run.sh\n+++ b/run.sh\n(the file's mode changes)\n"
        );
    }

    #[test]
    fn binary_files_are_named_not_printed() {
        let mut planned = FileSet::new();
        planned.insert(RepoPath::parse("logo.png").unwrap(), FileEntry::new(vec![0x89, 0xff, 0x00]));
        let got = changes(None, &planned);
        assert_eq!(got[0].diff.as_deref(), Some("Binary files /dev/null and b/logo.png differ\n"));
    }
}
