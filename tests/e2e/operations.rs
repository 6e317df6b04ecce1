//! Running the operator: metrics and probes, leader election, graceful shutdown.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

use crate::support::{Harness, OperatorOptions};

const CAMERA: &str = "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: cam\nspec:\n  dataRetentionInHours: 1\n";

/// The value of the first sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_and_probes_describe_what_the_operator_did() {
    let h = Harness::start("metrics").await;
    h.operator().wait_ready().await;
    assert_eq!(h.operator().get("/healthz").await.map(|r| r.0), Some(200));

    h.apply_ok(CAMERA).await;
    h.wait_ready("cam").await;
    let (code, text) = h.operator().get("/metrics").await.expect("metrics served");
    assert_eq!(code, 200);

    let expect_at_least = |series: &str, min: f64| {
        let value = sample(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        assert!(value >= min, "{series} = {value}, expected >= {min}");
        value
    };
    expect_at_least("kvs_operator_reconciles_total{outcome=\"success\"}", 2.0);
    let creates = expect_at_least(
        "kvs_operator_aws_calls_total{operation=\"CreateStream\",outcome=\"success\"}",
        1.0,
    );
    assert_eq!(creates, 1.0);
    expect_at_least(
        "kvs_operator_aws_calls_total{operation=\"DescribeStream\",outcome=\"success\"}",
        2.0,
    );
    expect_at_least("kvs_operator_reconcile_duration_seconds_count", 2.0);
    assert_eq!(
        sample(&text, "kvs_operator_streams{aws_status=\"ACTIVE\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "kvs_operator_videostreams_not_ready"),
        Some(0.0)
    );
    assert_eq!(sample(&text, "kvs_operator_leader"), Some(1.0));
    // The emulator saw exactly the calls the operator counted.
    let emulator_creates = h
        .emulator
        .calls_of(kvs_emulator::Operation::CreateStream)
        .total;
    assert_eq!(emulator_creates as f64, creates);
}

fn elected(h: &Harness, identity: &str) -> OperatorOptions {
    OperatorOptions {
        namespaces: vec![h.namespace.clone()],
        args: vec![
            "--leader-elect".into(),
            format!("--leader-election-namespace={}", h.namespace),
            "--leader-election-lease-duration=4s".into(),
        ],
        identity: Some(identity.into()),
        ..OperatorOptions::default()
    }
}

async fn holder(h: &Harness) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.namespace);
    let lease = leases.get_opt("kvs-operator").await.ok()??;
    lease.spec?.holder_identity.filter(|id| !id.is_empty())
}

async fn wait_holder(h: &Harness, identity: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if holder(h).await.as_deref() == Some(identity) {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{identity} did not take the Lease within {within:?}; holder: {:?}",
        holder(h).await
    );
}

/// The reporting instances of all Events on VideoStream `name`.
async fn event_reporters(h: &Harness, name: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(h.client.clone(), &h.namespace);
    let selector = format!("regarding.name={name}");
    let list = events
        .list(&kube::api::ListParams::default().fields(&selector))
        .await
        .expect("events");
    list.items
        .into_iter()
        .filter_map(|e| e.reporting_instance)
        .collect()
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_killed_leader_is_replaced_within_the_lease() {
    let h = Harness::without_operator("leader").await;
    let mut first = h.spawn_operator(&elected(&h, "replica-a"));
    wait_holder(&h, "replica-a", Duration::from_secs(30)).await;
    let second = h.spawn_operator(&elected(&h, "replica-b"));
    second.wait_ready().await;

    h.apply_ok(CAMERA).await;
    h.wait_ready("cam").await;
    let reporters = event_reporters(&h, "cam").await;
    assert!(!reporters.is_empty());
    assert!(reporters.iter().all(|r| r == "replica-a"), "{reporters:?}");
    assert_eq!(holder(&h).await.as_deref(), Some("replica-a"));
    let (_, metrics) = second
        .get("/metrics")
        .await
        .expect("follower serves metrics");
    assert_eq!(sample(&metrics, "kvs_operator_leader"), Some(0.0));
    assert_eq!(
        sample(&metrics, "kvs_operator_reconciles_total"),
        None,
        "the follower never reconciled"
    );

    // A crash: the follower takes over once the Lease has not been renewed for 4s.
    first.kill().await;
    let took = wait_holder(&h, "replica-b", Duration::from_secs(15)).await;
    assert!(took <= Duration::from_secs(4 + 2), "handover took {took:?}");
    h.apply_ok(&CAMERA.replace("dataRetentionInHours: 1", "dataRetentionInHours: 2"))
        .await;
    h.wait_ready("cam").await;
    assert_eq!(h.emulator.stream("cam").unwrap().data_retention_in_hours, 2);
    let reporters = event_reporters(&h, "cam").await;
    assert!(reporters.iter().any(|r| r == "replica-b"), "{reporters:?}");
}

#[tokio::test]
async fn a_terminated_leader_exits_cleanly_and_hands_over_at_once() {
    let h = Harness::without_operator("shutdown").await;
    let mut first = h.spawn_operator(&elected(&h, "replica-a"));
    wait_holder(&h, "replica-a", Duration::from_secs(30)).await;
    let second = h.spawn_operator(&elected(&h, "replica-b"));
    second.wait_ready().await;

    let code = first.terminate().await;
    assert_eq!(code, Some(0), "{}", first.log());
    assert!(
        first.log().contains("released leadership"),
        "{}",
        first.log()
    );
    // Released, so no need to wait the 4s lease out (the follower retries every 0.8s).
    let took = wait_holder(&h, "replica-b", Duration::from_secs(15)).await;
    assert!(took < Duration::from_secs(3), "handover took {took:?}");
}
