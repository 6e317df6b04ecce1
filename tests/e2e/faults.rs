//! A failing AWS, as users meet it, injected at the emulator: an outage (every call a 500),
//! calls slower than `--aws-call-timeout`, throttling, and STS sessions that expire. Each is
//! reported in `Synced` with its reason and a Warning Event, retried with backoff, and
//! followed by `Recovered` once AWS answers again; nothing is lost or applied twice.

use std::time::{Duration, Instant};

use kvs_emulator::Operation;
use kvs_operator::api::VideoStream;
use kvs_operator::engine::conditions::{READY, SYNCED, find};

use crate::support::{Harness, OperatorOptions, stream_manifest};
use crate::tenancy::wait_binding_ready;

fn camera(retention: u32) -> String {
    stream_manifest(
        "cam",
        &format!("  deviceName: cam-01\n  dataRetentionInHours: {retention}\n"),
    )
}

fn synced(vs: &VideoStream) -> (String, String, String) {
    let c = find(&vs.status.as_ref().unwrap().conditions, SYNCED).unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// Watches the operator's count of reconciles that failed with `reason` until it has
/// counted `count` of them, and returns when each was first seen.
async fn failures(h: &Harness, reason: &str, count: usize) -> Vec<Instant> {
    let mut seen: Vec<Instant> = Vec::new();
    let mut last = 0.0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} failures seen",
            seen.len()
        );
        let now = h
            .operator()
            .metric("kvs_operator_reconciles_total", &[("outcome", reason)])
            .await;
        if now > last {
            seen.push(Instant::now());
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test]
async fn an_aws_outage_is_reported_retried_with_backoff_and_recovered_from() {
    let h = Harness::start("outage").await;
    h.apply_ok(&camera(24)).await;
    h.wait_ready("cam").await;

    // Every call fails with a 500 while a spec change waits to be applied.
    h.emulator.set_error_rate(1.0).expect("fault");
    let mark = h.log_mark();
    h.apply_ok(&camera(36)).await;
    let vs = h.wait_synced_reason("cam", "AWSUnavailable").await;
    let (status, _, message) = synced(&vs);
    assert_eq!(status, "False");
    assert!(message.contains("InternalFailure"), "{message}");
    let (kind, _) = h.wait_event("cam", "AWSUnavailable").await;
    assert_eq!(kind, "Warning");
    let ready = find(&vs.status.as_ref().unwrap().conditions, READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Progressing"),
        "the new generation is not applied, and kstatus must not think so"
    );

    // Backoff: the gaps between failed reconciles grow (1 s, 2 s, 4 s, 8 s, ±10%, each
    // plus up to 3 s of the SDK's own retries), instead of one per poll interval (300 ms).
    let seen = failures(&h, "AWSUnavailable", 5).await;
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[3] > gaps[0] + Duration::from_secs(2),
        "the retries back off: gaps {gaps:?}"
    );
    assert_eq!(
        h.emulator.stream("cam").unwrap().data_retention_in_hours,
        24
    );

    // AWS answers again: the change is applied once, and the recovery is announced.
    h.emulator.set_error_rate(0.0).expect("fault cleared");
    h.wait_ready("cam").await;
    assert_eq!(
        h.emulator.stream("cam").unwrap().data_retention_in_hours,
        36
    );
    let (kind, _) = h.wait_event("cam", "Recovered").await;
    assert_eq!(kind, "Normal");
    let increases = h
        .emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| r.operation == Operation::UpdateDataRetention && r.succeeded())
        .count();
    assert_eq!(increases, 1, "applied exactly once");
}

#[tokio::test]
async fn a_call_slower_than_the_aws_call_timeout_is_given_up_and_retried() {
    let h = Harness::without_operator("timeout").await;
    let _operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![h.namespace.clone()],
        args: vec!["--aws-call-timeout=1s".into()],
        ..OperatorOptions::default()
    });
    h.apply_ok(&camera(24)).await;
    h.wait_ready("cam").await;
    // Slower than the timeout, retries included.
    h.emulator.set_latency(Duration::from_secs(3));
    h.apply_ok(&camera(48)).await;
    let vs = h.wait_synced_reason("cam", "AWSUnavailable").await;
    let (_, _, message) = synced(&vs);
    assert!(message.to_lowercase().contains("timeout"), "{message}");
    h.emulator.set_latency(Duration::ZERO);
    h.wait_ready("cam").await;
    assert_eq!(
        h.emulator.stream("cam").unwrap().data_retention_in_hours,
        48
    );
    h.wait_event("cam", "Recovered").await;
}

#[tokio::test]
async fn throttling_is_reported_as_such_and_the_change_lands_once_the_quota_allows() {
    let h = Harness::start("throttled").await;
    h.apply_ok(&camera(24)).await;
    h.wait_ready("cam").await;
    h.emulator
        .set_account_quota(Operation::UpdateDataRetention, 0);
    h.apply_ok(&camera(72)).await;
    let vs = h.wait_synced_reason("cam", "Throttled").await;
    let (_, _, message) = synced(&vs);
    assert!(message.contains("UpdateDataRetention"), "{message}");
    h.emulator
        .set_account_quota(Operation::UpdateDataRetention, 50);
    h.wait_ready("cam").await;
    assert_eq!(
        h.emulator.stream("cam").unwrap().data_retention_in_hours,
        72
    );
    h.wait_event("cam", "Recovered").await;
}

#[tokio::test]
async fn an_expiring_sts_session_is_renewed_with_no_failed_reconcile() {
    let h = Harness::start("sessions").await;
    let ns = h.namespace.clone();
    // Sessions of assumed roles last three seconds.
    h.emulator
        .update_settings(|s| s.sts.session_lifetime = Some(Duration::from_secs(3)))
        .expect("settings");
    let name = format!("{ns}-short");
    let bound = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {name}\nspec:\n  namespaces: [{ns}]\n  streamNamePrefixes: [\"{ns}-\"]\n  roleARN: arn:aws:iam::111111111111:role/short-sessions\n"
    );
    h.apply_cluster_ok(&bound).await;
    wait_binding_ready(&h, &name).await;
    let cam = |retention: u32| {
        stream_manifest(
            "cam",
            &format!("  streamName: {ns}-cam\n  dataRetentionInHours: {retention}\n"),
        )
    };
    h.apply_ok(&cam(10)).await;
    h.wait_ready("cam").await;

    // Spec changes across several session lifetimes: each is applied with a fresh session.
    for retention in [11, 12, 13, 14] {
        tokio::time::sleep(Duration::from_secs(4)).await;
        h.apply_ok(&cam(retention)).await;
        h.wait_ready("cam").await;
        assert_eq!(
            h.emulator
                .stream_in("111111111111", h.emulator.region(), &format!("{ns}-cam"))
                .unwrap()
                .data_retention_in_hours,
            retention
        );
    }
    let assumed = h.emulator.calls_of(Operation::AssumeRole).succeeded;
    assert!(assumed >= 4, "sessions were renewed: {assumed} AssumeRole");
    let expired: u64 = h
        .emulator
        .calls()
        .into_values()
        .map(|calls| calls.errors_of("ExpiredTokenException"))
        .sum();
    assert_eq!(expired, 0, "no call went out with an expired session");
    let failed = h
        .operator()
        .metric("kvs_operator_reconciles_total", &[])
        .await
        - h.operator()
            .metric("kvs_operator_reconciles_total", &[("outcome", "success")])
            .await;
    assert_eq!(failed, 0.0, "no reconcile failed");
}
