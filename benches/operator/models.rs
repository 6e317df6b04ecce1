//! Crossplane's and ACK's polling models, computed from their documented defaults for the
//! scenario's fleet (not measured: neither manages KVS against this emulator). Sources are
//! cited in docs/benchmarks.md.
//!
//! - Crossplane, `crossplane-contrib/provider-upjet-aws`, `cmd/provider/kinesisvideo/zz_main.go`:
//!   `--poll` 10m (each managed resource observed again after it, ±5 % jitter), `--sync` 1h
//!   (the informer resync, which reconciles every resource once more). An observation is a
//!   Terraform read of `aws_kinesis_video_stream`: DescribeStream and ListTagsForStream.
//! - ACK, `aws-controllers-k8s/runtime`: `defaultResyncPeriod = 10 * time.Hour`
//!   (`pkg/runtime/reconciler.go`), used while `--reconcile-default-resync-seconds` is 0, its
//!   default (`pkg/config/config.go`). There is no ACK controller for KVS; one built the
//!   usual way reads a resource with its Describe call and its tags (ListTagsForStream).

use std::time::Duration;

/// One tool's polling model.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub name: &'static str,
    /// How often each resource is observed at rest.
    pub poll: Duration,
    /// Extra observations per hour (an informer resync of everything), if any.
    pub extra_per_hour: f64,
    /// AWS calls per observation (DescribeStream + ListTagsForStream).
    pub calls_per_observation: f64,
    /// Jitter on the poll, as a fraction.
    pub jitter: f64,
}

pub const CROSSPLANE: Model = Model {
    name: "Crossplane (upjet provider-aws)",
    poll: Duration::from_secs(600),
    extra_per_hour: 1.0,
    calls_per_observation: 2.0,
    jitter: 0.05,
};

pub const ACK: Model = Model {
    name: "ACK (runtime defaults)",
    poll: Duration::from_secs(36_000),
    extra_per_hour: 0.0,
    calls_per_observation: 2.0,
    jitter: 0.0,
};

/// KVS's ListTagsForStream quota per account, which every observation spends one call of.
const LIST_TAGS_QUOTA: f64 = 50.0;

impl Model {
    fn observations_per_hour(&self) -> f64 {
        3600.0 / self.poll.as_secs_f64()
    }

    /// Calls per stream per hour at rest from the poll alone.
    pub fn at_rest(&self) -> f64 {
        self.observations_per_hour() * self.calls_per_observation
    }

    /// Calls per stream per hour at rest counting the extra resyncs too.
    pub fn at_rest_with_resyncs(&self) -> f64 {
        (self.observations_per_hour() + self.extra_per_hour) * self.calls_per_observation
    }

    /// `12` or `12–14` calls per stream per hour.
    pub fn at_rest_text(&self) -> String {
        let (low, high) = (self.at_rest(), self.at_rest_with_resyncs());
        if (high - low).abs() < 1e-9 {
            format!("{low:.2} calls/stream/h")
        } else {
            format!("{low:.0}–{high:.0} calls/stream/h (the hourly `--sync` adds one observation)")
        }
    }

    /// Share of an account's ListTagsForStream quota spent at rest by `streams` streams.
    pub fn list_tags_share(&self, streams: usize) -> f64 {
        streams as f64 * self.observations_per_hour() / 3600.0 / LIST_TAGS_QUOTA
    }

    /// Streams per account at which polling alone takes the whole ListTagsForStream quota.
    pub fn wall(&self) -> f64 {
        LIST_TAGS_QUOTA * 3600.0 / self.observations_per_hour()
    }

    /// The longest a change outside Kubernetes (tags included) stays uncorrected.
    pub fn drift_bound(&self) -> Duration {
        self.poll.mul_f64(1.0 + self.jitter)
    }

    /// A restart observes every resource once: calls in all, and the time the account's
    /// ListTagsForStream quota needs for them.
    pub fn restart(&self, streams: usize, largest_account: usize) -> (u64, Duration) {
        let calls = (streams as f64 * self.calls_per_observation) as u64;
        let time = Duration::from_secs_f64(largest_account as f64 / LIST_TAGS_QUOTA);
        (calls, time)
    }
}

/// `10m30s`, `10h`.
pub fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs >= 60 {
        match secs % 60 {
            0 => format!("{}m", secs / 60),
            s => format!("{}m{s:02}s", secs / 60),
        }
    } else {
        format!("{secs}s")
    }
}
