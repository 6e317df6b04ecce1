//! Sharding the work between replicas, on Kubernetes Leases.
//!
//! A shard is an AWS account and region (see [`crate::tenancy::IdentityKey::shard`]): the
//! objects that act there, whichever AccountBinding (or the operator's own identity) they
//! act with. KVS quotas are per account and region, so one replica holding the shard is
//! one rate limiter per account, however many bindings and replicas there are. Each shard
//! has a Lease; only its holder reconciles the shard's objects and calls AWS for them,
//! through a gate fenced by that Lease (see [`super::leader`]).
//!
//! Replicas find each other through membership Leases, one per replica, renewed like any
//! Lease. Every replica computes the same assignment by rendezvous hashing of each shard
//! over the live members, takes the shards assigned to it and gives up the others. When a
//! replica dies its membership goes stale after a lease duration, and so do its shard
//! Leases: the shards move to the others within about a lease duration, and never to two
//! replicas at once. A replica that cannot renew its membership within the renew deadline
//! is cut off from the API server: it gives everything up and exits.
//!
//! Leases of replicas that are gone for good, and of shards that no longer exist, are
//! deleted after a while, so they do not pile up as replicas and accounts come and go.
//!
//! Without leader election there is one replica, which holds every shard, unfenced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::{Client, ResourceExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::leader::{Fence, LeaderElector, LeaseTiming, advertised_duration};
use crate::{Error, Result};

/// Label on this election's Leases, valued with the election id.
const ELECTION_LABEL: &str = "kvs-operator.dev/election";
/// Label saying what a Lease is for: `member` or `shard`.
const ROLE_LABEL: &str = "kvs-operator.dev/lease";

/// What to call with the name of a shard just taken.
type Callback = Box<dyn Fn(String) + Send + Sync>;

/// Which shards this replica holds, and their fences.
pub struct Shards {
    election: Option<Election>,
    /// The shards held now.
    held: Mutex<BTreeSet<String>>,
    /// One fence per shard for the life of the process: clients built for a shard keep
    /// it, while the shard's Lease comes and goes.
    fences: Mutex<HashMap<String, Arc<Fence>>>,
    /// Called with a shard's name when this replica takes it.
    on_acquired: Mutex<Option<Callback>>,
}

/// Where the Leases live and who this replica is.
pub struct Election {
    pub client: Client,
    pub namespace: String,
    /// The Lease name prefix (`--leader-election-id`).
    pub id: String,
    /// This replica's name (the pod name).
    pub identity: String,
    pub timing: LeaseTiming,
}

impl Shards {
    /// One replica, holding every shard, with no fence.
    pub fn single() -> Self {
        Self {
            election: None,
            held: Mutex::new(BTreeSet::new()),
            fences: Mutex::new(HashMap::new()),
            on_acquired: Mutex::new(None),
        }
    }

    /// Shards elected among replicas on Leases; none is held until [`Shards::run`] takes it.
    pub fn elected(election: Election) -> Self {
        Self {
            election: Some(election),
            ..Self::single()
        }
    }

    pub fn is_elected(&self) -> bool {
        self.election.is_some()
    }

    /// Whether this replica acts for `shard` now.
    pub fn holds(&self, shard: &str) -> bool {
        self.election.is_none() || self.lock().contains(shard)
    }

    /// The fence of `shard`, open while this replica holds its Lease (`None` without
    /// election: nothing to fence).
    pub fn fence(&self, shard: &str) -> Option<Arc<Fence>> {
        self.election.as_ref()?;
        let mut fences = self.fences.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            fences
                .entry(shard.to_string())
                .or_insert_with(|| Arc::new(Fence::closed()))
                .clone(),
        )
    }

    /// The shards this replica holds now (none listed without election: it holds all).
    pub fn held(&self) -> BTreeSet<String> {
        self.lock().clone()
    }

    /// How many shards this replica holds (every one, without election: reported as 1).
    pub fn held_count(&self) -> usize {
        match self.election {
            None => 1,
            Some(_) => self.lock().len(),
        }
    }

    /// Sets what to do when this replica takes a shard (reconcile its VideoStreams).
    pub fn on_acquired(&self, callback: impl Fn(String) + Send + Sync + 'static) {
        *self.on_acquired.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(callback));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps this replica's membership and its assigned shards until `shutdown` (then
    /// gives them all up), or until the membership cannot be renewed (then gives them all
    /// up and returns the error). `shards` says which shards exist right now.
    pub async fn run(
        self: Arc<Self>,
        shards: impl Fn() -> BTreeSet<String> + Send + Sync,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let Some(election) = &self.election else {
            shutdown.cancelled().await;
            return Ok(());
        };
        let leases: Api<Lease> = Api::namespaced(election.client.clone(), &election.namespace);
        let mut membership = LeaderElector::new(
            election.client.clone(),
            &election.namespace,
            &lease_name(&election.id, "member", &election.identity),
            &election.identity,
            election.timing.clone(),
        )
        .labelled(ELECTION_LABEL, &election.id)
        .labelled(ROLE_LABEL, "member");
        let mut members = Members::default();
        let mut running: BTreeMap<String, ShardTask> = BTreeMap::new();
        let result = loop {
            if !membership.renew_once().await {
                break Err(Error::NotLeader(format!(
                    "lost leadership: the membership Lease of {} could not be renewed within the renew deadline",
                    election.identity
                )));
            }
            // From the API server's watch cache (resourceVersion 0), not from etcd: every
            // replica lists every retry period.
            let selector = format!("{ELECTION_LABEL}={}", election.id);
            let listed = leases
                .list(&ListParams::default().labels(&selector).match_any())
                .await;
            let existing = shards();
            match listed {
                Ok(list) => {
                    members.observe(&list.items, election.timing.lease_duration);
                    members.delete_abandoned(&leases, election, &existing).await;
                }
                Err(error) => warn!(%error, "could not list the membership Leases"),
            }
            let live = members.live(&election.identity);
            let wanted: BTreeSet<String> = existing
                .into_iter()
                .filter(|shard| assignee(shard, &live) == Some(election.identity.as_str()))
                .collect();
            self.rebalance(election, &wanted, &members, &mut running)
                .await;
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                () = tokio::time::sleep(election.timing.retry_period) => {}
            }
        };
        for (_, task) in std::mem::take(&mut running) {
            task.stop().await;
        }
        self.lock().clear();
        membership.release().await;
        result
    }

    /// Starts the electors of newly assigned shards and stops those no longer assigned.
    async fn rebalance(
        self: &Arc<Self>,
        election: &Election,
        wanted: &BTreeSet<String>,
        observed: &Members,
        running: &mut BTreeMap<String, ShardTask>,
    ) {
        let gone: Vec<String> = running
            .keys()
            .filter(|shard| !wanted.contains(*shard))
            .cloned()
            .collect();
        for shard in gone {
            if let Some(task) = running.remove(&shard) {
                info!(%shard, "shard assigned to another replica; giving it up");
                self.lock().remove(&shard);
                task.stop().await;
            }
        }
        for shard in wanted {
            let finished = running.get(shard).is_some_and(|t| t.handle.is_finished());
            if running.contains_key(shard) && !finished {
                continue;
            }
            let name = lease_name(&election.id, "shard", shard);
            let mut elector = LeaderElector::new(
                election.client.clone(),
                &election.namespace,
                &name,
                &election.identity,
                election.timing.clone(),
            )
            .labelled(ELECTION_LABEL, &election.id)
            .labelled(ROLE_LABEL, "shard");
            if let Some((spec, since)) = observed.seen.get(&name) {
                elector = elector.seeded(spec.clone(), *since);
            }
            if let Some(fence) = self.fence(shard) {
                elector = elector.fencing(fence);
            }
            running.insert(
                shard.clone(),
                ShardTask::start(self.clone(), shard.clone(), elector),
            );
        }
    }

    fn acquired(&self, shard: &str) {
        self.lock().insert(shard.to_string());
        info!(%shard, "holding shard");
        let callback = self.on_acquired.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(callback) = callback.as_ref() {
            callback(shard.to_string());
        }
    }

    fn lost(&self, shard: &str) {
        self.lock().remove(shard);
    }
}

/// The elector of one shard, acquiring then holding its Lease until stopped or lost.
struct ShardTask {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl ShardTask {
    fn start(shards: Arc<Shards>, shard: String, mut elector: LeaderElector) -> Self {
        let stop = CancellationToken::new();
        let cancelled = stop.clone();
        let handle = tokio::spawn(async move {
            match elector.acquire(&cancelled).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    warn!(%shard, %error, "could not take the shard's Lease");
                    return;
                }
            }
            shards.acquired(&shard);
            tokio::select! {
                lost = elector.hold() => {
                    warn!(%shard, %lost, "lost the shard");
                    shards.lost(&shard);
                    return;
                }
                () = cancelled.cancelled() => {}
            }
            shards.lost(&shard);
            elector.release().await;
        });
        Self { stop, handle }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.handle.await;
    }
}

/// How many lease durations a Lease must have stood unchanged (and, for a shard, unneeded)
/// before it is deleted: long past any holder's claim to it.
const ABANDONED_AFTER: u32 = 5;

/// This election's Leases as this replica has observed them. A member is live while its
/// record keeps changing (it renews), judged by this replica's own clock; the shards'
/// records are kept too, so a shard's new holder knows how long it has been abandoned.
#[derive(Default)]
struct Members {
    seen: HashMap<String, (Option<LeaseSpec>, Instant)>,
    live: BTreeSet<String>,
    /// Each Lease's role label, shard or member name, and resourceVersion, as listed.
    listed: HashMap<String, Listed>,
}

/// What a listed Lease is.
struct Listed {
    role: Option<String>,
    resource_version: Option<String>,
}

impl Members {
    /// Deletes the Leases no one can need: a member's that stopped changing
    /// [`ABANDONED_AFTER`] lease durations ago (its replica is gone), and a shard's that
    /// no shard of now names and that stopped changing as long ago. Each delete is
    /// conditional on the version listed, so a Lease renewed meanwhile stays.
    async fn delete_abandoned(
        &mut self,
        leases: &Api<Lease>,
        election: &Election,
        shards: &BTreeSet<String>,
    ) {
        let lease_duration = election.timing.lease_duration;
        let needed: BTreeSet<String> = shards
            .iter()
            .map(|shard| lease_name(&election.id, "shard", shard))
            .collect();
        let stale_after = lease_duration * ABANDONED_AFTER;
        let abandoned: Vec<(String, Option<String>)> = self
            .listed
            .iter()
            .filter(|(name, listed)| {
                let stale = self
                    .seen
                    .get(*name)
                    .is_some_and(|(_, since)| since.elapsed() >= stale_after);
                let unneeded = match listed.role.as_deref() {
                    Some("shard") => !needed.contains(*name),
                    Some("member") => true,
                    _ => false,
                };
                stale && unneeded
            })
            .map(|(name, listed)| (name.clone(), listed.resource_version.clone()))
            .collect();
        for (name, resource_version) in abandoned {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version,
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            match leases.delete(&name, &params).await {
                Ok(_) => info!(lease = %name, "deleted an abandoned Lease"),
                Err(error) => debug!(lease = %name, %error, "abandoned Lease not deleted"),
            }
            self.listed.remove(&name);
            self.seen.remove(&name);
        }
    }

    fn observe(&mut self, leases: &[Lease], lease_duration: std::time::Duration) {
        let now = Instant::now();
        let mut live = BTreeSet::new();
        let mut seen = HashMap::new();
        let mut listed = HashMap::new();
        for lease in leases {
            let spec = lease.spec.clone();
            let holder = spec
                .as_ref()
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty());
            let since = match self.seen.get(&lease.name_any()) {
                Some((before, since)) if *before == spec => *since,
                _ => now,
            };
            let role = lease.labels().get(ROLE_LABEL).cloned();
            // The holder's own duration counts when it is longer (as in client-go).
            let duration = lease_duration.max(advertised_duration(spec.as_ref()));
            if role.as_deref() == Some("member")
                && let Some(holder) = holder
                && now.duration_since(since) < duration
            {
                live.insert(holder);
            }
            seen.insert(lease.name_any(), (spec, since));
            listed.insert(
                lease.name_any(),
                Listed {
                    role,
                    resource_version: lease.resource_version(),
                },
            );
        }
        self.seen = seen;
        self.live = live;
        self.listed = listed;
    }

    /// The live members, this replica always among them.
    fn live(&self, me: &str) -> BTreeSet<String> {
        let mut live = self.live.clone();
        live.insert(me.to_string());
        live
    }
}

/// The member a shard belongs to: the highest hash of (shard, member) — every replica
/// computes the same answer, and a change of members moves only the shards it must.
pub fn assignee<'a>(shard: &str, members: &'a BTreeSet<String>) -> Option<&'a str> {
    members
        .iter()
        .max_by_key(|member| {
            let mut hasher = Fnv1a::default();
            shard.hash(&mut hasher);
            member.hash(&mut hasher);
            hasher.finish()
        })
        .map(String::as_str)
}

/// FNV-1a with a final avalanche (MurmurHash3's fmix64), so that names differing only in
/// their last characters still spread over all the bits: stable across processes and
/// releases, unlike the std hasher.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A valid Lease name `<id>-<kind>-<name>`: DNS-1123, at most 63 characters, with a hash
/// of the whole when it had to be shortened or cleaned, so distinct names stay distinct.
pub fn lease_name(id: &str, kind: &str, name: &str) -> String {
    let wanted = format!("{id}-{kind}-{name}");
    let clean: String = wanted
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean == wanted && clean.len() <= 63 {
        return clean;
    }
    let mut hasher = Fnv1a::default();
    hasher.write(wanted.as_bytes());
    let suffix = format!("{:08x}", hasher.finish() as u32);
    let head: String = clean.chars().take(63 - 9).collect();
    format!("{}-{suffix}", head.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn every_replica_assigns_the_same_owner_and_a_new_member_takes_only_some_shards() {
        let three = members(&["replica-a", "replica-b", "replica-c"]);
        let shards: Vec<String> = (0..300).map(|i| format!("tenant-{i}")).collect();
        let owners: Vec<&str> = shards
            .iter()
            .map(|s| assignee(s, &three).unwrap())
            .collect();
        for member in &three {
            let count = owners.iter().filter(|o| *o == member).count();
            assert!((60..=140).contains(&count), "{member}: {count} of 300");
        }
        let four = members(&["replica-a", "replica-b", "replica-c", "replica-d"]);
        for (shard, before) in shards.iter().zip(&owners) {
            let after = assignee(shard, &four).unwrap();
            assert!(
                after == *before || after == "replica-d",
                "{shard} moved between old members"
            );
        }
        assert_eq!(assignee("x", &BTreeSet::new()), None);
    }

    #[test]
    fn lease_names_are_valid_and_distinct() {
        assert_eq!(
            lease_name("kvs-operator", "shard", "default"),
            "kvs-operator-shard-default"
        );
        let long = "a".repeat(200);
        let name = lease_name("kvs-operator", "shard", &long);
        assert!(name.len() <= 63, "{name}");
        assert_ne!(name, lease_name("kvs-operator", "shard", &"a".repeat(201)));
        let odd = lease_name("kvs-operator", "member", "Host.Example_1");
        assert!(
            odd.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{odd}"
        );
    }
}
