//! Fault injection through the real SDK: TPS quotas, injected 5xx, latency, and settings
//! changed while the emulator runs.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::operation::describe_stream::DescribeStreamError;
use common::{client, code_and_status, instant_settings, start, start_with};
use kvs_emulator::{Operation, Settings};

#[tokio::test]
async fn quotas_are_on_by_default_with_the_published_values() {
    let defaults = Settings::default();
    assert!(defaults.quotas.enabled);
    assert_eq!(defaults.quotas.per_stream_tps, 5);
    for (op, tps) in [
        (Operation::CreateStream, 50),
        (Operation::DescribeStream, 300),
        (Operation::GetDataEndpoint, 300),
        (Operation::ListStreams, 50),
        (Operation::ListTagsForStream, 50),
        (Operation::DeleteStream, 50),
        (Operation::UpdateStream, 50),
        (Operation::UpdateDataRetention, 50),
        (Operation::TagStream, 50),
        (Operation::UntagStream, 50),
    ] {
        assert_eq!(defaults.quotas.account_limit(op), Some(tps), "{op}");
    }
}

#[tokio::test]
async fn per_stream_quota_throttles_one_stream_only() {
    let mut settings = instant_settings();
    settings.quotas = Settings::default().quotas;
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    for name in ["hot", "cold"] {
        kvs.create_stream()
            .stream_name(name)
            .send()
            .await
            .expect("create");
    }
    let started = Instant::now();
    let mut throttled = 0;
    for _ in 0..8 {
        match kvs.describe_stream().stream_name("hot").send().await {
            Ok(_) => {}
            Err(err) => {
                assert!(matches!(
                    err.into_service_error(),
                    DescribeStreamError::ClientLimitExceededException(_)
                ));
                throttled += 1;
            }
        }
    }
    // 5 per second per stream: a fast burst of 8 loses at least 2 (refill is 5/s).
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "burst too slow to judge"
    );
    assert!((2..=3).contains(&throttled), "throttled {throttled} of 8");
    kvs.describe_stream()
        .stream_name("cold")
        .send()
        .await
        .expect("another stream has its own quota");
    let calls = emulator.calls_of(Operation::DescribeStream);
    assert_eq!(calls.errors_of("ClientLimitExceededException"), throttled);

    tokio::time::sleep(Duration::from_millis(1000)).await;
    kvs.describe_stream()
        .stream_name("hot")
        .send()
        .await
        .expect("refilled after a second");
}

#[tokio::test]
async fn account_quota_switched_on_mid_test() {
    let emulator = start().await;
    let kvs = client(&emulator);
    for i in 0..10 {
        kvs.create_stream()
            .stream_name(format!("s{i}"))
            .send()
            .await
            .expect("no quota yet");
    }
    emulator
        .update_settings(|s| {
            s.quotas.enabled = true;
            s.quotas.account_tps.insert(Operation::CreateStream, 3);
        })
        .expect("settings");
    let mut outcomes = Vec::new();
    for i in 10..15 {
        let result = kvs
            .create_stream()
            .stream_name(format!("s{i}"))
            .send()
            .await;
        outcomes.push(result.is_ok());
    }
    assert_eq!(outcomes, [true, true, true, false, false]);
    let throttled = kvs.create_stream().stream_name("s99").send().await;
    assert_eq!(
        code_and_status(throttled),
        ("ClientLimitExceededException".into(), 400)
    );
    assert_eq!(
        emulator.streams().len(),
        13,
        "throttled calls create nothing"
    );

    emulator.set_quotas_enabled(false);
    kvs.create_stream()
        .stream_name("s99")
        .send()
        .await
        .expect("quotas off");
}

#[tokio::test]
async fn injected_server_errors_have_no_effect() {
    let emulator = start().await;
    let kvs = client(&emulator);
    emulator.set_error_rate(1.0).expect("rate");
    let failed = kvs.create_stream().stream_name("x").send().await;
    assert_eq!(code_and_status(failed), ("InternalFailure".into(), 500));
    assert!(emulator.streams().is_empty());
    assert!(emulator.set_error_rate(1.5).is_err());

    emulator.set_error_rate(0.5).expect("rate");
    let mut failures = 0;
    for i in 0..200 {
        if kvs.list_streams().max_results(1 + i).send().await.is_err() {
            failures += 1;
        }
    }
    assert!(
        (50..=150).contains(&failures),
        "{failures} of 200 at rate 0.5"
    );

    // With its default retry policy the SDK rides through occasional 5xx.
    emulator.set_error_rate(0.3).expect("rate");
    let retrying = aws_sdk_kinesisvideo::Client::from_conf(
        client(&emulator)
            .config()
            .to_builder()
            .retry_config(
                aws_sdk_kinesisvideo::config::retry::RetryConfig::standard()
                    .with_max_attempts(10)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .build(),
    );
    for i in 0..10 {
        retrying
            .create_stream()
            .stream_name(format!("r{i}"))
            .send()
            .await
            .expect("retried to success");
    }
    emulator.set_error_rate(0.0).expect("rate");
    assert_eq!(emulator.streams().len(), 10);
}

#[tokio::test]
async fn latency_is_added_to_every_call() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.list_streams()
        .send()
        .await
        .expect("warm up the connection");
    emulator.set_latency(Duration::from_millis(400));
    let started = Instant::now();
    kvs.list_streams().send().await.expect("slow list");
    assert!(started.elapsed() >= Duration::from_millis(400));
    emulator.set_latency(Duration::ZERO);
    let started = Instant::now();
    kvs.list_streams().send().await.expect("fast list");
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn delays_can_change_at_runtime() {
    let emulator = start().await;
    let kvs = client(&emulator);
    emulator.set_delays(kvs_emulator::Delays {
        create: Duration::from_millis(600),
        ..kvs_emulator::Delays::NONE
    });
    kvs.create_stream()
        .stream_name("later")
        .send()
        .await
        .expect("create");
    assert_eq!(
        emulator.stream("later").map(|s| s.status),
        Some(kvs_emulator::StreamStatus::Creating)
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        emulator.stream("later").map(|s| s.status),
        Some(kvs_emulator::StreamStatus::Active)
    );
}
