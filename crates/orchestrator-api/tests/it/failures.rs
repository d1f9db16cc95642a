//! Failures on the server's side: a run that fails is a 500 naming the run; a broken store is
//! a 500 (or a 503 from `/readyz`) whose answer leaks nothing of the cause.

use crate::support::{Api, seed_body};
use async_trait::async_trait;
use provision_core::ports::*;
use provision_core::testing::{MemoryGitHost, MemoryStore};
use provision_core::{RunId, ServiceName};
use std::sync::Arc;

/// A git host on which creating a repository always fails for good.
fn no_new_repos() -> MemoryGitHost {
    let git = MemoryGitHost::new();
    git.before_create_repo(Arc::new(|_| Box::pin(async { Err(PortError::permanent("quota exceeded")) })));
    git
}

const SECRET: &str = "postgres://admin:hunter2@db.internal/orchestrator";

/// A store whose reads of runs and services fail with a message holding a credential.
struct BrokenStore(MemoryStore);

fn broken() -> PortError {
    PortError::transient(format!("cannot connect to {SECRET}"))
}

#[async_trait]
impl Store for BrokenStore {
    async fn create_run(&self, run: NewRun) -> Result<RunCreated, PortError> {
        self.0.create_run(run).await
    }
    async fn run(&self, _: &RunId) -> Result<Option<RunRecord>, PortError> {
        Err(broken())
    }
    async fn runs(&self, _: usize) -> Result<Vec<RunRecord>, PortError> {
        Err(broken())
    }
    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, PortError> {
        Err(broken())
    }
    async fn steps(&self, id: &RunId) -> Result<Vec<StepRecord>, PortError> {
        self.0.steps(id).await
    }
    async fn record(&self, id: &RunId, event: JournalEvent) -> Result<(), PortError> {
        self.0.record(id, event).await
    }
    async fn reopen_run(&self, id: &RunId) -> Result<(), PortError> {
        self.0.reopen_run(id).await
    }
    async fn service(&self, _: &ServiceName) -> Result<Option<ServiceRecord>, PortError> {
        Err(broken())
    }
    async fn services(&self) -> Result<Vec<ServiceRecord>, PortError> {
        Err(broken())
    }
    async fn set_blueprint_version(&self, _: &ServiceName, _: &str) -> Result<(), PortError> {
        Err(broken())
    }
    async fn forget_service(&self, _: &ServiceName, _: &RunId) -> Result<bool, PortError> {
        Err(broken())
    }
    async fn try_claim(&self, id: &RunId) -> Result<Option<Box<dyn Claim>>, PortError> {
        self.0.try_claim(id).await
    }
}

#[tokio::test]
async fn a_failed_run_is_a_server_error_naming_the_run() {
    let api = Api::with_ports(Arc::new(no_new_repos()), Arc::new(MemoryStore::new()));
    let answer = api.post_json("/create-service", &seed_body("ms", "doomed", "d")).await;
    let problem = answer.problem(500);
    assert_eq!(problem["type"], "urn:orchestrator:problem:run-failed");
    assert_eq!(problem["service"], "doomed");
    let run = problem["run"].as_str().expect("the run id").to_owned();
    let view = api.get(&format!("/v1/runs/{run}")).await;
    assert_eq!(view.status, 200);
    assert_eq!(view.json()["state"], "failed");
}

#[tokio::test]
async fn a_broken_store_leaks_nothing() {
    let api = Api::with_ports(Arc::new(MemoryGitHost::new()), Arc::new(BrokenStore(MemoryStore::new())));
    for uri in ["/v1/services", "/v1/runs", "/v1/services/some", "/v1/runs/0190c3b4-0000-7000-8000-000000000000"] {
        let answer = api.get(uri).await;
        let problem = answer.problem(500);
        assert_eq!(problem["type"], "urn:orchestrator:problem:internal", "{uri}");
        let text = String::from_utf8_lossy(&answer.bytes);
        assert!(!text.contains("hunter2") && !text.contains("postgres"), "{uri}: {text}");
    }
    let ready = api.get("/readyz").await;
    ready.problem(503);
    assert!(!String::from_utf8_lossy(&ready.bytes).contains("hunter2"));
    // Liveness does no I/O.
    assert_eq!(api.get("/healthz").await.status, 200);
}
