//! A signaling channel's life: CreateSignalingChannel, DescribeSignalingChannel,
//! ListSignalingChannels, UpdateSignalingChannel, DeleteSignalingChannel.

use serde::Serialize;
use serde_json::json;

use super::inputs::{
    ChannelAddressInput, CreateInput, DeleteInput, ListInput, SingleMasterConfiguration,
    UpdateInput,
};
use crate::model::snapshot::to_epoch_seconds;
use crate::services::handler::Context;
use crate::services::listing::Listing;
use crate::services::validate::tag_map;
use crate::state::channels::{Channel, ChannelDetails, SINGLE_MASTER};
use crate::state::registry::{Address, ArnCheck, NewRecord};
use crate::wire::error::ApiError;
use crate::wire::rest_json::{empty, encode};

/// MessageTtlSeconds when a channel is created without one.
const DEFAULT_TTL_SECONDS: u32 = 60;

pub fn create(input: CreateInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    if input.channel_type.as_deref() == Some("FULL_MESH") {
        return Err(ApiError::invalid_argument(
            "Currently, SINGLE_MASTER is the only supported channel type.",
        ));
    }
    let ttl = SingleMasterConfiguration::ttl(input.single_master_configuration.as_ref());
    let new = NewRecord {
        name: input.channel_name.unwrap_or_default(),
        tags: tag_map(input.tags.as_deref()),
        details: ChannelDetails {
            message_ttl_seconds: ttl.unwrap_or(DEFAULT_TTL_SECONDS),
            ..ChannelDetails::default()
        },
    };
    let limits = ctx.channel_limits();
    let delay = ctx.settings.delays.create;
    let channel = ctx.channels.create(new, limits, delay, ctx.now)?;
    encode(&json!({ "ChannelARN": channel.arn }))
}

/// The model's `ChannelInfo`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ChannelInfo<'a> {
    channel_name: &'a str,
    #[serde(rename = "ChannelARN")]
    channel_arn: &'a str,
    channel_type: &'static str,
    channel_status: &'static str,
    creation_time: f64,
    single_master_configuration: serde_json::Value,
    version: &'a str,
}

impl<'a> From<&'a Channel> for ChannelInfo<'a> {
    fn from(channel: &'a Channel) -> Self {
        ChannelInfo {
            channel_name: &channel.name,
            channel_arn: &channel.arn,
            channel_type: SINGLE_MASTER,
            channel_status: channel.status.as_str(),
            creation_time: to_epoch_seconds(channel.creation_time),
            single_master_configuration: json!({
                "MessageTtlSeconds": channel.details.message_ttl_seconds
            }),
            version: &channel.version,
        }
    }
}

pub fn describe(input: ChannelAddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let channel = ctx.channels.get(input.address(), ArnCheck::Plain)?;
    encode(&json!({ "ChannelInfo": ChannelInfo::from(channel) }))
}

pub fn list(input: ListInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let condition = input.channel_name_condition.as_ref();
    let listing = Listing::new(input.max_results, input.next_token.as_deref(), condition);
    let (prefix, after, max) = listing.page(ctx.settings)?;
    let page = ctx.channels.list(prefix, after.as_deref(), max);
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(rename = "ChannelInfoList")]
        channel_info_list: Vec<ChannelInfo<'a>>,
        #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
    encode(&Output {
        next_token: page.next_token(),
        channel_info_list: page.items.into_iter().map(ChannelInfo::from).collect(),
    })
}

/// UpdateSignalingChannel: a new TTL, a new version, UPDATING for the update delay.
pub fn update(input: UpdateInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let ttl = SingleMasterConfiguration::ttl(input.single_master_configuration.as_ref());
    let arn = input.channel_arn.as_deref().unwrap_or_default();
    let version = input.current_version.as_deref().unwrap_or_default();
    let delay = ctx.settings.delays.update;
    ctx.channels
        .update(Address::arn(arn), version, delay, ctx.now, |channel| {
            if let Some(ttl) = ttl {
                channel.message_ttl_seconds = ttl;
            }
            Ok(())
        })?;
    empty()
}

/// DeleteSignalingChannel: by ARN; DELETING until the delete delay has passed.
pub fn delete(input: DeleteInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let arn = input.channel_arn.as_deref().unwrap_or_default();
    let version = input.current_version.as_deref();
    let delay = ctx.settings.delays.delete;
    ctx.channels.delete(arn, version, delay, ctx.now)?;
    empty()
}
