//! Workspaces: a person asks for a dev box, the request is checked (the address's real domain
//! against the allowlist, the SSH key, the amounts against the bounds and the owner's quota)
//! and becomes a `Workspace` in the cluster, which the controller makes real. Who may see and
//! delete which workspace is decided here.

use crate::config::WorkspaceSettings;
use crate::{App, Error};
use provision_core::ports::PortErrorKind;
use provision_core::problem::{Collector, Problem};
use provision_core::workspace::{ShortName, Workspace, WorkspaceCluster, WorkspaceName};
use provision_core::{Amount, Bytes, Cpu, EmailAddress, Invalid, ResourceBounds, SshPublicKey};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `Workspace` CustomResourceDefinition as YAML.
pub fn crd_yaml() -> String {
    provision_k8s::workspace::crd_yaml()
}

/// Who is asking: the holder of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub email: EmailAddress,
    /// Sees and deletes every workspace, and asks for others.
    pub admin: bool,
}

/// An amount as a client sends it: a Kubernetes quantity (`"500m"`, `"4Gi"`) or a number (CPU
/// in cores, memory and storage in GiB, as the seed's API took them).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AmountInput {
    Number(f64),
    Text(String),
}

/// `POST /v1/workspaces` and `orchestrator workspace create`, as sent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceInput {
    /// The owner's address; its domain must be allowed.
    #[serde(default)]
    pub email: String,
    /// A name for it, unique among the owner's: a-z, 0-9 and '-', at most 20.
    #[serde(default)]
    pub name: String,
    /// `"500m"`, `"2"` or a number of cores.
    pub cpu: Option<AmountInput>,
    /// `"4Gi"` or a number of GiB.
    pub memory: Option<AmountInput>,
    /// `"20Gi"` or a number of GiB; default: `workspaces.default_storage`.
    pub storage: Option<AmountInput>,
    /// One OpenSSH public key line (ed25519, ecdsa, or rsa of 2048 bits or more).
    #[serde(default)]
    pub ssh_public_key: String,
    /// The image; default: `workspaces.image`.
    pub image: Option<String>,
}

fn cpu(input: &AmountInput) -> Result<Cpu, Invalid> {
    match input {
        AmountInput::Number(cores) => Cpu::from_cores(*cores),
        AmountInput::Text(text) => Cpu::parse(text),
    }
}

fn bytes(input: &AmountInput) -> Result<Bytes, Invalid> {
    match input {
        AmountInput::Number(gib) => Bytes::from_gib(*gib),
        AmountInput::Text(text) => Bytes::parse(text),
    }
}

/// `value` parsed and within `bounds`, problems under `field`.
fn amount<T: Amount>(
    c: &mut Collector,
    field: &str,
    value: Option<&AmountInput>,
    default: Option<T>,
    parse: fn(&AmountInput) -> Result<T, Invalid>,
    bounds: &ResourceBounds<T>,
) -> Option<T> {
    let value = match (value, default) {
        (Some(v), _) => c.take(field, parse(v))?,
        (None, Some(d)) => d,
        (None, None) => {
            c.push(Problem::new(field, "required", format!("{field} is required")));
            return None;
        }
    };
    c.take("", bounds.check(field, value))
}

fn image_problem(image: &str) -> Option<String> {
    if image.is_empty() || image.len() > 255 {
        Some("image must be 1 to 255 characters".to_owned())
    } else if !image.bytes().all(|b| b.is_ascii_graphic()) {
        Some("image must hold no whitespace or non-ASCII characters".to_owned())
    } else {
        None
    }
}

/// Checks `input` for `caller`, every problem at once.
pub fn validate(settings: &WorkspaceSettings, caller: &Caller, input: &WorkspaceInput) -> Result<Workspace, Error> {
    let Some(allowed) = &settings.allowed_domains else {
        return Err(Error::WorkspacesOff);
    };
    let mut c = Collector::new();
    let email = c.take("email", EmailAddress::parse(&input.email));
    if let Some(email) = &email {
        if let Err(invalid) = allowed.check(email) {
            for problem in invalid.into_problems() {
                c.push(problem);
            }
        } else if !caller.admin && email.normalized() != caller.email.normalized() {
            c.push(Problem::new("email", "not-yours", "a workspace can be asked for only with your own address"));
        }
    }
    let short = c.take("name", ShortName::parse(&input.name));
    let cpu = amount(&mut c, "cpu", input.cpu.as_ref(), None, cpu, &settings.cpu);
    let memory = amount(&mut c, "memory", input.memory.as_ref(), None, bytes, &settings.memory);
    let storage =
        amount(&mut c, "storage", input.storage.as_ref(), Some(settings.default_storage), bytes, &settings.storage);
    let key = c.take("ssh_public_key", SshPublicKey::parse(&input.ssh_public_key));
    let image = input.image.clone().unwrap_or_else(|| settings.image.clone());
    if let Some(problem) = image_problem(&image) {
        c.push(Problem::new("image", "invalid-image", problem));
    }
    c.finish()?;
    let checked = "every field was checked by the collector";
    Ok(Workspace::new(
        &email.expect(checked),
        short.expect(checked),
        cpu.expect(checked),
        memory.expect(checked),
        storage.expect(checked),
        key.expect(checked),
        image,
    ))
}

/// Refuses `new` when its owner would hold more than the quota allows with it.
fn check_quota(settings: &WorkspaceSettings, new: &Workspace, existing: &[Workspace]) -> Result<(), Error> {
    let quota = &settings.quota;
    let mut c = Collector::new();
    let live: Vec<&Workspace> = existing.iter().filter(|w| w.is_live()).collect();
    if live.len() >= quota.count as usize {
        c.push(Problem::new(
            "",
            "quota-count",
            format!("{} holds {} workspace(s), the most one person may; delete one first", new.owner, live.len()),
        ));
    }
    let cpu_used: u64 = live.iter().map(|w| w.cpu.millicores()).sum();
    let memory_used: u64 = live.iter().map(|w| w.memory.as_u64()).sum();
    let storage_used: u64 = live.iter().map(|w| w.storage.as_u64()).sum();
    let over = |field: &str, used: u64, asked: u64, limit: u64, show: &dyn Fn(u64) -> String| {
        (used + asked > limit).then(|| {
            Problem::new(
                field,
                "quota-total",
                format!(
                    "{field}: {} in use plus {} asked exceeds the quota of {}",
                    show(used),
                    show(asked),
                    show(limit)
                ),
            )
        })
    };
    let show_cpu = |m: u64| Cpu::from_millicores(m).map_or_else(|| "0".to_owned(), |c| c.human());
    let show_bytes = |b: u64| Bytes::new(b).map_or_else(|| "0".to_owned(), |b| b.human());
    for problem in [
        over("cpu", cpu_used, new.cpu.millicores(), quota.cpu.millicores(), &show_cpu),
        over("memory", memory_used, new.memory.as_u64(), quota.memory.as_u64(), &show_bytes),
        over("storage", storage_used, new.storage.as_u64(), quota.storage.as_u64(), &show_bytes),
    ]
    .into_iter()
    .flatten()
    {
        c.push(problem);
    }
    c.finish().map_err(Error::Quota)
}

impl App {
    /// Attaches the cluster workspaces live in.
    pub fn with_workspaces(mut self, cluster: Arc<dyn WorkspaceCluster>) -> Self {
        self.workspaces = Some(cluster);
        self
    }

    fn cluster(&self) -> Result<&Arc<dyn WorkspaceCluster>, Error> {
        self.workspaces.as_ref().ok_or(Error::NoCluster)
    }

    /// Checks and creates a workspace for `caller`.
    pub async fn create_workspace(&self, caller: &Caller, input: &WorkspaceInput) -> Result<Workspace, Error> {
        let settings = &self.config.workspaces;
        let new = validate(settings, caller, input)?;
        let cluster = self.cluster()?;
        let existing = cluster.list(Some(&new.owner)).await.map_err(Error::Cluster)?;
        if existing.iter().any(|w| w.name == new.name) {
            return Err(Error::WorkspaceExists { name: new.name.to_string() });
        }
        check_quota(settings, &new, &existing)?;
        match cluster.create(&new).await {
            Ok(view) => Ok(view),
            Err(e) if e.kind == PortErrorKind::AlreadyExists => {
                Err(Error::WorkspaceExists { name: new.name.to_string() })
            }
            Err(e) => Err(Error::Cluster(e)),
        }
    }

    /// The caller's workspaces; an admin's `all` lists everyone's.
    pub async fn workspaces(&self, caller: &Caller, all: bool) -> Result<Vec<Workspace>, Error> {
        let owner = if all && caller.admin { None } else { Some(&caller.email) };
        self.cluster()?.list(owner).await.map_err(Error::Cluster)
    }

    /// One workspace the caller may see; another's is "not found", as if it did not exist.
    pub async fn workspace(&self, caller: &Caller, name: &str) -> Result<Workspace, Error> {
        // A name no workspace can have names none: not found, before the cluster is asked.
        let parsed = WorkspaceName::parse(name).map_err(|_| Error::WorkspaceNotFound(name.to_owned()))?;
        let found = self.cluster()?.get(&parsed).await.map_err(Error::Cluster)?;
        match found {
            Some(w) if caller.admin || w.is_owned_by(&caller.email) => Ok(w),
            _ => Err(Error::WorkspaceNotFound(name.to_owned())),
        }
    }

    /// Deletes a workspace the caller may see (its objects go with it).
    pub async fn delete_workspace(&self, caller: &Caller, name: &str) -> Result<Workspace, Error> {
        let view = self.workspace(caller, name).await?;
        if !self.cluster()?.delete(&view.name).await.map_err(Error::Cluster)? {
            return Err(Error::WorkspaceNotFound(name.to_owned()));
        }
        Ok(view)
    }
}

impl App {
    fn token_store(&self) -> Result<&Arc<dyn provision_core::ports::Tokens>, Error> {
        self.tokens.as_ref().ok_or(Error::NoTokens)
    }

    /// The caller an `Authorization` header names; `Unauthorized` for none, a malformed, an
    /// unknown or a revoked token (the reason is logged by id, never with the token).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Error> {
        let tokens = self.token_store()?;
        let header = authorization.ok_or(Error::Unauthorized(crate::tokens::TokenError::NotBearer))?;
        match crate::tokens::authenticate(tokens.as_ref(), self.token_file.as_deref(), header, jiff::Timestamp::now())
            .await
        {
            Ok(principal) => Ok(principal.caller()),
            Err(e) if e.is_unauthorized() => Err(Error::Unauthorized(e)),
            Err(e) => Err(Error::Token(e)),
        }
    }

    /// A new token for `email` (printed once by the caller: only its hash is kept).
    pub async fn issue_token(
        &self,
        email: &str,
        admin: bool,
    ) -> Result<(crate::tokens::Token, provision_core::ports::TokenRecord), Error> {
        let email = EmailAddress::parse(email).map_err(|e| Error::Invalid(e.within("email")))?;
        let mut random = |buf: &mut [u8]| getrandom::fill(buf).expect("the operating system provides randomness");
        crate::tokens::issue(self.token_store()?.as_ref(), &email, admin, jiff::Timestamp::now(), &mut random)
            .await
            .map_err(Error::Token)
    }

    /// The seed's `POST /api/delete {"Email"}`: deletes every workspace of `email`, only when
    /// `workspaces.legacy_delete` is on and `email` holds a confirmed token (one that was used).
    pub async fn legacy_delete(&self, email: &str) -> Result<Vec<Workspace>, Error> {
        if !self.config.workspaces.legacy_delete {
            return Err(Error::LegacyDeleteOff);
        }
        let email = EmailAddress::parse(email).map_err(|e| Error::Invalid(e.within("Email")))?;
        let confirmed =
            crate::tokens::confirmed(self.token_store()?.as_ref(), self.token_file.as_deref(), &email).await;
        if !confirmed.map_err(Error::Token)? {
            return Err(Error::Unauthorized(crate::tokens::TokenError::Unknown));
        }
        let owner = Caller { email, admin: false };
        let mine = self.workspaces(&owner, false).await?;
        for w in &mine {
            self.cluster()?.delete(&w.name).await.map_err(Error::Cluster)?;
        }
        Ok(mine)
    }
}

impl App {
    /// Every token (the store's and the file's), or those of `email`; never a secret.
    pub async fn tokens(&self, email: Option<&str>) -> Result<Vec<crate::tokens::TokenView>, Error> {
        let email = email.map(|e| EmailAddress::parse(e).map_err(|e| Error::Invalid(e.within("email")))).transpose()?;
        crate::tokens::list(self.token_store()?.as_ref(), self.token_file.as_deref(), email.as_ref())
            .await
            .map_err(Error::Token)
    }

    /// Revokes a token by its id (or its whole text, when it leaked); whether it was live.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, Error> {
        crate::tokens::revoke(
            self.token_store()?.as_ref(),
            self.token_file.as_deref(),
            id,
            None,
            jiff::Timestamp::now(),
        )
        .await
        .map_err(Error::Token)
    }
}
