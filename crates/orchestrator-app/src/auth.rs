//! Who is calling and what they may do: API bearer tokens (module [`tokens`]), issued, listed
//! and revoked by an operator, each with a [`Role`]; [`Auth::authorize`] checks a request's
//! token against the role it needs and returns the [`Caller`] it proves.
//!
//! Tokens are issued only to addresses the allowlist admits (`workspaces.allowed_email_domains`,
//! when set), except an admin's token, which an operator may issue to anyone by saying so.
//! With `[auth] disabled = true` (a trusted local set-up) a request without a token is let
//! through with no caller; a token that is sent is still checked.

pub mod tokens;

use crate::error::{Classified, ErrorKind};
use provision_core::ports::{TokenRecord, Tokens};
use provision_core::{DomainAllowlist, EmailAddress, Invalid, Problem, Role};
use std::sync::Arc;
use tokens::{Token, TokenError, TokenFile, TokenView};

/// Who is asking: the holder of a token (or, on the command line, the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub email: EmailAddress,
    pub role: Role,
}

impl Caller {
    /// Sees and deletes every workspace, and asks for others.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Why a caller was refused, or a token could not be issued, listed or revoked. No message
/// carries a token's text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// None, a malformed, an unknown or a revoked token: the API answers all alike.
    #[error("not authenticated: {0}")]
    Unauthorized(TokenError),
    /// A valid token whose role is below the one the request needs.
    #[error("token {token} has the role {has}; this needs {needed}")]
    Forbidden { token: String, has: Role, needed: Role },
    #[error(transparent)]
    Token(TokenError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) | Error::Token(TokenError::BadId) => ErrorKind::Invalid,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::Forbidden { .. } => ErrorKind::Forbidden,
            Error::Token(TokenError::NotFound { .. }) => ErrorKind::NotFound,
            Error::Token(TokenError::InFile { .. }) => ErrorKind::Conflict,
            Error::Token(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(e) => e.code(),
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden { .. } => "forbidden",
            Error::Token(TokenError::BadId) => "token-id",
            Error::Token(TokenError::NotFound { .. }) => "not-found",
            Error::Token(TokenError::InFile { .. }) => "token-in-file",
            Error::Token(_) => "internal",
        }
    }

    fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(e) => e.problems(),
            _ => &[],
        }
    }
}

/// API tokens: the store's, and the tokens file's (read at start-up); who may hold one.
#[derive(Clone)]
pub struct Auth {
    tokens: Arc<dyn Tokens>,
    file: Option<Arc<TokenFile>>,
    disabled: bool,
    allowlist: Option<DomainAllowlist>,
}

impl Auth {
    /// Tokens required, issued to any address.
    pub fn new(tokens: Arc<dyn Tokens>, file: Option<TokenFile>) -> Self {
        Auth { tokens, file: file.map(Arc::new), disabled: false, allowlist: None }
    }

    /// With `true`, requests without a token pass ([`Auth::authorize`]).
    pub fn disabled(self, disabled: bool) -> Self {
        Auth { disabled, ..self }
    }

    /// Tokens are issued only to addresses `allowlist` admits (admins' aside, explicitly).
    pub fn allowlist(self, allowlist: Option<DomainAllowlist>) -> Self {
        Auth { allowlist, ..self }
    }

    /// Whether requests without a token pass (`[auth] disabled`).
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The caller an `Authorization` header names; `Unauthorized` for none, a malformed, an
    /// unknown or a revoked token (the reason is logged by id, never with the token).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Error> {
        Ok(self.principal(authorization).await?.caller())
    }

    async fn principal(&self, authorization: Option<&str>) -> Result<tokens::Principal, Error> {
        let header = authorization.ok_or(Error::Unauthorized(TokenError::NotBearer))?;
        match tokens::authenticate(self.tokens.as_ref(), self.file.as_deref(), header, jiff::Timestamp::now()).await {
            Ok(principal) => Ok(principal),
            Err(e) if e.is_unauthorized() => Err(Error::Unauthorized(e)),
            Err(e) => Err(Error::Token(e)),
        }
    }

    /// Whether the holder of `authorization` may do what needs `needed`: the caller it proves,
    /// `Unauthorized` without a valid token, `Forbidden` for a role below `needed`. With
    /// authentication disabled, no header passes as no caller (`None`).
    pub async fn authorize(&self, authorization: Option<&str>, needed: Role) -> Result<Option<Caller>, Error> {
        if authorization.is_none() && self.disabled {
            return Ok(None);
        }
        let principal = self.principal(authorization).await?;
        if !principal.role.allows(needed) {
            tracing::info!(token = %principal.token_id, role = %principal.role, needed = %needed, "forbidden");
            return Err(Error::Forbidden { token: principal.token_id, has: principal.role, needed });
        }
        Ok(Some(principal.caller()))
    }

    /// A new token of `role` for `email` (printed once by the caller: only its hash is kept).
    /// The address must be one the allowlist admits, unless the token is an admin's and
    /// `outside_allowlist` says the operator means it.
    pub async fn issue_token(
        &self,
        email: &str,
        role: Role,
        outside_allowlist: bool,
    ) -> Result<(Token, TokenRecord), Error> {
        let email = EmailAddress::parse(email).map_err(|e| e.within("email"))?;
        if outside_allowlist && role != Role::Admin {
            return Err(Error::Invalid(Invalid::one(
                "outside_allowlist",
                "admin-only",
                format!("only an admin's token may be issued outside the allowed domains, not a {role}'s"),
            )));
        }
        if let Some(allowlist) = &self.allowlist
            && !allowlist.allows(&email)
            && !outside_allowlist
        {
            let domains = allowlist.domains().collect::<Vec<_>>().join(", ");
            let admin_hint = if role == Role::Admin {
                "; to issue an admin's token to it anyway, say so with --outside-allowlist"
            } else {
                ""
            };
            return Err(Error::Invalid(Invalid::one(
                "email",
                "domain-not-allowed",
                format!(
                    "{} is not at an allowed domain ({domains}): tokens are issued only there{admin_hint}",
                    email.normalized()
                ),
            )));
        }
        let mut random = |buf: &mut [u8]| getrandom::fill(buf).expect("the operating system provides randomness");
        tokens::issue(self.tokens.as_ref(), &email, role, jiff::Timestamp::now(), &mut random)
            .await
            .map_err(Error::Token)
    }

    /// Every token (the store's and the file's), or those of `email`; never a secret.
    pub async fn tokens(&self, email: Option<&str>) -> Result<Vec<TokenView>, Error> {
        let email = email.map(|e| EmailAddress::parse(e).map_err(|e| e.within("email"))).transpose()?;
        tokens::list(self.tokens.as_ref(), self.file.as_deref(), email.as_ref()).await.map_err(Error::Token)
    }

    /// Revokes a token by its id (or its whole text, when it leaked); whether it was live.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, Error> {
        tokens::revoke(self.tokens.as_ref(), self.file.as_deref(), id, None, jiff::Timestamp::now())
            .await
            .map_err(Error::Token)
    }

    /// Whether `email` holds a confirmed token (one its holder has used, or that the tokens
    /// file vouches for).
    pub async fn is_confirmed(&self, email: &EmailAddress) -> Result<bool, Error> {
        tokens::confirmed(self.tokens.as_ref(), self.file.as_deref(), email).await.map_err(Error::Token)
    }
}
