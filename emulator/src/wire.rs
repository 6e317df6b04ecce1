//! Request and response bodies of the rest-json protocol, member names as in the model.
//!
//! Inputs are deserialized loosely (every member optional, unknown members ignored, as
//! AWS does) so that missing required members are reported by validation as
//! `InvalidArgumentException`, like the service, rather than as a parse failure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::to_epoch_seconds;
use crate::store::Stream;

pub type Tags = BTreeMap<String, String>;

/// A member of the model's tag lists (`[{"Key": …, "Value": …}]`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TagInput {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamStorageConfigurationInput {
    #[serde(rename = "DefaultStorageTier")]
    pub default_storage_tier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateStreamInput {
    pub device_name: Option<String>,
    pub stream_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub data_retention_in_hours: Option<i64>,
    pub tags: Option<Tags>,
    pub stream_storage_configuration: Option<StreamStorageConfigurationInput>,
}

/// An input that addresses one stream by `StreamName`, `StreamARN` or both.
pub trait Addressed {
    fn stream_name(&self) -> Option<&str>;
    fn stream_arn(&self) -> Option<&str>;
}

macro_rules! addressed {
    ($($input:ty),+) => {$(
        impl Addressed for $input {
            fn stream_name(&self) -> Option<&str> {
                self.stream_name.as_deref()
            }
            fn stream_arn(&self) -> Option<&str> {
                self.stream_arn.as_deref()
            }
        }
    )+};
}

addressed!(
    AddressInput,
    UpdateStreamInput,
    UpdateDataRetentionInput,
    TagStreamInput,
    UntagStreamInput,
    ListTagsForStreamInput,
    GetDataEndpointInput,
    UpdateStreamStorageConfigurationInput
);

/// The input of operations that only address a stream (DescribeStream,
/// DescribeStreamStorageConfiguration). Members are listed explicitly in every input,
/// not flattened, so type errors can name them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddressInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamNameCondition {
    #[serde(rename = "ComparisonOperator")]
    pub comparison_operator: Option<String>,
    #[serde(rename = "ComparisonValue")]
    pub comparison_value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub stream_name_condition: Option<StreamNameCondition>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateStreamInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub current_version: Option<String>,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateDataRetentionInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub current_version: Option<String>,
    pub operation: Option<String>,
    pub data_retention_change_in_hours: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TagStreamInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UntagStreamInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tag_key_list: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ListTagsForStreamInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub current_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GetDataEndpointInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(rename = "APIName")]
    pub api_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateStreamStorageConfigurationInput {
    #[serde(rename = "StreamName")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub current_version: Option<String>,
    pub stream_storage_configuration: Option<StreamStorageConfigurationInput>,
}

/// The model's `StreamInfo`, borrowed from the store while it is serialized.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<&'a str>,
    pub stream_name: &'a str,
    #[serde(rename = "StreamARN")]
    pub stream_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<&'a str>,
    pub kms_key_id: &'a str,
    pub version: &'a str,
    pub status: &'static str,
    pub creation_time: f64,
    pub data_retention_in_hours: u32,
}

impl<'a> From<&'a Stream> for StreamInfo<'a> {
    fn from(stream: &'a Stream) -> Self {
        StreamInfo {
            device_name: stream.device_name.as_deref(),
            stream_name: &stream.name,
            stream_arn: &stream.arn,
            media_type: stream.media_type.as_deref(),
            kms_key_id: &stream.kms_key_id,
            version: &stream.version,
            status: stream.status.as_str(),
            creation_time: to_epoch_seconds(stream.creation_time),
            data_retention_in_hours: stream.retention_hours,
        }
    }
}

/// The StreamInfo of `stream` as JSON, from its cache (filled on first use).
pub fn stream_info_json(stream: &Stream) -> &str {
    stream.info_json.get_or_init(|| {
        serde_json::to_string(&StreamInfo::from(stream))
            .unwrap_or_default()
            .into_boxed_str()
    })
}
