//! What a scrape costs with a large fleet: the census of `kvs_operator_objects`,
//! `oldest_not_ready_seconds` and `resources` taken from a watch cache of N VideoStreams
//! (reading the cache, counting, and encoding the exposition). Prints numbers; asserts
//! nothing.
//!
//!     cargo bench --bench census                      # 100,000 VideoStreams
//!     BENCH_OBJECTS=10000 cargo bench --bench census

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector;
use kube::runtime::watcher::Event;
use kvs_operator::api::{VideoStream, VideoStreamSpec, VideoStreamStatus};
use kvs_operator::metrics::Metrics;
use kvs_operator::metrics::fleet::{Census, count};

/// Object `i` of the fleet: one in a hundred not Ready, spread over 1,000 namespaces.
fn stream(i: usize, now: Timestamp) -> VideoStream {
    let mut vs = VideoStream::new(&format!("cam-{i}"), VideoStreamSpec::default());
    vs.metadata.namespace = Some(format!("site-{}", i % 1000));
    vs.metadata.creation_timestamp = Some(Time(now));
    let ready = !i.is_multiple_of(100);
    vs.status = Some(VideoStreamStatus {
        aws_status: Some(if ready { "ACTIVE" } else { "CREATING" }.into()),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: "Available".into(),
            message: "the stream is ACTIVE and equals the spec".into(),
            observed_generation: Some(1),
            last_transition_time: Time(now),
        }],
        ..Default::default()
    });
    vs
}

fn main() {
    let objects: usize = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let now = Timestamp::now();
    let (store, mut writer) = reflector::store::<VideoStream>();
    for i in 0..objects {
        writer.apply_watcher_event(&Event::Apply(stream(i, now)));
    }
    // With leader election, each object's namespace is looked up in a map of the
    // namespaces of the shards this replica holds (here, half of them).
    let held: HashMap<String, bool> = (0..1000u32)
        .map(|n| (format!("site-{n}"), n.is_multiple_of(2)))
        .collect();
    let metrics = Metrics::default();
    let rounds = 20;
    let (mut reading, mut counting, mut sharded, mut encoding) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut bytes = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let cached = store.state();
        reading += start.elapsed();

        let start = Instant::now();
        let counted = count(cached.iter().map(AsRef::as_ref), |_| true, Timestamp::now());
        counting += start.elapsed();
        assert_eq!(counted.ready.iter().sum::<u64>(), objects as u64);

        let start = Instant::now();
        let mine = count(
            cached.iter().map(AsRef::as_ref),
            |vs: &kvs_operator::api::VideoStream| {
                held.get(vs.metadata.namespace.as_deref().unwrap_or_default())
                    .copied()
                    .unwrap_or(false)
            },
            Timestamp::now(),
        );
        sharded += start.elapsed();
        black_box(mine);

        let mut census = Census::default();
        census.kinds.insert("VideoStream".into(), counted);
        let start = Instant::now();
        bytes = black_box(metrics.scrape(&census).expect("encodes")).len();
        encoding += start.elapsed();
    }
    let per = |total: Duration| total / rounds;
    println!(
        "census of {objects} VideoStreams, mean of {rounds} scrapes: reading the cache {:?}, counting {:?} (with a shard lookup per object {:?}), encoding {:?} ({bytes} bytes)",
        per(reading),
        per(counting),
        per(sharded),
        per(encoding)
    );
}
