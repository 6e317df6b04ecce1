//! What the node mode runs, and where it is found: the kubelet & co. that
//! `hack/control-plane.sh build-node` built, the pause image of `hack/node.sh build`,
//! and Debian's containerd, runc, CNI plugins and iptables (`hack/node.sh install`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::binaries::cache_dir;
use crate::error::{Error, Result};

/// Overrides the directory holding kubelet, kube-controller-manager, kube-scheduler and
/// kube-proxy.
pub const NODE_BIN_DIR_ENV: &str = "KVS_TESTENV_NODE_BIN_DIR";

const NODE_BINARIES: [&str; 4] = [
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
];

/// Debian's packages: what hack/node.sh install provides, by path.
const SYSTEM_FILES: [&str; 9] = [
    "/usr/bin/containerd",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/ctr",
    "/usr/sbin/runc",
    "/usr/sbin/iptables",
    "/usr/lib/cni/bridge",
    "/usr/lib/cni/host-local",
    "/usr/lib/cni/loopback",
    "/usr/bin/unshare",
];

/// The verified tools of the node mode.
#[derive(Debug, Clone)]
pub struct NodeTools {
    /// kubelet, kube-controller-manager, kube-scheduler, kube-proxy.
    pub bin_dir: PathBuf,
    /// The pause image, an OCI archive.
    pub pause_tar: PathBuf,
    /// Its name in containerd.
    pub pause_ref: String,
}

impl NodeTools {
    /// Finds everything, or fails naming all that is missing and the scripts that make it.
    pub fn find() -> Result<NodeTools> {
        let bin_dir = match std::env::var_os(NODE_BIN_DIR_ENV).filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => cache_dir()?.join("control-plane/node-bin"),
        };
        let pause_dir = cache_dir()?.join("node/current");
        let mut missing = Vec::new();
        for name in NODE_BINARIES {
            if !is_executable(&bin_dir.join(name)) {
                missing.push(name.to_string());
            }
        }
        if !pause_dir.join("complete").is_file() {
            missing.push("the pause image".to_string());
        }
        for file in SYSTEM_FILES {
            if !is_executable(Path::new(file)) {
                missing.push(file.to_string());
            }
        }
        if !missing.is_empty() {
            return Err(Error::MissingNodeTools { missing });
        }
        let pause_ref = std::fs::read_to_string(pause_dir.join("pause.ref"))
            .map_err(|e| Error::io(format!("reading {}/pause.ref", pause_dir.display()), e))?;
        Ok(NodeTools {
            bin_dir,
            pause_tar: pause_dir.join("pause.oci.tar"),
            pause_ref: pause_ref.trim().to_string(),
        })
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
