//! The state every reconcile shares: clients, watches, per-account state, shards, and the
//! per-object bookkeeping of backoffs and audits — one [`Context`] for every kind, with a
//! [`Registry`] of caches and queues per kind.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::Sender;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::{Client, ResourceExt};

use super::events::EventBudget;
use super::kind::{Kind, KindStatus};
use super::ledger::Ledger;
use super::resync::Resyncs;
use super::scan;
use super::scope_index::ScopeIndex;
use super::shard_watch::Selection;
use super::shards::Shards;
use crate::api::{
    ACCOUNT_ANNOTATION, AccountBinding, Adoption, ManagementPolicy, Mark, PlacementStatus,
    SignalingChannel, VideoStream,
};
use crate::metrics::Metrics;
use crate::tenancy::accounts::{AccountKey, Accounts, Identity};
use crate::tenancy::{self, Defaults, IdentityKey, Placed, Placement, Request};
use crate::{Error, Result};

/// The finalizer of AccountBindings kept by an operator that watches every namespace (the
/// same string as the objects' finalizer, which such bindings have always carried).
pub const BINDING_FINALIZER: &str = "kvs-operator.dev/finalizer";

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
    /// Refuse new objects in namespaces no AccountBinding selects, instead of using the
    /// operator's own identity for them.
    pub require_account_binding: bool,
    /// Whether objects in namespaces no AccountBinding selects may adopt existing resources.
    pub unbound_adoption: Adoption,
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
            unbound_adoption: Adoption::Forbidden,
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
    /// Each controller's objects by account, for the drift scans.
    indexes: Mutex<Vec<Arc<Mutex<ScopeIndex<K>>>>>,
    /// When each object found in sync is looked at next.
    pub resyncs: Resyncs,
}

impl<K: Kind> Default for Registry<K> {
    fn default() -> Self {
        Self {
            stores: Mutex::new(Vec::new()),
            triggers: Mutex::new(Vec::new()),
            indexes: Mutex::new(Vec::new()),
            resyncs: Resyncs::default(),
        }
    }
}

impl<K: Kind> Registry<K> {
    /// Every object of the kind the running controllers know about.
    pub fn known(&self) -> Vec<Arc<K>> {
        lock(&self.stores).iter().flat_map(Store::state).collect()
    }

    /// How many objects of the kind the caches hold.
    pub fn cached(&self) -> usize {
        lock(&self.stores).iter().map(|s| s.state().len()).sum()
    }

    /// The objects whose status records a resource in `account`, and those of `pending`
    /// (keys as `wake_filter::key_of` makes them: a create not reported yet, say) whose
    /// status records none.
    pub fn in_account(&self, account: &AccountKey, pending: &[u64]) -> Vec<Arc<K>> {
        lock(&self.indexes)
            .iter()
            .flat_map(|index| lock(index).in_account(account, pending))
            .collect()
    }

    /// The watched object of key `key` (as `wake_filter::key_of` makes it), if any.
    pub fn find(&self, key: u64) -> Option<Arc<K>> {
        lock(&self.indexes)
            .iter()
            .find_map(|index| lock(index).get(key))
    }

    /// Registers a controller's cache, its index by account and its queue.
    pub fn add(
        &self,
        store: Store<K>,
        index: Arc<Mutex<ScopeIndex<K>>>,
        namespace: Option<String>,
        queue: Sender<ObjectRef<K>>,
    ) {
        lock(&self.stores).push(store);
        lock(&self.indexes).push(index);
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

/// Where `object` acts at AWS (and its shard), or why it may not, from the AccountBindings,
/// its namespace's labels and `status` (its own, or — for `kvs-operator plan` — the live
/// object's): the one tenancy decision the controller (from its watches) and `plan` (from
/// one read of the cluster) both make, so a plan follows every rule the controller does.
/// `unrecorded` is where a create this replica made was placed while no status says so
/// yet: the object owns that resource as much as one its status records.
pub fn placement_of<K: Kind>(
    object: &K,
    status: Option<&K::Status>,
    unrecorded: Option<&PlacementStatus>,
    bindings: &[&AccountBinding],
    namespace_labels: &BTreeMap<String, String>,
    defaults: &Defaults,
) -> Placed {
    let namespace = object.namespace().unwrap_or_default();
    let governing = tenancy::governing(bindings.iter().copied(), &namespace, namespace_labels);
    let name = object.aws_name();
    // What it made or took keeps its placement; what it merely observes does not.
    let recorded = status.and_then(KindStatus::arn).is_some();
    let owned = (object.management_policy() == ManagementPolicy::Full
        && (recorded || unrecorded.is_some()))
    .then(|| {
        if recorded {
            status.and_then(KindStatus::placement)
        } else {
            unrecorded
        }
    });
    let request = Request {
        namespace: &namespace,
        name: &name,
        owned,
    };
    tenancy::place(bindings, &governing, request, defaults)
}

pub use super::ledger::ObjectKey;

impl ObjectKey {
    pub fn of<K: Kind>(object: &K) -> Self {
        Self::new(
            K::NOUN,
            &object.namespace().unwrap_or_default(),
            &object.name_any(),
        )
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
    /// What the engine remembers of each object between reconciles.
    pub ledger: Ledger,
    /// Bounds the Events the operator sends, so bursts don't flood the API server.
    pub(super) events: EventBudget,
    /// The (account, kind) pairs whose drift scan runs.
    scans: Mutex<HashSet<(AccountKey, &'static str)>>,
    /// Wakes every AccountBinding for a look (set once the controllers run).
    pub(super) bindings_wake: Mutex<Option<Sender<()>>>,
    /// Which objects the watches select: those of the shards this replica holds.
    pub(super) selection: tokio::sync::watch::Sender<Arc<Selection>>,
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
            ledger: Ledger::default(),
            events: EventBudget::default(),
            scans: Mutex::new(HashSet::new()),
            bindings_wake: Mutex::new(None),
            selection: tokio::sync::watch::Sender::new(Arc::new(Selection::default())),
        }
    }

    /// Makes the watches select the objects of the shards held now (with election; a
    /// single replica watches everything).
    pub(super) fn refresh_selection(&self) {
        if !self.shards.is_elected() {
            return;
        }
        let wanted = Selection::of(&self.shard_names(), &self.shards.held());
        self.selection.send_if_modified(|current| {
            let changed = **current != wanted;
            if changed {
                *current = Arc::new(wanted);
            }
            changed
        });
    }

    /// The labels of a namespace, as watched (empty until it is seen).
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .map(|ns| ns.metadata.labels.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The operator's own rules for namespaces no binding selects.
    pub fn defaults(&self) -> Defaults {
        Defaults {
            require_binding: self.settings.require_account_binding,
            unbound_adoption: self.settings.unbound_adoption,
            region: self.accounts.default_region(),
        }
    }

    /// Where `object` acts at AWS (and its shard), or why it may not, decided from the
    /// watches and its own status alone.
    pub fn placed<K: Kind>(&self, object: &K) -> Placed {
        let namespace = object.namespace().unwrap_or_default();
        let bindings = self.bindings.state();
        let all: Vec<&AccountBinding> = bindings.iter().map(AsRef::as_ref).collect();
        let labels = self.namespace_labels(&namespace);
        let unrecorded = self.unrecorded_create(object);
        placement_of(
            object,
            object.status(),
            unrecorded.as_ref(),
            &all,
            &labels,
            &self.defaults(),
        )
    }

    /// Where a create `object` made was placed, while its status records no resource (the
    /// ledger is asked only then: most objects' status records theirs).
    pub(super) fn unrecorded_create<K: Kind>(&self, object: &K) -> Option<PlacementStatus> {
        if object.status().and_then(KindStatus::arn).is_some() {
            return None;
        }
        self.ledger.created(&ObjectKey::of(object))
    }

    /// The shard `object` belongs to.
    pub fn shard_of<K: Kind>(&self, object: &K) -> String {
        self.placed(object).shard
    }

    /// The identity `object` acts with, and its placement: tenancy first (no AWS call when
    /// refused), then the verified identity, whose account must be the one the resource
    /// already lives in — or, before anything is recorded, the one a create may already
    /// have reached (the account annotation).
    pub async fn identity_for<K: Kind>(
        self: &Arc<Self>,
        object: &K,
    ) -> Result<(Placement, Arc<Identity>)> {
        let placement = self.placed(object).result?;
        let identity = self.accounts.identity(&placement.identity).await?;
        self.ensure_scan::<K>(&identity);
        if object.management_policy() == ManagementPolicy::Full
            && let Some((account, region, source)) = home(object)
        {
            let key = &identity.account.key;
            if account != key.account_id || region != key.region {
                return Err(Error::AccountChanged(format!(
                    "{source} lives in account {account}, region {region}, but this object now acts in account {}, region {} ({}); nothing is moved or created again: restore the AccountBinding, or delete the object after removing its finalizer to leave the {} behind",
                    key.account_id,
                    key.region,
                    placement.identity.describe(),
                    K::NOUN,
                )));
            }
        }
        Ok((placement, identity))
    }

    /// The scan of `account` for kind `noun` ended: the next identity to act there starts
    /// one again.
    pub(super) fn scan_ended(&self, account: &AccountKey, noun: &'static str) {
        lock(&self.scans).remove(&(account.clone(), noun));
    }

    /// Starts the drift scan of `identity`'s account for kind `K` unless one runs.
    fn ensure_scan<K: Kind>(self: &Arc<Self>, identity: &Arc<Identity>) {
        let Some(interval) = self.settings.drift_scan_interval else {
            return;
        };
        identity.account.scanners.used(&identity.key);
        if !lock(&self.scans).insert((identity.account.key.clone(), K::NOUN)) {
            return;
        }
        tokio::spawn(scan::scan_forever::<K>(
            self.clone(),
            identity.account.clone(),
            interval,
            self.settings.poll_interval,
        ));
    }

    /// The shards that exist now: the operator's own account in its region, and the
    /// account and region of every AccountBinding of this operator's (a binding that
    /// selects none of its namespaces any more may still have objects placed with it: it
    /// keeps the operator's finalizer until they are gone).
    pub fn shard_names(&self) -> BTreeSet<String> {
        let region = self.accounts.default_region();
        let mut shards: BTreeSet<String> = self
            .bindings
            .state()
            .iter()
            .filter(|binding| self.is_own_binding(binding))
            .map(|binding| IdentityKey::of_binding(binding, &region).shard())
            .collect();
        shards.insert(IdentityKey::own(&region).shard());
        shards
    }

    /// The finalizer this operator keeps on the AccountBindings it serves. An operator
    /// watching every namespace uses the one finalizer; one watching some namespaces uses
    /// one of its own, named after them, so that several such operators on one cluster
    /// each keep a binding until nothing of theirs is placed with it, and none lets go of
    /// it for another.
    pub fn binding_finalizer(&self) -> String {
        let mut watched = self.settings.namespaces.clone();
        if watched.is_empty() {
            return BINDING_FINALIZER.to_string();
        }
        watched.sort();
        // FNV-1a: stable across processes and releases.
        let hash = watched
            .join(",")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        format!("kvs-operator.dev/binding-{:08x}", hash as u32)
    }

    /// Whether `binding` is this operator's to run: every binding when it watches every
    /// namespace; otherwise one that selects a namespace it watches, or carries its
    /// finalizer.
    pub fn is_own_binding(&self, binding: &AccountBinding) -> bool {
        if self.settings.namespaces.is_empty() {
            return true;
        }
        binding.finalizers().contains(&self.binding_finalizer())
            || self
                .settings
                .namespaces
                .iter()
                .any(|ns| binding.selects(ns, &self.namespace_labels(ns)))
    }

    /// Whether this replica acts for `object` now.
    pub fn holds<K: Kind>(&self, object: &K) -> bool {
        self.shards.holds(&self.shard_of(object))
    }

    /// Reconciles everything of a shard this replica just took: its objects of every
    /// kind, and the AccountBindings (the shard's binding writes its status from now on).
    pub async fn reconcile_shard(&self, shard: &str) {
        let wake = lock(&self.bindings_wake).clone();
        if let Some(mut wake) = wake {
            let _ = wake.try_send(());
        }
        self.trigger_sharded(&self.videostreams, shard).await;
        self.trigger_sharded(&self.channels, shard).await;
    }

    /// Reconciles every object of `registry` in `shard`.
    async fn trigger_sharded<K: Kind>(&self, registry: &Registry<K>, shard: &str) {
        for object in registry.known() {
            if self.shard_of(object.as_ref()) == shard {
                registry.trigger(ObjectRef::from(object.as_ref())).await;
            }
        }
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
    /// which of them (`namespace/name`) own an AWS resource placed with the binding
    /// `binding` — wherever their namespace is now.
    pub fn holdings(&self, binding: &str, selected: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
        let streams = self.videostreams.known();
        let channels = self.channels.known();
        self.holdings_among(&streams, &channels, binding, &selected)
    }

    /// How many objects of every kind the namespaces `selected` says yes to hold: a count
    /// over the caches that allocates nothing per object.
    pub fn served(&self, selected: impl Fn(&str) -> bool) -> usize {
        served_in(&self.videostreams.known(), &selected)
            + served_in(&self.channels.known(), &selected)
    }

    /// [`Context::holdings`] read fresh from the API server rather than from the watches,
    /// which hold only the objects of this replica's shards: an object whose shard label
    /// is being moved is in no replica's cache for a moment, and a binding must not let go
    /// of it then.
    pub async fn holdings_fresh(
        &self,
        binding: &str,
        selected: impl Fn(&str) -> bool,
    ) -> Result<(usize, Vec<String>)> {
        let streams = self.list_all::<VideoStream>().await?;
        let channels = self.list_all::<SignalingChannel>().await?;
        Ok(self.holdings_among(&streams, &channels, binding, &selected))
    }

    /// Every object of kind `K` in the namespaces this operator serves, from the API server.
    async fn list_all<K: Kind>(&self) -> Result<Vec<Arc<K>>> {
        let scopes: Vec<kube::Api<K>> = if self.settings.namespaces.is_empty() {
            vec![kube::Api::all(self.client.clone())]
        } else {
            self.settings
                .namespaces
                .iter()
                .map(|ns| kube::Api::namespaced(self.client.clone(), ns))
                .collect()
        };
        let mut objects = Vec::new();
        for api in scopes {
            let list = api.list(&kube::api::ListParams::default()).await?;
            objects.extend(list.items.into_iter().map(Arc::new));
        }
        Ok(objects)
    }

    fn holdings_among(
        &self,
        streams: &[Arc<VideoStream>],
        channels: &[Arc<SignalingChannel>],
        binding: &str,
        selected: &impl Fn(&str) -> bool,
    ) -> (usize, Vec<String>) {
        let (served, mut holding) = self.holdings_of(streams, binding, selected);
        let (channels, held) = self.holdings_of(channels, binding, selected);
        holding.extend(held);
        (served + channels, holding)
    }

    fn holdings_of<K: Kind>(
        &self,
        objects: &[Arc<K>],
        binding: &str,
        selected: &impl Fn(&str) -> bool,
    ) -> (usize, Vec<String>) {
        let served = served_in(objects, selected);
        let holding = objects
            .iter()
            .filter_map(|o| {
                // What its status records, or a create not recorded there yet.
                let unrecorded = self.unrecorded_create(o.as_ref());
                let owns = o.status().and_then(KindStatus::arn).is_some() || unrecorded.is_some();
                owns.then_some((o, unrecorded))
            })
            .filter(|(o, unrecorded)| match self.placed(o.as_ref()).result {
                Ok(placement) => placement.binding.as_deref() == Some(binding),
                // Refused now (a conflict): held by the binding it was placed with, or by
                // this one if its namespace is among those this binding selects.
                Err(_) => o
                    .status()
                    .and_then(KindStatus::placement)
                    .or(unrecorded.as_ref())
                    .map_or_else(
                        || selected(&o.namespace().unwrap_or_default()),
                        |p| p.account_binding.as_deref() == Some(binding),
                    ),
            })
            .map(|(o, _)| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
            .collect();
        (served, holding)
    }

    /// Reports how much the in-memory state holds (`held_entries`), so that growth that
    /// outlives the objects shows.
    pub fn observe_held(&self) {
        self.metrics.set_held("ledger", self.ledger.len());
        let tags: usize = self
            .accounts
            .accounts()
            .iter()
            .map(|account| account.tags.len())
            .sum();
        self.metrics.set_held("tag_cache", tags);
        self.metrics
            .set_held("identities", self.accounts.identity_count());
        let resyncs = self.videostreams.resyncs.len() + self.channels.resyncs.len();
        self.metrics.set_held("resyncs", resyncs);
        self.metrics
            .set_held("cached_videostreams", self.videostreams.cached());
        self.metrics
            .set_held("cached_signalingchannels", self.channels.cached());
    }

    /// Drops the state of objects and identities no one uses any more: the ledger entries
    /// of objects no controller knows, and identities no reconcile asked for in three
    /// resync periods.
    pub fn prune(&self) {
        self.prune_ledger();
        self.accounts.forget_unused(self.settings.resync_period * 3);
    }

    /// Forgets what the engine remembers of objects that no controller knows any more.
    pub fn prune_ledger(&self) {
        let known: HashSet<ObjectKey> = self
            .videostreams
            .known()
            .iter()
            .map(|o| ObjectKey::of(o.as_ref()))
            .chain(
                self.channels
                    .known()
                    .iter()
                    .map(|o| ObjectKey::of(o.as_ref())),
            )
            .collect();
        self.ledger.retain(|key| known.contains(key));
    }

    /// Counts one more failure of `object` and returns the count.
    pub(super) fn record_failure(&self, key: &ObjectKey) -> u32 {
        self.ledger.record_failure(key)
    }

    pub(super) fn record_success(&self, key: &ObjectKey) {
        self.ledger.record_success(key);
    }

    /// The delay before looking again at an object waiting for KVS, doubling up to a
    /// minute. With drift scans, the account's scan (hurried meanwhile to the poll
    /// interval) wakes it when its resource is done, for one listing however many wait;
    /// this is only the fallback, so it starts at ten poll intervals. Without scans it
    /// starts at one.
    pub(super) fn wait_backoff(&self, key: &ObjectKey) -> Duration {
        let count = self.ledger.record_wait(key, 16);
        let first = match self.settings.drift_scan_interval {
            Some(_) => self.settings.poll_interval * 10,
            None => self.settings.poll_interval,
        };
        let doubled = first * 2u32.saturating_pow(count - 1);
        doubled.min(Duration::from_secs(60))
    }

    pub(super) fn done_waiting(&self, key: &ObjectKey) {
        self.ledger.done_waiting(key);
    }
}

/// Where an object's resource lives or may already have been created, and what says so:
/// its ARN once the status records one, before that the account annotation.
fn home<K: Kind>(object: &K) -> Option<(String, String, String)> {
    if let Some(arn) = object.status().and_then(KindStatus::arn) {
        let (account, region) = tenancy::arn_scope(arn)?;
        return Some((account.into(), region.into(), format!("{} {arn}", K::NOUN)));
    }
    let annotated = object.mark(Mark::Account)?;
    let (account, region) = annotated.split_once('/')?;
    let source = format!(
        "a {} this object may already have created (annotation {ACCOUNT_ANNOTATION}: {annotated})",
        K::NOUN
    );
    Some((account.into(), region.into(), source))
}

/// `base` ± 10%, so that periodic work of many objects does not synchronise.
pub fn jittered(base: Duration) -> Duration {
    base.mul_f64(rand::random_range(0.9..1.1))
}

/// How many of `objects` live in a namespace `selected` says yes to.
fn served_in<K: Kind>(objects: &[Arc<K>], selected: &impl Fn(&str) -> bool) -> usize {
    objects
        .iter()
        .filter(|o| selected(o.meta().namespace.as_deref().unwrap_or_default()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Marked, VideoStreamSpec};

    #[test]
    fn a_cached_object_lives_where_its_account_annotation_says_as_when_the_api_server_sent_it() {
        let mut object = VideoStream::new("cam", VideoStreamSpec::default());
        object.metadata.annotations = Some(
            [(
                ACCOUNT_ANNOTATION.to_string(),
                "111122223333/eu-west-1".to_string(),
            )]
            .into(),
        );
        let sent = home(&object).map(|(account, region, _)| (account, region));
        object.slim_marks();
        assert_eq!(object.metadata.annotations, None, "the map is dropped");
        assert_eq!(
            home(&object).map(|(account, region, _)| (account, region)),
            sent
        );
        assert_eq!(sent, Some(("111122223333".into(), "eu-west-1".into())));
    }
}
