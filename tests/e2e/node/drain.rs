//! `kubectl drain` of the only node respects the chart's PodDisruptionBudget: one of the
//! two operator pods is evicted, the other is not, and it keeps reconciling.

use super::NodeTest;

#[tokio::test]
async fn draining_the_node_evicts_one_operator_pod_and_no_more() {
    let mut test = NodeTest::start().await;
    let release_ns = test.namespace("kvs-drain").await;
    let cameras = test.namespace("drain-cameras").await;
    test.install("drain", &release_ns, "").await;
    let before = test.operator_pods(&release_ns).await;
    assert_eq!(before.len(), 2);

    let node = kvs_testenv::NODE_NAME;
    let drained = test
        .kubectl(&[
            "drain",
            node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=30s",
        ])
        .await;
    // The second eviction would leave no operator: refused until the budget allows it,
    // which it cannot while the only node is cordoned.
    assert!(
        !drained.success(),
        "drain evicted everything: {}",
        drained.stdout
    );
    assert!(
        drained
            .stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{}",
        drained.stderr
    );
    let pods = test.operator_pods(&release_ns).await;
    let running: Vec<_> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect();
    let pending: Vec<_> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending"))
        .collect();
    assert_eq!(
        (running.len(), pending.len()),
        (1, 1),
        "{}",
        test.describe_pods(&release_ns).await
    );
    let survivor = running[0].metadata.name.clone().expect("name");
    assert!(
        before
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(survivor.as_str())),
        "the survivor is one of the original pods"
    );

    // The one left leads and reconciles.
    test.apply_stream(&cameras, "door", "drain-door", 24).await;
    test.wait_ready(&cameras, "door").await;
    assert_eq!(test.leader(&release_ns).await, survivor);

    test.kubectl_ok(&["uncordon", node]).await;
    test.wait_rollout(&release_ns, &super::deployment_name("drain"))
        .await;
    assert_eq!(test.operator_pods(&release_ns).await.len(), 2);
    let out = test
        .helm(&["uninstall", "drain", "--namespace", &release_ns, "--wait"])
        .await;
    assert!(out.success(), "{}", out.stderr);
    test.finish().await;
}
