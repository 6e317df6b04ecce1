//! Turning the outcome of a reconcile into the VideoStream's status: the fields KVS
//! reported, and the conditions the engine derives from how the step reads.
//!
//! Pure functions: the engine passes the previous status, the outcome and the time, and
//! patches what comes back.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::sync::{Report, Step, describe_mutation};
use crate::api::{StringMap, VideoStreamStatus};
use crate::engine::conditions::{Verdict, observed_generation, reason, set_conditions};
use crate::engine::kind::{Outcome, Readiness};
use crate::kvs::{ResourceStatus, Stream};

/// The status to write after a reconcile of `generation` at time `now`.
pub fn next_status(
    previous: Option<&VideoStreamStatus>,
    generation: Option<i64>,
    stream_name: &str,
    outcome: Outcome<'_, Report>,
    now: Timestamp,
) -> VideoStreamStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let paused = matches!(outcome, Outcome::Paused { .. });
    status.observed_generation =
        observed_generation(status.observed_generation, generation, paused);
    status.stream_name = Some(stream_name.to_string());
    status.last_sync_time = Some(Time(now));

    let verdict_message;
    let verdict = match outcome {
        Outcome::Synced(report) => {
            if let Some(stream) = &report.stream {
                record_stream(&mut status, stream);
            }
            if let Some(keys) = &report.managed_tag_keys {
                status.managed_tag_keys = keys.iter().cloned().collect();
            }
            if let Some(tier) = report.storage_tier {
                status.storage_tier = Some(tier);
            }
            match &report.step {
                Step::Created { arn } => {
                    status.stream_arn = Some(arn.clone());
                    status.aws_status = Some(ResourceStatus::Creating.as_str().to_string());
                    status.data_endpoints = StringMap::default();
                }
                Step::InSync | Step::Observed => {
                    status.data_endpoints = report.endpoints.clone().into()
                }
                Step::Absent => forget_stream(&mut status),
                Step::Mutated(_) | Step::Waiting(_) => {}
            }
            let readiness = readiness(report);
            let stalled = readiness.is_stalled();
            let (ready, reason, message) = readiness.into_condition();
            verdict_message = message;
            Verdict::Stepped {
                ready,
                stalled,
                reason,
                message: &verdict_message,
            }
        }
        Outcome::Failed(error) => Verdict::Failed(error),
        Outcome::CleaningUp(step) => {
            if let crate::engine::kind::CleanupStep::Deleted { .. } = step {
                status.aws_status = Some(ResourceStatus::Deleting.as_str().to_string());
            }
            verdict_message = step.message("stream");
            Verdict::CleaningUp {
                message: &verdict_message,
            }
        }
        Outcome::Paused { deleting } => Verdict::Paused { deleting },
    };
    set_conditions(&mut status.conditions, generation, verdict, now);
    status
}

/// Copies what KVS reported into the status.
fn record_stream(status: &mut VideoStreamStatus, stream: &Stream) {
    if status.stream_arn.as_deref() != Some(stream.arn.as_str()) {
        // A different stream (re-created): its endpoints must be fetched again.
        status.data_endpoints = StringMap::default();
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

/// An observed stream that is gone: nothing of it stays in the status.
fn forget_stream(status: &mut VideoStreamStatus) {
    status.stream_arn = None;
    status.version = None;
    status.aws_status = None;
    status.creation_time = None;
    status.data_retention_in_hours = None;
    status.kms_key_id = None;
    status.data_endpoints = StringMap::default();
}

/// How a successful step reads.
pub fn readiness(report: &Report) -> Readiness {
    let progressing = |reason, message: &str| Readiness::Progressing {
        reason,
        message: message.to_string(),
    };
    match &report.step {
        Step::InSync => Readiness::Ready {
            reason: reason::AVAILABLE,
            message: "the stream is ACTIVE and matches the spec".to_string(),
        },
        Step::Observed => Readiness::Ready {
            reason: reason::OBSERVED,
            message: "observing the stream (managementPolicy ObserveOnly): it is ACTIVE; nothing is changed".to_string(),
        },
        Step::Absent => Readiness::Absent {
            reason: reason::NOT_FOUND,
            message: "there is no such stream, and ObserveOnly never creates one".to_string(),
        },
        Step::Created { .. } => progressing(reason::CREATING, "creating the stream"),
        Step::Mutated(mutation) => {
            let message = describe_mutation(mutation, report.stream.as_ref());
            match mutation.moves_version() {
                true => progressing(reason::UPDATING, &message),
                false => Readiness::Changed {
                    reason: reason::UPDATING,
                    message,
                },
            }
        }
        Step::Waiting(ResourceStatus::Creating) => progressing(
            reason::CREATING,
            "Kinesis Video Streams is creating the stream",
        ),
        Step::Waiting(ResourceStatus::Deleting) => progressing(
            reason::DELETING,
            "the stream is being deleted outside this VideoStream; it will be created again once gone",
        ),
        Step::Waiting(status) => Readiness::Progressing {
            reason: reason::UPDATING,
            message: format!("waiting while the stream is {}", status.as_str()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Error;
    use crate::engine::conditions::{READY, RECONCILING, STALLED, SYNCED, find};
    use crate::engine::kind::CleanupStep;
    use crate::kvs::RetentionChange;
    use crate::stream::plan::Mutation;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    fn stream(status: ResourceStatus) -> Stream {
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
            stream: Some(stream(ResourceStatus::Active)),
            storage_tier: None,
            step,
            endpoints: BTreeMap::from([("PUT_MEDIA".into(), "https://put".into())]),
            managed_tag_keys: None,
            restored_tags: Vec::new(),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn condition<'a>(status: &'a VideoStreamStatus, type_: &str) -> &'a Condition {
        find(&status.conditions, type_).unwrap()
    }

    #[test]
    fn changes_the_listing_shows_wait_for_it_and_the_others_look_again_after_a_poll() {
        use crate::engine::ownership::TagChange;
        let by_listing = [
            Mutation::UpdateStream {
                device_name: Some("d".into()),
                media_type: None,
            },
            Mutation::UpdateRetention {
                from: 1,
                to: 2,
                change: RetentionChange::Increase(1),
            },
            Mutation::UpdateStorageTier(crate::api::StorageTier::Warm),
        ];
        for mutation in by_listing {
            let readiness = readiness(&report(Step::Mutated(mutation.clone())));
            assert!(
                matches!(readiness, Readiness::Progressing { .. }),
                "{mutation:?}"
            );
        }
        let unlisted = [
            Mutation::Adopt,
            Mutation::Tags(TagChange::Untag(vec!["k".into()])),
            Mutation::UpdateNotification(crate::api::Notification {
                status: crate::api::ConfigurationStatus::Enabled,
                destination_uri: "arn:aws:sns:us-west-2:123456789012:t".into(),
            }),
        ];
        for mutation in unlisted {
            let readiness = readiness(&report(Step::Mutated(mutation.clone())));
            assert!(
                matches!(readiness, Readiness::Changed { .. }),
                "{mutation:?}"
            );
        }
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
            step: Step::Waiting(ResourceStatus::Creating),
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
            managed_tag_keys: None,
            restored_tags: Vec::new(),
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
