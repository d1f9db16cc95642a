//! The resource types the fake serves: the built-in ones and those a test registers.

use crate::error::{GroupKind, GroupResource};

/// A resource type the server serves, as a CRD (or the built-in API) declares it.
///
/// ```
/// let workspaces = kube_fake::ResourceKind {
///     group: "orchestrator.dev",
///     version: "v1alpha1",
///     kind: "Workspace",
///     plural: "workspaces",
///     namespaced: true,
///     status_subresource: true,
/// };
/// assert_eq!(workspaces.api_version(), "orchestrator.dev/v1alpha1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceKind {
    /// API group; empty for the core group (`/api/v1`).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural used in paths.
    pub plural: &'static str,
    pub namespaced: bool,
    /// Whether `/status` is a separate subresource: writes to the main resource then keep
    /// `.status` and writes to `/status` change only `.status`.
    pub status_subresource: bool,
}

impl ResourceKind {
    /// `v1` or `group/version`, as in an object's `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    pub(crate) fn group_resource(&self) -> GroupResource {
        GroupResource { group: self.group.into(), resource: self.plural.into() }
    }

    pub(crate) fn group_kind(&self) -> GroupKind {
        GroupKind { group: self.group.into(), kind: self.kind.into() }
    }

    pub(crate) fn id(&self) -> ResourceId {
        ResourceId { group: self.group, plural: self.plural }
    }
}

/// What identifies a resource type in the store: objects of one group and plural share a
/// keyspace whatever version they were written through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ResourceId {
    pub group: &'static str,
    pub plural: &'static str,
}

/// A served resource type with the behaviour the built-in types differ in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    pub info: ResourceKind,
    /// A DELETE that removes the object at once answers with the object (custom resources,
    /// namespaces) rather than a `Status` (most built-in types).
    pub delete_returns_object: bool,
    /// A PUT of an absent object creates it (services, events).
    pub create_on_update: bool,
    /// Built-in types carry the upstream list types (associative lists keyed by `name`, …);
    /// custom resources are treated as having atomic lists, since the fake has no CRD schema.
    pub builtin: bool,
}

pub(crate) const NAMESPACES: ResourceId = ResourceId { group: "", plural: "namespaces" };
pub(crate) const SERVICES: ResourceId = ResourceId { group: "", plural: "services" };
pub(crate) const DEPLOYMENTS: ResourceId = ResourceId { group: "apps", plural: "deployments" };
pub(crate) const CRDS: ResourceId = ResourceId { group: "apiextensions.k8s.io", plural: "customresourcedefinitions" };

const fn rk(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    status_subresource: bool,
) -> ResourceKind {
    let version = "v1";
    ResourceKind { group, version, kind, plural, namespaced, status_subresource }
}

const fn builtin(info: ResourceKind, create_on_update: bool, delete_returns_object: bool) -> Kind {
    Kind { info, delete_returns_object, create_on_update, builtin: true }
}

/// The built-in types: core/v1 namespaces, services, persistentvolumeclaims, configmaps,
/// secrets, events; apps/v1 deployments; events.k8s.io/v1 events; coordination.k8s.io/v1 leases;
/// apiextensions.k8s.io/v1 customresourcedefinitions.
pub(crate) fn builtins() -> Vec<Kind> {
    vec![
        builtin(rk("", "Namespace", "namespaces", false, true), false, true),
        builtin(rk("", "Service", "services", true, true), true, false),
        builtin(rk("", "PersistentVolumeClaim", "persistentvolumeclaims", true, true), false, false),
        builtin(rk("", "ConfigMap", "configmaps", true, false), false, false),
        builtin(rk("", "Secret", "secrets", true, false), false, false),
        builtin(rk("", "Event", "events", true, false), true, false),
        builtin(rk("apps", "Deployment", "deployments", true, true), false, false),
        builtin(rk("events.k8s.io", "Event", "events", true, false), true, false),
        builtin(rk("coordination.k8s.io", "Lease", "leases", true, false), false, false),
        builtin(
            rk("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false, true),
            false,
            true,
        ),
    ]
}

/// The served types, looked up by path or by `apiVersion` + `kind`.
#[derive(Debug, Clone)]
pub(crate) struct Kinds {
    kinds: Vec<Kind>,
}

impl Kinds {
    pub fn new(custom: &[ResourceKind]) -> Self {
        let mut kinds = Kinds { kinds: builtins() };
        for info in custom {
            // A registration replaces a built-in of the same group, version and plural.
            kinds.kinds.retain(|k| {
                !(k.info.group == info.group && k.info.version == info.version && k.info.plural == info.plural)
            });
            kinds.push_custom(*info);
        }
        kinds
    }

    fn push_custom(&mut self, info: ResourceKind) {
        self.kinds.push(Kind { info, delete_returns_object: true, create_on_update: false, builtin: false });
    }

    /// Serves the types a CustomResourceDefinition defines, unless a type of the same group,
    /// version and plural is served already (built in, registered at start or by an earlier
    /// CRD).
    pub fn register(&mut self, served: Vec<crate::crds::Served>) {
        for s in served {
            if self.by_path(&s.group, &s.version, &s.plural).is_none() {
                self.push_custom(s.intern());
            }
        }
    }

    pub fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.info.group == group && k.info.version == version && k.info.plural == plural)
    }

    pub fn by_type(&self, api_version: &str, kind: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.info.api_version() == api_version && k.info.kind == kind)
    }

    pub fn by_id(&self, id: ResourceId) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.info.id() == id)
    }

    pub fn all(&self) -> &[Kind] {
        &self.kinds
    }

    /// Every version served for a group, in registration order.
    pub fn versions_of(&self, group: &str) -> Vec<&'static str> {
        let mut versions: Vec<&'static str> = Vec::new();
        for k in self.kinds.iter().filter(|k| k.info.group == group) {
            if !versions.contains(&k.info.version) {
                versions.push(k.info.version);
            }
        }
        versions
    }

    /// Every non-core group, in registration order.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut groups: Vec<&'static str> = Vec::new();
        for k in self.kinds.iter().filter(|k| !k.info.group.is_empty()) {
            if !groups.contains(&k.info.group) {
                groups.push(k.info.group);
            }
        }
        groups
    }
}
