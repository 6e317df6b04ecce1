//! Starting an emulator and controlling it in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Delays, Settings};
use crate::counters::{CallCounts, OperationCalls};
use crate::error::EmulatorError;
use crate::http;
use crate::model::StreamSnapshot;
use crate::operation::Operation;
use crate::state::{Shared, lock};

/// Entry point: `Emulator::start(Config::default()).await?` serves KVS on a free
/// loopback port.
pub struct Emulator;

impl Emulator {
    /// Binds `config.listen` and serves in a task of the current Tokio runtime (so call
    /// it inside one, e.g. a `#[tokio::test]`) until the returned [`Running`] is shut
    /// down or dropped.
    pub async fn start(config: Config) -> Result<Running, EmulatorError> {
        config.validate()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: config.listen.to_string(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(EmulatorError::LocalAddr)?;
        let shared = Arc::new(Shared::new(&config));
        let (shutdown, watcher) = watch::channel(false);
        let task = tokio::spawn(http::serve(listener, shared.clone(), watcher));
        Ok(Running {
            shared,
            addr,
            shutdown,
            task,
        })
    }
}

/// A serving emulator. Dropping it stops the server; [`Running::shutdown`] also waits
/// for that.
pub struct Running {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Base URL for an SDK's `endpoint_url`, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Region used in ARNs.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// Account id used in ARNs.
    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    /// Counters of every operation called since start or the last reset.
    pub fn calls(&self) -> CallCounts {
        lock(&self.shared.counters).snapshot()
    }

    /// Counters of one operation (zero when never called).
    pub fn calls_of(&self, op: Operation) -> OperationCalls {
        self.calls().remove(&op).unwrap_or_default()
    }

    /// Sum of `total` over all operations.
    pub fn total_calls(&self) -> u64 {
        self.calls().values().map(|calls| calls.total).sum()
    }

    /// Zeroes every counter.
    pub fn reset_calls(&self) {
        lock(&self.shared.counters).reset();
    }

    /// Every stream with its tags, sorted by name, with due transitions applied.
    pub fn streams(&self) -> Vec<StreamSnapshot> {
        let mut store = lock(&self.shared.store);
        store.settle(Instant::now());
        store.snapshots()
    }

    /// One stream by name, if it exists (in any state).
    pub fn stream(&self, name: &str) -> Option<StreamSnapshot> {
        self.streams().into_iter().find(|s| s.stream_name == name)
    }

    /// Forgets every stream.
    pub fn clear_streams(&self) {
        lock(&self.shared.store).clear();
    }

    /// The current runtime settings.
    pub fn settings(&self) -> Settings {
        (*self.shared.settings()).clone()
    }

    /// Replaces the runtime settings; they apply to the next call.
    pub fn set_settings(&self, settings: Settings) -> Result<(), EmulatorError> {
        self.shared.set_settings(settings)
    }

    /// Changes the runtime settings with `change`, e.g.
    /// `running.update_settings(|s| s.quotas.per_stream_tps = 1)?`.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Result<(), EmulatorError> {
        let mut settings = self.settings();
        change(&mut settings);
        self.set_settings(settings)
    }

    /// Switches every TPS quota on or off.
    pub fn set_quotas_enabled(&self, enabled: bool) {
        // Toggling a flag cannot make valid settings invalid.
        let _ = self.update_settings(|s| s.quotas.enabled = enabled);
    }

    /// Sets the account quota of one operation (calls per second).
    pub fn set_account_quota(&self, op: Operation, tps: u32) {
        let _ = self.update_settings(|s| {
            s.quotas.account_tps.insert(op, tps);
        });
    }

    /// Sets the probability (0..=1) of an injected 500 `InternalFailure`.
    pub fn set_error_rate(&self, rate: f64) -> Result<(), EmulatorError> {
        self.update_settings(|s| s.faults.error_rate = rate)
    }

    /// Sets the latency added to every API call.
    pub fn set_latency(&self, latency: Duration) {
        let _ = self.update_settings(|s| s.faults.latency = latency);
    }

    /// Sets the CREATING/UPDATING/DELETING durations of later transitions.
    pub fn set_delays(&self, delays: Delays) {
        let _ = self.update_settings(|s| s.delays = delays);
    }

    /// Stops accepting connections, ends open ones and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
