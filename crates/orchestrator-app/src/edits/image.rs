//! Bumping a service's image tag in its infra repository, as its CI does after each build.
//!
//! One commit that changes one line of one values file (`values.yaml`, or `values-<env>.yaml`
//! for one environment), made by compare-and-swap on `main` and tried again on the new head
//! when someone pushed meanwhile. It is not a journaled run: a single atomic commit is either
//! there or not, and asking again with the same tag finds it there and commits nothing.

use super::{Error, MainEdits};
use provision_core::problem::{Collector, Problem};
use provision_core::{EnvName, RepoPath};
use provision_helm::ImageTag;
use serde::Serialize;

/// The answer to bump-image.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageReport {
    pub service: String,
    /// The environment whose values file changed; absent: `values.yaml`, every environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    pub tag: String,
    /// The infra repository.
    pub repo: String,
    pub file: String,
    /// The commit that set the tag, or `main`'s tip if the tag was set already.
    pub commit: String,
    /// Whether a commit was made (false: the tag was set already); in a dry run, whether one
    /// would be.
    pub changed: bool,
    /// Nothing was written: `diff` shows what would be.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// In a dry run, the unified diff of the values file (absent when the tag is set already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl MainEdits {
    /// Sets the image tag of service `name` to `tag`, in every environment (`values.yaml`) or in
    /// `env` only (`values-<env>.yaml`).
    pub async fn bump_image(
        &self,
        name: &str,
        tag: &str,
        env: Option<&str>,
        dry_run: bool,
    ) -> Result<ImageReport, Error> {
        let mut c = Collector::new();
        let tag = match ImageTag::parse(tag) {
            Ok(tag) => Some(tag),
            Err(message) => {
                c.push(Problem::new("tag", "invalid", message));
                None
            }
        };
        let env = env.and_then(|e| match EnvName::parse(e) {
            Ok(env) if self.layout.environments.contains(&env) => Some(env),
            _ => {
                let known: Vec<&str> = self.layout.environments.iter().map(|e| e.as_str()).collect();
                c.push(Problem::new(
                    "env",
                    "unknown-environment",
                    format!("unknown environment {e:?}; configured: {}", known.join(", ")),
                ));
                None
            }
        });
        c.finish()?;
        let tag = tag.expect("no problem means the tag parsed");
        let service = self.existing_service(name).await?;

        let repo = service.infra_repo();
        let file = match &env {
            Some(env) => format!("values-{env}.yaml"),
            None => "values.yaml".to_owned(),
        };
        let path = RepoPath::parse(&file).expect("a values file name is a valid path");
        let scope = env.as_ref().map_or_else(|| "all environments".to_owned(), |e| e.to_string());
        let message = format!("Bump {service} image to {tag} in {scope}\n");
        let set_tag = |text: &str| {
            let (edited, changed) = provision_helm::set_image_tag(text, &self.layout.chart.name, &tag)
                .map_err(|source| Error::Bump { repo: repo.to_string(), file: file.clone(), source })?;
            Ok(changed.then_some(edited))
        };
        let (commit, changed, diff) = if dry_run {
            let diff = self.preview_on_main(&repo, &path, set_tag).await?;
            let tip = self.git.branch_tip(&repo, &provision_core::BranchName::main()).await.map_err(Error::Git)?;
            (tip.map(|t| t.0).unwrap_or_default(), diff.is_some(), diff)
        } else {
            let edited = self.edit_on_main(&repo, &path, &message, set_tag).await?;
            (edited.commit, edited.changed, None)
        };
        Ok(ImageReport {
            service: service.to_string(),
            env: env.as_ref().map(|e| e.to_string()),
            tag: tag.to_string(),
            repo: repo.to_string(),
            file,
            commit,
            changed,
            dry_run,
            diff,
        })
    }
}
