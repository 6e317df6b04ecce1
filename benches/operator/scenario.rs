//! The scenario a run measures, from the environment (see the top of operator.rs).

use std::time::Duration;

use crate::BoxError;

/// The region every account of the benchmark acts in (the emulator's default).
pub const REGION: &str = "us-west-2";

#[derive(Debug, Clone)]
pub struct Scenario {
    /// VideoStreams in all.
    pub streams: usize,
    /// AccountBindings, each to its own account; 0: one namespace served with the
    /// operator's own identity.
    pub accounts: usize,
    /// Operator replicas; more than one runs with leader election (sharded).
    pub replicas: usize,
    /// The rest window at the default settings.
    pub rest: Duration,
    /// The tag-audit period of the tag-drift phase (stretched by the operator when the
    /// account holds more streams than its audit share reads in it).
    pub tag_audit: Duration,
    /// Give up when the Ready count has not moved for this long.
    pub stall: Duration,
    /// Where the table goes (`-` or empty: nowhere).
    pub docs: Option<String>,
    /// A command the operator of one phase is started under, e.g. a profiler.
    pub wrapper: Vec<String>,
    /// The phase whose operator runs under `wrapper`: `converge`, `restart` or `tags`.
    pub wrapper_phase: String,
    /// The phases after convergence that run (convergence always does).
    pub phases: Vec<Phase>,
}

/// A phase after convergence, as `BENCH_PHASES` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Restart,
    Rest,
    Drift,
    Tags,
    Churn,
}

impl Phase {
    /// What a run with no `BENCH_PHASES` runs (churn, which takes as long again as the
    /// rest, only when asked for).
    const DEFAULT: [Phase; 4] = [Phase::Restart, Phase::Rest, Phase::Drift, Phase::Tags];
    const ALL: [Phase; 5] = [
        Phase::Restart,
        Phase::Rest,
        Phase::Drift,
        Phase::Tags,
        Phase::Churn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Restart => "restart",
            Phase::Rest => "rest",
            Phase::Drift => "drift",
            Phase::Tags => "tags",
            Phase::Churn => "churn",
        }
    }
}

/// `converge,restart,rest` → the phases named; convergence is implied, anything unknown is
/// an error that lists the known names.
fn phases(list: &str) -> Result<Vec<Phase>, BoxError> {
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == "converge" {
            continue;
        }
        let phase = Phase::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                format!("BENCH_PHASES: unknown phase {name:?} (known: converge, restart, rest, drift, tags, churn)")
            })?;
        chosen.push(phase);
    }
    // Churn is compared with the first rest.
    if chosen.contains(&Phase::Churn) && !chosen.contains(&Phase::Rest) {
        chosen.push(Phase::Rest);
    }
    // The rest, drift and churn phases watch the replicas the restart started.
    if chosen
        .iter()
        .any(|p| matches!(p, Phase::Rest | Phase::Drift | Phase::Churn))
        && !chosen.contains(&Phase::Restart)
    {
        chosen.push(Phase::Restart);
    }
    Ok(chosen)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number(name: &str, default: u64) -> Result<u64, BoxError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|e| format!("{name}={v}: not a whole number ({e})").into()),
    }
}

impl Scenario {
    pub fn from_env() -> Result<Scenario, BoxError> {
        let streams = number("BENCH_STREAMS", 1000)? as usize;
        let accounts = number("BENCH_ACCOUNTS", 0)? as usize;
        let replicas = number("BENCH_REPLICAS", 1)?.max(1) as usize;
        if streams == 0 {
            return Err("BENCH_STREAMS must be at least 1".into());
        }
        if accounts > streams {
            return Err(
                format!("BENCH_ACCOUNTS={accounts} is more than BENCH_STREAMS={streams}").into(),
            );
        }
        if accounts > 99 {
            return Err("BENCH_ACCOUNTS may be at most 99".into());
        }
        let docs = match var("BENCH_DOCS") {
            Some(path) if path == "-" => None,
            Some(path) => Some(path),
            None => Some(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md").to_string()),
        };
        Ok(Scenario {
            streams,
            accounts,
            replicas,
            rest: Duration::from_secs(number("BENCH_REST_SECS", 900)?),
            tag_audit: Duration::from_secs(number("BENCH_TAG_AUDIT_SECS", 120)?.max(1)),
            stall: Duration::from_secs(number("BENCH_STALL_SECS", 300)?.max(10)),
            docs,
            wrapper: var("BENCH_OPERATOR_WRAPPER")
                .map(|w| w.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            wrapper_phase: var("BENCH_OPERATOR_WRAPPER_PHASE").unwrap_or_else(|| "converge".into()),
            phases: match var("BENCH_PHASES") {
                Some(list) => phases(&list)?,
                None => Phase::DEFAULT.to_vec(),
            },
        })
    }

    /// Namespaces holding the VideoStreams: one per account, or `bench`.
    pub fn namespaces(&self) -> Vec<String> {
        match self.accounts {
            0 => vec!["bench".into()],
            n => (0..n).map(|i| format!("bench-{i:02}")).collect(),
        }
    }

    /// The (account id, role ARN) of each AccountBinding, in namespace order.
    pub fn tenants(&self) -> Vec<(String, String)> {
        (0..self.accounts)
            .map(|i| {
                let account = format!("{:012}", 100_000_000_000u64 + i as u64);
                let role = format!("arn:aws:iam::{account}:role/kvs-bench");
                (account, role)
            })
            .collect()
    }

    /// VideoStreams per namespace (the first ones get one more when it does not divide).
    pub fn streams_in(&self, namespace_index: usize) -> usize {
        let n = self.namespaces().len();
        self.streams / n + usize::from(namespace_index < self.streams % n)
    }

    /// The most streams any one account holds: what its CreateStream quota must create.
    pub fn largest_account(&self) -> usize {
        self.streams_in(0)
    }

    /// `1,000 VideoStreams, 1 account, 1 replica`.
    pub fn title(&self) -> String {
        let accounts = match self.accounts {
            0 => "one account (the operator's own identity)".to_string(),
            1 => "1 AccountBinding (1 account)".to_string(),
            n => format!(
                "{n} AccountBindings ({n} accounts, {} each)",
                thousands(self.largest_account() as u64)
            ),
        };
        let replicas = match self.replicas {
            1 => "1 replica".to_string(),
            n => format!("{n} replicas (sharded)"),
        };
        format!(
            "{} VideoStreams, {accounts}, {replicas}",
            thousands(self.streams as u64)
        )
    }

    /// Whether `phase` runs.
    pub fn runs(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// A key naming this scenario in docs/benchmarks.md.
    pub fn key(&self) -> String {
        format!(
            "streams={},accounts={},replicas={}",
            self.streams, self.accounts, self.replicas
        )
    }
}

/// 100000 → `100,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
