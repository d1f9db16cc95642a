//! The shared-repository writer on the in-memory git host, with another "process" racing it.

use super::*;
use provision_core::FileEntry;
use provision_core::ports::PortErrorKind;
use provision_core::testing::{MemoryGitHost, NoPause};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

fn repo(name: &str) -> RepoName {
    RepoName::parse(name).unwrap()
}

fn main() -> BranchName {
    BranchName::main()
}

fn files(paths: &[&str]) -> FileSet {
    paths.iter().map(|p| (RepoPath::parse(p).unwrap(), FileEntry::new(p.as_bytes()))).collect()
}

fn registration(name: &str) -> (FileSet, String) {
    (files(&[&format!("services/{name}/application.yaml")]), format!("Register {name}\n\nProvision-Run: {name}/7\n"))
}

/// The in-memory host, with a gate every commit passes (a permit each) and another writer
/// that moves the branch right before the next `races` commits, as a second server would.
struct Host {
    inner: MemoryGitHost,
    gate: Semaphore,
    races: AtomicUsize,
    /// Commits asked for, those waiting at the gate included.
    entered: AtomicUsize,
    /// Commits let through the gate.
    commits: AtomicUsize,
}

impl Host {
    async fn new(gated: bool) -> Arc<Host> {
        let inner = MemoryGitHost::new();
        inner.create_repo(&repo("gitops"), "shared").await.unwrap();
        inner.create_repo(&repo("own"), "not shared").await.unwrap();
        let permits = if gated { 0 } else { Semaphore::MAX_PERMITS };
        Arc::new(Host {
            inner,
            gate: Semaphore::new(permits),
            races: AtomicUsize::new(0),
            entered: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
        })
    }

    /// A commit by someone else onto `main` of `gitops`.
    async fn foreign_commit(&self, n: usize) {
        let tip = self.inner.branch_tip(&repo("gitops"), &main()).await.unwrap();
        let files = files(&[&format!("foreign/{n}")]);
        let request = CommitRequest {
            branch: &main(),
            parent: tip.as_ref(),
            files: &files,
            mode: TreeMode::Overlay,
            message: "elsewhere",
            skip_unchanged: false,
        };
        self.inner.commit(&repo("gitops"), request).await.unwrap();
    }

    fn history(&self) -> Vec<String> {
        self.inner.history("gitops", "main")
    }
}

#[async_trait]
impl GitHost for Host {
    async fn repo_exists(&self, repo: &RepoName) -> Result<bool, PortError> {
        self.inner.repo_exists(repo).await
    }
    async fn create_repo(&self, repo: &RepoName, description: &str) -> Result<(), PortError> {
        self.inner.create_repo(repo, description).await
    }
    async fn delete_repo(&self, repo: &RepoName) -> Result<(), PortError> {
        self.inner.delete_repo(repo).await
    }
    async fn log(&self, repo: &RepoName, limit: usize) -> Result<Vec<LoggedCommit>, PortError> {
        self.inner.log(repo, limit).await
    }
    async fn branches(&self, repo: &RepoName) -> Result<Vec<(BranchName, CommitId)>, PortError> {
        self.inner.branches(repo).await
    }
    async fn branch_tip(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<CommitId>, PortError> {
        self.inner.branch_tip(repo, branch).await
    }
    async fn find_commit(
        &self,
        r: &RepoName,
        b: &BranchName,
        line: &str,
        n: usize,
    ) -> Result<Option<CommitId>, PortError> {
        self.inner.find_commit(r, b, line, n).await
    }
    async fn commit(&self, repo: &RepoName, request: CommitRequest<'_>) -> Result<CommitId, PortError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.gate.acquire().await.unwrap().forget();
        let n = self.commits.fetch_add(1, Ordering::SeqCst);
        if self.races.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1)).is_ok() {
            self.foreign_commit(n).await;
        }
        self.inner.commit(repo, request).await
    }
    async fn create_branch(&self, repo: &RepoName, branch: &BranchName, at: &CommitId) -> Result<(), PortError> {
        self.inner.create_branch(repo, branch, at).await
    }
    async fn read_file(&self, r: &RepoName, b: &BranchName, p: &RepoPath) -> Result<Option<Vec<u8>>, PortError> {
        self.inner.read_file(r, b, p).await
    }
    async fn read_tree(&self, repo: &RepoName, branch: &BranchName) -> Result<Option<FileSet>, PortError> {
        self.inner.read_tree(repo, branch).await
    }
    async fn merge_state(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        self.inner.merge_state(repo, request).await
    }
    async fn merge(&self, repo: &RepoName, request: &MergeRequest<'_>) -> Result<MergeState, PortError> {
        self.inner.merge(repo, request).await
    }
    async fn preview_merge(&self, r: &RepoName, m: &MergeRequest<'_>, f: &FileSet) -> Result<MergePreview, PortError> {
        self.inner.preview_merge(r, m, f).await
    }
    fn clone_url(&self, repo: &RepoName) -> String {
        self.inner.clone_url(repo)
    }
}

/// A writer in front of `host` for which `gitops` is shared.
fn shared(host: &Arc<Host>, contention: Contention, pause: Arc<dyn Pause>) -> Arc<SharedRepos> {
    Arc::new(SharedRepos::new(host.clone(), vec![repo("gitops")], contention, pause))
}

/// `name`'s registration through `writer`, as the engine asks for it: onto the tip it read.
fn register(writer: &Arc<SharedRepos>, name: &str) -> tokio::task::JoinHandle<Result<CommitId, PortError>> {
    let writer = writer.clone();
    let (files, message) = registration(name);
    tokio::spawn(async move {
        let tip = writer.branch_tip(&repo("gitops"), &main()).await?;
        let request = CommitRequest {
            branch: &main(),
            parent: tip.as_ref(),
            files: &files,
            mode: TreeMode::Overlay,
            message: &message,
            skip_unchanged: false,
        };
        writer.commit(&repo("gitops"), request).await
    })
}

/// Yields until `count()` is `n`: the spawned requests have queued.
async fn until(n: usize, count: impl Fn() -> usize) {
    while count() != n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn registrations_that_wait_while_the_writer_commits_go_into_one_commit() {
    let host = Host::new(true).await;
    let writer = shared(&host, Contention::until(Duration::from_secs(30)), Arc::new(NoPause));
    // The first registration's commit is held at the gate; nine more queue behind it.
    let first = register(&writer, "a0");
    until(1, || host.entered.load(Ordering::SeqCst)).await;
    let rest: Vec<_> = (1..10).map(|i| register(&writer, &format!("a{i}"))).collect();
    until(9, || writer.waiting(&repo("gitops"), &main())).await;
    host.gate.add_permits(2);

    let first = first.await.unwrap().unwrap();
    let mut ids = Vec::new();
    for request in rest {
        ids.push(request.await.unwrap().unwrap());
    }
    assert!(ids.iter().all(|id| *id == ids[0] && *id != first), "the nine share one commit: {ids:?}");
    let history = host.history();
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(history[1], "Register a0\n\nProvision-Run: a0/7\n", "a commit for one keeps its message");
    let together = &history[0];
    assert!(together.starts_with("Register a1 (and 8 more)\n\nRegister a1\nRegister a2\n"), "{together}");
    let tree = host.inner.read_tree(&repo("gitops"), &main()).await.unwrap().unwrap();
    for i in 0..10 {
        // Each run's step finds its commit again by its trailer, as after a crash.
        let trailer = format!("Provision-Run: a{i}/7");
        let found = writer.find_commit(&repo("gitops"), &main(), &trailer, 10).await.unwrap();
        assert_eq!(found.as_ref(), Some(if i == 0 { &first } else { &ids[0] }), "{trailer}");
        assert!(tree.get(&format!("services/a{i}/application.yaml")).is_some());
    }
    assert_eq!(host.commits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_race_lost_to_another_process_is_tried_again_on_the_new_tip() {
    let host = Host::new(false).await;
    let writer = shared(&host, Contention::until(Duration::from_secs(30)), Arc::new(NoPause));
    // Another server moves main right before each of our next three commits.
    host.races.store(3, Ordering::SeqCst);
    let id = register(&writer, "b").await.unwrap().unwrap();

    assert_eq!(host.commits.load(Ordering::SeqCst), 4, "three lost races, then the commit");
    let history = host.history();
    assert_eq!(history, ["Register b\n\nProvision-Run: b/7\n", "elsewhere", "elsewhere", "elsewhere"]);
    assert_eq!(host.inner.branch_tip(&repo("gitops"), &main()).await.unwrap(), Some(id));
    let tree = host.inner.read_tree(&repo("gitops"), &main()).await.unwrap().unwrap();
    assert_eq!(tree.len(), 4, "the others' files stay: it is an overlay");
}

/// Waits with the tokio timer.
struct Sleep;

#[async_trait]
impl Pause for Sleep {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[tokio::test]
async fn past_the_deadline_a_registration_fails_as_retryable_and_writes_nothing() {
    let host = Host::new(false).await;
    let contention = Contention {
        backoff: Backoff { base: Duration::from_millis(1), cap: Duration::from_millis(5) },
        deadline: Duration::from_millis(60),
    };
    let writer = shared(&host, contention, Arc::new(Sleep));
    host.races.store(usize::MAX, Ordering::SeqCst);
    let error = register(&writer, "c").await.unwrap().unwrap_err();

    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(error.kind, PortErrorKind::Conflict);
    assert!(error.message.starts_with("gave up committing to branch main of gitops after "), "{}", error.message);
    let lost = host.commits.load(Ordering::SeqCst);
    assert!(lost > 2, "it tried again and again before giving up: {lost} attempts");
    assert!(error.message.contains(&format!("after {lost} attempts")), "{}", error.message);
    assert!(host.history().iter().all(|m| m == "elsewhere"), "nothing of c was committed");
    // The writer stopped; the next request starts another.
    host.races.store(0, Ordering::SeqCst);
    register(&writer, "d").await.unwrap().unwrap();
    assert_eq!(host.history()[0], "Register d\n\nProvision-Run: d/7\n");
}

#[tokio::test]
async fn a_request_that_cannot_be_committed_fails_alone() {
    let host = Host::new(true).await;
    let writer = shared(&host, Contention::until(Duration::from_secs(30)), Arc::new(NoPause));
    let first = register(&writer, "e0");
    until(1, || host.entered.load(Ordering::SeqCst)).await;
    // `services/e0/application.yaml/x` needs a directory where e0 put a file: that one cannot
    // be committed onto any tip. It waits between two that can.
    let before = register(&writer, "e1");
    let broken = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let files = files(&["services/e0/application.yaml/x"]);
            let request = CommitRequest {
                branch: &main(),
                parent: None,
                files: &files,
                mode: TreeMode::Overlay,
                message: "Register broken\n\nProvision-Run: broken/7\n",
                skip_unchanged: false,
            };
            writer.commit(&repo("gitops"), request).await
        })
    };
    until(2, || writer.waiting(&repo("gitops"), &main())).await;
    let after = register(&writer, "e2");
    until(3, || writer.waiting(&repo("gitops"), &main())).await;
    host.gate.add_permits(Semaphore::MAX_PERMITS / 2);

    first.await.unwrap().unwrap();
    before.await.unwrap().unwrap();
    after.await.unwrap().unwrap();
    let error = broken.await.unwrap().unwrap_err();
    assert_eq!(error.kind, PortErrorKind::Permanent, "{error:?}");
    let history = host.history();
    assert!(history.iter().all(|m| !m.contains("broken")), "{history:#?}");
    for name in ["e0", "e1", "e2"] {
        let trailer = format!("Provision-Run: {name}/7");
        assert!(writer.find_commit(&repo("gitops"), &main(), &trailer, 10).await.unwrap().is_some(), "{trailer}");
    }
}

#[tokio::test]
async fn other_repositories_and_other_commits_keep_the_callers_compare_and_swap() {
    let host = Host::new(false).await;
    let writer = shared(&host, Contention::until(Duration::from_secs(30)), Arc::new(NoPause));
    let files = files(&["a"]);
    let commit = |repo_name: &'static str, mode: TreeMode, parent: Option<CommitId>| {
        let writer = writer.clone();
        let files = files.clone();
        async move {
            let request = CommitRequest {
                branch: &main(),
                parent: parent.as_ref(),
                files: &files,
                mode,
                message: "m",
                skip_unchanged: false,
            };
            writer.commit(&repo(repo_name), request).await
        }
    };
    let own = commit("own", TreeMode::Overlay, None).await.unwrap();
    // A stale parent: the caller's compare-and-swap answers, nothing retries it.
    let stale = commit("own", TreeMode::Overlay, None).await.unwrap_err();
    assert_eq!(stale.kind, PortErrorKind::Conflict);
    assert_eq!(host.inner.history("own", "main").len(), 1);
    assert!(commit("own", TreeMode::Overlay, Some(own)).await.is_ok());
    // Replacing the tree of the shared repository is not an overlay: it is not folded either.
    host.foreign_commit(0).await;
    let replaced = commit("gitops", TreeMode::Replace, None).await.unwrap_err();
    assert_eq!(replaced.kind, PortErrorKind::Conflict);
    assert_eq!(host.commits.load(Ordering::SeqCst), 4);
}

#[test]
fn a_combined_message_keeps_every_body_and_every_trailer() {
    let one = "Register a for qa\n\nProvision-Run: r1/7\n";
    assert_eq!(combined_message(&[one]), one);
    let two = "Register b for qa\n\nProvision-Run: r2/7\nCo-authored-by: x\n";
    let no_trailers = "Register c\n\nnot: a trailer block\nbecause this line is prose";
    assert_eq!(
        combined_message(&[one, two, no_trailers]),
        "Register a for qa (and 2 more)\n\nRegister a for qa\n\nRegister b for qa\n\nRegister c\n\nnot: a trailer block\nbecause this line is prose\n\nProvision-Run: r1/7\nProvision-Run: r2/7\nCo-authored-by: x\n"
    );
    assert_eq!(
        combined_message(&[one, two]),
        "Register a for qa (and 1 more)\n\nRegister a for qa\nRegister b for qa\n\nProvision-Run: r1/7\nProvision-Run: r2/7\nCo-authored-by: x\n"
    );
}
