//! The VideoStream kind: a Kinesis Video stream, with its storage tier, image generation
//! and notification configurations. Its planner is [`plan`], its KVS calls [`sync`], its
//! status [`status`]; the engine does the rest.

pub mod plan;
pub mod status;
pub mod sync;

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::Event;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use self::plan::{Desired, Mutation};
use self::sync::{Report, Step, describe_mutation};
use crate::Result;
use crate::api::{ManagementPolicy, PlacementStatus, VideoStream, VideoStreamStatus};
use crate::engine::context::{Context, Registry};
use crate::engine::kind::{CleanupStep, Env, Kind, KindStatus, Listed, Outcome, Readiness};
use crate::engine::ownership::{TagChange, with_restored};
use crate::engine::reconcile::{normal, warning};
use crate::kvs::KinesisVideo;

impl KindStatus for VideoStreamStatus {
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
        self.stream_arn.as_deref()
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

#[async_trait]
impl Kind for VideoStream {
    type Status = VideoStreamStatus;
    type Report = Report;
    const NOUN: &'static str = "stream";

    fn registry(ctx: &Context) -> &Registry<Self> {
        &ctx.videostreams
    }
    fn aws_name(&self) -> String {
        self.stream_name()
    }
    fn adopt_existing(&self) -> bool {
        self.spec.adopt_existing
    }
    fn management_policy(&self) -> ManagementPolicy {
        self.spec.management_policy
    }
    fn status(&self) -> Option<&VideoStreamStatus> {
        self.status.as_ref()
    }
    fn desired_tags(&self) -> Option<&crate::api::StringMap> {
        self.spec.tags.as_ref()
    }
    fn tag_policy(&self) -> crate::api::TagPolicy {
        self.spec.tag_policy
    }
    /// Image generation and notifications are neither in ListStreams nor in the tags.
    fn audit_is_full(&self) -> bool {
        self.spec.image_generation.is_some() || self.spec.notification.is_some()
    }
    fn export_to(&self) -> Option<&str> {
        self.spec
            .export_to
            .as_ref()
            .map(|e| e.config_map_name.as_str())
    }
    fn coordinates(status: &VideoStreamStatus) -> Option<BTreeMap<String, String>> {
        coordinates(status)
    }

    async fn sync(&self, kvs: &dyn KinesisVideo, env: &Env<'_>) -> Result<Report> {
        let mut desired = Desired::from_resource(self, env.cluster);
        desired.create_refusal = env.placement.create.clone();
        desired.adopt_refusal = env.placement.adopt.clone();
        desired.fresh = env.fresh;
        let previous = self.status.as_ref();
        sync::sync(
            kvs,
            &desired,
            previous.and_then(|s| s.stream_arn.as_deref()),
            &previous
                .map(|s| s.data_endpoints.to_map())
                .unwrap_or_default(),
        )
        .await
    }

    async fn cleanup(&self, kvs: &dyn KinesisVideo, env: &Env<'_>) -> Result<CleanupStep> {
        sync::cleanup(kvs, &Desired::from_resource(self, env.cluster)).await
    }

    fn readiness(report: &Report) -> Readiness {
        status::readiness(report)
    }

    fn mutation_event(report: &Report) -> Option<Event> {
        mutation_event(report)
    }

    fn resource_arn(report: &Report) -> Option<&str> {
        match &report.step {
            Step::Created { arn } => Some(arn),
            _ => report.stream.as_ref().map(|stream| stream.arn.as_str()),
        }
    }

    fn next_status(&self, outcome: Outcome<'_, Report>, now: Timestamp) -> VideoStreamStatus {
        status::next_status(
            self.status.as_ref(),
            self.meta().generation,
            &self.stream_name(),
            outcome,
            now,
        )
    }

    /// Channels storing into this VideoStream's stream wait for it to be ACTIVE (or for
    /// its new ARN): they look again as soon as its status says so.
    fn wake_dependents(&self, ctx: &Context) {
        let arn = self.status.as_ref().and_then(|s| s.stream_arn.as_deref());
        let namespace = self.namespace();
        let name = self.name_any();
        for channel in ctx.channels.known() {
            let waits = channel.namespace() == namespace
                && channel
                    .spec
                    .media_storage
                    .as_ref()
                    .is_some_and(|m| m.video_stream_name == name)
                && channel.stored_into() != arn;
            if waits {
                ctx.channels.try_trigger(ObjectRef::from(channel.as_ref()));
            }
        }
    }

    async fn list(kvs: &dyn KinesisVideo, each: &mut (dyn FnMut(Listed) + Send)) -> Result<()> {
        kvs.for_each_stream(None, &mut |s| {
            each(Listed {
                name: s.name,
                arn: s.arn,
                version: s.version,
                status: s.status,
            })
        })
        .await
    }
}

/// What a producer or consumer pod needs to find the stream, as `envFrom` variables:
/// `None` until the status holds every one of them.
pub fn coordinates(status: &VideoStreamStatus) -> Option<BTreeMap<String, String>> {
    let arn = status.stream_arn.as_deref()?;
    let (_, region) = crate::tenancy::arn_scope(arn)?;
    let endpoint = |api: &str| status.data_endpoints.get(api).cloned();
    Some(BTreeMap::from([
        ("STREAM_NAME".to_string(), status.stream_name.clone()?),
        ("STREAM_ARN".to_string(), arn.to_string()),
        ("AWS_REGION".to_string(), region.to_string()),
        ("PUT_MEDIA_ENDPOINT".to_string(), endpoint("PUT_MEDIA")?),
        ("GET_MEDIA_ENDPOINT".to_string(), endpoint("GET_MEDIA")?),
    ]))
}

/// The Event for the AWS mutation a report performed, if any.
pub fn mutation_event(report: &Report) -> Option<Event> {
    let stream = report.stream.as_ref();
    let event = match &report.step {
        Step::Created { arn } => normal("CreatedStream", "Create", format!("created stream {arn}")),
        Step::Mutated(mutation) => {
            let note = with_restored(describe_mutation(mutation, stream), &report.restored_tags);
            match mutation {
                Mutation::Adopt => normal("AdoptedStream", "Adopt", note),
                Mutation::UpdateStream { .. } => normal("UpdatedStream", "UpdateStream", note),
                Mutation::UpdateRetention { to, from, .. } if to < from => {
                    warning("DecreasedRetention", "UpdateDataRetention", note)
                }
                Mutation::UpdateRetention { .. } => {
                    normal("IncreasedRetention", "UpdateDataRetention", note)
                }
                Mutation::UpdateStorageTier(_) => normal(
                    "UpdatedStorageTier",
                    "UpdateStreamStorageConfiguration",
                    note,
                ),
                Mutation::Tags(TagChange::Untag(_)) => {
                    normal("UntaggedStream", "UntagStream", note)
                }
                Mutation::Tags(TagChange::Tag(_)) => normal("TaggedStream", "TagStream", note),
                Mutation::UpdateImageGeneration(_) => normal(
                    "UpdatedImageGeneration",
                    "UpdateImageGenerationConfiguration",
                    note,
                ),
                Mutation::UpdateNotification(_) => normal(
                    "UpdatedNotification",
                    "UpdateNotificationConfiguration",
                    note,
                ),
            }
        }
        Step::Waiting(_) | Step::InSync | Step::Observed | Step::Absent => return None,
    };
    Some(event)
}
