//! `kvs-operator import`: existing streams and channels become manifests, and applying them
//! adopts the resources with no AWS change but the owner tags.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::Api;
use kvs_emulator::Operation;
use kvs_operator::api::{CLUSTER_TAG, OWNER_TAG, SignalingChannel};
use kvs_operator::engine::conditions::{READY, find};

use crate::support::{Harness, sdk_client};

#[tokio::test]
async fn imported_manifests_adopt_existing_streams_and_channels_without_changing_them() {
    let h = Harness::start_adopting("import").await;
    h.emulator
        .update_settings(|s| s.limits.allow_reserved_tag_keys = true)
        .unwrap();
    let aws = sdk_client(&h.emulator);
    aws.create_stream()
        .stream_name("site-a-door")
        .device_name("cam-01")
        .media_type("video/h264")
        .data_retention_in_hours(720)
        .tags("team", "security")
        .tags("aws:cloudformation:stack-name", "legacy")
        .send()
        .await
        .unwrap();
    aws.create_stream()
        .stream_name("site-a_Lobby.2")
        .kms_key_id("alias/cameras")
        .send()
        .await
        .unwrap();
    aws.create_stream()
        .stream_name("site-b-gate")
        .send()
        .await
        .unwrap();
    aws.create_stream()
        .stream_name("site-a-managed")
        .tags(OWNER_TAG, "elsewhere/cam")
        .send()
        .await
        .unwrap();
    aws.create_signaling_channel()
        .channel_name("site-a-porch")
        .single_master_configuration(
            aws_sdk_kinesisvideo::types::SingleMasterConfiguration::builder()
                .message_ttl_seconds(30)
                .build(),
        )
        .tags(
            aws_sdk_kinesisvideo::types::Tag::builder()
                .key("site")
                .value("a")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    // The porch channel stores its media into the door's stream.
    let door_arn = h.emulator.stream("site-a-door").unwrap().stream_arn;
    let porch_arn = h.emulator.channel("site-a-porch").unwrap().channel_arn;
    aws.update_media_storage_configuration()
        .channel_arn(&porch_arn)
        .media_storage_configuration(
            aws_sdk_kinesisvideo::types::MediaStorageConfiguration::builder()
                .stream_arn(&door_arn)
                .status(aws_sdk_kinesisvideo::types::MediaStorageConfigurationStatus::Enabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let porch_before = h.emulator.channel("site-a-porch").unwrap();
    let before: BTreeMap<String, _> = h
        .emulator
        .streams()
        .into_iter()
        .map(|s| (s.stream_name.clone(), s))
        .collect();
    h.emulator.reset_calls();

    let mut command = h.plane.command(env!("CARGO_BIN_EXE_kvs-operator"));
    command
        .args(["import", "--prefix", "site-a", "--namespace", &h.namespace])
        .env("AWS_ENDPOINT_URL", h.emulator.url())
        .env("AWS_REGION", h.emulator.region())
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret");
    let out = kvs_testenv::run(command, None)
        .await
        .unwrap()
        .check()
        .unwrap();
    let manifests = out.stdout;
    assert!(
        manifests.contains(
            "# skipped stream site-a-managed: it is already managed by VideoStream elsewhere/cam"
        ),
        "{manifests}"
    );
    assert!(!manifests.contains("site-b-gate"), "{manifests}");
    assert_eq!(
        manifests.matches("kind: VideoStream").count(),
        2,
        "{manifests}"
    );
    assert_eq!(
        manifests.matches("kind: SignalingChannel").count(),
        1,
        "{manifests}"
    );
    assert!(
        manifests.contains("videoStreamName: site-a-door"),
        "the channel names the imported VideoStream it stores into: {manifests}"
    );
    let writes: Vec<_> = h
        .emulator
        .call_log()
        .into_iter()
        .filter(|call| call.operation.is_mutation())
        .collect();
    assert!(writes.is_empty(), "import only reads: {writes:?}");

    h.apply_ok(&manifests).await;
    h.wait_ready("site-a-door").await;
    let lobby = manifests
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: site-a-lobby-2-"))
        .map(|suffix| format!("site-a-lobby-2-{suffix}"))
        .expect("a sanitised name for site-a_Lobby.2");
    h.wait_ready(&lobby).await;

    let cluster = h.cluster_id().await;
    for name in ["site-a-door", "site-a_Lobby.2"] {
        let after = h.emulator.stream(name).unwrap();
        let was = &before[name];
        let mut expected_tags = was.tags.clone();
        expected_tags.insert(
            OWNER_TAG.into(),
            format!(
                "{}/{}",
                h.namespace,
                if name == "site-a-door" { name } else { &lobby }
            ),
        );
        expected_tags.insert(CLUSTER_TAG.into(), cluster.clone());
        assert_eq!(
            after.tags, expected_tags,
            "{name}: only the owner and cluster tags were added"
        );
        assert_eq!(
            after.version, was.version,
            "{name}: no update changed the stream"
        );
        assert_eq!(after.data_retention_in_hours, was.data_retention_in_hours);
        assert_eq!(after.kms_key_id, was.kms_key_id);
    }
    for op in [
        Operation::CreateStream,
        Operation::UpdateStream,
        Operation::UpdateDataRetention,
        Operation::UntagStream,
        Operation::DeleteStream,
    ] {
        assert_eq!(h.emulator.calls_of(op).total, 0, "{op:?}");
    }
    assert_eq!(
        h.emulator.calls_of(Operation::TagStream).total,
        2,
        "one owner tag each"
    );
    assert_eq!(
        h.emulator
            .stream("site-a-managed")
            .unwrap()
            .tags
            .get(OWNER_TAG)
            .map(String::as_str),
        Some("elsewhere/cam")
    );

    // The channel: adopted with its TTL, tags and media storage as they were.
    let channels: Api<SignalingChannel> = Api::namespaced(h.client.clone(), &h.namespace);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = channels
            .get_opt("site-a-porch")
            .await
            .unwrap()
            .and_then(|sc| sc.status)
            .and_then(|s| find(&s.conditions, READY).map(|c| c.status == "True"));
        if ready == Some(true) {
            break;
        }
        assert!(Instant::now() < deadline, "site-a-porch never became Ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let porch = h.emulator.channel("site-a-porch").unwrap();
    assert_eq!(
        porch.version, porch_before.version,
        "no update changed the channel"
    );
    assert_eq!(porch.message_ttl_seconds, 30);
    assert_eq!(
        porch.media_storage.stream_arn.as_deref(),
        Some(door_arn.as_str())
    );
    assert_eq!(porch.tags.get("site").map(String::as_str), Some("a"));
    assert_eq!(
        porch.tags.get(OWNER_TAG).map(String::as_str),
        Some(format!("{}/site-a-porch", h.namespace).as_str())
    );
    for op in [
        Operation::UpdateSignalingChannel,
        Operation::UpdateMediaStorageConfiguration,
        Operation::UntagResource,
        Operation::DeleteSignalingChannel,
    ] {
        assert_eq!(h.emulator.calls_of(op).total, 0, "{op:?}");
    }
}
