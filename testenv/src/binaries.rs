//! Where the binaries built by `hack/control-plane.sh build` are found.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Overrides the directory holding etcd, kube-apiserver, kubectl and helm.
pub const BIN_DIR_ENV: &str = "KVS_TESTENV_BIN_DIR";
/// The cache root shared with `hack/control-plane.sh`.
pub const CACHE_DIR_ENV: &str = "KVS_CACHE_DIR";

const REQUIRED: [&str; 4] = ["etcd", "kube-apiserver", "kubectl", "helm"];

/// The bin directory tests use: `$KVS_TESTENV_BIN_DIR`, else the stable link that
/// `hack/control-plane.sh build` maintains. It is not checked here.
pub fn default_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(cache_dir()?.join("control-plane/bin"))
}

/// `$KVS_CACHE_DIR`, else `~/.cache/kvs-operator`: where the hack/ scripts build into.
pub fn cache_dir() -> Result<PathBuf> {
    match std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        // $HOME, as in the shell scripts, so both agree on the path.
        None => std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .map(|home| PathBuf::from(home).join(".cache/kvs-operator"))
            .ok_or(Error::NoCacheDir),
    }
}

/// A verified directory holding all four binaries.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Fails with [`Error::MissingBinary`] naming the build command if any is absent.
    pub(crate) fn in_dir(dir: &Path) -> Result<Self> {
        for name in REQUIRED {
            let path = dir.join(name);
            let executable = std::fs::metadata(&path)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false);
            if !executable {
                return Err(Error::MissingBinary { path });
            }
        }
        Ok(Binaries {
            dir: dir.to_path_buf(),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}
