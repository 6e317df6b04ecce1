//! Per-plane scratch directories, and cleanup of those a crashed run left behind.

use std::path::Path;

use tempfile::TempDir;

use crate::error::{Error, Result};

const PREFIX: &str = "kvs-testenv-";
const OWNER_FILE: &str = "owner.pid";

/// A fresh directory under the system temp dir, tagged with this process's pid.
pub(crate) fn create() -> Result<TempDir> {
    let root = std::env::temp_dir();
    sweep_stale(&root);
    let dir = tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(&root)
        .map_err(|e| Error::io(format!("creating a directory in {}", root.display()), e))?;
    let owner = dir.path().join(OWNER_FILE);
    std::fs::write(&owner, std::process::id().to_string())
        .map_err(|e| Error::io(format!("writing {}", owner.display()), e))?;
    Ok(dir)
}

/// Removes directories whose owning test process is gone: a test binary killed
/// outright takes its children with it (see `process`) but not its files, and
/// etcd preallocates tens of MiB of WAL.
fn sweep_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_string_lossy().starts_with(PREFIX);
        if !is_ours || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        // No owner file yet means another process is still creating it.
        let owner = std::fs::read_to_string(entry.path().join(OWNER_FILE))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok());
        if let Some(pid) = owner
            && !process_is_running(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether `pid` names a live (not zombie) process. Tests use it to prove that
/// tear-down left nothing behind.
pub fn process_is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}
