//! The gate every KVS call passes: a client-side rate limit under the KVS control-plane
//! quotas, and metrics of each call.
//!
//! KVS answers calls above its per-account quotas with ClientLimitExceededException. When a
//! thousand VideoStreams are applied at once, waiting here for a token converges at the quota
//! rate; firing anyway would converge slower, through throttling errors and backoff.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kube::Resource;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{
    Channel, KinesisVideo, MediaStorageConfig, NewChannel, NewStream, Page, RetentionChange,
    Stream, TagCheck, TagRead,
};
use crate::Result;
use crate::api::{
    ChannelEndpoints, ImageGeneration, Notification, SignalingChannel, StorageTier, VideoStream,
};
use crate::engine::leader::Fence;
use crate::metrics::Metrics;

/// Declares the operations with their published quotas: the enum, `ALL`, `name()` and
/// `aws_quota()` from one table.
macro_rules! operations {
    ($($op:ident => $quota:expr),+ $(,)?) => {
        /// The control-plane operations, each with its own quota.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Operation {
            $($op,)+
        }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$op,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)+
                }
            }

            /// Calls per second per account and region.
            pub fn aws_quota(self) -> f64 {
                match self {
                    $(Operation::$op => $quota,)+
                }
            }
        }
    };
}

// The KVS developer guide's stream quotas and the WebRTC developer guide's control-plane
// quotas. Image generation and notification configurations have none published: they get
// the stream APIs' 50/s, as the storage configuration does.
operations! {
    CreateStream => 50.0,
    DescribeStream => 300.0,
    ListStreams => 50.0,
    UpdateStream => 50.0,
    UpdateDataRetention => 50.0,
    TagStream => 50.0,
    UntagStream => 50.0,
    ListTagsForStream => 50.0,
    DeleteStream => 50.0,
    GetDataEndpoint => 300.0,
    DescribeStreamStorageConfiguration => 50.0,
    UpdateStreamStorageConfiguration => 50.0,
    DescribeImageGenerationConfiguration => 50.0,
    UpdateImageGenerationConfiguration => 50.0,
    DescribeNotificationConfiguration => 50.0,
    UpdateNotificationConfiguration => 50.0,
    CreateSignalingChannel => 50.0,
    DescribeSignalingChannel => 300.0,
    ListSignalingChannels => 50.0,
    UpdateSignalingChannel => 50.0,
    DeleteSignalingChannel => 50.0,
    GetSignalingChannelEndpoint => 300.0,
    DescribeMediaStorageConfiguration => 50.0,
    UpdateMediaStorageConfiguration => 10.0,
    TagResource => 50.0,
    UntagResource => 50.0,
    ListTagsForResource => 50.0,
}

impl Operation {
    /// Whether the operation changes something at AWS (and so must pass the leader fence).
    pub fn mutates(self) -> bool {
        ["Create", "Update", "Delete", "Tag", "Untag"]
            .iter()
            .any(|verb| self.name().starts_with(verb))
    }

    /// The kind of object the operation acts for (the metrics' `kind` label).
    pub fn kind(self) -> Cow<'static, str> {
        use Operation::*;
        match self {
            CreateStream
            | DescribeStream
            | ListStreams
            | UpdateStream
            | UpdateDataRetention
            | TagStream
            | UntagStream
            | ListTagsForStream
            | DeleteStream
            | GetDataEndpoint
            | DescribeStreamStorageConfiguration
            | UpdateStreamStorageConfiguration
            | DescribeImageGenerationConfiguration
            | UpdateImageGenerationConfiguration
            | DescribeNotificationConfiguration
            | UpdateNotificationConfiguration => VideoStream::kind(&()),
            CreateSignalingChannel
            | DescribeSignalingChannel
            | ListSignalingChannels
            | UpdateSignalingChannel
            | DeleteSignalingChannel
            | GetSignalingChannelEndpoint
            | DescribeMediaStorageConfiguration
            | UpdateMediaStorageConfiguration
            | TagResource
            | UntagResource
            | ListTagsForResource => SignalingChannel::kind(&()),
        }
    }

    /// The tagging operation for a resource: the stream APIs for a stream, the resource
    /// APIs for a channel.
    fn tagging(arn: &str, stream: Operation, resource: Operation) -> Operation {
        if super::is_channel_arn(arn) {
            resource
        } else {
            stream
        }
    }
}

/// A token bucket that lets callers reserve a slot and sleep until it comes.
///
/// The burst is 2% of the quota (at least one call) and the refill rate the rest of it, so
/// no one-second window ever sees more calls than the quota, whichever way the server
/// counts, while a long queue still moves at 98% of the quota (50/s: one call at once, then
/// 49/s). The smallest quotas keep at least 90% (5/s: 4.5/s).
#[derive(Debug)]
struct Bucket {
    per_second: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    refilled_at: Instant,
}

impl Bucket {
    fn for_quota(quota: f64) -> Self {
        let burst = (quota * 0.02).max(1.0);
        Self {
            per_second: (quota - burst).max(quota * 0.9),
            burst,
            state: Mutex::new(BucketState {
                tokens: burst,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// Waits until this caller may make one call.
    async fn acquire(&self) {
        let wait = {
            let mut state = self.state.lock().await;
            let now = Instant::now();
            let elapsed = now.duration_since(state.refilled_at).as_secs_f64();
            state.tokens = (state.tokens + elapsed * self.per_second).min(self.burst);
            state.refilled_at = now;
            // Going negative reserves a future slot, so waiters are served in order.
            state.tokens -= 1.0;
            if state.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-state.tokens / self.per_second)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The token buckets of one AWS account and region: every client acting in that account
/// shares one, because the quotas are per account, not per client.
pub struct Limiter {
    buckets: BTreeMap<Operation, Bucket>,
    /// `account/region`, for the wait metrics.
    account: String,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Limits each operation to `quota_share` × its AWS quota (1.0 = the published quotas;
    /// lower leaves room for other clients in the same account).
    pub fn new(quota_share: f64) -> Self {
        let buckets = Operation::ALL
            .iter()
            .map(|op| (*op, Bucket::for_quota(op.aws_quota() * quota_share)))
            .collect();
        Self {
            buckets,
            account: String::new(),
            metrics: None,
        }
    }

    /// The limiter of one account, reporting how many calls wait and for how long.
    pub fn for_account(
        quota_share: f64,
        account: &crate::tenancy::accounts::AccountKey,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Self {
            account: account.to_string(),
            metrics,
            ..Self::new(quota_share)
        }
    }

    async fn acquire(&self, op: Operation) {
        let Some(bucket) = self.buckets.get(&op) else {
            return;
        };
        let Some(metrics) = &self.metrics else {
            return bucket.acquire().await;
        };
        let started = Instant::now();
        let waiting = metrics.limiter_waiting(&self.account, &op.kind(), op.name());
        waiting.inc();
        bucket.acquire().await;
        waiting.dec();
        metrics.record_limiter_wait(&self.account, &op.kind(), op.name(), started.elapsed());
    }
}

/// What a mutation made inside one reconcile must pass besides its shard's fence, checked
/// right before the request leaves — after any wait in the limiter, which can last
/// minutes: the object must still be placed where the reconcile started, in a shard this
/// replica holds.
pub trait MutationCheck: Send + Sync {
    fn check(&self, operation: &str) -> Result<()>;
}

tokio::task_local! {
    static MUTATION_CHECK: Arc<dyn MutationCheck>;
}

/// Runs `future` (one reconcile) with `check` applied to each of its mutations.
pub async fn checking<F: Future>(check: Arc<dyn MutationCheck>, future: F) -> F::Output {
    MUTATION_CHECK.scope(check, future).await
}

/// The current reconcile's check of `op` (none outside a reconcile).
fn check_mutation(op: Operation) -> Result<()> {
    check_reconcile(op.name())
}

/// The current reconcile's check of `what` — an AWS mutation, or a write to the API server
/// (status, Events) — `Ok` outside a reconcile.
pub fn check_reconcile(what: &str) -> Result<()> {
    MUTATION_CHECK
        .try_with(|check| check.check(what))
        .unwrap_or(Ok(()))
}

/// Wraps a [`KinesisVideo`] so every call first waits for its operation's bucket, is
/// counted and timed when metrics are given, and — for mutations — is refused when the
/// leader fence is closed or the reconcile's [`MutationCheck`] fails.
pub struct Gated<K> {
    inner: K,
    limiter: Arc<Limiter>,
    metrics: Option<Arc<Metrics>>,
    fence: Option<Arc<Fence>>,
}

impl<K: KinesisVideo> Gated<K> {
    /// A gate with its own limiter at `quota_share` of the quotas.
    pub fn new(inner: K, quota_share: f64, metrics: Option<Arc<Metrics>>) -> Self {
        Self::sharing(inner, Arc::new(Limiter::new(quota_share)), metrics)
    }

    /// A gate whose limiter other clients of the same account share.
    pub fn sharing(inner: K, limiter: Arc<Limiter>, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            inner,
            limiter,
            metrics,
            fence: None,
        }
    }

    /// Mutations pass only while `fence` is open.
    pub fn fenced(mut self, fence: Arc<Fence>) -> Self {
        self.fence = Some(fence);
        self
    }

    /// Waits for a token of `op`, then runs the call and records its outcome.
    async fn call<T>(&self, op: Operation, call: impl Future<Output = Result<T>>) -> Result<T> {
        self.limiter.acquire(op).await;
        // Checked after the wait, right before the request leaves: the wait can be long.
        self.check(op)?;
        self.record(op, call).await
    }

    /// Whether a call of `op` may leave now: a mutation needs the shard's fence open and
    /// the reconcile's check passed.
    fn check(&self, op: Operation) -> Result<()> {
        if op.mutates() {
            if let Some(fence) = &self.fence {
                fence.check(op.name())?;
            }
            check_mutation(op)?;
        }
        Ok(())
    }

    /// Runs a call whose turn was taken, and records its outcome.
    async fn record<T>(&self, op: Operation, call: impl Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        let result = call.await;
        if let Some(metrics) = &self.metrics {
            let outcome = match &result {
                Ok(_) => "success",
                Err(error) => error.reason(),
            };
            metrics.record_aws_call(&op.kind(), op.name(), outcome, started.elapsed());
        }
        result
    }
}

#[async_trait]
impl<K: KinesisVideo> KinesisVideo for Gated<K> {
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>> {
        self.call(Operation::DescribeStream, self.inner.describe_stream(name))
            .await
    }

    async fn list_streams_page(
        &self,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<Page<Stream>> {
        // A turn per page: each page is a call against the quota.
        self.call(
            Operation::ListStreams,
            self.inner.list_streams_page(prefix, token),
        )
        .await
    }

    async fn create_stream(&self, stream: &NewStream) -> Result<String> {
        self.call(Operation::CreateStream, self.inner.create_stream(stream))
            .await
    }

    async fn update_stream(
        &self,
        arn: &str,
        version: &str,
        device_name: Option<&str>,
        media_type: Option<&str>,
    ) -> Result<()> {
        let call = self
            .inner
            .update_stream(arn, version, device_name, media_type);
        self.call(Operation::UpdateStream, call).await
    }

    async fn update_data_retention(
        &self,
        arn: &str,
        version: &str,
        change: RetentionChange,
    ) -> Result<()> {
        self.call(
            Operation::UpdateDataRetention,
            self.inner.update_data_retention(arn, version, change),
        )
        .await
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let op = Operation::tagging(arn, Operation::TagStream, Operation::TagResource);
        self.call(op, self.inner.tag(arn, tags)).await
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        let op = Operation::tagging(arn, Operation::UntagStream, Operation::UntagResource);
        self.call(op, self.inner.untag(arn, keys)).await
    }

    async fn list_tags(&self, arn: &str, read: TagRead) -> Result<BTreeMap<String, String>> {
        let op = Operation::tagging(
            arn,
            Operation::ListTagsForStream,
            Operation::ListTagsForResource,
        );
        self.call(op, self.inner.list_tags(arn, read)).await
    }

    /// Both turns are taken, and the write checked, before the read: nothing waits
    /// between reading the tags and writing the claim.
    async fn tag_if(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
        accept: &TagCheck<'_>,
    ) -> Result<(BTreeMap<String, String>, bool)> {
        let read_op = Operation::tagging(
            arn,
            Operation::ListTagsForStream,
            Operation::ListTagsForResource,
        );
        let write_op = Operation::tagging(arn, Operation::TagStream, Operation::TagResource);
        self.limiter.acquire(read_op).await;
        self.limiter.acquire(write_op).await;
        self.check(write_op)?;
        let read = self
            .record(read_op, self.inner.list_tags(arn, TagRead::Fresh))
            .await?;
        if !accept(&read) {
            return Ok((read, false));
        }
        self.record(write_op, self.inner.tag(arn, tags)).await?;
        Ok((read, true))
    }

    async fn delete_stream(&self, arn: &str, version: &str) -> Result<()> {
        self.call(
            Operation::DeleteStream,
            self.inner.delete_stream(arn, version),
        )
        .await
    }

    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> Result<String> {
        self.call(
            Operation::GetDataEndpoint,
            self.inner.get_data_endpoint(arn, api_name),
        )
        .await
    }

    async fn describe_storage_tier(&self, arn: &str) -> Result<Option<StorageTier>> {
        let call = self.inner.describe_storage_tier(arn);
        self.call(Operation::DescribeStreamStorageConfiguration, call)
            .await
    }

    async fn update_storage_tier(&self, arn: &str, version: &str, tier: StorageTier) -> Result<()> {
        let call = self.inner.update_storage_tier(arn, version, tier);
        self.call(Operation::UpdateStreamStorageConfiguration, call)
            .await
    }

    async fn describe_image_generation(&self, stream_arn: &str) -> Result<Option<ImageGeneration>> {
        let call = self.inner.describe_image_generation(stream_arn);
        self.call(Operation::DescribeImageGenerationConfiguration, call)
            .await
    }

    async fn update_image_generation(
        &self,
        stream_arn: &str,
        config: &ImageGeneration,
    ) -> Result<()> {
        let call = self.inner.update_image_generation(stream_arn, config);
        self.call(Operation::UpdateImageGenerationConfiguration, call)
            .await
    }

    async fn describe_notification(&self, stream_arn: &str) -> Result<Option<Notification>> {
        let call = self.inner.describe_notification(stream_arn);
        self.call(Operation::DescribeNotificationConfiguration, call)
            .await
    }

    async fn update_notification(&self, stream_arn: &str, config: &Notification) -> Result<()> {
        let call = self.inner.update_notification(stream_arn, config);
        self.call(Operation::UpdateNotificationConfiguration, call)
            .await
    }

    async fn describe_channel(&self, name: &str) -> Result<Option<Channel>> {
        self.call(
            Operation::DescribeSignalingChannel,
            self.inner.describe_channel(name),
        )
        .await
    }

    async fn list_channels_page(&self, token: Option<String>) -> Result<Page<Channel>> {
        self.call(
            Operation::ListSignalingChannels,
            self.inner.list_channels_page(token),
        )
        .await
    }

    async fn create_channel(&self, channel: &NewChannel) -> Result<String> {
        self.call(
            Operation::CreateSignalingChannel,
            self.inner.create_channel(channel),
        )
        .await
    }

    async fn update_channel(
        &self,
        arn: &str,
        version: &str,
        message_ttl_seconds: i32,
    ) -> Result<()> {
        let call = self.inner.update_channel(arn, version, message_ttl_seconds);
        self.call(Operation::UpdateSignalingChannel, call).await
    }

    async fn delete_channel(&self, arn: &str, version: &str) -> Result<()> {
        self.call(
            Operation::DeleteSignalingChannel,
            self.inner.delete_channel(arn, version),
        )
        .await
    }

    /// Two calls (one per role); one token per call.
    async fn channel_endpoints(&self, arn: &str) -> Result<ChannelEndpoints> {
        self.limiter
            .acquire(Operation::GetSignalingChannelEndpoint)
            .await;
        self.call(
            Operation::GetSignalingChannelEndpoint,
            self.inner.channel_endpoints(arn),
        )
        .await
    }

    async fn describe_media_storage(
        &self,
        channel_arn: &str,
    ) -> Result<Option<MediaStorageConfig>> {
        let call = self.inner.describe_media_storage(channel_arn);
        self.call(Operation::DescribeMediaStorageConfiguration, call)
            .await
    }

    async fn update_media_storage(
        &self,
        channel_arn: &str,
        config: &MediaStorageConfig,
    ) -> Result<()> {
        let call = self.inner.update_media_storage(channel_arn, config);
        self.call(Operation::UpdateMediaStorageConfiguration, call)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spread_at_the_refill_rate_after_the_initial_tokens() {
        let bucket = Bucket::for_quota(50.0); // burst 1, refill 49/s
        let start = Instant::now();
        for _ in 0..99 {
            bucket.acquire().await;
        }
        // 1 call rides the burst; the other 98 take 98 / 49 = 2 seconds.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2010), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_one_second_window_exceeds_the_quota() {
        let bucket = Bucket::for_quota(50.0);
        let mut times = Vec::new();
        let start = Instant::now();
        for _ in 0..300 {
            bucket.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 50,
                "{in_window} calls within one second from {t:?}"
            );
        }
    }
}
