//! A [`KinesisVideo`] that can only read: every read goes to the wrapped client, every
//! mutation is refused with [`Error::ReadOnly`] before anything is sent. `kvs-operator
//! plan` observes AWS through it, so a plan cannot change AWS whatever code path it takes.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    Channel, KinesisVideo, MediaStorageConfig, NewChannel, NewStream, Page, RetentionChange,
    Stream, TagRead,
};
use crate::api::{ChannelEndpoints, ImageGeneration, Notification, StorageTier};
use crate::{Error, Result};

/// Reads through the client it wraps; refuses every mutation.
pub struct ReadOnly(Arc<dyn KinesisVideo>);

impl ReadOnly {
    pub fn new(kvs: Arc<dyn KinesisVideo>) -> Self {
        Self(kvs)
    }
}

fn refused<T>(operation: &str) -> Result<T> {
    Err(Error::ReadOnly(operation.to_string()))
}

#[async_trait]
impl KinesisVideo for ReadOnly {
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>> {
        self.0.describe_stream(name).await
    }
    async fn list_streams_page(
        &self,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<Page<Stream>> {
        self.0.list_streams_page(prefix, token).await
    }
    async fn list_tags(&self, arn: &str, read: TagRead) -> Result<BTreeMap<String, String>> {
        self.0.list_tags(arn, read).await
    }
    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> Result<String> {
        self.0.get_data_endpoint(arn, api_name).await
    }
    async fn describe_storage_tier(&self, arn: &str) -> Result<Option<StorageTier>> {
        self.0.describe_storage_tier(arn).await
    }
    async fn describe_image_generation(&self, stream_arn: &str) -> Result<Option<ImageGeneration>> {
        self.0.describe_image_generation(stream_arn).await
    }
    async fn describe_notification(&self, stream_arn: &str) -> Result<Option<Notification>> {
        self.0.describe_notification(stream_arn).await
    }
    async fn describe_channel(&self, name: &str) -> Result<Option<Channel>> {
        self.0.describe_channel(name).await
    }
    async fn list_channels_page(&self, token: Option<String>) -> Result<Page<Channel>> {
        self.0.list_channels_page(token).await
    }
    async fn channel_endpoints(&self, arn: &str) -> Result<ChannelEndpoints> {
        self.0.channel_endpoints(arn).await
    }
    async fn describe_media_storage(
        &self,
        channel_arn: &str,
    ) -> Result<Option<MediaStorageConfig>> {
        self.0.describe_media_storage(channel_arn).await
    }

    async fn create_stream(&self, _: &NewStream) -> Result<String> {
        refused("CreateStream")
    }
    async fn update_stream(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<()> {
        refused("UpdateStream")
    }
    async fn update_data_retention(&self, _: &str, _: &str, _: RetentionChange) -> Result<()> {
        refused("UpdateDataRetention")
    }
    async fn tag(&self, _: &str, _: &BTreeMap<String, String>) -> Result<()> {
        refused("TagStream/TagResource")
    }
    async fn untag(&self, _: &str, _: &[String]) -> Result<()> {
        refused("UntagStream/UntagResource")
    }
    async fn delete_stream(&self, _: &str, _: &str) -> Result<()> {
        refused("DeleteStream")
    }
    async fn update_storage_tier(&self, _: &str, _: &str, _: StorageTier) -> Result<()> {
        refused("UpdateStreamStorageConfiguration")
    }
    async fn update_image_generation(&self, _: &str, _: &ImageGeneration) -> Result<()> {
        refused("UpdateImageGenerationConfiguration")
    }
    async fn update_notification(&self, _: &str, _: &Notification) -> Result<()> {
        refused("UpdateNotificationConfiguration")
    }
    async fn create_channel(&self, _: &NewChannel) -> Result<String> {
        refused("CreateSignalingChannel")
    }
    async fn update_channel(&self, _: &str, _: &str, _: i32) -> Result<()> {
        refused("UpdateSignalingChannel")
    }
    async fn delete_channel(&self, _: &str, _: &str) -> Result<()> {
        refused("DeleteSignalingChannel")
    }
    async fn update_media_storage(&self, _: &str, _: &MediaStorageConfig) -> Result<()> {
        refused("UpdateMediaStorageConfiguration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvs::sdk::SdkKinesisVideo;

    /// A real SDK client pointed where nothing listens: a call that went out would fail
    /// as unavailable, not as read-only.
    fn unreachable() -> ReadOnly {
        use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_kinesisvideo::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let client = aws_sdk_kinesisvideo::Client::from_conf(config);
        ReadOnly::new(Arc::new(SdkKinesisVideo::new(client)))
    }

    fn image_generation() -> ImageGeneration {
        use crate::api::{ConfigurationStatus, ImageFormat, ImageSelectorType};
        ImageGeneration {
            status: ConfigurationStatus::Enabled,
            destination_uri: "s3://bucket/x".into(),
            destination_region: "us-west-2".into(),
            image_selector_type: ImageSelectorType::ServerTimestamp,
            sampling_interval: 1000,
            format: ImageFormat::Png,
            format_config: None,
            width_pixels: None,
            height_pixels: None,
        }
    }

    fn notification() -> Notification {
        Notification {
            status: crate::api::ConfigurationStatus::Enabled,
            destination_uri: "arn:aws:sns:us-west-2:123456789012:t".into(),
        }
    }

    #[tokio::test]
    async fn every_mutation_is_refused_before_it_is_sent_and_reads_go_through() {
        let kvs = unreachable();
        let arn = "arn:aws:kinesisvideo:us-west-2:1:stream/s/1";
        let tags = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let refusals = [
            kvs.create_stream(&NewStream::default()).await.err(),
            kvs.update_stream(arn, "v", Some("d"), None).await.err(),
            kvs.update_data_retention(arn, "v", RetentionChange::Decrease(1))
                .await
                .err(),
            kvs.tag(arn, &tags).await.err(),
            kvs.untag(arn, &["a".to_string()]).await.err(),
            kvs.delete_stream(arn, "v").await.err(),
            kvs.update_storage_tier(arn, "v", StorageTier::Warm)
                .await
                .err(),
            kvs.update_image_generation(arn, &image_generation())
                .await
                .err(),
            kvs.update_notification(arn, &notification()).await.err(),
            kvs.create_channel(&NewChannel::default()).await.err(),
            kvs.update_channel(arn, "v", 5).await.err(),
            kvs.delete_channel(arn, "v").await.err(),
            kvs.update_media_storage(
                arn,
                &MediaStorageConfig {
                    stream_arn: None,
                    enabled: false,
                },
            )
            .await
            .err(),
        ];
        for refusal in refusals {
            assert!(matches!(refusal, Some(Error::ReadOnly(_))), "{refusal:?}");
        }
        let read = kvs.describe_stream("s").await;
        assert!(
            matches!(read, Err(Error::Unavailable(_))),
            "a read goes to AWS: {read:?}"
        );
    }
}
