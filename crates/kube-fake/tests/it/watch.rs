//! Watches: events after a resourceVersion, selectors, bookmarks, timeouts, 410 Expired, and
//! kube-runtime's watcher relisting after one.

use crate::*;
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::runtime::watcher;

async fn next_event<S>(stream: &mut S) -> WatchEvent<DynamicObject>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<DynamicObject>>> + Unpin,
{
    within("a watch event", stream.next()).await.expect("the stream goes on").expect("a well-formed event")
}

fn describe(event: &WatchEvent<DynamicObject>) -> String {
    match event {
        WatchEvent::Added(o) => format!("ADDED {}", o.name_any()),
        WatchEvent::Modified(o) => format!("MODIFIED {}", o.name_any()),
        WatchEvent::Deleted(o) => format!("DELETED {}", o.name_any()),
        WatchEvent::Bookmark(b) => format!("BOOKMARK {}", b.metadata.resource_version),
        WatchEvent::Error(e) => format!("ERROR {} {}", e.code, e.reason),
    }
}

/// The name in the watcher's next `Apply` event.
async fn next_apply<S>(events: &mut S) -> String
where
    S: futures::Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>> + Unpin,
{
    match within("an Apply event", events.try_next()).await.unwrap().unwrap() {
        watcher::Event::Apply(o) => o.name_any(),
        other => panic!("expected Apply, got {other:?}"),
    }
}

#[tokio::test]
async fn a_watch_streams_the_changes_after_its_resource_version() {
    let (server, client) = start().await;
    let api = configmaps(&client);
    create_configmap(&client, "before", json!({})).await;
    let from = server.resource_version().to_string();
    create_configmap(&client, "a", json!({})).await;
    let mut stream = api.watch(&WatchParams::default().disable_bookmarks(), &from).await.unwrap().boxed();
    assert_eq!(describe(&next_event(&mut stream).await), "ADDED a", "replayed from the history, not `before`");
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v2"}}))).await.unwrap();
    let modified = next_event(&mut stream).await;
    assert_eq!(describe(&modified), "MODIFIED a");
    if let WatchEvent::Modified(object) = &modified {
        assert_eq!(object.resource_version(), Some(server.resource_version().to_string()));
    }
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(describe(&next_event(&mut stream).await), "DELETED a");

    let mut from_zero = api.watch(&WatchParams::default().disable_bookmarks(), "0").await.unwrap().boxed();
    assert_eq!(
        describe(&next_event(&mut from_zero).await),
        "ADDED before",
        "resourceVersion 0 starts with the current objects"
    );

    let request = server.requests().into_iter().find(|r| r.is_watch()).unwrap();
    assert_eq!(request.param("resourceVersion"), Some(from.as_str()));
    assert_eq!(request.param("timeoutSeconds"), Some("290"), "kube's default watch timeout");
}

#[tokio::test]
async fn watches_filter_by_namespace_and_selectors_with_transitions() {
    let (server, client) = start().await;
    server.create_namespace("other").unwrap();
    let from = server.resource_version().to_string();
    let everywhere = dynamic_api(&client, "v1", "ConfigMap", "configmaps", None);
    let params = WatchParams::default().labels("app=web").disable_bookmarks();
    let mut stream = everywhere.watch(&params, &from).await.unwrap().boxed();
    let mut in_ns =
        configmaps(&client).watch(&WatchParams::default().disable_bookmarks(), &from).await.unwrap().boxed();

    let other = dynamic_api(&client, "v1", "ConfigMap", "configmaps", Some("other"));
    other.create(&PostParams::default(), &configmap("elsewhere", json!({"app": "web"}))).await.unwrap();
    create_configmap(&client, "api", json!({"app": "api"})).await;
    assert_eq!(describe(&next_event(&mut stream).await), "ADDED elsewhere");
    assert_eq!(describe(&next_event(&mut in_ns).await), "ADDED api", "a namespaced watch sees its namespace only");

    let api = configmaps(&client);
    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    api.patch("api", &PatchParams::default(), &relabel("web")).await.unwrap();
    assert_eq!(describe(&next_event(&mut stream).await), "ADDED api", "entering the selection");
    api.patch("api", &PatchParams::default(), &relabel("db")).await.unwrap();
    let left = next_event(&mut stream).await;
    assert_eq!(describe(&left), "DELETED api", "leaving the selection");
    if let WatchEvent::Deleted(object) = left {
        assert_eq!(object.labels().get("app").map(String::as_str), Some("web"), "the old object");
        assert_eq!(object.resource_version(), Some(server.resource_version().to_string()), "at the new version");
    }
}

#[tokio::test]
async fn bookmarks_come_when_asked_and_the_stream_ends_at_its_timeout() {
    let builder = FakeApiServer::builder().bookmark_interval(Duration::from_millis(50));
    let (server, client) = start_with(builder).await;
    let api = configmaps(&client);
    let from = server.resource_version().to_string();
    let mut stream = api.watch(&WatchParams::default(), &from).await.unwrap().boxed();
    create_configmap(&client, "a", json!({})).await;
    let current = server.resource_version().to_string();
    let mut added = false;
    loop {
        match next_event(&mut stream).await {
            WatchEvent::Added(o) if o.name_any() == "a" => added = true,
            WatchEvent::Bookmark(b) if added => {
                assert_eq!(b.metadata.resource_version, current, "a bookmark carries the version seen");
                assert_eq!((b.types.api_version.as_str(), b.types.kind.as_str()), ("v1", "ConfigMap"));
                break;
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {}", describe(&other)),
        }
    }

    let short = WatchParams::default().timeout(1).disable_bookmarks();
    let mut ending = api.watch(&short, &server.resource_version().to_string()).await.unwrap().boxed();
    assert!(within("the server-side timeout", ending.next()).await.is_none(), "no events, then the end");
}

#[tokio::test]
async fn a_too_old_resource_version_is_expired() {
    let builder = FakeApiServer::builder().watch_history(2);
    let (server, client) = start_with(builder).await;
    let start = server.resource_version().to_string();
    for name in ["a", "b", "c"] {
        create_configmap(&client, name, json!({})).await;
    }
    let mut stream = configmaps(&client).watch(&WatchParams::default(), &start).await.unwrap().boxed();
    match next_event(&mut stream).await {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(status.message.starts_with(&format!("too old resource version: {start} (")), "{}", status.message);
        }
        other => panic!("expected 410, got {}", describe(&other)),
    }
    assert!(within("the end of the stream", stream.next()).await.is_none());

    server.compact_history();
    let recent = (server.resource_version() - 1).to_string();
    let mut stream = configmaps(&client).watch(&WatchParams::default(), &recent).await.unwrap().boxed();
    assert!(
        matches!(next_event(&mut stream).await, WatchEvent::Error(s) if s.code == 410),
        "compaction expires it too"
    );
}

#[tokio::test]
async fn the_watcher_relists_after_a_410() {
    let (server, client) = start().await;
    create_configmap(&client, "a", json!({})).await;
    let mut events = watcher(configmaps(&client), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    loop {
        match within("initial list", events.try_next()).await.unwrap().unwrap() {
            watcher::Event::InitApply(o) => initial.push(o.name_any()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["a"]);
    let list = server.requests().into_iter().find(|r| r.method == "GET" && !r.is_watch()).unwrap();
    assert_eq!(list.param("limit"), Some("500"), "the watcher lists in pages of 500");
    assert_eq!(list.param("resourceVersion"), None, "a most-recent list");

    // Once the watch runs, its history goes: the stream gets 410 Expired and the watcher
    // lists again.
    create_configmap(&client, "b", json!({})).await;
    assert_eq!(next_apply(&mut events).await, "b");
    server.close_watches();
    create_configmap(&client, "c", json!({})).await;
    assert_eq!(next_apply(&mut events).await, "c");
    let lists = server.requests().iter().filter(|r| r.method == "GET" && !r.is_watch()).count();
    assert_eq!(lists, 1, "a closed watch resumes from its version without a list");
    server.expire_watches();
    let error = within("the 410", events.try_next()).await.expect_err("the watcher reports the 410");
    assert!(matches!(&error, watcher::Error::WatchError(status) if status.code == 410), "{error:?}");
    let mut relisted = Vec::new();
    loop {
        match within("relist", events.try_next()).await.unwrap().unwrap() {
            watcher::Event::Init => {}
            watcher::Event::InitApply(o) => relisted.push(o.name_any()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(relisted, ["a", "b", "c"]);
    let lists = server.requests().iter().filter(|r| r.method == "GET" && !r.is_watch()).count();
    assert_eq!(lists, 2, "one relist");
}

#[tokio::test]
async fn the_watcher_can_use_streaming_lists() {
    let (server, client) = start().await;
    create_configmap(&client, "a", json!({})).await;
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(configmaps(&client), config).boxed();
    let mut initial = Vec::new();
    loop {
        match within("initial events", events.try_next()).await.unwrap().unwrap() {
            watcher::Event::Init => {}
            watcher::Event::InitApply(o) => initial.push(o.name_any()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["a"]);
    create_configmap(&client, "b", json!({})).await;
    assert_eq!(next_apply(&mut events).await, "b");
    let reads: Vec<_> = server.requests().into_iter().filter(|r| r.method == "GET").collect();
    assert!(reads.iter().all(kube_fake::RequestRecord::is_watch), "no list request");
    assert_eq!(reads[0].param("sendInitialEvents"), Some("true"));
}

#[tokio::test]
async fn a_dropped_server_stops_answering() {
    let (server, client) = start().await;
    client.apiserver_version().await.unwrap();
    let mut stream = configmaps(&client).watch(&WatchParams::default(), "0").await.unwrap().boxed();
    drop(server);
    assert!(within("the watch to end", stream.next()).await.is_none());
    eventually("requests to fail", || async { client.apiserver_version().await.is_err().then_some(()) }).await;
}
