//! The chart's alerts and dashboard against a running operator: once it reports on a
//! VideoStream, a SignalingChannel and an AccountBinding, every query of the rules and the
//! dashboard parses (promtool) and names only metrics, and labels, that its `/metrics`
//! exports. A metric renamed in the operator, or a label dropped, fails here.

use std::collections::BTreeMap;

use kvs_operator::api::SignalingChannel;

use crate::promql::{self, Expression};
use crate::support::{Harness, channel_manifest, stream_manifest};
use crate::tenancy::{binding, wait_binding_ready};

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

/// Every problem `unexported` finds in `expressions`.
fn problems(
    expressions: &[Expression],
    exported: &BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    expressions
        .iter()
        .flat_map(|e| promql::unexported(e, exported))
        .collect()
}

#[tokio::test]
async fn every_alert_and_dashboard_query_names_what_the_running_operator_exports() {
    let h = Harness::start("monitoring").await;
    h.operator().wait_ready().await;
    let ns = h.namespace.clone();
    // A binding with the operator's own identity, so its gauge and the AccountBinding
    // kind's exist; then one object of each kind in its namespace.
    let bound = format!("{ns}-binding");
    h.apply_cluster_ok(&binding(&bound, &ns, "")).await;
    wait_binding_ready(&h, &bound).await;
    let mark = h.log_mark();
    h.apply_ok(&stream_manifest(
        "cam",
        &format!("  streamName: {ns}-cam\n  dataRetentionInHours: 1\n"),
    ))
    .await;
    h.apply_ok(&channel_manifest(
        "bell",
        &format!("  channelName: {ns}-bell\n"),
    ))
    .await;
    h.wait_ready("cam").await;
    h.wait_ready_kind::<SignalingChannel>("bell").await;
    h.wait_scans(mark, 2).await;
    let (code, exposition) = h.operator().get("/metrics").await.expect("metrics served");
    assert_eq!(code, 200);

    // The fleet as the operator reports it: everything Ready, by kind.
    for (series, value) in [
        (
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"True\"}",
            1.0,
        ),
        (
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"False\"}",
            0.0,
        ),
        (
            "kvs_operator_objects{kind=\"SignalingChannel\",ready=\"True\"}",
            1.0,
        ),
        (
            "kvs_operator_objects{kind=\"AccountBinding\",ready=\"True\"}",
            1.0,
        ),
        (
            "kvs_operator_oldest_not_ready_seconds{kind=\"VideoStream\"}",
            0.0,
        ),
        (
            "kvs_operator_resources{kind=\"SignalingChannel\",aws_status=\"ACTIVE\"}",
            1.0,
        ),
        (
            &format!("kvs_operator_account_binding_ready{{binding=\"{bound}\"}}"),
            1.0,
        ),
        // The binding names no role: it acts in the operator's own account, one shard.
        (
            &format!(
                "kvs_operator_shard_held{{shard=\"{}\"}}",
                kvs_operator::tenancy::IdentityKey::own(h.emulator.region()).shard()
            ),
            1.0,
        ),
    ] {
        assert_eq!(
            sample(&exposition, series),
            Some(value),
            "{series}:\n{exposition}"
        );
    }
    let exported = promql::exported(&exposition);
    for (metric, label) in [
        ("kvs_operator_reconciles_total", "kind"),
        ("kvs_operator_aws_calls_total", "kind"),
        ("kvs_operator_aws_limiter_wait_seconds_bucket", "kind"),
        ("kvs_operator_drift_scans_total", "account"),
    ] {
        assert!(
            exported
                .get(metric)
                .is_some_and(|labels| labels.contains(label)),
            "{metric} without {label}:\n{exposition}"
        );
    }

    // The chart's queries, as an installation renders them.
    let yaml = crate::chart::template(
        h.plane,
        "kvs",
        "kvs-system",
        &[
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.grafanaDashboard.enabled=true",
        ],
    )
    .await;
    let spec = promql::rule_spec(&yaml);
    let rules = promql::rule_expressions(&spec);
    let queries = promql::dashboard_expressions(&promql::dashboard(&yaml));
    let dir = h.plane.dir().join(format!("monitoring-{ns}"));
    std::fs::create_dir_all(&dir).expect("dir");
    for (file, expressions) in [("rules.yaml", &rules), ("dashboard.yaml", &queries)] {
        let path = dir.join(file);
        std::fs::write(&path, promql::rule_file(expressions)).expect("write");
        let (ok, report) = promql::check_rules(&path);
        assert!(ok, "{file}: {report}");
    }
    let all: Vec<Expression> = rules.iter().chain(&queries).cloned().collect();
    assert!(all.len() >= 30, "{all:#?}");
    let found = problems(&all, &exported);
    assert!(found.is_empty(), "{found:#?}\n{exposition}");

    // The check is no rubber stamp: a renamed metric, a dropped label, and a metric the
    // operator never exports are each found.
    let slip = |from: &str, to: &str| -> Vec<Expression> {
        let changed: Vec<Expression> = all
            .iter()
            .filter(|e| e.promql.contains(from))
            .map(|e| Expression {
                origin: e.origin.clone(),
                promql: e.promql.replace(from, to),
            })
            .collect();
        assert!(!changed.is_empty(), "no query contains {from}");
        changed
    };
    for (from, to, found) in [
        (
            "kvs_operator_oldest_not_ready_seconds{",
            "kvs_operator_oldest_unready_seconds{",
            "kvs_operator_oldest_unready_seconds is not exported",
        ),
        (
            "sum by (kind, operation) (rate(kvs_operator_aws_calls_total",
            "sum by (kinds, operation) (rate(kvs_operator_aws_calls_total",
            "groups by kinds",
        ),
        (
            ",outcome=\"Throttled\"",
            ",result=\"Throttled\"",
            "kvs_operator_aws_calls_total has no label result",
        ),
        (
            "absent(kvs_operator_leader{",
            "absent(up{",
            "up is not exported",
        ),
    ] {
        let slipped = problems(&slip(from, to), &exported);
        assert!(
            slipped.iter().any(|p| p.contains(found)),
            "{from} -> {to} went unnoticed: {slipped:#?}"
        );
    }
}
