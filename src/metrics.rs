//! Prometheus metrics of the operator: what it does, recorded as it happens (reconciles,
//! AWS calls, rate-limiter waits, tag audits, drift scans, Events), and the state of the
//! fleet, taken from the watch caches on each scrape ([`fleet`]).
//!
//! Every metric about objects carries a `kind` label valued with the Kubernetes kind
//! (`VideoStream`, `SignalingChannel`, `AccountBinding`), as `kubectl` names it; an AWS
//! call carries the kind its operation acts for.

pub mod fleet;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use fleet::{Census, READY_STATES};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindOutcomeLabels {
    pub kind: String,
    /// `success`, or the condition reason of the error (e.g. `Throttled`).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    pub kind: String,
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub kind: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimiterLabels {
    /// `account/region`.
    pub account: String,
    pub kind: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanLabels {
    pub kind: String,
    /// `account/region`.
    pub account: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub kind: String,
    /// `Normal` or `Warning`.
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadyLabels {
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub ready: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsStatusLabels {
    pub kind: String,
    pub aws_status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabels {
    pub shard: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BindingLabels {
    pub binding: String,
}

/// The media type of what [`Metrics::encode`] writes: prometheus-client's text encoder
/// writes the OpenMetrics 1.0 text format (`_total` counters, a closing `# EOF`), not the
/// older Prometheus 0.0.4 text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// What is held: `ledger` (objects the engine remembers), `tag_cache` (resources whose
    /// tags are cached), `identities` (AWS identities with a client).
    pub state: String,
}

/// Every metric the operator exports, registered in one registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindOutcomeLabels, Counter>,
    reconcile_duration: Family<KindLabels, Histogram>,
    aws_calls: Family<AwsCallLabels, Counter>,
    aws_call_duration: Family<OperationLabels, Histogram>,
    aws_throttles: Family<OperationLabels, Counter>,
    limiter_waiting: Family<LimiterLabels, Gauge>,
    limiter_wait: Family<LimiterLabels, Histogram>,
    events_dropped: Family<EventLabels, Counter>,
    tag_audits: Family<KindOutcomeLabels, Counter>,
    drift_scans: Family<ScanLabels, Counter>,
    objects: Family<ReadyLabels, Gauge>,
    oldest_not_ready: Family<KindLabels, Gauge<f64, AtomicU64>>,
    resources: Family<AwsStatusLabels, Gauge>,
    leader: Gauge,
    shards_held: Gauge,
    shard_held: Family<ShardLabels, Gauge>,
    binding_ready: Family<BindingLabels, Gauge>,
    held: Family<StateLabels, Gauge>,
    /// One scrape at a time: each rewrites the fleet gauges, then encodes them.
    scraping: Mutex<()>,
}

/// Registers `metric` under `name` and returns it (metrics are handles: the clone kept
/// and the one registered are the same metric).
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("kvs_operator");
        Self {
            reconciles: registered(
                &mut r,
                "reconciles",
                "Reconciles by kind and outcome",
                Family::default(),
            ),
            reconcile_duration: registered(
                &mut r,
                "reconcile_duration_seconds",
                "Duration of one reconcile",
                Family::new_with_constructor(|| {
                    Histogram::new(exponential_buckets(0.005, 2.0, 14))
                }),
            ),
            aws_calls: registered(
                &mut r,
                "aws_calls",
                "Kinesis Video Streams API calls by kind, operation and outcome",
                Family::default(),
            ),
            aws_call_duration: registered(
                &mut r,
                "aws_call_duration_seconds",
                "Duration of Kinesis Video Streams API calls, after the rate limiter",
                Family::new_with_constructor(|| {
                    Histogram::new(exponential_buckets(0.002, 2.0, 14))
                }),
            ),
            aws_throttles: registered(
                &mut r,
                "aws_throttles",
                "Calls answered with ClientLimitExceededException",
                Family::default(),
            ),
            limiter_waiting: registered(
                &mut r,
                "aws_limiter_waiting",
                "Calls waiting in an account's client-side rate limiter",
                Family::default(),
            ),
            limiter_wait: registered(
                &mut r,
                "aws_limiter_wait_seconds",
                "Time a call waited in the rate limiter before it was sent",
                Family::new_with_constructor(|| {
                    Histogram::new(exponential_buckets(0.001, 2.0, 16))
                }),
            ),
            events_dropped: registered(
                &mut r,
                "events_dropped",
                "Events not published because the Event budget was spent",
                Family::default(),
            ),
            tag_audits: registered(
                &mut r,
                "tag_audits",
                "Tag audits (fresh tag reads of an in-sync resource) by kind and outcome",
                Family::default(),
            ),
            drift_scans: registered(
                &mut r,
                "drift_scans",
                "Drift scans (one listing of an account's resources of a kind) by outcome",
                Family::default(),
            ),
            held: registered(
                &mut r,
                "held_entries",
                "Entries of the operator's in-memory state, by what they hold (ledger, tag_cache, identities)",
                Family::default(),
            ),
            objects: registered(
                &mut r,
                "objects",
                "Objects of the shards this replica holds, by kind and Ready condition",
                Family::default(),
            ),
            oldest_not_ready: registered(
                &mut r,
                "oldest_not_ready_seconds",
                "How long the oldest object of the kind that is not Ready has been so (0: all are Ready)",
                Family::default(),
            ),
            resources: registered(
                &mut r,
                "resources",
                "Objects by the AWS status of their resource, as last seen",
                Family::default(),
            ),
            leader: registered(
                &mut r,
                "leader",
                "1 while this replica holds a shard's Lease (always, without election)",
                Gauge::default(),
            ),
            shards_held: registered(
                &mut r,
                "shards_held",
                "Shards (AWS accounts and regions) this replica holds the Lease of",
                Gauge::default(),
            ),
            shard_held: registered(
                &mut r,
                "shard_held",
                "1 for each shard this replica holds, 0 for each it knows and does not hold",
                Family::default(),
            ),
            binding_ready: registered(
                &mut r,
                "account_binding_ready",
                "1 when the AccountBinding is Ready, else 0 (reported by its shard's holder)",
                Family::default(),
            ),
            registry: r,
            scraping: Mutex::new(()),
        }
    }
}

fn kind_outcome(kind: &str, outcome: &str) -> KindOutcomeLabels {
    KindOutcomeLabels {
        kind: kind.to_string(),
        outcome: outcome.to_string(),
    }
}

impl Metrics {
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn record_reconcile(&self, kind: &str, outcome: &str, duration: Duration) {
        self.reconciles
            .get_or_create(&kind_outcome(kind, outcome))
            .inc();
        self.reconcile_duration
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .observe(duration.as_secs_f64());
    }

    /// One AWS call of `operation`, made for an object of `kind`.
    pub fn record_aws_call(&self, kind: &str, operation: &str, outcome: &str, duration: Duration) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                kind: kind.to_string(),
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        let op = OperationLabels {
            kind: kind.to_string(),
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
    pub fn limiter_waiting(&self, account: &str, kind: &str, operation: &str) -> Gauge {
        self.limiter_waiting.get_or_create_owned(&LimiterLabels {
            account: account.to_string(),
            kind: kind.to_string(),
            operation: operation.to_string(),
        })
    }

    pub fn record_limiter_wait(
        &self,
        account: &str,
        kind: &str,
        operation: &str,
        waited: Duration,
    ) {
        self.limiter_wait
            .get_or_create(&LimiterLabels {
                account: account.to_string(),
                kind: kind.to_string(),
                operation: operation.to_string(),
            })
            .observe(waited.as_secs_f64());
    }

    pub fn record_event_dropped(&self, kind: &str, type_: &str) {
        self.events_dropped
            .get_or_create(&EventLabels {
                kind: kind.to_string(),
                r#type: type_.to_string(),
            })
            .inc();
    }

    /// `outcome`: `in-sync`, `drifted`, `full` (the audit is a full reconcile) or
    /// `deferred` (no budget left this time).
    pub fn record_tag_audit(&self, kind: &str, outcome: &str) {
        self.tag_audits
            .get_or_create(&kind_outcome(kind, outcome))
            .inc();
    }

    /// One drift scan of `account` (`account/region`) for `kind`: `success`, or the reason
    /// of its error.
    pub fn record_drift_scan(&self, kind: &str, account: &str, outcome: &str) {
        self.drift_scans
            .get_or_create(&ScanLabels {
                kind: kind.to_string(),
                account: account.to_string(),
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

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Shards held by this replica; `leader` is 1 while it holds any.
    pub fn set_shards_held(&self, count: usize) {
        self.shards_held.set(count as i64);
        self.set_leader(count > 0);
    }

    /// Sets the fleet gauges from `census`. Every kind it names gets all three Ready
    /// states, zeros included, so a query over them never finds a gap.
    pub fn observe_fleet(&self, census: &Census) {
        self.resources.clear();
        self.shard_held.clear();
        self.binding_ready.clear();
        for (kind, counted) in &census.kinds {
            for (state, count) in READY_STATES.iter().zip(counted.ready) {
                let labels = ReadyLabels {
                    kind: kind.clone(),
                    ready: state.to_string(),
                };
                self.objects.get_or_create(&labels).set(count as i64);
            }
            self.oldest_not_ready
                .get_or_create(&KindLabels { kind: kind.clone() })
                .set(counted.oldest_not_ready);
            for (aws_status, count) in &counted.aws_status {
                let labels = AwsStatusLabels {
                    kind: kind.clone(),
                    aws_status: aws_status.clone(),
                };
                self.resources.get_or_create(&labels).set(*count as i64);
            }
        }
        for (shard, held) in &census.shards {
            let labels = ShardLabels {
                shard: shard.clone(),
            };
            self.shard_held.get_or_create(&labels).set(i64::from(*held));
        }
        for (binding, ready) in &census.bindings {
            let labels = BindingLabels {
                binding: binding.clone(),
            };
            self.binding_ready
                .get_or_create(&labels)
                .set(i64::from(*ready));
        }
    }

    /// What a scrape answers: the fleet gauges set from `census`, then every metric
    /// encoded ([`OPENMETRICS_CONTENT_TYPE`]).
    pub fn scrape(&self, census: &Census) -> Result<String, std::fmt::Error> {
        let _one_at_a_time = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        self.observe_fleet(census);
        self.encode()
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
    use std::collections::BTreeMap;

    use super::fleet::KindCensus;
    use super::*;

    fn census() -> Census {
        let streams = KindCensus {
            ready: [2, 1, 1],
            oldest_not_ready: 90.5,
            aws_status: BTreeMap::from([("ACTIVE".into(), 2), ("CREATING".into(), 2)]),
        };
        Census {
            kinds: BTreeMap::from([
                ("VideoStream".into(), streams),
                ("SignalingChannel".into(), KindCensus::default()),
            ]),
            shards: BTreeMap::from([("default".into(), true), ("team-a".into(), false)]),
            bindings: BTreeMap::from([("team-b".into(), false)]),
        }
    }

    #[test]
    fn the_exposition_counts_calls_and_reconciles_by_kind() {
        let metrics = Metrics::default();
        metrics.record_reconcile("VideoStream", "success", Duration::from_millis(20));
        metrics.record_reconcile("SignalingChannel", "AccessDenied", Duration::from_millis(5));
        metrics.record_aws_call(
            "VideoStream",
            "DescribeStream",
            "success",
            Duration::from_millis(3),
        );
        metrics.record_aws_call(
            "SignalingChannel",
            "CreateSignalingChannel",
            "Throttled",
            Duration::from_millis(3),
        );
        metrics.record_tag_audit("SignalingChannel", "in-sync");
        metrics.record_drift_scan("VideoStream", "111111111111/us-west-2", "AccessDenied");
        metrics.record_event_dropped("VideoStream", "Warning");
        metrics.record_limiter_wait(
            "111111111111/us-west-2",
            "VideoStream",
            "CreateStream",
            Duration::from_millis(40),
        );
        metrics.set_shards_held(1);
        let text = metrics.encode().unwrap();
        for line in [
            "kvs_operator_reconciles_total{kind=\"VideoStream\",outcome=\"success\"} 1",
            "kvs_operator_reconciles_total{kind=\"SignalingChannel\",outcome=\"AccessDenied\"} 1",
            "kvs_operator_reconcile_duration_seconds_count{kind=\"VideoStream\"} 1",
            "kvs_operator_aws_calls_total{kind=\"VideoStream\",operation=\"DescribeStream\",outcome=\"success\"} 1",
            "kvs_operator_aws_throttles_total{kind=\"SignalingChannel\",operation=\"CreateSignalingChannel\"} 1",
            "kvs_operator_tag_audits_total{kind=\"SignalingChannel\",outcome=\"in-sync\"} 1",
            "kvs_operator_drift_scans_total{kind=\"VideoStream\",account=\"111111111111/us-west-2\",outcome=\"AccessDenied\"} 1",
            "kvs_operator_events_dropped_total{kind=\"VideoStream\",type=\"Warning\"} 1",
            "kvs_operator_aws_limiter_wait_seconds_count{account=\"111111111111/us-west-2\",kind=\"VideoStream\",operation=\"CreateStream\"} 1",
            "kvs_operator_leader 1",
            "kvs_operator_shards_held 1",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
    }

    #[test]
    fn a_scrape_reports_the_fleet_by_kind_with_zeros_and_drops_what_went_away() {
        let metrics = Metrics::default();
        let text = metrics.scrape(&census()).unwrap();
        for line in [
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"True\"} 2",
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"False\"} 1",
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"Unknown\"} 1",
            "kvs_operator_objects{kind=\"SignalingChannel\",ready=\"True\"} 0",
            "kvs_operator_objects{kind=\"SignalingChannel\",ready=\"Unknown\"} 0",
            "kvs_operator_oldest_not_ready_seconds{kind=\"VideoStream\"} 90.5",
            "kvs_operator_oldest_not_ready_seconds{kind=\"SignalingChannel\"} 0.0",
            "kvs_operator_resources{kind=\"VideoStream\",aws_status=\"CREATING\"} 2",
            "kvs_operator_shard_held{shard=\"default\"} 1",
            "kvs_operator_shard_held{shard=\"team-a\"} 0",
            "kvs_operator_account_binding_ready{binding=\"team-b\"} 0",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
        // The next scrape no longer sees the stream being created, the team-a shard or
        // the binding: their series go.
        let mut later = census();
        later.kinds.get_mut("VideoStream").unwrap().aws_status =
            BTreeMap::from([("ACTIVE".into(), 4)]);
        later.shards.remove("team-a");
        later.bindings.clear();
        let text = metrics.scrape(&later).unwrap();
        assert!(
            text.contains("kvs_operator_resources{kind=\"VideoStream\",aws_status=\"ACTIVE\"} 4")
        );
        for gone in ["CREATING", "team-a", "team-b"] {
            assert!(!text.contains(gone), "{gone} still reported:\n{text}");
        }
    }
}
