//! The operator measured end to end: the release binary against a real kube-apiserver and
//! kvs-emulator enforcing the published KVS quotas. Prints numbers; asserts nothing.
//!
//!     cargo bench --bench operator                                      # 1,000 VideoStreams
//!     BENCH_STREAMS=10000 cargo bench --bench operator                  # 10,000, one account
//!     BENCH_STREAMS=100000 BENCH_ACCOUNTS=10 cargo bench --bench operator
//!     BENCH_STREAMS=10000 BENCH_ACCOUNTS=10 BENCH_REPLICAS=3 cargo bench --bench operator
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `BENCH_STREAMS` | 1000 | VideoStreams in all |
//! | `BENCH_ACCOUNTS` | 0 | AccountBindings, each with its own namespace, role and account (through the emulator's STS); 0: one namespace and the operator's own identity |
//! | `BENCH_REPLICAS` | 1 | operator replicas; more than one elect per shard (`--leader-elect`) |
//! | `BENCH_REST_SECS` | 900 | the rest window at the defaults (three 5-minute drift scans) |
//! | `BENCH_TAG_AUDIT_SECS` | 120 | the tag-audit period of the tag-drift phase (the operator stretches it past its quota share) |
//! | `BENCH_STALL_SECS` | 300 | stop when no VideoStream became Ready for this long, and say where it stopped |
//! | `BENCH_PHASES` | all but churn | the phases after convergence to run, e.g. `converge,restart` for a scale run's convergence, memory and restart cost only (`rest`, `drift` and `churn` imply `restart`; `churn` implies `rest`, and runs only when named) |
//! | `BENCH_DOCS` | `docs/benchmarks.md` | where the scenario's table is written (`-`: nowhere) |
//! | `BENCH_OPERATOR_WRAPPER` | — | a command an operator runs under, e.g. `valgrind --tool=callgrind --callgrind-out-file=/tmp/op.%p` (CPU and RSS are then the operator's own process when the wrapper starts it as a child, as heaptrack does, and the stop signal goes to that child; else the wrapper's, as under valgrind). heaptrack sees glibc's allocations only: the operator's binary allocates with jemalloc, so a heap profile needs a build without its `#[global_allocator]` |
//! | `BENCH_OPERATOR_WRAPPER_PHASE` | `converge` | whose operator runs under it: `converge`, `restart` (restart, rest and drift) or `tags` |
//!
//! Phases: (1) the idle control plane for 10 s, a baseline of the API server's own writes;
//! (2) kube-apiserver's write rate with no operator running (500–2,000 VideoStreams created
//! and their status written once, then deleted), which sets the API server floor; (3)
//! convergence: the operator with a 10 s drift scan and a 1-minute resync, N VideoStreams
//! applied at once, until all are Ready, compared with the larger of the AWS quota floor
//! and the API server floor (see `operator/floors.rs`) and drawn as an SVG next to the
//! docs file; (4) a restart with every flag at its default, until the replicas are back at
//! rest; (5) the rest window at the defaults; (6) version, status, retention, media-type
//! and device-name drift made with the SDK, and how long the defaults take to correct
//! each; (7) when named, churn: the fleet deleted and applied again twice, and the RSS at
//! rest afterwards against the first rest's; (8) a restart with a short tag-audit period
//! and a tag changed outside Kubernetes. Each phase counts the AWS calls at the emulator (per
//! account), the API server's write requests (its `/metrics`), and the CPU and memory of
//! the operator, kube-apiserver and etcd (from /proc). The last lines compare with
//! Crossplane's and ACK's polling models at their documented defaults.
//!
//! Needs the control-plane binaries (`hack/control-plane.sh build`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube::api::Api;
use kvs_emulator::{Config, Emulator, Operation, Running, Settings};
use kvs_operator::api::VideoStream;
use kvs_testenv::ControlPlane;

#[path = "operator/apiserver.rs"]
mod apiserver;
#[path = "operator/chart.rs"]
mod chart;
#[path = "operator/churn.rs"]
mod churn;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "operator/drift.rs"]
mod drift;
#[path = "operator/fleet.rs"]
mod fleet;
#[path = "operator/floors.rs"]
mod floors;
#[path = "operator/machine.rs"]
mod machine;
#[path = "operator/models.rs"]
mod models;
#[path = "operator/operators.rs"]
mod operators;
#[path = "operator/phase.rs"]
mod phase;
#[path = "operator/report.rs"]
mod report;
#[path = "operator/scenario.rs"]
mod scenario;

use chart::Sample;
use floors::Floors;
use machine::{Machine, human};
use operators::{Operator, Settings as OperatorSettings};
use phase::{Mark, Measured, Process, Sampler};
use report::Results;
use scenario::{Phase, REGION, Scenario};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often progress is printed while converging.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// How often convergence is sampled for its chart.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// The default drift-scan interval, which bounds drift correction at the defaults.
const DEFAULT_DRIFT_SCAN: Duration = Duration::from_secs(300);
/// The benchmark's access key for out-of-band changes.
const CONSOLE_KEY: &str = "AKIDCONSOLE";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let scenario = Scenario::from_env()?;
    let mut results = Results {
        machine: Some(Machine::describe()),
        started: k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
        commit: commit(),
        ..Results::default()
    };
    println!(
        "kvs-operator benchmark: {}; KVS quotas enforced by kvs-emulator",
        scenario.title()
    );
    println!(
        "machine: {}",
        results
            .machine
            .as_ref()
            .map_or(String::new(), Machine::summary)
    );

    let plane = ControlPlane::start().await?;
    plane
        .apply_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/crds"))
        .await?;
    let emulator_settings = emulator_settings(&scenario);
    let emulator = Arc::new(
        Emulator::start(Config {
            settings: emulator_settings.clone(),
            ..Config::default()
        })
        .await?,
    );
    fleet::prepare(&plane, &scenario).await?;
    let client = plane.kube_client().await?;
    let sampler = Sampler::start(emulator.clone());
    let pids = plane.pids();
    let fixed = vec![
        Process {
            label: "kube-apiserver".into(),
            pid: pids.kube_apiserver,
        },
        Process {
            label: "etcd".into(),
            pid: pids.etcd,
        },
        Process {
            label: "benchmark (emulator, watch)".into(),
            pid: std::process::id(),
        },
    ];

    // (1) What the API server writes on its own (its identity lease, endpoints).
    let start = Mark::take(&emulator, &client, &fixed).await?;
    sampler.take_load();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let end = Mark::take(&emulator, &client, &fixed).await?;
    results.baseline = Some(Measured::between(&start, &end, &fixed, sampler.take_load()));

    // (2) How fast kube-apiserver takes writes with nobody else writing: the API server floor.
    let probes = floors::probes(&scenario);
    let rate = floors::write_rate(&client, probes).await?;
    results.floors = Some(Floors::new(&scenario, &emulator_settings, rate));
    println!(
        "kube-apiserver alone: {} writes ({probes} creates and status writes, {} in flight) in {:.1}s = {:.0} writes/s",
        rate.writes,
        fleet::APPLY_IN_FLIGHT,
        rate.took.as_secs_f64(),
        rate.per_second()
    );

    let run = Run {
        scenario: &scenario,
        plane: &plane,
        emulator: &emulator,
        client: &client,
        sampler: &sampler,
        fixed: &fixed,
    };
    let outcome = run.all(&mut results).await;
    if let Err(error) = &outcome {
        println!("the run stopped: {error}");
        results.stopped.get_or_insert_with(|| error.to_string());
    }

    println!();
    println!("{}", report::table(&scenario, &results));
    println!("{}", report::details(&scenario, &results));
    if let Some(path) = &scenario.docs {
        let chart = report::write_chart(path, &scenario, &results)?;
        report::write_docs(
            path,
            &scenario.key(),
            &report::block(&scenario, &results, chart.as_deref()),
        )?;
        println!("written to {path}");
    }
    outcome
}

/// The emulator at the published quotas and default delays; with accounts, the benchmark's
/// own "console" key acts in the first tenant account, where the drifts are made.
fn emulator_settings(scenario: &Scenario) -> Settings {
    let mut settings = Settings::default();
    // Nothing reads the call log; keep it small.
    settings.log.capacity = 10_000;
    if let Some((account, _)) = scenario.tenants().first() {
        settings
            .sts
            .access_keys
            .insert(CONSOLE_KEY.into(), account.clone());
    }
    settings
}

/// The commit being measured, when git knows it (`-dirty` when the tree has changes, which
/// the run measures too).
fn commit() -> String {
    std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
            "--abbrev=7",
            "--exclude=*",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// What every phase works with.
struct Run<'a> {
    scenario: &'a Scenario,
    plane: &'a ControlPlane,
    emulator: &'a Arc<Running>,
    client: &'a kube::Client,
    sampler: &'a Sampler,
    fixed: &'a [Process],
}

impl Run<'_> {
    async fn all(&self, results: &mut Results) -> Result<(), BoxError> {
        let operators = self.converge(results).await?;
        let converged = results.converged.is_some();
        stop_all(operators).await;
        if !converged {
            return Ok(());
        }
        let scenario = self.scenario;
        if scenario.runs(Phase::Restart) {
            let operators = self.restart(results).await?;
            if scenario.runs(Phase::Rest) {
                self.rest(&operators, results).await?;
            }
            if scenario.runs(Phase::Drift) {
                self.drift(&operators, results).await?;
            }
            if scenario.runs(Phase::Churn) {
                self.churn(&operators, results).await?;
            }
            stop_all(operators).await;
        }
        if scenario.runs(Phase::Tags) {
            self.tag_drift(results).await?;
        }
        Ok(())
    }

    fn processes(&self, operators: &[Operator]) -> Vec<Process> {
        let mut processes: Vec<Process> = operators
            .iter()
            .filter_map(|o| {
                Some(Process {
                    label: format!("operator {}", o.name),
                    pid: o.pid()?,
                })
            })
            .collect();
        processes.extend(self.fixed.iter().cloned());
        processes
    }

    async fn mark(&self, operators: &[Operator]) -> Result<Mark, BoxError> {
        Mark::take(self.emulator, self.client, &self.processes(operators)).await
    }

    /// What a phase that began at `start` cost, up to now.
    async fn measured_since(
        &self,
        start: &Mark,
        operators: &[Operator],
    ) -> Result<Measured, BoxError> {
        let end = self.mark(operators).await?;
        Ok(Measured::between(
            start,
            &end,
            &self.processes(operators),
            self.sampler.take_load(),
        ))
    }

    fn start(&self, settings: &OperatorSettings, phase: &str) -> Result<Vec<Operator>, BoxError> {
        let wrapped = self.scenario.wrapper_phase == phase;
        let operators = operators::start(&operators::Launch {
            plane: self.plane,
            emulator: self.emulator,
            replicas: self.scenario.replicas,
            settings,
            phase,
            wrapper: if wrapped { &self.scenario.wrapper } else { &[] },
        })?;
        println!(
            "{phase}: {} operator replica(s), {}",
            operators.len(),
            settings.describe()
        );
        Ok(operators)
    }

    /// (2) Applies the fleet at once and waits until every VideoStream is Ready.
    async fn converge(&self, results: &mut Results) -> Result<Vec<Operator>, BoxError> {
        let scenario = self.scenario;
        let operators = self.start(&OperatorSettings::Converge, "converge")?;
        let wrapped = !scenario.wrapper.is_empty() && scenario.wrapper_phase == "converge";
        let startup = if wrapped { 600 } else { 60 };
        operators::wait_up(&operators, Duration::from_secs(startup)).await?;
        if scenario.accounts > 0 {
            fleet::wait_bindings_ready(self.client, Duration::from_secs(120)).await?;
        }
        let ready = fleet::ReadyCount::start(self.client);
        self.emulator.reset_calls();
        self.sampler.clear_creates();
        self.sampler.take_load();
        let start = self.mark(&operators).await?;
        let applied = AtomicUsize::new(0);
        let began = Instant::now();
        let apply = fleet::apply(self.client, scenario, &applied);
        // Give up at ten times the floor, and never before half an hour.
        let floor = results
            .floors
            .as_ref()
            .map_or(Duration::ZERO, Floors::binding);
        let limit = (floor * 10).max(Duration::from_secs(1800));
        let watch = self.watch_convergence(&operators, &ready, &applied, began, limit);
        let (apply, (watched, samples)) = tokio::join!(apply, watch);
        results.apply = Some(apply?);
        results.samples = samples;
        match watched {
            Ok(t) => results.converged = Some(t),
            Err(stopped) => results.stopped = Some(stopped),
        }
        let measured = self.measured_since(&start, &operators).await?;
        results.create_rates = self.sampler.create_rates();
        if let (Some(t), Some(floors)) = (results.converged, &results.floors) {
            let floor = floors.binding();
            println!(
                "convergence: all {} Ready in {:.1}s; floors: {}: {:.2}x the floor",
                scenario.streams,
                t.as_secs_f64(),
                floors.describe(),
                t.as_secs_f64() / floor.as_secs_f64()
            );
        }
        println!("calls to converge: {}", measured.describe_calls());
        let summary = operators::summary(&operators).await;
        println!("operator metrics: {summary}");
        results.operator_metrics.push(("converge".into(), summary));
        results.converge = Some(measured);
        Ok(operators)
    }

    /// Prints progress while converging and samples it each second for the chart; the time
    /// until all are Ready, or where it stopped.
    async fn watch_convergence(
        &self,
        operators: &[Operator],
        ready: &fleet::ReadyCount,
        applied: &AtomicUsize,
        began: Instant,
        limit: Duration,
    ) -> (Result<Duration, String>, Vec<Sample>) {
        let mut samples = Vec::new();
        let outcome = self
            .watch_sampled(operators, ready, applied, (began, limit), &mut samples)
            .await;
        samples.push(self.sample(operators, ready, applied, began));
        (outcome, samples)
    }

    async fn watch_sampled(
        &self,
        operators: &[Operator],
        ready: &fleet::ReadyCount,
        applied: &AtomicUsize,
        (began, limit): (Instant, Duration),
        samples: &mut Vec<Sample>,
    ) -> Result<Duration, String> {
        let n = self.scenario.streams;
        let mut last_progress = (0, Instant::now());
        let mut last_print = Instant::now();
        let mut last_sample: Option<Instant> = None;
        loop {
            if last_sample.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
                samples.push(self.sample(operators, ready, applied, began));
                last_sample = Some(Instant::now());
            }
            let count = ready.ready();
            if count >= n {
                return Ok(began.elapsed());
            }
            if count > last_progress.0 {
                last_progress = (count, Instant::now());
            }
            let stalled = last_progress.1.elapsed() > self.scenario.stall;
            if last_print.elapsed() >= PROGRESS_EVERY || stalled || began.elapsed() > limit {
                let line = self.progress(operators, ready, applied, began).await;
                println!("  {line}");
                last_print = Instant::now();
                if stalled {
                    return Err(format!(
                        "no VideoStream became Ready for {}; at {line}",
                        human(self.scenario.stall)
                    ));
                }
                if began.elapsed() > limit {
                    return Err(format!("gave up after {}; at {line}", human(limit)));
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Streams created at the emulator so far, in every account.
    fn created(&self) -> u64 {
        self.emulator
            .scopes()
            .iter()
            .map(|s| {
                self.emulator
                    .calls_of_in(&s.account, &s.region, Operation::CreateStream)
                    .succeeded
            })
            .sum()
    }

    fn sample(
        &self,
        operators: &[Operator],
        ready: &fleet::ReadyCount,
        applied: &AtomicUsize,
        began: Instant,
    ) -> Sample {
        Sample {
            at: began.elapsed().as_secs_f64(),
            applied: applied.load(Ordering::Relaxed) as f64,
            created: self.created() as f64,
            ready: ready.ready() as f64,
            rss_mib: operators::rss_mib(operators),
        }
    }

    async fn progress(
        &self,
        operators: &[Operator],
        ready: &fleet::ReadyCount,
        applied: &AtomicUsize,
        began: Instant,
    ) -> String {
        let created = self.created();
        let memory = |pid: Option<u32>| {
            pid.and_then(machine::memory)
                .map_or("?".into(), |m| format!("{:.0} MiB", m.rss_mib))
        };
        let operators_rss: Vec<String> = operators.iter().map(|o| memory(o.pid())).collect();
        let elapsed = began.elapsed().as_secs_f64();
        let applied = applied.load(Ordering::Relaxed);
        let mut waiting = 0.0;
        for operator in operators {
            waiting += operators::metric_sum(
                &operator.metrics().await,
                "kvs_operator_aws_limiter_waiting",
            );
        }
        format!(
            "{elapsed:.0} s: {applied} applied ({:.0}/s), {created} streams created, {} seen and {} Ready by the watch, {waiting:.0} calls waiting in the limiters; RSS operator {}, kube-apiserver {}; load {:.2}",
            applied as f64 / elapsed.max(1e-9),
            ready.seen(),
            ready.ready(),
            operators_rss.join("+"),
            memory(Some(self.plane.pids().kube_apiserver)),
            machine::load_average().unwrap_or(0.0),
        )
    }

    /// (3) Restarts every replica with the defaults and waits until they are at rest: every
    /// VideoStream reconciled once more, and no reconcile for five seconds.
    async fn restart(&self, results: &mut Results) -> Result<Vec<Operator>, BoxError> {
        self.emulator.reset_calls();
        self.sampler.take_load();
        let start = self.mark(&[]).await?;
        let began = Instant::now();
        let operators = self.start(&OperatorSettings::Defaults, "restart")?;
        let at_rest = self.wait_at_rest(&operators, began).await;
        let measured = self.measured_since(&start, &operators).await?;
        results.back_at_rest = at_rest;
        results
            .operator_metrics
            .push(("restart".into(), operators::summary(&operators).await));
        println!(
            "restart: {} (back at rest after {})",
            measured.describe_calls(),
            at_rest.map_or("—".into(), human)
        );
        results.restart = Some(measured);
        Ok(operators)
    }

    async fn wait_at_rest(&self, operators: &[Operator], began: Instant) -> Option<Duration> {
        let n = self.scenario.streams as f64;
        let within = Duration::from_secs(600);
        let mut last = (-1.0, Instant::now());
        while began.elapsed() < within {
            let reconciles = operators::reconciles(operators).await;
            if reconciles != last.0 {
                last = (reconciles, Instant::now());
            } else if reconciles >= n && last.1.elapsed() >= Duration::from_secs(5) {
                // At rest since the last reconcile was counted.
                return Some(last.1.duration_since(began));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }

    /// Waits until every VideoStream has been reconciled once since `began` (at most ten
    /// minutes).
    async fn wait_first_pass(&self, operators: &[Operator], began: Instant) {
        let n = self.scenario.streams as f64;
        while began.elapsed() < Duration::from_secs(600) {
            if operators::reconciles(operators).await >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// (4) Nothing changes for the rest window; every replica runs with the defaults.
    async fn rest(&self, operators: &[Operator], results: &mut Results) -> Result<(), BoxError> {
        let window = self.scenario.rest;
        println!("rest: {} at the defaults", human(window));
        self.sampler.take_load();
        let start = self.mark(operators).await?;
        tokio::time::sleep(window).await;
        let measured = self.measured_since(&start, operators).await?;
        let rate = report::per_stream_hour(&measured, self.scenario.streams);
        println!(
            "at rest: {rate:.2} calls per stream per hour over {}s at the default settings ({}; target 0.2; Crossplane {}, ACK {})",
            measured.duration.as_secs(),
            measured.describe_calls(),
            models::CROSSPLANE.at_rest_text(),
            models::ACK.at_rest_text(),
        );
        for operator in operators {
            let held = operators::metric_sum(&operator.metrics().await, "kvs_operator_shards_held");
            results.shards.push((operator.name.clone(), held));
        }
        results
            .operator_metrics
            .push(("rest".into(), operators::summary(operators).await));
        results.rest = Some(measured);
        Ok(())
    }

    /// (7) The fleet deleted and applied again, twice; the RSS once quiet against the
    /// first rest's.
    async fn churn(&self, operators: &[Operator], results: &mut Results) -> Result<(), BoxError> {
        let first_rest = results
            .rest
            .as_ref()
            .map(|rest| {
                rest.processes
                    .iter()
                    .filter(|(label, _, _)| label.starts_with("operator"))
                    .filter_map(|(_, _, memory)| memory.map(|m| m.rss_mib))
                    .sum()
            })
            .unwrap_or(0.0);
        self.emulator.reset_calls();
        self.sampler.take_load();
        let start = self.mark(operators).await?;
        let churned = churn::churn(self.client, self.scenario, operators, first_rest).await?;
        results.churn_phase = Some(self.measured_since(&start, operators).await?);
        println!("churn: {}", churned.describe());
        results.churn = Some(churned);
        Ok(())
    }

    /// Where drifts are made: the first namespace's account.
    fn target(&self) -> drift::Target<'_> {
        let account = self
            .scenario
            .tenants()
            .first()
            .map(|(a, _)| a.clone())
            .unwrap_or_else(|| self.emulator.account_id().to_string());
        let namespace = self.scenario.namespaces().remove(0);
        drift::Target {
            emulator: self.emulator,
            sdk: console_client(self.emulator),
            account,
            region: REGION.into(),
            api: Api::<VideoStream>::namespaced(self.client.clone(), &namespace),
        }
    }

    /// (5) Version, status, retention, media type and device name changed outside
    /// Kubernetes, each on its own stream, with the defaults running.
    async fn drift(&self, operators: &[Operator], results: &mut Results) -> Result<(), BoxError> {
        if self.scenario.largest_account() < 6 {
            println!("drift: skipped (needs 6 VideoStreams in an account)");
            return Ok(());
        }
        self.sampler.take_load();
        let start = self.mark(operators).await?;
        let within = DEFAULT_DRIFT_SCAN * 2 + Duration::from_secs(120);
        results.drifts = drift::listed_drifts(&self.target(), within).await?;
        results.drift = Some(self.measured_since(&start, operators).await?);
        for d in &results.drifts {
            println!(
                "drift: {} on {} corrected after {} (drift scan every {}s)",
                d.kind,
                d.stream,
                d.after.map_or("—".into(), human),
                DEFAULT_DRIFT_SCAN.as_secs()
            );
        }
        Ok(())
    }

    /// (6) A tag changed outside Kubernetes, with the audit period short enough to watch.
    async fn tag_drift(&self, results: &mut Results) -> Result<(), BoxError> {
        if self.scenario.largest_account() < 6 {
            return Ok(());
        }
        // The whole ListTagsForStream quota, so the period stretches as little as it may.
        let share = 1.0;
        let settings = OperatorSettings::TagAudit {
            period: self.scenario.tag_audit,
            share,
        };
        let began = Instant::now();
        let operators = self.start(&settings, "tags")?;
        // With the whole quota for audits, the audits never pause for the five quiet
        // seconds `wait_at_rest` looks for; wait for the restart's pass over the fleet.
        self.wait_first_pass(&operators, began).await;
        self.sampler.take_load();
        let start = self.mark(&operators).await?;
        let needed =
            Duration::from_secs_f64(self.scenario.largest_account() as f64 / (share * 50.0));
        results.tag_period = self.scenario.tag_audit.max(needed);
        results.tag_share = share;
        let within = results.tag_period.mul_f64(1.2) + Duration::from_secs(60);
        let corrected = drift::tag_drift(&self.target(), within).await?;
        results.tag_phase = Some(self.measured_since(&start, &operators).await?);
        println!(
            "drift: tags on {} corrected after {} (tag-audit period {})",
            corrected.stream,
            corrected.after.map_or("—".into(), human),
            human(results.tag_period)
        );
        results.tag = Some(corrected);
        stop_all(operators).await;
        Ok(())
    }
}

async fn stop_all(operators: Vec<Operator>) {
    futures::future::join_all(operators.into_iter().map(Operator::stop)).await;
}

/// The SDK as someone at the console: the benchmark's own key (mapped to the first tenant
/// account when there are accounts).
fn console_client(emulator: &Running) -> aws_sdk_kinesisvideo::Client {
    use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(CONSOLE_KEY, "secret", None, None, "bench"))
        .endpoint_url(emulator.url())
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}
