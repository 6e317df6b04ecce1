//! Deletion protection: the chart's ValidatingAdmissionPolicy (rendered by `helm template`,
//! as the chart installs it) makes the real API server refuse to delete a VideoStream or
//! SignalingChannel annotated `kvs-operator.dev/deletion-protection: "true"`, or in a
//! Namespace so annotated: through `kubectl delete`, `kubectl delete --all` and the
//! DeleteCollection the namespace controller uses. The stream, its ARN and its retention stay
//! as they were; removing the annotation allows the delete.
//! (Argo CD's prune: tests/gitops; `kubectl delete namespace`: tests/e2e/node.)

use kube::api::{Api, DeleteParams, ListParams};
use kvs_emulator::Operation;
use kvs_operator::api::{DELETION_PROTECTION_ANNOTATION, SignalingChannel, VideoStream};

use crate::support::{Harness, channel_manifest, install_deletion_protection};

fn protected_stream(name: &str, stream: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\n  annotations:\n    {DELETION_PROTECTION_ANNOTATION}: \"true\"\nspec:\n  streamName: {stream}\n  dataRetentionInHours: 720\n"
    )
}

fn plain_stream(name: &str, stream: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\nspec:\n  streamName: {stream}\n  dataRetentionInHours: 24\n"
    )
}

/// The stream's ARN and retention at "AWS", which must not change.
fn video(h: &Harness, stream: &str) -> (String, u32) {
    let s = h
        .emulator
        .stream(stream)
        .unwrap_or_else(|| panic!("stream {stream} is gone"));
    (s.stream_arn, s.data_retention_in_hours)
}

/// Asserts the refusal names the object, the annotation and the way out.
fn assert_refusal(stderr: &str, object: &str, on: &str) {
    assert!(
        stderr.contains(object)
            && stderr.contains(DELETION_PROTECTION_ANNOTATION)
            && stderr.contains(on)
            && stderr.contains("remove the annotation to allow the delete"),
        "{stderr}"
    );
}

#[tokio::test]
async fn annotated_objects_cannot_be_deleted_until_the_annotation_is_removed() {
    let h = Harness::start("protect").await;
    install_deletion_protection(h.plane).await;
    h.apply_ok(&protected_stream("vault", "protect-vault"))
        .await;
    h.apply_ok(&plain_stream("scratch", "protect-scratch"))
        .await;
    let channel = channel_manifest("bell", "  channelName: protect-bell\n").replace(
        "metadata:\n",
        &format!("metadata:\n  annotations:\n    {DELETION_PROTECTION_ANNOTATION}: \"true\"\n"),
    );
    h.apply_ok(&channel).await;
    h.wait_ready("vault").await;
    h.wait_ready("scratch").await;
    h.wait_ready_kind::<SignalingChannel>("bell").await;
    let vault = video(&h, "protect-vault");
    let bell = h
        .emulator
        .channel("protect-bell")
        .expect("channel")
        .channel_arn;

    // kubectl delete: refused, naming the annotation.
    let ns = h.namespace.clone();
    let refused = h.wait_delete_refused("videostream", "vault").await;
    assert_refusal(
        &refused,
        &format!("VideoStream {ns}/vault"),
        "on the object",
    );
    let out = h
        .kubectl(&["delete", "videostream", "vault", "-n", &ns])
        .await;
    assert!(!out.success());
    assert_refusal(
        &out.stderr,
        &format!("VideoStream {ns}/vault"),
        "on the object",
    );
    let out = h.kubectl(&["delete", "sigch", "bell", "-n", &ns]).await;
    assert!(!out.success());
    assert_refusal(
        &out.stderr,
        &format!("SignalingChannel {ns}/bell"),
        "on the object",
    );

    // kubectl delete --all deletes object by object: the unprotected one goes.
    let out = h
        .kubectl(&["delete", "videostreams", "--all", "-n", &ns, "--wait=false"])
        .await;
    assert!(!out.success(), "{}", out.stdout);
    assert_refusal(
        &out.stderr,
        &format!("VideoStream {ns}/vault"),
        "on the object",
    );
    h.wait_gone("scratch").await;
    assert!(h.emulator.stream("protect-scratch").is_none());

    // DeleteCollection (what the namespace controller calls) is admitted per object too.
    let streams: Api<VideoStream> = h.api();
    let collection = streams
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let Err(kube::Error::Api(status)) = collection else {
        panic!("DeleteCollection went through: {collection:?}");
    };
    assert_eq!(status.code, 403, "{status:?}");
    assert_refusal(
        &status.message,
        &format!("VideoStream {ns}/vault"),
        "on the object",
    );

    // A Namespace's annotation protects what has none of its own.
    h.apply_ok(&plain_stream("lobby", "protect-lobby")).await;
    h.wait_ready("lobby").await;
    let lobby = video(&h, "protect-lobby");
    let out = h
        .kubectl(&[
            "annotate",
            "namespace",
            &ns,
            &format!("{DELETION_PROTECTION_ANNOTATION}=true"),
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    let refused = h.wait_delete_refused("videostream", "lobby").await;
    assert_refusal(
        &refused,
        &format!("VideoStream {ns}/lobby"),
        &format!("on its namespace {ns}"),
    );

    // Nothing was deleted, at Kubernetes or at AWS.
    for name in ["vault", "lobby"] {
        let vs = streams.get(name).await.expect("still there");
        assert!(vs.metadata.deletion_timestamp.is_none(), "{name}");
    }
    let channels: Api<SignalingChannel> = Api::namespaced(h.client.clone(), &ns);
    let kept = channels.get("bell").await.expect("still there");
    assert!(kept.metadata.deletion_timestamp.is_none());
    assert_eq!(video(&h, "protect-vault"), vault);
    assert_eq!(video(&h, "protect-lobby"), lobby);
    assert_eq!(
        h.emulator.channel("protect-bell").map(|c| c.channel_arn),
        Some(bell)
    );
    assert_eq!(
        h.emulator.calls_of(Operation::DeleteStream).total,
        1,
        "scratch only"
    );
    assert_eq!(
        h.emulator.calls_of(Operation::DeleteSignalingChannel).total,
        0
    );

    // The deliberate step: removing the annotations allows the delete.
    let out = h
        .kubectl(&[
            "annotate",
            "namespace",
            &ns,
            &format!("{DELETION_PROTECTION_ANNOTATION}-"),
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    for (kind, name) in [("videostream", "vault"), ("sigch", "bell")] {
        let out = h
            .kubectl(&[
                "annotate",
                kind,
                name,
                "-n",
                &ns,
                &format!("{DELETION_PROTECTION_ANNOTATION}-"),
            ])
            .await;
        assert!(out.success(), "{}", out.stderr);
    }
    h.delete_ok("videostream", "vault").await;
    h.delete_ok("videostream", "lobby").await;
    h.delete_ok("sigch", "bell").await;
    h.wait_gone("vault").await;
    h.wait_gone("lobby").await;
    h.wait_gone_kind::<SignalingChannel>("bell").await;
    assert!(h.emulator.stream("protect-vault").is_none());
    assert!(h.emulator.channel("protect-bell").is_none());
}
