//! A stream's image generation (thumbnails to S3) and notification (SNS) configurations:
//! Describe and Update. An absent configuration in an update deletes it, as the model
//! says; an update needs the stream ACTIVE and keeps its version.

use serde_json::json;

use super::inputs::{
    AddressInput, Addressed, ImageGenerationInput, UpdateImageGenerationInput,
    UpdateNotificationInput,
};
use crate::model::snapshot::{
    ImageDestination, ImageGeneration, Notification, NotificationDestination,
};
use crate::services::handler::Context;
use crate::state::registry::ArnCheck;
use crate::state::streams::Stream;
use crate::wire::error::ApiError;
use crate::wire::rest_json::{empty, encode};

/// The rules an enabled configuration must meet beyond the model: the stream keeps
/// data, and the destination exists.
fn check_delivery(
    stream: &Stream,
    enabled: bool,
    uri: &str,
    ctx: &Context<'_>,
) -> Result<(), ApiError> {
    if enabled && stream.details.retention_hours == 0 {
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

pub fn describe_image_generation(
    input: AddressInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let stream = ctx.streams.get(input.address(), ArnCheck::Plain)?;
    match &stream.details.image_generation {
        Some(config) => encode(&json!({ "ImageGenerationConfiguration": config })),
        None => empty(),
    }
}

/// The configuration a validated input describes.
fn image_generation(config: ImageGenerationInput) -> Option<ImageGeneration> {
    let destination = config.destination_config?;
    Some(ImageGeneration {
        status: config.status?,
        image_selector_type: config.image_selector_type?,
        destination_config: ImageDestination {
            uri: destination.uri?,
            destination_region: destination.destination_region?,
        },
        sampling_interval: config.sampling_interval?,
        format: config.format?,
        format_config: config.format_config.unwrap_or_default(),
        width_pixels: config.width_pixels,
        height_pixels: config.height_pixels,
    })
}

pub fn update_image_generation(
    mut input: UpdateImageGenerationInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let config = input.configuration.take().and_then(image_generation);
    let address = input.address();
    let stream = ctx.streams.get(address, ArnCheck::Plain)?;
    if let Some(config) = &config {
        let region = &config.destination_config.destination_region;
        if region != stream.region() {
            return Err(ApiError::invalid_argument(format!(
                "DestinationRegion {region} must be the stream's region, {}.",
                stream.region()
            )));
        }
        let enabled = config.status == "ENABLED";
        check_delivery(stream, enabled, &config.destination_config.uri, &ctx)?;
    }
    ctx.streams
        .get_active_mut(address)?
        .details
        .image_generation = config;
    empty()
}

pub fn describe_notification(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let stream = ctx.streams.get(input.address(), ArnCheck::Plain)?;
    match &stream.details.notification {
        Some(config) => encode(&json!({ "NotificationConfiguration": config })),
        None => empty(),
    }
}

pub fn update_notification(
    mut input: UpdateNotificationInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let config = input.configuration.take().and_then(|c| {
        Some(Notification {
            status: c.status?,
            destination_config: NotificationDestination {
                uri: c.destination_config?.uri?,
            },
        })
    });
    let address = input.address();
    let stream = ctx.streams.get(address, ArnCheck::Plain)?;
    if let Some(config) = &config {
        let enabled = config.status == "ENABLED";
        check_delivery(stream, enabled, &config.destination_config.uri, &ctx)?;
    }
    ctx.streams.get_active_mut(address)?.details.notification = config;
    empty()
}
