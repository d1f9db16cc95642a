//! Every blueprint rendered with hostile values wherever its rules allow them (`#`, `: `,
//! quotes, backslashes, newlines, `{{`, YAML indicators, Unicode line separators): every YAML
//! file it generates parses back, shaped exactly as when rendered with plain values, and the
//! hostile values read back as themselves. Built-in blueprints, and one that quotes every kind
//! of value.

use crate::support::{blueprint, ctx};
use provision_template::{Blueprint, Catalog, ParameterKind, RenderContext, Target};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Values that change a YAML document's meaning when written unquoted.
const HOSTILE: &[&str] = &[
    "a: b # c",
    "#comment",
    "\"double\" 'single' \\back\\slash",
    "line\nbreak: x\n- item",
    "{{ not_a_template }} {% raw %} ${{ secrets.X }}",
    "- item",
    "&anchor *alias !tag |literal >folded",
    "[flow, seq] {flow: map}",
    "yes",
    "null",
    "0x1F",
    "",
    " leading and trailing ",
    "tab\there\r\nand\u{0}nul",
    "ünïcödé ✓ \u{2028}separator\u{2029} \u{85}nel \u{feff}bom",
    "--- \n...",
    "%YAML 1.2",
];

/// Placeholders: plain values the same template turns into the hostile ones.
const DESCRIPTION: &str = "markerdescription";
const INFRA_URL: &str = "markerinfraurl";
const SERVICE_URL: &str = "markerserviceurl";
const IMAGE: &str = "markerimage";
const PARAMETER: &str = "markerparameter";

/// A context with `description`, the repositories' URLs and the image set to `value` (the
/// description without control characters, which create-service refuses in it).
fn context(value: impl Fn(&str) -> String) -> RenderContext {
    let mut c = ctx("payments");
    c.builtins.description = value(DESCRIPTION).chars().filter(|c| !c.is_control()).collect();
    c.builtins.infra_repo_url = value(INFRA_URL);
    c.builtins.service_repo_url = value(SERVICE_URL);
    c.builtins.image = value(IMAGE);
    c
}

/// `value` for every string parameter without a rule, the defaults for the rest.
fn answers(b: &Blueprint, value: &str) -> BTreeMap<String, serde_json::Value> {
    b.manifest()
        .parameters
        .iter()
        .filter(|p| matches!(p.kind, ParameterKind::String { pattern: None, format: None, max_length: None }))
        .map(|p| (p.name.clone(), Value::from(value)))
        .collect()
}

/// Every YAML file of every target, parsed (all its documents).
fn yaml_files(
    b: &Blueprint,
    c: &RenderContext,
    given: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, Value> {
    let answers = b.resolve_answers(given, c).unwrap();
    let mut out = BTreeMap::new();
    for target in Target::ALL {
        for (path, entry) in b.render(target, c, &answers).unwrap().iter() {
            let path = format!("{target:?}/{path}");
            if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
                continue;
            }
            let text = std::str::from_utf8(&entry.content).unwrap();
            let documents: Vec<Value> = serde_saphyr::from_multiple(text)
                .unwrap_or_else(|e| panic!("{} renders {path} that does not parse: {e}\n{text}", b.manifest().name));
            out.insert(path, Value::Array(documents));
        }
    }
    out
}

/// `value` with every placeholder replaced as `replace` says, in keys and strings alike.
fn substitute(value: &Value, replace: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(replace(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, replace)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (replace(k), substitute(v, replace))).collect()),
        other => other.clone(),
    }
}

/// The placeholders found in `value`'s strings.
fn placeholders(value: &Value, found: &mut BTreeSet<&'static str>) {
    match value {
        Value::String(s) => {
            found.extend([DESCRIPTION, INFRA_URL, SERVICE_URL, IMAGE, PARAMETER].into_iter().filter(|m| s.contains(m)));
        }
        Value::Array(items) => items.iter().for_each(|v| placeholders(v, found)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            placeholders(&Value::String(k.clone()), found);
            placeholders(v, found);
        }),
        _ => {}
    }
}

/// Renders `b` with placeholders and with each hostile value; returns the placeholders its YAML
/// files hold.
fn check(b: &Blueprint) -> BTreeSet<&'static str> {
    let plain = yaml_files(b, &context(str::to_owned), &answers(b, PARAMETER));
    let mut found = BTreeSet::new();
    plain.values().for_each(|v| placeholders(v, &mut found));
    for hostile in HOSTILE {
        let rendered = yaml_files(b, &context(|_| (*hostile).to_owned()), &answers(b, hostile));
        let description: String = hostile.chars().filter(|c| !c.is_control()).collect();
        let replace = |s: &str| {
            s.replace(DESCRIPTION, &description)
                .replace(INFRA_URL, hostile)
                .replace(SERVICE_URL, hostile)
                .replace(IMAGE, hostile)
                .replace(PARAMETER, hostile)
        };
        assert_eq!(rendered.keys().collect::<Vec<_>>(), plain.keys().collect::<Vec<_>>(), "{hostile:?}");
        for (path, expected) in &plain {
            assert_eq!(
                rendered[path],
                substitute(expected, &replace),
                "{} {path}: {hostile:?} does not read back as itself",
                b.manifest().name
            );
        }
    }
    found
}

#[test]
fn every_built_in_blueprint_writes_hostile_values_into_yaml_as_themselves() {
    let catalog = Catalog::builtin().unwrap();
    assert!(catalog.list().len() > 0);
    for b in catalog.list() {
        let found = check(b);
        if b.manifest().name.as_str() == "ms" {
            // Its CI workflow names the image and the infra repository's URL.
            assert_eq!(found, BTreeSet::from([INFRA_URL, IMAGE]), "the placeholders in ms's YAML");
        }
    }
}

#[test]
fn a_blueprint_quoting_every_kind_of_value_reads_each_back() {
    let b = blueprint(
        r#"
[[parameters]]
name = "greeting"
type = "string"
default = "hello"

[[parameters]]
name = "replicas"
type = "integer"
default = 2
"#,
        &[
            ("app/README.md", "plain\n"),
            (
                "gitops/values.yaml.jinja",
                r#"# {{ name }}: a comment may hold typed names only
service: {{ name | yaml }}
description: {{ description | yaml }}
image: {{ image | yaml }}
repos: {{ [service_repo_url, infra_repo_url] | yaml }}
greeting: {{ greeting | yaml }}
replicas: {{ replicas | yaml }}
environments: {{ environments | yaml }}
labels: {{ {"owner": owner, "greeting": greeting} | yaml }}
{{ greeting | yaml }}: as a key
nested:
  - {{ ("before " ~ greeting ~ " after") | yaml }}
  - key: {{ greeting | yaml }}
"#,
            ),
        ],
    );
    assert_eq!(check(&b), BTreeSet::from([DESCRIPTION, INFRA_URL, SERVICE_URL, IMAGE, PARAMETER]));
}
