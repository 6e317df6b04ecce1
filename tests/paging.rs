//! Component tests of the operator's paging: the emulator answers ListStreams and
//! ListSignalingChannels seven at a time (as AWS may answer fewer than `MaxResults`), and
//! the SDK adapter's listings, the drift scan's listing of each kind (through the gate
//! and the tag cache, as an account's client is built) and `kvs-operator import` still
//! see every stream and channel. The emulator's call counters show that each listing
//! asked for every page, and that the SDK adapter asks for pages of its own size.

use std::sync::Arc;

use futures::StreamExt;
use std::time::Duration;

use kvs_emulator::{Delays, Emulator, Operation, Running, Settings};
use kvs_operator::api::{
    DeletionPolicy, SignalingChannel, SignalingChannelSpec, SignalingChannelStatus, VideoStream,
    VideoStreamSpec, VideoStreamStatus,
};
use kvs_operator::engine::kind::{Kind, Listed};
use kvs_operator::engine::scan::{Snapshot, drifted};
use kvs_operator::import::{ImportKind, ImportOptions, import};
use kvs_operator::kvs::KinesisVideo;
use kvs_operator::kvs::gate::Gated;
use kvs_operator::kvs::sdk::{LIST_PAGE_SIZE, SdkKinesisVideo};
use kvs_operator::kvs::tag_cache::TagCached;

mod common;
use common::sdk_client;

/// Resources per page: neither count below is a multiple of it.
const PAGE: usize = 7;
const STREAMS: usize = 23;
const CHANNELS: usize = 17;

/// The pages a listing of `count` resources takes.
fn pages(count: usize) -> u64 {
    count.div_ceil(PAGE) as u64
}

/// An emulator answering small pages, with `STREAMS` streams and `CHANNELS` channels.
async fn emulator() -> Running {
    let mut settings = Settings {
        delays: Delays::NONE,
        ..Settings::default()
    };
    settings.limits.list_page_size = PAGE;
    let config = kvs_emulator::Config {
        settings,
        ..kvs_emulator::Config::default()
    };
    let emulator = Emulator::start(config).await.expect("emulator starts");
    let sdk = sdk_client(&emulator);
    for i in 0..STREAMS {
        sdk.create_stream()
            .stream_name(format!("cam-{i:02}"))
            .data_retention_in_hours(24)
            .send()
            .await
            .expect("create stream");
    }
    for i in 0..CHANNELS {
        sdk.create_signaling_channel()
            .channel_name(format!("door-{i:02}"))
            .send()
            .await
            .expect("create channel");
    }
    emulator.reset_calls();
    emulator
}

/// The client stack an account gets in the operator: the SDK adapter behind the rate
/// gate and the tag cache.
fn account_client(emulator: &Running) -> TagCached<Gated<SdkKinesisVideo>> {
    let sdk = SdkKinesisVideo::new(sdk_client(emulator));
    TagCached::new(Gated::new(sdk, 1.0, None), Duration::from_secs(600))
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i:02}")).collect()
}

fn calls(emulator: &Running, op: Operation) -> u64 {
    emulator.calls_of(op).succeeded
}

#[tokio::test]
async fn the_sdk_listings_follow_every_next_token() {
    let emulator = emulator().await;
    let kvs = SdkKinesisVideo::new(sdk_client(&emulator));

    let streams: Vec<String> = kvs
        .list_streams(None)
        .await
        .expect("list streams")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(streams, names("cam", STREAMS));
    assert_eq!(calls(&emulator, Operation::ListStreams), pages(STREAMS));

    let channels: Vec<String> = kvs
        .list_channels()
        .await
        .expect("list channels")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(channels, names("door", CHANNELS));
    assert_eq!(
        calls(&emulator, Operation::ListSignalingChannels),
        pages(CHANNELS)
    );

    // An empty prefix (`kvs-operator import --prefix ""`) is every stream: the model's
    // ComparisonValue cannot be empty, so no condition is sent.
    emulator.reset_calls();
    let all = kvs
        .list_streams(Some(""))
        .await
        .expect("list with an empty prefix");
    assert_eq!(all.len(), STREAMS);
    assert_eq!(calls(&emulator, Operation::ListStreams), pages(STREAMS));

    // A prefix pages too: cam-1x are ten streams, two pages.
    emulator.reset_calls();
    let tens = kvs.list_streams(Some("cam-1")).await.expect("list prefix");
    assert_eq!(tens.len(), 10);
    assert_eq!(calls(&emulator, Operation::ListStreams), pages(10));
}

/// What the drift scan's listing of kind `K` hands over, page by page, by name.
async fn scan<K: Kind>(kvs: &dyn KinesisVideo) -> std::collections::HashMap<String, Listed> {
    let mut listed = std::collections::HashMap::new();
    K::list(kvs, &mut |item| {
        listed.insert(item.name.clone(), item);
    })
    .await
    .expect("scan");
    listed
}

/// The drift scan's snapshot of a listing.
fn snapshot(listed: &std::collections::HashMap<String, Listed>) -> Snapshot {
    Snapshot::new(listed.values().cloned(), tokio::time::Instant::now())
}

/// A VideoStream whose status records the listed stream, as after a reconcile.
fn reconciled_stream(item: &Listed) -> Arc<VideoStream> {
    let mut vs = VideoStream::new(&item.name, VideoStreamSpec::default());
    vs.metadata.namespace = Some("cameras".into());
    vs.status = Some(VideoStreamStatus {
        stream_arn: Some(item.arn.clone()),
        version: Some(item.version.clone()),
        aws_status: Some(item.status.as_str().to_owned()),
        ..VideoStreamStatus::default()
    });
    Arc::new(vs)
}

fn reconciled_channel(item: &Listed) -> Arc<SignalingChannel> {
    let mut sc = SignalingChannel::new(&item.name, SignalingChannelSpec::default());
    sc.metadata.namespace = Some("doors".into());
    sc.status = Some(SignalingChannelStatus {
        channel_arn: Some(item.arn.clone()),
        version: Some(item.version.clone()),
        aws_status: Some(item.status.as_str().to_owned()),
        ..SignalingChannelStatus::default()
    });
    Arc::new(sc)
}

#[tokio::test]
async fn the_drift_scan_sees_every_page_of_each_kind() {
    let emulator = emulator().await;
    let kvs = account_client(&emulator);

    let streams = scan::<VideoStream>(&kvs).await;
    assert_eq!(streams.len(), STREAMS);
    assert_eq!(calls(&emulator, Operation::ListStreams), pages(STREAMS));
    let channels = scan::<SignalingChannel>(&kvs).await;
    assert_eq!(channels.len(), CHANNELS);
    assert_eq!(
        calls(&emulator, Operation::ListSignalingChannels),
        pages(CHANNELS)
    );

    // Objects reconciled from that scan: nothing drifted. Then the last stream and the
    // last channel (on the last pages) change outside Kubernetes, and the next scan
    // wakes exactly their objects.
    let video_streams: Vec<_> = streams.values().map(reconciled_stream).collect();
    let signaling_channels: Vec<_> = channels.values().map(reconciled_channel).collect();
    assert!(drifted(&snapshot(&streams), &video_streams).is_empty());
    assert!(drifted(&snapshot(&channels), &signaling_channels).is_empty());
    let sdk = sdk_client(&emulator);
    let last_stream = &streams[&format!("cam-{:02}", STREAMS - 1)];
    sdk.update_data_retention()
        .stream_name(&last_stream.name)
        .current_version(&last_stream.version)
        .operation(aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(1)
        .send()
        .await
        .expect("changed outside");
    let last_channel = &channels[&format!("door-{:02}", CHANNELS - 1)];
    sdk.update_signaling_channel()
        .channel_arn(&last_channel.arn)
        .current_version(&last_channel.version)
        .send()
        .await
        .expect("changed outside");

    emulator.reset_calls();
    let rescanned = scan::<VideoStream>(&kvs).await;
    let moved: Vec<String> = drifted(&snapshot(&rescanned), &video_streams)
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(moved, std::slice::from_ref(&last_stream.name));
    assert_eq!(calls(&emulator, Operation::ListStreams), pages(STREAMS));
    let rescanned = scan::<SignalingChannel>(&kvs).await;
    let moved: Vec<String> = drifted(&snapshot(&rescanned), &signaling_channels)
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(moved, std::slice::from_ref(&last_channel.name));
}

#[tokio::test]
async fn import_writes_a_manifest_for_every_page() {
    let emulator = emulator().await;
    let kvs = Gated::new(SdkKinesisVideo::new(sdk_client(&emulator)), 1.0, None);
    let options = ImportOptions {
        prefix: String::new(),
        namespace: Some("imported".into()),
        deletion_policy: DeletionPolicy::Retain,
        kind: ImportKind::All,
        observe_only: false,
    };
    let yaml = import(&kvs, &options).await.expect("import");
    for name in names("cam", STREAMS) {
        assert!(
            yaml.contains(&format!("streamName: {name}\n")),
            "{name}:\n{yaml}"
        );
    }
    for name in names("door", CHANNELS) {
        assert!(
            yaml.contains(&format!("channelName: {name}\n")),
            "{name}:\n{yaml}"
        );
    }
    assert_eq!(yaml.matches("kind: VideoStream").count(), STREAMS);
    assert_eq!(yaml.matches("kind: SignalingChannel").count(), CHANNELS);
    assert_eq!(calls(&emulator, Operation::ListStreams), pages(STREAMS));
    assert_eq!(
        calls(&emulator, Operation::ListSignalingChannels),
        pages(CHANNELS)
    );
}

/// The drift scan reads a listing a page at a time, and asks for pages of
/// `LIST_PAGE_SIZE` even from a server that would answer 10,000 at once (as AWS does): one
/// stream more than a page is two calls, and nothing is lost at the seam.
#[tokio::test]
async fn a_scan_asks_for_pages_of_the_list_page_size_from_a_server_that_answers_more() {
    let config = kvs_emulator::Config {
        settings: Settings {
            delays: Delays::NONE,
            ..Settings::default()
        },
        ..kvs_emulator::Config::default()
    };
    let emulator = Emulator::start(config).await.expect("emulator starts");
    assert!(emulator.settings().limits.list_page_size > LIST_PAGE_SIZE as usize);
    emulator.set_quotas_enabled(false);
    let sdk = sdk_client(&emulator);
    let count = LIST_PAGE_SIZE as usize + 1;
    futures::stream::iter(0..count)
        .map(|i| {
            sdk.create_stream()
                .stream_name(format!("cam-{i:04}"))
                .data_retention_in_hours(24)
                .send()
        })
        .buffer_unordered(16)
        .for_each(|created| async {
            created.expect("create stream");
        })
        .await;
    emulator.reset_calls();

    let kvs = account_client(&emulator);
    let streams = scan::<VideoStream>(&kvs).await;
    assert_eq!(streams.len(), count);
    assert_eq!(calls(&emulator, Operation::ListStreams), 2);

    // The adapter's own pages: a full one, then the one stream left over.
    let first = kvs.list_streams_page(None, None).await.expect("first page");
    assert_eq!(first.items.len(), LIST_PAGE_SIZE as usize);
    let second = kvs
        .list_streams_page(None, first.next)
        .await
        .expect("second page");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next, None, "the last page says so");
    assert_eq!(calls(&emulator, Operation::ListStreams), 4);
}
