//! The public view of the emulator's streams and signaling channels (and the model's enums
//! and configurations they carry), as tests read them in-process or via the admin API.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// Lifecycle state of a stream, as DescribeStream reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl StreamStatus {
    /// The model's spelling, e.g. `ACTIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }
}

/// Default storage tier of a stream's media (`StreamStorageConfiguration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageTier {
    #[default]
    Hot,
    Warm,
}

impl StorageTier {
    /// Parses the model's enum value.
    pub fn parse(value: &str) -> Option<StorageTier> {
        match value {
            "HOT" => Some(StorageTier::Hot),
            "WARM" => Some(StorageTier::Warm),
            _ => None,
        }
    }

    /// The model's spelling, e.g. `HOT`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageTier::Hot => "HOT",
            StorageTier::Warm => "WARM",
        }
    }
}

/// Everything the emulator knows about one stream at one moment, tags included.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSnapshot {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Always a KMS ARN: the AWS-managed `alias/aws/kinesisvideo` key when none was given.
    pub kms_key_id: String,
    pub version: String,
    pub status: StreamStatus,
    /// Serialized as epoch seconds, like the API.
    #[serde(serialize_with = "epoch_seconds")]
    pub creation_time: SystemTime,
    pub data_retention_in_hours: u32,
    pub storage_tier: StorageTier,
    pub tags: BTreeMap<String, String>,
    #[serde(
        rename = "ImageGenerationConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_generation: Option<ImageGeneration>,
    #[serde(
        rename = "NotificationConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub notification: Option<Notification>,
}

/// Seconds since the Unix epoch with millisecond precision, the wire format of
/// rest-json timestamps.
pub fn to_epoch_seconds(time: SystemTime) -> f64 {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    // Millisecond precision keeps the value exact in an f64 for centuries.
    (millis as f64) / 1000.0
}

fn epoch_seconds<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(to_epoch_seconds(*time))
}

/// A stream's ImageGenerationConfiguration (thumbnails to S3), as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageGeneration {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    /// `SERVER_TIMESTAMP` or `PRODUCER_TIMESTAMP`.
    pub image_selector_type: String,
    pub destination_config: ImageDestination,
    /// Milliseconds.
    pub sampling_interval: i64,
    /// `JPEG` or `PNG`.
    pub format: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub format_config: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_pixels: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height_pixels: Option<i64>,
}

/// Where images are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDestination {
    /// E.g. `s3://bucket/prefix`.
    pub uri: String,
    pub destination_region: String,
}

/// A stream's NotificationConfiguration (SNS on fragment events), as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notification {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    pub destination_config: NotificationDestination,
}

/// Where notifications are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationDestination {
    /// E.g. an SNS topic ARN.
    pub uri: String,
}

/// A signaling channel's MediaStorageConfiguration: whether WebRTC media is stored, and
/// into which stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaStorage {
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// `ENABLED` or `DISABLED` (the default).
    pub status: MediaStorageStatus,
}

/// Whether a channel stores its media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaStorageStatus {
    Enabled,
    #[default]
    Disabled,
}

/// Everything the emulator knows about one signaling channel at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelSnapshot {
    pub channel_name: String,
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// `SINGLE_MASTER`, the only type the service supports.
    pub channel_type: String,
    /// CREATING, ACTIVE, UPDATING or DELETING, as for streams.
    pub channel_status: StreamStatus,
    /// Serialized as epoch seconds, like the API.
    #[serde(serialize_with = "epoch_seconds")]
    pub creation_time: SystemTime,
    pub message_ttl_seconds: u32,
    pub version: String,
    pub tags: BTreeMap<String, String>,
    pub media_storage: MediaStorage,
}
