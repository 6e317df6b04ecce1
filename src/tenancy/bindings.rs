//! The AccountBinding controller: verifies each binding's identity (AssumeRole, then STS
//! GetCallerIdentity) and reports it, re-reconciles the objects a spec change affects, and
//! keeps the binding (finalizer) while an object placed with it still owns a resource —
//! wherever its namespace is now — so that the resource's cleanup can run with the
//! binding's identity. A binding that selects no namespace any more is deleted like any
//! other. The replica holding the binding's account (its shard) does all of this.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::api::{AccountBinding, AccountBindingStatus};
use crate::engine::conditions::{ConditionStamp, READY, find};
use crate::engine::context::BINDING_FINALIZER;
use crate::engine::context::Context;
use crate::engine::reconcile::set_finalizers;

use crate::tenancy::IdentityKey;
use crate::{Error, Result};

/// Field manager of binding status writes.
const MANAGER: &str = "kvs-operator";

/// How often a healthy binding is looked at again (its VideoStream count).
const RECHECK: Duration = Duration::from_secs(300);

/// How soon a binding whose identity could not be verified is verified again.
const RETRY_REFUSED: Duration = Duration::from_secs(60);

/// How often a binding being deleted checks whether its VideoStreams let go.
const DELETION_POLL: Duration = Duration::from_secs(2);

/// Ready reasons of a binding.
pub mod reason {
    pub const VERIFIED: &str = "Verified";
    pub const DELETING: &str = "Deleting";
}

/// A binding's generation, selected namespaces and whether it was being deleted, as last
/// reconciled.
type Seen = (Option<i64>, HashSet<String>, bool);

/// What the binding controller remembers between reconciles.
struct State {
    ctx: Arc<Context>,
    /// Per binding: the generation last seen and the namespaces it selected then.
    seen: Mutex<HashMap<String, Seen>>,
    /// Consecutive failures per binding, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// The last verification of each binding: when, of which generation, and whether it
    /// succeeded.
    attempts: Mutex<HashMap<String, Attempt>>,
}

/// One verification of a binding's identity.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    at: Instant,
    generation: Option<i64>,
    succeeded: bool,
}

impl Attempt {
    /// Whether the identity should be asked of STS again: the spec changed, a success is a
    /// recheck period old, or a failure is a retry period old. Status writes wake the
    /// binding up too, and must not turn into STS calls.
    fn due(&self, generation: Option<i64>) -> bool {
        let wait = if self.succeeded {
            RECHECK * 9 / 10
        } else {
            RETRY_REFUSED
        };
        generation != self.generation || self.at.elapsed() >= wait
    }
}

/// How the binding controller and the namespace cache signal each other.
pub struct Signals {
    /// Turns true once `ctx.bindings` holds every binding.
    pub ready: tokio::sync::watch::Sender<bool>,
    /// True once the namespace cache is filled: selectors are evaluated against it.
    pub namespaces_ready: tokio::sync::watch::Receiver<bool>,
    /// A namespace appeared or changed labels: every binding is looked at again.
    pub namespaces_changed: futures::channel::mpsc::Receiver<()>,
}

/// Runs until `shutdown`. `writer` fills `ctx.bindings`, which VideoStream reconciles read.
pub async fn run(
    ctx: Arc<Context>,
    writer: Writer<AccountBinding>,
    signals: Signals,
    shutdown: CancellationToken,
) {
    let Signals {
        ready,
        mut namespaces_ready,
        namespaces_changed,
    } = signals;
    let api: Api<AccountBinding> = Api::all(ctx.client.clone());
    // The controller itself waits on the store's readiness, and that signal wakes one
    // waiter only: others learn it from `ready`.
    let objects = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(watcher::Event::InitDone) = event {
                ready.send_replace(true);
            }
        })
        .applied_objects();
    let state = Arc::new(State {
        ctx: ctx.clone(),
        seen: Mutex::new(HashMap::new()),
        failures: Mutex::new(HashMap::new()),
        attempts: Mutex::new(HashMap::new()),
    });
    // Which namespaces a binding selects is read from the namespace cache: wait for it.
    tokio::select! {
        filled = namespaces_ready.wait_for(|filled| *filled) => if filled.is_err() { return },
        () = shutdown.cancelled() => return,
    }
    Controller::for_stream(objects, ctx.bindings.clone())
        .reconcile_all_on(namespaces_changed)
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "binding reconcile loop error");
            }
        })
        .await;
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn reconcile(binding: Arc<AccountBinding>, state: Arc<State>) -> Result<Action> {
    let ctx = &state.ctx;
    let api: Api<AccountBinding> = Api::all(ctx.client.clone());
    let name = binding.name_any();
    forget_gone(&state);
    let selected = selected_namespaces(ctx, &binding);
    // An operator watching only some namespaces runs only the bindings that are its own:
    // those that select a namespace it watches, or carry its finalizer (something of its
    // objects may still be placed with them). Looked at again later: a namespace it selects
    // may appear.
    if !ctx.is_own_binding(&binding) {
        return Ok(Action::requeue(RECHECK));
    }
    wake_affected(&state, &binding, &selected).await;
    // The replica holding the binding's account speaks for it: status, STS and finalizer.
    let key = IdentityKey::of_binding(&binding, &ctx.accounts.default_region());
    if !ctx.shards.holds(&key.shard()) {
        return Ok(Action::requeue(RECHECK));
    }

    if binding.meta().deletion_timestamp.is_some() {
        // Which objects it holds is worked out only here: it looks at every object, and
        // a binding's own status writes wake it again and again while a fleet converges.
        let (served, holding) = ctx.holdings(&name, |ns| selected.contains(ns));
        // Replicas cache only their shards' objects: before letting go, ask the API
        // server itself (one listing, only when the cache says nothing holds it).
        let (served, holding) = if holding.is_empty() && ctx.shards.is_elected() {
            ctx.holdings_fresh(&name, |ns| selected.contains(ns))
                .await?
        } else {
            (served, holding)
        };
        return finish_deletion(&state, &api, &binding, served, &holding).await;
    }
    let finalizer = ctx.binding_finalizer();
    if !binding.finalizers().contains(&finalizer) {
        let mut finalizers = binding.finalizers().to_vec();
        finalizers.push(finalizer);
        set_finalizers(&api, &binding, finalizers).await?;
    }

    // Asked of STS again when due; otherwise the registry answers from memory (a
    // remembered refusal included), so status echoes cost nothing.
    let generation = binding.meta().generation;
    let due = lock(&state.attempts)
        .get(&name)
        .is_none_or(|attempt| attempt.due(generation));
    let verified = if due {
        let outcome = ctx.accounts.verify(&key).await;
        let attempt = Attempt {
            at: Instant::now(),
            generation,
            succeeded: outcome.is_ok(),
        };
        let before = lock(&state.attempts).insert(name.clone(), attempt);
        // Refused until now: the objects it serves are backing off; wake them.
        if outcome.is_ok() && before.is_some_and(|b| !b.succeeded) {
            ctx.trigger_all_in(|ns| selected.contains(ns)).await;
        }
        outcome
    } else {
        ctx.accounts.identity(&key).await
    };
    let stamp = ConditionStamp {
        generation: binding.meta().generation,
        now: Timestamp::now(),
    };
    let mut status = binding.status.clone().unwrap_or_default();
    status.observed_generation = binding.meta().generation;
    status.region = Some(key.region.clone());
    status.video_streams = Some(ctx.served(|ns| selected.contains(ns)) as i64);
    match &verified {
        Ok(identity) => {
            status.account_id = Some(identity.account.key.account_id.clone());
            status.caller_arn = Some(identity.caller_arn.clone());
            let message = format!(
                "acting as {} in account {}, region {}",
                identity.caller_arn, identity.account.key.account_id, key.region
            );
            stamp.set(
                &mut status.conditions,
                READY,
                true,
                reason::VERIFIED,
                &message,
            );
        }
        Err(error) => {
            let message = format!("{}: {error}", key.describe());
            stamp.set(
                &mut status.conditions,
                READY,
                false,
                error.reason(),
                &message,
            );
        }
    }
    write_status(&api, &binding, &status).await?;
    match verified {
        Ok(_) => {
            lock(&state.failures).remove(&name);
            Ok(Action::requeue(RECHECK))
        }
        Err(error) => Err(error),
    }
}

/// Drops what is remembered of bindings that no longer exist (deleted while another
/// replica held them, say).
fn forget_gone(state: &State) {
    let names: HashSet<String> = state
        .ctx
        .bindings
        .state()
        .iter()
        .map(|b| b.name_any())
        .collect();
    lock(&state.seen).retain(|name, _| names.contains(name));
    lock(&state.failures).retain(|name, _| names.contains(name));
    lock(&state.attempts).retain(|name, _| names.contains(name));
}

/// The names of the namespaces `binding` selects, as watched.
fn selected_namespaces(ctx: &Context, binding: &AccountBinding) -> HashSet<String> {
    ctx.namespaces
        .state()
        .iter()
        .map(|ns| ns.name_any())
        .filter(|ns| binding.selects(ns, &ctx.namespace_labels(ns)))
        .collect()
}

/// When a binding appears or its spec changes, reconciles every VideoStream it served
/// before or serves now: their prefixes, adoption rule or identity may have changed, and
/// one refused for want of a binding may now go ahead.
async fn wake_affected(state: &State, binding: &AccountBinding, selected: &HashSet<String>) {
    let now: Seen = (
        binding.meta().generation,
        selected.clone(),
        binding.meta().deletion_timestamp.is_some(),
    );
    let before = lock(&state.seen).insert(binding.name_any(), now.clone());
    let previously = match before {
        Some(seen) if seen == now => return,
        Some((_, namespaces, _)) => namespaces,
        None => HashSet::new(),
    };
    let affected: HashSet<&String> = previously.iter().chain(selected).collect();
    debug!(binding = %binding.name_any(), namespaces = affected.len(), "reconciling what the AccountBinding affects");
    state
        .ctx
        .trigger_all_in(|ns| affected.contains(&ns.to_string()))
        .await;
}

/// Lets a deleted binding go once none of the objects it serves still has a resource.
async fn finish_deletion(
    state: &State,
    api: &Api<AccountBinding>,
    binding: &AccountBinding,
    served: usize,
    holding: &[String],
) -> Result<Action> {
    if holding.is_empty() {
        // Ours, and — from an operator that watched the same namespaces before finalizers
        // were its own — the shared one, when the binding selects a namespace we watch.
        let ctx = &state.ctx;
        let ours = ctx.binding_finalizer();
        let selects_ours = ctx
            .settings
            .namespaces
            .iter()
            .any(|ns| binding.selects(ns, &ctx.namespace_labels(ns)));
        let ours_to_remove = |f: &String| *f == ours || (*f == BINDING_FINALIZER && selects_ours);
        if binding.finalizers().iter().any(ours_to_remove) {
            let remaining = binding
                .finalizers()
                .iter()
                .filter(|f| !ours_to_remove(f))
                .cloned()
                .collect();
            set_finalizers(api, binding, remaining).await?;
        }
        let name = binding.name_any();
        lock(&state.seen).remove(&name);
        lock(&state.failures).remove(&name);
        lock(&state.attempts).remove(&name);
        return Ok(Action::await_change());
    }
    let shown: Vec<&str> = holding.iter().take(5).map(String::as_str).collect();
    let more = holding.len().saturating_sub(shown.len());
    let mut message = format!(
        "kept until the {} object(s) it serves that have AWS resources are deleted, so their cleanup can use this identity: {}",
        holding.len(),
        shown.join(", ")
    );
    if more > 0 {
        message.push_str(&format!(" and {more} more"));
    }
    let mut status = binding.status.clone().unwrap_or_default();
    let stamp = ConditionStamp {
        generation: binding.meta().generation,
        now: Timestamp::now(),
    };
    stamp.set(
        &mut status.conditions,
        READY,
        false,
        reason::DELETING,
        &message,
    );
    status.video_streams = Some(served as i64);
    write_status(api, binding, &status).await?;
    Ok(Action::requeue(DELETION_POLL))
}

/// Writes the status unless it is what the binding already has.
async fn write_status(
    api: &Api<AccountBinding>,
    binding: &AccountBinding,
    status: &AccountBindingStatus,
) -> Result<()> {
    if binding.status.as_ref() == Some(status) {
        return Ok(());
    }
    let ready = find(&status.conditions, READY);
    debug!(binding = %binding.name_any(), ready = ?ready.map(|c| &c.status), "writing binding status");
    let patch = serde_json::json!({
        "apiVersion": AccountBinding::api_version(&()),
        "kind": AccountBinding::kind(&()),
        "status": status,
    });
    api.patch_status(
        &binding.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

fn error_policy(binding: Arc<AccountBinding>, error: &Error, state: Arc<State>) -> Action {
    let attempt = {
        let mut failures = lock(&state.failures);
        let count = failures.entry(binding.name_any()).or_insert(0);
        *count += 1;
        *count
    };
    let delay = error
        .class()
        .backoff(attempt, state.ctx.settings.resync_period);
    warn!(binding = %binding.name_any(), reason = error.reason(), attempt, ?delay, %error, "AccountBinding reconcile failed");
    Action::requeue(delay)
}
