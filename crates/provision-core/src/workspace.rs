//! Workspaces (developers' boxes on a cluster) in domain terms: the names, the one model of a
//! workspace ([`Workspace`]: what was asked for, typed, and where it stands), and the
//! [`WorkspaceCluster`] port the application asks.
//!
//! A workspace's name starts with a slug of its owner's address and ends with a hash of the
//! owner and the name they chose, so it says whose it is and two people never collide.
//!
//! The model has two other shapes, each converted at its edge: the custom resource on the
//! cluster (`provision-k8s`) and the JSON of the API (`orchestrator-api`).

use crate::email::EmailAddress;
use crate::ports::PortError;
use crate::problem::{Invalid, Problem};
use crate::quantity::{Bytes, Cpu};
use crate::ssh::SshPublicKey;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// The longest name a person gives a workspace.
pub const SHORT_NAME_MAX: usize = 20;
/// Hex digits of the hash ending every workspace name.
const HASH_LEN: usize = 8;
/// The longest login derived from an address.
const USER_MAX: usize = 32;

/// The name a person gives their workspace (`devbox`): a DNS-1035 label of at most
/// [`SHORT_NAME_MAX`] characters, unique among theirs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ShortName(String);

impl ShortName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let mut problems = Vec::new();
        let mut push = |rule: &'static str, message: String| problems.push(Problem::new("", rule, message));
        if value.is_empty() {
            push("required", "workspace name must not be empty".into());
        } else {
            if value.len() > SHORT_NAME_MAX {
                push(
                    "too-long",
                    format!("workspace name is {} characters long; at most {SHORT_NAME_MAX} are allowed", value.len()),
                );
            }
            if !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                push("invalid-character", "workspace name may hold only a-z, 0-9 and '-'".into());
            }
            if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
                push("must-start-with-letter", "workspace name must start with a letter".into());
            }
            if value.ends_with('-') {
                push("trailing-dash", "workspace name must not end with '-'".into());
            }
        }
        if problems.is_empty() { Ok(Self(value.to_owned())) } else { Err(Invalid::new(problems)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A workspace's resource name: `<slug of the owner's local part>-<short>-<hash of owner and
/// short>` for the ones this system makes ([`WorkspaceName::new`]), a DNS-1123 label of at most
/// 63 characters that starts with who it belongs to and never collides between owners (the hash
/// covers the whole normalized address). [`WorkspaceName::parse`] reads one given back (a URL
/// path, the cluster): a name that could not be a workspace's is refused there, before it
/// reaches a URL or the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    /// The name of `owner`'s workspace `short`.
    pub fn new(owner: &EmailAddress, short: &ShortName) -> Self {
        let owner = owner.normalized();
        let hash = hex(&Sha256::digest(format!("{owner}\n{short}").as_bytes()))[..HASH_LEN].to_owned();
        let local = owner.split('@').next().unwrap_or_default();
        let mut slug = String::new();
        for c in local.chars() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        if !slug.starts_with(|c: char| c.is_ascii_lowercase()) {
            slug.insert(0, 'u');
        }
        let room = 63 - short.as_str().len() - HASH_LEN - 2;
        slug.truncate(room);
        let slug = slug.trim_end_matches('-');
        Self(format!("{slug}-{short}-{hash}"))
    }

    /// A DNS-1123 label: 1 to 63 of `a-z`, `0-9` and `-`, starting and ending with a letter or
    /// digit.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let fits = !value.is_empty()
            && value.len() <= 63
            && value.chars().all(|c| alnum(c) || c == '-')
            && value.starts_with(alnum)
            && value.ends_with(alnum);
        if fits {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid::new(vec![Problem::new(
                "",
                "invalid-name",
                "a workspace name is 1 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit",
            )]))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The label value naming an owner's objects: 16 hex digits of the SHA-256 of the normalized
/// address (an address is not a valid label value).
pub fn owner_label(normalized_owner: &str) -> String {
    hex(&Sha256::digest(normalized_owner.as_bytes()))[..16].to_owned()
}

/// The login on the box: the local part, lowercased, reduced to `[a-z0-9_-]`, starting with a
/// letter, at most 32 characters; `dev` when nothing is left.
pub fn login(owner: &EmailAddress) -> String {
    let mut user: String = owner
        .local()
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .skip_while(|c| !c.is_ascii_lowercase())
        .collect();
    user.truncate(USER_MAX);
    if user.is_empty() { "dev".to_owned() } else { user }
}

/// A workspace: what its owner asked for, every part typed and checked, and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub name: WorkspaceName,
    /// The name its owner gave it.
    pub short: ShortName,
    /// Normalized ([`EmailAddress::normalized`]).
    pub owner: EmailAddress,
    /// The login on the box ([`login`]).
    pub user: String,
    /// Requested and the limit.
    pub cpu: Cpu,
    /// Requested and the limit.
    pub memory: Bytes,
    /// The home volume's size.
    pub storage: Bytes,
    /// The only key that may log in (without its comment: nothing but the key is kept).
    pub key: SshPublicKey,
    /// An SSH server taking the key from `PUBLIC_KEY` and the user from `USER_NAME`.
    pub image: String,
    pub status: WorkspaceStatus,
}

impl Workspace {
    /// What `owner` asks for as `short`, not on a cluster yet: named, with its login, pending;
    /// the owner normalized and the key without its comment, as they are stored.
    pub fn new(
        owner: &EmailAddress,
        short: ShortName,
        cpu: Cpu,
        memory: Bytes,
        storage: Bytes,
        key: SshPublicKey,
        image: String,
    ) -> Self {
        let owner = EmailAddress::parse(&owner.normalized()).unwrap_or_else(|_| owner.clone());
        Workspace {
            name: WorkspaceName::new(&owner, &short),
            user: login(&owner),
            short,
            owner,
            cpu,
            memory,
            storage,
            key: key.without_comment(),
            image,
            status: WorkspaceStatus::default(),
        }
    }

    /// Whether it belongs to `email` (compared normalized).
    pub fn is_owned_by(&self, email: &EmailAddress) -> bool {
        self.owner.normalized() == email.normalized()
    }

    /// Whether it counts against its owner's quota: everything but what is being deleted.
    pub fn is_live(&self) -> bool {
        self.status.phase != WorkspacePhase::Deleting
    }
}

/// Where a workspace stands, as its cluster reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkspaceStatus {
    pub phase: WorkspacePhase,
    pub node_port: Option<u16>,
    /// The host to connect to.
    pub access_host: Option<String>,
    /// `ssh -p <port> <user>@<host>`, once there is a port.
    pub access_command: Option<String>,
    /// Why it failed.
    pub message: Option<String>,
    pub created_at: Option<Timestamp>,
}

/// Where a workspace stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub enum WorkspacePhase {
    /// Asked for; the controller has not acted yet.
    #[default]
    Pending,
    /// Its objects exist; it cannot be reached yet.
    Provisioning,
    /// Reachable over SSH.
    Ready,
    /// It cannot run as asked.
    Failed,
    /// Deleted; its objects are going.
    Deleting,
}

impl WorkspacePhase {
    pub const ALL: [WorkspacePhase; 5] = [
        WorkspacePhase::Pending,
        WorkspacePhase::Provisioning,
        WorkspacePhase::Ready,
        WorkspacePhase::Failed,
        WorkspacePhase::Deleting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkspacePhase::Pending => "Pending",
            WorkspacePhase::Provisioning => "Provisioning",
            WorkspacePhase::Ready => "Ready",
            WorkspacePhase::Failed => "Failed",
            WorkspacePhase::Deleting => "Deleting",
        }
    }

    /// The phase [`as_str`](Self::as_str) names (exactly, as the API and the cluster write it).
    pub fn parse(name: &str) -> Option<WorkspacePhase> {
        Self::ALL.into_iter().find(|phase| phase.as_str() == name)
    }
}

/// Where workspaces live: a Kubernetes cluster (provision-k8s) or, for tests, memory.
#[async_trait]
pub trait WorkspaceCluster: Send + Sync {
    /// Creates it (its status is the cluster's to set); `AlreadyExists` when a workspace of
    /// that name exists.
    async fn create(&self, workspace: &Workspace) -> Result<Workspace, PortError>;
    /// The workspaces of `owner`, or all, by name.
    async fn list(&self, owner: Option<&EmailAddress>) -> Result<Vec<Workspace>, PortError>;
    async fn get(&self, name: &WorkspaceName) -> Result<Option<Workspace>, PortError>;
    /// Whether there was one to delete.
    async fn delete(&self, name: &WorkspaceName) -> Result<bool, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn short(s: &str) -> ShortName {
        ShortName::parse(s).unwrap()
    }

    fn is_dns_label(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    #[test]
    fn names_start_with_the_owner_never_collide_and_stay_dns_labels() {
        let alice = email("alice@iiitm.ac.in");
        let a = WorkspaceName::new(&alice, &short("devbox")).to_string();
        assert!(a.starts_with("alice-devbox-") && a.len() == "alice-devbox-".len() + HASH_LEN, "{a}");
        assert_eq!(
            a,
            WorkspaceName::new(&email("Alice@IIITM.ac.in"), &short("devbox")).to_string(),
            "one person, one name"
        );
        assert_ne!(a, WorkspaceName::new(&email("alice@other.ac.in"), &short("devbox")).to_string());
        assert_ne!(a, WorkspaceName::new(&alice, &short("devbox2")).to_string());
        let long_local = format!("{}@iiitm.ac.in", "very.long.local.part".repeat(3));
        for (owner, name) in [
            ("first.last+tag@iiitm.ac.in", "gpu"),
            ("9lives@iiitm.ac.in", "a"),
            ("_@iiitm.ac.in", "x"),
            (long_local.as_str(), "nnnnnnnnnnnnnnnnnnnn"),
            ("a@b.cd", "mmmmmmmmmmmmmmmmmmmm"),
        ] {
            let name = WorkspaceName::new(&email(owner), &short(name)).to_string();
            assert_eq!(WorkspaceName::parse(&name).unwrap().as_str(), name);
            assert!(is_dns_label(&name), "{owner}: {name:?}");
        }
        assert!(
            WorkspaceName::new(&email("first.last+tag@iiitm.ac.in"), &short("gpu"))
                .as_str()
                .starts_with("first-last-tag-gpu-")
        );
        assert!(WorkspaceName::new(&email("9lives@iiitm.ac.in"), &short("a")).as_str().starts_with("u9lives-a-"));
    }

    #[test]
    fn names_given_back_are_dns_labels_or_refused() {
        for good in ["a", "alice-devbox-0a1b2c3d", "9", &"x".repeat(63)] {
            assert_eq!(WorkspaceName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a/b", "..", "a%2Fb", "ä", &"x".repeat(64)] {
            let problems = WorkspaceName::parse(bad).unwrap_err();
            assert_eq!(problems.problems()[0].rule, "invalid-name", "{bad:?}");
        }
    }

    #[test]
    fn short_names_and_logins() {
        for bad in ["", "Devbox", "1box", "box-", "a_b", &"x".repeat(SHORT_NAME_MAX + 1)] {
            assert!(ShortName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(login(&email("Jane.Doe+x@iiitm.ac.in")), "janedoex");
        assert_eq!(login(&email("42@iiitm.ac.in")), "dev");
        assert_eq!(login(&email("_a-b@iiitm.ac.in")), "a-b");
        assert_eq!(owner_label(&email("A@x.org").normalized()), owner_label("a@x.org"));
    }

    #[test]
    fn phases_parse_from_their_names_only() {
        for phase in WorkspacePhase::ALL {
            assert_eq!(WorkspacePhase::parse(phase.as_str()), Some(phase));
        }
        for other in ["", "ready", "Ready ", "Unknown"] {
            assert_eq!(WorkspacePhase::parse(other), None, "{other:?}");
        }
    }
}
