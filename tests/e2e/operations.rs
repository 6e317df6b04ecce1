//! Running the operator: metrics and probes, leader election, graceful shutdown.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

use kvs_emulator::{CallRecord, Operation};

use crate::proxy::BlackHoleProxy;
use crate::support::{Harness, OperatorOptions, sdk_client};

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
    expect_at_least(
        "kvs_operator_reconciles_total{kind=\"VideoStream\",outcome=\"success\"}",
        2.0,
    );
    let creates = expect_at_least(
        "kvs_operator_aws_calls_total{kind=\"VideoStream\",operation=\"CreateStream\",outcome=\"success\"}",
        1.0,
    );
    assert_eq!(creates, 1.0);
    expect_at_least(
        "kvs_operator_aws_calls_total{kind=\"VideoStream\",operation=\"DescribeStream\",outcome=\"success\"}",
        2.0,
    );
    expect_at_least(
        "kvs_operator_reconcile_duration_seconds_count{kind=\"VideoStream\"}",
        2.0,
    );
    assert_eq!(
        sample(
            &text,
            "kvs_operator_resources{kind=\"VideoStream\",aws_status=\"ACTIVE\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"True\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "kvs_operator_leader"), Some(1.0));
    // The emulator saw exactly the calls the operator counted.
    let emulator_creates = h
        .emulator
        .calls_of(kvs_emulator::Operation::CreateStream)
        .total;
    assert_eq!(emulator_creates as f64, creates);
}

pub fn elected(h: &Harness, identity: &str) -> OperatorOptions {
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

pub async fn holder(h: &Harness) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.namespace);
    let shard = kvs_operator::tenancy::IdentityKey::own(h.emulator.region()).shard();
    let name = kvs_operator::engine::shards::lease_name("kvs-operator", "shard", &shard);
    let lease = leases.get_opt(&name).await.ok()??;
    lease.spec?.holder_identity.filter(|id| !id.is_empty())
}

pub async fn wait_holder(h: &Harness, identity: &str, within: Duration) -> Duration {
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
async fn only_the_shard_holder_reconciles_and_a_killed_holder_is_replaced_within_the_lease() {
    let h = Harness::without_operator("leader").await;
    let mut replicas = vec![
        h.spawn_operator(&elected(&h, "replica-a")),
        h.spawn_operator(&elected(&h, "replica-b")),
    ];
    for replica in &replicas {
        replica.wait_ready().await;
    }
    // Both have joined (their member Leases are there: a replica seen late moves the
    // assignment); the operator's own shard settles on the one the assignment picks.
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.namespace);
    let deadline = Instant::now() + Duration::from_secs(30);
    for replica in &replicas {
        let member =
            kvs_operator::engine::shards::lease_name("kvs-operator", "member", replica.identity());
        while leases.get_opt(&member).await.ok().flatten().is_none() {
            assert!(Instant::now() < deadline, "{member} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let holder_name = loop {
        if let Some(name) = holder(&h).await {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if holder(&h).await.as_deref() == Some(name.as_str()) {
                break name;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nobody took the operator's own shard"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let holding = replicas
        .iter()
        .position(|r| r.identity() == holder_name)
        .expect("a replica holds it");
    let other = replicas[1 - holding].identity().to_string();

    h.apply_ok(CAMERA).await;
    h.wait_ready("cam").await;
    let reporters = event_reporters(&h, "cam").await;
    assert!(!reporters.is_empty());
    assert!(reporters.iter().all(|r| *r == holder_name), "{reporters:?}");
    let (_, metrics) = replicas[1 - holding]
        .get("/metrics")
        .await
        .expect("the other replica serves metrics");
    assert_eq!(sample(&metrics, "kvs_operator_leader"), Some(0.0));
    assert_eq!(
        sample(&metrics, "kvs_operator_reconciles_total"),
        None,
        "the other replica never reconciled"
    );

    // A crash: the other takes over once the Lease has not been renewed for 4s.
    replicas[holding].kill().await;
    let took = wait_holder(&h, &other, Duration::from_secs(15)).await;
    assert!(took <= Duration::from_secs(4 + 2), "handover took {took:?}");
    h.apply_ok(&CAMERA.replace("dataRetentionInHours: 1", "dataRetentionInHours: 2"))
        .await;
    h.wait_ready("cam").await;
    assert_eq!(h.emulator.stream("cam").unwrap().data_retention_in_hours, 2);
    let reporters = event_reporters(&h, "cam").await;
    assert!(reporters.contains(&other), "{reporters:?}");
    replicas.clear();
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

/// The KVS operations that change something.
const MUTATIONS: [Operation; 7] = [
    Operation::CreateStream,
    Operation::UpdateStream,
    Operation::UpdateDataRetention,
    Operation::TagStream,
    Operation::UntagStream,
    Operation::DeleteStream,
    Operation::UpdateStreamStorageConfiguration,
];

fn mutations_by<'a>(log: &'a [CallRecord], access_key: &str) -> Vec<&'a CallRecord> {
    log.iter()
        .filter(|r| r.access_key_id == access_key && MUTATIONS.contains(&r.operation))
        .collect()
}

#[tokio::test]
async fn a_leader_cut_off_from_the_api_server_stops_mutating_before_the_follower_starts() {
    let h = Harness::without_operator("partition").await;
    // The leader reaches the API server through a proxy that will start black-holing.
    let upstream = h
        .plane
        .server_url()
        .trim_start_matches("https://")
        .parse()
        .expect("the API server's address");
    let proxy = BlackHoleProxy::start(upstream).await;
    let admin = std::fs::read_to_string(h.plane.kubeconfig_path()).expect("kubeconfig");
    let through_proxy = h
        .plane
        .dir()
        .join(format!("{}-proxied.kubeconfig", h.namespace));
    std::fs::write(
        &through_proxy,
        admin.replace(h.plane.server_url(), &format!("https://{}", proxy.addr())),
    )
    .expect("write kubeconfig");
    let keyed = |mut options: OperatorOptions, key: &str| {
        options.env = vec![("AWS_ACCESS_KEY_ID".into(), key.into())];
        options
    };
    // Names such that the operator's own shard stays with the replica behind the proxy
    // once both are members (the assignment is a pure function of the names).
    let names: std::collections::BTreeSet<String> =
        ["replica-a".to_string(), "replica-b".to_string()].into();
    let shard = kvs_operator::tenancy::IdentityKey::own(h.emulator.region()).shard();
    let leading = kvs_operator::engine::shards::assignee(&shard, &names)
        .expect("an assignee")
        .to_string();
    let following = names.iter().find(|n| **n != leading).unwrap().clone();
    let mut leader_options = keyed(elected(&h, &leading), "AKIDLEADER");
    leader_options.kubeconfig = Some(through_proxy);
    let mut leader = h.spawn_operator(&leader_options);
    wait_holder(&h, &leading, Duration::from_secs(30)).await;
    let follower = h.spawn_operator(&keyed(elected(&h, &following), "AKIDFOLLOWER"));
    follower.wait_ready().await;

    const COUNT: usize = 12;
    let cameras: String = (0..COUNT)
        .map(|i| {
            format!(
                "---\n{}",
                CAMERA.replace("name: cam", &format!("name: cam-{i:02}"))
            )
        })
        .collect();
    h.apply_ok(&cameras).await;
    for i in 0..COUNT {
        h.wait_ready(&format!("cam-{i:02}")).await;
    }
    let before = h.emulator.call_log().last().map_or(0, |r| r.seq);

    // The partition, then drift made outside Kubernetes, one stream every 400 ms: whoever
    // leads reverts it. The leader still reaches AWS, only not the API server.
    proxy.black_hole();
    let aws = sdk_client(&h.emulator);
    for i in 0..COUNT {
        let name = format!("cam-{i:02}");
        let stream = h.emulator.stream(&name).expect("stream");
        aws.update_data_retention()
            .stream_arn(&stream.stream_arn)
            .current_version(&stream.version)
            .operation(
                aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation::IncreaseDataRetention,
            )
            .data_retention_change_in_hours(5)
            .send()
            .await
            .expect("drift");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    wait_holder(&h, &following, Duration::from_secs(20)).await;
    for i in 0..COUNT {
        h.wait_stream(&format!("cam-{i:02}"), "reverted to 1h", |s| {
            s.is_some_and(|s| s.data_retention_in_hours == 1)
        })
        .await;
    }

    let log = h.emulator.call_log_since(before);
    let follower_first = mutations_by(&log, "AKIDFOLLOWER")
        .first()
        .map(|r| r.seq)
        .expect("the follower reverted the drift");
    let late: Vec<&CallRecord> = mutations_by(&log, "AKIDLEADER")
        .into_iter()
        .filter(|r| r.seq > follower_first)
        .collect();
    assert!(
        late.is_empty(),
        "the partitioned leader mutated after the follower's first mutation (seq {follower_first}): {late:#?}\n{}",
        leader.log()
    );
    // It noticed: it refused, then gave up leadership and exited.
    let code = tokio::time::timeout(Duration::from_secs(10), leader.wait()).await;
    assert!(
        matches!(code, Ok(Some(c)) if c != 0),
        "{code:?}\n{}",
        leader.log()
    );
    assert!(leader.log().contains("lost leadership"), "{}", leader.log());
}

#[tokio::test]
async fn leases_of_replicas_and_accounts_long_gone_are_deleted() {
    let h = Harness::without_operator("stale-leases").await;
    let ns = h.namespace.clone();
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &ns);
    // What a replica that died long ago, and an account no binding uses any more, left.
    let abandoned = |name: &str, role: &str, holder: &str| {
        serde_json::from_value::<Lease>(serde_json::json!({
            "metadata": {
                "name": name,
                "labels": {
                    "kvs-operator.dev/election": "kvs-operator",
                    "kvs-operator.dev/lease": role,
                },
            },
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": 2,
                "renewTime": "2026-01-01T00:00:00.000000Z",
            },
        }))
        .expect("a Lease")
    };
    for (name, role, holder) in [
        ("kvs-operator-member-ghost", "member", "ghost"),
        (
            "kvs-operator-shard-999999999999-eu-west-1",
            "shard",
            "ghost",
        ),
    ] {
        leases
            .create(&Default::default(), &abandoned(name, role, holder))
            .await
            .expect("create the abandoned Lease");
    }
    let mut options = elected(&h, "survivor");
    options.args = vec![
        "--leader-elect".into(),
        format!("--leader-election-namespace={ns}"),
        "--leader-election-lease-duration=2s".into(),
    ];
    let _operator = h.spawn_operator(&options);
    // Five lease durations after the survivor first saw them unchanged, they go; its own
    // member and shard Leases stay.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let names: Vec<String> = leases
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter_map(|l| l.metadata.name)
            .collect();
        if !names
            .iter()
            .any(|n| n.contains("ghost") || n.contains("999999999999"))
        {
            assert!(
                names.iter().any(|n| n.contains("member-survivor")),
                "{names:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "abandoned Leases stayed: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn what_the_operator_remembers_of_an_object_goes_with_the_object() {
    let h = Harness::start("held").await;
    let cameras: String = (0..6)
        .map(|i| {
            format!(
                "---\napiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: cam-{i}\nspec:\n  dataRetentionInHours: 1\n  tags: {{site: hq}}\n"
            )
        })
        .collect();
    h.apply_ok(&cameras).await;
    for i in 0..6 {
        h.wait_ready(&format!("cam-{i}")).await;
    }
    let operator = h.operator();
    let ledger = operator
        .metric("kvs_operator_held_entries", &[("state", "ledger")])
        .await;
    assert!(ledger >= 6.0, "one entry per object");
    // Scheduled as the reconcile that wrote Ready returns, a moment after the write.
    operator
        .wait_metric(
            "kvs_operator_held_entries",
            &[("state", "resyncs")],
            Duration::from_secs(10),
            |resyncs| resyncs >= 6.0,
            "each Ready stream's next look is scheduled",
        )
        .await;
    // The tags each create wrote served the reconciles that waited for it, and went
    // with the one that found the stream in sync.
    let tags = operator
        .metric("kvs_operator_held_entries", &[("state", "tag_cache")])
        .await;
    assert_eq!(tags, 0.0, "a settled stream's tags are not held");
    for i in 0..6 {
        h.delete_ok("vs", &format!("cam-{i}")).await;
    }
    for i in 0..6 {
        h.wait_gone(&format!("cam-{i}")).await;
    }
    // Counted from the state itself, at each scrape; all of it gone within 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    for state in ["ledger", "tag_cache", "resyncs"] {
        operator
            .wait_metric(
                "kvs_operator_held_entries",
                &[("state", state)],
                deadline.saturating_duration_since(Instant::now()),
                |entries| entries == 0.0,
                "state outlived its objects",
            )
            .await;
    }
}
