//! Fixtures and the `git` CLI as a reader.

use provision_core::ports::{CommitId, GitHost, PortError};
use provision_core::{BranchName, FileEntry, FileSet, RepoName, RepoPath, TreeMode};
use provision_git::{LocalGitHost, Signature};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

pub const NAME: &str = "Provision Bot";
pub const EMAIL: &str = "bot@example.test";

/// A host over a fresh temporary root.
pub struct Fixture {
    pub dir: TempDir,
    pub host: LocalGitHost,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let host = LocalGitHost::new(dir.path().join("repos"), Signature { name: NAME.into(), email: EMAIL.into() });
        Self { dir, host }
    }

    /// A fixture with an empty repository `name` created.
    pub async fn with_repo(name: &str) -> (Self, RepoName) {
        let f = Self::new();
        let repo = repo(name);
        f.host.create_repo(&repo, "a test repository").await.expect("create_repo");
        (f, repo)
    }

    pub fn bare(&self, repo: &RepoName) -> PathBuf {
        self.host.repo_path(repo)
    }

    pub async fn commit(
        &self,
        repo: &RepoName,
        branch: &str,
        parent: Option<&CommitId>,
        files: &FileSet,
        mode: TreeMode,
        message: &str,
    ) -> Result<CommitId, PortError> {
        crate::contract::commit(&self.host, repo, branch, parent, files, mode, message).await
    }
}

pub fn repo(name: &str) -> RepoName {
    RepoName::parse(name).expect("valid repo name")
}

pub fn branch(name: &str) -> BranchName {
    BranchName::parse(name).expect("valid branch name")
}

pub fn path(p: &str) -> RepoPath {
    RepoPath::parse(p).expect("valid path")
}

pub fn file(p: &str, content: impl AsRef<[u8]>) -> (RepoPath, FileEntry) {
    (path(p), FileEntry::new(content.as_ref()))
}

pub fn exe(p: &str, content: impl AsRef<[u8]>) -> (RepoPath, FileEntry) {
    (path(p), FileEntry::executable(content.as_ref()))
}

pub fn files<const N: usize>(entries: [(RepoPath, FileEntry); N]) -> FileSet {
    entries.into_iter().collect()
}

/// `git` with no user or system configuration and a fixed identity for its own commits.
pub fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Someone Else")
        .env("GIT_AUTHOR_EMAIL", "else@example.test")
        .env("GIT_COMMITTER_NAME", "Someone Else")
        .env("GIT_COMMITTER_EMAIL", "else@example.test")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE");
    cmd
}

pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    git_command(dir).args(args).output().expect("git runs")
}

/// Runs `git` and returns its stdout, failing the test if git fails.
pub fn git_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {} failed: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(git_bytes(dir, args)).expect("git printed UTF-8").trim_end().to_owned()
}

/// `git fsck --strict` must pass and say nothing but notices (an empty repository gets
/// "HEAD points to an unborn branch").
pub fn assert_fsck_clean(bare: &Path) {
    let out = git_output(bare, &["fsck", "--strict", "--no-dangling", "--no-progress"]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let complaints: Vec<&str> = said.lines().filter(|l| !l.starts_with("notice:")).collect();
    assert!(out.status.success() && complaints.is_empty(), "git fsck --strict: {said}");
}

/// `path mode` of every file at `rev`, from `git ls-tree -r`.
pub fn ls_tree(bare: &Path, rev: &str) -> Vec<(String, String)> {
    git(bare, &["ls-tree", "-r", rev])
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').expect("ls-tree line has a tab");
            (path.to_owned(), meta.split(' ').next().expect("mode").to_owned())
        })
        .collect()
}

pub fn rev_parse(bare: &Path, rev: &str) -> String {
    git(bare, &["rev-parse", "--verify", rev])
}
