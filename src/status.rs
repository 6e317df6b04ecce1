//! Turning the outcome of a reconcile into the VideoStream's status and conditions.
//!
//! Pure functions: the controller passes the previous status, the outcome and the time, and
//! patches what comes back.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::api::VideoStreamStatus;
use crate::kvs::{Stream, StreamStatus};
use crate::sync::{CleanupStep, Report, Step, describe_mutation};
use crate::{Error, ErrorClass};

/// Condition types. `Ready` and `Synced` are always present after the first reconcile;
/// `Reconciling` and `Stalled` follow the kstatus convention ("abnormal-true"): present and
/// True only while the current generation is still being applied, or cannot be applied
/// until someone acts.
pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// Condition reasons that are not error reasons (those come from [`Error::reason`]).
pub mod reason {
    /// Ready: the stream is ACTIVE and matches the spec.
    pub const AVAILABLE: &str = "Available";
    /// Ready: the stream is being created.
    pub const CREATING: &str = "Creating";
    /// Ready: a change is being applied or KVS reports UPDATING.
    pub const UPDATING: &str = "Updating";
    /// Ready: KVS is deleting the stream (or the VideoStream is being deleted).
    pub const DELETING: &str = "Deleting";
    /// Synced: the last reconcile went through.
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    /// Ready: the current generation is not applied yet; a transient error is retried.
    pub const PROGRESSING: &str = "Progressing";
}

/// What a reconcile produced, in the terms the status needs.
pub enum Outcome<'a> {
    Synced(&'a Report),
    Failed(&'a Error),
    CleaningUp(&'a CleanupStep),
}

/// The status to write after a reconcile of `generation` at time `now`.
pub fn next_status(
    previous: Option<&VideoStreamStatus>,
    generation: Option<i64>,
    stream_name: &str,
    outcome: Outcome<'_>,
    now: Timestamp,
) -> VideoStreamStatus {
    let mut status = previous.cloned().unwrap_or_default();
    status.observed_generation = generation;
    status.stream_name = Some(stream_name.to_string());
    status.last_sync_time = Some(Time(now));
    let stamp = ConditionStamp { generation, now };

    match outcome {
        Outcome::Synced(report) => {
            if let Some(stream) = &report.stream {
                record_stream(&mut status, stream);
            }
            if let Some(tier) = report.storage_tier {
                status.storage_tier = Some(tier);
            }
            let (ready, reason, message) = readiness(report);
            match &report.step {
                Step::Created { arn } => {
                    status.stream_arn = Some(arn.clone());
                    status.aws_status = Some(StreamStatus::Creating.as_str().to_string());
                    status.data_endpoints.clear();
                }
                Step::InSync => status.data_endpoints = report.endpoints.clone(),
                Step::Mutated(_) | Step::Waiting(_) => {}
            }
            stamp.set(&mut status.conditions, READY, ready, reason, &message);
            stamp.progress(&mut status.conditions, false);
            stamp.set(
                &mut status.conditions,
                SYNCED,
                true,
                reason::RECONCILE_SUCCESS,
                "the last reconcile succeeded",
            );
        }
        Outcome::Failed(error) => {
            let message = error.to_string();
            stamp.set(
                &mut status.conditions,
                SYNCED,
                false,
                error.reason(),
                &message,
            );
            // A transient error leaves a Ready that describes the current generation as it
            // is (True: the stream is still fine; False: it still says why not). Only a Ready
            // left over from an older generation, or none, becomes Progressing. An error that
            // needs a person to act sets Ready False whatever came before.
            let current = find(&status.conditions, READY)
                .is_some_and(|c| c.observed_generation == generation);
            if error.class() != ErrorClass::Retryable {
                stamp.set(
                    &mut status.conditions,
                    READY,
                    false,
                    error.reason(),
                    &message,
                );
                stamp.progress(&mut status.conditions, true);
            } else if !current {
                let pending = match generation {
                    Some(g) => format!("generation {g} is not applied yet: {message}"),
                    None => format!("the spec is not applied yet: {message}"),
                };
                stamp.set(
                    &mut status.conditions,
                    READY,
                    false,
                    reason::PROGRESSING,
                    &pending,
                );
                stamp.progress(&mut status.conditions, false);
            }
        }
        Outcome::CleaningUp(step) => {
            let message = match step {
                CleanupStep::Done => "nothing left to clean up".to_string(),
                CleanupStep::Waiting(s) => format!("waiting while the stream is {}", s.as_str()),
                CleanupStep::Deleted { arn } => format!("deleting stream {arn}"),
                CleanupStep::Released { arn } => format!("released stream {arn}; it is kept"),
            };
            if let CleanupStep::Deleted { .. } = step {
                status.aws_status = Some(StreamStatus::Deleting.as_str().to_string());
            }
            stamp.set(
                &mut status.conditions,
                READY,
                false,
                reason::DELETING,
                &message,
            );
            stamp.progress(&mut status.conditions, false);
            stamp.set(
                &mut status.conditions,
                SYNCED,
                true,
                reason::RECONCILE_SUCCESS,
                "the last reconcile succeeded",
            );
        }
    }
    status
}

/// Copies what KVS reported into the status.
fn record_stream(status: &mut VideoStreamStatus, stream: &Stream) {
    if status.stream_arn.as_deref() != Some(stream.arn.as_str()) {
        // A different stream (re-created): its endpoints must be fetched again.
        status.data_endpoints.clear();
    }
    status.stream_arn = Some(stream.arn.clone());
    status.version = Some(stream.version.clone());
    status.aws_status = Some(stream.status.as_str().to_string());
    status.creation_time = stream
        .creation_time
        .and_then(|secs| Timestamp::from_second(secs).ok())
        .map(Time);
    status.data_retention_in_hours = Some(stream.data_retention_in_hours);
    status.kms_key_id = stream.kms_key_id.clone();
}

/// The Ready condition for a successful step.
fn readiness(report: &Report) -> (bool, &'static str, String) {
    match &report.step {
        Step::InSync => (
            true,
            reason::AVAILABLE,
            "the stream is ACTIVE and matches the spec".to_string(),
        ),
        Step::Created { .. } => (false, reason::CREATING, "creating the stream".to_string()),
        Step::Mutated(mutation) => (
            false,
            reason::UPDATING,
            describe_mutation(mutation, report.stream.as_ref()),
        ),
        Step::Waiting(StreamStatus::Creating) => (
            false,
            reason::CREATING,
            "Kinesis Video Streams is creating the stream".to_string(),
        ),
        Step::Waiting(StreamStatus::Deleting) => (
            false,
            reason::DELETING,
            "the stream is being deleted outside this VideoStream; it will be created again once gone"
                .to_string(),
        ),
        Step::Waiting(status) => (
            false,
            reason::UPDATING,
            format!("waiting while the stream is {}", status.as_str()),
        ),
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
}

impl ConditionStamp {
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

/// The condition of a type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kvs::RetentionChange;
    use crate::plan::Mutation;

    fn stream(status: StreamStatus) -> Stream {
        Stream {
            name: "s".into(),
            arn: "arn:aws:kinesisvideo:us-west-2:1:stream/s/1".into(),
            version: "v7".into(),
            status,
            device_name: None,
            media_type: None,
            kms_key_id: Some("arn:aws:kms:us-west-2:1:alias/aws/kinesisvideo".into()),
            data_retention_in_hours: 24,
            creation_time: Some(1_700_000_000),
        }
    }

    fn report(step: Step) -> Report {
        Report {
            stream: Some(stream(StreamStatus::Active)),
            storage_tier: None,
            step,
            endpoints: BTreeMap::from([("PUT_MEDIA".into(), "https://put".into())]),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn condition<'a>(status: &'a VideoStreamStatus, type_: &str) -> &'a Condition {
        find(&status.conditions, type_).unwrap()
    }

    #[test]
    fn in_sync_is_ready_with_every_observed_field_and_the_endpoints() {
        let s = next_status(
            None,
            Some(3),
            "s",
            Outcome::Synced(&report(Step::InSync)),
            at(10),
        );
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.version.as_deref(), Some("v7"));
        assert_eq!(s.aws_status.as_deref(), Some("ACTIVE"));
        assert_eq!(s.data_retention_in_hours, Some(24));
        assert_eq!(
            s.data_endpoints.get("PUT_MEDIA").map(String::as_str),
            Some("https://put")
        );
        assert_eq!(s.creation_time, Some(Time(at(1_700_000_000))));
        let ready = condition(&s, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Available")
        );
        assert_eq!(ready.observed_generation, Some(3));
        assert_eq!(condition(&s, SYNCED).status, "True");
    }

    #[test]
    fn a_transition_time_changes_only_when_the_condition_flips() {
        let first = next_status(
            None,
            Some(1),
            "s",
            Outcome::Synced(&report(Step::InSync)),
            at(10),
        );
        let again = next_status(
            Some(&first),
            Some(1),
            "s",
            Outcome::Synced(&report(Step::InSync)),
            at(20),
        );
        assert_eq!(condition(&again, READY).last_transition_time, Time(at(10)));
        let mutation = Mutation::UpdateRetention {
            from: 24,
            to: 1,
            change: RetentionChange::Decrease(23),
        };
        let updating = next_status(
            Some(&again),
            Some(2),
            "s",
            Outcome::Synced(&report(Step::Mutated(mutation))),
            at(30),
        );
        let ready = condition(&updating, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "Updating")
        );
        assert_eq!(ready.last_transition_time, Time(at(30)));
        assert!(
            ready.message.contains("dropping up to 23h"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn a_transient_error_keeps_readiness_but_a_blocking_one_does_not() {
        let ready = next_status(
            None,
            Some(1),
            "s",
            Outcome::Synced(&report(Step::InSync)),
            at(10),
        );
        let throttled = Error::Throttled("slow down".into());
        let s = next_status(
            Some(&ready),
            Some(1),
            "s",
            Outcome::Failed(&throttled),
            at(20),
        );
        assert_eq!(condition(&s, READY).status, "True");
        let synced = condition(&s, SYNCED);
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", "Throttled")
        );
        assert!(synced.message.contains("slow down"));

        let not_owned = Error::NotOwned("owned by a/b".into());
        let s = next_status(
            Some(&ready),
            Some(1),
            "s",
            Outcome::Failed(&not_owned),
            at(30),
        );
        let r = condition(&s, READY);
        assert_eq!(
            (r.status.as_str(), r.reason.as_str()),
            ("False", "NotOwned")
        );
        assert_eq!(s.stream_arn, ready.stream_arn, "observed fields are kept");
    }

    #[test]
    fn a_spec_change_that_fails_before_it_is_applied_is_not_ready_but_reconciling() {
        let ready = next_status(
            None,
            Some(1),
            "s",
            Outcome::Synced(&report(Step::InSync)),
            at(10),
        );
        let throttled = Error::Throttled("slow down".into());
        let s = next_status(
            Some(&ready),
            Some(2),
            "s",
            Outcome::Failed(&throttled),
            at(20),
        );
        assert_eq!(s.observed_generation, Some(2));
        let r = condition(&s, READY);
        assert_eq!(
            (r.status.as_str(), r.reason.as_str(), r.observed_generation),
            ("False", "Progressing", Some(2))
        );
        assert!(r.message.contains("generation 2"), "{}", r.message);
        assert!(r.message.contains("slow down"), "{}", r.message);
        let reconciling = condition(&s, RECONCILING);
        assert_eq!(
            (reconciling.status.as_str(), reconciling.reason.as_str()),
            ("True", "Progressing")
        );
        assert!(find(&s.conditions, STALLED).is_none());
    }

    #[test]
    fn kstatus_conditions_follow_ready_and_the_error_class() {
        let creating = Report {
            step: Step::Waiting(StreamStatus::Creating),
            ..report(Step::InSync)
        };
        let s = next_status(None, Some(1), "s", Outcome::Synced(&creating), at(10));
        assert_eq!(condition(&s, RECONCILING).reason, "Creating");
        assert!(find(&s.conditions, STALLED).is_none());

        let s = next_status(
            Some(&s),
            Some(1),
            "s",
            Outcome::Synced(&report(Step::InSync)),
            at(20),
        );
        assert_eq!(condition(&s, READY).status, "True");
        assert!(find(&s.conditions, RECONCILING).is_none(), "{s:#?}");
        assert!(find(&s.conditions, STALLED).is_none(), "{s:#?}");

        let not_owned = Error::NotOwned("owned by a/b".into());
        let s = next_status(Some(&s), Some(1), "s", Outcome::Failed(&not_owned), at(30));
        let stalled = condition(&s, STALLED);
        assert_eq!(
            (stalled.status.as_str(), stalled.reason.as_str()),
            ("True", "NotOwned")
        );
        assert!(stalled.message.contains("a/b"));
        assert!(find(&s.conditions, RECONCILING).is_none());

        let step = CleanupStep::Deleted {
            arn: "arn:x".into(),
        };
        let s = next_status(Some(&s), Some(2), "s", Outcome::CleaningUp(&step), at(40));
        assert!(find(&s.conditions, STALLED).is_none());
        assert_eq!(condition(&s, RECONCILING).reason, "Deleting");
    }

    #[test]
    fn a_first_reconcile_that_fails_still_reports_both_conditions() {
        let denied = Error::AccessDenied {
            code: "AccessDeniedException".into(),
            message: "no".into(),
        };
        let s = next_status(None, Some(1), "s", Outcome::Failed(&denied), at(10));
        assert_eq!(condition(&s, READY).reason, "AccessDenied");
        assert_eq!(condition(&s, SYNCED).reason, "AccessDenied");
        assert_eq!(s.stream_name.as_deref(), Some("s"));
    }

    #[test]
    fn a_create_records_the_new_arn_as_creating() {
        let created = Report {
            stream: None,
            storage_tier: None,
            step: Step::Created {
                arn: "arn:new".into(),
            },
            endpoints: BTreeMap::new(),
        };
        let s = next_status(None, Some(1), "s", Outcome::Synced(&created), at(10));
        assert_eq!(s.stream_arn.as_deref(), Some("arn:new"));
        assert_eq!(s.aws_status.as_deref(), Some("CREATING"));
        assert_eq!(condition(&s, READY).reason, "Creating");
    }

    #[test]
    fn cleanup_reports_deleting() {
        let step = CleanupStep::Deleted {
            arn: "arn:x".into(),
        };
        let s = next_status(None, Some(2), "s", Outcome::CleaningUp(&step), at(10));
        assert_eq!(condition(&s, READY).reason, "Deleting");
        assert_eq!(s.aws_status.as_deref(), Some("DELETING"));
    }
}
