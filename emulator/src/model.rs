//! Public view of the emulator's streams, as tests read it in-process or via the admin API.

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
