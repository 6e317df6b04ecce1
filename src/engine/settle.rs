//! The reconcile of an object that is already in sync, made without AWS calls when its
//! account's latest scan proves nothing moved, plus the tag audit on its own schedule.
//!
//! This is what makes the operator almost free at rest and after a restart: a resync, or
//! the reconcile of every object that follows a restart, compares the status with the
//! account's last listing (one call for 10,000 resources) instead of describing each
//! resource and listing its tags. Tags are not in listings, so each resource's tags are
//! read fresh once per audit period, within a share of the account's tag-listing quota; the
//! period stretches when the account has more resources than that share can audit in it.
//! An audit that gets no budget is deferred, never waited for: a reconcile slot is never
//! held by background work.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use tracing::debug;

use super::conditions::{READY, SYNCED, find};
use super::context::{Context, ObjectKey, jittered};
use super::kind::{Kind, KindStatus};
use super::ownership::{Owner, Ownership, TagScope, tag_mutation};
use super::resync;
use crate::Error;
use crate::api::{ManagementPolicy, TagPolicy};
use crate::kvs::{ResourceStatus, TagRead};
use crate::tenancy::accounts::Identity;

/// How long a reconcile after a restart waits for its account's first scan attempt.
const FIRST_SCAN_WAIT: Duration = Duration::from_secs(30);

/// Whether an object is settled.
pub enum Settled {
    /// In sync, and stays so without a full reconcile: look again after this.
    Yes(Action),
    /// The full reconcile must run (something changed, the scan cannot tell, or an audit
    /// found drift).
    No,
    /// The audit could not read what it had to: reported like any failed reconcile.
    Failed(Error),
}

/// Whether `object` is in sync and stays so without a full reconcile.
///
/// Only an object whose last full reconcile of this generation succeeded and found it
/// ready qualifies: a paused, unpaused, failed or still-progressing object is reconciled in
/// full.
pub async fn settled<K: Kind>(object: &K, identity: &Identity, ctx: &Arc<Context>) -> Settled {
    let Some(interval) = ctx.settings.drift_scan_interval else {
        return Settled::No;
    };
    let Some(status) = object.status() else {
        return Settled::No;
    };
    let generation = object.meta().generation;
    let current = |type_: &str| {
        find(status.conditions(), type_)
            .is_some_and(|c| c.status == "True" && c.observed_generation == generation)
    };
    if status.observed_generation() != generation || !current(READY) || !current(SYNCED) {
        return Settled::No;
    }
    let scans = identity.account.scans.of(K::NOUN);
    let Some(snapshot) = scans.first(FIRST_SCAN_WAIT).await else {
        return Settled::No;
    };
    // A scan older than two intervals (the listing failing, say) proves nothing.
    if snapshot.taken.elapsed() > interval * 2 + ctx.settings.poll_interval {
        return Settled::No;
    }
    let Some(listed) = snapshot.get(&object.aws_name()) else {
        return Settled::No;
    };
    let unchanged =
        listed.shows(status.arn(), status.version()) && listed.status == ResourceStatus::Active;
    if !unchanged {
        return Settled::No;
    }
    let period = audit_period(ctx, identity, snapshot.len());
    let next_audit = match audit(object, identity, ctx, period).await {
        Audit::Clean { next } | Audit::Deferred { next } => next,
        Audit::Due => return Settled::No,
        Audit::Failed(error) => return Settled::Failed(error),
    };
    let next = next_audit.min(ctx.settings.resync_period);
    Settled::Yes(resync::later(ctx, object, next))
}

/// When an object just found in sync by a full reconcile is looked at next: at the resync
/// period, or when its audit is due if that comes first (an audit period shorter than the
/// resync period would otherwise only be kept at resyncs). An audit whose repair this
/// reconcile completed counts as done now.
pub fn next_check<K: Kind>(object: &K, identity: &Identity, ctx: &Context) -> Duration {
    let resync = jittered(ctx.settings.resync_period);
    if ctx.settings.drift_scan_interval.is_none() || !audited(object) {
        return resync;
    }
    let resources = identity
        .account
        .scans
        .of(K::NOUN)
        .latest()
        .map_or(0, |snapshot| snapshot.len());
    let period = audit_period(ctx, identity, resources);
    let key = ObjectKey::of(object);
    if ctx.ledger.is_repairing(&key) {
        ctx.ledger.audited(&key, jittered(period));
    }
    let due_in = ctx.ledger.audit_due_in(&key, period);
    resync.min(due_in.max(ctx.settings.poll_interval))
}

/// Whether the object's resource is audited: everything the operator manages is (its
/// ownership tags, and its own tags when the spec sets them); what it only observes is not.
fn audited<K: Kind>(object: &K) -> bool {
    object.management_policy() == ManagementPolicy::Full
}

/// The audit period of an account holding `resources` resources of a kind: the configured
/// period, or longer when the audit budget cannot read that many tag sets in it.
fn audit_period(ctx: &Context, identity: &Identity, resources: usize) -> Duration {
    let rate = identity.account.audits.per_second();
    let needed = Duration::from_secs_f64(resources as f64 / rate);
    ctx.settings.tag_audit_period.max(needed)
}

enum Audit {
    /// The tags are ours and as the spec says; audit again in `next`.
    Clean { next: Duration },
    /// No budget left now; try again in `next`.
    Deferred { next: Duration },
    /// The tags or the ownership drifted, or the audit is a full reconcile: it runs now,
    /// and the audit counts as done once it has found the object in sync.
    Due,
    /// The fresh read failed.
    Failed(Error),
}

async fn audit<K: Kind>(object: &K, identity: &Identity, ctx: &Context, period: Duration) -> Audit {
    let key = ObjectKey::of(object);
    if !audited(object) {
        return Audit::Clean { next: period };
    }
    // A repair that has not succeeded yet: the full reconcile retries it.
    if ctx.ledger.is_repairing(&key) {
        return Audit::Due;
    }
    let due_in = ctx.ledger.audit_due_in(&key, period);
    if !due_in.is_zero() {
        return Audit::Clean { next: due_in };
    }
    if !identity.account.audits.try_take() {
        ctx.metrics.record_tag_audit(&K::kind(&()), "deferred");
        return Audit::Deferred {
            next: identity
                .account
                .audits
                .next_in()
                .max(ctx.settings.poll_interval),
        };
    }
    let Some(arn) = object.status().and_then(KindStatus::arn) else {
        ctx.ledger.audit_repairing(&key);
        return Audit::Due;
    };
    // Read fresh in any case: it refreshes what the full reconcile reads from the cache.
    let tags = match identity.kvs.list_tags(arn, TagRead::Fresh).await {
        Ok(tags) => tags,
        Err(error) => {
            ctx.metrics.record_tag_audit(&K::kind(&()), "failed");
            return Audit::Failed(error);
        }
    };
    // Someone else's tags on it now (another claimant won, or a person changed them) is
    // drift like any other: the full reconcile reports it and changes nothing more.
    let ours = Owner::of(object, &ctx.settings.cluster_id).ownership(&tags) == Ownership::Ours;
    let managed: BTreeSet<String> = object
        .status()
        .map(|s| s.managed_tag_keys().iter().cloned().collect())
        .unwrap_or_default();
    let scope = match object.tag_policy() {
        TagPolicy::Exclusive => TagScope::Exclusive,
        TagPolicy::Shared => TagScope::Shared(&managed),
    };
    let tags_drifted = object
        .desired_tags()
        .is_some_and(|want| tag_mutation(&want.to_map(), &tags, scope).is_some());
    if !ours || tags_drifted {
        debug!(
            kind = K::NOUN,
            namespace = object.namespace(),
            name = object.name_any(),
            ours,
            "tags changed outside Kubernetes"
        );
        ctx.metrics.record_tag_audit(&K::kind(&()), "drifted");
        ctx.ledger.audit_repairing(&key);
        return Audit::Due;
    }
    // State that neither the listing nor the tags show: the full reconcile reads it.
    if object.audit_is_full() {
        ctx.metrics.record_tag_audit(&K::kind(&()), "full");
        ctx.ledger.audit_repairing(&key);
        return Audit::Due;
    }
    ctx.metrics.record_tag_audit(&K::kind(&()), "in-sync");
    ctx.ledger.audited(&key, jittered(period));
    // Nothing to repair: the read served the audit only (see `TagCache::forget`).
    identity.account.tags.forget(arn);
    Audit::Clean { next: period }
}
