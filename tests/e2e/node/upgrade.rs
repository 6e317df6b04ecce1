//! Upgrade and rollback on the real node. The previous release (hack/release.env; its
//! chart and image built from its commit by `hack/release.sh previous`) is installed with
//! helm; VideoStreams with every field set, a Retain stream, a SignalingChannel storing
//! into a stream and an AccountBinding serving a namespace are made Ready under it. Then
//! `helm upgrade` to this tree's chart and image, `helm rollback` to the previous release,
//! `helm upgrade` again, and `helm uninstall`. Across each step: no stream or channel is
//! created, deleted or replaced (same ARNs, no Create or Delete call); no mutating AWS call
//! at all, since no spec changed; every object stays Ready at its generation while the
//! new pods take over, and they reconcile each one without an error; the CRDs are this
//! tree's after the upgrade (and stay so after the rollback). An object written under the
//! newer version, with every field this tree knows, leaves the rolled-back operator
//! unharmed and unchanged. The uninstall keeps the CRDs, every object and every stream.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::watcher;
use kvs_emulator::{CallRecord, Operation};
use kvs_operator::api::{AccountBinding, SignalingChannel, VideoStream};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{NodeTest, chart_dir, deployment_name, get_raw};
use crate::crd_schema::{numbers_as_floats, parse_crds, prune, set_fields, version_schema};
use crate::releases::ReleaseBuild;

const RELEASE: &str = "upgrade";
const API_VERSION: &str = "v1alpha1";
const TENANT_ACCOUNT: &str = "111111111111";
const CRDS: [&str; 3] = [
    "videostreams.kvs-operator.dev",
    "signalingchannels.kvs-operator.dev",
    "accountbindings.kvs-operator.dev",
];
/// How long one wait may take.
const WAIT: Duration = Duration::from_secs(180);

/// The objects, with every field this tree's CRDs know set on at least one of each kind.
/// `{cameras}`, `{tenant}` and `{region}` are filled in.
const FLEET: &str = r#"
apiVersion: kvs-operator.dev/v1alpha1
kind: AccountBinding
metadata: {name: upgrade-tenant}
spec:
  namespaces: ["{tenant}"]
  namespaceSelector:
    matchLabels: {kvs-operator.dev/upgrade-test: tenant}
    matchExpressions: [{key: kvs-operator.dev/upgrade-test, operator: In, values: [tenant]}]
  streamNamePrefixes: [upgrade-tenant-]
  adoption: Forbidden
  roleARN: arn:aws:iam::111111111111:role/upgrade-tenant
  externalID: upgrade-test
  region: "{region}"
---
apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: full, namespace: "{cameras}"}
spec:
  streamName: upgrade-full
  deviceName: cam-01
  mediaType: video/h264
  kmsKeyId: alias/cameras
  dataRetentionInHours: 24
  storageTier: HOT
  tags: {team: security, site: hq}
  tagPolicy: Shared
  deletionPolicy: Delete
  adoptExisting: false
  managementPolicy: Full
  imageGeneration:
    status: ENABLED
    destinationUri: s3://thumbnails/upgrade-full
    destinationRegion: us-west-2
    imageSelectorType: SERVER_TIMESTAMP
    samplingInterval: 5000
    format: JPEG
    formatConfig: {JPEGQuality: "80"}
    widthPixels: 640
    heightPixels: 480
  notification:
    status: ENABLED
    destinationUri: arn:aws:sns:us-west-2:123456789012:upgrade-full
  exportTo: {configMapName: upgrade-full-kvs}
---
apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: archive, namespace: "{cameras}"}
spec:
  streamName: upgrade-archive
  deviceName: cam-02
  mediaType: video/h264,audio/aac
  dataRetentionInHours: 720
  storageTier: WARM
  deletionPolicy: Retain
---
apiVersion: kvs-operator.dev/v1alpha1
kind: SignalingChannel
metadata: {name: bell, namespace: "{cameras}"}
spec:
  channelName: upgrade-bell
  messageTtlSeconds: 60
  mediaStorage: {videoStreamName: full}
  tags: {device: bell}
  tagPolicy: Exclusive
  exportTo: {configMapName: upgrade-bell-kvs}
  deletionPolicy: Delete
  adoptExisting: false
  managementPolicy: Full
---
apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: cam, namespace: "{tenant}"}
spec: {streamName: upgrade-tenant-cam, dataRetentionInHours: 24}
"#;

/// One object of the fleet: its manifest and where it lives.
#[derive(Clone)]
struct Object {
    kind: String,
    namespace: Option<String>,
    name: String,
    manifest: Value,
}

impl Object {
    fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

fn fleet(cameras: &str, tenant: &str, region: &str) -> Vec<Object> {
    let text = FLEET
        .replace("{cameras}", cameras)
        .replace("{tenant}", tenant)
        .replace("{region}", region);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("fleet YAML"))
        .map(|manifest| Object {
            kind: manifest["kind"].as_str().expect("kind").to_string(),
            namespace: manifest["metadata"]["namespace"]
                .as_str()
                .map(str::to_string),
            name: manifest["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_string(),
            manifest,
        })
        .collect()
}

/// The spec schemas of `crds` (a release's or the tree's), by kind.
fn spec_schemas(crds: &str) -> BTreeMap<String, Value> {
    parse_crds(crds)
        .values()
        .map(|crd| {
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .expect("kind")
                .to_string();
            let schema = version_schema(crd, API_VERSION).expect("v1alpha1");
            (kind, schema["properties"]["spec"].clone())
        })
        .collect()
}

fn tree_crds() -> String {
    let dir = super::chart_dir().join("files/crds");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("files/crds")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("CRD"))
        .collect()
}

/// The API resources of the operator's kinds.
fn resources() -> [(String, ApiResource); 3] {
    [
        ("VideoStream".into(), ApiResource::erase::<VideoStream>(&())),
        (
            "SignalingChannel".into(),
            ApiResource::erase::<SignalingChannel>(&()),
        ),
        (
            "AccountBinding".into(),
            ApiResource::erase::<AccountBinding>(&()),
        ),
    ]
}

/// Why `object` is not Ready at its generation (and Synced, where it has that), if so.
fn not_ready(object: &DynamicObject) -> Option<String> {
    let status = &object.data["status"];
    let condition = |kind: &str| {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind)
    };
    let generation = object.metadata.generation;
    let Some(ready) = condition("Ready") else {
        return Some("no Ready condition".into());
    };
    if ready["status"] != "True" {
        return Some(format!("Ready={} ({})", ready["status"], ready["reason"]));
    }
    let observed = ready["observedGeneration"]
        .as_i64()
        .or(status["observedGeneration"].as_i64());
    if observed != generation {
        return Some(format!(
            "Ready for generation {observed:?}, not {generation:?}"
        ));
    }
    if let Some(synced) = condition("Synced")
        && synced["status"] != "True"
    {
        return Some(format!(
            "Synced={} ({})",
            synced["status"], synced["reason"]
        ));
    }
    None
}

/// Watches the fleet and records every moment an object of `watched` was not Ready at
/// its generation, or was deleted: a watch sees every change, a poll could miss one.
struct Vigil {
    watched: Arc<Mutex<BTreeSet<String>>>,
    seen: Arc<Mutex<Vec<String>>>,
    /// Every watched object the watch has shown at least once.
    shown: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Vigil {
    fn start(client: &kube::Client, watched: BTreeSet<String>) -> Vigil {
        let watched = Arc::new(Mutex::new(watched));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shown = Arc::new(Mutex::new(BTreeSet::new()));
        let streams = resources().map(|(kind, resource)| {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            watcher(api, watcher::Config::default())
                .map(move |event| (kind.clone(), event))
                .boxed()
        });
        let (w, s, sh) = (watched.clone(), seen.clone(), shown.clone());
        let task = tokio::spawn(async move {
            let mut all = futures::stream::select_all(streams);
            while let Some((kind, event)) = all.next().await {
                let (object, deleted) = match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => (o, false),
                    Ok(watcher::Event::Delete(o)) => (o, true),
                    _ => continue,
                };
                let id = match &object.metadata.namespace {
                    Some(ns) => format!(
                        "{kind} {ns}/{}",
                        object.metadata.name.clone().unwrap_or_default()
                    ),
                    None => format!(
                        "{kind} {}",
                        object.metadata.name.clone().unwrap_or_default()
                    ),
                };
                if !w.lock().expect("watched").contains(&id) {
                    continue;
                }
                sh.lock().expect("shown").insert(id.clone());
                let why = if deleted {
                    Some("deleted".to_string())
                } else {
                    not_ready(&object)
                };
                if let Some(why) = why {
                    s.lock().expect("seen").push(format!("{id}: {why}"));
                }
            }
        });
        Vigil {
            watched,
            seen,
            shown,
            task,
        }
    }

    fn watch(&self, id: String) {
        self.watched.lock().expect("watched").insert(id);
    }

    /// The watched objects the watch never showed: a vigil that sees nothing proves nothing.
    fn unseen(&self) -> Vec<String> {
        let shown = self.shown.lock().expect("shown");
        let watched = self.watched.lock().expect("watched");
        watched.difference(&shown).cloned().collect()
    }

    /// What was seen not Ready since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().expect("seen"))
    }
}

impl Drop for Vigil {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every stream and channel the emulator holds, in every account: name -> ARN.
fn resources_at_aws(test: &NodeTest) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for scope in test.emulator.scopes() {
        for s in test.emulator.streams_in(&scope.account, &scope.region) {
            out.insert(format!("stream {}", s.stream_name), s.stream_arn);
        }
        for c in test.emulator.channels_in(&scope.account, &scope.region) {
            out.insert(format!("channel {}", c.channel_name), c.channel_arn);
        }
    }
    out
}

/// The number of successful and failed reconciles the release's pods report, summed
/// over every label but the outcome.
async fn reconciles(test: &NodeTest, namespace: &str) -> (u64, u64) {
    let (mut succeeded, mut failed) = (0, 0);
    for pod in test.operator_pods(namespace).await {
        let name = pod.metadata.name.expect("name");
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}:8080/proxy/metrics");
        let (status, _, body) = get_raw(test, &path).await;
        assert_eq!(status, 200, "{name}: {body}");
        for line in body.lines() {
            let Some(rest) = line.strip_prefix("kvs_operator_reconciles_total{") else {
                continue;
            };
            let (labels, value) = rest.split_once("} ").expect("sample");
            let value = value.parse::<f64>().expect("value") as u64;
            if labels.contains("outcome=\"success\"") {
                succeeded += value;
            } else {
                failed += value;
            }
        }
    }
    (succeeded, failed)
}

/// Waits until every pod of the release, terminating ones included, runs the image of
/// `version` (as the chart names it) and two are Ready.
async fn wait_pods_run(test: &NodeTest, namespace: &str, version: &str) {
    let image = format!("kvs-operator:{version}");
    let pods: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(test.client.clone(), namespace);
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = pods
            .list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=kvs-operator"))
            .await
            .expect("pods");
        let images: Vec<String> = listed
            .items
            .iter()
            .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter()))
            .filter_map(|c| c.image.clone())
            .collect();
        let ready = listed
            .items
            .iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if images.len() == 2 && images.iter().all(|i| *i == image) && ready == 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the pods never all ran {image}: {images:?}\n{}",
            test.describe_pods(namespace).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What one helm step did, for the closing report.
struct Step {
    name: &'static str,
    calls: BTreeMap<String, u64>,
    settled_after: Duration,
}

/// The release under test and what must hold across each helm step.
struct Release<'a> {
    test: &'a NodeTest,
    namespace: String,
    vigil: Vigil,
    /// Every stream and channel at AWS, with its ARN, as it must stay.
    arns: BTreeMap<String, String>,
    /// How many objects of the namespaced kinds the operator reconciles.
    reconciled: usize,
}

impl Release<'_> {
    /// The sequence number of the emulator's latest call: a step's calls come after it.
    fn mark(&self) -> u64 {
        self.test.emulator.call_log().last().map_or(0, |r| r.seq)
    }

    /// After a rollout to `version`: waits until the new pods have reconciled every
    /// object, then until each account has been scanned three times more (a window
    /// several reconciles long, in which a mutation would show), and checks that window:
    /// no mutating AWS call since `mark`, no reconcile failed, nothing ever not Ready, the
    /// same streams and channels with the same ARNs.
    async fn settle_and_check(&self, version: &str, mark: u64, name: &'static str) -> Step {
        let (test, namespace) = (self.test, self.namespace.as_str());
        let rolled = Instant::now();
        wait_pods_run(test, namespace, version).await;
        let deadline = Instant::now() + WAIT;
        loop {
            let (succeeded, failed) = reconciles(test, namespace).await;
            assert_eq!(
                failed,
                0,
                "{name}: a reconcile failed\n{}",
                test.describe_pods(namespace).await
            );
            if succeeded >= self.reconciled as u64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: the new pods reconciled {succeeded} of {}\n{}",
                self.reconciled,
                test.describe_pods(namespace).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let settled_after = rolled.elapsed();
        let scans_from = self.mark();
        let deadline = Instant::now() + WAIT;
        loop {
            let log = test.emulator.call_log_since(scans_from);
            let scans = |account: Option<&str>, op: Operation| {
                log.iter()
                    .filter(|r| {
                        r.operation == op && (account.is_none() || r.account.as_deref() == account)
                    })
                    .count()
            };
            if scans(Some(TENANT_ACCOUNT), Operation::ListStreams) >= 3
                && scans(Some(test.emulator.account_id()), Operation::ListStreams) >= 3
                && scans(None, Operation::ListSignalingChannels) >= 3
            {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: no drift scans");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let log: Vec<CallRecord> = test.emulator.call_log_since(mark);
        let mutations: Vec<&CallRecord> =
            log.iter().filter(|r| r.operation.is_mutation()).collect();
        assert!(
            mutations.is_empty(),
            "{name}: AWS mutations though no spec changed: {mutations:#?}"
        );
        let (_, failed) = reconciles(test, namespace).await;
        assert_eq!(
            failed,
            0,
            "{name}: a reconcile failed\n{}",
            test.describe_pods(namespace).await
        );
        let unready = self.vigil.take();
        assert!(
            unready.is_empty(),
            "{name}: objects not Ready at their generation: {unready:#?}"
        );
        assert_eq!(
            resources_at_aws(test),
            self.arns,
            "{name}: streams or channels changed"
        );
        let mut calls = BTreeMap::new();
        for record in &log {
            *calls.entry(record.operation.to_string()).or_insert(0) += 1;
        }
        Step {
            name,
            calls,
            settled_after,
        }
    }
}

/// `kubectl apply` of `objects`.
async fn apply(test: &NodeTest, objects: &[&Object]) {
    let yaml: Vec<String> = objects
        .iter()
        .map(|o| serde_json::to_string(&o.manifest).expect("JSON"))
        .collect();
    let out = test
        .cluster
        .plane()
        .kubectl_with_stdin(["apply", "-f", "-"], yaml.join("\n---\n"))
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
}

async fn get(test: &NodeTest, object: &Object) -> DynamicObject {
    let (_, resource) = resources()
        .into_iter()
        .find(|(kind, _)| *kind == object.kind)
        .expect("kind");
    let api: Api<DynamicObject> = match &object.namespace {
        Some(ns) => Api::namespaced_with(test.client.clone(), ns, &resource),
        None => Api::all_with(test.client.clone(), &resource),
    };
    api.get(&object.name).await.expect("get")
}

async fn wait_ready(test: &NodeTest, object: &Object) {
    let deadline = Instant::now() + WAIT;
    loop {
        let why = not_ready(&get(test, object).await);
        let Some(why) = why else { return };
        assert!(
            Instant::now() < deadline,
            "{} never Ready: {why}",
            object.id()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The live CRDs: their served schemas and chart metadata.
async fn live_crds(test: &NodeTest) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for name in CRDS {
        let json = test.kubectl_ok(&["get", "crd", name, "-o", "json"]).await;
        out.insert(name.to_string(), serde_json::from_str(&json).expect("CRD"));
    }
    out
}

/// Whether the live CRDs serve exactly the schemas of `crds` (a release's YAML).
fn serve(live: &BTreeMap<String, Value>, crds: &str) -> bool {
    let wanted = parse_crds(crds);
    CRDS.iter().all(|name| {
        let version = |crd: &Value| {
            numbers_as_floats(&crd["spec"]["versions"].as_array().expect("versions")[0])
        };
        let (live, wanted) = (version(&live[*name]), version(&wanted[*name]));
        live["name"] == API_VERSION
            && live["schema"] == wanted["schema"]
            && live["additionalPrinterColumns"] == wanted["additionalPrinterColumns"]
    })
}

/// The image of the previous release, imported into the node once.
async fn import_previous(test: &NodeTest, previous: &ReleaseBuild) {
    static IMPORTED: OnceCell<()> = OnceCell::const_new();
    IMPORTED
        .get_or_init(|| async {
            test.cluster
                .import_image(
                    &previous.image(),
                    "docker.io/library/kvs-operator",
                    &previous.image_reference(),
                )
                .await
                .expect("the previous release's image imports");
        })
        .await;
}

#[tokio::test]
async fn upgrade_from_the_previous_release_and_rollback_keep_every_stream_and_change_nothing() {
    let started = Instant::now();
    let previous = ReleaseBuild::previous();
    let mut test = NodeTest::start().await;
    import_previous(&test, &previous).await;
    let release_ns = test.namespace("kvs-upgrade").await;
    let cameras = test.namespace("upgrade-cameras").await;
    let tenant = test.namespace("upgrade-tenant").await;
    test.kubectl_ok(&[
        "label",
        "namespace",
        &tenant,
        "kvs-operator.dev/upgrade-test=tenant",
    ])
    .await;
    test.owns_binding("upgrade-tenant");

    // The fleet sets every field this tree's CRDs know; what the previous release's do
    // not know is left out of what is applied under it.
    let tree = spec_schemas(&tree_crds());
    let old = spec_schemas(&previous.crds());
    let objects = fleet(&cameras, &tenant, test.emulator.region());
    let mut covered: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut new_fields = BTreeSet::new();
    for object in &objects {
        let spec = &object.manifest["spec"];
        let (known, unknown) = set_fields(spec, &tree[&object.kind], "spec");
        assert!(
            unknown.is_empty(),
            "{}: fields the tree does not know: {unknown:?}",
            object.id()
        );
        covered.entry(&object.kind).or_default().extend(known);
        new_fields.extend(
            set_fields(spec, &old[&object.kind], "spec")
                .1
                .into_iter()
                .map(|f| format!("{} {f}", object.kind)),
        );
    }
    for (kind, schema) in &tree {
        let missing: Vec<String> = crate::crd_schema::leaves(schema, "spec")
            .difference(&covered[kind.as_str()])
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "the upgrade test sets no {kind} {missing:?}: add them to FLEET"
        );
    }
    let as_previous = |object: &Object| {
        let mut object = object.clone();
        prune(&mut object.manifest["spec"], &old[&object.kind]);
        object
    };

    // The CRDs as the previous release installs them: from its chart's crds/, without
    // Helm's ownership. (The node tests before this one left this tree's; none of their
    // objects remain.)
    // Objects a failed test left behind would hold the deletion on their finalizers.
    let left = test
        .kubectl(&[
            "get",
            "videostreams,signalingchannels,accountbindings",
            "-A",
            "-o",
            "json",
        ])
        .await;
    let left: Value = serde_json::from_str(&left.stdout).unwrap_or_default();
    for object in left["items"].as_array().into_iter().flatten() {
        let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
        let name = format!(
            "{kind}/{}",
            object["metadata"]["name"].as_str().unwrap_or_default()
        );
        let mut patch = vec![
            "patch",
            &name,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ];
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !namespace.is_empty() {
            patch.extend(["-n", namespace.as_str()]);
        }
        let _ = test.kubectl(&patch).await;
    }
    let mut delete = vec!["delete", "crd", "--ignore-not-found", "--timeout=120s"];
    delete.extend(CRDS);
    test.kubectl_ok(&delete).await;
    test.create_aws_secret(&release_ns).await;
    let out = test
        .helm_chart("install", RELEASE, &release_ns, &previous.chart(), "", &[])
        .await;
    assert!(
        out.success(),
        "helm install {}: {}{}",
        previous.version,
        out.stdout,
        out.stderr
    );
    test.wait_rollout(&release_ns, &deployment_name(RELEASE))
        .await;
    wait_pods_run(&test, &release_ns, &previous.version).await;
    let crds = live_crds(&test).await;
    assert!(
        serve(&crds, &previous.crds()),
        "the CRDs are not the previous release's"
    );
    for (name, crd) in &crds {
        assert!(
            crd["metadata"]["labels"]["app.kubernetes.io/managed-by"].is_null(),
            "{name}"
        );
    }

    // The fleet, Ready under the previous release: the binding first.
    let (binding, rest) = objects.split_first().expect("fleet");
    apply(&test, &[&as_previous(binding)]).await;
    wait_ready(&test, binding).await;
    let rest: Vec<Object> = rest.iter().map(as_previous).collect();
    apply(&test, &rest.iter().collect::<Vec<_>>()).await;
    for object in &objects {
        wait_ready(&test, object).await;
    }
    let arns = resources_at_aws(&test);
    assert_eq!(arns.len(), 4, "three streams and a channel: {arns:?}");
    let fleet_mark = test.emulator.call_log().last().map_or(0, |r| r.seq);
    let mut release = Release {
        test: &test,
        namespace: release_ns.clone(),
        vigil: Vigil::start(&test.client, objects.iter().map(Object::id).collect()),
        arns,
        reconciled: objects.iter().filter(|o| o.namespace.is_some()).count(),
    };
    let this_version = env!("CARGO_PKG_VERSION");
    let mut steps = Vec::new();

    // Upgrade. Helm refuses to take over CRDs it did not install ...
    let mark = release.mark();
    let refused = test
        .helm_chart("upgrade", RELEASE, &release_ns, &chart_dir(), "", &[])
        .await;
    assert!(
        !refused.success()
            && refused
                .stderr
                .contains("exists and cannot be imported into the current release")
            && refused.stderr.contains("invalid ownership metadata"),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    // ... unless told to, once (docs/upgrading.md).
    let out = test
        .helm_chart(
            "upgrade",
            RELEASE,
            &release_ns,
            &chart_dir(),
            "",
            &["--take-ownership"],
        )
        .await;
    assert!(out.success(), "helm upgrade: {}{}", out.stdout, out.stderr);
    test.wait_rollout(&release_ns, &deployment_name(RELEASE))
        .await;
    steps.push(
        release
            .settle_and_check(this_version, mark, "upgrade")
            .await,
    );
    let crds = live_crds(&test).await;
    assert!(
        serve(&crds, &tree_crds()),
        "the CRDs were not upgraded to this tree's"
    );
    for (name, crd) in &crds {
        let metadata = &crd["metadata"];
        assert_eq!(
            metadata["labels"]["app.kubernetes.io/version"], this_version,
            "{name}"
        );
        assert_eq!(
            metadata["annotations"]["helm.sh/resource-policy"], "keep",
            "{name}"
        );
        assert_eq!(
            metadata["annotations"]["meta.helm.sh/release-name"], RELEASE,
            "{name}"
        );
    }

    // Every field this tree knows is accepted now, and kept: a new VideoStream with all of
    // them, Ready under the new version.
    let full = objects.iter().find(|o| o.name == "full").expect("full");
    let mut next = full.clone();
    next.name = "next".into();
    next.manifest["metadata"]["name"] = "next".into();
    next.manifest["spec"]["streamName"] = "upgrade-next".into();
    // Watched from its creation: the vigil sees it not Ready yet, so it would see any other.
    release.vigil.watch(next.id());
    apply(&test, &[&next]).await;
    wait_ready(&test, &next).await;
    let creating = release.vigil.take();
    assert!(
        creating.iter().any(|seen| seen.starts_with(&next.id())),
        "the vigil never saw the new object before it was Ready: {creating:?}"
    );
    assert!(
        creating.iter().all(|seen| seen.starts_with(&next.id())),
        "{creating:?}"
    );
    let stored = get(&test, &next).await;
    assert_eq!(
        stored.data["spec"], next.manifest["spec"],
        "the API server dropped fields"
    );
    release.arns = resources_at_aws(&test);
    release.reconciled += 1;
    assert_eq!(release.arns.len(), 5);

    // Rollback: the old version meets the object the new one wrote.
    let mark = release.mark();
    let out = test
        .helm(&[
            "rollback",
            RELEASE,
            "1",
            "--namespace",
            &release_ns,
            "--wait",
            "--timeout=3m",
        ])
        .await;
    assert!(out.success(), "helm rollback: {}{}", out.stdout, out.stderr);
    steps.push(
        release
            .settle_and_check(&previous.version, mark, "rollback")
            .await,
    );
    // Helm kept the newer CRDs, so the new object's fields are all still there.
    assert!(
        serve(&live_crds(&test).await, &tree_crds()),
        "the rollback changed the CRDs"
    );
    assert_eq!(get(&test, &next).await.data["spec"], next.manifest["spec"]);

    // And forward again: the CRDs carry this release's ownership now, no flag needed.
    let mark = release.mark();
    test.upgrade(RELEASE, &release_ns, "").await;
    steps.push(
        release
            .settle_and_check(this_version, mark, "upgrade again")
            .await,
    );

    // Uninstall: the operator goes; the CRDs, every object and every stream stay.
    let out = test
        .helm(&["uninstall", RELEASE, "--namespace", &release_ns, "--wait"])
        .await;
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("kept due to the resource policy"),
        "{}",
        out.stdout
    );
    assert!(test.operator_pods(&release_ns).await.is_empty());
    for object in objects.iter().chain([&next]) {
        get(&test, object).await;
    }
    assert_eq!(resources_at_aws(&test), release.arns);
    // In all of it, nothing created but the new object's stream, and nothing deleted.
    let replaced: Vec<CallRecord> = test
        .emulator
        .call_log_since(fleet_mark)
        .into_iter()
        .filter(|r| {
            let op = r.operation.to_string();
            op.starts_with("Delete")
                || (op.starts_with("Create") && r.stream.as_deref() != Some("upgrade-next"))
        })
        .collect();
    assert!(replaced.is_empty(), "{replaced:#?}");
    let unready = release.vigil.take();
    assert!(unready.is_empty(), "{unready:#?}");
    let unseen = release.vigil.unseen();
    assert!(unseen.is_empty(), "the watch never showed {unseen:?}");
    drop(release);

    println!(
        "upgrade from {} ({}) to {}: fields new since then: {new_fields:?}",
        previous.version,
        &previous.commit[..12],
        env!("CARGO_PKG_VERSION")
    );
    for step in &steps {
        println!(
            "{}: every object reconciled {:.1?} after the rollout; AWS calls: {:?}",
            step.name, step.settled_after, step.calls
        );
    }
    println!("the upgrade test took {:.1?}", started.elapsed());
    test.finish().await;
}
