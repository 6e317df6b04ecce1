//! Starting an emulator and controlling it in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::model::config::{Config, Delays, Settings};
use crate::model::error::EmulatorError;
use crate::model::operation::Operation;
use crate::model::snapshot::{ChannelSnapshot, StreamSnapshot};
use crate::server;
use crate::state::counters::{CallCounts, OperationCalls};
use crate::state::lock::lock;
use crate::state::log::CallRecord;
use crate::state::shared::Shared;
use crate::state::tenants::{Scope, Tenant};
use crate::wire::http;

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
        let respond = {
            let shared = shared.clone();
            move |request| server::respond(shared.clone(), request)
        };
        let task = tokio::spawn(http::serve(listener, respond, watcher));
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

    /// The default region: ARNs name it unless a call signs for another.
    pub fn region(&self) -> &str {
        &self.shared.default_scope.region
    }

    /// The default account: base credentials act in it unless `sts.access_keys` names
    /// another.
    pub fn account_id(&self) -> &str {
        &self.shared.default_scope.account
    }

    /// The default account and region, which the methods without `_in` read.
    pub fn default_scope(&self) -> Scope {
        self.shared.default_scope.clone()
    }

    /// Every (account, region) that has streams, channels or counted calls, in order.
    pub fn scopes(&self) -> Vec<Scope> {
        self.shared
            .tenants
            .all()
            .into_iter()
            .filter(|(_, tenant)| lock(tenant).has_state())
            .map(|(scope, _)| scope)
            .collect()
    }

    /// Counters of every operation called in the default account and region since start
    /// or the last reset.
    pub fn calls(&self) -> CallCounts {
        self.calls_in(self.account_id(), self.region())
    }

    /// Counters of every operation called in `account` and `region`.
    pub fn calls_in(&self, account: &str, region: &str) -> CallCounts {
        self.with_tenant(account, region, |tenant| tenant.counters.snapshot())
            .unwrap_or_default()
    }

    /// Counters of one operation in the default account and region (zero when never
    /// called).
    pub fn calls_of(&self, op: Operation) -> OperationCalls {
        self.calls().remove(&op).unwrap_or_default()
    }

    /// Counters of one operation in `account` and `region`.
    pub fn calls_of_in(&self, account: &str, region: &str, op: Operation) -> OperationCalls {
        self.calls_in(account, region)
            .remove(&op)
            .unwrap_or_default()
    }

    /// Sum of `total` over all operations in the default account and region.
    pub fn total_calls(&self) -> u64 {
        self.calls().values().map(|calls| calls.total).sum()
    }

    /// Zeroes the counters of every account and region, and clears the call log.
    pub fn reset_calls(&self) {
        self.shared.reset_calls();
    }

    /// The call log, oldest first: every API call (KVS and STS) answered since start or
    /// the last [`Running::reset_calls`], up to `settings.log.capacity` of the newest.
    pub fn call_log(&self) -> Vec<CallRecord> {
        self.call_log_since(0)
    }

    /// The records of the call log with a sequence number greater than `seq`.
    pub fn call_log_since(&self, seq: u64) -> Vec<CallRecord> {
        lock(&self.shared.log).since(seq)
    }

    /// Streams of the default account and region, with tags, sorted by name, with due
    /// transitions applied.
    pub fn streams(&self) -> Vec<StreamSnapshot> {
        self.streams_in(self.account_id(), self.region())
    }

    /// Streams of `account` in `region`.
    pub fn streams_in(&self, account: &str, region: &str) -> Vec<StreamSnapshot> {
        self.with_tenant(account, region, |tenant| {
            tenant.streams.settle(Instant::now());
            tenant.streams.snapshots()
        })
        .unwrap_or_default()
    }

    /// One stream of the default account and region by name, if it exists (in any
    /// state).
    pub fn stream(&self, name: &str) -> Option<StreamSnapshot> {
        self.stream_in(self.account_id(), self.region(), name)
    }

    /// One stream of `account` in `region` by name.
    pub fn stream_in(&self, account: &str, region: &str, name: &str) -> Option<StreamSnapshot> {
        self.with_tenant(account, region, |tenant| {
            tenant.streams.settle(Instant::now());
            tenant.streams.snapshot(name)
        })
        .flatten()
    }

    /// Forgets every stream of every account and region.
    pub fn clear_streams(&self) {
        self.shared
            .tenants
            .for_each(|tenant| tenant.streams.clear());
    }

    /// Forgets every stream of `account` in `region`.
    pub fn clear_streams_in(&self, account: &str, region: &str) {
        self.with_tenant(account, region, |tenant| tenant.streams.clear());
    }

    /// Signaling channels of the default account and region, sorted by name, with due
    /// transitions applied.
    pub fn channels(&self) -> Vec<ChannelSnapshot> {
        self.channels_in(self.account_id(), self.region())
    }

    /// Signaling channels of `account` in `region`.
    pub fn channels_in(&self, account: &str, region: &str) -> Vec<ChannelSnapshot> {
        self.with_tenant(account, region, |tenant| {
            tenant.channels.settle(Instant::now());
            tenant.channels.snapshots()
        })
        .unwrap_or_default()
    }

    /// One signaling channel of the default account and region by name (in any state).
    pub fn channel(&self, name: &str) -> Option<ChannelSnapshot> {
        self.channel_in(self.account_id(), self.region(), name)
    }

    /// One signaling channel of `account` in `region` by name.
    pub fn channel_in(&self, account: &str, region: &str, name: &str) -> Option<ChannelSnapshot> {
        self.with_tenant(account, region, |tenant| {
            tenant.channels.settle(Instant::now());
            tenant.channels.snapshot(name)
        })
        .flatten()
    }

    /// Forgets every signaling channel of every account and region.
    pub fn clear_channels(&self) {
        self.shared
            .tenants
            .for_each(|tenant| tenant.channels.clear());
    }

    /// Forgets every signaling channel of `account` in `region`.
    pub fn clear_channels_in(&self, account: &str, region: &str) {
        self.with_tenant(account, region, |tenant| tenant.channels.clear());
    }

    fn with_tenant<T>(
        &self,
        account: &str,
        region: &str,
        f: impl FnOnce(&mut Tenant) -> T,
    ) -> Option<T> {
        let tenant = self.shared.tenants.get(&Scope::new(account, region))?;
        let mut tenant = lock(&tenant);
        Some(f(&mut tenant))
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
