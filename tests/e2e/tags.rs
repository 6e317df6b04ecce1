//! Living beside other tools: tag keys others write are left alone (`tagPolicy: Shared`,
//! the default) while the spec wins on its own keys; `Exclusive` keeps the spec the whole
//! truth; and the reconcile-request annotation makes the operator look at everything fresh
//! at once, the way Flux's `reconcile.fluxcd.io/requestedAt` does.

use std::time::Duration;

use kvs_emulator::Operation;
use kvs_operator::api::{RECONCILE_REQUEST_ANNOTATION, SignalingChannel, TagPolicy, VideoStream};

use crate::support::{
    Harness, Operator, OperatorOptions, channel_manifest, sdk_client, stream_manifest,
};

fn camera(tags: &str, extra: &str) -> String {
    stream_manifest(
        "cam",
        &format!("  dataRetentionInHours: 24\n  tags: {tags}\n{extra}"),
    )
}

/// Waits until `operator` holds no stream's tags: every convergence that wrote or read them
/// has found its stream in sync (a Ready status can come a step before that).
async fn wait_settled(operator: &Operator) {
    operator
        .wait_metric(
            "kvs_operator_held_entries",
            &[("state", "tag_cache")],
            Duration::from_secs(30),
            |held| held == 0.0,
            "a stream's tags are still held",
        )
        .await;
}

/// A FinOps tagger's key, and a change to one of the spec's keys, made outside Kubernetes.
async fn tagged_by_others(h: &Harness, arn: &str) {
    sdk_client(&h.emulator)
        .tag_stream()
        .stream_arn(arn)
        .tags("cost-center", "42")
        .tags("team", "intruders")
        .send()
        .await
        .expect("another tool tags the stream");
}

#[tokio::test]
async fn tags_other_tools_write_are_left_alone_and_the_spec_wins_on_its_own_keys() {
    let h = Harness::without_operator("shared-tags").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    h.apply_ok(&camera("{team: security, site: hq}", "")).await;
    let vs = h.wait_ready("cam").await;
    assert_eq!(vs.status.unwrap().managed_tag_keys, ["site", "team"]);
    let arn = h.emulator.stream("cam").unwrap().stream_arn;
    tagged_by_others(&h, &arn).await;

    // The audit puts the spec's value back, says so, and leaves the other key.
    h.wait_stream("cam", "team put back", |s| {
        s.is_some_and(|s| s.tags.get("team").map(String::as_str) == Some("security"))
    })
    .await;
    let (_, note) = h.wait_event("cam", "TaggedStream").await;
    assert!(note.contains("put back team"), "{note}");
    // The spec drops site: the operator applied it, so it goes; cost-center stays.
    h.apply_ok(&camera("{team: security}", "")).await;
    h.wait_stream("cam", "site removed", |s| {
        s.is_some_and(|s| !s.tags.contains_key("site"))
    })
    .await;
    let vs = h
        .wait_for("cam", "managing team only", |vs| {
            vs.status
                .as_ref()
                .is_some_and(|s| s.managed_tag_keys == ["team"])
        })
        .await;
    assert_eq!(vs.spec.tag_policy, TagPolicy::Shared, "the default");
    let mark = h.log_mark();
    h.wait_stream_scans(mark, 2).await;
    let live = h.emulator.stream("cam").unwrap().tags;
    assert_eq!(live.get("cost-center").map(String::as_str), Some("42"));
    let untagged: Vec<_> = h
        .mutations_since(0)
        .into_iter()
        .filter(|r| r.operation == Operation::UntagStream)
        .collect();
    assert_eq!(
        untagged.len(),
        1,
        "only site was ever removed: {untagged:?}"
    );
}

#[tokio::test]
async fn the_exclusive_tag_policy_keeps_the_spec_the_whole_truth() {
    let h = Harness::without_operator("exclusive-tags").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    h.apply_ok(&camera("{team: security}", "  tagPolicy: Exclusive\n"))
        .await;
    h.wait_ready("cam").await;
    let arn = h.emulator.stream("cam").unwrap().stream_arn;
    tagged_by_others(&h, &arn).await;
    h.wait_stream("cam", "only the spec's tags", |s| {
        s.is_some_and(|s| {
            !s.tags.contains_key("cost-center")
                && s.tags.get("team").map(String::as_str) == Some("security")
        })
    })
    .await;
}

#[tokio::test]
async fn a_channel_shares_its_tags_the_same_way() {
    let h = Harness::without_operator("shared-channel").await;
    let _operator = h.spawn_operator(&OperatorOptions::auditing(&h.namespace, "2s"));
    h.apply_ok(&channel_manifest("door", "  tags: {team: security}\n"))
        .await;
    h.wait_ready_kind::<SignalingChannel>("door").await;
    let arn = h.emulator.channel("door").unwrap().channel_arn;
    sdk_client(&h.emulator)
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_kinesisvideo::types::Tag::builder()
                .key("scanner")
                .value("seen")
                .build()
                .unwrap(),
        )
        .tags(
            aws_sdk_kinesisvideo::types::Tag::builder()
                .key("team")
                .value("intruders")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("another tool tags the channel");
    h.wait_channel("door", "team put back, scanner left", |c| {
        c.is_some_and(|c| {
            c.tags.get("team").map(String::as_str) == Some("security")
                && c.tags.contains_key("scanner")
        })
    })
    .await;
    let sc = h.wait_ready_kind::<SignalingChannel>("door").await;
    assert_eq!(sc.status.unwrap().managed_tag_keys, ["team"]);
}

#[tokio::test]
async fn a_reconcile_request_reads_everything_fresh_and_repairs_drift_at_once() {
    let h = Harness::without_operator("refresh").await;
    // Resyncs and audits hours away: only the request can find a tag change.
    let operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![h.namespace.clone()],
        args: vec!["--resync-period=1h".into()],
        ..OperatorOptions::default()
    });
    h.apply_ok(&camera("{team: security}", "")).await;
    h.wait_ready("cam").await;
    let arn = h.emulator.stream("cam").unwrap().stream_arn;
    tagged_by_others(&h, &arn).await;
    let mark = h.log_mark();
    h.wait_stream_scans(mark, 2).await;
    assert_eq!(
        h.emulator.stream("cam").unwrap().tags["team"],
        "intruders",
        "nothing else looked at the tags"
    );

    let request = format!("{RECONCILE_REQUEST_ANNOTATION}=2026-12-06T10:00:00Z");
    let out = h
        .kubectl(&[
            "annotate",
            "--overwrite",
            "vs",
            "cam",
            "-n",
            &h.namespace,
            &request,
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    h.wait_stream("cam", "repaired", |s| {
        s.is_some_and(|s| s.tags.get("team").map(String::as_str) == Some("security"))
    })
    .await;
    let vs = h
        .wait_for("cam", "the request echoed", |vs: &VideoStream| {
            vs.status.as_ref().is_some_and(|s| {
                s.last_handled_reconcile_at.as_deref() == Some("2026-12-06T10:00:00Z")
            })
        })
        .await;
    assert!(vs.status.is_some());
    let fresh_reads = h
        .emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| r.operation == Operation::ListTagsForStream)
        .count();
    assert!(fresh_reads >= 1, "the tags were read from KVS");

    // A spec change afterwards is an ordinary reconcile: the handled request is not
    // handled again. Once the repair has settled, the stream's tags are read fresh once;
    // the reconcile after UpdateDataRetention reads what that one remembered (a request
    // served again would read them fresh in both).
    wait_settled(&operator).await;
    let mark = h.log_mark();
    h.apply_ok(
        &camera("{team: security}", "")
            .replace("dataRetentionInHours: 24", "dataRetentionInHours: 30"),
    )
    .await;
    h.wait_stream("cam", "at 30h", |s| {
        s.is_some_and(|s| s.data_retention_in_hours == 30)
    })
    .await;
    h.wait_ready("cam").await;
    let reads = h
        .emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| r.operation == Operation::ListTagsForStream)
        .count();
    assert_eq!(reads, 1, "the same request is not served twice");
}

#[tokio::test]
async fn a_change_to_a_settled_stream_reads_its_tags_fresh_and_repairs_them() {
    // The default audit period (6 h): only the reconcile the spec change brings can see it.
    let h = Harness::start("settled-tags").await;
    h.apply_ok(&camera("{team: security}", "")).await;
    h.wait_ready("cam").await;
    wait_settled(h.operator()).await;
    let arn = h.emulator.stream("cam").unwrap().stream_arn;
    tagged_by_others(&h, &arn).await;

    let mark = h.log_mark();
    h.apply_ok(
        &camera("{team: security}", "")
            .replace("dataRetentionInHours: 24", "dataRetentionInHours: 30"),
    )
    .await;
    h.wait_stream("cam", "at 30h with team put back", |s| {
        s.is_some_and(|s| {
            s.data_retention_in_hours == 30
                && s.tags.get("team").map(String::as_str) == Some("security")
        })
    })
    .await;
    let tagged: Vec<_> = h
        .emulator
        .call_log_since(mark)
        .into_iter()
        .filter(|r| r.operation == Operation::TagStream)
        .collect();
    assert_eq!(tagged.len(), 1, "team put back once: {tagged:?}");
    let live = h.emulator.stream("cam").unwrap().tags;
    assert_eq!(live.get("cost-center").map(String::as_str), Some("42"));
}
