//! The pure planner of a VideoStream: given what the spec asks for and what KVS reports,
//! decide the single next step. No I/O here, so every rule is a table test.
//!
//! One step per reconcile, because KVS refuses a second mutation while the first one still
//! has the stream UPDATING, and every mutation must carry the version observed right before.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{
    DeletionPolicy, ImageGeneration, ManagementPolicy, Notification, StorageTier, StringMap,
    TagPolicy, VideoStream,
};
use crate::engine::lifecycle::{self, CleanupPlan, Gate, gate};
use crate::engine::ownership::{Owner, Ownership, TagChange, TagScope, tag_mutation};
use crate::kms;
use crate::kvs::{NewStream, ResourceStatus, RetentionChange, Stream};
use crate::tenancy::Refusal;

/// What the VideoStream asks for. `None` fields are not managed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub name: String,
    /// The ownership tags' values: this VideoStream and this cluster.
    pub owner: Owner,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub data_retention_in_hours: Option<i32>,
    pub tags: Option<BTreeMap<String, String>>,
    /// Whose tags may be removed: every key not in `tags`, or only those applied before.
    pub tag_policy: TagPolicy,
    /// The keys applied from `tags` before (`status.managedTagKeys`).
    pub managed_tag_keys: BTreeSet<String>,
    /// Read everything fresh from KVS, tags included (a reconcile was requested).
    pub fresh: bool,
    pub storage_tier: Option<StorageTier>,
    pub image_generation: Option<ImageGeneration>,
    pub notification: Option<Notification>,
    pub adopt_existing: bool,
    pub deletion_policy: DeletionPolicy,
    pub management_policy: ManagementPolicy,
    /// Why tenancy would refuse creating the stream, if it would.
    pub create_refusal: Option<Refusal>,
    /// Why tenancy would refuse adopting an existing stream, if it would.
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

    /// What `vs` asks for, owned by the cluster `cluster`.
    pub fn from_resource(vs: &VideoStream, cluster: &str) -> Self {
        let spec = &vs.spec;
        Desired {
            name: vs.stream_name(),
            owner: Owner::of(vs, cluster),
            device_name: spec.device_name.clone(),
            media_type: spec.media_type.clone(),
            kms_key_id: spec.kms_key_id.clone(),
            data_retention_in_hours: spec.data_retention_in_hours,
            tags: spec.tags.as_ref().map(StringMap::to_map),
            tag_policy: spec.tag_policy,
            managed_tag_keys: vs
                .status
                .as_ref()
                .map(|s| s.managed_tag_keys.iter().cloned().collect())
                .unwrap_or_default(),
            fresh: false,
            storage_tier: spec.storage_tier,
            image_generation: spec.image_generation.as_deref().cloned(),
            notification: spec.notification.as_deref().cloned(),
            adopt_existing: spec.adopt_existing,
            deletion_policy: spec.deletion_policy,
            management_policy: spec.management_policy,
            create_refusal: None,
            adopt_refusal: None,
        }
    }

    /// The CreateStream request: everything at once, the ownership tags included, so a
    /// stream is never seen without them.
    fn new_stream(&self) -> NewStream {
        let mut tags = self.tags.clone().unwrap_or_default();
        tags.extend(self.owner.tags());
        NewStream {
            name: self.name.clone(),
            device_name: self.device_name.clone(),
            media_type: self.media_type.clone(),
            kms_key_id: self.kms_key_id.clone(),
            data_retention_in_hours: self.data_retention_in_hours,
            tags,
            storage_tier: self.storage_tier,
        }
    }
}

/// What KVS reports about an existing stream. The configurations are only observed when
/// the spec manages them (and the stream is ACTIVE).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub stream: Stream,
    pub tags: BTreeMap<String, String>,
    pub storage_tier: Option<StorageTier>,
    pub image_generation: Option<ImageGeneration>,
    pub notification: Option<Notification>,
}

impl Observed {
    /// Whose the stream is, by its tags, from `desired`'s point of view.
    pub fn ownership(&self, desired: &Desired) -> Ownership {
        desired.owner.ownership(&self.tags)
    }
}

/// The next step for a VideoStream that exists in Kubernetes.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// No stream of that name: create it.
    Create(NewStream),
    /// The stream is not ACTIVE: KVS would refuse a mutation, so look again soon.
    Wait(ResourceStatus),
    /// Make one change, with the version just observed.
    Mutate(Mutation),
    /// Nothing can be done until a person acts.
    Blocked(Blocker),
    /// The stream matches the spec.
    InSync,
    /// ObserveOnly: the stream is there; whatever differs is only reported.
    Observed,
    /// ObserveOnly: there is no such stream (and none is created).
    Absent,
}

/// One KVS mutation.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// Claim an unowned stream the spec asked to adopt: write the ownership tags.
    Adopt,
    UpdateStream {
        device_name: Option<String>,
        media_type: Option<String>,
    },
    UpdateRetention {
        from: i32,
        to: i32,
        change: RetentionChange,
    },
    UpdateStorageTier(StorageTier),
    Tags(TagChange),
    UpdateImageGeneration(ImageGeneration),
    UpdateNotification(Notification),
}

impl Mutation {
    /// Whether KVS gives the stream a new version (so the account's listing shows when
    /// the change is done); tags and configurations leave it as it was.
    pub fn moves_version(&self) -> bool {
        matches!(
            self,
            Mutation::UpdateStream { .. }
                | Mutation::UpdateRetention { .. }
                | Mutation::UpdateStorageTier(_)
        )
    }
}

/// Why nothing can be changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    /// The stream belongs to another object or cluster (`Foreign`), or to none and the
    /// spec did not ask to adopt it (`Unowned`).
    NotOwned(Ownership),
    /// The stream's KMS key differs from the spec's, and KVS cannot change it.
    KmsKeyDiffers {
        desired: String,
        actual: Option<String>,
    },
    /// The step it would take (create, adopt) is one tenancy refuses.
    Refused(Refusal),
}

impl Blocker {
    pub fn message(&self, stream: &str) -> String {
        match self {
            Blocker::NotOwned(ownership) => ownership.refusal("stream", "VideoStream", stream),
            Blocker::KmsKeyDiffers { desired, actual } => format!(
                "stream {stream} is encrypted with {} but spec.kmsKeyId is {desired}; KVS cannot change a stream's key",
                actual.as_deref().unwrap_or(kms::AWS_MANAGED_ALIAS)
            ),
            Blocker::Refused(Refusal::NameNotPermitted(message))
            | Blocker::Refused(Refusal::AdoptionNotPermitted(message)) => message.clone(),
        }
    }
}

/// Decides the next step for a live VideoStream.
pub fn plan(desired: &Desired, observed: Option<&Observed>) -> Plan {
    if desired.management_policy == ManagementPolicy::ObserveOnly {
        return match observed.map(|o| &o.stream.status) {
            None => Plan::Absent,
            Some(ResourceStatus::Active) => Plan::Observed,
            Some(status) => Plan::Wait(status.clone()),
        };
    }
    let Some(observed) = observed else {
        return match &desired.create_refusal {
            Some(refusal) => Plan::Blocked(Blocker::Refused(refusal.clone())),
            None => Plan::Create(desired.new_stream()),
        };
    };
    let stream = &observed.stream;
    match gate(
        &desired.owner,
        &observed.tags,
        &stream.status,
        desired.adopt_existing,
    ) {
        Gate::Proceed => {}
        Gate::Wait(status) => return Plan::Wait(status),
        Gate::NotOwned(ownership) => return Plan::Blocked(Blocker::NotOwned(ownership)),
        Gate::Adopt => {
            return match &desired.adopt_refusal {
                Some(refusal) => Plan::Blocked(Blocker::Refused(refusal.clone())),
                None => Plan::Mutate(Mutation::Adopt),
            };
        }
    }

    if kms::differs(desired.kms_key_id.as_deref(), stream.kms_key_id.as_deref()) {
        return Plan::Blocked(Blocker::KmsKeyDiffers {
            desired: desired.kms_key_id.clone().unwrap_or_default(),
            actual: stream.kms_key_id.clone(),
        });
    }

    next_mutation(desired, observed).map_or(Plan::InSync, Plan::Mutate)
}

/// The first field that differs, in a fixed order, as a mutation.
fn next_mutation(desired: &Desired, observed: &Observed) -> Option<Mutation> {
    let stream = &observed.stream;

    let device_differs = differs(&desired.device_name, &stream.device_name);
    let media_differs = differs(&desired.media_type, &stream.media_type);
    if device_differs || media_differs {
        return Some(Mutation::UpdateStream {
            device_name: desired.device_name.clone(),
            media_type: desired.media_type.clone(),
        });
    }

    if let Some(to) = desired.data_retention_in_hours {
        let from = stream.data_retention_in_hours;
        if let Some(change) = RetentionChange::between(from, to) {
            return Some(Mutation::UpdateRetention { from, to, change });
        }
    }

    if let (Some(want), Some(have)) = (desired.storage_tier, observed.storage_tier)
        && want != have
    {
        return Some(Mutation::UpdateStorageTier(want));
    }

    if let Some(want) = &desired.tags
        && let Some(change) = tag_mutation(want, &observed.tags, desired.tag_scope())
    {
        return Some(Mutation::Tags(change));
    }

    if let Some(want) = &desired.image_generation
        && observed.image_generation.as_ref() != Some(want)
    {
        return Some(Mutation::UpdateImageGeneration(want.clone()));
    }

    if let Some(want) = &desired.notification
        && observed.notification.as_ref() != Some(want)
    {
        return Some(Mutation::UpdateNotification(want.clone()));
    }
    None
}

/// A managed optional field differs when the spec names a value the stream does not have.
fn differs(desired: &Option<String>, actual: &Option<String>) -> bool {
    desired.is_some() && desired != actual
}

/// Decides the next cleanup step. A stream that is not ours is never touched.
pub fn plan_cleanup(desired: &Desired, observed: Option<&Observed>) -> CleanupPlan {
    let observed = observed.map(|o| (&o.tags, &o.stream.status));
    lifecycle::plan_cleanup(&desired.owner, observed, desired.deletion_policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CLUSTER_TAG, ConfigurationStatus, ImageFormat, ImageSelectorType, OWNER_TAG};

    const OWNER: &str = "cameras/front-door";
    const CLUSTER: &str = "9b2f6c1e-0d1a-4c55-8f0e-1b2c3d4e5f60";
    const DEFAULT_KEY: &str = "arn:aws:kms:us-west-2:123456789012:alias/aws/kinesisvideo";

    fn desired() -> Desired {
        Desired {
            name: "front-door-cam".into(),
            owner: Owner {
                owner: OWNER.into(),
                cluster: CLUSTER.into(),
            },
            device_name: Some("cam-01".into()),
            media_type: Some("video/h264".into()),
            kms_key_id: None,
            data_retention_in_hours: Some(24),
            tags: Some(BTreeMap::from([("team".into(), "security".into())])),
            storage_tier: None,
            adopt_existing: false,
            deletion_policy: DeletionPolicy::Delete,
            // The spec as the whole truth: every key not in it is removed.
            tag_policy: TagPolicy::Exclusive,
            ..Desired::default()
        }
    }

    /// The stream KVS would report after creating `desired()`.
    fn observed(status: ResourceStatus) -> Observed {
        Observed {
            stream: Stream {
                name: "front-door-cam".into(),
                arn: "arn:aws:kinesisvideo:us-west-2:123456789012:stream/front-door-cam/1".into(),
                version: "v1".into(),
                status,
                device_name: Some("cam-01".into()),
                media_type: Some("video/h264".into()),
                kms_key_id: Some(DEFAULT_KEY.into()),
                data_retention_in_hours: 24,
                creation_time: Some(0),
            },
            tags: BTreeMap::from([
                ("team".into(), "security".into()),
                (OWNER_TAG.into(), OWNER.into()),
                (CLUSTER_TAG.into(), CLUSTER.into()),
            ]),
            storage_tier: None,
            image_generation: None,
            notification: None,
        }
    }

    fn active() -> Observed {
        observed(ResourceStatus::Active)
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_absent_stream_is_created_with_every_field_and_the_owner_tag() {
        let plan = plan(&desired(), None);
        let Plan::Create(new) = plan else {
            panic!("expected Create, got {plan:?}");
        };
        assert_eq!(new.name, "front-door-cam");
        assert_eq!(new.device_name.as_deref(), Some("cam-01"));
        assert_eq!(new.media_type.as_deref(), Some("video/h264"));
        assert_eq!(new.data_retention_in_hours, Some(24));
        assert_eq!(
            new.tags,
            tags(&[
                ("team", "security"),
                (OWNER_TAG, OWNER),
                (CLUSTER_TAG, CLUSTER)
            ])
        );
    }

    #[test]
    fn a_matching_active_stream_is_in_sync() {
        assert_eq!(plan(&desired(), Some(&active())), Plan::InSync);
    }

    #[test]
    fn a_stream_that_is_not_active_is_never_mutated_whatever_differs() {
        let mut want = desired();
        want.device_name = Some("cam-02".into());
        want.data_retention_in_hours = Some(48);
        want.tags = Some(tags(&[("team", "ops")]));
        for status in [
            ResourceStatus::Creating,
            ResourceStatus::Updating,
            ResourceStatus::Deleting,
            ResourceStatus::Other("NEW_STATE".into()),
        ] {
            let got = plan(&want, Some(&observed(status.clone())));
            assert_eq!(got, Plan::Wait(status));
        }
    }

    #[test]
    fn each_field_difference_on_an_active_stream_gives_its_mutation() {
        struct Case {
            why: &'static str,
            change: fn(&mut Desired),
            want: Mutation,
        }
        let cases = [
            Case {
                why: "device name",
                change: |d| d.device_name = Some("cam-02".into()),
                want: Mutation::UpdateStream {
                    device_name: Some("cam-02".into()),
                    media_type: Some("video/h264".into()),
                },
            },
            Case {
                why: "media type",
                change: |d| d.media_type = Some("video/h265,audio/aac".into()),
                want: Mutation::UpdateStream {
                    device_name: Some("cam-01".into()),
                    media_type: Some("video/h265,audio/aac".into()),
                },
            },
            Case {
                why: "retention increase is a delta",
                change: |d| d.data_retention_in_hours = Some(72),
                want: Mutation::UpdateRetention {
                    from: 24,
                    to: 72,
                    change: RetentionChange::Increase(48),
                },
            },
            Case {
                why: "retention decrease is a delta",
                change: |d| d.data_retention_in_hours = Some(2),
                want: Mutation::UpdateRetention {
                    from: 24,
                    to: 2,
                    change: RetentionChange::Decrease(22),
                },
            },
            Case {
                why: "retention to zero stops persistence",
                change: |d| d.data_retention_in_hours = Some(0),
                want: Mutation::UpdateRetention {
                    from: 24,
                    to: 0,
                    change: RetentionChange::Decrease(24),
                },
            },
            Case {
                why: "tag added",
                change: |d| d.tags = Some(tags(&[("team", "security"), ("site", "hq")])),
                want: Mutation::Tags(TagChange::Tag(tags(&[("site", "hq")]))),
            },
            Case {
                why: "tag value changed",
                change: |d| d.tags = Some(tags(&[("team", "ops")])),
                want: Mutation::Tags(TagChange::Tag(tags(&[("team", "ops")]))),
            },
            Case {
                why: "tag removed",
                change: |d| d.tags = Some(BTreeMap::new()),
                want: Mutation::Tags(TagChange::Untag(vec!["team".into()])),
            },
            Case {
                why: "tag replaced: removal first",
                change: |d| d.tags = Some(tags(&[("owner", "alice")])),
                want: Mutation::Tags(TagChange::Untag(vec!["team".into()])),
            },
        ];
        for case in cases {
            let mut want = desired();
            (case.change)(&mut want);
            assert_eq!(
                plan(&want, Some(&active())),
                Plan::Mutate(case.want),
                "{}",
                case.why
            );
        }
    }

    #[test]
    fn storage_tier_is_updated_only_when_both_sides_are_known_and_differ() {
        let mut want = desired();
        want.storage_tier = Some(StorageTier::Warm);
        let mut have = active();
        have.storage_tier = Some(StorageTier::Hot);
        assert_eq!(
            plan(&want, Some(&have)),
            Plan::Mutate(Mutation::UpdateStorageTier(StorageTier::Warm))
        );
        have.storage_tier = Some(StorageTier::Warm);
        assert_eq!(plan(&want, Some(&have)), Plan::InSync);
        have.storage_tier = None;
        assert_eq!(
            plan(&want, Some(&have)),
            Plan::InSync,
            "unknown tier is not drift"
        );
    }

    #[test]
    fn mutations_come_one_at_a_time_in_a_fixed_order() {
        let mut want = desired();
        want.device_name = Some("cam-02".into());
        want.data_retention_in_hours = Some(48);
        want.tags = Some(tags(&[("team", "ops")]));
        let mut have = active();
        let mut steps = Vec::new();
        // Apply each planned step to the observation, as KVS would, until in sync.
        for _ in 0..10 {
            match plan(&want, Some(&have)) {
                Plan::InSync => break,
                Plan::Mutate(m) => {
                    match &m {
                        Mutation::UpdateStream {
                            device_name,
                            media_type,
                        } => {
                            have.stream.device_name = device_name.clone();
                            have.stream.media_type = media_type.clone();
                        }
                        Mutation::UpdateRetention { to, .. } => {
                            have.stream.data_retention_in_hours = *to;
                        }
                        Mutation::Tags(TagChange::Tag(t)) => have.tags.extend(t.clone()),
                        other => panic!("unexpected {other:?}"),
                    }
                    steps.push(m);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            steps,
            vec![
                Mutation::UpdateStream {
                    device_name: Some("cam-02".into()),
                    media_type: Some("video/h264".into())
                },
                Mutation::UpdateRetention {
                    from: 24,
                    to: 48,
                    change: RetentionChange::Increase(24)
                },
                Mutation::Tags(TagChange::Tag(tags(&[("team", "ops")]))),
            ]
        );
    }

    #[test]
    fn unmanaged_fields_are_left_as_they_are() {
        let want = Desired {
            name: "front-door-cam".into(),
            owner: Owner {
                owner: OWNER.into(),
                cluster: CLUSTER.into(),
            },
            ..Desired::default()
        };
        let mut have = active();
        have.stream.data_retention_in_hours = 1000;
        have.tags.insert("someone-else".into(), "x".into());
        assert_eq!(plan(&want, Some(&have)), Plan::InSync);
    }

    #[test]
    fn reserved_tags_are_never_removed() {
        let mut want = desired();
        want.tags = Some(BTreeMap::new());
        let mut have = active();
        have.tags = tags(&[
            ("aws:cloudformation:stack-name", "x"),
            (OWNER_TAG, OWNER),
            (CLUSTER_TAG, CLUSTER),
            ("kvs-operator.dev/other", "y"),
        ]);
        assert_eq!(plan(&want, Some(&have)), Plan::InSync);
    }

    #[test]
    fn a_stream_owned_by_another_videostream_is_never_touched() {
        let mut have = active();
        have.tags
            .insert(OWNER_TAG.into(), "other-ns/front-door".into());
        have.stream.device_name = Some("something-else".into());
        for adopt in [false, true] {
            let mut want = desired();
            want.adopt_existing = adopt;
            assert_eq!(
                plan(&want, Some(&have)),
                Plan::Blocked(Blocker::NotOwned(Ownership::Foreign {
                    owner: "other-ns/front-door".into(),
                    cluster: Some(CLUSTER.into()),
                })),
                "adopt_existing={adopt}"
            );
        }
    }

    #[test]
    fn a_stream_of_another_cluster_is_never_touched_even_with_adoption() {
        let mut have = active();
        have.tags.insert(CLUSTER_TAG.into(), "prod".into());
        have.stream.data_retention_in_hours = 1;
        let mut want = desired();
        want.adopt_existing = true;
        assert!(matches!(
            plan(&want, Some(&have)),
            Plan::Blocked(Blocker::NotOwned(Ownership::Foreign { .. }))
        ));
        assert_eq!(plan_cleanup(&want, Some(&have)), CleanupPlan::Done);
    }

    #[test]
    fn a_stream_being_deleted_is_waited_for_whoever_owns_it() {
        let mut foreign = observed(ResourceStatus::Deleting);
        foreign.tags.clear();
        for have in [observed(ResourceStatus::Deleting), foreign] {
            assert_eq!(
                plan(&desired(), Some(&have)),
                Plan::Wait(ResourceStatus::Deleting)
            );
            assert_eq!(
                plan_cleanup(&desired(), Some(&have)),
                CleanupPlan::Wait(ResourceStatus::Deleting)
            );
        }
    }

    #[test]
    fn an_unowned_stream_is_adopted_only_when_asked_and_only_when_active() {
        let mut have = active();
        have.tags.remove(OWNER_TAG);
        have.tags.remove(CLUSTER_TAG);
        assert_eq!(
            plan(&desired(), Some(&have)),
            Plan::Blocked(Blocker::NotOwned(Ownership::Unowned))
        );
        let mut want = desired();
        want.adopt_existing = true;
        assert_eq!(plan(&want, Some(&have)), Plan::Mutate(Mutation::Adopt));
        have.stream.status = ResourceStatus::Updating;
        assert_eq!(
            plan(&want, Some(&have)),
            Plan::Wait(ResourceStatus::Updating)
        );
    }

    #[test]
    fn a_different_kms_key_blocks_every_change() {
        let mut want = desired();
        want.kms_key_id = Some("alias/cameras".into());
        want.device_name = Some("cam-02".into());
        assert_eq!(
            plan(&want, Some(&active())),
            Plan::Blocked(Blocker::KmsKeyDiffers {
                desired: "alias/cameras".into(),
                actual: Some(DEFAULT_KEY.into()),
            })
        );
    }

    #[test]
    fn the_default_key_spelled_as_an_alias_is_not_drift() {
        let mut want = desired();
        want.kms_key_id = Some("alias/aws/kinesisvideo".into());
        assert_eq!(plan(&want, Some(&active())), Plan::InSync);
    }

    #[test]
    fn cleanup_follows_the_policy_and_never_touches_a_stream_that_is_not_ours() {
        let mut retain = desired();
        retain.deletion_policy = DeletionPolicy::Retain;
        let mut foreign = active();
        foreign.tags.insert(OWNER_TAG.into(), "other/x".into());
        let mut unowned = active();
        unowned.tags.remove(OWNER_TAG);
        unowned.tags.remove(CLUSTER_TAG);
        let mut other_cluster = active();
        other_cluster
            .tags
            .insert(CLUSTER_TAG.into(), "another-cluster".into());
        let cases = [
            ("gone", desired(), None, CleanupPlan::Done),
            (
                "ours, Delete",
                desired(),
                Some(active()),
                CleanupPlan::Delete,
            ),
            (
                "ours, Retain",
                retain.clone(),
                Some(active()),
                CleanupPlan::Release,
            ),
            (
                "foreign, Delete",
                desired(),
                Some(foreign.clone()),
                CleanupPlan::Done,
            ),
            (
                "foreign, Retain",
                retain.clone(),
                Some(foreign),
                CleanupPlan::Done,
            ),
            ("unowned", desired(), Some(unowned), CleanupPlan::Done),
            (
                "same name, other cluster",
                desired(),
                Some(other_cluster),
                CleanupPlan::Done,
            ),
            (
                "ours, deleting",
                desired(),
                Some(observed(ResourceStatus::Deleting)),
                CleanupPlan::Wait(ResourceStatus::Deleting),
            ),
            (
                "ours, updating",
                desired(),
                Some(observed(ResourceStatus::Updating)),
                CleanupPlan::Wait(ResourceStatus::Updating),
            ),
            (
                "ours, creating, Retain",
                retain,
                Some(observed(ResourceStatus::Creating)),
                CleanupPlan::Wait(ResourceStatus::Creating),
            ),
        ];
        for (why, want, have, expected) in cases {
            assert_eq!(plan_cleanup(&want, have.as_ref()), expected, "{why}");
        }
    }

    #[test]
    fn configurations_are_changed_only_when_managed_and_different() {
        let thumbnails = ImageGeneration {
            status: ConfigurationStatus::Enabled,
            destination_uri: "s3://thumbs/door".into(),
            destination_region: "us-west-2".into(),
            image_selector_type: ImageSelectorType::ServerTimestamp,
            sampling_interval: 3000,
            format: ImageFormat::Jpeg,
            format_config: Some(tags(&[("JPEGQuality", "80")])),
            width_pixels: Some(640),
            height_pixels: None,
        };
        let alerts = Notification {
            status: ConfigurationStatus::Enabled,
            destination_uri: "arn:aws:sns:us-west-2:123456789012:doorbell".into(),
        };
        let mut want = desired();
        want.image_generation = Some(thumbnails.clone());
        want.notification = Some(alerts.clone());
        let mut have = active();
        assert_eq!(
            plan(&want, Some(&have)),
            Plan::Mutate(Mutation::UpdateImageGeneration(thumbnails.clone()))
        );
        have.image_generation = Some(thumbnails.clone());
        assert_eq!(
            plan(&want, Some(&have)),
            Plan::Mutate(Mutation::UpdateNotification(alerts.clone()))
        );
        have.notification = Some(alerts);
        assert_eq!(plan(&want, Some(&have)), Plan::InSync);
        // Not managed: whatever the stream has stays.
        assert_eq!(plan(&desired(), Some(&have)), Plan::InSync);
    }

    #[test]
    fn observe_only_never_creates_changes_or_deletes() {
        let mut want = desired();
        want.management_policy = ManagementPolicy::ObserveOnly;
        want.data_retention_in_hours = Some(1000);
        let mut foreign = active();
        foreign.tags.clear();
        assert_eq!(plan(&want, None), Plan::Absent);
        assert_eq!(plan(&want, Some(&foreign)), Plan::Observed);
        assert_eq!(
            plan(&want, Some(&observed(ResourceStatus::Updating))),
            Plan::Wait(ResourceStatus::Updating)
        );
    }

    #[test]
    fn blocker_messages_name_the_stream_and_the_way_out() {
        let not_adopted = Blocker::NotOwned(Ownership::Unowned).message("s");
        assert!(not_adopted.contains("adoptExisting"), "{not_adopted}");
        let key = Blocker::KmsKeyDiffers {
            desired: "alias/x".into(),
            actual: None,
        }
        .message("s");
        assert!(
            key.contains("alias/x") && key.contains("alias/aws/kinesisvideo"),
            "{key}"
        );
    }
}
