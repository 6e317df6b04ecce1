//! Every KVS call the controller would make for one object, in order: the kind's own
//! planner (the one the controller runs, one step at a time) asked again and again, each
//! step's effect applied to what was observed, until the planner says in sync. Pure: the
//! observation comes in, the calls go out.
//!
//! The effect of a call is only what the call itself sets (a new retention, the tags it
//! writes); nothing here decides anything the planners do not.

use crate::tenancy::Refusal;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{DeletionPolicy, StorageTier};
use crate::channel::plan as channel;
use crate::engine::lifecycle::CleanupPlan;
use crate::engine::ownership::TagChange;
use crate::kvs::{Channel, MediaStorageConfig, ResourceStatus, RetentionChange, Stream};
use crate::stream::plan as stream;

/// What the ARN of a resource the plan would create is shown as.
pub const NEW_ARN: &str = "(known after create)";

/// A guard against a planner that never settles on simulated state.
const MAX_STEPS: usize = 32;

/// One KVS call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// The KVS operation, as AWS names it (`UpdateDataRetention`).
    pub operation: &'static str,
    /// What it changes.
    pub changes: Vec<Change>,
    /// Why it cannot be undone, if it cannot: video dropped, a resource deleted or taken
    /// over or let go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive: Option<String>,
}

/// One field a call changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl Change {
    fn new(field: impl Into<String>, from: Option<String>, to: Option<String>) -> Self {
        Self {
            field: field.into(),
            from,
            to,
        }
    }
}

/// How the calls end.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The resource is (then) as the spec says.
    InSync,
    /// ObserveOnly: nothing is ever called.
    Observed { exists: bool },
    /// The planner refuses to go on: (the condition reason, its message).
    Blocked {
        reason: &'static str,
        message: String,
    },
    /// Waits for something outside this plan (a VideoStream's stream, say).
    Waits(String),
}

/// The calls and how they end.
#[derive(Debug, Clone, PartialEq)]
pub struct Steps {
    pub calls: Vec<Call>,
    pub end: End,
    /// What the controller waits for between the calls (KVS finishing an update, ...).
    pub waits: Vec<String>,
}

impl Steps {
    fn new() -> Self {
        Self {
            calls: Vec::new(),
            end: End::InSync,
            waits: Vec::new(),
        }
    }
}

fn text(value: impl ToString) -> Option<String> {
    Some(value.to_string())
}

/// The calls that take a stream from `observed` to `desired`.
pub fn stream_steps(desired: &stream::Desired, observed: Option<stream::Observed>) -> Steps {
    let mut observed = observed;
    let mut steps = Steps::new();
    for _ in 0..MAX_STEPS {
        match stream::plan(desired, observed.as_ref()) {
            stream::Plan::Create(new) => {
                steps.calls.push(create_stream_call(&new));
                observed = Some(created_stream(desired, &new));
            }
            stream::Plan::Wait(status) => {
                steps
                    .waits
                    .push(format!("KVS to finish {}", status.as_str()));
                observed = settled(observed, |o| &mut o.stream.status, status);
            }
            stream::Plan::Mutate(mutation) => {
                let Some(current) = observed.as_mut() else {
                    break;
                };
                steps.calls.push(stream_call(&mutation, current, desired));
                apply_stream(&mutation, current, desired);
            }
            stream::Plan::Blocked(blocker) => {
                let reason = match &blocker {
                    stream::Blocker::NotOwned(_) => "NotOwned",
                    stream::Blocker::KmsKeyDiffers { .. } => "Immutable",
                    stream::Blocker::Refused(refusal) => refusal_reason(refusal),
                };
                steps.end = End::Blocked {
                    reason,
                    message: blocker.message(&desired.name),
                };
                return steps;
            }
            stream::Plan::InSync => return steps,
            stream::Plan::Observed => {
                steps.end = End::Observed { exists: true };
                return steps;
            }
            stream::Plan::Absent => {
                steps.end = End::Observed { exists: false };
                return steps;
            }
        }
    }
    steps.end = End::Waits("the planner did not settle".into());
    steps
}

/// What a resource is once KVS finished what it was doing: gone when it was being
/// deleted, ACTIVE otherwise.
fn settled<O>(
    observed: Option<O>,
    status: impl Fn(&mut O) -> &mut ResourceStatus,
    was: ResourceStatus,
) -> Option<O> {
    if was == ResourceStatus::Deleting {
        return None;
    }
    observed.map(|mut o| {
        *status(&mut o) = ResourceStatus::Active;
        o
    })
}

fn create_stream_call(new: &crate::kvs::NewStream) -> Call {
    let mut changes = vec![Change::new("streamName", None, text(&new.name))];
    let optional = [
        ("deviceName", new.device_name.clone()),
        ("mediaType", new.media_type.clone()),
        ("kmsKeyId", new.kms_key_id.clone()),
        (
            "dataRetentionInHours",
            new.data_retention_in_hours.map(|h| h.to_string()),
        ),
        (
            "storageTier",
            new.storage_tier.map(|t| t.as_str().to_string()),
        ),
    ];
    for (field, value) in optional {
        if value.is_some() {
            changes.push(Change::new(field, None, value));
        }
    }
    changes.extend(
        new.tags
            .iter()
            .map(|(k, v)| Change::new(format!("tags.{k}"), None, text(v))),
    );
    Call {
        operation: "CreateStream",
        changes,
        destructive: None,
    }
}

/// The stream KVS reports once CreateStream for `new` is done.
fn created_stream(desired: &stream::Desired, new: &crate::kvs::NewStream) -> stream::Observed {
    stream::Observed {
        stream: Stream {
            name: new.name.clone(),
            arn: NEW_ARN.into(),
            version: String::new(),
            status: ResourceStatus::Active,
            device_name: new.device_name.clone(),
            media_type: new.media_type.clone(),
            kms_key_id: new.kms_key_id.clone(),
            data_retention_in_hours: new.data_retention_in_hours.unwrap_or(0),
            creation_time: None,
        },
        tags: new.tags.clone(),
        // Observed only when the spec manages it, as the controller does.
        storage_tier: desired
            .storage_tier
            .map(|_| new.storage_tier.unwrap_or(StorageTier::Hot)),
        image_generation: None,
        notification: None,
    }
}

fn tag_call(change: &TagChange, have: &BTreeMap<String, String>, noun: Noun) -> Call {
    match change {
        TagChange::Untag(keys) => Call {
            operation: noun.untag(),
            changes: keys
                .iter()
                .map(|k| Change::new(format!("tags.{k}"), have.get(k).cloned(), None))
                .collect(),
            destructive: None,
        },
        TagChange::Tag(tags) => Call {
            operation: noun.tag(),
            changes: tags
                .iter()
                .map(|(k, v)| Change::new(format!("tags.{k}"), have.get(k).cloned(), text(v)))
                .collect(),
            destructive: None,
        },
    }
}

fn apply_tags(change: &TagChange, tags: &mut BTreeMap<String, String>) {
    match change {
        TagChange::Untag(keys) => keys.iter().for_each(|k| {
            tags.remove(k);
        }),
        TagChange::Tag(new) => tags.extend(new.clone()),
    }
}

fn stream_call(
    mutation: &stream::Mutation,
    have: &stream::Observed,
    desired: &stream::Desired,
) -> Call {
    use stream::Mutation as M;
    let s = &have.stream;
    let single = |operation, changes| Call {
        operation,
        changes,
        destructive: None,
    };
    match mutation {
        M::Adopt => Call {
            operation: "TagStream",
            changes: ownership_changes(&desired.owner, &have.tags),
            destructive: Some(format!(
                "adopts stream {}, which exists and is not owned by any object: from now on the operator changes it{}",
                s.name,
                deletes_with_object(desired.deletion_policy)
            )),
        },
        M::UpdateStream {
            device_name,
            media_type,
        } => {
            let mut changes = Vec::new();
            if device_name.is_some() && *device_name != s.device_name {
                changes.push(Change::new(
                    "deviceName",
                    s.device_name.clone(),
                    device_name.clone(),
                ));
            }
            if media_type.is_some() && *media_type != s.media_type {
                changes.push(Change::new(
                    "mediaType",
                    s.media_type.clone(),
                    media_type.clone(),
                ));
            }
            single("UpdateStream", changes)
        }
        M::UpdateRetention { from, to, change } => Call {
            operation: "UpdateDataRetention",
            changes: vec![Change::new("dataRetentionInHours", text(from), text(to))],
            destructive: match change {
                RetentionChange::Decrease(hours) => Some(format!(
                    "a retention decrease: KVS deletes the video older than {to}h at once, up to {hours}h of it"
                )),
                RetentionChange::Increase(_) => None,
            },
        },
        M::UpdateStorageTier(tier) => single(
            "UpdateStreamStorageConfiguration",
            vec![Change::new(
                "storageTier",
                have.storage_tier.map(|t| t.as_str().to_string()),
                text(tier.as_str()),
            )],
        ),
        M::Tags(change) => tag_call(change, &have.tags, Noun::Stream),
        M::UpdateImageGeneration(config) => single(
            "UpdateImageGenerationConfiguration",
            vec![Change::new(
                "imageGeneration",
                have.image_generation.as_ref().map(describe_json),
                text(describe_json(config)),
            )],
        ),
        M::UpdateNotification(config) => single(
            "UpdateNotificationConfiguration",
            vec![Change::new(
                "notification",
                have.notification.as_ref().map(describe_json),
                text(describe_json(config)),
            )],
        ),
    }
}

fn apply_stream(
    mutation: &stream::Mutation,
    have: &mut stream::Observed,
    desired: &stream::Desired,
) {
    use stream::Mutation as M;
    let s = &mut have.stream;
    match mutation {
        M::Adopt => have.tags.extend(desired.owner.tags()),
        M::UpdateStream {
            device_name,
            media_type,
        } => {
            if device_name.is_some() {
                s.device_name = device_name.clone();
            }
            if media_type.is_some() {
                s.media_type = media_type.clone();
            }
        }
        M::UpdateRetention { to, .. } => s.data_retention_in_hours = *to,
        M::UpdateStorageTier(tier) => have.storage_tier = Some(*tier),
        M::Tags(change) => apply_tags(change, &mut have.tags),
        M::UpdateImageGeneration(config) => have.image_generation = Some(config.clone()),
        M::UpdateNotification(config) => have.notification = Some(config.clone()),
    }
}

/// The calls that take a channel from `observed` to `desired`. `stream_arn` is where its
/// media storage goes once the VideoStream it names is ACTIVE (`None`: that stream is not
/// known to become ACTIVE).
pub fn channel_steps(
    desired: &channel::Desired,
    observed: Option<channel::Observed>,
    stream_arn: Option<&str>,
) -> Steps {
    let mut desired = desired.clone();
    let mut observed = observed;
    let mut steps = Steps::new();
    for _ in 0..MAX_STEPS {
        match channel::plan(&desired, observed.as_ref()) {
            channel::Plan::Create(new) => {
                let mut changes = vec![
                    Change::new("channelName", None, text(&new.name)),
                    Change::new("messageTtlSeconds", None, text(new.message_ttl_seconds)),
                ];
                changes.extend(
                    new.tags
                        .iter()
                        .map(|(k, v)| Change::new(format!("tags.{k}"), None, text(v))),
                );
                steps.calls.push(Call {
                    operation: "CreateSignalingChannel",
                    changes,
                    destructive: None,
                });
                observed = Some(channel::Observed {
                    channel: Channel {
                        name: new.name.clone(),
                        arn: NEW_ARN.into(),
                        version: String::new(),
                        status: ResourceStatus::Active,
                        message_ttl_seconds: Some(new.message_ttl_seconds),
                        creation_time: None,
                    },
                    tags: new.tags.clone(),
                    media_storage: None,
                });
            }
            channel::Plan::Wait(status) => {
                steps
                    .waits
                    .push(format!("KVS to finish {}", status.as_str()));
                observed = settled(observed, |o| &mut o.channel.status, status);
            }
            channel::Plan::Mutate(mutation) => {
                let Some(current) = observed.as_mut() else {
                    break;
                };
                steps.calls.push(channel_call(&mutation, current, &desired));
                apply_channel(&mutation, current, &desired);
            }
            channel::Plan::Refused(refusal) => {
                steps.end = End::Blocked {
                    reason: refusal_reason(&refusal),
                    message: match &refusal {
                        Refusal::NameNotPermitted(m) | Refusal::AdoptionNotPermitted(m) => {
                            m.clone()
                        }
                    },
                };
                return steps;
            }
            channel::Plan::NotOwned(ownership) => {
                steps.end = End::Blocked {
                    reason: "NotOwned",
                    message: ownership.refusal(
                        "signaling channel",
                        "SignalingChannel",
                        &desired.name,
                    ),
                };
                return steps;
            }
            channel::Plan::WaitForStream(video_stream) => match stream_arn {
                Some(arn) => {
                    steps
                        .waits
                        .push(format!("VideoStream {video_stream}'s stream to be ACTIVE"));
                    // Only the planner reads it: the ownership read is the controller's, at
                    // the link.
                    desired.media_storage = Some(channel::StorageTarget::Stream {
                        arn: arn.to_string(),
                        video_stream: video_stream.clone(),
                        owner: crate::engine::ownership::Owner::default(),
                    });
                }
                None => {
                    steps.end = End::Waits(format!(
                        "media storage waits for VideoStream {video_stream}'s stream to be ACTIVE"
                    ));
                    return steps;
                }
            },
            channel::Plan::InSync => return steps,
            channel::Plan::Observed => {
                steps.end = End::Observed { exists: true };
                return steps;
            }
            channel::Plan::Absent => {
                steps.end = End::Observed { exists: false };
                return steps;
            }
        }
    }
    steps.end = End::Waits("the planner did not settle".into());
    steps
}

fn channel_call(
    mutation: &channel::Mutation,
    have: &channel::Observed,
    desired: &channel::Desired,
) -> Call {
    use channel::Mutation as M;
    match mutation {
        M::Adopt => Call {
            operation: "TagResource",
            changes: ownership_changes(&desired.owner, &have.tags),
            destructive: Some(format!(
                "adopts signaling channel {}, which exists and is not owned by any object: from now on the operator changes it{}",
                have.channel.name,
                deletes_with_object(desired.deletion_policy)
            )),
        },
        M::UpdateTtl { from, to } => Call {
            operation: "UpdateSignalingChannel",
            changes: vec![Change::new(
                "messageTtlSeconds",
                from.map(|f| f.to_string()),
                text(to),
            )],
            destructive: None,
        },
        M::Tags(change) => tag_call(change, &have.tags, Noun::Channel),
        M::StoreMedia { stream_arn } => Call {
            operation: "UpdateMediaStorageConfiguration",
            changes: vec![Change::new(
                "mediaStorage.streamARN",
                have.media_storage
                    .as_ref()
                    .and_then(|m| m.stream_arn.clone()),
                text(stream_arn),
            )],
            destructive: None,
        },
    }
}

fn apply_channel(
    mutation: &channel::Mutation,
    have: &mut channel::Observed,
    desired: &channel::Desired,
) {
    use channel::Mutation as M;
    match mutation {
        M::Adopt => have.tags.extend(desired.owner.tags()),
        M::UpdateTtl { to, .. } => have.channel.message_ttl_seconds = Some(*to),
        M::Tags(change) => apply_tags(change, &mut have.tags),
        M::StoreMedia { stream_arn } => {
            have.media_storage = Some(MediaStorageConfig {
                stream_arn: Some(stream_arn.clone()),
                enabled: true,
            })
        }
    }
}

/// The calls of the cleanup of a deleted object (a prune): the same cleanup planner the
/// controller runs.
pub fn cleanup_calls(
    plan: &CleanupPlan,
    noun: Noun,
    name: &str,
    tags: &BTreeMap<String, String>,
    owner: &crate::engine::ownership::Owner,
) -> Vec<Call> {
    match plan {
        CleanupPlan::Done | CleanupPlan::Wait(_) => Vec::new(),
        CleanupPlan::Delete => vec![Call {
            operation: noun.delete(),
            changes: vec![Change::new(noun.name_field(), text(name), None)],
            destructive: Some(match noun {
                Noun::Stream => format!(
                    "deletes stream {name} and all the video it stores (deletionPolicy Delete)"
                ),
                Noun::Channel => {
                    format!("deletes signaling channel {name} (deletionPolicy Delete)")
                }
            }),
        }],
        CleanupPlan::Release => vec![Call {
            operation: noun.untag(),
            changes: owner
                .tags()
                .into_keys()
                .map(|k| Change::new(format!("tags.{k}"), tags.get(&k).cloned(), None))
                .collect(),
            destructive: Some(format!(
                "releases {} {name} (deletionPolicy Retain): it is kept, owned by no object, and may be adopted by another",
                noun.as_str()
            )),
        }],
    }
}

/// The ownership tags an adoption writes.
fn ownership_changes(
    owner: &crate::engine::ownership::Owner,
    have: &BTreeMap<String, String>,
) -> Vec<Change> {
    owner
        .tags()
        .into_iter()
        .map(|(k, v)| Change::new(format!("tags.{k}"), have.get(&k).cloned(), Some(v)))
        .collect()
}

fn deletes_with_object(policy: DeletionPolicy) -> &'static str {
    match policy {
        DeletionPolicy::Delete => {
            ", and deletes it when the object is deleted (deletionPolicy Delete)"
        }
        DeletionPolicy::Retain => "",
    }
}

fn describe_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Which kind of resource, for the names of its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    Stream,
    Channel,
}

impl Noun {
    fn tag(self) -> &'static str {
        match self {
            Noun::Stream => "TagStream",
            Noun::Channel => "TagResource",
        }
    }
    fn untag(self) -> &'static str {
        match self {
            Noun::Stream => "UntagStream",
            Noun::Channel => "UntagResource",
        }
    }
    fn delete(self) -> &'static str {
        match self {
            Noun::Stream => "DeleteStream",
            Noun::Channel => "DeleteSignalingChannel",
        }
    }
    fn name_field(self) -> &'static str {
        match self {
            Noun::Stream => "streamName",
            Noun::Channel => "channelName",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Noun::Stream => "stream",
            Noun::Channel => "signaling channel",
        }
    }
}

/// The condition reason a tenancy refusal reads as.
fn refusal_reason(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::NameNotPermitted(_) => "NameNotPermitted",
        Refusal::AdoptionNotPermitted(_) => "AdoptionNotPermitted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CLUSTER_TAG, ManagementPolicy, OWNER_TAG};
    use crate::engine::ownership::Owner;

    fn owner() -> Owner {
        Owner {
            owner: "cameras/front-door".into(),
            cluster: "c1".into(),
        }
    }

    fn desired() -> stream::Desired {
        stream::Desired {
            name: "front-door-cam".into(),
            owner: owner(),
            device_name: Some("cam-02".into()),
            data_retention_in_hours: Some(24),
            tags: Some(BTreeMap::from([("team".into(), "security".into())])),
            tag_policy: crate::api::TagPolicy::Exclusive,
            ..stream::Desired::default()
        }
    }

    fn ours(retention: i32, tags: &[(&str, &str)]) -> stream::Observed {
        let mut all: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.extend(owner().tags());
        stream::Observed {
            stream: Stream {
                name: "front-door-cam".into(),
                arn: "arn:aws:kinesisvideo:us-west-2:1:stream/front-door-cam/1".into(),
                version: "v1".into(),
                status: ResourceStatus::Active,
                device_name: Some("cam-01".into()),
                media_type: None,
                kms_key_id: None,
                data_retention_in_hours: retention,
                creation_time: None,
            },
            tags: all,
            storage_tier: None,
            image_generation: None,
            notification: None,
        }
    }

    fn operations(steps: &Steps) -> Vec<&'static str> {
        steps.calls.iter().map(|c| c.operation).collect()
    }

    #[test]
    fn every_difference_becomes_one_call_in_the_planners_order() {
        let steps = stream_steps(&desired(), Some(ours(48, &[("old", "x")])));
        assert_eq!(
            operations(&steps),
            [
                "UpdateStream",
                "UpdateDataRetention",
                "UntagStream",
                "TagStream"
            ]
        );
        assert_eq!(steps.end, End::InSync);
        assert_eq!(
            steps.calls[0].changes,
            [Change::new("deviceName", text("cam-01"), text("cam-02"))]
        );
        let decrease = &steps.calls[1];
        assert!(
            decrease
                .destructive
                .as_deref()
                .is_some_and(|d| d.contains("24h")),
            "{decrease:?}"
        );
        assert!(steps.calls.iter().skip(2).all(|c| c.destructive.is_none()));
    }

    #[test]
    fn an_increase_is_not_destructive_and_a_stream_in_sync_needs_no_call() {
        let mut want = desired();
        want.device_name = Some("cam-01".into());
        want.data_retention_in_hours = Some(72);
        let steps = stream_steps(&want, Some(ours(48, &[("team", "security")])));
        assert_eq!(operations(&steps), ["UpdateDataRetention"]);
        assert_eq!(steps.calls[0].destructive, None);
        want.data_retention_in_hours = Some(48);
        let steps = stream_steps(&want, Some(ours(48, &[("team", "security")])));
        assert!(steps.calls.is_empty());
        assert_eq!(steps.end, End::InSync);
    }

    #[test]
    fn a_new_stream_is_one_create_then_what_create_cannot_set() {
        let mut want = desired();
        want.image_generation = Some(crate::api::ImageGeneration {
            status: crate::api::ConfigurationStatus::Enabled,
            destination_uri: "s3://bucket/cams".into(),
            destination_region: "us-west-2".into(),
            image_selector_type: crate::api::ImageSelectorType::ServerTimestamp,
            sampling_interval: 3000,
            format: crate::api::ImageFormat::Jpeg,
            format_config: None,
            width_pixels: None,
            height_pixels: None,
        });
        want.storage_tier = Some(StorageTier::Warm);
        let steps = stream_steps(&want, None);
        assert_eq!(
            operations(&steps),
            ["CreateStream", "UpdateImageGenerationConfiguration"]
        );
        let create = &steps.calls[0];
        for field in [
            "streamName",
            "deviceName",
            "dataRetentionInHours",
            "storageTier",
            "tags.team",
        ] {
            assert!(
                create.changes.iter().any(|c| c.field == field),
                "{field}: {create:?}"
            );
        }
        assert!(
            create
                .changes
                .iter()
                .any(|c| c.field == format!("tags.{OWNER_TAG}"))
        );
    }

    #[test]
    fn a_stream_that_is_not_ours_is_blocked_and_adoption_is_destructive() {
        let mut theirs = ours(48, &[]);
        theirs
            .tags
            .insert(CLUSTER_TAG.into(), "other-cluster".into());
        let steps = stream_steps(&desired(), Some(theirs));
        assert!(steps.calls.is_empty());
        assert!(matches!(
            steps.end,
            End::Blocked {
                reason: "NotOwned",
                ..
            }
        ));

        let mut unowned = ours(24, &[("team", "security")]);
        unowned.tags.remove(OWNER_TAG);
        unowned.tags.remove(CLUSTER_TAG);
        let mut adopt = desired();
        adopt.adopt_existing = true;
        let steps = stream_steps(&adopt, Some(unowned));
        assert_eq!(operations(&steps), ["TagStream", "UpdateStream"]);
        let claim = &steps.calls[0];
        assert!(
            claim
                .destructive
                .as_deref()
                .is_some_and(|d| d.contains("adopts"))
        );
        assert!(
            claim
                .changes
                .iter()
                .any(|c| c.field == format!("tags.{OWNER_TAG}"))
        );
    }

    #[test]
    fn a_busy_stream_is_waited_for_and_one_being_deleted_is_made_again() {
        let mut busy = ours(24, &[("team", "security")]);
        busy.stream.status = ResourceStatus::Updating;
        let steps = stream_steps(&desired(), Some(busy.clone()));
        assert_eq!(steps.waits, ["KVS to finish UPDATING"]);
        assert_eq!(operations(&steps), ["UpdateStream"]);
        busy.stream.status = ResourceStatus::Deleting;
        let steps = stream_steps(&desired(), Some(busy));
        assert_eq!(operations(&steps), ["CreateStream"]);
    }

    #[test]
    fn observe_only_never_calls() {
        let mut watch = desired();
        watch.management_policy = ManagementPolicy::ObserveOnly;
        let steps = stream_steps(&watch, Some(ours(1, &[])));
        assert!(steps.calls.is_empty());
        assert_eq!(steps.end, End::Observed { exists: true });
        assert_eq!(
            stream_steps(&watch, None).end,
            End::Observed { exists: false }
        );
    }

    fn channel_desired() -> channel::Desired {
        channel::Desired {
            name: "door".into(),
            owner: owner(),
            message_ttl_seconds: 30,
            media_storage: Some(channel::StorageTarget::Pending("front-door".into())),
            ..channel::Desired::default()
        }
    }

    #[test]
    fn a_channel_is_created_then_stores_media_once_its_stream_is_active() {
        let steps = channel_steps(&channel_desired(), None, Some(NEW_ARN));
        assert_eq!(
            steps.calls.iter().map(|c| c.operation).collect::<Vec<_>>(),
            ["CreateSignalingChannel", "UpdateMediaStorageConfiguration"]
        );
        assert_eq!(steps.end, End::InSync);
        let waiting = channel_steps(&channel_desired(), None, None);
        assert_eq!(waiting.calls.len(), 1);
        assert!(matches!(waiting.end, End::Waits(_)));
    }

    #[test]
    fn a_prune_deletes_or_releases_as_the_cleanup_planner_says() {
        let tags = owner().tags();
        let delete = cleanup_calls(&CleanupPlan::Delete, Noun::Stream, "cam", &tags, &owner());
        assert_eq!(delete[0].operation, "DeleteStream");
        assert!(
            delete[0]
                .destructive
                .as_deref()
                .is_some_and(|d| d.contains("video"))
        );
        let release = cleanup_calls(
            &CleanupPlan::Release,
            Noun::Channel,
            "door",
            &tags,
            &owner(),
        );
        assert_eq!(release[0].operation, "UntagResource");
        assert_eq!(release[0].changes.len(), 2);
        assert!(cleanup_calls(&CleanupPlan::Done, Noun::Stream, "cam", &tags, &owner()).is_empty());
    }
}
