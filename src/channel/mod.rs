//! The SignalingChannel kind: a WebRTC signaling channel, optionally storing its media into
//! a VideoStream's stream. Its planner is [`plan`], its KVS calls [`sync`], its status
//! [`status`]; the engine does the rest.

pub mod plan;
pub mod status;
pub mod sync;

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::Event;
use kube::{Resource, ResourceExt};

use self::plan::{Desired, Mutation, StorageTarget};
use self::sync::{Report, Step, describe_mutation};
use crate::Result;
use crate::api::{
    ManagementPolicy, PlacementStatus, SignalingChannel, SignalingChannelStatus, VideoStream,
};
use crate::engine::context::{Context, Registry};
use crate::engine::kind::{CleanupStep, Env, Kind, KindStatus, Listed, Outcome, Readiness};
use crate::engine::ownership::TagChange;
use crate::engine::reconcile::normal;
use crate::kvs::KinesisVideo;

impl KindStatus for SignalingChannelStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
    fn observed_generation(&self) -> Option<i64> {
        self.observed_generation
    }
    fn last_sync_time(&self) -> Option<&Time> {
        self.last_sync_time.as_ref()
    }
    fn set_last_sync_time(&mut self, time: Option<Time>) {
        self.last_sync_time = time;
    }
    fn arn(&self) -> Option<&str> {
        self.channel_arn.as_deref()
    }
    fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
    fn aws_status(&self) -> Option<&str> {
        self.aws_status.as_deref()
    }
    fn managed_tag_keys(&self) -> &[String] {
        &self.managed_tag_keys
    }
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        self.last_handled_reconcile_at.as_deref()
    }
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
        self.last_handled_reconcile_at = value;
    }
    fn placement(&self) -> Option<&PlacementStatus> {
        self.placement.as_deref()
    }
    fn set_placement(&mut self, placement: Option<PlacementStatus>) {
        self.placement = placement.map(Box::new);
    }
    fn exported_config_map(&self) -> Option<&str> {
        self.exported_config_map.as_deref()
    }
    fn set_exported_config_map(&mut self, name: Option<String>) {
        self.exported_config_map = name;
    }
}

impl SignalingChannel {
    /// The stream its media is stored into, as its status last reported.
    pub fn stored_into(&self) -> Option<&str> {
        self.status
            .as_ref()?
            .media_storage
            .as_ref()?
            .stream_arn
            .as_deref()
    }

    /// The VideoStream its media storage names, as the operator's cache holds it.
    fn media_video_stream(&self, ctx: &Context) -> Option<std::sync::Arc<VideoStream>> {
        let wanted = self.spec.media_storage.as_ref()?;
        let namespace = self.namespace();
        ctx.videostreams
            .known()
            .into_iter()
            .find(|vs| vs.namespace() == namespace && vs.name_any() == wanted.video_stream_name)
    }

    fn desired(&self, env: &Env<'_>) -> Result<Desired> {
        let target = match &self.spec.media_storage {
            None => None,
            // Observed only (for the status), never linked: no target to resolve.
            Some(storage) if self.spec.management_policy == ManagementPolicy::ObserveOnly => {
                Some(StorageTarget::Pending(storage.video_stream_name.clone()))
            }
            Some(storage) => Some(sync::storage_target(
                self.media_video_stream(env.ctx).as_deref(),
                &storage.video_stream_name,
                env.cluster,
            )?),
        };
        let mut desired = Desired::from_resource(self, env.cluster, target);
        desired.create_refusal = env.placement.create.clone();
        desired.adopt_refusal = env.placement.adopt.clone();
        desired.fresh = env.fresh;
        Ok(desired)
    }
}

#[async_trait]
impl Kind for SignalingChannel {
    type Status = SignalingChannelStatus;
    type Report = Report;
    const NOUN: &'static str = "signaling channel";

    fn registry(ctx: &Context) -> &Registry<Self> {
        &ctx.channels
    }
    fn aws_name(&self) -> String {
        self.channel_name()
    }
    fn adopt_existing(&self) -> bool {
        self.spec.adopt_existing
    }
    fn management_policy(&self) -> ManagementPolicy {
        self.spec.management_policy
    }
    fn status(&self) -> Option<&SignalingChannelStatus> {
        self.status.as_ref()
    }
    fn desired_tags(&self) -> Option<&crate::api::StringMap> {
        self.spec.tags.as_ref()
    }
    fn tag_policy(&self) -> crate::api::TagPolicy {
        self.spec.tag_policy
    }
    /// Media storage is neither in ListSignalingChannels nor in the tags.
    fn audit_is_full(&self) -> bool {
        self.spec.media_storage.is_some()
    }
    fn export_to(&self) -> Option<&str> {
        self.spec
            .export_to
            .as_ref()
            .map(|e| e.config_map_name.as_str())
    }
    fn coordinates(status: &SignalingChannelStatus) -> Option<BTreeMap<String, String>> {
        coordinates(status)
    }

    async fn sync(&self, kvs: &dyn KinesisVideo, env: &Env<'_>) -> Result<Report> {
        // The media storage target is resolved before anything: a missing VideoStream, or
        // one that keeps no data, is refused with nothing applied.
        let desired = self.desired(env)?;
        let previous = self.status.as_ref();
        sync::sync(
            kvs,
            &desired,
            previous.and_then(|s| s.channel_arn.as_deref()),
            previous.and_then(|s| s.endpoints.as_ref()),
        )
        .await
    }

    async fn cleanup(&self, kvs: &dyn KinesisVideo, env: &Env<'_>) -> Result<CleanupStep> {
        // Cleanup needs no media storage target (and must not fail for want of one).
        sync::cleanup(kvs, &Desired::from_resource(self, env.cluster, None)).await
    }

    fn readiness(report: &Report) -> Readiness {
        status::readiness(report)
    }

    fn mutation_event(report: &Report) -> Option<Event> {
        let event = match &report.step {
            Step::Created { arn } => normal(
                "CreatedSignalingChannel",
                "Create",
                format!("created signaling channel {arn}"),
            ),
            Step::Mutated(mutation) => {
                let note = crate::engine::ownership::with_restored(
                    describe_mutation(mutation),
                    &report.restored_tags,
                );
                match mutation {
                    Mutation::Adopt => normal("AdoptedSignalingChannel", "Adopt", note),
                    Mutation::UpdateTtl { .. } => {
                        normal("UpdatedSignalingChannel", "UpdateSignalingChannel", note)
                    }
                    Mutation::Tags(TagChange::Untag(_)) => {
                        normal("UntaggedSignalingChannel", "UntagResource", note)
                    }
                    Mutation::Tags(TagChange::Tag(_)) => {
                        normal("TaggedSignalingChannel", "TagResource", note)
                    }
                    Mutation::StoreMedia { .. } => {
                        normal("StoringMedia", "UpdateMediaStorageConfiguration", note)
                    }
                }
            }
            _ => return None,
        };
        Some(event)
    }

    fn resource_arn(report: &Report) -> Option<&str> {
        match &report.step {
            Step::Created { arn } => Some(arn),
            _ => report.channel.as_ref().map(|channel| channel.arn.as_str()),
        }
    }

    fn next_status(&self, outcome: Outcome<'_, Report>, now: Timestamp) -> SignalingChannelStatus {
        status::next_status(
            self.status.as_ref(),
            self.meta().generation,
            &self.channel_name(),
            outcome,
            now,
        )
    }

    async fn list(kvs: &dyn KinesisVideo, each: &mut (dyn FnMut(Listed) + Send)) -> Result<()> {
        kvs.for_each_channel(&mut |c| {
            each(Listed {
                name: c.name,
                arn: c.arn,
                version: c.version,
                status: c.status,
            })
        })
        .await
    }
}

/// What a master or viewer pod needs to join the channel, as `envFrom` variables: `None`
/// until the status holds every one of them.
pub fn coordinates(status: &SignalingChannelStatus) -> Option<BTreeMap<String, String>> {
    let arn = status.channel_arn.as_deref()?;
    let (_, region) = crate::tenancy::arn_scope(arn)?;
    let endpoints = status.endpoints.as_ref()?;
    Some(BTreeMap::from([
        ("CHANNEL_NAME".to_string(), status.channel_name.clone()?),
        ("CHANNEL_ARN".to_string(), arn.to_string()),
        ("AWS_REGION".to_string(), region.to_string()),
        (
            "MASTER_WSS_ENDPOINT".to_string(),
            endpoints.master.wss.clone()?,
        ),
        (
            "MASTER_HTTPS_ENDPOINT".to_string(),
            endpoints.master.https.clone()?,
        ),
        (
            "VIEWER_WSS_ENDPOINT".to_string(),
            endpoints.viewer.wss.clone()?,
        ),
        (
            "VIEWER_HTTPS_ENDPOINT".to_string(),
            endpoints.viewer.https.clone()?,
        ),
    ]))
}
