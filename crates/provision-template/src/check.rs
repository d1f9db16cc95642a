//! `check_dir`: every problem of a blueprint directory, each with its file and line, for
//! blueprint authors (and CI) before a blueprint is used.

use crate::answers::RenderContext;
use crate::blueprint::{assemble, read_dir_files};
use crate::error::{Diagnostic, Error, RenderError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Checks the blueprint in `dir` and returns every problem found (empty: the blueprint is
/// fine): unreadable files, manifest syntax and fields, parameter definitions, a missing
/// `app/`, template syntax, templated path segments, variables that are neither built in nor
/// parameters, and — when every parameter has a default — a trial render of every target
/// with example built-ins.
pub fn check_dir(dir: &Path) -> Vec<Diagnostic> {
    let origin = dir.display().to_string();
    let (files, mut diagnostics) = match read_dir_files(dir) {
        Ok(read) => read,
        Err(Error::Read { path, source }) => {
            return vec![Diagnostic::new(path, None, format!("cannot read: {source}"))];
        }
        Err(other) => return vec![Diagnostic::new(dir, None, other.to_string())],
    };
    let (blueprint, more) = assemble(&origin, files);
    diagnostics.extend(more);
    let Some(blueprint) = blueprint else { return diagnostics };
    let at = |source: &str| PathBuf::from(&origin).join(source);

    let ctx = RenderContext::example();
    let mut failed: BTreeMap<String, ()> = BTreeMap::new();
    if let Ok(answers) = blueprint.resolve_answers(&BTreeMap::new(), &ctx) {
        for error in blueprint.render_all_errors(&ctx, &answers) {
            let (source, line) = match &error {
                RenderError::Template { template, line, .. } => (template.clone(), *line),
                RenderError::Path { template, .. } | RenderError::Collision { template, .. } => {
                    (template.clone(), None)
                }
            };
            let message = match &error {
                RenderError::Template { message, .. } => message.clone(),
                other => other.to_string().trim_start_matches(&format!("{source}: ")).to_owned(),
            };
            diagnostics.push(Diagnostic::new(at(&source), line, format!("trial render: {message}")));
            failed.insert(source, ());
        }
    }
    for (source, line, names) in blueprint.unknown_variables() {
        if failed.contains_key(&source) {
            continue;
        }
        diagnostics.push(Diagnostic::new(
            at(&source),
            line,
            format!("uses {}, neither a built-in variable nor a parameter", names.join(", ")),
        ));
    }
    diagnostics
}
