//! One reconcile step of a SignalingChannel against KVS: observe, plan, act.

use super::plan::{Desired, Mutation, Observed, Plan, StorageTarget, plan, plan_cleanup};
use crate::api::ChannelEndpoints;
use crate::engine::kind::CleanupStep;
use crate::engine::lifecycle::clean_up;
use std::collections::{BTreeMap, BTreeSet};

use crate::engine::ownership::{Claimed, Owner, tag_bookkeeping_of};
use crate::kvs::{Channel, KinesisVideo, MediaStorageConfig, ResourceStatus, TagRead};
use crate::{Error, Result};

/// What one reconcile did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The channel as observed at the start of the step (`None` before a create).
    pub channel: Option<Channel>,
    pub media_storage: Option<MediaStorageConfig>,
    pub step: Step,
    /// The tag keys the operator may remove from now on, when it manages tags.
    pub managed_tag_keys: Option<BTreeSet<String>>,
    /// Keys this step set back to the spec's value after someone else changed them.
    pub restored_tags: Vec<String>,
    /// Signaling endpoints, once the channel is in sync.
    pub endpoints: Option<ChannelEndpoints>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Created {
        arn: String,
    },
    Mutated(Mutation),
    Waiting(ResourceStatus),
    /// In sync but for media storage, which waits for this VideoStream's stream.
    WaitingForStream(String),
    InSync,
    Observed,
    Absent,
}

/// Reads the channel, its tags and (when managed) its media storage. Never mutates.
///
/// `read` says how fresh the tags must be: a cleanup decides from them whether the resource
/// is ours to delete or release, so it reads them from KVS, never from the cache.
pub async fn observe(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    read: TagRead,
) -> Result<Option<Observed>> {
    let Some(channel) = kvs.describe_channel(&desired.name).await? else {
        return Ok(None);
    };
    let tags = match channel.status {
        ResourceStatus::Deleting => Default::default(),
        _ => kvs.list_tags(&channel.arn, read).await?,
    };
    let media_storage = match desired.media_storage {
        Some(_) if channel.status == ResourceStatus::Active => {
            kvs.describe_media_storage(&channel.arn).await?
        }
        _ => None,
    };
    Ok(Some(Observed {
        channel,
        tags,
        media_storage,
    }))
}

/// Observes the channel and takes the one next step towards `desired`. `known` are the
/// endpoints already published for `known_arn`, reused while the channel keeps that ARN.
pub async fn sync(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    known_arn: Option<&str>,
    known: Option<&ChannelEndpoints>,
) -> Result<Report> {
    let observed = observe(kvs, desired, desired.tag_read()).await?;
    let next = plan(desired, observed.as_ref());
    let (managed_tag_keys, restored_tags) =
        tag_bookkeeping(desired, observed.as_ref().map(|o| &o.tags), &next);
    // A link goes only into a stream this namespace owns, proven by a fresh read before it
    // is made and every time a full reconcile finds it standing.
    if let Some(StorageTarget::Stream {
        arn,
        video_stream,
        owner,
    }) = &desired.media_storage
        && matches!(
            next,
            Plan::InSync | Plan::Mutate(Mutation::StoreMedia { .. })
        )
    {
        confirm_target(kvs, arn, video_stream, owner).await?;
    }
    let step = match next {
        Plan::Create(new) => Step::Created {
            arn: kvs.create_channel(&new).await?,
        },
        Plan::Wait(status) => Step::Waiting(status),
        Plan::Mutate(mutation) => {
            let Some(channel) = observed.as_ref().map(|o| &o.channel) else {
                return Err(Error::NotFound(desired.name.clone()));
            };
            apply(kvs, desired, channel, &mutation).await?;
            Step::Mutated(mutation)
        }
        Plan::NotOwned(ownership) => {
            return Err(Error::NotOwned(ownership.refusal(
                "signaling channel",
                "SignalingChannel",
                &desired.name,
            )));
        }
        Plan::Refused(refusal) => return Err(refusal.into()),
        Plan::WaitForStream(video_stream) => Step::WaitingForStream(video_stream),
        Plan::InSync => Step::InSync,
        Plan::Observed => Step::Observed,
        Plan::Absent => Step::Absent,
    };
    let settled = matches!(
        step,
        Step::InSync | Step::Observed | Step::WaitingForStream(_)
    );
    let endpoints = match (&observed, settled) {
        (Some(o), true) if known_arn == Some(o.channel.arn.as_str()) && known.is_some() => {
            known.cloned()
        }
        (Some(o), true) => Some(kvs.channel_endpoints(&o.channel.arn).await?),
        _ => None,
    };
    Ok(Report {
        media_storage: observed.as_ref().and_then(|o| o.media_storage.clone()),
        channel: observed.map(|o| o.channel),
        step,
        endpoints,
        managed_tag_keys,
        restored_tags,
    })
}

/// Performs one mutation with the version just observed.
async fn apply(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    channel: &Channel,
    mutation: &Mutation,
) -> Result<()> {
    let claimed = claimed(kvs, &channel.arn, &desired.name);
    match mutation {
        Mutation::Adopt => claimed.claim(&desired.owner).await,
        Mutation::UpdateTtl { to, .. } => {
            kvs.update_channel(&channel.arn, &channel.version, *to)
                .await
        }
        Mutation::Tags(change) => change.apply(kvs, &channel.arn).await,
        Mutation::StoreMedia { stream_arn } => {
            let config = MediaStorageConfig {
                stream_arn: Some(stream_arn.clone()),
                enabled: true,
            };
            kvs.update_media_storage(&channel.arn, &config).await
        }
    }
}

/// Runs one cleanup step. A channel that is not ours is never touched.
pub async fn cleanup(kvs: &dyn KinesisVideo, desired: &Desired) -> Result<CleanupStep> {
    let desired = Desired {
        media_storage: None,
        ..desired.clone()
    };
    let observed = observe(kvs, &desired, TagRead::Fresh).await?;
    let plan = plan_cleanup(&desired, observed.as_ref());
    let Some(channel) = observed.map(|o| o.channel) else {
        return Ok(CleanupStep::Done);
    };
    let claimed = claimed(kvs, &channel.arn, &desired.name);
    clean_up(plan, &claimed, &desired.owner, async || {
        kvs.delete_channel(&channel.arn, &channel.version).await
    })
    .await
}

/// A short description of a mutation, for events and logs.
pub fn describe_mutation(mutation: &Mutation) -> String {
    match mutation {
        Mutation::Adopt => {
            "adopted the existing signaling channel (wrote the owner and cluster tags)".to_string()
        }
        Mutation::UpdateTtl { from, to } => match from {
            Some(from) => format!("changed the message TTL from {from}s to {to}s"),
            None => format!("set the message TTL to {to}s"),
        },
        Mutation::Tags(change) => change.describe(),
        Mutation::StoreMedia { stream_arn } => format!("storing the media into {stream_arn}"),
    }
}

/// Fails with MediaStorageNotPermitted unless the stream at `arn` carries `owner`'s tags,
/// read fresh from KVS.
pub async fn confirm_target(
    kvs: &dyn KinesisVideo,
    arn: &str,
    video_stream: &str,
    owner: &Owner,
) -> Result<()> {
    let stream = Claimed {
        kvs,
        arn,
        noun: "stream",
        owner_kind: "VideoStream",
        name: video_stream,
    };
    match stream.confirm(owner).await {
        Err(Error::NotOwned(why)) => Err(Error::MediaStorageNotPermitted(format!(
            "spec.mediaStorage names VideoStream {video_stream}, but its stream is not this namespace's ({why}); a channel stores media only into a stream its namespace owns, and nothing is linked"
        ))),
        other => other,
    }
}

/// Resolves where the media of a channel goes, from its VideoStream as last reconciled:
/// refused (no AWS call) when the VideoStream is missing, keeps no data, or only observes
/// its stream (what it does not own, the namespace may not write into).
pub fn storage_target(
    video_stream: Option<&crate::api::VideoStream>,
    name: &str,
    cluster: &str,
) -> Result<StorageTarget> {
    let Some(vs) = video_stream else {
        return Err(Error::MediaStorageNotReady(format!(
            "spec.mediaStorage names VideoStream {name}, which does not exist in this namespace"
        )));
    };
    if vs.spec.management_policy != crate::api::ManagementPolicy::Full {
        return Err(Error::MediaStorageNotPermitted(format!(
            "spec.mediaStorage names VideoStream {name}, which only observes its stream (managementPolicy ObserveOnly); a channel stores media only into a stream its namespace owns (managementPolicy Full)"
        )));
    }
    let status = vs.status.as_ref();
    let retention = vs
        .spec
        .data_retention_in_hours
        .or(status.and_then(|s| s.data_retention_in_hours));
    if retention == Some(0) {
        return Err(Error::MediaStorageNeedsRetention(format!(
            "VideoStream {name} keeps no data (dataRetentionInHours 0); Kinesis Video Streams stores a signaling channel's media only into a stream that keeps it"
        )));
    }
    let active = status.and_then(|s| s.aws_status.as_deref()) == Some("ACTIVE");
    match status.and_then(|s| s.stream_arn.clone()) {
        Some(arn) if active => Ok(StorageTarget::Stream {
            arn,
            video_stream: name.to_string(),
            owner: Owner::of(vs, cluster),
        }),
        _ => Ok(StorageTarget::Pending(name.to_string())),
    }
}

/// The signaling channel at `arn`, for ownership checks and claims.
fn claimed<'a>(kvs: &'a dyn KinesisVideo, arn: &'a str, name: &'a str) -> Claimed<'a> {
    Claimed {
        kvs,
        arn,
        noun: "signaling channel",
        owner_kind: "SignalingChannel",
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
