//! The chart's alerts (a PrometheusRule) and dashboard (a ConfigMap for Grafana's sidecar):
//! rendered only when asked for, every alert unit-tested by promtool (firing, and quiet
//! where it should be) with a runbook section, and every query parsed by promtool. That
//! each query names what a running operator exports is checked in tests/e2e/monitoring.rs.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use super::promql::{self, Expression};
use super::{NAMESPACE, RELEASE, assert_refused_by_schema, chart, repo, template};

const RULES_ON: [&str; 2] = ["--set", "metrics.prometheusRule.enabled=true"];
const DASHBOARD_ON: [&str; 2] = ["--set", "metrics.grafanaDashboard.enabled=true"];

/// The default of `metrics.prometheusRule.runbookUrl`.
const RUNBOOK_URL: &str = "https://github.com/kvs-operator/kvs-operator/blob/main/docs/runbook.md";

/// `helm template` output with `args`, failing the test unless it renders.
fn rendered(args: &[&str]) -> String {
    let out = template(args);
    assert!(out.ok, "helm template {args:?} failed: {}", out.stderr);
    out.stdout
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn alert_names(spec: &Value) -> BTreeSet<String> {
    promql::alerts(spec)
        .iter()
        .map(|a| a["alert"].as_str().expect("alert").to_string())
        .collect()
}

#[test]
fn the_alerts_and_the_dashboard_are_rendered_only_when_asked_for() {
    let off = rendered(&[]);
    let documents = promql::documents(&off);
    assert!(promql::of_kind(&documents, "PrometheusRule").is_empty());
    assert!(promql::of_kind(&documents, "ConfigMap").is_empty());

    let on = rendered(&[
        RULES_ON[0],
        RULES_ON[1],
        "--set",
        "metrics.prometheusRule.labels.release=prometheus",
        DASHBOARD_ON[0],
        DASHBOARD_ON[1],
        "--set",
        "metrics.grafanaDashboard.namespace=monitoring",
        "--set",
        "metrics.grafanaDashboard.annotations.grafana_folder=Kubernetes",
    ]);
    let documents = promql::documents(&on);
    let rules = promql::of_kind(&documents, "PrometheusRule");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rules[0]["metadata"]["namespace"], NAMESPACE);
    assert_eq!(rules[0]["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        rules[0]["metadata"]["labels"]["app.kubernetes.io/instance"],
        RELEASE
    );

    let maps = promql::of_kind(&documents, "ConfigMap");
    assert_eq!(maps.len(), 1);
    let metadata = &maps[0]["metadata"];
    // The sidecar's convention: the label grafana_dashboard, valued "1".
    assert_eq!(metadata["labels"]["grafana_dashboard"], "1");
    assert_eq!(metadata["namespace"], "monitoring");
    assert_eq!(metadata["annotations"]["grafana_folder"], "Kubernetes");
    // The chart's JSON file, as it is.
    let file = std::fs::read_to_string(chart().join("dashboards/kvs-operator.json")).expect("JSON");
    let file: Value = serde_json::from_str(&file).expect("the dashboard file is JSON");
    assert_eq!(promql::dashboard(&on), file);
    // In the release namespace unless told otherwise.
    let default_namespace = rendered(&DASHBOARD_ON);
    let documents = promql::documents(&default_namespace);
    assert_eq!(
        promql::of_kind(&documents, "ConfigMap")[0]["metadata"]["namespace"],
        NAMESPACE
    );
}

/// One `alert_rule_test` case of a promtool test file.
#[derive(Debug, Deserialize)]
struct AlertCase {
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct TestGroup {
    #[serde(default)]
    alert_rule_test: Vec<AlertCase>,
}

#[derive(Debug, Deserialize)]
struct TestFile {
    rule_files: Vec<String>,
    tests: Vec<TestGroup>,
}

#[test]
fn promtool_fires_every_alert_in_a_unit_test_and_keeps_each_quiet_in_another() {
    let tests_path = repo().join("deploy/prometheus/alerts_test.yaml");
    let tests_text = std::fs::read_to_string(&tests_path).expect("alerts_test.yaml");
    let tests: TestFile = serde_yaml_ng::from_str(&tests_text).expect("a promtool test file");
    let spec = promql::rule_spec(&rendered(&RULES_ON));

    // The rules as this release renders them, beside the tests that name them.
    let dir = scratch("promtool-test-rules");
    assert_eq!(tests.rule_files, ["kvs-operator-alerts.yaml"]);
    let rules = serde_yaml_ng::to_string(&spec).expect("YAML");
    std::fs::write(dir.join("kvs-operator-alerts.yaml"), rules).expect("write rules");
    std::fs::write(dir.join("alerts_test.yaml"), &tests_text).expect("write tests");
    let out = Command::new(promql::promtool())
        .current_dir(&dir)
        .args(["test", "rules", "alerts_test.yaml"])
        .output()
        .expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.contains("SUCCESS"),
        "{report}"
    );

    let cases: Vec<&AlertCase> = tests
        .tests
        .iter()
        .flat_map(|g| &g.alert_rule_test)
        .collect();
    let names = alert_names(&spec);
    for name in &names {
        assert!(
            cases
                .iter()
                .any(|c| &c.alertname == name && !c.exp_alerts.is_empty()),
            "no test where {name} fires"
        );
        assert!(
            cases
                .iter()
                .any(|c| &c.alertname == name && c.exp_alerts.is_empty()),
            "no test where {name} stays quiet"
        );
    }
    for case in cases {
        assert!(
            names.contains(&case.alertname),
            "a test of {}, which is no alert",
            case.alertname
        );
    }
}

#[test]
fn every_alert_has_a_severity_a_summary_a_description_and_its_runbook_section() {
    let spec = promql::rule_spec(&rendered(&RULES_ON));
    let runbook = std::fs::read_to_string(repo().join("docs/runbook.md")).expect("runbook");
    let alerts = promql::alerts(&spec);
    assert!(alerts.len() >= 9, "{alerts:#?}");
    for alert in &alerts {
        let name = alert["alert"].as_str().expect("name");
        let severity = alert["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            let text = alert["annotations"][key].as_str().unwrap_or_default();
            assert!(text.len() > 20, "{name}: {key} {text:?}");
        }
        assert_eq!(
            alert["annotations"]["runbook_url"],
            format!("{RUNBOOK_URL}#{}", name.to_lowercase()),
            "{name}"
        );
        assert!(
            runbook.contains(&format!("\n## {name}\n")),
            "docs/runbook.md has no section {name}"
        );
    }
    // And no section of an alert that is gone.
    let names = alert_names(&spec);
    for heading in runbook.lines().filter_map(|l| l.strip_prefix("## Kvs")) {
        let name = format!("Kvs{heading}");
        assert!(
            names.contains(&name),
            "docs/runbook.md has a section {name}, which is no alert"
        );
    }
}

#[test]
fn thresholds_selector_and_labels_reach_the_rules_and_still_parse() {
    let spec = promql::rule_spec(&rendered(&[
        RULES_ON[0],
        RULES_ON[1],
        "--set",
        "metrics.prometheusRule.selector=job=\"kvs-scraped\"\\,cluster=~\"eu-.*\"",
        "--set",
        "metrics.prometheusRule.alertLabels.team=video",
        "--set",
        "metrics.prometheusRule.runbookUrl=https://runbooks.example/kvs.html",
        "--set",
        "metrics.prometheusRule.thresholds.objectsNotReadyMinutes=30",
        "--set",
        "metrics.prometheusRule.thresholds.accountBindingNotReadyFor=45m",
        // helm's --set reads 0.25 as a string; --set-json as the number it is.
        "--set-json",
        "metrics.prometheusRule.thresholds.awsErrorRatio=0.25",
        "--set-json",
        "metrics.prometheusRule.thresholds.awsThrottleRatio=0.125",
        "--set",
        "metrics.prometheusRule.thresholds.limiterWaitSeconds=20",
        "--set",
        "metrics.prometheusRule.thresholds.driftScanWindow=20m",
        "--set",
        "metrics.prometheusRule.thresholds.driftScanFailingFor=1h",
    ]));
    let alerts = promql::alerts(&spec);
    let alert = |name: &str| -> &Value {
        alerts
            .iter()
            .find(|a| a["alert"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let expr = |name: &str| alert(name)["expr"].as_str().expect("expr").to_string();
    assert!(expr("KvsOperatorObjectsNotReady").ends_with("> 1800"));
    assert_eq!(alert("KvsOperatorAccountBindingNotReady")["for"], "45m");
    assert!(expr("KvsOperatorAwsErrors").ends_with("> 0.25"));
    assert!(expr("KvsOperatorAwsThrottled").ends_with("> 0.125"));
    assert!(expr("KvsOperatorRateLimiterSaturated").ends_with("> 20"));
    assert!(expr("KvsOperatorDriftScanFailing").contains("[20m]"));
    assert_eq!(alert("KvsOperatorDriftScanFailing")["for"], "1h");
    for alert in &alerts {
        let name = &alert["alert"];
        let expr = alert["expr"].as_str().expect("expr");
        assert!(
            expr.contains("{job=\"kvs-scraped\",cluster=~\"eu-.*\"") && !expr.contains(NAMESPACE),
            "{name} selects more than asked: {expr}"
        );
        assert_eq!(alert["labels"]["team"], "video", "{name}");
        assert!(
            alert["annotations"]["runbook_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://runbooks.example/kvs.html#kvsoperator")),
            "{name}"
        );
    }
    let dir = scratch("promtool-check-custom-rules");
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&spec).expect("YAML")).expect("write");
    let (ok, report) = promql::check_rules(&path);
    assert!(ok, "{report}");
}

#[test]
fn bad_alert_and_dashboard_values_are_refused_by_the_schema() {
    for (value, key) in [
        ("metrics.prometheusRule.enabeld=true", "enabeld"),
        // Not label matchers: the rules would not parse.
        ("metrics.prometheusRule.selector=job=kvs", "selector"),
        ("metrics.prometheusRule.selector=job=\"kvs\"\\,", "selector"),
        (
            "metrics.prometheusRule.runbookUrl=docs/runbook.md",
            "runbookUrl",
        ),
        // Past the limiter histogram's last bucket: it could never fire.
        (
            "metrics.prometheusRule.thresholds.limiterWaitSeconds=40",
            "limiterWaitSeconds",
        ),
        (
            "metrics.prometheusRule.thresholds.awsErrorRatio=2",
            "awsErrorRatio",
        ),
        (
            "metrics.prometheusRule.thresholds.objectsNotReadyMinutes=0",
            "objectsNotReadyMinutes",
        ),
        (
            "metrics.prometheusRule.thresholds.driftScanWindow=0m",
            "driftScanWindow",
        ),
        (
            "metrics.prometheusRule.thresholds.accountBindingNotReadyFor=ten",
            "accountBindingNotReadyFor",
        ),
        ("metrics.grafanaDashboard.namespace=Monitoring", "namespace"),
    ] {
        assert_refused_by_schema(&["--set", value], key);
    }
}

#[test]
fn every_query_of_the_alerts_and_the_dashboard_parses() {
    let yaml = rendered(&[RULES_ON[0], RULES_ON[1], DASHBOARD_ON[0], DASHBOARD_ON[1]]);
    let spec = promql::rule_spec(&yaml);
    let dashboard = promql::dashboard(&yaml);
    let dir = scratch("promtool-check-queries");

    let rules = dir.join("alerts.yaml");
    std::fs::write(&rules, serde_yaml_ng::to_string(&spec).expect("YAML")).expect("write");
    let (ok, report) = promql::check_rules(&rules);
    assert!(ok, "{report}");
    let count = promql::rule_expressions(&spec).len();
    assert!(
        report.contains(&format!("SUCCESS: {count} rules found")),
        "{report}"
    );

    let queries = promql::dashboard_expressions(&dashboard);
    assert!(queries.len() >= 20, "{queries:#?}");
    let file = dir.join("dashboard.yaml");
    std::fs::write(&file, promql::rule_file(&queries)).expect("write");
    let (ok, report) = promql::check_rules(&file);
    assert!(ok, "{report}");
    assert!(
        report.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{report}"
    );

    // promtool is no rubber stamp: a query with a slip in it is refused.
    let mut broken = queries.clone();
    broken.push(Expression {
        origin: "a slip".into(),
        promql: "sum by (kind) (rate(kvs_operator_reconciles_total[5m])".into(),
    });
    std::fs::write(&file, promql::rule_file(&broken)).expect("write");
    let (ok, report) = promql::check_rules(&file);
    assert!(
        !ok && report.contains("unclosed left parenthesis"),
        "{report}"
    );
}

#[test]
fn the_dashboard_shows_fleet_aws_limiter_reconciles_leader_and_shards() {
    let dashboard = promql::dashboard(&rendered(&DASHBOARD_ON));
    assert_eq!(dashboard["uid"], "kvs-operator");
    let queries = promql::dashboard_expressions(&dashboard);
    let shown = |metric: &str, grouped_by: &[&str]| {
        queries.iter().any(|q| {
            let names = promql::names(&q.promql);
            names.selectors.iter().any(|s| s.metric == metric)
                && grouped_by
                    .iter()
                    .all(|label| names.grouping.iter().any(|g| g == label))
        })
    };
    for (what, metric, grouped_by) in [
        (
            "fleet by kind and Ready",
            "kvs_operator_objects",
            &["kind", "ready"][..],
        ),
        (
            "the oldest not Ready",
            "kvs_operator_oldest_not_ready_seconds",
            &["kind"],
        ),
        (
            "resources by AWS status",
            "kvs_operator_resources",
            &["kind", "aws_status"],
        ),
        (
            "bindings",
            "kvs_operator_account_binding_ready",
            &["binding"],
        ),
        (
            "AWS calls by operation",
            "kvs_operator_aws_calls_total",
            &["operation"],
        ),
        (
            "AWS errors",
            "kvs_operator_aws_calls_total",
            &["operation", "outcome"],
        ),
        (
            "AWS latency",
            "kvs_operator_aws_call_duration_seconds_bucket",
            &["operation", "le"],
        ),
        (
            "limiter waits",
            "kvs_operator_aws_limiter_wait_seconds_bucket",
            &["account", "operation", "le"],
        ),
        (
            "calls waiting",
            "kvs_operator_aws_limiter_waiting",
            &["account"],
        ),
        (
            "reconcile latency",
            "kvs_operator_reconcile_duration_seconds_bucket",
            &["kind", "le"],
        ),
        (
            "reconciles",
            "kvs_operator_reconciles_total",
            &["kind", "outcome"],
        ),
        (
            "drift scans",
            "kvs_operator_drift_scans_total",
            &["account", "outcome"],
        ),
        ("the leader", "kvs_operator_leader", &["pod"]),
        ("shards per replica", "kvs_operator_shards_held", &["pod"]),
        (
            "shard holders",
            "kvs_operator_shard_held",
            &["shard", "pod"],
        ),
    ] {
        assert!(
            shown(metric, grouped_by),
            "the dashboard does not show {what}"
        );
    }
    // Every query reads the chosen data source and is scoped to the chosen operator.
    let mut ids = BTreeSet::new();
    for panel in promql::panels(&dashboard) {
        assert!(
            ids.insert(panel["id"].as_i64().expect("id")),
            "duplicate id {}",
            panel["id"]
        );
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{panel:#}");
            let expr = target["expr"].as_str().expect("expr");
            assert!(
                expr.contains("namespace=\"$namespace\",job=\"$job\""),
                "{}: {expr}",
                panel["title"]
            );
        }
    }
}
