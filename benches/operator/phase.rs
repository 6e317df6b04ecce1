//! A phase of the run, measured between two marks: AWS calls at the emulator (per account),
//! write requests at the API server, CPU and memory of each process, and the machine's load.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvs_emulator::{Operation, Running};

use crate::BoxError;
use crate::apiserver::Requests;
use crate::machine::{self, CpuReading, LoadSample, Memory};

/// The throttling error KVS answers above a quota.
pub const THROTTLED: &str = "ClientLimitExceededException";

/// Calls of one account: (total, throttled) per operation.
pub type Calls = BTreeMap<Operation, (u64, u64)>;

/// A process whose CPU and memory a phase reports.
#[derive(Debug, Clone)]
pub struct Process {
    pub label: String,
    pub pid: u32,
}

/// Everything read at one instant.
pub struct Mark {
    at: Instant,
    cpu: CpuReading,
    requests: Requests,
    calls: BTreeMap<String, Calls>,
}

impl Mark {
    pub async fn take(
        emulator: &Running,
        client: &kube::Client,
        processes: &[Process],
    ) -> Result<Mark, BoxError> {
        let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
        Ok(Mark {
            at: Instant::now(),
            cpu: CpuReading::take(&pids),
            requests: Requests::read(client).await?,
            calls: calls_by_account(emulator),
        })
    }
}

/// Every account's calls so far.
fn calls_by_account(emulator: &Running) -> BTreeMap<String, Calls> {
    let mut accounts: BTreeMap<String, Calls> = BTreeMap::new();
    for scope in emulator.scopes() {
        let calls = accounts.entry(scope.account.clone()).or_default();
        for (op, counts) in emulator.calls_in(&scope.account, &scope.region) {
            let entry = calls.entry(op).or_default();
            entry.0 += counts.total;
            entry.1 += counts.errors_of(THROTTLED);
        }
    }
    accounts
}

/// What one phase cost.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub duration: Duration,
    /// Calls per account and operation: (total, throttled).
    pub calls: BTreeMap<String, Calls>,
    /// Requests the API server served.
    pub requests: Requests,
    /// CPU seconds and memory at the end, per process label.
    pub processes: Vec<(String, f64, Option<Memory>)>,
    /// CPU seconds the rest of the machine (other people's work) used meanwhile.
    pub others_cpu: f64,
    pub load: LoadSample,
}

impl Measured {
    pub fn between(start: &Mark, end: &Mark, processes: &[Process], load: LoadSample) -> Measured {
        let mut calls = BTreeMap::new();
        for (account, now) in &end.calls {
            let before = start.calls.get(account);
            let mut delta = Calls::new();
            for (op, (total, throttled)) in now {
                let (t0, h0) = before.and_then(|b| b.get(op)).copied().unwrap_or((0, 0));
                if total > &t0 {
                    delta.insert(*op, (total - t0, throttled.saturating_sub(h0)));
                }
            }
            if !delta.is_empty() {
                calls.insert(account.clone(), delta);
            }
        }
        let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
        Measured {
            duration: end.at.duration_since(start.at),
            calls,
            requests: end.requests.since(&start.requests),
            processes: processes
                .iter()
                .map(|p| {
                    (
                        p.label.clone(),
                        end.cpu.used_by(&start.cpu, p.pid),
                        machine::memory(p.pid),
                    )
                })
                .collect(),
            others_cpu: end.cpu.others_since(&start.cpu, &pids),
            load,
        }
    }

    /// Calls of every account by operation: (total, throttled).
    pub fn by_operation(&self) -> Calls {
        let mut sum = Calls::new();
        for calls in self.calls.values() {
            for (op, (total, throttled)) in calls {
                let entry = sum.entry(*op).or_default();
                entry.0 += total;
                entry.1 += throttled;
            }
        }
        sum
    }

    /// Calls that address one stream (anything but ListStreams and STS).
    pub fn per_stream_calls(&self) -> u64 {
        self.by_operation()
            .iter()
            .filter(|(op, _)| **op != Operation::ListStreams && !op.is_sts())
            .map(|(_, (total, _))| total)
            .sum()
    }

    pub fn of(&self, op: Operation) -> u64 {
        self.by_operation().get(&op).map_or(0, |c| c.0)
    }

    /// CPU seconds of the processes whose label starts with `prefix`.
    pub fn cpu_of(&self, prefix: &str) -> f64 {
        self.processes
            .iter()
            .filter(|(label, _, _)| label.starts_with(prefix))
            .map(|(_, cpu, _)| cpu)
            .sum()
    }

    /// `CreateStream 1000, ListStreams 12` (STS included, throttles in brackets).
    pub fn describe_calls(&self) -> String {
        let ops = self.by_operation();
        if ops.is_empty() {
            return "none".into();
        }
        ops.iter()
            .map(|(op, (total, throttled))| match throttled {
                0 => format!("{} {total}", op.name()),
                t => format!("{} {total} ({t} throttled)", op.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Samples the load average once a second into the current phase's [`LoadSample`], and each
/// account's CreateStream count, for rates.
pub struct Sampler {
    state: Arc<Mutex<SamplerState>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct SamplerState {
    load: LoadSample,
    /// Per account: (seconds since the sampler started, CreateStream calls so far).
    creates: BTreeMap<String, Vec<(f64, u64)>>,
}

impl Sampler {
    pub fn start(emulator: Arc<Running>) -> Sampler {
        let state = Arc::new(Mutex::new(SamplerState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let at = started.elapsed().as_secs_f64();
                let load = machine::load_average();
                let mut creates = Vec::new();
                for scope in emulator.scopes() {
                    let total = emulator
                        .calls_of_in(&scope.account, &scope.region, Operation::CreateStream)
                        .total;
                    creates.push((scope.account, total));
                }
                let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(load) = load {
                    state.load.add(load);
                }
                for (account, total) in creates {
                    state.creates.entry(account).or_default().push((at, total));
                }
            }
        });
        Sampler { state, task }
    }

    /// The load samples since the last call (a phase boundary).
    pub fn take_load(&self) -> LoadSample {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut state.load)
    }

    /// Forgets the CreateStream samples (the emulator's counters are about to be reset).
    pub fn clear_creates(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.creates.clear();
    }

    /// Each account's CreateStream rate while it was creating: calls over the time from the
    /// first sample that saw a create to the first that saw the last one; and the best
    /// ten-second rate.
    pub fn create_rates(&self) -> BTreeMap<String, CreateRate> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .creates
            .iter()
            .filter_map(|(account, samples)| Some((account.clone(), CreateRate::of(samples)?)))
            .collect()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CreateRate {
    pub creates: u64,
    pub mean: f64,
    pub best_10s: f64,
}

impl CreateRate {
    fn of(samples: &[(f64, u64)]) -> Option<CreateRate> {
        let first = samples.iter().position(|(_, n)| *n > 0)?;
        let last = samples.last()?.1;
        let done = samples.iter().position(|(_, n)| *n == last)?;
        // The span starts one sample before the first create was seen.
        let start = samples[first.saturating_sub(1)].0;
        let span = (samples[done].0 - start).max(1.0);
        let best_10s = samples
            .windows(11)
            .map(|w| (w[10].1 - w[0].1) as f64 / (w[10].0 - w[0].0).max(1e-9))
            .fold(0.0, f64::max);
        Some(CreateRate {
            creates: last,
            mean: last as f64 / span,
            best_10s,
        })
    }
}
