//! Publishing a Helm chart into the chart repository: the packaged `.tgz` and Helm's
//! `index.yaml`, committed together on `main` of the chart repository (`git.chart_repo`), so
//! serving that repository's files over HTTP makes it a Helm repository.
//!
//! One compare-and-swap commit, tried again when `main` moved: like bump-image, one atomic
//! effect, not a run. Publishing the same chart again commits nothing; changing a published
//! version is refused (whoever pulled it must keep getting the same bytes).

use super::{Error, MainEdits};
use provision_core::ports::PortErrorKind;
use provision_core::{BranchName, FileEntry, FileSet, RepoPath};
use provision_helm::{Added, Index};
use serde::Serialize;
use std::path::Path;

const INDEX: &str = "index.yaml";

/// The answer to chart publish.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChartReport {
    pub chart: String,
    pub version: String,
    /// The archive, next to `index.yaml` in the chart repository.
    pub file: String,
    /// Its sha256, as the index records it.
    pub digest: String,
    /// Where Helm downloads it from (`deploy.chart_repository` + the file).
    pub url: String,
    /// The chart repository.
    pub repo: String,
    /// The commit that published it, or `main`'s tip if it was published already.
    pub commit: String,
    /// Whether this call published it (false: that very archive was in the index already).
    pub published: bool,
}

impl MainEdits {
    /// Packages the chart in `dir` and adds it to the chart repository's index.
    pub async fn publish_chart(&self, dir: &Path) -> Result<ChartReport, Error> {
        let owned = dir.to_owned();
        let packaged = tokio::task::spawn_blocking(move || {
            provision_helm::read_chart_dir(&owned).and_then(|files| provision_helm::package(&files))
        })
        .await?
        .map_err(|source| Error::Chart { dir: dir.display().to_string(), source: Box::new(source) })?;

        let repo = &self.layout.chart_repo;
        if !self.git.repo_exists(repo).await.map_err(Error::Git)? {
            match self.git.create_repo(repo, "Helm chart repository").await {
                Ok(()) => {}
                Err(e) if e.kind == PortErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::Git(e)),
            }
        }
        let main = BranchName::main();
        let index_path = RepoPath::parse(INDEX).expect("a valid constant path");
        let archive_path =
            RepoPath::parse(&packaged.file_name).map_err(|_| Error::ChartName { file: packaged.file_name.clone() })?;
        let base_url = &self.layout.chart.repository;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tip = self.git.branch_tip(repo, &main).await.map_err(Error::Git)?;
            let now = jiff::Timestamp::now();
            let mut index = match self.git.read_file(repo, &main, &index_path).await.map_err(Error::Git)? {
                Some(text) => Index::parse(&String::from_utf8_lossy(&text))
                    .map_err(|source| Error::ChartIndex { repo: repo.to_string(), source: Box::new(source) })?,
                None => Index::new(now),
            };
            let added = index
                .add(&packaged, base_url, now)
                .map_err(|source| Error::ChartIndex { repo: repo.to_string(), source: Box::new(source) })?;
            let report = |commit: String, published| ChartReport {
                chart: packaged.metadata.name.clone(),
                version: packaged.metadata.version.clone(),
                file: packaged.file_name.clone(),
                digest: packaged.digest_sha256.clone(),
                url: provision_helm::chart_url(base_url, &packaged.file_name),
                repo: repo.to_string(),
                commit,
                published,
            };
            if added == Added::AlreadyPresent {
                return Ok(report(tip.map(|t| t.0).unwrap_or_default(), false));
            }
            let yaml = index
                .to_yaml()
                .map_err(|source| Error::ChartIndex { repo: repo.to_string(), source: Box::new(source) })?;
            let files: FileSet = [
                (archive_path.clone(), FileEntry::new(packaged.bytes.clone())),
                (index_path.clone(), FileEntry::new(yaml.into_bytes())),
            ]
            .into_iter()
            .collect();
            let message = format!("Publish chart {} {}\n", packaged.metadata.name, packaged.metadata.version);
            if let Some(id) = self.commit_on_main(repo, tip.as_ref(), &files, &message, attempt).await? {
                return Ok(report(id.0, true));
            }
        }
    }
}
