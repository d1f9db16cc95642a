//! `orchestrator-api`: the HTTP server. Thin: read the configuration, open the application,
//! resume interrupted runs, then serve [`orchestrator_api::router`] until SIGTERM or Ctrl-C.
//!
//! Logs are JSON lines on stderr (filter with `ORCHESTRATOR_LOG`, default `info`); they carry
//! methods, paths and statuses, never request bodies or headers.

use anyhow::Context as _;
use clap::Parser;
use orchestrator_api::{AppState, router};
use orchestrator_app::{App, Config};
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
    let app = App::open(config).await.context("cannot open the application")?;
    let app = match orchestrator_app::fault::from_env() {
        Some(hook) => app.with_fault_hook(hook),
        None => app,
    };
    // Interrupted runs finish before the server takes requests: once it listens, every run
    // it knows of is finished or failed, never half-made.
    for run in app.resume_unfinished().await.context("cannot resume interrupted runs")? {
        tracing::warn!(run = %run, "resumed an interrupted run");
    }
    // Workspaces need a cluster; without one their routes answer 503 and the rest works.
    let client = if app.config().workspaces.allowed_domains.is_some() {
        let client = match &args.kube_url {
            Some(url) => orchestrator_app::cluster::client_for(url),
            None => orchestrator_app::cluster::client().await,
        };
        match client {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::warn!(error = %e, "workspaces are configured but no cluster is reachable");
                None
            }
        }
    } else {
        None
    };
    let app = match &client {
        Some(client) => app.on_cluster(client.clone()),
        None => app,
    };
    let app = Arc::new(app);
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    if let (true, Some(client)) = (args.controller, client) {
        let app = Arc::clone(&app);
        let mut stopped = workers_stopped.clone();
        workers.push(tokio::spawn(async move {
            if let Err(e) = app
                .run_controller(client, async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
            {
                tracing::error!(error = %e, "the workspace controller stopped");
            }
        }));
    } else {
        // E-mails queued by a controller elsewhere (or before a restart) still go out from here.
        match app.dispatcher() {
            Ok(dispatcher) => {
                let mut stopped = workers_stopped.clone();
                workers.push(tokio::spawn(async move {
                    dispatcher
                        .run(async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        })
                        .await;
                }));
            }
            Err(e) => tracing::warn!(error = %e, "e-mail is not delivered from this process"),
        }
    }
    let state = AppState::new(Arc::clone(&app));
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr().map_or(args.listen.clone(), |a| a.to_string()), "listening");

    let served = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await;
    let _ = stop_workers.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    app.close().await;
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
