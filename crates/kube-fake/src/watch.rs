//! Watch streams: newline-delimited JSON events of one type, filtered by namespace and
//! selectors, with periodic bookmarks, the server-side timeout, and an ERROR event carrying
//! 410 Expired when the requested resourceVersion is older than the history.

use crate::error::Error;
use crate::kinds::ResourceKind;
use crate::selectors::Selectors;
use crate::store::{Change, EventType, WatchStart};
use futures::Stream;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, sleep_until};

/// A signal to every open watch: end (an API server restart), or first send 410 Expired (the
/// watch cache lost the history the watcher needs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Closing {
    pub epoch: u64,
    pub expire: bool,
}

/// What one watch request asks for.
pub(crate) struct WatchRequest {
    pub kind: ResourceKind,
    pub namespace: Option<String>,
    pub selectors: Selectors,
    /// `allowWatchBookmarks=true`: a BOOKMARK every `bookmark_interval`.
    pub bookmarks: bool,
    pub bookmark_interval: Duration,
    /// `sendInitialEvents=true`: the initial ADDED events end with a bookmark annotated
    /// `k8s.io/initial-events-end`.
    pub initial_events_end: bool,
    pub timeout: Duration,
}

struct State {
    request: WatchRequest,
    pending: VecDeque<Value>,
    live: Option<broadcast::Receiver<Arc<Change>>>,
    seen: u64,
    deadline: Instant,
    next_bookmark: Instant,
    closer: watch::Receiver<Closing>,
}

impl State {
    fn wanted(&self, namespace: &str, object: &Value) -> bool {
        self.request.namespace.as_deref().is_none_or(|ns| ns == namespace) && self.request.selectors.matches(object)
    }

    /// The event a change is for this watch, if any: a modification that enters the
    /// selection is ADDED, one that leaves it is DELETED (with the old object at the new
    /// resourceVersion), as the API server's watch cache reports them.
    fn event_for(&self, change: &Change) -> Option<Value> {
        if change.res != self.request.kind.id() {
            return None;
        }
        let now = self.wanted(&change.namespace, &change.object);
        let before = change.previous.as_ref().is_some_and(|p| self.wanted(&change.namespace, p));
        let (kind, object) = match change.kind {
            EventType::Modified => match (before, now) {
                (true, true) => (EventType::Modified, (*change.object).clone()),
                (false, true) => (EventType::Added, (*change.object).clone()),
                (true, false) => {
                    let mut old = change.previous.as_deref().cloned().unwrap_or_default();
                    if let Some(metadata) = old.get_mut("metadata").and_then(Value::as_object_mut) {
                        metadata.insert("resourceVersion".into(), change.rv.to_string().into());
                    }
                    (EventType::Deleted, old)
                }
                (false, false) => return None,
            },
            other if now => (other, (*change.object).clone()),
            _ => return None,
        };
        Some(json!({ "type": kind.as_str(), "object": object }))
    }

    fn bookmark(&self, initial_events_end: bool) -> Value {
        let mut metadata = json!({ "resourceVersion": self.seen.to_string() });
        if initial_events_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        json!({
            "type": "BOOKMARK",
            "object": {
                "kind": self.request.kind.kind,
                "apiVersion": self.request.kind.api_version(),
                "metadata": metadata,
            }
        })
    }
}

/// The body of a watch response.
pub(crate) fn stream(
    request: WatchRequest,
    start: Result<WatchStart, Error>,
    closer: watch::Receiver<Closing>,
) -> impl Stream<Item = Result<String, Infallible>> + Send + 'static {
    let now = Instant::now();
    let mut state = State {
        deadline: now + request.timeout,
        next_bookmark: now + request.bookmark_interval,
        request,
        pending: VecDeque::new(),
        live: None,
        seen: 0,
        closer,
    };
    match start {
        Err(error) => state.pending.push_back(json!({ "type": "ERROR", "object": error.to_status() })),
        Ok(start) => {
            state.seen = start.seen;
            for object in &start.initial {
                let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
                if state.wanted(namespace, object) {
                    state.pending.push_back(json!({ "type": "ADDED", "object": **object }));
                }
            }
            if state.request.initial_events_end {
                let end = state.bookmark(true);
                state.pending.push_back(end);
            }
            for change in &start.backlog {
                if let Some(event) = state.event_for(change) {
                    state.pending.push_back(event);
                }
            }
            state.live = Some(start.live);
        }
    }
    // A closer that changed before the watch began must not end it.
    state.closer.mark_unchanged();
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(format!("{event}\n")), state));
            }
            let live = state.live.as_mut()?;
            tokio::select! {
                _ = state.closer.changed() => {
                    if state.closer.borrow_and_update().expire {
                        let expired = Error::Expired("The resourceVersion for the provided watch is too old.".into());
                        state.pending.push_back(json!({ "type": "ERROR", "object": expired.to_status() }));
                    }
                    state.live = None;
                }
                () = sleep_until(state.deadline) => return None,
                () = sleep_until(state.next_bookmark), if state.request.bookmarks => {
                    state.next_bookmark = Instant::now() + state.request.bookmark_interval;
                    let bookmark = state.bookmark(false);
                    state.pending.push_back(bookmark);
                }
                received = live.recv() => match received {
                    Ok(change) => {
                        if change.rv > state.seen {
                            state.seen = change.rv;
                            if let Some(event) = state.event_for(&change) {
                                state.pending.push_back(event);
                            }
                        }
                    }
                    // A watcher that fell behind is dropped, as the API server drops slow
                    // watchers; the client resumes from its last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    })
}
