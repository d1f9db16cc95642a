//! Plans: what a request will do, as an ordered list of idempotent steps.
//!
//! Each [`Step`] names one side effect. The engine asks the ports whether the effect is
//! already there before acting, so running a step twice is the same as running it once:
//! that is what makes a crashed run safe to resume.

use crate::fileset::{FileSet, RepoPath};
use crate::names::{BranchName, RepoName, ServiceName};
use crate::problem::Invalid;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// A run's identity: `[0-9a-z-]`, 1 to 64 characters (the app uses UUIDv7s).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(String);

impl RunId {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if value.is_empty()
            || value.len() > 64
            || !value.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-')
        {
            return Err(Invalid::one(
                "",
                "invalid-run-id",
                format!("{value:?} is not a run id (1-64 of a-z, 0-9, '-')"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trailer line that marks a commit as made by step `index` of this run.
    pub fn trailer(&self, index: usize) -> String {
        format!("{TRAILER_KEY}: {}/{index}", self.0)
    }

    /// Whether `message` has a trailer line of one of this run's steps.
    pub fn marks(&self, message: &str) -> bool {
        message.lines().any(|line| {
            line.strip_prefix(TRAILER_KEY)
                .and_then(|rest| rest.strip_prefix(": "))
                .and_then(|rest| rest.strip_prefix(self.0.as_str()))
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        })
    }
}

/// The git trailer key marking commits made by a run's step.
pub const TRAILER_KEY: &str = "Provision-Run";

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunId({})", self.0)
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How a commit's files relate to the branch's current tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TreeMode {
    /// The files are the whole new tree (a pristine render).
    Replace,
    /// The files are added to (or replace files in) the current tree; nothing is removed.
    Overlay,
    /// The files' paths are removed from the current tree (their contents are not looked at);
    /// a path that is not there is no error. Undoing a registration is such a commit: history
    /// is added to, never rewritten.
    Remove,
}

/// One side effect.
#[derive(Clone, Debug)]
pub enum Effect {
    /// The repository exists. A `shared` one (the GitOps repository) may hold anything; a
    /// run's own repository is accepted only if it is empty or holds a commit of this run, so
    /// anyone else's repository is never written to.
    EnsureRepo { repo: RepoName, description: String, shared: bool },
    /// `files` are committed on `branch` with `message` (the engine appends the run trailer);
    /// with `skip_unchanged`, files that give the branch's tree again commit nothing.
    Commit {
        repo: RepoName,
        branch: BranchName,
        files: Arc<FileSet>,
        mode: TreeMode,
        message: String,
        skip_unchanged: bool,
    },
    /// `branch` exists; if it did not, it starts at the tip of `from`.
    StartBranch { repo: RepoName, branch: BranchName, from: BranchName },
    /// The repository is gone ([`crate::ports::GitHost::delete_repo`]). With `only_by`, it is
    /// deleted only while every commit in it carries a trailer of that run: work anyone added
    /// since is never deleted unless the plan says so (`only_by: None`, undo's `--force`).
    DeleteRepo { repo: RepoName, only_by: Option<RunId> },
    /// The inventory no longer lists `service`, if run `created_by` made its entry
    /// ([`crate::ports::Store::forget_service`]).
    ForgetService { service: ServiceName, created_by: RunId },
    /// `from` is merged into `into` ([`crate::ports::GitHost::merge`]): `into`'s history holds
    /// `from`'s tip, or the merge with its conflicts is on `conflict_branch`.
    Merge {
        repo: RepoName,
        into: BranchName,
        from: BranchName,
        conflict_branch: BranchName,
        message: String,
        renames: Arc<[(RepoPath, RepoPath)]>,
    },
}

impl Effect {
    /// The repository this effect touches; none for the inventory's.
    pub fn repo(&self) -> Option<&RepoName> {
        match self {
            Effect::EnsureRepo { repo, .. }
            | Effect::Commit { repo, .. }
            | Effect::StartBranch { repo, .. }
            | Effect::DeleteRepo { repo, .. }
            | Effect::Merge { repo, .. } => Some(repo),
            Effect::ForgetService { .. } => None,
        }
    }
}

/// A named effect. Names are for people (`runs show`); steps are identified by index.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    pub effect: Effect,
    /// The steps that must be done before this one starts, all earlier in the plan. Steps
    /// whose dependencies are done may run at the same time.
    pub after: Vec<usize>,
}

/// The ordered steps of one run.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// When a step fails, go on with every step that does not depend on it (the plan's parts
    /// are independent, like the repositories of an upgrade of many services); the run still
    /// fails. Without it, a failure stops the run once its wave is finished.
    pub keep_going: bool,
}

impl Plan {
    /// Adds a step that runs after the previous one (the plan so far stays a sequence).
    /// Returns its index.
    pub fn push(&mut self, name: impl Into<String>, effect: Effect) -> usize {
        let after = self.steps.len().checked_sub(1).into_iter().collect();
        self.push_after(name, effect, after)
    }

    /// Adds a step that runs once the steps `after` are done, and returns its index.
    ///
    /// Panics if `after` names a step not yet in the plan: dependencies point backwards, so
    /// every plan can run to its end.
    pub fn push_after(&mut self, name: impl Into<String>, effect: Effect, after: Vec<usize>) -> usize {
        let index = self.steps.len();
        assert!(after.iter().all(|&a| a < index), "step {index} depends on a step that is not before it: {after:?}");
        self.steps.push(Step { name: name.into(), effect, after });
        index
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}
