//! A non-blocking token bucket, for work that is deferred rather than queued when its budget
//! is spent: tag audits (a share of ListTagsForStream's quota) and Events (a share of the
//! API server's attention). Waiting for a token inside a reconcile would hold a reconcile
//! slot that user intent needs; a caller that gets no token tries again later.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Budget {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Budget {
    /// `per_second` tokens a second, at most `burst` saved up (and available at once).
    pub fn new(per_second: f64, burst: f64) -> Self {
        let burst = burst.max(1.0);
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes a token if one is there.
    pub fn try_take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, refilled) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*refilled).as_secs_f64() * self.per_second)
            .min(self.burst);
        *refilled = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// About how long until the next token.
    pub fn next_in(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_refuses_until_it_refills() {
        let budget = Budget::new(10.0, 3.0);
        assert!(
            (0..3).all(|_| budget.try_take()),
            "the burst is there at once"
        );
        assert!(!budget.try_take());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(budget.try_take(), "one token per 100 ms");
        assert!(!budget.try_take());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            (0..10).filter(|_| budget.try_take()).count(),
            3,
            "saved up to the burst"
        );
    }
}
