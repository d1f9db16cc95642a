//! Publishing a Helm chart into the chart repository: the packaged `.tgz` and Helm's
//! `index.yaml`, committed together on `main` of the chart repository (`git.chart_repo`), so
//! serving that repository's files over HTTP makes it a Helm repository.
//!
//! One compare-and-swap commit, tried again when `main` moved: like bump-image, one atomic
//! effect, not a run. Publishing the same chart again commits nothing; changing a published
//! version is refused (whoever pulled it must keep getting the same bytes).
//!
//! [`MainEdits::chart_file`] reads what the API serves at `/charts`: a file of `main`, named
//! by a [`ChartFileName`], which can only be `index.yaml` or an archive's name.

use super::{Error, MainEdits};
use provision_core::ports::PortErrorKind;
use provision_core::{BranchName, FileEntry, FileSet, RepoPath};
use provision_helm::{Added, Index};
use serde::Serialize;
use sha2::Digest as _;
use std::path::Path;

const INDEX: &str = "index.yaml";

/// The longest archive name served (a chart name is at most 250 characters by Helm's rules).
const MAX_FILE_NAME: usize = 255;

/// A file of the chart repository that may be served: `index.yaml`, or a chart archive
/// `<name>-<version>.tgz` of letters, digits and `-._+` that starts with a letter or digit.
/// Anything else (a path with `/`, `..`, `index.yaml.bak`) is no such file, so no request can
/// name another file of the repository or a path outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartFileName {
    Index,
    Archive(String),
}

impl ChartFileName {
    /// The file named `name`, if it may be served.
    pub fn parse(name: &str) -> Option<Self> {
        if name == INDEX {
            return Some(ChartFileName::Index);
        }
        let stem = name.strip_suffix(".tgz")?;
        let safe = |c: char| c.is_ascii_alphanumeric() || "-._+".contains(c);
        // A version may hold `-` itself (`2.0.0-rc.1`): some `-` is followed by its first digit.
        let has_version =
            stem.match_indices('-').any(|(at, _)| at > 0 && stem[at + 1..].starts_with(|c: char| c.is_ascii_digit()));
        let well_formed = name.len() <= MAX_FILE_NAME
            && stem.chars().all(safe)
            && stem.starts_with(|c: char| c.is_ascii_alphanumeric())
            && !stem.contains("..")
            && has_version;
        well_formed.then(|| ChartFileName::Archive(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            ChartFileName::Index => INDEX,
            ChartFileName::Archive(name) => name,
        }
    }

    pub fn is_index(&self) -> bool {
        matches!(self, ChartFileName::Index)
    }
}

impl std::fmt::Display for ChartFileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file of the chart repository's `main`, as it is in git.
#[derive(Debug, Clone)]
pub struct ChartFile {
    pub bytes: Vec<u8>,
    /// The lowercase hex sha256 of `bytes`.
    pub sha256: String,
}

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
    /// The file `name` on `main` of the chart repository: [`Error::NothingPublished`] while no
    /// chart has been published (no repository, or no index), [`Error::ChartFileNotFound`] for
    /// an archive that is not there.
    pub async fn chart_file(&self, name: &ChartFileName) -> Result<ChartFile, Error> {
        let repo = &self.layout.chart_repo;
        let nothing = || Error::NothingPublished { repo: repo.to_string() };
        if !self.git.repo_exists(repo).await.map_err(Error::Git)? {
            return Err(nothing());
        }
        let path = RepoPath::parse(name.as_str()).map_err(|_| Error::ChartName { file: name.to_string() })?;
        match self.git.read_file(repo, &BranchName::main(), &path).await.map_err(Error::Git)? {
            Some(bytes) => {
                let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
                Ok(ChartFile { bytes, sha256 })
            }
            None if name.is_index() => Err(nothing()),
            None => Err(Error::ChartFileNotFound { file: name.to_string() }),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::ChartFileName;

    #[test]
    fn only_the_index_and_archive_names_are_chart_files() {
        assert_eq!(ChartFileName::parse("index.yaml"), Some(ChartFileName::Index));
        for name in ["ms-base-chart-0.1.0.tgz", "a-1.0.0+build.5.tgz", "web-2.0.0-rc.1.tgz"] {
            assert_eq!(ChartFileName::parse(name).map(|n| n.to_string()), Some(name.to_owned()), "{name}");
        }
        for name in [
            "",
            "index.yaml.bak",
            "Index.yaml",
            "../index.yaml",
            "..%2Findex.yaml",
            "x.tgz/..",
            "a/b-1.0.0.tgz",
            "..-1.0.0.tgz",
            "a..b-1.0.0.tgz",
            ".hidden-1.0.0.tgz",
            "-1.0.0.tgz",
            "chart.tgz",
            "chart-x.tgz",
            "a b-1.0.0.tgz",
            "a-1.0.0.tgz\n",
            "a-1.0.0.tar.gz",
            "HEAD",
            ".git",
        ] {
            assert_eq!(ChartFileName::parse(name), None, "{name:?}");
        }
        assert_eq!(ChartFileName::parse(&format!("{}-1.0.0.tgz", "a".repeat(300))), None);
    }
}
