//! The few labels and annotations the engine reads, as the watch cache holds them.
//!
//! The watch cache keeps every object in memory. Its labels and annotations are two
//! `BTreeMap`s, each a node of about 550 bytes however few entries it holds (640 in the
//! allocator's size class), and every object the operator serves carries at least its shard
//! label and its account annotation. The cache's copy keeps only what the engine reads, each
//! named by a [`Mark`], in one small slice, and drops both maps: about 1.2 KB of map nodes
//! less an object, 1.6 KB measured at 10,000 with the keys and values (docs/benchmarks.md).
//! Only the cache's copy is slimmed: the engine writes labels and annotations as merge
//! patches of the keys it names, so nothing dropped here is ever written back.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

use super::{ACCOUNT_ANNOTATION, PAUSED_ANNOTATION, RECONCILE_REQUEST_ANNOTATION, SHARD_LABEL};

/// A label or annotation the engine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// The label naming the shard whose replica serves the object ([`SHARD_LABEL`]).
    Shard,
    /// The pause annotation ([`PAUSED_ANNOTATION`]).
    Paused,
    /// Where a create may already have gone ([`ACCOUNT_ANNOTATION`]).
    Account,
    /// The reconcile request ([`RECONCILE_REQUEST_ANNOTATION`]).
    ReconcileRequest,
}

impl Mark {
    const ALL: [Mark; 4] = [
        Mark::Shard,
        Mark::Paused,
        Mark::Account,
        Mark::ReconcileRequest,
    ];

    /// The label's or annotation's key.
    fn key(self) -> &'static str {
        match self {
            Mark::Shard => SHARD_LABEL,
            Mark::Paused => PAUSED_ANNOTATION,
            Mark::Account => ACCOUNT_ANNOTATION,
            Mark::ReconcileRequest => RECONCILE_REQUEST_ANNOTATION,
        }
    }

    fn is_label(self) -> bool {
        self == Mark::Shard
    }

    /// Its value in `metadata`.
    fn read(self, metadata: &ObjectMeta) -> Option<&str> {
        let map = match self.is_label() {
            true => metadata.labels.as_ref(),
            false => metadata.annotations.as_ref(),
        };
        map?.get(self.key()).map(String::as_str)
    }
}

/// The marks of an object whose labels and annotations the watch cache dropped, in
/// [`Mark::ALL`]'s order, each once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CachedMarks(Box<[(Mark, String)]>);

impl CachedMarks {
    /// Moves the marks out of `metadata`, and drops its labels and annotations.
    fn take(metadata: &mut ObjectMeta) -> Self {
        let mut labels = metadata.labels.take().unwrap_or_default();
        let mut annotations = metadata.annotations.take().unwrap_or_default();
        let mut take = |mark: Mark| {
            let map: &mut BTreeMap<String, String> = match mark.is_label() {
                true => &mut labels,
                false => &mut annotations,
            };
            Some((mark, map.remove(mark.key())?))
        };
        Self(Mark::ALL.into_iter().filter_map(&mut take).collect())
    }

    fn get(&self, mark: Mark) -> Option<&str> {
        self.0
            .iter()
            .find(|(held, _)| *held == mark)
            .map(|(_, value)| value.as_str())
    }
}

/// An object whose marks may be held apart from its metadata (the cache's copy).
pub trait Marked: Resource {
    /// The marks the watch cache moved out of the metadata; `None` for an object as the
    /// API server sent it.
    fn cached_marks(&self) -> Option<&CachedMarks>;

    fn set_cached_marks(&mut self, marks: CachedMarks);

    /// The value of `mark`, wherever this copy holds it.
    fn mark(&self, mark: Mark) -> Option<&str> {
        match self.cached_marks() {
            Some(cached) => cached.get(mark),
            None => mark.read(self.meta()),
        }
    }

    /// Keeps the marks apart and drops the labels and annotations (once: a second call
    /// finds the marks already apart and changes nothing).
    fn slim_marks(&mut self) {
        if self.cached_marks().is_none() {
            let marks = CachedMarks::take(self.meta_mut());
            self.set_cached_marks(marks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStream, VideoStreamSpec};

    fn pairs(entries: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_slimmed_object_reads_every_mark_as_before_and_holds_no_maps() {
        let mut object = VideoStream::new("cam", VideoStreamSpec::default());
        object.metadata.labels = pairs(&[(SHARD_LABEL, "own"), ("team", "a")]);
        object.metadata.annotations = pairs(&[
            (PAUSED_ANNOTATION, "true"),
            (ACCOUNT_ANNOTATION, "111122223333/eu-west-1"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            // An annotation under the shard label's key is not the label.
            (SHARD_LABEL, "elsewhere"),
        ]);
        let before: Vec<_> = Mark::ALL.map(|m| object.mark(m).map(str::to_owned)).into();

        object.slim_marks();

        let after: Vec<_> = Mark::ALL.map(|m| object.mark(m).map(str::to_owned)).into();
        assert_eq!(after, before);
        assert_eq!(object.mark(Mark::Shard), Some("own"));
        assert_eq!(object.mark(Mark::ReconcileRequest), None);
        assert_eq!(object.metadata.labels, None);
        assert_eq!(object.metadata.annotations, None);

        // Slimming again loses nothing.
        object.slim_marks();
        assert_eq!(object.mark(Mark::Account), Some("111122223333/eu-west-1"));
    }

    #[test]
    fn an_object_as_the_api_server_sent_it_is_read_from_its_metadata() {
        let mut object = VideoStream::new("cam", VideoStreamSpec::default());
        object.metadata.annotations = pairs(&[(RECONCILE_REQUEST_ANNOTATION, "now")]);
        assert_eq!(object.mark(Mark::ReconcileRequest), Some("now"));
        assert_eq!(object.mark(Mark::Paused), None);
    }
}
