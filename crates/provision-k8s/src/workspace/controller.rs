//! The workspace controller: reconciles `Workspace` objects into their PVC, Deployment and
//! Service with server-side apply, records what it finds in the status subresource, and tells
//! the owner once when their workspace first becomes ready.
//!
//! Runs on kube-runtime: a watch on workspaces and on the objects they own, so a Deployment
//! becoming available or a Service getting its port wakes the workspace's reconcile at once.
//! A failed reconcile is retried with exponential backoff per workspace (1 s doubling to 5 min).
//! A finalizer lets the controller withdraw a queued e-mail when a workspace is deleted; the
//! owned objects go by owner reference.

use super::{FIELD_MANAGER, Observed, Phase, Settings, Workspace, WorkspaceStatus, claim, deployment, service, status};
use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The finalizer the controller keeps on every workspace it has acted on.
pub const FINALIZER: &str = "orchestrator.dev/workspace";
/// How often a ready workspace is looked at again without any event.
const RESYNC: Duration = Duration::from_secs(300);
/// How often a workspace still coming up is looked at again without any event.
const WAITING: Duration = Duration::from_secs(30);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("workspace {0} has no namespace")]
    NoNamespace(String),
    #[error("cannot apply the {kind} of workspace {name}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the status of workspace {name}")]
    Status {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot tell the owner of workspace {name} that it is ready: {reason}")]
    Notify { name: String, reason: String },
    #[error("the finalizer of workspace {name} failed: {reason}")]
    Finalizer { name: String, reason: String },
}

/// What the controller calls when a workspace first becomes ready and when one is deleted: the
/// application queues (and withdraws) the owner's e-mail. Both must be idempotent per `uid`:
/// a crash after `ready` and before the status records it calls it again, and `deleted` may be
/// called more than once while a deletion settles.
#[async_trait]
pub trait Announcer: Send + Sync {
    /// `workspace` (the object with uid `uid`) is ready: its status has the node port, the
    /// access host and command.
    async fn ready(&self, uid: &str, workspace: &provision_core::workspace::Workspace) -> Result<(), String>;
    async fn deleted(&self, uid: &str) -> Result<(), String>;
}

/// Counters of the controller's work, for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub reconciles: AtomicU64,
    pub reconcile_errors: AtomicU64,
    /// The sum of reconcile durations, in microseconds.
    pub reconcile_micros: AtomicU64,
    /// Reconciles that took under 10 ms, 100 ms, 1 s, 10 s (cumulative buckets), then all.
    pub reconcile_buckets: [AtomicU64; 4],
}

/// The upper bounds of [`Metrics::reconcile_buckets`], in seconds.
pub const RECONCILE_BUCKETS: [f64; 4] = [0.01, 0.1, 1.0, 10.0];

impl Metrics {
    fn observe(&self, took: Duration, failed: bool) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.reconcile_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.reconcile_micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        for (bound, bucket) in RECONCILE_BUCKETS.iter().zip(&self.reconcile_buckets) {
            if took.as_secs_f64() <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    client: Client,
    settings: Settings,
    announcer: Arc<dyn Announcer>,
    metrics: Arc<Metrics>,
    /// Consecutive failures per workspace (`namespace/name`), for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, settings: Settings, announcer: Arc<dyn Announcer>, metrics: Arc<Metrics>) -> Self {
        Context { client, settings, announcer, metrics, failures: Mutex::new(HashMap::new()) }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs the controller over the workspaces of `namespace` until `shutdown` completes.
pub async fn run(
    ctx: Arc<Context>,
    namespace: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let workspaces = Api::<Workspace>::namespaced(client.clone(), namespace);
    let config = watcher::Config::default();
    Controller::new(workspaces, config.clone())
        .owns(Api::<Deployment>::namespaced(client.clone(), namespace), config.clone())
        .owns(Api::<Service>::namespaced(client.clone(), namespace), config.clone())
        .owns(Api::<PersistentVolumeClaim>::namespaced(client, namespace), config)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(workspace = %object.name, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile did not complete"),
            }
        })
        .await;
}

fn key(ws: &Workspace) -> String {
    format!("{}/{}", ws.namespace().unwrap_or_default(), ws.name_any())
}

async fn reconcile(ws: Arc<Workspace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let name = ws.name_any();
    let namespace = ws.namespace().ok_or_else(|| Error::NoNamespace(name.clone()))?;
    let api = Api::<Workspace>::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, super::controller::FINALIZER, ws.clone(), |event| {
        let ctx = ctx.clone();
        async move {
            match event {
                Event::Apply(ws) => apply(&ws, &ctx).await,
                Event::Cleanup(ws) => cleanup(&ws, &ctx).await,
            }
        }
    })
    .await;
    let result = result.map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e) | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer { name: name.clone(), reason: other.to_string() },
    });
    ctx.metrics.observe(started.elapsed(), result.is_err());
    if result.is_ok() {
        ctx.failures().remove(&key(&ws));
    }
    result
}

fn error_policy(ws: Arc<Workspace>, error: &Error, ctx: Arc<Context>) -> Action {
    let mut failures = ctx.failures();
    let count = failures.entry(key(&ws)).or_insert(0);
    *count = count.saturating_add(1);
    let delay = BACKOFF_START.saturating_mul(1 << (*count - 1).min(16)).min(BACKOFF_MAX);
    tracing::warn!(workspace = %key(&ws), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Whether the cluster refused an object as invalid (rather than failing to answer).
fn refused(e: &kube::Error) -> Option<String> {
    match e {
        kube::Error::Api(status) if status.code == 422 || status.code == 400 || status.code == 403 => {
            Some(status.message.clone())
        }
        _ => None,
    }
}

async fn apply_one<K>(ws: &Workspace, ctx: &Context, kind: &'static str, object: &K) -> Result<Result<K, String>, Error>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let namespace = ws.namespace().unwrap_or_default();
    let api = Api::<K>::namespaced(ctx.client.clone(), &namespace);
    let name = ws.name_any();
    // Server-side apply wants apiVersion and kind in the body.
    let mut body = serde_json::to_value(object).map_err(|e| Error::Apply {
        kind,
        name: name.clone(),
        source: kube::Error::SerdeError(e),
    })?;
    body["apiVersion"] = K::api_version(&K::DynamicType::default()).into_owned().into();
    body["kind"] = K::kind(&K::DynamicType::default()).into_owned().into();
    match api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
        Ok(applied) => Ok(Ok(applied)),
        Err(e) => match refused(&e) {
            Some(why) => Ok(Err(format!("the cluster refused the {kind}: {why}"))),
            None => Err(Error::Apply { kind, name, source: e }),
        },
    }
}

async fn apply(ws: &Workspace, ctx: &Context) -> Result<Action, Error> {
    let settings = &ctx.settings;
    let mut observed = Observed::default();
    match apply_one(ws, ctx, "PersistentVolumeClaim", &claim(ws, settings)).await? {
        Ok(_) => {}
        Err(why) => observed.refused = Some(why),
    }
    if observed.refused.is_none() {
        match apply_one(ws, ctx, "Deployment", &deployment(ws, settings)).await? {
            Ok(applied) => {
                observed.available_replicas = applied.status.and_then(|s| s.available_replicas).unwrap_or_default();
            }
            Err(why) => observed.refused = Some(why),
        }
    }
    if observed.refused.is_none() {
        match apply_one(ws, ctx, "Service", &service(ws)).await? {
            Ok(applied) => {
                observed.node_port =
                    applied.spec.and_then(|s| s.ports).and_then(|ports| ports.into_iter().find_map(|p| p.node_port));
            }
            Err(why) => observed.refused = Some(why),
        }
    }

    let mut next = status(ws, &observed, settings, jiff::Timestamp::now());
    let mut announce_failed = None;
    if next.phase == Some(Phase::Ready) && next.notified_at.is_none() {
        // The cached copy may predate the announcement: the server's record is kept, or the
        // status written below would drop it and a later reconcile announce again.
        next.notified_at = announced_at(ws, ctx).await?;
        if next.notified_at.is_none() {
            let ready = super::cluster::domain(ws, Some(&next))
                .map_err(|invalid| Error::Notify { name: ws.name_any(), reason: invalid.to_string() })?;
            match ctx.announcer.ready(&ws.uid().unwrap_or_default(), &ready).await {
                Ok(()) => next.notified_at = Some(jiff::Timestamp::now().to_string()),
                Err(reason) => announce_failed = Some(reason),
            }
        }
    }
    write_status(ws, ctx, &next).await?;
    if let Some(reason) = announce_failed {
        return Err(Error::Notify { name: ws.name_any(), reason });
    }
    Ok(match next.phase {
        Some(Phase::Ready) => Action::requeue(RESYNC),
        // A refused spec changes only when someone edits it, which is an event.
        Some(Phase::Failed) => Action::await_change(),
        _ => Action::requeue(WAITING),
    })
}

/// When the workspace as the API server has it now was announced, if it was. The object a
/// reconcile gets comes from a cache that may not hold the previous reconcile's status write
/// yet; reconciles of one workspace never overlap, so the server's copy is current.
async fn announced_at(ws: &Workspace, ctx: &Context) -> Result<Option<String>, Error> {
    let api = Api::<Workspace>::namespaced(ctx.client.clone(), &ws.namespace().unwrap_or_default());
    let current =
        api.get_status(&ws.name_any()).await.map_err(|source| Error::Status { name: ws.name_any(), source })?;
    Ok(current.status.and_then(|s| s.notified_at))
}

/// Writes `next` unless the status already says so (an unchanged write would wake the
/// controller again for nothing).
async fn write_status(ws: &Workspace, ctx: &Context, next: &WorkspaceStatus) -> Result<(), Error> {
    if ws.status.as_ref() == Some(next) {
        return Ok(());
    }
    let api = Api::<Workspace>::namespaced(ctx.client.clone(), &ws.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": format!("{}/{}", super::GROUP, super::VERSION),
        "kind": "Workspace",
        "status": next,
    });
    api.patch_status(&ws.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body))
        .await
        .map_err(|source| Error::Status { name: ws.name_any(), source })?;
    Ok(())
}

async fn cleanup(ws: &Workspace, ctx: &Context) -> Result<Action, Error> {
    let uid = ws.uid().unwrap_or_default();
    ctx.announcer.deleted(&uid).await.map_err(|reason| Error::Notify { name: ws.name_any(), reason })?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::PostParams;
    use test_harness::{TestCluster, alices_devbox};

    /// Counts announcements.
    #[derive(Default)]
    struct Count(AtomicU64);

    #[async_trait]
    impl Announcer for Count {
        async fn ready(&self, _: &str, _: &provision_core::workspace::Workspace) -> Result<(), String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        async fn deleted(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_reconcile_of_a_stale_copy_keeps_the_announcement_and_does_not_repeat_it() {
        let builder = kube_fake::FakeApiServer::builder().simulate_deployments(true).deployments_available(false);
        let cluster = TestCluster::fake::<Workspace>(builder).await;
        let count = Arc::new(Count::default());
        let ctx = Context::new(cluster.client(), Settings::default(), count.clone(), Arc::new(Metrics::default()));
        let api = cluster.api::<Workspace>();
        api.create(&PostParams::default(), &alices_devbox::<Workspace>("alice-devbox-0a1b2c3d")).await.unwrap();

        apply(&api.get("alice-devbox-0a1b2c3d").await.unwrap(), &ctx).await.unwrap();
        // What a lagging cache may still hand a later reconcile: the workspace provisioning.
        let stale = api.get("alice-devbox-0a1b2c3d").await.unwrap();
        assert_eq!(stale.status.as_ref().and_then(|s| s.phase), Some(Phase::Provisioning));

        let server = cluster.fake_server().unwrap();
        server.set_deployment_available(cluster.namespace(), "alice-devbox-0a1b2c3d", true);
        apply(&api.get("alice-devbox-0a1b2c3d").await.unwrap(), &ctx).await.unwrap();
        let announced = api.get("alice-devbox-0a1b2c3d").await.unwrap().status.unwrap();
        assert_eq!((announced.phase, count.0.load(Ordering::SeqCst)), (Some(Phase::Ready), 1));
        assert!(announced.notified_at.is_some());

        apply(&stale, &ctx).await.unwrap();
        let after = api.get("alice-devbox-0a1b2c3d").await.unwrap().status.unwrap();
        assert_eq!(after.notified_at, announced.notified_at, "the record of the announcement stays");
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
