//! An in-process fake Kubernetes API server for tests: the real `kube` client talks HTTP to
//! it and sees the REST semantics of a real API server.
//!
//! ```no_run
//! # async fn example() {
//! use kube_fake::{FakeApiServer, Fault, ResourceKind};
//!
//! let server = FakeApiServer::builder()
//!     .resource(ResourceKind {
//!         group: "orchestrator.dev",
//!         version: "v1alpha1",
//!         kind: "Workspace",
//!         plural: "workspaces",
//!         namespaced: true,
//!         status_subresource: true,
//!     })
//!     .simulate_deployments(true)
//!     .start()
//!     .await;
//! // let config = kube::Config::new(server.url().parse().unwrap());
//! // let client = kube::Client::try_from(config).unwrap();
//! server.create_namespace("team-a").unwrap();
//! server.fail_next(Fault::new(500).method("PATCH").path_contains("/deployments/"));
//! // … drive the code under test, then:
//! assert!(server.requests().iter().any(|r| r.param("fieldManager") == Some("orchestrator")));
//! # }
//! ```
//!
//! Plain `http://` needs no TLS crypto provider in the client.
//!
//! # What is served
//!
//! Built in: core/v1 `namespaces` (cluster-scoped; `default` exists at start), `services`,
//! `persistentvolumeclaims`, `configmaps`, `secrets`, `events`; apps/v1 `deployments`;
//! events.k8s.io/v1 `events`; coordination.k8s.io/v1 `leases`; apiextensions.k8s.io/v1
//! `customresourcedefinitions`; plus every registered [`ResourceKind`] and every served version
//! of a CRD written through the API (its name must be `<plural>.<group>`, with one storage
//! version; it is `Established` at once, as when no other CRD claims its names; deleting it
//! does not stop serving its types). Namespaces get `status.phase: Active` and the
//! `kubernetes.io/metadata.name` label. Objects are kept as JSON, so any shape is accepted. Discovery answers
//! `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]` (not the aggregated
//! discovery format).
//!
//! Paths: `/api/v1/…` and `/apis/{group}/{version}/…`, then `namespaces/{ns}/{plural}[/{name}
//! [/status]]` for namespaced types, `{plural}[/{name}[/status]]` for cluster-scoped ones,
//! and `{plural}` for lists and watches across namespaces. Unknown paths are 404 `Status`es.
//!
//! # Semantics
//!
//! - **create** (POST, 201): uid, creationTimestamp, generation 1, resourceVersion from one
//!   global counter, namespace from the path, `generateName` (a deterministic five-character
//!   suffix), `?dryRun=All`. 409 AlreadyExists; 404 when the namespace is missing, 403 when
//!   it is terminating; 422 Invalid for a missing or malformed name (DNS-1123 subdomain;
//!   DNS-1123 label for namespaces; DNS-1035 label for services, as the API server checks)
//!   and for a body `kind` other than the path's; 400 for a body `apiVersion` other than the
//!   path's (the API server's answer); a set resourceVersion is a 500, as in the API server.
//! - **get**, **list** with `labelSelector` (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`,
//!   `>`/`<`), `fieldSelector` (`metadata.name`, `metadata.namespace`; others are 400),
//!   `limit` + `continue` (the continue token resumes after the last key; it reads the
//!   current state, not a snapshot at the first page's resourceVersion). Lists carry
//!   `kind: <Kind>List`, `apiVersion`, the current `metadata.resourceVersion`. A list's
//!   `resourceVersion`/`resourceVersionMatch` parameters are accepted and ignored.
//! - **watch** (`watch=true|1`): newline-delimited `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`/
//!   `ERROR` events after `resourceVersion` (none or `0`: every current object first, as
//!   ADDED), replayed from a bounded history ([`Builder::watch_history`]); an older
//!   resourceVersion gets an `ERROR` event with a 410 Expired `Status` (HTTP 200, then the
//!   stream ends) so kube-runtime's watcher relists. Selectors filter, and a change entering or
//!   leaving the selection is ADDED or DELETED. `allowWatchBookmarks=true` adds a BOOKMARK
//!   every [`Builder::bookmark_interval`]; `sendInitialEvents=true` ends the initial events
//!   with a bookmark annotated `k8s.io/initial-events-end`; the stream ends after
//!   `timeoutSeconds` (30 minutes without). A watcher that falls 4096 events behind is
//!   dropped, as the API server drops slow watchers.
//! - **server-side apply** (PATCH `application/apply-patch+yaml`, YAML or JSON): `fieldManager`
//!   required (422), `force=true`, creates when absent (201). managedFields (FieldsV1) per
//!   manager, operation and subresource; conflicts with other managers' fields that the apply
//!   would change are 409 with the API server's message (`Apply failed with 1 conflict:
//!   conflict with "other": .spec.replicas`) and `FieldManagerConflict` causes; `force` takes
//!   the fields over. Fields the manager applied before and omits now are removed unless
//!   another manager owns them (maps and lists emptied by that removal go too). Non-apply
//!   writes record `Update` entries and take the fields they change. Lists are atomic except
//!   the built-in types' associative lists (containers, init containers, their ports keyed by
//!   `containerPort`+`protocol`, env, volume mounts, volumes, image pull secrets, service ports
//!   keyed by `port`+`protocol`, `status.conditions` keyed by `type`), `metadata.ownerReferences`
//!   (by `uid`) and the set `metadata.finalizers`; custom resources' lists are atomic since the
//!   fake has no CRD schema. `null`s in an applied configuration are dropped.
//! - **patch**: `application/merge-patch+json` (RFC 7386), `application/strategic-merge-patch+json`
//!   (built-in types only, applied as a merge patch: no `$patch` directives or list merging by
//!   key), `application/json-patch+json` (RFC 6902: add, remove, replace, test, move, copy; a
//!   `test` of a missing path against `null` passes; a failing operation is the API server's
//!   bare 422 Invalid "the server rejected our request due to an error in our request").
//!   Other content types are 415.
//! - **update** (PUT): a stale `metadata.resourceVersion` is 409 Conflict ("the object has been
//!   modified; …"); without one the update is unconditional. A resourceVersion in a patch or
//!   applied configuration is checked the same way. PUT of an absent object is 404 (services
//!   and events: created).
//! - **no-ops**: a write that changes nothing (managedFields timestamps aside) keeps the
//!   resourceVersion and sends no event.
//! - **status subresource**: for types with one, writes to the main resource keep `.status`
//!   and writes to `/status` (GET, PUT, PATCH including apply) change only `.status`. For every
//!   type, `metadata.generation` grows when anything but metadata (and status, where it is a
//!   subresource) changes.
//! - **delete** (200): types whose REST storage answers with a `Status` (built-ins) do so,
//!   custom resources and namespaces answer with the object. With finalizers the object gets
//!   `deletionTimestamp` (MODIFIED) and stays until an update empties them (then DELETED; adding
//!   finalizers meanwhile is 422). Preconditions (uid, resourceVersion) are 409s.
//!   `propagationPolicy` (query or body): `Background` (the default) and `Foreground` delete
//!   dependents at once, `Orphan` removes their owner reference instead. Garbage collection is
//!   immediate: when an object goes, dependents (owner references with its uid) with no other
//!   live owner are deleted (honouring their finalizers) and the others lose the dangling
//!   reference; an object written with owner references none of which exists is collected
//!   right after the write (which still answers with it), as the garbage collector would soon
//!   after. Deleting a namespace marks it `Terminating`, deletes everything in it and removes
//!   it once empty; creating in it meanwhile is 403. `deletecollection` is supported.
//! - **services**: defaults (`type: ClusterIP`, port `protocol: TCP`, `targetPort` = `port`),
//!   a cluster IP from 10.96.0.0/12, and for `NodePort`/`LoadBalancer` node ports from
//!   30000–32767 (lowest free); a requested port that is taken or out of range is 422 with the
//!   API server's message; an update that leaves out the cluster IP or node ports keeps them;
//!   a change to `ClusterIP` type drops node ports; ports are free again when the service goes.
//! - **deployments**: defaults (`replicas: 1`, strategy, revision history, progress deadline,
//!   container port protocol). With [`Builder::simulate_deployments`], a background task
//!   watching the store writes through `/status` (manager `kube-controller-manager`, one
//!   MODIFIED event) what kube-controller-manager would: observedGeneration, replicas,
//!   updated/ready/available replicas and `Available=True`, or while a test holds it back
//!   ([`FakeApiServer::set_deployment_available`], [`Builder::deployments_available`]),
//!   `unavailableReplicas` and `Available=False`.
//! - **errors** are `Status` objects with the API server's `reason`, `code`, message and
//!   details; client input never panics the server.
//!
//! # Not implemented
//!
//! Authentication and authorization; admission (webhooks, quotas, limit ranges); serving
//! CustomResourceDefinition objects (register a [`ResourceKind`] instead) and validating,
//! defaulting or pruning custom resources against a schema; `fieldValidation` (ignored);
//! label, annotation and finalizer syntax checks; defaulting beyond what is listed above;
//! reads at an old resourceVersion (`resourceVersionMatch=Exact`), list snapshots; table and
//! protobuf formats; aggregated discovery; `/scale` and subresources other than `/status`;
//! graceful deletion periods (`gracePeriodSeconds` is ignored); the `orphan` and
//! `foregroundDeletion` finalizers (orphaning happens without showing one, foreground
//! deletion behaves as background); strategic merge patch directives; `Retry-After` headers;
//! pods, ReplicaSets, endpoints and load balancers.
//!
//! # What kube's client does that tests meet
//!
//! - kube 5 retries 429, 503 and 504 answers by itself (up to 15 times, from 5 ms); a
//!   [`Fault`] with one of those codes is only seen by the code under test when it outlasts
//!   the retries. 500 and 409 reach it at once.
//! - kube sends no `User-Agent`, so a non-apply write without a field manager is owned by the
//!   manager `""`; a later apply of other values conflicts with `"" using <apiVersion>`.
//! - kube-runtime's `watcher` (default config) lists with `limit=500` and no
//!   resourceVersion, then watches with `resourceVersion=<list's>`, `allowWatchBookmarks=true`,
//!   `timeoutSeconds=290`; on a 410 it lists again. Its finalizer helper sends JSON patches
//!   (`test` + `add` of `/metadata/finalizers`, `test` + `remove` of one entry).

mod apply;
mod crds;
mod deployments;
mod error;
mod kinds;
mod patch;
mod router;
mod selectors;
mod services;
mod store;
mod validation;
mod watch;

pub use error::{Cause, Error, GroupKind, GroupResource};
pub use kinds::ResourceKind;

use kinds::{DEPLOYMENTS, Kinds, NAMESPACES};
use router::{Shared, lock};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{EventType, Store, WriteOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Configures a [`FakeApiServer`] before it starts.
#[derive(Debug, Clone)]
pub struct Builder {
    kinds: Vec<ResourceKind>,
    namespaces: Vec<String>,
    simulate_deployments: bool,
    deployments_available: bool,
    watch_history: usize,
    bookmark_interval: Duration,
    listen: SocketAddr,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kinds: Vec::new(),
            namespaces: vec!["default".into()],
            simulate_deployments: false,
            deployments_available: true,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(5),
        }
    }
}

impl Builder {
    /// Serves a custom resource type (or replaces a built-in of the same group, version and
    /// plural).
    #[must_use]
    pub fn resource(mut self, kind: ResourceKind) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Creates a namespace at start (besides `default`).
    #[must_use]
    pub fn namespace(mut self, name: &str) -> Self {
        self.namespaces.push(name.into());
        self
    }

    /// Reports Deployments' status as kube-controller-manager would once their pods run.
    #[must_use]
    pub fn simulate_deployments(mut self, simulate: bool) -> Self {
        self.simulate_deployments = simulate;
        self
    }

    /// Whether simulated Deployments become available (default) or stay unavailable until
    /// [`FakeApiServer::set_deployment_available`] says otherwise.
    #[must_use]
    pub fn deployments_available(mut self, available: bool) -> Self {
        self.deployments_available = available;
        self
    }

    /// How many changes (of all types) watches can resume from; older resourceVersions get
    /// 410 Expired. Default 10 000.
    #[must_use]
    pub fn watch_history(mut self, changes: usize) -> Self {
        self.watch_history = changes;
        self
    }

    /// How often watches that allow bookmarks get one. Default 5 s.
    #[must_use]
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Where to listen; default 127.0.0.1 on a free port.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Binds the listening address (127.0.0.1 on a free port unless [`Builder::listen`]
    /// says otherwise) and serves on a tokio task.
    ///
    /// # Panics
    /// When no local port can be bound; [`Builder::try_start`] returns that error instead.
    pub async fn start(self) -> FakeApiServer {
        self.try_start().await.expect("kube-fake binds a port on 127.0.0.1")
    }

    /// Like [`Builder::start`], returning a bind failure.
    pub async fn try_start(self) -> std::io::Result<FakeApiServer> {
        let mut store = Store::new(Kinds::new(&self.kinds), self.watch_history);
        store.simulate_deployments = self.simulate_deployments;
        store.deployments_available = self.deployments_available;
        let (closer, _) = tokio::sync::watch::channel(watch::Closing::default());
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            closer,
            bookmark_interval: self.bookmark_interval,
        });
        for namespace in &self.namespaces {
            if let Err(err) = create_direct(&shared, namespace_object(namespace)) {
                tracing::warn!(%err, namespace, "kube-fake could not create a start-up namespace");
            }
        }
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        let mut tasks = Vec::new();
        if self.simulate_deployments {
            let events = lock(&shared.store).subscribe();
            tasks.push(tokio::spawn(simulate(shared.clone(), events)));
        }
        let app = router::router(shared.clone());
        let (shutdown, mut stopping) = tokio::sync::watch::channel(false);
        // Graceful, so kept-alive client connections close with the server instead of
        // serving on after it was dropped.
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        });
        tokio::spawn(async move {
            if let Err(err) = serve.await {
                tracing::error!(%err, "kube-fake stopped serving");
            }
        });
        Ok(FakeApiServer { shared, addr, tasks, shutdown })
    }
}

fn namespace_object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// Creates an object from test code, through the same path as a POST (field manager `kube-fake`).
fn create_direct(shared: &Shared, object: Value) -> Result<Value, Error> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind_name = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let mut store = lock(&shared.store);
    let kind = store.kinds.by_type(api_version, kind_name).copied().ok_or(Error::UnknownPath)?;
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
    let opts = WriteOptions { manager: Some("kube-fake".into()), ..WriteOptions::default() };
    store.create(&kind, namespace.as_deref(), object, &opts)
}

/// The kube-controller-manager stand-in: settles each Deployment that changes.
async fn simulate(shared: Arc<Shared>, mut events: broadcast::Receiver<Arc<store::Change>>) {
    loop {
        match events.recv().await {
            Ok(change) if change.res == DEPLOYMENTS && change.kind != EventType::Deleted => {
                let name = change.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                lock(&shared.store).settle_deployment(&change.namespace, name);
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let mut store = lock(&shared.store);
                for (namespace, name) in store.deployment_keys() {
                    store.settle_deployment(&namespace, &name);
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// A failure to inject: the next matching requests get this `Status` instead of an answer.
///
/// ```
/// let fault = kube_fake::Fault::new(503).method("PATCH").path_contains("/deployments/").times(2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    code: u16,
    reason: String,
    message: String,
    method: Option<String>,
    path_contains: Option<String>,
    times: usize,
}

impl Fault {
    /// Any next request fails once with this HTTP status (and the API server's reason for it:
    /// 409 `Conflict`, 500 `InternalError`, 503 `ServiceUnavailable`, 429 `TooManyRequests`, …).
    ///
    /// kube's client retries 429, 503 and 504 on its own: inject more of them than it retries,
    /// or use 500, to make a failure reach the code under test.
    pub fn new(code: u16) -> Self {
        Fault {
            code,
            reason: error::reason_for_code(code).into(),
            message: format!("injected failure ({code})"),
            method: None,
            path_contains: None,
            times: 1,
        }
    }

    /// Only requests with this method (`GET`, `PATCH`, …).
    #[must_use]
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path contains this.
    #[must_use]
    pub fn path_contains(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    /// Fails this many matching requests (default 1).
    #[must_use]
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    #[must_use]
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = reason.into();
        self
    }

    #[must_use]
    pub fn message(mut self, message: &str) -> Self {
        self.message = message.into();
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.path_contains.as_deref().is_none_or(|p| path.contains(p))
    }
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The HTTP status answered (200 for a watch, whatever its events).
    pub status: u16,
}

impl RequestRecord {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether this was a watch request.
    pub fn is_watch(&self) -> bool {
        matches!(self.param("watch"), Some("true" | "1"))
    }
}

/// A running fake API server. Dropping it stops serving and ends open watches.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// The simulator, if any.
    tasks: Vec<JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.close_watches();
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeApiServer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:PORT`, for `kube::Config::new`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn kind(&self, api_version: &str, kind: &str) -> Result<kinds::Kind, Error> {
        lock(&self.shared.store).kinds.by_type(api_version, kind).copied().ok_or(Error::UnknownPath)
    }

    /// Creates a namespace, as a client would (field manager `kube-fake`).
    pub fn create_namespace(&self, name: &str) -> Result<Value, Error> {
        create_direct(&self.shared, namespace_object(name))
    }

    /// Creates any served object from its `apiVersion`, `kind` and `metadata.namespace`,
    /// through the same path as a POST (events, validation, allocation).
    pub fn create(&self, object: Value) -> Result<Value, Error> {
        create_direct(&self.shared, object)
    }

    /// The stored object, if any.
    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let kind = self.kind(api_version, kind).ok()?;
        lock(&self.shared.store).get(&kind, namespace, name).ok()
    }

    /// Every stored object of a type (in one namespace, or all), by namespace then name.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Ok(kind) = self.kind(api_version, kind) else { return Vec::new() };
        let store = lock(&self.shared.store);
        store.objects_of(kind.info.id(), namespace).map(|(_, o)| (**o).clone()).collect()
    }

    /// Deletes an object as a DELETE would (finalizers, garbage collection).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Result<Value, Error> {
        let kind = self.kind(api_version, kind)?;
        lock(&self.shared.store).delete(&kind, namespace, name, &store::DeleteOptions::default())
    }

    /// Whether the simulated Deployment `namespace/name` is available; its status is settled
    /// again at once (a MODIFIED event when it changes). Takes effect for a Deployment created
    /// later too.
    pub fn set_deployment_available(&self, namespace: &str, name: &str, available: bool) {
        lock(&self.shared.store).set_availability(namespace, name, available);
    }

    /// Makes the next matching requests fail (see [`Fault`]). Faults are matched in the
    /// order they were added.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Injected faults not used up yet.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).iter().map(|f| f.times).sum()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).resource_version()
    }

    /// Forgets the watch history (an etcd compaction): a watch that resumes from an older
    /// resourceVersion gets 410 Expired and must relist.
    pub fn compact_history(&self) {
        lock(&self.shared.store).compact();
    }

    /// Ends every open watch stream, as an API server restart or timeout would; clients
    /// resume from their last resourceVersion.
    pub fn close_watches(&self) {
        self.shared.closer.send_modify(|closing| *closing = watch::Closing { epoch: closing.epoch + 1, expire: false });
    }

    /// Compacts the history and sends every open watch an `ERROR` event with 410 Expired
    /// before ending it, as the API server does when a watcher's history is gone: clients
    /// such as kube-runtime's watcher must list again.
    pub fn expire_watches(&self) {
        self.compact_history();
        self.shared.closer.send_modify(|closing| *closing = watch::Closing { epoch: closing.epoch + 1, expire: true });
    }

    /// Namespaces that exist, by name.
    pub fn namespaces(&self) -> Vec<String> {
        let store = lock(&self.shared.store);
        store.objects_of(NAMESPACES, None).map(|(k, _)| k.name.clone()).collect()
    }
}
