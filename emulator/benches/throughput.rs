//! `cargo bench -p kvs-emulator`: DescribeStream requests per second through the real SDK
//! over HTTP, and the time of one 10,000-stream ListStreams page. Printed, never
//! asserted: the numbers depend on the machine.
//!
//! `KVS_BENCH_SECONDS` sets the length of each throughput run (default 3).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::config::retry::RetryConfig;
use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use futures::future::join_all;
use kvs_emulator::{Config, Delays, Emulator, Operation, Running, Settings};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const STREAMS_FOR_LIST: usize = 10_000;

fn main() -> BenchResult<()> {
    let seconds: u64 = std::env::var("KVS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(Duration::from_secs(seconds)))
}

async fn run(duration: Duration) -> BenchResult<()> {
    let mut settings = Settings {
        delays: Delays::NONE,
        ..Settings::default()
    };
    settings.quotas.enabled = false;
    let emulator = Emulator::start(Config {
        settings,
        ..Config::default()
    })
    .await?;
    let kvs = client(&emulator);
    println!("kvs-emulator benchmark ({} per run)", humantime(duration));

    kvs.create_stream().stream_name("bench").send().await?;
    describe_loop(&kvs, 1, Duration::from_millis(300)).await?; // warm-up
    for concurrency in [1, 8, 32] {
        let calls = describe_loop(&kvs, concurrency, duration).await?;
        println!(
            "DescribeStream via aws-sdk-kinesisvideo, {concurrency:>2} in flight: {:>8.0} requests/s",
            calls as f64 / duration.as_secs_f64()
        );
    }

    let started = Instant::now();
    create_streams(&kvs, STREAMS_FOR_LIST).await?;
    println!(
        "CreateStream x{STREAMS_FOR_LIST} (32 in flight): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut timings = Vec::new();
    let mut listed = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let page = kvs
            .list_streams()
            .max_results(STREAMS_FOR_LIST as i32)
            .send()
            .await?;
        timings.push(started.elapsed());
        listed = page.stream_info_list().len();
    }
    timings.sort();
    println!(
        "ListStreams page of {listed} streams via the SDK: min {:.1} ms, median {:.1} ms",
        timings[0].as_secs_f64() * 1e3,
        timings[timings.len() / 2].as_secs_f64() * 1e3
    );
    println!(
        "calls counted by the emulator: DescribeStream {}, CreateStream {}, ListStreams {}",
        emulator.calls_of(Operation::DescribeStream).total,
        emulator.calls_of(Operation::CreateStream).total,
        emulator.calls_of(Operation::ListStreams).total
    );
    emulator.shutdown().await;
    Ok(())
}

fn client(emulator: &Running) -> Client {
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "bench"))
        .endpoint_url(emulator.url())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// Runs `concurrency` DescribeStream loops for `duration`; returns the calls completed.
async fn describe_loop(kvs: &Client, concurrency: usize, duration: Duration) -> BenchResult<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let workers = (0..concurrency).map(|_| {
        let kvs = kvs.clone();
        let done = done.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                kvs.describe_stream().stream_name("bench").send().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, aws_sdk_kinesisvideo::Error>(())
        })
    });
    for worker in join_all(workers).await {
        worker??;
    }
    Ok(done.load(Ordering::Relaxed))
}

async fn create_streams(kvs: &Client, count: usize) -> BenchResult<()> {
    let next = Arc::new(AtomicU64::new(0));
    let workers = (0..32).map(|_| {
        let kvs = kvs.clone();
        let next = next.clone();
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count as u64 {
                    return Ok::<_, aws_sdk_kinesisvideo::Error>(());
                }
                kvs.create_stream()
                    .stream_name(format!("list-{i:05}"))
                    .device_name("bench-device")
                    .media_type("video/h264")
                    .data_retention_in_hours(24)
                    .send()
                    .await?;
            }
        })
    });
    for worker in join_all(workers).await {
        worker??;
    }
    Ok(())
}

fn humantime(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
