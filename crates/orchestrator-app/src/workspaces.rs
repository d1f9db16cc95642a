//! Workspaces: a person asks for a dev box, the request is checked (the address's real domain
//! against the allowlist, the SSH key, the amounts against the bounds and the owner's quota)
//! and becomes a `Workspace` in the cluster, which the controller makes real. Who may see and
//! delete which workspace is decided here.

use crate::auth::{self, Auth, Caller};
use crate::config::WorkspaceSettings;
use crate::error::{Classified, ErrorKind};
use provision_core::ports::{PortError, PortErrorKind};
use provision_core::problem::{Collector, Problem};
use provision_core::workspace::{ShortName, Workspace, WorkspaceCluster, WorkspaceName};
use provision_core::{Amount, Bytes, Cpu, EmailAddress, Invalid, ResourceBounds, SshPublicKey};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why a workspace request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("over quota: {0}")]
    Quota(Invalid),
    #[error("workspace {name} exists already")]
    WorkspaceExists { name: String },
    #[error("workspace {0} does not exist")]
    WorkspaceNotFound(String),
    /// Workspaces are not offered here: {0} says why.
    #[error("workspaces are not available here: {0}")]
    NotConfigured(String),
    /// Off (`workspaces.legacy_delete`), the route answers as if it did not exist.
    #[error("there is no route POST /api/delete")]
    LegacyDeleteOff,
    #[error(transparent)]
    Auth(#[from] auth::Error),
    #[error("the cluster failed")]
    Cluster(#[source] PortError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) | Error::Quota(_) => ErrorKind::Invalid,
            Error::WorkspaceExists { .. } => ErrorKind::Conflict,
            // Off, the legacy delete does not exist.
            Error::WorkspaceNotFound(_) | Error::LegacyDeleteOff => ErrorKind::NotFound,
            Error::NotConfigured(_) | Error::Cluster(_) => ErrorKind::Unavailable,
            Error::Auth(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(e) => e.code(),
            Error::Quota(_) => "quota",
            Error::WorkspaceExists { .. } => "workspace-exists",
            Error::WorkspaceNotFound(_) | Error::LegacyDeleteOff => "not-found",
            Error::NotConfigured(_) => "unavailable",
            Error::Cluster(_) => "cluster",
            Error::Auth(e) => e.code(),
        }
    }

    fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(e) | Error::Quota(e) => e.problems(),
            Error::Auth(e) => e.problems(),
            _ => &[],
        }
    }
}

/// The `Workspace` CustomResourceDefinition as YAML.
pub fn crd_yaml() -> String {
    provision_k8s::workspace::crd_yaml()
}

/// An amount as a client sends it: a Kubernetes quantity (`"500m"`, `"4Gi"`) or a number (CPU
/// in cores, memory and storage in GiB, as the seed's API took them).
///
/// Anything else (`true`, an object, `null` where an amount is required) is refused by type,
/// with a message saying what an amount is.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AmountInput {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for AmountInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Amount;
        impl serde::de::Visitor<'_> for Amount {
            type Value = AmountInput;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an amount: a number, or a string like \"2\" or \"4Gi\"")
            }
            fn visit_f64<E>(self, v: f64) -> Result<AmountInput, E> {
                Ok(AmountInput::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<AmountInput, E> {
                // An amount this large is refused by its bounds, not by its precision.
                #[allow(clippy::cast_precision_loss)]
                Ok(AmountInput::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<AmountInput, E> {
                #[allow(clippy::cast_precision_loss)]
                Ok(AmountInput::Number(v as f64))
            }
            fn visit_str<E>(self, v: &str) -> Result<AmountInput, E> {
                Ok(AmountInput::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Amount)
    }
}

/// The seed's `POST /api/request` as sent (`{"Email", "Specification": {"RAM", "CPU",
/// "PublicKey"}}`): RAM in GiB and CPU in cores, each a number or the same number written as
/// a string (`2`, `"2"`, `"0.5"`); no unit is taken. Problems are named by the seed's fields
/// (`Specification.RAM`). The workspace is named `default`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedInput {
    pub email: String,
    pub ram: AmountInput,
    pub cpu: AmountInput,
    pub public_key: String,
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

/// How one shape of request names its fields and reads an amount written as a string.
struct Shape {
    email: &'static str,
    name: &'static str,
    cpu: &'static str,
    memory: &'static str,
    storage: &'static str,
    ssh_public_key: &'static str,
    cpu_text: fn(&str) -> Result<Cpu, Invalid>,
    bytes_text: fn(&str) -> Result<Bytes, Invalid>,
}

/// `POST /v1/workspaces` and the command line: strings are Kubernetes quantities.
const V1: Shape = Shape {
    email: "email",
    name: "name",
    cpu: "cpu",
    memory: "memory",
    storage: "storage",
    ssh_public_key: "ssh_public_key",
    cpu_text: Cpu::parse,
    bytes_text: Bytes::parse,
};

/// The seed's `POST /api/request`: strings are plain numbers of cores and GiB.
const SEED: Shape = Shape {
    email: "Email",
    name: "name",
    cpu: "Specification.CPU",
    memory: "Specification.RAM",
    storage: "storage",
    ssh_public_key: "Specification.PublicKey",
    cpu_text: plain_cores,
    bytes_text: Bytes::parse_gib,
};

/// A number of cores written out (`"2"`, `"0.5"`), without a unit: the seed's `CPU`.
fn plain_cores(text: &str) -> Result<Cpu, Invalid> {
    let number = text.strip_prefix('-').unwrap_or(text);
    let end = number.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(number.len());
    let suffix = &number[end..];
    // A number with a unit (`"2Gi"`, `"500m"`); what is no number at all, or has an exponent,
    // the quantity parser refuses by its own rules.
    if end > 0 && !suffix.is_empty() && !suffix.starts_with(['e', 'E']) {
        return Err(Invalid::one(
            "",
            "unknown-suffix",
            format!("give a plain number of cores, like \"1\" or \"0.5\", without a unit, not {text:?}"),
        ));
    }
    Cpu::parse(text)
}

fn cpu(input: &AmountInput, text: fn(&str) -> Result<Cpu, Invalid>) -> Result<Cpu, Invalid> {
    match input {
        AmountInput::Number(cores) => Cpu::from_cores(*cores),
        AmountInput::Text(t) => text(t),
    }
}

fn bytes(input: &AmountInput, text: fn(&str) -> Result<Bytes, Invalid>) -> Result<Bytes, Invalid> {
    match input {
        AmountInput::Number(gib) => Bytes::from_gib(*gib),
        AmountInput::Text(t) => text(t),
    }
}

/// `value` parsed and within `bounds`, problems under `field`.
fn amount<T: Amount>(
    c: &mut Collector,
    field: &str,
    value: Option<&AmountInput>,
    default: Option<T>,
    parse: &dyn Fn(&AmountInput) -> Result<T, Invalid>,
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
    validate_as(settings, caller, input, &V1)
}

/// Checks `input` for `caller` as the seed's `POST /api/request` means it.
pub fn validate_seed(settings: &WorkspaceSettings, caller: &Caller, input: &SeedInput) -> Result<Workspace, Error> {
    validate_as(settings, caller, &seed_as_input(input), &SEED)
}

fn seed_as_input(input: &SeedInput) -> WorkspaceInput {
    WorkspaceInput {
        email: input.email.clone(),
        name: "default".to_owned(),
        cpu: Some(input.cpu.clone()),
        memory: Some(input.ram.clone()),
        storage: None,
        ssh_public_key: input.public_key.clone(),
        image: None,
    }
}

fn validate_as(
    settings: &WorkspaceSettings,
    caller: &Caller,
    input: &WorkspaceInput,
    shape: &Shape,
) -> Result<Workspace, Error> {
    let Some(allowed) = &settings.allowed_domains else {
        return Err(Error::NotConfigured(OFF.to_owned()));
    };
    let mut c = Collector::new();
    let email = c.take(shape.email, EmailAddress::parse(&input.email));
    if let Some(email) = &email {
        if let Err(invalid) = allowed.check(email) {
            for mut problem in invalid.into_problems() {
                // The allowlist names the field `email`; this shape may call it otherwise.
                problem.field = shape.email.to_owned();
                c.push(problem);
            }
        } else if !caller.is_admin() && email.normalized() != caller.email.normalized() {
            c.push(Problem::new(shape.email, "not-yours", "a workspace can be asked for only with your own address"));
        }
    }
    let short = c.take(shape.name, ShortName::parse(&input.name));
    let cpu = amount(&mut c, shape.cpu, input.cpu.as_ref(), None, &|v| cpu(v, shape.cpu_text), &settings.cpu);
    let memory =
        amount(&mut c, shape.memory, input.memory.as_ref(), None, &|v| bytes(v, shape.bytes_text), &settings.memory);
    let storage = amount(
        &mut c,
        shape.storage,
        input.storage.as_ref(),
        Some(settings.default_storage),
        &|v| bytes(v, shape.bytes_text),
        &settings.storage,
    );
    let key = c.take(shape.ssh_public_key, SshPublicKey::parse(&input.ssh_public_key));
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
fn check_quota(
    settings: &WorkspaceSettings,
    new: &Workspace,
    existing: &[Workspace],
    shape: &Shape,
) -> Result<(), Error> {
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
        over(shape.cpu, cpu_used, new.cpu.millicores(), quota.cpu.millicores(), &show_cpu),
        over(shape.memory, memory_used, new.memory.as_u64(), quota.memory.as_u64(), &show_bytes),
        over(shape.storage, storage_used, new.storage.as_u64(), quota.storage.as_u64(), &show_bytes),
    ]
    .into_iter()
    .flatten()
    {
        c.push(problem);
    }
    c.finish().map_err(Error::Quota)
}

/// The workspace a client names (a URL path, a command line): a name no workspace can have
/// names none, so it is "not found" here, the same answer as for a workspace that does not
/// exist, and nothing asks the cluster about it.
///
/// A client may name a workspace by its full name or by the name its owner gave it
/// ([`ShortName`]), which [`Workspaces::workspace`] looks up among the caller's own.
pub fn workspace_name(name: &str) -> Result<NamedWorkspace, Error> {
    let full = WorkspaceName::parse(name).ok();
    let short = ShortName::parse(name).ok();
    if full.is_none() && short.is_none() {
        return Err(Error::WorkspaceNotFound(shown(name)));
    }
    Ok(NamedWorkspace { full, short })
}

/// A workspace as a client names it: its full name, the name its owner gave it, or a string
/// that could be either (each is looked up; one found is the answer).
#[derive(Debug, Clone)]
pub struct NamedWorkspace {
    full: Option<WorkspaceName>,
    short: Option<ShortName>,
}

impl NamedWorkspace {
    fn shown(&self) -> String {
        match (&self.full, &self.short) {
            (Some(full), _) => full.to_string(),
            (None, Some(short)) => short.to_string(),
            (None, None) => String::new(),
        }
    }
}

impl From<&WorkspaceName> for NamedWorkspace {
    fn from(name: &WorkspaceName) -> Self {
        NamedWorkspace { full: Some(name.clone()), short: None }
    }
}

impl From<&NamedWorkspace> for NamedWorkspace {
    fn from(name: &NamedWorkspace) -> Self {
        name.clone()
    }
}

/// `name` as an answer may repeat it: escaped, and cut after the longest real name.
fn shown(name: &str) -> String {
    const LONGEST: usize = 63;
    let mut cut: String = name.chars().take(LONGEST).collect();
    if name.chars().nth(LONGEST).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// Why workspaces are off when no e-mail domain may ask for one.
pub const OFF: &str = "no e-mail domain may ask for a workspace (set workspaces.allowed_email_domains)";

/// Workspaces on a cluster: who may ask for what, and who may see and delete which.
#[derive(Clone)]
pub struct Workspaces {
    settings: Arc<WorkspaceSettings>,
    cluster: Arc<dyn WorkspaceCluster>,
    /// For the seed's legacy delete, which needs a confirmed token.
    auth: Auth,
}

impl Workspaces {
    pub fn new(settings: Arc<WorkspaceSettings>, cluster: Arc<dyn WorkspaceCluster>, auth: Auth) -> Self {
        Workspaces { settings, cluster, auth }
    }

    /// Every workspace on the cluster (for the metrics).
    pub(crate) async fn all(&self) -> Result<Vec<Workspace>, PortError> {
        self.cluster.list(None).await
    }

    /// Checks and creates a workspace for `caller`.
    pub async fn create_workspace(&self, caller: &Caller, input: &WorkspaceInput) -> Result<Workspace, Error> {
        self.create_as(caller, input, &V1).await
    }

    /// Checks and creates the workspace the seed's `POST /api/request` asks for.
    pub async fn create_seed_workspace(&self, caller: &Caller, input: &SeedInput) -> Result<Workspace, Error> {
        self.create_as(caller, &seed_as_input(input), &SEED).await
    }

    async fn create_as(&self, caller: &Caller, input: &WorkspaceInput, shape: &Shape) -> Result<Workspace, Error> {
        let settings = &self.settings;
        let new = validate_as(settings, caller, input, shape)?;
        let cluster = &self.cluster;
        let existing = cluster.list(Some(&new.owner)).await.map_err(Error::Cluster)?;
        if existing.iter().any(|w| w.name == new.name) {
            return Err(Error::WorkspaceExists { name: new.name.to_string() });
        }
        check_quota(settings, &new, &existing, shape)?;
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
        let owner = if all && caller.is_admin() { None } else { Some(&caller.email) };
        self.cluster.list(owner).await.map_err(Error::Cluster)
    }

    /// One workspace the caller may see; another's is "not found", as if it did not exist.
    /// A name its owner gave finds only the caller's own workspace of that name; a string that
    /// names two workspaces the caller may see (one's full name, another's given name) names
    /// neither, and is "not found" too.
    pub async fn workspace(&self, caller: &Caller, name: impl Into<NamedWorkspace>) -> Result<Workspace, Error> {
        let name = name.into();
        let mut found: Vec<Workspace> = Vec::new();
        if let Some(full) = &name.full
            && let Some(w) = self.cluster.get(full).await.map_err(Error::Cluster)?
            && (caller.is_admin() || w.is_owned_by(&caller.email))
        {
            found.push(w);
        }
        if let Some(short) = &name.short {
            // The caller's workspace of that name has exactly this full name.
            let mine = WorkspaceName::new(&caller.email, short);
            if name.full.as_ref() != Some(&mine)
                && let Some(w) = self.cluster.get(&mine).await.map_err(Error::Cluster)?
                && w.is_owned_by(&caller.email)
            {
                found.push(w);
            }
        }
        match <[Workspace; 1]>::try_from(found) {
            Ok([w]) => Ok(w),
            Err(_) => Err(Error::WorkspaceNotFound(name.shown())),
        }
    }

    /// Deletes a workspace the caller may see (its objects go with it).
    pub async fn delete_workspace(&self, caller: &Caller, name: impl Into<NamedWorkspace>) -> Result<Workspace, Error> {
        let view = self.workspace(caller, name).await?;
        if !self.cluster.delete(&view.name).await.map_err(Error::Cluster)? {
            return Err(Error::WorkspaceNotFound(view.name.to_string()));
        }
        Ok(view)
    }

    /// The seed's `POST /api/delete {"Email"}`: deletes every workspace of `email`, only when
    /// `workspaces.legacy_delete` is on and `email` holds a confirmed token (one that was used).
    pub async fn legacy_delete(&self, email: &str) -> Result<Vec<Workspace>, Error> {
        if !self.settings.legacy_delete {
            return Err(Error::LegacyDeleteOff);
        }
        let email = EmailAddress::parse(email).map_err(|e| e.within("Email"))?;
        if !self.auth.is_confirmed(&email).await? {
            return Err(auth::Error::Unauthorized(auth::tokens::TokenError::Unknown).into());
        }
        let owner = Caller { email, role: provision_core::Role::Member };
        let mine = self.workspaces(&owner, false).await?;
        for w in &mine {
            self.cluster.delete(&w.name).await.map_err(Error::Cluster)?;
        }
        Ok(mine)
    }
}
