//! The blocking git work on one bare repository, done with gix.
//!
//! Every function here runs on a blocking thread and opens the repository itself: a gix
//! `Repository` is not `Sync`, and opening one is cheap (a few small files). Writes go
//! straight into the object database; a branch moves only through a locked
//! compare-and-swap ref edit, so a crash at any point leaves at worst unreferenced objects.

use crate::Signature;
use crate::error::Error;
use crate::objects;
use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};
use gix::objs::tree::{EntryKind, EntryMode};
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use provision_core::ports::CommitId;
use provision_core::{BranchName, FileEntry, FileSet, RepoName, RepoPath, TreeMode};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One repository on disk: its name (for messages), where it lives, and the host's cache of
/// opened repositories.
pub(crate) struct Location<'a> {
    pub name: &'a RepoName,
    pub path: &'a Path,
    pub opened: &'a OpenRepos,
}

/// Index slots of an opened repository's object store, at least.
const SLOTS: usize = 4 * objects::PACK_LIMIT;

/// Repositories opened before, by path. Opening reads the configuration and probes the
/// layout, a dozen file system calls; a cached handle skips them. What a handle caches stays
/// true: refs are read from disk on every lookup, and the object store looks for new packs
/// when an object is missing from those it knows.
///
/// It also remembers when each repository was last swept of the temporary files dead writers
/// left ([`Location::open_for_writing`]).
#[derive(Debug, Default)]
pub(crate) struct OpenRepos {
    repos: std::sync::Mutex<HashMap<PathBuf, gix::ThreadSafeRepository>>,
    swept: std::sync::Mutex<HashMap<PathBuf, std::time::Instant>>,
}

/// How often a host sweeps one repository of dead writers' temporary files: on its first
/// write, and again at its first write after this long (a sibling process may have died
/// since).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl OpenRepos {
    fn get(&self, path: &Path) -> Option<gix::Repository> {
        let map = self.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(path).map(gix::ThreadSafeRepository::to_thread_local)
    }

    fn put(&self, path: &Path, repo: &gix::Repository) {
        let mut map = self.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(path.to_owned(), repo.clone().into_sync());
    }

    /// Lets go of the handle of the repository at `path` (it was deleted: one made there later
    /// is another).
    fn forget(&self, path: &Path) {
        self.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(path);
        self.swept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(path);
    }

    /// Whether the repository at `path` is due a sweep; if so, it counts as swept now.
    fn sweep_due(&self, path: &Path) -> bool {
        let mut swept = self.swept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        match swept.get(path) {
            Some(last) if now.duration_since(*last) < SWEEP_EVERY => false,
            _ => {
                swept.insert(path.to_owned(), now);
                true
            }
        }
    }
}

impl Location<'_> {
    pub(crate) fn git(&self, action: impl Into<String>) -> impl FnOnce(gix::Error) -> Error + '_ {
        let action = action.into();
        move |source| Error::Git { repo: self.name.clone(), action, source }
    }

    fn exists(&self) -> bool {
        // Anything but a clear "not found" counts as there (a dangling symlink, an unreadable
        // parent): creating over it must not happen, and opening it reports the real cause.
        match self.path.symlink_metadata() {
            Ok(_) => true,
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    pub(crate) fn open(&self) -> Result<gix::Repository, Error> {
        if !self.exists() {
            return Err(Error::RepoNotFound { repo: self.name.clone() });
        }
        if let Some(repo) = self.opened.get(self.path) {
            return Ok(repo);
        }
        // Isolated: only the repository's own config counts, never the user's or the
        // system's, so what gets written does not depend on who runs the orchestrator.
        // A cached handle keeps a slot for every pack it has seen, removed ones included until
        // it lets go of them; more slots than packs a repository keeps (see
        // `objects::PACK_LIMIT`) let it live through pack merges.
        let slots = gix::odb::store::init::Slots::AsNeededByDiskState { multiplier: 2.0, minimum: SLOTS };
        let options = gix::open::Options::isolated().object_store_slots(slots);
        let repo = gix::open_opts(self.path, options).map_err(|source| Error::Open {
            repo: self.name.clone(),
            path: self.path.to_owned(),
            source,
        })?;
        self.opened.put(self.path, &repo);
        Ok(repo)
    }

    /// [`Self::open`], for a write. The first write of a repository by this host, and then one
    /// a minute, first removes the temporary files writers that were killed left in its object
    /// database, those old enough that no live writer can own them
    /// ([`objects::sweep_temporaries`] states the rule).
    pub(crate) fn open_for_writing(&self) -> Result<gix::Repository, Error> {
        let repo = self.open()?;
        if self.opened.sweep_due(self.path) {
            objects::sweep_temporaries(repo.git_dir(), std::time::SystemTime::now());
        }
        Ok(repo)
    }
}

impl Location<'_> {
    /// `refs/heads/<branch>`. [`BranchName`] is close to git's rules but not equal to them
    /// (it allows a trailing `.`), so git's own check has the last word.
    fn branch_ref(&self, branch: &BranchName) -> Result<FullName, Error> {
        FullName::try_from(format!("refs/heads/{branch}")).map_err(|_| Error::Unrepresentable {
            repo: self.name.clone(),
            what: format!("branch {branch}"),
            why: "git does not accept it as a branch name",
        })
    }
}

pub(crate) fn parse_id(id: &CommitId) -> Result<ObjectId, Error> {
    ObjectId::from_hex(id.0.as_bytes()).map_err(|_| Error::InvalidCommitId { id: id.0.clone() })
}

pub(crate) fn commit_id(id: ObjectId) -> CommitId {
    CommitId(id.to_hex().to_string())
}

pub(crate) fn describe(id: Option<ObjectId>) -> String {
    id.map_or_else(|| "no branch".to_owned(), |id| id.to_string())
}

pub(crate) fn exists(at: &Location<'_>) -> bool {
    at.exists()
}

/// Creates a bare repository whose `HEAD` is `refs/heads/main`.
///
/// Guarantees: the repository appears at its final path fully initialised or not at all.
/// It is built in a temporary directory in `<root>/.staging/` and renamed into place (the same
/// file system, so the rename is atomic). Creators of one repository take turns on a lock file
/// there (`<repo>.lock`, released by the kernel if the process dies, removed by its holder as it
/// lets go: see [`writers_lock`]), so a temporary directory
/// of the repository found while holding it was left by a crashed creator and is removed: a
/// crash leaves no orphan behind for long, and the root holds repositories only.
pub(crate) fn create(root: &Path, at: &Location<'_>, description: &str) -> Result<(), Error> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| Error::CreateRepo {
        repo: at.name.clone(),
        path: at.path.to_owned(),
        source,
    };
    let staging = root.join(STAGING);
    let _turn = writers_lock(at)?;
    remove_leftovers(&staging, at.name).map_err(|e| failed(Box::new(e)))?;
    if at.exists() {
        return Err(Error::RepoExists { repo: at.name.clone() });
    }
    let tmp = TempDir::create(&staging, at.name).map_err(|e| failed(Box::new(e)))?;
    write_layout(&tmp.path, description).map_err(|e| failed(Box::new(e)))?;
    match std::fs::rename(&tmp.path, at.path) {
        Ok(()) => {
            tmp.keep();
            Ok(())
        }
        // Someone else created it between our look and the rename (which never replaces a
        // non-empty directory).
        Err(_) if at.exists() => Err(Error::RepoExists { repo: at.name.clone() }),
        Err(e) => Err(failed(Box::new(e))),
    }
}

/// Deletes the repository: under the creators' lock it is renamed into `<root>/.staging/` as a
/// temporary directory of its own name (gone from the root at once, atomically), then removed.
/// A crash in between leaves a directory the next creation or deletion of that name removes.
pub(crate) fn delete(root: &Path, at: &Location<'_>) -> Result<(), Error> {
    let failed = |source: std::io::Error| Error::DeleteRepo { repo: at.name.clone(), path: at.path.to_owned(), source };
    let staging = root.join(STAGING);
    let _turn = writers_lock(at)?;
    remove_leftovers(&staging, at.name).map_err(failed)?;
    if !at.exists() {
        return Err(Error::RepoNotFound { repo: at.name.clone() });
    }
    let tmp = TempDir::create(&staging, at.name).map_err(failed)?;
    // `rename` replaces an empty directory: the one just made stands in for the repository.
    std::fs::rename(at.path, &tmp.path).map_err(failed)?;
    at.opened.forget(at.path);
    drop(tmp);
    Ok(())
}

/// Every commit reachable from a branch, each once, walking back from each tip (merges'
/// second parents too), at most `limit`, with its message.
pub(crate) fn log(at: &Location<'_>, limit: usize) -> Result<Vec<(CommitId, String)>, Error> {
    let repo = at.open()?;
    let mut stack: Vec<ObjectId> = Vec::new();
    for (_, tip) in branches(at)?.into_iter().rev() {
        stack.push(parse_id(&tip)?);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while let Some(id) = stack.pop() {
        if out.len() == limit {
            break;
        }
        if !seen.insert(id) {
            continue;
        }
        let reading = || at.git(format!("reading commit {id}"));
        let commit = repo.find_commit(id).map_err(reading())?;
        let message = commit.message_raw().map_err(reading())?.to_str_lossy().into_owned();
        let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
        stack.extend(parents.into_iter().rev());
        out.push((commit_id(id), message));
    }
    Ok(out)
}

/// Where repositories are made before they are renamed into the root.
pub(crate) const STAGING: &str = ".staging";

/// Removes the temporary directories of `repo` that crashed creators left. The caller holds
/// the repository's creation lock, so none of them is in use.
fn remove_leftovers(staging: &Path, repo: &RepoName) -> std::io::Result<()> {
    let prefix = format!("{repo}-");
    for entry in std::fs::read_dir(staging)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(suffix) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        // Exactly the random part `TempDir` appends, so `a-…` never matches `a-b-…`.
        if suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
            tracing::warn!(path = %entry.path().display(), "removing a repository left half-made by a crash");
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// The files of an empty bare repository (gitrepository-layout(5)) and nothing else: no
/// sample hooks, no templates, and no user configuration read, so `init.defaultBranch` cannot
/// rename `main`. Every file costs on slow disks, and this is what git needs.
///
/// Reflogs are on (`core.logAllRefUpdates`, off by default in bare repositories), so every
/// branch move the orchestrator made can be audited with `git reflog`.
fn write_layout(git_dir: &Path, description: &str) -> std::io::Result<()> {
    for dir in ["objects/info", "objects/pack", "refs/heads", "refs/tags"] {
        std::fs::create_dir_all(git_dir.join(dir))?;
    }
    std::fs::write(git_dir.join("HEAD"), "ref: refs/heads/main\n")?;
    std::fs::write(
        git_dir.join("config"),
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n\tlogAllRefUpdates = true\n",
    )?;
    let mut text = description.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    std::fs::write(git_dir.join("description"), text)
}

/// A directory removed on drop unless kept.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    fn create(root: &Path, repo: &RepoName) -> std::io::Result<Self> {
        let state = RandomState::new();
        let mut attempt = 0u32;
        loop {
            let random = state.hash_one((std::process::id(), attempt, std::time::SystemTime::now()));
            let path = root.join(format!("{repo}-{random:016x}"));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep
            && let Err(error) = std::fs::remove_dir_all(&self.path)
        {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a temporary repository");
        }
    }
}

pub(crate) fn tip(repo: &gix::Repository, at: &Location<'_>, branch: &BranchName) -> Result<Option<ObjectId>, Error> {
    let name = at.branch_ref(branch)?;
    let found = repo.try_find_reference(name.as_ref()).map_err(at.git(format!("reading branch {branch}")))?;
    match found {
        None => Ok(None),
        Some(mut reference) => {
            let id = reference.peel_to_id().map_err(at.git(format!("reading branch {branch}")))?;
            Ok(Some(id.detach()))
        }
    }
}

pub(crate) fn branch_tip(at: &Location<'_>, branch: &BranchName) -> Result<Option<CommitId>, Error> {
    let repo = at.open()?;
    Ok(tip(&repo, at, branch)?.map(commit_id))
}

pub(crate) fn branches(at: &Location<'_>) -> Result<Vec<(BranchName, CommitId)>, Error> {
    let repo = at.open()?;
    let listing = || at.git("listing branches");
    let platform = repo.references().map_err(listing())?;
    let mut out = Vec::new();
    for reference in platform.local_branches().map_err(listing())? {
        let mut reference = reference.map_err(listing())?;
        let full = reference.name().as_bstr().to_owned();
        let short = full.strip_prefix(b"refs/heads/").unwrap_or(&full);
        // A branch we cannot name would make a repository look emptier than it is, and
        // an empty repository is one the engine may write to: refuse instead.
        let branch =
            short.to_str().ok().and_then(|s| BranchName::parse(s).ok()).ok_or_else(|| Error::Unrepresentable {
                repo: at.name.clone(),
                what: format!("branch {full}"),
                why: "its name is not one the orchestrator accepts",
            })?;
        let id = reference.peel_to_id().map_err(at.git(format!("reading branch {branch}")))?;
        out.push((branch, commit_id(id.detach())));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

pub(crate) fn find_commit(
    at: &Location<'_>,
    branch: &BranchName,
    line: &str,
    limit: usize,
) -> Result<Option<CommitId>, Error> {
    let repo = at.open()?;
    let mut next = tip(&repo, at, branch)?;
    for _ in 0..limit {
        let Some(id) = next else { break };
        let reading = || at.git(format!("reading commit {id} of branch {branch}"));
        let commit = repo.find_commit(id).map_err(reading())?;
        if commit.message_raw().map_err(reading())?.lines().any(|l| l == line.as_bytes()) {
            return Ok(Some(commit_id(id)));
        }
        next = commit.parent_ids().next().map(|p| p.detach());
    }
    Ok(None)
}

/// What to commit, owned so it can cross into a blocking task.
pub(crate) struct CommitSpec {
    pub branch: BranchName,
    pub parent: Option<CommitId>,
    pub files: FileSet,
    pub mode: TreeMode,
    pub message: String,
    pub skip_unchanged: bool,
}

/// Writes `files` (blobs with their modes) and a tree of exactly them; answers the tree.
pub(crate) fn write_tree(repo: &gix::Repository, files: &FileSet) -> Result<ObjectId, gix::Error> {
    let mut editor = repo.edit_tree(ObjectId::empty_tree(repo.object_hash()))?;
    for (path, entry) in files.iter() {
        let blob = repo.write_blob(&*entry.content)?.detach();
        let kind = if entry.executable { EntryKind::BlobExecutable } else { EntryKind::Blob };
        editor.upsert(path.as_str(), kind, blob)?;
    }
    Ok(editor.write()?.detach())
}

/// Writes the files, their trees and a commit, then moves the branch to it.
///
/// Guarantees: the branch moves only if it still is at `spec.parent` when its lock is
/// held; otherwise nothing observable changes (the objects written stay unreferenced).
pub(crate) fn commit(at: &Location<'_>, signature: &Signature, spec: CommitSpec) -> Result<CommitId, Error> {
    let started = std::time::Instant::now();
    let branch = &spec.branch;
    reject_file_and_directory(at, branch, &spec.files)?;
    let parent = spec.parent.as_ref().map(parse_id).transpose()?;
    // New objects collect in memory and reach the disk together once the commit is complete.
    let mut repo = at.open_for_writing()?.with_object_memory();

    // Fail before writing anything if the branch already moved; the ref edit checks again.
    let current = tip(&repo, at, branch)?;
    if current != parent {
        return Err(Error::BranchMoved {
            repo: at.name.clone(),
            branch: branch.clone(),
            expected: describe(parent),
            actual: describe(current),
        });
    }

    let base = match (spec.mode, parent) {
        (TreeMode::Overlay | TreeMode::Remove, Some(parent)) => {
            let reading = || at.git(format!("reading commit {parent} of branch {branch}"));
            repo.find_commit(parent).map_err(reading())?.tree_id().map_err(reading())?.detach()
        }
        _ => ObjectId::empty_tree(repo.object_hash()),
    };
    if spec.mode == TreeMode::Overlay && parent.is_some() {
        reject_replacing_directories(&repo, at, branch, base, &spec.files)?;
    }
    let mut editor = repo.edit_tree(base).map_err(at.git(format!("reading the tree of branch {branch}")))?;
    if spec.mode == TreeMode::Remove {
        for path in spec.files.paths() {
            editor.remove(path.as_str()).map_err(at.git(format!("removing file {path} from the tree")))?;
        }
    }
    for (path, entry) in spec.files.iter().filter(|_| spec.mode != TreeMode::Remove) {
        let blob = repo.write_blob(&*entry.content).map_err(at.git(format!("writing file {path}")))?.detach();
        let kind = if entry.executable { EntryKind::BlobExecutable } else { EntryKind::Blob };
        editor.upsert(path.as_str(), kind, blob).map_err(at.git(format!("adding file {path} to the tree")))?;
    }
    let tree = editor.write().map_err(at.git(format!("writing the tree for branch {branch}")))?.detach();
    if let Some(parent) = parent
        && spec.skip_unchanged
    {
        let reading = || at.git(format!("reading commit {parent} of branch {branch}"));
        if repo.find_commit(parent).map_err(reading())?.tree_id().map_err(reading())? == tree {
            return Ok(commit_id(parent));
        }
    }

    let actor = actor(signature);
    let commit = gix::objs::Commit {
        tree,
        parents: parent.into_iter().collect(),
        author: actor.clone(),
        committer: actor,
        encoding: None,
        message: spec.message.into(),
        extra_headers: Vec::new(),
    };
    let id = repo.write_object(&commit).map_err(at.git(format!("writing a commit for branch {branch}")))?.detach();
    let objects = repo.objects.take_object_memory().unwrap_or_default();
    let new_objects = objects.len();
    objects::persist(&repo, objects).map_err(at.git(format!("storing the objects of a commit for branch {branch}")))?;

    let log = gix::reference::log::message("commit", commit.message.as_ref(), commit.parents.len());
    let expected = match parent {
        Some(parent) => PreviousValue::MustExistAndMatch(Target::Object(parent)),
        None => PreviousValue::MustNotExist,
    };
    let moved = move_branch(&repo, at, branch, expected, id, log, &commit.committer);
    let existed = moved.map_err(|e| match e {
        Moved::Conflict { actual } => {
            Error::BranchMoved { repo: at.name.clone(), branch: branch.clone(), expected: describe(parent), actual }
        }
        Moved::Failed(e) => e,
    })?;
    if parent.is_none() && existed {
        // The branch appeared, at this very commit, between our look and the lock: an
        // identical commit by someone else. The caller asked for a new branch; say it moved.
        return Err(Error::BranchMoved {
            repo: at.name.clone(),
            branch: branch.clone(),
            expected: describe(None),
            actual: id.to_string(),
        });
    }
    merge_packs(&repo, at);
    tracing::debug!(
        repo = %at.name,
        %branch,
        commit = %id,
        files = spec.files.len(),
        new_objects,
        elapsed_ms = started.elapsed().as_millis(),
        "committed"
    );
    Ok(commit_id(id))
}

/// Merges the repository's packs if they piled up ([`objects::consolidate`]). The commit is
/// made already, so a failure here is only logged: the packs stay, and the next commit tries
/// again.
pub(crate) fn merge_packs(repo: &gix::Repository, at: &Location<'_>) {
    if let Err(error) = objects::consolidate(repo) {
        tracing::warn!(repo = %at.name, %error, "could not merge the repository's packs");
    }
}

/// Overlaying adds and replaces files, it never removes any: a new file where the tree has a
/// directory (or below a path where it has a file) would remove what is there.
///
/// Only the trees on the way to the new files are read, so the cost follows the commit, not
/// the size of the repository (a GitOps repository holds every service ever registered).
fn reject_replacing_directories(
    repo: &gix::Repository,
    at: &Location<'_>,
    branch: &BranchName,
    base: ObjectId,
    files: &FileSet,
) -> Result<(), Error> {
    let reading = || at.git(format!("reading the tree of branch {branch}"));
    // The directories the new files go into, each of which the base may have as a file.
    let mut on_the_way: HashSet<&[u8]> = HashSet::new();
    for path in files.paths() {
        let p = path.as_str();
        on_the_way.extend(p.match_indices('/').map(|(i, _)| &p.as_bytes()[..i]));
    }
    // Whether each path of interest in the base tree is a directory.
    let mut kinds: HashMap<BString, bool> = HashMap::new();
    let mut pending = vec![(BString::default(), base)];
    while let Some((prefix, id)) = pending.pop() {
        let tree = repo.find_tree(id).map_err(reading())?;
        for entry in tree.decode().map_err(reading())?.entries {
            let mut path = prefix.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(entry.filename);
            let wanted = on_the_way.contains(path.as_slice());
            if !wanted && files.get(path.to_str_lossy().as_ref()).is_none() {
                continue;
            }
            if wanted && entry.mode.is_tree() {
                pending.push((path.clone(), entry.oid.to_owned()));
            }
            kinds.insert(path, entry.mode.is_tree());
        }
    }
    for path in files.paths() {
        let p = path.as_str();
        let below_a_file = p.match_indices('/').find(|(i, _)| kinds.get(&p.as_bytes()[..*i]) == Some(&false));
        let conflict = match below_a_file {
            Some((i, _)) => Some(&p[..i]),
            None if kinds.get(p.as_bytes()) == Some(&true) => Some(p),
            None => None,
        };
        if let Some(conflict) = conflict {
            return Err(Error::FileAndDirectory {
                repo: at.name.clone(),
                branch: branch.clone(),
                path: conflict.to_owned(),
            });
        }
    }
    Ok(())
}

/// A file set cannot hold `a` and `a/b` in one git tree; writing it would silently drop one.
fn reject_file_and_directory(at: &Location<'_>, branch: &BranchName, files: &FileSet) -> Result<(), Error> {
    for path in files.paths() {
        let p = path.as_str();
        for (i, _) in p.match_indices('/') {
            if files.get(&p[..i]).is_some() {
                return Err(Error::FileAndDirectory {
                    repo: at.name.clone(),
                    branch: branch.clone(),
                    path: p[..i].to_owned(),
                });
            }
        }
    }
    Ok(())
}

pub(crate) enum Moved {
    /// The branch was not where the edit expected it.
    Conflict {
        actual: String,
    },
    Failed(Error),
}

/// Moves `refs/heads/<branch>` to `new` if it matches `expected`, under the ref's lock, with
/// a reflog entry by `committer`. Returns whether the ref existed before.
///
/// Orchestrator processes writing one repository's refs take turns on its writers' lock in
/// the staging area, which the kernel releases when a process dies. So when, holding it, a
/// ref's own lock file stays in the way past gix's retries, it was left by a writer killed
/// mid-update: it is removed and the edit tried once more (git would otherwise refuse the ref
/// until someone deleted the file by hand).
pub(crate) fn move_branch(
    repo: &gix::Repository,
    at: &Location<'_>,
    branch: &BranchName,
    expected: PreviousValue,
    new: ObjectId,
    message: BString,
    committer: &gix::actor::Signature,
) -> Result<bool, Moved> {
    let name = at.branch_ref(branch).map_err(Moved::Failed)?;
    let _turn = writers_lock(at).map_err(Moved::Failed)?;
    let mut time = gix::date::parse::TimeBuf::default();
    let committer = committer.to_ref(&mut time);
    let edit = || RefEdit {
        change: Change::Update {
            log: LogChange { mode: RefLog::AndReference, force_create_reflog: false, message: message.clone() },
            expected: expected.clone(),
            new: Target::Object(new),
        },
        name: name.clone(),
        deref: false,
    };
    let mut result = repo.edit_references_as([edit()], Some(committer));
    if let Err(e) = &result
        && e.is_retryable()
    {
        let stale = at.path.join(format!("{}.lock", name.as_bstr()));
        tracing::warn!(repo = %at.name, %branch, lock = %stale.display(), "removing a ref lock left by a killed writer");
        let _ = std::fs::remove_file(&stale);
        result = repo.edit_references_as([edit()], Some(committer));
    }
    let edits = result.map_err(|e| {
        use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
        if let Some(out_of_date) = e.downcast_any_ref::<ReferenceOutOfDate>() {
            Moved::Conflict { actual: out_of_date.actual.to_string() }
        } else if let Some(exists) = e.downcast_any_ref::<MustNotExist>() {
            Moved::Conflict { actual: exists.actual.to_string() }
        } else if e.is_conflict() || e.is_not_found() {
            // Not found: the edit required the branch and it is gone, which is a move too.
            Moved::Conflict { actual: "something else".to_owned() }
        } else if e.is_retryable() {
            Moved::Failed(Error::BranchLocked { repo: at.name.clone(), branch: branch.clone(), source: e })
        } else {
            Moved::Failed(Error::Git { repo: at.name.clone(), action: format!("moving branch {branch}"), source: e })
        }
    })?;
    // gix reports, for each edit, the value it found under the lock.
    Ok(edits.iter().any(|e| matches!(e.change, Change::Update { expected: PreviousValue::MustExistAndMatch(_), .. })))
}

/// Takes the repository's writers' lock (`<root>/.staging/<repo>.lock`), held until dropped.
///
/// The lock file exists only while someone holds or waits for it: the holder removes it as
/// it lets go, so the staging area does not gain a file per repository ever created or
/// written. That is safe because a file is only ever removed by its holder, and a taker
/// checks, once it holds a file's lock, that the file still is the one at the path; a waiter
/// that got the lock of a file its holder removed (or that a newcomer has replaced since) holds
/// nothing anyone else would respect, so it lets go and takes the lock again. Whoever holds
/// the lock of the file at the path is the one holder.
fn writers_lock(at: &Location<'_>) -> Result<WritersLock, Error> {
    use std::os::unix::fs::MetadataExt;
    let root = at.path.parent().unwrap_or(Path::new("."));
    let path = root.join(STAGING).join(format!("{}.lock", at.name));
    let take = || -> std::io::Result<WritersLock> {
        loop {
            std::fs::create_dir_all(root.join(STAGING))?;
            let file = std::fs::File::options().create(true).truncate(false).write(true).open(&path)?;
            file.lock()?;
            let held = file.metadata()?;
            match std::fs::metadata(&path) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(WritersLock { file, path: path.clone() });
                }
                // Removed by the holder we waited for, or replaced by a newcomer's: try again.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    };
    take().map_err(|source| Error::WritersLock { repo: at.name.clone(), path: path.clone(), source })
}

/// A held writers' lock: its file is removed, then unlocked, when this is dropped.
struct WritersLock {
    file: std::fs::File,
    path: PathBuf,
}

impl Drop for WritersLock {
    fn drop(&mut self) {
        // Removed while still held, so no one can take the lock of this file and believe it
        // is the one at the path. Failing to remove it only leaves a file the next holder
        // uses (and removes); the lock itself goes with `file`.
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a writers' lock file");
        }
        let _ = self.file.unlock();
    }
}

pub(crate) fn create_branch(
    at: &Location<'_>,
    signature: &Signature,
    branch: &BranchName,
    commit: &CommitId,
) -> Result<(), Error> {
    let id = parse_id(commit)?;
    let repo = at.open_for_writing()?;
    let found = repo
        .try_find_header(id)
        .map_err(at.git(format!("looking up commit {id}")))?
        .is_some_and(|header| header.kind() == gix::objs::Kind::Commit);
    if !found {
        return Err(Error::CommitNotFound { repo: at.name.clone(), commit: commit.0.clone() });
    }
    let log: BString = format!("branch: Created from {id}").into();
    match move_branch(&repo, at, branch, PreviousValue::MustNotExist, id, log, &actor(signature)) {
        Ok(false) => Ok(()),
        Ok(true) | Err(Moved::Conflict { .. }) => {
            Err(Error::BranchExists { repo: at.name.clone(), branch: branch.clone() })
        }
        Err(Moved::Failed(e)) => Err(e),
    }
}

/// The signature of a commit or reflog entry made now, in UTC: the local offset would need
/// the system's time-zone database, which is read by walking thousands of files, and a
/// server's local zone means nothing to the people reading the history anyway.
pub(crate) fn actor(signature: &Signature) -> gix::actor::Signature {
    gix::actor::Signature {
        name: signature.name.as_str().into(),
        email: signature.email.as_str().into(),
        time: gix::date::Time::now_utc(),
    }
}

pub(crate) fn read_file(at: &Location<'_>, branch: &BranchName, path: &RepoPath) -> Result<Option<Vec<u8>>, Error> {
    let repo = at.open()?;
    let Some(tip) = tip(&repo, at, branch)? else { return Ok(None) };
    let reading = || at.git(format!("reading {path} on branch {branch}"));
    let tree = repo.find_commit(tip).map_err(reading())?.tree().map_err(reading())?;
    let Some(entry) = tree.lookup_entry(path.as_str().split('/')).map_err(reading())? else {
        return Ok(None);
    };
    let mode = entry.mode();
    if mode.is_tree() {
        return Ok(None);
    }
    if !mode.is_blob() {
        return Err(unrepresentable(at, branch, path.as_str(), mode));
    }
    let blob = entry.object().map_err(reading())?;
    Ok(Some(blob.detach().data))
}

pub(crate) fn unrepresentable(at: &Location<'_>, branch: &BranchName, path: &str, mode: EntryMode) -> Error {
    Error::Unrepresentable {
        repo: at.name.clone(),
        what: format!("{path} on branch {branch}"),
        why: if mode.is_link() { "it is a symbolic link" } else { "it is a submodule" },
    }
}

pub(crate) fn read_tree(at: &Location<'_>, branch: &BranchName) -> Result<Option<FileSet>, Error> {
    let repo = at.open()?;
    let Some(tip) = tip(&repo, at, branch)? else { return Ok(None) };
    let reading = || at.git(format!("reading the tree of branch {branch}"));
    let root = repo.find_commit(tip).map_err(reading())?.tree_id().map_err(reading())?.detach();
    let mut files = FileSet::new();
    // Identical contents share one allocation, as they share one blob.
    let mut blobs: HashMap<ObjectId, Arc<[u8]>> = HashMap::new();
    let mut pending = vec![(String::new(), root)];
    while let Some((prefix, id)) = pending.pop() {
        let tree = repo.find_tree(id).map_err(reading())?;
        let entries: Vec<(EntryMode, BString, ObjectId)> = tree
            .decode()
            .map_err(reading())?
            .entries
            .iter()
            .map(|e| (e.mode, e.filename.to_owned(), e.oid.to_owned()))
            .collect();
        for (mode, name, oid) in entries {
            let Ok(name) = name.to_str() else {
                return Err(Error::Unrepresentable {
                    repo: at.name.clone(),
                    what: format!("a path below {prefix:?} on branch {branch}"),
                    why: "it is not UTF-8",
                });
            };
            let path = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
            if mode.is_tree() {
                pending.push((path, oid));
                continue;
            }
            if !mode.is_blob() {
                return Err(unrepresentable(at, branch, &path, mode));
            }
            let repo_path = RepoPath::parse(&path).map_err(|_| Error::Unrepresentable {
                repo: at.name.clone(),
                what: format!("{path:?} on branch {branch}"),
                why: "it is not a path the orchestrator accepts",
            })?;
            let content = match blobs.get(&oid) {
                Some(content) => content.clone(),
                None => {
                    let blob = repo.find_blob(oid).map_err(at.git(format!("reading {path} on branch {branch}")))?;
                    let content: Arc<[u8]> = blob.data.as_slice().into();
                    blobs.insert(oid, content.clone());
                    content
                }
            };
            files.insert(repo_path, FileEntry { content, executable: mode.is_executable() });
        }
    }
    Ok(Some(files))
}
