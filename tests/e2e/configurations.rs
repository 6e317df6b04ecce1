//! A VideoStream's image generation (thumbnails to S3) and notifications (SNS) through
//! `kubectl`: applied, updated, put back after a change outside Kubernetes, refused at
//! admission when malformed, and a destination AWS refuses shown as AWS's error.

use std::collections::BTreeMap;

use aws_sdk_kinesisvideo::types::{
    ConfigurationStatus, Format, ImageGenerationConfiguration, ImageGenerationDestinationConfig,
    ImageSelectorType, NotificationConfiguration, NotificationDestinationConfig,
};
use kvs_emulator::Operation;
use kvs_emulator::{ImageDestination, ImageGeneration, Notification, NotificationDestination};
use kvs_operator::engine::conditions::{READY, SYNCED, find};

use crate::support::{Harness, OperatorOptions, sdk_client, stream_manifest};

const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:front-door-frames";
/// A topic someone else set up.
const ELSEWHERE: &str = "arn:aws:sns:us-west-2:123456789012:elsewhere";

fn camera(extra: &str) -> String {
    stream_manifest(
        "front-door",
        &format!("  dataRetentionInHours: 24\n{extra}"),
    )
}

/// JPEG thumbnails every `interval` ms into `uri`.
fn jpeg_thumbnails(uri: &str, interval: u32) -> String {
    format!(
        "  imageGeneration:\n    status: ENABLED\n    destinationUri: {uri}\n    destinationRegion: us-west-2\n    imageSelectorType: SERVER_TIMESTAMP\n    samplingInterval: {interval}\n    format: JPEG\n    formatConfig:\n      JPEGQuality: \"80\"\n    widthPixels: 640\n    heightPixels: 480\n"
    )
}

fn notifications(status: &str, topic: &str) -> String {
    format!("  notification:\n    status: {status}\n    destinationUri: {topic}\n")
}

fn expected_jpeg(uri: &str, interval: i64) -> ImageGeneration {
    ImageGeneration {
        status: "ENABLED".into(),
        image_selector_type: "SERVER_TIMESTAMP".into(),
        destination_config: ImageDestination {
            uri: uri.into(),
            destination_region: "us-west-2".into(),
        },
        sampling_interval: interval,
        format: "JPEG".into(),
        format_config: BTreeMap::from([("JPEGQuality".into(), "80".into())]),
        width_pixels: Some(640),
        height_pixels: Some(480),
    }
}

fn expected_notification(status: &str, topic: &str) -> Notification {
    Notification {
        status: status.into(),
        destination_config: NotificationDestination { uri: topic.into() },
    }
}

/// Someone sends `arn`'s notifications to their own topic, in the console.
async fn notify_elsewhere(h: &Harness, arn: &str) {
    sdk_client(&h.emulator)
        .update_notification_configuration()
        .stream_arn(arn)
        .notification_configuration(
            NotificationConfiguration::builder()
                .status(ConfigurationStatus::Enabled)
                .destination_config(
                    NotificationDestinationConfig::builder()
                        .uri(ELSEWHERE)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("notification changed outside");
}

/// The configuration updates the emulator logged after `mark`.
fn configuration_updates_since(h: &Harness, mark: u64) -> Vec<kvs_emulator::CallRecord> {
    h.emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| {
            matches!(
                r.operation,
                Operation::UpdateImageGenerationConfiguration
                    | Operation::UpdateNotificationConfiguration
            )
        })
        .collect()
}

fn synced(vs: &kvs_operator::api::VideoStream) -> (String, String, String) {
    let status = vs.status.as_ref().expect("status");
    let c = find(&status.conditions, SYNCED).expect("Synced");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[tokio::test]
async fn image_generation_and_notifications_are_applied_updated_and_put_back() {
    let h = Harness::without_operator("configs").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    let thumbs = "s3://thumbnails/front-door";

    // Applied once the stream is ACTIVE.
    h.apply_ok(&camera(&format!(
        "{}{}",
        jpeg_thumbnails(thumbs, 3000),
        notifications("ENABLED", TOPIC)
    )))
    .await;
    h.wait_ready("front-door").await;
    let stream = h.emulator.stream("front-door").expect("stream");
    assert_eq!(stream.image_generation, Some(expected_jpeg(thumbs, 3000)));
    assert_eq!(
        stream.notification,
        Some(expected_notification("ENABLED", TOPIC))
    );
    let (_, note) = h.wait_event("front-door", "UpdatedImageGeneration").await;
    assert!(note.contains(thumbs), "{note}");
    h.wait_event("front-door", "UpdatedNotification").await;

    // Updated: PNG with no quality or size, and notifications switched off.
    let png = "  imageGeneration:\n    status: ENABLED\n    destinationUri: s3://thumbnails/front-door\n    destinationRegion: us-west-2\n    imageSelectorType: PRODUCER_TIMESTAMP\n    samplingInterval: 5000\n    format: PNG\n";
    h.apply_ok(&camera(&format!(
        "{png}{}",
        notifications("DISABLED", TOPIC)
    )))
    .await;
    h.wait_ready("front-door").await;
    let stream = h.emulator.stream("front-door").unwrap();
    let images = stream.image_generation.expect("image generation");
    assert_eq!(
        (
            images.format.as_str(),
            images.image_selector_type.as_str(),
            images.sampling_interval
        ),
        ("PNG", "PRODUCER_TIMESTAMP", 5000)
    );
    assert_eq!(images.format_config, BTreeMap::new());
    assert_eq!((images.width_pixels, images.height_pixels), (None, None));
    assert_eq!(
        stream.notification,
        Some(expected_notification("DISABLED", TOPIC))
    );

    // Changed in the console (neither shows in the stream's version): the periodic full
    // audit puts both back.
    let console = sdk_client(&h.emulator);
    console
        .update_image_generation_configuration()
        .stream_arn(&stream.stream_arn)
        .image_generation_configuration(
            ImageGenerationConfiguration::builder()
                .status(ConfigurationStatus::Enabled)
                .image_selector_type(ImageSelectorType::ServerTimestamp)
                .destination_config(
                    ImageGenerationDestinationConfig::builder()
                        .uri("s3://someone-elses-bucket/x")
                        .destination_region("us-west-2")
                        .build()
                        .unwrap(),
                )
                .sampling_interval(20000)
                .format(Format::Jpeg)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("image generation changed outside");
    notify_elsewhere(&h, &stream.stream_arn).await;
    h.wait_stream("front-door", "configurations put back", |s| {
        s.is_some_and(|s| {
            s.image_generation
                .as_ref()
                .is_some_and(|i| i.sampling_interval == 5000 && i.destination_config.uri == thumbs)
                && s.notification == Some(expected_notification("DISABLED", TOPIC))
        })
    })
    .await;
    assert_eq!(h.emulator.calls_of(Operation::CreateStream).total, 1);
}

#[tokio::test]
async fn configurations_left_out_of_the_spec_are_no_longer_managed() {
    let h = Harness::without_operator("configs-removed").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    let thumbs = "s3://thumbnails/front-door";
    h.apply_ok(&camera(&format!(
        "{}{}",
        jpeg_thumbnails(thumbs, 3000),
        notifications("ENABLED", TOPIC)
    )))
    .await;
    h.wait_ready("front-door").await;

    // Both removed from the spec: the stream keeps what it has.
    let mark = h.log_mark();
    h.apply_ok(&camera("")).await;
    h.wait_ready("front-door").await;
    assert_eq!(configuration_updates_since(&h, mark), []);
    let stream = h.emulator.stream("front-door").unwrap();
    assert_eq!(stream.image_generation, Some(expected_jpeg(thumbs, 3000)));
    assert_eq!(
        stream.notification,
        Some(expected_notification("ENABLED", TOPIC))
    );

    // Changed in the console, then a full reconcile (a retention change): left as it is.
    notify_elsewhere(&h, &stream.stream_arn).await;
    let mark = h.log_mark();
    h.apply_ok(&camera("").replace("dataRetentionInHours: 24", "dataRetentionInHours: 48"))
        .await;
    h.wait_ready("front-door").await;
    let stream = h.emulator.stream("front-door").unwrap();
    assert_eq!(stream.data_retention_in_hours, 48, "the reconcile ran");
    assert_eq!(configuration_updates_since(&h, mark), []);
    assert_eq!(
        stream.notification,
        Some(expected_notification("ENABLED", ELSEWHERE))
    );
    assert_eq!(stream.image_generation, Some(expected_jpeg(thumbs, 3000)));
}

#[tokio::test]
async fn a_destination_aws_refuses_shows_its_error_and_nothing_else_is_applied() {
    let h = Harness::start("configs-refused").await;
    let missing_bucket = "s3://no-such-bucket/thumbs";
    let missing_topic = "arn:aws:sns:us-west-2:123456789012:no-such-topic";
    h.emulator
        .update_settings(|s| {
            s.unknown_destinations.insert(missing_bucket.into());
            s.unknown_destinations.insert(missing_topic.into());
        })
        .expect("settings");

    // Thumbnails into a bucket that does not exist, and notifications that would work.
    h.apply_ok(&camera(&format!(
        "{}{}",
        jpeg_thumbnails(missing_bucket, 3000),
        notifications("ENABLED", TOPIC)
    )))
    .await;
    let vs = h.wait_synced_reason("front-door", "InvalidSpec").await;
    let (status, _, message) = synced(&vs);
    assert_eq!(status, "False");
    assert!(
        message.contains("InvalidArgumentException") && message.contains(missing_bucket),
        "{message}"
    );
    let ready = find(&vs.status.as_ref().unwrap().conditions, READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSpec")
    );
    let (kind, note) = h.wait_event("front-door", "InvalidSpec").await;
    assert_eq!(kind, "Warning");
    assert!(note.contains(missing_bucket), "{note}");
    let stream = h
        .emulator
        .stream("front-door")
        .expect("the stream is there");
    assert_eq!(stream.data_retention_in_hours, 24);
    assert_eq!(stream.image_generation, None, "nothing half-applied");
    assert_eq!(stream.notification, None, "nor what comes after it");

    // The bucket fixed in the spec: everything goes through.
    let thumbs = "s3://thumbnails/front-door";
    h.apply_ok(&camera(&format!(
        "{}{}",
        jpeg_thumbnails(thumbs, 3000),
        notifications("ENABLED", TOPIC)
    )))
    .await;
    h.wait_ready("front-door").await;
    let stream = h.emulator.stream("front-door").unwrap();
    assert_eq!(stream.image_generation, Some(expected_jpeg(thumbs, 3000)));
    assert_eq!(
        stream.notification,
        Some(expected_notification("ENABLED", TOPIC))
    );

    // A topic that does not exist: AWS's error, and the working configuration stays.
    h.apply_ok(&camera(&format!(
        "{}{}",
        jpeg_thumbnails(thumbs, 3000),
        notifications("ENABLED", missing_topic)
    )))
    .await;
    let vs = h
        .wait_for("front-door", "refused at AWS", |vs| {
            let (status, reason, message) = synced(vs);
            status == "False" && reason == "InvalidSpec" && message.contains(missing_topic)
        })
        .await;
    assert!(synced(&vs).2.contains("InvalidArgumentException"));
    assert_eq!(
        h.emulator.stream("front-door").unwrap().notification,
        Some(expected_notification("ENABLED", TOPIC))
    );
}

#[tokio::test]
async fn malformed_configurations_are_refused_at_admission_naming_the_field() {
    let h = Harness::without_operator("configs-invalid").await;
    let images = |field: &str, value: &str| {
        let valid = jpeg_thumbnails("s3://thumbnails/cam", 3000);
        let line = valid
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{field}:")))
            .map(str::to_string);
        match line {
            Some(line) => valid.replace(&line, &format!("    {field}: {value}")),
            None => format!("{valid}    {field}: {value}\n"),
        }
    };
    let without = |field: &str| {
        jpeg_thumbnails("s3://thumbnails/cam", 3000)
            .lines()
            .filter(|l| !l.trim_start().starts_with(&format!("{field}:")))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "fast",
            images("samplingInterval", "199"),
            "spec.imageGeneration.samplingInterval",
        ),
        (
            "slow",
            images("samplingInterval", "20001"),
            "spec.imageGeneration.samplingInterval",
        ),
        (
            "no-interval",
            without("samplingInterval"),
            "spec.imageGeneration.samplingInterval",
        ),
        (
            "narrow",
            images("widthPixels", "0"),
            "spec.imageGeneration.widthPixels",
        ),
        (
            "wide",
            images("widthPixels", "3841"),
            "spec.imageGeneration.widthPixels",
        ),
        (
            "tall",
            images("heightPixels", "2161"),
            "spec.imageGeneration.heightPixels",
        ),
        (
            "not-s3",
            images("destinationUri", "https://thumbnails/cam"),
            "spec.imageGeneration.destinationUri",
        ),
        (
            "not-a-uri",
            images("destinationUri", "thumbnails"),
            "spec.imageGeneration.destinationUri",
        ),
        (
            "bad-region",
            images("destinationRegion", "Europe"),
            "spec.imageGeneration.destinationRegion",
        ),
        (
            "bad-format",
            images("format", "GIF"),
            "spec.imageGeneration.format",
        ),
        (
            "bad-status",
            images("status", "SOMETIMES"),
            "spec.imageGeneration.status",
        ),
        (
            "bad-quality-key",
            images("formatConfig", "{Quality: \"80\"}").replace("      JPEGQuality: \"80\"\n", ""),
            "spec.imageGeneration.formatConfig",
        ),
        (
            "sqs-topic",
            notifications("ENABLED", "arn:aws:sqs:us-west-2:123456789012:queue"),
            "spec.notification.destinationUri",
        ),
        (
            "s3-topic",
            notifications("ENABLED", "s3://bucket/frames"),
            "spec.notification.destinationUri",
        ),
        (
            "short-account",
            notifications("ENABLED", "arn:aws:sns:us-west-2:1234:frames"),
            "spec.notification.destinationUri",
        ),
        (
            "no-topic-status",
            format!("  notification:\n    destinationUri: {TOPIC}\n"),
            "spec.notification.status",
        ),
    ];
    for (name, extra, field) in cases {
        let manifest = camera(&extra).replace("name: front-door", &format!("name: {name}"));
        let out = h.apply(&manifest).await;
        assert!(!out.success(), "{name} was accepted:\n{extra}");
        assert!(
            out.stderr.contains(field),
            "{name}: the message does not name {field}: {}",
            out.stderr
        );
    }
    let listed = h
        .kubectl(&["get", "vs", "-n", &h.namespace, "-o", "name"])
        .await;
    assert_eq!(listed.stdout.trim(), "", "nothing was stored");

    // The valid ones are accepted.
    h.apply_ok(&camera(&format!(
        "{}{}",
        jpeg_thumbnails("s3://thumbnails/cam", 200),
        notifications("DISABLED", TOPIC)
    )))
    .await;
}
