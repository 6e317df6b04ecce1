//! The state every reconcile shares: clients, watches, per-account state, shards, and the
//! per-object bookkeeping of backoffs and audits — one [`Context`] for every kind, with a
//! [`Registry`] of caches and queues per kind.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::Sender;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};

use super::events::EventBudget;
use super::kind::{Kind, KindStatus};
use super::scan;
use super::shards::{DEFAULT_SHARD, Shards};
use crate::api::{AccountBinding, SignalingChannel, VideoStream};
use crate::metrics::Metrics;
use crate::tenancy::accounts::{AccountKey, Accounts, Identity};
use crate::tenancy::{self, Placement};
use crate::{Error, Result};

/// Field manager of every write the operator makes.
pub const MANAGER: &str = "kvs-operator";

/// Timing knobs of the reconcile loop.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often an in-sync object is checked again. Against its account's latest scan
    /// this costs no AWS call; without scans it is a full comparison.
    pub resync_period: Duration,
    /// How soon to look again after a change, or while the resource is busy.
    pub poll_interval: Duration,
    /// How often one listing per account and kind looks for resources changed outside
    /// Kubernetes (`None`: never; drift is then found at the resync period only).
    pub drift_scan_interval: Option<Duration>,
    /// How often each resource's tags are read fresh from KVS (listings do not show
    /// them); stretched per account so audits stay within their share of the quota.
    pub tag_audit_period: Duration,
    /// Objects of one kind reconciled at once.
    pub concurrency: u16,
    /// Reported as the Event reporting instance (e.g. the pod name).
    pub instance: Option<String>,
    /// This cluster's identity, written as the cluster tag on everything it creates.
    pub cluster_id: String,
    /// Refuse namespaces no AccountBinding selects, instead of using the operator's own
    /// identity for them.
    pub require_account_binding: bool,
    /// The namespaces this operator serves; empty: all.
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

/// Where to send an object of one watched namespace (`None`: all) to be reconciled.
type Trigger<K> = (Option<String>, Sender<ObjectRef<K>>);

/// One kind's caches (a store per watched namespace) and reconcile queues.
pub struct Registry<K: Kind> {
    stores: Mutex<Vec<Store<K>>>,
    triggers: Mutex<Vec<Trigger<K>>>,
}

impl<K: Kind> Default for Registry<K> {
    fn default() -> Self {
        Self {
            stores: Mutex::new(Vec::new()),
            triggers: Mutex::new(Vec::new()),
        }
    }
}

impl<K: Kind> Registry<K> {
    /// Every object of the kind the running controllers know about.
    pub fn known(&self) -> Vec<Arc<K>> {
        lock(&self.stores).iter().flat_map(Store::state).collect()
    }

    /// Registers a controller's cache and queue.
    pub fn add(&self, store: Store<K>, namespace: Option<String>, queue: Sender<ObjectRef<K>>) {
        lock(&self.stores).push(store);
        lock(&self.triggers).push((namespace, queue));
    }

    /// Queues `object` for a reconcile by the controller that watches its namespace.
    pub async fn trigger(&self, object: ObjectRef<K>) {
        if let Some(mut sender) = self.queue_of(&object) {
            use futures::SinkExt;
            // The controller has stopped when this fails: nothing to wake up.
            let _ = sender.send(object).await;
        }
    }

    /// Queues `object` without waiting; when the queue is full the object is due anyway
    /// (its requeue or the next scan reconciles it).
    pub fn try_trigger(&self, object: ObjectRef<K>) {
        if let Some(mut sender) = self.queue_of(&object) {
            let _ = sender.try_send(object);
        }
    }

    fn queue_of(&self, object: &ObjectRef<K>) -> Option<Sender<ObjectRef<K>>> {
        lock(&self.triggers)
            .iter()
            .find(|(namespace, _)| {
                namespace.is_none() || namespace.as_deref() == object.namespace.as_deref()
            })
            .map(|(_, sender)| sender.clone())
    }
}

/// An object of any kind, for per-object bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    kind: &'static str,
    namespace: String,
    name: String,
}

impl ObjectKey {
    pub fn of<K: Kind>(object: &K) -> Self {
        Self {
            kind: K::NOUN,
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
        }
    }
}

/// Shared state of every reconcile.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// The AWS identities and per-account state (limiters, tag caches, scans).
    pub accounts: Arc<Accounts>,
    /// The shards this replica holds (all of them without leader election).
    pub shards: Arc<Shards>,
    /// Publishes Events (and aggregates repeats into series).
    pub recorder: Recorder,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Every AccountBinding, as watched.
    pub bindings: Store<AccountBinding>,
    /// Every namespace's metadata, as watched (for binding selectors).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    /// The writers behind `bindings` and `namespaces`, until the controllers start.
    pub(super) writers: Mutex<Option<Writers>>,
    pub videostreams: Registry<VideoStream>,
    pub channels: Registry<SignalingChannel>,
    /// Consecutive failed reconciles per object, for the backoff.
    failures: Mutex<HashMap<ObjectKey, u32>>,
    /// Consecutive waits per object for KVS to finish a transition, for the backoff.
    waits: Mutex<HashMap<ObjectKey, u32>>,
    /// When each object's tags are read fresh next.
    audits: Mutex<HashMap<ObjectKey, tokio::time::Instant>>,
    /// Bounds the Events the operator sends, so bursts don't flood the API server.
    pub(super) events: EventBudget,
    /// The (account, kind) pairs whose drift scan runs.
    scans: Mutex<HashSet<(AccountKey, &'static str)>>,
    /// Wakes every AccountBinding for a look (set once the controllers run).
    pub(super) bindings_wake: Mutex<Option<Sender<()>>>,
}

pub(super) struct Writers {
    pub bindings: reflector::store::Writer<AccountBinding>,
    pub namespaces: reflector::store::Writer<PartialObjectMeta<Namespace>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
            videostreams: Registry::default(),
            channels: Registry::default(),
            failures: Mutex::new(HashMap::new()),
            waits: Mutex::new(HashMap::new()),
            audits: Mutex::new(HashMap::new()),
            events: EventBudget::default(),
            scans: Mutex::new(HashSet::new()),
            bindings_wake: Mutex::new(None),
        }
    }

    /// Every VideoStream the running controllers know about.
    pub fn known_resources(&self) -> Vec<Arc<VideoStream>> {
        self.videostreams.known()
    }

    /// The labels of a namespace, as watched (empty until it is seen).
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .map(|ns| ns.metadata.labels.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The shard of objects in `namespace`: its binding, or the default shard (which also
    /// reports the refusals of namespaces that have no binding, or several).
    pub fn shard_of_namespace(&self, namespace: &str) -> String {
        let bindings = self.bindings.state();
        let labels = self.namespace_labels(namespace);
        match tenancy::governing(bindings.iter().map(AsRef::as_ref), namespace, &labels) {
            tenancy::Governing::One(binding) => binding.name_any(),
            _ => DEFAULT_SHARD.to_string(),
        }
    }

    /// The shard `object` belongs to.
    pub fn shard_of<K: Resource>(&self, object: &K) -> String {
        self.shard_of_namespace(&object.meta().namespace.clone().unwrap_or_default())
    }

    /// Where `object` acts at AWS, or why it may not, decided from the watches alone.
    pub fn placement<K: Kind>(&self, object: &K) -> Result<Placement> {
        let bindings = self.bindings.state();
        let labels = self.namespace_labels(&object.namespace().unwrap_or_default());
        let rules = tenancy::Rules {
            require_binding: self.settings.require_account_binding,
            default_region: self.accounts.default_region(),
        };
        tenancy::placement(object, bindings.iter().map(AsRef::as_ref), &labels, &rules)
    }

    /// The identity `object` acts with: tenancy first (no AWS call when refused), then the
    /// verified identity, whose account must be the one the resource already lives in.
    pub async fn identity_for<K: Kind>(self: &Arc<Self>, object: &K) -> Result<Arc<Identity>> {
        let placement = self.placement(object)?;
        let shard = placement.binding.as_deref().unwrap_or(DEFAULT_SHARD);
        let identity = self.accounts.identity(shard, &placement.identity).await?;
        self.ensure_scan::<K>(&identity);
        let recorded = object.status().and_then(KindStatus::arn);
        if let Some(arn) = recorded
            && let Some((account, region)) = tenancy::arn_scope(arn)
        {
            let key = &identity.account.key;
            if account != key.account_id || region != key.region {
                return Err(Error::AccountChanged(format!(
                    "{} {arn} lives in account {account}, region {region}, but this namespace now acts in account {}, region {} ({}); it is neither moved nor created again: restore the AccountBinding, or delete the object after removing its finalizer to leave the {} behind",
                    K::NOUN,
                    key.account_id,
                    key.region,
                    placement.identity.describe(),
                    K::NOUN,
                )));
            }
        }
        Ok(identity)
    }

    /// Starts the drift scan of `identity`'s account for kind `K` unless one runs.
    fn ensure_scan<K: Kind>(self: &Arc<Self>, identity: &Arc<Identity>) {
        let Some(interval) = self.settings.drift_scan_interval else {
            return;
        };
        if !lock(&self.scans).insert((identity.account.key.clone(), K::NOUN)) {
            return;
        }
        tokio::spawn(scan::scan_forever::<K>(
            self.clone(),
            identity.clone(),
            interval,
            self.settings.poll_interval,
        ));
    }

    /// The shards that exist now: the default one, and every AccountBinding that selects a
    /// namespace this operator serves.
    pub fn shard_names(&self) -> BTreeSet<String> {
        let namespaces = self.namespaces.state();
        let mut shards: BTreeSet<String> = self
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

    /// Reconciles everything of a shard this replica just took: its objects of every
    /// kind, and the AccountBindings (the shard's binding writes its status from now on).
    pub async fn reconcile_shard(&self, shard: &str) {
        let wake = lock(&self.bindings_wake).clone();
        if let Some(mut wake) = wake {
            let _ = wake.try_send(());
        }
        self.trigger_in(&self.videostreams, |ns| {
            self.shard_of_namespace(ns) == shard
        })
        .await;
        self.trigger_in(&self.channels, |ns| self.shard_of_namespace(ns) == shard)
            .await;
    }

    /// Reconciles every object of `registry` in the namespaces `selected` says yes to.
    pub async fn trigger_in<K: Kind>(
        &self,
        registry: &Registry<K>,
        selected: impl Fn(&str) -> bool,
    ) {
        for object in registry.known() {
            if selected(&object.namespace().unwrap_or_default()) {
                registry.trigger(ObjectRef::from(object.as_ref())).await;
            }
        }
    }

    /// Reconciles every object of every kind in the namespaces `selected` says yes to.
    pub async fn trigger_all_in(&self, selected: impl Fn(&str) -> bool) {
        self.trigger_in(&self.videostreams, &selected).await;
        self.trigger_in(&self.channels, &selected).await;
    }

    /// Whether this operator serves objects in `namespace`.
    pub fn serves(&self, namespace: &str) -> bool {
        let watched = &self.settings.namespaces;
        watched.is_empty() || watched.iter().any(|n| n == namespace)
    }

    /// How many objects of every kind the namespaces `selected` says yes to hold, and
    /// which of them (`namespace/name`, by kind) have made or taken an AWS resource.
    pub fn holdings(&self, selected: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
        let (streams, mut holding) = holdings_of(&self.videostreams, &selected);
        let (channels, held) = holdings_of(&self.channels, &selected);
        holding.extend(held);
        (streams + channels, holding)
    }

    /// Counts one more failure of `object` and returns the count.
    pub(super) fn record_failure(&self, key: ObjectKey) -> u32 {
        let mut failures = lock(&self.failures);
        let count = failures.entry(key).or_insert(0);
        *count += 1;
        *count
    }

    pub(super) fn record_success(&self, key: &ObjectKey) {
        lock(&self.failures).remove(key);
    }

    /// The delay before looking again at an object waiting for KVS, doubling up to a
    /// minute. With drift scans, the account's scan (hurried meanwhile to the poll
    /// interval) wakes it when its resource is done, for one listing however many wait;
    /// this is only the fallback, so it starts at ten poll intervals. Without scans it
    /// starts at one.
    pub(super) fn wait_backoff(&self, key: ObjectKey) -> Duration {
        let mut waits = lock(&self.waits);
        let count = waits.entry(key).or_insert(0);
        *count = (*count + 1).min(16);
        let first = match self.settings.drift_scan_interval {
            Some(_) => self.settings.poll_interval * 10,
            None => self.settings.poll_interval,
        };
        let doubled = first * 2u32.saturating_pow(*count - 1);
        doubled.min(Duration::from_secs(60))
    }

    pub(super) fn done_waiting(&self, key: &ObjectKey) {
        lock(&self.waits).remove(key);
    }

    /// How long until `object`'s tags are due for an audit. The first time an object is
    /// seen (after a start, say) its audit is placed at a random point of the period, so
    /// the audits of a fleet spread out instead of coming all at once.
    pub fn audit_due_in(&self, key: ObjectKey, period: Duration) -> Duration {
        let now = tokio::time::Instant::now();
        let mut audits = lock(&self.audits);
        let due = audits
            .entry(key)
            .or_insert_with(|| now + period.mul_f64(rand::random_range(0.0..1.0)));
        due.saturating_duration_since(now)
    }

    /// Records an audit of `object` now; the next is a period (±10%) away.
    pub fn audited(&self, key: ObjectKey, period: Duration) {
        let next = tokio::time::Instant::now() + jittered(period);
        lock(&self.audits).insert(key, next);
    }
}

fn holdings_of<K: Kind>(
    registry: &Registry<K>,
    selected: &impl Fn(&str) -> bool,
) -> (usize, Vec<String>) {
    let objects: Vec<Arc<K>> = registry
        .known()
        .into_iter()
        .filter(|o| selected(&o.namespace().unwrap_or_default()))
        .collect();
    let holding = objects
        .iter()
        .filter(|o| o.status().and_then(KindStatus::arn).is_some())
        .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
        .collect();
    (objects.len(), holding)
}

/// `base` ± 10%, so that periodic work of many objects does not synchronise.
pub fn jittered(base: Duration) -> Duration {
    base.mul_f64(rand::random_range(0.9..1.1))
}
