//! At rest the operator costs almost nothing: one ListStreams per account and scan, tag
//! audits on their own schedule, no status write, and a restart that re-proves the fleet
//! with one scan. Counted at the emulator and the API server, never timed.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::ListParams;
use kvs_emulator::{Delays, Operation};

use crate::support::{Harness, OperatorOptions, sdk_client};

const COUNT: usize = 12;

fn camera(i: usize) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: cam-{i:02}\nspec:\n  deviceName: cam-{i}\n  dataRetentionInHours: 24\n  tags: {{site: hq}}\n"
    )
}

fn options(h: &Harness, audit: &str) -> OperatorOptions {
    OperatorOptions {
        namespaces: vec![h.namespace.clone()],
        args: vec![format!("--tag-audit-period={audit}")],
        ..OperatorOptions::default()
    }
}

async fn fleet(h: &Harness) {
    let all: String = (0..COUNT).map(|i| format!("---\n{}", camera(i))).collect();
    h.apply_ok(&all).await;
    for i in 0..COUNT {
        h.wait_ready(&format!("cam-{i:02}")).await;
    }
}

/// The resourceVersion of every VideoStream: any write changes it.
async fn versions(h: &Harness) -> BTreeMap<String, String> {
    h.api()
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|vs| (vs.name_any(), vs.resource_version().unwrap_or_default()))
        .collect()
}

fn calls_besides_list_streams(h: &Harness) -> Vec<(String, u64)> {
    h.emulator
        .calls()
        .into_iter()
        .filter(|(op, calls)| *op != Operation::ListStreams && calls.total > 0)
        .map(|(op, calls)| (op.name().to_string(), calls.total))
        .collect()
}

#[tokio::test]
async fn at_rest_a_fleet_costs_one_list_streams_per_scan_and_no_write() {
    let h = Harness::without_operator("rest").await;
    let _operator = h.spawn_operator(&options(&h, "100h"));
    fleet(&h).await;
    // Let the last reconciles settle, then watch a quiet window of resyncs and scans.
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.emulator.reset_calls();
    let before = versions(&h).await;
    tokio::time::sleep(Duration::from_secs(6)).await;

    assert_eq!(
        calls_besides_list_streams(&h),
        [],
        "only the account's scans"
    );
    let lists = h.emulator.calls_of(Operation::ListStreams).total;
    assert!(
        (1..=9).contains(&lists),
        "{lists} ListStreams for 6 one-second scans"
    );
    assert_eq!(versions(&h).await, before, "no status was written");
}

#[tokio::test]
async fn waiting_for_kvs_costs_a_scan_per_account_not_a_describe_per_stream() {
    let h = Harness::without_operator("waiting").await;
    h.emulator.set_delays(Delays {
        create: Duration::from_secs(3),
        update: Duration::from_millis(300),
        delete: Duration::from_millis(300),
    });
    let _operator = h.spawn_operator(&options(&h, "100h"));
    fleet(&h).await;
    // Polling each CREATING stream every 300 ms would cost about ten DescribeStream each.
    let describes = h.emulator.calls_of(Operation::DescribeStream).total;
    assert!(
        describes <= 3 * COUNT as u64,
        "{describes} DescribeStream for {COUNT} streams created in 3 s"
    );
}

#[tokio::test]
async fn tags_changed_outside_kubernetes_are_put_back_by_the_audit() {
    let h = Harness::without_operator("audit").await;
    let _operator = h.spawn_operator(&options(&h, "2s"));
    fleet(&h).await;
    let stream = h.emulator.stream("cam-03").expect("stream");
    sdk_client(&h.emulator)
        .tag_stream()
        .stream_arn(&stream.stream_arn)
        .tags("site", "elsewhere")
        .tags("added-by", "console")
        .send()
        .await
        .expect("tags changed in the console");
    // The spec's key is put back; the key the console added is another writer's (shared
    // tags, the default) and stays.
    h.wait_stream("cam-03", "tags put back", |s| {
        s.is_some_and(|s| {
            s.tags.get("site").map(String::as_str) == Some("hq") && s.tags.contains_key("added-by")
        })
    })
    .await;
}

#[tokio::test]
async fn a_restart_reproves_the_fleet_with_one_scan_and_no_per_stream_call() {
    let h = Harness::without_operator("restart").await;
    let mut first = h.spawn_operator(&options(&h, "100h"));
    fleet(&h).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    first.kill().await;
    h.emulator.reset_calls();
    let before = versions(&h).await;

    let second = h.spawn_operator(&options(&h, "100h"));
    second.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    assert_eq!(
        calls_besides_list_streams(&h)
            .into_iter()
            .filter(|(op, _)| op != "GetCallerIdentity")
            .collect::<Vec<_>>(),
        [],
        "no per-stream call after the restart"
    );
    assert!(h.emulator.calls_of(Operation::ListStreams).total >= 1);
    assert_eq!(versions(&h).await, before, "no status was written");
}

#[tokio::test]
async fn past_the_accounts_stream_limit_the_rest_wait_and_nothing_else_is_blocked() {
    let h = Harness::without_operator("limit").await;
    h.emulator
        .update_settings(|s| s.limits.max_streams = Some(4))
        .expect("settings");
    let _operator = h.spawn_operator(&options(&h, "100h"));
    let all: String = (0..6).map(|i| format!("---\n{}", camera(i))).collect();
    h.apply_ok(&all).await;
    let mut limited = 0;
    for i in 0..6 {
        let name = format!("cam-{i:02}");
        let vs = h
            .wait_for(&name, "Ready or LimitExceeded", |vs| {
                vs.status.as_ref().is_some_and(|s| {
                    kvs_operator::engine::conditions::find(
                        &s.conditions,
                        kvs_operator::engine::conditions::READY,
                    )
                    .is_some_and(|c| c.status == "True" || c.reason == "LimitExceeded")
                })
            })
            .await;
        let ready = kvs_operator::engine::conditions::find(
            &vs.status.unwrap().conditions,
            kvs_operator::engine::conditions::READY,
        )
        .unwrap()
        .clone();
        if ready.reason == "LimitExceeded" {
            assert!(
                ready.message.contains("AccountStreamLimitExceeded"),
                "{}",
                ready.message
            );
            limited += 1;
        }
    }
    assert_eq!(limited, 2, "four fit, two wait");
    // The streams that fit are still managed: a change to one goes through at once.
    let fitted = (0..6)
        .map(|i| format!("cam-{i:02}"))
        .find(|n| h.emulator.stream(n).is_some())
        .expect("a stream that fit");
    let index: usize = fitted[4..].parse().unwrap();
    h.apply_ok(&camera(index).replace("dataRetentionInHours: 24", "dataRetentionInHours: 30"))
        .await;
    h.wait_stream(&fitted, "at 30h", |s| {
        s.is_some_and(|s| s.data_retention_in_hours == 30)
    })
    .await;
}
