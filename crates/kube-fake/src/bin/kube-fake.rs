//! `kube-fake`: the fake API server as a process, for running cluster tests and tools through
//! a kubeconfig as they would run against a real cluster.
//!
//! It prints its URL on the first line of stdout once it serves (and, with `--kubeconfig`,
//! once that file is written), then serves until SIGINT or SIGTERM.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A fake Kubernetes API server over plain HTTP: the REST semantics of the real one (create,
/// list and watch with selectors, server-side apply, status, finalizers, garbage collection,
/// node ports, CRDs), kept in memory.
#[derive(Debug, Parser)]
#[command(
    name = "kube-fake",
    version,
    after_help = "Example:\n  kube-fake --kubeconfig /tmp/kube-fake.yaml --simulate-deployments &\n  KUBECONFIG=/tmp/kube-fake.yaml kubectl get namespaces"
)]
struct Args {
    /// The address to serve on.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,
    /// Write a kubeconfig whose current context is this server to PATH.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Report Deployments available, as kube-controller-manager would once their pods run.
    #[arg(long)]
    simulate_deployments: bool,
    /// Create this namespace at start (repeatable; `default` always exists).
    #[arg(long = "namespace", value_name = "NAME")]
    namespaces: Vec<String>,
}

/// A kubeconfig with one context, `kube-fake`, for the server at `url` (no credentials).
fn kubeconfig(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-fake\n  cluster:\n    server: {url}\nusers:\n- name: kube-fake\n  user: {{}}\ncontexts:\n- name: kube-fake\n  context:\n    cluster: kube-fake\n    user: kube-fake\n    namespace: default\ncurrent-context: kube-fake\n"
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder =
        kube_fake::FakeApiServer::builder().listen(args.listen).simulate_deployments(args.simulate_deployments);
    for namespace in &args.namespaces {
        builder = builder.namespace(namespace);
    }
    let server = builder.try_start().await?;
    let url = server.url();
    if let Some(path) = &args.kubeconfig {
        // Written whole then renamed: whoever waits for the file never reads half of it.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, kubeconfig(&url)).await?;
        tokio::fs::rename(&partial, path).await?;
    }
    println!("{url}");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    drop(server);
    Ok(())
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
    fn the_kubeconfig_names_the_server() {
        let text = kubeconfig("http://127.0.0.1:4321");
        assert!(text.contains("    server: http://127.0.0.1:4321\n"), "{text}");
        assert!(text.contains("current-context: kube-fake\n"), "{text}");
    }
}
