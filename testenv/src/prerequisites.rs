//! What tests need beside cargo, checked before any of them starts waiting on it: the
//! builds and installs of `hack/prepare.sh`. A test binary that lacks one stops at once
//! with one line that names what is missing and the script that makes it, instead of
//! every test failing in its own way.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::binaries::{Binaries, cache_dir, default_bin_dir};
use crate::node::NodeTools;

/// One thing a test binary needs.
#[derive(Debug, Clone)]
pub enum Need {
    /// etcd, kube-apiserver, kubectl, helm (`hack/control-plane.sh build`).
    ControlPlane,
    /// kubeconform, promtool, the ServiceMonitor and PrometheusRule CRDs
    /// (`hack/tools.sh build`).
    ChartTools,
    /// Argo CD and redis (`hack/argocd.sh build`).
    ArgoCd,
    /// The node mode (`hack/node.sh install`, `hack/node.sh build`).
    Node,
    /// The operator's image of the repository at this path (`hack/image.sh build`), no
    /// older than the sources of its binary.
    OperatorImage(PathBuf),
}

/// The script that `hack/prepare.sh` runs for a need.
fn script(need: &Need) -> &'static str {
    match need {
        Need::ControlPlane => "hack/control-plane.sh build",
        Need::ChartTools => "hack/tools.sh build",
        Need::ArgoCd => "hack/argocd.sh build",
        Need::Node => "hack/node.sh install && hack/node.sh build",
        Need::OperatorImage(_) => "hack/image.sh build",
    }
}

/// What is missing of `needs`, each with the script that makes it.
pub fn missing(needs: &[Need]) -> Vec<String> {
    needs
        .iter()
        .filter_map(|need| {
            let problem = match need {
                Need::ControlPlane => default_bin_dir()
                    .and_then(|dir| Binaries::in_dir(&dir))
                    .err()
                    .map(|_| "the control plane".to_string()),
                // A build made before promtool joined the tools is not enough.
                Need::ChartTools => ["complete", "bin/promtool"]
                    .iter()
                    .any(|file| !chart_tools_dir().join(file).is_file())
                    .then(|| "kubeconform, promtool and the monitoring CRDs".to_string()),
                Need::ArgoCd => {
                    (!argocd_dir().join("complete").is_file()).then(|| "Argo CD".to_string())
                }
                Need::Node => NodeTools::find().err().map(|e| match e {
                    crate::Error::MissingNodeTools { missing } => {
                        format!("the node mode ({})", missing.join(", "))
                    }
                    other => other.to_string(),
                }),
                Need::OperatorImage(repo) => image_problem(repo),
            };
            problem.map(|p| format!("{p} [{}]", script(need)))
        })
        .collect()
}

/// Exits the test binary with one line unless everything in `needs` is there. Checked
/// once per binary; later calls return at once.
pub fn require_or_exit(needs: &[Need]) {
    static CHECKED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let key = format!("{needs:?}");
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if checked.contains(&key) {
        return;
    }
    let missing = missing(needs);
    if !missing.is_empty() {
        // Straight to the process's stderr: the test harness captures what eprintln! writes
        // and drops it when the process exits.
        let _ = writeln!(
            std::io::stderr(),
            "\nkvs-testenv: cannot run these tests without {}: run hack/prepare.sh (it installs and builds all of that; hack/test.sh runs it first)\n",
            missing.join("; ")
        );
        std::process::exit(1);
    }
    checked.push(key);
}

/// `$KVS_TOOLS_DIR`, else the stable link that `hack/tools.sh build` maintains.
pub fn chart_tools_dir() -> PathBuf {
    match std::env::var_os("KVS_TOOLS_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => cache_dir()
            .map(|c| c.join("tools/current"))
            .unwrap_or_else(|_| PathBuf::from("tools/current")),
    }
}

/// The stable link that `hack/argocd.sh build` maintains (`$KVS_CACHE_DIR` honoured).
fn argocd_dir() -> PathBuf {
    cache_dir()
        .map(|c| c.join("argocd/current"))
        .unwrap_or_else(|_| PathBuf::from("argocd/current"))
}

/// What the operator's binary is built from: the root crate (its dev-dependencies, the
/// emulator and testenv, are not in it, though the build context carries them).
const BINARY_SOURCES: [&str; 3] = ["Cargo.toml", "Cargo.lock", "src"];

/// Why the image of `repo` cannot be used, if it cannot: missing, or older than a source
/// of its binary, so it would test stale code.
fn image_problem(repo: &Path) -> Option<String> {
    let archive = repo.join("target/image/kvs-operator.oci.tar");
    let Ok(built) = std::fs::metadata(&archive).and_then(|m| m.modified()) else {
        return Some(format!("the operator image ({})", archive.display()));
    };
    let newer = BINARY_SOURCES
        .iter()
        .find_map(|path| newer_file(&repo.join(path), built));
    newer.map(|path| {
        format!(
            "an operator image as new as the sources ({} changed after {} was built)",
            path.display(),
            archive.display()
        )
    })
}

/// A file at or below `path` modified after `than`.
fn newer_file(path: &Path, than: SystemTime) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_dir() {
        std::fs::read_dir(path)
            .ok()?
            .flatten()
            .find_map(|entry| newer_file(&entry.path(), than))
    } else {
        meta.modified()
            .ok()
            .filter(|m| *m > than)
            .map(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_names_the_script_that_builds_it() {
        let repo = tempfile::tempdir().unwrap();
        let missing = missing(&[Need::OperatorImage(repo.path().to_path_buf())]);
        assert_eq!(missing.len(), 1);
        assert!(missing[0].ends_with("[hack/image.sh build]"), "{missing:?}");
    }

    #[test]
    fn an_image_older_than_its_sources_is_stale() {
        let repo = tempfile::tempdir().unwrap();
        let image = repo.path().join("target/image");
        std::fs::create_dir_all(&image).unwrap();
        std::fs::create_dir(repo.path().join("src")).unwrap();
        std::fs::write(image.join("kvs-operator.oci.tar"), "").unwrap();
        let need = [Need::OperatorImage(repo.path().to_path_buf())];
        assert!(missing(&need).is_empty());
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(repo.path().join("src/main.rs"), "fn main() {}").unwrap();
        let stale = missing(&need);
        assert!(stale[0].contains("src/main.rs changed after"), "{stale:?}");
    }
}
