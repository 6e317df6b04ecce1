//! Crash safety: the operator is SIGKILLed at random moments during a burst of creates,
//! updates and deletes, and restarted each time. Afterwards: no duplicate stream, no
//! orphan, no stream deleted that should live, no VideoStream stuck with its finalizer.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kvs_operator::api::OWNER_TAG;

use crate::support::{Harness, OperatorOptions};

fn camera(i: usize, retention: u32) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: cam-{i:02}\nspec:\n  deviceName: cam-{i}\n  dataRetentionInHours: {retention}\n  tags: {{batch: crash}}\n"
    )
}

#[tokio::test]
async fn killing_the_operator_at_random_moments_loses_nothing_and_leaks_nothing() {
    let h = Harness::without_operator("crash").await;
    let options = OperatorOptions {
        namespaces: vec![h.namespace.clone()],
        ..OperatorOptions::default()
    };
    const COUNT: usize = 24;
    let all: String = (0..COUNT)
        .map(|i| format!("---\n{}", camera(i, 24)))
        .collect();
    let mut operator = h.spawn_operator(&options);

    // The burst, with a kill and a restart at a random moment after each wave.
    h.apply_ok(&all).await;
    let mut kills = 0;
    for wave in 0..4 {
        tokio::time::sleep(Duration::from_millis(rand::random_range(100..1500))).await;
        operator.kill().await;
        kills += 1;
        match wave {
            // Updates while nobody runs.
            0 => {
                let updates: String = (0..COUNT / 2)
                    .map(|i| format!("---\n{}", camera(i, 48)))
                    .collect();
                h.apply_ok(&updates).await;
            }
            // Deletes while nobody runs: finalizers must hold them.
            1 => {
                for i in COUNT - 6..COUNT {
                    let name = format!("cam-{i:02}");
                    h.kubectl(&["delete", "vs", &name, "-n", &h.namespace, "--wait=false"])
                        .await;
                }
            }
            _ => {}
        }
        operator = h.spawn_operator(&options);
        if wave == 2 {
            // Updates and deletes racing a running operator that is about to die.
            h.apply_ok(&camera(0, 12)).await;
            h.kubectl(&["delete", "vs", "cam-17", "-n", &h.namespace, "--wait=false"])
                .await;
        }
    }
    assert_eq!(kills, 4);

    // Let the last operator finish the work.
    let survivors: BTreeSet<String> = (0..COUNT - 7).map(|i| format!("cam-{i:02}")).collect();
    for name in &survivors {
        h.wait_ready(name).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = h
            .kubectl(&["get", "vs", "-n", &h.namespace, "-o", "name"])
            .await
            .stdout;
        let names: BTreeSet<String> = listed
            .lines()
            .filter_map(|l| l.rsplit('/').next())
            .map(str::to_string)
            .collect();
        if names == survivors {
            break;
        }
        assert!(Instant::now() < deadline, "VideoStreams stuck: {names:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let streams = h.emulator.streams();
    let stream_names: BTreeSet<String> = streams.iter().map(|s| s.stream_name.clone()).collect();
    assert_eq!(
        stream_names, survivors,
        "exactly the live VideoStreams have streams: no orphan, no loss"
    );
    assert_eq!(streams.len(), survivors.len(), "no duplicates");
    for stream in &streams {
        let owner = format!("{}/{}", h.namespace, stream.stream_name);
        assert_eq!(stream.tags.get(OWNER_TAG), Some(&owner));
    }
    let by_name = |n: &str| {
        streams
            .iter()
            .find(|s| s.stream_name == n)
            .unwrap()
            .data_retention_in_hours
    };
    assert_eq!(by_name("cam-00"), 12, "the last update won");
    assert_eq!(by_name("cam-05"), 48);
    assert_eq!(by_name("cam-15"), 24);
    drop(operator);
}
