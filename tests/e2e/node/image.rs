//! The image `hack/image.sh` built without Docker is the image the Dockerfile describes:
//! the same USER, ENTRYPOINT and CMD, the builder stage's stripped release binary at the
//! COPY destination, on a distroless/cc-like base; and the kubelet runs it as non-root.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{NodeTest, image_reference};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The value of the last `keyword` instruction of the Dockerfile's final stage.
fn final_stage(keyword: &str) -> String {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let stage = dockerfile.rsplit_once("\nFROM ").expect("a final stage").1;
    stage
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(keyword)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {keyword} in the final stage"))
        .trim()
        .to_string()
}

/// A blob of the OCI layout, by its `sha256:` digest.
fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn json_blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&std::fs::read(blob(layout, digest)).expect("blob")).expect("JSON")
}

/// A directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("kvs-image-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The image's filesystem and runtime bundle, unpacked by umoci (which wrote the layers;
/// GNU tar objects to their missing end-of-archive blocks, as containerd does not).
fn unpack(layout: &Path) -> Scratch {
    let bundle = Scratch::new();
    let target = bundle.path().join("bundle");
    let image = format!("{}:{}", layout.display(), env!("CARGO_PKG_VERSION"));
    let out = Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&target)
        .output()
        .expect("umoci runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bundle
}

#[tokio::test]
async fn the_offline_image_is_the_one_the_dockerfile_describes_and_runs_as_nonroot() {
    let layout = repo().join("target/image/oci");
    let index = json_blob_path(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().expect("manifests");
    assert_eq!(manifests.len(), 1);
    assert_eq!(
        manifests[0]["annotations"]["org.opencontainers.image.ref.name"],
        env!("CARGO_PKG_VERSION")
    );
    let manifest = json_blob(&layout, manifests[0]["digest"].as_str().expect("digest"));
    let config = json_blob(
        &layout,
        manifest["config"]["digest"].as_str().expect("config"),
    );

    // The runtime configuration, as the Dockerfile's final stage states it.
    let exec_form = |v: String| serde_json::from_str::<Value>(&v).expect("exec form");
    assert_eq!(config["config"]["User"], final_stage("USER"));
    assert_eq!(
        config["config"]["Entrypoint"],
        exec_form(final_stage("ENTRYPOINT"))
    );
    assert_eq!(config["config"]["Cmd"], exec_form(final_stage("CMD")));
    assert_eq!(config["os"], "linux");

    // Two layers: the base, then what COPY --from=builder adds.
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 2, "{layers:?}");
    let unpacked = unpack(&layout);
    let bundle = unpacked.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    let copy = final_stage("COPY");
    let destination = copy.rsplit(' ').next().expect("destination");
    let binary = std::fs::read(rootfs.join(destination.trim_start_matches('/'))).expect("binary");
    // The builder's `strip -o /kvs-operator target/release/kvs-operator`, done again here.
    let stripped = unpacked.path().join("stripped");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(repo().join("target/release/kvs-operator"))
        .status()
        .expect("strip runs");
    assert!(status.success());
    let expected = std::fs::read(&stripped).expect("stripped binary");
    assert!(
        binary == expected,
        "the image's {destination} is not the stripped release binary"
    );

    // What a runtime makes of the image: umoci's own runtime bundle for it.
    let runtime: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).expect("config.json"))
            .expect("JSON");
    let (uid, gid) = final_stage("USER")
        .split_once(':')
        .map(|(u, g)| {
            (
                u.parse::<u64>().expect("uid"),
                g.parse::<u64>().expect("gid"),
            )
        })
        .expect("uid:gid");
    assert_eq!(runtime["process"]["user"]["uid"], uid);
    assert_eq!(runtime["process"]["user"]["gid"], gid);
    let mut args = exec_form(final_stage("ENTRYPOINT"));
    args.as_array_mut().expect("array").extend(
        exec_form(final_stage("CMD"))
            .as_array()
            .expect("array")
            .iter()
            .cloned(),
    );
    assert_eq!(runtime["process"]["args"], args);

    // The base: what distroless/cc-debian12 holds.
    for path in [
        "lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/libgcc_s.so.1",
        "lib64/ld-linux-x86-64.so.2",
        "etc/ssl/certs/ca-certificates.crt",
        "usr/share/zoneinfo/UTC",
        "etc/os-release",
    ] {
        assert!(rootfs.join(path).exists(), "no {path} in the base");
    }
    let home = std::fs::metadata(rootfs.join("home/nonroot")).expect("home");
    assert_eq!(
        (home.uid() as u64, home.gid() as u64),
        (uid, gid),
        "the nonroot user's home"
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("passwd");
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with(&format!("nonroot:x:{uid}:{gid}:"))),
        "{passwd}"
    );
    let bundle_pem = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt"))
        .expect("CA bundle");
    let certificates = bundle_pem.matches("BEGIN CERTIFICATE").count();
    assert!(certificates > 100, "{certificates} CA certificates");
    drop(unpacked);

    // The kubelet runs it from containerd under runAsNonRoot without a runAsUser, which
    // it allows only for an image whose USER is numeric and not 0.
    let mut test = NodeTest::start().await;
    let namespace = test.namespace("image").await;
    let pod = format!(
        r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "version"}},
 "spec": {{"restartPolicy": "Never", "automountServiceAccountToken": false,
  "securityContext": {{"runAsNonRoot": true}},
  "containers": [{{"name": "operator", "image": "{image}", "imagePullPolicy": "Never",
   "args": ["--version"],
   "securityContext": {{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
    "capabilities": {{"drop": ["ALL"]}}}}}}]}}}}"#,
        image = image_reference()
    );
    let out = test
        .cluster
        .plane()
        .kubectl_with_stdin(["apply", "-n", &namespace, "-f", "-"], pod)
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}", out.stderr);
    let done = test
        .kubectl(&[
            "wait",
            "-n",
            &namespace,
            "pod/version",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=120s",
        ])
        .await;
    assert!(done.success(), "{}", test.describe_pods(&namespace).await);
    let logs = test
        .kubectl_ok(&["logs", "-n", &namespace, "version"])
        .await;
    assert_eq!(
        logs.trim(),
        format!("kvs-operator {}", env!("CARGO_PKG_VERSION"))
    );
    test.finish().await;
}

fn json_blob_path(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("index.json")).expect("JSON")
}
