//! The PromQL of the chart's alerts (the PrometheusRule) and dashboard (the ConfigMap): its
//! expressions, a rule file of them for `promtool check rules`, and the metrics and labels
//! they name. Shared by tests/chart.rs (the templates) and the e2e test that checks the
//! names against a running operator's `/metrics`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{Value, json};

/// The labels Prometheus gives every series it scrapes through the chart's ServiceMonitor
/// (the target's, not the operator's): expressions may select and group by them.
pub const TARGET_LABELS: [&str; 7] = [
    "job",
    "namespace",
    "pod",
    "instance",
    "service",
    "endpoint",
    "container",
];

/// The promtool that `hack/tools.sh build` built.
pub fn promtool() -> PathBuf {
    kvs_testenv::prerequisites::chart_tools_dir().join("bin/promtool")
}

/// Every document of a multi-document YAML stream, as JSON values.
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The rendered objects of `kind`.
pub fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

/// The spec of the one PrometheusRule in `rendered`: a Prometheus rule file's content.
pub fn rule_spec(rendered: &str) -> Value {
    let documents = documents(rendered);
    let rules = of_kind(&documents, "PrometheusRule");
    assert_eq!(rules.len(), 1, "one PrometheusRule expected: {rendered}");
    rules[0]["spec"].clone()
}

/// The dashboard of the one ConfigMap labelled `grafana_dashboard` in `rendered`.
pub fn dashboard(rendered: &str) -> Value {
    let documents = documents(rendered);
    let maps: Vec<&Value> = of_kind(&documents, "ConfigMap")
        .into_iter()
        .filter(|m| !m["metadata"]["labels"]["grafana_dashboard"].is_null())
        .collect();
    assert_eq!(
        maps.len(),
        1,
        "one dashboard ConfigMap expected: {rendered}"
    );
    let data = maps[0]["data"].as_object().expect("data");
    assert_eq!(data.len(), 1, "one dashboard per ConfigMap: {data:?}");
    let json = data.values().next().and_then(Value::as_str).expect("JSON");
    serde_json::from_str(json).expect("the dashboard is JSON")
}

/// Every alerting rule of a rule spec.
pub fn alerts(spec: &Value) -> Vec<&Value> {
    spec["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .filter(|r| r["alert"].is_string())
        .collect()
}

/// One PromQL expression and where it comes from.
#[derive(Debug, Clone)]
pub struct Expression {
    /// E.g. `alert KvsOperatorDown`, `panel "Leader"`.
    pub origin: String,
    pub promql: String,
}

/// Every expression of the rules' spec: one per rule.
pub fn rule_expressions(spec: &Value) -> Vec<Expression> {
    spec["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .map(|rule| {
            let name = rule["alert"].as_str().or(rule["record"].as_str());
            Expression {
                origin: format!("rule {}", name.expect("alert or record")),
                promql: rule["expr"].as_str().expect("expr").to_string(),
            }
        })
        .collect()
}

/// Every panel of a dashboard, those of collapsed rows included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .collect();
    while let Some(panel) = todo.pop() {
        todo.extend(panel["panels"].as_array().into_iter().flatten());
        out.push(panel);
    }
    out
}

/// Every query of the dashboard, with Grafana's variables replaced by values a query could
/// have (see [`without_grafana_variables`]): each panel's targets (rows' nested panels too),
/// and the selector of each `label_values(selector, label)` variable.
pub fn dashboard_expressions(dashboard: &Value) -> Vec<Expression> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("every target has an expr");
            out.push(Expression {
                origin: format!("panel {} ({})", panel["title"], target["refId"]),
                promql: without_grafana_variables(expr),
            });
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"]
            .as_str()
            .or(variable["query"].as_str())
            .expect("a query variable has a query");
        let selector = query
            .strip_prefix("label_values(")
            .and_then(|rest| rest.rsplit_once(','))
            .map(|(selector, _)| selector)
            .unwrap_or_else(|| {
                panic!(
                    "variable {}: not label_values(..): {query}",
                    variable["name"]
                )
            });
        out.push(Expression {
            origin: format!("variable {}", variable["name"]),
            promql: without_grafana_variables(selector),
        });
    }
    out
}

/// `expr` with Grafana's interval variables made a duration and its template variables a
/// plain value, so that Prometheus's parser reads it as Grafana sends it.
pub fn without_grafana_variables(expr: &str) -> String {
    let mut out = expr.to_string();
    for interval in ["$__rate_interval", "$__interval", "$__range"] {
        out = out.replace(interval, "5m");
    }
    let mut result = String::new();
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            result.push(c);
            continue;
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        assert!(!name.is_empty(), "a lone $ in {expr}");
        result.push_str("value");
    }
    result
}

/// A rule file with one recording rule per expression, for `promtool check rules`.
pub fn rule_file(expressions: &[Expression]) -> String {
    let rules: Vec<Value> = expressions
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"record": format!("kvs_operator_check:expression_{i}"), "expr": e.promql}))
        .collect();
    let file = json!({"groups": [{"name": "expressions", "rules": rules}]});
    serde_yaml_ng::to_string(&file).expect("YAML")
}

/// `promtool check rules` of the rule file `path`: (success, its output).
pub fn check_rules(path: &Path) -> (bool, String) {
    let out = Command::new(promtool())
        .args(["check", "rules", "--lint=all", "--lint-fatal"])
        .arg(path)
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The label names of every series of an exposition (OpenMetrics or Prometheus text), by
/// sample name (`kvs_operator_aws_calls_total`, `..._bucket`, ...).
pub fn exported(exposition: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = out.entry(line[..name_end].to_string()).or_default();
        if line[name_end..].starts_with('{') {
            let (matchers, _) = braces(&line[name_end..]);
            labels.extend(matchers);
        }
    }
    out
}

/// A metric an expression selects, and the labels its matchers name.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub metric: String,
    pub labels: Vec<String>,
}

/// What an expression names: the metrics it selects (with their matchers' labels), and
/// the labels it aggregates or matches on (`by`, `without`, `on`, `ignoring`,
/// `group_left`, `group_right`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    pub selectors: Vec<Selector>,
    pub grouping: Vec<String>,
}

const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Words of PromQL that are not metrics: operators and modifiers, and the aggregations,
/// which `by (...)` or `without (...)` may separate from their `(` (other functions are
/// always followed by theirs).
const KEYWORDS: [&str; 23] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
];

/// Reads the names out of `promql` (which promtool has parsed), outside string literals:
/// a parenthesised list after a grouping keyword names labels; a number or duration is
/// skipped; any other word that is neither a keyword nor a function (followed by `(`) is
/// a metric, with the labels of the `{...}` matchers that may follow it.
pub fn names(promql: &str) -> Names {
    let mut names = Names::default();
    let chars: Vec<char> = promql.chars().collect();
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            // A number or a duration (10m, 1e3, 0.9).
            while i < chars.len() && (word_char(chars[i]) || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && word_char(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let next = chars[i..]
            .iter()
            .position(|c| !c.is_whitespace())
            .map(|p| i + p);
        let next_char = next.map(|n| chars[n]);
        if GROUPING.contains(&word.as_str()) && next_char == Some('(') {
            let open = next.unwrap_or(i);
            let close = chars[open..]
                .iter()
                .position(|c| *c == ')')
                .map_or(chars.len(), |p| open + p);
            let list: String = chars[open + 1..close].iter().collect();
            names.grouping.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            );
            i = close + 1;
        } else if next_char != Some('(') && !KEYWORDS.contains(&word.as_str()) {
            let mut labels = Vec::new();
            if let Some(open) = next.filter(|_| next_char == Some('{')) {
                let rest: String = chars[open..].iter().collect();
                let (matchers, length) = braces(&rest);
                labels = matchers;
                i = open + length;
            }
            names.selectors.push(Selector {
                metric: word,
                labels,
            });
        }
    }
    names
}

/// The label names in the `{...}` that `text` starts with, and the length of it in chars.
fn braces(text: &str) -> (Vec<String>, usize) {
    let chars: Vec<char> = text.chars().collect();
    assert_eq!(chars.first(), Some(&'{'), "{text}");
    let mut labels = Vec::new();
    let mut i = 1;
    let mut expect_name = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '}' => return (labels, i + 1),
            '"' | '\'' | '`' => {
                i = skip_string(&chars, i);
                continue;
            }
            ',' => expect_name = true,
            c if expect_name && (c.is_ascii_alphabetic() || c == '_') => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                labels.push(chars[start..i].iter().collect());
                expect_name = false;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    panic!("unclosed {{ in {text}");
}

/// The index just past the string literal that starts at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    panic!("unclosed string in {}", chars.iter().collect::<String>());
}

/// What in `expression` the exposition `exported` does not have: metrics it never
/// exports, labels a selector matches on that its metric does not carry, and grouping
/// labels none of the expression's metrics carry (the target's labels always count). An
/// expression naming no metric is a problem too.
pub fn unexported(
    expression: &Expression,
    exported: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let names = names(&expression.promql);
    let mut problems = Vec::new();
    if names.selectors.is_empty() {
        problems.push(format!("{}: names no metric", expression.origin));
    }
    let target: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
    let mut carried = target.clone();
    for selector in &names.selectors {
        let Some(labels) = exported.get(&selector.metric) else {
            problems.push(format!(
                "{}: {} is not exported",
                expression.origin, selector.metric
            ));
            continue;
        };
        carried.extend(labels.iter().cloned());
        for label in &selector.labels {
            if !labels.contains(label) && !target.contains(label) {
                problems.push(format!(
                    "{}: {} has no label {label} (it has {labels:?})",
                    expression.origin, selector.metric
                ));
            }
        }
    }
    for label in &names.grouping {
        if !carried.contains(label) {
            problems.push(format!(
                "{}: groups by {label}, which none of its metrics carries",
                expression.origin
            ));
        }
    }
    problems
}
