//! Where the sealed-secrets controller's certificate comes from — a PEM file, or an http(s)
//! URL such as the controller's `/v1/cert.pem` — and reading it into a current [`SealingKey`].
//!
//! A URL may carry credentials (user info, a token in the query): it is shown only through
//! [`CertificateSource`]'s `Display`, which leaves them out, and no error repeats it otherwise.

use crate::SealingKey;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The most a certificate download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// The most a certificate (file or download) may weigh.
const MAX_CERTIFICATE_SIZE: usize = 64 * 1024;

/// A PEM certificate (or public key) in a file, or served at an http(s) URL (the controller's
/// `/v1/cert.pem`, or wherever a team publishes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    File(PathBuf),
    Url(String),
}

impl CertificateSource {
    /// `value` as a URL when it starts with http:// or https://, else as a path (relative to
    /// `base`).
    pub fn parse(value: &str, base: &Path) -> Result<Self, String> {
        if value.trim().is_empty() {
            return Err("the certificate location must not be empty".into());
        }
        if value.starts_with("https://") || value.starts_with("http://") {
            return Ok(Self::Url(value.to_owned()));
        }
        if value.contains("://") {
            return Err(format!("{value:?} is neither a file nor an http(s) URL"));
        }
        Ok(Self::File(base.join(value)))
    }
}

/// A URL shown without the credentials or query it may carry.
impl std::fmt::Display for CertificateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let rest = rest.split(['?', '#']).next().unwrap_or_default();
                let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
                let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
                let hidden =
                    if rest.len() < url.len() - scheme.len() - 3 || host.len() < authority.len() { "…" } else { "" };
                write!(f, "{scheme}://{host}/{path}{hidden}")
            }
        }
    }
}

/// Why the certificate at a location cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the sealed-secrets certificate {location}: {reason}")]
pub struct CertificateError {
    /// The location as [`CertificateSource`] shows it (no credentials).
    pub location: String,
    pub reason: String,
}

/// The sealing key at `source`, checked to be current at `now`.
pub async fn load_key(source: &CertificateSource, now: SystemTime) -> Result<SealingKey, CertificateError> {
    let failed = |reason: String| CertificateError { location: source.to_string(), reason };
    let pem = match source {
        CertificateSource::File(path) => {
            let bytes = tokio::fs::read(path).await.map_err(|e| failed(e.to_string()))?;
            if bytes.len() > MAX_CERTIFICATE_SIZE {
                return Err(failed(format!("it is larger than {MAX_CERTIFICATE_SIZE} bytes")));
            }
            String::from_utf8(bytes).map_err(|_| failed("it is not text (PEM)".into()))?
        }
        CertificateSource::Url(url) => fetch(url).await.map_err(failed)?,
    };
    let key = SealingKey::from_pem(&pem).map_err(|e| failed(e.to_string()))?;
    key.check_valid_at(now).map_err(|e| failed(e.to_string()))?;
    Ok(key)
}

/// GETs a certificate; errors name no URL (it may carry credentials).
async fn fetch(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {}", e.without_url()))?;
    let mut response = client.get(url).send().await.map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("the server answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_CERTIFICATE_SIZE {
            return Err(format!("the answer is larger than {MAX_CERTIFICATE_SIZE} bytes"));
        }
    }
    String::from_utf8(body).map_err(|_| "the answer is not text (PEM)".to_owned())
}
