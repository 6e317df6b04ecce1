//! Runs one control plane until SIGTERM or Ctrl-C: the local demo's Kubernetes.
//!
//!     kvs-control-plane <kubeconfig-path>
//!     kvs-control-plane --node [--env-file PATH] [--import ARCHIVE=REFERENCE]... <kubeconfig-path>
//!
//! Writes the admin kubeconfig to the given path once the API server is ready, prints one
//! line, and tears everything down on the signal. With `--node` it runs a one-node
//! cluster (testenv's NodeCluster), imports each OCI archive into the node's containerd
//! under REFERENCE (`name:tag`, the tag being the archive's), and writes what scripts need
//! to know about the node to the env file (HOST_ADDRESS: where pods reach this machine;
//! NODE_DIR: configuration and logs).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kvs_testenv::{ControlPlane, NodeCluster};

/// What the command line asks for.
#[derive(Debug, Default)]
struct Options {
    node: bool,
    env_file: Option<PathBuf>,
    imports: Vec<(PathBuf, String)>,
    kubeconfig: Option<PathBuf>,
}

const USAGE: &str = "usage: kvs-control-plane [--node [--env-file PATH] [--import ARCHIVE=REFERENCE]...] <kubeconfig-path>";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--node" => options.node = true,
            "--env-file" => options.env_file = Some(args.next().ok_or(USAGE)?.into()),
            "--import" => {
                let value = args.next().ok_or(USAGE)?;
                let (archive, reference) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--import {value}: expected ARCHIVE=REFERENCE"))?;
                options
                    .imports
                    .push((archive.into(), reference.to_string()));
            }
            other if other.starts_with("--") => {
                return Err(format!("unknown flag {other}\n{USAGE}"));
            }
            path if options.kubeconfig.is_none() => options.kubeconfig = Some(path.into()),
            _ => return Err(USAGE.to_string()),
        }
    }
    if options.kubeconfig.is_none() {
        return Err(USAGE.to_string());
    }
    if !options.node && (options.env_file.is_some() || !options.imports.is_empty()) {
        return Err(format!("--env-file and --import need --node\n{USAGE}"));
    }
    Ok(options)
}

/// What runs: a plane, or a plane with a node.
enum Cluster {
    Plane(Box<ControlPlane>),
    Node(Box<NodeCluster>),
}

impl Cluster {
    fn plane(&self) -> &ControlPlane {
        match self {
            Cluster::Plane(plane) => plane,
            Cluster::Node(cluster) => cluster.plane(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kvs-control-plane: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    let cluster = if options.node {
        Cluster::Node(Box::new(
            NodeCluster::start().await.map_err(|e| e.to_string())?,
        ))
    } else {
        Cluster::Plane(Box::new(
            ControlPlane::start().await.map_err(|e| e.to_string())?,
        ))
    };
    if let Cluster::Node(node) = &cluster {
        for (archive, reference) in &options.imports {
            let base = reference
                .rsplit_once(':')
                .map_or(reference.as_str(), |(b, _)| b);
            node.import_image(archive, base, reference)
                .await
                .map_err(|e| format!("importing {}: {e}", archive.display()))?;
        }
        if let Some(env_file) = &options.env_file {
            write_env(env_file, node)
                .map_err(|e| format!("writing {}: {e}", env_file.display()))?;
        }
    }
    let kubeconfig = options.kubeconfig.expect("checked by parse");
    std::fs::copy(cluster.plane().kubeconfig_path(), &kubeconfig)
        .map_err(|e| format!("cannot write the kubeconfig: {e}"))?;
    println!(
        "kvs-control-plane ready: {} (kubeconfig {})",
        cluster.plane().server_url(),
        Path::new(&kubeconfig).display()
    );
    wait_for_signal().await;
    drop(cluster);
    Ok(())
}

fn write_env(path: &Path, node: &NodeCluster) -> std::io::Result<()> {
    std::fs::write(
        path,
        format!(
            "HOST_ADDRESS={}\nNODE_DIR={}\n",
            node.host_address(),
            node.dir().display()
        ),
    )
}

async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Options, String> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn the_node_mode_takes_imports_and_an_env_file() {
        let options = args("--node --env-file e --import a.tar=x/y:1 k").unwrap();
        assert!(options.node);
        assert_eq!(options.env_file.as_deref(), Some(Path::new("e")));
        assert_eq!(
            options.imports,
            [(PathBuf::from("a.tar"), "x/y:1".to_string())]
        );
        assert_eq!(options.kubeconfig.as_deref(), Some(Path::new("k")));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert!(args("").is_err());
        assert!(args("--import a.tar=x:1 k").is_err());
        assert!(args("--node --import a.tar k").is_err());
        assert!(args("--nod k").is_err());
    }
}
