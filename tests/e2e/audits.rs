//! The tag audit, when it goes wrong: a fresh read that fails is reported; a repair that
//! fails is retried until it succeeds (the audit counts as done only then); and ownership
//! tags that changed outside Kubernetes are drift like any other.

use std::time::Duration;

use kvs_emulator::Operation;
use kvs_operator::api::{CLUSTER_TAG, OWNER_TAG, VideoStream};
use kvs_operator::engine::conditions::{READY, SYNCED, find};

use crate::support::{Harness, OperatorOptions, sdk_client, stream_manifest};

fn camera(extra: &str) -> String {
    stream_manifest(
        "cam",
        &format!("  dataRetentionInHours: 24\n  tags: {{site: hq}}\n{extra}"),
    )
}

fn condition(vs: &VideoStream, type_: &str) -> (String, String) {
    let c = find(&vs.status.as_ref().unwrap().conditions, type_).unwrap();
    (c.status.clone(), c.reason.clone())
}

#[tokio::test]
async fn a_failed_audit_read_is_reported_and_clears_once_reads_work_again() {
    let h = Harness::without_operator("audit-read").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    h.apply_ok(&camera("")).await;
    h.wait_ready("cam").await;

    // The audit's fresh ListTagsForStream is throttled: that is reported, not swallowed.
    h.emulator
        .set_account_quota(Operation::ListTagsForStream, 0);
    let vs = h.wait_synced_reason("cam", "Throttled").await;
    assert_eq!(condition(&vs, SYNCED).0, "False");
    assert_eq!(condition(&vs, READY).0, "True", "the stream itself is fine");
    let (kind, note) = h.wait_event("cam", "Throttled").await;
    assert_eq!(kind, "Warning");
    assert!(note.contains("ListTagsForStream"), "{note}");

    h.emulator
        .set_account_quota(Operation::ListTagsForStream, 50);
    h.wait_synced_reason("cam", "ReconcileSuccess").await;
    h.wait_event("cam", "Recovered").await;
}

#[tokio::test]
async fn a_repair_that_fails_is_retried_until_it_lands_not_left_for_the_next_audit() {
    // Audits a minute apart: the first within a minute of the start, the next a minute
    // after it.
    let h = Harness::without_operator("audit-repair").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "60s"));
    h.apply_ok(&camera("")).await;
    h.wait_ready("cam").await;
    let arn = h.emulator.stream("cam").unwrap().stream_arn;
    // The console changes a tag; then the tag writes the repair needs are refused for now.
    sdk_client(&h.emulator)
        .tag_stream()
        .stream_arn(&arn)
        .tags("site", "elsewhere")
        .send()
        .await
        .expect("the console changes the tag");
    h.emulator.set_account_quota(Operation::TagStream, 0);

    // The audit finds the drift; its repair is throttled.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let failed = h
            .emulator
            .calls_of(Operation::TagStream)
            .errors_of("ClientLimitExceededException");
        if failed >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the audit never tried to repair"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reads_before = h.emulator.calls_of(Operation::ListTagsForStream).total;
    // Tag writes work again: the repair lands at its next retry, well before the next
    // audit a minute from the first.
    h.emulator.set_account_quota(Operation::TagStream, 50);
    let repaired = std::time::Instant::now();
    h.wait_stream("cam", "its tag put back", |s| {
        s.is_some_and(|s| s.tags.get("site").map(String::as_str) == Some("hq"))
    })
    .await;
    let took = repaired.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "the repair waited {took:?}: for the next audit, not for its retry"
    );
    let audits_since = h.emulator.calls_of(Operation::ListTagsForStream).total - reads_before;
    assert!(
        audits_since <= 2,
        "{audits_since} tag reads before the repair"
    );
    h.wait_synced_reason("cam", "ReconcileSuccess").await;
}

#[tokio::test]
async fn ownership_tags_changed_outside_kubernetes_stop_the_object_at_the_next_audit() {
    let h = Harness::without_operator("audit-owner").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    h.apply_ok(&camera("")).await;
    h.wait_ready("cam").await;
    let arn = h.emulator.stream("cam").unwrap().stream_arn;
    // Another cluster's claim lands on the stream (a claim race it won, say).
    sdk_client(&h.emulator)
        .tag_stream()
        .stream_arn(&arn)
        .tags(OWNER_TAG, "elsewhere/cam")
        .tags(CLUSTER_TAG, "another-cluster")
        .send()
        .await
        .expect("tags written outside");
    let vs = h.wait_synced_reason("cam", "NotOwned").await;
    assert_eq!(condition(&vs, READY), ("False".into(), "NotOwned".into()));

    // From then on it changes nothing there, whatever the spec asks.
    let mark = h.log_mark();
    h.apply_ok(&camera("  deviceName: renamed\n")).await;
    h.wait_kind::<VideoStream>("cam", "seen at its new generation", |vs| {
        vs.status
            .as_ref()
            .is_some_and(|s| s.observed_generation == vs.metadata.generation)
    })
    .await;
    // Two drift scans later, whatever they would have made it do has been done.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while h
        .emulator
        .call_log_since(mark)
        .iter()
        .filter(|r| r.operation == Operation::ListStreams)
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "no drift scan ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        h.mutations_since(mark),
        [],
        "nothing written to a stream not ours"
    );
    let stream = h.emulator.stream("cam").unwrap();
    assert_eq!(stream.tags[OWNER_TAG], "elsewhere/cam");
}
