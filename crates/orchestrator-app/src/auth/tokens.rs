//! API bearer tokens: who is calling, and in which role.
//!
//! A token reads `orc_<id>_<secret>`: `id` is 12 lowercase hex digits (6 random bytes), the
//! token's public name, which may be shown, logged and typed (`token revoke <id>`); `secret` is
//! 64 lowercase hex digits (32 random bytes; hex because it is what the app already depends on).
//! The prefix lets secret scanners and people recognise a leaked token. Nothing keeps a token:
//! the store ([`Tokens`]) and the tokens file hold the SHA-256 of its whole text, and a
//! [`Token`] prints as `orc_<id>_***` everywhere except [`Token::expose`], the one place a new
//! token is shown to the person it is for. No error of this module carries a token or a secret.
//!
//! Tokens come from two places:
//! - the store: [`issue`]d by `orchestrator token create`, revocable, and *used* — each
//!   authentication records the time (to [`USE_RESOLUTION`]), and a token used at least once is
//!   *confirmed*: its holder received it, since only they could have presented it;
//! - the tokens file ([`TokenFile`]), read once at start-up: entries with the hash, never
//!   written to, never revoked but by editing the file. Because nothing records their use, a
//!   file token counts as confirmed only when its entry says `confirmed = true`: the operator
//!   vouches that the holder has it.
//!
//! [`authenticate`] checks the file first — comparing hashes in constant time — and then the
//! store. Every way a header can fail ([`TokenError::is_unauthorized`]) is its own kind, for
//! logs and tests, and the API answers 401 to all of them alike.
//!
//! [`confirmed`] decides the seed's legacy unauthenticated delete: it deletes only for an
//! address that holds a confirmed token.

use super::Caller;
use jiff::{SignedDuration, Timestamp};
use provision_core::ports::{PortError, PortErrorKind, TokenRecord, Tokens, is_sha256_hex};
use provision_core::problem::{Invalid, Problem};
use provision_core::{EmailAddress, Role};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};
use tracing::{debug, info, warn};

/// What every token starts with.
pub const PREFIX: &str = "orc_";
/// Random bytes in a token's id.
const ID_BYTES: usize = 6;
/// Random bytes in a token's secret.
const SECRET_BYTES: usize = 32;
/// `orc_` + id + `_` + secret.
const TOKEN_LEN: usize = PREFIX.len() + 2 * ID_BYTES + 1 + 2 * SECRET_BYTES;
/// The longest `Authorization` value looked at; longer ones are refused unread.
pub const MAX_HEADER: usize = 256;
/// How fresh a token's recorded last use is kept: a request records a use only if the last
/// one recorded is older, so a busy client costs one write a minute, not one per request.
pub const USE_RESOLUTION: SignedDuration = SignedDuration::from_secs(60);
/// How many fresh ids [`issue`] tries when one is taken.
const ISSUE_ATTEMPTS: usize = 3;

/// Why a token was not issued, accepted, listed or revoked. Messages name a token by its id
/// at most, never by its text.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The `Authorization` value is not `Bearer <token>`: empty, another scheme, no scheme,
    /// not ASCII, or longer than [`MAX_HEADER`].
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    /// What follows `Bearer ` is not a token's text (extra spaces included).
    #[error("the bearer token is malformed: a token reads orc_<12 hex digits>_<64 hex digits>")]
    Malformed,
    /// No token has this text (a wrong secret for a real id included).
    #[error("the bearer token is not known")]
    Unknown,
    #[error("token {id} was revoked")]
    Revoked { id: String },
    #[error("token {id} does not exist")]
    NotFound { id: String },
    /// Not repeated: it may be a token's text pasted in the wrong place.
    #[error("a token id is 12 lowercase hex digits, the part of the token after `orc_`")]
    BadId,
    #[error("token {id} is configured in the tokens file; remove its entry there to revoke it")]
    InFile { id: String },
    #[error("every token id tried was taken ({ISSUE_ATTEMPTS} attempts); is the random source random?")]
    Collision,
    #[error("the token store failed")]
    Store(#[source] PortError),
}

impl TokenError {
    /// The caller did not prove who they are: the API answers 401 to each of these alike.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::NotBearer | Self::Malformed | Self::Unknown | Self::Revoked { .. })
    }
}

/// A token's whole text, `orc_<id>_<secret>`, kept out of every `Debug` and `Display`
/// (they print `orc_<id>_***`) and overwritten when dropped. Not `Clone`: there is one copy.
pub struct Token {
    text: String,
}

impl Token {
    /// A new token from `random`, which must fill its buffer with cryptographically secure
    /// random bytes (the OS's; tests pass a deterministic filler).
    pub fn generate(random: &mut dyn FnMut(&mut [u8])) -> Token {
        let mut bytes = [0u8; ID_BYTES + SECRET_BYTES];
        random(&mut bytes);
        let mut text = String::with_capacity(TOKEN_LEN);
        text.push_str(PREFIX);
        push_hex(&mut text, &bytes[..ID_BYTES]);
        text.push('_');
        push_hex(&mut text, &bytes[ID_BYTES..]);
        wipe(&mut bytes);
        Token { text }
    }

    /// Reads a token's text; anything but `orc_<12 hex>_<64 hex>` (lowercase) is
    /// [`TokenError::Malformed`].
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let b = text.as_bytes();
        let hex = |range: std::ops::Range<usize>| b[range].iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        let id_end = PREFIX.len() + 2 * ID_BYTES;
        let well_formed = b.len() == TOKEN_LEN
            && text.starts_with(PREFIX)
            && hex(PREFIX.len()..id_end)
            && b[id_end] == b'_'
            && hex(id_end + 1..TOKEN_LEN);
        if well_formed { Ok(Token { text: text.to_owned() }) } else { Err(TokenError::Malformed) }
    }

    /// The public part: 12 lowercase hex digits.
    pub fn id(&self) -> &str {
        &self.text[PREFIX.len()..PREFIX.len() + 2 * ID_BYTES]
    }

    /// The whole token, secret included: only to show a new token to its holder, once.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// What is kept of the token: the SHA-256 of its whole text, as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }

    fn sha256(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}_***", self.id())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        wipe(&mut std::mem::take(&mut self.text).into_bytes());
    }
}

/// Overwrites `bytes` in a way the optimiser keeps (a best effort: no `unsafe` here).
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// Appends `bytes` as lowercase hex, without an intermediate copy of them.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// Whether `a == b`, taking the same time wherever they differ.
fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

fn is_token_id(value: &str) -> bool {
    value.len() == 2 * ID_BYTES && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Who presented a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The holder's address, normalized.
    pub email: EmailAddress,
    pub role: Role,
    pub token_id: String,
}

impl Principal {
    /// The caller as the workspace use cases take it.
    pub fn caller(&self) -> Caller {
        Caller { email: self.email.clone(), role: self.role }
    }

    /// Whose tokens this principal may list and revoke: everyone's (`None`) for an admin,
    /// else their own. The argument [`list`] and [`revoke`] take as `owner`.
    pub fn scope(&self) -> Option<&EmailAddress> {
        if self.role == Role::Admin { None } else { Some(&self.email) }
    }
}

/// One entry of the tokens file.
#[derive(Clone, PartialEq, Eq)]
pub struct FileToken {
    pub id: String,
    /// Normalized.
    pub email: EmailAddress,
    pub role: Role,
    /// The operator vouches that the holder has the token (see the module documentation).
    pub confirmed: bool,
    sha256: [u8; 32],
}

impl fmt::Debug for FileToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileToken")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

/// Tokens configured in a TOML file, read at start-up:
///
/// ```toml
/// [[tokens]]
/// id = "a1b2c3d4e5f6"          # the token's id: 12 lowercase hex digits
/// email = "ann@example.org"
/// role = "member"              # optional: reader, member (the default) or admin
/// sha256 = "…"                 # SHA-256 of the whole token: 64 lowercase hex digits
/// confirmed = true             # optional, false by default: counts for the legacy delete
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFile {
    entries: Vec<FileToken>,
}

/// Why the tokens file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// Not TOML. Only the parser's message and the place are kept, never the line's text,
    /// which may hold a token pasted where its hash belongs.
    #[error("{}:{line}:{column}: not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    /// Every problem of every entry; fields read `tokens[<index from 0>].<key>`.
    #[error("{}: {invalid}", path.display())]
    Invalid { path: PathBuf, invalid: Invalid },
}

const FILE_KEYS: &[&str] = &["id", "email", "role", "admin", "sha256", "confirmed"];

impl TokenFile {
    /// Parses the text of the tokens file (`path` names it in errors), reporting every problem
    /// of every entry: the entry's index and line, the field and the rule. No problem repeats
    /// an `id` or `sha256` value, either of which might be a token pasted in the wrong place.
    pub fn parse(text: &str, path: &Path) -> Result<TokenFile, TokenFileError> {
        let document = DeTable::parse(text).map_err(|e| {
            let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
            TokenFileError::Syntax { path: path.to_owned(), line, column, message: e.message().to_owned() }
        })?;
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        for (key, value) in document.get_ref().iter() {
            let key = key.get_ref().as_ref();
            if key != "tokens" {
                let line = line_column(text, value.span().start).0;
                problems.push(Problem::new(
                    key,
                    "unknown-field",
                    format!("line {line}: unknown key {key:?}; the file holds only [[tokens]] entries"),
                ));
                continue;
            }
            let Some(array) = value.get_ref().as_array() else {
                problems.push(Problem::new("tokens", "type", "tokens must be [[tokens]] entries"));
                continue;
            };
            for (index, entry) in array.iter().enumerate() {
                let line = line_column(text, entry.span().start).0;
                match entry.get_ref().as_table() {
                    Some(table) => {
                        if let Some(token) = file_entry(table, text, &format!("tokens[{index}]"), line, &mut problems) {
                            entries.push((index, line, token));
                        }
                    }
                    None => problems.push(Problem::new(
                        format!("tokens[{index}]"),
                        "type",
                        format!("line {line}: each token is a [[tokens]] table"),
                    )),
                }
            }
        }
        for (n, (index, line, token)) in entries.iter().enumerate() {
            let earlier = entries[..n].iter();
            if let Some((first, ..)) = earlier.clone().find(|(_, _, t)| t.id == token.id) {
                problems.push(Problem::new(
                    format!("tokens[{index}].id"),
                    "duplicate",
                    format!("line {line}: id {} is used by tokens[{first}] already", token.id),
                ));
            }
            if let Some((first, ..)) = earlier.clone().find(|(_, _, t)| t.sha256 == token.sha256) {
                problems.push(Problem::new(
                    format!("tokens[{index}].sha256"),
                    "duplicate",
                    format!("line {line}: the same hash as tokens[{first}]"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(TokenFileError::Invalid { path: path.to_owned(), invalid: Invalid::new(problems) });
        }
        Ok(TokenFile { entries: entries.into_iter().map(|(_, _, t)| t).collect() })
    }

    pub fn entries(&self) -> &[FileToken] {
        &self.entries
    }

    /// The entry whose hash is `hash`, compared with every entry in constant time.
    fn find(&self, hash: &[u8; 32]) -> Option<&FileToken> {
        let mut found = None;
        for entry in &self.entries {
            if same_hash(&entry.sha256, hash) {
                found = Some(entry);
            }
        }
        found
    }

    /// The `[[tokens]]` entry that configures `token` in the file, for an operator to paste.
    pub fn entry_for(token: &Token, email: &EmailAddress, role: Role, confirmed: bool) -> String {
        let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
        format!(
            "[[tokens]]\nid = {}\nemail = {}\nrole = {}\nsha256 = {}\nconfirmed = {confirmed}\n",
            quoted(token.id()),
            quoted(&email.normalized()),
            quoted(role.as_str()),
            quoted(&token.sha256_hex()),
        )
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// One `[[tokens]]` table, or `None` after recording its problems under `field`. No problem
/// repeats an `id` or `sha256` value: either may be a token pasted in the wrong place.
fn file_entry(
    table: &DeTable<'_>,
    text: &str,
    field: &str,
    line: usize,
    problems: &mut Vec<Problem>,
) -> Option<FileToken> {
    let before = problems.len();
    let mut problem = |key: &str, rule: &'static str, message: String| {
        problems.push(Problem::new(format!("{field}.{key}"), rule, format!("line {line}: {message}")));
    };
    for (key, value) in table.iter() {
        let key = key.get_ref().as_ref();
        if !FILE_KEYS.contains(&key) {
            let at = line_column(text, value.span().start).0;
            problem(key, "unknown-field", format!("unknown key (on line {at}); a token has {}", FILE_KEYS.join(", ")));
        }
    }
    let mut string = |key: &str| required_string(table, key).map_err(|(rule, m)| problem(key, rule, m)).ok();
    let (id, email, sha256) = (string("id"), string("email"), string("sha256"));
    let mut flag = |key: &str| optional_flag(table, key).map_err(|(rule, m)| problem(key, rule, m)).unwrap_or(false);
    let (admin, confirmed) = (flag("admin"), flag("confirmed"));
    let role = file_role(table, admin).map_err(|(rule, m)| problem("role", rule, m)).ok();

    if let Some(id) = &id {
        if id.starts_with(PREFIX) {
            problem("id", "plain-token", PLAIN_TOKEN.into());
        } else if !is_token_id(id) {
            problem("id", "format", "id must be the token's 12 lowercase hex digits, the part after `orc_`".into());
        }
    }
    let email = email.and_then(|e| match EmailAddress::parse(&e) {
        Ok(parsed) => EmailAddress::parse(&parsed.normalized()).ok(),
        Err(invalid) => {
            for p in invalid.into_problems() {
                problem("email", p.rule, p.message);
            }
            None
        }
    });
    let mut hash = [0u8; 32];
    match &sha256 {
        Some(s) if s.contains(PREFIX) => problem("sha256", "plain-token", PLAIN_TOKEN.into()),
        // 64 hex digits always decode into 32 bytes.
        Some(s) if is_sha256_hex(s) => hex::decode_to_slice(s, &mut hash).unwrap_or_default(),
        Some(s) => {
            let found = if s.len() == 64 { "other characters".to_owned() } else { format!("{} characters", s.len()) };
            problem(
                "sha256",
                "format",
                format!("sha256 must be 64 lowercase hex digits (the SHA-256 of the token), not {found}"),
            );
        }
        None => {}
    }
    if problems.len() > before {
        return None;
    }
    Some(FileToken { id: id?, email: email?, role: role?, confirmed, sha256: hash })
}

const PLAIN_TOKEN: &str = "this is a token itself, now exposed in the file: make a new token and put only its \
                           id and SHA-256 here";

/// A broken rule: its name and the sentence for people.
type Broken = (&'static str, String);

fn required_string(table: &DeTable<'_>, key: &str) -> Result<String, Broken> {
    match table.get(key).map(|v| v.get_ref()) {
        None => Err(("required", format!("{key} is required"))),
        Some(DeValue::String(s)) => Ok(s.as_ref().to_owned()),
        Some(other) => Err(("type", format!("{key} must be a string, found {}", other.type_str()))),
    }
}

/// An entry's role: `role = "…"`, or `admin = true` (the spelling before roles) for `admin`;
/// `member` when neither is given.
fn file_role(table: &DeTable<'_>, admin: bool) -> Result<Role, Broken> {
    let role = match table.get("role").map(|v| v.get_ref()) {
        None => return Ok(if admin { Role::Admin } else { Role::Member }),
        Some(DeValue::String(s)) => Role::parse(s)
            .map_err(|_| ("unknown-role", format!("role must be reader, member or admin, not {:?}", s.as_ref())))?,
        Some(other) => return Err(("type", format!("role must be a string, found {}", other.type_str()))),
    };
    if table.get("admin").is_some() && admin != (role == Role::Admin) {
        return Err(("conflict", format!("role = \"{role}\" contradicts admin = {admin}; keep only role")));
    }
    Ok(role)
}

/// `false` when absent.
fn optional_flag(table: &DeTable<'_>, key: &str) -> Result<bool, Broken> {
    match table.get(key).map(|v| v.get_ref()) {
        None => Ok(false),
        Some(DeValue::Boolean(b)) => Ok(*b),
        Some(other) => Err(("type", format!("{key} must be true or false, found {}", other.type_str()))),
    }
}

/// Where a listed token is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TokenSource {
    Store,
    File,
}

/// A token as listed: never its text nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub email: String,
    /// `reader`, `member` or `admin`.
    #[schema(value_type = String)]
    pub role: Role,
    pub source: TokenSource,
    /// Counts for the legacy delete: used and not revoked (store), or vouched for (file).
    pub confirmed: bool,
    /// `None` for file tokens.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

impl TokenView {
    fn stored(r: TokenRecord) -> Self {
        TokenView {
            confirmed: r.is_confirmed(),
            id: r.id,
            email: r.email,
            role: r.role,
            source: TokenSource::Store,
            created_at: Some(r.created_at),
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }

    fn from_file(t: &FileToken) -> Self {
        TokenView {
            id: t.id.clone(),
            email: t.email.normalized(),
            role: t.role,
            source: TokenSource::File,
            confirmed: t.confirmed,
            created_at: None,
            last_used_at: None,
            revoked_at: None,
        }
    }
}

/// Makes a new token for `email` and records its hash: the [`Token`] is to be shown to its
/// holder once ([`Token::expose`]) and is kept nowhere. A taken id (6 random bytes: rare) is
/// drawn again, up to three times.
pub async fn issue(
    tokens: &dyn Tokens,
    email: &EmailAddress,
    role: Role,
    now: Timestamp,
    random: &mut (dyn FnMut(&mut [u8]) + Send),
) -> Result<(Token, TokenRecord), TokenError> {
    for _ in 0..ISSUE_ATTEMPTS {
        let token = Token::generate(random);
        match tokens.add_token(token.id(), &token.sha256_hex(), email, role, now).await {
            Ok(record) => {
                info!(token = %token.id(), email = %record.email, role = %role, "token issued");
                return Ok((token, record));
            }
            Err(e) if e.kind == PortErrorKind::AlreadyExists => {
                warn!(token = %token.id(), "token id taken; drawing another");
            }
            Err(e) => return Err(TokenError::Store(e)),
        }
    }
    Err(TokenError::Collision)
}

/// Who presents `authorization` (the `Authorization` header's value), which must be exactly
/// `Bearer <token>`: the scheme in any case, one space, the token. Refused, each as its own
/// kind: anything else ([`TokenError::NotBearer`], [`TokenError::Malformed`]), a token that is
/// neither in `file` nor in the store ([`TokenError::Unknown`]), a revoked one
/// ([`TokenError::Revoked`]). A store token's use is recorded (so it becomes confirmed); a file
/// token's is not — nothing is written for it.
pub async fn authenticate(
    tokens: &dyn Tokens,
    file: Option<&TokenFile>,
    authorization: &str,
    now: Timestamp,
) -> Result<Principal, TokenError> {
    let token = bearer(authorization)?;
    let hash = token.sha256();
    if let Some(entry) = file.and_then(|f| f.find(&hash)) {
        if entry.id != token.id() {
            warn!(entry = %entry.id, token = %token.id(), "a tokens file entry's id is not its token's; fix the id");
            return Err(TokenError::Unknown);
        }
        debug!(token = %entry.id, source = "file", "authenticated");
        return Ok(Principal { email: entry.email.clone(), role: entry.role, token_id: entry.id.clone() });
    }
    let record = tokens.token_by_hash(&hex::encode(hash)).await.map_err(TokenError::Store)?;
    let Some(record) = record.filter(|r| r.id == token.id()) else {
        return Err(TokenError::Unknown);
    };
    if record.revoked_at.is_some() {
        warn!(token = %record.id, "a revoked token was presented");
        return Err(TokenError::Revoked { id: record.id });
    }
    if record.last_used_at.is_none_or(|t| now.duration_since(t) >= USE_RESOLUTION) {
        tokens.mark_token_used(&record.id, now).await.map_err(TokenError::Store)?;
    }
    let email = EmailAddress::parse(&record.email).map_err(|e| {
        TokenError::Store(PortError::permanent(format!("token {} has an invalid address: {e}", record.id)))
    })?;
    debug!(token = %record.id, source = "store", "authenticated");
    Ok(Principal { email, role: record.role, token_id: record.id })
}

/// The token in an `Authorization` value `Bearer <token>`.
fn bearer(authorization: &str) -> Result<Token, TokenError> {
    if authorization.len() > MAX_HEADER || !authorization.is_ascii() {
        return Err(TokenError::NotBearer);
    }
    match authorization.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Token::parse(token),
        _ => Err(TokenError::NotBearer),
    }
}

/// Whether `email` holds a confirmed token, which the legacy unauthenticated delete requires:
/// a file entry marked `confirmed = true`, or a store token used at least once and not revoked.
pub async fn confirmed(
    tokens: &dyn Tokens,
    file: Option<&TokenFile>,
    email: &EmailAddress,
) -> Result<bool, TokenError> {
    let normalized = email.normalized();
    if file.is_some_and(|f| f.entries.iter().any(|t| t.confirmed && t.email.as_str() == normalized)) {
        return Ok(true);
    }
    tokens.has_confirmed_token(email).await.map_err(TokenError::Store)
}

/// The tokens of `owner` (everyone's with `None`; see [`Principal::scope`]): the file's, then
/// the store's oldest first, revoked ones included.
pub async fn list(
    tokens: &dyn Tokens,
    file: Option<&TokenFile>,
    owner: Option<&EmailAddress>,
) -> Result<Vec<TokenView>, TokenError> {
    let normalized = owner.map(EmailAddress::normalized);
    let mut views: Vec<TokenView> = file
        .map(|f| f.entries.iter())
        .into_iter()
        .flatten()
        .filter(|t| normalized.as_deref().is_none_or(|o| t.email.as_str() == o))
        .map(TokenView::from_file)
        .collect();
    views.extend(tokens.tokens(owner).await.map_err(TokenError::Store)?.into_iter().map(TokenView::stored));
    Ok(views)
}

/// Revokes store token `id` if it belongs to `owner` (anyone's with `None`; see
/// [`Principal::scope`]): `true` if it was live, `false` if revoked already. `id` may also be
/// the whole token (someone revoking a token they leaked): only its id is used, and it is
/// neither logged nor repeated. Another person's token is [`TokenError::NotFound`], as if it
/// did not exist; a file token is [`TokenError::InFile`] (to its owner or an admin).
pub async fn revoke(
    tokens: &dyn Tokens,
    file: Option<&TokenFile>,
    id: &str,
    owner: Option<&EmailAddress>,
    now: Timestamp,
) -> Result<bool, TokenError> {
    let presented;
    let id = if is_token_id(id) {
        id
    } else if let Ok(token) = Token::parse(id) {
        presented = token;
        presented.id()
    } else {
        return Err(TokenError::BadId);
    };
    let normalized = owner.map(EmailAddress::normalized);
    let mine = |email: &str| normalized.as_deref().is_none_or(|o| email == o);
    if file.is_some_and(|f| f.entries.iter().any(|t| t.id == id && mine(t.email.as_str()))) {
        return Err(TokenError::InFile { id: id.to_owned() });
    }
    if owner.is_some() {
        let theirs = tokens.tokens(owner).await.map_err(TokenError::Store)?;
        if !theirs.iter().any(|r| r.id == id) {
            return Err(TokenError::NotFound { id: id.to_owned() });
        }
    }
    match tokens.revoke_token(id, now).await {
        Ok(revoked) => {
            info!(token = %id, revoked, "token revoked");
            Ok(revoked)
        }
        Err(e) if e.kind == PortErrorKind::NotFound => Err(TokenError::NotFound { id: id.to_owned() }),
        Err(e) => Err(TokenError::Store(e)),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn counting() -> impl FnMut(&mut [u8]) {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
        }
    }

    #[test]
    fn a_token_is_prefix_id_and_secret_in_lowercase_hex() {
        let token = Token::generate(&mut counting());
        let secret: String = (6u8..38).map(|b| format!("{b:02x}")).collect();
        assert_eq!(token.expose(), format!("orc_000102030405_{secret}"));
        assert_eq!(token.id(), "000102030405");
        assert_eq!(token.expose().len(), TOKEN_LEN);
        let again = Token::parse(token.expose()).unwrap();
        assert_eq!((again.id(), again.sha256_hex()), (token.id(), token.sha256_hex()));
        assert!(is_sha256_hex(&token.sha256_hex()));
    }

    #[test]
    fn only_the_exact_format_parses() {
        let good = Token::generate(&mut counting()).expose().to_owned();
        let bad = [
            String::new(),
            good.to_uppercase(),
            good.replacen("orc_", "orx_", 1),
            good.replacen("orc_", "", 1),
            good[..good.len() - 1].to_owned(),
            format!("{good}0"),
            format!(" {good}"),
            format!("{good} "),
            good.replacen('_', "-", 2),
            good.replace('a', "g"),
            good.replacen("0", "é", 1),
        ];
        for text in bad {
            assert!(matches!(Token::parse(&text), Err(TokenError::Malformed)), "{text:?}");
        }
    }

    #[test]
    fn hashes_are_compared_whole() {
        let (a, mut b) = ([7u8; 32], [7u8; 32]);
        assert!(same_hash(&a, &b));
        b[31] = 6;
        assert!(!same_hash(&a, &b));
        b[31] = 7;
        b[0] = 0;
        assert!(!same_hash(&a, &b));
    }

    #[test]
    fn the_bearer_scheme_is_one_word_one_space_any_case() {
        let token = Token::generate(&mut counting()).expose().to_owned();
        for ok in [format!("Bearer {token}"), format!("bearer {token}"), format!("BEARER {token}")] {
            assert_eq!(bearer(&ok).unwrap().id(), "000102030405", "{ok}");
        }
        let not_bearer = [
            String::new(),
            token.clone(),
            format!("Basic {token}"),
            format!("Bearer{token}"),
            format!("Bearer\t{token}"),
            format!("Bearér {token}"),
            format!("Bearer {}", "a".repeat(MAX_HEADER)),
        ];
        for value in not_bearer {
            assert!(matches!(bearer(&value), Err(TokenError::NotBearer)), "{value:?}");
        }
        for malformed in [format!("Bearer  {token}"), format!("Bearer {token} "), "Bearer ".into(), "Bearer x".into()] {
            assert!(matches!(bearer(&malformed), Err(TokenError::Malformed)), "{malformed:?}");
        }
    }

    #[test]
    fn positions_are_lines_and_columns_from_one() {
        assert_eq!(line_column("ab\ncd\n", 0), (1, 1));
        assert_eq!(line_column("ab\ncd\n", 4), (2, 2));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
