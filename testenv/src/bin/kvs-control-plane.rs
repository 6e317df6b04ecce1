//! Runs one control plane until SIGTERM or Ctrl-C: the local demo's Kubernetes.
//!
//!     kvs-control-plane <kubeconfig-path>
//!
//! Writes the admin kubeconfig to the given path once the API server is ready, prints one
//! line, and tears everything down on the signal.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(kubeconfig) = std::env::args_os().nth(1) else {
        eprintln!("usage: kvs-control-plane <kubeconfig-path>");
        return ExitCode::FAILURE;
    };
    let plane = match kvs_testenv::ControlPlane::start().await {
        Ok(plane) => plane,
        Err(error) => {
            eprintln!("kvs-control-plane: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::copy(plane.kubeconfig_path(), &kubeconfig) {
        eprintln!("kvs-control-plane: cannot write the kubeconfig: {error}");
        return ExitCode::FAILURE;
    }
    println!(
        "kvs-control-plane ready: {} (kubeconfig {})",
        plane.server_url(),
        std::path::Path::new(&kubeconfig).display()
    );
    wait_for_signal().await;
    drop(plane);
    ExitCode::SUCCESS
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
