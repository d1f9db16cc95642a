//! The object store and watch hub: every object as JSON under one resourceVersion counter,
//! a bounded history of changes for watches to resume from, and the write path every verb
//! goes through (validation, status subresource, generation, managedFields, allocation,
//! finalizers, namespace termination and owner-reference garbage collection).

use crate::apply::{self, Schema, Scope, Writer};
use crate::error::{Cause, Error, GroupKind, GroupResource};
use crate::kinds::{CRDS, DEPLOYMENTS, Kind, Kinds, NAMESPACES, ResourceId, SERVICES};
use crate::selectors::Selectors;
use crate::{crds, deployments, patch, services, validation};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

mod lifecycle;

/// Where an object lives: its type, namespace (empty for cluster-scoped ones) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    pub res: ResourceId,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One stored change, as watches see it.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub res: ResourceId,
    pub namespace: String,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before a modification, so a selector-filtered watch can turn a change
    /// that enters or leaves the selection into ADDED or DELETED, as the API server does.
    pub previous: Option<Arc<Value>>,
}

/// Who writes and how.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOptions {
    /// `fieldManager`; for non-apply writes the user agent's product stands in (kube-rs sends
    /// no User-Agent, so its writes without a field manager are owned by `""`, as in a cluster).
    pub manager: Option<String>,
    pub user_agent: String,
    pub dry_run: bool,
    pub force: bool,
}

impl WriteOptions {
    fn update_manager(&self) -> String {
        match &self.manager {
            Some(m) if !m.is_empty() => m.clone(),
            _ => self
                .user_agent
                .split('/')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect(),
        }
    }
}

/// `DeleteOptions` from the query and the body.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub dry_run: bool,
    /// `Orphan` leaves dependents in place (their owner reference removed); `Background` and
    /// `Foreground` both delete them at once.
    pub orphan: bool,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
}

/// The patch formats of PATCH requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Apply,
    Merge,
    /// Strategic merge patch, treated as a JSON merge patch (no patch directives).
    Strategic,
    Json,
}

/// What a watch starts from: objects to announce, changes to replay, and the live feed.
pub(crate) struct WatchStart {
    pub initial: Vec<Arc<Value>>,
    pub backlog: Vec<Arc<Change>>,
    pub live: broadcast::Receiver<Arc<Change>>,
    /// The resourceVersion everything before has been accounted for.
    pub seen: u64,
}

/// How a write's result reaches the client.
pub(crate) struct Written {
    pub object: Value,
    pub created: bool,
}

enum Managed {
    /// A non-apply write: the writer takes the fields it changed.
    Update(String),
    /// Server-side apply already computed the managedFields.
    Applied,
}

pub(crate) const CONTROLLER_MANAGER: &str = "kube-controller-manager";

pub(crate) struct Store {
    pub kinds: Kinds,
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// The newest resourceVersion whose change is no longer in the history.
    compacted: u64,
    hub: broadcast::Sender<Arc<Change>>,
    next_ip: u32,
    generated: u64,
    /// Uids whose dependents are orphaned when they go.
    orphaning: HashSet<String>,
    pub simulate_deployments: bool,
    pub deployments_available: bool,
    availability: HashMap<(String, String), bool>,
    /// The types a CRD being written serves, registered once the write is committed (not on
    /// a dry run or a failed write).
    pending_kinds: Vec<crds::Served>,
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn meta(object: &Value, field: &str) -> Option<String> {
    object.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).map(str::to_string)
}

/// The object's metadata map, created when missing. Callers pass JSON objects; anything else
/// is first replaced by an empty object.
fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let Value::Object(map) = object else { unreachable!("made an object above") };
    let metadata = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    let Value::Object(metadata) = metadata else { unreachable!("made an object above") };
    metadata
}

/// Sets a top-level field of an object (callers pass JSON objects).
fn set_field(object: &mut Value, field: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(field.into(), value);
    }
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r.get("uid").and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Drops what Go's `omitempty` would not encode in `ObjectMeta`.
fn normalize_metadata(object: &mut Value) {
    let metadata = metadata_mut(object);
    for field in ["labels", "annotations", "finalizers", "ownerReferences", "managedFields"] {
        let empty = match metadata.get(field) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            metadata.remove(field);
        }
    }
}

/// The object without metadata (and without status where it is a subresource): what
/// `metadata.generation` counts changes of.
fn generation_part(object: &Value, status_subresource: bool) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        if status_subresource {
            map.remove("status");
        }
    }
    copy
}

impl Store {
    pub fn new(kinds: Kinds, history_limit: usize) -> Self {
        let (hub, _) = broadcast::channel(4096);
        Store {
            kinds,
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            hub,
            next_ip: 10,
            generated: 0,
            orphaning: HashSet::new(),
            simulate_deployments: false,
            deployments_available: true,
            availability: HashMap::new(),
            pending_kinds: Vec::new(),
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.hub.subscribe()
    }

    /// Serves what the CRD just written defines.
    fn register_kinds(&mut self) {
        let served = std::mem::take(&mut self.pending_kinds);
        self.kinds.register(served);
    }

    fn kind(&self, res: ResourceId) -> Result<Kind, Error> {
        self.kinds.by_id(res).copied().ok_or(Error::UnknownPath)
    }

    fn key(kind: &Kind, namespace: Option<&str>, name: &str) -> ObjectKey {
        let namespace = if kind.info.namespaced { namespace.unwrap_or_default().to_string() } else { String::new() };
        ObjectKey { res: kind.info.id(), namespace, name: name.to_string() }
    }

    fn not_found(kind: &Kind, name: &str) -> Error {
        Error::NotFound { resource: kind.info.group_resource(), name: name.to_string() }
    }

    pub fn get(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Result<Value, Error> {
        self.objects
            .get(&Self::key(kind, namespace, name))
            .map(|o| (**o).clone())
            .ok_or_else(|| Self::not_found(kind, name))
    }

    /// Objects of a type, in key order (namespace, then name), optionally in one namespace.
    pub fn objects_of<'a>(
        &'a self,
        res: ResourceId,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> + 'a {
        self.objects.iter().filter(move |(k, _)| k.res == res && namespace.is_none_or(|ns| k.namespace == ns))
    }

    /// A list response: `items` after `continue`, at most `limit` of them.
    pub fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        selectors: &Selectors,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Value, Error> {
        let (list_rv, after) = match continue_token.filter(|t| !t.is_empty()) {
            Some(token) => {
                let mut parts = token.splitn(3, '/');
                let rv = parts.next().and_then(|rv| rv.parse::<u64>().ok());
                match (rv, parts.next(), parts.next()) {
                    (Some(rv), Some(ns), Some(name)) => (rv, Some((ns.to_string(), name.to_string()))),
                    _ => {
                        return Err(Error::bad_request(
                            "continue key is not valid: illegal base64 data at input byte 0",
                        ));
                    }
                }
            }
            None => (self.rv, None),
        };
        let mut matching = self
            .objects_of(kind.info.id(), namespace)
            .filter(|(k, _)| after.as_ref().is_none_or(|(ns, name)| (&k.namespace, &k.name) > (ns, name)))
            .filter(|(_, o)| selectors.matches(o));
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let items: Vec<(ObjectKey, Value)> =
            matching.by_ref().take(limit).map(|(k, o)| (k.clone(), (**o).clone())).collect();
        let remaining = matching.count();
        let mut metadata = Map::new();
        metadata.insert("resourceVersion".into(), list_rv.to_string().into());
        if remaining > 0
            && let Some((last, _)) = items.last()
        {
            metadata.insert("continue".into(), format!("{list_rv}/{}/{}", last.namespace, last.name).into());
            metadata.insert("remainingItemCount".into(), remaining.into());
        }
        Ok(json!({
            "kind": format!("{}List", kind.info.kind),
            "apiVersion": kind.info.api_version(),
            "metadata": metadata,
            "items": items.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
        }))
    }

    /// Starts a watch of a type from `rv` (None or 0: announce every current object first).
    /// A resourceVersion older than the history fails with 410 Expired.
    pub fn watch(&self, res: ResourceId, rv: Option<u64>) -> Result<WatchStart, Error> {
        let live = self.hub.subscribe();
        match rv.filter(|rv| *rv > 0) {
            None => Ok(WatchStart {
                initial: self.objects_of(res, None).map(|(_, o)| o.clone()).collect(),
                backlog: Vec::new(),
                live,
                seen: self.rv,
            }),
            Some(rv) if rv < self.compacted => {
                Err(Error::Expired(format!("too old resource version: {rv} ({})", self.compacted + 1)))
            }
            Some(rv) => Ok(WatchStart {
                initial: Vec::new(),
                backlog: self.history.iter().filter(|c| c.rv > rv).cloned().collect(),
                live,
                seen: self.rv.max(rv),
            }),
        }
    }

    /// Forgets the whole history, as an etcd compaction does: watches from an older
    /// resourceVersion now fail with 410 Expired.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    fn emit(&mut self, kind: EventType, key: &ObjectKey, object: Arc<Value>, previous: Option<Arc<Value>>) {
        let change =
            Arc::new(Change { rv: self.rv, res: key.res, namespace: key.namespace.clone(), kind, object, previous });
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receiver is fine: nobody watches.
        let _ = self.hub.send(change);
    }

    fn next_rv(&mut self, object: &mut Value) -> u64 {
        self.rv += 1;
        metadata_mut(object).insert("resourceVersion".into(), self.rv.to_string().into());
        self.rv
    }

    fn check_type(kind: &Kind, object: &Value, name: &str) -> Result<(), Error> {
        if let Some(api_version) = object.get("apiVersion").and_then(Value::as_str).filter(|v| !v.is_empty())
            && api_version != kind.info.api_version()
        {
            return Err(Error::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                kind.info.api_version()
            )));
        }
        if let Some(found) = object.get("kind").and_then(Value::as_str).filter(|k| !k.is_empty())
            && found != kind.info.kind
        {
            return Err(Error::Invalid {
                kind: GroupKind { group: kind.info.group.into(), kind: found.into() },
                name: name.into(),
                causes: vec![Cause::invalid("kind", &found.into(), &format!("must be {}", kind.info.kind))],
            });
        }
        Ok(())
    }

    fn check_namespace(&self, kind: &Kind, namespace: &str, name: &str) -> Result<(), Error> {
        if !kind.info.namespaced {
            return Ok(());
        }
        let ns_key = ObjectKey { res: NAMESPACES, namespace: String::new(), name: namespace.to_string() };
        match self.objects.get(&ns_key) {
            None => Err(Error::NotFound {
                resource: GroupResource { group: String::new(), resource: "namespaces".into() },
                name: namespace.to_string(),
            }),
            Some(ns) if meta(ns, "deletionTimestamp").is_some() => Err(Error::Forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                kind.info.group_resource()
            ))),
            Some(_) => Ok(()),
        }
    }

    fn schema(kind: &Kind) -> Schema {
        Schema { builtin: kind.builtin, kind: kind.info.kind }
    }

    fn main_scope(kind: &Kind) -> Scope {
        Scope::Main { status_subresource: kind.info.status_subresource }
    }

    /// What the type-specific REST logic adds on every write: defaults and allocations.
    fn prepare(&mut self, kind: &Kind, key: &ObjectKey, new: &mut Value, old: Option<&Value>) -> Result<(), Error> {
        // Left over from a dry run or a write that failed after its preparation.
        self.pending_kinds.clear();
        let name = key.name.clone();
        if key.res == SERVICES {
            let taken: BTreeSet<u64> = self
                .objects_of(SERVICES, None)
                .filter(|(k, _)| *k != key)
                .flat_map(|(_, s)| services::node_ports(s).collect::<Vec<_>>())
                .collect();
            services::allocate(new, old, &taken, &mut self.next_ip).map_err(|causes| Error::Invalid {
                kind: kind.info.group_kind(),
                name,
                causes,
            })?;
            if old.is_none() {
                set_field(new, "status", json!({"loadBalancer": {}}));
            }
        } else if key.res == DEPLOYMENTS {
            deployments::default(new);
        } else if key.res == NAMESPACES && old.is_none() {
            if let Some(object) = new.as_object_mut() {
                object.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
                object.insert("status".into(), json!({"phase": "Active"}));
            }
            metadata_mut(new)
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .map(|l| l.insert("kubernetes.io/metadata.name".into(), name.into()));
        } else if kind.info.plural == "persistentvolumeclaims" && old.is_none() {
            set_field(new, "status", json!({"phase": "Pending"}));
        } else if key.res == CRDS {
            let served = crds::served(&name, new).map_err(|causes| Error::Invalid {
                kind: kind.info.group_kind(),
                name: name.clone(),
                causes,
            })?;
            // The names are accepted at once: there is no other CRD to conflict with them.
            if old.is_none() {
                set_field(new, "status", crds::accepted_status(new));
            }
            self.pending_kinds = served;
        }
        Ok(())
    }

    /// POST: creates an object. `applied` is set when server-side apply created it.
    pub fn create(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, Error> {
        self.create_with(kind, namespace, body, opts, Managed::Update(opts.update_manager()))
    }

    fn create_with(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        mut body: Value,
        opts: &WriteOptions,
        managed: Managed,
    ) -> Result<Value, Error> {
        if !body.is_object() {
            return Err(Error::bad_request("the body of the request must be a JSON object"));
        }
        let given_name = meta(&body, "name").filter(|n| !n.is_empty());
        Self::check_type(kind, &body, given_name.as_deref().unwrap_or_default())?;
        let path_namespace = namespace.unwrap_or_default().to_string();
        if kind.info.namespaced {
            match meta(&body, "namespace").filter(|n| !n.is_empty()) {
                Some(ns) if ns != path_namespace => {
                    return Err(Error::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {}
            }
        }
        if meta(&body, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
            return Err(Error::Internal("resourceVersion should not be set on objects to be created".into()));
        }
        let name = match (given_name, meta(&body, "generateName").filter(|n| !n.is_empty())) {
            (Some(name), _) => name,
            (None, Some(prefix)) => loop {
                self.generated += 1;
                let candidate = format!("{prefix}{}", validation::generated_suffix(self.generated));
                if !self.objects.contains_key(&Self::key(kind, namespace, &candidate)) {
                    break candidate;
                }
            },
            (None, None) => {
                return Err(Error::Invalid {
                    kind: kind.info.group_kind(),
                    name: String::new(),
                    causes: vec![Cause::required("metadata.name", "name or generateName is required")],
                });
            }
        };
        let problems = validation::name_problems(validation::rule_for(kind.info.id()), &name);
        if !problems.is_empty() {
            let causes = problems.iter().map(|p| Cause::invalid("metadata.name", &name.clone().into(), p)).collect();
            return Err(Error::Invalid { kind: kind.info.group_kind(), name, causes });
        }
        self.check_namespace(kind, &path_namespace, &name)?;
        let key = Self::key(kind, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(Error::AlreadyExists { resource: kind.info.group_resource(), name });
        }

        if let Some(object) = body.as_object_mut() {
            object.insert("apiVersion".into(), kind.info.api_version().into());
            object.insert("kind".into(), kind.info.kind.into());
            if kind.info.status_subresource {
                object.remove("status");
            }
        }
        let now = now();
        let metadata = metadata_mut(&mut body);
        metadata.insert("name".into(), name.clone().into());
        if kind.info.namespaced {
            metadata.insert("namespace".into(), path_namespace.into());
        } else {
            metadata.remove("namespace");
        }
        metadata.insert("uid".into(), uuid::Uuid::now_v7().to_string().into());
        metadata.insert("creationTimestamp".into(), now.clone().into());
        metadata.insert("generation".into(), 1.into());
        for field in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            metadata.remove(field);
        }
        if let Managed::Update(manager) = &managed {
            metadata.remove("managedFields");
            let api_version = kind.info.api_version();
            let writer = Writer {
                manager,
                api_version: &api_version,
                scope: Self::main_scope(kind),
                schema: Self::schema(kind),
                now: &now,
            };
            apply::record_update(None, &mut body, writer);
        }
        self.prepare(kind, &key, &mut body, None)?;
        normalize_metadata(&mut body);
        if opts.dry_run {
            return Ok(body);
        }
        self.next_rv(&mut body);
        self.register_kinds();
        let object = Arc::new(body);
        self.objects.insert(key.clone(), object.clone());
        self.emit(EventType::Added, &key, object.clone(), None);
        self.collect_if_ownerless(&key);
        Ok((*object).clone())
    }

    /// PUT of the main resource or of `/status`.
    pub fn replace(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        body: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Written, Error> {
        let key = Self::key(kind, namespace, name);
        let Some(old) = self.objects.get(&key).cloned() else {
            if kind.create_on_update && !status {
                if meta(&body, "name").is_some_and(|n| n != name) {
                    return Err(name_mismatch(&body, name));
                }
                let object = self.create(kind, namespace, body, opts)?;
                return Ok(Written { object, created: true });
            }
            return Err(Self::not_found(kind, name));
        };
        let scope = if status { Scope::Status } else { Self::main_scope(kind) };
        let object =
            self.write_existing(kind, &key, &old, body, scope, opts, Managed::Update(opts.update_manager()))?;
        Ok(Written { object, created: false })
    }

    /// PATCH of the main resource or of `/status`, in any of the patch formats.
    #[allow(clippy::too_many_arguments)] // one request's parts; a struct would only rename them
    pub fn patch(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Written, Error> {
        let key = Self::key(kind, namespace, name);
        let scope = if status { Scope::Status } else { Self::main_scope(kind) };
        let old = self.objects.get(&key).cloned();
        if patch_type == PatchType::Apply {
            return self.apply(kind, &key, old, body, scope, opts);
        }
        let Some(old) = old else { return Err(Self::not_found(kind, name)) };
        let candidate = match patch_type {
            PatchType::Json => patch::json_patch(&old, body)?,
            _ => {
                if !body.is_object() {
                    return Err(Error::bad_request(
                        "json: cannot unmarshal array into Go value of type map[string]interface {}",
                    ));
                }
                let mut candidate = (*old).clone();
                patch::merge_patch(&mut candidate, body);
                candidate
            }
        };
        let object =
            self.write_existing(kind, &key, &old, candidate, scope, opts, Managed::Update(opts.update_manager()))?;
        Ok(Written { object, created: false })
    }

    fn apply(
        &mut self,
        kind: &Kind,
        key: &ObjectKey,
        old: Option<Arc<Value>>,
        body: &Value,
        scope: Scope,
        opts: &WriteOptions,
    ) -> Result<Written, Error> {
        let manager = opts.manager.clone().filter(|m| !m.is_empty()).ok_or_else(|| Error::Invalid {
            kind: GroupKind { group: "meta.k8s.io".into(), kind: "PatchOptions".into() },
            name: String::new(),
            causes: vec![Cause::required("fieldManager", "is required for apply patch")],
        })?;
        let Some(config_map) = body.as_object() else {
            return Err(Error::bad_request("error decoding YAML: the applied configuration must be an object"));
        };
        for field in ["apiVersion", "kind"] {
            if config_map.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                let what = if field == "kind" { "Kind" } else { "apiVersion" };
                return Err(Error::bad_request(format!("Object '{what}' is missing in '{body}'")));
            }
        }
        Self::check_type(kind, body, &key.name)?;
        if body.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
            return Err(Error::bad_request("metadata.managedFields must be nil"));
        }
        if meta(body, "name").is_some_and(|n| n != key.name) {
            return Err(name_mismatch(body, &key.name));
        }
        let mut config = body.clone();
        match scope {
            Scope::Main { status_subresource: true } => {
                if let Some(config) = config.as_object_mut() {
                    config.remove("status");
                }
            }
            Scope::Status => {
                if let Some(config) = config.as_object_mut() {
                    config.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
                }
                metadata_mut(&mut config).retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "resourceVersion"));
            }
            Scope::Main { .. } => {}
        }
        let now = now();
        let api_version = kind.info.api_version();
        let writer =
            Writer { manager: &manager, api_version: &api_version, scope, schema: Self::schema(kind), now: &now };
        match old {
            None if scope == Scope::Status => Err(Self::not_found(kind, &key.name)),
            None => {
                let mut merged = apply::apply(None, &config, opts.force, writer)?;
                metadata_mut(&mut merged).insert("name".into(), key.name.clone().into());
                let namespace = kind.info.namespaced.then_some(key.namespace.as_str());
                let object = self.create_with(kind, namespace, merged, opts, Managed::Applied)?;
                Ok(Written { object, created: true })
            }
            Some(old) => {
                let merged = apply::apply(Some(&old), &config, opts.force, writer)?;
                let object = self.write_existing(kind, key, &old, merged, scope, opts, Managed::Applied)?;
                Ok(Written { object, created: false })
            }
        }
    }

    /// The write path of every update: preconditions, what the scope may change, ownership,
    /// allocations, generation, and then the commit — or nothing for a no-op, or the final
    /// removal when the last finalizer of a deleted object went.
    #[allow(clippy::too_many_arguments)] // the parts of one write
    fn write_existing(
        &mut self,
        kind: &Kind,
        key: &ObjectKey,
        old: &Arc<Value>,
        mut candidate: Value,
        scope: Scope,
        opts: &WriteOptions,
        managed: Managed,
    ) -> Result<Value, Error> {
        if !candidate.is_object() {
            return Err(Error::bad_request("the body of the request must be a JSON object"));
        }
        let old_rv = meta(old, "resourceVersion").unwrap_or_default();
        if let Some(rv) = meta(&candidate, "resourceVersion").filter(|rv| !rv.is_empty())
            && rv != old_rv
        {
            return Err(Error::Conflict {
                resource: kind.info.group_resource(),
                name: key.name.clone(),
                detail: "the object has been modified; please apply your changes to the latest version and try again"
                    .into(),
            });
        }
        if meta(&candidate, "name").is_some_and(|n| n != key.name) {
            return Err(name_mismatch(&candidate, &key.name));
        }
        if kind.info.namespaced && meta(&candidate, "namespace").is_some_and(|ns| !ns.is_empty() && ns != key.namespace)
        {
            return Err(Error::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        Self::check_type(kind, &candidate, &key.name)?;

        let mut new = match scope {
            Scope::Status => {
                let mut new = (**old).clone();
                if let Some(object) = new.as_object_mut() {
                    match candidate.get("status") {
                        Some(status) => object.insert("status".into(), status.clone()),
                        None => object.remove("status"),
                    };
                }
                if let Managed::Applied = managed
                    && let Some(fields) = candidate.pointer("/metadata/managedFields")
                {
                    metadata_mut(&mut new).insert("managedFields".into(), fields.clone());
                }
                new
            }
            Scope::Main { status_subresource } => {
                if status_subresource && let Some(object) = candidate.as_object_mut() {
                    match old.get("status") {
                        Some(status) => object.insert("status".into(), status.clone()),
                        None => object.remove("status"),
                    };
                }
                if let Managed::Update(_) = managed {
                    metadata_mut(&mut candidate).remove("managedFields");
                }
                candidate
            }
        };
        if let Some(object) = new.as_object_mut() {
            object.insert("apiVersion".into(), kind.info.api_version().into());
            object.insert("kind".into(), kind.info.kind.into());
        }
        let old_meta = old.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
        let metadata = metadata_mut(&mut new);
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ] {
            match old_meta.get(field) {
                Some(value) => metadata.insert(field.into(), value.clone()),
                None => metadata.remove(field),
            };
        }
        if let Managed::Update(manager) = &managed {
            if scope == Scope::Status {
                match old_meta.get("managedFields") {
                    Some(value) => metadata_mut(&mut new).insert("managedFields".into(), value.clone()),
                    None => metadata_mut(&mut new).remove("managedFields"),
                };
            }
            let now = now();
            let api_version = kind.info.api_version();
            let writer = Writer { manager, api_version: &api_version, scope, schema: Self::schema(kind), now: &now };
            apply::record_update(Some(old), &mut new, writer);
        }
        if meta(old, "deletionTimestamp").is_some() {
            let before = finalizers(old);
            if let Some(added) = finalizers(&new).into_iter().find(|f| !before.contains(f)) {
                return Err(Error::Invalid {
                    kind: kind.info.group_kind(),
                    name: key.name.clone(),
                    causes: vec![Cause {
                        reason: "FieldValueForbidden".into(),
                        message: format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"
                        ),
                        field: "metadata.finalizers".into(),
                    }],
                });
            }
        }
        self.prepare(kind, key, &mut new, Some(old))?;
        normalize_metadata(&mut new);
        if generation_part(&new, kind.info.status_subresource) != generation_part(old, kind.info.status_subresource) {
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            metadata_mut(&mut new).insert("generation".into(), generation.into());
        }
        if new == **old {
            return Ok(new);
        }
        if opts.dry_run {
            return Ok(new);
        }
        if meta(&new, "deletionTimestamp").is_some() && finalizers(&new).is_empty() {
            self.objects.insert(key.clone(), Arc::new(new));
            return Ok(self.remove(key).map(|o| (*o).clone()).unwrap_or_default());
        }
        self.next_rv(&mut new);
        self.register_kinds();
        let object = Arc::new(new);
        self.objects.insert(key.clone(), object.clone());
        self.emit(EventType::Modified, key, object.clone(), Some(old.clone()));
        self.collect_if_ownerless(key);
        Ok((*object).clone())
    }
}

fn name_mismatch(body: &Value, name: &str) -> Error {
    Error::bad_request(format!(
        "the name of the object ({}) does not match the name on the URL ({name})",
        meta(body, "name").unwrap_or_default()
    ))
}
