//! A stream's life: CreateStream, DescribeStream, ListStreams, UpdateStream,
//! UpdateDataRetention, DeleteStream, and GetDataEndpoint.

use serde_json::json;

use super::inputs::{
    AddressInput, Addressed, CreateStreamInput, DeleteStreamInput, GetDataEndpointInput,
    ListStreamsInput, UpdateDataRetentionInput, UpdateStreamInput,
};
use super::storage::storage_tier;
use crate::services::handler::Context;
use crate::services::listing::Listing;
use crate::state::registry::ArnCheck;
use crate::state::streams::{MAX_RETENTION_HOURS, NewStream, changed_retention, info_json};
use crate::wire::error::ApiError;
use crate::wire::rest_json::{empty, encode};

pub fn create(input: CreateStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let retention = input.data_retention_in_hours.unwrap_or(0);
    let retention_hours = u32::try_from(retention)
        .ok()
        .filter(|h| *h <= MAX_RETENTION_HOURS)
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "DataRetentionInHours {retention} must be within 0 and {MAX_RETENTION_HOURS}."
            ))
        })?;
    let new = NewStream {
        name: input.stream_name.unwrap_or_default(),
        device_name: input.device_name,
        media_type: input.media_type,
        kms_key_id: input.kms_key_id,
        retention_hours,
        tags: input.tags.unwrap_or_default(),
        storage_tier: storage_tier(input.stream_storage_configuration.as_ref()),
    };
    let limits = ctx.stream_limits();
    let delay = ctx.settings.delays.create;
    let stream = ctx.streams.create_stream(new, limits, delay, ctx.now)?;
    encode(&json!({ "StreamARN": stream.arn }))
}

pub fn describe(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let stream = ctx.streams.get(input.address(), ArnCheck::Plain)?;
    let info = info_json(stream);
    let mut body = Vec::with_capacity(info.len() + 16);
    body.extend_from_slice(b"{\"StreamInfo\":");
    body.extend_from_slice(info.as_bytes());
    body.push(b'}');
    Ok(body)
}

pub fn list(input: ListStreamsInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let condition = input.stream_name_condition.as_ref();
    let listing = Listing::new(input.max_results, input.next_token.as_deref(), condition);
    let (prefix, after, max) = listing.page(ctx.settings)?;
    let page = ctx.streams.list(prefix, after.as_deref(), max);
    // Cached StreamInfo documents, joined: a page of 10,000 is mostly copying.
    let infos: Vec<&str> = page.items.iter().map(|s| info_json(s)).collect();
    let length = infos.iter().map(|info| info.len() + 1).sum::<usize>();
    let mut body = Vec::with_capacity(length + 64);
    body.extend_from_slice(b"{\"StreamInfoList\":[");
    for (i, info) in infos.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(info.as_bytes());
    }
    body.push(b']');
    if let Some(token) = page.next_token() {
        body.extend_from_slice(b",\"NextToken\":\"");
        body.extend_from_slice(token.as_bytes());
        body.push(b'"');
    }
    body.push(b'}');
    Ok(body)
}

pub fn update(input: UpdateStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let version = input.current_version.as_deref().unwrap_or_default();
    let delay = ctx.settings.delays.update;
    let (device_name, media_type) = (input.device_name.clone(), input.media_type.clone());
    ctx.streams
        .update(input.address(), version, delay, ctx.now, |stream| {
            if device_name.is_some() {
                stream.device_name = device_name;
            }
            if media_type.is_some() {
                stream.media_type = media_type;
            }
            Ok(())
        })?;
    empty()
}

/// UpdateDataRetention: `DataRetentionChangeInHours` is added or subtracted (the current
/// model), never a replacement.
pub fn update_data_retention(
    input: UpdateDataRetentionInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let hours = input
        .data_retention_change_in_hours
        .and_then(|h| u32::try_from(h).ok())
        .unwrap_or_default();
    let increase = input.operation.as_deref() == Some("INCREASE_DATA_RETENTION");
    let version = input.current_version.as_deref().unwrap_or_default();
    let delay = ctx.settings.delays.update;
    ctx.streams
        .update(input.address(), version, delay, ctx.now, |stream| {
            stream.retention_hours = changed_retention(stream.retention_hours, increase, hours)?;
            Ok(())
        })?;
    empty()
}

/// DeleteStream: by ARN only; the stream is DELETING until the delay has passed.
pub fn delete(input: DeleteStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let arn = input.stream_arn.as_deref().unwrap_or_default();
    let version = input.current_version.as_deref();
    let delay = ctx.settings.delays.delete;
    ctx.streams.delete(arn, version, delay, ctx.now)?;
    empty()
}

/// GetDataEndpoint: the stream's endpoint for the API, or the one the settings fix.
pub fn get_data_endpoint(
    input: GetDataEndpointInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let stream = ctx.streams.get_live(input.address(), ArnCheck::Plain)?;
    let endpoint = match &ctx.settings.data_endpoint {
        Some(fixed) => fixed.clone(),
        None => ctx
            .streams
            .data_endpoint(stream, input.api_name.as_deref().unwrap_or_default()),
    };
    encode(&json!({ "DataEndpoint": endpoint }))
}
