//! Crash safety: operators are SIGKILLed at random moments during bursts of creates,
//! updates and deletes, and restarted each time — with one replica, and with two under
//! leader election. The invariants come from AWS's side, not from our own bookkeeping:
//! the emulator's count of successful mutations must be exactly what the workload needs
//! (a second CreateStream of a stream, or a delete and re-create, would show), and every
//! surviving stream keeps the ARN it was created with (a re-created stream gets a new one).
//!
//! Each kill lands mid-wave: after a random number (drawn from a seed the test prints;
//! `KVS_CRASH_SEED=<seed>` replays it) of the wave's calls have succeeded, and the test
//! asserts that part of the wave was still to do when the worker died.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kvs_emulator::Operation;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::operations::{elected, holder};
use crate::support::{Harness, Operator, OperatorOptions};

const COUNT: usize = 18;
const UPDATED: usize = 9;
const DELETED: usize = 5;

fn camera(i: usize, retention: u32) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: cam-{i:02}\nspec:\n  deviceName: cam-{i}\n  dataRetentionInHours: {retention}\n  tags: {{batch: crash}}\n"
    )
}

fn name(i: usize) -> String {
    format!("cam-{i:02}")
}

/// The seed of this run: `KVS_CRASH_SEED`, or a fresh one, printed for replay.
fn seed() -> u64 {
    let seed = std::env::var("KVS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed: {seed} (replay with KVS_CRASH_SEED={seed})");
    seed
}

/// The replicas of one scenario, restarted under fresh identities as pods would be.
struct Replicas<'a> {
    h: &'a Harness,
    elected: bool,
    running: Vec<Operator>,
    started: usize,
}

impl<'a> Replicas<'a> {
    fn start(h: &'a Harness, count: usize) -> Replicas<'a> {
        let mut replicas = Replicas {
            h,
            elected: count > 1,
            running: Vec::new(),
            started: 0,
        };
        for _ in 0..count {
            replicas.spawn();
        }
        replicas
    }

    fn spawn(&mut self) {
        self.started += 1;
        let identity = format!("replica-{}", self.started);
        let mut options = if self.elected {
            elected(self.h, &identity)
        } else {
            OperatorOptions {
                namespaces: vec![self.h.namespace.clone()],
                identity: Some(identity),
                ..OperatorOptions::default()
            }
        };
        // A fifth of the quotas (CreateStream 10/s, UpdateDataRetention and DeleteStream
        // alike): a wave takes long enough for a kill to land in its middle.
        options.args.push("--aws-quota-share=0.2".into());
        self.running.push(self.h.spawn_operator(&options));
    }

    /// SIGKILLs the replica doing the work (the Lease holder, when elected) and starts a
    /// new one in its place.
    async fn crash_the_worker(&mut self) {
        let victim = if self.elected {
            let holder = holder(self.h).await;
            self.running
                .iter()
                .position(|op| Some(op.identity()) == holder.as_deref())
                .unwrap_or(0)
        } else {
            0
        };
        let mut operator = self.running.remove(victim);
        operator.kill().await;
        self.spawn();
    }
}

/// Waits until `check` holds for every VideoStream named.
async fn wait_all(h: &Harness, names: impl IntoIterator<Item = String>) {
    for name in names {
        h.wait_ready(&name).await;
    }
}

async fn wait_only(h: &Harness, survivors: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(90);
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
        if names == *survivors {
            return;
        }
        assert!(Instant::now() < deadline, "VideoStreams stuck: {names:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Successful calls of each mutating operation (the emulator's own list of them).
fn mutations(h: &Harness) -> BTreeMap<&'static str, u64> {
    Operation::ALL
        .into_iter()
        .filter(|op| op.is_mutation())
        .map(|op| (op.name(), h.emulator.calls_of(op).succeeded))
        .collect()
}

/// Waits until `after` more calls of `op` have succeeded than `before`, then kills the
/// worker at once. Returns how many had succeeded by then.
async fn kill_after(
    h: &Harness,
    replicas: &mut Replicas<'_>,
    op: Operation,
    before: u64,
    after: u64,
) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = h.emulator.calls_of(op).succeeded - before;
        if done >= after {
            replicas.crash_the_worker().await;
            return h.emulator.calls_of(op).succeeded - before;
        }
        assert!(
            Instant::now() < deadline,
            "the wave never started: {done} {op}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The workload with a crash at a random moment of each wave; returns the mutations made.
async fn crash_through_the_workload(replicas: usize) {
    let mut rng = StdRng::seed_from_u64(seed());
    let h = Harness::without_operator(&format!("crash{replicas}")).await;
    let mut operators = Replicas::start(&h, replicas);

    // Wave 1: creates, the worker killed after a few of them.
    let all: String = (0..COUNT)
        .map(|i| format!("---\n{}", camera(i, 24)))
        .collect();
    h.apply_ok(&all).await;
    let at = rng.random_range(1..COUNT as u64 / 2);
    let created = kill_after(&h, &mut operators, Operation::CreateStream, 0, at).await;
    eprintln!("wave 1: killed after {created} of {COUNT} creates");
    assert!(created < COUNT as u64, "the kill interrupted the creates");
    wait_all(&h, (0..COUNT).map(name)).await;
    let arns: BTreeMap<String, String> = h
        .emulator
        .streams()
        .into_iter()
        .map(|s| (s.stream_name, s.stream_arn))
        .collect();

    // Wave 2: retention changes.
    let updates: String = (0..UPDATED)
        .map(|i| format!("---\n{}", camera(i, 48)))
        .collect();
    let before = h
        .emulator
        .calls_of(Operation::UpdateDataRetention)
        .succeeded;
    h.apply_ok(&updates).await;
    let at = rng.random_range(1..UPDATED as u64 / 2);
    let updated = kill_after(
        &h,
        &mut operators,
        Operation::UpdateDataRetention,
        before,
        at,
    )
    .await;
    eprintln!("wave 2: killed after {updated} of {UPDATED} updates");
    assert!(updated < UPDATED as u64, "the kill interrupted the updates");
    for i in 0..UPDATED {
        h.wait_stream(&name(i), "at 48h", |s| {
            s.is_some_and(|s| s.data_retention_in_hours == 48)
        })
        .await;
    }
    wait_all(&h, (0..UPDATED).map(name)).await;

    // Wave 3: deletes, with a crash while they run.
    for i in COUNT - DELETED..COUNT {
        h.kubectl(&["delete", "vs", &name(i), "-n", &h.namespace, "--wait=false"])
            .await;
    }
    let at = rng.random_range(1..=DELETED as u64 / 2);
    let deleted = kill_after(&h, &mut operators, Operation::DeleteStream, 0, at).await;
    let left = h
        .kubectl(&["get", "vs", "-n", &h.namespace, "-o", "name"])
        .await
        .stdout
        .lines()
        .count();
    eprintln!("wave 3: killed after {deleted} of {DELETED} deletes, {left} VideoStreams left");
    assert!(
        left > COUNT - DELETED,
        "the kill interrupted the deletions: finalizers were still to be removed"
    );
    let survivors: BTreeSet<String> = (0..COUNT - DELETED).map(name).collect();
    wait_only(&h, &survivors).await;

    // What AWS saw: each stream created once, each change made once, nothing else.
    let mut expected: BTreeMap<&'static str, u64> =
        mutations(&h).into_keys().map(|op| (op, 0)).collect();
    expected.extend([
        ("CreateStream", COUNT as u64),
        ("UpdateDataRetention", UPDATED as u64),
        ("DeleteStream", DELETED as u64),
    ]);
    assert_eq!(mutations(&h), expected, "{replicas} replica(s)");
    let streams = h.emulator.streams();
    let names: BTreeSet<String> = streams.iter().map(|s| s.stream_name.clone()).collect();
    assert_eq!(names, survivors, "no orphan, nothing lost");
    for stream in &streams {
        assert_eq!(
            Some(&stream.stream_arn),
            arns.get(&stream.stream_name),
            "{} kept the ARN it was created with",
            stream.stream_name
        );
    }
    drop(operators);
}

#[tokio::test]
async fn killing_the_operator_at_random_moments_makes_every_change_exactly_once() {
    crash_through_the_workload(1).await;
}

#[tokio::test]
async fn killing_the_leader_of_two_replicas_makes_the_same_changes_as_one_replica() {
    crash_through_the_workload(2).await;
}
