//! Replicas share the fleet by shard (one Lease per AWS account and region): each shard's
//! VideoStreams are written by its holder alone, a killed replica's shards move within the
//! lease duration, and no stream is ever written by two replicas at once — read from the
//! emulator's call log, where each replica signs with its own key. Two bindings in one
//! account and region are one shard: one replica, so one rate limiter, speaks for it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::ResourceExt;
use kube::api::Api;
use kvs_emulator::{CallRecord, Operation};
use kvs_operator::engine::shard_watch::{SHARD_LABEL, label_value};
use kvs_operator::engine::shards::{assignee, lease_name};
use kvs_operator::tenancy::IdentityKey;

use crate::operations::elected;
use crate::support::{Harness, Operator};
use crate::tenancy::{binding, camera};

const REPLICAS: [&str; 3] = ["replica-1", "replica-2", "replica-3"];

fn key_of(replica: &str) -> String {
    format!("AKID{}", replica.to_uppercase().replace('-', ""))
}

/// Regions whose shards (the operator's own account there) the assignment spreads over
/// the three replicas together with the shard of `home`: one shard each.
fn spread_regions(home: &str) -> Vec<String> {
    let members: BTreeSet<String> = REPLICAS.iter().map(|r| r.to_string()).collect();
    let shard = |region: &str| IdentityKey::own(region).shard();
    let mut taken = BTreeSet::from([assignee(&shard(home), &members).unwrap().to_string()]);
    let mut regions = Vec::new();
    for region in [
        "eu-west-1",
        "eu-central-1",
        "us-east-1",
        "ap-south-1",
        "ap-northeast-1",
        "sa-east-1",
        "ca-central-1",
        "eu-north-1",
    ] {
        let owner = assignee(&shard(region), &members).unwrap().to_string();
        if taken.insert(owner) {
            regions.push(region.to_string());
        }
        if regions.len() == 2 {
            return regions;
        }
    }
    panic!("no two regions spread over the replicas")
}

async fn holder(h: &Harness, shard: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.namespace);
    let lease = leases
        .get_opt(&lease_name("kvs-operator", "shard", shard))
        .await
        .ok()??;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

async fn wait_holders(
    h: &Harness,
    shards: &[String],
    within: Duration,
) -> BTreeMap<String, String> {
    let deadline = Instant::now() + within;
    loop {
        let mut holders = BTreeMap::new();
        for shard in shards {
            if let Some(holder) = holder(h, shard).await {
                holders.insert(shard.clone(), holder);
            }
        }
        let members: BTreeSet<String> = REPLICAS.iter().map(|r| r.to_string()).collect();
        let settled = holders.len() == shards.len()
            && shards
                .iter()
                .all(|s| Some(holders[s].as_str()) == assignee(s, &members));
        if settled {
            return holders;
        }
        assert!(Instant::now() < deadline, "shards not settled: {holders:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The VideoStreams of the shards `replicas` held when the holders were read.
fn held_by(
    holders: &BTreeMap<String, String>,
    per_shard: &BTreeMap<String, usize>,
    replicas: &[&str],
) -> usize {
    holders
        .iter()
        .filter(|(_, holder)| replicas.contains(&holder.as_str()))
        .map(|(shard, _)| per_shard[shard])
        .sum()
}

/// Waits until `replica`'s watch caches `count` VideoStreams (those of its shards).
async fn wait_cached(replica: &Operator, count: usize) {
    replica
        .wait_metric(
            "kvs_operator_held_entries",
            &[("state", "cached_videostreams")],
            Duration::from_secs(20),
            |cached| cached == count as f64,
            &format!("does not cache the {count} VideoStreams of its shards"),
        )
        .await;
}

/// Per stream, the access keys of its successful mutations in order, with repeats merged:
/// a stream written by one replica and then (after a failover) by another shows two keys;
/// one written by two replicas at once shows them interleaved.
fn writers(log: &[CallRecord]) -> BTreeMap<String, Vec<String>> {
    let mut writers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in log {
        if !record.operation.is_mutation() || !record.succeeded() {
            continue;
        }
        let Some(stream) = &record.stream else {
            continue;
        };
        let keys = writers.entry(stream.clone()).or_default();
        if keys.last() != Some(&record.access_key_id) {
            keys.push(record.access_key_id.clone());
        }
    }
    writers
}

#[tokio::test]
async fn replicas_share_the_shards_fail_over_within_the_lease_and_never_write_together() {
    let h = Harness::without_operator("shards").await;
    let home = h.emulator.region().to_string();
    let regions = spread_regions(&home);
    let mut namespaces = vec![h.namespace.clone()];
    for region in &regions {
        let ns = h
            .plane
            .unique_namespace("shards-t")
            .await
            .expect("namespace");
        let name = format!("{ns}-{region}");
        h.apply_cluster_ok(&binding(&name, &ns, &format!("  region: {region}\n")))
            .await;
        namespaces.push(ns);
    }
    // A second binding in the first binding's account and region: the same shard.
    let twin = h
        .plane
        .unique_namespace("shards-twin")
        .await
        .expect("namespace");
    let twin_binding = format!("{twin}-{}", regions[0]);
    h.apply_cluster_ok(&binding(
        &twin_binding,
        &twin,
        &format!("  region: {}\n", regions[0]),
    ))
    .await;
    let mut replicas: Vec<Operator> = REPLICAS
        .iter()
        .map(|name| {
            let mut options = elected(&h, name);
            options.namespaces = namespaces.iter().chain([&twin]).cloned().collect();
            options.env = vec![("AWS_ACCESS_KEY_ID".into(), key_of(name))];
            h.spawn_operator(&options)
        })
        .collect();
    let shards: Vec<String> = [home.as_str()]
        .into_iter()
        .chain(regions.iter().map(String::as_str))
        .map(|region| IdentityKey::own(region).shard())
        .collect();
    let holders = wait_holders(&h, &shards, Duration::from_secs(60)).await;
    let distinct: BTreeSet<&String> = holders.values().collect();
    assert_eq!(distinct.len(), 3, "one shard each: {holders:?}");
    // One Lease per account and region: none per binding (the twin's account is the first
    // binding's, so it has no Lease of its own).
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.namespace);
    for binding in [&twin_binding, &format!("{}-{}", namespaces[1], regions[0])] {
        let per_binding = lease_name("kvs-operator", "shard", binding);
        assert!(
            leases.get_opt(&per_binding).await.expect("get").is_none(),
            "a Lease for binding {binding}"
        );
    }

    // The twin binding's cameras are written by the same replica as the first binding's.
    for c in 0..2 {
        let out = h
            .apply_in(
                &twin,
                &camera(&format!("cam-{c}"), &format!("{twin}-cam-{c}"), ""),
            )
            .await;
        assert!(out.success(), "{}", out.stderr);
    }

    // Five cameras per shard; each is created by its shard's holder.
    for ns in &namespaces {
        for c in 0..5 {
            let name = format!("cam-{c}");
            let stream = format!("{ns}-cam-{c}");
            let out = h.apply_in(ns, &camera(&name, &stream, "")).await;
            assert!(out.success(), "{}", out.stderr);
        }
    }
    for ns in &namespaces {
        for c in 0..5 {
            h.wait_for_in(ns, &format!("cam-{c}"), "Ready", |vs| {
                vs.status.as_ref().is_some_and(|s| {
                    kvs_operator::engine::conditions::find(
                        &s.conditions,
                        kvs_operator::engine::conditions::READY,
                    )
                    .is_some_and(|c| c.status == "True")
                })
            })
            .await;
        }
    }
    for c in 0..2 {
        h.wait_for_in(&twin, &format!("cam-{c}"), "Ready", |vs| {
            vs.status.as_ref().is_some_and(|s| {
                kvs_operator::engine::conditions::find(
                    &s.conditions,
                    kvs_operator::engine::conditions::READY,
                )
                .is_some_and(|c| c.status == "True")
            })
        })
        .await;
    }
    let created = writers(&h.emulator.call_log());
    for (shard, ns) in shards.iter().zip(&namespaces) {
        for c in 0..5 {
            let stream = format!("{ns}-cam-{c}");
            assert_eq!(
                created.get(&stream),
                Some(&vec![key_of(&holders[shard])]),
                "{stream} is written by its shard's holder only"
            );
        }
    }
    for c in 0..2 {
        let stream = format!("{twin}-cam-{c}");
        assert_eq!(
            created.get(&stream),
            Some(&vec![key_of(&holders[&shards[1]])]),
            "{stream}: the twin binding's account is held by the same replica"
        );
    }

    // Each replica caches only the VideoStreams of the shard it holds: the holder labelled
    // them in the write that added the finalizer, and the other replicas' watches leave
    // them out.
    let per_shard: BTreeMap<String, usize> = shards.iter().cloned().zip([5, 7, 5]).collect();
    for (shard, ns) in shards.iter().zip(&namespaces) {
        let vs = h.api_in(ns).get("cam-0").await.expect("get");
        assert_eq!(
            vs.labels().get(SHARD_LABEL).map(String::as_str),
            Some(label_value(shard).as_str()),
            "{ns}/cam-0 is labelled with its shard"
        );
    }
    for replica in &replicas {
        wait_cached(
            replica,
            held_by(&holders, &per_shard, &[replica.identity()]),
        )
        .await;
    }
    // A person points a camera's label at another replica's shard: that replica, now the
    // one watching it, points it back, and nothing acts elsewhere.
    let edited = &namespaces[2];
    let label = format!("{SHARD_LABEL}={}", label_value(&shards[0]));
    let out = h
        .kubectl(&[
            "label",
            "--overwrite",
            "-n",
            edited,
            "videostream",
            "cam-0",
            &label,
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let vs = h.api_in(edited).get("cam-0").await.expect("get");
        if vs.labels().get(SHARD_LABEL) == Some(&label_value(&shards[2])) {
            break;
        }
        assert!(Instant::now() < deadline, "the label was never put back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for replica in &replicas {
        wait_cached(
            replica,
            held_by(&holders, &per_shard, &[replica.identity()]),
        )
        .await;
    }

    // The holder of the first binding's shard dies: its shard moves within the lease.
    let victim = holders[&shards[1]].clone();
    let position = replicas
        .iter()
        .position(|r| r.identity() == victim)
        .expect("victim");
    replicas[position].kill().await;
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(20);
    let heir = loop {
        if let Some(now) = holder(&h, &shards[1]).await
            && now != victim
        {
            break now;
        }
        assert!(Instant::now() < deadline, "the shard never moved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = killed.elapsed();
    assert!(
        took <= Duration::from_secs(4 + 3),
        "the shard moved after {took:?}"
    );
    // The heir reconciles what it inherited without a change to wake it: its watch lists
    // the shard's objects anew, and once they are cached they are reconciled, which starts
    // the heir's drift scan of that account and region.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !h.emulator.call_log().iter().any(|record| {
        record.operation == Operation::ListStreams
            && record.access_key_id == key_of(&heir)
            && record.region == regions[0]
    }) {
        assert!(
            Instant::now() < deadline,
            "{heir} never reconciled the shard it inherited"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ns = &namespaces[1];
    for c in 0..5 {
        let updated = camera(&format!("cam-{c}"), &format!("{ns}-cam-{c}"), "")
            .replace("dataRetentionInHours: 24", "dataRetentionInHours: 36");
        h.apply_in(ns, &updated).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for c in 0..5 {
        let stream = format!("{ns}-cam-{c}");
        while h
            .emulator
            .stream_in(h.emulator.account_id(), &regions[0], &stream)
            .is_none_or(|s| s.data_retention_in_hours != 36)
        {
            assert!(Instant::now() < deadline, "{stream} never became 36h");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The heir's watch now lists the victim's shard too.
    let heir_replica = replicas
        .iter()
        .find(|r| r.identity() == heir)
        .expect("heir");
    let inherited = held_by(&holders, &per_shard, &[heir.as_str(), victim.as_str()]);
    wait_cached(heir_replica, inherited).await;

    let log = h.emulator.call_log();
    for (stream, keys) in writers(&log) {
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(
            distinct.len(),
            keys.len(),
            "{stream} was written by {keys:?}: two replicas took turns"
        );
    }
    let moved = writers(&log);
    for c in 0..5 {
        let stream = format!("{ns}-cam-{c}");
        assert_eq!(
            moved.get(&stream),
            Some(&vec![key_of(&victim), key_of(&heir)]),
            "{stream}: created by the victim, updated by its heir"
        );
    }
    drop(replicas);
}
