//! Edits on `main` of repositories people own: an image tag bumped ([`image`]), secrets sealed
//! into a values file ([`secret`]), a chart published into the chart repository ([`chart`]).
//!
//! Each is one compare-and-swap commit on `main`, tried again on the new head when someone
//! pushed meanwhile: a single atomic effect, so not a journaled run. Asking again for what is
//! there already commits nothing.

pub mod chart;
pub mod image;
pub mod secret;

pub use chart::{ChartFile, ChartFileName, ChartReport};
pub use image::ImageReport;
pub use provision_sealed::Scope;
pub use secret::{SealInput, SecretReport, SecretValue};

use crate::config::{Layout, SealingCertificates};
use crate::error::{Classified, ErrorKind, Subject};
use provision_core::ports::{CommitId, CommitRequest, GitHost, PortError, PortErrorKind, Store};
use provision_core::{BranchName, FileEntry, FileSet, Invalid, Problem, RepoName, RepoPath, ServiceName, TreeMode};
use std::sync::Arc;

/// How often a single-commit edit is tried when `main` moves under it.
const COMMIT_ATTEMPTS: usize = 5;

/// Why an edit was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("service {0} does not exist")]
    ServiceNotFound(String),
    #[error("repository {repo} has no readable {file} on main")]
    NoValuesFile { repo: String, file: String },
    #[error("cannot set the image tag in {file} of {repo}")]
    Bump {
        repo: String,
        file: String,
        #[source]
        source: provision_helm::BumpError,
    },
    #[error(
        "no sealed-secrets certificate for environment {env}: set `certificate` under [sealed_secrets] in config.toml (or `{env} = …` under [sealed_secrets.certificates]), or pass --cert; `kubeseal --fetch-cert` prints the cluster's"
    )]
    NoSealingCertificate { env: String },
    /// The certificate cannot be used; `given` when the caller named it (else it is the
    /// configured one).
    #[error("{error}")]
    Certificate { given: bool, error: provision_sealed::CertificateError },
    #[error("cannot seal {key}")]
    Seal {
        key: String,
        #[source]
        source: provision_sealed::SealError,
    },
    #[error("cannot put the sealed values into {file} of {repo}")]
    SecretsEdit {
        repo: String,
        file: String,
        #[source]
        source: Box<provision_helm::SecretsEditError>,
    },
    #[error("cannot package the chart in {dir}")]
    Chart {
        dir: String,
        #[source]
        source: Box<provision_helm::PackageError>,
    },
    #[error("the chart's archive name {file:?} is not a valid file name in a repository")]
    ChartName { file: String },
    #[error("cannot update the index of chart repository {repo}")]
    ChartIndex {
        repo: String,
        #[source]
        source: Box<provision_helm::IndexError>,
    },
    #[error("nothing published yet in chart repository {repo}: run `orchestrator chart publish`")]
    NothingPublished { repo: String },
    #[error("the chart repository has no file {file}")]
    ChartFileNotFound { file: String },
    #[error("git failed")]
    Git(#[source] PortError),
    #[error("the store failed")]
    Store(#[source] PortError),
    #[error("packaging the chart stopped")]
    Join(#[from] tokio::task::JoinError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // The chart directory is the caller's.
            Error::Invalid(_) | Error::Chart { .. } | Error::ChartName { .. } => ErrorKind::Invalid,
            Error::Certificate { given: true, .. } => ErrorKind::Invalid,
            Error::ServiceNotFound(_) | Error::NothingPublished { .. } | Error::ChartFileNotFound { .. } => {
                ErrorKind::NotFound
            }
            // What is in the repository cannot take the edit (a published version's other
            // bytes included) until someone changes it.
            Error::NoValuesFile { .. } | Error::Bump { .. } | Error::SecretsEdit { .. } | Error::ChartIndex { .. } => {
                ErrorKind::Conflict
            }
            // The installation has no usable certificate for this cluster.
            Error::NoSealingCertificate { .. } | Error::Certificate { given: false, .. } => ErrorKind::Unavailable,
            Error::Seal { .. } | Error::Git(_) | Error::Store(_) | Error::Join(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(e) => e.code(),
            Error::ServiceNotFound(_) | Error::ChartFileNotFound { .. } => "not-found",
            Error::NothingPublished { .. } => "nothing-published",
            Error::NoValuesFile { .. } | Error::Bump { .. } => "values-file",
            Error::NoSealingCertificate { .. } | Error::Certificate { .. } | Error::SecretsEdit { .. } => "sealing",
            Error::Chart { .. } | Error::ChartName { .. } => "chart",
            Error::ChartIndex { .. } => "chart-index",
            Error::Seal { .. } | Error::Git(_) | Error::Store(_) | Error::Join(_) => "internal",
        }
    }

    fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(e) => e.problems(),
            _ => &[],
        }
    }

    fn subject(&self) -> Subject {
        match self {
            Error::ServiceNotFound(name) => Subject { service: Some(name.clone()), ..Subject::default() },
            Error::NoValuesFile { repo, .. }
            | Error::Bump { repo, .. }
            | Error::SecretsEdit { repo, .. }
            | Error::ChartIndex { repo, .. }
            | Error::NothingPublished { repo } => Subject { repo: Some(repo.clone()), ..Subject::default() },
            _ => Subject::default(),
        }
    }
}

/// What [`MainEdits::edit_on_main`] did.
struct Edited {
    /// The new commit, or `main`'s tip when nothing changed.
    commit: String,
    changed: bool,
}

/// Edits on `main`: the layout (environments, the chart repository), the sealing
/// certificates, the git host, and the inventory to know which services exist.
#[derive(Clone)]
pub struct MainEdits {
    layout: Arc<Layout>,
    sealing: Arc<SealingCertificates>,
    git: Arc<dyn GitHost>,
    store: Arc<dyn Store>,
}

impl MainEdits {
    pub(crate) fn new(
        layout: Arc<Layout>,
        sealing: Arc<SealingCertificates>,
        git: Arc<dyn GitHost>,
        store: Arc<dyn Store>,
    ) -> Self {
        MainEdits { layout, sealing, git, store }
    }

    /// The service `name` of the inventory.
    async fn existing_service(&self, name: &str) -> Result<ServiceName, Error> {
        let not_found = || Error::ServiceNotFound(name.to_owned());
        let service = ServiceName::parse(name).map_err(|_| not_found())?;
        match self.store.service(&service).await.map_err(Error::Store)? {
            Some(_) => Ok(service),
            None => Err(not_found()),
        }
    }

    /// Overlays `files` on `main` of `repo` over `parent` with `message`: `Ok(None)` if `main`
    /// moved meanwhile and `attempt` may be followed by another (the caller reads again), the
    /// commit otherwise.
    async fn commit_on_main(
        &self,
        repo: &RepoName,
        parent: Option<&CommitId>,
        files: &FileSet,
        message: &str,
        attempt: usize,
    ) -> Result<Option<CommitId>, Error> {
        let main = BranchName::main();
        let request =
            CommitRequest { branch: &main, parent, files, mode: TreeMode::Overlay, message, skip_unchanged: false };
        match self.git.commit(repo, request).await {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.kind == PortErrorKind::Conflict && attempt < COMMIT_ATTEMPTS => Ok(None),
            Err(e) => Err(Error::Git(e)),
        }
    }

    /// The text of `path` on `main` of `repo`.
    async fn text_on_main(&self, repo: &RepoName, path: &RepoPath) -> Result<String, Error> {
        self.git
            .read_file(repo, &BranchName::main(), path)
            .await
            .map_err(Error::Git)?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| Error::NoValuesFile { repo: repo.to_string(), file: path.to_string() })
    }

    /// What `edit` would make of `path` on `main` of `repo`, as a unified diff; `None` when it
    /// changes nothing. Nothing is written.
    async fn preview_on_main(
        &self,
        repo: &RepoName,
        path: &RepoPath,
        edit: impl Fn(&str) -> Result<Option<String>, Error>,
    ) -> Result<Option<String>, Error> {
        let text = self.text_on_main(repo, path).await?;
        Ok(edit(&text)?.filter(|edited| *edited != text).map(|edited| crate::diff::text(path.as_str(), &text, &edited)))
    }

    /// Edits `path` on `main` of `repo` in one commit with `message`: `edit` gets the file's
    /// text and answers the new text, or `None` to leave it as it is. When `main` moves under
    /// the commit, the file is read and edited again on the new head.
    async fn edit_on_main(
        &self,
        repo: &RepoName,
        path: &RepoPath,
        message: &str,
        edit: impl Fn(&str) -> Result<Option<String>, Error>,
    ) -> Result<Edited, Error> {
        let main = BranchName::main();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tip = self.git.branch_tip(repo, &main).await.map_err(Error::Git)?;
            let text = self.text_on_main(repo, path).await?;
            let edited = match edit(&text)? {
                Some(edited) if edited != text => edited,
                _ => return Ok(Edited { commit: tip.map(|t| t.0).unwrap_or_default(), changed: false }),
            };
            let files: FileSet = [(path.clone(), FileEntry::new(edited.into_bytes()))].into_iter().collect();
            if let Some(id) = self.commit_on_main(repo, tip.as_ref(), &files, message, attempt).await? {
                return Ok(Edited { commit: id.0, changed: true });
            }
        }
    }
}
