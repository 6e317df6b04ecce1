//! Leader election on a `coordination.k8s.io` Lease, so that of several replicas exactly one
//! reconciles (and mutates AWS) at a time.
//!
//! Like client-go, expiry is judged by the follower's own clock: a Lease is free once its
//! record has not changed for a whole lease duration since this replica first saw it, so
//! clock skew between nodes cannot make two replicas lead at once.
//!
//! The timing has client-go's shape: lease duration > renew deadline > retry period. Each
//! renew is bounded by the deadline and its time is taken before the request leaves. The
//! leader's [`Fence`] stays open only until the renew deadline after the start of its last
//! successful renew — strictly before any follower, which waits a whole lease duration
//! after it saw that renew, can take the Lease. The gate refuses AWS mutations once the
//! fence is closed, so two replicas never mutate at once even when the leader is cut off
//! from the API server with requests hanging.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{Error, Result};

/// Lease timing, as client-go names it.
#[derive(Debug, Clone)]
pub struct LeaseTiming {
    /// How long a Lease stays valid without renewal; a follower takes it after that.
    pub lease_duration: Duration,
    /// How long the leader keeps acting without a successful renew.
    pub renew_deadline: Duration,
    /// How often the leader renews, and a follower retries.
    pub retry_period: Duration,
}

impl LeaseTiming {
    /// client-go's proportions (15 s, 10 s, 2 s) scaled to `lease_duration`.
    pub fn for_duration(lease_duration: Duration) -> Self {
        Self {
            lease_duration,
            renew_deadline: lease_duration * 2 / 3,
            retry_period: (lease_duration * 2 / 15).max(Duration::from_millis(100)),
        }
    }

    /// Refuses timings that would let two leaders overlap or never renew in time.
    pub fn validate(&self) -> Result<()> {
        if self.lease_duration <= self.renew_deadline || self.renew_deadline <= self.retry_period {
            return Err(Error::Config(format!(
                "leader election needs lease duration > renew deadline > retry period; got {:?} > {:?} > {:?}",
                self.lease_duration, self.renew_deadline, self.retry_period
            )));
        }
        Ok(())
    }
}

/// Whether this replica may mutate AWS right now. Open until an instant that each
/// successful renew moves forward; closed by itself when that instant passes.
#[derive(Debug, Default)]
pub struct Fence {
    open_until: Mutex<Option<Instant>>,
}

impl Fence {
    /// A closed fence (nothing passes until the Lease is acquired).
    pub fn closed() -> Self {
        Self::default()
    }

    /// Lets mutations pass until `until`.
    pub fn open_until(&self, until: Instant) {
        *self.lock() = Some(until);
    }

    /// Closes at once (leadership lost or released).
    pub fn close(&self) {
        *self.lock() = None;
    }

    pub fn is_open(&self) -> bool {
        self.lock().is_some_and(|until| Instant::now() < until)
    }

    /// `Ok` while open; otherwise the error that refuses `operation`.
    pub fn check(&self, operation: &str) -> Result<()> {
        if self.is_open() {
            return Ok(());
        }
        Err(Error::NotLeader(format!(
            "{operation} refused: this replica does not hold a renewed Lease"
        )))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What to do with a Lease record seen by `identity`.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// We hold it: write a fresh renew time.
    Renew,
    /// It is free or expired: take it.
    Take,
    /// Someone else holds it.
    Wait,
}

/// The lease duration a Lease's holder advertises (`leaseDurationSeconds`), zero if none.
pub fn advertised_duration(spec: Option<&LeaseSpec>) -> std::time::Duration {
    let seconds = spec
        .and_then(|s| s.lease_duration_seconds)
        .unwrap_or(0)
        .max(0);
    std::time::Duration::from_secs(seconds as u64)
}

/// `unchanged_for`: how long the record has looked exactly like this to us. A holder that
/// advertises a longer `leaseDurationSeconds` than ours is given that long, as client-go
/// does: its fence stays open for its own renew deadline, not ours.
fn decide(spec: &LeaseSpec, identity: &str, unchanged_for: Duration, lease: Duration) -> Decision {
    let lease = lease.max(advertised_duration(Some(spec)));
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => Decision::Renew,
        None | Some("") => Decision::Take,
        Some(_) if unchanged_for >= lease => Decision::Take,
        Some(_) => Decision::Wait,
    }
}

/// Holds or waits for one Lease, keeping its fence open while it holds it.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: LeaseTiming,
    fence: std::sync::Arc<Fence>,
    /// Labels the Lease is created with.
    labels: std::collections::BTreeMap<String, String>,
    /// The last record seen and when it was first seen like that.
    observed: Option<(LeaseSpec, Instant)>,
}

impl LeaderElector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            timing,
            fence: std::sync::Arc::new(Fence::closed()),
            labels: std::collections::BTreeMap::new(),
            observed: None,
        }
    }

    /// Opens and closes `fence` instead of a fence of its own: one that outlives this
    /// elector (a shard's, which clients keep while the shard comes and goes).
    pub fn fencing(mut self, fence: std::sync::Arc<Fence>) -> Self {
        self.fence = fence;
        self
    }

    /// Starts from an observation made elsewhere: the record was `spec` since `since`, so
    /// an abandoned Lease is taken a lease duration after it stopped changing, not a lease
    /// duration after this elector was made.
    pub fn seeded(mut self, spec: Option<LeaseSpec>, since: Instant) -> Self {
        if let Some(spec) = spec {
            self.observed = Some((spec, since));
        }
        self
    }

    /// Creates the Lease with this label too (membership Leases are listed by it).
    pub fn labelled(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    /// One bounded attempt to take or renew the Lease; whether this replica still holds
    /// it (a failed attempt within the renew deadline still does).
    pub async fn renew_once(&mut self) -> bool {
        if let Err(error) = self.attempt().await {
            warn!(lease = %self.name, %error, "could not renew the Lease");
        }
        self.fence.is_open()
    }

    /// The fence this elector opens while it leads; the AWS gate checks it.
    pub fn fence(&self) -> std::sync::Arc<Fence> {
        self.fence.clone()
    }

    /// Waits until this replica leads. Returns `false` if `shutdown` came first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> Result<bool> {
        info!(lease = %self.name, identity = %self.identity, "waiting for leadership");
        loop {
            match self.attempt().await {
                Ok(true) => {
                    info!(lease = %self.name, "became the leader");
                    return Ok(true);
                }
                Ok(false) => {}
                Err(error) => warn!(%error, "leader election attempt failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(self.timing.retry_period) => {}
            }
        }
    }

    /// Renews every retry period for as long as it can; returns the error once leadership
    /// is lost (another replica holds the Lease, or no renew succeeded within the renew
    /// deadline). The fence is closed by then. Never returns otherwise: drop the future to
    /// stop renewing.
    pub async fn hold(&mut self) -> Error {
        loop {
            tokio::time::sleep(self.timing.retry_period).await;
            match self.attempt().await {
                Ok(true) => {}
                Ok(false) => return self.lost("another replica holds the Lease"),
                Err(error) => warn!(%error, "could not renew the Lease"),
            }
            if !self.fence.is_open() {
                return self.lost("no renew succeeded within the renew deadline");
            }
        }
    }

    /// One bounded attempt to take or renew the Lease. Its start time is stamped before the
    /// request leaves; a success opens the fence until that stamp plus the renew deadline.
    async fn attempt(&mut self) -> Result<bool> {
        let started = Instant::now();
        let bound = self.timing.renew_deadline;
        let outcome = tokio::time::timeout(bound, self.try_acquire_or_renew()).await;
        match outcome {
            Ok(Ok(true)) => {
                self.fence.open_until(started + self.timing.renew_deadline);
                Ok(true)
            }
            Ok(Ok(false)) => {
                self.fence.close();
                Ok(false)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(Error::Config(format!(
                "the Lease request took longer than the renew deadline ({bound:?})"
            ))),
        }
    }

    /// Gives the Lease up so another replica can take over without waiting it out. The
    /// fence closes first: nothing may be mutated once the Lease may pass on.
    pub async fn release(&mut self) {
        self.fence.close();
        let bounded = tokio::time::timeout(self.timing.renew_deadline, self.clear_holder());
        if bounded.await.is_err() {
            warn!(lease = %self.name, "could not release the Lease in time; it expires instead");
        }
    }

    async fn clear_holder(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => info!(lease = %self.name, "released leadership"),
            Err(error) => warn!(%error, "could not release the Lease"),
        }
    }

    fn lost(&self, why: &str) -> Error {
        self.fence.close();
        Error::NotLeader(format!("lost leadership of Lease {}: {why}", self.name))
    }

    /// One round: creates, takes or renews the Lease if we may. `Ok(true)`: we lead.
    async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let now = MicroTime(Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record(now.clone(), 0, Some(now))),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                // Someone created it first.
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error.into()),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let unchanged_for = self.unchanged_for(&spec);
        let duration = self.timing.lease_duration;
        let next = match decide(&spec, &self.identity, unchanged_for, duration) {
            Decision::Wait => return Ok(false),
            Decision::Renew => LeaseSpec {
                renew_time: Some(now),
                ..spec
            },
            Decision::Take => {
                let transitions = spec.lease_transitions.unwrap_or(0) + 1;
                self.record(now.clone(), transitions, Some(now))
            }
        };
        lease.spec = Some(next);
        // resourceVersion from the read: a concurrent writer makes this fail, not both win.
        match self
            .api
            .replace(&lease.name_any(), &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    fn record(&self, now: MicroTime, transitions: i32, acquired: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.timing.lease_duration.as_secs().max(1) as i32),
            acquire_time: acquired,
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// How long the Lease record has looked like `spec` to this replica.
    fn unchanged_for(&mut self, spec: &LeaseSpec) -> Duration {
        match &self.observed {
            Some((seen, since)) if seen == spec => since.elapsed(),
            _ => {
                self.observed = Some((spec.clone(), Instant::now()));
                Duration::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: Option<&str>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_is_taken_only_when_free_or_unchanged_for_a_whole_duration() {
        let lease = Duration::from_secs(15);
        let cases = [
            (held_by(Some("me")), Duration::ZERO, Decision::Renew, "ours"),
            (held_by(None), Duration::ZERO, Decision::Take, "free"),
            (
                held_by(Some("")),
                Duration::ZERO,
                Decision::Take,
                "released",
            ),
            (
                held_by(Some("other")),
                Duration::from_secs(14),
                Decision::Wait,
                "other, fresh",
            ),
            (
                held_by(Some("other")),
                Duration::from_secs(15),
                Decision::Take,
                "other, expired",
            ),
        ];
        for (spec, unchanged_for, expected, why) in cases {
            assert_eq!(decide(&spec, "me", unchanged_for, lease), expected, "{why}");
        }
    }

    #[test]
    fn a_holder_advertising_a_longer_lease_is_given_that_long() {
        let ours = Duration::from_secs(15);
        let spec = LeaseSpec {
            holder_identity: Some("other".into()),
            lease_duration_seconds: Some(60),
            ..LeaseSpec::default()
        };
        assert_eq!(
            decide(&spec, "me", Duration::from_secs(20), ours),
            Decision::Wait,
            "20 s is past our 15 s but within the holder's 60 s"
        );
        assert_eq!(
            decide(&spec, "me", Duration::from_secs(60), ours),
            Decision::Take
        );
        let shorter = LeaseSpec {
            lease_duration_seconds: Some(5),
            ..spec
        };
        assert_eq!(
            decide(&shorter, "me", Duration::from_secs(10), ours),
            Decision::Wait,
            "a shorter advertised duration never shortens ours"
        );
    }

    #[test]
    fn the_timing_has_client_gos_proportions() {
        let timing = LeaseTiming::for_duration(Duration::from_secs(15));
        assert_eq!(timing.renew_deadline, Duration::from_secs(10));
        assert_eq!(timing.retry_period, Duration::from_secs(2));
        timing.validate().unwrap();
        let overlapping = LeaseTiming {
            renew_deadline: Duration::from_secs(15),
            ..timing
        };
        assert!(overlapping.validate().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_fence_closes_by_itself_when_the_renew_deadline_passes() {
        let fence = Fence::closed();
        assert!(
            fence.check("CreateStream").is_err(),
            "closed before leading"
        );
        fence.open_until(Instant::now() + Duration::from_secs(10));
        assert!(fence.check("CreateStream").is_ok());
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert!(fence.is_open());
        tokio::time::advance(Duration::from_millis(1)).await;
        let refused = fence.check("DeleteStream").unwrap_err();
        assert_eq!(refused.reason(), "NotLeader");
        assert!(refused.to_string().contains("DeleteStream"), "{refused}");
    }
}
