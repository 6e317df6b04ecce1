//! What a user sees when VideoStreams are managed from git: commits that add, change and
//! remove them, and a stream the operator must not touch.

use std::time::Duration;

use kube::api::Api;
use kvs_emulator::{Delays, Operation, StreamStatus};
use kvs_operator::api::{OWNER_TAG, SignalingChannel};
use kvs_operator::engine::conditions::{STALLED, find};

use crate::argocd::Sync;
use crate::kstatus;
use crate::support::{Harness, channel_manifest, sdk_client};
use crate::world::{World, video_stream};

const SHORT: Duration = Duration::from_millis(300);
/// Long enough at "AWS" for Argo CD and kstatus to be seen saying so.
const SLOW: Duration = Duration::from_secs(4);

/// Before the operator has written a word of an object's status (no operator serves this
/// namespace; in a large commit, the objects waiting their turn at the CreateStream quota),
/// the API server serves the CRD's default status, whose observedGeneration (0) is behind
/// the object's generation: kstatus says InProgress, never Current.
#[tokio::test]
async fn objects_the_operator_has_not_reached_yet_are_in_progress_to_kstatus() {
    let h = Harness::without_operator("gitops-unreached").await;
    h.apply_ok(&video_stream("front-door", "front-door-cam", 24))
        .await;
    h.apply_ok(&channel_manifest("intercom", "  channelName: intercom\n"))
        .await;

    let (kstatus, stream) = kstatus::of(&h, "front-door").await;
    assert_eq!(kstatus.status, "InProgress", "{kstatus:?} for {stream:?}");
    let status = stream.status.expect("the CRD's default status");
    assert_eq!(status.observed_generation, Some(0), "{status:?}");
    assert!(status.conditions.is_empty(), "{status:?}");
    assert_eq!(stream.metadata.generation, Some(1));

    let channels: Api<SignalingChannel> = Api::namespaced(h.client.clone(), &h.namespace);
    let channel = channels.get("intercom").await.expect("the channel");
    let status = channel.status.expect("the CRD's default status");
    assert_eq!(status.observed_generation, Some(0), "{status:?}");
    assert!(status.conditions.is_empty(), "{status:?}");
}

#[tokio::test]
async fn a_commit_that_adds_videostreams_is_progressing_until_their_streams_are_active() {
    let w = World::start("gitops-add", Sync::Automated { prune: true }).await;
    w.h.emulator.set_delays(Delays {
        create: SLOW,
        update: SHORT,
        delete: SHORT,
    });
    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "front-door-cam", 24),
    );
    w.repo
        .write("lobby.yaml", &video_stream("lobby", "lobby-cam", 72));
    let sha = w.commit("two cameras").await;

    // Argo CD and kstatus, watched side by side while the streams are created. Synced as
    // well as Progressing: between the sync's apply and the controller's cache seeing the
    // second object, Argo CD briefly says Progressing with `lobby` still Missing.
    let (progressing, seen) = tokio::join!(
        w.wait_app("Synced and Progressing on the new commit", |a| {
            a.revision == sha && a.sync == "Synced" && a.health == "Progressing"
        }),
        kstatus::follow(&w.h, "front-door", "Current"),
    );
    for name in ["front-door", "lobby"] {
        let resource = progressing.resource("VideoStream", name).expect("managed");
        assert_eq!(resource.sync, "Synced", "{name}: {progressing:#?}");
    }
    assert!(
        seen.contains(&"InProgress".to_string()),
        "kstatus never said InProgress while the stream was created: {seen:?}"
    );

    let healthy = w
        .wait_app("Synced and Healthy on the new commit", |a| {
            a.is_synced_and_healthy_at(&sha)
        })
        .await;
    for (name, stream, retention) in [
        ("front-door", "front-door-cam", 24),
        ("lobby", "lobby-cam", 72),
    ] {
        let resource = healthy.resource("VideoStream", name).expect("managed");
        assert_eq!(
            (resource.health.as_str(), resource.health_message.as_str()),
            ("Healthy", "the stream is ACTIVE and matches the spec"),
            "{name}"
        );
        let at_aws =
            w.h.emulator
                .stream(stream)
                .expect("the stream exists at AWS");
        assert_eq!(at_aws.status, StreamStatus::Active);
        assert_eq!(at_aws.data_retention_in_hours, retention);
        let vs = w.h.wait_ready(name).await;
        assert_eq!(
            vs.status.and_then(|s| s.stream_arn).as_deref(),
            Some(at_aws.stream_arn.as_str())
        );
        let (kstatus, _) = kstatus::of(&w.h, name).await;
        assert_eq!(kstatus.status, "Current", "{name}: {kstatus:?}");
    }
    assert_eq!(w.h.emulator.calls_of(Operation::CreateStream).succeeded, 2);
}

#[tokio::test]
async fn a_committed_retention_change_is_applied_in_place() {
    let w = World::start("gitops-retention", Sync::Automated { prune: true }).await;
    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "front-door-cam", 24),
    );
    let first = w.commit("front door, one day of video").await;
    w.wait_app("Healthy", |a| a.is_synced_and_healthy_at(&first))
        .await;
    let before = w.h.emulator.stream("front-door-cam").expect("created");
    w.h.emulator.set_delays(Delays {
        create: SHORT,
        update: SLOW,
        delete: SHORT,
    });
    w.h.emulator.reset_calls();

    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "front-door-cam", 48),
    );
    let second = w.commit("front door: keep two days").await;
    let (_, seen) = tokio::join!(
        w.wait_app("Progressing while KVS updates the stream", |a| {
            a.revision == second && a.health == "Progressing"
        }),
        async {
            let mut seen = kstatus::follow(&w.h, "front-door", "InProgress").await;
            seen.extend(kstatus::follow(&w.h, "front-door", "Current").await);
            seen
        },
    );
    assert!(
        seen.contains(&"InProgress".to_string()),
        "kstatus never said InProgress while the change was applied: {seen:?}"
    );
    let app = w
        .wait_app("Healthy on the second commit", |a| {
            a.is_synced_and_healthy_at(&second)
        })
        .await;

    let after = w.h.emulator.stream("front-door-cam").expect("still there");
    assert_eq!(
        after.stream_arn, before.stream_arn,
        "the same stream, not a new one"
    );
    assert_eq!(after.data_retention_in_hours, 48);
    assert_eq!(
        w.h.emulator
            .calls_of(Operation::UpdateDataRetention)
            .succeeded,
        1
    );
    for op in [Operation::CreateStream, Operation::DeleteStream] {
        assert_eq!(w.h.emulator.calls_of(op).total, 0, "{op:?}");
    }
    let vs = w.h.wait_ready("front-door").await;
    let status = vs.status.expect("status");
    assert_eq!(status.data_retention_in_hours, Some(48));
    assert_eq!(status.observed_generation, Some(2));
    let (_, note) = w.h.wait_event("front-door", "IncreasedRetention").await;
    assert!(note.contains("24") && note.contains("48"), "{note}");
    assert_eq!(
        app.resource("VideoStream", "front-door")
            .map(|r| r.health.as_str()),
        Some("Healthy")
    );
    println!("kstatus after the commit: {seen:?}");
}

#[tokio::test]
async fn a_stream_another_owner_holds_makes_the_application_degraded_with_our_message() {
    let w = World::start("gitops-not-owned", Sync::Automated { prune: true }).await;
    sdk_client(&w.h.emulator)
        .create_stream()
        .stream_name("taken-cam")
        .data_retention_in_hours(24)
        .tags(OWNER_TAG, "security/front-door")
        .send()
        .await
        .expect("a stream owned by another VideoStream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = w.h.emulator.stream("taken-cam").expect("created");
    w.h.emulator.reset_calls();

    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "taken-cam", 48),
    );
    let sha = w.commit("front door, on a stream that is not ours").await;
    // Degraded, once the sync operation of the commit is over (it may still be wrapping up
    // when the health turns).
    let app = w
        .wait_app("Degraded on the commit, its sync finished", |a| {
            a.revision == sha
                && a.health == "Degraded"
                && !a.operation_phase.is_empty()
                && a.operation_phase != "Running"
        })
        .await;

    // Argo CD shows the operator's own words: the Stalled condition's reason and message.
    let vs = w.h.api().get("front-door").await.expect("applied");
    let status = vs.status.expect("status");
    let stalled = find(&status.conditions, STALLED).expect("Stalled");
    assert_eq!(stalled.status, "True");
    assert_eq!(stalled.reason, "NotOwned");
    assert!(
        stalled.message.contains("security/front-door"),
        "{}",
        stalled.message
    );
    let resource = app.resource("VideoStream", "front-door").expect("managed");
    assert_eq!(resource.health, "Degraded");
    assert_eq!(
        resource.health_message,
        format!("{}: {}", stalled.reason, stalled.message)
    );
    // The manifest itself went in fine: this is health, not a failed sync.
    assert_eq!(app.sync, "Synced");
    assert_eq!(app.operation_phase, "Succeeded");

    let (kstatus, _) = kstatus::of(&w.h, "front-door").await;
    assert_eq!(
        (kstatus.status.as_str(), kstatus.message.as_str()),
        ("Failed", stalled.message.as_str())
    );
    let after = w.h.emulator.stream("taken-cam").expect("still there");
    assert_eq!(after.version, before.version, "the stream was not changed");
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.data_retention_in_hours, 24);
    for op in [
        Operation::UpdateStream,
        Operation::UpdateDataRetention,
        Operation::TagStream,
        Operation::UntagStream,
        Operation::DeleteStream,
    ] {
        assert_eq!(w.h.emulator.calls_of(op).total, 0, "{op:?}");
    }
}

#[tokio::test]
async fn a_videostream_removed_from_git_is_pruned_and_its_stream_deleted() {
    let w = World::start("gitops-prune", Sync::Automated { prune: true }).await;
    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "front-door-cam", 24),
    );
    w.repo
        .write("lobby.yaml", &video_stream("lobby", "lobby-cam", 24));
    let first = w.commit("two cameras").await;
    w.wait_app("Healthy", |a| a.is_synced_and_healthy_at(&first))
        .await;
    let lobby = w.h.emulator.stream("lobby-cam").expect("created");
    w.h.emulator.set_delays(Delays {
        create: SHORT,
        update: SHORT,
        delete: SLOW,
    });
    w.h.emulator.reset_calls();

    let arn =
        w.h.emulator
            .stream("front-door-cam")
            .expect("created")
            .stream_arn;

    w.repo.remove("front-door.yaml");
    let second = w.commit("the front door camera is gone").await;
    // The finalizer holds the VideoStream until KVS has deleted the stream, and Argo CD
    // shows why with the health check's deletionMessage (first, for a moment, that the
    // operator has not seen the deletion yet).
    let deleting_message = format!("Being deleted: deleting stream {arn}");
    let deleting = w
        .wait_app("showing front-door being deleted", |a| {
            a.resource("VideoStream", "front-door")
                .is_some_and(|r| r.health_message == deleting_message)
        })
        .await;
    let resource = deleting
        .resource("VideoStream", "front-door")
        .expect("listed");
    assert_eq!(resource.health, "Progressing");
    w.h.wait_gone("front-door").await;
    assert!(
        w.h.emulator.stream("front-door-cam").is_none(),
        "the stream is deleted"
    );
    assert_eq!(w.h.emulator.calls_of(Operation::DeleteStream).succeeded, 1);

    let app = w
        .wait_app("Synced and Healthy without front-door", |a| {
            a.is_synced_and_healthy_at(&second) && a.resource("VideoStream", "front-door").is_none()
        })
        .await;
    assert!(app.resource("VideoStream", "lobby").is_some());
    let still = w.h.emulator.stream("lobby-cam").expect("lobby is kept");
    assert_eq!(still.version, lobby.version, "lobby was not touched");
}
