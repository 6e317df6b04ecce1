//! When each object found in sync is looked at next (its resync, or its tag audit when
//! that comes first), kept by the engine instead of as a requeue in kube-runtime's
//! scheduler.
//!
//! A requeue there holds the object's reference twice (name, namespace, resource version
//! and uid as strings, in a map and a delay queue): about 650 bytes for every object of a
//! settled fleet, at all times. Here an object is its watch key and a time, about 70
//! bytes; when it is due, the key is looked up in the watch's index and the object
//! triggered like any other wake. A deleted object's look is cancelled with it; what the
//! watch no longer sees otherwise (another replica's shard) is not found and dropped when
//! due.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::context::{Context, lock};
use super::kind::Kind;
use super::wake_filter::key_of;

/// How often due resyncs are looked for: a resync is at most this late.
const TICK: Duration = Duration::from_millis(250);

/// The objects of one kind waiting for their next look, by watch key.
#[derive(Debug, Default)]
pub struct Resyncs {
    due: Mutex<Due>,
}

#[derive(Debug, Default)]
struct Due {
    at: HashMap<u64, Instant>,
    order: BTreeSet<(Instant, u64)>,
}

impl Resyncs {
    /// Looks at the object of watch key `key` again `after` from now (a later schedule
    /// replaces an earlier one).
    pub fn schedule(&self, key: u64, after: Duration) {
        let when = Instant::now() + after;
        let mut due = lock(&self.due);
        if let Some(before) = due.at.insert(key, when) {
            due.order.remove(&(before, key));
        }
        due.order.insert((when, key));
    }

    /// Forgets the object of watch key `key` (it was deleted).
    pub fn cancel(&self, key: u64) {
        let mut due = lock(&self.due);
        if let Some(when) = due.at.remove(&key) {
            due.order.remove(&(when, key));
        }
    }

    /// Takes the keys whose time has come.
    pub fn take_due(&self) -> Vec<u64> {
        let now = Instant::now();
        let mut due = lock(&self.due);
        let mut keys = Vec::new();
        while let Some(&(when, key)) = due.order.first()
            && when <= now
        {
            due.order.pop_first();
            due.at.remove(&key);
            keys.push(key);
        }
        keys
    }

    /// How many objects wait for a look.
    pub fn len(&self) -> usize {
        lock(&self.due).at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The reconcile's answer for `object`, in sync: nothing queued in kube-runtime, a look
/// `after` from now in the engine's own schedule.
pub fn later<K: Kind>(ctx: &Context, object: &K, after: Duration) -> Action {
    K::registry(ctx).resyncs.schedule(key_of(object), after);
    Action::await_change()
}

/// Triggers the reconcile of each object of kind `K` whose look is due, until `shutdown`.
pub async fn resync_forever<K: Kind>(ctx: Arc<Context>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = shutdown.cancelled() => return,
        }
        let registry = K::registry(&ctx);
        for key in registry.resyncs.take_due() {
            if let Some(object) = registry.find(key) {
                registry.trigger(ObjectRef::from_obj(object.as_ref())).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_key_is_due_once_at_its_latest_schedule() {
        let resyncs = Resyncs::default();
        resyncs.schedule(1, Duration::from_secs(10));
        resyncs.schedule(2, Duration::from_secs(5));
        resyncs.schedule(1, Duration::from_secs(20));
        resyncs.schedule(3, Duration::from_secs(1));
        resyncs.cancel(3);
        assert_eq!(resyncs.len(), 2);
        assert!(resyncs.take_due().is_empty());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(resyncs.take_due(), [2]);
        assert!(resyncs.take_due().is_empty(), "taken once");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            resyncs.take_due(),
            [1],
            "at the schedule that replaced the first"
        );
        assert!(resyncs.is_empty());
    }
}
