//! Two clusters sharing one AWS account: the same namespace/name in both is two different
//! owners, told apart by the cluster tag; neither ever touches the other's stream.

use kvs_emulator::Operation;
use kvs_operator::api::{CLUSTER_TAG, OWNER_TAG};
use kvs_operator::engine::conditions::{SYNCED, find};
use kvs_testenv::ControlPlane;

use crate::support::{Harness, OperatorOptions};
use crate::tenancy::camera;

const MUTATIONS: [Operation; 6] = [
    Operation::UpdateStream,
    Operation::UpdateDataRetention,
    Operation::TagStream,
    Operation::UntagStream,
    Operation::DeleteStream,
    Operation::UpdateStreamStorageConfiguration,
];

fn mutations(h: &Harness) -> u64 {
    MUTATIONS
        .iter()
        .map(|op| h.emulator.calls_of(*op).total)
        .sum()
}

#[tokio::test]
async fn two_clusters_with_the_same_namespace_and_name_never_touch_each_others_stream() {
    // Cluster "blue" is the shared control plane; cluster "green" gets its own.
    let h = Harness::without_operator("twins").await;
    let ns = h.namespace.clone();
    let green = ControlPlane::start().await.expect("second control plane");
    green
        .apply_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/crds"))
        .await
        .expect("CRDs");
    green.create_namespace(&ns).await.expect("same namespace");
    let _blue_operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![ns.clone()],
        args: vec!["--cluster-id=blue".into()],
        ..OperatorOptions::default()
    });
    let _green_operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![ns.clone()],
        args: vec!["--cluster-id=green".into()],
        kubeconfig: Some(green.kubeconfig_path().to_path_buf()),
        ..OperatorOptions::default()
    });
    let green_client = green.kube_client().await.expect("client");
    let green_api: kube::Api<kvs_operator::api::VideoStream> =
        kube::Api::namespaced(green_client, &ns);

    let stream = format!("{ns}-cam");
    let manifest = camera("cam", &stream, "");
    h.apply_ok(&manifest).await;
    h.wait_ready("cam").await;
    let created = h.emulator.stream(&stream).expect("blue created it");
    assert_eq!(
        created.tags.get(CLUSTER_TAG).map(String::as_str),
        Some("blue")
    );
    assert_eq!(created.tags.get(OWNER_TAG), Some(&format!("{ns}/cam")));
    h.emulator.reset_calls();

    // Green has a VideoStream with the same namespace and name, asking for a change, and
    // even asking to adopt: it is not green's stream.
    let greedy = camera(
        "cam",
        &stream,
        "  adoptExisting: true\n  dataRetentionInHours: 1\n",
    )
    .replace("  dataRetentionInHours: 24\n", "");
    let applied = green
        .kubectl_with_stdin(["apply", "-n", ns.as_str(), "-f", "-"], greedy.as_str())
        .await
        .expect("kubectl");
    assert!(applied.success(), "{}", applied.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let message = loop {
        let vs = green_api.get("cam").await.expect("get");
        let synced = vs
            .status
            .as_ref()
            .and_then(|s| find(&s.conditions, SYNCED).cloned());
        if let Some(c) = synced.filter(|c| c.reason == "NotOwned") {
            break c.message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "green never reported NotOwned: {vs:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(message.contains("cluster blue"), "{message}");

    // Green deletes its VideoStream (policy Delete): blue's stream stays.
    let deleted = green
        .kubectl(["delete", "vs", "cam", "-n", ns.as_str()])
        .await
        .expect("kubectl");
    assert!(deleted.success(), "{}", deleted.stderr);
    assert_eq!(mutations(&h), 0, "{:?}", h.emulator.calls());
    let kept = h.emulator.stream(&stream).expect("blue's stream lives");
    assert_eq!(kept.stream_arn, created.stream_arn);
    assert_eq!(kept.data_retention_in_hours, 24);

    // Blue still owns and manages it, and deleting blue's VideoStream deletes it.
    h.kubectl(&["delete", "vs", "cam", "-n", &ns]).await;
    h.wait_gone("cam").await;
    h.wait_stream(&stream, "deleted by its owner", |s| s.is_none())
        .await;
}
