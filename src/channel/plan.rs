//! The pure planner of a SignalingChannel: given what the spec asks for and what KVS
//! reports, the single next step.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{DeletionPolicy, ManagementPolicy, SignalingChannel, StringMap, TagPolicy};
use crate::engine::lifecycle::{self, CleanupPlan, Gate, gate};
use crate::engine::ownership::{Owner, Ownership, TagChange, TagScope, tag_mutation};
use crate::kvs::{Channel, MediaStorageConfig, NewChannel, ResourceStatus};
use crate::tenancy::Refusal;

/// Where the spec wants the channel's media stored, as far as its VideoStream is known.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageTarget {
    /// Into the ACTIVE stream `arn` of the namespace's VideoStream `video_stream`, which
    /// must carry `owner`'s tags: it is read fresh before the link is made, and while it
    /// stands.
    Stream {
        arn: String,
        video_stream: String,
        owner: Owner,
    },
    /// The VideoStream's stream is not ACTIVE yet: store once it is.
    Pending(String),
}

/// What the SignalingChannel asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub name: String,
    pub owner: Owner,
    pub message_ttl_seconds: i32,
    pub tags: Option<BTreeMap<String, String>>,
    /// Whose tags may be removed: every key not in `tags`, or only those applied before.
    pub tag_policy: TagPolicy,
    /// The keys applied from `tags` before (`status.managedTagKeys`).
    pub managed_tag_keys: BTreeSet<String>,
    /// Read everything fresh from KVS, tags included (a reconcile was requested).
    pub fresh: bool,
    /// `None`: media storage is not managed.
    pub media_storage: Option<StorageTarget>,
    pub adopt_existing: bool,
    pub deletion_policy: DeletionPolicy,
    pub management_policy: ManagementPolicy,
    /// Why tenancy would refuse creating the channel, if it would.
    pub create_refusal: Option<Refusal>,
    /// Why tenancy would refuse adopting an existing channel, if it would.
    pub adopt_refusal: Option<Refusal>,
}

impl Desired {
    /// How fresh the tags must be read: from KVS when a reconcile was requested, else a
    /// remembered answer will do.
    pub fn tag_read(&self) -> crate::kvs::TagRead {
        match self.fresh {
            true => crate::kvs::TagRead::Fresh,
            false => crate::kvs::TagRead::Cached,
        }
    }

    /// Which of the resource's tags the spec may remove.
    pub fn tag_scope(&self) -> TagScope<'_> {
        match self.tag_policy {
            TagPolicy::Exclusive => TagScope::Exclusive,
            TagPolicy::Shared => TagScope::Shared(&self.managed_tag_keys),
        }
    }

    /// What `channel` asks for (its media storage resolved by the caller).
    pub fn from_resource(
        channel: &SignalingChannel,
        cluster: &str,
        media_storage: Option<StorageTarget>,
    ) -> Self {
        let spec = &channel.spec;
        Self {
            name: channel.channel_name(),
            owner: Owner::of(channel, cluster),
            message_ttl_seconds: spec.message_ttl_seconds,
            tags: spec.tags.as_ref().map(StringMap::to_map),
            tag_policy: spec.tag_policy,
            managed_tag_keys: channel
                .status
                .as_ref()
                .map(|s| s.managed_tag_keys.iter().cloned().collect())
                .unwrap_or_default(),
            fresh: false,
            media_storage,
            adopt_existing: spec.adopt_existing,
            deletion_policy: spec.deletion_policy,
            management_policy: spec.management_policy,
            create_refusal: None,
            adopt_refusal: None,
        }
    }

    fn new_channel(&self) -> NewChannel {
        let mut tags = self.tags.clone().unwrap_or_default();
        tags.extend(self.owner.tags());
        NewChannel {
            name: self.name.clone(),
            message_ttl_seconds: self.message_ttl_seconds,
            tags,
        }
    }
}

/// What KVS reports about an existing channel. The media storage configuration is only
/// observed when the spec manages it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub channel: Channel,
    pub tags: BTreeMap<String, String>,
    pub media_storage: Option<MediaStorageConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Create(NewChannel),
    Wait(ResourceStatus),
    Mutate(Mutation),
    NotOwned(Ownership),
    /// The step it would take (create, adopt) is one tenancy refuses.
    Refused(Refusal),
    /// Everything else matches; media storage waits for its stream to be ACTIVE.
    WaitForStream(String),
    InSync,
    Observed,
    Absent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    Adopt,
    UpdateTtl { from: Option<i32>, to: i32 },
    Tags(TagChange),
    StoreMedia { stream_arn: String },
}

impl Mutation {
    /// Whether KVS gives the channel a new version (so the listing shows when it is done).
    pub fn moves_version(&self) -> bool {
        matches!(self, Mutation::UpdateTtl { .. })
    }
}

/// Decides the next step for a live SignalingChannel.
pub fn plan(desired: &Desired, observed: Option<&Observed>) -> Plan {
    if desired.management_policy == ManagementPolicy::ObserveOnly {
        return match observed.map(|o| &o.channel.status) {
            None => Plan::Absent,
            Some(ResourceStatus::Active) => Plan::Observed,
            Some(status) => Plan::Wait(status.clone()),
        };
    }
    let Some(observed) = observed else {
        return match &desired.create_refusal {
            Some(refusal) => Plan::Refused(refusal.clone()),
            None => Plan::Create(desired.new_channel()),
        };
    };
    let channel = &observed.channel;
    match gate(
        &desired.owner,
        &observed.tags,
        &channel.status,
        desired.adopt_existing,
    ) {
        Gate::Proceed => {}
        Gate::Wait(status) => return Plan::Wait(status),
        Gate::NotOwned(ownership) => return Plan::NotOwned(ownership),
        Gate::Adopt => {
            return match &desired.adopt_refusal {
                Some(refusal) => Plan::Refused(refusal.clone()),
                None => Plan::Mutate(Mutation::Adopt),
            };
        }
    }
    if channel.message_ttl_seconds != Some(desired.message_ttl_seconds) {
        return Plan::Mutate(Mutation::UpdateTtl {
            from: channel.message_ttl_seconds,
            to: desired.message_ttl_seconds,
        });
    }
    if let Some(want) = &desired.tags
        && let Some(change) = tag_mutation(want, &observed.tags, desired.tag_scope())
    {
        return Plan::Mutate(Mutation::Tags(change));
    }
    match &desired.media_storage {
        None => Plan::InSync,
        Some(StorageTarget::Pending(video_stream)) => Plan::WaitForStream(video_stream.clone()),
        Some(StorageTarget::Stream {
            arn: stream_arn, ..
        }) => {
            let wanted = MediaStorageConfig {
                stream_arn: Some(stream_arn.clone()),
                enabled: true,
            };
            if observed.media_storage.as_ref() == Some(&wanted) {
                Plan::InSync
            } else {
                Plan::Mutate(Mutation::StoreMedia {
                    stream_arn: stream_arn.clone(),
                })
            }
        }
    }
}

/// Decides the next cleanup step. A channel that is not ours is never touched.
pub fn plan_cleanup(desired: &Desired, observed: Option<&Observed>) -> CleanupPlan {
    let observed = observed.map(|o| (&o.tags, &o.channel.status));
    lifecycle::plan_cleanup(&desired.owner, observed, desired.deletion_policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CLUSTER_TAG, OWNER_TAG};

    const ARN: &str = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/1";
    const STREAM: &str = "arn:aws:kinesisvideo:us-west-2:123456789012:stream/door/1";

    fn desired() -> Desired {
        Desired {
            name: "door".into(),
            owner: Owner {
                owner: "home/door".into(),
                cluster: "c1".into(),
            },
            message_ttl_seconds: 60,
            tags: Some(BTreeMap::from([("site".into(), "home".into())])),
            ..Desired::default()
        }
    }

    fn observed() -> Observed {
        Observed {
            channel: Channel {
                name: "door".into(),
                arn: ARN.into(),
                version: "v1".into(),
                status: ResourceStatus::Active,
                message_ttl_seconds: Some(60),
                creation_time: None,
            },
            tags: BTreeMap::from([
                ("site".into(), "home".into()),
                (OWNER_TAG.into(), "home/door".into()),
                (CLUSTER_TAG.into(), "c1".into()),
            ]),
            media_storage: None,
        }
    }

    #[test]
    fn an_absent_channel_is_created_with_its_ttl_and_ownership_tags() {
        let Plan::Create(new) = plan(&desired(), None) else {
            panic!("expected a create");
        };
        assert_eq!(new.message_ttl_seconds, 60);
        assert_eq!(
            new.tags.get(OWNER_TAG).map(String::as_str),
            Some("home/door")
        );
        assert_eq!(new.tags.get(CLUSTER_TAG).map(String::as_str), Some("c1"));
        assert_eq!(new.tags.get("site").map(String::as_str), Some("home"));
    }

    #[test]
    fn each_difference_gives_its_mutation_in_order() {
        assert_eq!(plan(&desired(), Some(&observed())), Plan::InSync);
        let mut want = desired();
        want.message_ttl_seconds = 30;
        want.tags = Some(BTreeMap::new());
        assert_eq!(
            plan(&want, Some(&observed())),
            Plan::Mutate(Mutation::UpdateTtl {
                from: Some(60),
                to: 30
            })
        );
        want.message_ttl_seconds = 60;
        // Shared (the default): "site" is removed only because the operator applied it.
        assert_eq!(plan(&want, Some(&observed())), Plan::InSync);
        want.managed_tag_keys = ["site".to_string()].into();
        assert_eq!(
            plan(&want, Some(&observed())),
            Plan::Mutate(Mutation::Tags(TagChange::Untag(vec!["site".into()])))
        );
    }

    #[test]
    fn media_storage_waits_for_its_stream_then_is_stored_once() {
        let mut want = desired();
        want.media_storage = Some(StorageTarget::Pending("door-stream".into()));
        assert_eq!(
            plan(&want, Some(&observed())),
            Plan::WaitForStream("door-stream".into())
        );
        want.media_storage = Some(StorageTarget::Stream {
            arn: STREAM.into(),
            video_stream: "door-stream".into(),
            owner: Owner {
                owner: "home/door-stream".into(),
                cluster: "c1".into(),
            },
        });
        assert_eq!(
            plan(&want, Some(&observed())),
            Plan::Mutate(Mutation::StoreMedia {
                stream_arn: STREAM.into()
            })
        );
        let mut have = observed();
        have.media_storage = Some(MediaStorageConfig {
            stream_arn: Some(STREAM.into()),
            enabled: true,
        });
        assert_eq!(plan(&want, Some(&have)), Plan::InSync);
    }

    #[test]
    fn a_channel_that_is_not_ours_is_never_changed_and_observe_only_changes_nothing() {
        let mut foreign = observed();
        foreign.tags.insert(CLUSTER_TAG.into(), "c2".into());
        foreign.channel.message_ttl_seconds = Some(5);
        assert!(matches!(
            plan(&desired(), Some(&foreign)),
            Plan::NotOwned(Ownership::Foreign { .. })
        ));
        assert_eq!(plan_cleanup(&desired(), Some(&foreign)), CleanupPlan::Done);
        let mut watch = desired();
        watch.management_policy = ManagementPolicy::ObserveOnly;
        assert_eq!(plan(&watch, Some(&foreign)), Plan::Observed);
        assert_eq!(plan(&watch, None), Plan::Absent);
    }
}
