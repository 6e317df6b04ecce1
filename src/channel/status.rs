//! Turning the outcome of a reconcile into the SignalingChannel's status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::sync::{Report, Step, describe_mutation};
use crate::api::{MediaStorageStatus, SignalingChannelStatus};
use crate::engine::conditions::{Verdict, observed_generation, reason, set_conditions};
use crate::engine::kind::{CleanupStep, Outcome, Readiness};
use crate::kvs::{Channel, ResourceStatus};

/// The status to write after a reconcile of `generation` at time `now`.
pub fn next_status(
    previous: Option<&SignalingChannelStatus>,
    generation: Option<i64>,
    channel_name: &str,
    outcome: Outcome<'_, Report>,
    now: Timestamp,
) -> SignalingChannelStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let paused = matches!(outcome, Outcome::Paused { .. });
    status.observed_generation =
        observed_generation(status.observed_generation, generation, paused);
    status.channel_name = Some(channel_name.to_string());
    status.last_sync_time = Some(Time(now));

    let message;
    let verdict = match outcome {
        Outcome::Synced(report) => {
            if let Some(channel) = &report.channel {
                record_channel(&mut status, channel);
            }
            if let Some(keys) = &report.managed_tag_keys {
                status.managed_tag_keys = keys.iter().cloned().collect();
            }
            status.media_storage = report.media_storage.as_ref().map(|m| MediaStorageStatus {
                stream_arn: m.stream_arn.clone(),
                status: if m.enabled { "ENABLED" } else { "DISABLED" }.to_string(),
            });
            match &report.step {
                Step::Created { arn } => {
                    status.channel_arn = Some(arn.clone());
                    status.aws_status = Some(ResourceStatus::Creating.as_str().to_string());
                    status.endpoints = None;
                }
                Step::Absent => forget_channel(&mut status),
                _ => {}
            }
            if report.endpoints.is_some() {
                status.endpoints = report.endpoints.clone();
            }
            let readiness = readiness(report);
            let stalled = readiness.is_stalled();
            let (ready, reason, text) = readiness.into_condition();
            message = text;
            Verdict::Stepped {
                ready,
                stalled,
                reason,
                message: &message,
            }
        }
        Outcome::Failed(error) => Verdict::Failed(error),
        Outcome::CleaningUp(step) => {
            if let CleanupStep::Deleted { .. } = step {
                status.aws_status = Some(ResourceStatus::Deleting.as_str().to_string());
            }
            message = step.message("signaling channel");
            Verdict::CleaningUp { message: &message }
        }
        Outcome::Paused { deleting } => Verdict::Paused { deleting },
    };
    set_conditions(&mut status.conditions, generation, verdict, now);
    status
}

fn record_channel(status: &mut SignalingChannelStatus, channel: &Channel) {
    if status.channel_arn.as_deref() != Some(channel.arn.as_str()) {
        // A different channel (re-created): its endpoints must be fetched again.
        status.endpoints = None;
    }
    status.channel_arn = Some(channel.arn.clone());
    status.version = Some(channel.version.clone());
    status.aws_status = Some(channel.status.as_str().to_string());
    status.creation_time = channel
        .creation_time
        .and_then(|secs| Timestamp::from_second(secs).ok())
        .map(Time);
    status.message_ttl_seconds = channel.message_ttl_seconds;
}

fn forget_channel(status: &mut SignalingChannelStatus) {
    status.channel_arn = None;
    status.version = None;
    status.aws_status = None;
    status.creation_time = None;
    status.message_ttl_seconds = None;
    status.endpoints = None;
    status.media_storage = None;
}

/// How a successful step reads.
pub fn readiness(report: &Report) -> Readiness {
    let progressing = |reason, message: String| Readiness::Progressing { reason, message };
    match &report.step {
        Step::InSync => Readiness::Ready {
            reason: reason::AVAILABLE,
            message: "the signaling channel is ACTIVE and matches the spec".to_string(),
        },
        Step::Observed => Readiness::Ready {
            reason: reason::OBSERVED,
            message: "observing the signaling channel (managementPolicy ObserveOnly): it is ACTIVE; nothing is changed".to_string(),
        },
        Step::Absent => Readiness::Absent {
            reason: reason::NOT_FOUND,
            message: "there is no such signaling channel, and ObserveOnly never creates one"
                .to_string(),
        },
        Step::Created { .. } => progressing(reason::CREATING, "creating the signaling channel".into()),
        Step::Mutated(mutation) if mutation.moves_version() => {
            progressing(reason::UPDATING, describe_mutation(mutation))
        }
        Step::Mutated(mutation) => Readiness::Changed {
            reason: reason::UPDATING,
            message: describe_mutation(mutation),
        },
        Step::WaitingForStream(video_stream) => progressing(
            reason::UPDATING,
            format!("media storage waits for VideoStream {video_stream}'s stream to be ACTIVE"),
        ),
        Step::Waiting(ResourceStatus::Creating) => progressing(
            reason::CREATING,
            "Kinesis Video Streams is creating the signaling channel".into(),
        ),
        Step::Waiting(ResourceStatus::Deleting) => progressing(
            reason::DELETING,
            "the signaling channel is being deleted outside this SignalingChannel; it will be created again once gone".into(),
        ),
        Step::Waiting(status) => progressing(
            reason::UPDATING,
            format!("waiting while the signaling channel is {}", status.as_str()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChannelEndpoints, RoleEndpoints};
    use crate::engine::conditions::{READY, find};
    use crate::kvs::MediaStorageConfig;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn channel() -> Channel {
        Channel {
            name: "door".into(),
            arn: "arn:aws:kinesisvideo:us-west-2:1:channel/door/1".into(),
            version: "v3".into(),
            status: ResourceStatus::Active,
            message_ttl_seconds: Some(30),
            creation_time: Some(1_700_000_000),
        }
    }

    fn endpoints() -> ChannelEndpoints {
        let role = |r: &str| RoleEndpoints {
            wss: Some(format!("wss://{r}.example")),
            https: Some(format!("https://{r}.example")),
        };
        ChannelEndpoints {
            master: role("master"),
            viewer: role("viewer"),
        }
    }

    #[test]
    fn in_sync_records_the_channel_its_endpoints_and_its_media_storage() {
        let report = Report {
            channel: Some(channel()),
            media_storage: Some(MediaStorageConfig {
                stream_arn: Some("arn:stream".into()),
                enabled: true,
            }),
            step: Step::InSync,
            endpoints: Some(endpoints()),
            managed_tag_keys: None,
            restored_tags: Vec::new(),
        };
        let s = next_status(None, Some(2), "door", Outcome::Synced(&report), at(10));
        assert_eq!(
            s.channel_arn.as_deref(),
            Some("arn:aws:kinesisvideo:us-west-2:1:channel/door/1")
        );
        assert_eq!(s.message_ttl_seconds, Some(30));
        assert_eq!(s.endpoints, Some(endpoints()));
        assert_eq!(
            s.media_storage.as_ref().map(|m| m.status.as_str()),
            Some("ENABLED")
        );
        let ready = find(&s.conditions, READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Available")
        );
    }

    #[test]
    fn waiting_for_the_video_stream_is_not_ready_yet_and_says_which() {
        let report = Report {
            channel: Some(channel()),
            media_storage: None,
            step: Step::WaitingForStream("door-stream".into()),
            endpoints: Some(endpoints()),
            managed_tag_keys: None,
            restored_tags: Vec::new(),
        };
        let s = next_status(None, Some(1), "door", Outcome::Synced(&report), at(10));
        let ready = find(&s.conditions, READY).unwrap();
        assert_eq!(ready.status, "False");
        assert!(ready.message.contains("door-stream"), "{}", ready.message);
    }
}
