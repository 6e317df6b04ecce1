//! One reconcile of an object of any kind: shard and pause first, the finalizer, then
//! cleanup or apply (tenancy before any AWS call, the settled fast path, one kind step),
//! the status written when it changed, Events for mutations and for changes of error
//! state, and the requeue — backoff by error class, or a wait for KVS.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use tracing::{debug, info, instrument, warn};

use super::conditions::{SYNCED, find};
use super::context::{Context, MANAGER, ObjectKey, jittered};
use super::kind::{CleanupStep, Env, Kind, KindStatus, Outcome, Readiness};
use super::{export, settle};
use crate::api::{ManagementPolicy, is_paused};
use crate::{Error, Result};

/// Finalizer that keeps an object until its AWS resource is cleaned up.
pub const FINALIZER: &str = "kvs-operator.dev/finalizer";

/// Reconciles one object: finalizer first, then cleanup or apply.
#[instrument(skip_all, fields(kind = K::NOUN, namespace = object.namespace(), name = object.name_any()))]
pub async fn reconcile<K: Kind>(object: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    // Another replica's shard: it reconciles this one (and this replica is woken when the
    // shard comes to it).
    if !ctx.shards.holds(&ctx.shard_of(object.as_ref())) {
        return Ok(Action::requeue(ctx.settings.resync_period));
    }
    let started = std::time::Instant::now();
    let result = reconcile_inner(object.as_ref(), &ctx).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(error) => error.reason(),
    };
    ctx.metrics.record_reconcile(outcome, started.elapsed());
    result
}

async fn reconcile_inner<K: Kind>(object: &K, ctx: &Arc<Context>) -> Result<Action> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let has_finalizer = object.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = object.meta().deletion_timestamp.is_some();
    if deleting && !has_finalizer {
        return Ok(Action::await_change());
    }
    // Paused: no AWS call at all, and a deletion waits. Woken when the annotation changes.
    if is_paused(object.meta()) {
        let untouched = &export::Export::untouched();
        report(object, &api, ctx, Outcome::Paused { deleting }, untouched).await?;
        return Ok(Action::await_change());
    }
    if deleting {
        return cleanup(object, &api, ctx).await;
    }
    if !has_finalizer {
        // Before anything is created at AWS, so a deletion can never lose track of it.
        let mut finalizers = object.finalizers().to_vec();
        finalizers.push(FINALIZER.to_string());
        set_finalizers(&api, object, finalizers).await?;
    }
    apply(object, &api, ctx).await
}

async fn apply<K: Kind>(object: &K, api: &Api<K>, ctx: &Arc<Context>) -> Result<Action> {
    let key = ObjectKey::of(object);
    let identity = ctx.identity_for(object).await;
    if let Ok(identity) = &identity
        && let Some(action) = settle::settled(object, identity, ctx).await
    {
        return Ok(action);
    }
    let env = Env {
        ctx,
        cluster: &ctx.settings.cluster_id,
    };
    let (result, identity) = match identity {
        Ok(identity) => {
            let report = object.sync(identity.kvs.as_ref(), &env).await;
            if let Ok(step) = &report
                && matches!(K::readiness(step), Readiness::Progressing { .. })
            {
                identity.account.scans.of(K::NOUN).hurry();
            }
            (report, Some(identity))
        }
        Err(refused) => (Err(refused), None),
    };

    let export = export::publish(object, &result, ctx).await;
    let outcome = match &result {
        Ok(report) => Outcome::Synced(report),
        Err(error) => Outcome::Failed(error),
    };
    report(object, api, ctx, outcome, &export).await?;

    let step = result?;
    if let Some(event) = K::mutation_event(&step) {
        publish(ctx, object, event).await;
    }
    export.into_result()?;
    ctx.record_success(&key);
    let next = match K::readiness(&step) {
        Readiness::Ready { .. } | Readiness::Absent { .. } => {
            ctx.done_waiting(&key);
            match &identity {
                Some(identity) => settle::next_check(object, identity, ctx),
                None => jittered(ctx.settings.resync_period),
            }
        }
        Readiness::Progressing { .. } => ctx.wait_backoff(key),
        Readiness::Changed { .. } => jittered(ctx.settings.poll_interval),
    };
    Ok(Action::requeue(next))
}

async fn cleanup<K: Kind>(object: &K, api: &Api<K>, ctx: &Arc<Context>) -> Result<Action> {
    let key = ObjectKey::of(object);
    let recorded = object.status().and_then(KindStatus::arn).is_some();
    let env = Env {
        ctx,
        cluster: &ctx.settings.cluster_id,
    };
    let result = if object.management_policy() == ManagementPolicy::ObserveOnly {
        // Never deleted, never released: there is nothing of ours at AWS.
        Ok(CleanupStep::Done)
    } else {
        match ctx.identity_for(object).await {
            Ok(identity) => {
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
    let stored = report(object, api, ctx, outcome, &export::Export::untouched()).await?;

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
            set_finalizers(api, &stored, remaining).await?;
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
            Ok(Action::requeue(ctx.wait_backoff(key)))
        }
        CleanupStep::Waiting(_) => Ok(Action::requeue(ctx.wait_backoff(key))),
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
async fn report<K: Kind>(
    object: &K,
    api: &Api<K>,
    ctx: &Context,
    outcome: Outcome<'_, K::Report>,
    export: &export::Export,
) -> Result<K> {
    let previous = object.status();
    let now = Timestamp::now();
    let mut status = object.next_status(outcome, now);
    export.record(&mut status, object.meta().generation, now);
    // A reconcile that found nothing new writes nothing: lastSyncTime is not a heartbeat.
    if previous.is_some_and(|p| unchanged(p, &status)) {
        return Ok(object.clone());
    }
    let stored = patch_status(api, object, &status).await?;
    publish_condition_change(ctx, object, previous, &status).await;
    Ok(stored)
}

/// Whether `next` says nothing `previous` did not, but for its sync time.
fn unchanged<S: KindStatus>(previous: &S, next: &S) -> bool {
    let mut next = next.clone();
    next.set_last_sync_time(previous.last_sync_time().cloned());
    next == *previous
}

/// Backs off per object by error class, with jitter so failures don't synchronise.
pub fn error_policy<K: Kind>(object: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempt = ctx.record_failure(ObjectKey::of(object.as_ref()));
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
    if !ctx.events.allows(&event.type_) {
        let type_ = format!("{:?}", event.type_);
        ctx.metrics.record_event_dropped(&type_);
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
