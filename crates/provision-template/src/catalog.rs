//! The catalog of blueprints an orchestrator offers: the built-ins, then blueprints from
//! configured directories, a later blueprint replacing an earlier one of the same name.

use crate::blueprint::Blueprint;
use crate::error::Error;
use crate::manifest::MANIFEST_FILE;
use provision_core::BlueprintName;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Blueprints by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    blueprints: BTreeMap<BlueprintName, Arc<Blueprint>>,
}

impl Catalog {
    /// A catalog of `blueprints` (usually [`crate::builtin::blueprints`]); a later one replaces
    /// an earlier one of the same name.
    pub fn new(blueprints: impl IntoIterator<Item = Blueprint>) -> Self {
        let mut catalog = Self::default();
        for b in blueprints {
            catalog.add(b);
        }
        catalog
    }

    /// The blueprints built into this binary.
    pub fn builtin() -> Result<Self, Error> {
        Ok(Self::new(crate::builtin::blueprints()?))
    }

    /// Adds a blueprint; returns the one of the same name it replaced.
    pub fn add(&mut self, blueprint: Blueprint) -> Option<Arc<Blueprint>> {
        self.blueprints.insert(blueprint.name().clone(), Arc::new(blueprint))
    }

    /// Adds the blueprint in `dir`, or, when `dir` has no `blueprint.toml`, every
    /// subdirectory of it that has one. All or nothing: if one fails to load, none is added.
    /// Returns the names added (each replacing a blueprint of the same name).
    pub fn add_dir(&mut self, dir: &Path) -> Result<Vec<BlueprintName>, Error> {
        let read = |e| Error::Read { path: dir.to_path_buf(), source: e };
        let loaded = if dir.join(MANIFEST_FILE).is_file() {
            vec![Blueprint::load_dir(dir)?]
        } else {
            let mut dirs: Vec<_> = std::fs::read_dir(dir)
                .map_err(read)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(read)?
                .into_iter()
                .map(|e| e.path())
                .filter(|p| p.join(MANIFEST_FILE).is_file())
                .collect();
            dirs.sort();
            dirs.iter().map(|d| Blueprint::load_dir(d)).collect::<Result<Vec<_>, _>>()?
        };
        if loaded.is_empty() {
            return Err(Error::NoBlueprint { dir: dir.to_path_buf() });
        }
        Ok(loaded
            .into_iter()
            .map(|b| {
                let name = b.name().clone();
                self.add(b);
                name
            })
            .collect())
    }

    /// Every blueprint, ordered by name.
    pub fn list(&self) -> impl ExactSizeIterator<Item = &Arc<Blueprint>> {
        self.blueprints.values()
    }

    pub fn get(&self, name: &BlueprintName) -> Option<Arc<Blueprint>> {
        self.blueprints.get(name).cloned()
    }

    pub fn len(&self) -> usize {
        self.blueprints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blueprints.is_empty()
    }
}
