//! Two replicas with leader election on a real node: the leader's pod is force-deleted
//! during a burst of creates; another pod leads within the lease time, and AWS sees
//! exactly the calls one replica would have made.

use std::time::{Duration, Instant};

use kvs_emulator::Operation;

use super::NodeTest;

/// VideoStreams applied at once.
const BURST: usize = 20;

#[tokio::test]
async fn a_force_deleted_leader_is_replaced_within_the_lease_and_nothing_is_done_twice() {
    let mut test = NodeTest::start().await;
    let release_ns = test.namespace("kvs-failover").await;
    let cameras = test.namespace("failover-cameras").await;
    // A tenth of the quotas: the burst's creates take about four seconds (5/s), so the kill
    // lands in the middle of them. One reconcile at a time: a SIGTERMed leader lets the
    // reconciles in flight finish before it releases the Lease, and one in flight is what a
    // handover within the lease allows for.
    test.install(
        "failover",
        &release_ns,
        "operator: {awsQuotaShare: 0.1, concurrency: 1}\n",
    )
    .await;
    let leader = test.leader(&release_ns).await;
    test.emulator.reset_calls();

    let manifests: Vec<String> = (0..BURST)
        .map(|i| {
            format!(
                "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata: {{name: cam-{i}}}\n\
                 spec: {{streamName: failover-cam-{i}, dataRetentionInHours: 24}}\n"
            )
        })
        .collect();
    let out = test
        .cluster
        .plane()
        .kubectl_with_stdin(
            ["apply", "-n", &cameras, "-f", "-"],
            manifests.join("---\n"),
        )
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}", out.stderr);
    // Mid-burst: some streams exist, others do not yet.
    let deadline = Instant::now() + Duration::from_secs(60);
    while test.emulator.calls_of(Operation::CreateStream).total < 3 {
        assert!(Instant::now() < deadline, "the burst never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = Instant::now();
    test.kubectl_ok(&[
        "delete",
        "pod",
        &leader,
        "-n",
        &release_ns,
        "--force",
        "--grace-period=0",
    ])
    .await;
    let created_by_the_leader = test.emulator.calls_of(Operation::CreateStream).succeeded;
    assert!(
        created_by_the_leader < BURST as u64,
        "the kill landed after the burst: {created_by_the_leader} of {BURST} created"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let successor = loop {
        let holder = test.leader(&release_ns).await;
        if holder != leader {
            break holder;
        }
        assert!(Instant::now() < deadline, "{leader} still leads");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = killed.elapsed();
    // The chart's lease duration in these tests is 4s; followers retry every 0.8s.
    assert!(took <= Duration::from_secs(4 + 2), "handover took {took:?}");
    let pods: Vec<String> = test
        .operator_pods(&release_ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert!(pods.contains(&successor), "{successor} not in {pods:?}");

    for i in 0..BURST {
        test.wait_ready(&cameras, &format!("cam-{i}")).await;
    }
    // One replica makes one CreateStream per stream and no other mutation.
    let calls = test.emulator.calls();
    let creates = calls
        .get(&Operation::CreateStream)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (creates.total, creates.succeeded),
        (BURST as u64, BURST as u64),
        "{calls:#?}"
    );
    for op in Operation::ALL.into_iter().filter(|op| op.is_mutation()) {
        if op != Operation::CreateStream {
            assert!(!calls.contains_key(&op), "{op:?} was called: {calls:#?}");
        }
    }
    assert_eq!(test.emulator.streams().len(), BURST);
    println!(
        "leader {leader} force-deleted after {created_by_the_leader} of {BURST} creates; {successor} led {took:?} later"
    );

    let out = test
        .helm(&[
            "uninstall",
            "failover",
            "--namespace",
            &release_ns,
            "--wait",
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    test.finish().await;
}
