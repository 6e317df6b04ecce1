//! Self-heal against the operator's own writes: Argo CD keeps comparing, the operator keeps
//! writing status (and finalizers, and correcting drift made at AWS), and nothing of that
//! is a difference from git. Measured over a quiet minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation;
use futures::StreamExt;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kvs_emulator::Operation;
use kvs_operator::api::RECONCILE_REQUEST_ANNOTATION;

use crate::argocd::Sync;
use crate::support::sdk_client;
use crate::world::{World, video_stream};

const QUIET: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_operators_status_writes_cause_no_sync_and_no_out_of_sync() {
    let w = World::start("gitops-quiet", Sync::Automated { prune: true }).await;
    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "front-door-cam", 24),
    );
    // Fields left out, so the API server's defaults (if any) differ from git.
    w.repo.write(
        "lobby.yaml",
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: lobby\nspec:\n  deviceName: cam-02\n",
    );
    let sha = w.commit("two cameras").await;
    w.wait_app("Healthy", |a| a.is_synced_and_healthy_at(&sha))
        .await;
    w.h.wait_ready("front-door").await;
    w.h.wait_ready("lobby").await;

    let syncs_before = w.argocd.sync_count(&w.app).await;
    let history_before = w.app().await.history;
    let writes = count_writes(&w).await;
    w.h.emulator.reset_calls();
    let client = sdk_client(&w.h.emulator);

    // A minute in which git does not change. Twice someone changes the stream's retention
    // at AWS; the operator puts it back and writes status each time.
    let start = Instant::now();
    let mut samples = 0;
    let mut out_of_sync = Vec::new();
    let mut drifts = 0;
    let mut requested = false;
    while start.elapsed() < QUIET {
        if (drifts == 0 && start.elapsed() > Duration::from_secs(10))
            || (drifts == 1 && start.elapsed() > Duration::from_secs(35))
        {
            let stream = w.h.emulator.stream("front-door-cam").expect("exists");
            client
                .update_data_retention()
                .stream_name("front-door-cam")
                .current_version(stream.version)
                .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
                .data_retention_change_in_hours(6)
                .send()
                .await
                .expect("a change made in the console");
            drifts += 1;
        }
        // Someone asks for a fresh look at a live object Argo CD manages.
        if !requested && start.elapsed() > Duration::from_secs(20) {
            let out =
                w.h.kubectl(&[
                    "annotate",
                    "vs",
                    "front-door",
                    "-n",
                    &w.h.namespace,
                    &format!("{RECONCILE_REQUEST_ANNOTATION}=quiet-minute"),
                ])
                .await;
            assert!(out.success(), "{}", out.stderr);
            requested = true;
        }
        let app = w.app().await;
        samples += 1;
        if app.sync != "Synced" || app.resources.iter().any(|r| r.sync != "Synced") {
            out_of_sync.push(format!("{:?}: {app:#?}", start.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let syncs = w.argocd.sync_count(&w.app).await - syncs_before;
    let app = w.app().await;
    let status_writes = writes.load(Ordering::Relaxed);
    let corrections =
        w.h.emulator
            .calls_of(Operation::UpdateDataRetention)
            .succeeded;
    println!(
        "quiet minute: {syncs} syncs, {} OutOfSync of {samples} samples, {corrections} drift \
         corrections by the operator, {status_writes} writes to the VideoStreams",
        out_of_sync.len()
    );

    assert_eq!(drifts, 2);
    // The operator did write: two corrections (each UpdateDataRetention by the operator,
    // after the two made at AWS) and the status writes around them.
    assert_eq!(
        corrections, 4,
        "the two changes at AWS and the operator's two corrections"
    );
    assert!(
        status_writes >= 4,
        "the operator wrote too little status to prove anything: {status_writes}"
    );
    assert!(
        out_of_sync.is_empty(),
        "OutOfSync during the quiet minute:\n{}",
        out_of_sync.join("\n")
    );
    assert_eq!(syncs, 0, "Argo CD synced during the quiet minute");
    assert_eq!(app.history, history_before);
    assert!(app.is_synced_and_healthy_at(&sha), "{app:#?}");
    let front_door = w.h.wait_ready("front-door").await;
    let status = front_door.status.expect("status");
    assert_eq!(status.data_retention_in_hours, Some(24));
    assert_eq!(
        status.last_handled_reconcile_at.as_deref(),
        Some("quiet-minute"),
        "the request was served, and the Application stayed Synced"
    );

    // The sync count reads syncs when there are some: a commit makes one, so its zero
    // above was a measurement, not a counter that cannot move.
    w.repo.write(
        "front-door.yaml",
        &video_stream("front-door", "front-door-cam", 30),
    );
    let changed = w.commit("a month of video").await;
    w.wait_app("Healthy at the new commit", |a| {
        a.is_synced_and_healthy_at(&changed)
    })
    .await;
    let after = w.argocd.sync_count(&w.app).await - syncs_before;
    assert!(
        after >= 1,
        "a commit was synced but {after} syncs were counted"
    );
}

/// Counts every change to the test's VideoStreams from now on (all of them the operator's:
/// git does not change), through a watch of the API server.
async fn count_writes(w: &World) -> Arc<AtomicU64> {
    let api = w.h.api();
    let list = api.list(&ListParams::default()).await.expect("list");
    let version = list.metadata.resource_version.expect("a list version");
    let mut events = api
        .watch(&WatchParams::default().timeout(290), &version)
        .await
        .expect("watch")
        .boxed();
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if matches!(event, WatchEvent::Modified(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    count
}
