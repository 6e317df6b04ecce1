//! Stream lifecycle semantics through the real aws-sdk-kinesisvideo client.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesisvideo::operation::create_stream::CreateStreamError;
use aws_sdk_kinesisvideo::operation::describe_stream::DescribeStreamError;
use aws_sdk_kinesisvideo::operation::update_stream::UpdateStreamError;
use aws_sdk_kinesisvideo::types::{
    ApiName, ComparisonOperator, DefaultStorageTier, Status, StreamInfo, StreamNameCondition,
    StreamStorageConfiguration, UpdateDataRetentionOperation,
};
use common::{ACCOUNT, REGION, client, code_and_status, instant_settings, start, start_with};
use kvs_emulator::{Delays, StreamStatus};

async fn describe(client: &aws_sdk_kinesisvideo::Client, name: &str) -> StreamInfo {
    client
        .describe_stream()
        .stream_name(name)
        .send()
        .await
        .expect("describe")
        .stream_info
        .expect("stream info")
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

#[tokio::test]
async fn create_describe_list_delete() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let before = now_secs();
    let created = kvs
        .create_stream()
        .stream_name("front-door")
        .device_name("cam-01")
        .media_type("video/h264")
        .data_retention_in_hours(24)
        .tags("team", "security")
        .send()
        .await
        .expect("create");
    let arn = created.stream_arn().expect("arn").to_owned();
    let prefix = format!("arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/front-door/");
    let millis: u64 = arn
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{arn} starts with {prefix}"))
        .parse()
        .expect("creation millis");
    assert!((millis as f64 / 1000.0 - before).abs() < 5.0);

    let info = describe(&kvs, "front-door").await;
    assert_eq!(info.stream_name(), Some("front-door"));
    assert_eq!(info.stream_arn(), Some(arn.as_str()));
    assert_eq!(info.device_name(), Some("cam-01"));
    assert_eq!(info.media_type(), Some("video/h264"));
    assert_eq!(
        info.kms_key_id(),
        Some(format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesisvideo").as_str())
    );
    assert_eq!(info.status(), Some(&Status::Active));
    assert_eq!(info.data_retention_in_hours(), Some(24));
    let version = info.version().expect("version");
    assert!(!version.is_empty() && version.len() <= 64);
    assert!(version.chars().all(|c| c.is_ascii_alphanumeric()));
    let created_at = info.creation_time().expect("creation time").as_secs_f64();
    assert!((created_at - millis as f64 / 1000.0).abs() < 0.002);

    let by_arn = kvs
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe by ARN");
    assert_eq!(by_arn.stream_info(), Some(&info));

    let listed = kvs.list_streams().send().await.expect("list");
    assert_eq!(listed.stream_info_list(), std::slice::from_ref(&info));
    assert_eq!(listed.next_token(), None);

    kvs.delete_stream()
        .stream_arn(&arn)
        .current_version(version)
        .send()
        .await
        .expect("delete");
    let err = kvs
        .describe_stream()
        .stream_name("front-door")
        .send()
        .await
        .expect_err("gone");
    assert!(matches!(
        err.into_service_error(),
        DescribeStreamError::ResourceNotFoundException(_)
    ));
    assert!(emulator.streams().is_empty());
}

#[tokio::test]
async fn defaults_of_a_minimal_stream() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("bare")
        .send()
        .await
        .expect("create");
    let info = describe(&kvs, "bare").await;
    assert_eq!(info.device_name(), None);
    assert_eq!(info.media_type(), None);
    assert_eq!(info.data_retention_in_hours(), Some(0));
    let storage = kvs
        .describe_stream_storage_configuration()
        .stream_name("bare")
        .send()
        .await
        .expect("storage");
    assert_eq!(
        storage
            .stream_storage_configuration()
            .map(|c| c.default_storage_tier()),
        Some(&DefaultStorageTier::Hot)
    );
}

#[tokio::test]
async fn kms_key_is_reported_as_an_arn() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let kms = format!("arn:aws:kms:{REGION}:{ACCOUNT}");
    let explicit_arn =
        "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let cases = [
        ("alias", "alias/cameras", format!("{kms}:alias/cameras")),
        (
            "keyid",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            format!("{kms}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        ),
        ("arn", explicit_arn, explicit_arn.to_owned()),
    ];
    for (name, given, reported) in cases {
        kvs.create_stream()
            .stream_name(name)
            .kms_key_id(given)
            .send()
            .await
            .expect("create");
        assert_eq!(
            describe(&kvs, name).await.kms_key_id(),
            Some(reported.as_str())
        );
    }
}

#[tokio::test]
async fn duplicate_name_is_resource_in_use() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("dup")
        .send()
        .await
        .expect("create");
    let err = kvs
        .create_stream()
        .stream_name("dup")
        .send()
        .await
        .expect_err("duplicate");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let CreateStreamError::ResourceInUseException(e) = err.into_service_error() else {
        panic!("expected ResourceInUseException");
    };
    assert_eq!(e.message(), Some("The stream dup already exists."));
}

#[tokio::test]
async fn states_follow_the_configured_delays() {
    let mut settings = instant_settings();
    settings.delays = Delays {
        create: Duration::from_millis(800),
        update: Duration::from_millis(800),
        delete: Duration::from_millis(800),
    };
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    let arn = kvs
        .create_stream()
        .stream_name("slow")
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    let info = describe(&kvs, "slow").await;
    assert_eq!(info.status(), Some(&Status::Creating));
    let version = info.version().expect("version").to_owned();

    // No mutation while CREATING, even with the right version.
    let err = kvs
        .update_stream()
        .stream_name("slow")
        .current_version(&version)
        .media_type("video/h265")
        .send()
        .await
        .expect_err("busy");
    assert!(matches!(
        err.into_service_error(),
        UpdateStreamError::ResourceInUseException(_)
    ));
    let busy = kvs.delete_stream().stream_arn(&arn).send().await;
    assert_eq!(
        code_and_status(busy),
        ("ResourceInUseException".into(), 400)
    );

    common::wait_for_status(&kvs, "slow", "ACTIVE").await;
    let active = describe(&kvs, "slow").await;
    assert_eq!(
        active.version(),
        Some(version.as_str()),
        "activation keeps the version"
    );

    kvs.update_stream()
        .stream_name("slow")
        .current_version(&version)
        .media_type("video/h265")
        .send()
        .await
        .expect("update");
    let updating = describe(&kvs, "slow").await;
    assert_eq!(updating.status(), Some(&Status::Updating));
    assert_eq!(updating.media_type(), Some("video/h265"));
    let new_version = updating.version().expect("version").to_owned();
    assert_ne!(new_version, version);
    let busy = kvs
        .update_data_retention()
        .stream_name("slow")
        .current_version(&new_version)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(1)
        .send()
        .await;
    assert_eq!(code_and_status(busy).0, "ResourceInUseException");
    common::wait_for_status(&kvs, "slow", "ACTIVE").await;

    kvs.delete_stream()
        .stream_arn(&arn)
        .current_version(&new_version)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        describe(&kvs, "slow").await.status(),
        Some(&Status::Deleting)
    );
    let listed = kvs.list_streams().send().await.expect("list");
    assert_eq!(
        listed.stream_info_list()[0].status(),
        Some(&Status::Deleting)
    );
    assert_eq!(
        emulator.stream("slow").map(|s| s.status),
        Some(StreamStatus::Deleting)
    );
    let recreate = kvs.create_stream().stream_name("slow").send().await;
    assert_eq!(code_and_status(recreate).0, "ResourceInUseException");
    let again = kvs.delete_stream().stream_arn(&arn).send().await;
    assert_eq!(code_and_status(again).0, "ResourceInUseException");

    tokio::time::sleep(Duration::from_millis(900)).await;
    let gone = kvs.describe_stream().stream_name("slow").send().await;
    assert_eq!(
        code_and_status(gone),
        ("ResourceNotFoundException".into(), 404)
    );
    kvs.create_stream()
        .stream_name("slow")
        .send()
        .await
        .expect("the name is free again");
}

#[tokio::test]
async fn stale_versions_are_refused() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let arn = kvs
        .create_stream()
        .stream_name("v")
        .data_retention_in_hours(10)
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    let v1 = describe(&kvs, "v").await.version.expect("version");
    kvs.update_stream()
        .stream_name("v")
        .current_version(&v1)
        .device_name("cam-2")
        .send()
        .await
        .expect("update");
    let v2 = describe(&kvs, "v").await.version.expect("version");
    assert_ne!(v1, v2);

    let stale_update = kvs
        .update_stream()
        .stream_name("v")
        .current_version(&v1)
        .device_name("cam-3")
        .send()
        .await;
    assert_eq!(
        code_and_status(stale_update),
        ("VersionMismatchException".into(), 400)
    );
    let stale_retention = kvs
        .update_data_retention()
        .stream_name("v")
        .current_version(&v1)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(1)
        .send()
        .await;
    assert_eq!(
        code_and_status(stale_retention).0,
        "VersionMismatchException"
    );
    let stale_storage = kvs
        .update_stream_storage_configuration()
        .stream_name("v")
        .current_version(&v1)
        .stream_storage_configuration(
            StreamStorageConfiguration::builder()
                .default_storage_tier(DefaultStorageTier::Warm)
                .build()
                .expect("config"),
        )
        .send()
        .await;
    assert_eq!(code_and_status(stale_storage).0, "VersionMismatchException");
    let stale_delete = kvs
        .delete_stream()
        .stream_arn(&arn)
        .current_version(&v1)
        .send()
        .await;
    assert_eq!(code_and_status(stale_delete).0, "VersionMismatchException");

    let info = describe(&kvs, "v").await;
    assert_eq!(info.device_name(), Some("cam-2"));
    assert_eq!(info.data_retention_in_hours(), Some(10));
    assert_eq!(info.version(), Some(v2.as_str()));

    // DeleteStream's CurrentVersion is optional.
    kvs.delete_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("delete");
}

#[tokio::test]
async fn update_stream_changes_only_given_fields() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("u")
        .device_name("d1")
        .media_type("video/h264")
        .send()
        .await
        .expect("create");
    let v1 = describe(&kvs, "u").await.version.expect("version");
    kvs.update_stream()
        .stream_name("u")
        .current_version(&v1)
        .device_name("d2")
        .send()
        .await
        .expect("device");
    let info = describe(&kvs, "u").await;
    assert_eq!(
        (info.device_name(), info.media_type()),
        (Some("d2"), Some("video/h264"))
    );
    kvs.update_stream()
        .stream_name("u")
        .current_version(info.version().expect("version"))
        .media_type("video/h265,audio/aac")
        .send()
        .await
        .expect("media");
    let info = describe(&kvs, "u").await;
    assert_eq!(
        (info.device_name(), info.media_type()),
        (Some("d2"), Some("video/h265,audio/aac"))
    );
}

#[tokio::test]
async fn retention_changes_are_deltas_within_bounds() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("r")
        .data_retention_in_hours(24)
        .send()
        .await
        .expect("create");
    let change = |op: UpdateDataRetentionOperation, hours: i32, version: String| {
        kvs.update_data_retention()
            .stream_name("r")
            .current_version(version)
            .operation(op)
            .data_retention_change_in_hours(hours)
            .send()
    };
    let v = describe(&kvs, "r").await.version.expect("v");
    change(UpdateDataRetentionOperation::IncreaseDataRetention, 48, v)
        .await
        .expect("increase");
    let info = describe(&kvs, "r").await;
    assert_eq!(info.data_retention_in_hours(), Some(72));
    let v = info.version.expect("v");
    change(UpdateDataRetentionOperation::DecreaseDataRetention, 70, v)
        .await
        .expect("decrease");
    let info = describe(&kvs, "r").await;
    assert_eq!(info.data_retention_in_hours(), Some(2));
    let v = info.version.expect("v");

    let below_zero = change(
        UpdateDataRetentionOperation::DecreaseDataRetention,
        3,
        v.clone(),
    )
    .await;
    assert_eq!(
        code_and_status(below_zero),
        ("InvalidArgumentException".into(), 400)
    );
    let above_max = change(
        UpdateDataRetentionOperation::IncreaseDataRetention,
        87_599,
        v.clone(),
    )
    .await;
    assert_eq!(code_and_status(above_max).0, "InvalidArgumentException");
    let zero = change(
        UpdateDataRetentionOperation::IncreaseDataRetention,
        0,
        v.clone(),
    )
    .await;
    assert_eq!(code_and_status(zero).0, "InvalidArgumentException");
    assert_eq!(
        describe(&kvs, "r").await.version(),
        Some(v.as_str()),
        "failed calls change nothing"
    );

    change(
        UpdateDataRetentionOperation::IncreaseDataRetention,
        87_598,
        v,
    )
    .await
    .expect("up to the maximum");
    let info = describe(&kvs, "r").await;
    assert_eq!(info.data_retention_in_hours(), Some(87_600));
    change(
        UpdateDataRetentionOperation::DecreaseDataRetention,
        87_600,
        info.version.expect("v"),
    )
    .await
    .expect("down to zero");
    assert_eq!(describe(&kvs, "r").await.data_retention_in_hours(), Some(0));

    let too_long = kvs
        .create_stream()
        .stream_name("r2")
        .data_retention_in_hours(87_601)
        .send()
        .await;
    assert_eq!(code_and_status(too_long).0, "InvalidArgumentException");
}

#[tokio::test]
async fn addressing_by_name_and_arn() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let arn = kvs
        .create_stream()
        .stream_name("addr")
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    kvs.create_stream()
        .stream_name("other")
        .send()
        .await
        .expect("create other");

    let neither = kvs.describe_stream().send().await;
    assert_eq!(
        code_and_status(neither),
        ("InvalidArgumentException".into(), 400)
    );
    kvs.describe_stream()
        .stream_name("addr")
        .stream_arn(&arn)
        .send()
        .await
        .expect("both, consistent");
    let inconsistent = kvs
        .describe_stream()
        .stream_name("other")
        .stream_arn(&arn)
        .send()
        .await;
    assert_eq!(code_and_status(inconsistent).0, "InvalidArgumentException");

    let other_account = arn.replace(ACCOUNT, "999999999999");
    let err = kvs.describe_stream().stream_arn(other_account).send().await;
    assert_eq!(
        code_and_status(err),
        ("ResourceNotFoundException".into(), 404)
    );
    let channel = arn.replace(":stream/", ":channel/");
    let err = kvs.describe_stream().stream_arn(&channel).send().await;
    assert_eq!(code_and_status(err).0, "InvalidArgumentException");
    let err = kvs.list_tags_for_stream().stream_arn(&channel).send().await;
    assert_eq!(code_and_status(err).0, "InvalidResourceFormatException");
    let malformed = kvs
        .describe_stream()
        .stream_arn("arn:aws:s3:::bucket")
        .send()
        .await;
    assert_eq!(code_and_status(malformed).0, "InvalidArgumentException");

    // An ARN names one incarnation: after delete and re-create the old ARN is unknown.
    kvs.delete_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let new_arn = kvs
        .create_stream()
        .stream_name("addr")
        .send()
        .await
        .expect("re-create")
        .stream_arn
        .expect("arn");
    assert_ne!(new_arn, arn);
    let stale = kvs.describe_stream().stream_arn(&arn).send().await;
    assert_eq!(code_and_status(stale).0, "ResourceNotFoundException");
    let stale_delete = kvs.delete_stream().stream_arn(&arn).send().await;
    assert_eq!(code_and_status(stale_delete).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn list_streams_pages_and_filters() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let mut expected = BTreeSet::new();
    for i in 0..25 {
        let name = format!("cam-{i:02}");
        kvs.create_stream()
            .stream_name(&name)
            .send()
            .await
            .expect("create");
        expected.insert(name);
    }
    for name in ["door-1", "door-2", "camera"] {
        kvs.create_stream()
            .stream_name(name)
            .send()
            .await
            .expect("create");
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = kvs
            .list_streams()
            .max_results(10)
            .stream_name_condition(
                StreamNameCondition::builder()
                    .comparison_operator(ComparisonOperator::BeginsWith)
                    .comparison_value("cam-")
                    .build(),
            )
            .set_next_token(token.clone())
            .send()
            .await
            .expect("page");
        pages += 1;
        assert!(page.stream_info_list().len() <= 10);
        names.extend(
            page.stream_info_list()
                .iter()
                .filter_map(|i| i.stream_name().map(str::to_owned)),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, expected.into_iter().collect::<Vec<_>>());

    let everything = kvs.list_streams().send().await.expect("all");
    assert_eq!(everything.stream_info_list().len(), 28);
    let doors = kvs
        .list_streams()
        .stream_name_condition(
            StreamNameCondition::builder()
                .comparison_operator(ComparisonOperator::BeginsWith)
                .comparison_value("door")
                .build(),
        )
        .send()
        .await
        .expect("doors");
    let door_names: Vec<_> = doors
        .stream_info_list()
        .iter()
        .filter_map(|i| i.stream_name())
        .collect();
    assert_eq!(door_names, ["door-1", "door-2"]);

    let too_many = kvs.list_streams().max_results(10_001).send().await;
    assert_eq!(code_and_status(too_many).0, "InvalidArgumentException");
    let zero = kvs.list_streams().max_results(0).send().await;
    assert_eq!(code_and_status(zero).0, "InvalidArgumentException");
    kvs.list_streams()
        .max_results(10_000)
        .send()
        .await
        .expect("max");
    let bad_token = kvs.list_streams().next_token("not-a-token").send().await;
    assert_eq!(code_and_status(bad_token).0, "InvalidArgumentException");
    let bad_token = kvs.list_streams().next_token("abc").send().await;
    assert_eq!(code_and_status(bad_token).0, "InvalidArgumentException");
}

#[tokio::test]
async fn data_endpoints_for_every_api() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let arn = kvs
        .create_stream()
        .stream_name("ep")
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    let mut hosts = BTreeSet::new();
    for api in ApiName::values() {
        let endpoint = kvs
            .get_data_endpoint()
            .stream_arn(&arn)
            .api_name(ApiName::from(*api))
            .send()
            .await
            .expect("endpoint")
            .data_endpoint
            .expect("data endpoint");
        let host = endpoint
            .strip_prefix("https://")
            .and_then(|h| h.strip_suffix(&format!(".kinesisvideo.{REGION}.amazonaws.com")))
            .unwrap_or_else(|| panic!("realistic endpoint, got {endpoint}"));
        let prefix = if matches!(*api, "PUT_MEDIA" | "GET_MEDIA") {
            "s-"
        } else {
            "b-"
        };
        assert!(host.starts_with(prefix), "{api} -> {endpoint}");
        hosts.insert(host.to_owned());
    }
    assert_eq!(ApiName::values().len(), 8);
    assert_eq!(
        hosts.len(),
        2,
        "one s- and one b- host per stream: {hosts:?}"
    );

    let unknown = kvs
        .get_data_endpoint()
        .stream_name("ep")
        .api_name(ApiName::from("PUT_SOMETHING"))
        .send()
        .await;
    assert_eq!(code_and_status(unknown).0, "InvalidArgumentException");
    let missing = kvs
        .get_data_endpoint()
        .stream_name("nope")
        .api_name(ApiName::PutMedia)
        .send()
        .await;
    assert_eq!(
        code_and_status(missing),
        ("ResourceNotFoundException".into(), 404)
    );

    emulator
        .update_settings(|s| s.data_endpoint = Some("http://127.0.0.1:9/media".into()))
        .expect("settings");
    let fixed = kvs
        .get_data_endpoint()
        .stream_name("ep")
        .api_name(ApiName::GetMedia)
        .send()
        .await
        .expect("fixed");
    assert_eq!(fixed.data_endpoint(), Some("http://127.0.0.1:9/media"));
}

#[tokio::test]
async fn storage_tier_at_create_and_update() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let tier = |t: DefaultStorageTier| {
        StreamStorageConfiguration::builder()
            .default_storage_tier(t)
            .build()
            .expect("config")
    };
    let arn = kvs
        .create_stream()
        .stream_name("tiered")
        .stream_storage_configuration(tier(DefaultStorageTier::Warm))
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    let described = kvs
        .describe_stream_storage_configuration()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe storage");
    assert_eq!(described.stream_name(), Some("tiered"));
    assert_eq!(described.stream_arn(), Some(arn.as_str()));
    assert_eq!(
        described
            .stream_storage_configuration()
            .map(|c| c.default_storage_tier()),
        Some(&DefaultStorageTier::Warm)
    );
    let v1 = describe(&kvs, "tiered").await.version.expect("v");
    kvs.update_stream_storage_configuration()
        .stream_name("tiered")
        .current_version(&v1)
        .stream_storage_configuration(tier(DefaultStorageTier::Hot))
        .send()
        .await
        .expect("update storage");
    assert_ne!(describe(&kvs, "tiered").await.version(), Some(v1.as_str()));
    assert_eq!(
        emulator.stream("tiered").map(|s| s.storage_tier),
        Some(kvs_emulator::StorageTier::Hot)
    );
    let bad_tier = kvs
        .update_stream_storage_configuration()
        .stream_name("tiered")
        .current_version(describe(&kvs, "tiered").await.version.expect("v"))
        .stream_storage_configuration(tier(DefaultStorageTier::from("COLD")))
        .send()
        .await;
    assert_eq!(code_and_status(bad_tier).0, "InvalidArgumentException");
    let missing = kvs
        .describe_stream_storage_configuration()
        .stream_name("nope")
        .send()
        .await;
    assert_eq!(code_and_status(missing).0, "ResourceNotFoundException");
}
