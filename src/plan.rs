//! The pure heart of the operator: given what the spec asks for and what KVS reports,
//! decide the single next step. No I/O here, so every rule is a table test.
//!
//! One step per reconcile, because KVS refuses a second mutation while the first one still
//! has the stream UPDATING, and every mutation must carry the version observed right before.

use std::collections::BTreeMap;

use crate::api::{
    CLUSTER_TAG, DeletionPolicy, OWNER_TAG, RESERVED_TAG_PREFIXES, StorageTier, VideoStream,
};
use crate::kms;
use crate::kvs::{NewStream, RetentionChange, Stream, StreamStatus};

/// What the VideoStream asks for. `None` fields are not managed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub name: String,
    /// Value of the owner tag: `<namespace>/<name>` of the VideoStream.
    pub owner: String,
    /// Value of the cluster tag: this operator's `--cluster-id`.
    pub cluster: String,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub data_retention_in_hours: Option<i32>,
    pub tags: Option<BTreeMap<String, String>>,
    pub storage_tier: Option<StorageTier>,
    pub adopt_existing: bool,
    pub deletion_policy: DeletionPolicy,
}

impl Desired {
    /// What `vs` asks for, owned by the cluster `cluster`.
    pub fn from_resource(vs: &VideoStream, cluster: &str) -> Self {
        let spec = &vs.spec;
        Desired {
            name: vs.stream_name(),
            owner: vs.owner_id(),
            cluster: cluster.to_string(),
            device_name: spec.device_name.clone(),
            media_type: spec.media_type.clone(),
            kms_key_id: spec.kms_key_id.clone(),
            data_retention_in_hours: spec.data_retention_in_hours,
            tags: spec.tags.clone(),
            storage_tier: spec.storage_tier,
            adopt_existing: spec.adopt_existing,
            deletion_policy: spec.deletion_policy,
        }
    }

    /// The tags that make a stream ours: owner and cluster, always written together.
    pub fn ownership_tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_TAG.to_string(), self.owner.clone()),
            (CLUSTER_TAG.to_string(), self.cluster.clone()),
        ])
    }

    /// The CreateStream request: everything at once, the ownership tags included, so a
    /// stream is never seen without them.
    fn new_stream(&self) -> NewStream {
        let mut tags = self.tags.clone().unwrap_or_default();
        tags.extend(self.ownership_tags());
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

/// What KVS reports about an existing stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub stream: Stream,
    pub tags: BTreeMap<String, String>,
    /// Only observed when the spec manages the storage tier.
    pub storage_tier: Option<StorageTier>,
}

impl Observed {
    /// Whose the stream is, by its tags, from `desired`'s point of view.
    pub fn ownership(&self, desired: &Desired) -> Ownership {
        ownership(&self.tags, desired)
    }
}

/// Whose a stream is, by its owner and cluster tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Both tags name this VideoStream and this cluster.
    Ours,
    /// No VideoStream owns it; or (written before cluster tags existed) it names this
    /// VideoStream but no cluster, which another cluster could equally have written. Only
    /// adoption makes it ours.
    Unowned,
    /// Another VideoStream, or the same name in another cluster, owns it.
    Foreign {
        owner: String,
        cluster: Option<String>,
    },
}

/// Whose a stream with `tags` is, for `desired`.
pub fn ownership(tags: &BTreeMap<String, String>, desired: &Desired) -> Ownership {
    let Some(owner) = tags.get(OWNER_TAG) else {
        return Ownership::Unowned;
    };
    let cluster = tags.get(CLUSTER_TAG);
    match cluster {
        Some(c) if *owner == desired.owner && *c == desired.cluster => Ownership::Ours,
        None if *owner == desired.owner => Ownership::Unowned,
        _ => Ownership::Foreign {
            owner: owner.clone(),
            cluster: cluster.cloned(),
        },
    }
}

/// The next step for a VideoStream that exists in Kubernetes.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// No stream of that name: create it.
    Create(NewStream),
    /// The stream is not ACTIVE: KVS would refuse a mutation, so look again soon.
    Wait(StreamStatus),
    /// Make one change, with the version just observed.
    Mutate(Mutation),
    /// Nothing can be done until a person acts.
    Blocked(Blocker),
    /// The stream matches the spec.
    InSync,
}

/// One KVS mutation.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// Write the ownership tags on an unowned stream the spec asked to adopt.
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
    /// Remove tags the spec no longer lists (done before adding, so a replacement never
    /// crosses the 50-tag limit).
    Untag(Vec<String>),
    /// Add or change tags.
    Tag(BTreeMap<String, String>),
}

/// Why nothing can be changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    /// The stream belongs to another VideoStream or cluster (`Foreign`), or to none and the
    /// spec did not ask to adopt it (`Unowned`).
    NotOwned(Ownership),
    /// The stream's KMS key differs from the spec's, and KVS cannot change it.
    KmsKeyDiffers {
        desired: String,
        actual: Option<String>,
    },
}

impl Blocker {
    pub fn message(&self, stream: &str) -> String {
        match self {
            Blocker::NotOwned(Ownership::Foreign { owner, cluster }) => {
                let cluster = match cluster {
                    Some(c) => format!("of cluster {c}"),
                    None => "of a cluster that did not name itself".to_string(),
                };
                format!(
                    "stream {stream} is owned by VideoStream {owner} {cluster}; it is left untouched"
                )
            }
            Blocker::NotOwned(_) => format!(
                "stream {stream} already exists and no VideoStream of this cluster owns it; set spec.adoptExisting: true to manage it"
            ),
            Blocker::KmsKeyDiffers { desired, actual } => format!(
                "stream {stream} is encrypted with {} but spec.kmsKeyId is {desired}; KVS cannot change a stream's key",
                actual.as_deref().unwrap_or(kms::AWS_MANAGED_ALIAS)
            ),
        }
    }
}

/// Decides the next step for a live VideoStream.
pub fn plan(desired: &Desired, observed: Option<&Observed>) -> Plan {
    let Some(observed) = observed else {
        return Plan::Create(desired.new_stream());
    };
    let stream = &observed.stream;

    // A stream on its way out changes for no one, whoever owns it; once it is gone the
    // name is free, so waiting (rather than reporting NotOwned until the next resync)
    // lets a VideoStream take the name as soon as KVS lets go of it.
    if stream.status == StreamStatus::Deleting {
        return Plan::Wait(StreamStatus::Deleting);
    }

    // Ownership before anything else: a stream that is not ours is never changed.
    match observed.ownership(desired) {
        Ownership::Ours => {}
        foreign @ Ownership::Foreign { .. } => return Plan::Blocked(Blocker::NotOwned(foreign)),
        Ownership::Unowned if !desired.adopt_existing => {
            return Plan::Blocked(Blocker::NotOwned(Ownership::Unowned));
        }
        Ownership::Unowned if stream.status != StreamStatus::Active => {
            return Plan::Wait(stream.status.clone());
        }
        Ownership::Unowned => return Plan::Mutate(Mutation::Adopt),
    }

    if stream.status != StreamStatus::Active {
        return Plan::Wait(stream.status.clone());
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

    tag_mutation(desired.tags.as_ref()?, &observed.tags)
}

/// The tag change that takes `have` to `want` (removals first, so a replacement never
/// crosses the 50-tag limit), leaving reserved tags alone; `None` when they agree.
pub fn tag_mutation(
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
) -> Option<Mutation> {
    let stale: Vec<String> = have
        .keys()
        .filter(|key| !is_reserved_tag(key) && !want.contains_key(*key))
        .cloned()
        .collect();
    if !stale.is_empty() {
        return Some(Mutation::Untag(stale));
    }
    let changed: BTreeMap<String, String> = want
        .iter()
        .filter(|(key, value)| have.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (!changed.is_empty()).then_some(Mutation::Tag(changed))
}

/// A managed optional field differs when the spec names a value the stream does not have.
fn differs(desired: &Option<String>, actual: &Option<String>) -> bool {
    desired.is_some() && desired != actual
}

/// Tags the operator never adds, changes or removes on the user's behalf.
pub fn is_reserved_tag(key: &str) -> bool {
    RESERVED_TAG_PREFIXES
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

/// The next step for a VideoStream being deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupPlan {
    /// Nothing (left) to do at AWS: remove the finalizer.
    Done,
    /// The stream is busy or being deleted: look again soon.
    Wait(StreamStatus),
    /// DeleteStream (policy Delete, the stream is ours and ACTIVE).
    Delete,
    /// Remove our ownership tags (policy Retain), so the stream can be adopted again later.
    Release,
}

/// Decides the next cleanup step. A stream that is not ours is never touched.
pub fn plan_cleanup(desired: &Desired, observed: Option<&Observed>) -> CleanupPlan {
    let Some(observed) = observed else {
        return CleanupPlan::Done;
    };
    // Whoever's it is, it will be gone soon: wait for that rather than ask for its tags.
    if observed.stream.status == StreamStatus::Deleting {
        return CleanupPlan::Wait(StreamStatus::Deleting);
    }
    if observed.ownership(desired) != Ownership::Ours {
        return CleanupPlan::Done;
    }
    if observed.stream.status != StreamStatus::Active {
        return CleanupPlan::Wait(observed.stream.status.clone());
    }
    match desired.deletion_policy {
        DeletionPolicy::Delete => CleanupPlan::Delete,
        DeletionPolicy::Retain => CleanupPlan::Release,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "cameras/front-door";
    const CLUSTER: &str = "9b2f6c1e-0d1a-4c55-8f0e-1b2c3d4e5f60";
    const DEFAULT_KEY: &str = "arn:aws:kms:us-west-2:123456789012:alias/aws/kinesisvideo";

    fn desired() -> Desired {
        Desired {
            name: "front-door-cam".into(),
            owner: OWNER.into(),
            cluster: CLUSTER.into(),
            device_name: Some("cam-01".into()),
            media_type: Some("video/h264".into()),
            kms_key_id: None,
            data_retention_in_hours: Some(24),
            tags: Some(BTreeMap::from([("team".into(), "security".into())])),
            storage_tier: None,
            adopt_existing: false,
            deletion_policy: DeletionPolicy::Delete,
        }
    }

    /// The stream KVS would report after creating `desired()`.
    fn observed(status: StreamStatus) -> Observed {
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
        }
    }

    fn active() -> Observed {
        observed(StreamStatus::Active)
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
            StreamStatus::Creating,
            StreamStatus::Updating,
            StreamStatus::Deleting,
            StreamStatus::Other("NEW_STATE".into()),
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
                want: Mutation::Tag(tags(&[("site", "hq")])),
            },
            Case {
                why: "tag value changed",
                change: |d| d.tags = Some(tags(&[("team", "ops")])),
                want: Mutation::Tag(tags(&[("team", "ops")])),
            },
            Case {
                why: "tag removed",
                change: |d| d.tags = Some(BTreeMap::new()),
                want: Mutation::Untag(vec!["team".into()]),
            },
            Case {
                why: "tag replaced: removal first",
                change: |d| d.tags = Some(tags(&[("owner", "alice")])),
                want: Mutation::Untag(vec!["team".into()]),
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
                        Mutation::Tag(t) => have.tags.extend(t.clone()),
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
                Mutation::Tag(tags(&[("team", "ops")])),
            ]
        );
    }

    #[test]
    fn unmanaged_fields_are_left_as_they_are() {
        let want = Desired {
            name: "front-door-cam".into(),
            owner: OWNER.into(),
            cluster: CLUSTER.into(),
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
    fn a_stream_is_ours_only_when_owner_and_cluster_both_match() {
        let want = desired();
        let cases = [
            (
                tags(&[(OWNER_TAG, OWNER), (CLUSTER_TAG, CLUSTER)]),
                Ownership::Ours,
                "both",
            ),
            (tags(&[]), Ownership::Unowned, "no tags"),
            (
                tags(&[(CLUSTER_TAG, CLUSTER)]),
                Ownership::Unowned,
                "no owner",
            ),
            (
                tags(&[(OWNER_TAG, OWNER)]),
                Ownership::Unowned,
                "owner without cluster: another cluster may have written it",
            ),
            (
                tags(&[(OWNER_TAG, OWNER), (CLUSTER_TAG, "other")]),
                Ownership::Foreign {
                    owner: OWNER.into(),
                    cluster: Some("other".into()),
                },
                "same VideoStream name in another cluster",
            ),
            (
                tags(&[(OWNER_TAG, "x/y"), (CLUSTER_TAG, CLUSTER)]),
                Ownership::Foreign {
                    owner: "x/y".into(),
                    cluster: Some(CLUSTER.into()),
                },
                "another VideoStream of this cluster",
            ),
        ];
        for (tags, expected, why) in cases {
            assert_eq!(ownership(&tags, &want), expected, "{why}");
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
        let mut foreign = observed(StreamStatus::Deleting);
        foreign.tags.clear();
        for have in [observed(StreamStatus::Deleting), foreign] {
            assert_eq!(
                plan(&desired(), Some(&have)),
                Plan::Wait(StreamStatus::Deleting)
            );
            assert_eq!(
                plan_cleanup(&desired(), Some(&have)),
                CleanupPlan::Wait(StreamStatus::Deleting)
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
        have.stream.status = StreamStatus::Updating;
        assert_eq!(plan(&want, Some(&have)), Plan::Wait(StreamStatus::Updating));
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
                Some(observed(StreamStatus::Deleting)),
                CleanupPlan::Wait(StreamStatus::Deleting),
            ),
            (
                "ours, updating",
                desired(),
                Some(observed(StreamStatus::Updating)),
                CleanupPlan::Wait(StreamStatus::Updating),
            ),
            (
                "ours, creating, Retain",
                retain,
                Some(observed(StreamStatus::Creating)),
                CleanupPlan::Wait(StreamStatus::Creating),
            ),
        ];
        for (why, want, have, expected) in cases {
            assert_eq!(plan_cleanup(&want, have.as_ref()), expected, "{why}");
        }
    }

    #[test]
    fn blocker_messages_name_the_stream_and_the_way_out() {
        let not_adopted = Blocker::NotOwned(Ownership::Unowned).message("s");
        assert!(not_adopted.contains("adoptExisting"), "{not_adopted}");
        let foreign = Blocker::NotOwned(Ownership::Foreign {
            owner: "a/b".into(),
            cluster: Some("c1".into()),
        })
        .message("s");
        assert!(
            foreign.contains("a/b") && foreign.contains("c1"),
            "{foreign}"
        );
    }
}
