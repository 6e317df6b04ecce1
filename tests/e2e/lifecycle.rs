//! A VideoStream's life through `kubectl`: create, every kind of update, drift, delete.

use aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation;
use kvs_emulator::Operation;
use kvs_operator::api::{CLUSTER_TAG, OWNER_TAG};
use kvs_operator::engine::reconcile::FINALIZER;

use crate::support::{Harness, sdk_client};

fn front_door(device: &str, media: &str, retention: u32, tags: &str) -> String {
    format!(
        r#"apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata:
  name: front-door
spec:
  streamName: front-door-cam
  deviceName: {device}
  mediaType: {media}
  dataRetentionInHours: {retention}
  tags: {tags}
"#
    )
}

#[tokio::test]
async fn a_videostream_is_created_updated_and_deleted_through_kubectl() {
    let h = Harness::start("lifecycle").await;

    // Create.
    h.apply_ok(&front_door("cam-01", "video/h264", 24, "{team: security}"))
        .await;
    let vs = h.wait_ready("front-door").await;
    let status = vs.status.clone().expect("status");
    let stream = h.emulator.stream("front-door-cam").expect("stream created");
    assert_eq!(
        status.stream_arn.as_deref(),
        Some(stream.stream_arn.as_str())
    );
    assert_eq!(status.version.as_deref(), Some(stream.version.as_str()));
    assert_eq!(status.aws_status.as_deref(), Some("ACTIVE"));
    assert_eq!(status.stream_name.as_deref(), Some("front-door-cam"));
    assert_eq!(status.data_retention_in_hours, Some(24));
    assert!(status.creation_time.is_some() && status.last_sync_time.is_some());
    for api in ["PUT_MEDIA", "GET_MEDIA"] {
        assert!(
            status
                .data_endpoints
                .get(api)
                .is_some_and(|e| e.starts_with("https://")),
            "{api}"
        );
    }
    assert!(
        vs.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&FINALIZER.to_string())
    );
    assert_eq!(
        stream.tags.get(OWNER_TAG).map(String::as_str),
        Some(format!("{}/front-door", h.namespace).as_str())
    );
    assert_eq!(
        stream.tags.get("team").map(String::as_str),
        Some("security")
    );
    let (kind, note) = h.wait_event("front-door", "CreatedStream").await;
    assert_eq!(kind, "Normal");
    assert!(note.contains(&stream.stream_arn), "{note}");

    let table = h
        .kubectl(&["get", "vs", "-n", &h.namespace, "-o", "wide"])
        .await;
    let header = table.stdout.lines().next().unwrap_or_default().to_string();
    for column in ["STREAM", "AWS-STATUS", "RETENTION", "READY", "AGE", "ARN"] {
        assert!(
            header.contains(column),
            "{column} missing: {}",
            table.stdout
        );
    }
    assert!(
        table.stdout.contains(&stream.stream_arn) && table.stdout.contains("True"),
        "{}",
        table.stdout
    );

    // Device name and media type.
    h.apply_ok(&front_door("cam-02", "video/h265", 24, "{team: security}"))
        .await;
    h.wait_ready("front-door").await;
    let stream = h.emulator.stream("front-door-cam").unwrap();
    assert_eq!(stream.device_name.as_deref(), Some("cam-02"));
    assert_eq!(stream.media_type.as_deref(), Some("video/h265"));
    h.wait_event("front-door", "UpdatedStream").await;

    // Retention up, then down: a decrease is a Warning that says how much history goes.
    h.apply_ok(&front_door("cam-02", "video/h265", 72, "{team: security}"))
        .await;
    let vs = h.wait_ready("front-door").await;
    assert_eq!(vs.status.unwrap().data_retention_in_hours, Some(72));
    assert_eq!(
        h.emulator
            .stream("front-door-cam")
            .unwrap()
            .data_retention_in_hours,
        72
    );
    h.apply_ok(&front_door("cam-02", "video/h265", 12, "{team: security}"))
        .await;
    h.wait_ready("front-door").await;
    assert_eq!(
        h.emulator
            .stream("front-door-cam")
            .unwrap()
            .data_retention_in_hours,
        12
    );
    let (kind, note) = h.wait_event("front-door", "DecreasedRetention").await;
    assert_eq!(kind, "Warning");
    assert!(note.contains("60h"), "{note}");

    // Tags: add, change, remove.
    h.apply_ok(&front_door(
        "cam-02",
        "video/h265",
        12,
        "{team: ops, site: hq}",
    ))
    .await;
    h.wait_ready("front-door").await;
    h.apply_ok(&front_door("cam-02", "video/h265", 12, "{site: hq}"))
        .await;
    h.wait_ready("front-door").await;
    let stream = h.emulator.stream("front-door-cam").unwrap();
    let keys: Vec<&str> = stream.tags.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["kvs-operator.dev/cluster", "kvs-operator.dev/owner", "site"]
    );
    assert_eq!(
        h.emulator.calls_of(Operation::CreateStream).total,
        1,
        "never replaced"
    );

    // Delete: the stream goes, then the finalizer, then the VideoStream.
    h.kubectl(&[
        "delete",
        "vs",
        "front-door",
        "-n",
        &h.namespace,
        "--wait=false",
    ])
    .await;
    h.wait_gone("front-door").await;
    assert!(
        h.emulator.stream("front-door-cam").is_none(),
        "stream deleted"
    );
    assert_eq!(h.emulator.calls_of(Operation::DeleteStream).total, 1);
}

#[tokio::test]
async fn a_change_made_outside_kubernetes_is_reverted() {
    let h = Harness::start("drift").await;
    h.apply_ok(&front_door("cam-01", "video/h264", 24, "{}"))
        .await;
    h.wait_ready("front-door").await;

    // Someone raises retention in the console.
    let stream = h.emulator.stream("front-door-cam").unwrap();
    sdk_client(&h.emulator)
        .update_data_retention()
        .stream_arn(&stream.stream_arn)
        .current_version(&stream.version)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(500)
        .send()
        .await
        .expect("out-of-band update");
    h.wait_stream("front-door-cam", "back at 24h", |s| {
        s.is_some_and(|s| s.data_retention_in_hours == 24)
    })
    .await;
    h.wait_ready("front-door").await;
}

#[tokio::test]
async fn retain_policy_keeps_the_stream_when_the_videostream_is_deleted() {
    let h = Harness::start("retain").await;
    h.apply_ok(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: archive\nspec:\n  deletionPolicy: Retain\n  dataRetentionInHours: 48\n",
    )
    .await;
    h.wait_ready("archive").await;

    h.kubectl(&[
        "delete",
        "vs",
        "archive",
        "-n",
        &h.namespace,
        "--wait=false",
    ])
    .await;
    h.wait_gone("archive").await;

    let stream = h.emulator.stream("archive").expect("stream kept");
    assert!(
        !stream.tags.contains_key(OWNER_TAG) && !stream.tags.contains_key(CLUSTER_TAG),
        "ownership tags removed: {:?}",
        stream.tags
    );
    assert_eq!(h.emulator.calls_of(Operation::DeleteStream).total, 0);
}

/// Converging a new VideoStream writes it twice besides the user's create: the finalizer
/// (with the account annotation) and the Ready status. When the stream is ACTIVE by the
/// operator's first look there is no separate "Creating" status in between.
#[tokio::test]
async fn a_new_videostream_is_written_twice_on_its_way_to_ready() {
    use futures::TryStreamExt;
    use kube::api::{ListParams, WatchEvent, WatchParams};

    let h = Harness::start("two-writes").await;
    // KVS has finished creating by the time the operator looks again.
    h.emulator.set_delays(kvs_emulator::Delays {
        create: std::time::Duration::ZERO,
        update: std::time::Duration::from_millis(300),
        delete: std::time::Duration::from_millis(300),
    });
    let api = h.api();
    let from = api
        .list_metadata(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list has a resourceVersion");
    let only_this = WatchParams::default().fields("metadata.name=front-door");
    let mut versions = Box::pin(api.watch(&only_this, &from).await.expect("watch"));

    h.apply_ok(&front_door("cam-01", "video/h264", 24, "{team: security}"))
        .await;
    let mut seen = Vec::new();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(event) = versions.try_next().await.expect("watch event") {
            let vs = match event {
                WatchEvent::Added(vs) | WatchEvent::Modified(vs) => vs,
                WatchEvent::Bookmark(_) => continue,
                other => panic!("unexpected watch event: {other:?}"),
            };
            let is_ready = vs.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            seen.push(vs);
            if is_ready {
                return;
            }
        }
        panic!("the watch ended before the VideoStream was Ready");
    })
    .await;
    assert!(ready.is_ok(), "not Ready within a minute: {seen:#?}");
    let statuses: Vec<_> = seen
        .iter()
        .map(|vs| vs.status.as_ref().and_then(|s| s.aws_status.clone()))
        .collect();
    assert_eq!(
        statuses,
        [None, None, Some("ACTIVE".to_string())],
        "the user's create, the finalizer, the Ready status: {seen:#?}"
    );
    let finalized = &seen[1].metadata;
    assert!(
        finalized
            .finalizers
            .as_ref()
            .is_some_and(|f| f.contains(&FINALIZER.to_string())),
        "the finalizer comes before anything is created: {finalized:?}"
    );
    let placement = seen[2].status.as_ref().and_then(|s| s.placement.clone());
    assert_eq!(
        placement.map(|p| p.account),
        Some(h.emulator.account_id().to_string()),
        "the Ready status records where the stream was made"
    );
    drop(versions);
    h.delete_ok("vs", "front-door").await;
    h.wait_gone("front-door").await;
}
