//! The e2e harness: a real API server (shared by the tests of this binary), an emulator
//! and a `kvs-operator` process per test, and the waits and lookups the tests share.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use kvs_emulator::{CallRecord, Emulator, Operation, Running};
use kvs_operator::api::{AccountBinding, VideoStream};
use kvs_operator::engine::conditions::{READY, SYNCED, find};
use kvs_operator::engine::kind::{Kind, KindStatus};
use kvs_testenv::{ControlPlane, Output};
use tokio::process::Child;
use tokio::sync::OnceCell;

pub use crate::common::sdk_client;
use crate::common::{emulator_config, free_local_addr, http_get, terminate};

/// How long any one wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(60);

/// The shared control plane, with the CRDs of `crds/` installed once.
pub async fn plane() -> &'static ControlPlane {
    static CRDS: OnceCell<()> = OnceCell::const_new();
    crate::prerequisites::require_all();
    let plane = kvs_testenv::shared().await.expect("control plane starts");
    CRDS.get_or_init(|| async {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        plane.apply_dir(&crds).await.expect("CRDs install");
    })
    .await;
    plane
}

/// The chart's deletion-protection policy, rendered by `helm template` exactly as the chart
/// installs it (release `kvs`), applied once per control plane. Cluster-wide, like the
/// chart's: it refuses only deletes of annotated objects, which no other test makes.
pub async fn install_deletion_protection(plane: &ControlPlane) {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/kvs-operator");
            let chart = chart.display().to_string();
            let show = "templates/deletion-protection.yaml";
            let rendered = plane
                .helm([
                    "template",
                    "kvs",
                    &chart,
                    "-n",
                    "kvs-system",
                    "--show-only",
                    show,
                ])
                .await
                .expect("helm runs");
            assert!(rendered.success(), "helm template: {}", rendered.stderr);
            let applied = plane
                .kubectl_with_stdin(["apply", "-f", "-"], rendered.stdout)
                .await
                .expect("kubectl runs");
            assert!(applied.success(), "{}{}", applied.stdout, applied.stderr);
        })
        .await;
}

/// A VideoStream manifest: `spec` is the indented body of its spec.
pub fn stream_manifest(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

/// A SignalingChannel manifest: `spec` is the indented body of its spec.
pub fn channel_manifest(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: SignalingChannel\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

/// One test's world: its namespace(s), its emulator and its operator.
pub struct Harness {
    pub plane: &'static ControlPlane,
    pub namespace: String,
    pub emulator: Running,
    pub client: kube::Client,
    operator: Option<Operator>,
}

impl Harness {
    /// A namespace, an emulator and an operator that watches that namespace.
    pub async fn start(prefix: &str) -> Harness {
        let harness = Harness::without_operator(prefix).await;
        let namespaces = [harness.namespace.clone()];
        harness.with_operator(&namespaces)
    }

    /// A namespace, an emulator and an operator that watches that namespace and lets it
    /// adopt (`--unbound-adoption=Allowed`): for tests of ownership itself, where no
    /// AccountBinding is in play.
    pub async fn start_adopting(prefix: &str) -> Harness {
        let mut harness = Harness::without_operator(prefix).await;
        let options = OperatorOptions {
            namespaces: vec![harness.namespace.clone()],
            args: vec!["--unbound-adoption=Allowed".into()],
            ..OperatorOptions::default()
        };
        harness.operator = Some(harness.spawn_operator(&options));
        harness
    }

    /// A namespace and an emulator, no operator yet.
    pub async fn without_operator(prefix: &str) -> Harness {
        let plane = plane().await;
        let namespace = plane.unique_namespace(prefix).await.expect("namespace");
        let config = emulator_config(Duration::from_millis(300));
        let emulator = Emulator::start(config).await.expect("emulator starts");
        let client = plane.kube_client().await.expect("kube client");
        Harness {
            plane,
            namespace,
            emulator,
            client,
            operator: None,
        }
    }

    /// Starts the operator binary watching `namespaces`.
    pub fn with_operator(mut self, namespaces: &[String]) -> Harness {
        let options = OperatorOptions {
            namespaces: namespaces.to_vec(),
            ..OperatorOptions::default()
        };
        self.operator = Some(self.spawn_operator(&options));
        self
    }

    /// Starts one more operator process, owned by the caller.
    pub fn spawn_operator(&self, options: &OperatorOptions) -> Operator {
        Operator::start(self.plane, &self.emulator, options)
    }

    /// Stops the operator started by [`Harness::start`] (SIGKILL).
    pub fn stop_operator(&mut self) {
        self.operator = None;
    }

    /// The operator started by [`Harness::start`].
    pub fn operator(&self) -> &Operator {
        self.operator.as_ref().expect("started with an operator")
    }

    pub fn api(&self) -> Api<VideoStream> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn api_in(&self, namespace: &str) -> Api<VideoStream> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// `kubectl apply -f -` of `yaml` into the test namespace, as a user does.
    pub async fn apply(&self, yaml: &str) -> Output {
        self.apply_in(&self.namespace, yaml).await
    }

    pub async fn apply_in(&self, namespace: &str, yaml: &str) -> Output {
        self.plane
            .kubectl_with_stdin(["apply", "-n", namespace, "-f", "-"], yaml)
            .await
            .expect("kubectl runs")
    }

    /// Applies `yaml` and fails the test with kubectl's message if it is refused.
    pub async fn apply_ok(&self, yaml: &str) {
        let out = self.apply(yaml).await;
        assert!(
            out.success(),
            "kubectl apply failed: {}{}",
            out.stdout,
            out.stderr
        );
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.plane.kubectl(args).await.expect("kubectl runs")
    }

    /// `kubectl delete <kind> <name> --wait=false` in the test namespace; fails the test
    /// with kubectl's message if it is refused.
    pub async fn delete_ok(&self, kind: &str, name: &str) {
        let out = self
            .kubectl(&["delete", kind, name, "-n", &self.namespace, "--wait=false"])
            .await;
        assert!(
            out.success(),
            "kubectl delete {kind} {name} failed: {}{}",
            out.stdout,
            out.stderr
        );
    }

    /// Waits until the API server refuses to delete `kind/name` (a server-side dry run, so
    /// nothing is deleted if it does not): the deletion-protection policy has reached the
    /// API server's admission for it. Returns the refusal.
    pub async fn wait_delete_refused(&self, kind: &str, name: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self
                .kubectl(&[
                    "delete",
                    kind,
                    name,
                    "-n",
                    &self.namespace,
                    "--dry-run=server",
                ])
                .await;
            if !out.success() {
                return out.stderr;
            }
            assert!(
                Instant::now() < deadline,
                "{kind}/{name} can still be deleted: {}",
                out.stdout
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The cluster id operators started with their default use: kube-system's UID.
    pub async fn cluster_id(&self) -> String {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        namespaces
            .get("kube-system")
            .await
            .expect("kube-system")
            .metadata
            .uid
            .expect("uid")
    }

    /// `kubectl apply -f -` of cluster-scoped objects (AccountBindings), as an admin does;
    /// fails the test with kubectl's message if refused.
    pub async fn apply_cluster_ok(&self, yaml: &str) {
        let out = self.apply_cluster(yaml).await;
        assert!(
            out.success(),
            "kubectl apply failed: {}{}",
            out.stdout,
            out.stderr
        );
    }

    pub async fn apply_cluster(&self, yaml: &str) -> Output {
        self.plane
            .kubectl_with_stdin(["apply", "-f", "-"], yaml)
            .await
            .expect("kubectl runs")
    }

    /// Polls AccountBinding `name` until `check` holds.
    pub async fn wait_binding(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&AccountBinding) -> bool,
    ) -> AccountBinding {
        let api: Api<AccountBinding> = Api::all(self.client.clone());
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Some(binding)) = api.get_opt(name).await {
                if check(&binding) {
                    return binding;
                }
                last = Some(binding);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("AccountBinding {name} never became {what}; last seen: {last:#?}");
    }

    /// Deletes AccountBinding `name` without waiting, checks that it is kept (Ready reason
    /// `Deleting`) for `object` (`namespace/name`), which its message must name.
    pub async fn delete_binding_kept_for(&self, name: &str, object: &str) {
        let deleted = self
            .kubectl(&["delete", "accountbinding", name, "--wait=false"])
            .await;
        assert!(deleted.success(), "{}", deleted.stderr);
        let kept = self
            .wait_binding(name, &format!("kept for {object}"), |b| {
                b.status.as_ref().is_some_and(|s| {
                    find(&s.conditions, READY).is_some_and(|c| c.reason == "Deleting")
                })
            })
            .await;
        let message = find(&kept.status.unwrap().conditions, READY)
            .unwrap()
            .message
            .clone();
        assert!(message.contains(object), "{message}");
    }

    /// Waits up to `within` until AccountBinding `name` no longer exists.
    pub async fn wait_binding_gone(&self, name: &str, within: Duration) {
        let bindings: Api<AccountBinding> = Api::all(self.client.clone());
        let deadline = Instant::now() + within;
        while let Some(binding) = bindings.get_opt(name).await.expect("get") {
            assert!(
                Instant::now() < deadline,
                "AccountBinding {name} never went away: {:#?}",
                binding.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `name`'s Synced condition has `reason`, and returns the VideoStream.
    pub async fn wait_synced_reason(&self, name: &str, reason: &str) -> VideoStream {
        self.wait_reason::<VideoStream>(name, SYNCED, reason).await
    }

    /// Waits until `name` is Ready=True for its current generation.
    pub async fn wait_ready(&self, name: &str) -> VideoStream {
        self.wait_ready_kind::<VideoStream>(name).await
    }

    /// Polls `name` until `check` holds.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&VideoStream) -> bool,
    ) -> VideoStream {
        self.wait_for_in(&self.namespace, name, what, check).await
    }

    pub async fn wait_for_in(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&VideoStream) -> bool,
    ) -> VideoStream {
        self.wait_kind_in(namespace, name, what, check).await
    }

    /// Waits until the VideoStream no longer exists (its finalizer was removed).
    pub async fn wait_gone(&self, name: &str) {
        self.wait_gone_kind::<VideoStream>(name).await
    }

    /// Polls the object `name` of kind `K` in the test namespace until `check` holds.
    pub async fn wait_kind<K: Kind>(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&K) -> bool,
    ) -> K {
        self.wait_kind_in(&self.namespace, name, what, check).await
    }

    pub async fn wait_kind_in<K: Kind>(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&K) -> bool,
    ) -> K {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Some(object)) = api.get_opt(name).await {
                if check(&object) {
                    return object;
                }
                last = Some(object);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{} {namespace}/{name} never became {what}; last seen: {last:#?}",
            K::kind(&())
        );
    }

    /// Waits until the object `name` of kind `K` is Ready=True for its current generation.
    pub async fn wait_ready_kind<K: Kind>(&self, name: &str) -> K {
        self.wait_kind(name, "Ready for the current generation", |object: &K| {
            let Some(status) = object.status() else {
                return false;
            };
            let generation = object.meta().generation;
            status.observed_generation() == generation
                && find(status.conditions(), READY)
                    .is_some_and(|c| c.status == "True" && c.observed_generation == generation)
        })
        .await
    }

    /// Waits until the condition `type_` of the object `name` of kind `K` has `reason`.
    pub async fn wait_reason<K: Kind>(&self, name: &str, type_: &str, reason: &str) -> K {
        self.wait_kind(name, &format!("{type_}={reason}"), |object: &K| {
            object
                .status()
                .is_some_and(|s| find(s.conditions(), type_).is_some_and(|c| c.reason == reason))
        })
        .await
    }

    /// Waits until the object `name` of kind `K` no longer exists.
    pub async fn wait_gone_kind<K: Kind>(&self, name: &str) {
        let api: Api<K> = Api::namespaced(self.client.clone(), &self.namespace);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if api.get_opt(name).await.expect("get").is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{} {}/{name} was never deleted",
            K::kind(&()),
            self.namespace
        );
    }

    /// Waits until the emulator's signaling channel `name` satisfies `check`.
    pub async fn wait_channel(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(Option<&kvs_emulator::ChannelSnapshot>) -> bool,
    ) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if check(self.emulator.channel(name).as_ref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "channel {name} never became {what}: {:#?}",
            self.emulator.channel(name)
        );
    }

    /// Waits until the emulator's stream `name` satisfies `check`.
    pub async fn wait_stream(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(Option<&kvs_emulator::StreamSnapshot>) -> bool,
    ) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if check(self.emulator.stream(name).as_ref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "stream {name} never became {what}: {:#?}",
            self.emulator.stream(name)
        );
    }

    /// Waits until the operator's drift scans have listed the account's streams and its
    /// channels `passes` times each since `mark`: by then whatever a scan would have made
    /// the operator do has been done.
    pub async fn wait_scans(&self, mark: u64, passes: usize) {
        let listed = |op: Operation| {
            self.emulator
                .call_log_since(mark)
                .iter()
                .filter(|r| r.operation == op)
                .count()
        };
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if listed(Operation::ListStreams) >= passes
                && listed(Operation::ListSignalingChannels) >= passes
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the drift scans did not run {passes} times");
    }

    /// Waits until the operator's drift scan has listed the account's streams `passes`
    /// times since `mark` (for tests with no signaling channel, which has no scan).
    pub async fn wait_stream_scans(&self, mark: u64, passes: usize) {
        let deadline = Instant::now() + WAIT;
        while self
            .emulator
            .call_log_since(mark)
            .iter()
            .filter(|r| r.operation == Operation::ListStreams)
            .count()
            < passes
        {
            assert!(
                Instant::now() < deadline,
                "the stream scan did not run {passes} times"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every call the emulator logged after `mark` that changes something at AWS.
    pub fn mutations_since(&self, mark: u64) -> Vec<CallRecord> {
        self.emulator
            .call_log_since(mark)
            .into_iter()
            .filter(|r| r.operation.is_mutation())
            .collect()
    }

    /// The sequence number of the emulator's latest call: the calls made after it are
    /// `emulator.call_log_since(mark)`.
    pub fn log_mark(&self) -> u64 {
        self.emulator.call_log().last().map_or(0, |r| r.seq)
    }

    /// Waits for an Event with `reason` on VideoStream `name` and returns its note.
    pub async fn wait_event(&self, name: &str, reason: &str) -> (String, String) {
        self.wait_event_of::<VideoStream>(name, reason).await
    }

    /// Waits for an Event with `reason` on the object `name` of kind `K`: (type, note).
    pub async fn wait_event_of<K: Kind>(&self, name: &str, reason: &str) -> (String, String) {
        let selector = format!("regarding.name={name},regarding.kind={}", K::kind(&()));
        match wait_for_event(&self.client, &self.namespace, &selector, reason, WAIT).await {
            Ok(event) => (
                event.type_.unwrap_or_default(),
                event.note.unwrap_or_default(),
            ),
            Err(seen) => {
                let seen: Vec<_> = seen
                    .into_iter()
                    .map(|e| (e.type_, e.reason, e.note))
                    .collect();
                panic!("no {reason} event on {name}; events (type, reason, note): {seen:#?}")
            }
        }
    }
}

/// Lists the Events in `namespace` that `selector` picks (a field selector over
/// `regarding`) until one has `reason`, for up to `within`; `Err` with the Events of the
/// last listing when none came. The operator publishes an Event after the status write
/// it accompanies, so an object read as Ready may not have its Event yet.
pub async fn wait_for_event(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    reason: &str,
    within: Duration,
) -> Result<Event, Vec<Event>> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen = events
            .list(&ListParams::default().fields(selector))
            .await
            .expect("list events")
            .items;
        if let Some(event) = seen.iter().find(|e| e.reason.as_deref() == Some(reason)) {
            return Ok(event.clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(seen)
}

/// The sum of the samples of metric `name` in OpenMetrics `text` whose labels include every
/// `name="value"` pair of `labels` (other labels may be there too).
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// How to start one operator process.
#[derive(Debug, Clone, Default)]
pub struct OperatorOptions {
    /// Namespaces to watch (all when empty).
    pub namespaces: Vec<String>,
    /// Extra `run` flags, e.g. `--leader-elect`; `--poll-interval`, `--drift-scan-interval`
    /// or `--resync-period` given here replaces the harness's own.
    pub args: Vec<String>,
    /// POD_NAME: the identity in Events and the Lease.
    pub identity: Option<String>,
    /// A kubeconfig other than the admin one (e.g. impersonating a ServiceAccount).
    pub kubeconfig: Option<PathBuf>,
    /// Further environment (e.g. other AWS credentials), after the defaults.
    pub env: Vec<(String, String)>,
}

impl OperatorOptions {
    /// Watching `namespace`, reading what listings do not show (tags, configurations) every
    /// `audit` (e.g. "2s"), with resyncs too rare to matter: drift is then corrected by the
    /// audit alone.
    pub fn auditing(namespace: &str, audit: &str) -> OperatorOptions {
        OperatorOptions {
            namespaces: vec![namespace.to_string()],
            args: vec![
                format!("--tag-audit-period={audit}"),
                "--resync-period=1h".into(),
            ],
            ..OperatorOptions::default()
        }
    }
}

/// A running `kvs-operator run` process, killed when dropped. Its log is printed when the
/// test fails, so a failure explains itself.
pub struct Operator {
    child: Child,
    log: PathBuf,
    metrics_addr: SocketAddr,
    identity: String,
}

impl Operator {
    pub fn start(plane: &ControlPlane, emulator: &Running, options: &OperatorOptions) -> Operator {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let log = plane
            .dir()
            .join(format!("operator-{}-{n}.log", std::process::id()));
        let file = File::create(&log).expect("operator log");
        let err = file.try_clone().expect("operator log");
        let metrics_addr = free_local_addr();
        // The harness's pace, unless the test sets a flag itself (clap takes each once).
        let flag = |arg: &str| arg.split('=').next().unwrap_or_default().to_string();
        let given: Vec<String> = options.args.iter().map(|arg| flag(arg)).collect();
        let pace = [
            "--poll-interval=300ms",
            "--drift-scan-interval=1s",
            "--resync-period=30s",
        ]
        .into_iter()
        .filter(|default| !given.contains(&flag(default)));
        let mut command = plane.command(env!("CARGO_BIN_EXE_kvs-operator"));
        command
            .args(["run", "--namespaces", &options.namespaces.join(",")])
            .args(pace)
            .arg(format!("--metrics-bind-address={metrics_addr}"))
            .args(&options.args)
            .env("AWS_ENDPOINT_URL", emulator.url())
            .env("AWS_REGION", emulator.region())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "RUST_LOG",
                std::env::var("KVS_E2E_OPERATOR_LOG")
                    .unwrap_or_else(|_| "info,kvs_operator=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        if let Some(identity) = &options.identity {
            command.env("POD_NAME", identity);
        }
        if let Some(kubeconfig) = &options.kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        let child = command.spawn().expect("kvs-operator starts");
        Operator {
            child,
            log,
            metrics_addr,
            identity: options.identity.clone().unwrap_or_default(),
        }
    }

    /// GET `path` on the operator's metrics/health endpoint: (status code, body).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.metrics_addr, path).await
    }

    /// The sum of the samples of metric `name` with `labels` (see [`metric_sum`]).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let (code, text) = self.get("/metrics").await.expect("metrics served");
        assert_eq!(code, 200, "{text}");
        metric_sum(&text, name, labels)
    }

    /// Polls metric `name` with `labels` until `until` holds for it, for at most `within`;
    /// past that, fails with `what` and the last value.
    pub async fn wait_metric(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        within: Duration,
        until: impl Fn(f64) -> bool,
        what: &str,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let value = self.metric(name, labels).await;
            if until(value) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {what} ({name} {labels:?} = {value} after {within:?})",
                self.identity()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if matches!(self.get("/readyz").await, Some((200, _))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the operator never became ready:\n{}", self.log());
    }

    /// The identity it was started with (POD_NAME), empty when none was given.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Waits for the process to exit by itself; its exit code.
    pub async fn wait(&mut self) -> Option<i32> {
        self.child.wait().await.ok()?.code()
    }

    /// SIGKILL: a crash, with no chance to clean up.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, as Kubernetes stops a pod; returns the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        terminate(&mut self.child, WAIT).await
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() || std::env::var_os("KVS_E2E_SHOW_LOGS").is_some() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- operator log {} (last lines) ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
