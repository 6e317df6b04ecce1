//! Component tests: the reconcile engine ([`sync`], [`cleanup`]) through the real
//! aws-sdk-kinesisvideo client, over HTTP, against kvs-emulator. No Kubernetes here: the
//! e2e tests cover that side with a real API server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kvs_emulator::{Delays, Emulator, Operation, Running};
use kvs_operator::api::{
    CLUSTER_TAG, ChannelEndpoints, DeletionPolicy, ImageGeneration, Notification, OWNER_TAG,
    StorageTier, TagPolicy,
};
use kvs_operator::engine::kind::CleanupStep;
use kvs_operator::engine::ownership::Owner;
use kvs_operator::kvs::gate::Gated;
use kvs_operator::kvs::sdk::SdkKinesisVideo;
use kvs_operator::kvs::tag_cache::TagCached;
use kvs_operator::kvs::{
    Channel, KinesisVideo, MediaStorageConfig, NewChannel, NewStream, Page, ResourceStatus,
    RetentionChange, Stream, TagRead,
};
use kvs_operator::stream::plan::{Desired, Mutation};
use kvs_operator::stream::sync::{Report, Step, cleanup, sync};
use kvs_operator::{Error, ErrorClass};

mod common;
use common::{emulator_config, sdk_client};

const OWNER: &str = "cameras/front-door";
const CLUSTER: &str = "cluster-a";

/// An emulator with short but real transition delays and quotas on.
async fn emulator() -> Running {
    Emulator::start(emulator_config(Duration::from_millis(100)))
        .await
        .expect("emulator starts")
}

fn kvs(emulator: &Running) -> SdkKinesisVideo {
    SdkKinesisVideo::new(sdk_client(emulator))
}

fn desired(name: &str) -> Desired {
    Desired {
        name: name.to_string(),
        owner: Owner {
            owner: OWNER.to_string(),
            cluster: CLUSTER.to_string(),
        },
        device_name: Some("cam-01".into()),
        media_type: Some("video/h264".into()),
        kms_key_id: None,
        data_retention_in_hours: Some(24),
        tags: Some(tags(&[("team", "security")])),
        storage_tier: None,
        deletion_policy: DeletionPolicy::Delete,
        // The spec as the whole truth; the shared policy has tests of its own below.
        tag_policy: TagPolicy::Exclusive,
        ..Desired::default()
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What the controller keeps in status between reconciles: the ARN and the endpoints.
#[derive(Default)]
struct Known {
    arn: Option<String>,
    endpoints: BTreeMap<String, String>,
}

impl Known {
    /// One reconcile, remembering what the status would.
    async fn sync(
        &mut self,
        kvs: &dyn KinesisVideo,
        desired: &Desired,
    ) -> kvs_operator::Result<Report> {
        let report = sync(kvs, desired, self.arn.as_deref(), &self.endpoints).await?;
        if let Some(stream) = &report.stream {
            self.arn = Some(stream.arn.clone());
        }
        if report.step == Step::InSync {
            self.endpoints = report.endpoints.clone();
        }
        Ok(report)
    }

    /// Reconciles until the stream is in sync and returns every step taken.
    async fn converge(&mut self, kvs: &dyn KinesisVideo, desired: &Desired) -> (Vec<Step>, Report) {
        let mut steps = Vec::new();
        for _ in 0..200 {
            let report = match self.sync(kvs, desired).await {
                Ok(report) => report,
                // As the controller's error policy does: back off, then observe again.
                Err(Error::Throttled(_)) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(other) => panic!("sync failed: {other}"),
            };
            steps.push(report.step.clone());
            if report.step == Step::InSync {
                return (steps, report);
            }
            // KVS allows 5 calls per second per stream and operation; poll below that.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("did not converge: {steps:?}");
    }
}

/// Converges a VideoStream seen for the first time.
async fn converge(kvs: &dyn KinesisVideo, desired: &Desired) -> (Vec<Step>, Report) {
    Known::default().converge(kvs, desired).await
}

/// Runs `cleanup` until it reports Done, returning every step.
async fn clean_up(kvs: &dyn KinesisVideo, desired: &Desired) -> Vec<CleanupStep> {
    let mut steps = Vec::new();
    for _ in 0..200 {
        let step = cleanup(kvs, desired).await.expect("cleanup succeeds");
        steps.push(step.clone());
        if step == CleanupStep::Done {
            return steps;
        }
        // KVS allows 5 calls per second per stream and operation; poll below that.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("cleanup did not finish: {steps:?}");
}

fn mutations(steps: &[Step]) -> Vec<Mutation> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Mutated(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn calls(emulator: &Running, op: Operation) -> u64 {
    emulator.calls_of(op).total
}

/// Calls of every mutating operation (the emulator's own list): none of them may be
/// called on a stream that is not ours.
fn mutation_calls(emulator: &Running) -> u64 {
    Operation::ALL
        .into_iter()
        .filter(|op| op.is_mutation())
        .map(|op| calls(emulator, op))
        .sum()
}

#[tokio::test]
async fn a_new_videostream_creates_the_stream_in_one_call_and_publishes_endpoints() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let want = desired("front-door-cam");

    let (steps, report) = converge(&kvs, &want).await;

    assert!(matches!(steps[0], Step::Created { .. }), "{steps:?}");
    assert!(
        mutations(&steps).is_empty(),
        "everything was set at create: {steps:?}"
    );
    assert_eq!(calls(&emulator, Operation::CreateStream), 1);
    let stream = emulator.stream("front-door-cam").expect("stream exists");
    assert_eq!(stream.device_name.as_deref(), Some("cam-01"));
    assert_eq!(stream.media_type.as_deref(), Some("video/h264"));
    assert_eq!(stream.data_retention_in_hours, 24);
    assert_eq!(
        stream.tags.get("team").map(String::as_str),
        Some("security")
    );
    assert_eq!(stream.tags.get(OWNER_TAG).map(String::as_str), Some(OWNER));
    assert!(
        stream.kms_key_id.ends_with(":alias/aws/kinesisvideo"),
        "{}",
        stream.kms_key_id
    );
    for api in ["PUT_MEDIA", "GET_MEDIA"] {
        let endpoint = report.endpoints.get(api).expect("endpoint published");
        assert!(endpoint.starts_with("https://"), "{api}: {endpoint}");
    }

    // Endpoints are not asked for again while the ARN is unchanged.
    let before = calls(&emulator, Operation::GetDataEndpoint);
    let again = sync(
        &kvs,
        &want,
        report.stream.as_ref().map(|s| s.arn.as_str()),
        &report.endpoints,
    )
    .await
    .unwrap();
    assert_eq!(again.step, Step::InSync);
    assert_eq!(calls(&emulator, Operation::GetDataEndpoint), before);
}

#[tokio::test]
async fn every_kind_of_update_is_applied_in_place_one_mutation_at_a_time() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let mut want = desired("updates");
    let mut known = Known::default();
    known.converge(&kvs, &want).await;
    let arn = emulator.stream("updates").unwrap().stream_arn;

    want.device_name = Some("cam-02".into());
    want.media_type = Some("video/h265".into());
    let (steps, _) = known.converge(&kvs, &want).await;
    assert_eq!(
        mutations(&steps),
        [Mutation::UpdateStream {
            device_name: Some("cam-02".into()),
            media_type: Some("video/h265".into()),
        }]
    );

    want.data_retention_in_hours = Some(72);
    known.converge(&kvs, &want).await;
    assert_eq!(
        emulator.stream("updates").unwrap().data_retention_in_hours,
        72
    );

    want.data_retention_in_hours = Some(6);
    let (steps, _) = known.converge(&kvs, &want).await;
    assert_eq!(
        mutations(&steps),
        [Mutation::UpdateRetention {
            from: 72,
            to: 6,
            change: RetentionChange::Decrease(66),
        }]
    );
    assert_eq!(
        emulator.stream("updates").unwrap().data_retention_in_hours,
        6
    );

    want.tags = Some(tags(&[("team", "ops"), ("site", "hq")]));
    known.converge(&kvs, &want).await;
    want.tags = Some(tags(&[("site", "hq")]));
    known.converge(&kvs, &want).await;

    want.storage_tier = Some(StorageTier::Warm);
    known.converge(&kvs, &want).await;

    let stream = emulator.stream("updates").unwrap();
    assert_eq!(stream.stream_arn, arn, "updated in place, never replaced");
    assert_eq!(stream.device_name.as_deref(), Some("cam-02"));
    assert_eq!(stream.media_type.as_deref(), Some("video/h265"));
    assert_eq!(
        stream.tags,
        tags(&[("site", "hq"), (OWNER_TAG, OWNER), (CLUSTER_TAG, CLUSTER)])
    );
    assert_eq!(stream.storage_tier.as_str(), "WARM");
    assert_eq!(calls(&emulator, Operation::CreateStream), 1);
    assert_eq!(calls(&emulator, Operation::UpdateDataRetention), 2);
    assert_eq!(emulator.calls_of(Operation::UpdateStream).errors.len(), 0);
}

#[tokio::test]
async fn changes_made_outside_kubernetes_are_reverted() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let want = desired("drift");
    converge(&kvs, &want).await;

    // Someone edits the stream in the console.
    let raw = sdk_client(&emulator);
    let live = kvs.describe_stream("drift").await.unwrap().unwrap();
    raw.update_data_retention()
        .stream_arn(&live.arn)
        .current_version(&live.version)
        .operation(aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(100)
        .send()
        .await
        .unwrap();
    raw.tag_stream()
        .stream_arn(&live.arn)
        .tags("team", "intruders")
        .tags("extra", "1")
        .send()
        .await
        .unwrap();

    let (steps, _) = converge(&kvs, &want).await;

    let stream = emulator.stream("drift").unwrap();
    assert_eq!(stream.data_retention_in_hours, 24);
    assert_eq!(
        stream.tags,
        tags(&[
            ("team", "security"),
            (OWNER_TAG, OWNER),
            (CLUSTER_TAG, CLUSTER)
        ])
    );
    assert_eq!(
        mutations(&steps).len(),
        3,
        "retention, untag, tag: {steps:?}"
    );
}

#[tokio::test]
async fn delete_policy_deletes_the_stream_and_waits_until_it_is_gone() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let want = desired("to-delete");
    converge(&kvs, &want).await;
    // Long enough that cleanup sees the stream DELETING and waits it out.
    emulator.set_delays(Delays {
        delete: Duration::from_millis(800),
        ..emulator.settings().delays
    });

    let steps = clean_up(&kvs, &want).await;

    assert!(matches!(steps[0], CleanupStep::Deleted { .. }), "{steps:?}");
    assert!(
        steps.contains(&CleanupStep::Waiting(ResourceStatus::Deleting)),
        "waited for DELETING to end: {steps:?}"
    );
    assert!(emulator.stream("to-delete").is_none());
    assert_eq!(calls(&emulator, Operation::DeleteStream), 1);
}

#[tokio::test]
async fn retain_policy_keeps_the_stream_and_only_removes_the_ownership_tags() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let mut want = desired("to-keep");
    want.deletion_policy = DeletionPolicy::Retain;
    converge(&kvs, &want).await;

    let steps = clean_up(&kvs, &want).await;

    assert!(
        matches!(steps[0], CleanupStep::Released { .. }),
        "{steps:?}"
    );
    let stream = emulator.stream("to-keep").expect("stream kept");
    assert_eq!(stream.tags, tags(&[("team", "security")]));
    assert_eq!(calls(&emulator, Operation::DeleteStream), 0);
}

#[tokio::test]
async fn a_stream_that_is_not_ours_is_never_modified_or_deleted() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    // Created by someone else, with no owner tag.
    kvs.create_stream(&NewStream {
        name: "foreign".into(),
        data_retention_in_hours: Some(1),
        ..NewStream::default()
    })
    .await
    .unwrap();
    // And one owned by a VideoStream in another namespace.
    let mut other = desired("contested");
    other.owner.owner = "other-namespace/front-door".into();
    converge(&kvs, &other).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    emulator.reset_calls();

    for name in ["foreign", "contested"] {
        let mut want = desired(name);
        want.data_retention_in_hours = Some(48);
        let error = sync(&kvs, &want, None, &BTreeMap::new()).await.unwrap_err();
        assert!(matches!(error, Error::NotOwned(_)), "{name}: {error}");
        assert_eq!(error.class(), ErrorClass::Terminal);
        assert_eq!(clean_up(&kvs, &want).await, [CleanupStep::Done], "{name}");
    }
    // Asking for adoption does not take a stream another VideoStream owns.
    let mut adopt = desired("contested");
    adopt.adopt_existing = true;
    let error = sync(&kvs, &adopt, None, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("other-namespace/front-door"),
        "{error}"
    );

    assert_eq!(mutation_calls(&emulator), 0, "{:?}", emulator.calls());
    assert_eq!(
        emulator.stream("foreign").unwrap().data_retention_in_hours,
        1
    );
    assert_eq!(
        emulator
            .stream("contested")
            .unwrap()
            .data_retention_in_hours,
        24
    );
}

#[tokio::test]
async fn adoption_takes_an_unowned_stream_and_then_manages_it() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    kvs.create_stream(&NewStream {
        name: "legacy".into(),
        data_retention_in_hours: Some(48),
        tags: tags(&[("team", "security")]),
        ..NewStream::default()
    })
    .await
    .unwrap();
    let mut want = desired("legacy");
    want.adopt_existing = true;
    want.data_retention_in_hours = Some(48);

    let (steps, _) = converge(&kvs, &want).await;

    assert_eq!(mutations(&steps)[0], Mutation::Adopt, "{steps:?}");
    let stream = emulator.stream("legacy").unwrap();
    assert_eq!(stream.tags.get(OWNER_TAG).map(String::as_str), Some(OWNER));
    assert_eq!(
        stream.tags.get(CLUSTER_TAG).map(String::as_str),
        Some(CLUSTER)
    );
    assert_eq!(stream.device_name.as_deref(), Some("cam-01"));
    assert_eq!(
        calls(&emulator, Operation::CreateStream),
        1,
        "adopted, not re-created"
    );
}

#[tokio::test]
async fn a_different_kms_key_is_reported_as_immutable_and_nothing_changes() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let mut created = desired("encrypted");
    created.kms_key_id = Some("alias/cameras".into());
    converge(&kvs, &created).await;
    emulator.reset_calls();

    let mut want = created.clone();
    want.kms_key_id = Some("alias/other".into());
    want.device_name = Some("cam-99".into());
    let error = sync(&kvs, &want, None, &BTreeMap::new()).await.unwrap_err();

    assert!(matches!(error, Error::Immutable(_)), "{error}");
    assert!(error.to_string().contains("alias/other"), "{error}");
    assert_eq!(mutation_calls(&emulator), 0);
    // The same key spelled as an ARN is not drift.
    let mut same = created.clone();
    same.kms_key_id = Some(format!(
        "arn:aws:kms:{}:{}:alias/cameras",
        emulator.region(),
        emulator.account_id()
    ));
    assert_eq!(
        sync(&kvs, &same, None, &BTreeMap::new())
            .await
            .unwrap()
            .step,
        Step::InSync
    );
}

/// A [`KinesisVideo`] that lets another writer change the stream right before our first
/// update, the race `CurrentVersion` exists for.
struct RacingWriter {
    inner: SdkKinesisVideo,
    raced: AtomicBool,
}

#[async_trait]
impl KinesisVideo for RacingWriter {
    async fn describe_stream(&self, name: &str) -> kvs_operator::Result<Option<Stream>> {
        self.inner.describe_stream(name).await
    }
    async fn list_streams_page(
        &self,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> kvs_operator::Result<Page<Stream>> {
        self.inner.list_streams_page(prefix, token).await
    }
    async fn create_stream(&self, stream: &NewStream) -> kvs_operator::Result<String> {
        self.inner.create_stream(stream).await
    }
    async fn update_stream(
        &self,
        arn: &str,
        version: &str,
        device_name: Option<&str>,
        media_type: Option<&str>,
    ) -> kvs_operator::Result<()> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            self.inner
                .update_stream(arn, version, Some("someone-else"), None)
                .await?;
            // Let the other writer's update finish, so only the version is in the way.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.inner
            .update_stream(arn, version, device_name, media_type)
            .await
    }
    async fn update_data_retention(
        &self,
        arn: &str,
        version: &str,
        change: RetentionChange,
    ) -> kvs_operator::Result<()> {
        self.inner.update_data_retention(arn, version, change).await
    }
    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> kvs_operator::Result<()> {
        self.inner.tag(arn, tags).await
    }
    async fn untag(&self, arn: &str, keys: &[String]) -> kvs_operator::Result<()> {
        self.inner.untag(arn, keys).await
    }
    async fn list_tags(
        &self,
        arn: &str,
        read: TagRead,
    ) -> kvs_operator::Result<BTreeMap<String, String>> {
        self.inner.list_tags(arn, read).await
    }
    async fn delete_stream(&self, arn: &str, version: &str) -> kvs_operator::Result<()> {
        self.inner.delete_stream(arn, version).await
    }
    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> kvs_operator::Result<String> {
        self.inner.get_data_endpoint(arn, api_name).await
    }
    async fn describe_storage_tier(&self, arn: &str) -> kvs_operator::Result<Option<StorageTier>> {
        self.inner.describe_storage_tier(arn).await
    }
    async fn update_storage_tier(
        &self,
        arn: &str,
        version: &str,
        tier: StorageTier,
    ) -> kvs_operator::Result<()> {
        self.inner.update_storage_tier(arn, version, tier).await
    }
    async fn describe_image_generation(
        &self,
        arn: &str,
    ) -> kvs_operator::Result<Option<ImageGeneration>> {
        self.inner.describe_image_generation(arn).await
    }
    async fn update_image_generation(
        &self,
        arn: &str,
        config: &ImageGeneration,
    ) -> kvs_operator::Result<()> {
        self.inner.update_image_generation(arn, config).await
    }
    async fn describe_notification(&self, arn: &str) -> kvs_operator::Result<Option<Notification>> {
        self.inner.describe_notification(arn).await
    }
    async fn update_notification(
        &self,
        arn: &str,
        config: &Notification,
    ) -> kvs_operator::Result<()> {
        self.inner.update_notification(arn, config).await
    }
    async fn describe_channel(&self, name: &str) -> kvs_operator::Result<Option<Channel>> {
        self.inner.describe_channel(name).await
    }
    async fn list_channels_page(
        &self,
        token: Option<String>,
    ) -> kvs_operator::Result<Page<Channel>> {
        self.inner.list_channels_page(token).await
    }
    async fn create_channel(&self, channel: &NewChannel) -> kvs_operator::Result<String> {
        self.inner.create_channel(channel).await
    }
    async fn update_channel(&self, arn: &str, version: &str, ttl: i32) -> kvs_operator::Result<()> {
        self.inner.update_channel(arn, version, ttl).await
    }
    async fn delete_channel(&self, arn: &str, version: &str) -> kvs_operator::Result<()> {
        self.inner.delete_channel(arn, version).await
    }
    async fn channel_endpoints(&self, arn: &str) -> kvs_operator::Result<ChannelEndpoints> {
        self.inner.channel_endpoints(arn).await
    }
    async fn describe_media_storage(
        &self,
        arn: &str,
    ) -> kvs_operator::Result<Option<MediaStorageConfig>> {
        self.inner.describe_media_storage(arn).await
    }
    async fn update_media_storage(
        &self,
        arn: &str,
        config: &MediaStorageConfig,
    ) -> kvs_operator::Result<()> {
        self.inner.update_media_storage(arn, config).await
    }
}

#[tokio::test]
async fn a_version_conflict_is_retried_by_observing_again_never_by_repeating_the_write() {
    let emulator = emulator().await;
    let plain = kvs(&emulator);
    let mut want = desired("raced");
    converge(&plain, &want).await;
    let racing = RacingWriter {
        inner: kvs(&emulator),
        raced: AtomicBool::new(false),
    };
    want.device_name = Some("cam-02".into());

    let error = sync(&racing, &want, None, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::VersionMismatch(_)), "{error}");
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert_eq!(error.reason(), "VersionConflict");

    // The next reconcile observes the new version and applies the spec over the other write.
    let (steps, _) = converge(&racing, &want).await;
    assert_eq!(mutations(&steps).len(), 1, "{steps:?}");
    assert_eq!(
        emulator.stream("raced").unwrap().device_name.as_deref(),
        Some("cam-02")
    );
    let update_errors = emulator
        .calls_of(Operation::UpdateStream)
        .errors_of("VersionMismatchException");
    assert_eq!(update_errors, 1);
}

#[tokio::test]
async fn throttling_is_a_retryable_error_and_the_rate_limiter_stays_under_the_quota() {
    let emulator = emulator().await;
    emulator.set_account_quota(Operation::CreateStream, 5);
    let new = |i: usize| NewStream {
        name: format!("burst-{i}"),
        ..NewStream::default()
    };

    // Unlimited, a burst of 20 creates runs into the 5/s quota.
    let unlimited = Arc::new(kvs(&emulator));
    let results = futures::future::join_all((0..20).map(|i| {
        let kvs = unlimited.clone();
        async move { kvs.create_stream(&new(i)).await }
    }))
    .await;
    let throttled: Vec<&Error> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| matches!(e, Error::Throttled(_)))
        .collect();
    assert!(!throttled.is_empty(), "the quota was hit");
    assert!(throttled.iter().all(|e| e.class() == ErrorClass::Retryable));
    assert!(throttled.iter().all(|e| e.reason() == "Throttled"));

    // Limited to 5/s (10% of the 50/s AWS quota), the same burst is never throttled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    emulator.reset_calls();
    let limited = Arc::new(Gated::new(kvs(&emulator), 0.1, None));
    let results = futures::future::join_all((100..120).map(|i| {
        let kvs = limited.clone();
        async move { kvs.create_stream(&new(i)).await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let creates = emulator.calls_of(Operation::CreateStream);
    assert_eq!(creates.total, 20);
    assert_eq!(creates.errors_of("ClientLimitExceededException"), 0);
}

#[tokio::test]
async fn a_limit_aws_enforces_is_reported_and_nothing_is_half_applied() {
    let emulator = emulator().await;
    emulator
        .update_settings(|s| s.limits.allow_reserved_tag_keys = true)
        .unwrap();
    let kvs = kvs(&emulator);
    let mut want = desired("crowded");
    converge(&kvs, &want).await;
    // AWS services put five tags of their own on the stream.
    let arn = emulator.stream("crowded").unwrap().stream_arn;
    let aws_tags: BTreeMap<String, String> = (0..5)
        .map(|i| (format!("aws:service:{i}"), "x".to_string()))
        .collect();
    kvs.tag(&arn, &aws_tags).await.unwrap();

    // 49 user tags + owner + cluster + 5 aws: tags > 50.
    want.tags = Some(
        (0..49)
            .map(|i| (format!("user-{i}"), "v".to_string()))
            .collect(),
    );
    let mut error = None;
    for _ in 0..5 {
        match sync(&kvs, &want, None, &BTreeMap::new()).await {
            Err(e) => {
                error = Some(e);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(150)).await,
        }
    }
    let error = error.expect("the tag limit is reported");
    assert_eq!(error.reason(), "LimitExceeded", "{error}");
    assert_eq!(error.class(), ErrorClass::Terminal);
    let stream = emulator.stream("crowded").unwrap();
    assert!(
        stream.tags.keys().all(|k| !k.starts_with("user-")),
        "no tag of the failed call was written: {:?}",
        stream.tags
    );
    assert_eq!(stream.tags.len(), 7, "{:?}", stream.tags);
}

#[tokio::test]
async fn two_claimants_of_one_stream_never_both_win() {
    let emulator = emulator().await;
    // Three claims in the same second exceed KVS's 5 calls per stream: not the point here.
    emulator.set_quotas_enabled(false);
    let kvs = kvs(&emulator);
    kvs.create_stream(&NewStream {
        name: "wanted".into(),
        data_retention_in_hours: Some(24),
        ..NewStream::default()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The same VideoStream name in two clusters, and another namespace: three claims.
    let mut claimants = Vec::new();
    for (owner, cluster) in [
        (OWNER, CLUSTER),
        (OWNER, "cluster-b"),
        ("other-namespace/cam", CLUSTER),
    ] {
        let mut want = desired("wanted");
        want.owner = Owner {
            owner: owner.into(),
            cluster: cluster.into(),
        };
        want.adopt_existing = true;
        claimants.push(want);
    }
    let none = BTreeMap::new();
    let attempts = claimants.iter().map(|want| sync(&kvs, want, None, &none));
    let outcomes = futures::future::join_all(attempts).await;

    let winners: Vec<&Desired> = claimants
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.is_ok())
        .map(|(want, _)| want)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for outcome in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(matches!(outcome, Error::NotOwned(_)), "{outcome}");
    }
    let stream = emulator.stream("wanted").unwrap();
    assert_eq!(stream.tags, winners[0].owner.tags(), "the winner's tags");
    assert_eq!(
        calls(&emulator, Operation::UpdateDataRetention),
        0,
        "no loser changed anything"
    );
}

#[tokio::test]
async fn ownership_is_read_fresh_before_a_delete_or_a_retention_decrease() {
    let emulator = emulator().await;
    // The operator's stack: remembered tags, as in production.
    let kvs = TagCached::new(self::kvs(&emulator), Duration::from_secs(3600));
    let mut want = desired("handed-over");
    converge(&kvs, &want).await;
    // Someone hands the stream to another cluster behind the operator's back: the cache
    // still says it is ours.
    let stream = emulator.stream("handed-over").unwrap();
    sdk_client(&emulator)
        .tag_stream()
        .stream_arn(&stream.stream_arn)
        .tags(CLUSTER_TAG, "cluster-b")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    emulator.reset_calls();

    want.data_retention_in_hours = Some(1);
    let error = sync(&kvs, &want, None, &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(error, Error::NotOwned(_)), "{error}");
    assert!(error.to_string().contains("cluster-b"), "{error}");
    assert_eq!(clean_up(&kvs, &want).await, [CleanupStep::Done]);

    assert_eq!(calls(&emulator, Operation::UpdateDataRetention), 0);
    assert_eq!(calls(&emulator, Operation::DeleteStream), 0);
    assert_eq!(
        emulator
            .stream("handed-over")
            .unwrap()
            .data_retention_in_hours,
        24
    );
}

#[tokio::test]
async fn a_closed_leader_fence_refuses_every_mutation_and_no_read() {
    use kvs_operator::engine::leader::Fence;
    let emulator = emulator().await;
    let fence = Arc::new(Fence::closed());
    let kvs = Gated::new(self::kvs(&emulator), 1.0, None).fenced(fence.clone());

    let refused = kvs
        .create_stream(&NewStream {
            name: "fenced".into(),
            ..NewStream::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "NotLeader", "{refused}");
    assert!(
        kvs.describe_stream("fenced").await.unwrap().is_none(),
        "reads pass"
    );
    assert_eq!(calls(&emulator, Operation::CreateStream), 0, "never sent");

    fence.open_until(tokio::time::Instant::now() + Duration::from_secs(5));
    kvs.create_stream(&NewStream {
        name: "fenced".into(),
        ..NewStream::default()
    })
    .await
    .expect("open: mutations pass");
    assert_eq!(calls(&emulator, Operation::CreateStream), 1);
}

#[tokio::test]
async fn two_claimants_queued_in_the_limiter_never_both_win_one_stream() {
    let emulator = emulator().await;
    // Per-stream quotas would throttle the queue of tag writes this test makes.
    emulator
        .update_settings(|s| s.quotas.per_stream_tps = 1000)
        .unwrap();
    sdk_client(&emulator)
        .create_stream()
        .stream_name("contested")
        .data_retention_in_hours(24)
        .send()
        .await
        .expect("an unowned stream");
    sdk_client(&emulator)
        .create_stream()
        .stream_name("busy")
        .send()
        .await
        .expect("a stream other work tags");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let arn = emulator.stream("contested").unwrap().stream_arn;
    let busy = emulator.stream("busy").unwrap().stream_arn;
    // One account's limiter, shared by both claimants and by other work: TagStream at
    // 49/s after a burst of 1.
    let gate = Arc::new(Gated::new(kvs(&emulator), 1.0, None));
    let claim = |owner: &'static str| {
        let gate = gate.clone();
        let arn = arn.clone();
        async move {
            let claimed = kvs_operator::engine::ownership::Claimed {
                kvs: gate.as_ref(),
                arn: &arn,
                noun: "stream",
                owner_kind: "VideoStream",
                name: "contested",
            };
            let owner = Owner {
                owner: owner.to_string(),
                cluster: CLUSTER.to_string(),
            };
            claimed.claim(&owner).await
        }
    };
    // Other work's tag writes queue before each claim: about 1.5 s of them each time, more
    // than the claim's settle time. A claim that read the tags before queueing its write
    // would land its write long after its read.
    let others = |from: usize| -> Vec<_> {
        (from..from + 70)
            .map(|i| {
                let gate = gate.clone();
                let busy = busy.clone();
                tokio::spawn(async move {
                    let _ = gate.tag(&busy, &tags(&[("n", &i.to_string())])).await;
                })
            })
            .collect()
    };
    let mut queued = others(0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let first = tokio::spawn(claim("team-a/cam"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    queued.extend(others(100));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = tokio::spawn(claim("team-b/cam"));
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    for other in queued {
        other.await.unwrap();
    }
    let winners = [&first, &second].iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "first: {first:?}, second: {second:?}");
    let loser = [first, second].into_iter().find_map(Result::err).unwrap();
    assert_eq!(loser.reason(), "NotOwned", "{loser}");
    let owner = emulator.stream("contested").unwrap().tags[OWNER_TAG].clone();
    assert_eq!(owner, "team-a/cam", "the first claim stands, untouched");
    let tag_writes = emulator
        .call_log()
        .into_iter()
        .filter(|r| r.operation == Operation::TagStream && r.stream.as_deref() == Some("contested"))
        .count();
    assert_eq!(tag_writes, 1, "the second claimant never wrote");
}

/// Deleting every stream of a fleet shares one ListTagsForStream quota (50/s per account):
/// a deletion reads the ownership tags fresh once, and decides and deletes from that read.
#[tokio::test]
async fn a_deletion_reads_the_ownership_tags_once() {
    let emulator = emulator().await;
    let kvs = self::kvs(&emulator);
    let want = desired("read-once");
    converge(&kvs, &want).await;
    let tag_reads = || {
        emulator
            .call_log()
            .into_iter()
            .filter(|r| r.operation == Operation::ListTagsForStream)
            .count()
    };
    let before = tag_reads();
    let steps = clean_up(&kvs, &want).await;
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, CleanupStep::Deleted { .. })),
        "{steps:?}"
    );
    assert!(emulator.stream("read-once").is_none(), "the stream is gone");
    assert_eq!(
        tag_reads() - before,
        1,
        "ListTagsForStream calls to delete it"
    );
}

#[tokio::test]
async fn cleanup_reads_ownership_fresh_so_a_stale_cache_never_leaves_a_stream_behind() {
    let emulator = emulator().await;
    let kvs = TagCached::new(self::kvs(&emulator), Duration::from_secs(3600));
    let want = desired("remembered");
    converge(&kvs, &want).await;
    let arn = emulator.stream("remembered").unwrap().stream_arn;
    let console = sdk_client(&emulator);
    // Someone relabels it and the operator happens to read that (an audit, say)...
    console
        .tag_stream()
        .stream_arn(&arn)
        .tags(OWNER_TAG, "someone/else")
        .send()
        .await
        .unwrap();
    let seen = kvs.list_tags(&arn, TagRead::Fresh).await.unwrap();
    assert_eq!(seen[OWNER_TAG], "someone/else");
    // ...then puts it back: the stream is ours again, the cache still says otherwise.
    console
        .tag_stream()
        .stream_arn(&arn)
        .tags(OWNER_TAG, OWNER)
        .send()
        .await
        .unwrap();
    let steps = clean_up(&kvs, &want).await;
    assert!(
        steps
            .iter()
            .any(|s| matches!(s, CleanupStep::Deleted { .. })),
        "the stream is ours and is deleted: {steps:?}"
    );
    assert!(emulator.stream("remembered").is_none());
}

#[tokio::test]
async fn shared_tags_remove_only_the_keys_the_operator_applied() {
    let emulator = emulator().await;
    let kvs = kvs(&emulator);
    let mut want = desired("shared");
    want.tag_policy = TagPolicy::Shared;
    want.tags = Some(tags(&[("team", "security"), ("site", "hq")]));
    let (_, report) = converge(&kvs, &want).await;
    let managed = report.managed_tag_keys.expect("tags are managed");
    assert_eq!(managed, ["site".to_string(), "team".to_string()].into());
    // A FinOps tagger adds its key, and someone changes one of ours.
    let arn = emulator.stream("shared").unwrap().stream_arn;
    sdk_client(&emulator)
        .tag_stream()
        .stream_arn(&arn)
        .tags("cost-center", "42")
        .tags("team", "intruders")
        .send()
        .await
        .unwrap();
    // The spec drops "site"; the status remembered what was applied.
    want.tags = Some(tags(&[("team", "security")]));
    want.managed_tag_keys = managed;
    let fresh = TagCached::new(self::kvs(&emulator), Duration::from_secs(3600));
    let mut steps = Vec::new();
    let mut restored = Vec::new();
    for _ in 0..20 {
        let report = sync(&fresh, &want, None, &BTreeMap::new()).await.unwrap();
        restored.extend(report.restored_tags.clone());
        if let Some(keys) = report.managed_tag_keys.clone() {
            want.managed_tag_keys = keys;
        }
        steps.push(report.step.clone());
        if report.step == Step::InSync {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let live = emulator.stream("shared").unwrap().tags;
    assert_eq!(
        live.get("cost-center").map(String::as_str),
        Some("42"),
        "others' key left"
    );
    assert!(
        !live.contains_key("site"),
        "ours, dropped from the spec: removed"
    );
    assert_eq!(
        live.get("team").map(String::as_str),
        Some("security"),
        "ours wins"
    );
    assert_eq!(restored, ["team"], "the put-back is said: {steps:?}");
    assert_eq!(want.managed_tag_keys, ["team".to_string()].into());

    // Status lost (a restore from backup): nothing it cannot prove it applied is removed.
    want.tags = Some(BTreeMap::new());
    want.managed_tag_keys = Default::default();
    let report = sync(&fresh, &want, None, &BTreeMap::new()).await.unwrap();
    assert_eq!(report.step, Step::InSync);
    assert!(emulator.stream("shared").unwrap().tags.contains_key("team"));
}
