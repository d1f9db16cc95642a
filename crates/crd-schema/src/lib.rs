//! Checks Kubernetes custom resources against the structural OpenAPI v3 schemas of their CRDs,
//! the way the API server does on a create with `fieldValidation=Strict` (what
//! `kubectl apply --server-side --dry-run=server` reports), so that tests prove what we generate
//! is what a cluster accepts, without a cluster.
//!
//! For tests only (a dev-dependency, never a dependency of what ships; the tidy check holds it
//! to that). The upstream CRDs are read where they sit beside every checkout
//! ([`reference_crds_dir`]), never copied into the project; a missing folder is an error.
//!
//! Checked, as the API server checks a custom resource:
//! - unknown fields (the server's pruning, reported instead of dropped): every field the schema
//!   does not declare, unless the object has `x-kubernetes-preserve-unknown-fields: true` or an
//!   `additionalProperties` schema (which then applies to every key); `apiVersion`, `kind` and
//!   `metadata` are kept at the root and in `x-kubernetes-embedded-resource` objects;
//! - `type` (an integral float counts as an `integer`, as the server decodes it), `nullable` (a
//!   `null` where the schema does not allow one is dropped in an object and so fails `required`,
//!   and is a type error in an array), `default` (a missing field takes it before validation),
//!   `required`, `enum`, `pattern` (RE2 syntax, unanchored, via `regex-lite`),
//!   `minLength`/`maxLength` (in characters), `minimum`/`maximum` (with `exclusiveMinimum` and
//!   `exclusiveMaximum`), `multipleOf`, `minItems`/`maxItems`, `minProperties`/`maxProperties`,
//!   `items`, `x-kubernetes-int-or-string`, `x-kubernetes-embedded-resource` (`apiVersion` and
//!   `kind` required, `metadata` checked as object metadata), `x-kubernetes-list-type` `set` and
//!   `map` (no duplicates), `anyOf`/`oneOf`/`allOf`/`not` (value validations: unknown fields are
//!   not judged inside them);
//! - `format`: `date-time` and `date` as the server's `strfmt` reads them, `byte` (base64),
//!   `int64` (fits 64 bits); `int32` is checked too (fits 32 bits) although the server does not
//!   check it: the controller could not decode a wider number. Formats the server ignores are
//!   ignored; the string formats it validates that no CRD here uses (`uri`, `email`, …) make
//!   loading fail, so a new CRD needing them cannot pass unchecked;
//! - `metadata`, as for any object: a known field of the right type (an unknown one is reported),
//!   `name` (or `generateName`) present at the root and a DNS-1123 subdomain of at most 253
//!   characters, `namespace` a DNS-1123 label, labels (qualified-name keys, label values) and
//!   annotations (qualified-name keys, at most 256 KiB in all) maps of strings, finalizers
//!   qualified names.
//!
//! Not checked:
//! - `x-kubernetes-validations` (CEL rules, such as HelmRelease's "either chart or chartRef must
//!   be set"): not evaluated, so an object can pass here and be refused by the server;
//! - what depends on the cluster: admission webhooks, the namespace in the request, updates
//!   (immutability, ratcheting). A `status` is validated, though the server drops it on create
//!   where the CRD has a status subresource;
//! - the server's warnings, which refuse nothing (a finalizer name without a `/`, for one).
//!
//! Loading refuses any schema keyword it does not know, so every keyword the CRDs use is one this
//! module implements or deliberately ignores (`description`, `example`, `x-kubernetes-map-type`,
//! `x-kubernetes-validations`). Unlike the server, which answers unknown fields before it
//! validates, every violation is reported at once.

use regex_lite::Regex;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no CRD folder at {}: the upstream CRDs must sit beside the workspace, in \
         `shared/reference/crds` (see shared/reference/README.md)",
        dir.display()
    )]
    MissingDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} holds no `*.yaml` file", dir.display())]
    NoCrds { dir: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is not valid YAML")]
    Yaml {
        origin: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{origin}, document {document}: not an apiextensions.k8s.io/v1 CustomResourceDefinition: {problem}")]
    NotACrd { origin: String, document: usize, problem: String },
    #[error("{origin}: the schema of {gvk} needs what this check does not implement:\n  {}", problems.join("\n  "))]
    Unsupported { origin: String, gvk: GroupVersionKind, problems: Vec<String> },
    #[error("{gvk} is defined twice: in {first} and in {second}")]
    Duplicate { gvk: GroupVersionKind, first: String, second: String },
}

/// `<workspace root>/../shared/reference/crds`: where the upstream CRDs sit beside every
/// checkout (found from this crate's manifest directory, so it holds wherever the checkout is).
pub fn reference_crds_dir() -> PathBuf {
    normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/crds"))
}

/// Drops `.` and folds `..` without touching the file system, so a message names the folder
/// plainly even when it does not exist.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Reads YAML manifests as the API server's clients do (multi-document; a duplicate key is an
/// error; YAML 1.1 scalars, so an unquoted `yes`, `on` or `y` is a boolean). Empty documents are
/// skipped.
pub fn read_manifests(origin: &str, text: &str) -> Result<Vec<Value>, Error> {
    serde_saphyr::from_multiple::<Value>(text)
        .map_err(|source| Error::Yaml { origin: origin.to_owned(), source: Box::new(source) })
}

/// A CRD's group, one of its served versions, and its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl GroupVersionKind {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

impl fmt::Display for GroupVersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.api_version())
    }
}

/// The rule a value breaks, named by the schema keyword behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No CRD defines the object's `apiVersion` and `kind`.
    Kind,
    /// A field the schema does not declare (the server would prune it; strict validation refuses).
    UnknownField,
    Type,
    Required,
    Enum,
    Pattern,
    Format,
    MinLength,
    MaxLength,
    Minimum,
    Maximum,
    MultipleOf,
    MinItems,
    MaxItems,
    MinProperties,
    MaxProperties,
    /// A duplicate in an `x-kubernetes-list-type: set` or `map` list.
    ListType,
    AnyOf,
    OneOf,
    Not,
    /// `x-kubernetes-embedded-resource`: `apiVersion` or `kind` malformed.
    EmbeddedResource,
    /// Object metadata: a malformed name, namespace, label, annotation or finalizer.
    Metadata,
}

impl Rule {
    pub fn keyword(self) -> &'static str {
        match self {
            Rule::Kind => "kind",
            Rule::UnknownField => "unknown-field",
            Rule::Type => "type",
            Rule::Required => "required",
            Rule::Enum => "enum",
            Rule::Pattern => "pattern",
            Rule::Format => "format",
            Rule::MinLength => "minLength",
            Rule::MaxLength => "maxLength",
            Rule::Minimum => "minimum",
            Rule::Maximum => "maximum",
            Rule::MultipleOf => "multipleOf",
            Rule::MinItems => "minItems",
            Rule::MaxItems => "maxItems",
            Rule::MinProperties => "minProperties",
            Rule::MaxProperties => "maxProperties",
            Rule::ListType => "x-kubernetes-list-type",
            Rule::AnyOf => "anyOf",
            Rule::OneOf => "oneOf",
            Rule::Not => "not",
            Rule::EmbeddedResource => "x-kubernetes-embedded-resource",
            Rule::Metadata => "metadata",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// One broken rule: where (`.spec.sources[0].repoURL`, `.metadata.labels[app]`; `.` is the
/// object itself), which rule, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "." } else { &self.path };
        write!(f, "{path}: {} [{}]", self.message, self.rule)
    }
}

/// The served versions of a set of CRDs, by group, version and kind.
pub struct Crds {
    definitions: BTreeMap<GroupVersionKind, Definition>,
}

struct Definition {
    origin: String,
    schema: Schema,
}

impl fmt::Debug for Crds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.definitions.iter().map(|(gvk, d)| (gvk.to_string(), &d.origin))).finish()
    }
}

impl Crds {
    /// Every `*.yaml` file in `dir` (each may hold several documents, all of them CRDs).
    pub fn load(dir: &Path) -> Result<Crds, Error> {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::MissingDir { dir: dir.to_owned(), source })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read { path: dir.to_owned(), source })?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(Error::NoCrds { dir: dir.to_owned() });
        }
        paths.sort();
        let mut crds = Crds { definitions: BTreeMap::new() };
        for path in paths {
            crds.add_file(&path)?;
        }
        Ok(crds)
    }

    /// The upstream CRDs in [`reference_crds_dir`].
    pub fn load_reference() -> Result<Crds, Error> {
        Crds::load(&reference_crds_dir())
    }

    /// The CRDs of a few files of [`reference_crds_dir`] (`argoproj.io_applications.yaml`, …):
    /// quicker than all of them for a test that needs a few.
    pub fn load_reference_files(files: &[&str]) -> Result<Crds, Error> {
        let dir = reference_crds_dir();
        std::fs::read_dir(&dir).map_err(|source| Error::MissingDir { dir: dir.clone(), source })?;
        let mut crds = Crds { definitions: BTreeMap::new() };
        for file in files {
            crds.add_file(&dir.join(file))?;
        }
        Ok(crds)
    }

    /// The CRDs in one file.
    pub fn load_file(path: &Path) -> Result<Crds, Error> {
        let mut crds = Crds { definitions: BTreeMap::new() };
        crds.add_file(path)?;
        Ok(crds)
    }

    /// The CRDs in a YAML text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Crds, Error> {
        let mut crds = Crds { definitions: BTreeMap::new() };
        crds.add(origin, text)?;
        Ok(crds)
    }

    /// The kinds defined, one per served version.
    pub fn kinds(&self) -> impl Iterator<Item = &GroupVersionKind> {
        self.definitions.keys()
    }

    /// Whether a served version of a CRD defines `kind` in `api_version`.
    pub fn defines(&self, api_version: &str, kind: &str) -> bool {
        self.definition(api_version, kind).is_some()
    }

    fn definition(&self, api_version: &str, kind: &str) -> Option<&Definition> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind { group: group.to_owned(), version: version.to_owned(), kind: kind.to_owned() };
        self.definitions.get(&gvk)
    }

    /// The rules `object` breaks, as `(path, rule)` ordered by path then keyword: what tests
    /// compare with what they expect.
    pub fn broken_rules(&self, object: &Value) -> Vec<(String, Rule)> {
        let mut found: Vec<(String, Rule)> = match self.validate(object) {
            Ok(()) => Vec::new(),
            Err(violations) => violations.into_iter().map(|v| (v.path, v.rule)).collect(),
        };
        found.sort_by(|a, b| (&a.0, a.1.keyword()).cmp(&(&b.0, b.1.keyword())));
        found
    }

    /// Checks `object` against the schema of the CRD its `apiVersion` and `kind` name, and its
    /// metadata as the server checks any object's. Reports every violation.
    pub fn validate(&self, object: &Value) -> Result<(), Vec<Violation>> {
        let mut check = Check::default();
        let Some(map) = object.as_object() else {
            check.push("", Rule::Type, format!("must be an object, not {}", json_type(object)));
            return check.finish();
        };
        let api_version = check.type_meta(map, "", "apiVersion");
        let kind = check.type_meta(map, "", "kind");
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            check.root_without_schema(map);
            return check.finish();
        };
        match self.definition(api_version, kind) {
            Some(definition) => {
                check.object(map, &definition.schema, "", Unknown::Reject, Resource::Root);
                check.combinators(object, &definition.schema, "");
            }
            None => {
                let others: Vec<String> =
                    self.definitions.keys().filter(|gvk| gvk.kind == kind).map(GroupVersionKind::api_version).collect();
                let known =
                    if others.is_empty() { String::new() } else { format!(" (it is in {})", others.join(", ")) };
                check.push(".kind", Rule::Kind, format!("no CRD defines {kind} in {api_version}{known}"));
                check.root_without_schema(map);
            }
        }
        check.finish()
    }

    fn add_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        self.add(&path.display().to_string(), &text)
    }

    fn add(&mut self, origin: &str, text: &str) -> Result<(), Error> {
        let not_a_crd = |document: usize, problem: &str| Error::NotACrd {
            origin: origin.to_owned(),
            document,
            problem: problem.to_owned(),
        };
        let mut parser = Parser::default();
        for (document, crd) in read_manifests(origin, text)?.iter().enumerate() {
            if crd["apiVersion"] != "apiextensions.k8s.io/v1" || crd["kind"] != "CustomResourceDefinition" {
                return Err(not_a_crd(document, "apiVersion or kind differs"));
            }
            let spec = &crd["spec"];
            let group = spec["group"].as_str().ok_or_else(|| not_a_crd(document, "no spec.group"))?;
            let kind = spec["names"]["kind"].as_str().ok_or_else(|| not_a_crd(document, "no spec.names.kind"))?;
            let versions = spec["versions"].as_array().ok_or_else(|| not_a_crd(document, "no spec.versions"))?;
            for version in versions {
                let name = version["name"].as_str().ok_or_else(|| not_a_crd(document, "a version has no name"))?;
                if version["served"] != true {
                    continue;
                }
                let gvk = GroupVersionKind { group: group.to_owned(), version: name.to_owned(), kind: kind.to_owned() };
                let root = &version["schema"]["openAPIV3Schema"];
                if root.is_null() {
                    return Err(not_a_crd(document, &format!("version {name} has no schema.openAPIV3Schema")));
                }
                let schema = parser.schema(root, "openAPIV3Schema");
                parser.root_metadata(&schema);
                let problems = std::mem::take(&mut parser.problems);
                if !problems.is_empty() {
                    return Err(Error::Unsupported { origin: origin.to_owned(), gvk, problems });
                }
                if let Some(first) = self.definitions.get(&gvk) {
                    return Err(Error::Duplicate { first: first.origin.clone(), second: origin.to_owned(), gvk });
                }
                self.definitions.insert(gvk, Definition { origin: origin.to_owned(), schema });
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    fn matches(self, value: &Value) -> bool {
        match self {
            Type::Object => value.is_object(),
            Type::Array => value.is_array(),
            Type::String => value.is_string(),
            Type::Integer => is_integer(value),
            Type::Number => value.is_number(),
            Type::Boolean => value.is_boolean(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Int32,
    Int64,
    DateTime,
    Date,
    Byte,
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    value: f64,
    exclusive: bool,
}

#[derive(Debug, Clone, Default)]
enum ListType {
    #[default]
    Atomic,
    Set,
    Map(Vec<String>),
}

#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    regex: Regex,
}

/// One node of a structural schema, with only what validation reads.
#[derive(Debug, Clone, Default)]
struct Schema {
    ty: Option<Type>,
    nullable: bool,
    default: Option<Value>,
    properties: BTreeMap<String, Schema>,
    additional_properties: Option<Box<Schema>>,
    items: Option<Box<Schema>>,
    required: Vec<String>,
    enumeration: Option<Vec<Value>>,
    format: Option<Format>,
    pattern: Option<Pattern>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    multiple_of: Option<f64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    preserve_unknown_fields: bool,
    int_or_string: bool,
    embedded_resource: bool,
    list_type: ListType,
    any_of: Vec<Schema>,
    one_of: Vec<Schema>,
    all_of: Vec<Schema>,
    not: Option<Box<Schema>>,
}

/// String formats the API server validates (after dropping `-`) that this module does not.
const UNIMPLEMENTED_STRING_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "duration",
    "quantity",
    "k8sshortname",
    "k8slongname",
];

/// Reads schemas, collecting every keyword it cannot honour; compiles each pattern once.
#[derive(Default)]
struct Parser {
    problems: Vec<String>,
    patterns: HashMap<String, Regex>,
}

impl Parser {
    fn problem(&mut self, at: &str, problem: impl fmt::Display) {
        self.problems.push(format!("{at}: {problem}"));
    }

    fn count(&mut self, at: &str, key: &str, value: &Value) -> Option<u64> {
        let count = value.as_u64();
        if count.is_none() {
            self.problem(at, format!("`{key}` must be a non-negative integer"));
        }
        count
    }

    fn number(&mut self, at: &str, key: &str, value: &Value) -> Option<f64> {
        let number = value.as_f64();
        if number.is_none() {
            self.problem(at, format!("`{key}` must be a number"));
        }
        number
    }

    fn flag(&mut self, at: &str, key: &str, value: &Value) -> bool {
        value.as_bool().unwrap_or_else(|| {
            self.problem(at, format!("`{key}` must be a boolean"));
            false
        })
    }

    fn strings(&mut self, at: &str, key: &str, value: &Value) -> Vec<String> {
        let strings: Option<Vec<String>> =
            value.as_array().and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect());
        strings.unwrap_or_else(|| {
            self.problem(at, format!("`{key}` must be a list of strings"));
            Vec::new()
        })
    }

    fn schemas(&mut self, at: &str, key: &str, value: &Value) -> Vec<Schema> {
        match value.as_array() {
            Some(list) => list.iter().enumerate().map(|(i, s)| self.schema(s, &format!("{at}.{key}[{i}]"))).collect(),
            None => {
                self.problem(at, format!("`{key}` must be a list of schemas"));
                Vec::new()
            }
        }
    }

    fn schema(&mut self, value: &Value, at: &str) -> Schema {
        let mut s = Schema::default();
        let Some(map) = value.as_object() else {
            self.problem(at, "a schema must be an object");
            return s;
        };
        let mut format = None;
        let (mut exclusive_minimum, mut exclusive_maximum) = (false, false);
        let (mut minimum, mut maximum) = (None, None);
        let (mut list_type, mut list_map_keys) = (None, Vec::new());
        for (key, v) in map {
            match key.as_str() {
                // Documentation, and what is deliberately not checked (see the module comment).
                "description"
                | "title"
                | "example"
                | "externalDocs"
                | "x-kubernetes-map-type"
                | "x-kubernetes-validations" => {}
                "type" => {
                    s.ty = match v.as_str() {
                        Some("object") => Some(Type::Object),
                        Some("array") => Some(Type::Array),
                        Some("string") => Some(Type::String),
                        Some("integer") => Some(Type::Integer),
                        Some("number") => Some(Type::Number),
                        Some("boolean") => Some(Type::Boolean),
                        _ => {
                            self.problem(at, format!("unsupported type {v}"));
                            None
                        }
                    }
                }
                "nullable" => s.nullable = self.flag(at, key, v),
                "default" => s.default = Some(v.clone()),
                "enum" => match v.as_array() {
                    Some(values) => s.enumeration = Some(values.clone()),
                    None => self.problem(at, "`enum` must be a list"),
                },
                "format" => match v.as_str() {
                    Some(f) => format = Some(f.to_owned()),
                    None => self.problem(at, "`format` must be a string"),
                },
                "pattern" => match v.as_str() {
                    Some(source) => s.pattern = self.pattern(at, source),
                    None => self.problem(at, "`pattern` must be a string"),
                },
                "minLength" => s.min_length = self.count(at, key, v),
                "maxLength" => s.max_length = self.count(at, key, v),
                "minItems" => s.min_items = self.count(at, key, v),
                "maxItems" => s.max_items = self.count(at, key, v),
                "minProperties" => s.min_properties = self.count(at, key, v),
                "maxProperties" => s.max_properties = self.count(at, key, v),
                "minimum" => minimum = self.number(at, key, v),
                "maximum" => maximum = self.number(at, key, v),
                "exclusiveMinimum" => exclusive_minimum = self.flag(at, key, v),
                "exclusiveMaximum" => exclusive_maximum = self.flag(at, key, v),
                "multipleOf" => s.multiple_of = self.number(at, key, v),
                "uniqueItems" => {
                    if self.flag(at, key, v) {
                        self.problem(at, "`uniqueItems: true` is forbidden in structural schemas");
                    }
                }
                "required" => s.required = self.strings(at, key, v),
                "properties" => match v.as_object() {
                    Some(properties) => {
                        for (name, p) in properties {
                            let schema = self.schema(p, &format!("{at}.properties.{name}"));
                            s.properties.insert(name.clone(), schema);
                        }
                    }
                    None => self.problem(at, "`properties` must be an object"),
                },
                "additionalProperties" => {
                    if v.is_object() {
                        s.additional_properties = Some(Box::new(self.schema(v, &format!("{at}.additionalProperties"))));
                    } else {
                        self.problem(at, format!("`additionalProperties: {v}`: only a schema is supported"));
                    }
                }
                "items" => {
                    if v.is_object() {
                        s.items = Some(Box::new(self.schema(v, &format!("{at}.items"))));
                    } else {
                        self.problem(at, "`items` must be one schema");
                    }
                }
                "x-kubernetes-preserve-unknown-fields" => s.preserve_unknown_fields = self.flag(at, key, v),
                "x-kubernetes-int-or-string" => s.int_or_string = self.flag(at, key, v),
                "x-kubernetes-embedded-resource" => s.embedded_resource = self.flag(at, key, v),
                "x-kubernetes-list-type" => list_type = Some(v.clone()),
                "x-kubernetes-list-map-keys" => list_map_keys = self.strings(at, key, v),
                "anyOf" => s.any_of = self.schemas(at, key, v),
                "oneOf" => s.one_of = self.schemas(at, key, v),
                "allOf" => s.all_of = self.schemas(at, key, v),
                "not" => s.not = Some(Box::new(self.schema(v, &format!("{at}.not")))),
                // `$ref`, `definitions`, `patternProperties`, `dependencies`, `additionalItems`, …:
                // not allowed in structural schemas, and not implemented.
                other => self.problem(at, format!("unsupported keyword `{other}`")),
            }
        }
        s.minimum = minimum.map(|value| Bound { value, exclusive: exclusive_minimum });
        s.maximum = maximum.map(|value| Bound { value, exclusive: exclusive_maximum });
        s.list_type = match list_type.as_ref().map(|t| t.as_str()) {
            None | Some(Some("atomic")) => ListType::Atomic,
            Some(Some("set")) => ListType::Set,
            Some(Some("map")) => ListType::Map(list_map_keys),
            Some(_) => {
                self.problem(at, "`x-kubernetes-list-type` must be atomic, set or map");
                ListType::Atomic
            }
        };
        if let Some(format) = format {
            s.format = self.format(at, s.ty, &format);
        }
        s
    }

    /// The formats the API server validates for `ty`; the others it ignores, and so does this.
    fn format(&mut self, at: &str, ty: Option<Type>, format: &str) -> Option<Format> {
        match ty {
            Some(Type::Integer) => match format {
                "int32" => Some(Format::Int32),
                "int64" => Some(Format::Int64),
                _ => None,
            },
            None | Some(Type::String) => match format.replace('-', "").as_str() {
                "datetime" => Some(Format::DateTime),
                "date" => Some(Format::Date),
                "byte" => Some(Format::Byte),
                f if UNIMPLEMENTED_STRING_FORMATS.contains(&f) => {
                    self.problem(
                        at,
                        format!("format `{format}` is validated by the API server but not implemented here"),
                    );
                    None
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn pattern(&mut self, at: &str, source: &str) -> Option<Pattern> {
        if let Some(regex) = self.patterns.get(source) {
            return Some(Pattern { source: source.to_owned(), regex: regex.clone() });
        }
        match Regex::new(source) {
            Ok(regex) => {
                self.patterns.insert(source.to_owned(), regex.clone());
                Some(Pattern { source: source.to_owned(), regex })
            }
            Err(e) => {
                self.problem(at, format!("pattern `{source}` does not compile: {e}"));
                None
            }
        }
    }

    /// The server allows a CRD to say of the root `metadata` only its type and rules for `name`
    /// and `generateName`; the rest is object metadata, checked as for every object.
    fn root_metadata(&mut self, root: &Schema) {
        if let Some(metadata) = root.properties.get("metadata") {
            for name in metadata.properties.keys().filter(|n| *n != "name" && *n != "generateName") {
                self.problem("openAPIV3Schema.properties.metadata", format!("`{name}` may not be specified"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// How unknown fields are judged at a node, following the server's pruning: `Reject` in the
/// structural schema; `KeepHere` for the elements of a list under
/// `x-kubernetes-preserve-unknown-fields` (their own unknown fields are kept, their declared
/// fields' are not); `Ignore` inside `anyOf`/`oneOf`/`allOf`/`not`, which only validate values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    Reject,
    KeepHere,
    Ignore,
}

/// Whether an object is a resource, whose `apiVersion`, `kind` and `metadata` are not the
/// schema's to prune: the root, or an `x-kubernetes-embedded-resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    No,
    Embedded,
    Root,
}

const TYPE_META: [&str; 3] = ["apiVersion", "kind", "metadata"];

#[derive(Default)]
struct Check {
    violations: Vec<Violation>,
}

impl Check {
    fn push(&mut self, path: &str, rule: Rule, message: impl Into<String>) {
        self.violations.push(Violation { path: path.to_owned(), rule, message: message.into() });
    }

    fn finish(self) -> Result<(), Vec<Violation>> {
        if self.violations.is_empty() { Ok(()) } else { Err(self.violations) }
    }

    /// A value against a schema. A mistyped value gets one violation, nothing more.
    fn value(&mut self, value: &Value, s: &Schema, path: &str, unknown: Unknown) {
        if value.is_null() {
            // The server's type check lets `null` through only where `nullable`; its enum check
            // still runs (a nullable enum must list `null`).
            if !s.nullable && s.ty.is_some() {
                self.push(path, Rule::Type, format!("must be of type {}, not null", type_name(s)));
                return;
            }
            self.enumeration(value, s, path);
            return;
        }
        let expected = match s.ty {
            _ if s.int_or_string => {
                (!(is_integer(value) || value.is_string())).then(|| "an integer or a string".into())
            }
            Some(ty) => (!ty.matches(value)).then(|| format!("of type {}", ty.name())),
            None => None,
        };
        if let Some(expected) = expected {
            self.push(path, Rule::Type, format!("must be {expected}, not {}", json_type(value)));
            return;
        }
        match value {
            Value::String(text) => self.string(text, s, path),
            Value::Number(_) => self.number(value, s, path),
            Value::Array(items) => self.array(items, s, path, unknown),
            Value::Object(map) => {
                let resource = if s.embedded_resource { Resource::Embedded } else { Resource::No };
                self.object(map, s, path, unknown, resource);
            }
            Value::Bool(_) | Value::Null => {}
        }
        self.enumeration(value, s, path);
        self.combinators(value, s, path);
    }

    fn string(&mut self, text: &str, s: &Schema, path: &str) {
        let length = text.chars().count() as u64;
        if let Some(min) = s.min_length.filter(|min| length < *min) {
            self.push(path, Rule::MinLength, format!("must be at least {min} characters long, is {length}"));
        }
        if let Some(max) = s.max_length.filter(|max| length > *max) {
            self.push(path, Rule::MaxLength, format!("must be at most {max} characters long, is {length}"));
        }
        if let Some(pattern) = s.pattern.as_ref().filter(|p| !p.regex.is_match(text)) {
            self.push(path, Rule::Pattern, format!("{text:?} does not match `{}`", pattern.source));
        }
        let (ok, name) = match s.format {
            Some(Format::DateTime) => (is_date_time(text), "date-time (RFC 3339)"),
            Some(Format::Date) => (is_date(text), "date (YYYY-MM-DD)"),
            Some(Format::Byte) => (is_base64(text), "byte (base64)"),
            _ => (true, ""),
        };
        if !ok {
            self.push(path, Rule::Format, format!("{text:?} is not a {name}"));
        }
    }

    fn number(&mut self, value: &Value, s: &Schema, path: &str) {
        let Some(x) = value.as_f64() else { return };
        let (min, max, name) = match s.format {
            Some(Format::Int32) => (f64::from(i32::MIN), f64::from(i32::MAX), "int32"),
            // i64::MAX is not exact as a float: anything at or above 2^63 is too big.
            Some(Format::Int64) => (i64::MIN as f64, i64::MAX as f64, "int64"),
            _ => (f64::NEG_INFINITY, f64::INFINITY, ""),
        };
        let too_big = if s.format == Some(Format::Int64) { value.as_i64().is_none() && x >= max } else { x > max };
        if x < min || too_big {
            self.push(path, Rule::Format, format!("{value} does not fit format {name}"));
        }
        if let Some(b) = s.minimum.filter(|b| if b.exclusive { x <= b.value } else { x < b.value }) {
            let or_equal = if b.exclusive { "" } else { " or equal to" };
            self.push(path, Rule::Minimum, format!("{value} must be greater than{or_equal} {}", b.value));
        }
        if let Some(b) = s.maximum.filter(|b| if b.exclusive { x >= b.value } else { x > b.value }) {
            let or_equal = if b.exclusive { "" } else { " or equal to" };
            self.push(path, Rule::Maximum, format!("{value} must be less than{or_equal} {}", b.value));
        }
        if let Some(m) = s.multiple_of.filter(|m| *m != 0.0 && (x / m).fract() != 0.0) {
            self.push(path, Rule::MultipleOf, format!("{value} must be a multiple of {m}"));
        }
    }

    fn array(&mut self, items: &[Value], s: &Schema, path: &str, unknown: Unknown) {
        let count = items.len() as u64;
        if let Some(min) = s.min_items.filter(|min| count < *min) {
            self.push(path, Rule::MinItems, format!("must have at least {min} items, has {count}"));
        }
        if let Some(max) = s.max_items.filter(|max| count > *max) {
            self.push(path, Rule::MaxItems, format!("must have at most {max} items, has {count}"));
        }
        match &s.list_type {
            ListType::Atomic => {}
            ListType::Set => {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].iter().any(|earlier| json_eq(earlier, item)) {
                        self.push(&format!("{path}[{i}]"), Rule::ListType, format!("duplicate entry {item} in a set"));
                    }
                }
            }
            ListType::Map(keys) => {
                let key =
                    |item: &Value| keys.iter().map(|k| item.get(k).cloned().unwrap_or(Value::Null)).collect::<Vec<_>>();
                for (i, item) in items.iter().enumerate() {
                    let this = key(item);
                    if items[..i].iter().any(|earlier| key(earlier).iter().zip(&this).all(|(a, b)| json_eq(a, b))) {
                        let shown: Vec<String> = this.iter().map(Value::to_string).collect();
                        self.push(
                            &format!("{path}[{i}]"),
                            Rule::ListType,
                            format!("duplicate entry with key ({}) in a map list", shown.join(", ")),
                        );
                    }
                }
            }
        }
        let element = match unknown {
            Unknown::Ignore => Unknown::Ignore,
            _ if s.preserve_unknown_fields || unknown == Unknown::KeepHere => Unknown::KeepHere,
            _ => Unknown::Reject,
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match s.items.as_deref() {
                Some(schema) => self.value(item, schema, &item_path, element),
                None => self.unschematized(item, &item_path, element),
            }
        }
    }

    /// A value no schema describes (a list without `items`): the server prunes every field of it.
    fn unschematized(&mut self, value: &Value, path: &str, unknown: Unknown) {
        if unknown != Unknown::Reject {
            return;
        }
        match value {
            Value::Object(map) => {
                for key in map.keys() {
                    self.push(&format!("{path}.{key}"), Rule::UnknownField, format!("unknown field {key:?}"));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.unschematized(item, &format!("{path}[{i}]"), unknown);
                }
            }
            _ => {}
        }
    }

    fn object(&mut self, map: &Map<String, Value>, s: &Schema, path: &str, unknown: Unknown, resource: Resource) {
        let count = map.len() as u64;
        if let Some(min) = s.min_properties.filter(|min| count < *min) {
            self.push(path, Rule::MinProperties, format!("must have at least {min} fields, has {count}"));
        }
        if let Some(max) = s.max_properties.filter(|max| count > *max) {
            self.push(path, Rule::MaxProperties, format!("must have at most {max} fields, has {count}"));
        }
        let is_resource = resource != Resource::No;
        let child = if unknown == Unknown::Ignore { Unknown::Ignore } else { Unknown::Reject };

        if is_resource {
            if resource == Resource::Embedded {
                self.embedded_type_meta(map, path);
            }
            let metadata = map.get("metadata").filter(|m| !m.is_null());
            self.metadata(metadata, s.properties.get("metadata"), &format!("{path}.metadata"), resource);
        }
        for (key, value) in map {
            if (is_resource && TYPE_META.contains(&key.as_str())) || s.properties.contains_key(key) {
                continue;
            }
            if let Some(schema) = s.additional_properties.as_deref() {
                if let Some(value) = effective(Some(value), schema) {
                    self.value(value, schema, &format!("{path}[{key}]"), child);
                }
            } else if unknown == Unknown::Reject && !s.preserve_unknown_fields {
                self.push(&format!("{path}.{key}"), Rule::UnknownField, format!("unknown field {key:?}"));
            }
        }
        for (name, schema) in &s.properties {
            if is_resource && name == "metadata" {
                continue;
            }
            if let Some(value) = effective(map.get(name), schema) {
                self.value(value, schema, &format!("{path}.{name}"), child);
            }
        }
        for name in &s.required {
            let present = match s.properties.get(name).or(s.additional_properties.as_deref()) {
                Some(schema) if !(is_resource && TYPE_META.contains(&name.as_str())) => {
                    effective(map.get(name), schema).is_some()
                }
                _ => map.get(name).is_some_and(|v| !v.is_null()),
            };
            if !present {
                self.push(&format!("{path}.{name}"), Rule::Required, "required field is missing");
            }
        }
    }

    /// `anyOf`, `oneOf`, `allOf`, `not`: value validations, where unknown fields are not judged.
    fn combinators(&mut self, value: &Value, s: &Schema, path: &str) {
        let check = |schema: &Schema| {
            let mut branch = Check::default();
            branch.value(value, schema, path, Unknown::Ignore);
            branch.violations
        };
        for schema in &s.all_of {
            let violations = check(schema);
            self.violations.extend(violations);
        }
        if !s.any_of.is_empty() {
            let failures: Vec<Vec<Violation>> = s.any_of.iter().map(check).collect();
            if failures.iter().all(|v| !v.is_empty()) {
                let why: Vec<String> = failures.iter().filter_map(|v| v.first()).map(Violation::to_string).collect();
                self.push(
                    path,
                    Rule::AnyOf,
                    format!("must satisfy one of {} schemas (anyOf): {}", s.any_of.len(), why.join("; ")),
                );
            }
        }
        if !s.one_of.is_empty() {
            let passing = s.one_of.iter().filter(|schema| check(schema).is_empty()).count();
            if passing != 1 {
                self.push(
                    path,
                    Rule::OneOf,
                    format!("must satisfy exactly one of {} schemas (oneOf), satisfies {passing}", s.one_of.len()),
                );
            }
        }
        if s.not.as_deref().is_some_and(|schema| check(schema).is_empty()) {
            self.push(path, Rule::Not, "must not satisfy the `not` schema");
        }
    }

    fn enumeration(&mut self, value: &Value, s: &Schema, path: &str) {
        if let Some(allowed) = s.enumeration.as_ref().filter(|allowed| !allowed.iter().any(|a| json_eq(a, value))) {
            let shown: Vec<String> = allowed.iter().map(Value::to_string).collect();
            self.push(path, Rule::Enum, format!("{value} is not one of {}", shown.join(", ")));
        }
    }

    /// `apiVersion` or `kind` of a resource: a non-empty string. In an embedded resource, also
    /// well formed (an API version with at most one `/`; a kind that, lowercased, is a DNS-1035
    /// label); at the root, naming a CRD is the test.
    fn type_meta<'v>(&mut self, map: &'v Map<String, Value>, path: &str, field: &str) -> Option<&'v str> {
        let at = format!("{path}.{field}");
        match map.get(field) {
            None | Some(Value::Null) => self.push(&at, Rule::Required, "required field is missing"),
            Some(Value::String(s)) if s.is_empty() => self.push(&at, Rule::Required, "must not be empty"),
            Some(Value::String(s)) => return Some(s),
            Some(other) => self.push(&at, Rule::Type, format!("must be a string, not {}", json_type(other))),
        }
        None
    }

    fn embedded_type_meta(&mut self, map: &Map<String, Value>, path: &str) {
        if let Some(api_version) = self.type_meta(map, path, "apiVersion").filter(|v| v.matches('/').count() > 1) {
            let problem = format!("{api_version:?} is not group/version");
            self.push(&format!("{path}.apiVersion"), Rule::EmbeddedResource, problem);
        }
        if let Some(kind) = self.type_meta(map, path, "kind")
            && let Some(problem) = dns1035_label_problem(&kind.to_ascii_lowercase())
        {
            self.push(&format!("{path}.kind"), Rule::EmbeddedResource, format!("{kind:?}, lowercased, {problem}"));
        }
    }

    /// Without a schema, an object's metadata is still checked.
    fn root_without_schema(&mut self, map: &Map<String, Value>) {
        self.metadata(map.get("metadata").filter(|m| !m.is_null()), None, ".metadata", Resource::Root);
    }

    /// Object metadata, as the server checks it for any object; `schema` is what the CRD says of
    /// it (its type, and rules for `name` and `generateName`).
    fn metadata(&mut self, value: Option<&Value>, schema: Option<&Schema>, path: &str, resource: Resource) {
        let root = resource == Resource::Root;
        let Some(value) = value else {
            if root {
                self.push(&format!("{path}.name"), Rule::Required, "name or generateName is required");
            }
            return;
        };
        let Some(map) = value.as_object() else {
            self.push(path, Rule::Type, format!("must be an object, not {}", json_type(value)));
            return;
        };
        if let Some(schema) = schema {
            self.value(value, schema, path, Unknown::Ignore);
        }
        let text = |field: &str| map.get(field).and_then(Value::as_str).unwrap_or_default();
        for (field, v) in map {
            let at = format!("{path}.{field}");
            let expected = match field.as_str() {
                "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion"
                | "creationTimestamp" | "deletionTimestamp" => "a string",
                "generation" | "deletionGracePeriodSeconds" => "an integer",
                "labels" | "annotations" => "a map of strings",
                "finalizers" => "a list of strings",
                "ownerReferences" | "managedFields" => "a list of objects",
                _ => {
                    self.push(&at, Rule::UnknownField, format!("unknown field {field:?}"));
                    continue;
                }
            };
            let fits = match expected {
                _ if v.is_null() => true,
                "a string" => v.is_string(),
                "an integer" => is_integer(v),
                "a map of strings" => v.as_object().is_some_and(|m| m.values().all(|v| v.is_string() || v.is_null())),
                "a list of strings" => v.as_array().is_some_and(|l| l.iter().all(Value::is_string)),
                _ => v.as_array().is_some_and(|l| l.iter().all(Value::is_object)),
            };
            if !fits {
                self.push(&at, Rule::Type, format!("must be {expected}"));
            }
        }
        let (name, generate_name) = (text("name"), text("generateName"));
        if name.is_empty() {
            if root && generate_name.is_empty() {
                self.push(&format!("{path}.name"), Rule::Required, "name or generateName is required");
            }
        } else if let Some(problem) = dns1123_subdomain_problem(name) {
            self.push(&format!("{path}.name"), Rule::Metadata, format!("{name:?} {problem}"));
        }
        if !generate_name.is_empty() {
            // A prefix may end in `-`: the server validates it with the dashes masked.
            let masked = match generate_name.strip_suffix('-') {
                Some(head) if !head.is_empty() => format!("{head}a"),
                _ => generate_name.to_owned(),
            };
            if let Some(problem) = dns1123_subdomain_problem(&masked) {
                self.push(&format!("{path}.generateName"), Rule::Metadata, format!("{generate_name:?} {problem}"));
            }
        }
        let namespace = text("namespace");
        if let Some(problem) = (!namespace.is_empty()).then(|| dns1123_label_problem(namespace)).flatten() {
            self.push(&format!("{path}.namespace"), Rule::Metadata, format!("{namespace:?} {problem}"));
        }
        if let Some(labels) = map.get("labels").and_then(Value::as_object) {
            for (key, value) in labels {
                let at = format!("{path}.labels[{key}]");
                if let Some(problem) = qualified_name_problem(key) {
                    self.push(&at, Rule::Metadata, format!("key {key:?} {problem}"));
                }
                if let Some(problem) = value.as_str().and_then(label_value_problem) {
                    self.push(&at, Rule::Metadata, format!("value {value} {problem}"));
                }
            }
        }
        if let Some(annotations) = map.get("annotations").and_then(Value::as_object) {
            let mut size = 0;
            for (key, value) in annotations {
                size += key.len() + value.as_str().map_or(0, str::len);
                if let Some(problem) = qualified_name_problem(&key.to_ascii_lowercase()) {
                    self.push(&format!("{path}.annotations[{key}]"), Rule::Metadata, format!("key {key:?} {problem}"));
                }
            }
            if size > 256 * 1024 {
                self.push(&format!("{path}.annotations"), Rule::Metadata, format!("{size} bytes, more than 256 KiB"));
            }
        }
        if let Some(finalizers) = map.get("finalizers").and_then(Value::as_array) {
            for (i, finalizer) in finalizers.iter().enumerate() {
                if let Some(problem) = finalizer.as_str().and_then(qualified_name_problem) {
                    self.push(&format!("{path}.finalizers[{i}]"), Rule::Metadata, format!("{finalizer} {problem}"));
                }
            }
        }
    }
}

/// The value the server validates for a field: a `null` the schema does not allow is dropped
/// (or defaulted), a missing field is defaulted.
fn effective<'v>(value: Option<&'v Value>, schema: &'v Schema) -> Option<&'v Value> {
    match value {
        Some(Value::Null) if !schema.nullable => schema.default.as_ref(),
        Some(value) => Some(value),
        None => schema.default.as_ref(),
    }
}

fn type_name(s: &Schema) -> &'static str {
    s.ty.map_or("any", Type::name)
}

/// An integer as the server decodes JSON: an integral float is one.
fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0),
        _ => false,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Deep equality, numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Formats and names, as `strfmt` and `k8s.io/apimachinery/pkg/util/validation` define them

/// `strfmt`'s date-time: `<date>T<hh:mm:ss>[<any char><digits>](Z|±hh:mm)`, case-insensitive.
fn is_date_time(text: &str) -> bool {
    if text.len() < 4 {
        return false;
    }
    let lower = text.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else { return false };
    is_date(date) && is_time(time)
}

fn is_time(time: &str) -> bool {
    let b = time.as_bytes();
    let two = |i: usize| b.get(i..i + 2).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(two(0) && b.get(2) == Some(&b':') && two(3) && b.get(5) == Some(&b':') && two(6)) {
        return false;
    }
    if !(&time[0..2] <= "23" && &time[3..5] <= "59" && &time[6..8] <= "59") {
        return false;
    }
    let zone = |z: &str| {
        let z = z.as_bytes();
        z == b"z"
            || (z.len() == 6
                && (z[0] == b'+' || z[0] == b'-')
                && z[1..3].iter().all(u8::is_ascii_digit)
                && z[3] == b':'
                && z[4..6].iter().all(u8::is_ascii_digit))
    };
    let rest = &time[8..];
    if zone(rest) {
        return true;
    }
    // An optional fraction: one character of any kind, then digits.
    let mut chars = rest.chars();
    if chars.next().is_none_or(|c| c == '\n') {
        return false;
    }
    let after = chars.as_str();
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && zone(&after[digits..])
}

/// `YYYY-MM-DD`, a day that exists.
fn is_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &date[range];
        digits.bytes().all(|d| d.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else { return false };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Standard base64 with padding, at least one group (`govalidator.IsBase64`).
fn is_base64(text: &str) -> bool {
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let b = text.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let (body, last) = b.split_at(b.len() - 4);
    let padding = last.iter().rev().take_while(|c| **c == b'=').count();
    body.iter().all(|c| alphabet(*c)) && padding <= 2 && last[..4 - padding].iter().all(|c| alphabet(*c))
}

const DNS1123_LABEL_RULE: &str =
    "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";

fn dns1123_label_problem(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some(format!("must be no more than 63 characters, is {}", name.len()));
    }
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    (!ok).then(|| format!("is not a DNS-1123 label: it {DNS1123_LABEL_RULE}"))
}

fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!("must be no more than 253 characters, is {}", name.len()));
    }
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    (!name.split('.').all(label)).then(|| {
        "is not a DNS-1123 subdomain: it must consist of lower case alphanumeric characters, '-' or '.', \
         and must start and end with an alphanumeric character"
            .to_owned()
    })
}

fn dns1035_label_problem(name: &str) -> Option<String> {
    let problem = dns1123_label_problem(name);
    if problem.is_some() {
        return problem;
    }
    (!name.starts_with(|c: char| c.is_ascii_lowercase())).then(|| "must start with a letter".to_owned())
}

/// `[A-Za-z0-9]`, then `[-A-Za-z0-9_.]*`, ending alphanumeric; at most 63 characters.
fn name_part_ok(part: &str) -> bool {
    let b = part.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label or annotation key, a finalizer: `[prefix/]name`, the prefix a DNS-1123 subdomain.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.contains('/') {
        return Some("is not a qualified name: it has more than one '/'".to_owned());
    }
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Some("is not a qualified name: its prefix is empty".to_owned());
        }
        if let Some(problem) = dns1123_subdomain_problem(prefix) {
            return Some(format!("is not a qualified name: its prefix {problem}"));
        }
    }
    (!name_part_ok(name)).then(|| {
        "is not a qualified name: its name part must be 1 to 63 characters, alphanumeric, '-', '_' or '.', \
         starting and ending with an alphanumeric character"
            .to_owned()
    })
}

fn label_value_problem(value: &str) -> Option<String> {
    (!value.is_empty() && !name_part_ok(value)).then(|| {
        "is not a label value: it must be at most 63 characters, alphanumeric, '-', '_' or '.', \
         starting and ending with an alphanumeric character"
            .to_owned()
    })
}

#[cfg(test)]
mod tests;
