//! Server-side apply and field ownership (`metadata.managedFields`), after
//! structured-merge-diff, the library the API server uses.
//!
//! A field set holds paths to leaves (scalars, atomic lists, empty maps) and to the items of
//! associative lists (the `.` member of a `k:{…}` entry). Lists are atomic unless the path is
//! a known associative list of the built-in types (containers, ports, env, volumes, volume
//! mounts, image pull secrets, conditions by `type`, owner references by `uid`) or a set
//! (`metadata.finalizers`); custom resources have atomic lists, as the fake knows no CRD schema.
//! Maps are granular: two managers can own different keys of one map.

use crate::error::{Cause, Error};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Element {
    /// A map key: `f:name`.
    Field(String),
    /// An associative list item by its key fields, as canonical JSON: `k:{"name":"web"}`.
    Key(String),
    /// A set item by its value, as canonical JSON: `v:"finalizer"`.
    Value(String),
    /// A list item by position (only read from foreign managedFields).
    Index(usize),
}

pub(crate) type Path = Vec<Element>;
pub(crate) type FieldSet = BTreeSet<Path>;

/// A path as the API server prints it in conflicts: `.spec.containers[name="web"].image`.
pub(crate) fn display_path(path: &Path) -> String {
    let mut out = String::new();
    for element in path {
        match element {
            Element::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Element::Key(key) => {
                let fields = serde_json::from_str::<Map<String, Value>>(key).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = write!(out, "[{}]", parts.join(","));
            }
            Element::Value(value) => {
                let _ = write!(out, "[={value}]");
            }
            Element::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// JSON with object keys sorted, so equal values have equal text whatever the map order.
pub(crate) fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let ordered: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sorted(v))).collect();
                let mut out = Map::new();
                for (k, v) in ordered {
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// What the fake knows of a type's schema: only how its lists merge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    pub builtin: bool,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListType {
    Atomic,
    Set,
    /// Key fields, with the default a missing key field takes (`protocol: TCP`).
    Map(&'static [(&'static str, Option<&'static str>)]),
}

const BY_NAME: &[(&str, Option<&str>)] = &[("name", None)];

fn list_type(schema: Schema, names: &[String]) -> ListType {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["metadata", "ownerReferences"] => ListType::Map(&[("uid", None)]),
        ["metadata", "finalizers"] => ListType::Set,
        _ if !schema.builtin => ListType::Atomic,
        [.., "containers" | "initContainers" | "ephemeralContainers", "ports"] => {
            ListType::Map(&[("containerPort", None), ("protocol", Some("TCP"))])
        }
        [.., "spec", "containers" | "initContainers" | "ephemeralContainers"] => ListType::Map(BY_NAME),
        [.., "containers" | "initContainers" | "ephemeralContainers", "env"] => ListType::Map(BY_NAME),
        [.., "volumeMounts"] => ListType::Map(&[("mountPath", None)]),
        [.., "spec", "volumes"] | [.., "imagePullSecrets"] => ListType::Map(BY_NAME),
        ["spec", "ports"] if schema.kind == "Service" => ListType::Map(&[("port", None), ("protocol", Some("TCP"))]),
        ["status", "conditions"] => ListType::Map(&[("type", None)]),
        _ => ListType::Atomic,
    }
}

/// The key of an associative list item, or None when a key field is missing.
fn item_key(item: &Value, keys: &[(&str, Option<&str>)]) -> Option<String> {
    let object = item.as_object()?;
    let mut key = BTreeMap::new();
    for (field, default) in keys {
        let value = match (object.get(*field), default) {
            (Some(v), _) if !v.is_null() => v.clone(),
            (_, Some(d)) => Value::String((*d).to_string()),
            _ => return None,
        };
        key.insert(*field, value);
    }
    serde_json::to_string(&key).ok()
}

/// How a list is walked: atomic, or each item with its path element.
fn list_items(schema: Schema, names: &[String], items: &[Value]) -> Option<Vec<Element>> {
    match list_type(schema, names) {
        ListType::Atomic => None,
        ListType::Set => Some(items.iter().map(|v| Element::Value(canonical(v))).collect()),
        ListType::Map(keys) => items.iter().map(|item| item_key(item, keys).map(Element::Key)).collect(),
    }
}

/// Which part of an object a write may change; the rest is not tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The main resource; `status` is ignored when the type has a status subresource.
    Main { status_subresource: bool },
    /// The `/status` subresource: only `status` is tracked.
    Status,
}

const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

impl Scope {
    fn ignores(self, path: &[Element]) -> bool {
        let field = |i: usize| match path.get(i) {
            Some(Element::Field(name)) => Some(name.as_str()),
            _ => None,
        };
        match (field(0), field(1)) {
            (Some("apiVersion" | "kind"), _) => true,
            (Some("metadata"), Some(name)) if SYSTEM_METADATA.contains(&name) => true,
            (Some("status"), _) => self == Scope::Main { status_subresource: true },
            _ => self == Scope::Status,
        }
    }

    pub fn subresource(self) -> Option<&'static str> {
        match self {
            Scope::Main { .. } => None,
            Scope::Status => Some("status"),
        }
    }
}

/// Every tracked member path of `value` with its leaf value (Null for list items).
pub(crate) fn leaves(value: &Value, schema: Schema, scope: Scope) -> BTreeMap<Path, Value> {
    fn walk(value: &Value, schema: Schema, names: &mut Vec<String>, path: &mut Path, out: &mut BTreeMap<Path, Value>) {
        match value {
            Value::Object(map) if !map.is_empty() || path.is_empty() => {
                fields(map, schema, names, path, out);
            }
            Value::Array(items) if !items.is_empty() => match list_items(schema, names, items) {
                None => {
                    out.insert(path.clone(), value.clone());
                }
                Some(elements) => {
                    for (element, item) in elements.into_iter().zip(items) {
                        path.push(element.clone());
                        match element {
                            Element::Key(_) => {
                                out.insert(path.clone(), Value::Null);
                                if let Value::Object(fields_of_item) = item {
                                    fields(fields_of_item, schema, names, path, out);
                                }
                            }
                            _ => {
                                out.insert(path.clone(), item.clone());
                            }
                        }
                        path.pop();
                    }
                }
            },
            other => {
                out.insert(path.clone(), other.clone());
            }
        }
    }
    /// Each non-null member of `map`, walked under its field name.
    fn fields(
        map: &serde_json::Map<String, Value>,
        schema: Schema,
        names: &mut Vec<String>,
        path: &mut Path,
        out: &mut BTreeMap<Path, Value>,
    ) {
        for (key, child) in map {
            if child.is_null() {
                continue;
            }
            names.push(key.clone());
            path.push(Element::Field(key.clone()));
            walk(child, schema, names, path, out);
            path.pop();
            names.pop();
        }
    }
    let mut out = BTreeMap::new();
    walk(value, schema, &mut Vec::new(), &mut Vec::new(), &mut out);
    out.retain(|path, _| !scope.ignores(path));
    out
}

/// What changed from `old` to `new`: (added or modified, removed).
fn compare(old: &BTreeMap<Path, Value>, new: &BTreeMap<Path, Value>) -> (FieldSet, FieldSet) {
    let changed = new.iter().filter(|(p, v)| old.get(*p) != Some(*v)).map(|(p, _)| p.clone()).collect();
    let removed = old.keys().filter(|p| !new.contains_key(*p)).cloned().collect();
    (changed, removed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == subresource
    }

    /// How a conflict names this manager: `"mgr"`, `"mgr" using apps/v1`, `… with subresource "status"`.
    fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            let _ = write!(out, " with subresource {sub:?}");
        }
        if self.operation == Operation::Update {
            let _ = write!(out, " using {}", self.api_version);
        }
        out
    }
}

/// Reads `metadata.managedFields`, skipping entries it cannot read.
pub(crate) fn read_managed_fields(object: &Value) -> Vec<Entry> {
    let Some(entries) = object.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let operation = match e.get("operation")?.as_str()? {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return None,
            };
            let mut fields = FieldSet::new();
            if let Some(v1) = e.get("fieldsV1") {
                decode_fields(v1, &mut Vec::new(), &mut fields);
            }
            Some(Entry {
                manager: e.get("manager").and_then(Value::as_str).unwrap_or_default().to_string(),
                operation,
                api_version: e.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string(),
                time: e.get("time").and_then(Value::as_str).unwrap_or_default().to_string(),
                subresource: e.get("subresource").and_then(Value::as_str).map(str::to_string),
                fields,
            })
        })
        .collect()
}

fn decode_fields(node: &Value, path: &mut Path, out: &mut FieldSet) {
    let Some(map) = node.as_object() else { return };
    if map.is_empty() && !path.is_empty() {
        out.insert(path.clone());
        return;
    }
    for (key, child) in map {
        if key == "." {
            out.insert(path.clone());
            continue;
        }
        let element = match key.split_at_checked(2) {
            Some(("f:", name)) => Element::Field(name.to_string()),
            Some(("k:", json)) => match serde_json::from_str::<Value>(json) {
                Ok(v) => Element::Key(canonical(&v)),
                Err(_) => continue,
            },
            Some(("v:", json)) => match serde_json::from_str::<Value>(json) {
                Ok(v) => Element::Value(canonical(&v)),
                Err(_) => continue,
            },
            Some(("i:", index)) => match index.parse() {
                Ok(i) => Element::Index(i),
                Err(_) => continue,
            },
            _ => continue,
        };
        path.push(element);
        decode_fields(child, path, out);
        path.pop();
    }
}

/// A field set as `FieldsV1` JSON: `{"f:spec":{"f:replicas":{}}}`.
pub(crate) fn encode_fields(fields: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: BTreeMap<String, Node>,
    }
    fn to_json(node: &Node) -> Value {
        let mut map = Map::new();
        if node.member && !node.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (key, child) in &node.children {
            map.insert(key.clone(), to_json(child));
        }
        Value::Object(map)
    }
    let mut root = Node::default();
    for path in fields {
        let mut node = &mut root;
        for element in path {
            let key = match element {
                Element::Field(name) => format!("f:{name}"),
                Element::Key(json) => format!("k:{json}"),
                Element::Value(json) => format!("v:{json}"),
                Element::Index(i) => format!("i:{i}"),
            };
            node = node.children.entry(key).or_default();
        }
        node.member = true;
    }
    to_json(&root)
}

fn write_managed_fields(object: &mut Value, entries: &[Entry]) {
    let encoded: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut entry = Map::new();
            if !e.manager.is_empty() {
                entry.insert("manager".into(), e.manager.clone().into());
            }
            let operation = if e.operation == Operation::Apply { "Apply" } else { "Update" };
            entry.insert("operation".into(), operation.into());
            entry.insert("apiVersion".into(), e.api_version.clone().into());
            entry.insert("time".into(), e.time.clone().into());
            entry.insert("fieldsType".into(), "FieldsV1".into());
            entry.insert("fieldsV1".into(), encode_fields(&e.fields));
            if let Some(sub) = &e.subresource {
                entry.insert("subresource".into(), sub.clone().into());
            }
            Value::Object(entry)
        })
        .collect();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if encoded.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), encoded.into());
        }
    }
}

/// Keeps an entry's old timestamp when nothing about it changed, so a no-op write stays one.
fn settle(old: &[Entry], mut new: Vec<Entry>, now: &str) -> Vec<Entry> {
    new.retain(|e| !e.fields.is_empty());
    for entry in &mut new {
        let unchanged = old.iter().find(|o| {
            o.same_owner(&entry.manager, entry.operation, entry.subresource.as_deref())
                && o.fields == entry.fields
                && o.api_version == entry.api_version
        });
        entry.time = unchanged.map_or_else(|| now.to_string(), |o| o.time.clone());
    }
    new
}

/// Who writes, and where.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub scope: Scope,
    pub schema: Schema,
    pub now: &'a str,
}

/// Records a non-apply write (create, update, merge or JSON patch) in `new`'s managedFields:
/// the writer takes every field it changed, from whoever owned it, without conflicts.
pub(crate) fn record_update(old: Option<&Value>, new: &mut Value, writer: Writer<'_>) {
    let entries = old.map(read_managed_fields).unwrap_or_default();
    let before = old.map(|o| leaves(o, writer.schema, writer.scope)).unwrap_or_default();
    let after = leaves(new, writer.schema, writer.scope);
    let (changed, removed) = compare(&before, &after);
    let subresource = writer.scope.subresource();
    let mut updated = entries.clone();
    let mut found = false;
    for entry in &mut updated {
        if entry.same_owner(writer.manager, Operation::Update, subresource) {
            found = true;
            entry.fields.extend(changed.iter().cloned());
            entry.fields.retain(|p| !removed.contains(p));
            entry.api_version = writer.api_version.to_string();
        } else {
            entry.fields.retain(|p| !changed.contains(p) && !removed.contains(p));
        }
    }
    if !found {
        updated.push(Entry {
            manager: writer.manager.to_string(),
            operation: Operation::Update,
            api_version: writer.api_version.to_string(),
            time: String::new(),
            subresource: subresource.map(str::to_string),
            fields: changed,
        });
    }
    write_managed_fields(new, &settle(&entries, updated, writer.now));
}

/// Server-side apply of `config` onto `live` (None: the object is created): merges, removes
/// the fields this manager applied before and omits now (unless someone else owns them),
/// and fails on fields another manager owns with another value unless `force`.
///
/// `config` must already be limited to what the scope may change. Returns the new object
/// with its managedFields written.
pub(crate) fn apply(live: Option<&Value>, config: &Value, force: bool, writer: Writer<'_>) -> Result<Value, Error> {
    let schema = writer.schema;
    let subresource = writer.scope.subresource();
    let empty = Value::Object(Map::new());
    let live_value = live.unwrap_or(&empty);
    let entries = read_managed_fields(live_value);
    let applied: FieldSet = leaves(config, schema, writer.scope).into_keys().collect();
    let last = entries
        .iter()
        .find(|e| e.same_owner(writer.manager, Operation::Apply, subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let kept: FieldSet = entries
        .iter()
        .filter(|e| !e.same_owner(writer.manager, Operation::Apply, subresource))
        .flat_map(|e| e.fields.iter().cloned())
        .chain(applied.iter().cloned())
        .collect();

    let mut merged = merge(live_value, config, schema, &mut Vec::new());
    let dropped: Vec<&Path> = last.iter().filter(|p| !kept.contains(*p)).collect();
    for path in dropped {
        prune(&mut merged, path, &kept, schema);
    }

    let (changed, removed) = compare(&leaves(live_value, schema, writer.scope), &leaves(&merged, schema, writer.scope));
    let mut conflicts: Vec<(String, Path)> = Vec::new();
    let mut updated = Vec::new();
    for entry in &entries {
        if entry.same_owner(writer.manager, Operation::Apply, subresource) {
            continue;
        }
        let mut entry = entry.clone();
        for path in entry.fields.iter().filter(|p| changed.contains(*p)) {
            conflicts.push((entry.describe(), path.clone()));
        }
        entry.fields.retain(|p| !changed.contains(p) && !removed.contains(p));
        updated.push(entry);
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(conflicts));
    }
    let apply_entry = Entry {
        manager: writer.manager.to_string(),
        operation: Operation::Apply,
        api_version: writer.api_version.to_string(),
        time: String::new(),
        subresource: subresource.map(str::to_string),
        fields: applied,
    };
    // The applier's entry keeps its place among the others.
    match entries.iter().position(|e| e.same_owner(writer.manager, Operation::Apply, subresource)) {
        Some(index) => updated.insert(index.min(updated.len()), apply_entry),
        None => updated.push(apply_entry),
    }
    write_managed_fields(&mut merged, &settle(&entries, updated, writer.now));
    Ok(merged)
}

fn conflict_error(conflicts: Vec<(String, Path)>) -> Error {
    let causes: Vec<Cause> = conflicts
        .iter()
        .map(|(manager, path)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {manager}"),
            field: display_path(path),
        })
        .collect();
    let message = if let [(manager, path)] = conflicts.as_slice() {
        format!("Apply failed with 1 conflict: conflict with {manager}: {}", display_path(path))
    } else {
        let mut by_manager: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (manager, path) in &conflicts {
            by_manager.entry(manager).or_default().push(display_path(path));
        }
        let mut lines = Vec::new();
        for (manager, paths) in by_manager {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    Error::ApplyConflict { message, causes }
}

/// Merges an applied configuration into a live object: maps key by key, associative lists
/// item by item, sets by union, everything else replaced.
fn merge(live: &Value, config: &Value, schema: Schema, names: &mut Vec<String>) -> Value {
    match (live, config) {
        (Value::Object(live_map), Value::Object(config_map)) => {
            let mut out = live_map.clone();
            for (key, value) in config_map {
                if value.is_null() {
                    continue;
                }
                names.push(key.clone());
                let merged = match live_map.get(key) {
                    Some(existing) => merge(existing, value, schema, names),
                    None => value.clone(),
                };
                names.pop();
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(live_items), Value::Array(config_items)) => {
            match (list_items(schema, names, live_items), list_items(schema, names, config_items)) {
                (Some(live_elements), Some(config_elements)) => {
                    let mut out = live_items.clone();
                    let mut elements = live_elements;
                    for (element, item) in config_elements.into_iter().zip(config_items) {
                        match elements.iter().position(|e| *e == element) {
                            Some(i) if matches!(element, Element::Key(_)) => {
                                out[i] = merge(&out[i], item, schema, names)
                            }
                            Some(_) => {}
                            None => {
                                out.push(item.clone());
                                elements.push(element);
                            }
                        }
                    }
                    Value::Array(out)
                }
                _ => config.clone(),
            }
        }
        _ => config.clone(),
    }
}

/// Removes one member path, unless it is an associative list item someone still owns part
/// of, and then any map or list the removal left empty.
fn prune(object: &mut Value, path: &Path, kept: &FieldSet, schema: Schema) {
    fn walk(node: &mut Value, rest: &[Element], ctx: &mut PruneCtx<'_>, item_keys: &[&str]) -> bool {
        let Some((first, tail)) = rest.split_first() else { return false };
        ctx.prefix.push(first.clone());
        let removed = match (node, first) {
            (Value::Object(map), Element::Field(name)) => {
                if tail.is_empty() {
                    // An item's key fields stay while the item does.
                    !item_keys.contains(&name.as_str()) && map.remove(name).is_some()
                } else if let Some(child) = map.get_mut(name) {
                    ctx.names.push(name.clone());
                    let removed = walk(child, tail, ctx, &[]);
                    ctx.names.pop();
                    if removed && is_empty_container(child) {
                        map.remove(name);
                    }
                    removed
                } else {
                    false
                }
            }
            (Value::Array(items), Element::Key(_) | Element::Value(_)) => {
                let keys: Vec<&str> = match list_type(ctx.schema, &ctx.names) {
                    ListType::Map(keys) => keys.iter().map(|(k, _)| *k).collect(),
                    _ => Vec::new(),
                };
                let elements = list_items(ctx.schema, &ctx.names, items).unwrap_or_default();
                match elements.iter().position(|e| e == first) {
                    Some(index) if tail.is_empty() => {
                        let owned_inside =
                            ctx.kept.iter().any(|p| p.len() > ctx.prefix.len() && p.starts_with(&ctx.prefix));
                        if owned_inside {
                            false
                        } else {
                            items.remove(index);
                            true
                        }
                    }
                    Some(index) => {
                        let removed = walk(&mut items[index], tail, ctx, &keys);
                        if removed && is_empty_container(&items[index]) {
                            items.remove(index);
                        }
                        removed
                    }
                    None => false,
                }
            }
            _ => false,
        };
        ctx.prefix.pop();
        removed
    }
    struct PruneCtx<'a> {
        kept: &'a FieldSet,
        schema: Schema,
        names: Vec<String>,
        prefix: Path,
    }
    let mut ctx = PruneCtx { kept, schema, names: Vec::new(), prefix: Vec::new() };
    walk(object, path, &mut ctx, &[]);
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: Schema = Schema { builtin: true, kind: "Deployment" };
    const MAIN: Scope = Scope::Main { status_subresource: true };

    fn writer(manager: &str) -> Writer<'_> {
        Writer { manager, api_version: "apps/v1", scope: MAIN, schema: DEPLOYMENT, now: "2026-01-01T00:00:00Z" }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
            ]}}}
        })
    }

    #[test]
    fn fields_v1_round_trips_with_item_members() {
        let fields: FieldSet = leaves(&deployment(1, "nginx"), DEPLOYMENT, MAIN).into_keys().collect();
        let encoded = encode_fields(&fields);
        let container = &encoded["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
        assert_eq!(container["."], json!({}));
        assert_eq!(container["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]["f:containerPort"], json!({}));
        assert!(encoded["f:metadata"].get("f:name").is_none(), "name is not tracked");
        let mut decoded = FieldSet::new();
        decode_fields(&encoded, &mut Vec::new(), &mut decoded);
        assert_eq!(decoded, fields);
    }

    #[test]
    fn another_managers_field_with_another_value_conflicts_unless_forced() {
        let first = apply(None, &deployment(1, "nginx"), false, writer("a")).expect("create");
        let same = apply(Some(&first), &deployment(1, "nginx"), false, writer("b")).expect("same values share");
        let err = apply(Some(&same), &deployment(3, "nginx"), false, writer("b")).expect_err("conflict");
        let message = err.to_string();
        assert_eq!(message, "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas");
        let forced = apply(Some(&same), &deployment(3, "nginx"), true, writer("b")).expect("forced");
        assert_eq!(forced["spec"]["replicas"], json!(3));
        let owners = read_managed_fields(&forced);
        let replicas = vec![Element::Field("spec".into()), Element::Field("replicas".into())];
        assert!(!owners[0].fields.contains(&replicas));
        assert!(owners[1].fields.contains(&replicas));
    }

    #[test]
    fn omitted_fields_are_removed_unless_someone_else_owns_them() {
        let mut config = deployment(1, "nginx");
        config["metadata"]["labels"]["extra"] = json!("x");
        let first = apply(None, &config, false, writer("a")).expect("create");
        let second = apply(Some(&first), &deployment(1, "nginx"), false, writer("a")).expect("drop label");
        assert_eq!(second["metadata"]["labels"], json!({"app": "web"}));

        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
        let shared = apply(Some(&second), &other, false, writer("b")).expect("co-own image");
        let without = apply(
            Some(&shared),
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 1}}),
            false,
            writer("a"),
        )
        .expect("a drops the container");
        let containers = &without["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers, &json!([{"name": "web", "image": "nginx"}]), "b's image keeps the item");
    }

    #[test]
    fn updates_take_ownership_and_apply_then_conflicts_with_them() {
        let created = apply(None, &deployment(1, "nginx"), false, writer("a")).expect("create");
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&created), &mut scaled, writer("kubectl"));
        let entries = read_managed_fields(&scaled);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].operation, Operation::Update);
        let err = apply(Some(&scaled), &deployment(1, "nginx"), false, writer("a")).expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn conflicts_with_several_fields_are_listed_per_manager() {
        let created = apply(None, &deployment(1, "nginx"), false, writer("a")).expect("create");
        let err = apply(Some(&created), &deployment(2, "httpd"), false, writer("b")).expect_err("conflicts");
        assert_eq!(
            err.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let schema = Schema { builtin: false, kind: "Workspace" };
        let w = Writer { manager: "a", api_version: "x/v1", scope: MAIN, schema, now: "t" };
        let live = json!({"metadata": {"finalizers": ["one"]}, "spec": {"list": [1, 2]}});
        let out = apply(Some(&live), &json!({"metadata": {"finalizers": ["two"]}, "spec": {"list": [3]}}), false, w)
            .expect("apply");
        assert_eq!(out["metadata"]["finalizers"], json!(["one", "two"]));
        assert_eq!(out["spec"]["list"], json!([3]), "custom resource lists are atomic");
    }
}
