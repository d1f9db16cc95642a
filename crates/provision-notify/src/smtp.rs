//! [`SmtpNotifier`]: delivery to an SMTP server with lettre, over rustls.

use crate::Error;
use crate::email::{self, Sender};
use crate::url::{SmtpUrl, TlsMode};
use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use provision_core::ports::{Notifier, OutgoingMessage, PortError, PortErrorKind};
use std::time::{Duration, SystemTime};
use tracing::debug;

/// How to reach the SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    pub url: SmtpUrl,
    pub from: Sender,
    /// How long connecting and each SMTP command may take before the attempt fails (as a
    /// transient error).
    pub timeout: Duration,
    /// PEM certificates of authorities trusted besides the public web roots (a company relay
    /// signed by a private CA).
    pub root_certificates: Vec<Vec<u8>>,
}

impl SmtpOptions {
    /// A 30-second timeout, the public web roots only.
    pub fn new(url: SmtpUrl, from: Sender) -> Self {
        Self { url, from, timeout: Duration::from_secs(30), root_certificates: Vec::new() }
    }
}

/// Sends messages through one SMTP server, reusing connections (a small pool).
///
/// Errors are classified for the outbox: `4xx` replies, a server that cannot be reached, a
/// timeout, TLS and authentication trouble are [`PortErrorKind::Transient`] (the message waits
/// until the server or the configuration is fixed); other `5xx` replies (a refused recipient,
/// a message too large) are [`PortErrorKind::Permanent`].
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Sender,
    url: SmtpUrl,
}

impl SmtpNotifier {
    pub fn new(options: SmtpOptions) -> Result<Self, Error> {
        let SmtpOptions { url, from, timeout, root_certificates } = options;
        let tls_failed = |reason: String| Error::Tls { url: url.to_string(), reason };
        let tls = match url.tls() {
            TlsMode::None => Tls::None,
            mode => {
                let mut parameters = TlsParameters::builder(url.server_name().to_owned());
                for (i, pem) in root_certificates.iter().enumerate() {
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        return Err(tls_failed(format!("root certificate {} holds no PEM certificate", i + 1)));
                    }
                    let certificate = Certificate::from_pem(pem)
                        .map_err(|e| tls_failed(format!("root certificate {}: {e}", i + 1)))?;
                    parameters = parameters.add_root_certificate(certificate);
                }
                let parameters = parameters.build_rustls().map_err(|e| tls_failed(e.to_string()))?;
                if mode == TlsMode::Tls { Tls::Wrapper(parameters) } else { Tls::Required(parameters) }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.server_name())
            .port(url.port())
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(c) = url.credentials() {
            builder = builder.credentials(Credentials::new(c.user.clone(), c.password.expose().to_owned()));
        }
        Ok(Self { transport: builder.build(), from, url })
    }

    /// Connects, says hello (and logs in, with TLS as configured), and hangs up: whether the
    /// server can be used, for a check at start-up.
    pub async fn check(&self) -> Result<(), PortError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PortError::transient(format!("the SMTP server {} does not answer", self.url))),
            Err(e) => {
                Err(PortError::new(classify(&e), format!("cannot use the SMTP server {}", self.url)).with_source(e))
            }
        }
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        let email = email::build(&self.from, message, SystemTime::now())?;
        match self.transport.send(email).await {
            Ok(response) => {
                debug!(key = %message.key, server = %self.url, code = %response.code(), "message accepted");
                Ok(())
            }
            Err(e) => Err(PortError::new(
                classify(&e),
                format!("cannot send message {} to {} through {}", message.key, message.to, self.url),
            )
            .with_source(e)),
        }
    }
}

/// Whether trying again may help. Only the server's word (a `5xx` reply) makes a failure
/// permanent; a refused login (`530`, `534`, `535`, `538`) is the configuration's fault, not the
/// message's, so the message waits for it to be fixed.
fn classify(e: &lettre::transport::smtp::Error) -> PortErrorKind {
    match e.status().map(|code| code.to_string()) {
        Some(code) if e.is_permanent() && !matches!(code.as_str(), "530" | "534" | "535" | "538") => {
            PortErrorKind::Permanent
        }
        _ => PortErrorKind::Transient,
    }
}
