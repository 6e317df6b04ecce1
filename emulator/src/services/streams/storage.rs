//! A stream's storage tier: DescribeStreamStorageConfiguration and
//! UpdateStreamStorageConfiguration (and the configuration CreateStream may carry).

use serde_json::json;

use super::inputs::{AddressInput, Addressed, StorageInput, UpdateStorageInput};
use crate::model::snapshot::StorageTier;
use crate::services::handler::Context;
use crate::state::registry::ArnCheck;
use crate::wire::error::ApiError;
use crate::wire::rest_json::{empty, encode};

/// The tier a configuration names; HOT without one.
pub fn storage_tier(config: Option<&StorageInput>) -> StorageTier {
    config
        .and_then(|c| c.default_storage_tier.as_deref())
        .and_then(StorageTier::parse)
        .unwrap_or_default()
}

pub fn describe(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let stream = ctx.streams.get(input.address(), ArnCheck::Plain)?;
    encode(&json!({
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "StreamStorageConfiguration": {
            "DefaultStorageTier": stream.details.storage_tier.as_str()
        },
    }))
}

/// UpdateStreamStorageConfiguration: like the other updates, a new version and UPDATING.
pub fn update(input: UpdateStorageInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let tier = storage_tier(input.stream_storage_configuration.as_ref());
    let version = input.current_version.as_deref().unwrap_or_default();
    let delay = ctx.settings.delays.update;
    ctx.streams
        .update(input.address(), version, delay, ctx.now, |stream| {
            stream.storage_tier = tier;
            Ok(())
        })?;
    empty()
}
