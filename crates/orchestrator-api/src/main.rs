//! `orchestrator-api`: the HTTP server. Thin: read the configuration, open the application,
//! resume interrupted runs, then serve [`orchestrator_api::router`] until SIGTERM or Ctrl-C.
//!
//! Logs are JSON lines on stderr (filter with `ORCHESTRATOR_LOG`, default `info`); they carry
//! methods, paths and statuses, never request bodies or headers.

use anyhow::Context as _;
use clap::Parser;
use orchestrator_api::{AppState, router};
use orchestrator_app::{ClusterUse, Config, Runtime, Start};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Serve the orchestrator's HTTP API.
///
/// With nothing configured everything lives in the data directory (`./.orchestrator` or
/// $ORCHESTRATOR_HOME): bare git repositories and a SQLite database of runs. Runs interrupted
/// by a crash resume at start, before the server listens.
#[derive(Debug, Parser)]
#[command(name = "orchestrator-api", version, max_term_width = 100)]
struct Args {
    /// The address to listen on.
    #[arg(
        long,
        env = "ORCHESTRATOR_LISTEN",
        hide_env_values = true,
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    listen: String,
    /// The data directory (repositories, database, config.toml).
    #[arg(
        long,
        env = "ORCHESTRATOR_HOME",
        hide_env_values = true,
        default_value = ".orchestrator",
        value_name = "DIR"
    )]
    home: PathBuf,
    /// Extra blueprint directories, colon-separated; they come after those of config.toml and
    /// replace built-ins of the same name.
    #[arg(long, env = "ORCHESTRATOR_BLUEPRINTS", hide_env_values = true, value_name = "DIRS", value_delimiter = ':')]
    blueprints: Vec<PathBuf>,
    /// The Kubernetes API server for workspaces, instead of KUBECONFIG or the in-cluster
    /// account (only used when `workspaces.allowed_email_domains` is set).
    #[arg(long, env = "ORCHESTRATOR_KUBE_URL", value_name = "URL")]
    kube_url: Option<String>,
    /// Also run the workspace controller in this process (otherwise run `orchestrator
    /// controller` beside it).
    #[arg(long, env = "ORCHESTRATOR_EMBED_CONTROLLER")]
    controller: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "orchestrator-api stopped");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORCHESTRATOR_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(true)
        .with_span_list(false)
        .init();
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let (home, blueprints) = (args.home.clone(), args.blueprints.clone());
    let config =
        tokio::task::spawn_blocking(move || Config::load(&home, &blueprints, &|name| std::env::var(name).ok()))
            .await??;
    // Interrupted runs finish before the server takes requests: once it listens, every run
    // it knows of is finished or failed, never half-made. Workspaces need a cluster; without
    // one their routes answer 503 and the rest works.
    let start = Start {
        cluster: ClusterUse::WhenConfigured,
        kube_url: args.kube_url.clone(),
        fault: orchestrator_app::fault::from_env(),
        retry_in_background: true,
    };
    let runtime = Arc::new(Runtime::start(config, start).await.context("cannot start")?);
    let background = runtime.background(args.controller);
    let state = AppState::new(Arc::clone(&runtime));
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr().map_or(args.listen.clone(), |a| a.to_string()), "listening");
    if runtime.auth.is_disabled() {
        tracing::warn!(
            "authentication is DISABLED ([auth] disabled, ORCHESTRATOR_AUTH_DISABLED): anyone who can reach this \
             address may create, change and read everything; use this only on a trusted machine"
        );
    }

    let served = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await;
    background.stop().await;
    runtime.close().await;
    served.context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before the server stops.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn blueprints_are_colon_separated_and_added_after_the_config() {
        let dir = std::env::temp_dir().join("orchestrator-api-no-such-home");
        let args = Args::try_parse_from(["orchestrator-api", "--home", dir.to_str().unwrap(), "--blueprints", "/a:/b"])
            .unwrap();
        let config = Config::load(&args.home, &args.blueprints, &|_| None).unwrap();
        assert_eq!(config.blueprint_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
    }
}
