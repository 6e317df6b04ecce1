//! A stream's image generation and notification configurations through the real
//! aws-sdk-kinesisvideo client.

mod common;

use std::time::Duration;

use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::types::{
    ConfigurationStatus, Format, FormatConfigKey, ImageGenerationConfiguration,
    ImageGenerationDestinationConfig, ImageSelectorType, NotificationConfiguration,
    NotificationDestinationConfig,
};
use common::{client, code_and_status, error_of, instant_settings, start, start_with};
use kvs_emulator::{Delays, Operation};

const BUCKET: &str = "s3://doorbell-thumbnails/front";
const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:doorbell-events";

fn images(
    status: ConfigurationStatus,
    interval: i32,
    region: &str,
) -> ImageGenerationConfiguration {
    ImageGenerationConfiguration::builder()
        .status(status)
        .image_selector_type(ImageSelectorType::ServerTimestamp)
        .destination_config(
            ImageGenerationDestinationConfig::builder()
                .uri(BUCKET)
                .destination_region(region)
                .build()
                .expect("destination"),
        )
        .sampling_interval(interval)
        .format(Format::Jpeg)
        .format_config(FormatConfigKey::JpegQuality, "80")
        .width_pixels(320)
        .height_pixels(240)
        .build()
        .expect("image generation configuration")
}

fn notifications(status: ConfigurationStatus, uri: &str) -> NotificationConfiguration {
    NotificationConfiguration::builder()
        .status(status)
        .destination_config(
            NotificationDestinationConfig::builder()
                .uri(uri)
                .build()
                .expect("destination"),
        )
        .build()
        .expect("notification configuration")
}

async fn stream(kvs: &Client, name: &str, retention: i32) {
    kvs.create_stream()
        .stream_name(name)
        .data_retention_in_hours(retention)
        .send()
        .await
        .expect("create stream");
}

#[tokio::test]
async fn image_generation_is_set_read_and_deleted() {
    let emulator = start().await;
    let kvs = client(&emulator);
    stream(&kvs, "door", 24).await;
    let none = kvs
        .describe_image_generation_configuration()
        .stream_name("door")
        .send()
        .await
        .expect("describe");
    assert!(none.image_generation_configuration().is_none());
    let version = emulator.stream("door").expect("stream").version;
    kvs.update_image_generation_configuration()
        .stream_name("door")
        .image_generation_configuration(images(ConfigurationStatus::Enabled, 3000, "us-west-2"))
        .send()
        .await
        .expect("update");
    let read = kvs
        .describe_image_generation_configuration()
        .stream_arn(emulator.stream("door").expect("stream").stream_arn)
        .send()
        .await
        .expect("describe");
    let config = read
        .image_generation_configuration()
        .expect("configuration");
    assert_eq!(config.status(), &ConfigurationStatus::Enabled);
    assert_eq!(config.sampling_interval(), 3000);
    assert_eq!(config.format(), &Format::Jpeg);
    assert_eq!(
        config
            .format_config()
            .and_then(|c| c.get(&FormatConfigKey::JpegQuality))
            .map(String::as_str),
        Some("80")
    );
    assert_eq!(config.width_pixels(), Some(320));
    let destination = config.destination_config().expect("destination");
    assert_eq!(
        (destination.uri(), destination.destination_region()),
        (BUCKET, "us-west-2")
    );
    let snapshot = emulator.stream("door").expect("stream");
    assert_eq!(
        snapshot
            .image_generation
            .as_ref()
            .map(|c| c.sampling_interval),
        Some(3000)
    );
    assert_eq!(
        snapshot.version, version,
        "configurations are not the stream's version"
    );
    // An update without a configuration deletes it, as the model says.
    kvs.update_image_generation_configuration()
        .stream_name("door")
        .send()
        .await
        .expect("delete the configuration");
    assert!(
        emulator
            .stream("door")
            .expect("stream")
            .image_generation
            .is_none()
    );
    assert_eq!(
        emulator
            .calls_of(Operation::UpdateImageGenerationConfiguration)
            .succeeded,
        2
    );
}

#[tokio::test]
async fn image_generation_is_validated() {
    let emulator = start().await;
    let kvs = client(&emulator);
    stream(&kvs, "door", 24).await;
    stream(&kvs, "live", 0).await;
    let update = |name: &'static str, config: ImageGenerationConfiguration| {
        kvs.update_image_generation_configuration()
            .stream_name(name)
            .image_generation_configuration(config)
            .send()
    };
    for (interval, field) in [(199, "samplingInterval"), (20_001, "samplingInterval")] {
        let (code, _, message) = error_of(
            update(
                "door",
                images(ConfigurationStatus::Enabled, interval, "us-west-2"),
            )
            .await,
        );
        assert_eq!(code, "InvalidArgumentException");
        assert!(
            message.contains(&format!("'imageGenerationConfiguration.{field}'")),
            "{message}"
        );
    }
    let (code, _, message) = error_of(
        update(
            "door",
            images(ConfigurationStatus::Enabled, 3000, "uswest2"),
        )
        .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.contains("destinationRegion"), "{message}");
    let (code, _, message) = error_of(
        update(
            "door",
            images(ConfigurationStatus::Enabled, 3000, "eu-west-1"),
        )
        .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.contains("stream's region"), "{message}");
    let mut wide = images(ConfigurationStatus::Enabled, 3000, "us-west-2");
    wide.width_pixels = Some(3841);
    wide.format_config = Some(
        [(FormatConfigKey::JpegQuality, "101".to_owned())]
            .into_iter()
            .collect(),
    );
    let (_, _, message) = error_of(update("door", wide).await);
    assert!(message.starts_with("2 validation errors"), "{message}");
    assert!(message.contains("widthPixels") && message.contains("JPEGQuality"));
    let (code, status, message) = error_of(
        update(
            "live",
            images(ConfigurationStatus::Enabled, 3000, "us-west-2"),
        )
        .await,
    );
    assert_eq!((code.as_str(), status), ("NoDataRetentionException", 400));
    assert_eq!(
        message,
        "The Stream data retention in hours is equal to zero."
    );
    // The bucket the settings call unknown: the AWS error, and nothing is stored.
    emulator
        .update_settings(|s| {
            s.unknown_destinations.insert(BUCKET.into());
        })
        .expect("settings");
    let (code, _, message) = error_of(
        update(
            "door",
            images(ConfigurationStatus::Enabled, 3000, "us-west-2"),
        )
        .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(message.contains(BUCKET), "{message}");
    assert!(
        emulator
            .stream("door")
            .expect("stream")
            .image_generation
            .is_none()
    );
    let (code, _) = code_and_status(
        update(
            "ghost",
            images(ConfigurationStatus::Enabled, 3000, "us-west-2"),
        )
        .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn configurations_need_an_active_stream() {
    let mut settings = instant_settings();
    settings.delays = Delays {
        create: Duration::from_millis(300),
        ..Delays::NONE
    };
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    stream(&kvs, "door", 24).await;
    let (code, _) = code_and_status(
        kvs.update_notification_configuration()
            .stream_name("door")
            .notification_configuration(notifications(ConfigurationStatus::Enabled, TOPIC))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    let (code, _) = code_and_status(
        kvs.update_image_generation_configuration()
            .stream_name("door")
            .image_generation_configuration(images(ConfigurationStatus::Enabled, 3000, "us-west-2"))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    // Describing works in any state.
    kvs.describe_notification_configuration()
        .stream_name("door")
        .send()
        .await
        .expect("describe while CREATING");
}

#[tokio::test]
async fn notifications_are_set_read_validated_and_deleted() {
    let emulator = start().await;
    let kvs = client(&emulator);
    stream(&kvs, "door", 1).await;
    stream(&kvs, "live", 0).await;
    kvs.update_notification_configuration()
        .stream_name("door")
        .notification_configuration(notifications(ConfigurationStatus::Enabled, TOPIC))
        .send()
        .await
        .expect("update");
    let read = kvs
        .describe_notification_configuration()
        .stream_name("door")
        .send()
        .await
        .expect("describe");
    let config = read.notification_configuration().expect("configuration");
    assert_eq!(config.status(), &ConfigurationStatus::Enabled);
    assert_eq!(config.destination_config().map(|d| d.uri()), Some(TOPIC));
    let (code, _) = code_and_status(
        kvs.update_notification_configuration()
            .stream_name("live")
            .notification_configuration(notifications(ConfigurationStatus::Enabled, TOPIC))
            .send()
            .await,
    );
    assert_eq!(code, "NoDataRetentionException");
    // DISABLED needs no retention.
    kvs.update_notification_configuration()
        .stream_name("live")
        .notification_configuration(notifications(ConfigurationStatus::Disabled, TOPIC))
        .send()
        .await
        .expect("disabled on a stream without retention");
    let (code, _, message) = error_of(
        kvs.update_notification_configuration()
            .stream_name("door")
            .notification_configuration(notifications(ConfigurationStatus::Enabled, "no-scheme"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.contains("'notificationConfiguration.destinationConfig.uri'"),
        "{message}"
    );
    emulator
        .update_settings(|s| {
            s.unknown_destinations.insert(TOPIC.into());
        })
        .expect("settings");
    let (code, _) = code_and_status(
        kvs.update_notification_configuration()
            .stream_name("live")
            .notification_configuration(notifications(ConfigurationStatus::Disabled, TOPIC))
            .send()
            .await,
    );
    assert_eq!(
        code, "InvalidArgumentException",
        "an unknown topic is refused"
    );
    kvs.update_notification_configuration()
        .stream_name("door")
        .send()
        .await
        .expect("delete");
    assert!(
        emulator
            .stream("door")
            .expect("stream")
            .notification
            .is_none()
    );
    let admin = common::raw(&emulator, "GET", "/_emulator/streams", &[], b"")
        .await
        .json();
    assert_eq!(
        admin["streams"][1]["NotificationConfiguration"]["DestinationConfig"]["Uri"], TOPIC,
        "the admin dump shows configurations"
    );
}
