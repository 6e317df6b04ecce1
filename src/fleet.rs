//! `kvs-operator status` (also `kubectl kvs status`): the fleet on one screen, the objects
//! of both kinds counted by namespace, kind and what their conditions say — `Ready` and
//! its reason, or, when the last reconcile failed, `Synced`'s reason (what to act on).

use std::collections::BTreeMap;
use std::fmt::Write;

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use crate::Result;
use crate::api::{SignalingChannel, VideoStream};
use crate::engine::conditions::{READY, SYNCED, find};
use crate::engine::kind::{Kind, KindStatus};

/// One line: how many objects of a kind in a namespace read the same.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Row {
    pub namespace: String,
    pub kind: String,
    /// `True`, `False`, or `-` before the first reconcile.
    pub ready: String,
    pub reason: String,
    pub count: usize,
}

/// Where an object stands: (Ready's status, the reason to show).
pub fn standing<K: Kind>(object: &K) -> (String, String) {
    let Some(status) = object.status() else {
        return ("-".into(), "NotReconciled".into());
    };
    let conditions = status.conditions();
    let ready = find(conditions, READY);
    let failed = find(conditions, SYNCED).filter(|c| c.status == "False");
    let reason = failed
        .or(ready)
        .map_or_else(|| "NotReconciled".to_string(), |c| c.reason.clone());
    let ready = ready.map_or_else(|| "-".to_string(), |c| c.status.clone());
    (ready, reason)
}

/// Counts `objects` into `rows`.
fn count<K: Kind>(objects: &[K], rows: &mut BTreeMap<(String, String, String, String), usize>) {
    for object in objects {
        let (ready, reason) = standing(object);
        let key = (
            object.namespace().unwrap_or_default(),
            K::kind(&()).into_owned(),
            ready,
            reason,
        );
        *rows.entry(key).or_default() += 1;
    }
}

/// The fleet in `namespace` (all namespaces for `None`).
pub async fn rows(client: &Client, namespace: Option<&str>) -> Result<Vec<Row>> {
    async fn list<K: Kind>(client: &Client, namespace: Option<&str>) -> Result<Vec<K>> {
        let api: Api<K> = match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        Ok(api.list(&ListParams::default()).await?.items)
    }
    let mut counts = BTreeMap::new();
    count(&list::<VideoStream>(client, namespace).await?, &mut counts);
    count(
        &list::<SignalingChannel>(client, namespace).await?,
        &mut counts,
    );
    Ok(counts
        .into_iter()
        .map(|((namespace, kind, ready, reason), count)| Row {
            namespace,
            kind,
            ready,
            reason,
            count,
        })
        .collect())
}

/// The table, and a total line.
pub fn text(rows: &[Row]) -> String {
    let mut out = String::new();
    let width = |f: fn(&Row) -> usize, header: &str| {
        rows.iter().map(f).max().unwrap_or(0).max(header.len())
    };
    let ns = width(|r| r.namespace.len(), "NAMESPACE");
    let kind = width(|r| r.kind.len(), "KIND");
    let reason = width(|r| r.reason.len(), "REASON");
    let _ = writeln!(
        out,
        "{:<ns$}  {:<kind$}  {:<5}  {:<reason$}  COUNT",
        "NAMESPACE", "KIND", "READY", "REASON"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<ns$}  {:<kind$}  {:<5}  {:<reason$}  {}",
            r.namespace, r.kind, r.ready, r.reason, r.count
        );
    }
    let total: usize = rows.iter().map(|r| r.count).sum();
    let ready: usize = rows
        .iter()
        .filter(|r| r.ready == "True")
        .map(|r| r.count)
        .sum();
    let _ = writeln!(out, "{total} objects: {ready} ready, {} not", total - ready);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStreamSpec, VideoStreamStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    fn condition(type_: &str, status: &str, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
        }
    }

    fn stream(namespace: &str, conditions: Option<Vec<Condition>>) -> VideoStream {
        let mut vs = VideoStream::new("x", VideoStreamSpec::default());
        vs.metadata.namespace = Some(namespace.into());
        vs.status = conditions.map(|conditions| VideoStreamStatus {
            conditions,
            ..VideoStreamStatus::default()
        });
        vs
    }

    #[test]
    fn objects_are_counted_by_namespace_kind_and_the_reason_to_act_on() {
        let ready = || {
            Some(vec![
                condition(READY, "True", "Available"),
                condition(SYNCED, "True", "ReconcileSuccess"),
            ])
        };
        let conflict = Some(vec![
            condition(READY, "True", "Available"),
            condition(SYNCED, "False", "Throttled"),
        ]);
        let objects = vec![
            stream("cameras", ready()),
            stream("cameras", ready()),
            stream("cameras", conflict),
            stream("lobby", None),
        ];
        let mut counts = BTreeMap::new();
        count(&objects, &mut counts);
        let rows: Vec<(String, String, String, usize)> = counts
            .into_iter()
            .map(|((ns, _, ready, reason), n)| (ns, ready, reason, n))
            .collect();
        assert_eq!(
            rows,
            [
                ("cameras".into(), "True".into(), "Available".into(), 2),
                ("cameras".into(), "True".into(), "Throttled".into(), 1),
                ("lobby".into(), "-".into(), "NotReconciled".into(), 1),
            ]
        );
    }

    #[test]
    fn the_table_ends_with_the_total() {
        let rows = [Row {
            namespace: "cameras".into(),
            kind: "VideoStream".into(),
            ready: "True".into(),
            reason: "Available".into(),
            count: 3,
        }];
        let table = text(&rows);
        assert!(
            table.starts_with("NAMESPACE  KIND         READY  REASON     COUNT\n"),
            "{table}"
        );
        assert!(
            table.contains("cameras    VideoStream  True   Available  3\n"),
            "{table}"
        );
        assert!(table.ends_with("3 objects: 3 ready, 0 not\n"), "{table}");
    }
}
