//! Deletion and what controllers do after writes: finalizers, namespace termination, owner
//! reference garbage collection, and the simulated Deployment controller.

use super::{
    CONTROLLER_MANAGER, DeleteOptions, EventType, Managed, ObjectKey, Store, WriteOptions, finalizers, meta,
    metadata_mut, now, owner_uids, set_field,
};
use crate::apply::Scope;
use crate::deployments;
use crate::error::Error;
use crate::kinds::{DEPLOYMENTS, Kind, NAMESPACES};
use crate::selectors::Selectors;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

impl Store {
    /// DELETE: removes the object, or marks it deleted while finalizers remain. Answers with
    /// the object, or a `Status` for types whose REST storage does so.
    pub fn delete(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, Error> {
        let key = Self::key(kind, namespace, name);
        let Some(object) = self.objects.get(&key).cloned() else { return Err(Self::not_found(kind, name)) };
        let uid = meta(&object, "uid").unwrap_or_default();
        let precondition = |what: &str, expected: &Option<String>, actual: String| match expected {
            Some(expected) if *expected != actual => Err(Error::Conflict {
                resource: kind.info.group_resource(),
                name: name.to_string(),
                detail: format!(
                    "Precondition failed: {what} in precondition: {expected}, {what} in object meta: {actual}"
                ),
            }),
            _ => Ok(()),
        };
        precondition("UID", &opts.precondition_uid, uid.clone())?;
        precondition("ResourceVersion", &opts.precondition_rv, meta(&object, "resourceVersion").unwrap_or_default())?;
        if opts.dry_run {
            return Ok((*object).clone());
        }
        if opts.orphan {
            self.orphaning.insert(uid.clone());
        }
        let result = self.delete_key(&key);
        // An object kept by finalizers is answered with; so are removed ones of some types.
        let pending = self.objects.get(&key).is_some_and(|o| meta(o, "uid").as_deref() == Some(uid.as_str()));
        match result {
            Some(object) if pending || kind.delete_returns_object => Ok((*object).clone()),
            _ => {
                let mut details = json!({ "name": name, "kind": kind.info.plural, "uid": uid });
                if !kind.info.group.is_empty() {
                    details["group"] = kind.info.group.into();
                }
                let mut status = json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" });
                status["details"] = details;
                Ok(status)
            }
        }
    }

    /// DELETE of a collection: deletes every selected object; answers with the list of them.
    pub fn delete_collection(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        selectors: &Selectors,
        opts: &DeleteOptions,
    ) -> Result<Value, Error> {
        let keys: Vec<ObjectKey> = self
            .objects_of(kind.info.id(), namespace)
            .filter(|(_, o)| selectors.matches(o))
            .map(|(k, _)| k.clone())
            .collect();
        let mut items = Vec::new();
        for key in keys {
            let ns = kind.info.namespaced.then_some(key.namespace.as_str());
            let deleted = self.delete(kind, ns, &key.name, opts)?;
            if deleted.get("kind").and_then(Value::as_str) != Some("Status") {
                items.push(deleted);
            } else if let Some(o) = self.objects.get(&key) {
                items.push((**o).clone());
            }
        }
        Ok(json!({
            "kind": format!("{}List", kind.info.kind),
            "apiVersion": kind.info.api_version(),
            "metadata": { "resourceVersion": self.rv.to_string() },
            "items": items,
        }))
    }

    /// Deletes by key: the object with its finalizers honoured (a namespace with its content).
    /// Returns the object as it was last seen.
    fn delete_key(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let object = self.objects.get(key).cloned()?;
        let pending = key.res == NAMESPACES || !finalizers(&object).is_empty();
        if !pending {
            return self.remove(key);
        }
        let mut current = object.clone();
        if meta(&object, "deletionTimestamp").is_none() {
            let mut marked = (*object).clone();
            let metadata = metadata_mut(&mut marked);
            metadata.insert("deletionTimestamp".into(), now().into());
            metadata.insert("deletionGracePeriodSeconds".into(), 0.into());
            if key.res == NAMESPACES {
                set_field(&mut marked, "status", json!({"phase": "Terminating"}));
            }
            self.next_rv(&mut marked);
            current = Arc::new(marked);
            self.objects.insert(key.clone(), current.clone());
            self.emit(EventType::Modified, key, current.clone(), Some(object));
        }
        if key.res == NAMESPACES {
            let content: Vec<ObjectKey> = self
                .objects
                .keys()
                .filter(|k| k.namespace == key.name && self.kinds.by_id(k.res).is_some_and(|kind| kind.info.namespaced))
                .cloned()
                .collect();
            for child in content {
                self.delete_key(&child);
            }
            self.finish_namespace(&key.name);
        }
        Some(current)
    }

    /// Removes a namespace being terminated once nothing is left in it.
    fn finish_namespace(&mut self, namespace: &str) {
        let key = ObjectKey { res: NAMESPACES, namespace: String::new(), name: namespace.to_string() };
        let Some(ns) = self.objects.get(&key) else { return };
        if meta(ns, "deletionTimestamp").is_none() || !finalizers(ns).is_empty() {
            return;
        }
        let empty = !self.objects.keys().any(|k| k.namespace == namespace && k.res != NAMESPACES);
        if empty {
            self.remove(&key);
        }
    }

    /// Takes an object out of the store (DELETED event), then collects its dependents and
    /// finishes its namespace's termination.
    pub(super) fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let previous = self.objects.remove(key)?;
        let mut last = (*previous).clone();
        self.next_rv(&mut last);
        let last = Arc::new(last);
        self.emit(EventType::Deleted, key, last.clone(), Some(previous));
        self.collect_dependents(&last);
        if !key.namespace.is_empty() {
            self.finish_namespace(&key.namespace);
        }
        Some(last)
    }

    /// Garbage collection of an owner that went: dependents whose owners are all gone are
    /// deleted; those with another live owner, or orphaned, lose the dangling reference.
    fn collect_dependents(&mut self, owner: &Value) {
        let Some(uid) = meta(owner, "uid") else { return };
        let orphan = self.orphaning.remove(&uid);
        let live_uids: HashSet<String> = self.objects.values().filter_map(|o| meta(o, "uid")).collect();
        let dependents: Vec<(ObjectKey, Arc<Value>)> = self
            .objects
            .iter()
            .filter(|(_, o)| owner_uids(o).contains(&uid))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        for (key, dependent) in dependents {
            let other_owner = owner_uids(&dependent).iter().any(|u| *u != uid && live_uids.contains(u));
            if orphan || other_owner {
                let mut updated = (*dependent).clone();
                if let Some(refs) = updated.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                }
                let Ok(kind) = self.kind(key.res) else { continue };
                let opts = WriteOptions { manager: Some(CONTROLLER_MANAGER.into()), ..WriteOptions::default() };
                let scope = Self::main_scope(&kind);
                if let Err(err) = self.write_existing(
                    &kind,
                    &key,
                    &dependent,
                    updated,
                    scope,
                    &opts,
                    Managed::Update(CONTROLLER_MANAGER.into()),
                ) {
                    tracing::warn!(%err, name = %key.name, "garbage collector could not drop an owner reference");
                }
            } else {
                self.delete_key(&key);
            }
        }
    }

    /// Whether a Deployment is reported available; `set_availability` changes it.
    fn available(&self, namespace: &str, name: &str) -> bool {
        self.availability.get(&(namespace.to_string(), name.to_string())).copied().unwrap_or(self.deployments_available)
    }

    pub fn set_availability(&mut self, namespace: &str, name: &str, available: bool) {
        self.availability.insert((namespace.to_string(), name.to_string()), available);
        self.settle_deployment(namespace, name);
    }

    /// Writes the status a Deployment settles at through `/status`, if it differs.
    pub fn settle_deployment(&mut self, namespace: &str, name: &str) {
        if !self.simulate_deployments {
            return;
        }
        let key = ObjectKey { res: DEPLOYMENTS, namespace: namespace.into(), name: name.into() };
        let Some(old) = self.objects.get(&key).cloned() else { return };
        if meta(&old, "deletionTimestamp").is_some() {
            return;
        }
        let status = deployments::settled_status(&old, self.available(namespace, name), &now());
        if old.get("status") == Some(&status) {
            return;
        }
        let Ok(kind) = self.kind(DEPLOYMENTS) else { return };
        let opts = WriteOptions { manager: Some(CONTROLLER_MANAGER.into()), ..WriteOptions::default() };
        let candidate = json!({ "status": status });
        if let Err(err) = self.write_existing(
            &kind,
            &key,
            &old,
            candidate,
            Scope::Status,
            &opts,
            Managed::Update(CONTROLLER_MANAGER.into()),
        ) {
            tracing::warn!(%err, name, "simulated deployment status was not written");
        }
    }

    /// Every Deployment, for the simulator to settle after it missed events.
    pub fn deployment_keys(&self) -> Vec<(String, String)> {
        self.objects_of(DEPLOYMENTS, None).map(|(k, _)| (k.namespace.clone(), k.name.clone())).collect()
    }

    /// The garbage collector's look at a written object: one whose owners are all gone (a
    /// controller that re-created it after its owner went) is deleted too.
    pub(super) fn collect_if_ownerless(&mut self, key: &ObjectKey) {
        let Some(object) = self.objects.get(key).cloned() else { return };
        let owners = owner_uids(&object);
        if owners.is_empty() || meta(&object, "deletionTimestamp").is_some() {
            return;
        }
        let owned = self.objects.values().any(|o| meta(o, "uid").is_some_and(|uid| owners.contains(&uid)));
        if !owned {
            self.delete_key(key);
        }
    }
}
