//! Fitting into the platform, on the real node with the chart's defaults: a pod reads a
//! VideoStream's coordinates with `envFrom` from the ConfigMap its `exportTo` names (the
//! node tests' printenv image prints what the kubelet gave it), and `kubectl delete
//! namespace` of a namespace under deletion protection leaves its VideoStreams and their
//! video in place — the namespace controller's deletes are refused by the chart's policy,
//! and the namespace, stuck Terminating, says why in its conditions — until the annotation
//! is removed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::Api;
use kvs_emulator::Operation;
use kvs_operator::api::{DELETION_PROTECTION_ANNOTATION, VideoStream};
use tokio::sync::OnceCell;

use super::NodeTest;

const WAIT: Duration = Duration::from_secs(180);

/// The printenv image `hack/node.sh build` made, imported into the node once.
async fn printenv_image(test: &NodeTest) -> String {
    static IMPORTED: OnceCell<String> = OnceCell::const_new();
    IMPORTED
        .get_or_init(|| async {
            let dir = kvs_testenv::cache_dir()
                .expect("cache dir")
                .join("node/current");
            let reference = std::fs::read_to_string(dir.join("printenv.ref"))
                .expect("the printenv image (hack/node.sh build)")
                .trim()
                .to_string();
            let base = reference.rsplit_once(':').expect("tag").0;
            test.cluster
                .import_image(&dir.join("printenv.oci.tar"), base, &reference)
                .await
                .expect("the printenv image imports");
            reference
        })
        .await
        .clone()
}

async fn apply(test: &NodeTest, namespace: &str, yaml: String) {
    let out = test
        .cluster
        .plane()
        .kubectl_with_stdin(["apply", "-n", namespace, "-f", "-"], yaml)
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
}

async fn wait<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_pod_reads_a_videostreams_coordinates_with_env_from() {
    let mut test = NodeTest::start().await;
    let release_ns = test.namespace("kvs-exports").await;
    let apps = test.namespace("apps").await;
    test.install("exports", &release_ns, "").await;
    let image = printenv_image(&test).await;
    apply(
        &test,
        &apps,
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata: {name: door}\n\
         spec: {streamName: node-export-door, dataRetentionInHours: 24, exportTo: {configMapName: door-kvs}}\n"
            .to_string(),
    )
    .await;
    let vs = test.wait_ready(&apps, "door").await;
    let arn = vs.status.and_then(|s| s.stream_arn).expect("ARN");
    let configmaps: Api<ConfigMap> = Api::namespaced(test.client.clone(), &apps);
    let exported: BTreeMap<String, String> = wait("exported", async || {
        let data = configmaps.get_opt("door-kvs").await.ok()??.data?;
        (data.get("STREAM_ARN") == Some(&arn)).then_some(data)
    })
    .await;
    assert_eq!(exported.len(), 5, "{exported:?}");

    // A workload as a platform team writes it: the coordinates through envFrom.
    apply(
        &test,
        &apps,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: producer}}\nspec:\n  restartPolicy: Never\n  \
             containers:\n  - name: producer\n    image: {image}\n    imagePullPolicy: Never\n    \
             envFrom: [{{configMapRef: {{name: door-kvs}}}}]\n    \
             securityContext: {{runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
        ),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(test.client.clone(), &apps);
    wait("Succeeded", async || {
        let pod = pods.get_opt("producer").await.ok()??;
        let phase = pod.status?.phase?;
        assert_ne!(phase, "Failed", "the producer pod failed");
        (phase == "Succeeded").then_some(())
    })
    .await;
    let logs = test.kubectl_ok(&["logs", "producer", "-n", &apps]).await;
    let printed: BTreeMap<&str, &str> = logs
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    for (key, value) in &exported {
        assert_eq!(
            printed.get(key.as_str()),
            Some(&value.as_str()),
            "{key} in\n{logs}"
        );
    }
    assert_eq!(printed["STREAM_NAME"], "node-export-door");
    assert_eq!(printed["AWS_REGION"], test.emulator.region());
    test.finish().await;
}

#[tokio::test]
async fn deleting_a_protected_namespace_keeps_its_streams_and_says_why() {
    let mut test = NodeTest::start().await;
    let release_ns = test.namespace("kvs-protect").await;
    let vault = test.namespace("vault").await;
    test.install("protect", &release_ns, "").await;
    test.apply_stream(&vault, "archive", "node-vault-archive", 720)
        .await;
    test.wait_ready(&vault, "archive").await;
    let before = test.emulator.stream("node-vault-archive").expect("created");
    test.kubectl_ok(&[
        "annotate",
        "namespace",
        &vault,
        &format!("{DELETION_PROTECTION_ANNOTATION}=true"),
    ])
    .await;
    // The policy reaches the API server's admission in a moment; a dry run tells when.
    wait("refusing the delete", async || {
        let out = test
            .kubectl(&[
                "delete",
                "videostream",
                "archive",
                "-n",
                &vault,
                "--dry-run=server",
            ])
            .await;
        (!out.success()).then_some(())
    })
    .await;

    test.kubectl_ok(&["delete", "namespace", &vault, "--wait=false"])
        .await;
    let namespaces: Api<Namespace> = Api::all(test.client.clone());
    let failure = wait("saying why it is stuck", async || {
        let ns = namespaces.get_opt(&vault).await.ok()??;
        ns.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "NamespaceDeletionContentFailure" && c.status == "True")
            .and_then(|c| c.message)
    })
    .await;
    assert!(
        failure.contains(DELETION_PROTECTION_ANNOTATION)
            && failure.contains(&format!("VideoStream {vault}/archive")),
        "{failure}"
    );
    let ns = namespaces.get(&vault).await.expect("still there");
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    // The VideoStream was never deleted, so neither was its stream or its video.
    let streams: Api<VideoStream> = Api::namespaced(test.client.clone(), &vault);
    let archive = streams.get("archive").await.expect("still there");
    assert!(archive.metadata.deletion_timestamp.is_none());
    let after = test.emulator.stream("node-vault-archive").expect("kept");
    assert_eq!(
        (after.stream_arn.as_str(), after.data_retention_in_hours),
        (before.stream_arn.as_str(), 720)
    );
    assert_eq!(test.emulator.calls_of(Operation::DeleteStream).total, 0);

    // The deliberate step: the annotation removed, the namespace goes, and with it the
    // VideoStream and (deletionPolicy Delete) the stream.
    test.kubectl_ok(&[
        "annotate",
        "namespace",
        &vault,
        &format!("{DELETION_PROTECTION_ANNOTATION}-"),
    ])
    .await;
    test.kubectl_ok(&[
        "wait",
        "--for=delete",
        &format!("namespace/{vault}"),
        "--timeout=300s",
    ])
    .await;
    assert!(test.emulator.stream("node-vault-archive").is_none());
    test.finish().await;
}
