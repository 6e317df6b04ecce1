//! One control plane per test binary, shared by its tests.

use std::sync::Once;

use tokio::sync::OnceCell;

use crate::error::{Error, Result};
use crate::node::NodeCluster;
use crate::plane::ControlPlane;

/// The first outcome is kept: once starting failed, every later test fails
/// at once with the same message instead of waiting for its own timeout.
static SHARED: OnceCell<Result<ControlPlane, String>> = OnceCell::const_new();
/// The same for the node cluster, which is separate: its API server runs the controllers
/// (namespaces get deleted, pods run) that the process-only tests must not see.
static SHARED_NODE: OnceCell<Result<NodeCluster, String>> = OnceCell::const_new();

/// The test binary's shared control plane, started by the first caller.
///
/// It holds no runtime-bound state, so tests on different (per-test) tokio
/// runtimes can all use it. Statics are never dropped: it is stopped by an
/// `atexit` hook when the test binary exits normally, and its servers are
/// killed by the kernel if the binary dies any other way (see `process`).
pub async fn shared() -> Result<&'static ControlPlane> {
    let started = SHARED
        .get_or_init(|| async {
            let plane = ControlPlane::start().await.map_err(|e| e.to_string())?;
            stop_at_exit();
            Ok(plane)
        })
        .await;
    started.as_ref().map_err(|e| Error::Shared(e.clone()))
}

/// The test binary's shared [`NodeCluster`], started by the first caller; stopped at
/// exit like [`shared`].
pub async fn shared_node() -> Result<&'static NodeCluster> {
    let started = SHARED_NODE
        .get_or_init(|| async {
            let cluster = NodeCluster::start().await.map_err(|e| e.to_string())?;
            stop_at_exit();
            Ok(cluster)
        })
        .await;
    started.as_ref().map_err(|e| Error::SharedNode(e.clone()))
}

fn stop_at_exit() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain function that neither unwinds nor relies
        // on thread-locals, which is all atexit requires.
        let registered = unsafe { libc::atexit(stop_shared) };
        if registered != 0 {
            tracing::warn!("atexit failed: the shared control plane's files will remain");
        }
    });
}

extern "C" fn stop_shared() {
    if let Some(Ok(cluster)) = SHARED_NODE.get() {
        cluster.shutdown();
    }
    if let Some(Ok(plane)) = SHARED.get() {
        plane.shutdown();
    }
}
