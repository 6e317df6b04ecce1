//! The engine's memory of each object between reconciles — its failure and wait counts for
//! the backoffs, when its tags are audited next, where a create it just made was
//! placed until its status records it, and which version its last write replaced until
//! the watch brings a newer one — kept in one entry per object, so
//! that forgetting an object (it was deleted, or left the watched namespaces) drops all of
//! it at once and nothing grows with the objects that came and went.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::num::NonZeroU64;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::wake_filter::key_of_parts;
use crate::api::PlacementStatus;

/// An object of any kind, for per-object bookkeeping: its kind and the 64-bit hash of its
/// namespace and name that the watch's wake filter keys it by (24 bytes and no allocation,
/// against two strings: about 90 bytes less an object). Two objects of one kind whose names
/// hash alike (about 1 in 10^9 at 100,000) would share one entry — backoff counts, an audit
/// schedule, an unrecorded create's placement; ownership is never decided from the ledger
/// (a deletion reads the tags fresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    kind: &'static str,
    object: u64,
}

impl ObjectKey {
    /// The object `name` of `namespace`, of the kind whose KVS noun is `kind`.
    pub fn new(kind: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            object: key_of_parts(Some(namespace), Some(name)),
        }
    }

    /// The object's key in its watch (see [`key_of_parts`]).
    pub fn object(&self) -> u64 {
        self.object
    }
}

/// What the engine remembers of one object.
#[derive(Debug, Default, Clone, PartialEq)]
struct Entry {
    /// Consecutive failed reconciles, for the error backoff.
    failures: u32,
    /// Consecutive waits for KVS to finish a transition, for the wait backoff.
    waits: u32,
    /// When its tags (or, for some kinds, everything) are read fresh next.
    audit_due: Option<Instant>,
    /// An audit found drift (or is a full reconcile) and its repair has not succeeded yet:
    /// the audit counts as done only once it has.
    repairing: bool,
    /// Where a resource this replica created was placed, while no status records it yet
    /// (the first status write waits until KVS has finished creating it). Boxed: set for
    /// a few objects at a time, it would otherwise make every entry 64 bytes larger.
    created: Option<Box<PlacementStatus>>,
    /// The hash of the resource version a write of this replica replaced, while the cache
    /// still holds that version: the cache is behind the object's own last write.
    written_over: Option<NonZeroU64>,
}

/// Every object's entry.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_object: HashMap<ObjectKey, Entry>,
    /// The objects whose entry holds an unrecorded create: few (a create stays
    /// unrecorded until its next reconcile), so a scan asks these rather than every
    /// object that has no status yet.
    unrecorded: HashSet<ObjectKey>,
}

impl Ledger {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<R>(&self, key: &ObjectKey, change: impl FnOnce(&mut Entry) -> R) -> R {
        change(self.entries().by_object.entry(*key).or_default())
    }

    /// Counts one more failure and returns the count.
    pub fn record_failure(&self, key: &ObjectKey) -> u32 {
        self.with(key, |entry| {
            entry.failures += 1;
            entry.failures
        })
    }

    pub fn record_success(&self, key: &ObjectKey) {
        self.with(key, |entry| entry.failures = 0);
    }

    /// Counts one more wait (at most `cap`) and returns the count.
    pub fn record_wait(&self, key: &ObjectKey, cap: u32) -> u32 {
        self.with(key, |entry| {
            entry.waits = (entry.waits + 1).min(cap);
            entry.waits
        })
    }

    pub fn done_waiting(&self, key: &ObjectKey) {
        self.with(key, |entry| entry.waits = 0);
    }

    /// How long until the object's audit is due. The first time an object is seen (after a
    /// start, say) its audit is placed at a random point of `period`, so the audits of a
    /// fleet spread out instead of coming all at once.
    pub fn audit_due_in(&self, key: &ObjectKey, period: Duration) -> Duration {
        let now = Instant::now();
        self.with(key, |entry| {
            let due = *entry
                .audit_due
                .get_or_insert_with(|| now + period.mul_f64(rand::random_range(0.0..1.0)));
            due.saturating_duration_since(now)
        })
    }

    /// An audit found something to repair (or is itself a full reconcile): it is done
    /// once a full reconcile finds the object in sync.
    pub fn audit_repairing(&self, key: &ObjectKey) {
        self.with(key, |entry| entry.repairing = true);
    }

    /// Whether an audit waits for its repair to succeed.
    pub fn is_repairing(&self, key: &ObjectKey) -> bool {
        self.with(key, |entry| entry.repairing)
    }

    /// Records an audit (and its repair, if any) as done now; the next is `next` away.
    pub fn audited(&self, key: &ObjectKey, next: Duration) {
        let due = Instant::now() + next;
        self.with(key, |entry| {
            entry.audit_due = Some(due);
            entry.repairing = false;
        });
    }

    /// A create was made for the object, at `placement`; its status does not say so yet.
    pub fn record_created(&self, key: &ObjectKey, placement: PlacementStatus) {
        let mut entries = self.entries();
        entries.by_object.entry(*key).or_default().created = Some(Box::new(placement));
        entries.unrecorded.insert(*key);
    }

    /// Where the object's unrecorded create was placed, if it made one.
    pub fn created(&self, key: &ObjectKey) -> Option<PlacementStatus> {
        let entries = self.entries();
        entries
            .by_object
            .get(key)
            .and_then(|entry| entry.created.as_deref().cloned())
    }

    /// The objects of `kind` (a KVS noun) with an unrecorded create placed where `placed`
    /// says yes.
    pub fn created_where(
        &self,
        kind: &str,
        placed: impl Fn(&PlacementStatus) -> bool,
    ) -> Vec<ObjectKey> {
        let entries = self.entries();
        entries
            .unrecorded
            .iter()
            .filter(|key| key.kind == kind)
            .filter(|key| {
                let created = entries
                    .by_object
                    .get(*key)
                    .and_then(|e| e.created.as_deref());
                created.is_some_and(&placed)
            })
            .copied()
            .collect()
    }

    /// The object's status now records what it made: the ledger need not.
    pub fn creation_recorded(&self, key: &ObjectKey) {
        let mut entries = self.entries();
        if let Some(entry) = entries.by_object.get_mut(key) {
            entry.created = None;
        }
        entries.unrecorded.remove(key);
    }

    /// A write of this replica replaced `version` of the object with a newer one.
    pub fn wrote_over(&self, key: &ObjectKey, version: &str) {
        self.with(key, |entry| {
            entry.written_over = Some(version_hash(version))
        });
    }

    /// Whether `cached`, the version of the object the cache holds, is one a write of this
    /// replica already replaced. A newer version ends that: the cache has caught up.
    pub fn behind_own_write(&self, key: &ObjectKey, cached: Option<&str>) -> bool {
        let mut entries = self.entries();
        let Some(entry) = entries.by_object.get_mut(key) else {
            return false;
        };
        let Some(written_over) = entry.written_over else {
            return false;
        };
        if cached.map(version_hash) == Some(written_over) {
            return true;
        }
        entry.written_over = None;
        false
    }

    /// Drops everything remembered of an object.
    pub fn forget(&self, key: &ObjectKey) {
        let mut entries = self.entries();
        entries.by_object.remove(key);
        entries.unrecorded.remove(key);
    }

    /// Keeps only the entries of objects `known` says still exist.
    pub fn retain(&self, known: impl Fn(&ObjectKey) -> bool) {
        let mut entries = self.entries();
        entries.by_object.retain(|key, _| known(key));
        entries.unrecorded.retain(|key| known(key));
    }

    /// How many objects have an entry.
    pub fn len(&self) -> usize {
        self.entries().by_object.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Resource versions are opaque strings; the ledger keeps a hash, not the string.
fn version_hash(version: &str) -> NonZeroU64 {
    NonZeroU64::new(crate::fingerprint::of(version)).unwrap_or(NonZeroU64::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("stream", "ns", name)
    }

    #[test]
    fn one_entry_per_object_holds_its_counts_and_goes_with_it() {
        let ledger = Ledger::default();
        assert_eq!(ledger.record_failure(&key("a")), 1);
        assert_eq!(ledger.record_failure(&key("a")), 2);
        assert_eq!(ledger.record_wait(&key("a"), 3), 1);
        assert_eq!(ledger.record_wait(&key("b"), 3), 1);
        assert_eq!(ledger.len(), 2);
        ledger.record_success(&key("a"));
        assert_eq!(
            ledger.record_failure(&key("a")),
            1,
            "success resets failures"
        );
        ledger.forget(&key("a"));
        assert_eq!(ledger.len(), 1);
        ledger.retain(|k| *k != key("b"));
        assert!(ledger.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_audit_is_done_only_once_its_repair_succeeded() {
        let ledger = Ledger::default();
        let period = Duration::from_secs(100);
        let first = ledger.audit_due_in(&key("a"), period);
        assert!(first <= period);
        tokio::time::advance(first).await;
        assert!(ledger.audit_due_in(&key("a"), period).is_zero());
        ledger.audit_repairing(&key("a"));
        assert!(ledger.is_repairing(&key("a")));
        assert!(
            ledger.audit_due_in(&key("a"), period).is_zero(),
            "still due while the repair has not succeeded"
        );
        ledger.audited(&key("a"), period);
        assert!(!ledger.is_repairing(&key("a")));
        assert_eq!(ledger.audit_due_in(&key("a"), period), period);
    }

    #[test]
    fn an_unrecorded_create_is_remembered_until_the_status_records_it() {
        let ledger = Ledger::default();
        assert_eq!(ledger.created(&key("a")), None);
        ledger.creation_recorded(&key("a"));
        assert!(ledger.is_empty(), "clearing adds no entry");
        let placed = PlacementStatus {
            account_binding: Some("team".into()),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
        };
        ledger.record_created(&key("a"), placed.clone());
        assert_eq!(ledger.created(&key("a")), Some(placed));
        assert_eq!(ledger.created(&key("b")), None);
        ledger.creation_recorded(&key("a"));
        assert_eq!(ledger.created(&key("a")), None);
    }

    #[test]
    fn a_scan_finds_the_unrecorded_creates_of_its_account_among_them_only() {
        let ledger = Ledger::default();
        let placed = |account: &str| PlacementStatus {
            account_binding: None,
            account: account.into(),
            region: "eu-west-1".into(),
        };
        ledger.record_created(&key("a"), placed("1"));
        ledger.record_created(&key("b"), placed("2"));
        ledger.record_created(&ObjectKey::new("signaling channel", "ns", "c"), placed("1"));
        ledger.record_failure(&key("d"));
        let in_one = |p: &PlacementStatus| p.account == "1";
        assert_eq!(ledger.created_where("stream", in_one), [key("a")]);
        ledger.creation_recorded(&key("a"));
        assert!(ledger.created_where("stream", in_one).is_empty());
        ledger.record_created(&key("a"), placed("1"));
        ledger.forget(&key("a"));
        assert!(ledger.created_where("stream", in_one).is_empty());
        ledger.retain(|k| *k != key("b"));
        assert!(ledger.created_where("stream", |_| true).is_empty());
    }

    #[test]
    fn the_cache_is_behind_until_it_holds_a_newer_version_than_the_one_written_over() {
        let ledger = Ledger::default();
        assert!(!ledger.behind_own_write(&key("a"), Some("10")));
        assert!(ledger.is_empty(), "asking adds no entry");
        ledger.wrote_over(&key("a"), "10");
        assert!(ledger.behind_own_write(&key("a"), Some("10")));
        assert!(
            ledger.behind_own_write(&key("a"), Some("10")),
            "still behind while the cache holds that version"
        );
        assert!(!ledger.behind_own_write(&key("b"), Some("10")));
        assert!(!ledger.behind_own_write(&key("a"), Some("11")));
        assert!(
            !ledger.behind_own_write(&key("a"), Some("10")),
            "once caught up, the mark is gone"
        );
    }

    #[test]
    fn waits_are_capped() {
        let ledger = Ledger::default();
        for _ in 0..10 {
            ledger.record_wait(&key("a"), 4);
        }
        assert_eq!(ledger.record_wait(&key("a"), 4), 4);
        ledger.done_waiting(&key("a"));
        assert_eq!(ledger.record_wait(&key("a"), 4), 1);
    }
}
