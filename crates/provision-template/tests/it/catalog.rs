//! The catalog: built-ins first, user directories replacing blueprints of the same name.

use crate::support::{MANIFEST, templates_dir, write_tree};
use provision_core::BlueprintName;
use provision_template::{Catalog, Error, Target, builtin};

fn ms() -> BlueprintName {
    BlueprintName::parse("ms").unwrap()
}

#[test]
fn builtins_hold_ms_without_charts() {
    assert!(builtin::names().any(|n| n == "ms"));
    assert!(!builtin::names().any(|n| n == "charts"));
    let catalog = Catalog::builtin().unwrap();
    let ms = catalog.get(&ms()).unwrap();
    assert_eq!(ms.origin(), "builtin:ms");
    assert!(ms.has_target(Target::App) && ms.has_target(Target::Infra));
}

#[test]
fn the_builtin_is_the_workspace_directory() {
    let embedded = builtin::get("ms").unwrap().unwrap();
    let on_disk = provision_template::Blueprint::load_dir(&templates_dir("ms")).unwrap();
    assert_eq!(embedded.digest(), on_disk.digest(), "rebuild: templates/ms changed since the build");
}

#[test]
fn a_user_directory_replaces_a_builtin_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let custom = MANIFEST.replace("name = \"tiny\"", "name = \"ms\"").replace("A test blueprint", "Our own ms");
    write_tree(
        dir.path(),
        &[
            ("ms/blueprint.toml", &custom),
            ("ms/app/README.md.jinja", "# {{ name }}\n"),
            ("other/blueprint.toml", MANIFEST),
            ("other/app/x", "x"),
            ("charts/README.md", "not a blueprint"),
        ],
    );
    let mut catalog = Catalog::builtin().unwrap();
    let before = catalog.len();
    let added = catalog.add_dir(dir.path()).unwrap();
    assert_eq!(added, [ms(), BlueprintName::parse("tiny").unwrap()]);
    assert_eq!(catalog.len(), before + 1);
    let ms = catalog.get(&ms()).unwrap();
    assert_eq!(ms.manifest().description, "Our own ms");
    assert_eq!(ms.origin(), dir.path().join("ms").display().to_string());
    let names: Vec<String> = catalog.list().map(|b| b.name().to_string()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
}

#[test]
fn a_single_blueprint_directory_can_be_added() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("blueprint.toml", MANIFEST), ("app/x", "x")]);
    let mut catalog = Catalog::new([]);
    assert_eq!(catalog.add_dir(dir.path()).unwrap(), [BlueprintName::parse("tiny").unwrap()]);
}

#[test]
fn adding_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("a/blueprint.toml", MANIFEST), ("a/app/x", "x"), ("b/blueprint.toml", "name = 1")]);
    let mut catalog = Catalog::new([]);
    assert!(matches!(catalog.add_dir(dir.path()), Err(Error::Invalid { .. })));
    assert!(catalog.is_empty());
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(catalog.add_dir(empty.path()), Err(Error::NoBlueprint { .. })));
}
