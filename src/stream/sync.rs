//! One reconcile step of a VideoStream against KVS: observe, plan, act. Knows nothing of
//! Kubernetes: the engine turns the [`Report`] (or the error) into status, conditions,
//! Events and a requeue, and the component tests drive these functions against the
//! emulator directly.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Blocker, Desired, Mutation, Observed, Plan, plan, plan_cleanup};
use crate::api::StorageTier;
use crate::engine::kind::CleanupStep;
use crate::engine::lifecycle::clean_up;
use crate::engine::ownership::{Claimed, tag_bookkeeping_of};
use crate::kvs::{
    KinesisVideo, PUBLISHED_ENDPOINT_APIS, ResourceStatus, RetentionChange, Stream, TagRead,
};
use crate::{Error, Result};

/// What one reconcile did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The stream as observed at the start of the step (`None` before a create).
    pub stream: Option<Stream>,
    /// The storage tier, when the spec manages it.
    pub storage_tier: Option<StorageTier>,
    pub step: Step,
    /// The tag keys the operator may remove from now on, when it manages tags.
    pub managed_tag_keys: Option<BTreeSet<String>>,
    /// Keys this step set back to the spec's value after someone else changed them.
    pub restored_tags: Vec<String>,
    /// Data-plane endpoints, once the stream is in sync.
    pub endpoints: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Created {
        arn: String,
    },
    Mutated(Mutation),
    Waiting(ResourceStatus),
    InSync,
    /// ObserveOnly: the stream is there (whatever differs is only reported).
    Observed,
    /// ObserveOnly: there is no such stream.
    Absent,
}

/// Reads the stream, its tags and what else the spec manages. Never mutates.
///
/// `read` says how fresh the tags must be: a cleanup decides from them whether the resource
/// is ours to delete or release, so it reads them from KVS, never from the cache.
pub async fn observe(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    read: TagRead,
) -> Result<Option<Observed>> {
    let Some(stream) = kvs.describe_stream(&desired.name).await? else {
        return Ok(None);
    };
    let active = stream.status == ResourceStatus::Active;
    // The plan waits for a stream being deleted whoever owns it: its tags are not needed.
    let tags = match stream.status {
        ResourceStatus::Deleting => BTreeMap::new(),
        _ => kvs.list_tags(&stream.arn, read).await?,
    };
    let storage_tier = match desired.storage_tier {
        Some(_) if active => kvs.describe_storage_tier(&stream.arn).await?,
        _ => None,
    };
    let image_generation = match desired.image_generation {
        Some(_) if active => kvs.describe_image_generation(&stream.arn).await?,
        _ => None,
    };
    let notification = match desired.notification {
        Some(_) if active => kvs.describe_notification(&stream.arn).await?,
        _ => None,
    };
    Ok(Some(Observed {
        stream,
        tags,
        storage_tier,
        image_generation,
        notification,
    }))
}

/// Observes the stream and takes the one next step towards `desired`.
///
/// `known_endpoints` are the endpoints already published for `known_arn`; they are reused
/// rather than asked for again while the stream keeps that ARN.
pub async fn sync(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    known_arn: Option<&str>,
    known_endpoints: &BTreeMap<String, String>,
) -> Result<Report> {
    let observed = observe(kvs, desired, desired.tag_read()).await?;
    let next = plan(desired, observed.as_ref());
    let (managed_tag_keys, restored_tags) =
        tag_bookkeeping(desired, observed.as_ref().map(|o| &o.tags), &next);
    let step = match next {
        Plan::Create(new) => Step::Created {
            arn: kvs.create_stream(&new).await?,
        },
        Plan::Wait(status) => Step::Waiting(status),
        Plan::Mutate(mutation) => {
            let Some(stream) = observed.as_ref().map(|o| &o.stream) else {
                return Err(Error::NotFound(desired.name.clone()));
            };
            apply(kvs, desired, stream, &mutation).await?;
            Step::Mutated(mutation)
        }
        Plan::Blocked(blocker) => return Err(blocked_error(&blocker, &desired.name)),
        Plan::InSync => Step::InSync,
        Plan::Observed => Step::Observed,
        Plan::Absent => Step::Absent,
    };
    let endpoints = match (&step, &observed) {
        (Step::InSync | Step::Observed, Some(o)) => {
            endpoints(kvs, &o.stream.arn, known_arn, known_endpoints).await?
        }
        _ => BTreeMap::new(),
    };
    Ok(Report {
        storage_tier: observed.as_ref().and_then(|o| o.storage_tier),
        stream: observed.map(|o| o.stream),
        step,
        endpoints,
        managed_tag_keys,
        restored_tags,
    })
}

fn blocked_error(blocker: &Blocker, stream: &str) -> Error {
    match blocker {
        Blocker::NotOwned(_) => Error::NotOwned(blocker.message(stream)),
        Blocker::KmsKeyDiffers { .. } => Error::Immutable(blocker.message(stream)),
        Blocker::Refused(refusal) => refusal.clone().into(),
    }
}

/// Performs one mutation with the version just observed.
async fn apply(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    stream: &Stream,
    mutation: &Mutation,
) -> Result<()> {
    let (arn, version) = (stream.arn.as_str(), stream.version.as_str());
    let claimed = claimed(kvs, arn, &desired.name);
    match mutation {
        Mutation::Adopt => claimed.claim(&desired.owner).await,
        Mutation::UpdateStream {
            device_name,
            media_type,
        } => {
            kvs.update_stream(arn, version, device_name.as_deref(), media_type.as_deref())
                .await
        }
        Mutation::UpdateRetention { change, .. } => {
            // A decrease drops stored video: only on a stream that is ours right now.
            if let RetentionChange::Decrease(_) = change {
                claimed.confirm(&desired.owner).await?;
            }
            kvs.update_data_retention(arn, version, *change).await
        }
        Mutation::UpdateStorageTier(tier) => kvs.update_storage_tier(arn, version, *tier).await,
        Mutation::Tags(change) => change.apply(kvs, arn).await,
        Mutation::UpdateImageGeneration(config) => kvs.update_image_generation(arn, config).await,
        Mutation::UpdateNotification(config) => kvs.update_notification(arn, config).await,
    }
}

/// The published data endpoints: reused while the ARN is unchanged, otherwise fetched.
async fn endpoints(
    kvs: &dyn KinesisVideo,
    arn: &str,
    known_arn: Option<&str>,
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let complete = PUBLISHED_ENDPOINT_APIS
        .iter()
        .all(|api| known.contains_key(*api));
    if known_arn == Some(arn) && complete {
        return Ok(known.clone());
    }
    let mut fresh = BTreeMap::new();
    for api in PUBLISHED_ENDPOINT_APIS {
        fresh.insert(api.to_string(), kvs.get_data_endpoint(arn, api).await?);
    }
    Ok(fresh)
}

/// Runs one cleanup step. A stream that is not ours is never touched.
pub async fn cleanup(kvs: &dyn KinesisVideo, desired: &Desired) -> Result<CleanupStep> {
    // Cleanup needs no configurations: don't spend calls on them.
    let desired = Desired {
        storage_tier: None,
        image_generation: None,
        notification: None,
        ..desired.clone()
    };
    let observed = observe(kvs, &desired, TagRead::Fresh).await?;
    let plan = plan_cleanup(&desired, observed.as_ref());
    let Some(stream) = observed.map(|o| o.stream) else {
        return Ok(CleanupStep::Done);
    };
    let claimed = claimed(kvs, &stream.arn, &desired.name);
    clean_up(plan, &claimed, &desired.owner, async || {
        kvs.delete_stream(&stream.arn, &stream.version).await
    })
    .await
}

/// A short description of a mutation, for events and logs.
pub fn describe_mutation(mutation: &Mutation, stream: Option<&Stream>) -> String {
    match mutation {
        Mutation::Adopt => {
            "adopted the existing stream (wrote the owner and cluster tags)".to_string()
        }
        Mutation::UpdateStream {
            device_name,
            media_type,
        } => {
            let mut parts = Vec::new();
            if let Some(device) = device_name {
                let old = stream
                    .and_then(|s| s.device_name.as_deref())
                    .unwrap_or("none");
                if old != device {
                    parts.push(format!("device name {old} -> {device}"));
                }
            }
            if let Some(media) = media_type {
                let old = stream
                    .and_then(|s| s.media_type.as_deref())
                    .unwrap_or("none");
                if old != media {
                    parts.push(format!("media type {old} -> {media}"));
                }
            }
            format!("updated {}", parts.join(", "))
        }
        Mutation::UpdateRetention {
            from,
            to,
            change: RetentionChange::Increase(_),
        } => format!("increased data retention from {from}h to {to}h"),
        Mutation::UpdateRetention {
            from,
            to,
            change: RetentionChange::Decrease(hours),
        } => format!(
            "decreased data retention from {from}h to {to}h: Kinesis Video Streams deletes data older than {to}h now, dropping up to {hours}h of stored video"
        ),
        Mutation::UpdateStorageTier(tier) => {
            format!("set the default storage tier to {}", tier.as_str())
        }
        Mutation::Tags(change) => change.describe(),
        Mutation::UpdateImageGeneration(config) => format!(
            "set image generation {}: {} every {} ms into {}",
            config.status.as_str(),
            config.format.as_str(),
            config.sampling_interval,
            config.destination_uri
        ),
        Mutation::UpdateNotification(config) => format!(
            "set notifications {}: to {}",
            config.status.as_str(),
            config.destination_uri
        ),
    }
}

/// The stream at `arn`, for ownership checks and claims.
fn claimed<'a>(kvs: &'a dyn KinesisVideo, arn: &'a str, name: &'a str) -> Claimed<'a> {
    Claimed {
        kvs,
        arn,
        noun: "stream",
        owner_kind: "VideoStream",
        name,
    }
}

/// The tag keys the operator may remove after this step, and those it puts back.
fn tag_bookkeeping(
    desired: &Desired,
    have: Option<&BTreeMap<String, String>>,
    next: &Plan,
) -> (Option<BTreeSet<String>>, Vec<String>) {
    let change = match next {
        Plan::Mutate(Mutation::Tags(change)) => Some(change),
        _ => None,
    };
    let managed = (desired.management_policy == crate::api::ManagementPolicy::Full)
        .then_some(desired.tags.as_ref())
        .flatten();
    tag_bookkeeping_of(managed, &desired.managed_tag_keys, have, change)
}
