//! Remembering each stream's (and channel's) tags between reconciles.
//!
//! ListTagsForStream has a quota of 50 calls per second for the whole account: asking it on
//! every reconcile would make it the bottleneck when many VideoStreams converge at once. The
//! operator writes every tag change itself (CreateStream with tags, TagStream, UntagStream),
//! so it knows the tags; only changes made outside Kubernetes are missed, and those are found
//! when an entry ages out.
//!
//! An entry serves one convergence: the reconciles between a write (or a fresh read) and
//! the one that finds the resource in sync, which drops it ([`TagCache::forget`]). A settled
//! fleet holds none; the reconcile a later change brings reads the tags fresh, once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{
    Channel, KinesisVideo, MediaStorageConfig, NewChannel, NewStream, Page, RetentionChange,
    Stream, TagCheck, TagRead,
};
use crate::api::{ChannelEndpoints, ImageGeneration, Notification, StorageTier};
use crate::{Result, fingerprint};

type Tags = BTreeMap<String, String>;

/// Tags as the cache holds them: for the handful of tags a stream carries, a boxed slice
/// takes a few hundred bytes less than a map's node (about 4 MB at 10,000 streams).
type Held = Box<[(String, String)]>;

fn hold(tags: Tags) -> Held {
    tags.into_iter().collect()
}

fn unhold(held: &Held) -> Tags {
    held.iter().cloned().collect()
}

/// What the operator knows of the tags of the streams of one account, shared by every
/// client acting in it. Entries expire after `max_age`.
#[derive(Debug)]
pub struct TagCache {
    max_age: Duration,
    /// By the hash of the resource's ARN: 8 bytes rather than the ARN's hundred (about
    /// 1 MB at 10,000 streams). A collision (about 1 in 10^9 at 100,000 streams in one
    /// account) would answer another resource's tags until the entry ages out; their owner
    /// tag names another object, so the worst is a resource reported not owned meanwhile
    /// (a deletion reads the tags afresh).
    entries: Mutex<HashMap<u64, (Held, Instant)>>,
    /// When expired entries were last dropped.
    swept: Mutex<Instant>,
}

impl TagCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            entries: Mutex::new(HashMap::new()),
            swept: Mutex::new(Instant::now()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Held, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, arn: &str) -> Option<Tags> {
        let entries = self.entries();
        let (tags, at) = entries.get(&fingerprint::of(arn))?;
        (at.elapsed() < self.max_age).then(|| unhold(tags))
    }

    /// Remembers `tags`; entries past their age are dropped now and then, so resources
    /// that went away (or were never looked at again) do not stay forever.
    fn remember(&self, arn: &str, tags: Tags) {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.insert(fingerprint::of(arn), (hold(tags), now));
        let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(*swept) >= self.max_age {
            entries.retain(|_, (_, at)| now.duration_since(*at) < self.max_age);
            *swept = now;
        }
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops what is known of `arn`'s tags: the next cached read asks AWS. The engine
    /// calls it once it has found the resource in sync, so entries live through a
    /// convergence (a create, the reconciles that wait for it) rather than for the
    /// fleet's lifetime: at 100,000 streams that is about 28 MB not held at rest.
    pub fn forget(&self, arn: &str) {
        self.entries().remove(&fingerprint::of(arn));
    }

    /// Applies a change to a remembered entry, keeping its age: the rest of it is as old
    /// as it was.
    fn amend(&self, arn: &str, change: impl FnOnce(&mut Tags)) {
        if let Some((held, _)) = self.entries().get_mut(&fingerprint::of(arn)) {
            let mut tags = unhold(held);
            change(&mut tags);
            *held = hold(tags);
        }
    }
}

/// Wraps a [`KinesisVideo`]: `list_tags` answers from the cache while the entry is
/// younger than its maximum age; the operator's own tag writes keep the entries exact.
pub struct TagCached<K> {
    inner: K,
    cache: Arc<TagCache>,
}

impl<K: KinesisVideo> TagCached<K> {
    /// A client with a cache of its own.
    pub fn new(inner: K, max_age: Duration) -> Self {
        Self::sharing(inner, Arc::new(TagCache::new(max_age)))
    }

    /// A client using a cache other clients of the same account share.
    pub fn sharing(inner: K, cache: Arc<TagCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl<K: KinesisVideo> KinesisVideo for TagCached<K> {
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>> {
        self.inner.describe_stream(name).await
    }

    async fn list_streams_page(
        &self,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<Page<Stream>> {
        self.inner.list_streams_page(prefix, token).await
    }

    async fn create_stream(&self, stream: &NewStream) -> Result<String> {
        let arn = self.inner.create_stream(stream).await?;
        self.cache.remember(&arn, stream.tags.clone());
        Ok(arn)
    }

    async fn update_stream(
        &self,
        arn: &str,
        version: &str,
        device_name: Option<&str>,
        media_type: Option<&str>,
    ) -> Result<()> {
        self.inner
            .update_stream(arn, version, device_name, media_type)
            .await
    }

    async fn update_data_retention(
        &self,
        arn: &str,
        version: &str,
        change: RetentionChange,
    ) -> Result<()> {
        self.inner.update_data_retention(arn, version, change).await
    }

    async fn tag(&self, arn: &str, tags: &Tags) -> Result<()> {
        let result = self.inner.tag(arn, tags).await;
        match &result {
            Ok(()) => self.cache.amend(arn, |known| known.extend(tags.clone())),
            // Unknown outcome: ask AWS next time.
            Err(_) => self.cache.forget(arn),
        }
        result
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        let result = self.inner.untag(arn, keys).await;
        match &result {
            Ok(()) => self
                .cache
                .amend(arn, |known| known.retain(|k, _| !keys.contains(k))),
            Err(_) => self.cache.forget(arn),
        }
        result
    }

    async fn list_tags(&self, arn: &str, read: TagRead) -> Result<Tags> {
        if read == TagRead::Cached
            && let Some(tags) = self.cache.fresh(arn)
        {
            return Ok(tags);
        }
        let tags = self.inner.list_tags(arn, read).await?;
        self.cache.remember(arn, tags.clone());
        Ok(tags)
    }

    async fn tag_if(&self, arn: &str, tags: &Tags, accept: &TagCheck<'_>) -> Result<(Tags, bool)> {
        let outcome = self.inner.tag_if(arn, tags, accept).await;
        match &outcome {
            Ok((read, written)) => {
                let mut known = read.clone();
                if *written {
                    known.extend(tags.clone());
                }
                self.cache.remember(arn, known);
            }
            Err(_) => self.cache.forget(arn),
        }
        outcome
    }

    async fn delete_stream(&self, arn: &str, version: &str) -> Result<()> {
        self.cache.forget(arn);
        self.inner.delete_stream(arn, version).await
    }

    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> Result<String> {
        self.inner.get_data_endpoint(arn, api_name).await
    }

    async fn describe_storage_tier(&self, arn: &str) -> Result<Option<StorageTier>> {
        self.inner.describe_storage_tier(arn).await
    }

    async fn update_storage_tier(&self, arn: &str, version: &str, tier: StorageTier) -> Result<()> {
        self.inner.update_storage_tier(arn, version, tier).await
    }

    async fn describe_image_generation(&self, stream_arn: &str) -> Result<Option<ImageGeneration>> {
        self.inner.describe_image_generation(stream_arn).await
    }

    async fn update_image_generation(
        &self,
        stream_arn: &str,
        config: &ImageGeneration,
    ) -> Result<()> {
        self.inner.update_image_generation(stream_arn, config).await
    }

    async fn describe_notification(&self, stream_arn: &str) -> Result<Option<Notification>> {
        self.inner.describe_notification(stream_arn).await
    }

    async fn update_notification(&self, stream_arn: &str, config: &Notification) -> Result<()> {
        self.inner.update_notification(stream_arn, config).await
    }

    async fn describe_channel(&self, name: &str) -> Result<Option<Channel>> {
        self.inner.describe_channel(name).await
    }

    async fn list_channels_page(&self, token: Option<String>) -> Result<Page<Channel>> {
        self.inner.list_channels_page(token).await
    }

    async fn create_channel(&self, channel: &NewChannel) -> Result<String> {
        let arn = self.inner.create_channel(channel).await?;
        self.cache.remember(&arn, channel.tags.clone());
        Ok(arn)
    }

    async fn update_channel(
        &self,
        arn: &str,
        version: &str,
        message_ttl_seconds: i32,
    ) -> Result<()> {
        self.inner
            .update_channel(arn, version, message_ttl_seconds)
            .await
    }

    async fn delete_channel(&self, arn: &str, version: &str) -> Result<()> {
        self.cache.forget(arn);
        self.inner.delete_channel(arn, version).await
    }

    async fn channel_endpoints(&self, arn: &str) -> Result<ChannelEndpoints> {
        self.inner.channel_endpoints(arn).await
    }

    async fn describe_media_storage(
        &self,
        channel_arn: &str,
    ) -> Result<Option<MediaStorageConfig>> {
        self.inner.describe_media_storage(channel_arn).await
    }

    async fn update_media_storage(
        &self,
        channel_arn: &str,
        config: &MediaStorageConfig,
    ) -> Result<()> {
        self.inner.update_media_storage(channel_arn, config).await
    }
}
