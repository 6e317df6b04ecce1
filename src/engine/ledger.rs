//! The engine's memory of each object between reconciles — its failure and wait counts for
//! the backoffs, when its tags are audited next, and where a create it just made was
//! placed until its status records it — kept in one entry per object, so
//! that forgetting an object (it was deleted, or left the watched namespaces) drops all of
//! it at once and nothing grows with the objects that came and went.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::PlacementStatus;

/// An object of any kind, for per-object bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    kind: &'static str,
    namespace: String,
    name: String,
}

impl ObjectKey {
    /// The object `name` of `namespace`, of the kind whose KVS noun is `kind`.
    pub fn new(kind: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
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
    /// (the first status write waits until KVS has finished creating it).
    created: Option<PlacementStatus>,
}

/// Every object's entry.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<HashMap<ObjectKey, Entry>>,
}

impl Ledger {
    fn with<R>(&self, key: &ObjectKey, change: impl FnOnce(&mut Entry) -> R) -> R {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Every reconcile passes here: copy the key only for an object seen the first time.
        if let Some(entry) = entries.get_mut(key) {
            return change(entry);
        }
        change(entries.entry(key.clone()).or_default())
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
        self.with(key, |entry| entry.created = Some(placement));
    }

    /// Where the object's unrecorded create was placed, if it made one.
    pub fn created(&self, key: &ObjectKey) -> Option<PlacementStatus> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).and_then(|entry| entry.created.clone())
    }

    /// The object's status now records what it made: the ledger need not.
    pub fn creation_recorded(&self, key: &ObjectKey) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(key) {
            entry.created = None;
        }
    }

    /// Drops everything remembered of an object.
    pub fn forget(&self, key: &ObjectKey) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }

    /// Keeps only the entries of objects `known` says still exist.
    pub fn retain(&self, known: impl Fn(&ObjectKey) -> bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|key, _| known(key));
    }

    /// How many objects have an entry.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
