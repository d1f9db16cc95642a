//! Blueprints (service kinds) and pure rendering: files in, files out, nothing written.
//!
//! A blueprint is a directory: `blueprint.toml` (the [`Manifest`]) and one sub-template per
//! [`Target`]: `app/` (the service repository, required), `infra/` (extra files of the infra
//! repository) and `gitops/` (extra files registered in the GitOps repository). Files ending
//! `.jinja` are rendered with minijinja (Jinja2 syntax, as copier does) and lose the suffix;
//! other files are copied byte for byte, sharing their bytes. Path segments may hold
//! expressions; a segment rendering to nothing leaves the file out, and a rendered path that
//! is not a [`provision_core::RepoPath`] is a [`RenderError`].
//!
//! Every template sees the built-in variables ([`BUILTIN_VARIABLES`], from the
//! [`RenderContext`] and the manifest) and the resolved [`Answers`], flat.

mod answers;
mod blueprint;
pub mod builtin;
mod catalog;
mod check;
mod error;
mod format;
mod manifest;
mod quote;

pub use answers::{AnswerValue, Answers, BUILTIN_VARIABLES, Builtins, RenderContext};
pub use blueprint::{Blueprint, TEMPLATE_SUFFIX, Target};
pub use catalog::Catalog;
pub use check::check_dir;
pub use error::{Diagnostic, Error, RenderError};
pub use format::{Format, GO_MODULE_MAX};
pub use manifest::{Deploy, MANIFEST_FILE, Manifest, Migration, Parameter, ParameterKind, Pattern, parse_version};
