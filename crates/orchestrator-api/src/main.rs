//! `orchestrator-api`: the HTTP server. Thin: read the configuration, open the application,
//! resume interrupted runs, then serve [`orchestrator_api::router`] until SIGTERM or Ctrl-C.
//!
//! Logs are JSON lines on stderr (filter with `ORCHESTRATOR_LOG`, default `info`); they carry
//! methods, paths and statuses, never request bodies or headers.
//!
//! The connection limits (timeouts, connections, head size) are flags with environment
//! variables; [`orchestrator_api::serve`] enforces them.

use anyhow::Context as _;
use clap::Parser;
use orchestrator_api::{AppState, Limits, router};
use orchestrator_app::{ClusterUse, Config, Runtime, Start};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
    /// How long a client has to send a complete request head (request line and headers),
    /// counted from the connection's opening or, on a kept-alive connection, from the first
    /// byte of the next request. A connection that misses it is closed without an answer:
    /// this stops clients that open connections and send nothing, or a head byte by byte.
    /// Durations read like `10s`, `500ms`, `2m`.
    #[arg(long, env = "ORCHESTRATOR_HEADER_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = duration, help_heading = "Limits")]
    header_timeout: Duration,
    /// How long a whole request body may take to arrive after its head; a late body gets 408
    /// and its connection is closed. This stops bodies that stall or trickle in.
    #[arg(long, env = "ORCHESTRATOR_BODY_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = duration, help_heading = "Limits")]
    body_timeout: Duration,
    /// How long a kept-alive connection may wait between requests before the server closes
    /// it. Keep it longer than the idle timeout of a proxy in front (often 60s), so that the
    /// proxy closes its pooled connections first and never sends a request onto one this
    /// server is closing.
    #[arg(long, env = "ORCHESTRATOR_IDLE_TIMEOUT", value_name = "DURATION", default_value = "75s", value_parser = duration, help_heading = "Limits")]
    idle_timeout: Duration,
    /// Connections served at once. Further connections wait, unaccepted, until one closes;
    /// the timeouts above close those that hold a place for nothing. The process needs this
    /// many file descriptors beyond its own (`ulimit -n`).
    #[arg(long, env = "ORCHESTRATOR_MAX_CONNECTIONS", value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000), help_heading = "Limits")]
    max_connections: u32,
    /// The largest request head (request line and headers) in bytes, answered 431 beyond; at
    /// least 4096. A connection's read buffer is capped at twice this, which bounds the
    /// memory a client can take with huge or half-sent headers.
    #[arg(long, env = "ORCHESTRATOR_MAX_HEADER_BYTES", value_name = "BYTES", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u32).range(orchestrator_api::limits::MIN_HEADER_BYTES as i64..=1024 * 1024), help_heading = "Limits")]
    max_header_bytes: u32,
}

impl Args {
    fn limits(&self) -> Limits {
        Limits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections as usize,
            max_header_bytes: self.max_header_bytes as usize,
        }
    }
}

/// A positive duration such as `10s`, `500ms` or `1m 30s`.
fn duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration =
        text.parse().map_err(|_| format!("{text:?} is not a duration; write it like `10s`, `500ms` or `2m`"))?;
    Duration::try_from(parsed).ok().filter(|d| !d.is_zero()).ok_or_else(|| format!("{text:?} must be longer than zero"))
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
    let limits = args.limits();
    let state = AppState::new(Arc::clone(&runtime)).with_limits(limits);
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

    let served = orchestrator_api::serve::serve(listener, router(state), limits, shutdown_signal()).await;
    background.stop().await;
    runtime.close().await;
    served.context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; requests in flight are then answered before the server stops.
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

    #[test]
    fn the_limits_flags_default_to_the_documented_limits() {
        let args = Args::try_parse_from(["orchestrator-api"]).unwrap();
        assert_eq!(args.limits(), Limits::default());
    }

    #[test]
    fn limits_are_read_from_flags() {
        let args = Args::try_parse_from([
            "orchestrator-api",
            "--header-timeout",
            "500ms",
            "--body-timeout",
            "1m 30s",
            "--idle-timeout",
            "2s",
            "--max-connections",
            "3",
            "--max-header-bytes",
            "4096",
        ])
        .unwrap();
        let limits = args.limits();
        assert_eq!(limits.header_timeout, Duration::from_millis(500));
        assert_eq!(limits.body_timeout, Duration::from_secs(90));
        assert_eq!(limits.idle_timeout, Duration::from_secs(2));
        assert_eq!((limits.max_connections, limits.max_header_bytes), (3, 4096));
    }

    #[test]
    fn bad_limits_are_refused_naming_the_flag() {
        for (flag, value) in [
            ("--header-timeout", "0s"),
            ("--body-timeout", "ten"),
            ("--idle-timeout", "-1s"),
            ("--max-connections", "0"),
            ("--max-header-bytes", "4095"),
        ] {
            let e = Args::try_parse_from(["orchestrator-api".to_owned(), format!("{flag}={value}")]).unwrap_err();
            assert!(e.to_string().contains(flag), "{flag} {value}: {e}");
        }
    }
}
