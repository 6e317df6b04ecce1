//! The fleet under test: namespaces and AccountBindings, N VideoStreams applied at once,
//! and a watch that counts how many are Ready.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kvs_operator::api::{
    AccountBinding, AccountBindingSpec, StringMap, VideoStream, VideoStreamSpec,
};
use kvs_operator::engine::conditions::{READY, find};
use kvs_testenv::ControlPlane;

use crate::BoxError;
use crate::scenario::{REGION, Scenario};

/// Requests the benchmark keeps in flight while applying VideoStreams, like a GitOps tool
/// applying a large commit.
pub const APPLY_IN_FLIGHT: usize = 32;

/// The name of the `i`th VideoStream of a namespace (its stream name too).
pub fn camera(i: usize) -> String {
    format!("cam-{i:05}")
}

/// Creates the namespaces, and one AccountBinding per namespace when the scenario has
/// accounts (each to its own account's role, in the benchmark region).
pub async fn prepare(plane: &ControlPlane, scenario: &Scenario) -> Result<(), BoxError> {
    for namespace in scenario.namespaces() {
        plane.create_namespace(&namespace).await?;
    }
    if scenario.replicas > 1 {
        plane
            .create_namespace(crate::operators::ELECTION_NAMESPACE)
            .await?;
    }
    let client = plane.kube_client().await?;
    let bindings: Api<AccountBinding> = Api::all(client);
    for (namespace, (_, role)) in scenario.namespaces().iter().zip(scenario.tenants()) {
        let binding = AccountBinding::new(
            namespace,
            AccountBindingSpec {
                namespaces: Some(vec![namespace.clone()]),
                stream_name_prefixes: vec!["cam-".into()],
                role_arn: Some(role),
                region: Some(REGION.into()),
                ..AccountBindingSpec::default()
            },
        );
        bindings.create(&PostParams::default(), &binding).await?;
    }
    Ok(())
}

/// Waits until the operator has verified every AccountBinding (Ready=True).
pub async fn wait_bindings_ready(client: &kube::Client, within: Duration) -> Result<(), BoxError> {
    let bindings: Api<AccountBinding> = Api::all(client.clone());
    let deadline = Instant::now() + within;
    loop {
        let list = bindings.list(&Default::default()).await?;
        let pending: Vec<String> = list
            .items
            .iter()
            .filter(|b| {
                b.status
                    .as_ref()
                    .and_then(|s| find(&s.conditions, READY))
                    .is_none_or(|c| c.status != "True")
            })
            .map(|b| b.name_any())
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("AccountBindings not Ready after {within:?}: {pending:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The benchmark's VideoStream `name` (its stream name too), for device `device`.
pub fn video_stream(name: &str, device: &str) -> VideoStream {
    let spec = VideoStreamSpec {
        device_name: Some(device.into()),
        media_type: Some("video/h264".into()),
        data_retention_in_hours: Some(24),
        tags: Some(StringMap::from([("bench".into(), "true".into())])),
        ..VideoStreamSpec::default()
    };
    VideoStream::new(name, spec)
}

/// Creates every VideoStream of the scenario, namespaces interleaved so that every account
/// has work from the start. Returns how long the API server took to accept them all.
pub async fn apply(
    client: &kube::Client,
    scenario: &Scenario,
    applied: &AtomicUsize,
) -> Result<Duration, BoxError> {
    let namespaces = scenario.namespaces();
    let started = Instant::now();
    let largest = scenario.largest_account();
    let work: Vec<(String, usize)> = (0..largest)
        .flat_map(|i| {
            namespaces
                .iter()
                .enumerate()
                .filter(move |(n, _)| i < scenario.streams_in(*n))
                .map(move |(_, ns)| (ns.clone(), i))
        })
        .collect();
    futures::stream::iter(work)
        .map(|(namespace, i)| {
            let api: Api<VideoStream> = Api::namespaced(client.clone(), &namespace);
            let vs = video_stream(&camera(i), &format!("cam-{i}"));
            async move { api.create(&PostParams::default(), &vs).await }
        })
        .buffer_unordered(APPLY_IN_FLIGHT)
        .try_for_each(|_| async {
            applied.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .await?;
    Ok(started.elapsed())
}

/// Counts Ready VideoStreams from a watch of all namespaces (one watch, served from the
/// API server's cache, instead of listing the fleet again and again).
pub struct ReadyCount {
    ready: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadyCount {
    pub fn start(client: &kube::Client) -> ReadyCount {
        let ready = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let api: Api<VideoStream> = Api::all(client.clone());
        let (ready_out, seen_out) = (ready.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let mut states: HashMap<(String, String), bool> = HashMap::new();
            let mut ready_now = 0usize;
            let events = watcher(api, watcher::Config::default().any_semantic()).default_backoff();
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                let (object, deleted) = match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => (o, false),
                    Ok(watcher::Event::Delete(o)) => (o, true),
                    // A failed watch is retried by the next poll of the stream.
                    Ok(watcher::Event::Init | watcher::Event::InitDone) | Err(_) => continue,
                };
                let key = (object.namespace().unwrap_or_default(), object.name_any());
                let before = if deleted {
                    states.remove(&key)
                } else {
                    states.insert(key, is_ready(&object))
                };
                let now = !deleted && is_ready(&object);
                ready_now = ready_now + usize::from(now) - usize::from(before == Some(true));
                seen_out.store(states.len(), Ordering::Relaxed);
                ready_out.store(ready_now, Ordering::Relaxed);
            }
        });
        ReadyCount { ready, seen, task }
    }

    pub fn ready(&self) -> usize {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::Relaxed)
    }
}

impl Drop for ReadyCount {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_ready(vs: &VideoStream) -> bool {
    vs.status
        .as_ref()
        .and_then(|s| find(&s.conditions, READY))
        .is_some_and(|c| c.status == "True")
}
