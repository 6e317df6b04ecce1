//! The model's lengths, patterns, ranges and required members, answered with
//! InvalidArgumentException naming the field.

mod common;

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use common::{client, post, start};

/// Asserts an InvalidArgumentException (400) whose message names `field`.
fn assert_invalid<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<
        T,
        aws_sdk_kinesisvideo::error::SdkError<E, aws_sdk_kinesisvideo::config::http::HttpResponse>,
    >,
    field: &str,
) {
    let err = result.expect_err("must be refused");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(err.code(), Some("InvalidArgumentException"), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains(&format!("'{field}'")),
        "{field} not in {message:?}"
    );
}

#[tokio::test]
async fn create_stream_inputs() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let long_name = "n".repeat(257);
    assert_invalid(
        kvs.create_stream().stream_name(&long_name).send().await,
        "streamName",
    );
    assert_invalid(
        kvs.create_stream().stream_name("has space").send().await,
        "streamName",
    );
    assert_invalid(
        kvs.create_stream().stream_name("").send().await,
        "streamName",
    );
    assert_invalid(
        kvs.create_stream().stream_name("a/b").send().await,
        "streamName",
    );
    assert_invalid(kvs.create_stream().send().await, "streamName");
    let create = |field: &str| kvs.create_stream().stream_name(format!("ok-{field}"));
    assert_invalid(
        create("d").device_name("d".repeat(129)).send().await,
        "deviceName",
    );
    assert_invalid(
        create("d").device_name("bad device").send().await,
        "deviceName",
    );
    assert_invalid(create("m").media_type("h264").send().await, "mediaType");
    assert_invalid(
        create("m").media_type("video/h264,").send().await,
        "mediaType",
    );
    assert_invalid(
        create("m")
            .media_type("m".repeat(125) + "/abc")
            .send()
            .await,
        "mediaType",
    );
    assert_invalid(create("k").kms_key_id("").send().await, "kmsKeyId");
    assert_invalid(
        create("k").kms_key_id("k".repeat(2049)).send().await,
        "kmsKeyId",
    );
    assert_invalid(
        create("r").data_retention_in_hours(-1).send().await,
        "dataRetentionInHours",
    );
    assert!(emulator.streams().is_empty());

    // Several violations are reported together.
    let err = kvs
        .create_stream()
        .stream_name("bad name")
        .device_name("bad device")
        .send()
        .await
        .expect_err("two violations");
    let message = err.message().unwrap_or_default().to_owned();
    assert!(
        message.starts_with("2 validation errors detected"),
        "{message}"
    );

    let longest = "n".repeat(256);
    kvs.create_stream()
        .stream_name(&longest)
        .device_name("d".repeat(128))
        .media_type("video/h264,audio/aac")
        .kms_key_id("k".repeat(2048))
        .send()
        .await
        .expect("limits are inclusive");
}

#[tokio::test]
async fn update_inputs() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("s")
        .send()
        .await
        .expect("create");
    assert_invalid(
        kvs.update_stream()
            .stream_name("s")
            .device_name("x")
            .send()
            .await,
        "currentVersion",
    );
    assert_invalid(
        kvs.update_stream()
            .stream_name("s")
            .current_version("not-alnum!")
            .send()
            .await,
        "currentVersion",
    );
    assert_invalid(
        kvs.update_stream()
            .stream_name("s")
            .current_version("v".repeat(65))
            .send()
            .await,
        "currentVersion",
    );
    assert_invalid(
        kvs.update_data_retention()
            .stream_name("s")
            .current_version("abc")
            .data_retention_change_in_hours(1)
            .send()
            .await,
        "operation",
    );
    assert_invalid(
        kvs.update_data_retention()
            .stream_name("s")
            .current_version("abc")
            .operation("GROW".into())
            .data_retention_change_in_hours(1)
            .send()
            .await,
        "operation",
    );
    assert_invalid(kvs.delete_stream().send().await, "streamARN");
    assert_invalid(
        kvs.delete_stream().stream_arn("s").send().await,
        "streamARN",
    );
    assert_invalid(
        kvs.get_data_endpoint().stream_name("s").send().await,
        "APIName",
    );
}

/// Members the SDK would type-check, sent raw.
#[tokio::test]
async fn raw_inputs_outside_the_model() {
    let emulator = start().await;
    let cases = [
        (
            "/createStream",
            r#"{"StreamName":"x","DataRetentionInHours":3000000000}"#,
            "dataRetentionInHours",
        ),
        (
            "/listStreams",
            r#"{"StreamNameCondition":{"ComparisonOperator":"BEGINS_WITH"}}"#,
            "streamNameCondition.comparisonValue",
        ),
        (
            "/listStreams",
            r#"{"StreamNameCondition":{"ComparisonOperator":"ENDS_WITH","ComparisonValue":"a"}}"#,
            "streamNameCondition.comparisonOperator",
        ),
        ("/listStreams", r#"{"NextToken":"has space"}"#, "nextToken"),
        (
            "/createStream",
            r#"{"StreamName":"x","StreamStorageConfiguration":{}}"#,
            "streamStorageConfiguration.defaultStorageTier",
        ),
        (
            "/updateStreamStorageConfiguration",
            r#"{"StreamName":"x","CurrentVersion":"a"}"#,
            "streamStorageConfiguration",
        ),
        ("/untagStream", r#"{"StreamName":"x"}"#, "tagKeyList"),
    ];
    for (path, body, field) in cases {
        let response = post(&emulator, path, body).await;
        assert_eq!(response.status, 400, "{path} {body}");
        assert_eq!(
            response.header("x-amzn-ErrorType"),
            Some("InvalidArgumentException")
        );
        let message = response.json()["Message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            message.contains(&format!("'{field}'")),
            "{field} not in {message}"
        );
    }
    assert!(emulator.streams().is_empty());
}
