//! The port to Kinesis Video Streams (streams, their image generation and notification
//! configurations, WebRTC signaling channels), in the operator's own types.
//!
//! The controller only sees this trait. [`sdk::SdkKinesisVideo`] implements it over
//! `aws-sdk-kinesisvideo`; [`gate::Gated`] wraps any implementation to keep the call rate
//! under the KVS quotas and count the calls, and [`tag_cache::TagCached`] saves the
//! ListTagsForStream calls whose answer the operator already knows. [`read_only::ReadOnly`]
//! refuses every mutation (`kvs-operator plan` reads AWS through it).
//!
//! Contract for implementations:
//! - reads never mutate; `describe_*` return `Ok(None)` for a resource that does not exist;
//! - every mutation takes the `version` observed just before and fails with
//!   [`Error::VersionMismatch`](crate::Error::VersionMismatch) when the stream moved on;
//! - `list_*_page` returns one page and the token of the next (`None` after the last);
//!   the provided `list_*` and `for_each_*` follow every token, so a wrapper that counts
//!   or paces calls sees each page as the call it is;
//! - every AWS error is mapped to [`crate::Error`] once, here, so callers never see SDK types.

pub mod gate;
pub mod read_only;
pub mod sdk;
pub mod tag_cache;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::Result;
use crate::api::{ChannelEndpoints, ImageGeneration, Notification, StorageTier};

/// One page of a listing, and the token that asks for the next (`None` after the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A stream as DescribeStream and ListStreams report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: String,
    pub arn: String,
    pub version: String,
    pub status: ResourceStatus,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    /// Always a KMS ARN in KVS's answers (the AWS-managed key when none was chosen).
    pub kms_key_id: Option<String>,
    pub data_retention_in_hours: i32,
    /// Seconds since the Unix epoch.
    pub creation_time: Option<i64>,
}

/// A signaling channel as DescribeSignalingChannel and ListSignalingChannels report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub arn: String,
    pub version: String,
    pub status: ResourceStatus,
    pub message_ttl_seconds: Option<i32>,
    /// Seconds since the Unix epoch.
    pub creation_time: Option<i64>,
}

/// Everything CreateSignalingChannel takes, tags included.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewChannel {
    pub name: String,
    pub message_ttl_seconds: i32,
    pub tags: BTreeMap<String, String>,
}

/// A channel's media storage configuration: which stream its media is stored into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaStorageConfig {
    pub stream_arn: Option<String>,
    pub enabled: bool,
}

/// Whether an ARN names a signaling channel (otherwise a stream).
pub fn is_channel_arn(arn: &str) -> bool {
    arn.split(':')
        .nth(5)
        .is_some_and(|r| r.starts_with("channel/"))
}

/// The lifecycle state KVS reports for a stream or a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceStatus {
    Creating,
    Active,
    Updating,
    Deleting,
    Other(String),
}

impl ResourceStatus {
    pub fn as_str(&self) -> &str {
        match self {
            ResourceStatus::Creating => "CREATING",
            ResourceStatus::Active => "ACTIVE",
            ResourceStatus::Updating => "UPDATING",
            ResourceStatus::Deleting => "DELETING",
            ResourceStatus::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "CREATING" => ResourceStatus::Creating,
            "ACTIVE" => ResourceStatus::Active,
            "UPDATING" => ResourceStatus::Updating,
            "DELETING" => ResourceStatus::Deleting,
            other => ResourceStatus::Other(other.to_string()),
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

/// Whether tags just read allow a write ([`KinesisVideo::tag_if`]).
pub type TagCheck<'a> = dyn for<'t> Fn(&'t BTreeMap<String, String>) -> bool + Send + Sync + 'a;

/// The data-plane APIs whose endpoint the operator publishes in status.
pub const PUBLISHED_ENDPOINT_APIS: [&str; 2] = ["PUT_MEDIA", "GET_MEDIA"];

/// The KVS control-plane operations the operator uses.
#[async_trait]
pub trait KinesisVideo: Send + Sync {
    /// DescribeStream by name; `None` when there is no such stream.
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>>;

    /// One page of ListStreams from `token` (the first when `None`), optionally only names
    /// that begin with `prefix`.
    async fn list_streams_page(
        &self,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<Page<Stream>>;

    /// ListStreams, all pages, optionally only names that begin with `prefix`.
    async fn list_streams(&self, prefix: Option<&str>) -> Result<Vec<Stream>> {
        let mut streams = Vec::new();
        self.for_each_stream(prefix, &mut |stream| streams.push(stream))
            .await?;
        Ok(streams)
    }

    /// ListStreams, all pages, handing each stream to `each` as its page is read: only one
    /// page is held at a time, however many streams the account has.
    async fn for_each_stream(
        &self,
        prefix: Option<&str>,
        each: &mut (dyn FnMut(Stream) + Send),
    ) -> Result<()> {
        let mut token = None;
        loop {
            let page = self.list_streams_page(prefix, token).await?;
            page.items.into_iter().for_each(&mut *each);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

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

    /// Add or overwrite these tags (TagStream for a stream, TagResource for a channel).
    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()>;

    /// Remove these keys (UntagStream, UntagResource).
    async fn untag(&self, arn: &str, keys: &[String]) -> Result<()>;

    /// All the tags, every page (ListTagsForStream, ListTagsForResource); `read` says
    /// whether a remembered answer will do.
    async fn list_tags(&self, arn: &str, read: TagRead) -> Result<BTreeMap<String, String>>;

    /// Reads the tags fresh and, if `accept` takes what was read, writes `tags` right
    /// after; returns what was read and whether `tags` were written. A claim decided on a
    /// read must land while the read still holds: an implementation that makes calls wait
    /// (a rate limiter) takes both calls' turns before the read, so nothing waits between
    /// the two.
    async fn tag_if(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
        accept: &TagCheck<'_>,
    ) -> Result<(BTreeMap<String, String>, bool)> {
        let read = self.list_tags(arn, TagRead::Fresh).await?;
        if !accept(&read) {
            return Ok((read, false));
        }
        self.tag(arn, tags).await?;
        Ok((read, true))
    }

    /// DeleteStream by ARN (never by name), guarded by the version.
    async fn delete_stream(&self, arn: &str, version: &str) -> Result<()>;

    /// GetDataEndpoint for one data-plane API (e.g. `PUT_MEDIA`).
    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> Result<String>;

    /// DescribeStreamStorageConfiguration: the default storage tier, if KVS reports one.
    async fn describe_storage_tier(&self, arn: &str) -> Result<Option<StorageTier>>;

    /// UpdateStreamStorageConfiguration.
    async fn update_storage_tier(&self, arn: &str, version: &str, tier: StorageTier) -> Result<()>;

    /// DescribeImageGenerationConfiguration; `None` when none was ever set.
    async fn describe_image_generation(&self, stream_arn: &str) -> Result<Option<ImageGeneration>>;

    /// UpdateImageGenerationConfiguration.
    async fn update_image_generation(
        &self,
        stream_arn: &str,
        config: &ImageGeneration,
    ) -> Result<()>;

    /// DescribeNotificationConfiguration; `None` when none was ever set.
    async fn describe_notification(&self, stream_arn: &str) -> Result<Option<Notification>>;

    /// UpdateNotificationConfiguration.
    async fn update_notification(&self, stream_arn: &str, config: &Notification) -> Result<()>;

    /// DescribeSignalingChannel by name; `None` when there is no such channel.
    async fn describe_channel(&self, name: &str) -> Result<Option<Channel>>;

    /// One page of ListSignalingChannels from `token` (the first when `None`).
    async fn list_channels_page(&self, token: Option<String>) -> Result<Page<Channel>>;

    /// ListSignalingChannels, all pages.
    async fn list_channels(&self) -> Result<Vec<Channel>> {
        let mut channels = Vec::new();
        self.for_each_channel(&mut |channel| channels.push(channel))
            .await?;
        Ok(channels)
    }

    /// ListSignalingChannels, all pages, handing each channel to `each` as its page is
    /// read: only one page is held at a time.
    async fn for_each_channel(&self, each: &mut (dyn FnMut(Channel) + Send)) -> Result<()> {
        let mut token = None;
        loop {
            let page = self.list_channels_page(token).await?;
            page.items.into_iter().for_each(&mut *each);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// CreateSignalingChannel (SINGLE_MASTER); returns the new channel's ARN.
    async fn create_channel(&self, channel: &NewChannel) -> Result<String>;

    /// UpdateSignalingChannel: the message TTL, guarded by the version.
    async fn update_channel(
        &self,
        arn: &str,
        version: &str,
        message_ttl_seconds: i32,
    ) -> Result<()>;

    /// DeleteSignalingChannel by ARN, guarded by the version.
    async fn delete_channel(&self, arn: &str, version: &str) -> Result<()>;

    /// GetSignalingChannelEndpoint for both roles, WSS and HTTPS.
    async fn channel_endpoints(&self, arn: &str) -> Result<ChannelEndpoints>;

    /// DescribeMediaStorageConfiguration of a channel.
    async fn describe_media_storage(&self, channel_arn: &str)
    -> Result<Option<MediaStorageConfig>>;

    /// UpdateMediaStorageConfiguration of a channel.
    async fn update_media_storage(
        &self,
        channel_arn: &str,
        config: &MediaStorageConfig,
    ) -> Result<()>;
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
    fn channel_arns_are_told_from_stream_arns() {
        assert!(is_channel_arn(
            "arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/1700000000000"
        ));
        assert!(!is_channel_arn(
            "arn:aws:kinesisvideo:us-west-2:123456789012:stream/channel/1700000000000"
        ));
        assert!(!is_channel_arn("nonsense"));
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
            assert_eq!(ResourceStatus::parse(s).as_str(), s);
        }
    }
}
