//! The signaling-channel operations: decode, validate against the model, apply to the
//! channels (and, for media storage, read the streams), encode.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::channels::{Channel, ChannelAddress, NewChannel, SINGLE_MASTER};
use crate::error::ApiError;
use crate::handlers::{
    Context, MAX_LIST_RESULTS, check_next_token, decode_token, empty, encode, encode_token,
};
use crate::model::{MediaStorage, MediaStorageStatus, StreamStatus, to_epoch_seconds};
use crate::validate::{NAME, RESOURCE_ARN, Violations};
use crate::wire::TagInput;

const CHANNEL_TYPES: [&str; 2] = ["SINGLE_MASTER", "FULL_MESH"];
const PROTOCOLS: [&str; 3] = ["WSS", "HTTPS", "WEBRTC"];
const ROLES: [&str; 2] = ["MASTER", "VIEWER"];
const STATUSES: [&str; 2] = ["ENABLED", "DISABLED"];
/// MessageTtlSeconds when a channel is created without one.
const DEFAULT_TTL_SECONDS: u32 = 60;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SingleMasterConfiguration {
    pub message_ttl_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateInput {
    pub channel_name: Option<String>,
    pub channel_type: Option<String>,
    pub single_master_configuration: Option<SingleMasterConfiguration>,
    pub tags: Option<Vec<TagInput>>,
}

/// Inputs that address a channel by name and/or ARN.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddressInput {
    #[serde(rename = "ChannelName")]
    pub channel_name: Option<String>,
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ChannelNameCondition {
    pub comparison_operator: Option<String>,
    pub comparison_value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ListInput {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub channel_name_condition: Option<ChannelNameCondition>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateInput {
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
    pub current_version: Option<String>,
    pub single_master_configuration: Option<SingleMasterConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeleteInput {
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
    pub current_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EndpointConfiguration {
    pub protocols: Option<Vec<String>>,
    pub role: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EndpointInput {
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
    pub single_master_channel_endpoint_configuration: Option<EndpointConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MediaStorageInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateMediaStorageInput {
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
    pub media_storage_configuration: Option<MediaStorageInput>,
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
                "MessageTtlSeconds": channel.message_ttl_seconds
            }),
            version: &channel.version,
        }
    }
}

fn check_arn(v: &mut Violations, field: &str, arn: Option<&str>) {
    v.string(field, arn, 1, 1024, Some(&RESOURCE_ARN));
}

fn check_ttl(v: &mut Violations, config: Option<&SingleMasterConfiguration>) -> Option<u32> {
    let ttl = config.and_then(|c| c.message_ttl_seconds);
    v.integer(
        "singleMasterConfiguration.messageTtlSeconds",
        ttl,
        5,
        Some(120),
    );
    ttl.and_then(|t| u32::try_from(t).ok())
}

fn address(input: &AddressInput) -> ChannelAddress<'_> {
    ChannelAddress {
        name: input.channel_name.as_deref(),
        arn: input.channel_arn.as_deref(),
    }
}

fn check_address(v: &mut Violations, input: &AddressInput) {
    v.string(
        "channelName",
        input.channel_name.as_deref(),
        1,
        256,
        Some(&NAME),
    );
    check_arn(v, "channelARN", input.channel_arn.as_deref());
}

pub fn create(input: CreateInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("channelName", &input.channel_name);
    v.string(
        "channelName",
        input.channel_name.as_deref(),
        1,
        256,
        Some(&NAME),
    );
    v.one_of("channelType", input.channel_type.as_deref(), &CHANNEL_TYPES);
    let ttl = check_ttl(&mut v, input.single_master_configuration.as_ref());
    let tags = v.tag_list("tags", input.tags.as_deref(), 0);
    v.finish()?;
    if input.channel_type.as_deref() == Some("FULL_MESH") {
        return Err(ApiError::invalid_argument(
            "Currently, SINGLE_MASTER is the only supported channel type.",
        ));
    }
    let new = NewChannel {
        name: input.channel_name.unwrap_or_default(),
        message_ttl_seconds: ttl.unwrap_or(DEFAULT_TTL_SECONDS),
        tags,
    };
    let limits = &ctx.settings.limits;
    let channel = ctx.channels.create(
        new,
        limits.max_channels,
        limits.allow_reserved_tag_keys,
        ctx.settings.delays.create,
        ctx.now,
    )?;
    encode(&json!({ "ChannelARN": channel.arn }))
}

pub fn describe(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.finish()?;
    let channel = ctx.channels.get(address(&input))?;
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(rename = "ChannelInfo")]
        channel_info: ChannelInfo<'a>,
    }
    encode(&Output {
        channel_info: channel.into(),
    })
}

pub fn list(input: ListInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.integer("maxResults", input.max_results, 1, Some(MAX_LIST_RESULTS));
    check_next_token(&mut v, input.next_token.as_deref());
    if let Some(condition) = &input.channel_name_condition {
        v.one_of(
            "channelNameCondition.comparisonOperator",
            condition.comparison_operator.as_deref(),
            &["BEGINS_WITH"],
        );
        v.string(
            "channelNameCondition.comparisonValue",
            condition.comparison_value.as_deref(),
            1,
            256,
            Some(&NAME),
        );
    }
    v.finish()?;
    let after = decode_token(input.next_token.as_deref())?;
    let prefix = input
        .channel_name_condition
        .as_ref()
        .and_then(|c| c.comparison_value.as_deref())
        .unwrap_or("");
    let max = usize::try_from(input.max_results.unwrap_or(MAX_LIST_RESULTS)).unwrap_or(1);
    let page = ctx.channels.list(prefix, after.as_deref(), max);
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(rename = "ChannelInfoList")]
        channel_info_list: Vec<ChannelInfo<'a>>,
        #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
    encode(&Output {
        channel_info_list: page.items.into_iter().map(ChannelInfo::from).collect(),
        next_token: page.last_key.as_deref().map(encode_token),
    })
}

pub fn update(input: UpdateInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("channelARN", &input.channel_arn);
    check_arn(&mut v, "channelARN", input.channel_arn.as_deref());
    v.required("currentVersion", &input.current_version);
    v.version(input.current_version.as_deref());
    let ttl = check_ttl(&mut v, input.single_master_configuration.as_ref());
    v.finish()?;
    ctx.channels.update(
        input.channel_arn.as_deref().unwrap_or_default(),
        input.current_version.as_deref().unwrap_or_default(),
        ttl,
        ctx.settings.delays.update,
        ctx.now,
    )?;
    empty()
}

pub fn delete(input: DeleteInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("channelARN", &input.channel_arn);
    check_arn(&mut v, "channelARN", input.channel_arn.as_deref());
    v.version(input.current_version.as_deref());
    v.finish()?;
    ctx.channels.delete(
        input.channel_arn.as_deref().unwrap_or_default(),
        input.current_version.as_deref(),
        ctx.settings.delays.delete,
        ctx.now,
    )?;
    empty()
}

/// GetSignalingChannelEndpoint: one endpoint per protocol asked for (WSS and HTTPS for
/// the MASTER role when the request names none). WEBRTC needs media storage ENABLED.
pub fn endpoint(input: EndpointInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("channelARN", &input.channel_arn);
    check_arn(&mut v, "channelARN", input.channel_arn.as_deref());
    let config = input.single_master_channel_endpoint_configuration.as_ref();
    let protocols = config.and_then(|c| c.protocols.as_deref());
    let field = "singleMasterChannelEndpointConfiguration.protocols";
    if let Some(protocols) = protocols {
        v.list_min(field, protocols.len(), 1);
        v.list_length(field, protocols.len(), 5);
        for protocol in protocols {
            v.one_of(&format!("{field}.member"), Some(protocol), &PROTOCOLS);
        }
    }
    let role = config.and_then(|c| c.role.as_deref());
    v.one_of(
        "singleMasterChannelEndpointConfiguration.role",
        role,
        &ROLES,
    );
    v.finish()?;
    let channel = ctx.channels.get_live(ChannelAddress::arn(
        input.channel_arn.as_deref().unwrap_or_default(),
    ))?;
    if channel.status == StreamStatus::Creating {
        return Err(ApiError::resource_in_use(format!(
            "The signaling channel {} is CREATING.",
            channel.name
        )));
    }
    let default = ["WSS".to_owned(), "HTTPS".to_owned()];
    let mut asked: Vec<&str> = Vec::new();
    for protocol in protocols.unwrap_or(&default) {
        if !asked.contains(&protocol.as_str()) {
            asked.push(protocol);
        }
    }
    if asked.contains(&"WEBRTC") && channel.media_storage.status != MediaStorageStatus::Enabled {
        return Err(ApiError::invalid_argument(format!(
            "The signaling channel {} is not configured for ingestion (its media storage is \
             DISABLED), so it has no WEBRTC endpoint.",
            channel.name
        )));
    }
    let role = role.unwrap_or("MASTER");
    let endpoints: Vec<serde_json::Value> = asked
        .into_iter()
        .map(|protocol| {
            json!({
                "Protocol": protocol,
                "ResourceEndpoint": ctx.channels.endpoint(channel, protocol, role),
            })
        })
        .collect();
    encode(&json!({ "ResourceEndpointList": endpoints }))
}

pub fn describe_media_storage(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.finish()?;
    let channel = ctx.channels.get(address(&input))?;
    encode(&json!({ "MediaStorageConfiguration": channel.media_storage }))
}

/// UpdateMediaStorageConfiguration: with ENABLED, the channel stores into the stream,
/// which must exist in this account and region, be ACTIVE, keep data (retention > 0)
/// and not already store another channel's media.
pub fn update_media_storage(
    input: UpdateMediaStorageInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("channelARN", &input.channel_arn);
    check_arn(&mut v, "channelARN", input.channel_arn.as_deref());
    v.required(
        "mediaStorageConfiguration",
        &input.media_storage_configuration,
    );
    let config = input.media_storage_configuration.as_ref();
    if let Some(config) = config {
        v.required("mediaStorageConfiguration.status", &config.status);
        v.one_of(
            "mediaStorageConfiguration.status",
            config.status.as_deref(),
            &STATUSES,
        );
        check_arn(
            &mut v,
            "mediaStorageConfiguration.streamARN",
            config.stream_arn.as_deref(),
        );
    }
    v.finish()?;
    let channel_arn = input.channel_arn.as_deref().unwrap_or_default();
    let channel = ctx.channels.get(ChannelAddress::arn(channel_arn))?;
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
    ctx.channels.set_media_storage(channel_arn, storage)?;
    empty()
}

fn check_storage_stream(ctx: &Context<'_>, channel: &Channel, arn: &str) -> Result<(), ApiError> {
    if crate::resource::arn_parts(arn).map(|(kind, _)| kind) != Some("stream") {
        return Err(ApiError::invalid_argument(format!(
            "The ARN {arn} does not identify a stream."
        )));
    }
    let stream = ctx
        .store
        .by_arn(arn)
        .ok_or_else(ApiError::stream_not_found)?;
    if stream.status != StreamStatus::Active {
        return Err(ApiError::resource_in_use(format!(
            "The stream {} is {}; media storage needs it ACTIVE.",
            stream.name,
            stream.status.as_str()
        )));
    }
    if stream.retention_hours == 0 {
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
