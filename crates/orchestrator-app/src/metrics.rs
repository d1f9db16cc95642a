//! Metrics in the Prometheus text format: runs by state, workspaces by phase, the workspace
//! controller's reconciles, e-mails sent and failed. The API adds its requests by route and
//! status (`orchestrator_api`'s `/metrics`).

use async_trait::async_trait;
use provision_core::ports::{Notifier, OutgoingMessage, PortError, RunRecord, RunState};
use provision_core::workspace::{Workspace, WorkspacePhase};
use provision_k8s::workspace::controller::{Metrics as ControllerMetrics, RECONCILE_BUCKETS};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters one process keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    pub controller: Arc<ControllerMetrics>,
    pub mail_sent: AtomicU64,
    pub mail_failed: AtomicU64,
}

/// Counts what its notifier sends and fails to send.
pub struct CountingNotifier {
    pub inner: Arc<dyn Notifier>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl Notifier for CountingNotifier {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), PortError> {
        let result = self.inner.send(message).await;
        let counter = if result.is_ok() { &self.metrics.mail_sent } else { &self.metrics.mail_failed };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }
}

/// `# HELP`, `# TYPE` and one sample per labelled value.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Every family this process knows, in the text format: runs by state and workspaces by
    /// phase when given (what the store and the cluster answered), then the counters.
    pub fn text(&self, runs: Option<&[RunRecord]>, workspaces: Option<&[Workspace]>) -> String {
        let mut out = String::new();
        if let Some(runs) = runs {
            let mut by_state: BTreeMap<&str, u64> = RunState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
            for run in runs {
                *by_state.entry(run.state.as_str()).or_default() += 1;
            }
            let samples: Vec<(String, u64)> =
                by_state.into_iter().map(|(s, n)| (format!("state=\"{s}\""), n)).collect();
            family(&mut out, "orchestrator_runs", "gauge", "Runs by state.", &samples);
        }
        if let Some(all) = workspaces {
            let mut by_phase: BTreeMap<&str, u64> = WorkspacePhase::ALL.iter().map(|p| (p.as_str(), 0)).collect();
            for w in all {
                *by_phase.entry(w.status.phase.as_str()).or_default() += 1;
            }
            let samples: Vec<(String, u64)> =
                by_phase.into_iter().map(|(p, n)| (format!("phase=\"{p}\""), n)).collect();
            family(&mut out, "orchestrator_workspaces", "gauge", "Workspaces by phase.", &samples);
        }
        let c = &self.controller;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        family(
            &mut out,
            "orchestrator_reconcile_errors_total",
            "counter",
            "Workspace reconciles that failed.",
            &[(String::new(), load(&c.reconcile_errors))],
        );
        let _ = writeln!(
            out,
            "# HELP orchestrator_reconcile_duration_seconds How long workspace reconciles took.\n# TYPE orchestrator_reconcile_duration_seconds histogram"
        );
        for (bound, bucket) in RECONCILE_BUCKETS.iter().zip(&c.reconcile_buckets) {
            let _ = writeln!(out, "orchestrator_reconcile_duration_seconds_bucket{{le=\"{bound}\"}} {}", load(bucket));
        }
        let total = load(&c.reconciles);
        let _ = writeln!(out, "orchestrator_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "orchestrator_reconcile_duration_seconds_sum {}", load(&c.reconcile_micros) as f64 / 1e6);
        let _ = writeln!(out, "orchestrator_reconcile_duration_seconds_count {total}");
        family(
            &mut out,
            "orchestrator_emails_total",
            "counter",
            "E-mails handed to the mail server (or maildir), and attempts that failed.",
            &[
                ("result=\"sent\"".to_owned(), load(&self.mail_sent)),
                ("result=\"failed\"".to_owned(), load(&self.mail_failed)),
            ],
        );
        out
    }
}
