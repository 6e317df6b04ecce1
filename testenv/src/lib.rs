//! A real Kubernetes control plane for tests: etcd and kube-apiserver started
//! the way controller-runtime's envtest does (DESIGN.md §5), from binaries that
//! `hack/control-plane.sh build` compiled from the Go module proxy.
//!
//! ```no_run
//! # async fn demo() -> kvs_testenv::Result<()> {
//! let plane = kvs_testenv::shared().await?; // one per test binary
//! let ns = plane.unique_namespace("create").await?;
//! plane.apply_dir("crds").await?; // waits until the CRDs are Established
//! let out = plane.kubectl(["get", "configmaps", "-n", &ns]).await?.check()?;
//! println!("{}", out.stdout);
//! # Ok(())
//! # }
//! ```
//!
//! There is no controller-manager, scheduler or kubelet: pods never run and
//! deleted namespaces stay Terminating, but CRDs, validation, the status
//! subresource, finalizers, watches, RBAC and server-side apply all work.
//! Missing binaries are an error, never a skip.
//!
//! [`NodeCluster`] (one per test binary: [`shared_node`]) adds them: a real
//! kube-controller-manager and kube-scheduler, and a node with containerd, the
//! kubelet and kube-proxy in namespaces of its own.

mod binaries;
mod client;
mod cluster;
mod commands;
mod error;
mod kubeconfig;
mod node;
mod pki;
mod plane;
mod ports;
pub mod prerequisites;
mod process;
mod ready;
mod shared;
mod workdir;

pub use binaries::{BIN_DIR_ENV, CACHE_DIR_ENV, cache_dir, default_bin_dir};
pub use client::service_account_user;
pub use cluster::NAMESPACE_LABEL;
pub use commands::{Output, run};
pub use error::{Error, Result};
pub use node::{NODE_BIN_DIR_ENV, NODE_NAME, NodeCluster, NodeTools};
pub use plane::{ControlPlane, ControlPlaneBuilder, Pids};
pub use process::Process;
pub use shared::{shared, shared_node};
pub use workdir::process_is_running;
