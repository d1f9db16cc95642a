//! The blueprints (service kinds) a runtime knows: the built-ins, then the configured
//! directories, loaded once on a blocking thread and shared; and the view of them clients list.

use crate::error::{Classified, ErrorKind};
use provision_template::{Blueprint, Catalog};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The configured blueprints could not be loaded: the installation's to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot load the blueprints")]
    Load(#[source] provision_template::Error),
    #[error("loading the blueprints stopped")]
    Join(#[source] tokio::task::JoinError),
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
    fn code(&self) -> &'static str {
        "blueprints"
    }
}

/// The blueprints, loaded on first use (or handed over already loaded) and shared by clones.
#[derive(Clone)]
pub struct Blueprints {
    dirs: Arc<[PathBuf]>,
    catalog: Arc<OnceCell<Arc<Catalog>>>,
}

impl Blueprints {
    /// The built-ins and `dirs`, loaded when first asked for.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Blueprints { dirs: dirs.into(), catalog: Arc::default() }
    }

    /// `catalog`, already loaded (from `dirs`).
    pub fn loaded(dirs: Vec<PathBuf>, catalog: Catalog) -> Self {
        let blueprints = Self::new(dirs);
        let _ = blueprints.catalog.set(Arc::new(catalog));
        blueprints
    }

    pub async fn catalog(&self) -> Result<Arc<Catalog>, Error> {
        self.catalog
            .get_or_try_init(|| async {
                let dirs = self.dirs.clone();
                let catalog = tokio::task::spawn_blocking(move || load(&dirs)).await.map_err(Error::Join)??;
                Ok::<_, Error>(Arc::new(catalog))
            })
            .await
            .cloned()
    }

    /// Every blueprint and the parameters it asks for.
    pub async fn kinds(&self) -> Result<Vec<KindView>, Error> {
        Ok(self.catalog().await?.list().map(|b| KindView::from_blueprint(b)).collect())
    }
}

/// Built-ins first, then each directory: a blueprint itself (it has a `blueprint.toml`) or a
/// folder of blueprints. Later ones replace earlier ones by name.
pub fn load(dirs: &[PathBuf]) -> Result<Catalog, Error> {
    let mut catalog = Catalog::builtin().map_err(Error::Load)?;
    for dir in dirs {
        catalog.add_dir(dir).map_err(Error::Load)?;
    }
    Ok(catalog)
}

/// A blueprint and the parameters it asks for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KindView {
    pub name: String,
    pub version: String,
    pub description: String,
    pub parameters: Vec<ParameterView>,
}

/// The type of a blueprint parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ParameterType {
    String,
    Bool,
    Integer,
    Choice,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "string",
            ParameterType::Bool => "bool",
            ParameterType::Integer => "integer",
            ParameterType::Choice => "choice",
        }
    }
}

impl std::fmt::Display for ParameterType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParameterView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParameterType,
    pub description: String,
    pub required: bool,
    /// Any JSON value, of the parameter's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// The other rules: format, length, pattern, bounds, choices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
}

impl KindView {
    pub(crate) fn from_blueprint(b: &Blueprint) -> Self {
        let m = b.manifest();
        KindView {
            name: m.name.to_string(),
            version: m.version.clone(),
            description: m.description.clone(),
            parameters: m.parameters.iter().map(ParameterView::from).collect(),
        }
    }
}

impl From<&provision_template::Parameter> for ParameterView {
    fn from(p: &provision_template::Parameter) -> Self {
        use provision_template::ParameterKind as K;
        let (kind, constraints) = match &p.kind {
            K::String { pattern, format, max_length } => {
                let mut c = Vec::new();
                if let Some(format) = format {
                    c.push(format!("{} ({})", format.describe(), format.name()));
                }
                if let Some(max) = max_length {
                    c.push(format!("at most {max} characters"));
                }
                if let Some(pattern) = pattern {
                    c.push(format!("matches {}", pattern.as_str()));
                }
                (ParameterType::String, c)
            }
            K::Bool => (ParameterType::Bool, Vec::new()),
            K::Integer { min, max } => {
                let mut c = Vec::new();
                if let Some(min) = min {
                    c.push(format!("at least {min}"));
                }
                if let Some(max) = max {
                    c.push(format!("at most {max}"));
                }
                (ParameterType::Integer, c)
            }
            K::Choice { choices } => (ParameterType::Choice, vec![format!("one of {}", choices.join(", "))]),
        };
        ParameterView {
            name: p.name.clone(),
            kind,
            description: p.description.clone(),
            required: p.required,
            default: p.default.as_ref().map(|d| serde_json::to_value(d).expect("an answer serializes")),
            constraints,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_lists_every_rule_it_follows() {
        let ms = load(&[]).unwrap();
        let ms = ms.list().find(|b| b.manifest().name.as_str() == "ms").unwrap();
        let view = KindView::from_blueprint(ms);
        let go_module = view.parameters.iter().find(|p| p.name == "go_module").unwrap();
        assert_eq!(go_module.constraints, ["a Go module path (go-module)"]);

        let b = provision_template::Blueprint::from_files(
            "test",
            vec![
                (
                    "blueprint.toml".to_owned(),
                    std::sync::Arc::from(
                        &b"name = \"t\"\nversion = \"1.0.0\"\ndescription = \"t\"\n[deploy]\nport = 1\nhealth_path = \"/\"\nready_path = \"/\"\n[[parameters]]\nname = \"p\"\ntype = \"string\"\nformat = \"go-module\"\nmax_length = 40\npattern = \"^a\"\n"[..],
                    ),
                ),
                ("app/x".to_owned(), std::sync::Arc::from(&b"x"[..])),
            ],
        )
        .unwrap();
        let view = KindView::from_blueprint(&b);
        assert_eq!(
            view.parameters[0].constraints,
            ["a Go module path (go-module)", "at most 40 characters", "matches ^a"]
        );
    }
}
