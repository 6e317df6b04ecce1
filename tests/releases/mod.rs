//! Releases as the tests see them: the previous release that hack/release.env names, what
//! a commit's files say its version is, and a release's artifacts as `hack/release.sh
//! build` caches them (chart package, image, binary, CRDs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The commit hack/release.env names as the previous release.
pub fn previous_commit() -> String {
    let text = std::fs::read_to_string(repo().join("hack/release.env")).expect("hack/release.env");
    let commit = text
        .lines()
        .find_map(|line| line.strip_prefix("PREVIOUS_RELEASE="))
        .expect("PREVIOUS_RELEASE in hack/release.env")
        .trim()
        .to_string();
    assert!(
        commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "hack/release.env: PREVIOUS_RELEASE must be a full commit hash, not '{commit}'"
    );
    commit
}

/// `git` in this repository; its stdout, failing the test with its stderr otherwise.
pub fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo())
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A file of `commit` (`git show commit:path`).
pub fn file_at(commit: &str, path: &str) -> String {
    git(&["show", &format!("{commit}:{path}")])
}

/// The crate version in a Cargo.toml's `[workspace.package]` (the one line the tests read;
/// the crate has no TOML parser).
pub fn cargo_version(cargo_toml: &str) -> String {
    let mut in_table = false;
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
        } else if in_table && let Some(value) = line.strip_prefix("version") {
            let value = value.trim_start().strip_prefix('=').expect("version =");
            return value.trim().trim_matches('"').to_string();
        }
    }
    panic!("no version in Cargo.toml's [workspace.package]")
}

/// A field of a Chart.yaml (`version`, `appVersion`).
pub fn chart_field(chart_yaml: &str, field: &str) -> String {
    let chart: serde_json::Value = serde_yaml_ng::from_str(chart_yaml).expect("Chart.yaml");
    chart[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in Chart.yaml"))
        .to_string()
}

/// Every generated CRD of `commit` (its `crds/`), as one YAML text.
pub fn crds_at(commit: &str) -> String {
    let listing = git(&["ls-tree", "--name-only", &format!("{commit}:crds")]);
    listing
        .lines()
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| file_at(commit, &format!("crds/{name}")))
        .collect()
}

/// A release's artifacts, as `hack/release.sh build COMMIT` caches them.
pub struct ReleaseBuild {
    pub commit: String,
    pub version: String,
    pub dir: PathBuf,
}

impl ReleaseBuild {
    /// The cached build of `commit`; fails the test naming the script that makes it.
    pub fn of(commit: &str) -> ReleaseBuild {
        let dir = kvs_testenv::cache_dir()
            .expect("cache dir")
            .join("releases")
            .join(commit);
        let complete = std::fs::read_to_string(dir.join("complete")).unwrap_or_default();
        assert!(
            complete.starts_with("revision "),
            "no build of {commit} in {}: run hack/prepare.sh (hack/release.sh previous builds it)",
            dir.display()
        );
        let version = std::fs::read_to_string(dir.join("version"))
            .expect("version")
            .trim()
            .to_string();
        ReleaseBuild {
            commit: commit.to_string(),
            version,
            dir,
        }
    }

    /// The previous release's build.
    pub fn previous() -> ReleaseBuild {
        ReleaseBuild::of(&previous_commit())
    }

    /// The chart package (`helm package`).
    pub fn chart(&self) -> PathBuf {
        self.dir.join(format!("kvs-operator-{}.tgz", self.version))
    }

    /// The image (an OCI layout in a tar, tagged with the version).
    pub fn image(&self) -> PathBuf {
        self.dir
            .join(format!("kvs-operator-{}.oci.tar", self.version))
    }

    /// The image's binary.
    pub fn binary(&self) -> PathBuf {
        self.dir.join(format!("kvs-operator-{}", self.version))
    }

    /// The release's CRDs, as one YAML text.
    pub fn crds(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("crds-{}.yaml", self.version)))
            .expect("the release's CRDs")
    }

    /// The image's name in containerd, as the release's chart asks for it.
    pub fn image_reference(&self) -> String {
        format!("docker.io/library/kvs-operator:{}", self.version)
    }
}
