//! The rules on a synthetic CRD, `Widget` (`example.com/v1`), whose `spec` schema each test
//! writes, so every keyword is covered whether or not an upstream CRD uses it. The upstream CRDs
//! are exercised by `tests/it/schema.rs`.

use super::*;
use serde_json::json;

/// A CRD defining `Widget` in `example.com/v1`, its `spec` described by `spec_schema` (YAML).
fn widgets(spec_schema: &str) -> Crds {
    let spec: Value = serde_saphyr::from_str(spec_schema).unwrap();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                    },
                }},
            }],
        },
    });
    Crds::parse("widgets.yaml", &crd.to_string()).unwrap()
}

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}, "spec": spec})
}

/// Asserts that `object` breaks exactly the `expected` rules at those paths (in any order).
fn check(crds: &Crds, object: &Value, expected: &[(&str, Rule)]) {
    let mut expected: Vec<(String, Rule)> = expected.iter().map(|(p, r)| ((*p).to_owned(), *r)).collect();
    expected.sort_by(|a, b| (&a.0, a.1.keyword()).cmp(&(&b.0, b.1.keyword())));
    assert_eq!(crds.broken_rules(object), expected, "for {object}");
}

fn check_spec(crds: &Crds, spec: Value, expected: &[(&str, Rule)]) {
    check(crds, &widget(spec), expected);
}

#[test]
fn every_type_is_checked_and_an_integral_float_is_an_integer() {
    let crds = widgets(
        "type: object
properties:
  o: {type: object}
  a: {type: array, items: {type: string}}
  s: {type: string}
  i: {type: integer}
  n: {type: number}
  b: {type: boolean}
",
    );
    check_spec(&crds, json!({"o": {}, "a": ["x"], "s": "x", "i": 3, "n": 2.5, "b": true}), &[]);
    check_spec(&crds, json!({"i": 3.0, "n": 3}), &[]);
    check_spec(
        &crds,
        json!({"o": "x", "a": {}, "s": 1, "i": 2.5, "n": "1", "b": "true"}),
        &[
            (".spec.o", Rule::Type),
            (".spec.a", Rule::Type),
            (".spec.s", Rule::Type),
            (".spec.i", Rule::Type),
            (".spec.n", Rule::Type),
            (".spec.b", Rule::Type),
        ],
    );
    // Inside a list, `null` is not dropped: it is the wrong type.
    check_spec(&crds, json!({"a": ["x", 1, null]}), &[(".spec.a[1]", Rule::Type), (".spec.a[2]", Rule::Type)]);
    // An object without properties (and without preserve-unknown-fields) has no fields.
    check_spec(&crds, json!({"o": {"x": 1}}), &[(".spec.o.x", Rule::UnknownField)]);
}

#[test]
fn numbers_keep_to_their_bounds_and_formats() {
    let crds = widgets(
        "type: object
properties:
  min: {type: integer, minimum: 1}
  xmin: {type: number, minimum: 1, exclusiveMinimum: true}
  max: {type: integer, maximum: 10}
  xmax: {type: number, maximum: 10, exclusiveMaximum: true}
  step: {type: integer, multipleOf: 5}
  i32: {type: integer, format: int32}
  i64: {type: integer, format: int64}
  f: {type: number, format: double}
",
    );
    check_spec(
        &crds,
        json!({"min": 1, "xmin": 1.5, "max": 10, "xmax": 9.9, "step": 15, "i32": 2147483647, "i64": 9223372036854775807_i64, "f": 0.1}),
        &[],
    );
    check_spec(
        &crds,
        json!({"min": 0, "xmin": 1, "max": 11, "xmax": 10, "step": 7, "i32": 2147483648_i64, "i64": 9223372036854775808_u64}),
        &[
            (".spec.min", Rule::Minimum),
            (".spec.xmin", Rule::Minimum),
            (".spec.max", Rule::Maximum),
            (".spec.xmax", Rule::Maximum),
            (".spec.step", Rule::MultipleOf),
            (".spec.i32", Rule::Format),
            (".spec.i64", Rule::Format),
        ],
    );
}

#[test]
fn strings_keep_to_their_lengths_patterns_formats_and_enums() {
    let crds = widgets(
        "type: object
properties:
  short: {type: string, minLength: 2, maxLength: 3}
  code: {type: string, pattern: '^[a-z]+$'}
  part: {type: string, pattern: '[0-9]'}
  when: {type: string, format: date-time}
  day: {type: string, format: date}
  blob: {type: string, format: byte}
  free: {type: string, format: not-a-format-the-server-knows}
  color: {type: string, enum: [red, green]}
",
    );
    // Lengths count characters, not bytes; a pattern is not anchored unless it says so.
    check_spec(
        &crds,
        json!({
            "short": "äöü", "code": "abc", "part": "v2beta", "when": "2024-02-29T23:59:59.123+01:00",
            "day": "2024-02-29", "blob": "aGk=", "free": "anything", "color": "red",
        }),
        &[],
    );
    check_spec(
        &crds,
        json!({
            "short": "abcd", "code": "ABC", "part": "none", "when": "2024-02-30T10:00:00Z",
            "day": "2023-02-29", "blob": "not base64", "color": "blue",
        }),
        &[
            (".spec.short", Rule::MaxLength),
            (".spec.code", Rule::Pattern),
            (".spec.part", Rule::Pattern),
            (".spec.when", Rule::Format),
            (".spec.day", Rule::Format),
            (".spec.blob", Rule::Format),
            (".spec.color", Rule::Enum),
        ],
    );
    check_spec(&crds, json!({"short": "a"}), &[(".spec.short", Rule::MinLength)]);
}

#[test]
fn lists_and_maps_keep_to_their_sizes_and_list_types() {
    let crds = widgets(
        "type: object
properties:
  few: {type: array, minItems: 1, maxItems: 2, items: {type: string}}
  tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
  ports:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name]
    items:
      type: object
      required: [name]
      properties: {name: {type: string}, port: {type: integer}}
  env: {type: object, minProperties: 1, maxProperties: 2, additionalProperties: {type: string}}
",
    );
    check_spec(
        &crds,
        json!({"few": ["a"], "tags": ["a", "b"], "ports": [{"name": "http", "port": 80}, {"name": "https"}], "env": {"A": "1"}}),
        &[],
    );
    check_spec(
        &crds,
        json!({"few": [], "tags": ["a", "a"], "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}], "env": {}}),
        &[
            (".spec.few", Rule::MinItems),
            (".spec.tags[1]", Rule::ListType),
            (".spec.ports[1]", Rule::ListType),
            (".spec.env", Rule::MinProperties),
        ],
    );
    // `additionalProperties` applies to every key.
    check_spec(
        &crds,
        json!({"few": ["a", "b", "c"], "env": {"A": "1", "B": "2", "C": 3}, "ports": [{"port": 1}]}),
        &[
            (".spec.few", Rule::MaxItems),
            (".spec.env", Rule::MaxProperties),
            (".spec.env[C]", Rule::Type),
            (".spec.ports[0].name", Rule::Required),
        ],
    );
}

#[test]
fn int_or_string_and_the_combinators() {
    let crds = widgets(
        "type: object
properties:
  size:
    anyOf: [{type: integer}, {type: string}]
    x-kubernetes-int-or-string: true
  bare: {x-kubernetes-int-or-string: true}
  port:
    type: integer
    oneOf: [{minimum: 1, maximum: 1024}, {minimum: 1000, maximum: 2000}]
  name:
    type: string
    allOf: [{minLength: 2}, {pattern: '^[a-z]'}]
  mode:
    type: string
    not: {enum: [forbidden]}
  choice:
    type: object
    properties: {a: {type: string}, b: {type: string}}
    anyOf: [{required: [a]}, {required: [b]}]
",
    );
    for good in [
        json!({"size": 3, "bare": 3, "port": 80, "name": "ab", "mode": "ok", "choice": {"a": "x"}}),
        json!({"size": "3", "bare": "50%", "port": 1500, "choice": {"b": "y"}}),
    ] {
        check_spec(&crds, good, &[]);
    }
    check_spec(
        &crds,
        json!({"size": true, "bare": [], "port": 1010, "name": "A", "mode": "forbidden", "choice": {}}),
        &[
            (".spec.size", Rule::Type),
            (".spec.bare", Rule::Type),
            (".spec.port", Rule::OneOf),
            (".spec.name", Rule::MinLength),
            (".spec.name", Rule::Pattern),
            (".spec.mode", Rule::Not),
            (".spec.choice", Rule::AnyOf),
        ],
    );
    check_spec(&crds, json!({"size": 1.5, "port": 5000}), &[(".spec.size", Rule::Type), (".spec.port", Rule::OneOf)]);
}

#[test]
fn nulls_are_dropped_unless_nullable_and_defaults_fill_required_fields() {
    let crds = widgets(
        "type: object
required: [replicas, mode, owner]
properties:
  replicas: {type: integer, default: 1}
  mode: {type: string}
  owner: {type: string, nullable: true}
  note: {type: string}
  level: {type: string, enum: [low, high], nullable: true}
  limits:
    type: object
    default: {}
    required: [cpu]
    properties: {cpu: {type: string, default: 100m}}
",
    );
    check_spec(&crds, json!({"mode": "fast", "owner": null, "note": null}), &[]);
    // A dropped null no longer counts as present.
    check_spec(&crds, json!({"mode": null, "owner": "me", "replicas": null}), &[(".spec.mode", Rule::Required)]);
    // The server's enum check sees a nullable null too: a nullable enum must list it.
    check_spec(&crds, json!({"mode": "m", "owner": "o", "level": null}), &[(".spec.level", Rule::Enum)]);
}

#[test]
fn preserve_unknown_fields_keeps_unknown_fields_but_not_in_declared_ones() {
    let crds = widgets(
        "type: object
properties:
  values:
    type: object
    x-kubernetes-preserve-unknown-fields: true
    properties: {known: {type: object, properties: {a: {type: string}}}}
  raw: {x-kubernetes-preserve-unknown-fields: true}
  rows:
    type: array
    x-kubernetes-preserve-unknown-fields: true
    items: {type: object, properties: {id: {type: integer}}}
",
    );
    check_spec(
        &crds,
        json!({"values": {"anything": {"deep": [1]}, "known": {"a": "x"}}, "raw": [1, "two", {"three": 3}], "rows": [{"id": 1, "extra": true}]}),
        &[],
    );
    check_spec(
        &crds,
        json!({"values": {"known": {"b": 1}}, "rows": [{"id": "x", "extra": {"n": 1}}]}),
        &[(".spec.values.known.b", Rule::UnknownField), (".spec.rows[0].id", Rule::Type)],
    );
}

#[test]
fn an_embedded_resource_needs_type_meta_and_valid_metadata() {
    let crds = widgets(
        "type: object
properties:
  template:
    type: object
    x-kubernetes-embedded-resource: true
    x-kubernetes-preserve-unknown-fields: true
  typed:
    type: object
    x-kubernetes-embedded-resource: true
    properties: {spec: {type: object, properties: {replicas: {type: integer}}}}
",
    );
    check_spec(
        &crds,
        json!({
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}},
            "typed": {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1}},
        }),
        &[],
    );
    check_spec(
        &crds,
        json!({
            "template": {"metadata": {"name": "Bad_Name", "bogus": 1}},
            "typed": {"apiVersion": "a/b/c", "kind": "Deploy ment", "spec": {"replicaz": 1}, "status": {}},
        }),
        &[
            (".spec.template.apiVersion", Rule::Required),
            (".spec.template.kind", Rule::Required),
            (".spec.template.metadata.name", Rule::Metadata),
            (".spec.template.metadata.bogus", Rule::UnknownField),
            (".spec.typed.apiVersion", Rule::EmbeddedResource),
            (".spec.typed.kind", Rule::EmbeddedResource),
            (".spec.typed.spec.replicaz", Rule::UnknownField),
            (".spec.typed.status", Rule::UnknownField),
        ],
    );
}

#[test]
fn metadata_is_checked_as_for_any_object() {
    let crds = widgets("type: object");
    let with = |metadata: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": metadata});
    check(
        &crds,
        &with(json!({
            "name": "demo-qa.v1", "namespace": "argocd",
            "labels": {"app.kubernetes.io/name": "demo", "empty": "", "A_b.c": "X-y_z.1"},
            "annotations": {"example.com/note": "any text at all: {}"},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
            "generation": 1, "creationTimestamp": null,
        })),
        &[],
    );
    check(&crds, &with(json!({"generateName": "demo-"})), &[]);
    check(
        &crds,
        &with(json!({
            "name": "Demo_QA", "namespace": "argo.cd",
            "labels": {"-bad": "ok", "spaces": "no spaces", "typed": true, "a/b/c": "x"},
            "annotations": {"count": 1},
            "finalizers": ["a/b/c"],
            "uid": 5, "bogus": 1,
        })),
        &[
            (".metadata.name", Rule::Metadata),
            (".metadata.namespace", Rule::Metadata),
            (".metadata.labels[-bad]", Rule::Metadata),
            (".metadata.labels[spaces]", Rule::Metadata),
            (".metadata.labels[a/b/c]", Rule::Metadata),
            (".metadata.labels", Rule::Type),
            (".metadata.annotations", Rule::Type),
            (".metadata.finalizers[0]", Rule::Metadata),
            (".metadata.uid", Rule::Type),
            (".metadata.bogus", Rule::UnknownField),
        ],
    );
    check(&crds, &with(json!({"name": "a".repeat(254)})), &[(".metadata.name", Rule::Metadata)]);
    check(&crds, &with(json!({"namespace": "ns"})), &[(".metadata.name", Rule::Required)]);
    check(&crds, &json!({"apiVersion": "example.com/v1", "kind": "Widget"}), &[(".metadata.name", Rule::Required)]);
}

#[test]
fn the_kind_must_be_defined_and_type_meta_well_formed() {
    let crds = widgets("type: object");
    check(
        &crds,
        &json!({"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}}),
        &[(".kind", Rule::Kind)],
    );
    check(
        &crds,
        &json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "w"}}),
        &[(".kind", Rule::Kind)],
    );
    check(
        &crds,
        &json!({"kind": 3, "metadata": {"name": "W"}}),
        &[(".apiVersion", Rule::Required), (".kind", Rule::Type), (".metadata.name", Rule::Metadata)],
    );
    check(&crds, &json!(["not", "an", "object"]), &[("", Rule::Type)]);
    let message = crds
        .validate(&json!({"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}}))
        .unwrap_err()[0]
        .to_string();
    assert_eq!(message, ".kind: no CRD defines Widget in example.com/v2 (it is in example.com/v1) [kind]");
}

#[test]
fn unknown_fields_are_named_at_every_depth() {
    let crds = widgets("type: object\nproperties: {replicas: {type: integer}}");
    let violations = crds.validate(&widget(json!({"replicas": 1, "replicaz": 2}))).unwrap_err();
    assert_eq!(
        violations.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [".spec.replicaz: unknown field \"replicaz\" [unknown-field]"]
    );
    check(
        &crds,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "status": {}, "extra": 1}),
        &[(".status", Rule::UnknownField), (".extra", Rule::UnknownField)],
    );
}

#[test]
fn loading_refuses_what_is_not_implemented_or_not_structural() {
    for (schema, expected) in [
        ("type: object\npatternProperties: {'^a': {type: string}}", "unsupported keyword `patternProperties`"),
        ("type: object\nproperties: {a: {$ref: '#/definitions/x'}}", "unsupported keyword `$ref`"),
        ("type: object\nadditionalProperties: false", "`additionalProperties: false`: only a schema is supported"),
        ("type: array\nuniqueItems: true\nitems: {type: string}", "`uniqueItems: true` is forbidden"),
        ("type: string\nformat: uri", "format `uri` is validated by the API server but not implemented here"),
        ("type: string\npattern: '('", "pattern `(` does not compile"),
        ("type: array\nx-kubernetes-list-type: bag\nitems: {type: string}", "must be atomic, set or map"),
        ("type: text", "unsupported type \"text\""),
    ] {
        let spec: Value = serde_saphyr::from_str(schema).unwrap();
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [{
                "name": "v1", "served": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}},
            }]},
        });
        let err = Crds::parse("widgets.yaml", &crd.to_string()).unwrap_err().to_string();
        assert!(
            err.contains(expected)
                && err.contains("openAPIV3Schema.properties.spec")
                && err.contains("Widget example.com/v1"),
            "{schema}: {err}"
        );
    }
}

#[test]
fn loading_refuses_other_documents_and_duplicates() {
    let err = Crds::parse("cm.yaml", "apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
    assert!(matches!(err, Error::NotACrd { document: 0, .. }), "{err}");
    let crd = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.com
  names: {kind: Widget}
  versions:
    - {name: v1, served: true, schema: {openAPIV3Schema: {type: object}}}
    - {name: v0, served: false, schema: {openAPIV3Schema: {type: object}}}
";
    let crds = Crds::parse("one.yaml", crd).unwrap();
    assert_eq!(crds.kinds().map(ToString::to_string).collect::<Vec<_>>(), ["Widget example.com/v1"]);
    assert!(crds.defines("example.com/v1", "Widget") && !crds.defines("example.com/v0", "Widget"));
    let err = Crds::parse("two.yaml", &format!("{crd}---\n{crd}")).unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
}

#[test]
fn a_missing_or_empty_folder_is_an_error_that_names_it() {
    let missing = Path::new("/nonexistent/shared/reference/crds");
    let err = Crds::load(missing).unwrap_err();
    assert!(matches!(err, Error::MissingDir { .. }));
    assert!(err.to_string().contains("/nonexistent/shared/reference/crds"), "{err}");
    let empty = std::env::temp_dir().join(format!("provision-k8s-empty-crds-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = Crds::load(&empty);
    std::fs::remove_dir(&empty).unwrap();
    assert!(matches!(err, Err(Error::NoCrds { .. })), "{err:?}");
}

#[test]
fn the_reference_folder_is_beside_the_workspace() {
    let dir = reference_crds_dir();
    assert!(dir.ends_with("shared/reference/crds"), "{}", dir.display());
    assert!(!dir.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)), "{}", dir.display());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).unwrap();
    assert_eq!(dir, normalize(&workspace.join("../shared/reference/crds")));
}

#[test]
fn manifests_are_read_like_kubectl_reads_them() {
    let docs = read_manifests("m.yaml", "a: y\nb: 'y'\nc: 0.1.0\n---\n---\nd: 1\n").unwrap();
    assert_eq!(docs, [json!({"a": true, "b": "y", "c": "0.1.0"}), json!({"d": 1})]);
    let err = read_manifests("m.yaml", "a: 1\na: 2\n").unwrap_err();
    assert!(err.to_string().starts_with("m.yaml is not valid YAML"), "{err}");
}

#[test]
fn formats_follow_the_api_server() {
    for ok in [
        "2024-01-01T10:00:00Z",
        "2024-01-01t10:00:00z",
        "2024-01-01T10:00:00.5+01:00",
        "2024-01-01T10:00:00,123456789-08:00",
        "2024-02-29T23:59:59Z",
    ] {
        assert!(is_date_time(ok), "{ok}");
    }
    for bad in [
        "",
        "2024-01-01",
        "2024-01-01T10:00:00",
        "2024-01-01 10:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-13-01T10:00:00Z",
        "2023-02-29T10:00:00Z",
        "2024-01-01T10:00:00.Z",
        "2024-01-01T10:00:00+1:00",
    ] {
        assert!(!is_date_time(bad), "{bad}");
    }
    for (text, ok) in [
        ("aGk=", true),
        ("aGVsbG8h", true),
        ("aA==", true),
        ("", false),
        ("aGk", false),
        ("a===", false),
        ("aG-k", false),
    ] {
        assert_eq!(is_base64(text), ok, "{text:?}");
    }
}
