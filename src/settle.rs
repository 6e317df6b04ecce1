//! The reconcile of a VideoStream that is already in sync, made without AWS calls when the
//! account's latest scan proves nothing moved, plus the tag audit on its own schedule.
//!
//! This is what makes the operator almost free at rest and after a restart: a resync, or
//! the reconcile of every object that follows a restart, compares the status with the
//! account's last ListStreams pass (one call for 10,000 streams) instead of calling
//! DescribeStream and ListTagsForStream per stream. Tags are not in ListStreams, so each
//! stream's tags are read fresh once per audit period, within a share of the account's
//! ListTagsForStream quota; the period stretches when the account has more streams than
//! that share can audit in it. An audit that gets no budget is deferred, never waited for:
//! a reconcile slot is never held by background work.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::debug;

use crate::accounts::Identity;
use crate::api::VideoStream;
use crate::controller::Context;
use crate::kvs::{StreamStatus, TagRead};
use crate::plan::tag_mutation;
use crate::status::{READY, find};

/// How long a reconcile after a restart waits for its account's first scan.
const FIRST_SCAN_WAIT: Duration = Duration::from_secs(30);

/// `Some(action)` when `vs` is in sync and stays so without a full reconcile; `None` when
/// the full reconcile must run (something changed, or the scan cannot tell).
pub async fn settled(vs: &VideoStream, identity: &Identity, ctx: &Arc<Context>) -> Option<Action> {
    let interval = ctx.settings.drift_scan_interval?;
    let status = vs.status.as_ref()?;
    let generation = vs.meta().generation;
    let ready = find(&status.conditions, READY)?;
    let in_sync = status.observed_generation == generation
        && ready.status == "True"
        && ready.observed_generation == generation;
    if !in_sync {
        return None;
    }
    let snapshot = identity.account.scans.first(FIRST_SCAN_WAIT).await?;
    // A scan older than two intervals (ListStreams failing, say) proves nothing.
    if snapshot.taken.elapsed() > interval * 2 + ctx.settings.poll_interval {
        return None;
    }
    let listed = snapshot.streams.get(&vs.stream_name())?;
    let unchanged = Some(listed.arn.as_str()) == status.stream_arn.as_deref()
        && Some(listed.version.as_str()) == status.version.as_deref()
        && listed.status == StreamStatus::Active;
    if !unchanged {
        return None;
    }
    let period = audit_period(ctx, identity, snapshot.streams.len());
    let next_audit = match audit(vs, identity, ctx, period).await {
        Audit::Clean { next } | Audit::Deferred { next } => next,
        Audit::Drifted => return None,
    };
    Some(Action::requeue(next_audit.min(ctx.settings.resync_period)))
}

/// The tag audit period of an account holding `streams` streams: the configured period,
/// or longer when the audit budget cannot read that many streams' tags in it.
fn audit_period(ctx: &Context, identity: &Identity, streams: usize) -> Duration {
    let rate = identity.account.audits.per_second();
    let needed = Duration::from_secs_f64(streams as f64 / rate);
    ctx.settings.tag_audit_period.max(needed)
}

enum Audit {
    /// The tags are as the spec says (or not managed); audit again in `next`.
    Clean { next: Duration },
    /// No budget left now; try again in `next`.
    Deferred { next: Duration },
    /// The tags drifted: a full reconcile puts them right.
    Drifted,
}

async fn audit(vs: &VideoStream, identity: &Identity, ctx: &Context, period: Duration) -> Audit {
    let Some(want) = &vs.spec.tags else {
        return Audit::Clean { next: period };
    };
    let due_in = ctx.audit_due_in(vs, period);
    if !due_in.is_zero() {
        return Audit::Clean { next: due_in };
    }
    if !identity.account.audits.try_take() {
        ctx.metrics.record_tag_audit("deferred");
        return Audit::Deferred {
            next: identity
                .account
                .audits
                .next_in()
                .max(ctx.settings.poll_interval),
        };
    }
    let Some(arn) = vs.status.as_ref().and_then(|s| s.stream_arn.as_deref()) else {
        return Audit::Drifted;
    };
    // A failed read is left to the full reconcile, which reports it.
    let Ok(tags) = identity.kvs.list_tags(arn, TagRead::Fresh).await else {
        return Audit::Drifted;
    };
    ctx.audited(vs, period);
    if tag_mutation(want, &tags).is_some() {
        debug!(
            namespace = vs.namespace(),
            name = vs.name_any(),
            "tags changed outside Kubernetes"
        );
        ctx.metrics.record_tag_audit("drifted");
        return Audit::Drifted;
    }
    ctx.metrics.record_tag_audit("in-sync");
    Audit::Clean { next: period }
}
