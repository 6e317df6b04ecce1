//! The conditions every kind writes, the same way: `Ready` and `Synced` always, and the
//! kstatus conditions `Reconciling` and `Stalled` while they apply ("abnormal-true").
//! Pure: a kind's status function calls [`set_conditions`] with what the reconcile found.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::{Error, ErrorClass};

/// Condition types. `Ready` and `Synced` are always present after the first reconcile;
/// `Reconciling` and `Stalled` follow the kstatus convention: present and True only while
/// the current generation is still being applied, or cannot be applied until someone acts.
pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// Condition reasons that are not error reasons (those come from [`Error::reason`]).
pub mod reason {
    /// Ready: the resource is ACTIVE and matches the spec.
    pub const AVAILABLE: &str = "Available";
    /// Ready: ObserveOnly, and the resource is there and ACTIVE.
    pub const OBSERVED: &str = "Observed";
    /// Ready: the resource is being created.
    pub const CREATING: &str = "Creating";
    /// Ready: a change is being applied or KVS reports UPDATING.
    pub const UPDATING: &str = "Updating";
    /// Ready: KVS is deleting the resource (or the object is being deleted).
    pub const DELETING: &str = "Deleting";
    /// Ready: ObserveOnly, and KVS has no such resource.
    pub const NOT_FOUND: &str = "NotFound";
    /// Synced: the last reconcile went through.
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    /// Ready: the current generation is not applied yet; a transient error is retried.
    pub const PROGRESSING: &str = "Progressing";
    /// Synced: the pause annotation stops every AWS call.
    pub const PAUSED: &str = "Paused";
}

/// What a reconcile found, in the terms of the conditions.
pub enum Verdict<'a> {
    /// A step went through: Ready is `ready` with this reason and message; `stalled` when
    /// not ready and nothing the operator does will change that (ObserveOnly of a resource
    /// that is not there: someone has to create it).
    Stepped {
        ready: bool,
        stalled: bool,
        reason: &'a str,
        message: &'a str,
    },
    /// The reconcile failed.
    Failed(&'a Error),
    /// A cleanup step went through.
    CleaningUp { message: &'a str },
    /// The object is paused: nothing was done.
    Paused { deleting: bool },
}

/// Sets the conditions of a reconcile of `generation` at `now`.
pub fn set_conditions(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    verdict: Verdict<'_>,
    now: Timestamp,
) {
    let stamp = ConditionStamp { generation, now };
    match verdict {
        Verdict::Stepped {
            ready,
            stalled,
            reason,
            message,
        } => {
            stamp.set(conditions, READY, ready, reason, message);
            stamp.progress(conditions, stalled && !ready);
            stamp.succeeded(conditions);
        }
        Verdict::Failed(error) => {
            let message = error.to_string();
            stamp.set(conditions, SYNCED, false, error.reason(), &message);
            // A transient error leaves a Ready that describes the current generation as it
            // is (True: the resource is still fine; False: it still says why not). Only a
            // Ready left over from an older generation, or none, becomes Progressing. An
            // error that needs a person to act sets Ready False whatever came before.
            let current =
                find(conditions, READY).is_some_and(|c| c.observed_generation == generation);
            if error.class() != ErrorClass::Retryable {
                stamp.set(conditions, READY, false, error.reason(), &message);
                stamp.progress(conditions, true);
            } else if !current {
                let pending = match generation {
                    Some(g) => format!("generation {g} is not applied yet: {message}"),
                    None => format!("the spec is not applied yet: {message}"),
                };
                stamp.set(conditions, READY, false, reason::PROGRESSING, &pending);
                stamp.progress(conditions, false);
            }
        }
        Verdict::CleaningUp { message } => {
            stamp.set(conditions, READY, false, reason::DELETING, message);
            stamp.progress(conditions, false);
            stamp.succeeded(conditions);
        }
        Verdict::Paused { deleting } => {
            let message = if deleting {
                "paused (annotation kvs-operator.dev/paused: \"true\"): the deletion waits, and nothing is called at AWS, until the annotation is removed"
            } else {
                "paused (annotation kvs-operator.dev/paused: \"true\"): nothing is called at AWS until the annotation is removed"
            };
            stamp.set(conditions, SYNCED, false, reason::PAUSED, message);
            // Paused on purpose: neither progressing nor stuck.
            conditions.retain(|c| c.type_ != RECONCILING && c.type_ != STALLED);
        }
    }
}

/// The generation and time every condition set in one reconcile is stamped with.
pub struct ConditionStamp {
    pub generation: Option<i64>,
    pub now: Timestamp,
}

impl ConditionStamp {
    /// Sets a condition, keeping its transition time when the status did not flip.
    pub fn set(
        &self,
        conditions: &mut Vec<Condition>,
        type_: &str,
        ok: bool,
        reason: &str,
        message: &str,
    ) {
        let status = if ok { "True" } else { "False" }.to_string();
        let last_transition_time = match find(conditions, type_) {
            Some(old) if old.status == status => old.last_transition_time.clone(),
            _ => Time(self.now),
        };
        let condition = Condition {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message: message.to_string(),
            observed_generation: self.generation,
            last_transition_time,
        };
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(slot) => *slot = condition,
            None => conditions.push(condition),
        }
    }

    fn succeeded(&self, conditions: &mut Vec<Condition>) {
        self.set(
            conditions,
            SYNCED,
            true,
            reason::RECONCILE_SUCCESS,
            "the last reconcile succeeded",
        );
    }

    /// Derives the kstatus conditions from Ready: `Reconciling` while the resource is not
    /// Ready and will get there by itself, `Stalled` when it cannot without someone acting.
    /// Each carries Ready's reason and message; neither is kept once it would be False.
    fn progress(&self, conditions: &mut Vec<Condition>, stalled: bool) {
        let Some(ready) = find(conditions, READY).cloned() else {
            return;
        };
        let not_ready = ready.status != "True";
        for (type_, on) in [(RECONCILING, not_ready && !stalled), (STALLED, stalled)] {
            if on {
                self.set(conditions, type_, true, &ready.reason, &ready.message);
            } else {
                conditions.retain(|c| c.type_ != type_);
            }
        }
    }
}

/// The top-level `observedGeneration` a status reports. A paused object applies nothing:
/// it keeps the generation it last applied, so kstatus never takes a spec change made while
/// paused for one that was applied (Ready still describes the older generation).
pub fn observed_generation(
    previous: Option<i64>,
    generation: Option<i64>,
    paused: bool,
) -> Option<i64> {
    if paused { previous } else { generation }
}

/// The condition of a type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn pausing_says_so_in_synced_and_leaves_readiness_alone() {
        let mut conditions = Vec::new();
        let ready = Verdict::Stepped {
            ready: true,
            stalled: false,
            reason: reason::AVAILABLE,
            message: "fine",
        };
        set_conditions(&mut conditions, Some(1), ready, at(1));
        set_conditions(
            &mut conditions,
            Some(1),
            Verdict::Paused { deleting: true },
            at(2),
        );
        let synced = find(&conditions, SYNCED).unwrap();
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", "Paused")
        );
        assert!(
            synced.message.contains("deletion waits"),
            "{}",
            synced.message
        );
        assert_eq!(find(&conditions, READY).unwrap().status, "True");
        assert!(find(&conditions, RECONCILING).is_none());
        assert!(find(&conditions, STALLED).is_none());
    }
}
