//! [`LogNotifier`]: messages written to the log, for development and dry runs.

use async_trait::async_trait;
use provision_core::ports::{Notifier, OutgoingMessage, PortError};
use tracing::{debug, info};

/// Accepts every message and logs it: recipient and subject at `info`, the text at `debug`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        info!(key = %message.key, to = %message.to, subject = %message.subject, "message (not sent: log only)");
        debug!(key = %message.key, text = %message.text, "message text");
        Ok(())
    }
}
