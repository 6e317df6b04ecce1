//! The Helm chart against a real API server:
//! - `helm template` output is valid for the server, checked twice: kubeconform `-strict`
//!   with JSON schemas made from this kube-apiserver's own OpenAPI v3 (the CRDs' and the
//!   ServiceMonitor's and PrometheusRule's included), and `kubectl apply --dry-run=server --validate=strict`;
//! - `helm install` succeeds, and the operator binary then runs exactly as the installed
//!   Deployment says (its args and env) under the chart's ServiceAccount identity, reaches
//!   Ready on a VideoStream and holds the Lease — so the RBAC suffices — while the same
//!   identity is refused everything else — so it is least-privilege.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Container};
use kube::api::Api;
use kvs_emulator::{Emulator, Running};
use kvs_operator::api::VideoStream;
use kvs_operator::engine::conditions::{READY, find};
use kvs_testenv::{ControlPlane, Output, service_account_user};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::common::{emulator_config, free_local_addr, http_get, terminate};
use crate::support;

const WAIT: Duration = Duration::from_secs(60);

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/kvs-operator")
}

/// What `hack/tools.sh build` made: kubeconform and the monitoring CRDs (checked to be
/// there, with everything else, before the first test: see `prerequisites`).
fn tools_dir() -> PathBuf {
    kvs_testenv::prerequisites::chart_tools_dir()
}

/// The ServiceMonitor and PrometheusRule CRDs `hack/tools.sh build` generated.
fn monitoring_crds() -> PathBuf {
    tools_dir().join("crds")
}

/// Installs the ServiceMonitor and PrometheusRule CRDs once per plane, so the chart's
/// optional ServiceMonitor and PrometheusRule are checked and installed like every other
/// object.
async fn with_monitoring_crds(plane: &ControlPlane) {
    plane
        .apply_dir(monitoring_crds())
        .await
        .expect("ServiceMonitor and PrometheusRule CRDs install");
}

async fn helm(plane: &ControlPlane, args: &[&str]) -> Output {
    plane.helm(args).await.expect("helm runs")
}

async fn kubectl(plane: &ControlPlane, args: &[&str]) -> Output {
    plane.kubectl(args).await.expect("kubectl runs")
}

/// `helm template` of the chart as release `release` in `namespace`.
pub async fn template(
    plane: &ControlPlane,
    release: &str,
    namespace: &str,
    values: &[&str],
) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        release,
        chart.to_str().expect("utf-8 path"),
        "--namespace",
        namespace,
    ];
    args.extend_from_slice(values);
    let out = helm(plane, &args).await;
    assert!(out.success(), "helm template failed: {}", out.stderr);
    out.stdout
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

// --- JSON schemas from the API server ------------------------------------------------

/// kubeconform's file name suffix for an apiVersion (`apps/v1` → `-apps-v1`,
/// `rbac.authorization.k8s.io/v1` → `-rbac-v1`, `v1` → `-v1`), as its
/// `{{ .KindSuffix }}` template variable spells it.
fn kind_suffix(api_version: &str) -> String {
    let mut parts = api_version.split('/');
    let first = parts.next().unwrap_or_default();
    let mut suffix = format!("-{}", first.split('.').next().unwrap_or_default());
    if let Some(version) = parts.next() {
        suffix.push('-');
        suffix.push_str(version);
    }
    suffix.to_lowercase()
}

/// Rewrites an OpenAPI v3 schema for a strict JSON Schema validator, as kubectl's own
/// validation reads it: objects with declared properties admit no others (unless they
/// preserve unknown fields), and int-or-string accepts both.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
                || map.get("format") == Some(&json!("int-or-string"))
            {
                *schema = json!({"oneOf": [{"type": "string"}, {"type": "integer"}]});
                return;
            }
            let preserves = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserves
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for value in map.values_mut() {
                strict(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// Writes `<kind><suffix>.json` into `dir` for every kind of every apiVersion in
/// `api_versions`, from the API server's `/openapi/v3` documents. Each file is the whole
/// group-version document (for its `$ref`s) with a root `$ref` to the kind.
async fn write_schemas(plane: &ControlPlane, api_versions: &BTreeSet<String>, dir: &Path) {
    std::fs::create_dir_all(dir).expect("schema dir");
    for api_version in api_versions {
        let path = if api_version.contains('/') {
            format!("apis/{api_version}")
        } else {
            format!("api/{api_version}")
        };
        // A CRD's group-version shows up in /openapi/v3 shortly after it is Established.
        let deadline = Instant::now() + WAIT;
        loop {
            let index = kubectl(plane, &["get", "--raw", "/openapi/v3"]).await;
            assert!(index.success(), "{}", index.stderr);
            let index: Value = serde_json::from_str(&index.stdout).expect("openapi index");
            if index["paths"].get(&path).is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the API server serves no {api_version}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let doc = kubectl(plane, &["get", "--raw", &format!("/openapi/v3/{path}")]).await;
        assert!(doc.success(), "{}", doc.stderr);
        let mut doc: Value = serde_json::from_str(&doc.stdout).expect("openapi document");
        let mut schemas = doc["components"]["schemas"].take();
        strict(&mut schemas);
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let mut written = 0;
        for (name, schema) in schemas.as_object().expect("schemas") {
            let gvks = schema["x-kubernetes-group-version-kind"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for gvk in gvks {
                if gvk["group"] != group || gvk["version"] != version {
                    continue;
                }
                let kind = gvk["kind"].as_str().expect("kind").to_lowercase();
                let file = dir.join(format!("{kind}{}.json", kind_suffix(api_version)));
                let root = json!({
                    "$ref": format!("#/components/schemas/{name}"),
                    "components": {"schemas": schemas},
                });
                std::fs::write(&file, root.to_string()).expect("write schema");
                written += 1;
            }
        }
        assert!(written > 0, "no kinds in /openapi/v3/{path}");
    }
}

#[derive(Debug, Deserialize)]
struct KubeconformReport {
    resources: Vec<KubeconformResource>,
    summary: BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
struct KubeconformResource {
    kind: String,
    name: String,
    status: String,
    #[serde(default)]
    msg: String,
}

/// kubeconform `-strict` over `yaml` with the schemas in `schemas`; every resource's status.
async fn kubeconform(plane: &ControlPlane, schemas: &Path, yaml: &str) -> KubeconformReport {
    let location = format!(
        "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        schemas.display()
    );
    let mut command = plane.command(tools_dir().join("bin/kubeconform"));
    command.args([
        "-strict",
        "-verbose",
        "-summary",
        "-output",
        "json",
        "-schema-location",
        &location,
        "-",
    ]);
    let out = kvs_testenv::run(command, Some(yaml.as_bytes().to_vec()))
        .await
        .expect("kubeconform runs");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kubeconform printed no report ({e}): {}{}",
            out.stdout, out.stderr
        )
    })
}

#[tokio::test]
async fn rendered_manifests_are_valid_for_the_api_server_in_every_mode() {
    let plane = support::plane().await;
    with_monitoring_crds(plane).await;
    let release_ns = plane.unique_namespace("chart-render").await.expect("ns");
    let team_a = plane.unique_namespace("chart-render-a").await.expect("ns");
    let team_b = plane.unique_namespace("chart-render-b").await.expect("ns");
    let namespaced = format!("watchNamespaces={{{team_a},{team_b}}}");
    let modes: [(&str, Vec<&str>); 4] = [
        ("default", vec![]),
        ("namespaced", vec!["--set", &namespaced]),
        (
            "single replica without leader election",
            vec![
                "--set",
                "replicaCount=1",
                "--set",
                "leaderElection.enabled=false",
            ],
        ),
        (
            "everything on",
            vec![
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--set",
                "metrics.serviceMonitor.scrapeTimeout=10s",
                "--set",
                "metrics.prometheusRule.enabled=true",
                "--set",
                "metrics.grafanaDashboard.enabled=true",
                "--set",
                "aws.region=eu-west-1",
                "--set",
                "replicaCount=3",
                "--set",
                "podDisruptionBudget.maxUnavailable=50%",
                "--set",
                "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/kvs",
            ],
        ),
    ];
    let schemas = plane.dir().join("chart-schemas");
    let mut rendered = Vec::new();
    let mut api_versions = BTreeSet::new();
    for (mode, values) in &modes {
        let yaml = template(plane, "render", &release_ns, values).await;
        for doc in documents(&yaml) {
            api_versions.insert(doc["apiVersion"].as_str().expect("apiVersion").to_string());
        }
        rendered.push((*mode, yaml));
    }
    // Custom resources users write are checked against the CRD's schema too.
    api_versions.insert("kvs-operator.dev/v1alpha1".to_string());
    write_schemas(plane, &api_versions, &schemas).await;

    for (mode, yaml) in &rendered {
        let report = kubeconform(plane, &schemas, yaml).await;
        let count = documents(yaml).len() as u64;
        assert_eq!(
            (
                report.summary.get("valid").copied(),
                report.summary.get("invalid").copied(),
                report.summary.get("errors").copied(),
                report.summary.get("skipped").copied()
            ),
            (Some(count), Some(0), Some(0), Some(0)),
            "{mode}: kubeconform -strict: {:#?}",
            report.resources
        );

        let out = plane
            .kubectl_with_stdin(
                ["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
                yaml.as_bytes().to_vec(),
            )
            .await
            .expect("kubectl runs");
        assert!(
            out.success() && out.stderr.is_empty(),
            "{mode}: server-side dry run: {}{}",
            out.stdout,
            out.stderr
        );
    }
    let kinds: BTreeSet<&str> = rendered
        .iter()
        .flat_map(|(_, yaml)| {
            yaml.lines()
                .filter_map(|l| l.strip_prefix("kind: "))
                .collect::<Vec<_>>()
        })
        .collect();
    for kind in [
        "Deployment",
        "ClusterRole",
        "Role",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
        "PodDisruptionBudget",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert!(
            kinds.contains(kind),
            "{kind} was never validated: {kinds:?}"
        );
    }

    // The validator is not a rubber stamp: misspelt or out-of-range fields are refused.
    let (_, default) = &rendered[0];
    let deployment = default
        .replace("imagePullPolicy:", "imagePullPolcy:")
        .replace(
            "readOnlyRootFilesystem: true",
            "readOnlyRootFileSystem: true",
        );
    let monitor = rendered[3]
        .1
        .replace("      path: /metrics", "      paht: /metrics");
    let videostreams = "apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: good, namespace: cameras}
spec: {deviceName: cam-01, dataRetentionInHours: 24, tags: {team: security}}
---
apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: typo, namespace: cameras}
spec: {deviceName: cam-01, retentionHours: 24}
---
apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: too-long, namespace: cameras}
spec: {dataRetentionInHours: 87601}
";
    for (what, yaml, bad) in [
        ("a Deployment", deployment.as_str(), vec!["Deployment"]),
        ("a ServiceMonitor", monitor.as_str(), vec!["ServiceMonitor"]),
        ("VideoStreams", videostreams, vec!["typo", "too-long"]),
    ] {
        let report = kubeconform(plane, &schemas, yaml).await;
        let invalid: Vec<&KubeconformResource> = report
            .resources
            .iter()
            .filter(|r| r.status == "statusInvalid")
            .collect();
        for needle in bad {
            assert!(
                invalid.iter().any(|r| r.kind == needle || r.name == needle),
                "kubeconform accepted {what} with an error ({needle}): {:#?}",
                report.resources
            );
        }
        assert!(
            report.resources.iter().all(|r| r.status != "statusError"),
            "{:#?}",
            report.resources
        );
    }
    // Nor is the server's strict field validation.
    let out = plane
        .kubectl_with_stdin(
            ["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
            deployment.as_bytes().to_vec(),
        )
        .await
        .expect("kubectl runs");
    assert!(
        !out.success() && out.stderr.contains("unknown field"),
        "the server accepted a misspelt Deployment: {}{}",
        out.stdout,
        out.stderr
    );
    let report = kubeconform(plane, &schemas, videostreams).await;
    let good = report
        .resources
        .iter()
        .find(|r| r.name == "good")
        .expect("good");
    assert_eq!(good.status, "statusValid", "{}", good.msg);
}

// --- the installed chart, run ---------------------------------------------------------

/// `helm install` with the values that point the operator at `emulator`, poll fast and
/// serve metrics on `port`; fails the test unless helm succeeds.
async fn install(
    plane: &ControlPlane,
    release: &str,
    namespace: &str,
    emulator: &Running,
    port: u16,
    values: &[&str],
) {
    let chart = chart_dir();
    let region = format!("aws.region={}", emulator.region());
    let endpoint = format!("aws.endpointUrl={}", emulator.url());
    let metrics = format!("metrics.port={port}");
    let mut args = vec![
        "install",
        release,
        chart.to_str().expect("utf-8 path"),
        "--namespace",
        namespace,
        "--set",
        &region,
        "--set",
        &endpoint,
        "--set",
        &metrics,
        "--set",
        "operator.pollInterval=300ms",
        "--set",
        "operator.driftScanInterval=1s",
        "--set",
        "operator.resyncPeriod=30s",
        "--set",
        "operator.logFormat=text",
    ];
    args.extend_from_slice(values);
    let out = helm(plane, &args).await;
    assert!(
        out.success(),
        "helm install failed: {}{}",
        out.stdout,
        out.stderr
    );
    let status = helm(plane, &["status", release, "--namespace", namespace]).await;
    assert!(
        status.stdout.contains("STATUS: deployed"),
        "{}",
        status.stdout
    );
}

/// The operator binary started as a kubelet would start the installed Deployment's
/// container: its args, its env (downward API resolved for a pod `pod_name`), under its
/// ServiceAccount (kubeconfig impersonation). Killed when dropped; log shown on failure.
struct Pod {
    child: Child,
    log: PathBuf,
    name: String,
    service_account: String,
    metrics: SocketAddr,
    container: Container,
}

impl Pod {
    async fn start(plane: &ControlPlane, namespace: &str, deployment: &str, pod_name: &str) -> Pod {
        let out = kubectl(
            plane,
            &[
                "get",
                "deployment",
                deployment,
                "-n",
                namespace,
                "-o",
                "json",
            ],
        )
        .await;
        assert!(out.success(), "{}", out.stderr);
        let deployment: Deployment = serde_json::from_str(&out.stdout).expect("Deployment");
        let pod = deployment
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod spec");
        let service_account = pod
            .service_account_name
            .clone()
            .expect("serviceAccountName");
        let container = pod.containers[0].clone();
        Pod::spawn(plane, namespace, container, service_account, pod_name)
    }

    /// Starts `container` of a pod `pod_name` in `namespace` that runs as ServiceAccount
    /// `service_account`.
    fn spawn(
        plane: &ControlPlane,
        namespace: &str,
        container: Container,
        service_account: String,
        pod_name: &str,
    ) -> Pod {
        assert!(container.command.is_none(), "the image's ENTRYPOINT runs");
        let args = container.args.clone().unwrap_or_default();

        let port = container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some("metrics"))
            .expect("metrics port")
            .container_port;
        let bind = args
            .iter()
            .find_map(|a| a.strip_prefix("--metrics-bind-address="))
            .expect("--metrics-bind-address");
        assert_eq!(
            bind,
            format!("0.0.0.0:{port}"),
            "the probes' port is the one served"
        );

        let log = plane
            .dir()
            .join(format!("chart-{namespace}-{pod_name}.log"));
        let file = File::create(&log).expect("log");
        let err = file.try_clone().expect("log");
        let kubeconfig = plane
            .service_account_kubeconfig(namespace, &service_account)
            .expect("kubeconfig");
        let mut command = plane.command(env!("CARGO_BIN_EXE_kvs-operator"));
        command
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", &kubeconfig)
            // What IRSA or Pod Identity would provide.
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        for env in container.env.iter().flatten() {
            let value = match (&env.value, &env.value_from) {
                (Some(value), None) => value.clone(),
                (None, Some(from)) => {
                    match from.field_ref.as_ref().map(|f| f.field_path.as_str()) {
                        Some("metadata.name") => pod_name.to_string(),
                        Some("metadata.namespace") => namespace.to_string(),
                        other => panic!("{}: unexpected valueFrom {other:?}", env.name),
                    }
                }
                other => panic!("{}: unexpected env {other:?}", env.name),
            };
            command.env(&env.name, value);
        }
        let child = command.spawn().expect("kvs-operator starts");
        Pod {
            child,
            log,
            name: pod_name.to_string(),
            service_account,
            metrics: SocketAddr::from(([127, 0, 0, 1], port as u16)),
            container,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until both probes of the container answer 200, as the kubelet checks them.
    async fn wait_probes_pass(&self) {
        let paths: Vec<String> = [
            &self.container.liveness_probe,
            &self.container.readiness_probe,
        ]
        .into_iter()
        .map(|probe| {
            let get = probe
                .as_ref()
                .and_then(|p| p.http_get.clone())
                .expect("httpGet");
            get.path.expect("path")
        })
        .collect();
        let deadline = Instant::now() + WAIT;
        for path in paths {
            loop {
                if matches!(http_get(self.metrics, &path).await, Some((200, _))) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "probe {path} never passed:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// SIGTERM, as the kubelet stops a pod; the exit code.
    async fn terminate(&mut self) -> Option<i32> {
        terminate(&mut self.child, WAIT).await
    }

    /// No request of the operator was refused by RBAC.
    fn assert_never_forbidden(&self) {
        let log = self.log();
        let refused: Vec<&str> = log
            .lines()
            .filter(|l| l.to_lowercase().contains("forbidden"))
            .collect();
        assert!(
            refused.is_empty(),
            "RBAC refused the operator:\n{}",
            refused.join("\n")
        );
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "--- operator log {} ---\n{}",
                self.log.display(),
                self.log()
            );
        }
    }
}

fn camera(name: &str, stream: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata:
  name: {name}
spec:
  streamName: {stream}
  deviceName: cam-01
  mediaType: video/h264
  dataRetentionInHours: 24
  tags: {{team: security}}
"
    )
}

async fn apply(plane: &ControlPlane, namespace: &str, yaml: &str) {
    let out = plane
        .kubectl_with_stdin(
            ["apply", "-n", namespace, "-f", "-"],
            yaml.as_bytes().to_vec(),
        )
        .await
        .expect("kubectl runs");
    assert!(out.success(), "kubectl apply: {}", out.stderr);
}

async fn wait_ready(client: &kube::Client, namespace: &str, name: &str) -> VideoStream {
    let api: Api<VideoStream> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + WAIT;
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(Some(vs)) = api.get_opt(name).await {
            let ready = vs.status.as_ref().and_then(|s| {
                find(&s.conditions, READY).filter(|c| {
                    c.status == "True" && c.observed_generation == vs.metadata.generation
                })
            });
            if ready.is_some() {
                return vs;
            }
            last = Some(vs);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{namespace}/{name} never became Ready; last seen: {last:#?}");
}

async fn wait_gone(client: &kube::Client, namespace: &str, name: &str) {
    let api: Api<VideoStream> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if api.get_opt(name).await.expect("get").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{namespace}/{name} was never deleted");
}

/// Event reasons recorded on VideoStream `name` (by the operator, under its identity).
async fn event_reasons(plane: &ControlPlane, namespace: &str, name: &str) -> Vec<String> {
    let out = kubectl(
        plane,
        &[
            "get",
            "events.events.k8s.io",
            "-n",
            namespace,
            "--field-selector",
            &format!("regarding.name={name}"),
            "-o",
            "jsonpath={.items[*].reason}",
        ],
    )
    .await;
    assert!(out.success(), "{}", out.stderr);
    out.stdout.split_whitespace().map(str::to_string).collect()
}

/// The Lease of the shard of the operator's own identity in the emulator's region.
fn own_shard_lease(emulator: &kvs_emulator::Running) -> String {
    let shard = kvs_operator::tenancy::IdentityKey::own(emulator.region()).shard();
    kvs_operator::engine::shards::lease_name("kvs-operator", "shard", &shard)
}

async fn wait_lease_holder(plane: &ControlPlane, namespace: &str, lease: &str) -> String {
    let client = plane.kube_client().await.expect("client");
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(Some(lease)) = api.get_opt(lease).await
            && let Some(holder) = lease.spec.and_then(|s| s.holder_identity)
            && !holder.is_empty()
        {
            return holder;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("nobody ever held Lease {namespace}/{lease}");
}

/// `kubectl auth can-i` for `user`: true for "yes".
async fn can_i(plane: &ControlPlane, user: &str, args: &[&str]) -> bool {
    let mut full = vec!["auth", "can-i"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--as", user]);
    let out = kubectl(plane, &full).await;
    match out.stdout.trim() {
        "yes" => true,
        "no" => false,
        other => panic!("kubectl auth can-i {args:?}: {other} {}", out.stderr),
    }
}

async fn assert_allowed(plane: &ControlPlane, user: &str, checks: &[&[&str]]) {
    for args in checks {
        assert!(can_i(plane, user, args).await, "{user} may not {args:?}");
    }
}

async fn assert_denied(plane: &ControlPlane, user: &str, checks: &[&[&str]]) {
    for args in checks {
        assert!(!can_i(plane, user, args).await, "{user} may {args:?}");
    }
}

/// A real request with the ServiceAccount's kubeconfig is refused with 403.
async fn assert_forbidden(
    plane: &ControlPlane,
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
) {
    let mut full = vec!["--kubeconfig", kubeconfig.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    let out = match stdin {
        Some(input) => {
            plane
                .kubectl_with_stdin(&full, input.as_bytes().to_vec())
                .await
        }
        None => plane.kubectl(&full).await,
    }
    .expect("kubectl runs");
    assert!(
        !out.success() && out.stderr.contains("forbidden"),
        "{args:?} as the operator was not refused: {}{}",
        out.stdout,
        out.stderr
    );
}

/// Cluster-wide mode, leader election on: a control plane of its own, since an operator
/// that watches every namespace must not see the other tests' VideoStreams.
#[tokio::test]
async fn the_installed_chart_runs_the_operator_with_just_enough_rbac_cluster_wide() {
    let plane = ControlPlane::start().await.expect("control plane starts");
    let emulator = Emulator::start(emulator_config(Duration::from_millis(300)))
        .await
        .expect("emulator");
    let release_ns = "kvs-system";
    let created = kubectl(&plane, &["create", "namespace", release_ns]).await;
    assert!(created.success(), "{}", created.stderr);
    // A typo in the values fails `helm install` before anything is created.
    let chart = chart_dir();
    let typo = helm(
        &plane,
        &[
            "install",
            "kvs",
            chart.to_str().expect("utf-8 path"),
            "--namespace",
            release_ns,
            "--set",
            "replicaCont=2",
        ],
    )
    .await;
    assert!(
        !typo.success()
            && typo
                .stderr
                .contains("additional properties 'replicaCont' not allowed"),
        "{}{}",
        typo.stdout,
        typo.stderr
    );
    let nothing = kubectl(
        &plane,
        &[
            "get",
            "clusterroles,serviceaccounts,deployments",
            "-A",
            "-l",
            "app.kubernetes.io/instance=kvs",
            "-o",
            "name",
        ],
    )
    .await;
    assert!(
        nothing.success() && nothing.stdout.trim().is_empty(),
        "{}{}",
        nothing.stdout,
        nothing.stderr
    );
    let releases = helm(&plane, &["list", "--all", "--namespace", release_ns, "-q"]).await;
    assert!(releases.stdout.trim().is_empty(), "{}", releases.stdout);
    // Not even the CRDs: they are templates, checked with the rest.
    let crd = kubectl(&plane, &["get", "crd", "videostreams.kvs-operator.dev"]).await;
    assert!(
        !crd.success() && crd.stderr.contains("NotFound"),
        "the refused install left the CRD: {}{}",
        crd.stdout,
        crd.stderr
    );

    let port = free_local_addr().port();
    install(&plane, "kvs", release_ns, &emulator, port, &[]).await;

    let mut pod = Pod::start(
        &plane,
        release_ns,
        "kvs-kvs-operator",
        "kvs-kvs-operator-6b7d9-x2x4z",
    )
    .await;
    assert_eq!(pod.service_account, "kvs-kvs-operator");
    pod.wait_probes_pass().await;
    assert_eq!(
        wait_lease_holder(&plane, release_ns, &own_shard_lease(&emulator)).await,
        pod.name,
        "the Lease names the pod"
    );

    // VideoStreams in two namespaces, neither of them the release's.
    let client = plane.kube_client().await.expect("client");
    for namespace in ["cameras", "lobby"] {
        let created = kubectl(&plane, &["create", "namespace", namespace]).await;
        assert!(created.success(), "{}", created.stderr);
        apply(
            &plane,
            namespace,
            &camera("front-door", &format!("{namespace}-door")),
        )
        .await;
    }
    for namespace in ["cameras", "lobby"] {
        let vs = wait_ready(&client, namespace, "front-door").await;
        let stream = emulator
            .stream(&format!("{namespace}-door"))
            .expect("stream created");
        assert_eq!(
            vs.status.and_then(|s| s.stream_arn).as_deref(),
            Some(stream.stream_arn.as_str())
        );
    }
    let deadline = Instant::now() + WAIT;
    while !event_reasons(&plane, "cameras", "front-door")
        .await
        .contains(&"CreatedStream".to_string())
    {
        assert!(
            Instant::now() < deadline,
            "no CreatedStream Event:\n{}",
            pod.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = http_get(pod.metrics, "/metrics").await.expect("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE"), "{body}");

    // exportTo under the same identity: the ConfigMap is written (the chart's RBAC and its
    // exports policy let the operator write its own export) ...
    apply(
        &plane,
        "cameras",
        &format!(
            "{}  exportTo: {{configMapName: front-door-kvs}}\n",
            camera("front-door", "cameras-door")
        ),
    )
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "cameras");
    let deadline = Instant::now() + WAIT;
    loop {
        let exported = configmaps.get_opt("front-door-kvs").await.expect("get");
        let arn = exported
            .and_then(|cm| cm.data)
            .and_then(|data| data.get("STREAM_ARN").cloned());
        if arn.as_deref()
            == emulator
                .stream("cameras-door")
                .map(|s| s.stream_arn)
                .as_deref()
        {
            break;
        }
        assert!(Instant::now() < deadline, "never exported:\n{}", pod.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ... and nothing else: with the same identity, a ConfigMap that is no export of ours is
    // neither changed, nor deleted, nor made; the API server's exports policy says so.
    let foreign = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("coredns-like".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("Corefile".into(), "original".into())])),
        ..Default::default()
    };
    configmaps
        .create(&Default::default(), &foreign)
        .await
        .expect("an admin's ConfigMap");
    let operator_identity = service_account_user(release_ns, &pod.service_account);
    let as_operator: Api<ConfigMap> = Api::namespaced(
        plane
            .kube_client_as(&operator_identity, &[])
            .await
            .expect("client"),
        "cameras",
    );
    let refused_by_policy = |result: Result<(), kube::Error>, what: &str| match result {
        Err(kube::Error::Api(status)) => assert!(
            status.code == 403 && status.message.contains("ValidatingAdmissionPolicy"),
            "{what}: {status:?}"
        ),
        other => panic!("{what} was not refused: {other:?}"),
    };
    let hijack = json!({"data": {"Corefile": "hijacked"}});
    refused_by_policy(
        as_operator
            .patch(
                "coredns-like",
                &Default::default(),
                &kube::api::Patch::Merge(&hijack),
            )
            .await
            .map(|_| ()),
        "a patch of someone else's ConfigMap",
    );
    refused_by_policy(
        as_operator
            .delete("coredns-like", &Default::default())
            .await
            .map(|_| ()),
        "a delete of someone else's ConfigMap",
    );
    let mut unmarked = foreign.clone();
    unmarked.metadata.name = Some("planted".into());
    refused_by_policy(
        as_operator
            .create(&Default::default(), &unmarked)
            .await
            .map(|_| ()),
        "a ConfigMap that is no export",
    );
    let kept = configmaps.get("coredns-like").await.expect("still there");
    assert_eq!(
        kept.data.unwrap_or_default()["Corefile"],
        "original",
        "untouched"
    );

    // Deleting runs the finalizer under the same identity.
    let deleted = kubectl(
        &plane,
        &[
            "delete",
            "videostream",
            "front-door",
            "-n",
            "lobby",
            "--wait=false",
        ],
    )
    .await;
    assert!(deleted.success(), "{}", deleted.stderr);
    wait_gone(&client, "lobby", "front-door").await;
    assert!(emulator.stream("lobby-door").is_none(), "stream deleted");

    // Least privilege.
    let user = service_account_user(release_ns, &pod.service_account);
    assert_allowed(
        &plane,
        &user,
        &[
            &["list", "videostreams.kvs-operator.dev", "--all-namespaces"],
            &["watch", "videostreams.kvs-operator.dev", "--all-namespaces"],
            &["patch", "videostreams.kvs-operator.dev", "-n", "cameras"],
            &[
                "patch",
                "videostreams.kvs-operator.dev",
                "--subresource=status",
                "-n",
                "cameras",
            ],
            &["create", "events.events.k8s.io", "-n", "cameras"],
            &["patch", "events.events.k8s.io", "-n", "cameras"],
            &["create", "configmaps", "-n", "cameras"],
            &["patch", "configmaps", "-n", "cameras"],
            &["delete", "configmaps", "-n", "cameras"],
            &["create", "leases.coordination.k8s.io", "-n", release_ns],
            &[
                "update",
                "leases.coordination.k8s.io/kvs-operator-shard-self-us-west-2",
                "-n",
                release_ns,
            ],
            // Leases of replicas and accounts long gone are deleted.
            &[
                "delete",
                "leases.coordination.k8s.io/kvs-operator-shard-self-us-west-2",
                "-n",
                release_ns,
            ],
            &["list", "leases.coordination.k8s.io", "-n", release_ns],
            &["watch", "accountbindings.kvs-operator.dev"],
            &[
                "patch",
                "accountbindings.kvs-operator.dev",
                "--subresource=status",
            ],
            &["list", "namespaces"],
            &["get", "namespaces/kube-system"],
        ],
    )
    .await;
    assert_denied(
        &plane,
        &user,
        &[
            &["get", "secrets", "-n", release_ns],
            &["get", "secrets", "-n", "cameras"],
            &["list", "secrets", "--all-namespaces"],
            &["get", "configmaps", "-n", release_ns],
            &["get", "configmaps", "-n", "cameras"],
            &["list", "configmaps", "--all-namespaces"],
            &["watch", "configmaps", "--all-namespaces"],
            &["update", "configmaps", "-n", "cameras"],
            &["deletecollection", "configmaps", "-n", "cameras"],
            &["create", "pods", "-n", release_ns],
            &["create", "accountbindings.kvs-operator.dev"],
            &["delete", "accountbindings.kvs-operator.dev"],
            &["delete", "namespaces"],
            &["get", "customresourcedefinitions.apiextensions.k8s.io"],
            &["create", "videostreams.kvs-operator.dev", "-n", "cameras"],
            &["delete", "videostreams.kvs-operator.dev", "-n", "cameras"],
            &["create", "events", "-n", "cameras"],
            &["delete", "events.events.k8s.io", "-n", "cameras"],
            &["create", "leases.coordination.k8s.io", "-n", "cameras"],
            &["list", "leases.coordination.k8s.io", "-n", "cameras"],
            &["delete", "leases.coordination.k8s.io", "-n", "cameras"],
            &["create", "clusterrolebindings.rbac.authorization.k8s.io"],
            &["escalate", "clusterroles.rbac.authorization.k8s.io"],
            &["impersonate", "serviceaccounts", "-n", release_ns],
        ],
    )
    .await;
    let kubeconfig = plane
        .service_account_kubeconfig(release_ns, &pod.service_account)
        .expect("kubeconfig");
    assert_forbidden(
        &plane,
        &kubeconfig,
        &["get", "secrets", "--all-namespaces"],
        None,
    )
    .await;
    assert_forbidden(
        &plane,
        &kubeconfig,
        &["get", "secrets", "-n", release_ns],
        None,
    )
    .await;
    assert_forbidden(
        &plane,
        &kubeconfig,
        &["create", "-n", "cameras", "-f", "-"],
        Some(&camera("intruder", "intruder")),
    )
    .await;

    pod.assert_never_forbidden();
    // A graceful stop (SIGTERM, as the kubelet sends) under the same identity.
    assert_eq!(pod.terminate().await, Some(0), "{}", pod.log());
    pod.assert_never_forbidden();

    // Uninstalling removes the operator's objects but never the CRDs (resource-policy
    // keep), though this release installed them: the VideoStreams (and so the streams)
    // survive the operator.
    let manifest = helm(
        &plane,
        &["get", "manifest", "kvs", "--namespace", release_ns],
    )
    .await;
    assert!(
        manifest.stdout.contains("kind: CustomResourceDefinition"),
        "the release does not hold the CRDs: {}",
        manifest.stderr
    );
    let out = helm(&plane, &["uninstall", "kvs", "--namespace", release_ns]).await;
    assert!(out.success(), "{}", out.stderr);
    let left = kubectl(&plane, &["get", "clusterroles,clusterrolebindings,roles,rolebindings,serviceaccounts,deployments,services,poddisruptionbudgets,validatingadmissionpolicies,validatingadmissionpolicybindings", "-A", "-l", "app.kubernetes.io/instance=kvs", "-o", "name"]).await;
    assert!(
        left.success() && left.stdout.trim().is_empty(),
        "left behind: {}{}",
        left.stdout,
        left.stderr
    );
    for crd in [
        "videostreams.kvs-operator.dev",
        "signalingchannels.kvs-operator.dev",
        "accountbindings.kvs-operator.dev",
    ] {
        let kept = kubectl(&plane, &["get", "crd", crd]).await;
        assert!(
            kept.success(),
            "helm uninstall deleted {crd}: {}",
            kept.stderr
        );
    }
    assert!(
        out.stdout.contains("kept due to the resource policy"),
        "{}",
        out.stdout
    );
    let api: Api<VideoStream> = Api::namespaced(client.clone(), "cameras");
    assert!(api.get_opt("front-door").await.expect("get").is_some());

    // The same process under the same identity, its bindings gone: refused at once. So it
    // was the chart's RBAC, and nothing else, that let it work above.
    let container = pod.container.clone();
    let service_account = pod.service_account.clone();
    drop(pod);
    let mut orphan = Pod::spawn(
        &plane,
        release_ns,
        container,
        service_account,
        "kvs-kvs-operator-6b7d9-orphan",
    );
    let deadline = Instant::now() + WAIT;
    while !orphan.log().to_lowercase().contains("forbidden") {
        assert!(
            Instant::now() < deadline,
            "never refused:\n{}",
            orphan.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Ok(Some(status)) = orphan.child.try_wait() {
        assert!(!status.success(), "{}", orphan.log());
    }
    assert!(
        !matches!(http_get(orphan.metrics, "/readyz").await, Some((200, _))),
        "ready without permissions"
    );
}

/// Namespaced mode on the shared control plane: Roles in the watched namespaces only.
#[tokio::test]
async fn namespaced_mode_reconciles_the_watched_namespaces_and_nothing_else() {
    let plane = support::plane().await;
    let emulator = Emulator::start(emulator_config(Duration::from_millis(300)))
        .await
        .expect("emulator");
    let release_ns = plane
        .unique_namespace("chart-ns-release")
        .await
        .expect("ns");
    let team_a = plane.unique_namespace("chart-ns-a").await.expect("ns");
    let team_b = plane.unique_namespace("chart-ns-b").await.expect("ns");
    let other = plane.unique_namespace("chart-ns-other").await.expect("ns");
    let watch = format!("watchNamespaces={{{team_a},{team_b}}}");
    let port = free_local_addr().port();
    // The shared plane's CRDs were applied with kubectl, as a cluster that manages its
    // CRDs apart does (or a second release of the chart, one per team).
    install(
        plane,
        "teams",
        &release_ns,
        &emulator,
        port,
        &["--set", &watch, "--set", "crds.install=false"],
    )
    .await;

    let mut pod = Pod::start(
        plane,
        &release_ns,
        "teams-kvs-operator",
        "teams-kvs-operator-5c8f-q7r2m",
    )
    .await;
    pod.wait_probes_pass().await;
    assert_eq!(
        wait_lease_holder(plane, &release_ns, &own_shard_lease(&emulator)).await,
        pod.name
    );

    let client = plane.kube_client().await.expect("client");
    for namespace in [&team_a, &team_b, &other] {
        apply(
            plane,
            namespace,
            &camera("door", &format!("{namespace}-door")),
        )
        .await;
    }
    for namespace in [&team_a, &team_b] {
        wait_ready(&client, namespace, "door").await;
        assert!(emulator.stream(&format!("{namespace}-door")).is_some());
    }
    // The unwatched namespace is left alone: no status but the CRD's default, no finalizer,
    // no stream.
    let api: Api<VideoStream> = Api::namespaced(client.clone(), &other);
    let untouched = api.get("door").await.expect("get");
    let unreconciled = kvs_operator::api::VideoStreamStatus {
        observed_generation: Some(0),
        ..Default::default()
    };
    assert_eq!(untouched.status, Some(unreconciled), "{untouched:?}");
    assert!(untouched.metadata.finalizers.unwrap_or_default().is_empty());
    assert!(emulator.stream(&format!("{other}-door")).is_none());

    let user = service_account_user(&release_ns, &pod.service_account);
    let mut allowed: Vec<Vec<&str>> = Vec::new();
    for namespace in [team_a.as_str(), team_b.as_str()] {
        allowed.push(vec![
            "list",
            "videostreams.kvs-operator.dev",
            "-n",
            namespace,
        ]);
        allowed.push(vec![
            "patch",
            "videostreams.kvs-operator.dev",
            "--subresource=status",
            "-n",
            namespace,
        ]);
        allowed.push(vec!["create", "events.events.k8s.io", "-n", namespace]);
        allowed.push(vec!["create", "configmaps", "-n", namespace]);
    }
    // AccountBindings are cluster-scoped: even a namespaced operator reads them, and the
    // namespaces their selectors match.
    allowed.push(vec!["watch", "accountbindings.kvs-operator.dev"]);
    allowed.push(vec!["list", "namespaces"]);
    let allowed: Vec<&[&str]> = allowed.iter().map(Vec::as_slice).collect();
    assert_allowed(plane, &user, &allowed).await;
    assert_denied(
        plane,
        &user,
        &[
            &["list", "videostreams.kvs-operator.dev", "--all-namespaces"],
            &["get", "videostreams.kvs-operator.dev", "-n", &other],
            &["patch", "videostreams.kvs-operator.dev", "-n", &other],
            &[
                "update",
                "videostreams.kvs-operator.dev",
                "--subresource=finalizers",
                "-n",
                &other,
            ],
            &["create", "events.events.k8s.io", "-n", &other],
            &["create", "configmaps", "-n", &other],
            &["patch", "configmaps", "-n", &release_ns],
            &["get", "configmaps", "-n", &team_a],
            &["create", "videostreams.kvs-operator.dev", "-n", &team_a],
            &["get", "videostreams.kvs-operator.dev", "-n", &release_ns],
            &["get", "secrets", "-n", &team_a],
            &["get", "secrets", "-n", &release_ns],
            &["create", "leases.coordination.k8s.io", "-n", &team_a],
            &["create", "accountbindings.kvs-operator.dev"],
        ],
    )
    .await;
    let kubeconfig = plane
        .service_account_kubeconfig(&release_ns, &pod.service_account)
        .expect("kubeconfig");
    assert_forbidden(
        plane,
        &kubeconfig,
        &["get", "videostreams", "--all-namespaces"],
        None,
    )
    .await;
    assert_forbidden(
        plane,
        &kubeconfig,
        &["get", "videostreams", "-n", &other],
        None,
    )
    .await;
    assert_forbidden(plane, &kubeconfig, &["get", "secrets", "-n", &team_a], None).await;
    assert_forbidden(
        plane,
        &kubeconfig,
        &["create", "-n", &team_b, "-f", "-"],
        Some(&camera("intruder", "intruder")),
    )
    .await;

    pod.assert_never_forbidden();
    assert_eq!(pod.terminate().await, Some(0), "{}", pod.log());
}

/// The commands docs/upgrading.md gives for an upgrade from 0.1.0 with a Helm older than
/// 3.17, run as written: the CRDs 0.1.0's chart installed (from its `crds/`, which Helm
/// never owns) get the ownership Helm looks for, and a plain `helm upgrade` then takes
/// them over. A control plane of its own, since CRDs are cluster-wide; the node test
/// (node/upgrade.rs) takes the `--take-ownership` way with the operator running.
#[tokio::test]
async fn the_documented_commands_let_helm_take_over_the_crds_of_0_1_0() {
    let previous = crate::releases::ReleaseBuild::previous();
    let plane = ControlPlane::start().await.expect("control plane starts");
    let (release, namespace) = ("kvs-operator", "kvs-system");
    let created = kubectl(&plane, &["create", "namespace", namespace]).await;
    assert!(created.success(), "{}", created.stderr);
    let chart = previous.chart();
    let old = chart.to_str().expect("utf-8 path");
    let out = helm(&plane, &["install", release, old, "-n", namespace]).await;
    assert!(out.success(), "{}", out.stderr);

    let new = chart_dir();
    let upgrade = [
        "upgrade",
        release,
        new.to_str().expect("utf-8 path"),
        "-n",
        namespace,
    ];
    let refused = helm(&plane, &upgrade).await;
    assert!(
        !refused.success() && refused.stderr.contains("invalid ownership metadata"),
        "{}",
        refused.stderr
    );
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/upgrading.md"))
            .expect("docs/upgrading.md");
    let after = doc
        .split_once("With an older Helm")
        .expect("the older-Helm steps")
        .1;
    let script = after
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a sh block")
        .0;
    assert!(
        script.contains("meta.helm.sh/release-name=kvs-operator"),
        "{script}"
    );
    let mut bash = plane.command("bash");
    bash.args(["-euo", "pipefail", "-c", script]);
    let ran = kvs_testenv::run(bash, None).await.expect("bash runs");
    assert!(ran.success(), "{}{}", ran.stdout, ran.stderr);

    let out = helm(&plane, &upgrade).await;
    assert!(out.success(), "{}", out.stderr);
    for crd in [
        "videostreams.kvs-operator.dev",
        "signalingchannels.kvs-operator.dev",
        "accountbindings.kvs-operator.dev",
    ] {
        let labels = kubectl(
            &plane,
            &["get", "crd", crd, "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/version} {.metadata.annotations.helm\\.sh/resource-policy}"],
        )
        .await;
        assert_eq!(
            labels.stdout,
            format!("{} keep", env!("CARGO_PKG_VERSION")),
            "{crd}: {}",
            labels.stderr
        );
    }
}
