//! E-mail: the notifier the configuration names (SMTP, or a maildir under the data directory
//! when none is configured), the outbox dispatcher, and the workspace controller's
//! [`Announcer`], which queues the owner's access e-mail once per workspace.

use crate::config::Config;
use async_trait::async_trait;
use provision_core::ports::{MessageState, Notifier, Outbox, PortErrorKind};
use provision_core::workspace::Workspace;
use provision_k8s::workspace::controller::Announcer;
use provision_notify::{
    Dispatcher, MaildirNotifier, Sender, SmtpNotifier, SmtpOptions, SmtpUrl, Templates, workspace_ready_key,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot set up e-mail")]
    Notify(#[from] provision_notify::Error),
}

/// The notifier of `config`: SMTP when `smtp.url` is set, else the maildir `<home>/mail`.
pub fn notifier(config: &Config) -> Result<Arc<dyn Notifier>, Error> {
    let from = Sender::parse(&config.mail.from)?;
    Ok(match &config.mail.smtp_url {
        Some(url) => {
            let url: SmtpUrl = url.parse()?;
            Arc::new(SmtpNotifier::new(SmtpOptions::new(url, from))?)
        }
        None => Arc::new(MaildirNotifier::new(config.home.join("mail"), from)?),
    })
}

/// The message templates of `config`: its directory's, or the built-in ones.
pub fn templates(config: &Config) -> Result<Templates, Error> {
    Ok(match &config.mail.templates {
        Some(dir) => Templates::from_dir(dir)?,
        None => Templates::builtin(),
    })
}

/// Queues a workspace's access e-mail when it first becomes ready, under a key made of its uid,
/// so the message is queued (and sent) once however often this is called; withdraws it when
/// the workspace is deleted before it went out.
pub struct MailAnnouncer {
    pub dispatcher: Arc<Dispatcher>,
    pub outbox: Arc<dyn Outbox>,
    pub templates: Templates,
}

#[async_trait]
impl Announcer for MailAnnouncer {
    async fn ready(&self, uid: &str, workspace: &Workspace) -> Result<(), String> {
        let key = workspace_ready_key(uid).map_err(|e| e.to_string())?;
        let message = self.templates.workspace_ready(key, workspace).map_err(|e| e.to_string())?;
        self.dispatcher.enqueue(&message).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn deleted(&self, uid: &str) -> Result<(), String> {
        let key = workspace_ready_key(uid).map_err(|e| e.to_string())?;
        let Some(record) = self.outbox.message(&key).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        if record.state != MessageState::Pending {
            return Ok(());
        }
        match self
            .outbox
            .mark_failed(&key, record.attempts, "withdrawn: the workspace was deleted", None, jiff::Timestamp::now())
            .await
        {
            // Sent or given up meanwhile: nothing left to withdraw.
            Err(e) if e.kind == PortErrorKind::Conflict => Ok(()),
            other => other.map_err(|e| e.to_string()),
        }
    }
}
