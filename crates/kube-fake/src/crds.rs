//! CustomResourceDefinitions: what the apiextensions API server checks and reports of one,
//! and the resource types it starts serving.

use crate::error::Cause;
use crate::kinds::ResourceKind;
use crate::store::now;
use serde_json::{Value, json};

/// The types a valid CRD serves, one per served version; or the causes that make it invalid,
/// in the API server's words.
pub(crate) fn served(name: &str, crd: &Value) -> Result<Vec<Served>, Vec<Cause>> {
    let text = |pointer: &str| crd.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    let mut causes = Vec::new();
    let group = text("/spec/group");
    let plural = text("/spec/names/plural");
    let kind = text("/spec/names/kind");
    if group.is_empty() {
        causes.push(Cause::required("spec.group", ""));
    } else if !group.contains('.') {
        causes.push(Cause::invalid("spec.group", &group.into(), "should be a domain with at least one dot"));
    }
    if plural.is_empty() {
        causes.push(Cause::required("spec.names.plural", ""));
    }
    if kind.is_empty() {
        causes.push(Cause::required("spec.names.kind", ""));
    }
    if name != format!("{plural}.{group}") {
        causes.push(Cause::invalid("metadata.name", &name.into(), "must be spec.names.plural+\".\"+spec.group"));
    }
    let namespaced = match text("/spec/scope") {
        "Namespaced" => true,
        "Cluster" => false,
        "" => {
            causes.push(Cause::required("spec.scope", ""));
            false
        }
        other => {
            causes.push(Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!("Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""),
                field: "spec.scope".into(),
            });
            false
        }
    };
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(Cause::invalid(
            "spec.versions",
            &Value::Array(Vec::new()),
            "must have exactly one version marked as storage version",
        ));
    } else if versions.iter().filter(|v| v.get("storage") == Some(&Value::Bool(true))).count() != 1 {
        causes.push(Cause::invalid(
            "spec.versions",
            &Value::Array(versions.clone()),
            "must have exactly one version marked as storage version",
        ));
    }
    if !causes.is_empty() {
        return Err(causes);
    }
    Ok(versions
        .iter()
        .filter(|v| v.get("served") == Some(&Value::Bool(true)))
        .map(|v| Served {
            group: group.to_owned(),
            version: v.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
            status_subresource: v.pointer("/subresources/status").is_some(),
        })
        .collect())
}

/// A resource type a CRD serves, before it is interned as a [`ResourceKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Served {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    pub status_subresource: bool,
}

impl Served {
    /// The type with its names kept for the life of the process: types are looked up with
    /// `'static` names, and a test server registers only a handful.
    pub fn intern(self) -> ResourceKind {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        ResourceKind {
            group: leak(self.group),
            version: leak(self.version),
            kind: leak(self.kind),
            plural: leak(self.plural),
            namespaced: self.namespaced,
            status_subresource: self.status_subresource,
        }
    }
}

/// The status the API server gives a CRD whose names it accepted: `NamesAccepted` and
/// `Established`, the accepted names with their defaults, the storage version.
pub(crate) fn accepted_status(crd: &Value) -> Value {
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let kind = names.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(names) = names.as_object_mut() {
        names.entry("singular").or_insert_with(|| kind.to_lowercase().into());
        names.entry("listKind").or_insert_with(|| format!("{kind}List").into());
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = now();
    json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": stored,
    })
}
