//! The run's one table (kvs-operator measured, Crossplane and ACK from their defaults, side
//! by side), the details behind it, and its block in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use kvs_emulator::Operation;
use kvs_operator::kvs::sdk::LIST_PAGE_SIZE;

use crate::BoxError;
use crate::apiserver::describe_writes;
use crate::chart::{self, Sample};
use crate::churn::{Churned, ROUNDS};
use crate::drift::Corrected;
use crate::floors::Floors;
use crate::machine::{Machine, human};
use crate::models::{ACK, CROSSPLANE, Model, span};
use crate::phase::{CreateRate, Measured};
use crate::scenario::{Phase, Scenario, thousands};

/// Everything the run measured.
#[derive(Default)]
pub struct Results {
    pub machine: Option<Machine>,
    pub started: String,
    pub commit: String,
    pub baseline: Option<Measured>,
    pub converge: Option<Measured>,
    pub apply: Option<Duration>,
    /// Time from the start of the apply until every VideoStream was Ready; `None` when the
    /// run stopped first, with `stopped` saying where.
    pub converged: Option<Duration>,
    pub stopped: Option<String>,
    /// The two floors (the API server's after its write-rate phase).
    pub floors: Option<Floors>,
    /// Convergence sampled each second, for its chart.
    pub samples: Vec<Sample>,
    pub create_rates: BTreeMap<String, CreateRate>,
    pub restart: Option<Measured>,
    /// Time from the restart until the replicas were back at rest.
    pub back_at_rest: Option<Duration>,
    pub rest: Option<Measured>,
    pub drift: Option<Measured>,
    pub drifts: Vec<Corrected>,
    pub tag_phase: Option<Measured>,
    pub tag: Option<Corrected>,
    /// The tag-audit period the tag phase ran with, after the operator's stretching.
    pub tag_period: Duration,
    pub tag_share: f64,
    /// The churn phase: its rounds and memory, and what it cost.
    pub churn: Option<Churned>,
    pub churn_phase: Option<Measured>,
    /// Per replica: name, shards held at rest.
    pub shards: Vec<(String, f64)>,
    /// The replicas' own metrics at the end of a phase: (phase, summary).
    pub operator_metrics: Vec<(String, String)>,
}

/// All AWS calls (KVS and STS) per stream per hour over a phase.
pub fn per_stream_hour(phase: &Measured, streams: usize) -> f64 {
    let calls: u64 = phase.by_operation().values().map(|(t, _)| t).sum();
    calls as f64 / streams as f64 * 3600.0 / phase.duration.as_secs_f64().max(1e-9)
}

fn operator_memory(phase: &Measured) -> String {
    let replicas: Vec<String> = phase
        .processes
        .iter()
        .filter(|(label, _, _)| label.starts_with("operator"))
        .map(|(label, _, memory)| match memory {
            Some(m) => format!(
                "{} {:.1} MiB (peak {:.1})",
                label.trim_start_matches("operator "),
                m.rss_mib,
                m.peak_mib
            ),
            None => format!("{} gone", label.trim_start_matches("operator ")),
        })
        .collect();
    replicas.join(", ")
}

fn process_memory(phase: &Measured, label: &str) -> String {
    phase
        .processes
        .iter()
        .find(|(l, _, _)| l == label)
        .and_then(|(_, _, m)| *m)
        .map_or("?".into(), |m| {
            format!("{:.0} MiB (peak {:.0})", m.rss_mib, m.peak_mib)
        })
}

fn cpu_line(phase: &Measured, label: &str) -> String {
    let cpu = phase.cpu_of(label);
    let secs = phase.duration.as_secs_f64().max(1e-9);
    format!("{cpu:.1} s ({:.0} % of a core)", cpu / secs * 100.0)
}

/// Writes by the operator and the API server itself during a phase, by resource, the
/// benchmark's own creates taken out.
fn writes_besides(phase: &Measured, own_creates: u64) -> BTreeMap<String, u64> {
    let mut writes = phase.requests.writes_by_resource();
    if own_creates > 0
        && let Some(count) = writes.get_mut("videostreams")
    {
        *count = count.saturating_sub(own_creates);
        if *count == 0 {
            writes.remove("videostreams");
        }
    }
    writes
}

/// All writes of a phase but the benchmark's own creates and what the idle control plane
/// writes on its own in as long (its endpoints and identity lease, about one each per
/// 10 s, measured in the `idle` phase).
fn operator_writes(phase: &Measured, own_creates: u64, idle: Option<&Measured>) -> u64 {
    let mut writes = writes_besides(phase, own_creates);
    if let Some(idle) = idle.filter(|idle| !idle.duration.is_zero()) {
        let scale = phase.duration.as_secs_f64() / idle.duration.as_secs_f64();
        for (resource, count) in idle.requests.writes_by_resource() {
            if let Some(written) = writes.get_mut(&resource) {
                let own = (count as f64 * scale).round() as u64;
                *written = written.saturating_sub(own);
            }
        }
    }
    writes.values().sum()
}

fn writes_line(phase: &Measured, own_creates: u64) -> String {
    let writes = writes_besides(phase, own_creates);
    let total: u64 = writes.values().sum();
    let conflicts = phase.requests.conflicts_by_resource();
    if conflicts.is_empty() {
        return format!("{total} ({})", describe_writes(&writes));
    }
    format!(
        "{total} ({}; of them refused with 409 Conflict: {})",
        describe_writes(&writes),
        describe_writes(&conflicts)
    )
}

fn models_cell(model: &Model, f: impl Fn(&Model) -> String) -> String {
    f(model)
}

/// The one table: kvs-operator measured, Crossplane and ACK from their defaults.
pub fn table(scenario: &Scenario, results: &Results) -> String {
    let n = scenario.streams;
    let largest = scenario.largest_account();
    let floors = results.floors.as_ref();
    let floor = floors.map_or(Duration::from_secs(1), Floors::binding);
    let quota_floor = floors.map_or(floor, |f| f.quota);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let both = |f: &dyn Fn(&Model) -> String| [models_cell(&CROSSPLANE, f), models_cell(&ACK, f)];

    // Convergence.
    let converged = match (results.converged, &results.stopped) {
        (Some(t), _) => format!(
            "all Ready in {} = **{:.2}× the floor**; floors: {}; apply took {}",
            human(t),
            t.as_secs_f64() / floor.as_secs_f64(),
            floors.map_or("?".into(), Floors::describe),
            results.apply.map_or("?".into(), human)
        ),
        (None, Some(stopped)) => format!("**did not converge**: {stopped}"),
        (None, None) => "not run".into(),
    };
    let [cp, ack] = both(&|_| {
        format!(
            "≥ {} (the same CreateStream quota); not measured",
            human(quota_floor)
        )
    });
    rows.push([
        format!("convergence, {} VideoStreams", thousands(n as u64)),
        converged,
        cp,
        ack,
    ]);

    if !results.create_rates.is_empty() {
        let rates: Vec<f64> = results.create_rates.values().map(|r| r.mean).collect();
        let best: f64 = results
            .create_rates
            .values()
            .map(|r| r.best_10s)
            .fold(0.0, f64::max);
        let throttled = results.converge.as_ref().map_or(0, |c| {
            c.by_operation()
                .get(&Operation::CreateStream)
                .map_or(0, |x| x.1)
        });
        let low = rates.iter().copied().fold(f64::MAX, f64::min);
        let high = rates.iter().copied().fold(0.0, f64::max);
        rows.push([
            "CreateStream rate per account (quota 50/s)".into(),
            format!(
                "{} account(s): {low:.1}–{high:.1}/s while creating{}; {throttled} throttled",
                rates.len(),
                if best > 0.0 {
                    format!(" (best 10 s: {best:.1}/s)")
                } else {
                    String::new()
                }
            ),
            "—".into(),
            "—".into(),
        ]);
    }
    if let Some(converge) = &results.converge
        && results.converged.is_some()
    {
        let writes = operator_writes(converge, n as u64, results.baseline.as_ref());
        rows.push([
            "API server writes per converged VideoStream (besides the user's create)".into(),
            format!(
                "**{:.3}** ({} in all, the idle control plane's own not counted; the fewest possible: 2, the finalizer and the Ready status)",
                writes as f64 / n as f64,
                thousands(writes)
            ),
            "—".into(),
            "—".into(),
        ]);
    }
    if let Some(converge) = &results.converge {
        rows.push([
            "calls to converge".into(),
            converge.describe_calls(),
            "per stream: CreateStream, DescribeStream while CREATING, then DescribeStream + ListTagsForStream".into(),
            "per stream: CreateStream, then DescribeStream + ListTagsForStream per requeue".into(),
        ]);
    }

    // At rest.
    if let Some(rest) = &results.rest {
        let rate = per_stream_hour(rest, n);
        let tags = rest.of(Operation::ListTagsForStream) as f64 * 3600.0
            / rest.duration.as_secs_f64().max(1e-9)
            / 3600.0;
        let accounts = scenario.accounts.max(1) as f64;
        rows.push([
            "at rest, default settings: AWS calls per stream per hour".into(),
            format!(
                "**{rate:.3}** over {} ({})",
                human(rest.duration),
                rest.describe_calls()
            ),
            CROSSPLANE.at_rest_text(),
            ACK.at_rest_text(),
        ]);
        let [cp, ack] = both(&|m| {
            format!(
                "{:.1} % at {} per account; the whole quota at {} per account",
                m.list_tags_share(largest) * 100.0,
                thousands(largest as u64),
                thousands(m.wall() as u64)
            )
        });
        rows.push([
            "ListTagsForStream quota (50/s per account) used at rest".into(),
            format!("{:.2} %", tags / accounts / 50.0 * 100.0),
            cp,
            ack,
        ]);
    }

    // Drift.
    if !results.drifts.is_empty() {
        let mut parts = Vec::new();
        for d in &results.drifts {
            parts.push(match d.after {
                Some(t) => format!("{} {}", d.kind, human(t)),
                None => format!("{} **not corrected**", d.kind),
            });
        }
        let worst = results.drifts.iter().filter_map(|d| d.after).max();
        let [cp, ack] = both(&|m| format!("≤ {} (the poll)", span(m.drift_bound())));
        rows.push([
            "drift of version, status, retention, media type, device name".into(),
            format!(
                "worst {} with the 5m drift scan (bound: 5m + one reconcile): {}",
                worst.map_or("—".into(), human),
                parts.join(", ")
            ),
            cp,
            ack,
        ]);
    }
    if let Some(tag) = &results.tag {
        let [cp, ack] = both(&|m| format!("≤ {}", span(m.drift_bound())));
        rows.push([
            "tag drift".into(),
            format!(
                "{} with a {} tag-audit period at {:.0} % of the quota (default 6h at 20 %)",
                tag.after.map_or("**not corrected**".into(), human),
                span(results.tag_period),
                results.tag_share * 100.0
            ),
            cp,
            ack,
        ]);
    }

    // Restart.
    if let Some(restart) = &results.restart {
        let pages = largest.div_ceil(LIST_PAGE_SIZE as usize).max(1);
        let [cp, ack] = both(&|m| {
            let (calls, time) = m.restart(n, largest);
            format!(
                "{} calls (every resource observed), ≥ {} of ListTagsForStream quota",
                thousands(calls),
                human(time)
            )
        });
        rows.push([
            "restart with defaults".into(),
            format!(
                "{} ListStreams ({} per account expected), {} per-stream calls, {}; back at rest after {}",
                restart.of(Operation::ListStreams),
                pages,
                restart.per_stream_calls(),
                sts_text(restart),
                results.back_at_rest.map_or("—".into(), human),
            ),
            cp,
            ack,
        ]);
    }

    if let Some(churned) = &results.churn {
        rows.push([
            format!(
                "churn: all {} deleted and applied again, {ROUNDS} times",
                thousands(n as u64)
            ),
            format!(
                "operator RSS at rest afterwards **{:+.1} %** against the first rest; {}",
                churned.change_percent(),
                churned.describe()
            ),
            "—".into(),
            "—".into(),
        ]);
    }

    // Footprint.
    let own = n as u64;
    for (label, phase, own_creates) in [
        ("converge", &results.converge, own),
        ("restart", &results.restart, 0),
        ("rest", &results.rest, 0),
    ] {
        let Some(phase) = phase else { continue };
        rows.push([
            format!("operator RSS, end of {label}"),
            operator_memory(phase),
            "—".into(),
            "—".into(),
        ]);
        rows.push([
            format!(
                "CPU in {label} ({}): operator / kube-apiserver / etcd",
                human(phase.duration)
            ),
            format!(
                "{} / {} / {}",
                cpu_line(phase, "operator"),
                cpu_line(phase, "kube-apiserver"),
                cpu_line(phase, "etcd")
            ),
            "—".into(),
            "—".into(),
        ]);
        rows.push([
            format!("kube-apiserver RSS, end of {label}"),
            process_memory(phase, "kube-apiserver"),
            "—".into(),
            "—".into(),
        ]);
        rows.push([
            format!("API server writes in {label}"),
            writes_line(phase, own_creates),
            "—".into(),
            "—".into(),
        ]);
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "| quantity | kvs-operator (measured) | {} (from defaults) | {} (from defaults) |",
        CROSSPLANE.name, ACK.name
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for row in rows {
        let _ = writeln!(out, "| {} | {} | {} | {} |", row[0], row[1], row[2], row[3]);
    }
    out
}

fn sts_text(phase: &Measured) -> String {
    let sts: u64 = phase
        .by_operation()
        .iter()
        .filter(|(op, _)| op.is_sts())
        .map(|(_, (t, _))| t)
        .sum();
    format!("{sts} STS calls")
}

/// Each phase in full: calls, writes, CPU and memory of every process, load.
pub fn details(scenario: &Scenario, results: &Results) -> String {
    let mut out = String::new();
    let n_streams = scenario.streams;
    let phases = [
        (
            "idle control plane, before the operator",
            &results.baseline,
            0u64,
        ),
        (
            "apply and converge",
            &results.converge,
            scenario.streams as u64,
        ),
        ("restart at the defaults", &results.restart, 0),
        ("rest at the defaults", &results.rest, 0),
        ("drift (out-of-band changes, defaults)", &results.drift, 0),
        ("tag drift (short tag-audit period)", &results.tag_phase, 0),
        (
            "churn (the fleet deleted and applied again, twice)",
            &results.churn_phase,
            (n_streams * ROUNDS) as u64,
        ),
    ];
    for (title, phase, own) in phases {
        let Some(phase) = phase else { continue };
        let _ = writeln!(out, "- **{title}** ({}):", human(phase.duration));
        let _ = writeln!(out, "  - AWS calls: {}", phase.describe_calls());
        if phase.calls.len() > 1 {
            for (account, calls) in &phase.calls {
                let total: u64 = calls.values().map(|c| c.0).sum();
                let throttled: u64 = calls.values().map(|c| c.1).sum();
                let creates = calls.get(&Operation::CreateStream).map_or(0, |c| c.0);
                let _ = writeln!(
                    out,
                    "    - account {account}: {total} calls, {creates} CreateStream, {throttled} throttled"
                );
            }
        }
        let _ = writeln!(
            out,
            "  - API server writes{}: {}",
            if own > 0 {
                " (besides the benchmark's own creates)"
            } else {
                ""
            },
            writes_line(phase, own)
        );
        let reads: u64 = phase
            .requests
            .0
            .iter()
            .filter(|((verb, _, _), _)| matches!(verb.as_str(), "GET" | "LIST" | "WATCH"))
            .map(|(_, c)| *c as u64)
            .sum();
        let _ = writeln!(out, "  - API server reads (GET, LIST, WATCH): {reads}");
        let processes: Vec<String> = phase
            .processes
            .iter()
            .map(|(label, cpu, memory)| {
                let memory = memory.map_or("exited".into(), |m| {
                    format!("{:.1} MiB RSS, peak {:.1}", m.rss_mib, m.peak_mib)
                });
                format!("{label} {cpu:.1} CPU-s, {memory}")
            })
            .collect();
        let _ = writeln!(out, "  - processes: {}", processes.join("; "));
        let _ = writeln!(
            out,
            "  - machine: load average {:.2} mean, {:.2} max; other work used {:.1} CPU-s ({:.2} cores)",
            phase.load.mean(),
            phase.load.load_max,
            phase.others_cpu,
            phase.others_cpu / phase.duration.as_secs_f64().max(1e-9)
        );
    }
    if !results.create_rates.is_empty() {
        let _ = writeln!(
            out,
            "- **CreateStream per account while converging** (sampled each second):"
        );
        for (account, rate) in &results.create_rates {
            let _ = writeln!(
                out,
                "  - {account}: {} creates, {:.1}/s mean, {:.1}/s best 10 s",
                rate.creates, rate.mean, rate.best_10s
            );
        }
    }
    for (phase, summary) in &results.operator_metrics {
        let _ = writeln!(out, "- **operator metrics, end of {phase}**: {summary}");
    }
    if !results.shards.is_empty() {
        let held: Vec<String> = results
            .shards
            .iter()
            .map(|(name, n)| format!("{name} {n:.0}"))
            .collect();
        let _ = writeln!(out, "- **shards held at rest**: {}", held.join(", "));
    }
    for d in results.drifts.iter().chain(results.tag.iter()) {
        let _ = writeln!(
            out,
            "- drift `{}` on {}: {}",
            d.kind,
            d.stream,
            d.after.map_or("not corrected in time".into(), |t| format!(
                "corrected after {}",
                human(t)
            ))
        );
    }
    out
}

/// The scenario's block for docs/benchmarks.md, with its chart when one was drawn (`chart`:
/// its path relative to the docs file).
pub fn block(scenario: &Scenario, results: &Results, chart: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {}", scenario.title());
    let _ = writeln!(out);
    let machine = results
        .machine
        .as_ref()
        .map_or("?".into(), Machine::summary);
    let _ = writeln!(
        out,
        "Measured {} on {machine}, commit `{}`; `{}`.",
        results.started,
        results.commit,
        command(scenario)
    );
    let _ = writeln!(out);
    if let Some(chart) = chart {
        let _ = writeln!(out, "![convergence of {}]({chart})", scenario.title());
        let _ = writeln!(out);
    }
    out.push_str(&table(scenario, results));
    let _ = writeln!(out);
    out.push_str(&details(scenario, results));
    out
}

/// Draws the convergence chart next to the docs file (`benchmarks/<scenario>.svg`) and
/// returns its path relative to it; `None` when convergence was not sampled.
pub fn write_chart(
    docs: &str,
    scenario: &Scenario,
    results: &Results,
) -> Result<Option<String>, BoxError> {
    let Some(floors) = &results.floors else {
        return Ok(None);
    };
    if results.samples.is_empty() {
        return Ok(None);
    }
    let relative = format!("benchmarks/{}.svg", scenario.key().replace([',', '='], "-"));
    let directory = std::path::Path::new(docs)
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let path = directory.join(&relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let title = format!("{}, commit {}", scenario.title(), results.commit);
    std::fs::write(
        &path,
        chart::svg(&title, scenario.streams, &results.samples, floors),
    )?;
    println!("chart written to {}", path.display());
    Ok(Some(relative))
}

/// The command line that reproduces the run.
pub fn command(scenario: &Scenario) -> String {
    let mut vars = Vec::new();
    if scenario.streams != 1000 {
        vars.push(format!("BENCH_STREAMS={}", scenario.streams));
    }
    if scenario.accounts != 0 {
        vars.push(format!("BENCH_ACCOUNTS={}", scenario.accounts));
    }
    if scenario.replicas != 1 {
        vars.push(format!("BENCH_REPLICAS={}", scenario.replicas));
    }
    if scenario.rest != Duration::from_secs(900) {
        vars.push(format!("BENCH_REST_SECS={}", scenario.rest.as_secs()));
    }
    if scenario.phases.len() != 4 || scenario.runs(Phase::Churn) {
        let mut names = vec!["converge".to_string()];
        names.extend(scenario.phases.iter().map(|p| p.name().to_string()));
        vars.push(format!("BENCH_PHASES={}", names.join(",")));
    }
    vars.push("cargo bench --bench operator".into());
    vars.join(" ")
}

const BEGIN: &str = "<!-- bench:";
const END: &str = "<!-- /bench -->";

/// Puts `block` into the docs file between this scenario's markers, replacing what an
/// earlier run wrote there, or appends it when the scenario has no block yet.
pub fn write_docs(path: &str, key: &str, block: &str) -> Result<(), BoxError> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nWritten by `cargo bench --bench operator`.\n\n## Results\n".into()
    });
    let begin = format!("{BEGIN}{key} -->");
    let fresh = format!("{begin}\n{block}{END}");
    let updated = match existing.find(&begin) {
        Some(start) => {
            let end = existing[start..]
                .find(END)
                .map(|e| start + e + END.len())
                .ok_or_else(|| format!("{path}: the block {begin} has no {END}"))?;
            format!("{}{fresh}{}", &existing[..start], &existing[end..])
        }
        None => format!("{}\n{fresh}\n", existing.trim_end()),
    };
    std::fs::write(path, updated)?;
    Ok(())
}
