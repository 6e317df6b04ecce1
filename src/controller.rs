//! The Kubernetes side: watches VideoStreams, runs [`sync`](crate::sync) for each, and writes
//! the outcome back as status, conditions and Events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::Sender;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, warn};

use crate::accounts::{AccountKey, Accounts, Identity};
use crate::api::{AccountBinding, VideoStream, VideoStreamStatus};
use crate::events::EventBudget;
use crate::metrics::Metrics;
use crate::plan::{Desired, Mutation};
use crate::shards::{DEFAULT_SHARD, Shards};
use crate::status::{Outcome, SYNCED, find, next_status};
use crate::sync::{self, CleanupStep, Report, Step, describe_mutation};
use crate::tenancy::{self, Placement, Request};
use crate::{Error, Result, bindings, drift, settle};

/// Finalizer that keeps a VideoStream until its stream is cleaned up.
pub const FINALIZER: &str = "kvs-operator.dev/finalizer";

/// Field manager for status writes.
const MANAGER: &str = "kvs-operator";

/// Timing knobs of the reconcile loop.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often an in-sync VideoStream is checked again. Against its account's latest
    /// scan this costs no AWS call; without scans it is a full comparison.
    pub resync_period: Duration,
    /// How soon to look again after a change, or while the stream is busy.
    pub poll_interval: Duration,
    /// How often one ListStreams pass looks for streams changed outside Kubernetes
    /// (`None`: never; drift is then found at the resync period only).
    pub drift_scan_interval: Option<Duration>,
    /// How often each stream's tags are read fresh from KVS (ListStreams does not show
    /// them); stretched per account so audits stay within their share of the quota.
    pub tag_audit_period: Duration,
    /// VideoStreams reconciled at once.
    pub concurrency: u16,
    /// Reported as the Event reporting instance (e.g. the pod name).
    pub instance: Option<String>,
    /// This cluster's identity, written as the cluster tag on every stream it creates.
    pub cluster_id: String,
    /// Refuse namespaces no AccountBinding selects, instead of using the operator's own
    /// identity for them.
    pub require_account_binding: bool,
    /// The namespaces whose VideoStreams this operator serves; empty: all.
    pub namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync_period: Duration::from_secs(600),
            poll_interval: Duration::from_secs(2),
            drift_scan_interval: Some(Duration::from_secs(300)),
            tag_audit_period: Duration::from_secs(6 * 3600),
            concurrency: 32,
            instance: None,
            cluster_id: String::new(),
            require_account_binding: false,
            namespaces: Vec::new(),
        }
    }
}

/// Shared state of every reconcile.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// The AWS identities and per-account state (limiters, tag caches).
    pub accounts: Arc<Accounts>,
    /// The shards this replica holds (all of them without leader election).
    pub shards: Arc<Shards>,
    /// Publishes Events on VideoStreams (and aggregates repeats into series).
    pub recorder: Recorder,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Every AccountBinding, as watched.
    pub bindings: Store<AccountBinding>,
    /// Every namespace's metadata, as watched (for binding selectors).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    /// The writers behind `bindings` and `namespaces`, until [`run`] starts their watches.
    writers: Mutex<Option<Writers>>,
    /// Consecutive failed reconciles per VideoStream, for the backoff.
    failures: Mutex<HashMap<ObjectRef<VideoStream>, u32>>,
    /// Consecutive waits per VideoStream for KVS to finish a transition, for the backoff.
    waits: Mutex<HashMap<ObjectRef<VideoStream>, u32>>,
    /// When each VideoStream's tags are read fresh next.
    audits: Mutex<HashMap<ObjectRef<VideoStream>, tokio::time::Instant>>,
    /// Bounds the Events the operator sends, so bursts don't flood the API server.
    events: EventBudget,
    /// The caches of the running controllers (one per watched namespace), for metrics.
    stores: Mutex<Vec<Store<VideoStream>>>,
    /// Where to send a VideoStream to be reconciled, by the namespace its controller
    /// watches (`None`: all namespaces).
    triggers: Mutex<Vec<Trigger>>,
    /// The accounts whose drift scan runs.
    scans: Mutex<HashSet<AccountKey>>,
    /// Wakes every AccountBinding for a look (set once the controllers run).
    bindings_wake: Mutex<Option<Sender<()>>>,
}

/// The namespace a controller watches (`None`: all) and its reconcile queue.
type Trigger = (Option<String>, Sender<ObjectRef<VideoStream>>);

struct Writers {
    bindings: reflector::store::Writer<AccountBinding>,
    namespaces: reflector::store::Writer<PartialObjectMeta<Namespace>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Context {
    pub fn new(
        client: Client,
        accounts: Arc<Accounts>,
        shards: Arc<Shards>,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.to_string(),
            instance: settings.instance.clone(),
        };
        let (bindings, bindings_writer) = reflector::store();
        let (namespaces, namespaces_writer) = reflector::store();
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            accounts,
            shards,
            settings,
            metrics,
            bindings,
            namespaces,
            writers: Mutex::new(Some(Writers {
                bindings: bindings_writer,
                namespaces: namespaces_writer,
            })),
            failures: Mutex::new(HashMap::new()),
            waits: Mutex::new(HashMap::new()),
            audits: Mutex::new(HashMap::new()),
            events: EventBudget::default(),
            stores: Mutex::new(Vec::new()),
            triggers: Mutex::new(Vec::new()),
            scans: Mutex::new(HashSet::new()),
            bindings_wake: Mutex::new(None),
        }
    }

    /// Every VideoStream the running controllers know about.
    pub fn known_resources(&self) -> Vec<Arc<VideoStream>> {
        lock(&self.stores).iter().flat_map(Store::state).collect()
    }

    /// The labels of a namespace, as watched (empty until it is seen).
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .map(|ns| ns.metadata.labels.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The shard `vs` belongs to: its namespace's binding, or the default shard (which
    /// also reports the refusals of namespaces that have no binding, or several).
    pub fn shard_of(&self, vs: &VideoStream) -> String {
        let namespace = vs.namespace().unwrap_or_default();
        let bindings = self.bindings.state();
        let labels = self.namespace_labels(&namespace);
        match tenancy::governing(bindings.iter().map(AsRef::as_ref), &namespace, &labels) {
            tenancy::Governing::One(binding) => binding.name_any(),
            _ => DEFAULT_SHARD.to_string(),
        }
    }

    /// Where `vs` acts at AWS, or why it may not, decided from the watches alone.
    pub fn placement(&self, vs: &VideoStream) -> Result<Placement> {
        let namespace = vs.namespace().unwrap_or_default();
        let bindings = self.bindings.state();
        let labels = self.namespace_labels(&namespace);
        let governing = tenancy::governing(bindings.iter().map(AsRef::as_ref), &namespace, &labels);
        let stream_name = vs.stream_name();
        let request = Request {
            namespace: &namespace,
            stream_name: &stream_name,
            adopt: vs.spec.adopt_existing,
        };
        tenancy::place(
            &governing,
            request,
            self.settings.require_account_binding,
            &self.accounts.default_region(),
        )
    }

    /// The identity `vs` acts with: tenancy first (no AWS call when refused), then the
    /// verified identity, whose account must be the one the stream already lives in.
    pub async fn identity_for(self: &Arc<Self>, vs: &VideoStream) -> Result<Arc<Identity>> {
        let placement = self.placement(vs)?;
        let shard = placement.binding.as_deref().unwrap_or(DEFAULT_SHARD);
        let identity = self.accounts.identity(shard, &placement.identity).await?;
        self.ensure_drift_scan(&identity);
        let recorded = vs.status.as_ref().and_then(|s| s.stream_arn.as_deref());
        if let Some(arn) = recorded
            && let Some((account, region)) = tenancy::arn_scope(arn)
        {
            let key = &identity.account.key;
            if account != key.account_id || region != key.region {
                return Err(Error::AccountChanged(format!(
                    "stream {arn} lives in account {account}, region {region}, but this namespace now acts in account {}, region {} ({}); it is neither moved nor created again: restore the AccountBinding, or delete the VideoStream after removing its finalizer to leave the stream behind",
                    key.account_id,
                    key.region,
                    placement.identity.describe()
                )));
            }
        }
        Ok(identity)
    }

    /// Starts the drift scan of `identity`'s account unless one runs.
    fn ensure_drift_scan(self: &Arc<Self>, identity: &Arc<Identity>) {
        let Some(interval) = self.settings.drift_scan_interval else {
            return;
        };
        if !lock(&self.scans).insert(identity.account.key.clone()) {
            return;
        }
        tokio::spawn(drift::scan_forever(
            self.clone(),
            identity.clone(),
            interval,
            self.settings.poll_interval,
        ));
    }

    /// Queues `object` for a reconcile by the controller that watches its namespace.
    pub async fn trigger(&self, object: ObjectRef<VideoStream>) {
        let sender = lock(&self.triggers)
            .iter()
            .find(|(namespace, _)| {
                namespace.is_none() || namespace.as_deref() == object.namespace.as_deref()
            })
            .map(|(_, sender)| sender.clone());
        if let Some(mut sender) = sender {
            use futures::SinkExt;
            // The controller has stopped when this fails: nothing to wake up.
            let _ = sender.send(object).await;
        }
    }

    /// The shards that exist now: the default one, and every AccountBinding that selects a
    /// namespace this operator serves.
    pub fn shard_names(&self) -> std::collections::BTreeSet<String> {
        let namespaces = self.namespaces.state();
        let mut shards: std::collections::BTreeSet<String> = self
            .bindings
            .state()
            .iter()
            .filter(|binding| {
                namespaces.iter().any(|ns| {
                    let name = ns.name_any();
                    let labels = ns.metadata.labels.clone().unwrap_or_default();
                    self.serves(&name) && binding.selects(&name, &labels)
                })
            })
            .map(|binding| binding.name_any())
            .collect();
        shards.insert(DEFAULT_SHARD.to_string());
        shards
    }

    /// Reconciles everything of a shard this replica just took: its VideoStreams, and the
    /// AccountBindings (the shard's binding writes its status from here on).
    pub async fn reconcile_shard(&self, shard: &str) {
        let wake = lock(&self.bindings_wake).clone();
        if let Some(mut wake) = wake {
            let _ = wake.try_send(());
        }
        for vs in self.known_resources() {
            if self.shard_of(&vs) == shard {
                self.trigger(ObjectRef::from(vs.as_ref())).await;
            }
        }
    }

    /// Whether this operator serves VideoStreams in `namespace`.
    pub fn serves(&self, namespace: &str) -> bool {
        let watched = &self.settings.namespaces;
        watched.is_empty() || watched.iter().any(|n| n == namespace)
    }

    /// The VideoStreams in the namespaces `selected` says yes to.
    pub fn resources_in(&self, selected: impl Fn(&str) -> bool) -> Vec<Arc<VideoStream>> {
        self.known_resources()
            .into_iter()
            .filter(|vs| selected(&vs.namespace().unwrap_or_default()))
            .collect()
    }

    /// Counts one more failure of `vs` and returns the count.
    fn record_failure(&self, vs: &VideoStream) -> u32 {
        let mut failures = lock(&self.failures);
        let count = failures.entry(ObjectRef::from(vs)).or_insert(0);
        *count += 1;
        *count
    }

    fn record_success(&self, vs: &VideoStream) {
        lock(&self.failures).remove(&ObjectRef::from(vs));
    }

    /// The delay before looking again at a VideoStream waiting for KVS, doubling up to a
    /// minute. With drift scans, the account's scan (hurried meanwhile to the poll
    /// interval) wakes it when its stream is done, for one ListStreams however many streams
    /// wait; this is only the fallback, so it starts at ten poll intervals. Without scans
    /// it starts at one.
    fn wait_backoff(&self, vs: &VideoStream) -> Duration {
        let mut waits = lock(&self.waits);
        let count = waits.entry(ObjectRef::from(vs)).or_insert(0);
        *count = (*count + 1).min(16);
        let first = match self.settings.drift_scan_interval {
            Some(_) => self.settings.poll_interval * 10,
            None => self.settings.poll_interval,
        };
        let doubled = first * 2u32.saturating_pow(*count - 1);
        doubled.min(Duration::from_secs(60))
    }

    fn done_waiting(&self, vs: &VideoStream) {
        lock(&self.waits).remove(&ObjectRef::from(vs));
    }

    /// How long until `vs`'s tags are due for an audit. The first time a VideoStream is
    /// seen (after a start, say) its audit is placed at a random point of the period, so
    /// the audits of a fleet spread out instead of coming all at once.
    pub fn audit_due_in(&self, vs: &VideoStream, period: Duration) -> Duration {
        let now = tokio::time::Instant::now();
        let mut audits = lock(&self.audits);
        let due = audits
            .entry(ObjectRef::from(vs))
            .or_insert_with(|| now + period.mul_f64(rand::random_range(0.0..1.0)));
        due.saturating_duration_since(now)
    }

    /// Records an audit of `vs` now; the next is a period (±10%) away.
    pub fn audited(&self, vs: &VideoStream, period: Duration) {
        let next = tokio::time::Instant::now() + jittered(period);
        lock(&self.audits).insert(ObjectRef::from(vs), next);
    }
}

/// The VideoStream APIs for the watched namespaces (all namespaces when empty).
fn apis(client: &Client, namespaces: &[String]) -> Vec<Api<VideoStream>> {
    if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    }
}

/// Runs the controllers (VideoStreams in the namespaces of the settings, all when empty;
/// the AccountBindings that select them) until `shutdown`, then lets the reconciles in
/// flight finish.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let namespaces = &ctx.settings.namespaces.clone();
    let Some(writers) = lock(&ctx.writers).take() else {
        warn!("the controllers of this context run already");
        return;
    };
    // Readiness signals of our own: a store's wakes only one waiter, and the controllers
    // wait on theirs.
    let (namespaces_ready, mut namespaces_filled) = tokio::sync::watch::channel(false);
    let (bindings_ready, mut bindings_filled) = tokio::sync::watch::channel(false);
    let (namespaces_changed, bindings_wake) = futures::channel::mpsc::channel(16);
    *lock(&ctx.bindings_wake) = Some(namespaces_changed.clone());
    tokio::spawn(watch_namespaces(
        ctx.clone(),
        writers.namespaces,
        namespaces_ready,
        namespaces_changed,
    ));
    let bindings = tokio::spawn(bindings::run(
        ctx.clone(),
        writers.bindings,
        bindings::Signals {
            ready: bindings_ready,
            namespaces_ready: namespaces_filled.clone(),
            namespaces_changed: bindings_wake,
        },
        shutdown.clone(),
    ));
    // Tenancy is decided from these caches: a VideoStream reconciled before they are
    // filled would look unbound and act with the operator's own identity.
    debug!("waiting for the AccountBinding and namespace caches");
    let caches = futures::future::join(
        bindings_filled.wait_for(|filled| *filled),
        namespaces_filled.wait_for(|filled| *filled),
    );
    tokio::select! {
        (bindings, namespaces) = caches => {
            if bindings.is_err() || namespaces.is_err() {
                warn!("the AccountBinding or namespace watch ended before it was ready");
                return;
            }
        }
        () = shutdown.cancelled() => return,
    }
    debug!("AccountBinding and namespace caches filled");
    let controllers = apis(&ctx.client, namespaces)
        .into_iter()
        .zip(watched(namespaces))
        .map(|(api, namespace)| run_one(api, namespace, ctx.clone(), shutdown.clone()));
    futures::future::join_all(controllers).await;
    // The binding controller stops on the same shutdown.
    let _ = bindings.await;
}

/// The namespace each controller of [`apis`] watches (`None`: all).
fn watched(namespaces: &[String]) -> Vec<Option<String>> {
    if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    }
}

/// Keeps the namespace cache for binding selectors. When a namespace appears or its labels
/// change, a selector may now pick it or no longer: the bindings are looked at again
/// (through `changed`), and so are the namespace's VideoStreams. `ready` turns true once
/// the cache holds every namespace.
async fn watch_namespaces(
    ctx: Arc<Context>,
    writer: reflector::store::Writer<PartialObjectMeta<Namespace>>,
    ready: tokio::sync::watch::Sender<bool>,
    mut changed: Sender<()>,
) {
    use futures::SinkExt;
    // Metadata only: labels are all a selector looks at.
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(ctx.client.clone());
    let mut seen: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let signal = ready.clone();
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(watcher::Event::InitDone) = event {
                signal.send_replace(true);
            }
        })
        .applied_objects();
    futures::pin_mut!(events);
    while let Some(event) = events.next().await {
        let namespace = match event {
            Ok(namespace) => namespace,
            Err(error) => {
                warn!(%error, "namespace watch failed; retrying");
                continue;
            }
        };
        let name = namespace.name_any();
        let labels = namespace.metadata.labels.clone().unwrap_or_default();
        let before = seen.insert(name.clone(), labels.clone());
        // The initial list is what the first reconciles see anyway.
        if !*ready.borrow() || before.as_ref() == Some(&labels) {
            continue;
        }
        debug!(namespace = %name, "namespace appeared or its labels changed");
        let _ = changed.try_send(());
        for vs in ctx.resources_in(|ns| ns == name) {
            ctx.trigger(ObjectRef::from(vs.as_ref())).await;
        }
        let _ = changed.flush().await;
    }
}

/// Fails with an install hint when a CRD is missing (or not readable).
pub async fn check_crd_installed(client: &Client, namespaces: &[String]) -> Result<()> {
    for api in apis(client, namespaces) {
        match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Err(Error::Config(
                    "the VideoStream CRD is not installed; install it with: kvs-operator crd | kubectl apply -f -"
                        .to_string(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let bindings: Api<AccountBinding> = Api::all(client.clone());
    match bindings.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(Error::Config(
            "the AccountBinding CRD is not installed; install the CRDs with: kvs-operator crd | kubectl apply -f -"
                .to_string(),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn run_one(
    api: Api<VideoStream>,
    namespace: Option<String>,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
) {
    let (reader, writer) = reflector::store();
    lock(&ctx.stores).push(reader.clone());
    // Status writes must not trigger reconciles (lastSyncTime changes every time), so only
    // spec changes (generation) and deletion wake a VideoStream up; everything else comes
    // from requeues and the drift scan.
    let objects = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_deletion, Default::default());

    // Drift scans and binding changes wake VideoStreams up through this channel.
    let (trigger_tx, trigger_rx) = futures::channel::mpsc::channel(1024);
    lock(&ctx.triggers).push((namespace, trigger_tx));

    let config = kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency);
    Controller::for_stream(objects, reader)
        .with_config(config)
        .reconcile_on(trigger_rx)
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            // Failures were already logged by the error policy.
            if let Err(error) = result {
                debug!(%error, "reconcile loop error");
            }
        })
        .await;
}

/// Drops what the cache never reads but would hold for every object: managed fields and
/// kubectl's copy of the last applied manifest (each about as large as the object).
pub fn slim<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
    if let Some(annotations) = object.meta_mut().annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Predicate: the spec generation plus whether deletion started.
fn spec_or_deletion(vs: &VideoStream) -> Option<u64> {
    let generation = vs.meta().generation.unwrap_or_default() as u64;
    let deleting = u64::from(vs.meta().deletion_timestamp.is_some());
    Some(generation.wrapping_mul(2).wrapping_add(deleting))
}

/// Reconciles one VideoStream: finalizer first, then cleanup or apply.
#[instrument(skip_all, fields(namespace = vs.namespace(), name = vs.name_any()))]
pub async fn reconcile(vs: Arc<VideoStream>, ctx: Arc<Context>) -> Result<Action> {
    // Another replica's shard: it reconciles this one (and this replica is woken when the
    // shard comes to it).
    if !ctx.shards.holds(&ctx.shard_of(&vs)) {
        return Ok(Action::requeue(ctx.settings.resync_period));
    }
    let started = std::time::Instant::now();
    let result = reconcile_inner(&vs, &ctx).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(error) => error.reason(),
    };
    ctx.metrics.record_reconcile(outcome, started.elapsed());
    result
}

async fn reconcile_inner(vs: &VideoStream, ctx: &Arc<Context>) -> Result<Action> {
    let namespace = vs.namespace().unwrap_or_default();
    let api: Api<VideoStream> = Api::namespaced(ctx.client.clone(), &namespace);
    let has_finalizer = vs.finalizers().iter().any(|f| f == FINALIZER);

    if vs.meta().deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Action::await_change());
        }
        return cleanup(vs, &api, ctx).await;
    }
    if !has_finalizer {
        // Before anything is created at AWS, so a deletion can never lose track of it.
        set_finalizers(&api, vs, with_finalizer(vs.finalizers())).await?;
    }
    apply(vs, &api, ctx).await
}

async fn apply(vs: &VideoStream, api: &Api<VideoStream>, ctx: &Arc<Context>) -> Result<Action> {
    let desired = Desired::from_resource(vs, &ctx.settings.cluster_id);
    let previous = vs.status.as_ref();
    let identity = ctx.identity_for(vs).await;
    if let Ok(identity) = &identity
        && let Some(action) = settle::settled(vs, identity, ctx).await
    {
        return Ok(action);
    }
    let result = match identity {
        Ok(identity) => {
            let report = sync::sync(
                identity.kvs.as_ref(),
                &desired,
                previous.and_then(|s| s.stream_arn.as_deref()),
                &previous
                    .map(|s| s.data_endpoints.clone())
                    .unwrap_or_default(),
            )
            .await;
            if report.as_ref().is_ok_and(|r| r.step != Step::InSync) {
                identity.account.scans.hurry();
            }
            report
        }
        Err(refused) => Err(refused),
    };

    let outcome = match &result {
        Ok(report) => Outcome::Synced(report),
        Err(error) => Outcome::Failed(error),
    };
    report(vs, api, ctx, &desired.name, outcome).await?;

    let report = result?;
    if let Some(event) = mutation_event(&report) {
        publish(ctx, vs, event).await;
    }
    ctx.record_success(vs);
    let next = match report.step {
        Step::InSync => {
            ctx.done_waiting(vs);
            jittered(ctx.settings.resync_period)
        }
        Step::Created { .. } | Step::Mutated(_) | Step::Waiting(_) => ctx.wait_backoff(vs),
    };
    Ok(Action::requeue(next))
}

async fn cleanup(vs: &VideoStream, api: &Api<VideoStream>, ctx: &Arc<Context>) -> Result<Action> {
    let desired = Desired::from_resource(vs, &ctx.settings.cluster_id);
    let recorded = vs.status.as_ref().and_then(|s| s.stream_arn.as_deref());
    let result = match ctx.identity_for(vs).await {
        Ok(identity) => {
            let step = sync::cleanup(identity.kvs.as_ref(), &desired).await;
            if matches!(
                step,
                Ok(CleanupStep::Deleted { .. } | CleanupStep::Waiting(_))
            ) {
                identity.account.scans.hurry();
            }
            step
        }
        // Refused before any stream was recorded: nothing was made for it at AWS.
        Err(refused) if recorded.is_none() => {
            debug!(%refused, "no stream recorded; releasing the finalizer");
            Ok(CleanupStep::Done)
        }
        // A stream exists where this VideoStream can no longer reach: keep the finalizer
        // and say so, rather than forget the stream.
        Err(refused) => Err(refused),
    };
    let outcome = match &result {
        Ok(step) => Outcome::CleaningUp(step),
        Err(error) => Outcome::Failed(error),
    };
    let stored = report(vs, api, ctx, &desired.name, outcome).await?;

    let step = result?;
    ctx.record_success(vs);
    match step {
        CleanupStep::Done | CleanupStep::Released { .. } => {
            if let CleanupStep::Released { arn } = &step {
                let note = format!(
                    "removed the owner and cluster tags from {arn}; the stream is kept (deletionPolicy Retain)"
                );
                publish(ctx, vs, normal("ReleasedStream", "Release", note)).await;
            }
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
            publish(
                ctx,
                vs,
                normal("DeletingStream", "Delete", format!("deleting stream {arn}")),
            )
            .await;
            Ok(Action::requeue(ctx.wait_backoff(vs)))
        }
        CleanupStep::Waiting(_) => Ok(Action::requeue(ctx.wait_backoff(vs))),
    }
}

/// Writes the status an outcome leads to and announces a change of error state. Returns the
/// object as stored, for the writes that follow in the same reconcile.
async fn report(
    vs: &VideoStream,
    api: &Api<VideoStream>,
    ctx: &Context,
    stream_name: &str,
    outcome: Outcome<'_>,
) -> Result<VideoStream> {
    let previous = vs.status.as_ref();
    let generation = vs.meta().generation;
    let status = next_status(previous, generation, stream_name, outcome, Timestamp::now());
    // A reconcile that found nothing new writes nothing: lastSyncTime is not a heartbeat.
    if previous.is_some_and(|p| unchanged(p, &status)) {
        return Ok(vs.clone());
    }
    let stored = patch_status(api, vs, &status).await?;
    publish_condition_change(ctx, vs, previous, &status).await;
    Ok(stored)
}

/// Whether `next` says nothing `previous` did not, but for its sync time.
fn unchanged(previous: &VideoStreamStatus, next: &VideoStreamStatus) -> bool {
    VideoStreamStatus {
        last_sync_time: previous.last_sync_time.clone(),
        ..next.clone()
    } == *previous
}

/// Backs off per VideoStream by error class, with jitter so failures don't synchronise.
pub fn error_policy(vs: Arc<VideoStream>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempt = ctx.record_failure(&vs);
    let delay = error.class().backoff(attempt, ctx.settings.resync_period);
    warn!(
        namespace = vs.namespace(),
        name = vs.name_any(),
        reason = error.reason(),
        attempt,
        ?delay,
        %error,
        "reconcile failed"
    );
    Action::requeue(jittered(delay))
}

/// `base` ± 10%.
fn jittered(base: Duration) -> Duration {
    base.mul_f64(rand::random_range(0.9..1.1))
}

fn with_finalizer(existing: &[String]) -> Vec<String> {
    let mut finalizers = existing.to_vec();
    finalizers.push(FINALIZER.to_string());
    finalizers
}

/// Replaces the finalizer list, guarded by the resourceVersion we read, so a concurrent
/// change by someone else makes this fail (and retry) instead of being overwritten.
async fn set_finalizers(
    api: &Api<VideoStream>,
    vs: &VideoStream,
    finalizers: Vec<String>,
) -> Result<()> {
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": vs.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &vs.name_any(),
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
async fn patch_status(
    api: &Api<VideoStream>,
    vs: &VideoStream,
    status: &VideoStreamStatus,
) -> Result<VideoStream> {
    let patch = serde_json::json!({
        "apiVersion": VideoStream::api_version(&()),
        "kind": VideoStream::kind(&()),
        "status": status,
    });
    let stored = api
        .patch_status(
            &vs.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(stored)
}

/// The Event for the AWS mutation a report performed, if any.
fn mutation_event(report: &Report) -> Option<Event> {
    let stream = report.stream.as_ref();
    let event = match &report.step {
        Step::Created { arn } => normal("CreatedStream", "Create", format!("created stream {arn}")),
        Step::Mutated(mutation) => {
            let note = describe_mutation(mutation, stream);
            match mutation {
                Mutation::Adopt => normal("AdoptedStream", "Adopt", note),
                Mutation::UpdateStream { .. } => normal("UpdatedStream", "UpdateStream", note),
                Mutation::UpdateRetention { to, from, .. } if to < from => Event {
                    type_: EventType::Warning,
                    ..normal("DecreasedRetention", "UpdateDataRetention", note)
                },
                Mutation::UpdateRetention { .. } => {
                    normal("IncreasedRetention", "UpdateDataRetention", note)
                }
                Mutation::UpdateStorageTier(_) => normal(
                    "UpdatedStorageTier",
                    "UpdateStreamStorageConfiguration",
                    note,
                ),
                Mutation::Untag(_) => normal("UntaggedStream", "UntagStream", note),
                Mutation::Tag(_) => normal("TaggedStream", "TagStream", note),
            }
        }
        Step::Waiting(_) | Step::InSync => return None,
    };
    Some(event)
}

/// An Event when the Synced condition changes: a new error, or recovery from one.
async fn publish_condition_change(
    ctx: &Context,
    vs: &VideoStream,
    previous: Option<&VideoStreamStatus>,
    status: &VideoStreamStatus,
) {
    let before = previous.and_then(|s| find(&s.conditions, SYNCED));
    let Some(now) = find(&status.conditions, SYNCED) else {
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
        publish(ctx, vs, event).await;
    } else if before.is_some_and(|b| b.status == "False") {
        publish(
            ctx,
            vs,
            normal(
                "Recovered",
                "Reconcile",
                "the last reconcile succeeded again".into(),
            ),
        )
        .await;
    }
}

fn normal(reason: &str, action: &str, note: String) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.to_string(),
        note: Some(note),
        action: action.to_string(),
        secondary: None,
    }
}

/// Publishes an Event within the Event budget; a failure is logged, never fails the
/// reconcile.
async fn publish(ctx: &Context, vs: &VideoStream, event: Event) {
    info!(reason = %event.reason, note = ?event.note, "event");
    if !ctx.events.allows(&event.type_) {
        let type_ = format!("{:?}", event.type_);
        ctx.metrics.record_event_dropped(&type_);
        debug!(reason = %event.reason, "event budget spent; event not published");
        return;
    }
    if let Err(error) = ctx.recorder.publish(&event, &vs.object_ref(&())).await {
        warn!(%error, "could not publish event");
    }
}
