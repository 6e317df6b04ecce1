//! A SignalingChannel's life through `kubectl`: create, TTL and tag updates, drift, delete
//! with both policies, channels that are not ours, media storage into a VideoStream, and
//! the manifests the API server refuses.

use std::time::UNIX_EPOCH;

use aws_sdk_kinesisvideo::types::{ChannelType, SingleMasterConfiguration, Tag};
use kvs_emulator::{MediaStorageStatus, Operation};
use kvs_operator::api::{CLUSTER_TAG, MediaStorageStatus as StorageStatus, OWNER_TAG};
use kvs_operator::api::{SignalingChannel, VideoStream};
use kvs_operator::engine::conditions::{READY, STALLED, SYNCED, find};
use kvs_operator::engine::reconcile::FINALIZER;

use crate::support::{Harness, OperatorOptions, channel_manifest, sdk_client, stream_manifest};

/// The doorbell channel `front-doorbell` with a TTL and tags.
fn doorbell(ttl: u32, tags: &str) -> String {
    channel_manifest(
        "doorbell",
        &format!("  channelName: front-doorbell\n  messageTtlSeconds: {ttl}\n  tags: {tags}\n"),
    )
}

fn video_stream(name: &str, retention: u32) -> String {
    stream_manifest(name, &format!("  dataRetentionInHours: {retention}\n"))
}

/// (succeeded, failed) calls of `op` in the whole log.
fn outcomes(h: &Harness, op: Operation) -> (usize, usize) {
    let calls: Vec<_> = h
        .emulator
        .call_log()
        .into_iter()
        .filter(|r| r.operation == op)
        .collect();
    let ok = calls.iter().filter(|r| r.succeeded()).count();
    (ok, calls.len() - ok)
}

/// A channel made outside Kubernetes (by Terraform, say), ACTIVE when this returns.
async fn create_outside(h: &Harness, name: &str, ttl: i32, tags: &[(&str, &str)]) {
    let mut request = sdk_client(&h.emulator)
        .create_signaling_channel()
        .channel_name(name)
        .channel_type(ChannelType::SingleMaster)
        .single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(ttl)
                .build(),
        );
    for (key, value) in tags {
        request = request.tags(Tag::builder().key(*key).value(*value).build().unwrap());
    }
    request.send().await.expect("channel created outside");
    h.wait_channel(name, "ACTIVE", |c| {
        c.is_some_and(|c| c.channel_status == kvs_emulator::StreamStatus::Active)
    })
    .await;
}

fn synced_message(sc: &SignalingChannel) -> String {
    let status = sc.status.as_ref().expect("status");
    find(&status.conditions, SYNCED)
        .expect("Synced")
        .message
        .clone()
}

#[tokio::test]
async fn a_signaling_channel_is_created_updated_and_deleted_through_kubectl() {
    let h = Harness::start("sc-life").await;

    // Create: the TTL, the user's tags and the ownership tags in one call.
    h.apply_ok(&doorbell(30, "{site: home}")).await;
    let sc: SignalingChannel = h.wait_ready_kind("doorbell").await;
    let status = sc.status.clone().expect("status");
    let created = h
        .emulator
        .channel("front-doorbell")
        .expect("channel created");
    assert_eq!(created.message_ttl_seconds, 30);
    assert_eq!(
        created.tags.get(OWNER_TAG),
        Some(&format!("{}/doorbell", h.namespace))
    );
    assert_eq!(created.tags.get(CLUSTER_TAG), Some(&h.cluster_id().await));
    assert_eq!(created.tags.get("site").map(String::as_str), Some("home"));
    assert_eq!(
        status.channel_arn.as_deref(),
        Some(created.channel_arn.as_str())
    );
    assert_eq!(status.version.as_deref(), Some(created.version.as_str()));
    assert_eq!(status.aws_status.as_deref(), Some("ACTIVE"));
    assert_eq!(status.channel_name.as_deref(), Some("front-doorbell"));
    assert_eq!(status.message_ttl_seconds, Some(30));
    let created_at = created
        .creation_time
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let recorded = status.creation_time.as_ref().expect("creation time").0;
    assert!(
        (recorded.as_second() - created_at).abs() <= 1,
        "{recorded} vs {created_at}"
    );
    let endpoints = status.endpoints.clone().expect("endpoints");
    for (role, found) in [("MASTER", &endpoints.master), ("VIEWER", &endpoints.viewer)] {
        let wss = found.wss.as_deref().unwrap_or_default();
        let https = found.https.as_deref().unwrap_or_default();
        assert!(wss.starts_with("wss://"), "{role} WSS: {wss:?}");
        assert!(https.starts_with("https://"), "{role} HTTPS: {https:?}");
    }
    assert_ne!(endpoints.master.wss, endpoints.viewer.wss, "one per role");
    assert!(
        sc.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&FINALIZER.to_string())
    );
    let (kind, note) = h
        .wait_event_of::<SignalingChannel>("doorbell", "CreatedSignalingChannel")
        .await;
    assert_eq!(kind, "Normal");
    assert!(note.contains(&created.channel_arn), "{note}");

    // `kubectl get sigch` shows the printer columns.
    let table = h
        .kubectl(&["get", "sigch", "-n", &h.namespace, "-o", "wide"])
        .await;
    assert!(table.success(), "{}", table.stderr);
    let header = table.stdout.lines().next().unwrap_or_default().to_string();
    for column in ["CHANNEL", "AWS-STATUS", "TTL", "READY", "AGE", "ARN"] {
        assert!(
            header.contains(column),
            "{column} missing: {}",
            table.stdout
        );
    }
    let row = table.stdout.lines().nth(1).unwrap_or_default();
    for value in [
        "front-doorbell",
        "ACTIVE",
        "30",
        "True",
        &created.channel_arn,
    ] {
        assert!(row.contains(value), "{value} missing: {}", table.stdout);
    }

    // The TTL changes in place, with the version just observed.
    h.apply_ok(&doorbell(90, "{site: home}")).await;
    let sc: SignalingChannel = h.wait_ready_kind("doorbell").await;
    let updated = h.emulator.channel("front-doorbell").unwrap();
    assert_eq!(updated.message_ttl_seconds, 90);
    assert_eq!(updated.channel_arn, created.channel_arn, "not replaced");
    assert_ne!(updated.version, created.version);
    let status = sc.status.unwrap();
    assert_eq!(status.message_ttl_seconds, Some(90));
    assert_eq!(status.version.as_deref(), Some(updated.version.as_str()));
    assert_eq!(outcomes(&h, Operation::UpdateSignalingChannel), (1, 0));
    let (_, note) = h
        .wait_event_of::<SignalingChannel>("doorbell", "UpdatedSignalingChannel")
        .await;
    assert!(note.contains("30s to 90s"), "{note}");

    // Tags: add and change, then remove; the ownership tags stay.
    h.apply_ok(&doorbell(90, "{site: office, floor: \"2\"}"))
        .await;
    h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    let tags = h.emulator.channel("front-doorbell").unwrap().tags;
    assert_eq!(tags.get("site").map(String::as_str), Some("office"));
    assert_eq!(tags.get("floor").map(String::as_str), Some("2"));
    h.wait_event_of::<SignalingChannel>("doorbell", "TaggedSignalingChannel")
        .await;
    h.apply_ok(&doorbell(90, "{floor: \"2\"}")).await;
    h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    let tags = h.emulator.channel("front-doorbell").unwrap().tags;
    let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
    assert_eq!(keys, ["floor", CLUSTER_TAG, OWNER_TAG]);
    h.wait_event_of::<SignalingChannel>("doorbell", "UntaggedSignalingChannel")
        .await;
    assert_eq!(
        h.emulator.calls_of(Operation::CreateSignalingChannel).total,
        1
    );

    // Delete: the channel goes, then the finalizer, then the SignalingChannel.
    h.delete_ok("sigch", "doorbell").await;
    h.wait_gone_kind::<SignalingChannel>("doorbell").await;
    assert!(h.emulator.channel("front-doorbell").is_none(), "deleted");
    assert_eq!(outcomes(&h, Operation::DeleteSignalingChannel), (1, 0));
    h.wait_event_of::<SignalingChannel>("doorbell", "DeletingSignalingChannel")
        .await;
}

#[tokio::test]
async fn a_channel_changed_outside_kubernetes_is_put_back() {
    let h = Harness::without_operator("sc-drift").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    // The spec as the whole truth: tags added outside go too.
    h.apply_ok(&doorbell(30, "{site: home}\n  tagPolicy: Exclusive"))
        .await;
    h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    let live = h.emulator.channel("front-doorbell").unwrap();
    let console = sdk_client(&h.emulator);

    // The TTL changed in the console: the version moves on, and the next scan sees it.
    console
        .update_signaling_channel()
        .channel_arn(&live.channel_arn)
        .current_version(&live.version)
        .single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(100)
                .build(),
        )
        .send()
        .await
        .expect("TTL changed outside");
    h.wait_channel("front-doorbell", "back at 30s", |c| {
        c.is_some_and(|c| c.message_ttl_seconds == 30)
    })
    .await;

    // Tags changed in the console (the version stays): the tag audit sees it.
    console
        .tag_resource()
        .resource_arn(&live.channel_arn)
        .tags(
            Tag::builder()
                .key("site")
                .value("elsewhere")
                .build()
                .unwrap(),
        )
        .tags(
            Tag::builder()
                .key("added-by")
                .value("console")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("tags changed outside");
    h.wait_channel("front-doorbell", "tags put back", |c| {
        c.is_some_and(|c| {
            c.tags.get("site").map(String::as_str) == Some("home")
                && !c.tags.contains_key("added-by")
        })
    })
    .await;
    h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    assert_eq!(
        h.emulator.calls_of(Operation::CreateSignalingChannel).total,
        1
    );
}

#[tokio::test]
async fn retain_keeps_the_channel_and_removes_only_the_ownership_tags() {
    let h = Harness::start("sc-retain").await;
    h.apply_ok(&channel_manifest(
        "archive",
        "  deletionPolicy: Retain\n  tags: {site: home}\n",
    ))
    .await;
    h.wait_ready_kind::<SignalingChannel>("archive").await;
    let before = h.emulator.channel("archive").expect("created");
    assert_eq!(before.message_ttl_seconds, 60, "the default TTL");

    h.delete_ok("sigch", "archive").await;
    h.wait_gone_kind::<SignalingChannel>("archive").await;
    let kept = h.emulator.channel("archive").expect("channel kept");
    assert!(
        !kept.tags.contains_key(OWNER_TAG) && !kept.tags.contains_key(CLUSTER_TAG),
        "ownership tags removed: {:?}",
        kept.tags
    );
    assert_eq!(kept.tags.get("site").map(String::as_str), Some("home"));
    assert_eq!(kept.message_ttl_seconds, 60);
    assert_eq!(
        h.emulator.calls_of(Operation::DeleteSignalingChannel).total,
        0
    );
    let (_, note) = h
        .wait_event_of::<SignalingChannel>("archive", "ReleasedSignalingChannel")
        .await;
    assert!(note.contains(&kept.channel_arn), "{note}");
}

#[tokio::test]
async fn a_channel_that_is_not_ours_is_never_touched_until_adoption_is_asked_for() {
    let h = Harness::start_adopting("sc-owner").await;
    let cluster = h.cluster_id().await;
    create_outside(&h, "legacy-door", 10, &[("managed-by", "terraform")]).await;
    // Another namespace's SignalingChannel owns this one.
    create_outside(
        &h,
        "taken-door",
        10,
        &[(OWNER_TAG, "elsewhere/door"), (CLUSTER_TAG, &cluster)],
    )
    .await;
    let taken = h.emulator.channel("taken-door").unwrap();
    let mark = h.log_mark();

    let legacy = channel_manifest("legacy", "  channelName: legacy-door\n");
    let grab = channel_manifest(
        "grab",
        "  channelName: taken-door\n  adoptExisting: true\n  messageTtlSeconds: 120\n",
    );
    h.apply_ok(&format!("{legacy}---\n{grab}")).await;
    let sc = h
        .wait_reason::<SignalingChannel>("legacy", SYNCED, "NotOwned")
        .await;
    let ready = find(&sc.status.as_ref().unwrap().conditions, READY)
        .unwrap()
        .clone();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NotOwned")
    );
    assert!(ready.message.contains("adoptExisting"), "{}", ready.message);
    let (kind, _) = h
        .wait_event_of::<SignalingChannel>("legacy", "NotOwned")
        .await;
    assert_eq!(kind, "Warning");
    // Asking to adopt does not take another's channel.
    let sc = h
        .wait_reason::<SignalingChannel>("grab", SYNCED, "NotOwned")
        .await;
    let message = synced_message(&sc);
    assert!(message.contains("elsewhere/door"), "{message}");

    // Deleting it (the default policy is Delete) deletes nothing at AWS.
    h.delete_ok("sigch", "grab").await;
    h.wait_gone_kind::<SignalingChannel>("grab").await;
    assert_eq!(h.mutations_since(mark), [], "nothing was changed");
    let after = h.emulator.channel("taken-door").expect("channel kept");
    assert_eq!(
        (after.version, after.tags, after.message_ttl_seconds),
        (taken.version, taken.tags, 10)
    );
    assert_eq!(
        h.emulator
            .channel("legacy-door")
            .unwrap()
            .message_ttl_seconds,
        10
    );

    // Adoption asked for: the ownership tags are written, then the spec applied.
    h.apply_ok(&channel_manifest(
        "legacy",
        "  channelName: legacy-door\n  adoptExisting: true\n",
    ))
    .await;
    h.wait_ready_kind::<SignalingChannel>("legacy").await;
    let adopted = h.emulator.channel("legacy-door").unwrap();
    assert_eq!(
        adopted.tags.get(OWNER_TAG),
        Some(&format!("{}/legacy", h.namespace))
    );
    assert_eq!(adopted.tags.get(CLUSTER_TAG), Some(&cluster));
    assert_eq!(
        adopted.tags.get("managed-by").map(String::as_str),
        Some("terraform"),
        "tags the spec does not manage are kept"
    );
    assert_eq!(adopted.message_ttl_seconds, 60);
    let creates = h
        .emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| r.operation == Operation::CreateSignalingChannel)
        .count();
    assert_eq!(creates, 0, "adopted, not created");
    h.wait_event_of::<SignalingChannel>("legacy", "AdoptedSignalingChannel")
        .await;
}

#[tokio::test]
async fn media_storage_goes_into_the_active_videostream_of_the_namespace() {
    let h = Harness::start("sc-media").await;
    let doorbell = channel_manifest(
        "doorbell",
        "  mediaStorage:\n    videoStreamName: door-stream\n",
    );
    h.apply_ok(&format!(
        "{}---\n{doorbell}",
        video_stream("door-stream", 24)
    ))
    .await;
    h.wait_ready_kind::<VideoStream>("door-stream").await;
    let sc: SignalingChannel = h.wait_ready_kind("doorbell").await;

    let stream = h.emulator.stream("door-stream").expect("stream");
    let live = h.emulator.channel("doorbell").expect("channel");
    assert_eq!(
        live.media_storage.stream_arn.as_deref(),
        Some(stream.stream_arn.as_str())
    );
    assert_eq!(live.media_storage.status, MediaStorageStatus::Enabled);
    assert_eq!(
        sc.status.unwrap().media_storage,
        Some(StorageStatus {
            stream_arn: Some(stream.stream_arn.clone()),
            status: "ENABLED".into(),
        })
    );
    // Applied once, and never tried before the stream was ACTIVE.
    assert_eq!(
        outcomes(&h, Operation::UpdateMediaStorageConfiguration),
        (1, 0)
    );
    let (_, note) = h
        .wait_event_of::<SignalingChannel>("doorbell", "StoringMedia")
        .await;
    assert!(note.contains(&stream.stream_arn), "{note}");
}

#[tokio::test]
async fn a_channel_cannot_store_into_another_teams_archive() {
    // Team A's archive, made and owned by its own VideoStream.
    let h = Harness::without_operator("sc-archive-a").await;
    let team_b = h
        .plane
        .unique_namespace("sc-archive-b")
        .await
        .expect("namespace");
    let _operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![h.namespace.clone(), team_b.clone()],
        ..OperatorOptions::default()
    });
    h.apply_ok(&stream_manifest(
        "front-door",
        "  streamName: front-door-cam\n  dataRetentionInHours: 87600\n",
    ))
    .await;
    h.wait_ready_kind::<VideoStream>("front-door").await;
    let archive = h.emulator.stream("front-door-cam").expect("archive");

    // Team B observes that stream (allowed: ObserveOnly needs no ownership) and points a
    // channel at its own ObserveOnly VideoStream.
    let observer = stream_manifest(
        "borrowed",
        "  streamName: front-door-cam\n  managementPolicy: ObserveOnly\n",
    );
    let channel = channel_manifest("sneaky", "  mediaStorage:\n    videoStreamName: borrowed\n");
    let out = h
        .apply_in(&team_b, &format!("{observer}---\n{channel}"))
        .await;
    assert!(out.success(), "{}", out.stderr);
    let sc = h
        .wait_kind_in::<SignalingChannel>(&team_b, "sneaky", "refused", |sc| {
            sc.status.as_ref().is_some_and(|s| {
                find(&s.conditions, SYNCED).is_some_and(|c| c.reason == "MediaStorageNotPermitted")
            })
        })
        .await;
    let message = synced_message(&sc);
    assert!(message.contains("ObserveOnly"), "{message}");
    assert_eq!(
        outcomes(&h, Operation::UpdateMediaStorageConfiguration),
        (0, 0),
        "nothing linked into team A's archive"
    );
    let live = h.emulator.channel("sneaky");
    assert!(
        live.is_none_or(|c| c.media_storage.stream_arn.is_none()),
        "the channel stores into nothing"
    );

    // A Full VideoStream that claims the same stream name is not the owner either: the
    // fresh read of the stream's tags says whose it is, and nothing is linked.
    let claimer = stream_manifest("claimer", "  streamName: front-door-cam\n");
    let channel = channel_manifest("sneaky", "  mediaStorage:\n    videoStreamName: claimer\n");
    let out = h
        .apply_in(&team_b, &format!("{claimer}---\n{channel}"))
        .await;
    assert!(out.success(), "{}", out.stderr);
    h.wait_kind_in::<VideoStream>(&team_b, "claimer", "NotOwned", |vs| {
        vs.status
            .as_ref()
            .is_some_and(|s| find(&s.conditions, SYNCED).is_some_and(|c| c.reason == "NotOwned"))
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        outcomes(&h, Operation::UpdateMediaStorageConfiguration),
        (0, 0)
    );
    let unchanged = h.emulator.stream("front-door-cam").unwrap();
    assert_eq!(unchanged.stream_arn, archive.stream_arn);
    assert_eq!(unchanged.data_retention_in_hours, 87600);
}

#[tokio::test]
async fn media_storage_naming_a_missing_videostream_waits_and_heals_once_it_exists() {
    let h = Harness::start("sc-missing").await;
    let mark = h.log_mark();
    h.apply_ok(&channel_manifest(
        "doorbell",
        "  messageTtlSeconds: 30\n  mediaStorage:\n    videoStreamName: later-stream\n",
    ))
    .await;
    let sc = h
        .wait_reason::<SignalingChannel>("doorbell", SYNCED, "MediaStorageNotReady")
        .await;
    let message = synced_message(&sc);
    assert!(
        message.contains("later-stream") && message.contains("does not exist"),
        "{message}"
    );
    let ready = find(&sc.status.as_ref().unwrap().conditions, READY).unwrap();
    assert_eq!(ready.status, "False");
    let (kind, _) = h
        .wait_event_of::<SignalingChannel>("doorbell", "MediaStorageNotReady")
        .await;
    assert_eq!(kind, "Warning");
    // Nothing half-applied: not even the channel.
    assert!(h.emulator.channel("doorbell").is_none());
    assert_eq!(h.mutations_since(mark), []);

    h.apply_ok(&video_stream("later-stream", 24)).await;
    h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    let stream = h.emulator.stream("later-stream").expect("stream");
    let live = h.emulator.channel("doorbell").expect("channel");
    assert_eq!(live.message_ttl_seconds, 30);
    assert_eq!(
        live.media_storage.stream_arn.as_deref(),
        Some(stream.stream_arn.as_str())
    );
    assert_eq!(live.media_storage.status, MediaStorageStatus::Enabled);
}

#[tokio::test]
async fn media_storage_into_a_stream_that_keeps_no_data_is_refused_and_nothing_is_applied() {
    let h = Harness::start("sc-noretention").await;
    let doorbell = channel_manifest("doorbell", "  messageTtlSeconds: 60\n");
    h.apply_ok(&format!("{}---\n{doorbell}", video_stream("live-only", 0)))
        .await;
    h.wait_ready_kind::<VideoStream>("live-only").await;
    h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    let before = h.emulator.channel("doorbell").unwrap();
    let mark = h.log_mark();

    // A TTL change and media storage into a stream that keeps nothing, in one apply.
    h.apply_ok(&channel_manifest(
        "doorbell",
        "  messageTtlSeconds: 30\n  mediaStorage:\n    videoStreamName: live-only\n",
    ))
    .await;
    let sc = h
        .wait_reason::<SignalingChannel>("doorbell", SYNCED, "MediaStorageNeedsRetention")
        .await;
    let message = synced_message(&sc);
    assert!(
        message.contains("live-only") && message.contains("dataRetentionInHours 0"),
        "{message}"
    );
    let status = sc.status.unwrap();
    assert_eq!(
        find(&status.conditions, READY).map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("False", "MediaStorageNeedsRetention"))
    );
    assert_eq!(
        find(&status.conditions, STALLED).map(|c| c.status.as_str()),
        Some("True"),
        "someone must act"
    );
    assert_eq!(h.mutations_since(mark), [], "nothing half-applied");
    let after = h.emulator.channel("doorbell").unwrap();
    assert_eq!(after.message_ttl_seconds, 60);
    assert_eq!(after.version, before.version);
    assert_eq!(after.media_storage.status, MediaStorageStatus::Disabled);
}

#[tokio::test]
async fn invalid_channels_are_refused_at_admission_naming_the_field() {
    let h = Harness::without_operator("sc-invalid").await;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "short-ttl",
            "  messageTtlSeconds: 4\n".into(),
            "spec.messageTtlSeconds",
        ),
        (
            "long-ttl",
            "  messageTtlSeconds: 121\n".into(),
            "spec.messageTtlSeconds",
        ),
        (
            "bad-name",
            "  channelName: \"front door!\"\n".into(),
            "spec.channelName",
        ),
        (
            "long-name",
            format!("  channelName: {}\n", "a".repeat(257)),
            "spec.channelName",
        ),
        (
            "bad-stream-ref",
            "  mediaStorage:\n    videoStreamName: Door_Stream\n".into(),
            "spec.mediaStorage.videoStreamName",
        ),
        (
            "no-stream-ref",
            "  mediaStorage: {}\n".into(),
            "spec.mediaStorage.videoStreamName",
        ),
        (
            "aws-tag",
            "  tags:\n    \"aws:owner\": x\n".into(),
            "spec.tags",
        ),
        (
            "bad-deletion",
            "  deletionPolicy: Destroy\n".into(),
            "spec.deletionPolicy",
        ),
        (
            "bad-management",
            "  managementPolicy: Sometimes\n".into(),
            "spec.managementPolicy",
        ),
        ("unknown-field", "  ttl: 30\n".into(), "ttl"),
    ];
    for (name, spec, field) in cases {
        let out = h.apply(&channel_manifest(name, &spec)).await;
        assert!(!out.success(), "{name} was accepted:\n{spec}");
        assert!(
            out.stderr.contains(field),
            "{name}: the message does not name {field}: {}",
            out.stderr
        );
    }
    let listed = h
        .kubectl(&["get", "sigch", "-n", &h.namespace, "-o", "name"])
        .await;
    assert_eq!(listed.stdout.trim(), "", "nothing was stored");

    // A channel cannot be renamed; spelling out the default name is no rename.
    h.apply_ok(&channel_manifest("door", "  channelName: original\n"))
        .await;
    for spec in ["  channelName: renamed\n", "  messageTtlSeconds: 30\n"] {
        let out = h.apply(&channel_manifest("door", spec)).await;
        assert!(!out.success(), "accepted:\n{spec}");
        assert!(
            out.stderr.contains("spec.channelName is immutable"),
            "{spec}: {}",
            out.stderr
        );
    }
    h.apply_ok(&channel_manifest(
        "door",
        "  channelName: original\n  messageTtlSeconds: 5\n",
    ))
    .await;
    h.apply_ok(&channel_manifest("plain", "  messageTtlSeconds: 120\n"))
        .await;
    h.apply_ok(&channel_manifest("plain", "  channelName: plain\n"))
        .await;
}
