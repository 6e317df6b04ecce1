//! Finding resources changed outside Kubernetes with one listing per account and kind.
//!
//! ListStreams returns streams a page at a time, each with its version and status (and
//! ListSignalingChannels the same for channels), so one pass observes every resource of an
//! account for the price of N/1,000 calls (the pages the SDK adapter asks for; KVS would
//! answer up to 10,000 a call, but a page is held while it is read, and a smaller one
//! keeps a scan's passing memory small). Each page is hashed into the pass as it arrives,
//! and the pass is kept as the account's [`Snapshot`]: an object whose resource it shows
//! unchanged since the object was last in sync needs no call of its own (that is how the
//! operator is almost free at rest, and after a restart).
//! Only the objects whose resource moved on are woken up — including those waiting for KVS
//! to finish creating, updating or deleting it, so that waiting costs one listing per
//! account rather than a describe per resource. Tags, which listings do not show, are
//! audited separately (see [`super::settle`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::context::Context;
use super::kind::{Kind, KindStatus, Listed};
use crate::ErrorClass;
use crate::api::PlacementStatus;
use crate::fingerprint;
use crate::kvs::ResourceStatus;
use crate::tenancy::accounts::{Account, AccountKey};

/// One listing of one kind over an account, as compact as telling "moved on" needs: the
/// hash of each resource's name, ARN and version, and its status (about 50 bytes a
/// resource, against about 300 for the names, ARNs and versions as strings).
#[derive(Debug)]
pub struct Snapshot {
    items: HashMap<u64, Seen>,
    pub taken: Instant,
}

/// What a snapshot keeps of one listed resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    arn: u64,
    version: u64,
    pub status: ResourceStatus,
}

impl Seen {
    /// Whether the listing shows `version` (as a status records it).
    pub fn has_version(&self, version: Option<&str>) -> bool {
        version.is_some_and(|version| fingerprint::of(version) == self.version)
    }

    /// Whether the listing shows the resource of `arn`, at `version`: the resource a
    /// status records, unchanged since. 64-bit hashes make a false "unchanged" about
    /// 1 in 10^19 per comparison.
    pub fn shows(&self, arn: Option<&str>, version: Option<&str>) -> bool {
        arn.is_some_and(|arn| fingerprint::of(arn) == self.arn) && self.has_version(version)
    }
}

impl Snapshot {
    pub fn new(listed: impl IntoIterator<Item = Listed>, taken: Instant) -> Self {
        let mut snapshot = Self::with_capacity(0, taken);
        listed.into_iter().for_each(|item| snapshot.insert(item));
        snapshot
    }

    /// An empty snapshot with room for `capacity` resources: a scan fills it page by page.
    fn with_capacity(capacity: usize, taken: Instant) -> Self {
        Self {
            items: HashMap::with_capacity(capacity),
            taken,
        }
    }

    /// Records one listed resource.
    fn insert(&mut self, item: Listed) {
        let seen = Seen {
            arn: fingerprint::of(&item.arn),
            version: fingerprint::of(&item.version),
            status: item.status,
        };
        self.items.insert(fingerprint::of(&item.name), seen);
    }

    /// The resource called `name`, if the listing showed it.
    pub fn get(&self, name: &str) -> Option<&Seen> {
        self.items.get(&fingerprint::of(name))
    }

    /// How many resources the listing showed.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One kind's scans of an account: the latest snapshot, and a way to ask for the next one
/// sooner.
#[derive(Debug)]
pub struct Scans {
    /// The latest successful pass, and how many passes were tried (failed ones too).
    latest: watch::Sender<(Option<Arc<Snapshot>>, u64)>,
    hurry: Notify,
}

impl Default for Scans {
    fn default() -> Self {
        Self {
            latest: watch::channel((None, 0)).0,
            hurry: Notify::new(),
        }
    }
}

impl Scans {
    /// The latest pass, if any.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.borrow().0.clone()
    }

    /// The latest pass, waiting up to `within` for the first attempt: when that attempt
    /// failed there is nothing to wait for, and the caller reconciles in full at once
    /// rather than hold its slot.
    pub async fn first(&self, within: Duration) -> Option<Arc<Snapshot>> {
        let mut receiver = self.latest.subscribe();
        let tried = |(snapshot, attempts): &(Option<Arc<Snapshot>>, u64)| {
            snapshot.is_some() || *attempts > 0
        };
        let waited = tokio::time::timeout(within, receiver.wait_for(tried)).await;
        match waited {
            Ok(Ok(latest)) => latest.0.clone(),
            _ => None,
        }
    }

    /// A resource of the account is changing: scan at the poll cadence until it settles.
    pub fn hurry(&self) {
        self.hurry.notify_one();
    }

    /// Records a pass: its snapshot, or `None` when it failed.
    fn publish(&self, snapshot: Option<Snapshot>) {
        self.latest.send_modify(|(latest, attempts)| {
            *attempts += 1;
            if let Some(snapshot) = snapshot {
                *latest = Some(Arc::new(snapshot));
            }
        });
    }
}

/// The scans of every kind of one account.
#[derive(Debug, Default)]
pub struct KindScans {
    by_kind: Mutex<HashMap<&'static str, Arc<Scans>>>,
}

impl KindScans {
    /// The scans of the kind called `noun`.
    pub fn of(&self, noun: &'static str) -> Arc<Scans> {
        let mut by_kind = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        by_kind.entry(noun).or_default().clone()
    }
}

/// The objects whose last recorded status no longer matches the listing: their resource
/// changed outside Kubernetes, finished a transition, or disappeared.
///
/// An object never reconciled (no status) is skipped: it is already on its way through the
/// queue. One whose create no status reports yet is woken when KVS has finished creating
/// it. One being deleted is woken only when its resource changed or went.
pub fn drifted<K: Kind>(listed: &Snapshot, objects: &[Arc<K>]) -> Vec<ObjectRef<K>> {
    objects
        .iter()
        .filter(|object| {
            let Some(status) = object.status() else {
                return false;
            };
            let item = listed.get(&object.aws_name());
            if object.meta().deletion_timestamp.is_some() {
                return status.arn().is_some()
                    && item.is_none_or(|s| status.aws_status() != Some(s.status.as_str()));
            }
            match item {
                // Made, and not reported yet: its first status waits until KVS is done.
                Some(item) if status.aws_status().is_none() => {
                    item.status != ResourceStatus::Creating
                }
                Some(item) => {
                    !item.has_version(status.version())
                        || status.aws_status() != Some(item.status.as_str())
                }
                // Gone while we thought it existed.
                None => status.arn().is_some(),
            }
        })
        .map(|object| ObjectRef::from(object.as_ref()))
        .collect()
}

/// Whether an object's resource is in a transition KVS will finish by itself.
fn in_transition<K: Kind>(object: &K) -> bool {
    let status = object
        .status()
        .and_then(KindStatus::aws_status)
        .map(ResourceStatus::parse);
    matches!(
        status,
        Some(ResourceStatus::Creating | ResourceStatus::Updating | ResourceStatus::Deleting)
    )
}

/// Scans `account` for kind `K` for as long as identities act there: every `interval` at
/// rest, every `poll` while one of its resources is in a transition (or a reconcile asked
/// to hurry). One scan runs per account and kind, however many namespaces and bindings act
/// in it, and it lists with whichever of the identities that acted there lately still may:
/// one that lost its permission to list is passed over for the next. When no identity has
/// acted there for three resync periods the scan ends (the next reconcile there starts it
/// again).
pub async fn scan_forever<K: Kind>(
    ctx: Arc<Context>,
    account: Arc<Account>,
    interval: Duration,
    poll: Duration,
) {
    let key = account.key.clone();
    let scans = account.scans.of(K::NOUN);
    let registry = K::registry(&ctx);
    let recent = ctx.settings.resync_period * 3;
    loop {
        let candidates = account.scanners.recent(recent);
        if candidates.is_empty() {
            debug!(kind = K::NOUN, account = %key, "no identity acts here any more; the scan ends");
            ctx.scan_ended(&key, K::NOUN);
            return;
        }
        // This account's objects only, from the index the watch keeps.
        let objects = registry.in_account(&key, &created_in::<K>(&ctx, &key));
        // Sized as the last pass was: the table is filled without growing.
        let expected = scans.latest().map_or(0, |last| last.len());
        match list_with_any::<K>(&ctx, &account, &candidates, expected).await {
            Some(snapshot) => {
                for object in drifted(&snapshot, &objects) {
                    debug!(kind = K::NOUN, namespace = object.namespace.as_deref(), name = %object.name, "resource moved on");
                    registry.trigger(object).await;
                }
                scans.publish(Some(snapshot));
            }
            None => scans.publish(None),
        }
        // A create no status records yet keeps the scan at the poll cadence too.
        let busy = objects.iter().any(|object| {
            in_transition(object.as_ref()) || object.status().and_then(KindStatus::arn).is_none()
        });
        let next = if busy { poll } else { interval };
        tokio::select! {
            () = tokio::time::sleep(next) => {}
            // Give the change that asked a moment to take effect at KVS.
            () = scans.hurry.notified() => tokio::time::sleep(poll).await,
        }
    }
}

/// Lists `K` in `account` with the first of `candidates` that may, page by page into a
/// snapshot (each resource hashed as its page is read, so a listing of 10,000 is never
/// held whole); `None` when none could.
async fn list_with_any<K: Kind>(
    ctx: &Context,
    account: &Account,
    candidates: &[crate::tenancy::IdentityKey],
    expected: usize,
) -> Option<Snapshot> {
    for candidate in candidates {
        let identity = match ctx.accounts.identity(candidate).await {
            // A role that now lives elsewhere lists elsewhere.
            Ok(identity) if identity.account.key == account.key => identity,
            Ok(_) => continue,
            Err(error) => {
                debug!(identity = %candidate.describe(), %error, "not usable for the drift scan");
                account.scanners.demote(candidate);
                continue;
            }
        };
        // A listing that fails half-way leaves nothing behind: the next candidate, or the
        // next pass, starts from an empty snapshot.
        let mut snapshot = Snapshot::with_capacity(expected, Instant::now());
        let listed = K::list(identity.kvs.as_ref(), &mut |item| snapshot.insert(item)).await;
        match listed {
            Ok(()) => {
                record::<K>(ctx, account, "success");
                snapshot.taken = Instant::now();
                return Some(snapshot);
            }
            Err(error) if error.class() == ErrorClass::Permission => {
                warn!(kind = K::NOUN, account = %account.key, identity = %candidate.describe(), %error, "this identity may not list; trying another");
                account.scanners.demote(candidate);
            }
            Err(error) => {
                warn!(kind = K::NOUN, account = %account.key, %error, "drift scan failed");
                record::<K>(ctx, account, error.reason());
                return None;
            }
        }
    }
    warn!(kind = K::NOUN, account = %account.key, "no identity acting here may list; drift is found by full reconciles only");
    record::<K>(ctx, account, "AccessDenied");
    None
}

/// Counts one pass of `K`'s scan of `account` by its outcome.
fn record<K: Kind>(ctx: &Context, account: &Account, outcome: &str) {
    ctx.metrics
        .record_drift_scan(&K::kind(&()), &account.key.to_string(), outcome);
}

/// The objects (keys as `key_of` makes them) that made a resource in `account` their
/// status does not record yet.
fn created_in<K: Kind>(ctx: &Context, account: &AccountKey) -> Vec<u64> {
    let here = |p: &PlacementStatus| p.account == account.account_id && p.region == account.region;
    ctx.ledger
        .created_where(K::NOUN, here)
        .iter()
        .map(|key| key.object())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStream, VideoStreamSpec, VideoStreamStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn listed(name: &str, version: &str, status: ResourceStatus) -> Listed {
        Listed {
            name: name.into(),
            arn: format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1"),
            version: version.into(),
            status,
        }
    }

    fn snapshot(items: impl IntoIterator<Item = Listed>) -> Snapshot {
        Snapshot::new(items, Instant::now())
    }

    fn resource(name: &str, status: Option<(&str, &str)>, deleting: bool) -> Arc<VideoStream> {
        let mut vs = VideoStream::new(name, VideoStreamSpec::default());
        vs.metadata.namespace = Some("ns".into());
        if deleting {
            vs.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        vs.status = status.map(|(version, aws_status)| VideoStreamStatus {
            stream_arn: Some(format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1")),
            version: Some(version.into()),
            aws_status: Some(aws_status.into()),
            ..Default::default()
        });
        Arc::new(vs)
    }

    fn names(refs: Vec<ObjectRef<VideoStream>>) -> Vec<String> {
        refs.into_iter().map(|o| o.name).collect()
    }

    #[test]
    fn only_resources_that_moved_on_wake_their_object() {
        let items = snapshot([
            listed("same", "v1", ResourceStatus::Active),
            listed("new-version", "v2", ResourceStatus::Active),
            listed("unreconciled", "v1", ResourceStatus::Active),
            listed("someone-elses", "v9", ResourceStatus::Active),
        ]);
        let objects = [
            resource("same", Some(("v1", "ACTIVE")), false),
            resource("new-version", Some(("v1", "ACTIVE")), false),
            resource("unreconciled", None, false),
            resource("deleted-outside", Some(("v1", "ACTIVE")), false),
        ];
        assert_eq!(
            names(drifted(&items, &objects)),
            ["new-version", "deleted-outside"]
        );
    }

    #[test]
    fn a_snapshot_shows_only_the_resource_a_status_records_at_its_version() {
        let items = snapshot([listed("cam", "v1", ResourceStatus::Active)]);
        let seen = items.get("cam").expect("listed");
        let arn = "arn:aws:kinesisvideo:us-west-2:1:stream/cam/1";
        assert!(seen.shows(Some(arn), Some("v1")));
        // The same name made again (a new ARN), a newer version, nothing recorded.
        assert!(!seen.shows(
            Some("arn:aws:kinesisvideo:us-west-2:1:stream/cam/2"),
            Some("v1")
        ));
        assert!(!seen.shows(Some(arn), Some("v2")));
        assert!(!seen.shows(None, Some("v1")));
        assert!(!seen.shows(Some(arn), None));
        assert!(items.get("other").is_none());
        assert_eq!(items.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_first_scan_is_not_waited_for() {
        let scans = Scans::default();
        // The account's first pass fails after a second.
        let failing = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            scans.publish(None);
        };
        let started = Instant::now();
        let (snapshot, ()) = tokio::join!(scans.first(Duration::from_secs(30)), failing);
        assert!(snapshot.is_none());
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(1),
            "returned at the failed attempt, not after the 30 s wait"
        );
    }

    #[test]
    fn a_finished_transition_wakes_the_object_that_waits_for_it() {
        let items = snapshot([
            listed("created", "v1", ResourceStatus::Active),
            listed("still-creating", "v1", ResourceStatus::Creating),
            listed("still-deleting", "v1", ResourceStatus::Deleting),
        ]);
        let objects = [
            resource("created", Some(("v1", "CREATING")), false),
            resource("still-creating", Some(("v1", "CREATING")), false),
            resource("still-deleting", Some(("v1", "DELETING")), true),
            resource("deleted", Some(("v1", "DELETING")), true),
        ];
        assert_eq!(names(drifted(&items, &objects)), ["created", "deleted"]);
        assert!(objects.iter().all(|o| in_transition(o.as_ref())));
    }

    #[test]
    fn a_create_not_reported_yet_wakes_its_object_once_kvs_is_done() {
        let items = snapshot([
            listed("done", "v1", ResourceStatus::Active),
            listed("still-creating", "v1", ResourceStatus::Creating),
        ]);
        // The CRDs' default status: nothing reported yet.
        let unreported = |name: &str| {
            let mut vs = VideoStream::new(name, VideoStreamSpec::default());
            vs.metadata.namespace = Some("ns".into());
            vs.status = Some(VideoStreamStatus {
                observed_generation: Some(0),
                ..Default::default()
            });
            Arc::new(vs)
        };
        let objects = [
            unreported("done"),
            unreported("still-creating"),
            unreported("not-made"),
        ];
        assert_eq!(names(drifted(&items, &objects)), ["done"]);
    }
}
