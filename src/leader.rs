//! Leader election on a `coordination.k8s.io` Lease, so that of several replicas exactly one
//! reconciles (and mutates AWS) at a time.
//!
//! Like client-go, expiry is judged by the follower's own clock: a Lease is free once its
//! record has not changed for a whole lease duration since this replica first saw it, so
//! clock skew between nodes cannot make two replicas lead at once.

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
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How often the leader renews, and a follower retries.
    pub retry_period: Duration,
}

impl LeaseTiming {
    pub fn for_duration(lease_duration: Duration) -> Self {
        Self {
            lease_duration,
            retry_period: (lease_duration / 5).max(Duration::from_millis(200)),
        }
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

/// `unchanged_for`: how long the record has looked exactly like this to us.
fn decide(spec: &LeaseSpec, identity: &str, unchanged_for: Duration, lease: Duration) -> Decision {
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => Decision::Renew,
        None | Some("") => Decision::Take,
        Some(_) if unchanged_for >= lease => Decision::Take,
        Some(_) => Decision::Wait,
    }
}

/// Holds or waits for one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: LeaseTiming,
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
            observed: None,
        }
    }

    /// Waits until this replica leads. Returns `false` if `shutdown` came first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> Result<bool> {
        info!(lease = %self.name, identity = %self.identity, "waiting for leadership");
        loop {
            match self.try_acquire_or_renew().await {
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

    /// Renews until `shutdown`; an error means leadership was lost and this replica must
    /// stop mutating at once.
    pub async fn hold(&mut self, shutdown: &CancellationToken) -> Result<()> {
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.timing.retry_period) => {}
            }
            match self.try_acquire_or_renew().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return Err(self.lost("another replica holds the Lease")),
                Err(error) => warn!(%error, "could not renew the Lease"),
            }
            // Stop before the Lease can expire under us: others may take it then.
            if renewed.elapsed() >= self.timing.lease_duration * 2 / 3 {
                return Err(self.lost("could not renew the Lease in time"));
            }
        }
    }

    /// Gives the Lease up so another replica can take over without waiting it out.
    pub async fn release(&mut self) {
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
        Error::Config(format!("lost leadership of Lease {}: {why}", self.name))
    }

    /// One round: creates, takes or renews the Lease if we may. `Ok(true)`: we lead.
    async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let now = MicroTime(Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
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
    fn the_retry_period_is_a_fifth_of_the_lease() {
        let timing = LeaseTiming::for_duration(Duration::from_secs(15));
        assert_eq!(timing.retry_period, Duration::from_secs(3));
    }
}
