//! The recorded VideoStreams that the Argo CD health check is tested against
//! (deploy/argocd/resource_customizations/kvs-operator.dev/VideoStream/testdata, cases in
//! health_test.yaml beside it) must stay what the operator really writes, and every error
//! class must reach Argo CD as the condition its health check reads (Stalled or not). A
//! change to the status shape, a condition message or an error reason fails here, pointing at
//! the fixture to update.

mod recordings;
use recordings::{Recordings, at};

use std::collections::{BTreeMap, BTreeSet};

use kvs_operator::api::{VideoStream, VideoStreamStatus};
use kvs_operator::engine::conditions::{READY, RECONCILING, STALLED, SYNCED, find};
use kvs_operator::engine::kind::{CleanupStep, Outcome};
use kvs_operator::engine::ownership::Ownership;
use kvs_operator::kvs::{ResourceStatus, RetentionChange, Stream};
use kvs_operator::stream::plan::{Blocker, Mutation};
use kvs_operator::stream::status::next_status;
use kvs_operator::stream::sync::{Report, Step};
use kvs_operator::{Error, ErrorClass};

const RECORDINGS: Recordings = Recordings::of(CUSTOMIZATION);
const CUSTOMIZATION: &str = "deploy/argocd/resource_customizations/kvs-operator.dev/VideoStream";
const SCRIPT: &str = include_str!(
    "../deploy/argocd/resource_customizations/kvs-operator.dev/VideoStream/health.lua"
);

const ARN: &str = "arn:aws:kinesisvideo:us-west-2:123456789012:stream/front-door-cam/1772442846042";
const AWS_MANAGED_KEY: &str = "arn:aws:kms:us-west-2:123456789012:alias/aws/kinesisvideo";
const VERSION_1: &str = "oM1TLC2nBGV3tR8d";
const VERSION_2: &str = "Q2xk9WZ7r3pJfHs5";
/// The cluster id of the cluster that owns the contested stream in the not-owned fixtures.
const CLUSTER: &str = "5a1c8e2f-3b4d-4e6f-9a0b-7c8d9e0f1a2b";
const ROLE: &str =
    "arn:aws:sts::123456789012:assumed-role/kvs-operator/kvs-operator-7d9f8c6b5-x2lqp";

/// The front-door stream as DescribeStream reports it.
fn front_door(status: ResourceStatus, version: &str, retention: i32) -> Stream {
    Stream {
        name: "front-door-cam".into(),
        arn: ARN.into(),
        version: version.into(),
        status,
        device_name: Some("cam-01".into()),
        media_type: Some("video/h264".into()),
        kms_key_id: Some(AWS_MANAGED_KEY.into()),
        data_retention_in_hours: retention,
        creation_time: Some(1_772_442_846),
    }
}

fn throttled() -> Error {
    Error::Throttled("Rate exceeded".into())
}

fn denied(action: &str, resource: &str) -> Error {
    Error::AccessDenied {
        code: "AccessDeniedException".into(),
        message: format!(
            "User: {ROLE} is not authorized to perform: kinesisvideo:{action} on resource: {resource}"
        ),
    }
}

/// Replays reconciles through the operator's own status function.
#[derive(Clone)]
struct Replay {
    stream_name: &'static str,
    status: Option<VideoStreamStatus>,
}

impl Replay {
    fn new(stream_name: &'static str) -> Self {
        Replay {
            stream_name,
            status: None,
        }
    }

    /// The status the API server serves before the operator writes one: the CRD's default.
    fn served_default(mut self) -> Self {
        self.status = Some(VideoStreamStatus {
            observed_generation: Some(0),
            ..Default::default()
        });
        self
    }

    fn apply(mut self, generation: i64, time: &str, outcome: Outcome<'_, Report>) -> Self {
        self.status = Some(next_status(
            self.status.as_ref(),
            Some(generation),
            self.stream_name,
            outcome,
            at(time),
        ));
        self
    }

    /// A successful reconcile; endpoints are fetched only once in sync, as sync() does.
    fn synced(self, generation: i64, time: &str, stream: Option<Stream>, step: Step) -> Self {
        let endpoints = match step {
            Step::InSync => BTreeMap::from([
                (
                    "GET_MEDIA".to_string(),
                    "https://s-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com".to_string(),
                ),
                (
                    "PUT_MEDIA".to_string(),
                    "https://s-5e6f7a8b.kinesisvideo.us-west-2.amazonaws.com".to_string(),
                ),
            ]),
            _ => BTreeMap::new(),
        };
        let report = Report {
            stream,
            storage_tier: None,
            step,
            endpoints,
            managed_tag_keys: None,
            restored_tags: Vec::new(),
        };
        self.apply(generation, time, Outcome::Synced(&report))
    }

    fn failed(self, generation: i64, time: &str, error: Error) -> Self {
        self.apply(generation, time, Outcome::Failed(&error))
    }

    fn cleanup(self, generation: i64, time: &str, step: CleanupStep) -> Self {
        self.apply(generation, time, Outcome::CleaningUp(&step))
    }
}

/// front-door created, waited for, and found in sync twice.
fn ready() -> Replay {
    Replay::new("front-door-cam")
        .synced(
            1,
            "2026-03-02T09:14:06Z",
            None,
            Step::Created { arn: ARN.into() },
        )
        .synced(
            1,
            "2026-03-02T09:14:11Z",
            Some(front_door(ResourceStatus::Creating, VERSION_1, 24)),
            Step::Waiting(ResourceStatus::Creating),
        )
        .synced(
            1,
            "2026-03-02T09:14:16Z",
            Some(front_door(ResourceStatus::Active, VERSION_1, 24)),
            Step::InSync,
        )
        .synced(
            1,
            "2026-03-02T10:04:51Z",
            Some(front_door(ResourceStatus::Active, VERSION_1, 24)),
            Step::InSync,
        )
}

/// Generation 2 raised the retention from 24h to 48h.
fn updating() -> Replay {
    ready().synced(
        2,
        "2026-03-02T11:30:01Z",
        Some(front_door(ResourceStatus::Active, VERSION_1, 24)),
        Step::Mutated(Mutation::UpdateRetention {
            from: 24,
            to: 48,
            change: RetentionChange::Increase(24),
        }),
    )
}

/// How the operator arrives at each fixture's status.
fn history(fixture: &str) -> Option<Replay> {
    let fresh = || Replay::new("front-door-cam");
    let t1 = "2026-03-02T09:14:06Z";
    let not_owned = || {
        let blocker = Blocker::NotOwned(Ownership::Foreign {
            owner: "security/front-door".into(),
            cluster: Some(CLUSTER.into()),
        });
        fresh().failed(1, t1, Error::NotOwned(blocker.message("front-door-cam")))
    };
    let replay = match fixture {
        "new" => fresh(),
        "unreconciled" => fresh().served_default(),
        "creating" => fresh().synced(1, t1, None, Step::Created { arn: ARN.into() }),
        "waiting-for-creation" => fresh()
            .synced(1, t1, None, Step::Created { arn: ARN.into() })
            .synced(
                1,
                "2026-03-02T09:14:11Z",
                Some(front_door(ResourceStatus::Creating, VERSION_1, 24)),
                Step::Waiting(ResourceStatus::Creating),
            ),
        "ready" | "deletion-not-observed" => ready(),
        "spec-changed" => ready().synced(
            9,
            "2026-03-09T16:20:03Z",
            Some(front_door(ResourceStatus::Active, VERSION_1, 24)),
            Step::InSync,
        ),
        "updating" => updating(),
        "waiting-for-update" => updating().synced(
            2,
            "2026-03-02T11:30:06Z",
            Some(front_door(ResourceStatus::Updating, VERSION_2, 48)),
            Step::Waiting(ResourceStatus::Updating),
        ),
        "aws-unavailable-during-update" => updating().failed(
            2,
            "2026-03-02T11:30:06Z",
            Error::Unavailable(
                "dispatch failure: io error: connection closed before message completed".into(),
            ),
        ),
        "throttled-on-create" => fresh().failed(1, t1, throttled()),
        "throttled-while-ready" => ready().failed(1, "2026-03-02T10:14:40Z", throttled()),
        "throttled-after-spec-change" => ready().failed(2, "2026-03-02T11:30:01Z", throttled()),
        "access-denied" => fresh().failed(
            1,
            t1,
            denied(
                "DescribeStream",
                "arn:aws:kinesisvideo:us-west-2:123456789012:stream/front-door-cam/*",
            ),
        ),
        "not-owned" => not_owned(),
        "not-owned-then-throttled" => not_owned().failed(1, "2026-03-02T09:24:06Z", throttled()),
        "invalid-spec" => fresh().failed(
            1,
            t1,
            Error::InvalidArgument {
                code: "InvalidArgumentException".into(),
                message: "KMS key alias/retired-cameras is disabled".into(),
            },
        ),
        "limit-exceeded" => fresh().failed(
            1,
            t1,
            Error::LimitExceeded {
                code: "AccountStreamLimitExceededException".into(),
                message: "The number of streams created for the account is too high.".into(),
            },
        ),
        "deleted-outside-kubernetes" => ready().synced(
            1,
            "2026-03-03T08:45:12Z",
            Some(front_door(ResourceStatus::Deleting, VERSION_1, 24)),
            Step::Waiting(ResourceStatus::Deleting),
        ),
        "deleting" => ready().cleanup(
            2,
            "2026-03-02T12:00:01Z",
            CleanupStep::Deleted { arn: ARN.into() },
        ),
        "paused" => ready().apply(
            1,
            "2026-03-02T10:00:00Z",
            Outcome::Paused { deleting: false },
        ),
        "deletion-throttled" => ready().failed(2, "2026-03-02T12:00:01Z", throttled()),
        "deletion-blocked" => {
            ready().failed(2, "2026-03-02T12:00:01Z", denied("DeleteStream", ARN))
        }
        "immutable-kms-key" => {
            let lobby = Stream {
                name: "lobby-cam".into(),
                arn: "arn:aws:kinesisvideo:us-west-2:123456789012:stream/lobby-cam/1763625600000"
                    .into(),
                version: "b7Hq3LmZ0xWc5RtN".into(),
                status: ResourceStatus::Active,
                device_name: None,
                media_type: Some("video/h264".into()),
                kms_key_id: Some(AWS_MANAGED_KEY.into()),
                data_retention_in_hours: 72,
                creation_time: Some(1_763_625_600),
            };
            let blocker = Blocker::KmsKeyDiffers {
                desired: "alias/cameras".into(),
                actual: Some(AWS_MANAGED_KEY.into()),
            };
            Replay::new("lobby-cam")
                .synced(
                    1,
                    "2026-03-04T14:02:10Z",
                    Some(lobby),
                    Step::Mutated(Mutation::Adopt),
                )
                .failed(
                    1,
                    "2026-03-04T14:02:15Z",
                    Error::Immutable(blocker.message("lobby-cam")),
                )
        }
        _ => return None,
    };
    Some(replay)
}

#[test]
fn every_fixture_parses_as_a_video_stream_and_loses_nothing() {
    for (name, text) in RECORDINGS.fixtures() {
        let vs: VideoStream = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}.yaml is not a VideoStream: {e}"));
        // Serde ignores unknown fields: a field the types no longer have would vanish
        // silently, so the object must survive a round trip unchanged.
        let original: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        let round_trip = serde_json::to_value(&vs).unwrap();
        assert_eq!(
            round_trip, original,
            "{name}.yaml does not survive a round trip through kvs_operator::api::VideoStream"
        );
        assert!(
            RECORDINGS
                .health_test_inputs()
                .contains(&format!("testdata/{name}.yaml")),
            "{name}.yaml has no case in {CUSTOMIZATION}/health_test.yaml"
        );
    }
}

#[test]
fn every_fixture_status_is_what_the_operator_writes() {
    for (name, text) in RECORDINGS.fixtures() {
        let vs: VideoStream = serde_yaml_ng::from_str(&text).unwrap();
        let replay = history(&name).unwrap_or_else(|| {
            panic!("{name}.yaml has no history in tests/argocd_fixtures.rs: add how the operator gets there")
        });
        assert_eq!(
            replay.stream_name,
            vs.stream_name(),
            "{name}.yaml: stream name"
        );
        if let Some(status) = &replay.status {
            let observed = status.observed_generation.unwrap();
            let generation = vs.metadata.generation.unwrap();
            assert!(
                observed <= generation,
                "{name}.yaml: status of generation {observed} but metadata.generation is {generation}"
            );
        }
        if vs.status != replay.status {
            panic!(
                "{name}.yaml: the status differs from what kvs_operator::stream::status::next_status writes \
                 for its history; update the fixture (and its expected health) to:\n{}",
                serde_yaml_ng::to_string(&replay.status).unwrap()
            );
        }
    }
}

#[test]
fn every_health_test_case_is_a_fixture() {
    RECORDINGS.assert_every_case_is_a_fixture();
}

/// One error of every variant. The match makes a new variant a compile error here, so a new
/// failure is classified (and its path to Argo CD checked) before it ships.
fn one_of_each_error() -> Vec<Error> {
    use kube::runtime::finalizer::Error as FinalizerError;
    let kube = || kube::Error::LinesCodecMaxLineLengthExceeded;
    let errors = vec![
        Error::Throttled("x".into()),
        Error::ResourceInUse("x".into()),
        Error::VersionMismatch("x".into()),
        Error::NotFound("x".into()),
        Error::Unavailable("x".into()),
        Error::InvalidArgument {
            code: "InvalidArgumentException".into(),
            message: "x".into(),
        },
        Error::LimitExceeded {
            code: "TagsPerResourceExceededLimitException".into(),
            message: "x".into(),
        },
        Error::AccessDenied {
            code: "AccessDeniedException".into(),
            message: "x".into(),
        },
        Error::Aws {
            code: "SomethingElse".into(),
            message: "x".into(),
        },
        Error::NotOwned("x".into()),
        Error::Immutable("x".into()),
        Error::InvalidSpec("x".into()),
        Error::NameNotPermitted("x".into()),
        Error::AdoptionNotPermitted("x".into()),
        Error::NoAccountBinding("x".into()),
        Error::AccountBindingConflict("x".into()),
        Error::AccountChanged("x".into()),
        Error::MediaStorageNotReady("x".into()),
        Error::MediaStorageNeedsRetention("x".into()),
        Error::MediaStorageNotPermitted("x".into()),
        Error::NotLeader("x".into()),
        Error::PlacementChanged("x".into()),
        Error::ExportConflict("x".into()),
        Error::ReadOnly("x".into()),
        Error::Kube(kube()),
        Error::Finalizer(Box::new(FinalizerError::ApplyFailed(Error::Immutable(
            "x".into(),
        )))),
        Error::Finalizer(Box::new(FinalizerError::CleanupFailed(
            Error::AccessDenied {
                code: "AccessDeniedException".into(),
                message: "x".into(),
            },
        ))),
        Error::Finalizer(Box::new(FinalizerError::AddFinalizer(kube()))),
        Error::Config("x".into()),
    ];
    for error in &errors {
        match error {
            Error::Throttled(_)
            | Error::ResourceInUse(_)
            | Error::VersionMismatch(_)
            | Error::NotFound(_)
            | Error::Unavailable(_)
            | Error::InvalidArgument { .. }
            | Error::LimitExceeded { .. }
            | Error::AccessDenied { .. }
            | Error::Aws { .. }
            | Error::NotOwned(_)
            | Error::Immutable(_)
            | Error::InvalidSpec(_)
            | Error::NameNotPermitted(_)
            | Error::AdoptionNotPermitted(_)
            | Error::NoAccountBinding(_)
            | Error::AccountBindingConflict(_)
            | Error::AccountChanged(_)
            | Error::MediaStorageNotReady(_)
            | Error::MediaStorageNeedsRetention(_)
            | Error::MediaStorageNotPermitted(_)
            | Error::NotLeader(_)
            | Error::PlacementChanged(_)
            | Error::ExportConflict(_)
            | Error::ReadOnly(_)
            | Error::Kube(_)
            | Error::Finalizer(_)
            | Error::Config(_) => {}
        }
    }
    errors
}

/// The class of each failure reason, from the operator's own errors.
fn reason_classes() -> BTreeMap<String, ErrorClass> {
    one_of_each_error()
        .iter()
        .map(|error| (error.reason().to_string(), error.class()))
        .collect()
}

#[test]
fn every_error_class_reaches_argo_cd_as_the_condition_its_health_check_reads() {
    // The health check reads Stalled, not reasons: a failure that needs a person (terminal or
    // permission) must set Stalled=True, a transient one must leave it unset, from a first
    // reconcile as much as after the stream was Ready.
    let ready = Replay::new("front-door-cam").synced(
        1,
        "2026-03-02T09:14:16Z",
        Some(front_door(ResourceStatus::Active, VERSION_1, 24)),
        Step::InSync,
    );
    for (first, later) in one_of_each_error().into_iter().zip(one_of_each_error()) {
        let reason = first.reason().to_string();
        let class = first.class();
        let cases = [
            ("first", Replay::new("front-door-cam"), first),
            ("ready", ready.clone(), later),
        ];
        for (start, before, error) in cases {
            let status = before
                .failed(1, "2026-03-02T10:00:00Z", error)
                .status
                .expect("a status");
            let stalled = find(&status.conditions, STALLED);
            match class {
                ErrorClass::Retryable => assert!(
                    stalled.is_none(),
                    "{reason} after a {start} reconcile: a transient error must not set Stalled: {status:#?}"
                ),
                ErrorClass::Terminal | ErrorClass::Permission => {
                    let stalled = stalled.unwrap_or_else(|| {
                        panic!(
                            "{reason} after a {start} reconcile: no Stalled condition: {status:#?}"
                        )
                    });
                    assert_eq!(
                        (stalled.status.as_str(), stalled.reason.as_str()),
                        ("True", reason.as_str()),
                        "{reason} after a {start} reconcile"
                    );
                    assert!(
                        find(&status.conditions, RECONCILING).is_none(),
                        "{reason}: Reconciling and Stalled together make kstatus depend on their order"
                    );
                }
            }
        }
    }
}

#[test]
fn the_health_script_names_no_failure_reason() {
    // It must stay a reading of Ready, Reconciling, Stalled and observedGeneration: a reason
    // spelled out in it would be a work-around for a status that says too little.
    for reason in reason_classes().keys() {
        assert!(
            !SCRIPT.contains(&format!("\"{reason}\"")),
            "health.lua names the reason {reason}"
        );
    }
}

#[test]
fn the_fixtures_cover_every_failure_class() {
    let mut classes = BTreeSet::new();
    for (name, text) in RECORDINGS.fixtures() {
        let vs: VideoStream = serde_yaml_ng::from_str(&text).unwrap();
        for condition in vs.status.iter().flat_map(|s| &s.conditions) {
            if condition.status == "False"
                && let Some(class) = reason_classes().get(&condition.reason)
            {
                classes.insert(format!("{class:?}"));
            }
        }
        assert!(
            vs.status
                .as_ref()
                .is_none_or(|s| s
                    .conditions
                    .iter()
                    .all(|c| [READY, SYNCED, RECONCILING, STALLED].contains(&c.type_.as_str()))),
            "{name}.yaml: the operator writes only Ready, Synced, Reconciling and Stalled"
        );
    }
    assert_eq!(
        classes,
        BTreeSet::from(["Permission".into(), "Retryable".into(), "Terminal".into()])
    );
}
