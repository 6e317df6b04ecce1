//! The recorded SignalingChannels that the Argo CD health check is tested against
//! (deploy/argocd/resource_customizations/kvs-operator.dev/SignalingChannel/testdata, cases
//! in health_test.yaml beside it) must stay what the operator really writes. The health
//! script is the VideoStream's (the engine writes both kinds' conditions alike); these cases
//! prove it reads a channel's statuses too, media storage and pause included.
//!
//! `KVS_WRITE_FIXTURES=1 cargo test --test argocd_channel_fixtures` rewrites the fixtures'
//! statuses from their histories (then review the diff and the expected healths).

mod recordings;
use recordings::{Recordings, at};

use kvs_operator::Error;
use kvs_operator::api::{
    ChannelEndpoints, RoleEndpoints, SignalingChannel, SignalingChannelStatus,
};
use kvs_operator::channel::plan::Mutation;
use kvs_operator::channel::status::next_status;
use kvs_operator::channel::sync::{Report, Step};
use kvs_operator::engine::kind::{CleanupStep, Outcome};
use kvs_operator::engine::ownership::Ownership;
use kvs_operator::kvs::{Channel, MediaStorageConfig, ResourceStatus};

const RECORDINGS: Recordings = Recordings::of(CUSTOMIZATION);
const CUSTOMIZATION: &str =
    "deploy/argocd/resource_customizations/kvs-operator.dev/SignalingChannel";

const ARN: &str = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/doorbell/1772442846042";
const STREAM_ARN: &str =
    "arn:aws:kinesisvideo:us-west-2:123456789012:stream/doorbell/1772442845000";
const VERSION_1: &str = "Zq4xR7mT1bWc9LpN";
const CLUSTER: &str = "5a1c8e2f-3b4d-4e6f-9a0b-7c8d9e0f1a2b";

fn doorbell(status: ResourceStatus) -> Channel {
    Channel {
        name: "doorbell".into(),
        arn: ARN.into(),
        version: VERSION_1.into(),
        status,
        message_ttl_seconds: Some(60),
        creation_time: Some(1_772_442_846),
    }
}

fn endpoints() -> ChannelEndpoints {
    let role = |prefix: &str| RoleEndpoints {
        wss: Some(format!(
            "wss://{prefix}-3c1d9a2e.kinesisvideo.us-west-2.amazonaws.com"
        )),
        https: Some(format!(
            "https://{prefix}-3c1d9a2e.kinesisvideo.us-west-2.amazonaws.com"
        )),
    };
    ChannelEndpoints {
        master: role("m"),
        viewer: role("v"),
    }
}

fn stored() -> MediaStorageConfig {
    MediaStorageConfig {
        stream_arn: Some(STREAM_ARN.into()),
        enabled: true,
    }
}

/// Replays reconciles through the operator's own status function.
#[derive(Clone)]
struct Replay {
    status: Option<SignalingChannelStatus>,
}

impl Replay {
    fn new() -> Self {
        Replay { status: None }
    }

    /// The status the API server serves before the operator writes one: the CRD's default.
    fn served_default(mut self) -> Self {
        self.status = Some(SignalingChannelStatus {
            observed_generation: Some(0),
            ..Default::default()
        });
        self
    }

    fn apply(mut self, generation: i64, time: &str, outcome: Outcome<'_, Report>) -> Self {
        self.status = Some(next_status(
            self.status.as_ref(),
            Some(generation),
            "doorbell",
            outcome,
            at(time),
        ));
        self
    }

    fn synced(self, generation: i64, time: &str, report: Report) -> Self {
        self.apply(generation, time, Outcome::Synced(&report))
    }

    fn failed(self, generation: i64, time: &str, error: Error) -> Self {
        self.apply(generation, time, Outcome::Failed(&error))
    }
}

fn report(channel: Option<Channel>, step: Step) -> Report {
    let settled = matches!(step, Step::InSync | Step::WaitingForStream(_));
    Report {
        media_storage: channel.as_ref().filter(|_| settled).map(|_| stored()),
        channel,
        endpoints: settled.then(endpoints),
        step,
        managed_tag_keys: None,
        restored_tags: Vec::new(),
    }
}

/// The doorbell channel created and found in sync, its media stored into its stream.
fn ready() -> Replay {
    Replay::new()
        .synced(
            1,
            "2026-03-02T09:14:06Z",
            report(None, Step::Created { arn: ARN.into() }),
        )
        .synced(
            1,
            "2026-03-02T09:14:11Z",
            report(
                Some(doorbell(ResourceStatus::Active)),
                Step::Mutated(Mutation::StoreMedia {
                    stream_arn: STREAM_ARN.into(),
                }),
            ),
        )
        .synced(
            1,
            "2026-03-02T09:14:12Z",
            report(Some(doorbell(ResourceStatus::Active)), Step::InSync),
        )
}

/// How the operator arrives at each fixture's status.
fn history(fixture: &str) -> Option<Replay> {
    let t1 = "2026-03-02T09:14:06Z";
    let replay = match fixture {
        "new" => Replay::new(),
        "unreconciled" => Replay::new().served_default(),
        "creating" => Replay::new().synced(1, t1, report(None, Step::Created { arn: ARN.into() })),
        "ready" => ready(),
        "waiting-for-stream" => Replay::new()
            .synced(1, t1, report(None, Step::Created { arn: ARN.into() }))
            .synced(
                1,
                "2026-03-02T09:14:11Z",
                report(
                    Some(doorbell(ResourceStatus::Active)),
                    Step::WaitingForStream("doorbell".into()),
                ),
            ),
        "video-stream-missing" => Replay::new().failed(
            1,
            t1,
            Error::MediaStorageNotReady(
                "spec.mediaStorage names VideoStream doorbell, which does not exist in this namespace"
                    .into(),
            ),
        ),
        "stream-keeps-no-data" => Replay::new().failed(
            1,
            t1,
            Error::MediaStorageNeedsRetention(
                "VideoStream doorbell keeps no data (dataRetentionInHours 0); Kinesis Video Streams stores a signaling channel's media only into a stream that keeps it"
                    .into(),
            ),
        ),
        "not-owned" => Replay::new().failed(
            1,
            t1,
            Error::NotOwned(
                Ownership::Foreign {
                    owner: "home/doorbell".into(),
                    cluster: Some(CLUSTER.into()),
                }
                .refusal("signaling channel", "SignalingChannel", "doorbell"),
            ),
        ),
        "paused" => ready().apply(1, "2026-03-02T10:00:00Z", Outcome::Paused { deleting: false }),
        "paused-deleting" => {
            ready().apply(2, "2026-03-02T10:00:00Z", Outcome::Paused { deleting: true })
        }
        "deleting" => ready().apply(
            2,
            "2026-03-02T12:00:01Z",
            Outcome::CleaningUp(&CleanupStep::Deleted { arn: ARN.into() }),
        ),
        _ => return None,
    };
    Some(replay)
}

#[test]
fn every_fixture_is_a_signaling_channel_whose_status_the_operator_writes() {
    let rewrite = std::env::var_os("KVS_WRITE_FIXTURES").is_some();
    for (name, text) in RECORDINGS.fixtures() {
        let mut channel: SignalingChannel = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}.yaml is not a SignalingChannel: {e}"));
        let original: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&channel).unwrap(),
            original,
            "{name}.yaml does not survive a round trip through kvs_operator::api::SignalingChannel"
        );
        assert!(
            RECORDINGS
                .health_test_inputs()
                .contains(&format!("testdata/{name}.yaml")),
            "{name}.yaml has no case in {CUSTOMIZATION}/health_test.yaml"
        );
        let replay =
            history(&name).unwrap_or_else(|| panic!("{name}.yaml has no history in this file"));
        if channel.status == replay.status {
            continue;
        }
        if rewrite {
            channel.status = replay.status;
            let comment: String = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            let yaml = serde_yaml_ng::to_string(&channel).unwrap();
            std::fs::write(
                RECORDINGS.testdata().join(format!("{name}.yaml")),
                comment + &yaml,
            )
            .unwrap();
            continue;
        }
        panic!(
            "{name}.yaml: the status differs from what kvs_operator::channel::status::next_status writes for its history; update it to:\n{}",
            serde_yaml_ng::to_string(&replay.status).unwrap()
        );
    }
}

#[test]
fn every_health_test_case_is_a_fixture() {
    RECORDINGS.assert_every_case_is_a_fixture();
}
