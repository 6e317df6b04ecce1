//! A [`KinesisVideo`] that can only read: every read goes to the wrapped client, every
//! mutation is refused with [`Error::ReadOnly`] before anything is sent. `kvs-operator
//! plan` observes AWS through it, so a plan cannot change AWS whatever code path it takes.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{
    Channel, KinesisVideo, MediaStorageConfig, NewChannel, NewStream, RetentionChange, Stream,
    TagRead,
};
use crate::api::{ChannelEndpoints, ImageGeneration, Notification, StorageTier};
use crate::{Error, Result};

/// Reads through `K`; refuses every mutation.
pub struct ReadOnly<K>(pub K);

fn refused<T>(operation: &str) -> Result<T> {
    Err(Error::ReadOnly(operation.to_string()))
}

#[async_trait]
impl<K: KinesisVideo> KinesisVideo for ReadOnly<K> {
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>> {
        self.0.describe_stream(name).await
    }
    async fn list_streams(&self, prefix: Option<&str>) -> Result<Vec<Stream>> {
        self.0.list_streams(prefix).await
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
    async fn list_channels(&self) -> Result<Vec<Channel>> {
        self.0.list_channels().await
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
    async fn update_stream(&self, _: &str, _: &str, _: Option<&str>, _: Option<&str>) -> Result<()> {
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
