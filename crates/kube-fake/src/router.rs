//! The HTTP front: parses API paths, verbs, query parameters and content types, records each
//! request, applies injected faults, and turns store results into responses.

use crate::error::Error;
use crate::kinds::{Kind, Kinds};
use crate::selectors::{FieldSelector, LabelSelector, Selectors};
use crate::store::{DeleteOptions, PatchType, Store, WriteOptions};
use crate::watch::{self, WatchRequest};
use crate::{Fault, RequestRecord};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// State shared by the HTTP handler, the simulator and the test-facing handle.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub faults: Mutex<Vec<Fault>>,
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Bumped to end every open watch stream.
    pub closer: tokio::sync::watch::Sender<watch::Closing>,
    pub bookmark_interval: Duration,
}

/// Locks a mutex; a panic elsewhere while it was held leaves data a test may still read.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A watch stream that ends after this long unless `timeoutSeconds` says otherwise (the API
/// server picks 30–60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_type = header(header::CONTENT_TYPE);
    let query: Vec<(String, String)> =
        Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let fault = take_fault(&shared, &method, uri.path());
    let response = match fault {
        Some(error) => error_response(&error),
        None => {
            let request = Request {
                method: &method,
                path: uri.path(),
                query: query.iter().cloned().collect(),
                content_type: content_type.as_deref(),
                user_agent: header(header::USER_AGENT).unwrap_or_default(),
                body: &body,
            };
            dispatch(&shared, &request).unwrap_or_else(|e| error_response(&e))
        }
    };
    tracing::debug!(%method, path = uri.path(), status = response.status().as_u16(), "kube-fake request");
    lock(&shared.requests).push(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_string(),
        query,
        content_type,
        status: response.status().as_u16(),
    });
    response
}

fn take_fault(shared: &Shared, method: &Method, path: &str) -> Option<Error> {
    let mut faults = lock(&shared.faults);
    let index = faults.iter().position(|f| f.matches(method.as_str(), path))?;
    let fault = &mut faults[index];
    fault.times -= 1;
    let error = Error::Injected { code: fault.code, reason: fault.reason.clone(), message: fault.message.clone() };
    if fault.times == 0 {
        faults.remove(index);
    }
    Some(error)
}

struct Request<'a> {
    method: &'a Method,
    path: &'a str,
    query: HashMap<String, String>,
    content_type: Option<&'a str>,
    user_agent: String,
    body: &'a Bytes,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    fn dry_run(&self) -> Result<bool, Error> {
        match self.param("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => {
                Err(Error::bad_request(format!("dryRun: Unsupported value: {other:?}: supported values: \"All\"")))
            }
        }
    }

    fn write_options(&self) -> Result<WriteOptions, Error> {
        Ok(WriteOptions {
            manager: self.param("fieldManager").map(str::to_string),
            user_agent: self.user_agent.clone(),
            dry_run: self.dry_run()?,
            force: self.flag("force"),
        })
    }

    fn selectors(&self) -> Result<Selectors, Error> {
        Ok(Selectors {
            labels: LabelSelector::parse(self.param("labelSelector").unwrap_or_default())?,
            fields: FieldSelector::parse(self.param("fieldSelector").unwrap_or_default())?,
        })
    }

    fn media_type(&self) -> Option<String> {
        self.content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    }

    /// A POST or PUT body: JSON, or YAML with `application/yaml`.
    fn object_body(&self) -> Result<Value, Error> {
        match self.media_type().as_deref() {
            None | Some("application/json") => decode_json(self.body),
            Some("application/yaml") => decode_yaml(self.body),
            Some(other) => {
                Err(Error::UnsupportedMediaType(format!("application/json, application/yaml (not {other})")))
            }
        }
    }
}

fn decode_json(body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("error decoding JSON: {e}")))
}

fn decode_yaml(body: &[u8]) -> Result<Value, Error> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    let text = std::str::from_utf8(body).map_err(|_| Error::bad_request("error decoding YAML: not UTF-8"))?;
    serde_saphyr::from_str::<Value>(text).map_err(|e| Error::bad_request(format!("error decoding YAML: {e}")))
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn error_response(error: &Error) -> Response {
    let code = StatusCode::from_u16(error.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &error.to_status())
}

/// What a path names under a group version.
struct Target {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

fn target(kinds: &Kinds, group: &str, version: &str, rest: &[&str]) -> Result<Target, Error> {
    let namespaced_kind = |plural: &str| kinds.by_path(group, version, plural).filter(|k| k.info.namespaced).copied();
    let (kind, namespace, tail) = match rest {
        ["namespaces", namespace, plural, tail @ ..] if namespaced_kind(plural).is_some() => {
            (namespaced_kind(plural).ok_or(Error::UnknownPath)?, Some((*namespace).to_string()), tail)
        }
        [plural, tail @ ..] => (kinds.by_path(group, version, plural).copied().ok_or(Error::UnknownPath)?, None, tail),
        [] => return Err(Error::UnknownPath),
    };
    let status = match tail {
        [] | [_] => false,
        [_, "status"] if kind.info.status_subresource => true,
        _ => return Err(Error::UnknownPath),
    };
    let name = tail.first().map(|n| (*n).to_string());
    // Items of namespaced types exist only under their namespace.
    if kind.info.namespaced && namespace.is_none() && name.is_some() {
        return Err(Error::UnknownPath);
    }
    Ok(Target { kind, namespace, name, status })
}

fn dispatch(shared: &Shared, request: &Request<'_>) -> Result<Response, Error> {
    let segments: Vec<String> = request.path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let kinds = lock(&shared.store).kinds.clone();
    let get_only = |value: Value| {
        if request.method == Method::GET {
            Ok(json_response(StatusCode::OK, &value))
        } else {
            Err(Error::MethodNotAllowed)
        }
    };
    match segments.as_slice() {
        ["version"] => get_only(version()),
        ["api"] => get_only(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})),
        ["apis"] => get_only(group_list(&kinds)),
        ["api", "v1"] => get_only(resource_list(&kinds, "", "v1")),
        ["apis", group] if !kinds.versions_of(group).is_empty() => get_only(api_group(&kinds, group)),
        ["apis", group, version] if kinds.versions_of(group).contains(version) => {
            get_only(resource_list(&kinds, group, version))
        }
        ["api", "v1", rest @ ..] => resource(shared, request, &target(&kinds, "", "v1", rest)?),
        ["apis", group, version, rest @ ..] => resource(shared, request, &target(&kinds, group, version, rest)?),
        _ => Err(Error::UnknownPath),
    }
}

fn resource(shared: &Shared, request: &Request<'_>, target: &Target) -> Result<Response, Error> {
    let kind = &target.kind;
    let namespace = target.namespace.as_deref();
    let method = request.method;
    let Some(name) = target.name.as_deref() else {
        return match *method {
            Method::GET if request.flag("watch") => watch(shared, request, target),
            Method::GET => {
                let limit = match request.param("limit") {
                    Some(l) => {
                        Some(l.parse::<usize>().map_err(|_| Error::bad_request(format!("invalid limit {l:?}")))?)
                    }
                    None => None,
                };
                let list = lock(&shared.store).list(
                    kind,
                    namespace,
                    &request.selectors()?,
                    limit,
                    request.param("continue"),
                )?;
                Ok(json_response(StatusCode::OK, &list))
            }
            Method::POST if namespace.is_some() || !kind.info.namespaced => {
                let created =
                    lock(&shared.store).create(kind, namespace, request.object_body()?, &request.write_options()?)?;
                Ok(json_response(StatusCode::CREATED, &created))
            }
            Method::DELETE => {
                let options = delete_options(request)?;
                let list = lock(&shared.store).delete_collection(kind, namespace, &request.selectors()?, &options)?;
                Ok(json_response(StatusCode::OK, &list))
            }
            _ => Err(Error::MethodNotAllowed),
        };
    };
    match *method {
        Method::GET => Ok(json_response(StatusCode::OK, &lock(&shared.store).get(kind, namespace, name)?)),
        Method::PUT => {
            let written = lock(&shared.store).replace(
                kind,
                namespace,
                name,
                request.object_body()?,
                target.status,
                &request.write_options()?,
            )?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(json_response(code, &written.object))
        }
        Method::PATCH => {
            let patch_type = match request.media_type().as_deref() {
                Some("application/apply-patch+yaml") => PatchType::Apply,
                Some("application/merge-patch+json") => PatchType::Merge,
                Some("application/json-patch+json") => PatchType::Json,
                Some("application/strategic-merge-patch+json") if kind.builtin => PatchType::Strategic,
                _ => {
                    let strategic = if kind.builtin { "application/strategic-merge-patch+json, " } else { "" };
                    return Err(Error::UnsupportedMediaType(format!(
                        "application/json-patch+json, application/merge-patch+json, {strategic}application/apply-patch+yaml"
                    )));
                }
            };
            let body =
                if patch_type == PatchType::Apply { decode_yaml(request.body)? } else { decode_json(request.body)? };
            let options = request.write_options()?;
            let written =
                lock(&shared.store).patch(kind, namespace, name, patch_type, &body, target.status, &options)?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(json_response(code, &written.object))
        }
        Method::DELETE if !target.status => {
            let options = delete_options(request)?;
            Ok(json_response(StatusCode::OK, &lock(&shared.store).delete(kind, namespace, name, &options)?))
        }
        _ => Err(Error::MethodNotAllowed),
    }
}

/// `DeleteOptions` from the body (kube sends them there) and the query.
fn delete_options(request: &Request<'_>) -> Result<DeleteOptions, Error> {
    let body = if request.body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { decode_json(request.body)? };
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let policy = request.param("propagationPolicy").map(str::to_string).or_else(|| text("/propagationPolicy"));
    let orphan = match policy.as_deref() {
        None => request.flag("orphanDependents") || body.get("orphanDependents") == Some(&Value::Bool(true)),
        Some("Orphan") => true,
        Some("Background" | "Foreground") => false,
        Some(other) => {
            return Err(Error::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = request.dry_run()?
        || body.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        dry_run,
        orphan,
        precondition_uid: text("/preconditions/uid"),
        precondition_rv: text("/preconditions/resourceVersion"),
    })
}

fn watch(shared: &Shared, request: &Request<'_>, target: &Target) -> Result<Response, Error> {
    let selectors = request.selectors()?;
    let initial_events = request.flag("sendInitialEvents");
    let rv = match request.param("resourceVersion").filter(|rv| !rv.is_empty()) {
        None => None,
        Some(rv) => {
            Some(rv.parse::<u64>().map_err(|_| Error::bad_request(format!("invalid resource version: {rv:?}")))?)
        }
    };
    let timeout = match request.param("timeoutSeconds") {
        Some(t) => {
            Duration::from_secs(t.parse().map_err(|_| Error::bad_request(format!("invalid timeoutSeconds {t:?}")))?)
        }
        None => DEFAULT_WATCH_TIMEOUT,
    };
    let start = lock(&shared.store).watch(target.kind.info.id(), if initial_events { None } else { rv });
    let watch_request = WatchRequest {
        kind: target.kind.info,
        namespace: target.namespace.clone(),
        selectors,
        bookmarks: request.flag("allowWatchBookmarks"),
        bookmark_interval: shared.bookmark_interval,
        initial_events_end: initial_events,
        timeout,
    };
    let body = Body::from_stream(watch::stream(watch_request, start, shared.closer.subscribe()));
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-fake", "gitCommit": "kube-fake",
        "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

fn api_group(kinds: &Kinds, group: &str) -> Value {
    let versions: Vec<Value> = kinds
        .versions_of(group)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": preferred})
}

fn group_list(kinds: &Kinds) -> Value {
    let groups: Vec<Value> = kinds
        .groups()
        .into_iter()
        .map(|g| {
            let mut group = api_group(kinds, g);
            if let Some(object) = group.as_object_mut() {
                object.remove("kind");
                object.remove("apiVersion");
            }
            group
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(kinds: &Kinds, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for kind in kinds.all().iter().filter(|k| k.info.group == group && k.info.version == version) {
        let info = &kind.info;
        resources.push(json!({
            "name": info.plural, "singularName": info.kind.to_ascii_lowercase(), "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }));
        if info.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", info.plural), "singularName": "", "namespaced": info.namespaced,
                "kind": info.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}
