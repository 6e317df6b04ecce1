//! Which objects a replica watches: those of the shards it holds, not the whole fleet.
//!
//! DESIGN. Every VideoStream and SignalingChannel carries the label
//! `kvs-operator.dev/shard`, valued with the shard it acts in (its AWS account and region,
//! see [`super::shards`]). The label is only a routing hint for the watches: where an
//! object acts, and who may act for it, is decided from tenancy as before, never from the
//! label, so a tenant who edits it changes nothing but which replica sees the object first.
//!
//! - Each replica watches with the selector `kvs-operator.dev/shard notin (shards held by
//!   others)`. A `notin` selector also matches objects without the label, so a new object
//!   is seen by every replica at once; the holder of its shard labels it in the same write
//!   that adds the finalizer (no extra write), and it leaves the other replicas' caches.
//! - An object labelled with a shard it no longer acts in (its binding changed, or a
//!   person edited the label) is relabelled by the holder of the shard its label names,
//!   the one replica that sees it; the label is then the shard it acts in.
//! - When the shards held change, the watch starts again with the new selector; the
//!   reflector swaps in the new listing once it is complete. An object that enters a
//!   replica's watch (its shard just taken, or its label just pointed there) is reconciled
//!   there: the wake filter forgets an object when the watch stops seeing it, so it comes
//!   back as new, and wakes what a listing brings once the cache holds it (see
//!   [`super::wake_filter`]).
//! - A shard that no replica holds (handed over) is left out by all of them until its new
//!   holder lists it; a shard no binding names any more is left out by none.
//!
//! Without leader election one replica holds every shard: it watches everything, and still
//! labels what it serves, so that scaling out later needs no relabelling.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::kind::Kind;

pub use crate::api::SHARD_LABEL;

/// The longest label value Kubernetes accepts.
const MAX_LABEL_VALUE: usize = 63;

/// The value of [`SHARD_LABEL`] for `shard`: the shard's name when it is a valid label
/// value (account and region always are), else a stable hash of it.
pub fn label_value(shard: &str) -> String {
    let valid = !shard.is_empty()
        && shard.len() <= MAX_LABEL_VALUE
        && shard
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && shard
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && shard
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        return shard.to_string();
    }
    // FNV-1a: stable across processes and releases.
    let hash = shard.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("shard-{hash:016x}")
}

/// What a replica's watches select: every object but those of shards others hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The label selector (`None`: every object).
    pub selector: Option<String>,
}

impl Selection {
    /// The selection of a replica holding `held` among the shards that exist (`all`).
    pub fn of(all: &BTreeSet<String>, held: &BTreeSet<String>) -> Self {
        let others: BTreeSet<String> = all
            .iter()
            .filter(|shard| !held.contains(*shard))
            .map(|shard| label_value(shard))
            .collect();
        let selector = (!others.is_empty()).then(|| {
            let values: Vec<&str> = others.iter().map(String::as_str).collect();
            format!("{SHARD_LABEL} notin ({})", values.join(","))
        });
        Self { selector }
    }
}

/// The watch events of `api`'s objects under the current selection, started again each
/// time the selection changes.
pub fn watch<K: Kind>(
    api: Api<K>,
    selection: tokio::sync::watch::Receiver<Arc<Selection>>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send {
    futures::stream::unfold(selection, move |mut selection| {
        let api = api.clone();
        async move {
            // The selection's sender lives as long as the engine: gone means shutting down.
            selection.has_changed().ok()?;
            let current = selection.borrow_and_update().clone();
            let mut config = watcher::Config::default().any_semantic();
            if let Some(selector) = &current.selector {
                config = config.labels(selector);
            }
            let mut next = selection.clone();
            let events = watcher(api, config)
                .default_backoff()
                .take_until(async move {
                    let _ = next.changed().await;
                })
                .boxed();
            Some((events, selection))
        }
    })
    .flatten()
}

/// Whether an object labelled `label` (`None`: unlabelled) that acts in `shard` needs
/// relabelling by a replica for which `holds` says which shards it holds: by the holder
/// of the shard it acts in, or by the holder of the shard its label names.
pub fn relabel_by(
    label: Option<&str>,
    shard: &str,
    holds: impl Fn(&str) -> bool,
    held: &BTreeSet<String>,
) -> bool {
    let wanted = label_value(shard);
    if label == Some(wanted.as_str()) {
        return false;
    }
    holds(shard) || label.is_some_and(|label| held.iter().any(|s| label_value(s) == label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_replica_leaves_out_only_the_shards_others_hold() {
        let all = set(&[
            "111111111111-eu-west-1",
            "self-us-east-1",
            "222222222222-us-east-1",
        ]);
        let selection = Selection::of(&all, &set(&["self-us-east-1"]));
        assert_eq!(
            selection.selector.as_deref(),
            Some("kvs-operator.dev/shard notin (111111111111-eu-west-1,222222222222-us-east-1)")
        );
        let everything = Selection::of(&all, &all);
        assert_eq!(
            everything.selector, None,
            "holding every shard: no selector"
        );
    }

    #[test]
    fn shards_that_are_not_label_values_are_hashed_stably() {
        assert_eq!(
            label_value("111111111111-eu-west-1"),
            "111111111111-eu-west-1"
        );
        let odd = label_value("acct:with/odd-us-east-1");
        assert!(
            odd.starts_with("shard-") && odd.len() <= MAX_LABEL_VALUE,
            "{odd}"
        );
        assert_eq!(odd, label_value("acct:with/odd-us-east-1"));
        assert_ne!(odd, label_value("acct:with/odd-us-east-2"));
        assert!(label_value(&"a".repeat(64)).starts_with("shard-"));
    }

    #[test]
    fn only_the_holder_of_the_shard_or_of_the_label_relabels() {
        let held = set(&["a-r"]);
        let holds = |shard: &str| held.contains(shard);
        assert!(relabel_by(None, "a-r", holds, &held), "unlabelled, ours");
        assert!(
            !relabel_by(None, "b-r", holds, &held),
            "unlabelled, another's"
        );
        assert!(
            !relabel_by(Some("a-r"), "a-r", holds, &held),
            "right already"
        );
        assert!(
            relabel_by(Some("a-r"), "b-r", holds, &held),
            "moved away from ours"
        );
        assert!(
            relabel_by(Some("junk"), "a-r", holds, &held),
            "edited, ours"
        );
        assert!(
            !relabel_by(Some("junk"), "b-r", holds, &held),
            "edited, another's"
        );
    }
}
