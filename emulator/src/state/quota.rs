//! TPS quotas as token buckets: each holds at most one second of calls and refills at
//! the quota rate, so a burst up to the quota passes and a sustained rate above it is
//! throttled, as the service behaves.

use std::collections::HashMap;
use std::time::Instant;

use crate::model::config::Quotas;
use crate::model::operation::Operation;
use crate::model::resource::{Kind, Resource};
use crate::wire::error::ApiError;

/// Per-resource buckets idle this long are full again and can be forgotten.
const IDLE_SECONDS: f64 = 2.0;
/// Forget idle per-resource buckets once this many exist (and, after a prune, once
/// twice as many as it kept exist, so that pruning costs O(1) per call amortized even
/// when every bucket is busy).
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u32,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(limit: u32, now: Instant) -> Bucket {
        Bucket {
            limit,
            tokens: f64::from(limit),
            refilled: now,
        }
    }

    /// Takes one token if there is one, after refilling for the time passed (unless
    /// `refill` is off).
    fn take(&mut self, now: Instant, refill: bool) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        let capacity = f64::from(self.limit);
        if refill {
            self.tokens = (self.tokens + elapsed * capacity).min(capacity);
        }
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The buckets of the account quotas and of the per-resource (stream, channel) quotas.
#[derive(Debug)]
pub struct RateLimiter {
    account: HashMap<Operation, Bucket>,
    per_resource: HashMap<(Operation, Kind, String), Bucket>,
    /// Size at which the next prune of `per_resource` runs.
    prune_at: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            account: HashMap::new(),
            per_resource: HashMap::new(),
            prune_at: PRUNE_ABOVE,
        }
    }
}

impl RateLimiter {
    /// Admits one call of `op` (on `resource`, for per-resource operations) or answers
    /// `ClientLimitExceededException`.
    pub fn admit(
        &mut self,
        quotas: &Quotas,
        op: Operation,
        resource: Option<Resource<'_>>,
        now: Instant,
    ) -> Result<(), ApiError> {
        if !quotas.enabled {
            return Ok(());
        }
        if let Some(limit) = quotas.account_limit(op) {
            let bucket = self
                .account
                .entry(op)
                .or_insert_with(|| Bucket::full(limit, now));
            if bucket.limit != limit {
                *bucket = Bucket::full(limit, now);
            }
            if !bucket.take(now, quotas.refill) {
                return Err(ApiError::client_limit_exceeded(format!(
                    "{op} is limited to {limit} calls per second per account."
                )));
            }
        }
        let Some(resource) = resource.filter(|_| op.is_per_resource()) else {
            return Ok(());
        };
        let limit = match resource.kind {
            Kind::Stream => quotas.per_stream_tps,
            Kind::Channel => quotas.per_channel_tps,
        };
        if self.per_resource.len() >= self.prune_at {
            self.per_resource.retain(|_, bucket| {
                now.saturating_duration_since(bucket.refilled).as_secs_f64() < IDLE_SECONDS
            });
            self.prune_at = PRUNE_ABOVE.max(self.per_resource.len() * 2);
        }
        let bucket = self
            .per_resource
            .entry((op, resource.kind, resource.name.to_owned()))
            .or_insert_with(|| Bucket::full(limit, now));
        if bucket.limit != limit {
            *bucket = Bucket::full(limit, now);
        }
        if !bucket.take(now, quotas.refill) {
            let (kind, name) = (resource.kind.as_str(), resource.name);
            return Err(ApiError::client_limit_exceeded(format!(
                "{op} is limited to {limit} calls per second per {kind}; {kind} {name} is over it."
            )));
        }
        Ok(())
    }

    /// Refills every bucket, e.g. after quotas were switched off and on again.
    pub fn reset(&mut self) {
        self.account.clear();
        self.per_resource.clear();
        self.prune_at = PRUNE_ABOVE;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_up_to_the_quota_then_refill() {
        let mut limiter = RateLimiter::default();
        let quotas = Quotas::default();
        let t0 = Instant::now();
        for _ in 0..50 {
            limiter
                .admit(&quotas, Operation::CreateStream, None, t0)
                .unwrap();
        }
        let err = limiter
            .admit(&quotas, Operation::CreateStream, None, t0)
            .unwrap_err();
        assert_eq!(err.code, "ClientLimitExceededException");
        // 20 ms refills one token at 50/s.
        limiter
            .admit(
                &quotas,
                Operation::CreateStream,
                None,
                t0 + Duration::from_millis(20),
            )
            .unwrap();
    }

    fn stream(name: &str) -> Option<Resource<'_>> {
        Some(Resource {
            kind: Kind::Stream,
            name,
        })
    }

    #[test]
    fn per_resource_quota_is_separate_per_resource() {
        let mut limiter = RateLimiter::default();
        let quotas = Quotas::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            limiter
                .admit(&quotas, Operation::DescribeStream, stream("a"), t0)
                .unwrap();
        }
        assert!(
            limiter
                .admit(&quotas, Operation::DescribeStream, stream("a"), t0)
                .is_err()
        );
        limiter
            .admit(&quotas, Operation::DescribeStream, stream("b"), t0)
            .unwrap();
        limiter
            .admit(&quotas, Operation::TagStream, stream("a"), t0)
            .unwrap();
        let channel = Some(Resource {
            kind: Kind::Channel,
            name: "a",
        });
        for _ in 0..5 {
            limiter
                .admit(&quotas, Operation::TagResource, stream("a"), t0)
                .unwrap();
            limiter
                .admit(&quotas, Operation::TagResource, channel, t0)
                .unwrap();
        }
        let err = limiter
            .admit(&quotas, Operation::TagResource, channel, t0)
            .unwrap_err();
        assert!(err.message.contains("per channel"), "{}", err.message);
    }

    #[test]
    fn pruning_is_amortized_and_forgets_idle_buckets() {
        let mut limiter = RateLimiter::default();
        let quotas = Quotas {
            account_tps: Default::default(),
            ..Quotas::default()
        };
        let t0 = Instant::now();
        let names: Vec<String> = (0..3 * PRUNE_ABOVE).map(|i| format!("s{i}")).collect();
        for name in &names {
            limiter
                .admit(&quotas, Operation::DescribeStream, stream(name), t0)
                .unwrap();
        }
        // Every bucket was busy: the prunes kept them, and the threshold grew.
        assert_eq!(limiter.per_resource.len(), names.len());
        assert!(limiter.prune_at > names.len(), "{}", limiter.prune_at);
        let later = t0 + Duration::from_secs(3);
        let needed = limiter.prune_at - names.len();
        for name in &names[..=needed] {
            limiter
                .admit(&quotas, Operation::TagStream, stream(name), later)
                .unwrap();
        }
        // Past the threshold again, two seconds later: the idle buckets are gone.
        assert!(
            limiter.per_resource.len() <= needed + 1,
            "{}",
            limiter.per_resource.len()
        );
        // A forgotten bucket starts full again.
        limiter
            .admit(&quotas, Operation::DescribeStream, stream("s0"), later)
            .unwrap();
    }

    #[test]
    fn without_refill_exactly_the_quota_passes() {
        let mut limiter = RateLimiter::default();
        let quotas = Quotas {
            refill: false,
            ..Quotas::default()
        };
        let t0 = Instant::now();
        for i in 0..50 {
            let later = t0 + Duration::from_secs(i);
            limiter
                .admit(&quotas, Operation::ListStreams, None, later)
                .unwrap();
        }
        let much_later = t0 + Duration::from_secs(3600);
        let err = limiter
            .admit(&quotas, Operation::ListStreams, None, much_later)
            .unwrap_err();
        assert_eq!(err.code, "ClientLimitExceededException");
    }

    #[test]
    fn disabled_quotas_admit_everything() {
        let mut limiter = RateLimiter::default();
        let quotas = Quotas {
            enabled: false,
            ..Quotas::default()
        };
        let t0 = Instant::now();
        for _ in 0..1000 {
            limiter
                .admit(&quotas, Operation::ListStreams, None, t0)
                .unwrap();
        }
    }
}
