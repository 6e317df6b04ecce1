//! The port to Kinesis Video Streams, in the operator's own types.
//!
//! The controller only sees this trait. [`sdk::SdkKinesisVideo`] implements it over
//! `aws-sdk-kinesisvideo`; [`gate::Gated`] wraps any implementation to keep the call rate
//! under the KVS quotas and count the calls, and [`tag_cache::TagCached`] saves the
//! ListTagsForStream calls whose answer the operator already knows.
//!
//! Contract for implementations:
//! - reads never mutate; `describe_stream` returns `Ok(None)` for a stream that does not exist;
//! - every mutation takes the `version` observed just before and fails with
//!   [`Error::VersionMismatch`](crate::Error::VersionMismatch) when the stream moved on;
//! - list calls follow every `NextToken` and return all pages;
//! - every AWS error is mapped to [`crate::Error`] once, here, so callers never see SDK types.

pub mod gate;
pub mod sdk;
pub mod tag_cache;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::{Result, api::StorageTier};

/// A stream as DescribeStream and ListStreams report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: String,
    pub arn: String,
    pub version: String,
    pub status: StreamStatus,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    /// Always a KMS ARN in KVS's answers (the AWS-managed key when none was chosen).
    pub kms_key_id: Option<String>,
    pub data_retention_in_hours: i32,
    /// Seconds since the Unix epoch.
    pub creation_time: Option<i64>,
}

/// The lifecycle state KVS reports for a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
    Other(String),
}

impl StreamStatus {
    pub fn as_str(&self) -> &str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "CREATING" => StreamStatus::Creating,
            "ACTIVE" => StreamStatus::Active,
            "UPDATING" => StreamStatus::Updating,
            "DELETING" => StreamStatus::Deleting,
            other => StreamStatus::Other(other.to_string()),
        }
    }
}

/// Everything CreateStream takes, tags included, so a new stream is complete in one call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewStream {
    pub name: String,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub data_retention_in_hours: Option<i32>,
    pub tags: BTreeMap<String, String>,
    pub storage_tier: Option<StorageTier>,
}

/// UpdateDataRetention's operation: KVS takes the change as a delta, not a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionChange {
    Increase(i32),
    Decrease(i32),
}

impl RetentionChange {
    /// The change that takes retention from `current` to `desired`; `None` when equal.
    pub fn between(current: i32, desired: i32) -> Option<Self> {
        match desired.cmp(&current) {
            std::cmp::Ordering::Greater => Some(RetentionChange::Increase(desired - current)),
            std::cmp::Ordering::Less => Some(RetentionChange::Decrease(current - desired)),
            std::cmp::Ordering::Equal => None,
        }
    }
}

/// How fresh a tag read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagRead {
    /// May be answered from what the operator remembers having written.
    Cached,
    /// Straight from KVS: ownership is read this way right before every destructive or
    /// ownership-changing call (DeleteStream, a retention decrease, adopt, release).
    Fresh,
}

/// The data-plane APIs whose endpoint the operator publishes in status.
pub const PUBLISHED_ENDPOINT_APIS: [&str; 2] = ["PUT_MEDIA", "GET_MEDIA"];

/// The KVS control-plane operations the operator uses.
#[async_trait]
pub trait KinesisVideo: Send + Sync {
    /// DescribeStream by name; `None` when there is no such stream.
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>>;

    /// ListStreams, all pages, optionally only names that begin with `prefix`.
    async fn list_streams(&self, prefix: Option<&str>) -> Result<Vec<Stream>>;

    /// CreateStream; returns the new stream's ARN.
    async fn create_stream(&self, stream: &NewStream) -> Result<String>;

    /// UpdateStream: device name and/or media type (a `None` leaves that field alone).
    async fn update_stream(
        &self,
        arn: &str,
        version: &str,
        device_name: Option<&str>,
        media_type: Option<&str>,
    ) -> Result<()>;

    /// UpdateDataRetention by a delta.
    async fn update_data_retention(
        &self,
        arn: &str,
        version: &str,
        change: RetentionChange,
    ) -> Result<()>;

    /// TagStream: add or overwrite these tags.
    async fn tag_stream(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()>;

    /// UntagStream: remove these keys.
    async fn untag_stream(&self, arn: &str, keys: &[String]) -> Result<()>;

    /// ListTagsForStream, all pages; `read` says whether a remembered answer will do.
    async fn list_tags(&self, arn: &str, read: TagRead) -> Result<BTreeMap<String, String>>;

    /// DeleteStream by ARN (never by name), guarded by the version.
    async fn delete_stream(&self, arn: &str, version: &str) -> Result<()>;

    /// GetDataEndpoint for one data-plane API (e.g. `PUT_MEDIA`).
    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> Result<String>;

    /// DescribeStreamStorageConfiguration: the default storage tier, if KVS reports one.
    async fn describe_storage_tier(&self, arn: &str) -> Result<Option<StorageTier>>;

    /// UpdateStreamStorageConfiguration.
    async fn update_storage_tier(&self, arn: &str, version: &str, tier: StorageTier) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_change_is_the_delta_in_the_right_direction() {
        assert_eq!(
            RetentionChange::between(24, 48),
            Some(RetentionChange::Increase(24))
        );
        assert_eq!(
            RetentionChange::between(48, 2),
            Some(RetentionChange::Decrease(46))
        );
        assert_eq!(
            RetentionChange::between(0, 87600),
            Some(RetentionChange::Increase(87600))
        );
        assert_eq!(
            RetentionChange::between(5, 0),
            Some(RetentionChange::Decrease(5))
        );
        assert_eq!(RetentionChange::between(7, 7), None);
    }

    #[test]
    fn stream_status_round_trips_and_keeps_unknown_values() {
        for s in [
            "CREATING",
            "ACTIVE",
            "UPDATING",
            "DELETING",
            "SOMETHING_NEW",
        ] {
            assert_eq!(StreamStatus::parse(s).as_str(), s);
        }
    }
}
