//! Signaling channels through the real aws-sdk-kinesisvideo client: lifecycle, versions,
//! listing, endpoints, tags (TagResource on channels and streams), media storage, quotas,
//! permissions and per-scope state.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::types::{
    ChannelNameCondition, ChannelProtocol, ChannelRole, ChannelType, ComparisonOperator,
    MediaStorageConfiguration, MediaStorageConfigurationStatus,
    SingleMasterChannelEndpointConfiguration, SingleMasterConfiguration, Status, Tag,
};
use common::{
    ACCOUNT, REGION, base_credentials, client, client_with, code_and_status, error_of,
    instant_settings, start, start_with,
};
use kvs_emulator::{Delays, MediaStorageStatus, Operation, RoleRule, StreamStatus};

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

fn ttl(seconds: i32) -> SingleMasterConfiguration {
    SingleMasterConfiguration::builder()
        .message_ttl_seconds(seconds)
        .build()
}

async fn create(kvs: &Client, name: &str) -> String {
    kvs.create_signaling_channel()
        .channel_name(name)
        .send()
        .await
        .expect("create channel")
        .channel_arn
        .expect("arn")
}

async fn version(kvs: &Client, arn: &str) -> String {
    kvs.describe_signaling_channel()
        .channel_arn(arn)
        .send()
        .await
        .expect("describe")
        .channel_info
        .and_then(|i| i.version)
        .expect("version")
}

fn storage(
    status: MediaStorageConfigurationStatus,
    stream: Option<&str>,
) -> MediaStorageConfiguration {
    MediaStorageConfiguration::builder()
        .status(status)
        .set_stream_arn(stream.map(str::to_owned))
        .build()
        .expect("media storage configuration")
}

#[tokio::test]
async fn channel_lifecycle_with_delays_versions_and_ttl() {
    let mut settings = instant_settings();
    settings.delays = Delays {
        create: Duration::from_millis(300),
        update: Duration::from_millis(300),
        delete: Duration::from_millis(300),
    };
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let arn = kvs
        .create_signaling_channel()
        .channel_name("front-door")
        .channel_type(ChannelType::SingleMaster)
        .single_master_configuration(ttl(30))
        .tags(tag("team", "security"))
        .send()
        .await
        .expect("create")
        .channel_arn
        .expect("arn");
    let prefix = format!("arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/front-door/");
    let millis: u128 = arn
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{arn} starts with {prefix}"))
        .parse()
        .expect("creation millis");
    assert!(millis >= before && millis < before + 5000);

    let info = kvs
        .describe_signaling_channel()
        .channel_name("front-door")
        .send()
        .await
        .expect("describe")
        .channel_info
        .expect("info");
    assert_eq!(info.channel_status(), Some(&Status::Creating));
    assert_eq!(info.channel_type(), Some(&ChannelType::SingleMaster));
    assert_eq!(
        info.single_master_configuration()
            .and_then(|c| c.message_ttl_seconds()),
        Some(30)
    );
    let v1 = info.version().expect("version").to_owned();
    let (code, _) = code_and_status(
        kvs.update_signaling_channel()
            .channel_arn(&arn)
            .current_version(&v1)
            .single_master_configuration(ttl(60))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException", "not ACTIVE yet");
    let (code, _) = code_and_status(
        kvs.create_signaling_channel()
            .channel_name("front-door")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException", "the name is taken");
    tokio::time::sleep(Duration::from_millis(350)).await;

    kvs.update_signaling_channel()
        .channel_arn(&arn)
        .current_version(&v1)
        .single_master_configuration(ttl(120))
        .send()
        .await
        .expect("update");
    let updating = emulator.channel("front-door").expect("channel");
    assert_eq!(updating.channel_status, StreamStatus::Updating);
    assert_eq!(updating.message_ttl_seconds, 120);
    assert_ne!(updating.version, v1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (code, _) = code_and_status(
        kvs.update_signaling_channel()
            .channel_arn(&arn)
            .current_version(&v1)
            .send()
            .await,
    );
    assert_eq!(code, "VersionMismatchException");
    let (code, _) = code_and_status(
        kvs.delete_signaling_channel()
            .channel_arn(&arn)
            .current_version(&v1)
            .send()
            .await,
    );
    assert_eq!(code, "VersionMismatchException");
    kvs.delete_signaling_channel()
        .channel_arn(&arn)
        .current_version(version(&kvs, &arn).await)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        emulator.channel("front-door").map(|c| c.channel_status),
        Some(StreamStatus::Deleting)
    );
    let (code, _) = code_and_status(
        kvs.get_signaling_channel_endpoint()
            .channel_arn(&arn)
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceNotFoundException",
        "no endpoints while DELETING"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (code, status) = code_and_status(
        kvs.describe_signaling_channel()
            .channel_arn(&arn)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    // A new channel of the same name is a new incarnation with a new ARN.
    let again = create(&kvs, "front-door").await;
    assert_ne!(again, arn);
    let calls = emulator.calls();
    assert_eq!(calls[&Operation::CreateSignalingChannel].succeeded, 2);
    assert_eq!(
        calls[&Operation::UpdateSignalingChannel].errors_of("ResourceInUseException"),
        1
    );
}

#[tokio::test]
async fn channels_are_validated_like_the_model() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let cases = [
        ("bad name", None, None, "'channelName'"),
        (
            "ok",
            Some(4),
            None,
            "'singleMasterConfiguration.messageTtlSeconds'",
        ),
        (
            "ok",
            Some(121),
            None,
            "'singleMasterConfiguration.messageTtlSeconds'",
        ),
        ("ok", None, Some(("", "v")), "'tags.1.member.key'"),
        (
            "ok",
            None,
            Some(("k", "semi;colon")),
            "'tags.1.member.value'",
        ),
    ];
    for (name, ttl_seconds, tag_pair, field) in cases {
        let mut request = kvs.create_signaling_channel().channel_name(name);
        if let Some(seconds) = ttl_seconds {
            request = request.single_master_configuration(ttl(seconds));
        }
        if let Some((key, value)) = tag_pair {
            request = request.tags(tag(key, value));
        }
        let (code, status, message) = error_of(request.send().await);
        assert_eq!((code.as_str(), status), ("InvalidArgumentException", 400));
        assert!(message.contains(field), "{field}: {message}");
    }
    let (code, _, message) = error_of(
        kvs.create_signaling_channel()
            .channel_name("mesh")
            .channel_type(ChannelType::FullMesh)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.contains("SINGLE_MASTER"), "{message}");
    let too_many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    let (code, _) = code_and_status(
        kvs.create_signaling_channel()
            .channel_name("tagged")
            .set_tags(Some(too_many))
            .send()
            .await,
    );
    assert_eq!(code, "TagsPerResourceExceededLimitException");
    let stream_arn = kvs
        .create_stream()
        .stream_name("s")
        .send()
        .await
        .expect("stream")
        .stream_arn
        .expect("arn");
    let (code, _) = code_and_status(
        kvs.describe_signaling_channel()
            .channel_arn(&stream_arn)
            .send()
            .await,
    );
    assert_eq!(
        code, "InvalidArgumentException",
        "a stream ARN is no channel"
    );
    let (code, _) = code_and_status(kvs.describe_signaling_channel().send().await);
    assert_eq!(code, "InvalidArgumentException");
    let (code, _) = code_and_status(
        kvs.update_signaling_channel()
            .channel_arn("arn:aws:kinesisvideo:us-west-2:123456789012:channel/x/1")
            .send()
            .await,
    );
    assert_eq!(
        code, "InvalidArgumentException",
        "CurrentVersion is required"
    );
    assert!(emulator.channels().is_empty());
}

#[tokio::test]
async fn listing_pages_by_name_with_a_prefix() {
    let emulator = start().await;
    let kvs = client(&emulator);
    for i in 0..25 {
        create(&kvs, &format!("door-{i:02}")).await;
    }
    create(&kvs, "garage").await;
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = kvs
            .list_signaling_channels()
            .max_results(10)
            .channel_name_condition(
                ChannelNameCondition::builder()
                    .comparison_operator(ComparisonOperator::BeginsWith)
                    .comparison_value("door-")
                    .build(),
            )
            .set_next_token(token)
            .send()
            .await
            .expect("list");
        pages += 1;
        names.extend(
            page.channel_info_list()
                .iter()
                .filter_map(|c| c.channel_name().map(str::to_owned)),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25);
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    let all = kvs.list_signaling_channels().send().await.expect("list");
    assert_eq!(all.channel_info_list().len(), 26);
    assert!(all.next_token().is_none());
    let (code, _) = code_and_status(
        kvs.list_signaling_channels()
            .next_token("not-hex!")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
}

#[tokio::test]
async fn endpoints_per_protocol_and_role() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let arn = create(&kvs, "doorbell").await;
    let endpoints = |protocols: Vec<ChannelProtocol>, role: ChannelRole| {
        kvs.get_signaling_channel_endpoint()
            .channel_arn(&arn)
            .single_master_channel_endpoint_configuration(
                SingleMasterChannelEndpointConfiguration::builder()
                    .set_protocols(Some(protocols))
                    .role(role)
                    .build(),
            )
            .send()
    };
    let master = endpoints(
        vec![ChannelProtocol::Wss, ChannelProtocol::Https],
        ChannelRole::Master,
    )
    .await
    .expect("master endpoints");
    let listed: Vec<(String, String)> = master
        .resource_endpoint_list()
        .iter()
        .map(|e| {
            (
                e.protocol()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                e.resource_endpoint().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].0, "WSS");
    assert!(listed[0].1.starts_with("wss://m-"), "{}", listed[0].1);
    assert!(
        listed[0]
            .1
            .ends_with(".kinesisvideo.us-west-2.amazonaws.com")
    );
    assert_eq!(listed[1].0, "HTTPS");
    assert!(listed[1].1.starts_with("https://r-"), "{}", listed[1].1);
    let viewer = endpoints(vec![ChannelProtocol::Wss], ChannelRole::Viewer)
        .await
        .expect("viewer endpoint");
    let viewer_url = viewer.resource_endpoint_list()[0]
        .resource_endpoint()
        .expect("url");
    assert!(viewer_url.starts_with("wss://v-"), "{viewer_url}");
    // The same id for the channel's lifetime.
    assert_eq!(&viewer_url[8..], &listed[0].1[8..]);
    let defaults = kvs
        .get_signaling_channel_endpoint()
        .channel_arn(&arn)
        .send()
        .await
        .expect("default endpoints");
    assert_eq!(defaults.resource_endpoint_list().len(), 2);
    let (code, _, message) =
        error_of(endpoints(vec![ChannelProtocol::Webrtc], ChannelRole::Master).await);
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.contains("ingestion"), "{message}");
    let (code, _) = code_and_status(endpoints(vec![], ChannelRole::Master).await);
    assert_eq!(code, "InvalidArgumentException", "at least one protocol");
}

#[tokio::test]
async fn tag_resource_covers_channels_and_streams() {
    let mut settings = instant_settings();
    settings.limits.tags_page_size = 3;
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    let channel = create(&kvs, "door").await;
    let stream = kvs
        .create_stream()
        .stream_name("door")
        .tags("from", "create")
        .send()
        .await
        .expect("stream")
        .stream_arn
        .expect("arn");
    for arn in [&channel, &stream] {
        kvs.tag_resource()
            .resource_arn(arn)
            .set_tags(Some((0..5).map(|i| tag(&format!("k{i}"), "v")).collect()))
            .send()
            .await
            .expect("tag");
        kvs.untag_resource()
            .resource_arn(arn)
            .tag_key_list("k0")
            .tag_key_list("absent")
            .send()
            .await
            .expect("untag");
    }
    let list_all = |arn: String| {
        let kvs = kvs.clone();
        async move {
            let mut tags = Vec::new();
            let mut token = None;
            loop {
                let page = kvs
                    .list_tags_for_resource()
                    .resource_arn(&arn)
                    .set_next_token(token)
                    .send()
                    .await
                    .expect("list tags");
                let mut keys: Vec<String> = page
                    .tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
                    .collect();
                keys.sort();
                tags.extend(keys);
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    return tags;
                }
            }
        }
    };
    assert_eq!(list_all(channel.clone()).await, ["k1", "k2", "k3", "k4"]);
    assert_eq!(
        list_all(stream.clone()).await,
        ["from", "k1", "k2", "k3", "k4"]
    );
    // TagResource and TagStream are the same tags of a stream.
    assert_eq!(emulator.stream("door").expect("stream").tags.len(), 5);
    assert_eq!(emulator.channel("door").expect("channel").tags.len(), 4);
    let (code, _) = code_and_status(
        kvs.tag_resource()
            .resource_arn(&channel)
            .set_tags(Some((0..47).map(|i| tag(&format!("x{i}"), "v")).collect()))
            .send()
            .await,
    );
    assert_eq!(code, "TagsPerResourceExceededLimitException");
    let (code, _) = code_and_status(
        kvs.tag_resource()
            .resource_arn(&channel)
            .tags(tag("aws:reserved", "x"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    let (code, _) = code_and_status(
        kvs.list_tags_for_resource()
            .resource_arn("arn:aws:kinesisvideo:us-west-2:123456789012:channel/gone/1")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = code_and_status(
        kvs.tag_resource()
            .resource_arn("arn:aws:kinesisvideo:us-west-2:123456789012:thing/x/1")
            .tags(tag("a", "b"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    // The log names what each call addressed.
    let log = emulator.call_log();
    let tagged: Vec<_> = log
        .iter()
        .filter(|r| r.operation == Operation::TagResource)
        .map(|r| (r.stream.as_deref(), r.channel.as_deref()))
        .collect();
    assert_eq!(&tagged[..2], [(None, Some("door")), (Some("door"), None)]);
}

#[tokio::test]
async fn media_storage_links_a_channel_to_a_stream_that_keeps_data() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let channel = create(&kvs, "doorbell").await;
    let keeps = kvs
        .create_stream()
        .stream_name("doorbell-video")
        .data_retention_in_hours(24)
        .send()
        .await
        .expect("stream")
        .stream_arn
        .expect("arn");
    let no_retention = kvs
        .create_stream()
        .stream_name("live-only")
        .send()
        .await
        .expect("stream")
        .stream_arn
        .expect("arn");
    let describe = || {
        kvs.describe_media_storage_configuration()
            .channel_arn(&channel)
            .send()
    };
    let initial = describe().await.expect("describe");
    let config = initial
        .media_storage_configuration()
        .expect("configuration");
    assert_eq!(config.status(), &MediaStorageConfigurationStatus::Disabled);
    assert_eq!(config.stream_arn(), None);
    let update = |config: MediaStorageConfiguration| {
        kvs.update_media_storage_configuration()
            .channel_arn(&channel)
            .media_storage_configuration(config)
            .send()
    };
    let (code, status, message) = error_of(
        update(storage(
            MediaStorageConfigurationStatus::Enabled,
            Some(&no_retention),
        ))
        .await,
    );
    assert_eq!((code.as_str(), status), ("NoDataRetentionException", 400));
    assert_eq!(
        message,
        "The Stream data retention in hours is equal to zero."
    );
    let (code, _) =
        code_and_status(update(storage(MediaStorageConfigurationStatus::Enabled, None)).await);
    assert_eq!(code, "InvalidArgumentException", "ENABLED needs a stream");
    let missing = "arn:aws:kinesisvideo:us-west-2:123456789012:stream/missing/1";
    let (code, _) = code_and_status(
        update(storage(
            MediaStorageConfigurationStatus::Enabled,
            Some(missing),
        ))
        .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    update(storage(
        MediaStorageConfigurationStatus::Enabled,
        Some(&keeps),
    ))
    .await
    .expect("store into the stream");
    let described = describe().await.expect("describe");
    let config = described
        .media_storage_configuration()
        .expect("configuration");
    assert_eq!(config.status(), &MediaStorageConfigurationStatus::Enabled);
    assert_eq!(config.stream_arn(), Some(keeps.as_str()));
    let snapshot = emulator.channel("doorbell").expect("channel");
    assert_eq!(snapshot.media_storage.status, MediaStorageStatus::Enabled);
    // Now the channel has a WebRTC ingestion endpoint.
    let webrtc = kvs
        .get_signaling_channel_endpoint()
        .channel_arn(&channel)
        .single_master_channel_endpoint_configuration(
            SingleMasterChannelEndpointConfiguration::builder()
                .protocols(ChannelProtocol::Webrtc)
                .build(),
        )
        .send()
        .await
        .expect("webrtc endpoint");
    assert!(
        webrtc.resource_endpoint_list()[0]
            .resource_endpoint()
            .is_some_and(|url| url.starts_with("https://w-"))
    );
    // One stream stores one channel's media.
    let other = create(&kvs, "side-door").await;
    let (code, _, message) = error_of(
        kvs.update_media_storage_configuration()
            .channel_arn(&other)
            .media_storage_configuration(storage(
                MediaStorageConfigurationStatus::Enabled,
                Some(&keeps),
            ))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    assert!(message.contains("doorbell"), "{message}");
    update(storage(MediaStorageConfigurationStatus::Disabled, None))
        .await
        .expect("disable");
    kvs.update_media_storage_configuration()
        .channel_arn(&other)
        .media_storage_configuration(storage(
            MediaStorageConfigurationStatus::Enabled,
            Some(&keeps),
        ))
        .send()
        .await
        .expect("free again");
}

#[tokio::test]
async fn channel_quotas_permissions_and_scopes() {
    let mut settings = instant_settings();
    settings.quotas.enabled = true;
    settings.limits.max_channels = Some(2);
    settings.sts.roles.insert(
        "arn:aws:iam::111111111111:role/tenant-a".into(),
        RoleRule {
            name_prefixes: Some(vec!["team-a-".into()]),
            ..RoleRule::default()
        },
    );
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    let arn = create(&kvs, "a").await;
    create(&kvs, "b").await;
    let (code, _) = code_and_status(
        kvs.create_signaling_channel()
            .channel_name("c")
            .send()
            .await,
    );
    assert_eq!(code, "AccountChannelLimitExceededException");
    // 5 calls per second per channel for DescribeSignalingChannel.
    let mut throttled = 0;
    for _ in 0..7 {
        if kvs
            .describe_signaling_channel()
            .channel_arn(&arn)
            .send()
            .await
            .is_err()
        {
            throttled += 1;
        }
    }
    assert_eq!(throttled, 2);
    kvs.describe_signaling_channel()
        .channel_name("b")
        .send()
        .await
        .expect("another channel has its own quota");
    // Another region is another scope with its own limit.
    let east = client_with(&emulator, "us-east-1", base_credentials());
    create(&east, "a").await;
    assert_eq!(emulator.channels_in(ACCOUNT, "us-east-1").len(), 1);
    assert_eq!(emulator.channels().len(), 2);

    // A role restricted to team-a- names may not touch other channels.
    let sts = common::sts_client(&emulator, REGION, base_credentials());
    let assumed = sts
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/tenant-a")
        .role_session_name("op")
        .send()
        .await
        .expect("assume");
    let creds = assumed.credentials().expect("credentials");
    let role = client_with(
        &emulator,
        REGION,
        common::credentials(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token()),
        ),
    );
    create(&role, "team-a-door").await;
    let (code, status, message) = error_of(
        role.create_signaling_channel()
            .channel_name("team-b-door")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("AccessDeniedException", 401));
    assert!(message.contains(":channel/team-b-door/*"), "{message}");
    assert_eq!(emulator.channels_in("111111111111", REGION).len(), 1);
    emulator.clear_channels_in(ACCOUNT, "us-east-1");
    assert!(emulator.channels_in(ACCOUNT, "us-east-1").is_empty());
    emulator.clear_channels();
    assert!(emulator.channels().is_empty());
}
