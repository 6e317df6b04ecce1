//! One reconcile step against KVS: observe, plan, act. Knows nothing of Kubernetes.
//!
//! The controller turns the [`Report`] (or the error) into status, conditions, events and
//! a requeue; the component tests drive these functions against the emulator directly.

use std::collections::BTreeMap;

use crate::api::StorageTier;
use std::time::Duration;

use crate::kvs::{
    KinesisVideo, PUBLISHED_ENDPOINT_APIS, RetentionChange, Stream, StreamStatus, TagRead,
};
use crate::plan::{
    Blocker, CleanupPlan, Desired, Mutation, Observed, Ownership, Plan, ownership, plan,
    plan_cleanup,
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
    /// Data-plane endpoints, once the stream is in sync.
    pub endpoints: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Created { arn: String },
    Mutated(Mutation),
    Waiting(StreamStatus),
    InSync,
}

/// Reads the stream, its tags and (when managed) its storage tier. Never mutates.
pub async fn observe(kvs: &dyn KinesisVideo, desired: &Desired) -> Result<Option<Observed>> {
    let Some(stream) = kvs.describe_stream(&desired.name).await? else {
        return Ok(None);
    };
    // The plan waits for a stream being deleted whoever owns it: its tags are not needed.
    let tags = match stream.status {
        StreamStatus::Deleting => BTreeMap::new(),
        _ => kvs.list_tags(&stream.arn, TagRead::Cached).await?,
    };
    let storage_tier = match desired.storage_tier {
        Some(_) if stream.status == StreamStatus::Active => {
            kvs.describe_storage_tier(&stream.arn).await?
        }
        _ => None,
    };
    Ok(Some(Observed {
        stream,
        tags,
        storage_tier,
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
    let observed = observe(kvs, desired).await?;
    let step = match plan(desired, observed.as_ref()) {
        Plan::Create(new) => Step::Created {
            arn: kvs.create_stream(&new).await?,
        },
        Plan::Wait(status) => Step::Waiting(status),
        Plan::Mutate(mutation) => {
            let stream = observed.as_ref().map(|o| &o.stream);
            let Some(stream) = stream else {
                return Err(Error::NotFound(desired.name.clone()));
            };
            apply(kvs, desired, stream, &mutation).await?;
            Step::Mutated(mutation)
        }
        Plan::Blocked(blocker) => return Err(blocked_error(&blocker, &desired.name)),
        Plan::InSync => Step::InSync,
    };
    let endpoints = match (&step, &observed) {
        (Step::InSync, Some(o)) => {
            endpoints(kvs, &o.stream.arn, known_arn, known_endpoints).await?
        }
        _ => BTreeMap::new(),
    };
    Ok(Report {
        storage_tier: observed.as_ref().and_then(|o| o.storage_tier),
        stream: observed.map(|o| o.stream),
        step,
        endpoints,
    })
}

fn blocked_error(blocker: &Blocker, stream: &str) -> Error {
    match blocker {
        Blocker::NotOwned(_) => Error::NotOwned(blocker.message(stream)),
        Blocker::KmsKeyDiffers { .. } => Error::Immutable(blocker.message(stream)),
    }
}

/// How long a claim settles before it is read back. Two claimants that both read the
/// stream unowned write their tags at about the same time; reading back only after both
/// writes have landed lets exactly one of them (the last writer) see its own tags.
pub const CLAIM_SETTLE: Duration = Duration::from_secs(1);

/// Performs one mutation with the version just observed.
async fn apply(
    kvs: &dyn KinesisVideo,
    desired: &Desired,
    stream: &Stream,
    mutation: &Mutation,
) -> Result<()> {
    let (arn, version) = (stream.arn.as_str(), stream.version.as_str());
    match mutation {
        Mutation::Adopt => adopt(kvs, desired, stream).await,
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
                confirm_ours(kvs, desired, stream).await?;
            }
            kvs.update_data_retention(arn, version, *change).await
        }
        Mutation::UpdateStorageTier(tier) => kvs.update_storage_tier(arn, version, *tier).await,
        Mutation::Untag(keys) => kvs.untag_stream(arn, keys).await,
        Mutation::Tag(tags) => kvs.tag_stream(arn, tags).await,
    }
}

/// Claims an unowned stream: checks it is still unowned, writes the ownership tags, lets
/// the claim settle and reads it back. A claimant that finds another's tags has lost: it
/// reports NotOwned and changes nothing more (its own claim was overwritten by the winner).
async fn adopt(kvs: &dyn KinesisVideo, desired: &Desired, stream: &Stream) -> Result<()> {
    let before = kvs.list_tags(&stream.arn, TagRead::Fresh).await?;
    let found = ownership(&before, desired);
    if found != Ownership::Unowned {
        return Err(not_owned(found, &desired.name));
    }
    kvs.tag_stream(&stream.arn, &desired.ownership_tags())
        .await?;
    tokio::time::sleep(CLAIM_SETTLE).await;
    confirm_ours(kvs, desired, stream).await
}

/// Reads the tags from KVS, bypassing every cache, and fails with NotOwned unless both
/// ownership tags are ours.
async fn confirm_ours(kvs: &dyn KinesisVideo, desired: &Desired, stream: &Stream) -> Result<()> {
    let tags = kvs.list_tags(&stream.arn, TagRead::Fresh).await?;
    match ownership(&tags, desired) {
        Ownership::Ours => Ok(()),
        other => Err(not_owned(other, &desired.name)),
    }
}

fn not_owned(found: Ownership, stream: &str) -> Error {
    Error::NotOwned(Blocker::NotOwned(found).message(stream))
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

/// What one cleanup pass did.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupStep {
    /// Nothing left at AWS for this VideoStream: the finalizer may go.
    Done,
    /// Waiting for the stream to settle or disappear.
    Waiting(StreamStatus),
    /// DeleteStream was called.
    Deleted { arn: String },
    /// Our ownership tags were removed; the stream stays.
    Released { arn: String },
}

/// Runs one cleanup step. A stream that is not ours is never touched.
pub async fn cleanup(kvs: &dyn KinesisVideo, desired: &Desired) -> Result<CleanupStep> {
    let mut desired = desired.clone();
    // Cleanup needs no storage tier: don't spend a call on it.
    desired.storage_tier = None;
    let observed = observe(kvs, &desired).await?;
    let plan = plan_cleanup(&desired, observed.as_ref());
    let stream = observed.map(|o| o.stream);
    let step = match (plan, stream) {
        (CleanupPlan::Done, _) | (_, None) => CleanupStep::Done,
        (CleanupPlan::Wait(status), _) => CleanupStep::Waiting(status),
        // Ownership was planned from remembered tags: read it fresh before acting.
        (CleanupPlan::Delete, Some(stream)) => match confirm_ours(kvs, &desired, &stream).await {
            Ok(()) => {
                kvs.delete_stream(&stream.arn, &stream.version).await?;
                CleanupStep::Deleted { arn: stream.arn }
            }
            // Someone else's after all: never touched, and nothing left for us to do.
            Err(Error::NotOwned(_)) => CleanupStep::Done,
            Err(other) => return Err(other),
        },
        (CleanupPlan::Release, Some(stream)) => match confirm_ours(kvs, &desired, &stream).await {
            Ok(()) => {
                let keys: Vec<String> = desired.ownership_tags().into_keys().collect();
                kvs.untag_stream(&stream.arn, &keys).await?;
                CleanupStep::Released { arn: stream.arn }
            }
            Err(Error::NotOwned(_)) => CleanupStep::Done,
            Err(other) => return Err(other),
        },
    };
    Ok(step)
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
        Mutation::Untag(keys) => format!("removed tags {}", keys.join(", ")),
        Mutation::Tag(tags) => {
            let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
            format!("set tags {}", keys.join(", "))
        }
    }
}
