//! A SignalingChannel from git: committed before the VideoStream its media is stored into,
//! as a repository laid out by kind may well be. Argo CD must show it waiting, not broken,
//! and both Healthy once the stream exists.

use kvs_emulator::MediaStorageStatus;

use crate::argocd::Sync;
use crate::world::{World, video_stream};

fn doorbell_channel(stream: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: SignalingChannel\nmetadata:\n  name: doorbell\nspec:\n  messageTtlSeconds: 60\n  mediaStorage:\n    videoStreamName: {stream}\n"
    )
}

#[tokio::test]
async fn a_channel_committed_before_its_video_stream_waits_then_stores_into_it() {
    let w = World::start("gitops-doorbell", Sync::Automated { prune: true }).await;
    w.repo.write("channel.yaml", &doorbell_channel("doorbell"));
    let first = w.commit("the doorbell's channel").await;

    let waiting = w
        .wait_app(
            "the channel assessed while its VideoStream is missing",
            |a| {
                a.revision == first
                    && a.resource("SignalingChannel", "doorbell").is_some_and(|r| {
                        r.health_message
                            .contains("names VideoStream doorbell, which does not exist")
                    })
            },
        )
        .await;
    let channel = waiting
        .resource("SignalingChannel", "doorbell")
        .expect("managed");
    assert_eq!(channel.health, "Progressing", "{waiting:#?}");
    assert_eq!(waiting.health, "Progressing", "{waiting:#?}");
    assert!(
        w.h.emulator.channel("doorbell").is_none(),
        "the channel was created before the stream it stores into existed"
    );

    w.repo.write(
        "stream.yaml",
        &video_stream("doorbell", "doorbell-cam", 168),
    );
    let second = w.commit("the doorbell's stream").await;
    let healthy = w
        .wait_app("Synced and Healthy with the stream", |a| {
            a.is_synced_and_healthy_at(&second)
        })
        .await;
    for kind in ["VideoStream", "SignalingChannel"] {
        let resource = healthy.resource(kind, "doorbell").expect("managed");
        assert_eq!(resource.health, "Healthy", "{kind}: {resource:?}");
    }
    let stream =
        w.h.emulator
            .stream("doorbell-cam")
            .expect("the stream exists");
    let channel =
        w.h.emulator
            .channel("doorbell")
            .expect("the channel exists");
    assert_eq!(channel.media_storage.status, MediaStorageStatus::Enabled);
    assert_eq!(
        channel.media_storage.stream_arn.as_deref(),
        Some(stream.stream_arn.as_str()),
        "the channel stores into another stream"
    );
}
