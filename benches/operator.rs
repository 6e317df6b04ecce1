//! The operator measured end to end: the release binary against a real kube-apiserver and
//! kvs-emulator enforcing the published KVS quotas. Prints numbers; asserts nothing.
//!
//!     cargo bench --bench operator                      # 1,000 VideoStreams
//!     BENCH_STREAMS=10000 cargo bench --bench operator  # the footprint at 10,000
//!
//! Needs the control-plane binaries (`hack/control-plane.sh build`).

use std::collections::BTreeMap;
use std::fs::File;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ListParams, PostParams};
use kvs_emulator::{Config, Emulator, Operation, Running};
use kvs_operator::api::{VideoStream, VideoStreamSpec};
use kvs_operator::engine::conditions::{READY, find};
use kvs_testenv::ControlPlane;

#[path = "../tests/common/mod.rs"]
mod common;

const NAMESPACE: &str = "bench";
const DRIFT_SCAN: Duration = Duration::from_secs(10);
const RESYNC: Duration = Duration::from_secs(60);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let streams: usize = std::env::var("BENCH_STREAMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let plane = ControlPlane::start().await?;
    plane
        .apply_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/crds"))
        .await?;
    plane.create_namespace(NAMESPACE).await?;
    let emulator = Emulator::start(Config::default()).await?;
    let mut operator = start_operator(&plane, &emulator)?;
    let client = plane.kube_client().await?;
    let api: Api<VideoStream> = Api::namespaced(client, NAMESPACE);
    tokio::time::sleep(Duration::from_secs(2)).await;

    println!("kvs-operator benchmark: {streams} VideoStreams, KVS quotas enforced by kvs-emulator");
    let converged = converge(&api, streams).await?;
    let floor = streams as f64 / 50.0;
    println!(
        "convergence: all {streams} Ready in {:.1}s; the CreateStream quota (50/s) allows {floor:.1}s: {:.2}x the floor",
        converged.as_secs_f64(),
        converged.as_secs_f64() / floor
    );
    print_calls(&emulator, "calls to converge (per operation)");
    let throttled: u64 = emulator
        .calls()
        .values()
        .map(|c| c.errors_of("ClientLimitExceededException"))
        .sum();
    println!("throttled calls while converging: {throttled}");
    if let Some(rss) = rss_mib(operator.id()) {
        println!("operator RSS with {streams} VideoStreams: {rss:.1} MiB");
    }

    // Steady state: nothing changes for two resync periods.
    emulator.reset_calls();
    let window = RESYNC * 2 + Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let per_stream_hour = |op: Operation| {
        emulator.calls_of(op).total as f64 / streams as f64 * 3600.0 / window.as_secs_f64()
    };
    println!(
        "steady state over {}s (resync {}s, drift scan {}s):",
        window.as_secs(),
        RESYNC.as_secs(),
        DRIFT_SCAN.as_secs()
    );
    let mut total = 0.0;
    for op in [
        Operation::DescribeStream,
        Operation::ListTagsForStream,
        Operation::ListStreams,
        Operation::GetDataEndpoint,
    ] {
        let rate = per_stream_hour(op);
        total += rate;
        println!("  {:<20} {rate:8.3} calls per stream per hour", op.name());
    }
    println!("  {:<20} {total:8.3} calls per stream per hour", "all");
    let at_defaults = total * RESYNC.as_secs_f64() / 600.0;
    println!(
        "  at the default 10-minute resync: about {at_defaults:.1} calls per stream per hour (Crossplane polls each resource every minute: 120)"
    );

    // Drift: someone doubles one stream's retention outside Kubernetes.
    let delay = drift_delay(&emulator).await?;
    println!(
        "drift corrected {:.1}s after an out-of-band change (drift scan every {}s)",
        delay.as_secs_f64(),
        DRIFT_SCAN.as_secs()
    );

    operator.kill().await?;
    Ok(())
}

fn start_operator(
    plane: &ControlPlane,
    emulator: &Running,
) -> Result<tokio::process::Child, BoxError> {
    let log = File::create(plane.dir().join("bench-operator.log"))?;
    let child = plane
        .command(env!("CARGO_BIN_EXE_kvs-operator"))
        .args([
            "run",
            "--namespaces",
            NAMESPACE,
            "--metrics-bind-address=127.0.0.1:0",
            &format!("--drift-scan-interval={}s", DRIFT_SCAN.as_secs()),
            &format!("--resync-period={}s", RESYNC.as_secs()),
            "--concurrency=64",
        ])
        .env("AWS_ENDPOINT_URL", emulator.url())
        .env("AWS_REGION", emulator.region())
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    Ok(child)
}

/// Creates `count` VideoStreams at once and waits until all are Ready.
async fn converge(api: &Api<VideoStream>, count: usize) -> Result<Duration, BoxError> {
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let spec = VideoStreamSpec {
                device_name: Some(format!("cam-{i}")),
                media_type: Some("video/h264".into()),
                data_retention_in_hours: Some(24),
                tags: Some(BTreeMap::from([("bench".into(), "true".into())])),
                ..VideoStreamSpec::default()
            };
            let vs = VideoStream::new(&format!("cam-{i:05}"), spec);
            async move { api.create(&PostParams::default(), &vs).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    println!(
        "applied {count} VideoStreams in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    loop {
        let list = api.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|vs| {
                vs.status
                    .as_ref()
                    .and_then(|s| find(&s.conditions, READY))
                    .is_some_and(|c| c.status == "True")
            })
            .count();
        if ready == count {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("only {ready} of {count} Ready after 30 minutes").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print_calls(emulator: &Running, title: &str) {
    println!("{title}:");
    for (op, calls) in emulator.calls() {
        if calls.total > 0 {
            println!("  {:<20} {:>7}", op.name(), calls.total);
        }
    }
}

/// Changes one stream's retention with the SDK and waits until the operator restores it.
async fn drift_delay(emulator: &Running) -> Result<Duration, BoxError> {
    let sdk = common::sdk_client(emulator);
    let stream = emulator.stream("cam-00000").ok_or("no stream cam-00000")?;
    sdk.update_data_retention()
        .stream_arn(&stream.stream_arn)
        .current_version(&stream.version)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(24)
        .send()
        .await?;
    let changed = Instant::now();
    loop {
        let now = emulator.stream("cam-00000").ok_or("stream vanished")?;
        if now.data_retention_in_hours == 24 && now.status.as_str() == "ACTIVE" {
            return Ok(changed.elapsed());
        }
        if changed.elapsed() > Duration::from_secs(300) {
            return Err("drift was not corrected within 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Resident memory of a process, from /proc.
fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
