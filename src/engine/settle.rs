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

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use tracing::debug;

use super::conditions::{READY, find};
use super::context::{Context, ObjectKey, jittered};
use super::kind::{Kind, KindStatus};
use super::ownership::tag_mutation;
use crate::kvs::{ResourceStatus, TagRead};
use crate::tenancy::accounts::Identity;

/// How long a reconcile after a restart waits for its account's first scan.
const FIRST_SCAN_WAIT: Duration = Duration::from_secs(30);

/// `Some(action)` when `object` is in sync and stays so without a full reconcile; `None`
/// when the full reconcile must run (something changed, or the scan cannot tell).
pub async fn settled<K: Kind>(
    object: &K,
    identity: &Identity,
    ctx: &Arc<Context>,
) -> Option<Action> {
    let interval = ctx.settings.drift_scan_interval?;
    let status = object.status()?;
    let generation = object.meta().generation;
    let ready = find(status.conditions(), READY)?;
    let in_sync = status.observed_generation() == generation
        && ready.status == "True"
        && ready.observed_generation == generation;
    if !in_sync {
        return None;
    }
    let scans = identity.account.scans.of(K::NOUN);
    let snapshot = scans.first(FIRST_SCAN_WAIT).await?;
    // A scan older than two intervals (the listing failing, say) proves nothing.
    if snapshot.taken.elapsed() > interval * 2 + ctx.settings.poll_interval {
        return None;
    }
    let listed = snapshot.items.get(&object.aws_name())?;
    let unchanged = Some(listed.arn.as_str()) == status.arn()
        && Some(listed.version.as_str()) == status.version()
        && listed.status == ResourceStatus::Active;
    if !unchanged {
        return None;
    }
    let period = audit_period(ctx, identity, snapshot.items.len());
    let next_audit = match audit(object, identity, ctx, period).await {
        Audit::Clean { next } | Audit::Deferred { next } => next,
        Audit::Due => return None,
    };
    Some(Action::requeue(next_audit.min(ctx.settings.resync_period)))
}

/// When an object just found in sync is looked at next: at the resync period, or when
/// its audit is due if that comes first (an audit period shorter than the resync period
/// would otherwise only be kept at resyncs).
pub fn next_check<K: Kind>(object: &K, identity: &Identity, ctx: &Context) -> Duration {
    let resync = jittered(ctx.settings.resync_period);
    let audited = object.desired_tags().is_some() || object.audit_is_full();
    if ctx.settings.drift_scan_interval.is_none() || !audited {
        return resync;
    }
    let resources = identity
        .account
        .scans
        .of(K::NOUN)
        .latest()
        .map_or(0, |snapshot| snapshot.items.len());
    let period = audit_period(ctx, identity, resources);
    let due_in = ctx.audit_due_in(ObjectKey::of(object), period);
    resync.min(due_in.max(ctx.settings.poll_interval))
}

/// The audit period of an account holding `resources` resources of a kind: the configured
/// period, or longer when the audit budget cannot read that many tag sets in it.
fn audit_period(ctx: &Context, identity: &Identity, resources: usize) -> Duration {
    let rate = identity.account.audits.per_second();
    let needed = Duration::from_secs_f64(resources as f64 / rate);
    ctx.settings.tag_audit_period.max(needed)
}

enum Audit {
    /// The tags are as the spec says (or not managed); audit again in `next`.
    Clean { next: Duration },
    /// No budget left now; try again in `next`.
    Deferred { next: Duration },
    /// The tags drifted, or the audit is a full reconcile: it runs now.
    Due,
}

async fn audit<K: Kind>(object: &K, identity: &Identity, ctx: &Context, period: Duration) -> Audit {
    let key = ObjectKey::of(object);
    if object.desired_tags().is_none() && !object.audit_is_full() {
        return Audit::Clean { next: period };
    }
    let due_in = ctx.audit_due_in(key.clone(), period);
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
    ctx.audited(key, period);
    // State that neither the listing nor the tags show: the full reconcile reads it.
    if object.audit_is_full() {
        ctx.metrics.record_tag_audit(&K::kind(&()), "full");
        return Audit::Due;
    }
    let (Some(want), Some(arn)) = (
        object.desired_tags(),
        object.status().and_then(KindStatus::arn),
    ) else {
        return Audit::Due;
    };
    // A failed read is left to the full reconcile, which reports it.
    let Ok(tags) = identity.kvs.list_tags(arn, TagRead::Fresh).await else {
        return Audit::Due;
    };
    if tag_mutation(want, &tags).is_some() {
        debug!(
            kind = K::NOUN,
            namespace = object.namespace(),
            name = object.name_any(),
            "tags changed outside Kubernetes"
        );
        ctx.metrics.record_tag_audit(&K::kind(&()), "drifted");
        return Audit::Due;
    }
    ctx.metrics.record_tag_audit(&K::kind(&()), "in-sync");
    Audit::Clean { next: period }
}
