//! The two floors convergence is measured against, and the phase that measures the second.
//!
//! - The AWS quota floor: the largest account's creates through the CreateStream bucket
//!   (full at the start, so the first second's worth passes at once, then the quota rate),
//!   plus the emulator's create delay for the last stream to turn ACTIVE.
//! - The API server floor: the writes a converged fleet needs at least (each object's
//!   create, its finalizer and its Ready status) at the write rate kube-apiserver takes on
//!   this machine with no operator running, measured by [`write_rate`].

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kvs_emulator::{Operation, Settings};
use kvs_operator::api::VideoStream;

use crate::BoxError;
use crate::fleet::{APPLY_IN_FLIGHT, video_stream};
use crate::machine::human;
use crate::scenario::Scenario;

/// Writes a converged VideoStream needs at the least: the user's create, the finalizer
/// (written before anything is created at AWS) and the Ready status.
pub const WRITES_PER_OBJECT: u64 = 3;

/// Where the write-rate phase creates its objects; nothing serves it.
const PROBE_NAMESPACE: &str = "bench-write-rate";

/// kube-apiserver's write rate, measured with nobody else writing.
#[derive(Debug, Clone, Copy)]
pub struct WriteRate {
    pub writes: u64,
    pub took: Duration,
}

impl WriteRate {
    pub fn per_second(&self) -> f64 {
        self.writes as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// Both floors of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Floors {
    pub quota: Duration,
    pub write_rate: WriteRate,
    pub writes_needed: u64,
}

impl Floors {
    pub fn new(scenario: &Scenario, emulator: &Settings, rate: WriteRate) -> Floors {
        Floors {
            quota: quota_floor(scenario.largest_account(), emulator),
            write_rate: rate,
            writes_needed: scenario.streams as u64 * WRITES_PER_OBJECT,
        }
    }

    /// The writes needed at the measured write rate.
    pub fn apiserver(&self) -> Duration {
        Duration::from_secs_f64(self.writes_needed as f64 / self.write_rate.per_second())
    }

    /// The larger floor, which convergence is compared with.
    pub fn binding(&self) -> Duration {
        self.apiserver().max(self.quota)
    }

    /// Which floor binds: `AWS quota` or `API server`.
    pub fn which(&self) -> &'static str {
        if self.apiserver() > self.quota {
            "API server"
        } else {
            "AWS quota"
        }
    }

    /// `AWS quota 3m19s (binds); API server 62.0 s (30,000 writes at 484/s)`.
    pub fn describe(&self) -> String {
        let binds = |which: &str| {
            if which == self.which() {
                " (binds)"
            } else {
                ""
            }
        };
        let quota = format!("AWS quota {}{}", human(self.quota), binds("AWS quota"));
        format!(
            "{quota}; API server {}{} ({} writes at {:.0}/s)",
            human(self.apiserver()),
            binds("API server"),
            crate::scenario::thousands(self.writes_needed),
            self.write_rate.per_second()
        )
    }
}

/// `n` creates through a CreateStream bucket that starts full, then the create delay.
fn quota_floor(n: usize, emulator: &Settings) -> Duration {
    let quota = f64::from(
        emulator
            .quotas
            .account_limit(Operation::CreateStream)
            .unwrap_or(50)
            .max(1),
    );
    let after_burst = (n as f64 - quota).max(0.0) / quota;
    Duration::from_secs_f64(after_burst) + emulator.delays.create
}

/// How many objects the write-rate phase creates: as many as the run, between 500 and 2,000.
pub fn probes(scenario: &Scenario) -> usize {
    scenario.streams.clamp(500, 2_000)
}

/// Creates `count` VideoStreams and writes each one's status once, as many in flight as the
/// fleet's apply, with no operator running; then deletes them (not timed).
pub async fn write_rate(client: &kube::Client, count: usize) -> Result<WriteRate, BoxError> {
    ensure_namespace(client).await?;
    let api: Api<VideoStream> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    let began = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| write_one(api.clone(), i))
        .buffer_unordered(APPLY_IN_FLIGHT)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let took = began.elapsed();
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    wait_empty(&api).await?;
    Ok(WriteRate {
        writes: count as u64 * 2,
        took,
    })
}

/// One object's create and one status write, like a converging object's.
async fn write_one(api: Api<VideoStream>, i: usize) -> Result<(), BoxError> {
    let name = format!("probe-{i:05}");
    api.create(&PostParams::default(), &video_stream(&name, &name))
        .await?;
    let status = serde_json::json!({ "status": { "streamName": name, "observedGeneration": 1 } });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn ensure_namespace(client: &kube::Client) -> Result<(), BoxError> {
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(PROBE_NAMESPACE).await?.is_none() {
        let namespace: Namespace =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": PROBE_NAMESPACE } }))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    Ok(())
}

async fn wait_empty(api: &Api<VideoStream>) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !api
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .items
        .is_empty()
    {
        if Instant::now() > deadline {
            return Err("the write-rate phase's objects were not gone after 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
