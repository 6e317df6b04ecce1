//! The Helm chart and the Dockerfile, checked without a cluster: `helm lint --strict`, the
//! values schema refusing typos, and the rendered manifests (security context, probes,
//! resources, least-privilege RBAC, namespaced mode, leader election, metrics, and in
//! `chart/monitoring.rs` the alerts, unit-tested with promtool, and the dashboard). Rendered
//! output is validated against the real API server's schemas, installed and run in
//! `tests/e2e/chart.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use clap::Parser;
use kvs_operator::cli::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod crd_schema;
#[path = "chart/monitoring.rs"]
mod monitoring;
mod promql;
mod rbac_rules;
use crd_schema::numbers_as_floats;
use rbac_rules::{Permission as Grant, permissions as grants};

const RELEASE: &str = "kvs";
const NAMESPACE: &str = "kvs-system";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("charts/kvs-operator")
}

/// The helm that `hack/control-plane.sh build` built; without it, the binary stops at
/// once, naming hack/prepare.sh.
fn helm() -> Process {
    use kvs_testenv::prerequisites::{Need, require_or_exit};
    require_or_exit(&[Need::ControlPlane]);
    let bin = kvs_testenv::default_bin_dir()
        .expect("bin dir")
        .join("helm");
    let mut command = Process::new(bin);
    // Keep helm's cache and config out of $HOME; nothing here needs a repository.
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("helm-home");
    command
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    command
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut command: Process) -> Run {
    let out = command.output().expect("helm runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `helm template` of the chart with `args` (e.g. `--set x=y`).
fn template(args: &[&str]) -> Run {
    let mut command = helm();
    command
        .args(["template", RELEASE])
        .arg(chart())
        .args(["--namespace", NAMESPACE])
        .args(args);
    run(command)
}

fn lint(args: &[&str]) -> Run {
    let mut command = helm();
    command
        .args(["lint", "--strict"])
        .arg(chart())
        .args(["--namespace", NAMESPACE])
        .args(args);
    run(command)
}

/// The rendered objects of a successful `helm template`.
struct Rendered {
    objects: Vec<Value>,
}

impl Rendered {
    fn of(args: &[&str]) -> Rendered {
        let out = template(args);
        assert!(out.ok, "helm template {args:?} failed: {}", out.stderr);
        let mut objects = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(&out.stdout) {
            let value = Value::deserialize(doc).expect("helm template prints YAML");
            if !value.is_null() {
                objects.push(value);
            }
        }
        Rendered { objects }
    }

    fn kinds(&self) -> BTreeSet<String> {
        self.objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn all<T: DeserializeOwned>(&self, kind: &str) -> Vec<T> {
        self.objects
            .iter()
            .filter(|o| o["kind"] == kind)
            .map(|o| {
                serde_json::from_value(o.clone())
                    .unwrap_or_else(|e| panic!("{kind} does not parse as one: {e}\n{o:#}"))
            })
            .collect()
    }

    fn one<T: DeserializeOwned>(&self, kind: &str) -> T {
        let mut all = self.all(kind);
        assert_eq!(all.len(), 1, "expected one {kind} in {:?}", self.kinds());
        all.remove(0)
    }

    fn deployment(&self) -> Deployment {
        self.one("Deployment")
    }

    fn container(&self) -> Container {
        let deployment = self.deployment();
        let spec = deployment
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod spec");
        assert_eq!(spec.containers.len(), 1);
        spec.containers.into_iter().next().expect("container")
    }

    fn args(&self) -> Vec<String> {
        self.container().args.unwrap_or_default()
    }

    fn env(&self, name: &str) -> Option<k8s_openapi::api::core::v1::EnvVar> {
        self.container()
            .env
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.name == name)
    }
}

fn grant_set(list: &[(&str, &str, &[&str], &str)]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for (group, resource, verbs, name) in list {
        for verb in *verbs {
            out.insert((
                group.to_string(),
                resource.to_string(),
                verb.to_string(),
                name.to_string(),
            ));
        }
    }
    out
}

/// The aggregated roles tenants get: VideoStreams, never AccountBindings.
fn tenant_roles(
    rendered: &Rendered,
) -> BTreeMap<String, (BTreeMap<String, String>, BTreeSet<Grant>)> {
    rendered
        .all::<ClusterRole>("ClusterRole")
        .into_iter()
        .filter(|role| {
            role.metadata
                .labels
                .iter()
                .flatten()
                .any(|(key, _)| key.starts_with("rbac.authorization.k8s.io/aggregate-to-"))
        })
        .map(|role| {
            (
                role.metadata.name.clone().unwrap_or_default(),
                (
                    role.metadata.labels.clone().unwrap_or_default(),
                    grants(&role.rules.unwrap_or_default()),
                ),
            )
        })
        .collect()
}

/// A custom resource kind the chart ships a CRD for.
#[derive(Debug)]
struct CustomKind {
    group: String,
    plural: String,
    namespaced: bool,
    has_status: bool,
}

/// Every kind the chart ships a CRD for, so that rules are checked for kinds added later too.
fn custom_kinds() -> Vec<CustomKind> {
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(chart().join("files/crds")).expect("files/crds/") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("CRD");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let crd = Value::deserialize(doc).expect("YAML");
            let spec = &crd["spec"];
            kinds.push(CustomKind {
                group: spec["group"].as_str().expect("group").to_string(),
                plural: spec["names"]["plural"]
                    .as_str()
                    .expect("plural")
                    .to_string(),
                namespaced: spec["scope"] == "Namespaced",
                has_status: spec["versions"]
                    .as_array()
                    .expect("versions")
                    .iter()
                    .any(|v| v["subresources"]["status"].is_object()),
            });
        }
    }
    assert!(!kinds.is_empty());
    kinds
}

/// The ConfigMap rules of `spec.exportTo`: write, delete, never read (the exports policy
/// narrows the writes to the operator's own exports).
const EXPORT_VERBS: [&str; 3] = ["create", "patch", "delete"];

/// What the operator's own rules may name: its kinds (and their subresources),
/// events.k8s.io Events, namespaces to read (AccountBinding selectors, the default
/// cluster id), and ConfigMaps to write (exportTo) but not read. Which verbs of them it
/// needs is derived from what it really calls, by the e2e test that reads the API
/// server's audit log (tests/e2e/node/rbac.rs).
fn assert_only_own_kinds(grants: &BTreeSet<Grant>, kinds: &[CustomKind]) {
    for (group, resource, verb, name) in grants {
        assert!(
            !group.contains('*') && !resource.contains('*') && !verb.contains('*'),
            "wildcard: {group} {resource} {verb}"
        );
        assert!(name.is_empty(), "{resource} limited to {name}");
        let base = resource.split('/').next().unwrap_or_default();
        let own = kinds.iter().any(|k| k.group == *group && k.plural == base);
        let events = group == "events.k8s.io" && resource == "events";
        let namespaces = group.is_empty()
            && resource == "namespaces"
            && ["get", "list", "watch"].contains(&verb.as_str());
        let exports =
            group.is_empty() && resource == "configmaps" && EXPORT_VERBS.contains(&verb.as_str());
        assert!(
            own || events || namespaces || exports,
            "{group} {resource} {verb} is not the operator's"
        );
        assert!(
            exports
                || ![
                    "delete",
                    "deletecollection",
                    "escalate",
                    "bind",
                    "impersonate"
                ]
                .contains(&verb.as_str()),
            "{group} {resource} {verb}"
        );
    }
    // Every kind the operator serves is watched, and its status is written.
    for kind in kinds {
        for verb in ["list", "watch"] {
            let grant = (
                kind.group.clone(),
                kind.plural.clone(),
                verb.into(),
                String::new(),
            );
            assert!(grants.contains(&grant), "no {verb} on {}", kind.plural);
        }
        if kind.has_status {
            let status = format!("{}/status", kind.plural);
            assert!(
                grants.iter().any(|g| g.0 == kind.group && g.1 == status),
                "{status} is never written"
            );
        }
    }
}

/// Leases named after the election id (membership and shards), in the release namespace:
/// their names are not known at install time. Those of replicas and accounts long gone are
/// deleted.
fn lease_grants(_id: &str) -> BTreeSet<Grant> {
    grant_set(&[(
        "coordination.k8s.io",
        "leases",
        &["create", "get", "list", "update", "delete"],
        "",
    )])
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    args.iter().find_map(|a| a.strip_prefix(&prefix))
}

/// The generated CRDs (`crds/` at the top), parsed.
fn generated_crds() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("crds"))
        .expect("crds/")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).expect("CRD");
            serde_yaml_ng::from_str(&text).expect("CRD parses")
        })
        .collect()
}

#[test]
fn the_chart_renders_the_generated_crds_with_helms_keep_policy() {
    let rendered = Rendered::of(&[]);
    let mut crds: Vec<Value> = rendered
        .objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .cloned()
        .collect();
    let generated = generated_crds();
    assert_eq!(crds.len(), generated.len(), "one CRD per file of crds/");
    crds.sort_by_key(|crd| crd["metadata"]["name"].as_str().map(str::to_string));
    for (crd, mut expected) in crds.into_iter().zip(generated) {
        let name = expected["metadata"]["name"].clone();
        let metadata = &crd["metadata"];
        assert_eq!(metadata["name"], name);
        // Kept by `helm uninstall`, a rollback to a release without it, and
        // crds.install=false: deleting a CRD deletes every object of its kind.
        assert_eq!(
            metadata["annotations"]["helm.sh/resource-policy"], "keep",
            "{name}"
        );
        // The chart's labels, so `kubectl get crd -L app.kubernetes.io/version` tells which
        // release last wrote it.
        assert_eq!(
            metadata["labels"]["app.kubernetes.io/version"],
            env!("CARGO_PKG_VERSION"),
            "{name}"
        );
        assert_eq!(metadata["labels"]["app.kubernetes.io/name"], "kvs-operator");
        // Otherwise exactly what `kvs-operator crd` generates (Helm writes 120.0 as 120).
        let mut served = crd.clone();
        served["metadata"] = Value::Null;
        expected["metadata"] = Value::Null;
        assert!(
            numbers_as_floats(&served) == numbers_as_floats(&expected),
            "the chart renders {name} differently from crds/"
        );
    }

    // `helm upgrade --reuse-values` from 0.1.0, whose values have no `crds`: the default.
    let reused = Rendered::of(&["--set", "crds=null"]);
    assert_eq!(
        reused
            .objects
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
            .count(),
        generated_crds().len()
    );

    let off = Rendered::of(&["--set", "crds.install=false"]);
    assert!(
        !off.kinds().contains("CustomResourceDefinition"),
        "crds.install=false still renders CRDs"
    );
    assert!(off.kinds().contains("Deployment"));
    // Helm's own crds/ directory, which it installs once and never upgrades, stays empty.
    assert!(
        !chart().join("crds").exists(),
        "charts/kvs-operator/crds/ is back: Helm would never upgrade what it holds"
    );
}

#[test]
fn the_chart_installs_this_crate_version() {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Chart {
        app_version: String,
    }
    let text = std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml");
    let chart: Chart = serde_yaml_ng::from_str(&text).expect("Chart.yaml parses");
    assert_eq!(chart.app_version, env!("CARGO_PKG_VERSION"));
    let image = Rendered::of(&[]).container().image.expect("image");
    assert_eq!(image, format!("kvs-operator:{}", env!("CARGO_PKG_VERSION")));
    let pinned = Rendered::of(&[
        "--set",
        "image.repository=registry.example/kvs-operator",
        "--set",
        &format!("image.digest=sha256:{}", "ab".repeat(32)),
    ]);
    assert_eq!(
        pinned.container().image.as_deref(),
        Some(format!("registry.example/kvs-operator@sha256:{}", "ab".repeat(32)).as_str())
    );
}

/// The value sets CI lints and the e2e tests validate and install.
const MODES: [(&str, &[&str]); 4] = [
    ("default", &[]),
    ("namespaced", &["--set", "watchNamespaces={team-a,team-b}"]),
    (
        "single replica without leader election",
        &[
            "--set",
            "replicaCount=1",
            "--set",
            "leaderElection.enabled=false",
        ],
    ),
    (
        "everything on",
        &[
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.grafanaDashboard.enabled=true",
            "--set",
            "aws.region=eu-west-1",
            "--set",
            "aws.endpointUrl=https://kinesisvideo.eu-west-1.amazonaws.com",
            "--set",
            "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/kvs",
            "--set",
            "replicaCount=3",
        ],
    ),
];

#[test]
fn helm_lint_strict_passes_in_every_mode() {
    for (mode, args) in MODES {
        let out = lint(args);
        assert!(
            out.ok,
            "helm lint --strict ({mode}) failed:\n{}{}",
            out.stdout, out.stderr
        );
        assert!(out.stdout.contains("0 chart(s) failed"), "{}", out.stdout);
    }
}

/// Fails the test unless `helm template` with `args` is refused by the values schema, in a
/// message naming `key`.
fn assert_refused_by_schema(args: &[&str], key: &str) {
    let out = template(args);
    assert!(!out.ok, "helm template {args:?} was accepted");
    assert!(
        out.stderr
            .contains("values don't meet the specifications of the schema")
            && out.stderr.contains(key),
        "helm template {args:?} failed for another reason: {}",
        out.stderr
    );
}

#[test]
fn the_values_schema_refuses_typos_and_bad_values() {
    let cases: [(&[&str], &str); 18] = [
        (&["--set", "replicaCont=2"], "replicaCont"),
        (&["--set", "image.pullpolicy=Always"], "pullpolicy"),
        (&["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
        (&["--set", "leaderElection.enable=false"], "enable"),
        (&["--set", "operator.resyncPeriod=ten"], "resyncPeriod"),
        (&["--set", "operator.awsQuotaShare=2"], "awsQuotaShare"),
        (&["--set", "operator.awsQuotaShare=0"], "awsQuotaShare"),
        // Intervals the operator would refuse at start (it would spin on them).
        (&["--set", "operator.pollInterval=0s"], "pollInterval"),
        (&["--set", "operator.resyncPeriod=0m0s"], "resyncPeriod"),
        (
            &["--set", "leaderElection.leaseDuration=0s"],
            "leaseDuration",
        ),
        (&["--set", "watchNamespaces={Team_A}"], "watchNamespaces"),
        (&["--set", "metrics.serviceMonitor.enabeld=true"], "enabeld"),
        (
            &[
                "--set",
                "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=my-role",
            ],
            "role-arn",
        ),
        (&["--set", "resources.limits.memory=lots"], "memory"),
        (&["--set", "crds.install=maybe"], "install"),
        (&["--set", "crds.instal=false"], "instal"),
        (&["--set", "deletionProtection.enable=false"], "enable"),
        (&["--set", "exports.enabled=no"], "enabled"),
    ];
    for (args, key) in cases {
        assert_refused_by_schema(args, key);
        let out = lint(args);
        assert!(!out.ok, "helm lint {args:?} was accepted");
    }

    // The usual way: a values file with a misspelt key.
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chart-typo-values.yaml");
    std::fs::write(&file, "replicaCont: 2\nleaderElection:\n  enabled: true\n").expect("write");
    let out = template(&["--values", file.to_str().expect("utf-8 path")]);
    assert!(
        !out.ok
            && out
                .stderr
                .contains("additional properties 'replicaCont' not allowed"),
        "{}",
        out.stderr
    );
}

#[test]
fn several_replicas_without_leader_election_are_refused_naming_both_values() {
    // The default two replicas, and three, with leader election off: refused by the
    // values schema, whose message names both values.
    for args in [
        &["--set", "leaderElection.enabled=false"][..],
        &[
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=3",
        ][..],
    ] {
        let out = template(args);
        assert!(!out.ok, "{args:?} rendered");
        assert!(
            out.stderr
                .contains("values don't meet the specifications of the schema")
                && out.stderr.contains("at '/replicaCount': maximum")
                && out
                    .stderr
                    .contains("at '/leaderElection/enabled': value must be true"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!lint(args).ok, "helm lint {args:?} passed");
    }
    // One replica without leader election is fine.
    Rendered::of(&[
        "--set",
        "leaderElection.enabled=false",
        "--set",
        "replicaCount=1",
    ]);
    // And with the schema skipped, rendering still refuses it.
    let out = template(&[
        "--skip-schema-validation",
        "--set",
        "leaderElection.enabled=false",
    ]);
    assert!(
        !out.ok && out.stderr.contains("needs leaderElection.enabled=true"),
        "{}",
        out.stderr
    );
    let out = template(&[
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.service.enabled=false",
    ]);
    assert!(
        !out.ok && out.stderr.contains("needs metrics.service.enabled=true"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_deployment_is_locked_down_with_probes_and_resources() {
    let rendered = Rendered::of(&[]);
    let deployment = rendered.deployment();
    let spec = deployment.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.expect("pod spec");
    let sa_name = format!("{RELEASE}-kvs-operator");
    assert_eq!(pod.service_account_name.as_deref(), Some(sa_name.as_str()));
    assert_eq!(pod.automount_service_account_token, Some(true));
    let psc = pod.security_context.expect("pod securityContext");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(psc.run_as_group, Some(65532));
    assert_eq!(
        psc.seccomp_profile.map(|p| p.type_).as_deref(),
        Some("RuntimeDefault")
    );
    assert!(pod.host_network.is_none() && pod.host_pid.is_none());

    let container = rendered.container();
    let sc = container
        .security_context
        .clone()
        .expect("container securityContext");
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(sc.run_as_non_root, Some(true));
    let caps = sc.capabilities.expect("capabilities");
    assert_eq!(caps.drop, Some(vec!["ALL".to_string()]));
    assert!(caps.add.is_none());
    assert_eq!(
        sc.seccomp_profile.map(|p| p.type_).as_deref(),
        Some("RuntimeDefault")
    );

    let resources = container.resources.clone().expect("resources");
    for (what, list) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        let list = list.as_ref().unwrap_or_else(|| panic!("no {what}"));
        assert!(
            list.contains_key("cpu") && list.contains_key("memory"),
            "{what}: {list:?}"
        );
    }

    let ports = container.ports.clone().expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].container_port),
        (Some("metrics"), 8080)
    );
    for (probe, path) in [
        (container.liveness_probe.clone(), "/healthz"),
        (container.readiness_probe.clone(), "/readyz"),
    ] {
        let get = probe
            .and_then(|p| p.http_get)
            .unwrap_or_else(|| panic!("no httpGet probe on {path}"));
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.port, IntOrString::String("metrics".into()));
    }

    let args = rendered.args();
    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert_eq!(flag(&args, "--metrics-bind-address"), Some("0.0.0.0:8080"));
    assert!(args.iter().any(|a| a == "--leader-elect"), "{args:?}");
    assert_eq!(flag(&args, "--leader-election-id"), Some("kvs-operator"));
    assert_eq!(
        flag(&args, "--namespaces"),
        None,
        "all namespaces by default"
    );
    for (name, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        let env = rendered.env(name).unwrap_or_else(|| panic!("no {name}"));
        let field_ref = env.value_from.and_then(|v| v.field_ref).expect("fieldRef");
        assert_eq!(field_ref.field_path, field);
    }
    assert!(rendered.env("AWS_REGION").is_none() && rendered.env("AWS_ENDPOINT_URL").is_none());
}

#[test]
fn the_operator_parses_the_rendered_command_line() {
    for (mode, values) in MODES {
        let args = Rendered::of(values).args();
        let cli = kvs_operator::cli::Cli::try_parse_from(
            std::iter::once("kvs-operator").chain(args.iter().map(String::as_str)),
        )
        .unwrap_or_else(|e| panic!("{mode}: kvs-operator refuses {args:?}:\n{e}"));
        let Command::Run(run) = cli.command else {
            panic!("{mode}: {args:?} is not `run`");
        };
        assert_eq!(run.metrics_bind_address.port(), 8080, "{mode}");
        assert_eq!(run.resync_period, Duration::from_secs(600), "{mode}");
        assert_eq!(run.aws_quota_share, 1.0, "{mode}");
        let leader = !values.contains(&"leaderElection.enabled=false");
        assert_eq!(run.leader_elect, leader, "{mode}");
        assert_eq!(run.leader_election_id, "kvs-operator", "{mode}");
        let namespaces: &[&str] = if mode == "namespaced" {
            &["team-a", "team-b"]
        } else {
            &[]
        };
        assert_eq!(run.watched_namespaces(), namespaces, "{mode}");
    }
}

#[test]
fn cluster_mode_grants_the_operator_its_own_kinds_and_nothing_else() {
    let rendered = Rendered::of(&[]);
    let expected_kinds: BTreeSet<String> = [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(rendered.kinds(), expected_kinds);

    let sa: ServiceAccount = rendered.one("ServiceAccount");
    let sa_name = sa.metadata.name.clone().expect("name");
    assert_eq!(sa.metadata.namespace.as_deref(), Some(NAMESPACE));

    let operator_role = format!("{RELEASE}-kvs-operator");
    let cluster_role: ClusterRole = rendered
        .all::<ClusterRole>("ClusterRole")
        .into_iter()
        .find(|role| role.metadata.name.as_deref() == Some(operator_role.as_str()))
        .expect("the operator's ClusterRole");
    let cluster_wide = grants(&cluster_role.rules.unwrap_or_default());
    assert_only_own_kinds(&cluster_wide, &custom_kinds());
    // The same rules as namespaced mode's Roles and cluster-wide ClusterRole together.
    let namespaced = Rendered::of(&["--set", "watchNamespaces={team-a}"]);
    let mut split: BTreeSet<Grant> = BTreeSet::new();
    for role in namespaced.all::<Role>("Role") {
        if role.metadata.namespace.as_deref() == Some("team-a") {
            split.extend(grants(&role.rules.unwrap_or_default()));
        }
    }
    for role in namespaced.all::<ClusterRole>("ClusterRole") {
        if role.metadata.name.as_deref() == Some(format!("{operator_role}-cluster").as_str()) {
            split.extend(grants(&role.rules.unwrap_or_default()));
        }
    }
    assert_eq!(cluster_wide, split);
    assert!(cluster_role.aggregation_rule.is_none());
    assert_eq!(
        tenant_roles(&rendered).len() + 1,
        rendered.all::<ClusterRole>("ClusterRole").len(),
        "besides the operator's, only the tenants' aggregated roles"
    );
    let binding: ClusterRoleBinding = rendered.one("ClusterRoleBinding");
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(Some(binding.role_ref.name), cluster_role.metadata.name);
    let subjects = binding.subjects.expect("subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        (
            subjects[0].kind.as_str(),
            subjects[0].name.as_str(),
            subjects[0].namespace.as_deref()
        ),
        ("ServiceAccount", sa_name.as_str(), Some(NAMESPACE))
    );

    // The only Role: the Lease, in the release namespace.
    let role: Role = rendered.one("Role");
    assert_eq!(role.metadata.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(
        grants(&role.rules.unwrap_or_default()),
        lease_grants("kvs-operator")
    );
    let binding: RoleBinding = rendered.one("RoleBinding");
    assert_eq!(binding.metadata.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(Some(binding.role_ref.name), role.metadata.name);
    assert_eq!(binding.subjects.expect("subjects")[0].name, sa_name);

    // A different Lease name is the one the Role lets the operator renew.
    let renamed = Rendered::of(&["--set", "leaderElection.id=kvs-lock"]);
    let role: Role = renamed.one("Role");
    assert_eq!(
        grants(&role.rules.unwrap_or_default()),
        lease_grants("kvs-lock")
    );
    assert_eq!(
        flag(&renamed.args(), "--leader-election-id"),
        Some("kvs-lock")
    );
}

#[test]
fn namespaced_mode_has_roles_only_in_the_watched_namespaces() {
    let rendered = Rendered::of(&["--set", "watchNamespaces={team-a,team-b}"]);
    // Cluster-wide only what AccountBindings need, and the tenants' aggregated roles.
    let operator_cluster_role = format!("{RELEASE}-kvs-operator-cluster");
    let cluster_roles: Vec<ClusterRole> = rendered.all("ClusterRole");
    let tenants = tenant_roles(&rendered);
    for role in &cluster_roles {
        let name = role.metadata.name.clone().unwrap_or_default();
        if name == operator_cluster_role {
            // Cluster-wide only what cluster-scoped kinds need, and namespaces to read.
            let cluster = grants(role.rules.as_deref().unwrap_or_default());
            let kinds = custom_kinds();
            for (group, resource, _, _) in &cluster {
                let base = resource.split('/').next().unwrap_or_default();
                let scoped = kinds
                    .iter()
                    .any(|k| !k.namespaced && k.group == *group && k.plural == base);
                assert!(
                    scoped || (group.is_empty() && resource == "namespaces"),
                    "{group} {resource} granted cluster-wide in namespaced mode"
                );
            }
        } else {
            assert!(tenants.contains_key(&name), "unexpected ClusterRole {name}");
        }
    }
    let cluster_binding: ClusterRoleBinding = rendered.one("ClusterRoleBinding");
    assert_eq!(cluster_binding.role_ref.name, operator_cluster_role);
    assert_eq!(
        flag(&rendered.args(), "--namespaces"),
        Some("team-a,team-b")
    );

    let roles: Vec<Role> = rendered.all("Role");
    let mut by_namespace = BTreeMap::new();
    for role in roles {
        let namespace = role.metadata.namespace.clone().expect("namespace");
        by_namespace.insert(namespace, grants(&role.rules.unwrap_or_default()));
    }
    assert_eq!(
        by_namespace.keys().map(String::as_str).collect::<Vec<_>>(),
        ["kvs-system", "team-a", "team-b"]
    );
    // The namespaced kinds' rules in each watched namespace, and the same in both.
    let kinds: Vec<CustomKind> = custom_kinds()
        .into_iter()
        .filter(|k| k.namespaced)
        .collect();
    assert_only_own_kinds(&by_namespace["team-a"], &kinds);
    assert_eq!(by_namespace["team-a"], by_namespace["team-b"]);
    assert_eq!(by_namespace["kvs-system"], lease_grants("kvs-operator"));

    let bindings: Vec<RoleBinding> = rendered.all("RoleBinding");
    assert_eq!(bindings.len(), 3);
    for binding in bindings {
        let subjects = binding.subjects.expect("subjects");
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].namespace.as_deref(), Some(NAMESPACE));
        assert_eq!(subjects[0].name, format!("{RELEASE}-kvs-operator"));
    }
}

#[test]
fn leader_election_and_the_disruption_budget_follow_the_replicas() {
    let single = Rendered::of(&[
        "--set",
        "replicaCount=1",
        "--set",
        "leaderElection.enabled=false",
    ]);
    let kinds = single.kinds();
    assert!(
        !kinds.contains("Role") && !kinds.contains("RoleBinding"),
        "{kinds:?}"
    );
    assert!(!kinds.contains("PodDisruptionBudget"), "{kinds:?}");
    let args = single.args();
    assert!(
        !args.iter().any(|a| a.starts_with("--leader-elect")),
        "{args:?}"
    );

    // One replica with leader election: still a Lease, no budget that blocks drains.
    let one = Rendered::of(&["--set", "replicaCount=1"]);
    assert!(one.kinds().contains("Role") && !one.kinds().contains("PodDisruptionBudget"));

    let three = Rendered::of(&["--set", "replicaCount=3"]);
    let pdb: PodDisruptionBudget = three.one("PodDisruptionBudget");
    let spec = pdb.spec.expect("spec");
    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    let deployment = three.deployment();
    let deployment_spec = deployment.spec.expect("spec");
    assert_eq!(deployment_spec.replicas, Some(3));
    assert_eq!(
        spec.selector.expect("selector").match_labels,
        deployment_spec.selector.match_labels
    );
}

#[test]
fn the_metrics_service_and_service_monitor_point_at_the_probe_port() {
    let rendered = Rendered::of(&[
        "--set",
        "metrics.port=9090",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prometheus",
    ]);
    assert_eq!(
        flag(&rendered.args(), "--metrics-bind-address"),
        Some("0.0.0.0:9090")
    );
    let container = rendered.container();
    assert_eq!(container.ports.expect("ports")[0].container_port, 9090);

    let service: Service = rendered.one("Service");
    let spec = service.spec.clone().expect("spec");
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(port.name.as_deref(), Some("metrics"));
    assert_eq!(
        port.target_port,
        Some(IntOrString::String("metrics".into()))
    );
    let pod_labels = rendered
        .deployment()
        .spec
        .expect("spec")
        .template
        .metadata
        .expect("metadata")
        .labels
        .expect("labels");
    for (key, value) in spec.selector.expect("selector") {
        assert_eq!(pod_labels.get(&key), Some(&value), "Service selects {key}");
    }

    let monitor = rendered
        .objects
        .iter()
        .find(|o| o["kind"] == "ServiceMonitor")
        .expect("ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], "metrics");
    assert_eq!(endpoint["path"], "/metrics");
    let service_labels = service.metadata.labels.expect("labels");
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    for (key, value) in selector {
        assert_eq!(
            service_labels.get(key).map(String::as_str),
            value.as_str(),
            "ServiceMonitor selects {key}"
        );
    }
    assert_eq!(
        monitor["spec"]["namespaceSelector"]["matchNames"][0],
        NAMESPACE
    );

    assert!(
        !Rendered::of(&[]).kinds().contains("ServiceMonitor"),
        "off by default"
    );
}

#[test]
fn aws_settings_reach_the_service_account_and_the_container() {
    let role_arn = "arn:aws:iam::123456789012:role/kvs-operator";
    let rendered = Rendered::of(&[
        "--set",
        &format!("serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={role_arn}"),
        "--set",
        "aws.region=eu-west-1",
        "--set",
        "aws.endpointUrl=https://vpce.example:443",
        "--set",
        "extraEnv[0].name=AWS_MAX_ATTEMPTS",
        "--set-string",
        "extraEnv[0].value=5",
        "--set",
        "nodeSelector.kubernetes\\.io/os=linux",
        "--set",
        "tolerations[0].key=dedicated",
        "--set",
        "tolerations[0].operator=Exists",
        "--set",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=arch",
        "--set",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        "--set",
        "operator.logFormat=text",
        "--set",
        "operator.extraArgs={--example-extra-flag}",
    ]);
    let sa: ServiceAccount = rendered.one("ServiceAccount");
    assert_eq!(
        sa.metadata
            .annotations
            .expect("annotations")
            .get("eks.amazonaws.com/role-arn")
            .map(String::as_str),
        Some(role_arn)
    );
    let value = |name: &str| rendered.env(name).and_then(|e| e.value);
    assert_eq!(value("AWS_REGION").as_deref(), Some("eu-west-1"));
    assert_eq!(
        value("AWS_ENDPOINT_URL").as_deref(),
        Some("https://vpce.example:443")
    );
    assert_eq!(value("AWS_MAX_ATTEMPTS").as_deref(), Some("5"));
    let args = rendered.args();
    assert_eq!(flag(&args, "--log-format"), Some("text"));
    assert_eq!(
        args.last().map(String::as_str),
        Some("--example-extra-flag")
    );
    let pod = rendered
        .deployment()
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    assert_eq!(
        pod.node_selector
            .expect("nodeSelector")
            .get("kubernetes.io/os")
            .map(String::as_str),
        Some("linux")
    );
    assert_eq!(
        pod.tolerations.expect("tolerations")[0].key.as_deref(),
        Some("dedicated")
    );
    assert!(pod.affinity.and_then(|a| a.node_affinity).is_some());
}

/// One instruction of the Dockerfile, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    rest: String,
}

fn dockerfile() -> Vec<Instruction> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, rest) = current.split_once(' ').unwrap_or((current.as_str(), ""));
        out.push(Instruction {
            keyword: keyword.to_uppercase(),
            rest: rest.split_whitespace().collect::<Vec<_>>().join(" "),
        });
        current.clear();
    }
    out
}

#[test]
fn the_dockerfile_copies_the_release_binary_into_distroless_as_nonroot() {
    let instructions = dockerfile();
    let stages: Vec<(usize, &Instruction)> = instructions
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .collect();
    assert_eq!(stages.len(), 2, "multi-stage: a builder and the runtime");
    let (builder_at, builder) = stages[0];
    let (runtime_at, runtime) = stages[1];
    let builder_words: Vec<&str> = builder.rest.split(' ').collect();
    assert!(builder_words[0].contains("rust:"), "{builder:?}");
    assert!(
        builder_words[0].ends_with("-bookworm"),
        "Debian 12, as the runtime: {builder:?}"
    );
    assert_eq!(builder_words[1..].join(" ").to_lowercase(), "as builder");
    assert_eq!(runtime.rest, "gcr.io/distroless/cc-debian12:nonroot");

    // The builder builds and strips exactly the binary the runtime stage copies.
    let build = instructions[builder_at..runtime_at]
        .iter()
        .find(|i| i.keyword == "RUN" && i.rest.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert!(
        build
            .rest
            .contains("cargo build --release --locked --bin kvs-operator"),
        "{build:?}"
    );
    assert!(
        build
            .rest
            .contains("strip -o /kvs-operator target/release/kvs-operator"),
        "{build:?}"
    );
    assert_eq!(
        env!("CARGO_BIN_EXE_kvs-operator").rsplit('/').next(),
        Some("kvs-operator"),
        "the binary cargo builds is target/<profile>/kvs-operator"
    );

    let runtime_part = &instructions[runtime_at + 1..];
    let copies: Vec<&Instruction> = runtime_part
        .iter()
        .filter(|i| i.keyword == "COPY")
        .collect();
    assert_eq!(copies.len(), 1, "the runtime image gets the binary only");
    assert_eq!(copies[0].rest, "--from=builder /kvs-operator /kvs-operator");
    assert!(
        !runtime_part.iter().any(|i| i.keyword == "RUN"),
        "distroless has no shell"
    );
    let last = |keyword: &str| {
        runtime_part
            .iter()
            .rev()
            .find(|i| i.keyword == keyword)
            .map(|i| i.rest.as_str())
    };
    let user = last("USER").expect("USER");
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let uid: i64 = uid
        .parse()
        .expect("numeric uid, so runAsNonRoot can check it");
    assert_ne!(uid, 0);
    assert_ne!(gid, "0");
    assert_eq!(last("ENTRYPOINT"), Some(r#"["/kvs-operator"]"#));
    assert_eq!(last("CMD"), Some(r#"["run"]"#));

    // The chart runs the image as that user, with the same subcommand.
    let rendered = Rendered::of(&[]);
    let pod = rendered
        .deployment()
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    let psc = pod.security_context.expect("securityContext");
    assert_eq!(psc.run_as_user, Some(uid));
    assert_eq!(
        psc.run_as_group.map(|g| g.to_string()).as_deref(),
        Some(gid)
    );
    assert!(
        rendered.container().command.is_none(),
        "the image's ENTRYPOINT runs"
    );
    assert_eq!(rendered.args()[0], "run");
}

#[test]
fn tenants_get_streams_and_channels_through_the_default_roles_and_never_account_bindings() {
    let rendered = Rendered::of(&[]);
    let roles = tenant_roles(&rendered);
    let edit = &roles[&format!("{RELEASE}-kvs-operator-edit")];
    let view = &roles[&format!("{RELEASE}-kvs-operator-view")];
    for label in [
        "rbac.authorization.k8s.io/aggregate-to-edit",
        "rbac.authorization.k8s.io/aggregate-to-admin",
    ] {
        assert_eq!(
            edit.0.get(label).map(String::as_str),
            Some("true"),
            "{label}"
        );
    }
    assert_eq!(
        view.0
            .get("rbac.authorization.k8s.io/aggregate-to-view")
            .map(String::as_str),
        Some("true")
    );
    let verbs_on = |grants: &BTreeSet<Grant>, resource: &str| -> BTreeSet<String> {
        grants
            .iter()
            .filter(|(_, r, _, _)| r == resource)
            .map(|(_, _, verb, _)| verb.clone())
            .collect()
    };
    let all: BTreeSet<String> = [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let read: BTreeSet<String> = ["get", "list", "watch"]
        .into_iter()
        .map(String::from)
        .collect();
    for kind in ["videostreams", "signalingchannels"] {
        assert_eq!(verbs_on(&edit.1, kind), all, "{kind}");
        assert_eq!(verbs_on(&view.1, kind), read, "{kind}");
    }
    for (name, (_, grants)) in &roles {
        assert!(
            grants
                .iter()
                .all(|(_, resource, _, _)| !resource.starts_with("accountbindings")),
            "{name} must not grant AccountBindings: {grants:?}"
        );
    }
    let off = Rendered::of(&["--set", "rbac.aggregateToDefaultRoles=false"]);
    assert!(tenant_roles(&off).is_empty());
}

/// What the schema refuses, the binary refuses too, at start and before it connects to
/// anything: a quota share outside (0, 1] (0 panicked, negative ones too) and a zero
/// poll, resync or lease interval (they spun).
#[test]
fn the_operator_refuses_at_start_what_would_panic_or_spin() {
    for (flag, value, message) in [
        ("--aws-quota-share", "0", "greater than 0 and at most 1"),
        ("--aws-quota-share", "-1", "greater than 0 and at most 1"),
        ("--poll-interval", "0s", "must be longer than 0s"),
        ("--resync-period", "0m", "must be longer than 0s"),
        (
            "--leader-election-lease-duration",
            "0s",
            "must be longer than 0s",
        ),
    ] {
        let out = Process::new(env!("CARGO_BIN_EXE_kvs-operator"))
            .args(["run", flag, value])
            // Nothing to connect to: a refusal must come before any attempt.
            .env("KUBECONFIG", "/nonexistent")
            .output()
            .expect("kvs-operator runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(&format!("invalid value '{value}' for '{flag}"))
                && first.contains(message),
            "{flag} {value}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // The environment fallback is checked the same way.
    let out = Process::new(env!("CARGO_BIN_EXE_kvs-operator"))
        .arg("run")
        .env("KVS_OPERATOR_AWS_QUOTA_SHARE", "0")
        .output()
        .expect("kvs-operator runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("greater than 0 and at most 1"));
}

/// A rendered policy's name and the spec of its binding, by policy name.
fn policies(rendered: &Rendered) -> BTreeMap<String, Value> {
    let bindings: Vec<&Value> = rendered
        .objects
        .iter()
        .filter(|o| o["kind"] == "ValidatingAdmissionPolicyBinding")
        .collect();
    rendered
        .objects
        .iter()
        .filter(|o| o["kind"] == "ValidatingAdmissionPolicy")
        .map(|policy| {
            let name = policy["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_string();
            let binding = bindings
                .iter()
                .find(|b| b["spec"]["policyName"] == name.as_str())
                .unwrap_or_else(|| panic!("{name} has no binding"));
            assert_eq!(
                binding["spec"]["validationActions"],
                serde_json::json!(["Deny"])
            );
            (name, policy["spec"].clone())
        })
        .collect()
}

#[test]
fn deletion_protection_and_the_export_guard_are_on_by_default_and_each_can_be_turned_off() {
    let protection = format!("{RELEASE}-kvs-operator-deletion-protection");
    let exports = format!("{RELEASE}-kvs-operator-exports");
    let configmaps = |rendered: &Rendered| -> BTreeSet<String> {
        rendered
            .all::<ClusterRole>("ClusterRole")
            .into_iter()
            .flat_map(|r| grants(&r.rules.unwrap_or_default()))
            .filter(|(_, resource, _, _)| resource == "configmaps")
            .map(|(_, _, verb, _)| verb)
            .collect()
    };
    let default = Rendered::of(&[]);
    let on = policies(&default);
    assert_eq!(
        on.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([protection.clone(), exports.clone()])
    );
    // Fail closed: an error in a policy refuses, it does not let through.
    for spec in on.values() {
        assert_eq!(spec["failurePolicy"], "Fail");
    }
    let rules = &on[&protection]["matchConstraints"]["resourceRules"][0];
    assert_eq!(rules["operations"], serde_json::json!(["DELETE"]));
    assert_eq!(
        rules["resources"],
        serde_json::json!(["videostreams", "signalingchannels"])
    );
    // The guard applies to the operator's own ServiceAccount, and to nothing else.
    let condition = on[&exports]["matchConditions"][0]["expression"]
        .as_str()
        .expect("expression");
    assert!(
        condition.contains(&format!(
            "'system:serviceaccount:{NAMESPACE}:{RELEASE}-kvs-operator'"
        )),
        "{condition}"
    );
    let renamed = Rendered::of(&["--set", "serviceAccount.name=kvs-bot"]);
    let condition = policies(&renamed)[&exports]["matchConditions"][0]["expression"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        condition.contains(&format!("'system:serviceaccount:{NAMESPACE}:kvs-bot'")),
        "{condition}"
    );
    assert_eq!(
        configmaps(&default),
        EXPORT_VERBS.iter().map(|v| v.to_string()).collect()
    );

    let unprotected = Rendered::of(&["--set", "deletionProtection.enabled=false"]);
    assert_eq!(
        policies(&unprotected).into_keys().collect::<Vec<_>>(),
        [exports]
    );
    let no_exports = Rendered::of(&["--set", "exports.enabled=false"]);
    assert_eq!(
        policies(&no_exports).into_keys().collect::<Vec<_>>(),
        [protection]
    );
    assert!(
        configmaps(&no_exports).is_empty(),
        "no ConfigMap permission without exports"
    );
    // Namespaced mode: the ConfigMap rules are in the watched namespaces' Roles only.
    let namespaced = Rendered::of(&["--set", "watchNamespaces={team-a}"]);
    assert!(configmaps(&namespaced).is_empty());
    let team_a: Vec<Role> = namespaced
        .all::<Role>("Role")
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some("team-a"))
        .collect();
    let verbs: BTreeSet<String> = grants(&team_a[0].rules.clone().unwrap_or_default())
        .into_iter()
        .filter(|(_, resource, _, _)| resource == "configmaps")
        .map(|(_, _, verb, _)| verb)
        .collect();
    assert_eq!(verbs, EXPORT_VERBS.iter().map(|v| v.to_string()).collect());
}
