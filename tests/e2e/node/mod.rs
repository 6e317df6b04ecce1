//! The chart as users run it: `helm install charts/kvs-operator` on a one-node cluster
//! (testenv's NodeCluster: controller-manager, scheduler, a kubelet on containerd), the
//! operator in pods from the image `hack/image.sh build` made, and the emulator on this
//! machine, where pods reach it.
//!
//! All node tests share one cluster and take turns: a drain, a rollout or a leader's
//! death touches every pod on the node. Each installs its own release cluster-wide, as
//! users do, and removes what it made before the next one's turn.

mod drain;
mod failover;
mod image;
mod install;
mod platform;
mod rbac;
mod upgrade;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use kvs_emulator::{Emulator, Running};
use kvs_operator::api::VideoStream;
use kvs_operator::engine::conditions::{READY, find};
use kvs_operator::engine::shards::lease_name;
use kvs_operator::tenancy::IdentityKey;
use kvs_testenv::{NodeCluster, Output};
use serde_json::json;
use tokio::sync::{Mutex, MutexGuard, OnceCell};

use crate::common::emulator_config;
use crate::support::wait_for_event;

/// How long any one wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(120);

/// The operator's image, as hack/image.sh writes it.
fn image_archive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/image/kvs-operator.oci.tar")
}

/// The image's name in containerd: what the chart's `kvs-operator:<appVersion>` means.
fn image_reference() -> String {
    format!(
        "docker.io/library/kvs-operator:{}",
        env!("CARGO_PKG_VERSION")
    )
}

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/kvs-operator")
}

/// The shared node cluster, with the operator's image imported once.
async fn cluster() -> &'static NodeCluster {
    static IMPORTED: OnceCell<()> = OnceCell::const_new();
    crate::prerequisites::require_all();
    let cluster = kvs_testenv::shared_node()
        .await
        .expect("node cluster starts");
    IMPORTED
        .get_or_init(|| async {
            let reference = image_reference();
            let base = reference.rsplit_once(':').expect("tag").0;
            cluster
                .import_image(&image_archive(), base, &reference)
                .await
                .expect("the operator image imports");
        })
        .await;
    cluster
}

/// One node test's turn: its emulator (reachable from pods) and the namespaces it made.
pub struct NodeTest {
    pub cluster: &'static NodeCluster,
    pub emulator: Running,
    pub client: kube::Client,
    namespaces: Vec<String>,
    bindings: Vec<String>,
    _turn: MutexGuard<'static, ()>,
}

impl NodeTest {
    /// Waits for the node, then for this test's turn on it.
    pub async fn start() -> NodeTest {
        static TURN: Mutex<()> = Mutex::const_new(());
        let cluster = cluster().await;
        let turn = TURN.lock().await;
        // A test that failed half-way through a drain leaves the node cordoned.
        let _ = cluster
            .plane()
            .kubectl(["uncordon", kvs_testenv::NODE_NAME])
            .await;
        let mut config = emulator_config(Duration::from_millis(300));
        config.listen = (cluster.host_address(), 0).into();
        let emulator = Emulator::start(config).await.expect("emulator starts");
        let client = cluster.plane().kube_client().await.expect("client");
        NodeTest {
            cluster,
            emulator,
            client,
            namespaces: Vec::new(),
            bindings: Vec::new(),
            _turn: turn,
        }
    }

    /// A fresh namespace, deleted at [`NodeTest::finish`].
    pub async fn namespace(&mut self, prefix: &str) -> String {
        let name = self
            .cluster
            .plane()
            .unique_namespace(prefix)
            .await
            .expect("namespace");
        self.namespaces.push(name.clone());
        name
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.cluster
            .plane()
            .kubectl(args)
            .await
            .expect("kubectl runs")
    }

    /// kubectl, failing the test with its message unless it succeeds.
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.success(),
            "kubectl {args:?}: {}{}",
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    pub async fn helm(&self, args: &[&str]) -> Output {
        self.cluster.plane().helm(args).await.expect("helm runs")
    }

    /// Values that point the chart at this test's emulator and the local image, with
    /// static AWS credentials from a Secret (what IRSA or Pod Identity would provide),
    /// fast polling; then `extra` (YAML), which helm merges on top.
    fn values_files(&self, namespace: &str, extra: &str) -> Vec<PathBuf> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = self.cluster.plane().dir().join(format!(
            "values-{namespace}-{}.yaml",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let secret = |key: &str| json!({"secretKeyRef": {"name": "aws-credentials", "key": key}});
        let values = json!({
            "image": {"pullPolicy": "Never"},
            "aws": {
                "region": self.emulator.region(),
                "endpointUrl": self.emulator.url(),
            },
            "extraEnv": [
                {"name": "AWS_ACCESS_KEY_ID", "valueFrom": secret("access-key-id")},
                {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": secret("secret-access-key")},
                {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"},
            ],
            "operator": {
                "pollInterval": "300ms",
                "driftScanInterval": "1s",
                "resyncPeriod": "30s",
                "logFormat": "text",
            },
            "leaderElection": {"leaseDuration": "4s"},
        });
        // JSON is YAML.
        std::fs::write(&path, values.to_string()).expect("values file");
        let extra_path = path.with_extension("extra.yaml");
        std::fs::write(&extra_path, extra).expect("values file");
        vec![path, extra_path]
    }

    /// `helm install` of the chart as `release` into `namespace`, waiting until the
    /// Deployment has rolled out. The CRDs outlive each test's release (Helm keeps them),
    /// so each takes them over as a user installing again under another name does.
    pub async fn install(&self, release: &str, namespace: &str, extra_values: &str) {
        self.create_aws_secret(namespace).await;
        let out = self
            .helm_chart(
                "install",
                release,
                namespace,
                &chart_dir(),
                extra_values,
                &["--take-ownership"],
            )
            .await;
        assert!(out.success(), "helm install: {}{}", out.stdout, out.stderr);
        self.wait_rollout(namespace, &deployment_name(release))
            .await;
    }

    /// `helm upgrade` with changed values, waiting until the rollout is done.
    pub async fn upgrade(&self, release: &str, namespace: &str, extra_values: &str) {
        let out = self
            .helm_chart(
                "upgrade",
                release,
                namespace,
                &chart_dir(),
                extra_values,
                &[],
            )
            .await;
        assert!(out.success(), "helm upgrade: {}{}", out.stdout, out.stderr);
        self.wait_rollout(namespace, &deployment_name(release))
            .await;
    }

    /// The static AWS credentials the values point the operator at, in `namespace`.
    pub async fn create_aws_secret(&self, namespace: &str) {
        self.kubectl_ok(&[
            "create",
            "secret",
            "generic",
            "aws-credentials",
            "-n",
            namespace,
            "--from-literal=access-key-id=AKIDEXAMPLE",
            "--from-literal=secret-access-key=secret",
        ])
        .await;
    }

    /// `helm <verb> <release> <chart>` (install or upgrade) with this test's values,
    /// then `extra` (YAML), and `flags`; helm's output, whatever it is.
    pub async fn helm_chart(
        &self,
        verb: &str,
        release: &str,
        namespace: &str,
        chart: &Path,
        extra: &str,
        flags: &[&str],
    ) -> Output {
        let mut args = vec![
            verb.to_string(),
            release.to_string(),
            chart.display().to_string(),
            "--namespace".into(),
            namespace.into(),
        ];
        for file in self.values_files(namespace, extra) {
            args.push("--values".into());
            args.push(file.display().to_string());
        }
        args.extend(flags.iter().map(|f| f.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.helm(&args).await
    }

    /// Waits until the Deployment's new pods are all Ready (its probes passed).
    pub async fn wait_rollout(&self, namespace: &str, deployment: &str) {
        let out = self
            .kubectl(&[
                "rollout",
                "status",
                &format!("deployment/{deployment}"),
                "-n",
                namespace,
                "--timeout=180s",
            ])
            .await;
        assert!(
            out.success(),
            "rollout of {deployment}: {}{}\n{}",
            out.stdout,
            out.stderr,
            self.describe_pods(namespace).await
        );
    }

    /// `kubectl describe pods` and the operators' logs, for failure messages.
    pub async fn describe_pods(&self, namespace: &str) -> String {
        let describe = self.kubectl(&["describe", "pods", "-n", namespace]).await;
        let logs = self
            .kubectl(&[
                "logs",
                "-n",
                namespace,
                "-l",
                "app.kubernetes.io/name=kvs-operator",
                "--tail=40",
                "--prefix",
            ])
            .await;
        format!("{}\n{}{}", describe.stdout, logs.stdout, logs.stderr)
    }

    /// The release's operator pods that are not being deleted, by name.
    pub async fn operator_pods(&self, namespace: &str) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let listed = pods
            .list(&ListParams::default().labels("app.kubernetes.io/name=kvs-operator"))
            .await
            .expect("list pods");
        let mut pods: Vec<Pod> = listed
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        pods
    }

    /// The holder of the Lease of the operator's own account (the VideoStreams no
    /// AccountBinding selects), once there is one.
    pub async fn leader(&self, namespace: &str) -> String {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        let shard = IdentityKey::own(self.emulator.region()).shard();
        let name = lease_name("kvs-operator", "shard", &shard);
        let deadline = Instant::now() + WAIT;
        loop {
            let holder = leases
                .get_opt(&name)
                .await
                .ok()
                .flatten()
                .and_then(|l| l.spec?.holder_identity)
                .filter(|h| !h.is_empty());
            if let Some(holder) = holder {
                return holder;
            }
            assert!(Instant::now() < deadline, "no leader in {namespace}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `kubectl apply` of a VideoStream `name` for stream `stream` with `retention` hours.
    pub async fn apply_stream(&self, namespace: &str, name: &str, stream: &str, retention: u32) {
        let manifest = format!(
            "apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {{name: {name}}}
spec: {{streamName: {stream}, deviceName: cam-01, mediaType: video/h264, dataRetentionInHours: {retention}}}
"
        );
        let out = self
            .cluster
            .plane()
            .kubectl_with_stdin(["apply", "-n", namespace, "-f", "-"], manifest)
            .await
            .expect("kubectl runs");
        assert!(out.success(), "{}{}", out.stdout, out.stderr);
    }

    /// Waits until `name` is Ready for its current generation.
    pub async fn wait_ready(&self, namespace: &str, name: &str) -> VideoStream {
        let api: Api<VideoStream> = Api::namespaced(self.client.clone(), namespace);
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Some(vs)) = api.get_opt(name).await {
                let ready = vs.status.as_ref().and_then(|s| find(&s.conditions, READY));
                if ready.is_some_and(|c| {
                    c.status == "True" && c.observed_generation == vs.metadata.generation
                }) {
                    return vs;
                }
                last = Some(vs);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "{namespace}/{name} never became Ready; last seen: {last:#?}\n{}",
            self.describe_pods(&self.namespaces[0]).await
        );
    }

    /// Waits for an Event with `reason` on the object `name` in `namespace`.
    pub async fn wait_event(&self, namespace: &str, name: &str, reason: &str) -> Event {
        let selector = format!("regarding.name={name}");
        match wait_for_event(&self.client, namespace, &selector, reason, WAIT).await {
            Ok(event) => event,
            Err(seen) => {
                let reasons: Vec<_> = seen.into_iter().filter_map(|e| e.reason).collect();
                panic!(
                    "no {reason} Event on {namespace}/{name}; Events seen: {reasons:?}\n{}",
                    self.describe_pods(&self.namespaces[0]).await
                );
            }
        }
    }

    /// An AccountBinding (cluster-scoped) this test made, deleted at [`NodeTest::finish`].
    pub fn owns_binding(&mut self, name: &str) {
        self.bindings.push(name.to_string());
    }

    /// Removes what this test made: its objects' finalizers first, in case no operator
    /// runs any more, then its AccountBindings, and its namespaces, which the namespace
    /// controller empties.
    pub async fn finish(self) {
        let unfinalized = r#"{"metadata": {"finalizers": null}}"#;
        for namespace in &self.namespaces {
            // Nothing to do before the chart has installed the CRDs.
            let names = self
                .kubectl(&[
                    "get",
                    "videostreams,signalingchannels",
                    "-n",
                    namespace,
                    "-o",
                    "name",
                ])
                .await;
            for name in names.stdout.lines() {
                let _ = self
                    .kubectl(&[
                        "patch",
                        name,
                        "-n",
                        namespace,
                        "--type=merge",
                        "-p",
                        unfinalized,
                    ])
                    .await;
            }
        }
        for binding in &self.bindings {
            let object = format!("accountbinding/{binding}");
            let _ = self
                .kubectl(&["patch", &object, "--type=merge", "-p", unfinalized])
                .await;
            let _ = self
                .kubectl(&["delete", &object, "--ignore-not-found"])
                .await;
        }
        for namespace in &self.namespaces {
            let _ = self
                .kubectl(&["delete", "namespace", namespace, "--wait=false"])
                .await;
        }
        for namespace in &self.namespaces {
            let _ = self
                .kubectl(&[
                    "wait",
                    "--for=delete",
                    &format!("namespace/{namespace}"),
                    "--timeout=120s",
                ])
                .await;
        }
        // Cluster-scoped objects of releases that were not uninstalled.
        let _ = self
            .kubectl(&[
                "delete",
                "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings",
                "-l",
                "app.kubernetes.io/name=kvs-operator",
            ])
            .await;
    }
}

/// The chart's Deployment for `release` (the chart's fullname).
pub fn deployment_name(release: &str) -> String {
    if release.contains("kvs-operator") {
        release.to_string()
    } else {
        format!("{release}-kvs-operator")
    }
}

/// GET through the API server (as `kubectl get --raw` does): status, Content-Type, body.
pub async fn get_raw(test: &NodeTest, path: &str) -> (u16, String, String) {
    let request = hyper::Request::get(path).body(Vec::new()).expect("request");
    let response = test
        .client
        .send(request.map(Into::into))
        .await
        .expect("proxy GET");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The value of the sample `series` (a full series name with labels) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}
