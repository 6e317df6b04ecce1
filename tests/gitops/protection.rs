//! Deletion protection against Argo CD's prune: a protected VideoStream removed from git is
//! refused by the chart's policy (rendered by `helm template`, as the chart installs it),
//! the Application's sync says why, and the stream and its video stay; removing the
//! annotation lets the prune through.

use kvs_emulator::Operation;
use kvs_operator::api::DELETION_PROTECTION_ANNOTATION;

use crate::argocd::Sync;
use crate::support::install_deletion_protection;
use crate::world::{World, video_stream};

#[tokio::test]
async fn a_protected_videostream_removed_from_git_is_not_pruned_and_the_application_says_why() {
    let w = World::start("gitops-protect", Sync::Automated { prune: true }).await;
    install_deletion_protection(w.h.plane).await;
    let vault = video_stream("vault", "gitops-vault", 720).replace(
        "metadata:\n",
        &format!("metadata:\n  annotations:\n    {DELETION_PROTECTION_ANNOTATION}: \"true\"\n"),
    );
    w.repo.write("vault.yaml", &vault);
    w.repo
        .write("lobby.yaml", &video_stream("lobby", "gitops-lobby", 24));
    let first = w.commit("an archive and a lobby camera").await;
    w.wait_app("Healthy", |a| a.is_synced_and_healthy_at(&first))
        .await;
    let before = w.h.emulator.stream("gitops-vault").expect("created");
    w.h.wait_delete_refused("videostream", "vault").await;

    w.repo.remove("vault.yaml");
    let second = w.commit("the archive leaves git").await;
    let refused = w
        .wait_app("saying the prune was refused", |a| {
            a.revision == second
                && a.sync_results.iter().any(|(kind, name, _, message)| {
                    kind == "VideoStream"
                        && name == "vault"
                        && message.contains(DELETION_PROTECTION_ANNOTATION)
                })
        })
        .await;
    let (_, _, status, message) = refused
        .sync_results
        .iter()
        .find(|(kind, name, _, _)| kind == "VideoStream" && name == "vault")
        .expect("a result");
    assert_eq!(status, "SyncFailed", "{refused:#?}");
    assert!(
        message.contains("remove the annotation to allow the delete"),
        "{message}"
    );
    assert_ne!(refused.operation_phase, "Succeeded", "{refused:#?}");
    // Nothing was deleted: the VideoStream, the stream, its ARN and its retention.
    let vs = w.h.api().get("vault").await.expect("still there");
    assert!(vs.metadata.deletion_timestamp.is_none());
    let after = w.h.emulator.stream("gitops-vault").expect("kept");
    assert_eq!(
        (after.stream_arn.as_str(), after.data_retention_in_hours),
        (before.stream_arn.as_str(), 720)
    );
    assert_eq!(w.h.emulator.calls_of(Operation::DeleteStream).total, 0);

    // The deliberate step: the annotation removed, the next attempt prunes it.
    let out =
        w.h.kubectl(&[
            "annotate",
            "videostream",
            "vault",
            "-n",
            &w.h.namespace,
            &format!("{DELETION_PROTECTION_ANNOTATION}-"),
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    w.wait_app("Synced and Healthy without the archive", |a| {
        a.is_synced_and_healthy_at(&second) && a.resource("VideoStream", "vault").is_none()
    })
    .await;
    w.h.wait_gone("vault").await;
    assert!(w.h.emulator.stream("gitops-vault").is_none());
    assert!(w.h.emulator.stream("gitops-lobby").is_some());
}
