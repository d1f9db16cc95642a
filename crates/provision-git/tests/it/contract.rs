//! The `GitHost` contract as the port's documentation states it, run against the gix adapter
//! (`LocalGitHost`) and the in-memory fake the application's tests use
//! (`provision_core::testing::MemoryGitHost`), so the fake cannot drift from the real thing —
//! above all in how it merges. Every function in `repos` and `merges` runs against both (see
//! `contract_tests!` below); `agreement` runs both on the same merge scenarios and compares
//! everything they answer and leave behind.

mod agreement;
mod merges;
mod repos;

use crate::support::{EMAIL, NAME, branch};
use provision_core::ports::{CommitId, CommitRequest, FileChange, GitHost, MergeRequest, PortError};
use provision_core::testing::MemoryGitHost;
use provision_core::{BranchName, FileSet, RepoName, RepoPath, TreeMode};
use provision_git::{LocalGitHost, Signature};
use tempfile::TempDir;

/// A `GitHost` under test, with what it needs to live (the gix one's directory).
pub struct Host {
    host: Box<dyn GitHost>,
    _dir: Option<TempDir>,
}

impl Host {
    /// Bare repositories written by gix in a fresh temporary directory.
    pub fn gix() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let host = LocalGitHost::new(dir.path().join("repos"), Signature { name: NAME.into(), email: EMAIL.into() });
        Self { host: Box::new(host), _dir: Some(dir) }
    }

    /// The in-memory fake.
    pub fn memory() -> Self {
        Self { host: Box::new(MemoryGitHost::new()), _dir: None }
    }
}

impl std::ops::Deref for Host {
    type Target = dyn GitHost;

    fn deref(&self) -> &Self::Target {
        &*self.host
    }
}

/// Runs every contract test against each implementation, one `#[tokio::test]` per pair, so a
/// failure names both the contract and the implementation.
macro_rules! contract_tests {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod gix {
            $(
                #[tokio::test]
                async fn $test() {
                    let host = super::Host::gix();
                    super::$module::$test(&*host).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    let host = super::Host::memory();
                    super::$module::$test(&*host).await;
                }
            )*
        }
    };
}

contract_tests!(
    repos::a_created_repository_exists_and_is_empty,
    repos::creating_a_repository_twice_is_already_exists_and_keeps_it,
    repos::every_call_on_a_missing_repository_is_not_found,
    repos::a_root_commit_starts_a_branch_whose_files_read_back,
    repos::replace_mode_writes_exactly_the_files_given,
    repos::overlay_mode_keeps_the_parent_s_files_and_replaces_the_given_ones,
    repos::a_commit_on_a_stale_parent_is_a_conflict_and_moves_nothing,
    repos::skip_unchanged_answers_the_parent_when_the_tree_is_the_same,
    repos::find_commit_finds_a_whole_line_in_first_parent_history_within_the_limit,
    repos::branches_are_listed_by_name_with_their_tips,
    repos::a_branch_is_created_once_and_only_at_an_existing_commit,
    repos::a_file_and_a_directory_at_one_path_are_refused,
    repos::remove_mode_drops_the_given_paths_and_keeps_the_rest,
    repos::the_log_lists_every_commit_of_every_branch_once,
    repos::a_deleted_repository_is_gone_and_its_name_free_again,
    merges::a_clean_merge_keeps_local_edits_and_takes_the_template_s_changes,
    merges::a_file_renamed_on_either_side_carries_the_other_side_s_edits,
    merges::declared_renames_move_local_edits_where_rename_detection_cannot,
    merges::a_content_conflict_is_committed_on_the_conflict_branch_and_main_stays,
    merges::every_conflict_kind_is_named_and_leaves_the_file_the_port_says,
    merges::merge_state_is_pending_until_the_template_tip_is_in_main,
    merges::merging_again_after_a_clean_merge_writes_nothing,
    merges::a_conflict_branch_left_from_older_tips_is_pending_and_superseded,
    merges::merging_missing_or_unrelated_branches_fails_and_writes_nothing,
    merges::a_preview_writes_nothing_and_tells_what_the_merge_then_does,
    merges::a_second_upgrade_merges_from_the_render_main_holds,
);

pub const TEMPLATE: &str = "orchestrator/template";
pub const CONFLICTS: &str = "orchestrator/upgrade-2";
/// The message of every merge here; its trailer finds the merge commit.
pub const MESSAGE: &str = "Upgrade 1 → 2\n\nProvision-Run: r/1\n";

/// The branches of an upgrade: `main`, the template branch and where conflicts go.
pub struct Upgrade {
    pub into: BranchName,
    pub from: BranchName,
    pub conflicts: BranchName,
}

impl Upgrade {
    pub fn new() -> Self {
        Self { into: branch("main"), from: branch(TEMPLATE), conflicts: branch(CONFLICTS) }
    }

    pub fn request<'a>(&'a self, renames: &'a [(RepoPath, RepoPath)]) -> MergeRequest<'a> {
        MergeRequest { into: &self.into, from: &self.from, conflict_branch: &self.conflicts, message: MESSAGE, renames }
    }
}

/// A plain commit (`skip_unchanged` off) of `files` onto `branch`.
pub async fn commit(
    host: &dyn GitHost,
    repo: &RepoName,
    branch: &str,
    parent: Option<&CommitId>,
    files: &FileSet,
    mode: TreeMode,
    message: &str,
) -> Result<CommitId, PortError> {
    let branch = crate::support::branch(branch);
    host.commit(repo, CommitRequest { branch: &branch, parent, files, mode, message, skip_unchanged: false }).await
}

/// A repository `demo` whose template branch holds `v1`, with `main` started from it and then
/// changed to `local` by its users (commit message "Local changes").
pub async fn provisioned(host: &dyn GitHost, v1: &FileSet, local: &FileSet) -> RepoName {
    provisioned_as(host, "demo", v1, local).await
}

/// [`provisioned`], the repository named `name`.
pub async fn provisioned_as(host: &dyn GitHost, name: &str, v1: &FileSet, local: &FileSet) -> RepoName {
    let demo = crate::support::repo(name);
    host.create_repo(&demo, "a demo").await.unwrap();
    let t1 = commit(host, &demo, TEMPLATE, None, v1, TreeMode::Replace, "Render v1").await.unwrap();
    host.create_branch(&demo, &branch("main"), &t1).await.unwrap();
    commit(host, &demo, "main", Some(&t1), local, TreeMode::Replace, "Local changes").await.unwrap();
    demo
}

/// Commits `next` onto the template branch, as rendering a new version does.
pub async fn render(host: &dyn GitHost, repo: &RepoName, next: &FileSet) -> CommitId {
    let tip = host.branch_tip(repo, &branch(TEMPLATE)).await.unwrap();
    commit(host, repo, TEMPLATE, tip.as_ref(), next, TreeMode::Replace, "Render next").await.unwrap()
}

/// The files of `branch`, which must exist.
pub async fn tree(host: &dyn GitHost, repo: &RepoName, branch: &str) -> FileSet {
    let name = crate::support::branch(branch);
    host.read_tree(repo, &name).await.unwrap().unwrap_or_else(|| panic!("branch {branch} of {repo} exists"))
}

/// One file of `branch` as text, which must exist.
pub async fn text(host: &dyn GitHost, repo: &RepoName, branch: &str, path: &str) -> String {
    let name = crate::support::branch(branch);
    let bytes = host.read_file(repo, &name, &crate::support::path(path)).await.unwrap();
    String::from_utf8(bytes.unwrap_or_else(|| panic!("{path} on {branch} of {repo}"))).expect("a text file")
}

/// How `after` differs from `before`, file by file, as a merge preview states it; computed
/// here, independently of either implementation.
pub fn changes(before: &FileSet, after: &FileSet) -> Vec<(String, FileChange)> {
    let mut out = Vec::new();
    for (path, entry) in after.iter() {
        match before.get(path.as_str()) {
            None => out.push((path.to_string(), FileChange::Added)),
            Some(old) if old != entry => out.push((path.to_string(), FileChange::Modified)),
            Some(_) => {}
        }
    }
    out.extend(before.paths().filter(|p| !after.contains(p)).map(|p| (p.to_string(), FileChange::Removed)));
    out.sort();
    out
}

/// Numbered lines `1..=n`, one per line, `edit` replacing some of them.
pub fn lines(n: usize, edit: &[(usize, &str)]) -> String {
    (1..=n)
        .map(|i| edit.iter().find(|(at, _)| *at == i).map_or_else(|| format!("line {i}\n"), |(_, l)| format!("{l}\n")))
        .collect()
}

/// Bytes git takes for binary: they hold a NUL.
pub fn binary(seed: u8) -> Vec<u8> {
    (0..64u8).map(|i| i.wrapping_mul(seed)).chain([0, 0, seed]).collect()
}
