//! Injected faults and the request log.

use crate::*;
use kube::api::{Patch, PatchParams};
use kube_fake::Fault;

#[tokio::test]
async fn injected_faults_fail_matching_requests_then_stop() {
    let (server, client) = start().await;
    let api: Api<Workspace> = Api::namespaced(client.clone(), "ns");
    server.fail_next(Fault::new(503).method("PATCH").path_contains("/workspaces/").times(2));
    server.fail_next(Fault::new(409).method("POST").message("injected conflict"));
    assert_eq!(server.pending_faults(), 3);

    let unaffected = api.get("missing").await;
    assert_eq!(api_error(unaffected).code, 404, "a GET does not match");
    let conflict = api_error(api.create(&PostParams::default(), &workspace("w", "a")).await);
    assert_eq!(
        (conflict.code, conflict.reason.as_str(), conflict.message.as_str()),
        (409, "Conflict", "injected conflict")
    );
    api.create(&PostParams::default(), &workspace("w", "a")).await.unwrap();

    let pp = PatchParams::apply("orchestrator").force();
    let patch = Patch::Apply(workspace("w", "b"));
    let applied = api.patch("w", &pp, &patch).await.unwrap();
    assert_eq!(applied.spec.owner, "b", "kube's client retries 503s by itself");
    assert_eq!(server.pending_faults(), 0);

    let statuses: Vec<(String, u16)> = server.requests().iter().map(|r| (r.method.clone(), r.status)).collect();
    assert_eq!(
        statuses,
        [
            ("GET".to_string(), 404),
            ("POST".to_string(), 409),
            ("POST".to_string(), 201),
            ("PATCH".to_string(), 503),
            ("PATCH".to_string(), 503),
            ("PATCH".to_string(), 200),
        ]
    );
    let last = server.requests().pop().unwrap();
    assert_eq!(last.path, "/apis/orchestrator.dev/v1alpha1/namespaces/ns/workspaces/w");
    assert_eq!(last.param("fieldManager"), Some("orchestrator"));
    server.clear_requests();
    assert!(server.requests().is_empty());

    server.fail_next(Fault::new(500).path_contains("/workspaces/w"));
    let err = api_error(api.get("w").await);
    assert_eq!((err.code, err.reason.as_str()), (500, "InternalError"), "500s reach the caller");
    assert_eq!(server.requests().len(), 1, "and are not retried");
}
