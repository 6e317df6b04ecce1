//! Component tests of the SignalingChannel kind ([`sync`], [`cleanup`]) and of a
//! VideoStream's image generation and notification configurations, through the real
//! aws-sdk-kinesisvideo client, over HTTP, against kvs-emulator. No Kubernetes here.

use std::collections::BTreeMap;
use std::time::Duration;

use kvs_emulator::{Emulator, Operation, Running};
use kvs_operator::api::{
    CLUSTER_TAG, ConfigurationStatus, DeletionPolicy, ImageFormat, ImageGeneration,
    ImageSelectorType, ManagementPolicy, Notification, OWNER_TAG, TagPolicy,
};
use kvs_operator::channel::plan::{Desired, Mutation, StorageTarget};
use kvs_operator::channel::sync::{Report, Step, cleanup, sync};
use kvs_operator::engine::kind::CleanupStep;
use kvs_operator::engine::ownership::{Owner, TagChange};
use kvs_operator::kvs::sdk::SdkKinesisVideo;
use kvs_operator::kvs::{KinesisVideo, NewChannel};
use kvs_operator::stream;
use kvs_operator::{Error, ErrorClass};

mod common;
use common::{emulator_config, sdk_client};

const OWNER: &str = "home/doorbell";
const CLUSTER: &str = "cluster-a";

async fn emulator() -> Running {
    Emulator::start(emulator_config(Duration::from_millis(100)))
        .await
        .expect("emulator starts")
}

fn kvs(emulator: &Running) -> SdkKinesisVideo {
    SdkKinesisVideo::new(sdk_client(emulator))
}

fn owner() -> Owner {
    Owner {
        owner: OWNER.into(),
        cluster: CLUSTER.into(),
    }
}

fn desired(name: &str) -> Desired {
    Desired {
        name: name.into(),
        owner: owner(),
        message_ttl_seconds: 60,
        tags: Some(tags(&[("team", "home")])),
        // These tests change tags as a whole; tests/reconcile.rs shows the shared policy.
        tag_policy: TagPolicy::Exclusive,
        deletion_policy: DeletionPolicy::Delete,
        ..Desired::default()
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn calls(emulator: &Running, op: Operation) -> u64 {
    emulator.calls_of(op).total
}

/// Writes the call log recorded since `seq` holds.
fn writes_since(emulator: &Running, seq: u64) -> Vec<Operation> {
    emulator
        .call_log_since(seq)
        .into_iter()
        .filter(|call| call.operation.is_mutation())
        .map(|call| call.operation)
        .collect()
}

fn last_seq(emulator: &Running) -> u64 {
    emulator.call_log().last().map_or(0, |call| call.seq)
}

/// Reconciles a channel until it is in sync (or waits for its stream), keeping the
/// endpoints as the status would, and returns every step.
async fn converge(kvs: &dyn KinesisVideo, desired: &Desired) -> (Vec<Step>, Report) {
    let mut steps = Vec::new();
    let mut known: Option<Report> = None;
    for _ in 0..200 {
        let arn = known
            .as_ref()
            .and_then(|r| r.channel.as_ref().map(|c| c.arn.clone()));
        let endpoints = known.as_ref().and_then(|r| r.endpoints.clone());
        let report = sync(kvs, desired, arn.as_deref(), endpoints.as_ref())
            .await
            .unwrap_or_else(|e| panic!("sync failed: {e} after {steps:?}"));
        steps.push(report.step.clone());
        if matches!(report.step, Step::InSync | Step::WaitingForStream(_)) {
            return (steps, report);
        }
        known = Some(report);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("did not converge: {steps:?}");
}

async fn clean_up(kvs: &dyn KinesisVideo, desired: &Desired) -> Vec<CleanupStep> {
    let mut steps = Vec::new();
    for _ in 0..200 {
        let step = cleanup(kvs, desired).await.expect("cleanup succeeds");
        steps.push(step.clone());
        if step == CleanupStep::Done {
            return steps;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("cleanup did not finish: {steps:?}");
}

fn mutations(steps: &[Step]) -> Vec<Mutation> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Mutated(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_new_channel_is_created_in_one_call_with_its_ttl_tags_and_endpoints() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let (steps, report) = converge(&kvs, &desired("door")).await;

    assert!(matches!(steps[0], Step::Created { .. }), "{steps:?}");
    assert!(
        mutations(&steps).is_empty(),
        "no mutation after the create: {steps:?}"
    );
    assert_eq!(calls(&emulator, Operation::CreateSignalingChannel), 1);
    let channel = emulator.channel("door").expect("channel exists");
    assert_eq!(channel.message_ttl_seconds, 60);
    assert_eq!(channel.tags.get("team").map(String::as_str), Some("home"));
    assert_eq!(channel.tags.get(OWNER_TAG).map(String::as_str), Some(OWNER));
    assert_eq!(
        channel.tags.get(CLUSTER_TAG).map(String::as_str),
        Some(CLUSTER)
    );

    let endpoints = report.endpoints.expect("endpoints once in sync");
    for endpoint in [&endpoints.master, &endpoints.viewer] {
        assert!(
            endpoint
                .wss
                .as_deref()
                .is_some_and(|e| e.starts_with("wss://")),
            "{endpoints:?}"
        );
        assert!(
            endpoint
                .https
                .as_deref()
                .is_some_and(|e| e.starts_with("https://")),
            "{endpoints:?}"
        );
    }
    let observed = report.channel.expect("observed");
    assert_eq!(observed.arn, channel.channel_arn);
    assert!(observed.creation_time.is_some());

    // In sync again: the published endpoints are reused, not asked for again.
    let asked = calls(&emulator, Operation::GetSignalingChannelEndpoint);
    let again = sync(
        &kvs,
        &desired("door"),
        Some(&observed.arn),
        Some(&endpoints),
    )
    .await
    .unwrap();
    assert_eq!(again.step, Step::InSync);
    assert_eq!(
        calls(&emulator, Operation::GetSignalingChannelEndpoint),
        asked
    );
}

#[tokio::test]
async fn ttl_and_tags_are_changed_in_place_with_the_observed_version() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    converge(&kvs, &desired("door")).await;
    let before = emulator.channel("door").unwrap();

    let mut want = desired("door");
    want.message_ttl_seconds = 120;
    want.tags = Some(tags(&[("site", "porch")]));
    let (steps, _) = converge(&kvs, &want).await;

    assert_eq!(
        mutations(&steps),
        [
            Mutation::UpdateTtl {
                from: Some(60),
                to: 120
            },
            Mutation::Tags(TagChange::Untag(vec!["team".into()])),
            Mutation::Tags(TagChange::Tag(tags(&[("site", "porch")]))),
        ]
    );
    let after = emulator.channel("door").unwrap();
    assert_eq!(after.message_ttl_seconds, 120);
    assert_eq!(after.channel_arn, before.channel_arn, "changed in place");
    assert_ne!(
        after.version, before.version,
        "UpdateSignalingChannel moved the version"
    );
    assert_eq!(after.tags.get("site").map(String::as_str), Some("porch"));
    assert!(!after.tags.contains_key("team"));
    assert!(after.tags.contains_key(OWNER_TAG), "ownership tags kept");
    assert_eq!(calls(&emulator, Operation::UpdateSignalingChannel), 1);
}

#[tokio::test]
async fn a_ttl_changed_outside_kubernetes_is_put_back() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    converge(&kvs, &desired("door")).await;
    let channel = emulator.channel("door").unwrap();
    sdk_client(&emulator)
        .update_signaling_channel()
        .channel_arn(&channel.channel_arn)
        .current_version(&channel.version)
        .single_master_configuration(
            aws_sdk_kinesisvideo::types::SingleMasterConfiguration::builder()
                .message_ttl_seconds(5)
                .build(),
        )
        .send()
        .await
        .expect("out-of-band update");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (steps, _) = converge(&kvs, &desired("door")).await;
    assert_eq!(
        mutations(&steps),
        [Mutation::UpdateTtl {
            from: Some(5),
            to: 60
        }]
    );
    assert_eq!(emulator.channel("door").unwrap().message_ttl_seconds, 60);
}

#[tokio::test]
async fn delete_policy_deletes_the_channel_and_retain_only_removes_the_ownership_tags() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let gone = desired("gone");
    converge(&kvs, &gone).await;
    let steps = clean_up(&kvs, &gone).await;
    assert!(matches!(steps[0], CleanupStep::Deleted { .. }), "{steps:?}");
    assert!(emulator.channel("gone").is_none());
    assert_eq!(calls(&emulator, Operation::DeleteSignalingChannel), 1);

    let mut kept = desired("kept");
    kept.deletion_policy = DeletionPolicy::Retain;
    converge(&kvs, &kept).await;
    let steps = clean_up(&kvs, &kept).await;
    assert!(
        matches!(steps[0], CleanupStep::Released { .. }),
        "{steps:?}"
    );
    let channel = emulator.channel("kept").expect("kept");
    assert!(!channel.tags.contains_key(OWNER_TAG) && !channel.tags.contains_key(CLUSTER_TAG));
    assert_eq!(channel.tags.get("team").map(String::as_str), Some("home"));
    assert_eq!(calls(&emulator, Operation::DeleteSignalingChannel), 1);
}

#[tokio::test]
async fn a_channel_that_is_not_ours_is_never_changed_or_deleted_until_adopted() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    kvs.create_channel(&NewChannel {
        name: "theirs".into(),
        message_ttl_seconds: 30,
        tags: BTreeMap::new(),
    })
    .await
    .unwrap();
    let mut foreign = desired("foreign");
    foreign.owner.owner = "other/doorbell".into();
    converge(&kvs, &foreign).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seq = last_seq(&emulator);

    for name in ["theirs", "foreign"] {
        let want = desired(name);
        let refused = sync(&kvs, &want, None, None).await.unwrap_err();
        assert!(matches!(refused, Error::NotOwned(_)), "{name}: {refused}");
        assert_eq!(refused.class(), ErrorClass::Terminal, "{name}");
        assert_eq!(clean_up(&kvs, &want).await, [CleanupStep::Done], "{name}");
    }
    assert_eq!(
        writes_since(&emulator, seq),
        [],
        "nothing written to channels not ours"
    );
    assert_eq!(emulator.channel("theirs").unwrap().message_ttl_seconds, 30);

    let mut adopt = desired("theirs");
    adopt.adopt_existing = true;
    let (steps, _) = converge(&kvs, &adopt).await;
    assert_eq!(mutations(&steps)[0], Mutation::Adopt, "{steps:?}");
    let channel = emulator.channel("theirs").unwrap();
    assert_eq!(channel.tags.get(OWNER_TAG).map(String::as_str), Some(OWNER));
    assert_eq!(channel.message_ttl_seconds, 60, "managed once adopted");
}

#[tokio::test]
async fn media_storage_is_configured_once_into_the_stream_and_waits_while_it_is_pending() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let stream = stream::plan::Desired {
        name: "door-media".into(),
        owner: owner(),
        data_retention_in_hours: Some(24),
        ..stream::plan::Desired::default()
    };
    let arn = kvs
        .create_stream(&kvs_operator::kvs::NewStream {
            name: stream.name.clone(),
            data_retention_in_hours: Some(24),
            tags: owner().tags(),
            ..Default::default()
        })
        .await
        .unwrap();

    let mut want = desired("door");
    want.media_storage = Some(StorageTarget::Pending("door-media".into()));
    let (steps, _) = converge(&kvs, &want).await;
    assert_eq!(
        steps.last(),
        Some(&Step::WaitingForStream("door-media".into()))
    );
    assert_eq!(
        calls(&emulator, Operation::UpdateMediaStorageConfiguration),
        0
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    want.media_storage = Some(StorageTarget::Stream {
        arn: arn.clone(),
        video_stream: "door-media".into(),
        owner: owner(),
    });
    let (steps, report) = converge(&kvs, &want).await;
    assert_eq!(
        mutations(&steps),
        [Mutation::StoreMedia {
            stream_arn: arn.clone()
        }]
    );
    let media = emulator.channel("door").unwrap().media_storage;
    assert_eq!(media.stream_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(report.step, Step::InSync);
    let stored = report.media_storage.expect("observed");
    assert!(stored.enabled && stored.stream_arn.as_deref() == Some(arn.as_str()));

    // Once stored, further reconciles only read it.
    converge(&kvs, &want).await;
    assert_eq!(
        calls(&emulator, Operation::UpdateMediaStorageConfiguration),
        1
    );
}

#[tokio::test]
async fn media_storage_into_a_stream_that_is_not_the_namespaces_is_refused_with_nothing_linked() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    // Another team's stream, which this namespace's VideoStream only points at.
    let theirs = kvs
        .create_stream(&kvs_operator::kvs::NewStream {
            name: "their-archive".into(),
            data_retention_in_hours: Some(87600),
            tags: tags(&[
                (OWNER_TAG, "security/archive"),
                (kvs_operator::api::CLUSTER_TAG, "c1"),
            ]),
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut want = desired("door");
    converge(&kvs, &want).await;
    want.media_storage = Some(StorageTarget::Stream {
        arn: theirs.clone(),
        video_stream: "archive".into(),
        owner: owner(),
    });
    let refused = sync(&kvs, &want, None, None).await.unwrap_err();
    assert_eq!(refused.reason(), "MediaStorageNotPermitted", "{refused}");
    assert!(
        refused.to_string().contains("security/archive"),
        "says whose it is: {refused}"
    );
    assert_eq!(
        calls(&emulator, Operation::UpdateMediaStorageConfiguration),
        0,
        "nothing linked"
    );
    assert_eq!(
        emulator.channel("door").unwrap().media_storage.stream_arn,
        None
    );
}

#[tokio::test]
async fn observe_only_reads_a_channel_it_does_not_own_and_never_writes() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    kvs.create_channel(&NewChannel {
        name: "watched".into(),
        message_ttl_seconds: 30,
        tags: tags(&[("team", "theirs")]),
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seq = last_seq(&emulator);

    let mut want = desired("watched");
    want.management_policy = ManagementPolicy::ObserveOnly;
    let report = sync(&kvs, &want, None, None).await.unwrap();
    assert_eq!(report.step, Step::Observed);
    assert_eq!(report.channel.unwrap().message_ttl_seconds, Some(30));
    assert!(
        report.endpoints.is_some(),
        "observed channels publish endpoints"
    );

    let absent = sync(
        &kvs,
        &Desired {
            management_policy: ManagementPolicy::ObserveOnly,
            ..desired("nowhere")
        },
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(absent.step, Step::Absent);
    assert_eq!(writes_since(&emulator, seq), [], "ObserveOnly never writes");
    assert!(emulator.channel("nowhere").is_none());
}

// ---- VideoStream configurations ----

fn thumbnails(bucket: &str) -> ImageGeneration {
    ImageGeneration {
        status: ConfigurationStatus::Enabled,
        destination_uri: format!("s3://{bucket}/thumbs"),
        destination_region: "us-west-2".into(),
        image_selector_type: ImageSelectorType::ServerTimestamp,
        sampling_interval: 2000,
        format: ImageFormat::Jpeg,
        format_config: Some(tags(&[("JPEGQuality", "80")])),
        width_pixels: Some(640),
        height_pixels: Some(480),
    }
}

fn alerts(topic: &str) -> Notification {
    Notification {
        status: ConfigurationStatus::Enabled,
        destination_uri: format!("arn:aws:sns:us-west-2:123456789012:{topic}"),
    }
}

fn stream_desired(name: &str) -> stream::plan::Desired {
    stream::plan::Desired {
        name: name.into(),
        owner: owner(),
        data_retention_in_hours: Some(24),
        deletion_policy: DeletionPolicy::Delete,
        ..stream::plan::Desired::default()
    }
}

/// Reconciles a stream until it is in sync and returns the mutations made.
async fn converge_stream(
    kvs: &dyn KinesisVideo,
    desired: &stream::plan::Desired,
) -> kvs_operator::Result<Vec<stream::plan::Mutation>> {
    let mut made = Vec::new();
    let none = BTreeMap::new();
    for _ in 0..200 {
        let report = stream::sync::sync(kvs, desired, None, &none).await?;
        match report.step {
            stream::sync::Step::InSync => return Ok(made),
            stream::sync::Step::Mutated(m) => made.push(m),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("did not converge: {made:?}");
}

#[tokio::test]
async fn image_generation_and_notification_are_applied_updated_and_put_back() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let mut want = stream_desired("doorbell");
    want.image_generation = Some(thumbnails("frames"));
    want.notification = Some(alerts("doorbell-rings"));
    let made = converge_stream(&kvs, &want).await.unwrap();
    assert_eq!(
        made,
        [
            stream::plan::Mutation::UpdateImageGeneration(thumbnails("frames")),
            stream::plan::Mutation::UpdateNotification(alerts("doorbell-rings")),
        ]
    );
    let stream = emulator.stream("doorbell").unwrap();
    let image = stream.image_generation.expect("configured");
    assert_eq!(image.destination_config.uri, "s3://frames/thumbs");
    assert_eq!(image.sampling_interval, 2000);

    // An update changes only what differs.
    let mut sharper = thumbnails("frames");
    sharper.sampling_interval = 500;
    want.image_generation = Some(sharper.clone());
    let made = converge_stream(&kvs, &want).await.unwrap();
    assert_eq!(
        made,
        [stream::plan::Mutation::UpdateImageGeneration(
            sharper.clone()
        )]
    );
    assert_eq!(
        emulator
            .stream("doorbell")
            .unwrap()
            .image_generation
            .unwrap()
            .sampling_interval,
        500
    );

    // Changed outside Kubernetes: put back.
    sdk_client(&emulator)
        .update_notification_configuration()
        .stream_name("doorbell")
        .notification_configuration(
            aws_sdk_kinesisvideo::types::NotificationConfiguration::builder()
                .status(aws_sdk_kinesisvideo::types::ConfigurationStatus::Disabled)
                .destination_config(
                    aws_sdk_kinesisvideo::types::NotificationDestinationConfig::builder()
                        .uri("arn:aws:sns:us-west-2:123456789012:elsewhere")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("out-of-band update");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let made = converge_stream(&kvs, &want).await.unwrap();
    assert_eq!(
        made,
        [stream::plan::Mutation::UpdateNotification(alerts(
            "doorbell-rings"
        ))]
    );
}

#[tokio::test]
async fn a_destination_aws_refuses_is_reported_and_nothing_else_is_half_applied() {
    let emulator = emulator().await;
    emulator
        .update_settings(|s| {
            s.unknown_destinations
                .insert("s3://no-such-bucket/thumbs".into());
        })
        .unwrap();
    let kvs = kvs(&emulator);
    let mut want = stream_desired("doorbell");
    converge_stream(&kvs, &want).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = emulator.stream("doorbell").unwrap();

    want.image_generation = Some(thumbnails("no-such-bucket"));
    let refused = converge_stream(&kvs, &want).await.unwrap_err();
    assert!(
        matches!(refused, Error::InvalidArgument { .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("no-such-bucket"),
        "the AWS message: {refused}"
    );
    let after = emulator.stream("doorbell").unwrap();
    assert!(after.image_generation.is_none(), "nothing applied");
    assert_eq!(after.version, before.version, "the stream is unchanged");
}
