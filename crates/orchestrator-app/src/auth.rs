//! Who is calling: API bearer tokens (module [`tokens`]), issued, listed and revoked by an
//! operator, checked on every request that needs a caller, and the [`Caller`] they prove.

pub mod tokens;

use crate::error::{Classified, ErrorKind};
use provision_core::ports::{TokenRecord, Tokens};
use provision_core::{EmailAddress, Invalid, Problem};
use std::sync::Arc;
use tokens::{Token, TokenError, TokenFile, TokenView};

/// Who is asking: the holder of a token (or, on the command line, the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub email: EmailAddress,
    /// Sees and deletes every workspace, and asks for others.
    pub admin: bool,
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
    #[error(transparent)]
    Token(TokenError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) | Error::Token(TokenError::BadId) => ErrorKind::Invalid,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::Token(TokenError::NotFound { .. }) => ErrorKind::NotFound,
            Error::Token(TokenError::InFile { .. }) => ErrorKind::Conflict,
            Error::Token(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(e) => e.code(),
            Error::Unauthorized(_) => "unauthorized",
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

/// API tokens: the store's, and the tokens file's (read at start-up).
#[derive(Clone)]
pub struct Auth {
    tokens: Arc<dyn Tokens>,
    file: Option<Arc<TokenFile>>,
}

impl Auth {
    pub fn new(tokens: Arc<dyn Tokens>, file: Option<TokenFile>) -> Self {
        Auth { tokens, file: file.map(Arc::new) }
    }

    /// The caller an `Authorization` header names; `Unauthorized` for none, a malformed, an
    /// unknown or a revoked token (the reason is logged by id, never with the token).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Error> {
        let header = authorization.ok_or(Error::Unauthorized(TokenError::NotBearer))?;
        match tokens::authenticate(self.tokens.as_ref(), self.file.as_deref(), header, jiff::Timestamp::now()).await {
            Ok(principal) => Ok(principal.caller()),
            Err(e) if e.is_unauthorized() => Err(Error::Unauthorized(e)),
            Err(e) => Err(Error::Token(e)),
        }
    }

    /// A new token for `email` (printed once by the caller: only its hash is kept).
    pub async fn issue_token(&self, email: &str, admin: bool) -> Result<(Token, TokenRecord), Error> {
        let email = EmailAddress::parse(email).map_err(|e| e.within("email"))?;
        let mut random = |buf: &mut [u8]| getrandom::fill(buf).expect("the operating system provides randomness");
        tokens::issue(self.tokens.as_ref(), &email, admin, jiff::Timestamp::now(), &mut random)
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
