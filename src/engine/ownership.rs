//! Ownership of KVS resources, the same for every kind: two tags written in the create
//! call, read fresh before anything destructive, claimed and confirmed on adoption.
//!
//! A resource is ours when its `kvs-operator.dev/owner` tag names this object
//! (`<namespace>/<name>`) and its `kvs-operator.dev/cluster` tag names this cluster. Tags
//! the operator never touches on a user's behalf: `aws:` (AWS's) and `kvs-operator.dev/`
//! (its own).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::ResourceExt;

use crate::api::{CLUSTER_TAG, OWNER_TAG, RESERVED_TAG_PREFIXES};
use crate::kvs::{KinesisVideo, TagRead};
use crate::{Error, Result};

/// Who an object is, in the ownership tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owner {
    /// `<namespace>/<name>` of the object.
    pub owner: String,
    /// This operator's `--cluster-id`.
    pub cluster: String,
}

impl Owner {
    pub fn of(object: &impl ResourceExt, cluster: &str) -> Self {
        Self {
            owner: format!(
                "{}/{}",
                object.namespace().unwrap_or_default(),
                object.name_any()
            ),
            cluster: cluster.to_string(),
        }
    }

    /// The two tags that make a resource ours, always written together.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_TAG.to_string(), self.owner.clone()),
            (CLUSTER_TAG.to_string(), self.cluster.clone()),
        ])
    }

    /// Whose a resource with `tags` is, from this owner's point of view.
    pub fn ownership(&self, tags: &BTreeMap<String, String>) -> Ownership {
        let Some(owner) = tags.get(OWNER_TAG) else {
            return Ownership::Unowned;
        };
        let cluster = tags.get(CLUSTER_TAG);
        match cluster {
            Some(c) if *owner == self.owner && *c == self.cluster => Ownership::Ours,
            None if *owner == self.owner => Ownership::Unowned,
            _ => Ownership::Foreign {
                owner: owner.clone(),
                cluster: cluster.cloned(),
            },
        }
    }
}

/// Whose a resource is, by its owner and cluster tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Both tags name this object and this cluster.
    Ours,
    /// No object owns it; or (written before cluster tags existed) it names this object
    /// but no cluster, which another cluster could equally have written. Only adoption
    /// makes it ours.
    Unowned,
    /// Another object, or the same name in another cluster, owns it.
    Foreign {
        owner: String,
        cluster: Option<String>,
    },
}

impl Ownership {
    /// Why `name` (a `noun`, whose objects are `owner_kind`s) is left alone.
    pub fn refusal(&self, noun: &str, owner_kind: &str, name: &str) -> String {
        match self {
            Ownership::Foreign { owner, cluster } => {
                let cluster = match cluster {
                    Some(c) => format!("of cluster {c}"),
                    None => "of a cluster that did not name itself".to_string(),
                };
                format!(
                    "{noun} {name} is owned by {owner_kind} {owner} {cluster}; it is left untouched"
                )
            }
            Ownership::Unowned | Ownership::Ours => format!(
                "{noun} {name} already exists and nothing in this cluster owns it; set spec.adoptExisting: true to manage it"
            ),
        }
    }
}

/// Tags the operator never adds, changes or removes on the user's behalf.
pub fn is_reserved_tag(key: &str) -> bool {
    RESERVED_TAG_PREFIXES
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

/// One change of a resource's tags.
#[derive(Debug, Clone, PartialEq)]
pub enum TagChange {
    /// Remove tags the spec no longer lists (done before adding, so a replacement never
    /// crosses the 50-tag limit).
    Untag(Vec<String>),
    /// Add or change tags.
    Tag(BTreeMap<String, String>),
}

/// Which of a resource's tags the spec may remove.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TagScope<'a> {
    /// `tagPolicy: Exclusive`: every key not in the spec (but reserved ones).
    Exclusive,
    /// `tagPolicy: Shared`: only these keys, which the operator applied itself.
    Shared(&'a BTreeSet<String>),
}

/// The tag change that takes `have` to `want`, removals first, reserved tags left alone,
/// and — shared — keys others wrote left alone too; `None` when they agree.
pub fn tag_mutation(
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
    scope: TagScope<'_>,
) -> Option<TagChange> {
    let removable = |key: &String| match scope {
        TagScope::Exclusive => true,
        TagScope::Shared(managed) => managed.contains(key),
    };
    let stale: Vec<String> = have
        .keys()
        .filter(|key| !is_reserved_tag(key) && !want.contains_key(*key) && removable(key))
        .cloned()
        .collect();
    if !stale.is_empty() {
        return Some(TagChange::Untag(stale));
    }
    let changed: BTreeMap<String, String> = want
        .iter()
        .filter(|(key, value)| have.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (!changed.is_empty()).then_some(TagChange::Tag(changed))
}

/// The keys a change sets back to the spec's value after someone else changed them.
pub fn restored_keys(change: &TagChange, have: &BTreeMap<String, String>) -> Vec<String> {
    match change {
        TagChange::Tag(tags) => tags
            .iter()
            .filter(|(key, value)| have.get(*key).is_some_and(|v| v != *value))
            .map(|(key, _)| key.clone())
            .collect(),
        TagChange::Untag(_) => Vec::new(),
    }
}

/// The tag keys the operator may remove after a step that observed `have` and made
/// `change` — `None` when it manages no tags (`want` absent) — and the keys the change sets
/// back after someone else changed them.
pub fn tag_bookkeeping_of(
    want: Option<&BTreeMap<String, String>>,
    managed: &BTreeSet<String>,
    have: Option<&BTreeMap<String, String>>,
    change: Option<&TagChange>,
) -> (Option<BTreeSet<String>>, Vec<String>) {
    let restored = match (change, have) {
        (Some(change), Some(have)) => restored_keys(change, have),
        _ => Vec::new(),
    };
    let Some(want) = want else {
        return (None, restored);
    };
    let kept = match have {
        Some(have) => managed_after(want, have, managed, change),
        // Created now, with the spec's tags.
        None => want.keys().cloned().collect(),
    };
    (Some(kept), restored)
}

/// A tag change's note, saying which keys it set back after someone else changed them.
pub fn with_restored(note: String, restored: &[String]) -> String {
    if restored.is_empty() {
        return note;
    }
    format!(
        "{note}; put back {}: the spec's value wins over a value written outside Kubernetes",
        restored.join(", ")
    )
}

/// The keys the operator may remove after this step: the spec's, and those it applied
/// before that are still on the resource and this step did not remove.
pub fn managed_after(
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
    managed: &BTreeSet<String>,
    change: Option<&TagChange>,
) -> BTreeSet<String> {
    let untagged: &[String] = match change {
        Some(TagChange::Untag(keys)) => keys,
        _ => &[],
    };
    want.keys()
        .cloned()
        .chain(
            managed
                .iter()
                .filter(|key| have.contains_key(*key) && !untagged.contains(key))
                .cloned(),
        )
        .collect()
}

impl TagChange {
    /// Makes the change at KVS.
    pub async fn apply(&self, kvs: &dyn KinesisVideo, arn: &str) -> Result<()> {
        match self {
            TagChange::Untag(keys) => kvs.untag(arn, keys).await,
            TagChange::Tag(tags) => kvs.tag(arn, tags).await,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TagChange::Untag(keys) => format!("removed tags {}", keys.join(", ")),
            TagChange::Tag(tags) => {
                let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
                format!("set tags {}", keys.join(", "))
            }
        }
    }
}

/// How long a claim settles before it is read back. Two claimants that both read the
/// resource unowned write their tags at about the same time — within a round trip, since
/// nothing waits between a claimant's read and its write ([`KinesisVideo::tag_if`]);
/// reading back only after both writes have landed lets exactly one of them (the last
/// writer) see its own tags.
pub const CLAIM_SETTLE: Duration = Duration::from_secs(1);

/// A resource whose ownership is checked: what it is and where.
pub struct Claimed<'a> {
    pub kvs: &'a dyn KinesisVideo,
    pub arn: &'a str,
    pub noun: &'a str,
    /// The kind of the objects that own such resources.
    pub owner_kind: &'a str,
    pub name: &'a str,
}

impl Claimed<'_> {
    /// Claims an unowned resource: checks it is still unowned and writes the ownership
    /// tags with nothing waiting in between, lets the claim settle and reads it back. A
    /// claimant that finds another's tags has lost: it reports NotOwned and changes nothing
    /// more (its claim was overwritten by the winner).
    pub async fn claim(&self, owner: &Owner) -> Result<()> {
        let unowned = |tags: &BTreeMap<String, String>| owner.ownership(tags) == Ownership::Unowned;
        let (before, written) = self.kvs.tag_if(self.arn, &owner.tags(), &unowned).await?;
        if !written {
            let found = owner.ownership(&before);
            return Err(Error::NotOwned(found.refusal(
                self.noun,
                self.owner_kind,
                self.name,
            )));
        }
        tokio::time::sleep(CLAIM_SETTLE).await;
        self.confirm(owner).await
    }

    /// Reads the tags from KVS, bypassing every cache, and fails with NotOwned unless both
    /// ownership tags are ours.
    pub async fn confirm(&self, owner: &Owner) -> Result<()> {
        let tags = self.kvs.list_tags(self.arn, TagRead::Fresh).await?;
        match owner.ownership(&tags) {
            Ownership::Ours => Ok(()),
            other => Err(Error::NotOwned(other.refusal(
                self.noun,
                self.owner_kind,
                self.name,
            ))),
        }
    }

    /// Removes our ownership tags. The caller has just read them fresh and found them ours
    /// (a cleanup plans from such a read).
    pub async fn release(&self, owner: &Owner) -> Result<()> {
        let keys: Vec<String> = owner.tags().into_keys().collect();
        self.kvs.untag(self.arn, &keys).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "cameras/front-door";
    const CLUSTER: &str = "9b2f6c1e-0d1a-4c55-8f0e-1b2c3d4e5f60";

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn me() -> Owner {
        Owner {
            owner: OWNER.into(),
            cluster: CLUSTER.into(),
        }
    }

    #[test]
    fn a_resource_is_ours_only_when_owner_and_cluster_both_match() {
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
                "same object name in another cluster",
            ),
            (
                tags(&[(OWNER_TAG, "x/y"), (CLUSTER_TAG, CLUSTER)]),
                Ownership::Foreign {
                    owner: "x/y".into(),
                    cluster: Some(CLUSTER.into()),
                },
                "another object of this cluster",
            ),
        ];
        for (tags, expected, why) in cases {
            assert_eq!(me().ownership(&tags), expected, "{why}");
        }
    }

    #[test]
    fn refusals_name_the_resource_and_the_way_out() {
        let not_adopted = Ownership::Unowned.refusal("stream", "VideoStream", "s");
        assert!(not_adopted.contains("adoptExisting"), "{not_adopted}");
        let foreign = Ownership::Foreign {
            owner: "a/b".into(),
            cluster: Some("c1".into()),
        }
        .refusal("signaling channel", "SignalingChannel", "door");
        assert!(
            foreign.contains("signaling channel door")
                && foreign.contains("SignalingChannel a/b")
                && foreign.contains("c1"),
            "{foreign}"
        );
    }

    #[test]
    fn tag_changes_remove_first_and_never_touch_reserved_tags() {
        let want = tags(&[("team", "ops")]);
        let have = tags(&[
            ("team", "security"),
            ("old", "x"),
            ("aws:cloudformation:stack-name", "s"),
            (OWNER_TAG, OWNER),
        ]);
        assert_eq!(
            tag_mutation(&want, &have, TagScope::Exclusive),
            Some(TagChange::Untag(vec!["old".into()]))
        );
        let have = tags(&[("team", "security"), ("aws:x", "y")]);
        assert_eq!(
            tag_mutation(&want, &have, TagScope::Exclusive),
            Some(TagChange::Tag(tags(&[("team", "ops")])))
        );
        assert_eq!(
            tag_mutation(
                &want,
                &tags(&[("team", "ops"), ("aws:x", "y")]),
                TagScope::Exclusive
            ),
            None
        );
    }

    #[test]
    fn shared_tags_remove_only_what_the_operator_applied_and_the_spec_dropped() {
        let want = tags(&[("team", "ops")]);
        // "site" was ours and left the spec; "cost-center" a FinOps tagger wrote.
        let have = tags(&[("team", "ops"), ("site", "hq"), ("cost-center", "42")]);
        let managed: BTreeSet<String> = ["team".to_string(), "site".to_string()].into();
        assert_eq!(
            tag_mutation(&want, &have, TagScope::Shared(&managed)),
            Some(TagChange::Untag(vec!["site".into()]))
        );
        // A lost status proves nothing was applied: nothing is removed.
        let nothing = BTreeSet::new();
        assert_eq!(tag_mutation(&want, &have, TagScope::Shared(&nothing)), None);
        // Ours wins on our keys, whoever changed them.
        let changed = tags(&[("team", "dev"), ("cost-center", "42")]);
        let change = tag_mutation(&want, &changed, TagScope::Shared(&managed)).unwrap();
        assert_eq!(change, TagChange::Tag(tags(&[("team", "ops")])));
        assert_eq!(restored_keys(&change, &changed), ["team"]);
        // What stays ours: the spec's keys, and what was applied and is still there.
        let untag = TagChange::Untag(vec!["site".into()]);
        assert_eq!(
            managed_after(&want, &have, &managed, Some(&untag)),
            ["team".to_string()].into()
        );
        assert_eq!(
            managed_after(&want, &have, &managed, None),
            ["site".to_string(), "team".to_string()].into()
        );
    }
}
