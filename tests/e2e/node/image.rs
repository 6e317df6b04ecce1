//! The image `hack/image.sh` built without Docker is the image the Dockerfile describes:
//! the same USER, ENTRYPOINT and CMD, the builder stage's stripped release binary at the
//! COPY destination, on a distroless/cc-like base; and the kubelet runs it as non-root.

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
        .filter_map(|line| line.strip_prefix(keyword)?.strip_prefix(' '))
        .last()
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

/// `tar` over a gzipped layer: its listing, or one file's bytes.
fn layer(path: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(path)
        .args(args)
        .output()
        .expect("tar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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
    let copy = final_stage("COPY");
    let destination = copy.rsplit(' ').next().expect("destination");
    let binary = layer(
        &blob(&layout, layers[1]["digest"].as_str().expect("digest")),
        &["-O", destination.trim_start_matches('/')],
    );
    // The builder's `strip -o /kvs-operator target/release/kvs-operator`, done again here.
    let stripped =
        std::env::temp_dir().join(format!("kvs-operator-stripped-{}", std::process::id()));
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(repo().join("target/release/kvs-operator"))
        .status()
        .expect("strip runs");
    assert!(status.success());
    let expected = std::fs::read(&stripped).expect("stripped binary");
    let _ = std::fs::remove_file(&stripped);
    assert!(
        binary == expected,
        "the image's {destination} is not the stripped release binary"
    );

    // The base: what distroless/cc-debian12 holds.
    let base = blob(&layout, layers[0]["digest"].as_str().expect("digest"));
    let listing = String::from_utf8(layer(&base, &["-tv"])).expect("listing");
    for path in [
        "./lib/x86_64-linux-gnu/libc.so.6",
        "./lib/x86_64-linux-gnu/libgcc_s.so.1",
        "./lib64/ld-linux-x86-64.so.2",
        "./etc/ssl/certs/ca-certificates.crt",
        "./usr/share/zoneinfo/UTC",
        "./etc/os-release",
    ] {
        assert!(
            listing.lines().any(|l| l.contains(path)),
            "no {path} in the base"
        );
    }
    assert!(
        listing
            .lines()
            .any(|l| l.contains("65532/65532") && l.ends_with("./home/nonroot/")),
        "no home of the nonroot user"
    );
    let passwd = String::from_utf8(layer(&base, &["-O", "./etc/passwd"])).expect("passwd");
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    let bundle = layer(&base, &["-O", "./etc/ssl/certs/ca-certificates.crt"]);
    let certificates = String::from_utf8_lossy(&bundle)
        .matches("BEGIN CERTIFICATE")
        .count();
    assert!(certificates > 100, "{certificates} CA certificates");

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
