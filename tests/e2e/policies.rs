//! How far the operator acts, for every kind: `managementPolicy: ObserveOnly` only fills
//! the status, and the pause annotation stops every AWS call until it is removed.

use aws_sdk_kinesisvideo::types::{
    ChannelType, SingleMasterConfiguration, UpdateDataRetentionOperation,
};
use kvs_emulator::{CallRecord, StreamStatus};
use kvs_operator::api::{OWNER_TAG, PAUSED_ANNOTATION, SignalingChannel, VideoStream};
use kvs_operator::engine::conditions::{READY, RECONCILING, STALLED, SYNCED, find};
use kvs_operator::engine::kind::{Kind, KindStatus};

use crate::support::{Harness, channel_manifest, sdk_client, stream_manifest};

/// The calls after `mark` that addressed stream `stream` or channel `channel`.
fn calls_for(h: &Harness, mark: u64, stream: &str, channel: &str) -> Vec<CallRecord> {
    h.emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| r.stream.as_deref() == Some(stream) || r.channel.as_deref() == Some(channel))
        .collect()
}

/// `kubectl annotate` the pause annotation on (`true`) or off.
async fn set_paused(h: &Harness, kind: &str, name: &str, on: bool) {
    let annotation = if on {
        format!("{PAUSED_ANNOTATION}=true")
    } else {
        format!("{PAUSED_ANNOTATION}-")
    };
    let out = h
        .kubectl(&[
            "annotate",
            "--overwrite",
            kind,
            name,
            "-n",
            &h.namespace,
            &annotation,
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
}

/// Whether `object`'s Synced condition says Paused for `generation`.
fn paused_at<K: Kind>(object: &K, generation: Option<i64>) -> bool {
    object.status().is_some_and(|s| {
        find(s.conditions(), SYNCED)
            .is_some_and(|c| c.reason == "Paused" && c.observed_generation == generation)
    })
}

fn condition<K: Kind>(object: &K, type_: &str) -> (String, String, String) {
    let status = object.status().expect("status");
    let c = find(status.conditions(), type_).expect("condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[tokio::test]
async fn observe_only_fills_the_status_and_never_changes_or_deletes_anything() {
    let h = Harness::start("observe").await;
    let console = sdk_client(&h.emulator);
    console
        .create_stream()
        .stream_name("legacy-cam")
        .device_name("old-cam")
        .data_retention_in_hours(2)
        .tags("managed-by", "terraform")
        .send()
        .await
        .expect("stream created outside");
    console
        .create_signaling_channel()
        .channel_name("legacy-door")
        .channel_type(ChannelType::SingleMaster)
        .single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(10)
                .build(),
        )
        .send()
        .await
        .expect("channel created outside");
    h.wait_stream("legacy-cam", "ACTIVE", |s| {
        s.is_some_and(|s| s.status == StreamStatus::Active)
    })
    .await;
    h.wait_channel("legacy-door", "ACTIVE", |c| {
        c.is_some_and(|c| c.channel_status == StreamStatus::Active)
    })
    .await;
    let stream = h.emulator.stream("legacy-cam").unwrap();
    let channel = h.emulator.channel("legacy-door").unwrap();
    let mark = h.log_mark();

    // Specs that differ from AWS in every field: ObserveOnly only reports.
    let watch_cam = stream_manifest(
        "watch-cam",
        "  streamName: legacy-cam\n  managementPolicy: ObserveOnly\n  deviceName: cam-99\n  dataRetentionInHours: 24\n  tags: {team: video}\n",
    );
    let watch_door = channel_manifest(
        "watch-door",
        "  channelName: legacy-door\n  managementPolicy: ObserveOnly\n  messageTtlSeconds: 60\n  tags: {team: video}\n  mediaStorage: {videoStreamName: not-here}\n",
    );
    let ghost = stream_manifest(
        "ghost",
        "  streamName: ghost-cam\n  managementPolicy: ObserveOnly\n",
    );
    h.apply_ok(&format!("{watch_cam}---\n{watch_door}---\n{ghost}"))
        .await;

    let vs: VideoStream = h.wait_ready_kind("watch-cam").await;
    assert_eq!(condition(&vs, READY).1, "Observed");
    let status = vs.status.unwrap();
    assert_eq!(
        status.stream_arn.as_deref(),
        Some(stream.stream_arn.as_str())
    );
    assert_eq!(status.version.as_deref(), Some(stream.version.as_str()));
    assert_eq!(status.data_retention_in_hours, Some(2), "what AWS has");
    assert!(status.creation_time.is_some());
    assert!(
        status.data_endpoints.contains_key("GET_MEDIA"),
        "{:?}",
        status.data_endpoints
    );

    // Its mediaStorage names a VideoStream that does not exist: observing needs none.
    let sc: SignalingChannel = h.wait_ready_kind("watch-door").await;
    assert_eq!(condition(&sc, READY).1, "Observed");
    assert_eq!(condition(&sc, SYNCED).0, "True");
    let status = sc.status.unwrap();
    assert_eq!(
        status.channel_arn.as_deref(),
        Some(channel.channel_arn.as_str())
    );
    assert_eq!(status.message_ttl_seconds, Some(10), "what AWS has");
    let endpoints = status.endpoints.expect("endpoints");
    assert!(endpoints.master.wss.is_some() && endpoints.viewer.https.is_some());

    let ghost: VideoStream = h.wait_reason("ghost", READY, "NotFound").await;
    assert_eq!(condition(&ghost, READY).0, "False");
    assert_eq!(condition(&ghost, SYNCED).0, "True");
    // Nothing the operator does will make it appear: stalled (kstatus Failed, Argo CD
    // Degraded), never "reconciling" forever.
    assert_eq!(condition(&ghost, STALLED).0, "True");
    let conditions = &ghost.status.as_ref().unwrap().conditions;
    assert!(find(conditions, RECONCILING).is_none(), "{conditions:?}");

    // Deleting them deletes nothing.
    for (kind, name) in [
        ("vs", "watch-cam"),
        ("sigch", "watch-door"),
        ("vs", "ghost"),
    ] {
        h.delete_ok(kind, name).await;
    }
    h.wait_gone_kind::<VideoStream>("watch-cam").await;
    h.wait_gone_kind::<SignalingChannel>("watch-door").await;
    h.wait_gone_kind::<VideoStream>("ghost").await;

    assert_eq!(h.mutations_since(mark), [], "no mutation at all");
    let after = h.emulator.stream("legacy-cam").expect("stream kept");
    assert_eq!(
        (&after.version, &after.tags, after.data_retention_in_hours),
        (&stream.version, &stream.tags, 2)
    );
    assert!(!after.tags.contains_key(OWNER_TAG));
    let after = h.emulator.channel("legacy-door").expect("channel kept");
    assert_eq!(
        (&after.version, &after.tags, after.message_ttl_seconds),
        (&channel.version, &channel.tags, 10)
    );
    assert!(h.emulator.stream("ghost-cam").is_none(), "never created");
}

#[tokio::test]
async fn removing_the_pause_annotation_resumes_at_once_and_the_object_is_synced_again() {
    let h = Harness::start("unpause").await;
    let cam = stream_manifest("cam", "  dataRetentionInHours: 24\n");
    let door = channel_manifest("door", "  messageTtlSeconds: 60\n");
    h.apply_ok(&format!("{cam}---\n{door}")).await;
    h.wait_ready_kind::<VideoStream>("cam").await;
    h.wait_ready_kind::<SignalingChannel>("door").await;
    set_paused(&h, "vs", "cam", true).await;
    set_paused(&h, "sigch", "door", true).await;
    h.wait_reason::<VideoStream>("cam", SYNCED, "Paused").await;
    h.wait_reason::<SignalingChannel>("door", SYNCED, "Paused")
        .await;

    // No spec change: only the annotation goes. Ready never left True, so only a check of
    // Synced keeps the fast path from calling the object settled while it says Paused.
    set_paused(&h, "vs", "cam", false).await;
    set_paused(&h, "sigch", "door", false).await;
    let vs: VideoStream = h.wait_reason("cam", SYNCED, "ReconcileSuccess").await;
    assert_eq!(condition(&vs, SYNCED).0, "True");
    assert_eq!(condition(&vs, READY).0, "True");
    let sc: SignalingChannel = h.wait_reason("door", SYNCED, "ReconcileSuccess").await;
    assert_eq!(condition(&sc, SYNCED).0, "True");
    let (kind, _) = h.wait_event("cam", "Recovered").await;
    assert_eq!(kind, "Normal");
}

#[tokio::test]
async fn a_paused_object_makes_no_aws_call_until_the_annotation_is_removed() {
    let h = Harness::start("paused").await;
    let cam = stream_manifest("cam", "  dataRetentionInHours: 24\n");
    let door = channel_manifest("door", "  messageTtlSeconds: 60\n");
    h.apply_ok(&format!("{cam}---\n{door}")).await;
    h.wait_ready_kind::<VideoStream>("cam").await;
    h.wait_ready_kind::<SignalingChannel>("door").await;

    set_paused(&h, "vs", "cam", true).await;
    set_paused(&h, "sigch", "door", true).await;
    let vs: VideoStream = h.wait_reason("cam", SYNCED, "Paused").await;
    let (status, _, message) = condition(&vs, SYNCED);
    assert_eq!(status, "False");
    assert!(message.contains(PAUSED_ANNOTATION), "{message}");
    assert_eq!(condition(&vs, READY).0, "True", "readiness is left alone");
    h.wait_reason::<SignalingChannel>("door", SYNCED, "Paused")
        .await;
    let (kind, _) = h.wait_event("cam", "Paused").await;
    assert_eq!(kind, "Warning");

    // While paused: a change outside Kubernetes and spec changes are all left alone.
    let stream = h.emulator.stream("cam").unwrap();
    sdk_client(&h.emulator)
        .update_data_retention()
        .stream_arn(&stream.stream_arn)
        .current_version(&stream.version)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(76)
        .send()
        .await
        .expect("retention changed outside");
    let mark = h.log_mark();
    h.apply_ok(&format!(
        "{}---\n{}",
        cam.replace("24", "48"),
        door.replace("60", "30")
    ))
    .await;
    // Both new generations seen while paused, and several drift scans passed.
    let vs = h
        .wait_kind::<VideoStream>("cam", "paused at its new generation", |vs| {
            paused_at(vs, vs.metadata.generation)
        })
        .await;
    // The new generation is not applied: the status says so to kstatus (observedGeneration
    // stays at the last applied one) while Ready still describes that one.
    let status = vs.status.as_ref().unwrap();
    assert!(
        status.observed_generation < vs.metadata.generation,
        "observedGeneration {:?} of generation {:?}",
        status.observed_generation,
        vs.metadata.generation
    );
    assert_eq!(
        find(&status.conditions, READY).unwrap().observed_generation,
        status.observed_generation
    );
    h.wait_kind::<SignalingChannel>("door", "paused at its new generation", |sc| {
        paused_at(sc, sc.metadata.generation)
    })
    .await;
    h.wait_scans(mark, 3).await;
    assert_eq!(
        calls_for(&h, mark, "cam", "door"),
        [],
        "no AWS call while paused"
    );
    assert_eq!(
        h.emulator.stream("cam").unwrap().data_retention_in_hours,
        100
    );
    assert_eq!(h.emulator.channel("door").unwrap().message_ttl_seconds, 60);
    let vs: VideoStream = h.wait_reason("cam", SYNCED, "Paused").await;
    assert_eq!(condition(&vs, SYNCED).0, "False");

    // Removed: the spec is applied at once.
    set_paused(&h, "vs", "cam", false).await;
    set_paused(&h, "sigch", "door", false).await;
    h.wait_ready_kind::<VideoStream>("cam").await;
    h.wait_ready_kind::<SignalingChannel>("door").await;
    assert_eq!(
        h.emulator.stream("cam").unwrap().data_retention_in_hours,
        48
    );
    assert_eq!(h.emulator.channel("door").unwrap().message_ttl_seconds, 30);

    // Deleting a paused object waits, and says so.
    set_paused(&h, "vs", "cam", true).await;
    set_paused(&h, "sigch", "door", true).await;
    h.wait_reason::<VideoStream>("cam", SYNCED, "Paused").await;
    h.wait_reason::<SignalingChannel>("door", SYNCED, "Paused")
        .await;
    for (kind, name) in [("vs", "cam"), ("sigch", "door")] {
        h.delete_ok(kind, name).await;
    }
    let waits = |message: &str| message.contains("deletion waits");
    h.wait_kind::<VideoStream>("cam", "waiting to be deleted", |vs| {
        vs.status.is_some() && waits(&condition(vs, SYNCED).2)
    })
    .await;
    h.wait_kind::<SignalingChannel>("door", "waiting to be deleted", |sc| {
        sc.status.is_some() && waits(&condition(sc, SYNCED).2)
    })
    .await;
    let mark = h.log_mark();
    h.wait_scans(mark, 3).await;
    assert_eq!(calls_for(&h, mark, "cam", "door"), []);
    assert!(h.emulator.stream("cam").is_some() && h.emulator.channel("door").is_some());

    set_paused(&h, "vs", "cam", false).await;
    set_paused(&h, "sigch", "door", false).await;
    h.wait_gone_kind::<VideoStream>("cam").await;
    h.wait_gone_kind::<SignalingChannel>("door").await;
    assert!(h.emulator.stream("cam").is_none(), "deleted at AWS");
    assert!(h.emulator.channel("door").is_none(), "deleted at AWS");
}
