//! One reconcile of an object of any kind: shard and pause first (and a cache still behind
//! this replica's own last write of the object waits for the watch), tenancy before any AWS
//! call, the finalizer (with the account annotation) before anything is created, then
//! cleanup or apply (the settled fast path, one kind step), the status written when it
//! changed (a new resource's first status at the next look, when KVS has usually finished
//! creating it: one write instead of two), Events for mutations and for changes of error
//! state, and what comes next — backoff by error class, a wait for KVS, or, in sync, the
//! engine's resync schedule ([`super::resync`]).
//!
//! Every AWS mutation and every API write of a reconcile passes [`StillPlaced`] right
//! before it leaves: the object must still be placed where the reconcile started, in a
//! shard this replica holds. A binding edit, a namespace relabel or a lost shard during a
//! long limiter wait stops the step instead of letting two replicas (or two identities)
//! act on one object.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use tracing::{debug, info, instrument, warn};

use super::conditions::{SYNCED, find};
use super::context::{Context, MANAGER, ObjectKey, jittered};
use super::export;
use super::kind::{CleanupStep, Env, Kind, KindStatus, Outcome, Readiness};
use super::resync;
use super::settle::{self, Settled};
use super::shard_watch::{SHARD_LABEL, label_value, relabel_by};
use crate::api::{
    ACCOUNT_ANNOTATION, ManagementPolicy, Mark, PlacementStatus, is_paused, reconcile_request,
};
use crate::kvs::gate::{MutationCheck, check_reconcile, checking};
use crate::tenancy::Placement;
use crate::tenancy::accounts::Identity;
use crate::{Error, Result};

/// Finalizer that keeps an object until its AWS resource is cleaned up.
pub const FINALIZER: &str = "kvs-operator.dev/finalizer";

/// When to look again at an object whose finalizer write found the cache a version behind.
const STALE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reconciles one object: finalizer first, then cleanup or apply.
#[instrument(skip_all, fields(kind = K::NOUN, namespace = object.namespace(), name = object.name_any()))]
pub async fn reconcile<K: Kind>(object: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let check = Arc::new(StillPlaced::new(ctx.clone(), object.clone()));
    // Another replica's shard: it reconciles this one. This replica is woken when the shard
    // comes to it, or the object does (see `super::shard_watch`); until then it keeps no
    // requeue for it.
    if !ctx.shards.holds(&check.shard) {
        // A failed relabel is retried with backoff: no one else watches the object.
        relabel(object.as_ref(), &check.shard, &ctx).await?;
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let result = checking(check, reconcile_inner(object.as_ref(), &ctx)).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(error) => error.reason(),
    };
    ctx.metrics
        .record_reconcile(&K::kind(&()), outcome, started.elapsed());
    result
}

/// Points the shard label of an object that acts in another replica's `shard` there, when
/// its label names a shard this replica holds (this replica is the one watching it). A
/// metadata write only: nothing at AWS, nothing the holder would write differently.
async fn relabel<K: Kind>(object: &K, shard: &str, ctx: &Context) -> Result<()> {
    let label = object.mark(Mark::Shard);
    let held = ctx.shards.held();
    if !relabel_by(label, shard, |s| ctx.shards.holds(s), &held) {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "metadata": { "labels": { SHARD_LABEL: label_value(shard) } }
    });
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    debug!(%shard, "relabelled for the holder of its shard");
    Ok(())
}

/// The reconcile's placement, checked again before each of its writes.
struct StillPlaced<K: Kind> {
    ctx: Arc<Context>,
    object: Arc<K>,
    shard: String,
    /// Where it acts and what it may do there (`None`: refused).
    placement: Option<Placement>,
}

impl<K: Kind> StillPlaced<K> {
    fn new(ctx: Arc<Context>, object: Arc<K>) -> Self {
        let placed = ctx.placed(object.as_ref());
        Self {
            shard: placed.shard,
            placement: placed.result.ok(),
            ctx,
            object,
        }
    }
}

impl<K: Kind> MutationCheck for StillPlaced<K> {
    /// The shard, the identity and the rules (prefixes, adoption) must all be what the
    /// reconcile decided with: an AccountBinding edit, a namespace relabel or a second
    /// binding while a step waited stops the step, and the next reconcile decides anew.
    fn check(&self, what: &str) -> Result<()> {
        let now = self.ctx.placed(self.object.as_ref());
        if now.shard != self.shard || now.result.ok() != self.placement {
            return Err(Error::PlacementChanged(format!(
                "{what} not sent: the object's AccountBinding or namespace changed while its reconcile was under way (shard {} → {}); it is reconciled again under the new rules",
                self.shard, now.shard
            )));
        }
        if !self.ctx.shards.holds(&now.shard) {
            return Err(Error::NotLeader(format!(
                "{what} not sent: this replica no longer holds shard {}",
                now.shard
            )));
        }
        Ok(())
    }
}

async fn reconcile_inner<K: Kind>(object: &K, ctx: &Arc<Context>) -> Result<Action> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let has_finalizer = object.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = object.meta().deletion_timestamp.is_some();
    if deleting && !has_finalizer {
        ctx.ledger.forget(&ObjectKey::of(object));
        return Ok(Action::await_change());
    }
    // A wake that comes before the watch brought this replica's own last write (a requeue
    // right after the finalizer or a status was written, the watch lagging under load)
    // would decide from what that write replaced, and write it again: look once the cache
    // has caught up instead.
    if ctx.ledger.behind_own_write(
        &ObjectKey::of(object),
        object.meta().resource_version.as_deref(),
    ) {
        debug!("the cache is behind this replica's last write; looking again");
        return Ok(Action::requeue(STALE_RETRY));
    }
    // Paused: no AWS call at all, and a deletion waits. Woken when the annotation changes.
    if is_paused(object) {
        let untouched = &export::Export::untouched();
        report(
            object,
            &api,
            ctx,
            Outcome::Paused { deleting },
            None,
            untouched,
            None,
        )
        .await?;
        return Ok(Action::await_change());
    }
    if deleting {
        return cleanup(object, &api, ctx).await;
    }
    apply(object, &api, ctx).await
}

async fn apply<K: Kind>(object: &K, api: &Api<K>, ctx: &Arc<Context>) -> Result<Action> {
    let key = ObjectKey::of(object);
    // A reconcile asked for with a new value of the annotation: in full, everything read
    // fresh, whatever the scan and the audit schedule say.
    let requested = reconcile_request(object).filter(|value| {
        object
            .status()
            .and_then(KindStatus::last_handled_reconcile_at)
            != Some(*value)
    });
    let (result, identity, record) = match prepare(object, api, ctx, requested.is_some()).await {
        Prepared::Settled(action) => return Ok(action),
        Prepared::Refused(error) => (Err(error), None, None),
        Prepared::Placed(placement, identity) => {
            let env = Env {
                ctx,
                cluster: &ctx.settings.cluster_id,
                placement: &placement,
                fresh: requested.is_some(),
            };
            let report = object.sync(identity.kvs.as_ref(), &env).await;
            if let Ok(step) = &report
                && matches!(K::readiness(step), Readiness::Progressing { .. })
            {
                identity.account.scans.of(K::NOUN).hurry();
            }
            let record = PlacementStatus {
                account_binding: placement.binding.clone(),
                account: identity.account.key.account_id.clone(),
                region: identity.account.key.region.clone(),
            };
            (report, Some(identity), Some(record))
        }
    };

    let export = export::publish(object, &result, ctx).await;
    let outcome = match &result {
        Ok(report) => Outcome::Synced(report),
        Err(error) => Outcome::Failed(error),
    };
    report(
        object,
        api,
        ctx,
        outcome,
        record.as_ref(),
        &export,
        requested,
    )
    .await?;

    let step = result?;
    if let Some(event) = K::mutation_event(&step) {
        publish(ctx, object, event).await;
    }
    export.into_result()?;
    ctx.record_success(&key);
    let action = match K::readiness(&step) {
        Readiness::Ready { .. } | Readiness::Absent { .. } => {
            ctx.done_waiting(&key);
            // In sync: its tags are read fresh next time (see `TagCache::forget`).
            if let (Some(identity), Some(arn)) = (&identity, K::resource_arn(&step)) {
                identity.account.tags.forget(arn);
            }
            if requested.is_some() {
                // Read fresh and found in sync: as good as an audit.
                ctx.ledger.audit_repairing(&key);
            }
            let next = match &identity {
                Some(identity) => settle::next_check(object, identity, ctx),
                None => jittered(ctx.settings.resync_period),
            };
            resync::later(ctx, object, next)
        }
        Readiness::Progressing { .. } => Action::requeue(ctx.wait_backoff(&key)),
        Readiness::Changed { .. } => Action::requeue(jittered(ctx.settings.poll_interval)),
    };
    Ok(action)
}

/// Where an apply stands before its step.
enum Prepared {
    /// In sync, proven without a step (or the cache is behind): look again after this.
    Settled(Action),
    /// Tenancy, the identity or an audit read refused it: report why.
    Refused(Error),
    /// Take a step, there, with that identity.
    Placed(Placement, Arc<Identity>),
}

async fn prepare<K: Kind>(
    object: &K,
    api: &Api<K>,
    ctx: &Arc<Context>,
    requested: bool,
) -> Prepared {
    let (placement, identity) = match ctx.identity_for(object).await {
        Ok(resolved) => resolved,
        Err(refused) => return Prepared::Refused(refused),
    };
    match ensure_finalizer(api, object, &identity, &placement.shard()).await {
        Ok(stored) => note_write(ctx, object, stored.as_ref()),
        // The cache is a version behind (another writer, or a restart lost what this
        // replica wrote): nothing failed; look again once the watch has caught up.
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 409 => {
            debug!("the finalizer write met a newer version; looking again");
            return Prepared::Settled(Action::requeue(STALE_RETRY));
        }
        Err(error) => return Prepared::Refused(error),
    }
    if requested {
        return Prepared::Placed(placement, identity);
    }
    match settle::settled(object, &identity, ctx).await {
        Settled::Yes(action) => Prepared::Settled(action),
        Settled::No => Prepared::Placed(placement, identity),
        Settled::Failed(error) => Prepared::Refused(error),
    }
}

/// Adds the finalizer — and, for an object that may create its resource and has none
/// recorded yet, the account annotation — in one write, before anything is created at
/// AWS, so a deletion never loses track of it and a create whose answer was lost is never
/// made again elsewhere. The same write labels the object with its shard (see
/// [`super::shard_watch`]), or a later one when only the label is wrong.
async fn ensure_finalizer<K: Kind>(
    api: &Api<K>,
    object: &K,
    identity: &Identity,
    shard: &str,
) -> Result<Option<K>> {
    let has_finalizer = object.finalizers().iter().any(|f| f == FINALIZER);
    let recorded =
        object.status().and_then(KindStatus::arn).is_some() || object.mark(Mark::Account).is_some();
    let annotate = object.management_policy() == ManagementPolicy::Full && !recorded;
    let label = label_value(shard);
    let labelled = object.mark(Mark::Shard) == Some(label.as_str());
    if has_finalizer && !annotate && labelled {
        return Ok(None);
    }
    check_reconcile("adding the finalizer")?;
    let mut finalizers = object.finalizers().to_vec();
    if !has_finalizer {
        finalizers.push(FINALIZER.to_string());
    }
    let mut patch = serde_json::json!({
        "metadata": {
            "resourceVersion": object.resource_version(),
            "finalizers": finalizers,
        }
    });
    if !labelled {
        patch["metadata"]["labels"] = serde_json::json!({ SHARD_LABEL: label });
    }
    if annotate {
        let key = &identity.account.key;
        patch["metadata"]["annotations"] = serde_json::json!({
            ACCOUNT_ANNOTATION: format!("{}/{}", key.account_id, key.region),
        });
    }
    let stored = api
        .patch(
            &object.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(Some(stored))
}

/// Remembers that `stored`, what a write of this reconcile returned, replaced the cached
/// `object` (a write that changed nothing keeps the version and is no news to wait for).
fn note_write<K: Kind>(ctx: &Context, object: &K, stored: Option<&K>) {
    let Some(stored) = stored else { return };
    if let Some(version) = object.meta().resource_version.as_deref()
        && stored.meta().resource_version.as_deref() != Some(version)
    {
        ctx.ledger.wrote_over(&ObjectKey::of(object), version);
    }
}

async fn cleanup<K: Kind>(object: &K, api: &Api<K>, ctx: &Arc<Context>) -> Result<Action> {
    let key = ObjectKey::of(object);
    let recorded = object.status().and_then(KindStatus::arn).is_some()
        || ctx.unrecorded_create(object).is_some();
    let result = if object.management_policy() == ManagementPolicy::ObserveOnly {
        // Never deleted, never released: there is nothing of ours at AWS.
        Ok(CleanupStep::Done)
    } else {
        match ctx.identity_for(object).await {
            Ok((placement, identity)) => {
                let env = Env {
                    ctx,
                    cluster: &ctx.settings.cluster_id,
                    placement: &placement,
                    fresh: true,
                };
                let step = object.cleanup(identity.kvs.as_ref(), &env).await;
                if matches!(
                    step,
                    Ok(CleanupStep::Deleted { .. } | CleanupStep::Waiting(_))
                ) {
                    identity.account.scans.of(K::NOUN).hurry();
                }
                step
            }
            // Refused before anything was recorded: nothing was made for it at AWS.
            Err(refused) if !recorded => {
                debug!(%refused, "nothing recorded; releasing the finalizer");
                Ok(CleanupStep::Done)
            }
            // A resource exists where this object can no longer reach: keep the finalizer
            // and say so, rather than forget the resource.
            Err(refused) => Err(refused),
        }
    };
    let outcome = match &result {
        Ok(step) => Outcome::CleaningUp(step),
        Err(error) => Outcome::Failed(error),
    };
    let untouched = &export::Export::untouched();
    let stored = report(object, api, ctx, outcome, None, untouched, None).await?;

    let step = result?;
    ctx.record_success(&key);
    match step {
        CleanupStep::Done | CleanupStep::Released { .. } => {
            if let CleanupStep::Released { arn } = &step {
                let note = format!(
                    "removed the owner and cluster tags from {arn}; the {} is kept (deletionPolicy Retain)",
                    K::NOUN
                );
                publish(
                    ctx,
                    object,
                    normal(&event_reason("Released", K::NOUN), "Release", note),
                )
                .await;
            }
            export::remove(&stored, ctx).await?;
            let remaining = stored
                .finalizers()
                .iter()
                .filter(|f| *f != FINALIZER)
                .cloned()
                .collect();
            check_reconcile("removing the finalizer")?;
            set_finalizers(api, &stored, remaining).await?;
            ctx.ledger.forget(&key);
            Ok(Action::await_change())
        }
        CleanupStep::Deleted { arn } => {
            let note = format!("deleting {} {arn}", K::NOUN);
            publish(
                ctx,
                object,
                normal(&event_reason("Deleting", K::NOUN), "Delete", note),
            )
            .await;
            Ok(Action::requeue(ctx.wait_backoff(&key)))
        }
        CleanupStep::Waiting(_) => Ok(Action::requeue(ctx.wait_backoff(&key))),
    }
}

/// `Released` + `signaling channel` → `ReleasedSignalingChannel`; `stream` → `...Stream`.
pub fn event_reason(verb: &str, noun: &str) -> String {
    let mut reason = verb.to_string();
    for word in noun.split(' ') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            reason.extend(first.to_uppercase());
            reason.push_str(chars.as_str());
        }
    }
    reason
}

/// Writes the status an outcome (and the export that followed it) leads to and announces a
/// change of error state. Returns the object as stored, for the writes that follow in the
/// same reconcile.
///
/// `record` is where the object acts now: it becomes the status's placement when the
/// object first owns a resource, and stays so while it does.
///
/// A replica that may no longer act for the object (another holds its shard, or its
/// placement moved) writes nothing: the one that may reports.
async fn report<K: Kind>(
    object: &K,
    api: &Api<K>,
    ctx: &Context,
    outcome: Outcome<'_, K::Report>,
    record: Option<&PlacementStatus>,
    export: &export::Export,
    request: Option<&str>,
) -> Result<K> {
    if let Outcome::Failed(Error::NotLeader(_) | Error::PlacementChanged(_)) = outcome {
        return Ok(object.clone());
    }
    if let Err(refused) = check_reconcile("writing the status") {
        debug!(%refused, "status not written");
        return Ok(object.clone());
    }
    let previous = object.status();
    let key = ObjectKey::of(object);
    // A create's placement is the one it was made with, kept here until a status says so.
    let unrecorded = ctx.unrecorded_create(object);
    let record = unrecorded.clone().or_else(|| record.cloned());
    let now = Timestamp::now();
    let mut status = object.next_status(outcome, now);
    status.set_placement(placement_record(object, &status, record.as_ref()));
    export.record(&mut status, object.meta().generation, now);
    if let Some(request) = request {
        status.set_last_handled_reconcile_at(Some(request.to_string()));
    }
    // A reconcile that found nothing new writes nothing: lastSyncTime is not a heartbeat.
    if previous.is_some_and(|p| unchanged(p, &status)) {
        return Ok(object.clone());
    }
    if unrecorded.is_none()
        && request.is_none()
        && just_created(previous, &status)
        && let Some(placement) = status.placement()
    {
        // The first news of a new resource is "creating": its Ready status, usually one
        // scan later, says all this one would, so the API server is written once, not
        // twice. Until then the ledger keeps where it was made (see `Context::placed`);
        // only a restart in that gap falls back on the account annotation, as a create
        // whose status write failed always has.
        ctx.ledger.record_created(&key, placement.clone());
        return Ok(object.clone());
    }
    let stored = patch_status(api, object, &status).await?;
    note_write(ctx, object, Some(&stored));
    if status.arn().is_some() {
        ctx.ledger.creation_recorded(&key);
    }
    publish_condition_change(ctx, object, previous, &status).await;
    Ok(stored)
}

/// Whether `next` is the first status of an object the operator never reported on (it
/// has only the CRDs' default status), and says it just made a resource KVS is creating.
/// Without the default (CRDs older than 0.2) the drift scan would not wake the object when
/// the resource is ACTIVE, so its Creating status is written as it always was.
fn just_created<S: KindStatus>(previous: Option<&S>, next: &S) -> bool {
    let unreported = previous.is_some_and(|p| p.conditions().is_empty() && p.arn().is_none());
    unreported
        && next.arn().is_some()
        && next.aws_status() == Some(crate::kvs::ResourceStatus::Creating.as_str())
}

/// The placement a status records: none while the object owns nothing (or only observes),
/// the one it was first recorded with while it owns a resource, else where it acts now.
fn placement_record<K: Kind>(
    object: &K,
    status: &K::Status,
    now: Option<&PlacementStatus>,
) -> Option<PlacementStatus> {
    if object.management_policy() != ManagementPolicy::Full || status.arn().is_none() {
        return None;
    }
    status.placement().or(now).cloned()
}

/// Whether `next` says nothing `previous` did not, but for its sync time.
fn unchanged<S: KindStatus>(previous: &S, next: &S) -> bool {
    let mut next = next.clone();
    next.set_last_sync_time(previous.last_sync_time().cloned());
    next == *previous
}

/// Backs off per object by error class, with jitter so failures don't synchronise.
pub fn error_policy<K: Kind>(object: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempt = ctx.record_failure(&ObjectKey::of(object.as_ref()));
    let delay = error.class().backoff(attempt, ctx.settings.resync_period);
    warn!(
        kind = K::NOUN,
        namespace = object.namespace(),
        name = object.name_any(),
        reason = error.reason(),
        attempt,
        ?delay,
        %error,
        "reconcile failed"
    );
    Action::requeue(jittered(delay))
}

/// Replaces the finalizer list, guarded by the resourceVersion we read, so a concurrent
/// change by someone else makes this fail (and retry) instead of being overwritten.
pub async fn set_finalizers<
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
>(
    api: &Api<K>,
    object: &K,
    finalizers: Vec<String>,
) -> Result<()> {
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": object.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Writes the status with server-side apply: this is what we saw, and we own all of it.
///
/// Returns the object as stored afterwards: later writes in this reconcile need its
/// resourceVersion.
async fn patch_status<K: Kind>(api: &Api<K>, object: &K, status: &K::Status) -> Result<K> {
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let stored = api
        .patch_status(
            &object.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(stored)
}

/// An Event when the Synced condition changes: a new error, or recovery from one.
async fn publish_condition_change<K: Kind>(
    ctx: &Context,
    object: &K,
    previous: Option<&K::Status>,
    status: &K::Status,
) {
    let before = previous.and_then(|s| find(s.conditions(), SYNCED));
    let Some(now) = find(status.conditions(), SYNCED) else {
        return;
    };
    let changed = before.is_none_or(|b| {
        b.status != now.status || b.reason != now.reason || b.message != now.message
    });
    if !changed {
        return;
    }
    if now.status == "False" {
        let event = Event {
            type_: EventType::Warning,
            ..normal(&now.reason, "Reconcile", now.message.clone())
        };
        publish(ctx, object, event).await;
    } else if before.is_some_and(|b| b.status == "False") {
        let note = "the last reconcile succeeded again".to_string();
        publish(ctx, object, normal("Recovered", "Reconcile", note)).await;
    }
}

/// A Normal Event.
pub fn normal(reason: &str, action: &str, note: String) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.to_string(),
        note: Some(note),
        action: action.to_string(),
        secondary: None,
    }
}

/// A Warning Event.
pub fn warning(reason: &str, action: &str, note: String) -> Event {
    Event {
        type_: EventType::Warning,
        ..normal(reason, action, note)
    }
}

/// Publishes an Event within the Event budget; a failure is logged, never fails the
/// reconcile.
async fn publish<K: Kind>(ctx: &Context, object: &K, event: Event) {
    info!(reason = %event.reason, note = ?event.note, "event");
    if let Err(refused) = check_reconcile("publishing an Event") {
        debug!(%refused, reason = %event.reason, "event not published");
        return;
    }
    if !ctx.events.allows(&event.type_) {
        let type_ = format!("{:?}", event.type_);
        ctx.metrics.record_event_dropped(&K::kind(&()), &type_);
        debug!(reason = %event.reason, "event budget spent; event not published");
        return;
    }
    if let Err(error) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        warn!(%error, "could not publish event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_reasons_read_as_one_word() {
        assert_eq!(event_reason("Created", "stream"), "CreatedStream");
        assert_eq!(
            event_reason("Released", "signaling channel"),
            "ReleasedSignalingChannel"
        );
    }
}
