//! The input shapes of the stream operations, member by member as the model writes them:
//! name, whether required, and the shape whose constraints validation checks.

use std::collections::BTreeMap;

use crate::services::listing::NameCondition;
use crate::services::validate::{
    DATA_RETENTION_CHANGE_IN_HOURS, DATA_RETENTION_IN_HOURS, DESTINATION_REGION, DESTINATION_URI,
    DEVICE_NAME, Enum, FORMAT_CONFIG_VALUE, HEIGHT_PIXELS, KMS_KEY_ID, LIST_LIMIT, MEDIA_TYPE,
    NEXT_TOKEN, RESOURCE_ARN, SAMPLING_INTERVAL, STREAM_NAME, Shape, Structure, TagKeys, TagMap,
    VERSION, Violations, WIDTH_PIXELS,
};
use crate::state::registry::Address;

/// Every APIName of GetDataEndpoint in the model.
static API_NAMES: Enum = Enum(&[
    "PUT_MEDIA",
    "GET_MEDIA",
    "LIST_FRAGMENTS",
    "GET_MEDIA_FOR_FRAGMENT_LIST",
    "GET_HLS_STREAMING_SESSION_URL",
    "GET_DASH_STREAMING_SESSION_URL",
    "GET_CLIP",
    "GET_IMAGES",
]);
static RETENTION_OPERATIONS: Enum = Enum(&["INCREASE_DATA_RETENTION", "DECREASE_DATA_RETENTION"]);
static STORAGE_TIERS: Enum = Enum(&["HOT", "WARM"]);
static STATUSES: Enum = Enum(&["ENABLED", "DISABLED"]);
static SELECTORS: Enum = Enum(&["SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"]);
static FORMATS: Enum = Enum(&["JPEG", "PNG"]);

/// An input that addresses one stream by `StreamName`, `StreamARN` or both.
pub trait Addressed {
    fn stream_name(&self) -> Option<&str>;
    fn stream_arn(&self) -> Option<&str>;

    /// The stream the input names.
    fn address(&self) -> Address<'_> {
        Address {
            name: self.stream_name(),
            arn: self.stream_arn(),
        }
    }
}

/// Implements [`Addressed`] for inputs with `stream_name` and `stream_arn` members.
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

input! {
    /// DescribeStream and the Describe…Configuration operations: a stream only.
    pub struct AddressInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
    }
}

input! {
    pub struct CreateStreamInput {
        stream_name: String = "StreamName", required STREAM_NAME;
        device_name: String = "DeviceName", optional DEVICE_NAME;
        media_type: String = "MediaType", optional MEDIA_TYPE;
        kms_key_id: String = "KmsKeyId", optional KMS_KEY_ID;
        data_retention_in_hours: i64 = "DataRetentionInHours", optional DATA_RETENTION_IN_HOURS;
        tags: BTreeMap<String, String> = "Tags", optional TagMap;
        stream_storage_configuration: StorageInput = "StreamStorageConfiguration",
            optional Structure;
    }
}

input! {
    pub struct ListStreamsInput {
        max_results: i64 = "MaxResults", optional LIST_LIMIT;
        next_token: String = "NextToken", optional NEXT_TOKEN;
        stream_name_condition: NameCondition = "StreamNameCondition", optional Structure;
    }
}

input! {
    pub struct UpdateStreamInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        current_version: String = "CurrentVersion", required VERSION;
        device_name: String = "DeviceName", optional DEVICE_NAME;
        media_type: String = "MediaType", optional MEDIA_TYPE;
    }
}

input! {
    pub struct UpdateDataRetentionInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        current_version: String = "CurrentVersion", required VERSION;
        operation: String = "Operation", required RETENTION_OPERATIONS;
        data_retention_change_in_hours: i64 = "DataRetentionChangeInHours",
            required DATA_RETENTION_CHANGE_IN_HOURS;
    }
}

input! {
    /// DeleteStream takes the ARN only, never the name.
    pub struct DeleteStreamInput {
        stream_arn: String = "StreamARN", required RESOURCE_ARN;
        current_version: String = "CurrentVersion", optional VERSION;
    }
}

input! {
    pub struct GetDataEndpointInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        api_name: String = "APIName", required API_NAMES;
    }
}

input! {
    pub struct TagStreamInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        tags: BTreeMap<String, String> = "Tags", required TagMap;
    }
}

input! {
    pub struct UntagStreamInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        tag_key_list: Vec<String> = "TagKeyList", required TagKeys;
    }
}

input! {
    pub struct ListTagsForStreamInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        next_token: String = "NextToken", optional NEXT_TOKEN;
    }
}

input! {
    /// The model's `StreamStorageConfiguration`.
    pub struct StorageInput {
        default_storage_tier: String = "DefaultStorageTier", required STORAGE_TIERS;
    }
}

input! {
    pub struct UpdateStorageInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        current_version: String = "CurrentVersion", required VERSION;
        stream_storage_configuration: StorageInput = "StreamStorageConfiguration",
            required Structure;
    }
}

input! {
    pub struct ImageDestinationInput {
        uri: String = "Uri", required DESTINATION_URI;
        destination_region: String = "DestinationRegion", required DESTINATION_REGION;
    }
}

input! {
    pub struct ImageGenerationInput {
        status: String = "Status", required STATUSES;
        image_selector_type: String = "ImageSelectorType", required SELECTORS;
        destination_config: ImageDestinationInput = "DestinationConfig", required Structure;
        sampling_interval: i64 = "SamplingInterval", required SAMPLING_INTERVAL;
        format: String = "Format", required FORMATS;
        format_config: BTreeMap<String, String> = "FormatConfig", optional FormatConfig;
        width_pixels: i64 = "WidthPixels", optional WIDTH_PIXELS;
        height_pixels: i64 = "HeightPixels", optional HEIGHT_PIXELS;
    }
}

input! {
    /// An absent configuration deletes the stream's.
    pub struct UpdateImageGenerationInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        configuration: ImageGenerationInput = "ImageGenerationConfiguration",
            optional Structure;
    }
}

input! {
    pub struct NotificationDestinationInput {
        uri: String = "Uri", required DESTINATION_URI;
    }
}

input! {
    pub struct NotificationInput {
        status: String = "Status", required STATUSES;
        destination_config: NotificationDestinationInput = "DestinationConfig",
            required Structure;
    }
}

input! {
    /// An absent configuration deletes the stream's.
    pub struct UpdateNotificationInput {
        stream_name: String = "StreamName", optional STREAM_NAME;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
        configuration: NotificationInput = "NotificationConfiguration", optional Structure;
    }
}

addressed!(
    AddressInput,
    UpdateStreamInput,
    UpdateDataRetentionInput,
    GetDataEndpointInput,
    TagStreamInput,
    UntagStreamInput,
    ListTagsForStreamInput,
    UpdateStorageInput,
    UpdateImageGenerationInput,
    UpdateNotificationInput
);

/// The model's `FormatConfig`: exactly one entry, `JPEGQuality`, whose value the
/// model's documentation gives as an integer from 1 to 100.
pub struct FormatConfig;

impl Shape<BTreeMap<String, String>> for FormatConfig {
    fn check(&self, v: &mut Violations, field: &str, config: &BTreeMap<String, String>) {
        v.list_min(field, config.len(), 1);
        v.list_length(field, config.len(), 1);
        for (key, value) in config {
            v.one_of(&format!("{field}.key"), Some(key), &["JPEGQuality"]);
            let value_field = format!("{field}.{key}");
            v.text(&value_field, Some(value), &FORMAT_CONFIG_VALUE);
            if key == "JPEGQuality" && !value.parse::<u8>().is_ok_and(|q| (1..=100).contains(&q)) {
                v.integer(&value_field, Some(0), 1, Some(100));
            }
        }
    }
}
