//! The operator processes under test: started with the benchmark's convergence settings or
//! with the defaults, stopped as a kubelet stops a pod, and read through their metrics.

use std::fs::File;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use kvs_emulator::Running;
use kvs_testenv::ControlPlane;
use rustix::process::{Pid, Signal, kill_process};

use crate::BoxError;
use crate::common::{free_local_addr, http_get, terminate};
use crate::machine;

/// Where the replicas' Leases live when they elect.
pub const ELECTION_NAMESPACE: &str = "kvs-bench-system";

/// The convergence runs: scans and resyncs short (background work must yield to new work,
/// not be configured away), more reconciles in flight than the default.
pub const CONVERGE_DRIFT_SCAN: Duration = Duration::from_secs(10);
pub const CONVERGE_RESYNC: Duration = Duration::from_secs(60);
const CONVERGE_CONCURRENCY: u16 = 64;

/// Which settings an operator runs with.
#[derive(Debug, Clone)]
pub enum Settings {
    /// Short drift scans and resyncs, concurrency 64.
    Converge,
    /// Every flag at its default.
    Defaults,
    /// The defaults, but for the tag audit period and share.
    TagAudit { period: Duration, share: f64 },
}

impl Settings {
    fn args(&self) -> Vec<String> {
        match self {
            Settings::Converge => vec![
                format!("--drift-scan-interval={}s", CONVERGE_DRIFT_SCAN.as_secs()),
                format!("--resync-period={}s", CONVERGE_RESYNC.as_secs()),
                format!("--concurrency={CONVERGE_CONCURRENCY}"),
            ],
            Settings::Defaults => Vec::new(),
            Settings::TagAudit { period, share } => vec![
                format!("--tag-audit-period={}s", period.as_secs()),
                format!("--tag-audit-share={share}"),
            ],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Settings::Converge => format!(
                "drift scan {}s, resync {}s, concurrency {CONVERGE_CONCURRENCY}",
                CONVERGE_DRIFT_SCAN.as_secs(),
                CONVERGE_RESYNC.as_secs()
            ),
            Settings::Defaults => "defaults (drift scan 5m, resync 10m, tag audit 6h at 20 % of ListTagsForStream, concurrency 32)".into(),
            Settings::TagAudit { period, share } => format!(
                "defaults but tag audit {}s at {:.0} % of ListTagsForStream",
                period.as_secs(),
                share * 100.0
            ),
        }
    }
}

/// Where the operators' logs are kept after the run: `target/bench-operator/`.
pub fn log_dir() -> Result<std::path::PathBuf, BoxError> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-operator");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// One `kvs-operator run` process.
pub struct Operator {
    pub name: String,
    child: tokio::process::Child,
    metrics: SocketAddr,
}

impl Operator {
    /// The operator's own process: under a profiler (`BENCH_OPERATOR_WRAPPER`) the child
    /// is the profiler's, and its RSS and CPU are not the operator's.
    pub fn pid(&self) -> Option<u32> {
        let child = self.child.id()?;
        let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_kvs-operator")).ok();
        let own = binary.and_then(|binary| machine::descendant_running(child, &binary));
        Some(own.unwrap_or(child))
    }

    /// The operator's Prometheus metrics, or an empty text when it does not answer.
    pub async fn metrics(&self) -> String {
        match http_get(self.metrics, "/metrics").await {
            Some((200, body)) => body,
            _ => String::new(),
        }
    }

    /// SIGTERM, as a kubelet stops a pod; SIGKILL if it has not exited within a minute.
    /// Under a profiler the signal goes to the operator itself: the profiler's script
    /// does not pass it on, and the operator would outlive the benchmark. The profiler
    /// then writes its data and exits with it.
    pub async fn stop(mut self) {
        let child = self.child.id();
        if let Some(own) = self.pid().filter(|own| Some(*own) != child)
            && let Some(own) = i32::try_from(own).ok().and_then(Pid::from_raw)
            && kill_process(own, Signal::TERM).is_ok()
        {
            let within = Duration::from_secs(60);
            if let Ok(Ok(_)) = tokio::time::timeout(within, self.child.wait()).await {
                return;
            }
        }
        if terminate(&mut self.child, Duration::from_secs(60))
            .await
            .is_none()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// How to start the replicas of one phase.
pub struct Launch<'a> {
    pub plane: &'a ControlPlane,
    pub emulator: &'a Running,
    pub replicas: usize,
    pub settings: &'a Settings,
    /// Names the log files.
    pub phase: &'a str,
    /// A command to run each replica under (a profiler), or nothing.
    pub wrapper: &'a [String],
}

/// Starts the replicas (electing leaders when more than one) watching every namespace,
/// logging into [`log_dir`].
pub fn start(launch: &Launch<'_>) -> Result<Vec<Operator>, BoxError> {
    (0..launch.replicas).map(|i| start_one(launch, i)).collect()
}

fn start_one(launch: &Launch<'_>, index: usize) -> Result<Operator, BoxError> {
    let Launch {
        plane,
        emulator,
        replicas,
        settings,
        phase,
        wrapper,
    } = launch;
    let name = format!("bench-replica-{index}");
    let log_path = log_dir()?.join(format!("{phase}-{index}.log"));
    let log = File::create(&log_path)?;
    let metrics = free_local_addr();
    let binary = env!("CARGO_BIN_EXE_kvs-operator");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = plane.command(program);
            command.args(args).arg(binary);
            command
        }
        None => plane.command(binary),
    };
    command
        .arg("run")
        .arg(format!("--metrics-bind-address={metrics}"))
        .args(settings.args());
    if *replicas > 1 {
        command.args([
            "--leader-elect".to_string(),
            format!("--leader-election-namespace={ELECTION_NAMESPACE}"),
        ]);
    }
    command
        .env("POD_NAME", &name)
        .env("AWS_ENDPOINT_URL", emulator.url())
        .env("AWS_REGION", emulator.region())
        .env("AWS_ACCESS_KEY_ID", "AKIDOPERATOR")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // The default log level (info) is part of the defaults; the convergence run logs
    // warnings only, as before, so its CPU is the reconciles'.
    if matches!(settings, Settings::Converge) {
        command.env("RUST_LOG", "warn");
    }
    let child = command.spawn()?;
    Ok(Operator {
        name,
        child,
        metrics,
    })
}

/// The sum of a metric's samples whose line starts with `name` (labels included).
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        // A sum of nothing is -0.0 for floats.
        .fold(0.0, |sum, v| sum + v)
}

/// Every replica's RSS, added up.
pub fn rss_mib(operators: &[Operator]) -> f64 {
    operators
        .iter()
        .filter_map(|o| machine::memory(o.pid()?))
        .map(|m| m.rss_mib)
        .sum()
}

/// Reconciles every replica has recorded so far (all outcomes).
pub async fn reconciles(operators: &[Operator]) -> f64 {
    let mut total = 0.0;
    for operator in operators {
        total += metric_sum(&operator.metrics().await, "kvs_operator_reconciles_total");
    }
    total
}

/// Waits until every replica answers on its metrics endpoint.
pub async fn wait_up(operators: &[Operator], within: Duration) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + within;
    for operator in operators {
        loop {
            if http_get(operator.metrics, "/readyz")
                .await
                .is_some_and(|(c, _)| c == 200)
            {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{} never answered /readyz", operator.name).into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// The samples of a metric by the value of one label, e.g. reconciles by outcome.
fn by_label(text: &str, name: &str, label: &str) -> Vec<(String, f64)> {
    let prefix = format!("{name}{{");
    let mut values: Vec<(String, f64)> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        let Some((labels, value)) = line[prefix.len()..].rsplit_once('}') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let key = labels
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| n.trim() == label)
            .map(|(_, v)| v.trim_matches('"').to_string())
            .unwrap_or_default();
        match values.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 += value,
            None => values.push((key, value)),
        }
    }
    values
}

fn listed(values: &[(String, f64)]) -> String {
    if values.is_empty() {
        return "none".into();
    }
    values
        .iter()
        .map(|(k, v)| format!("{k} {v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the replicas' own metrics say so far: reconciles, Events dropped, throttles, time
/// spent waiting in the rate limiters, tag audits.
pub async fn summary(operators: &[Operator]) -> String {
    let mut text = String::new();
    for operator in operators {
        text.push_str(&operator.metrics().await);
    }
    let waits = metric_sum(&text, "kvs_operator_aws_limiter_wait_seconds_count");
    let waited = metric_sum(&text, "kvs_operator_aws_limiter_wait_seconds_sum");
    format!(
        "reconciles by outcome: {}; Events dropped: {}; throttled calls: {:.0}; rate-limiter waits: {waits:.0}, {:.2} s on average; tag audits: {}",
        listed(&by_label(&text, "kvs_operator_reconciles_total", "outcome")),
        listed(&by_label(
            &text,
            "kvs_operator_events_dropped_total",
            "type"
        )),
        metric_sum(&text, "kvs_operator_aws_throttles_total"),
        if waits > 0.0 { waited / waits } else { 0.0 },
        listed(&by_label(&text, "kvs_operator_tag_audits_total", "outcome")),
    )
}
