//! A stream's image generation (thumbnails to S3) and notification (SNS) configurations:
//! Describe and Update, with the model's validation. An absent configuration in an
//! update deletes it, as the model says.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::handlers::{Context, empty, encode};
use crate::model::{ImageDestination, ImageGeneration, Notification, NotificationDestination};
use crate::store::{ArnCheck, Stream, StreamAddress};
use crate::validate::{
    DESTINATION_REGION, DESTINATION_URI, FORMAT_CONFIG_VALUE, Violations, stream_address,
};
use crate::wire::AddressInput;

const STATUSES: [&str; 2] = ["ENABLED", "DISABLED"];
const SELECTORS: [&str; 2] = ["SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"];
const FORMATS: [&str; 2] = ["JPEG", "PNG"];
/// SamplingInterval in ms: the model's documentation gives the minimum (200), the API
/// reference the maximum (20000); the model itself has no range.
const SAMPLING_RANGE: (i64, i64) = (200, 20_000);

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageDestinationInput {
    pub uri: Option<String>,
    pub destination_region: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageGenerationInput {
    pub status: Option<String>,
    pub image_selector_type: Option<String>,
    pub destination_config: Option<ImageDestinationInput>,
    pub sampling_interval: Option<i64>,
    pub format: Option<String>,
    pub format_config: Option<BTreeMap<String, String>>,
    pub width_pixels: Option<i64>,
    pub height_pixels: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateImageGenerationInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(rename = "ImageGenerationConfiguration")]
    pub configuration: Option<ImageGenerationInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NotificationDestinationInput {
    pub uri: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NotificationInput {
    pub status: Option<String>,
    pub destination_config: Option<NotificationDestinationInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateNotificationInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(rename = "NotificationConfiguration")]
    pub configuration: Option<NotificationInput>,
}

fn located<'a>(name: &'a Option<String>, arn: &'a Option<String>) -> StreamAddress<'a> {
    StreamAddress {
        name: name.as_deref(),
        arn: arn.as_deref(),
    }
}

fn check_uri(v: &mut Violations, field: &str, uri: Option<&str>) {
    v.required(field, &uri);
    v.string(field, uri, 1, 255, Some(&DESTINATION_URI));
}

/// The rules an enabled configuration must meet beyond the model: the stream keeps
/// data, and the destination exists.
fn check_delivery(
    stream: &Stream,
    enabled: bool,
    uri: &str,
    ctx: &Context<'_>,
) -> Result<(), ApiError> {
    if enabled && stream.retention_hours == 0 {
        return Err(ApiError::no_data_retention(
            "The Stream data retention in hours is equal to zero.",
        ));
    }
    if ctx.settings.unknown_destinations.contains(uri) {
        return Err(ApiError::invalid_argument(format!(
            "The destination {uri} does not exist or Kinesis Video Streams cannot deliver to it."
        )));
    }
    Ok(())
}

/// The stream a Describe…Configuration addresses (in any state).
fn described<'a>(input: &AddressInput, ctx: &'a Context<'_>) -> Result<&'a Stream, ApiError> {
    let mut v = Violations::new();
    stream_address(
        &mut v,
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    );
    v.finish()?;
    ctx.store.get(
        located(&input.stream_name, &input.stream_arn),
        ArnCheck::Plain,
    )
}

pub fn describe_image_generation(
    input: AddressInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    match &described(&input, &ctx)?.image_generation {
        Some(config) => encode(&json!({ "ImageGenerationConfiguration": config })),
        None => empty(),
    }
}

fn validate_image_generation(
    v: &mut Violations,
    input: &ImageGenerationInput,
) -> Option<ImageGeneration> {
    let field = |name: &str| format!("imageGenerationConfiguration.{name}");
    v.required(&field("status"), &input.status);
    v.one_of(&field("status"), input.status.as_deref(), &STATUSES);
    v.required(&field("imageSelectorType"), &input.image_selector_type);
    v.one_of(
        &field("imageSelectorType"),
        input.image_selector_type.as_deref(),
        &SELECTORS,
    );
    v.required(&field("destinationConfig"), &input.destination_config);
    if let Some(destination) = &input.destination_config {
        check_uri(
            v,
            &field("destinationConfig.uri"),
            destination.uri.as_deref(),
        );
        let region = field("destinationConfig.destinationRegion");
        v.required(&region, &destination.destination_region);
        v.string(
            &region,
            destination.destination_region.as_deref(),
            9,
            14,
            Some(&DESTINATION_REGION),
        );
    }
    v.required(&field("samplingInterval"), &input.sampling_interval);
    v.integer(
        &field("samplingInterval"),
        input.sampling_interval,
        SAMPLING_RANGE.0,
        Some(SAMPLING_RANGE.1),
    );
    v.required(&field("format"), &input.format);
    v.one_of(&field("format"), input.format.as_deref(), &FORMATS);
    if let Some(format_config) = &input.format_config {
        check_format_config(v, &field("formatConfig"), format_config);
    }
    v.integer(&field("widthPixels"), input.width_pixels, 1, Some(3840));
    v.integer(&field("heightPixels"), input.height_pixels, 1, Some(2160));
    let destination = input.destination_config.as_ref()?;
    Some(ImageGeneration {
        status: input.status.clone()?,
        image_selector_type: input.image_selector_type.clone()?,
        destination_config: ImageDestination {
            uri: destination.uri.clone()?,
            destination_region: destination.destination_region.clone()?,
        },
        sampling_interval: input.sampling_interval?,
        format: input.format.clone()?,
        format_config: input.format_config.clone().unwrap_or_default(),
        width_pixels: input.width_pixels,
        height_pixels: input.height_pixels,
    })
}

/// FormatConfig: exactly one entry, `JPEGQuality`, whose value the model's
/// documentation gives as an integer from 1 to 100.
fn check_format_config(v: &mut Violations, field: &str, config: &BTreeMap<String, String>) {
    if config.len() != 1 {
        v.list_min(field, config.len(), 1);
        v.list_length(field, config.len(), 1);
    }
    for (key, value) in config {
        v.one_of(&format!("{field}.key"), Some(key), &["JPEGQuality"]);
        let value_field = format!("{field}.{key}");
        v.string(
            &value_field,
            Some(value),
            0,
            256,
            Some(&FORMAT_CONFIG_VALUE),
        );
        if key == "JPEGQuality" && !value.parse::<u8>().is_ok_and(|q| (1..=100).contains(&q)) {
            v.integer(&value_field, Some(0), 1, Some(100));
        }
    }
}

pub fn update_image_generation(
    input: UpdateImageGenerationInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    stream_address(
        &mut v,
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    );
    let config = input
        .configuration
        .as_ref()
        .and_then(|c| validate_image_generation(&mut v, c));
    v.finish()?;
    let address = located(&input.stream_name, &input.stream_arn);
    let stream = ctx.store.get(address, ArnCheck::Plain)?;
    if let Some(config) = &config {
        if config.destination_config.destination_region != stream.region() {
            return Err(ApiError::invalid_argument(format!(
                "DestinationRegion {} must be the stream's region, {}.",
                config.destination_config.destination_region,
                stream.region()
            )));
        }
        let enabled = config.status == "ENABLED";
        check_delivery(stream, enabled, &config.destination_config.uri, &ctx)?;
    }
    ctx.store.get_active_mut(address)?.image_generation = config;
    empty()
}

pub fn describe_notification(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    match &described(&input, &ctx)?.notification {
        Some(config) => encode(&json!({ "NotificationConfiguration": config })),
        None => empty(),
    }
}

pub fn update_notification(
    input: UpdateNotificationInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    stream_address(
        &mut v,
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    );
    let config = input.configuration.as_ref().and_then(|c| {
        let field = "notificationConfiguration";
        v.required(&format!("{field}.status"), &c.status);
        v.one_of(&format!("{field}.status"), c.status.as_deref(), &STATUSES);
        v.required(&format!("{field}.destinationConfig"), &c.destination_config);
        let uri = c.destination_config.as_ref().and_then(|d| d.uri.as_deref());
        if c.destination_config.is_some() {
            check_uri(&mut v, &format!("{field}.destinationConfig.uri"), uri);
        }
        Some(Notification {
            status: c.status.clone()?,
            destination_config: NotificationDestination {
                uri: uri?.to_owned(),
            },
        })
    });
    v.finish()?;
    let address = located(&input.stream_name, &input.stream_arn);
    let stream = ctx.store.get(address, ArnCheck::Plain)?;
    if let Some(config) = &config {
        let enabled = config.status == "ENABLED";
        check_delivery(stream, enabled, &config.destination_config.uri, &ctx)?;
    }
    ctx.store.get_active_mut(address)?.notification = config;
    empty()
}
