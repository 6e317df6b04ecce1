//! Streams that are not ours: never modified, never deleted, adopted only when asked.

use kvs_emulator::Operation;
use kvs_operator::api::OWNER_TAG;
use kvs_operator::engine::conditions::{READY, SYNCED, find};

use crate::support::{Harness, sdk_client};

const MUTATIONS: [Operation; 6] = [
    Operation::UpdateStream,
    Operation::UpdateDataRetention,
    Operation::TagStream,
    Operation::UntagStream,
    Operation::DeleteStream,
    Operation::UpdateStreamStorageConfiguration,
];

fn mutation_calls(h: &Harness) -> u64 {
    MUTATIONS
        .iter()
        .map(|op| h.emulator.calls_of(*op).total)
        .sum()
}

fn camera(name: &str, stream: &str, extra: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\nspec:\n  streamName: {stream}\n  deviceName: cam-01\n  dataRetentionInHours: 24\n{extra}"
    )
}

#[tokio::test]
async fn an_existing_stream_is_left_alone_until_adoption_is_asked_for() {
    let h = Harness::start_adopting("adopt").await;
    sdk_client(&h.emulator)
        .create_stream()
        .stream_name("legacy-cam")
        .data_retention_in_hours(2)
        .send()
        .await
        .expect("stream created outside the operator");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    h.emulator.reset_calls();

    h.apply_ok(&camera("legacy", "legacy-cam", "")).await;
    let vs = h
        .wait_for("legacy", "NotOwned", |vs| {
            vs.status.as_ref().is_some_and(|s| {
                find(&s.conditions, SYNCED).is_some_and(|c| c.reason == "NotOwned")
            })
        })
        .await;
    let status = vs.status.unwrap();
    let ready = find(&status.conditions, READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NotOwned")
    );
    assert!(ready.message.contains("adoptExisting"), "{}", ready.message);
    let (kind, _) = h.wait_event("legacy", "NotOwned").await;
    assert_eq!(kind, "Warning");
    assert_eq!(mutation_calls(&h), 0, "{:?}", h.emulator.calls());
    assert_eq!(
        h.emulator
            .stream("legacy-cam")
            .unwrap()
            .data_retention_in_hours,
        2
    );

    // Adoption asked for: the owner tag is written, then the spec applied.
    h.apply_ok(&camera("legacy", "legacy-cam", "  adoptExisting: true\n"))
        .await;
    h.wait_ready("legacy").await;
    let stream = h.emulator.stream("legacy-cam").unwrap();
    assert_eq!(
        stream.tags.get(OWNER_TAG).cloned(),
        Some(format!("{}/legacy", h.namespace))
    );
    assert_eq!(stream.data_retention_in_hours, 24);
    assert_eq!(
        h.emulator.calls_of(Operation::CreateStream).total,
        0,
        "adopted, not created"
    );
    h.wait_event("legacy", "AdoptedStream").await;
}

#[tokio::test]
async fn deleting_a_videostream_never_deletes_a_stream_it_does_not_own() {
    let h = Harness::start("foreign").await;
    sdk_client(&h.emulator)
        .create_stream()
        .stream_name("foreign-cam")
        .send()
        .await
        .expect("stream created outside the operator");
    h.apply_ok(&camera("foreign", "foreign-cam", "")).await;
    h.wait_event("foreign", "NotOwned").await;

    h.kubectl(&[
        "delete",
        "vs",
        "foreign",
        "-n",
        &h.namespace,
        "--wait=false",
    ])
    .await;
    h.wait_gone("foreign").await;
    assert!(h.emulator.stream("foreign-cam").is_some(), "stream kept");
    assert_eq!(mutation_calls(&h), 0);
}

#[tokio::test]
async fn a_second_namespace_naming_the_same_stream_never_takes_it_over() {
    let h = Harness::without_operator("first").await;
    let second = h.plane.unique_namespace("second").await.expect("namespace");
    let namespaces = [h.namespace.clone(), second.clone()];
    let h = h.with_operator(&namespaces);

    h.apply_ok(&camera("cam", "shared-cam", "")).await;
    h.wait_ready("cam").await;
    let before = h.emulator.stream("shared-cam").unwrap();

    let out = h
        .apply_in(
            &second,
            &camera(
                "cam",
                "shared-cam",
                "  adoptExisting: true\n  dataRetentionInHours: 1\n",
            ),
        )
        .await;
    assert!(out.success(), "{}", out.stderr);
    let intruder = h
        .wait_for_in(&second, "cam", "NotOwned", |vs| {
            vs.status.as_ref().is_some_and(|s| {
                find(&s.conditions, SYNCED).is_some_and(|c| c.reason == "NotOwned")
            })
        })
        .await;
    let status = intruder.status.expect("status");
    let message = &find(&status.conditions, SYNCED).expect("Synced").message;
    assert!(
        message.contains(&format!("{}/cam", h.namespace)),
        "{message}"
    );

    // Deleting the intruder leaves the stream and its owner alone.
    h.kubectl(&["delete", "vs", "cam", "-n", &second, "--wait=false"])
        .await;
    let api = h.api_in(&second);
    for _ in 0..100 {
        if api.get_opt("cam").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        api.get_opt("cam").await.unwrap().is_none(),
        "intruder deleted"
    );
    let after = h.emulator.stream("shared-cam").expect("stream kept");
    assert_eq!(after.version, before.version, "stream untouched");
    assert_eq!(after.tags, before.tags);
    h.wait_ready("cam").await;
}
