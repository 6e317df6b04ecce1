//! Replicas share the fleet by shard (one Lease per AccountBinding, plus the default
//! shard): each shard's VideoStreams are written by its holder alone, a killed replica's
//! shards move within the lease duration, and no stream is ever written by two replicas
//! at once — read from the emulator's call log, where each replica signs with its own key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kvs_emulator::CallRecord;
use kvs_operator::engine::shards::{DEFAULT_SHARD, assignee, lease_name};

use crate::operations::elected;
use crate::support::{Harness, Operator};
use crate::tenancy::{binding, camera};

const REPLICAS: [&str; 3] = ["replica-1", "replica-2", "replica-3"];

fn key_of(replica: &str) -> String {
    format!("AKID{}", replica.to_uppercase().replace('-', ""))
}

/// Binding names that the assignment spreads over the three replicas with the default
/// shard: one shard each.
fn spread_bindings(prefix: &str) -> Vec<String> {
    let members: BTreeSet<String> = REPLICAS.iter().map(|r| r.to_string()).collect();
    let mut taken = BTreeSet::from([assignee(DEFAULT_SHARD, &members).unwrap().to_string()]);
    let mut names = Vec::new();
    for i in 0.. {
        let name = format!("{prefix}-b{i}");
        let owner = assignee(&name, &members).unwrap().to_string();
        if taken.insert(owner) {
            names.push(name);
        }
        if names.len() == 2 {
            return names;
        }
    }
    unreachable!()
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
    let bindings = spread_bindings(&h.namespace);
    let mut namespaces = vec![h.namespace.clone()];
    for b in &bindings {
        let ns = h
            .plane
            .unique_namespace("shards-t")
            .await
            .expect("namespace");
        h.apply_cluster_ok(&binding(b, &ns, "")).await;
        namespaces.push(ns);
    }
    let mut replicas: Vec<Operator> = REPLICAS
        .iter()
        .map(|name| {
            let mut options = elected(&h, name);
            options.namespaces = namespaces.clone();
            options.env = vec![("AWS_ACCESS_KEY_ID".into(), key_of(name))];
            h.spawn_operator(&options)
        })
        .collect();
    let mut shards = vec![DEFAULT_SHARD.to_string()];
    shards.extend(bindings.iter().cloned());
    let holders = wait_holders(&h, &shards, Duration::from_secs(60)).await;
    let distinct: BTreeSet<&String> = holders.values().collect();
    assert_eq!(distinct.len(), 3, "one shard each: {holders:?}");

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

    // The holder of the first binding's shard dies: its shard moves within the lease.
    let victim = holders[&bindings[0]].clone();
    let position = replicas
        .iter()
        .position(|r| r.identity() == victim)
        .expect("victim");
    replicas[position].kill().await;
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(20);
    let heir = loop {
        if let Some(now) = holder(&h, &bindings[0]).await
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
    let ns = &namespaces[1];
    for c in 0..5 {
        let updated = camera(&format!("cam-{c}"), &format!("{ns}-cam-{c}"), "")
            .replace("dataRetentionInHours: 24", "dataRetentionInHours: 36");
        h.apply_in(ns, &updated).await;
    }
    for c in 0..5 {
        h.wait_stream(&format!("{ns}-cam-{c}"), "at 36h", |s| {
            s.is_some_and(|s| s.data_retention_in_hours == 36)
        })
        .await;
    }

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
