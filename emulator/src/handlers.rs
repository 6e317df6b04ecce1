//! One function per operation: decode the input, validate it against the model, apply it
//! to the store, encode the output.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::channels::Channels;
use crate::config::Settings;
use crate::error::ApiError;
use crate::model::StorageTier;
use crate::operation::Operation;
use crate::paging::Page;
use crate::store::{ArnCheck, Change, MAX_RETENTION_HOURS, NewStream, Store, StreamAddress};
use crate::validate::{
    KMS_KEY_ID, MEDIA_TYPE, NAME, NEXT_TOKEN, RESOURCE_ARN, Violations, stream_address,
};
use crate::wire::{
    AddressInput, Addressed, CreateStreamInput, DeleteStreamInput, GetDataEndpointInput,
    ListStreamsInput, ListTagsForStreamInput, StreamStorageConfigurationInput, TagStreamInput,
    UntagStreamInput, UpdateDataRetentionInput, UpdateStreamInput,
    UpdateStreamStorageConfigurationInput, stream_info_json,
};
use crate::{channel_api, resource_tags, stream_configs};

/// Every APIName of GetDataEndpoint in the model.
const API_NAMES: [&str; 8] = [
    "PUT_MEDIA",
    "GET_MEDIA",
    "LIST_FRAGMENTS",
    "GET_MEDIA_FOR_FRAGMENT_LIST",
    "GET_HLS_STREAMING_SESSION_URL",
    "GET_DASH_STREAMING_SESSION_URL",
    "GET_CLIP",
    "GET_IMAGES",
];
const STORAGE_TIERS: [&str; 2] = ["HOT", "WARM"];
const RETENTION_OPERATIONS: [&str; 2] = ["INCREASE_DATA_RETENTION", "DECREASE_DATA_RETENTION"];
pub const MAX_LIST_RESULTS: i64 = 10_000;

/// What a handler needs besides its input.
pub struct Context<'a> {
    pub store: &'a mut Store,
    pub channels: &'a mut Channels,
    pub settings: &'a Settings,
    pub now: Instant,
}

/// Runs `op` on a JSON object body and returns the JSON response body.
pub fn dispatch(op: Operation, body: &Value, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    ctx.store.settle(ctx.now);
    ctx.channels.settle(ctx.now);
    match op {
        Operation::CreateStream => create_stream(decode(body)?, ctx),
        Operation::DescribeStream => describe_stream(decode(body)?, ctx),
        Operation::ListStreams => list_streams(decode(body)?, ctx),
        Operation::UpdateStream => update_stream(decode(body)?, ctx),
        Operation::UpdateDataRetention => update_data_retention(decode(body)?, ctx),
        Operation::TagStream => tag_stream(decode(body)?, ctx),
        Operation::UntagStream => untag_stream(decode(body)?, ctx),
        Operation::ListTagsForStream => list_tags_for_stream(decode(body)?, ctx),
        Operation::DeleteStream => delete_stream(decode(body)?, ctx),
        Operation::GetDataEndpoint => get_data_endpoint(decode(body)?, ctx),
        Operation::DescribeStreamStorageConfiguration => {
            describe_storage_configuration(decode(body)?, ctx)
        }
        Operation::UpdateStreamStorageConfiguration => {
            update_storage_configuration(decode(body)?, ctx)
        }
        Operation::DescribeImageGenerationConfiguration => {
            stream_configs::describe_image_generation(decode(body)?, ctx)
        }
        Operation::UpdateImageGenerationConfiguration => {
            stream_configs::update_image_generation(decode(body)?, ctx)
        }
        Operation::DescribeNotificationConfiguration => {
            stream_configs::describe_notification(decode(body)?, ctx)
        }
        Operation::UpdateNotificationConfiguration => {
            stream_configs::update_notification(decode(body)?, ctx)
        }
        Operation::CreateSignalingChannel => channel_api::create(decode(body)?, ctx),
        Operation::DescribeSignalingChannel => channel_api::describe(decode(body)?, ctx),
        Operation::ListSignalingChannels => channel_api::list(decode(body)?, ctx),
        Operation::UpdateSignalingChannel => channel_api::update(decode(body)?, ctx),
        Operation::DeleteSignalingChannel => channel_api::delete(decode(body)?, ctx),
        Operation::GetSignalingChannelEndpoint => channel_api::endpoint(decode(body)?, ctx),
        Operation::DescribeMediaStorageConfiguration => {
            channel_api::describe_media_storage(decode(body)?, ctx)
        }
        Operation::UpdateMediaStorageConfiguration => {
            channel_api::update_media_storage(decode(body)?, ctx)
        }
        Operation::TagResource => resource_tags::tag(decode(body)?, ctx),
        Operation::UntagResource => resource_tags::untag(decode(body)?, ctx),
        Operation::ListTagsForResource => resource_tags::list(decode(body)?, ctx),
        // Served by `sts`, never routed here.
        Operation::AssumeRole | Operation::GetCallerIdentity => {
            Err(ApiError::unknown_operation("POST", op.name()))
        }
    }
}

/// Type mismatches are `SerializationException`s, as AWS answers them, naming the member.
/// The plain decode runs first; only a failing input is decoded again to find the path.
pub fn decode<T: DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    if let Ok(input) = T::deserialize(body) {
        return Ok(input);
    }
    serde_path_to_error::deserialize(body).map_err(|err| {
        ApiError::serialization(format!(
            "Value at '{}' cannot be converted to the input shape: {}",
            err.path(),
            err.inner()
        ))
    })
}

/// A page of tags as ListTagsForStream and ListTagsForResource answer it.
pub fn tags_page(page: Page<(&String, &String)>) -> Result<Vec<u8>, ApiError> {
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(rename = "Tags")]
        tags: BTreeMap<&'a String, &'a String>,
        #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
    encode(&Output {
        tags: page.items.into_iter().collect(),
        next_token: page.last_key.as_deref().map(encode_token),
    })
}

pub fn encode<T: Serialize>(output: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(output).map_err(|_| ApiError::internal_failure())
}

pub fn empty() -> Result<Vec<u8>, ApiError> {
    Ok(b"{}".to_vec())
}

fn address(input: &impl Addressed) -> StreamAddress<'_> {
    StreamAddress {
        name: input.stream_name(),
        arn: input.stream_arn(),
    }
}

fn check_address(v: &mut Violations, input: &impl Addressed) {
    stream_address(v, input.stream_name(), input.stream_arn());
}

fn check_version(v: &mut Violations, version: &Option<String>) {
    v.required("currentVersion", version);
    v.version(version.as_deref());
}

pub fn check_next_token(v: &mut Violations, token: Option<&str>) {
    v.string("nextToken", token, 0, 1024, Some(&NEXT_TOKEN));
}

fn check_storage_configuration(
    v: &mut Violations,
    config: Option<&StreamStorageConfigurationInput>,
) {
    if let Some(config) = config {
        let field = "streamStorageConfiguration.defaultStorageTier";
        v.required(field, &config.default_storage_tier);
        v.one_of(
            field,
            config.default_storage_tier.as_deref(),
            &STORAGE_TIERS,
        );
    }
}

fn storage_tier(config: Option<&StreamStorageConfigurationInput>) -> StorageTier {
    config
        .and_then(|c| c.default_storage_tier.as_deref())
        .and_then(StorageTier::parse)
        .unwrap_or_default()
}

/// NextTokens are the hex of the last key returned: opaque, within the model's
/// `[a-zA-Z0-9+/=]*` and at most 1024 characters for keys of up to 512 bytes.
pub fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_token(token: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let invalid = || ApiError::invalid_argument(format!("NextToken {token} is not valid."));
    if token.len() % 2 != 0 {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    String::from_utf8(bytes).map(Some).map_err(|_| invalid())
}

fn create_stream(input: CreateStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("streamName", &input.stream_name);
    v.string(
        "streamName",
        input.stream_name.as_deref(),
        1,
        256,
        Some(&NAME),
    );
    v.string(
        "deviceName",
        input.device_name.as_deref(),
        1,
        128,
        Some(&NAME),
    );
    v.string(
        "mediaType",
        input.media_type.as_deref(),
        1,
        128,
        Some(&MEDIA_TYPE),
    );
    v.string(
        "kmsKeyId",
        input.kms_key_id.as_deref(),
        1,
        2048,
        Some(&KMS_KEY_ID),
    );
    v.integer(
        "dataRetentionInHours",
        input.data_retention_in_hours,
        0,
        None,
    );
    v.tags("tags", input.tags.as_ref());
    check_storage_configuration(&mut v, input.stream_storage_configuration.as_ref());
    v.finish()?;
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
    let limits = &ctx.settings.limits;
    let stream = ctx.store.create(
        new,
        limits.max_streams,
        limits.allow_reserved_tag_keys,
        ctx.settings.delays.create,
        ctx.now,
    )?;
    encode(&json!({ "StreamARN": stream.arn }))
}

fn describe_stream(input: AddressInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.finish()?;
    let stream = ctx.store.get(address(&input), ArnCheck::Plain)?;
    let info = stream_info_json(stream);
    let mut body = Vec::with_capacity(info.len() + 16);
    body.extend_from_slice(b"{\"StreamInfo\":");
    body.extend_from_slice(info.as_bytes());
    body.push(b'}');
    Ok(body)
}

fn list_streams(input: ListStreamsInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.integer("maxResults", input.max_results, 1, Some(MAX_LIST_RESULTS));
    check_next_token(&mut v, input.next_token.as_deref());
    if let Some(condition) = &input.stream_name_condition {
        let operator = condition.comparison_operator.as_deref();
        v.one_of(
            "streamNameCondition.comparisonOperator",
            operator,
            &["BEGINS_WITH"],
        );
        let value = &condition.comparison_value;
        v.required("streamNameCondition.comparisonValue", value);
        v.string(
            "streamNameCondition.comparisonValue",
            value.as_deref(),
            1,
            256,
            Some(&NAME),
        );
    }
    v.finish()?;
    let after = decode_token(input.next_token.as_deref())?;
    let prefix = input
        .stream_name_condition
        .as_ref()
        .and_then(|c| c.comparison_value.as_deref())
        .unwrap_or("");
    let max = usize::try_from(input.max_results.unwrap_or(MAX_LIST_RESULTS)).unwrap_or(1);
    let page = ctx.store.list(prefix, after.as_deref(), max);
    // Cached StreamInfo documents, joined: a page of 10,000 is mostly copying.
    let infos: Vec<&str> = page.items.iter().map(|s| stream_info_json(s)).collect();
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
    if let Some(key) = page.last_key.as_deref() {
        body.extend_from_slice(b",\"NextToken\":\"");
        body.extend_from_slice(encode_token(key).as_bytes());
        body.push(b'"');
    }
    body.push(b'}');
    Ok(body)
}

fn update_stream(input: UpdateStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    check_version(&mut v, &input.current_version);
    v.string(
        "deviceName",
        input.device_name.as_deref(),
        1,
        128,
        Some(&NAME),
    );
    v.string(
        "mediaType",
        input.media_type.as_deref(),
        1,
        128,
        Some(&MEDIA_TYPE),
    );
    v.finish()?;
    let change = Change::Stream {
        device_name: input.device_name.clone(),
        media_type: input.media_type.clone(),
    };
    ctx.store.update(
        address(&input),
        input.current_version.as_deref().unwrap_or_default(),
        change,
        ctx.settings.delays.update,
        ctx.now,
    )?;
    empty()
}

fn update_data_retention(
    input: UpdateDataRetentionInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    check_version(&mut v, &input.current_version);
    v.required("operation", &input.operation);
    v.one_of(
        "operation",
        input.operation.as_deref(),
        &RETENTION_OPERATIONS,
    );
    v.required(
        "dataRetentionChangeInHours",
        &input.data_retention_change_in_hours,
    );
    v.integer(
        "dataRetentionChangeInHours",
        input.data_retention_change_in_hours,
        1,
        None,
    );
    v.finish()?;
    let hours = input
        .data_retention_change_in_hours
        .and_then(|h| u32::try_from(h).ok())
        .unwrap_or_default();
    let change = Change::Retention {
        increase: input.operation.as_deref() == Some("INCREASE_DATA_RETENTION"),
        hours,
    };
    ctx.store.update(
        address(&input),
        input.current_version.as_deref().unwrap_or_default(),
        change,
        ctx.settings.delays.update,
        ctx.now,
    )?;
    empty()
}

fn tag_stream(input: TagStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.required("tags", &input.tags);
    v.tags("tags", input.tags.as_ref());
    v.finish()?;
    let tags = input.tags.clone().unwrap_or_default();
    ctx.store.tag(
        address(&input),
        tags,
        ctx.settings.limits.allow_reserved_tag_keys,
    )?;
    empty()
}

fn untag_stream(input: UntagStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.required("tagKeyList", &input.tag_key_list);
    v.tag_keys("tagKeyList", input.tag_key_list.as_deref());
    v.finish()?;
    ctx.store.untag(
        address(&input),
        input.tag_key_list.as_deref().unwrap_or_default(),
        ctx.settings.limits.allow_reserved_tag_keys,
    )?;
    empty()
}

fn list_tags_for_stream(
    input: ListTagsForStreamInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    check_next_token(&mut v, input.next_token.as_deref());
    v.finish()?;
    let after = decode_token(input.next_token.as_deref())?;
    let page = ctx.store.list_tags(
        address(&input),
        after.as_deref(),
        ctx.settings.limits.tags_page_size,
    )?;
    tags_page(page)
}

fn delete_stream(input: DeleteStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.required("streamARN", &input.stream_arn);
    v.string(
        "streamARN",
        input.stream_arn.as_deref(),
        1,
        1024,
        Some(&RESOURCE_ARN),
    );
    v.version(input.current_version.as_deref());
    v.finish()?;
    ctx.store.delete(
        input.stream_arn.as_deref().unwrap_or_default(),
        input.current_version.as_deref(),
        ctx.settings.delays.delete,
        ctx.now,
    )?;
    empty()
}

fn get_data_endpoint(input: GetDataEndpointInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.required("APIName", &input.api_name);
    v.one_of("APIName", input.api_name.as_deref(), &API_NAMES);
    v.finish()?;
    let stream = ctx.store.get_live(address(&input), ArnCheck::Plain)?;
    let endpoint = match &ctx.settings.data_endpoint {
        Some(fixed) => fixed.clone(),
        None => ctx
            .store
            .data_endpoint(stream, input.api_name.as_deref().unwrap_or_default()),
    };
    encode(&json!({ "DataEndpoint": endpoint }))
}

fn describe_storage_configuration(
    input: AddressInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    v.finish()?;
    let stream = ctx.store.get(address(&input), ArnCheck::Plain)?;
    encode(&json!({
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "StreamStorageConfiguration": { "DefaultStorageTier": stream.storage_tier.as_str() },
    }))
}

fn update_storage_configuration(
    input: UpdateStreamStorageConfigurationInput,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_address(&mut v, &input);
    check_version(&mut v, &input.current_version);
    v.required(
        "streamStorageConfiguration",
        &input.stream_storage_configuration,
    );
    check_storage_configuration(&mut v, input.stream_storage_configuration.as_ref());
    v.finish()?;
    let tier = storage_tier(input.stream_storage_configuration.as_ref());
    ctx.store.update(
        address(&input),
        input.current_version.as_deref().unwrap_or_default(),
        Change::StorageTier(tier),
        ctx.settings.delays.update,
        ctx.now,
    )?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for key in ["", "cam-1", "Équipe/π"] {
            let token = encode_token(key);
            assert!(token.len() <= 1024);
            if !key.is_empty() {
                assert_eq!(decode_token(Some(&token)).unwrap().as_deref(), Some(key));
            }
        }
        assert_eq!(decode_token(Some("")).unwrap(), None);
        assert!(decode_token(Some("abc")).is_err());
        assert!(decode_token(Some("zz")).is_err());
        assert!(decode_token(Some("ff")).is_err());
    }

    #[test]
    fn type_errors_name_the_member() {
        let body = json!({"StreamName": "x", "DataRetentionInHours": "24"});
        let err = decode::<CreateStreamInput>(&body).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        assert!(
            err.message.contains("'DataRetentionInHours'"),
            "{}",
            err.message
        );
        let body = json!({"StreamName": 5, "CurrentVersion": "a"});
        let err = decode::<UpdateStreamInput>(&body).unwrap_err();
        assert!(err.message.contains("'StreamName'"), "{}", err.message);
        let body = json!({"StreamName": "x", "Tags": {"a": 1}});
        let err = decode::<TagStreamInput>(&body).unwrap_err();
        assert!(err.message.contains("'Tags.a'"), "{}", err.message);
    }
}
