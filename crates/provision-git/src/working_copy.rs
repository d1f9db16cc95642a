//! A new working copy (a non-bare repository with its files checked out), for projects people
//! work in directly, such as a monorepo made by `orchestrator init`.
//!
//! [`create_working_copy`] writes the files, one commit holding exactly them on
//! `orchestrator/template` (the pristine render upgrades merge from), `main` at the same commit
//! and checked out, and the index, so `git status` finds nothing to report.

use crate::local::Signature;
use crate::repo::actor;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use provision_core::FileSet;
use provision_core::ports::CommitId;
use std::path::{Path, PathBuf};

/// Why a working copy could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WorkingCopyError {
    #[error("{} holds a git repository already", dir.display())]
    Exists { dir: PathBuf },

    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{action} in {} failed", dir.display())]
    Git {
        dir: PathBuf,
        action: &'static str,
        #[source]
        source: gix::Error,
    },
}

/// Makes `dir` (existing or not) a git working copy of `files`: the files written (existing
/// files of the same paths are replaced; the caller decides whether that may happen), one
/// commit with `message` by `signature` on `orchestrator/template` and on `main`, `HEAD` on
/// `main`, and the index matching the files on disk.
///
/// Assumes `dir` holds no `.git` (refused otherwise). Only the repository's own configuration
/// counts, never the user's, so the commit does not depend on who runs it.
pub fn create_working_copy(
    dir: &Path,
    files: &FileSet,
    signature: &Signature,
    message: &str,
) -> Result<CommitId, WorkingCopyError> {
    if dir.join(".git").symlink_metadata().is_ok() {
        return Err(WorkingCopyError::Exists { dir: dir.to_owned() });
    }
    let git =
        |action: &'static str| move |e: gix::Error| WorkingCopyError::Git { dir: dir.to_owned(), action, source: e };
    let write = |path: PathBuf| move |source| WorkingCopyError::Write { path, source };
    for (path, entry) in files.iter() {
        let full = dir.join(path.as_str());
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(write(parent.to_owned()))?;
        }
        std::fs::write(&full, &*entry.content).map_err(write(full.clone()))?;
        if entry.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).map_err(write(full.clone()))?;
        }
    }

    let repo = gix::ThreadSafeRepository::init_opts(
        dir,
        gix::create::Kind::WithWorktree,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(git("creating the repository"))?
    .to_thread_local();

    let tree = crate::repo::write_tree(&repo, files).map_err(git("writing the files and their tree"))?;
    let actor = actor(signature);
    let commit = gix::objs::Commit {
        tree,
        parents: Default::default(),
        author: actor.clone(),
        committer: actor.clone(),
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    let id = repo.write_object(&commit).map_err(git("writing the commit"))?.detach();

    let branch = |name: &str, log: &str| RefEdit {
        change: Change::Update {
            log: LogChange { mode: RefLog::AndReference, force_create_reflog: false, message: log.into() },
            expected: PreviousValue::MustNotExist,
            new: Target::Object(id),
        },
        name: FullName::try_from(name).expect("a literal, valid branch name"),
        deref: false,
    };
    let head = RefEdit {
        change: Change::Update {
            log: LogChange { mode: RefLog::AndReference, force_create_reflog: false, message: "init".into() },
            expected: PreviousValue::Any,
            new: Target::Symbolic(FullName::try_from("refs/heads/main").expect("a literal, valid ref name")),
        },
        name: FullName::try_from("HEAD").expect("HEAD is a ref name"),
        deref: false,
    };
    let first = format!("commit (initial): {}", message.lines().next().unwrap_or_default());
    let mut time = gix::date::parse::TimeBuf::default();
    repo.edit_references_as(
        [branch("refs/heads/orchestrator/template", &first), branch("refs/heads/main", &first), head],
        Some(actor.to_ref(&mut time)),
    )
    .map_err(git("writing the branches"))?;

    let mut index = repo.index_from_tree(&tree).map_err(git("building the index"))?;
    // The files' metadata, so git sees them unchanged without reading them again.
    let paths: Vec<PathBuf> = {
        let state = &index;
        state.entries().iter().map(|e| dir.join(e.path(state).to_string())).collect()
    };
    for (entry, path) in index.entries_mut().iter_mut().zip(paths) {
        let meta = gix::index::fs::Metadata::from_path_no_follow(&path).map_err(write(path.clone()))?;
        if let Ok(stat) = gix::index::entry::Stat::from_fs(&meta) {
            entry.stat = stat;
        }
    }
    index.write(gix::index::write::Options::default()).map_err(git("writing the index"))?;
    Ok(CommitId(id.to_hex().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::{FileEntry, RepoPath};
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    #[test]
    fn the_working_copy_is_clean_on_main_with_one_template_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = FileSet::new();
        files.insert(RepoPath::parse("README.md").unwrap(), FileEntry::new(&b"# shop\n"[..]));
        files.insert(RepoPath::parse("infra/README.md").unwrap(), FileEntry::new(&b"infra\n"[..]));
        files.insert(RepoPath::parse("bin/run").unwrap(), FileEntry::executable(&b"#!/bin/sh\n"[..]));
        let signature = Signature { name: "Orchestrator".into(), email: "orchestrator@example.com".into() };
        let id = create_working_copy(dir.path(), &files, &signature, "Render project 1.0.0").unwrap();

        assert_eq!(git(dir.path(), &["rev-parse", "main", "orchestrator/template"]), format!("{}\n{}\n", id.0, id.0));
        assert_eq!(git(dir.path(), &["symbolic-ref", "HEAD"]), "refs/heads/main\n");
        assert_eq!(
            git(dir.path(), &["log", "--format=%s|%an <%ae>", "main"]),
            "Render project 1.0.0|Orchestrator <orchestrator@example.com>\n"
        );
        assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
        assert_eq!(git(dir.path(), &["ls-files", "-s", "bin/run"]).split_whitespace().next(), Some("100755"));
        git(dir.path(), &["fsck", "--strict"]);
        assert!(matches!(
            create_working_copy(dir.path(), &files, &signature, "again"),
            Err(WorkingCopyError::Exists { .. })
        ));
    }
}
