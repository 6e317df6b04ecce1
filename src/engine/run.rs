//! Starting the controllers: the namespace and AccountBinding watches that tenancy is
//! decided from, then one controller per kind and watched namespace.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::channel::mpsc::Sender;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, Lookup};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::context::{Context, lock};
use super::kind::Kind;
use super::reconcile::{error_policy, reconcile};
use super::resync::resync_forever;
use super::scope_index::ScopeIndex;
use super::shard_watch;
use super::wake_filter::{WakeFilter, key_of};
use crate::api::{AccountBinding, Marked, SignalingChannel, VideoStream};
use crate::tenancy::bindings;
use crate::{Error, Result};

/// Runs the controllers (every kind in the namespaces of the settings, all when empty; the
/// AccountBindings that select them) until `shutdown`, then lets the reconciles in flight
/// finish.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
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
    // Tenancy is decided from these caches: an object reconciled before they are filled
    // would look unbound and act with the operator's own identity.
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
    tokio::spawn(prune_forever(ctx.clone(), shutdown.clone()));
    // The first watches already select by the shards held (none yet, with election).
    ctx.refresh_selection();
    tokio::spawn(select_forever(ctx.clone(), shutdown.clone()));
    futures::future::join(
        run_kind::<VideoStream>(&ctx, &shutdown),
        run_kind::<SignalingChannel>(&ctx, &shutdown),
    )
    .await;
    // The binding controller stops on the same shutdown.
    let _ = bindings.await;
}

/// Drops the state of objects and identities that went away, once per resync period.
async fn prune_forever(ctx: Arc<Context>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(ctx.settings.resync_period) => ctx.prune(),
            () = shutdown.cancelled() => return,
        }
    }
}

/// Keeps the watches' selection on the shards held (they change as replicas come and go,
/// and as AccountBindings do).
async fn select_forever(ctx: Arc<Context>, shutdown: CancellationToken) {
    if !ctx.shards.is_elected() {
        return;
    }
    loop {
        ctx.refresh_selection();
        tokio::select! {
            () = tokio::time::sleep(SELECTION_CHECK) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// How often the shards held are compared with what the watches select.
const SELECTION_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// One controller per watched namespace (one for all when none is given) for kind `K`.
async fn run_kind<K>(ctx: &Arc<Context>, shutdown: &CancellationToken)
where
    K: Kind + Lookup<DynamicType = ()>,
{
    let namespaces = ctx.settings.namespaces.clone();
    let watched: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.into_iter().map(Some).collect()
    };
    // One schedule of in-sync looks for the kind, whichever controller watches the object.
    tokio::spawn(resync_forever::<K>(ctx.clone(), shutdown.clone()));
    let controllers = watched
        .into_iter()
        .map(|namespace| run_one::<K>(namespace, ctx.clone(), shutdown.clone()));
    futures::future::join_all(controllers).await;
}

/// The API of `K` in `namespace` (all namespaces for `None`).
fn api<K: Kind>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn run_one<K>(namespace: Option<String>, ctx: Arc<Context>, shutdown: CancellationToken)
where
    K: Kind + Lookup<DynamicType = ()>,
{
    let (reader, writer) = reflector::store::<K>();
    // Status writes must not trigger reconciles, so only spec changes (generation),
    // deletion and pausing wake an object up; everything else comes from requeues and the
    // drift scan. Only the objects of the shards this replica holds are watched.
    let cached = ctx.clone();
    let index = Arc::new(Mutex::new(ScopeIndex::default()));
    let (indexed, watched) = (index.clone(), reader.clone());
    let objects = shard_watch::watch(
        api::<K>(&ctx.client, namespace.as_deref()),
        ctx.selection.subscribe(),
    )
    .modify(slim)
    .reflect(writer)
    .inspect_ok(move |event| match event {
        watcher::Event::Apply(object) => {
            object.wake_dependents(&cached);
            if let Some(latest) = watched.get(&reflector::ObjectRef::from(object)) {
                lock(&indexed).put(latest);
            }
        }
        watcher::Event::Delete(object) => {
            lock(&indexed).remove(object);
            K::registry(&cached).resyncs.cancel(key_of(object));
        }
        watcher::Event::InitDone => lock(&indexed).rebuild(watched.state()),
        _ => {}
    })
    .try_filter_map({
        let mut wakes = WakeFilter::default();
        let woken = ctx.clone();
        move |event| {
            let now = wakes.pass(event);
            wake_listed::<K>(&woken, wakes.take_listed());
            futures::future::ready(Ok(now))
        }
    });

    // Drift scans, binding changes and shard moves wake objects up through this channel.
    let (trigger_tx, trigger_rx) = futures::channel::mpsc::channel(1024);
    K::registry(&ctx).add(reader.clone(), index, namespace, trigger_tx);

    let config = kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency);
    Controller::for_stream(objects, reader)
        .with_config(config)
        .reconcile_on(trigger_rx)
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|result| async move {
            // Failures were already logged by the error policy.
            if let Err(error) = result {
                debug!(%error, "reconcile loop error");
            }
        })
        .await;
}

/// Reconciles the objects a listing after the first brought (a shard just taken, the
/// watch back after an outage), now that the cache holds them.
fn wake_listed<K: Kind>(ctx: &Arc<Context>, listed: Vec<reflector::ObjectRef<K>>) {
    if listed.is_empty() {
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        for object in listed {
            K::registry(&ctx).trigger(object).await;
        }
    });
}

/// Drops what the cache never reads but would hold for every object: managed fields,
/// kubectl's copy of the last applied manifest (each about as large as the object), and the
/// labels and annotations but for the few the engine reads, which it keeps apart
/// ([`Marked`]).
pub fn slim<K: Marked>(object: &mut K) {
    object.meta_mut().managed_fields = None;
    object.slim_marks();
}

/// Keeps the namespace cache for binding selectors. When a namespace appears or its labels
/// change, a selector may now pick it or no longer: the bindings are looked at again
/// (through `changed`), and so are the namespace's objects. `ready` turns true once the
/// cache holds every namespace.
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
        ctx.trigger_all_in(|ns| ns == name).await;
        let _ = changed.flush().await;
    }
}

/// Fails with an install hint when a CRD is missing (or not readable).
pub async fn check_crds_installed(client: &Client, namespaces: &[String]) -> Result<()> {
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    for namespace in scopes {
        check_listable(api::<VideoStream>(client, namespace), "VideoStream").await?;
        check_listable(
            api::<SignalingChannel>(client, namespace),
            "SignalingChannel",
        )
        .await?;
    }
    check_listable(Api::<AccountBinding>::all(client.clone()), "AccountBinding").await
}

async fn check_listable<K>(api: Api<K>, kind: &str) -> Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(Error::Config(format!(
            "the {kind} CRD is not installed; install the CRDs with: kvs-operator crd | kubectl apply -f -"
        ))),
        Err(e) => Err(e.into()),
    }
}
