//! Prometheus metrics of the operator.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::VideoStream;
use crate::engine::conditions::{READY, find};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `success`, or the condition reason of the error (e.g. `Throttled`).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimiterLabels {
    /// `account/region`.
    pub account: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// `Normal` or `Warning`.
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanLabels {
    /// The KVS noun of the kind listed: `stream` or `signaling channel`.
    pub kind: String,
    /// `success` or `failed`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// What is held: `ledger` (objects the engine remembers), `tag_cache` (resources whose
    /// tags are cached), `identities` (AWS identities with a client).
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsStatusLabels {
    pub aws_status: String,
}

/// The media type of what [`Metrics::encode`] writes: prometheus-client's text encoder
/// writes the OpenMetrics 1.0 text format (`_total` counters, a closing `# EOF`), not the
/// older Prometheus 0.0.4 text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric the operator exports, registered in one registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<OutcomeLabels, Counter>,
    reconcile_duration: Histogram,
    aws_calls: Family<AwsCallLabels, Counter>,
    aws_call_duration: Family<OperationLabels, Histogram>,
    aws_throttles: Family<OperationLabels, Counter>,
    streams: Family<AwsStatusLabels, Gauge>,
    not_ready: Gauge,
    leader: Gauge,
    shards_held: Gauge,
    limiter_waiting: Family<LimiterLabels, Gauge>,
    limiter_wait: Family<LimiterLabels, Histogram>,
    events_dropped: Family<EventLabels, Counter>,
    tag_audits: Family<OutcomeLabels, Counter>,
    drift_scans: Family<ScanLabels, Counter>,
    held: Family<StateLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("kvs_operator");
        let reconciles = Family::<OutcomeLabels, Counter>::default();
        registry.register("reconciles", "Reconciles by outcome", reconciles.clone());
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "Kinesis Video Streams API calls by operation and outcome",
            aws_calls.clone(),
        );
        let aws_call_duration = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.002, 2.0, 14))
        });
        registry.register(
            "aws_call_duration_seconds",
            "Duration of Kinesis Video Streams API calls, after the rate limiter",
            aws_call_duration.clone(),
        );
        let aws_throttles = Family::<OperationLabels, Counter>::default();
        registry.register(
            "aws_throttles",
            "Calls answered with ClientLimitExceededException",
            aws_throttles.clone(),
        );
        let streams = Family::<AwsStatusLabels, Gauge>::default();
        registry.register(
            "streams",
            "VideoStreams by the AWS status of their stream",
            streams.clone(),
        );
        let not_ready = Gauge::default();
        registry.register(
            "videostreams_not_ready",
            "VideoStreams whose Ready condition is not True",
            not_ready.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds a shard's Lease (always, without election)",
            leader.clone(),
        );
        let shards_held = Gauge::default();
        registry.register(
            "shards_held",
            "Shards (AccountBindings, and the default shard) this replica holds the Lease of",
            shards_held.clone(),
        );
        let limiter_waiting = Family::<LimiterLabels, Gauge>::default();
        registry.register(
            "aws_limiter_waiting",
            "Calls waiting in an account's client-side rate limiter",
            limiter_waiting.clone(),
        );
        let limiter_wait = Family::<LimiterLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "aws_limiter_wait_seconds",
            "Time a call waited in the rate limiter before it was sent",
            limiter_wait.clone(),
        );
        let events_dropped = Family::<EventLabels, Counter>::default();
        registry.register(
            "events_dropped",
            "Events not published because the Event budget was spent",
            events_dropped.clone(),
        );
        let tag_audits = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "tag_audits",
            "Tag audits (fresh ListTagsForStream of an in-sync stream) by outcome",
            tag_audits.clone(),
        );
        let drift_scans = Family::<ScanLabels, Counter>::default();
        registry.register(
            "drift_scans",
            "Drift scan passes (one listing of one kind over an account) by outcome",
            drift_scans.clone(),
        );
        let held = Family::<StateLabels, Gauge>::default();
        registry.register(
            "held_entries",
            "Entries of the operator's in-memory state, by what they hold",
            held.clone(),
        );
        Self {
            registry,
            drift_scans,
            held,
            shards_held,
            limiter_waiting,
            limiter_wait,
            events_dropped,
            tag_audits,
            reconciles,
            reconcile_duration,
            aws_calls,
            aws_call_duration,
            aws_throttles,
            streams,
            not_ready,
            leader,
        }
    }
}

impl Metrics {
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn record_reconcile(&self, outcome: &str, duration: Duration) {
        self.reconciles
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.reconcile_duration.observe(duration.as_secs_f64());
    }

    pub fn record_aws_call(&self, operation: &str, outcome: &str, duration: Duration) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        let op = OperationLabels {
            operation: operation.to_string(),
        };
        self.aws_call_duration
            .get_or_create(&op)
            .observe(duration.as_secs_f64());
        if outcome == "Throttled" {
            self.aws_throttles.get_or_create(&op).inc();
        }
    }

    /// The gauge of calls waiting in `account`'s limiter for `operation`.
    pub fn limiter_waiting(&self, account: &str, operation: &str) -> Gauge {
        self.limiter_waiting
            .get_or_create(&LimiterLabels {
                account: account.to_string(),
                operation: operation.to_string(),
            })
            .clone()
    }

    pub fn record_limiter_wait(&self, account: &str, operation: &str, waited: Duration) {
        self.limiter_wait
            .get_or_create(&LimiterLabels {
                account: account.to_string(),
                operation: operation.to_string(),
            })
            .observe(waited.as_secs_f64());
    }

    pub fn record_event_dropped(&self, type_: &str) {
        self.events_dropped
            .get_or_create(&EventLabels {
                r#type: type_.to_string(),
            })
            .inc();
    }

    /// One drift scan pass of an account, for kind `kind`.
    pub fn record_scan(&self, kind: &str, outcome: &str) {
        self.drift_scans
            .get_or_create(&ScanLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// How many entries the operator's in-memory state holds, by what.
    pub fn set_held(&self, state: &str, entries: usize) {
        self.held
            .get_or_create(&StateLabels {
                state: state.to_string(),
            })
            .set(entries as i64);
    }

    /// `outcome`: `in-sync`, `drifted`, `full`, `failed` (the fresh read failed), or
    /// `deferred` (no budget left this time).
    pub fn record_tag_audit(&self, outcome: &str) {
        self.tag_audits
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Shards held by this replica; `leader` is 1 while it holds any.
    pub fn set_shards_held(&self, count: usize) {
        self.shards_held.set(count as i64);
        self.set_leader(count > 0);
    }

    /// Recomputes the per-resource gauges from the VideoStreams the controller knows.
    pub fn observe_resources<'a>(&self, resources: impl IntoIterator<Item = &'a VideoStream>) {
        self.streams.clear();
        let mut not_ready = 0;
        for vs in resources {
            let status = vs.status.as_ref();
            let aws_status = status
                .and_then(|s| s.aws_status.clone())
                .unwrap_or_else(|| "UNKNOWN".to_string());
            self.streams
                .get_or_create(&AwsStatusLabels { aws_status })
                .inc();
            let ready = status
                .and_then(|s| find(&s.conditions, READY))
                .is_some_and(|c| c.status == "True");
            if !ready {
                not_ready += 1;
            }
        }
        self.not_ready.set(not_ready);
    }

    /// The OpenMetrics text exposition of every metric ([`OPENMETRICS_CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStreamSpec, VideoStreamStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;

    fn resource(aws_status: Option<&str>, ready: bool) -> VideoStream {
        let mut vs = VideoStream::new("x", VideoStreamSpec::default());
        vs.status = aws_status.map(|s| VideoStreamStatus {
            aws_status: Some(s.to_string()),
            conditions: vec![Condition {
                type_: READY.into(),
                status: if ready { "True" } else { "False" }.into(),
                reason: "r".into(),
                message: String::new(),
                observed_generation: None,
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
            }],
            ..Default::default()
        });
        vs
    }

    #[test]
    fn the_exposition_counts_calls_reconciles_and_resources() {
        let metrics = Metrics::default();
        metrics.record_reconcile("success", Duration::from_millis(20));
        metrics.record_aws_call("DescribeStream", "success", Duration::from_millis(3));
        metrics.record_aws_call("CreateStream", "Throttled", Duration::from_millis(3));
        metrics.set_leader(true);
        let resources = [
            resource(Some("ACTIVE"), true),
            resource(Some("ACTIVE"), true),
            resource(Some("CREATING"), false),
            resource(None, false),
        ];
        metrics.observe_resources(&resources);
        let text = metrics.encode().unwrap();
        for line in [
            "kvs_operator_reconciles_total{outcome=\"success\"} 1",
            "kvs_operator_aws_calls_total{operation=\"DescribeStream\",outcome=\"success\"} 1",
            "kvs_operator_aws_throttles_total{operation=\"CreateStream\"} 1",
            "kvs_operator_streams{aws_status=\"ACTIVE\"} 2",
            "kvs_operator_streams{aws_status=\"UNKNOWN\"} 1",
            "kvs_operator_videostreams_not_ready 2",
            "kvs_operator_leader 1",
            "kvs_operator_reconcile_duration_seconds_count 1",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
    }
}
