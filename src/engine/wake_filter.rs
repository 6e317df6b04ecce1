//! Which watch events wake an object: a new object, a change of its spec (generation), of
//! its deletion, of its pause, or a new reconcile request. Status writes, the operator's own included,
//! wake nothing; requeues and the drift scan cover everything else.
//!
//! Unlike kube-runtime's predicate filter, which keeps an entry per object ever seen for an
//! hour, this one forgets an object when the watch stops seeing it (deleted, or moved to
//! another replica's shard), and keeps a small hash per object rather than its full
//! reference. And what a watch lists when it starts again (a shard taken, a watch back
//! after an outage) is woken once the listing is complete and the cache holds it: woken
//! before, the reconcile would not find it and the object would wait for its next change.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use kube::Resource;
use kube::runtime::reflector::{Lookup, ObjectRef};
use kube::runtime::watcher;

use crate::api::{Marked, is_paused, reconcile_request};

/// What the watch has seen of each object: its key's hash to its wake hash.
pub struct WakeFilter<K: Lookup> {
    seen: HashMap<u64, u64>,
    /// The keys of a listing under way (a watch starting or starting again).
    listing: Option<HashSet<u64>>,
    /// Whether a listing has completed: the controller waits for the first one itself.
    listed_once: bool,
    /// The objects a listing after the first brought that should be reconciled once it is
    /// complete: until then the cache does not hold them, and a reconcile would not find
    /// them.
    deferred: Vec<ObjectRef<K>>,
}

impl<K: Lookup> Default for WakeFilter<K> {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            listing: None,
            listed_once: false,
            deferred: Vec::new(),
        }
    }
}

impl<K> WakeFilter<K>
where
    K: Marked + Lookup<DynamicType = ()>,
{
    /// The object `event` brings, when it should be reconciled now.
    pub fn pass(&mut self, event: watcher::Event<K>) -> Option<K> {
        match event {
            watcher::Event::Apply(object) => self.changed(object),
            watcher::Event::InitApply(object) => {
                if let Some(listing) = &mut self.listing {
                    listing.insert(key_of(&object));
                }
                let object = self.changed(object)?;
                if !self.listed_once {
                    return Some(object);
                }
                self.deferred.push(ObjectRef::from_obj(&object));
                None
            }
            watcher::Event::Delete(object) => {
                self.seen.remove(&key_of(&object));
                None
            }
            watcher::Event::Init => {
                self.listing = Some(HashSet::new());
                None
            }
            watcher::Event::InitDone => {
                // Objects missing from a fresh listing went while the watch was away.
                if let Some(listed) = self.listing.take() {
                    self.seen.retain(|key, _| listed.contains(key));
                }
                self.listed_once = true;
                None
            }
        }
    }

    /// The objects a completed listing brought that are to be reconciled now that the
    /// cache holds them (none while a listing is under way).
    pub fn take_listed(&mut self) -> Vec<ObjectRef<K>> {
        if self.listing.is_some() {
            return Vec::new();
        }
        std::mem::take(&mut self.deferred)
    }

    /// How many objects it remembers.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn changed(&mut self, object: K) -> Option<K> {
        let wake = wake_hash(&object);
        (self.seen.insert(key_of(&object), wake) != Some(wake)).then_some(object)
    }
}

/// The object's namespace and name, hashed: 64 bits make a collision between two objects
/// of one watch unlikely beyond concern (about 1 in 10^9 at 100,000 objects), and one
/// would only skip a wake, or a scan's look, that the next requeue makes up for.
pub fn key_of<K: Resource>(object: &K) -> u64 {
    let meta = object.meta();
    key_of_parts(meta.namespace.as_deref(), meta.name.as_deref())
}

/// [`key_of`] an object named `name` in `namespace`.
pub fn key_of_parts(namespace: Option<&str>, name: Option<&str>) -> u64 {
    let mut hasher = DefaultHasher::new();
    namespace.hash(&mut hasher);
    name.hash(&mut hasher);
    hasher.finish()
}

/// The object's uid (one deleted and made again under its name is new), its spec
/// generation, whether deletion started, whether it is paused, and the reconcile request
/// (`kvs-operator.dev/reconcile-requested-at`) it carries.
fn wake_hash<K: Marked>(object: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    object.meta().uid.hash(&mut hasher);
    object.meta().generation.hash(&mut hasher);
    object.meta().deletion_timestamp.is_some().hash(&mut hasher);
    is_paused(object).hash(&mut hasher);
    reconcile_request(object).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{PAUSED_ANNOTATION, VideoStream, VideoStreamSpec};
    use kube::api::ObjectMeta;

    fn object(name: &str, generation: i64, resource_version: &str) -> VideoStream {
        let mut object = VideoStream::new(name, VideoStreamSpec::default());
        object.metadata = ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            generation: Some(generation),
            resource_version: Some(resource_version.into()),
            ..ObjectMeta::default()
        };
        object
    }

    fn passes(filter: &mut WakeFilter<VideoStream>, event: watcher::Event<VideoStream>) -> bool {
        filter.pass(event).is_some()
    }

    #[test]
    fn only_spec_changes_wake_and_a_status_write_does_not() {
        let mut filter = WakeFilter::default();
        assert!(passes(
            &mut filter,
            watcher::Event::Apply(object("a", 1, "1"))
        ));
        assert!(!passes(
            &mut filter,
            watcher::Event::Apply(object("a", 1, "2"))
        ));
        assert!(passes(
            &mut filter,
            watcher::Event::Apply(object("a", 2, "3"))
        ));
        assert!(passes(
            &mut filter,
            watcher::Event::Apply(object("b", 2, "4"))
        ));
    }

    #[test]
    fn an_object_that_leaves_the_watch_is_forgotten() {
        let mut filter = WakeFilter::default();
        filter.pass(watcher::Event::Apply(object("a", 1, "1")));
        filter.pass(watcher::Event::Delete(object("a", 1, "2")));
        assert!(filter.is_empty());
        assert!(
            passes(&mut filter, watcher::Event::Apply(object("a", 1, "3"))),
            "back (created again, or its shard came back): woken"
        );
    }

    #[test]
    fn an_object_made_again_under_its_name_wakes_even_if_its_delete_was_missed() {
        let mut filter = WakeFilter::default();
        let mut first = object("a", 1, "1");
        first.metadata.uid = Some("u1".into());
        let mut again = object("a", 1, "9");
        again.metadata.uid = Some("u2".into());
        assert!(passes(&mut filter, watcher::Event::Apply(first)));
        assert!(passes(&mut filter, watcher::Event::Apply(again)));
    }

    #[test]
    fn a_fresh_listing_forgets_what_it_no_longer_lists() {
        let mut filter = WakeFilter::default();
        filter.pass(watcher::Event::Apply(object("a", 1, "1")));
        filter.pass(watcher::Event::Apply(object("b", 1, "2")));
        filter.pass(watcher::Event::<VideoStream>::Init);
        assert!(
            !passes(&mut filter, watcher::Event::InitApply(object("a", 1, "1"))),
            "listed again unchanged: not woken"
        );
        filter.pass(watcher::Event::<VideoStream>::InitDone);
        assert_eq!(filter.len(), 1, "b went while the watch was away");
    }

    #[test]
    fn what_a_later_listing_brings_is_woken_once_it_is_complete() {
        let mut filter = WakeFilter::default();
        filter.pass(watcher::Event::<VideoStream>::Init);
        assert!(
            passes(&mut filter, watcher::Event::InitApply(object("a", 1, "1"))),
            "the first listing: the controller waits for the cache itself"
        );
        filter.pass(watcher::Event::<VideoStream>::InitDone);
        // The watch starts again (a shard taken): the cache swaps at the end.
        filter.pass(watcher::Event::<VideoStream>::Init);
        assert!(!passes(
            &mut filter,
            watcher::Event::InitApply(object("a", 1, "1"))
        ));
        assert!(!passes(
            &mut filter,
            watcher::Event::InitApply(object("b", 1, "2"))
        ));
        assert!(
            filter.take_listed().is_empty(),
            "not before the listing is complete"
        );
        filter.pass(watcher::Event::<VideoStream>::InitDone);
        let listed: Vec<String> = filter.take_listed().into_iter().map(|r| r.name).collect();
        assert_eq!(listed, ["b"], "only what is new to the watch");
        assert!(filter.take_listed().is_empty());
    }

    #[test]
    fn pausing_an_object_the_cache_slimmed_wakes_it() {
        let mut filter = WakeFilter::default();
        let slimmed = |resource_version: &str, paused: bool| {
            let mut object = object("a", 1, resource_version);
            if paused {
                object.metadata.annotations =
                    Some([(PAUSED_ANNOTATION.to_string(), "true".to_string())].into());
            }
            object.slim_marks();
            object
        };
        assert!(passes(
            &mut filter,
            watcher::Event::Apply(slimmed("1", false))
        ));
        assert!(!passes(
            &mut filter,
            watcher::Event::Apply(slimmed("2", false))
        ));
        assert!(
            passes(&mut filter, watcher::Event::Apply(slimmed("3", true))),
            "paused: woken"
        );
        assert!(
            passes(&mut filter, watcher::Event::Apply(slimmed("4", false))),
            "unpaused: woken"
        );
    }
}
