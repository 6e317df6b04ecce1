//! Releases: the tree states one version everywhere (Cargo.toml, `kvs-operator --version`,
//! the chart's version and appVersion, the image tag, the CHANGELOG); the previous
//! release's build (hack/prepare.sh) says its own version everywhere too; and
//! `hack/release.sh cut` makes a release of a commit — artifacts and an annotated tag — in
//! a clone of this repository, pushing nothing, and refuses a commit that is not one.

mod releases;

use std::path::PathBuf;
use std::process::Command;

use releases::{ReleaseBuild, cargo_version, chart_field, file_at, repo};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A command's stdout, failing the test unless it succeeds.
fn output(command: &mut Command) -> String {
    let out = command.output().expect("runs");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The section titles (`## [...]`) of a Keep a Changelog file, in order.
fn changelog_sections(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("## ["))
        .filter_map(|rest| rest.split_once(']').map(|(name, _)| name.to_string()))
        .collect()
}

#[test]
fn cargo_the_binary_the_chart_the_image_and_the_changelog_state_one_version() {
    assert_eq!(cargo_version(&read("Cargo.toml")), VERSION);
    let said = output(Command::new(env!("CARGO_BIN_EXE_kvs-operator")).arg("--version"));
    assert_eq!(said.trim(), format!("kvs-operator {VERSION}"));
    let chart = read("charts/kvs-operator/Chart.yaml");
    assert_eq!(
        chart_field(&chart, "version"),
        VERSION,
        "the chart's version"
    );
    assert_eq!(
        chart_field(&chart, "appVersion"),
        VERSION,
        "the chart's appVersion"
    );
    let image = output(
        Command::new("bash")
            .arg(repo().join("hack/image.sh"))
            .arg("ref"),
    );
    assert_eq!(
        image.trim(),
        format!("docker.io/library/kvs-operator:{VERSION}")
    );

    // Between releases the tree is "-dev" and its changes are Unreleased; a release's
    // commit has a section of its own, first.
    let sections = changelog_sections(&read("CHANGELOG.md"));
    let expected = if VERSION.contains('-') {
        "Unreleased"
    } else {
        VERSION
    };
    assert_eq!(
        sections.first().map(String::as_str),
        Some(expected),
        "CHANGELOG.md's first section"
    );
}

#[test]
fn the_previous_release_is_a_release_older_than_the_tree_and_says_its_version_everywhere() {
    let previous = ReleaseBuild::previous();
    let commit = &previous.commit;
    // Its commit's files.
    let version = cargo_version(&file_at(commit, "Cargo.toml"));
    assert_eq!(previous.version, version);
    let chart = file_at(commit, "charts/kvs-operator/Chart.yaml");
    assert_eq!(chart_field(&chart, "version"), version);
    assert_eq!(chart_field(&chart, "appVersion"), version);
    assert!(
        !version.contains('-'),
        "{version} is not a release's version"
    );
    let older = |v: &str| {
        let core = v.split('-').next().unwrap_or_default();
        core.split('.')
            .map(|n| n.parse::<u64>().expect("numeric"))
            .collect::<Vec<_>>()
    };
    assert!(
        older(&version) < older(VERSION),
        "the previous release {version} is not older than the tree's {VERSION}"
    );
    // Its artifacts: the binary, the image's tag, the chart package.
    let said = output(Command::new(previous.binary()).arg("--version"));
    assert_eq!(said.trim(), format!("kvs-operator {version}"));
    let listing = output(Command::new("tar").arg("-tf").arg(previous.image()));
    assert!(
        listing
            .lines()
            .any(|l| l.trim_start_matches("./") == "index.json")
    );
    let index = output(
        Command::new("tar")
            .arg("-xOf")
            .arg(previous.image())
            .arg("./index.json"),
    );
    let index: serde_json::Value = serde_json::from_str(&index).expect("index.json");
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        version.as_str()
    );
    let packaged = output(
        Command::new("tar")
            .arg("-xzOf")
            .arg(previous.chart())
            .arg("kvs-operator/Chart.yaml"),
    );
    assert_eq!(chart_field(&packaged, "version"), version);
    assert_eq!(chart_field(&packaged, "appVersion"), version);
    // The CHANGELOG records it, and a tag of that name, if the clone has one, names it.
    let sections = changelog_sections(&read("CHANGELOG.md"));
    assert!(
        sections.contains(&version),
        "no section [{version}] in CHANGELOG.md"
    );
    let tagged = Command::new("git")
        .current_dir(repo())
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("refs/tags/v{version}^{{commit}}"))
        .output()
        .expect("git runs");
    if tagged.status.success() {
        assert_eq!(String::from_utf8_lossy(&tagged.stdout).trim(), commit);
    }
}

/// A clone of this repository (its committed history: what CI clones) in a fresh directory,
/// removed on drop, with a committer identity for tags.
struct Clone {
    dir: PathBuf,
}

impl Clone {
    fn new(name: &str) -> Clone {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("release-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        output(
            Command::new("git")
                .args(["clone", "--quiet", "--shared"])
                .arg(repo())
                .arg(&dir),
        );
        for (key, value) in [
            ("user.name", "Release Test"),
            ("user.email", "release@example.com"),
        ] {
            output(
                Command::new("git")
                    .current_dir(&dir)
                    .args(["config", key, value]),
            );
        }
        Clone { dir }
    }

    fn git(&self, args: &[&str]) -> String {
        output(Command::new("git").current_dir(&self.dir).args(args))
    }

    /// Replaces the first `from` in the clone's file `path` with `to`.
    fn set_version(&self, path: &str, from: &str, to: &str) {
        let file = self.dir.join(path);
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(text.contains(from), "{path} has no '{from}'");
        std::fs::write(&file, text.replacen(from, to, 1)).expect("write");
    }

    /// This tree's hack/release.sh, run in the clone.
    fn release(&self, args: &[&str]) -> std::process::Output {
        Command::new(repo().join("hack/release.sh"))
            .current_dir(&self.dir)
            .args(args)
            .output()
            .expect("hack/release.sh runs")
    }
}

impl Drop for Clone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn release_cut_tags_a_commit_and_gathers_its_artifacts_without_pushing() {
    let previous = ReleaseBuild::previous();
    let clone = Clone::new("cut");
    let tag = format!("v{}", previous.version);
    // A clone of a repository that already has the tag: start without it here.
    let _ = Command::new("git")
        .current_dir(&clone.dir)
        .args(["tag", "-d", &tag])
        .output();
    let remote_before = clone.git(&["ls-remote", "origin"]);

    let dist = clone.dir.join("dist").join(&tag);
    let out = clone.release(&["cut", &previous.commit]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Nothing was pushed"),
        "{}",
        stderr(&out)
    );

    // An annotated tag on the commit, in the clone only.
    assert_eq!(
        clone
            .git(&["rev-parse", &format!("{tag}^{{commit}}")])
            .trim(),
        previous.commit
    );
    assert_eq!(clone.git(&["cat-file", "-t", &tag]).trim(), "tag");
    assert_eq!(clone.git(&["ls-remote", "origin"]), remote_before);

    // The artifacts, checked against their sums, each the previous release's build.
    let v = &previous.version;
    let names = [
        format!("kvs-operator-{v}.tgz"),
        format!("kvs-operator-{v}.oci.tar"),
        format!("kvs-operator-{v}"),
        format!("crds-{v}.yaml"),
    ];
    output(
        Command::new("sha256sum")
            .current_dir(&dist)
            .args(["--quiet", "-c", "SHA256SUMS"]),
    );
    for name in &names {
        let shipped = std::fs::read(dist.join(name)).expect("artifact");
        let built = std::fs::read(previous.dir.join(name)).expect("build");
        assert!(shipped == built, "{name} differs from the build");
    }
    assert_eq!(previous.crds(), releases::crds_at(&previous.commit));

    // Again: the tag is there already, on the same commit; nothing changes.
    let again = clone.release(&["cut", &previous.commit]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains(&format!("{tag} already names")));
}

#[test]
fn release_cut_refuses_what_is_not_a_release_before_building_anything() {
    let previous = ReleaseBuild::previous();
    let clone = Clone::new("refuse");

    // A commit whose files all say a pre-release version.
    let head = clone.git(&["rev-parse", "HEAD"]);
    let version = cargo_version(&file_at(head.trim(), "Cargo.toml"));
    clone.set_version(
        "Cargo.toml",
        &format!("version = \"{version}\""),
        "version = \"9.9.9-dev\"",
    );
    let chart = "charts/kvs-operator/Chart.yaml";
    clone.set_version(
        chart,
        &format!("\nversion: {version}"),
        "\nversion: 9.9.9-dev",
    );
    clone.set_version(
        chart,
        &format!("appVersion: \"{version}\""),
        "appVersion: \"9.9.9-dev\"",
    );
    clone.git(&["commit", "--quiet", "-am", "9.9.9-dev"]);
    let out = clone.release(&["cut", "HEAD"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is version 9.9.9-dev: a release's version is MAJOR.MINOR.PATCH"),
        "{}",
        stderr(&out)
    );

    // A commit whose files disagree.
    clone.set_version(
        "Cargo.toml",
        "version = \"9.9.9-dev\"",
        "version = \"9.9.9\"",
    );
    clone.git(&["commit", "--quiet", "-am", "only Cargo.toml says 9.9.9"]);
    let out = clone.release(&["cut", "HEAD"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "states different versions: Cargo.toml 9.9.9, Chart.yaml version 9.9.9-dev and appVersion 9.9.9-dev"
        ),
        "{}",
        stderr(&out)
    );

    // The version's tag already names another commit.
    let tag = format!("v{}", previous.version);
    let _ = Command::new("git")
        .current_dir(&clone.dir)
        .args(["tag", "-d", &tag])
        .output();
    clone.git(&["tag", &tag, "HEAD"]);
    let out = clone.release(&["cut", &previous.commit]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("{tag} already names")),
        "{}",
        stderr(&out)
    );
    assert!(
        !clone.dir.join("dist").exists(),
        "a refused release left artifacts"
    );
}
