//! A channel's media storage into a stream: DescribeMediaStorageConfiguration and
//! UpdateMediaStorageConfiguration (which reads the scope's streams too).

use serde_json::json;

use super::inputs::{ChannelAddressInput, UpdateMediaStorageInput};
use crate::model::arn::arn_parts;
use crate::model::snapshot::{MediaStorage, MediaStorageStatus, StreamStatus};
use crate::services::handler::Context;
use crate::state::channels::Channel;
use crate::state::registry::{Address, ArnCheck};
use crate::wire::error::ApiError;
use crate::wire::rest_json::{empty, encode};

pub fn describe(input: ChannelAddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let channel = ctx.channels.get(input.address(), ArnCheck::Plain)?;
    encode(&json!({ "MediaStorageConfiguration": channel.details.media_storage }))
}

/// UpdateMediaStorageConfiguration: with ENABLED, the channel stores into the stream,
/// which must exist in this account and region, be ACTIVE, keep data (retention > 0)
/// and not already store another channel's media.
pub fn update(input: UpdateMediaStorageInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let channel_arn = input.channel_arn.as_deref().unwrap_or_default();
    let channel = ctx
        .channels
        .get(Address::arn(channel_arn), ArnCheck::Plain)?;
    let config = input.media_storage_configuration.as_ref();
    let stream_arn = config.and_then(|c| c.stream_arn.clone());
    let enabled = config.and_then(|c| c.status.as_deref()) == Some("ENABLED");
    if enabled {
        let Some(stream_arn) = stream_arn.as_deref() else {
            return Err(ApiError::invalid_argument(
                "MediaStorageConfiguration.StreamARN is required when Status is ENABLED.",
            ));
        };
        check_storage_stream(&ctx, channel, stream_arn)?;
    }
    let storage = MediaStorage {
        stream_arn,
        status: if enabled {
            MediaStorageStatus::Enabled
        } else {
            MediaStorageStatus::Disabled
        },
    };
    let channel = ctx.channels.get_active_mut(Address::arn(channel_arn))?;
    channel.details.media_storage = storage;
    empty()
}

fn check_storage_stream(ctx: &Context<'_>, channel: &Channel, arn: &str) -> Result<(), ApiError> {
    if arn_parts(arn).map(|(kind, _)| kind) != Some("stream") {
        return Err(ApiError::invalid_argument(format!(
            "The ARN {arn} does not identify a stream."
        )));
    }
    let stream = ctx
        .streams
        .by_arn(arn)
        .ok_or_else(ApiError::stream_not_found)?;
    if stream.status != StreamStatus::Active {
        return Err(ApiError::resource_in_use(format!(
            "The stream {} is {}; media storage needs it ACTIVE.",
            stream.name,
            stream.status.as_str()
        )));
    }
    if stream.details.retention_hours == 0 {
        return Err(ApiError::no_data_retention(
            "The Stream data retention in hours is equal to zero.",
        ));
    }
    if let Some(other) = ctx.channels.storing_into(arn, &channel.name) {
        return Err(ApiError::resource_in_use(format!(
            "The stream {} already stores the media of signaling channel {}.",
            stream.name, other.arn
        )));
    }
    Ok(())
}
