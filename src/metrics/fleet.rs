//! The state of the fleet, for the metrics: objects by kind and Ready state, how long the
//! oldest object that is not Ready has been so, resources by AWS status, the shards and
//! the AccountBindings.
//!
//! It is taken from the watch caches on each scrape: one pass over the cached objects, no
//! API call. Only the objects of the shards this replica holds are counted, so a sum over
//! the replicas counts every object once (and a standby replica reports zeros).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};

use crate::api::{AccountBinding, SignalingChannel, VideoStream};
use crate::engine::conditions::{READY, find};
use crate::engine::context::Context;
use crate::engine::kind::{Kind, KindStatus};

/// The values of the `ready` label, in the order of [`KindCensus::ready`].
pub const READY_STATES: [&str; 3] = ["True", "False", "Unknown"];

/// The `aws_status` of an object whose resource has not been seen yet.
pub const UNKNOWN_AWS_STATUS: &str = "UNKNOWN";

/// The objects of one kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindCensus {
    /// Objects whose Ready condition is True, False, or Unknown (also: none yet).
    pub ready: [u64; 3],
    /// Seconds since the oldest object that is not Ready stopped being Ready (or was
    /// created, when it never was); 0 when every object is Ready.
    pub oldest_not_ready: f64,
    /// Objects by the AWS status of their resource, as last seen; empty for kinds with no
    /// AWS resource of their own.
    pub aws_status: BTreeMap<String, u64>,
}

impl KindCensus {
    /// Counts one object: its Ready condition, when it was created, and the status of its
    /// resource (`None` for kinds without one).
    pub fn add(
        &mut self,
        conditions: &[Condition],
        created: Option<&Time>,
        aws_status: Option<Option<&str>>,
        now: Timestamp,
    ) {
        let ready = find(conditions, READY);
        let state = match ready.map(|c| c.status.as_str()) {
            Some("True") => 0,
            Some("False") => 1,
            _ => 2,
        };
        self.ready[state] += 1;
        if state != 0 {
            let since = ready.map(|c| &c.last_transition_time).or(created);
            let age = since.map_or(0.0, |t| now.duration_since(t.0).as_secs_f64().max(0.0));
            self.oldest_not_ready = self.oldest_not_ready.max(age);
        }
        if let Some(status) = aws_status {
            let status = status.unwrap_or(UNKNOWN_AWS_STATUS);
            match self.aws_status.get_mut(status) {
                Some(count) => *count += 1,
                None => {
                    self.aws_status.insert(status.to_string(), 1);
                }
            }
        }
    }
}

/// Counts the objects of kind `K` whose namespace `held` says this replica serves now.
pub fn count<'a, K: Kind>(
    objects: impl IntoIterator<Item = &'a K>,
    mut held: impl FnMut(&K) -> bool,
    now: Timestamp,
) -> KindCensus {
    let mut census = KindCensus::default();
    for object in objects {
        if !held(object) {
            continue;
        }
        let status = object.status();
        census.add(
            status.map_or(&[], KindStatus::conditions),
            object.meta().creation_timestamp.as_ref(),
            Some(status.and_then(KindStatus::aws_status)),
            now,
        );
    }
    census
}

/// The fleet as one replica sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Census {
    /// By kind (`VideoStream`, `SignalingChannel`, `AccountBinding`), every kind present.
    pub kinds: BTreeMap<String, KindCensus>,
    /// Every shard that exists now, and whether this replica holds it.
    pub shards: BTreeMap<String, bool>,
    /// The AccountBindings of the shards this replica holds, and whether each is Ready.
    pub bindings: BTreeMap<String, bool>,
}

impl Census {
    /// The census of what `ctx`'s watch caches hold now.
    pub fn take(ctx: &Context, now: Timestamp) -> Census {
        let shards: BTreeMap<String, bool> = ctx
            .shard_names()
            .into_iter()
            .map(|shard| {
                let held = ctx.shards.holds(&shard);
                (shard, held)
            })
            .collect();
        // Without election every shard is held: no need to place each object.
        let elected = ctx.shards.is_elected();
        let streams = ctx.videostreams.known();
        let channels = ctx.channels.known();
        let mut kinds = BTreeMap::new();
        kinds.insert(
            VideoStream::kind(&()).to_string(),
            count(
                streams.iter().map(AsRef::as_ref),
                |o: &VideoStream| !elected || ctx.holds(o),
                now,
            ),
        );
        kinds.insert(
            SignalingChannel::kind(&()).to_string(),
            count(
                channels.iter().map(AsRef::as_ref),
                |o: &SignalingChannel| !elected || ctx.holds(o),
                now,
            ),
        );

        let mut bindings = BTreeMap::new();
        let mut binding_census = KindCensus::default();
        let region = ctx.accounts.default_region();
        for binding in ctx.bindings.state() {
            // Counted by the replica holding the binding's account; a binding that is
            // another operator's is not one.
            let name = binding.name_any();
            let shard = crate::tenancy::IdentityKey::of_binding(&binding, &region).shard();
            if !ctx.is_own_binding(&binding) || shards.get(&shard) != Some(&true) {
                continue;
            }
            let conditions = binding_conditions(&binding);
            binding_census.add(
                conditions,
                binding.meta().creation_timestamp.as_ref(),
                None,
                now,
            );
            let ready = find(conditions, READY).is_some_and(|c| c.status == "True");
            bindings.insert(name, ready);
        }
        kinds.insert(AccountBinding::kind(&()).to_string(), binding_census);
        Census {
            kinds,
            shards,
            bindings,
        }
    }
}

fn binding_conditions(binding: &AccountBinding) -> &[Condition] {
    binding.status.as_ref().map_or(&[], |s| &s.conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStreamSpec, VideoStreamStatus};

    const NOW: i64 = 1_000_000;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    /// A VideoStream in `namespace`, created at `created`, with a Ready condition of
    /// `ready` since `since` (no condition when `ready` is `None`).
    fn stream(
        namespace: &str,
        created: i64,
        ready: Option<(&str, i64)>,
        aws_status: Option<&str>,
    ) -> VideoStream {
        let mut vs = VideoStream::new("x", VideoStreamSpec::default());
        vs.metadata.namespace = Some(namespace.into());
        vs.metadata.creation_timestamp = Some(at(created));
        vs.status = Some(VideoStreamStatus {
            aws_status: aws_status.map(Into::into),
            conditions: ready
                .map(|(status, since)| Condition {
                    type_: READY.into(),
                    status: status.into(),
                    reason: "r".into(),
                    message: String::new(),
                    observed_generation: None,
                    last_transition_time: at(since),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        });
        vs
    }

    fn now() -> Timestamp {
        Timestamp::from_second(NOW).unwrap()
    }

    #[test]
    fn objects_are_counted_by_ready_state_and_aws_status() {
        let objects = [
            stream("a", 0, Some(("True", 10)), Some("ACTIVE")),
            stream("a", 0, Some(("True", 10)), Some("ACTIVE")),
            stream("a", 0, Some(("False", NOW - 60)), Some("CREATING")),
            stream("a", NOW - 5, None, None),
        ];
        let census = count(&objects, |_| true, now());
        assert_eq!(census.ready, [2, 1, 1]);
        assert_eq!(
            census.aws_status,
            BTreeMap::from([
                ("ACTIVE".to_string(), 2),
                ("CREATING".to_string(), 1),
                (UNKNOWN_AWS_STATUS.to_string(), 1),
            ])
        );
        assert_eq!(census.oldest_not_ready, 60.0);
    }

    #[test]
    fn the_oldest_not_ready_counts_from_the_last_transition_or_else_the_creation() {
        // Ready long ago does not count; not Ready since an hour does; one without a Ready
        // condition counts from its creation, two hours ago.
        let objects = [
            stream("a", 0, Some(("True", 0)), Some("ACTIVE")),
            stream("a", 0, Some(("False", NOW - 3600)), Some("ACTIVE")),
            stream("a", NOW - 7200, None, None),
        ];
        assert_eq!(count(&objects, |_| true, now()).oldest_not_ready, 7200.0);
        assert_eq!(
            count(&objects[..2], |_| true, now()).oldest_not_ready,
            3600.0
        );
        assert_eq!(count(&objects[..1], |_| true, now()).oldest_not_ready, 0.0);
        // An Unknown Ready condition is not Ready either.
        let unknown = [stream("a", 0, Some(("Unknown", NOW - 30)), None)];
        let census = count(&unknown, |_| true, now());
        assert_eq!((census.ready, census.oldest_not_ready), ([0, 0, 1], 30.0));
    }

    #[test]
    fn only_the_namespaces_of_held_shards_are_counted() {
        let objects = [
            stream("mine", 0, Some(("False", NOW - 10)), Some("ACTIVE")),
            stream("theirs", 0, Some(("False", NOW - 999)), Some("ACTIVE")),
        ];
        let census = count(
            &objects,
            |o: &VideoStream| o.metadata.namespace.as_deref() == Some("mine"),
            now(),
        );
        assert_eq!(census.ready, [0, 1, 0]);
        assert_eq!(census.oldest_not_ready, 10.0);
    }
}
