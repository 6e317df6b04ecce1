//! `spec.exportTo` on the real API server: the coordinates of a VideoStream and of a
//! SignalingChannel in a ConfigMap of their namespace, owned by them; rewritten when a value
//! changes (a stream deleted outside Kubernetes and made again has a new ARN); moved when
//! the name changes; deleted when exportTo leaves the spec and when the object is deleted —
//! by the operator itself: this control plane runs no garbage collector. A ConfigMap the
//! object does not own is never overwritten (ExportConflict, with an Event).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kvs_operator::api::SignalingChannel;
use kvs_operator::engine::conditions::{READY, SYNCED, find};
use kvs_operator::engine::kind::Kind;

use crate::support::{Harness, channel_manifest, sdk_client, stream_manifest};

fn camera(export: Option<&str>) -> String {
    let export = export
        .map(|name| format!("  exportTo:\n    configMapName: {name}\n"))
        .unwrap_or_default();
    stream_manifest(
        "front-door",
        &format!("  streamName: export-door\n  dataRetentionInHours: 24\n{export}"),
    )
}

fn configmaps(h: &Harness) -> Api<ConfigMap> {
    Api::namespaced(h.client.clone(), &h.namespace)
}

/// Polls ConfigMap `name` until `check` holds for it (`None`: it does not exist).
async fn wait_config_map(
    h: &Harness,
    name: &str,
    what: &str,
    check: impl Fn(Option<&ConfigMap>) -> bool,
) -> Option<ConfigMap> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cm = configmaps(h).get_opt(name).await.expect("get");
        if check(cm.as_ref()) {
            return cm;
        }
        assert!(
            Instant::now() < deadline,
            "ConfigMap {name} never became {what}: {cm:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

/// The ConfigMap is the object's: its one ownerReference names it, as controller.
fn assert_owned_by<K: Kind>(cm: &ConfigMap, object: &K) {
    let owners = cm.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(owners[0].uid, object.meta().uid.clone().expect("uid"));
    assert_eq!(owners[0].kind, K::kind(&()));
    assert_eq!(owners[0].controller, Some(true));
}

#[tokio::test]
async fn a_videostream_exports_its_coordinates_keeps_them_current_and_removes_them() {
    let h = Harness::start("export").await;
    h.apply_ok(&camera(Some("door-kvs"))).await;
    let vs = h.wait_ready("front-door").await;
    let status = vs.status.clone().expect("status");
    let arn = status.stream_arn.clone().expect("ARN");
    let expected = BTreeMap::from([
        ("STREAM_NAME".to_string(), "export-door".to_string()),
        ("STREAM_ARN".to_string(), arn.clone()),
        ("AWS_REGION".to_string(), h.emulator.region().to_string()),
        (
            "PUT_MEDIA_ENDPOINT".to_string(),
            status.data_endpoints["PUT_MEDIA"].clone(),
        ),
        (
            "GET_MEDIA_ENDPOINT".to_string(),
            status.data_endpoints["GET_MEDIA"].clone(),
        ),
    ]);
    let cm = wait_config_map(&h, "door-kvs", "the coordinates", |cm| {
        cm.is_some_and(|cm| data(cm) == expected)
    })
    .await
    .expect("exported");
    assert_owned_by(&cm, &vs);
    assert_eq!(
        cm.metadata.labels.clone().unwrap_or_default()["app.kubernetes.io/managed-by"],
        "kvs-operator"
    );
    let vs = h
        .wait_for("front-door", "recording the export", |vs| {
            vs.status
                .as_ref()
                .and_then(|s| s.exported_config_map.as_deref())
                == Some("door-kvs")
        })
        .await;
    assert!(
        vs.status
            .expect("status")
            .data_endpoints
            .contains_key("PUT_MEDIA")
    );

    // A value changes: the stream is deleted outside Kubernetes and made again.
    sdk_client(&h.emulator)
        .delete_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("deleted outside");
    let remade = h
        .wait_for("front-door", "Ready on a new stream", |vs| {
            let status = vs.status.as_ref();
            status
                .and_then(|s| s.stream_arn.as_deref())
                .is_some_and(|a| a != arn)
                && status
                    .is_some_and(|s| find(&s.conditions, READY).is_some_and(|c| c.status == "True"))
        })
        .await;
    let new_arn = remade.status.and_then(|s| s.stream_arn).expect("ARN");
    wait_config_map(&h, "door-kvs", "the new ARN", |cm| {
        cm.is_some_and(|cm| data(cm)["STREAM_ARN"] == new_arn)
    })
    .await;

    // Another name: the new ConfigMap is written, the old one deleted.
    h.apply_ok(&camera(Some("door-coordinates"))).await;
    wait_config_map(&h, "door-coordinates", "written", |cm| {
        cm.is_some_and(|cm| data(cm)["STREAM_ARN"] == new_arn)
    })
    .await;
    wait_config_map(&h, "door-kvs", "deleted", |cm| cm.is_none()).await;

    // exportTo removed: deleted, and forgotten in the status.
    h.apply_ok(&camera(None)).await;
    wait_config_map(&h, "door-coordinates", "deleted", |cm| cm.is_none()).await;
    h.wait_for("front-door", "without an export", |vs| {
        vs.status
            .as_ref()
            .is_some_and(|s| s.exported_config_map.is_none())
    })
    .await;

    // Deleting the VideoStream deletes its ConfigMap first (no garbage collector here).
    h.apply_ok(&camera(Some("door-kvs"))).await;
    wait_config_map(&h, "door-kvs", "written again", |cm| cm.is_some()).await;
    h.delete_ok("videostream", "front-door").await;
    h.wait_gone("front-door").await;
    assert!(
        configmaps(&h)
            .get_opt("door-kvs")
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn a_config_map_the_object_does_not_own_is_never_overwritten() {
    let h = Harness::start("export-conflict").await;
    let theirs = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("settings".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("LOG_LEVEL".into(), "debug".into())])),
        ..Default::default()
    };
    configmaps(&h)
        .create(&PostParams::default(), &theirs)
        .await
        .expect("someone else's ConfigMap");
    h.apply_ok(&camera(Some("settings"))).await;
    let vs = h.wait_synced_reason("front-door", "ExportConflict").await;
    let status = vs.status.expect("status");
    let synced = find(&status.conditions, SYNCED).expect("Synced");
    assert!(
        synced.message.contains("ConfigMap settings") && synced.message.contains("left untouched"),
        "{}",
        synced.message
    );
    let (type_, note) = h.wait_event("front-door", "ExportConflict").await;
    assert_eq!(type_, "Warning");
    assert_eq!(note, synced.message);
    // The stream itself was made, and its status is current.
    assert!(status.stream_arn.is_some());
    assert!(status.exported_config_map.is_none());
    let cm = configmaps(&h).get("settings").await.expect("still there");
    assert_eq!(
        data(&cm),
        BTreeMap::from([("LOG_LEVEL".into(), "debug".into())])
    );
    assert!(cm.metadata.owner_references.is_none());

    // Deleting the VideoStream leaves it alone too.
    h.delete_ok("videostream", "front-door").await;
    h.wait_gone("front-door").await;
    let cm = configmaps(&h).get("settings").await.expect("still there");
    assert_eq!(data(&cm)["LOG_LEVEL"], "debug");
}

#[tokio::test]
async fn a_signaling_channel_exports_its_endpoints_for_both_roles() {
    let h = Harness::start("export-channel").await;
    h.apply_ok(&channel_manifest(
        "doorbell",
        "  channelName: export-bell\n  exportTo:\n    configMapName: bell-kvs\n",
    ))
    .await;
    let channel = h.wait_ready_kind::<SignalingChannel>("doorbell").await;
    let status = channel.status.clone().expect("status");
    let endpoints = status.endpoints.clone().expect("endpoints");
    let some = |v: &Option<String>| v.clone().expect("endpoint");
    let expected = BTreeMap::from([
        ("CHANNEL_NAME".to_string(), "export-bell".to_string()),
        (
            "CHANNEL_ARN".to_string(),
            status.channel_arn.clone().expect("ARN"),
        ),
        ("AWS_REGION".to_string(), h.emulator.region().to_string()),
        (
            "MASTER_WSS_ENDPOINT".to_string(),
            some(&endpoints.master.wss),
        ),
        (
            "MASTER_HTTPS_ENDPOINT".to_string(),
            some(&endpoints.master.https),
        ),
        (
            "VIEWER_WSS_ENDPOINT".to_string(),
            some(&endpoints.viewer.wss),
        ),
        (
            "VIEWER_HTTPS_ENDPOINT".to_string(),
            some(&endpoints.viewer.https),
        ),
    ]);
    let cm = wait_config_map(&h, "bell-kvs", "the coordinates", |cm| {
        cm.is_some_and(|cm| data(cm) == expected)
    })
    .await
    .expect("exported");
    assert_owned_by(&cm, &channel);
    h.delete_ok("sigch", "doorbell").await;
    h.wait_gone_kind::<SignalingChannel>("doorbell").await;
    assert!(
        configmaps(&h)
            .get_opt("bell-kvs")
            .await
            .expect("get")
            .is_none()
    );
}
