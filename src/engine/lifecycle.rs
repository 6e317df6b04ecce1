//! The planning rules every kind shares, pure: what a resource's lifecycle state and
//! ownership allow before any change is considered, and the cleanup plan. Each kind's
//! planner starts with [`gate`] and plans its own fields only after [`Gate::Proceed`].

use std::collections::BTreeMap;

use super::kind::CleanupStep;
use super::ownership::{Claimed, Owner, Ownership};
use crate::Result;
use crate::api::DeletionPolicy;
use crate::kvs::ResourceStatus;

/// What an existing resource's state and tags allow.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Ours and ACTIVE: plan the fields.
    Proceed,
    /// Not ACTIVE (or on its way out, whoever's it is): KVS would refuse a change.
    Wait(ResourceStatus),
    /// Not ours: never changed.
    NotOwned(Ownership),
    /// Unowned, ACTIVE, and the spec asks to adopt it: claim it.
    Adopt,
}

/// The gate before any change of an existing resource.
pub fn gate(
    owner: &Owner,
    tags: &BTreeMap<String, String>,
    status: &ResourceStatus,
    adopt_existing: bool,
) -> Gate {
    // A resource on its way out changes for no one, whoever owns it; once it is gone the
    // name is free, so waiting (rather than reporting NotOwned until the next resync) lets
    // an object take the name as soon as KVS lets go of it.
    if *status == ResourceStatus::Deleting {
        return Gate::Wait(ResourceStatus::Deleting);
    }
    let active = *status == ResourceStatus::Active;
    // Ownership before anything else: what is not ours is never changed.
    match owner.ownership(tags) {
        Ownership::Ours if active => Gate::Proceed,
        Ownership::Ours => Gate::Wait(status.clone()),
        foreign @ Ownership::Foreign { .. } => Gate::NotOwned(foreign),
        Ownership::Unowned if !adopt_existing => Gate::NotOwned(Ownership::Unowned),
        Ownership::Unowned if !active => Gate::Wait(status.clone()),
        Ownership::Unowned => Gate::Adopt,
    }
}

/// The next step for an object being deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupPlan {
    /// Nothing (left) to do at AWS: remove the finalizer.
    Done,
    /// The resource is busy or being deleted: look again soon.
    Wait(ResourceStatus),
    /// Delete it (policy Delete, the resource is ours and ACTIVE).
    Delete,
    /// Remove our ownership tags (policy Retain), so it can be adopted again later.
    Release,
}

/// Decides the next cleanup step of an existing resource (`None`: it is gone). What is
/// not ours is never touched.
pub fn plan_cleanup(
    owner: &Owner,
    observed: Option<(&BTreeMap<String, String>, &ResourceStatus)>,
    policy: DeletionPolicy,
) -> CleanupPlan {
    let Some((tags, status)) = observed else {
        return CleanupPlan::Done;
    };
    // Whoever's it is, it will be gone soon: wait for that rather than ask for its tags.
    if *status == ResourceStatus::Deleting {
        return CleanupPlan::Wait(ResourceStatus::Deleting);
    }
    if owner.ownership(tags) != Ownership::Ours {
        return CleanupPlan::Done;
    }
    if *status != ResourceStatus::Active {
        return CleanupPlan::Wait(status.clone());
    }
    match policy {
        DeletionPolicy::Delete => CleanupPlan::Delete,
        DeletionPolicy::Retain => CleanupPlan::Release,
    }
}

/// Carries out a cleanup plan, which must come from tags read fresh for it (each kind's
/// cleanup reads them so): `delete` makes the kind's delete call, a release removes the
/// ownership tags. A second read here would add nothing: the time between the last read
/// and the call is the call's wait in the rate limiter either way, and it would cost every
/// deletion a second call of the quota all deletions share (ListTagsForStream, 50/s).
pub async fn clean_up(
    plan: CleanupPlan,
    claimed: &Claimed<'_>,
    owner: &Owner,
    delete: impl AsyncFnOnce() -> Result<()>,
) -> Result<CleanupStep> {
    let arn = claimed.arn.to_string();
    Ok(match plan {
        CleanupPlan::Done => CleanupStep::Done,
        CleanupPlan::Wait(status) => CleanupStep::Waiting(status),
        CleanupPlan::Delete => {
            delete().await?;
            CleanupStep::Deleted { arn }
        }
        CleanupPlan::Release => {
            claimed.release(owner).await?;
            CleanupStep::Released { arn }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CLUSTER_TAG, OWNER_TAG};

    fn me() -> Owner {
        Owner {
            owner: "ns/cam".into(),
            cluster: "c1".into(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_gate_waits_refuses_or_adopts_before_any_field_is_planned() {
        let ours = tags(&[(OWNER_TAG, "ns/cam"), (CLUSTER_TAG, "c1")]);
        let theirs = tags(&[(OWNER_TAG, "other/cam"), (CLUSTER_TAG, "c1")]);
        let none = tags(&[]);
        let active = ResourceStatus::Active;
        let updating = ResourceStatus::Updating;
        let deleting = ResourceStatus::Deleting;
        let cases = [
            (&ours, &active, false, Gate::Proceed, "ours and ACTIVE"),
            (
                &ours,
                &updating,
                false,
                Gate::Wait(updating.clone()),
                "ours, busy",
            ),
            (
                &theirs,
                &deleting,
                true,
                Gate::Wait(deleting.clone()),
                "anyone's, leaving",
            ),
            (
                &none,
                &active,
                false,
                Gate::NotOwned(Ownership::Unowned),
                "unowned",
            ),
            (&none, &active, true, Gate::Adopt, "adoption asked"),
            (
                &none,
                &updating,
                true,
                Gate::Wait(updating.clone()),
                "adopt once ACTIVE",
            ),
        ];
        for (tags, status, adopt, expected, why) in cases {
            assert_eq!(gate(&me(), tags, status, adopt), expected, "{why}");
        }
        assert!(matches!(
            gate(&me(), &theirs, &active, true),
            Gate::NotOwned(Ownership::Foreign { .. })
        ));
    }

    #[test]
    fn cleanup_follows_the_policy_and_never_touches_what_is_not_ours() {
        let ours = tags(&[(OWNER_TAG, "ns/cam"), (CLUSTER_TAG, "c1")]);
        let theirs = tags(&[(OWNER_TAG, "ns/cam"), (CLUSTER_TAG, "c2")]);
        let active = ResourceStatus::Active;
        let cases = [
            (None, DeletionPolicy::Delete, CleanupPlan::Done, "gone"),
            (
                Some((&ours, &active)),
                DeletionPolicy::Delete,
                CleanupPlan::Delete,
                "ours",
            ),
            (
                Some((&ours, &active)),
                DeletionPolicy::Retain,
                CleanupPlan::Release,
                "retain",
            ),
            (
                Some((&theirs, &active)),
                DeletionPolicy::Delete,
                CleanupPlan::Done,
                "other cluster",
            ),
            (
                Some((&ours, &ResourceStatus::Creating)),
                DeletionPolicy::Delete,
                CleanupPlan::Wait(ResourceStatus::Creating),
                "busy",
            ),
        ];
        for (observed, policy, expected, why) in cases {
            assert_eq!(plan_cleanup(&me(), observed, policy), expected, "{why}");
        }
    }
}
