//! Finding streams changed outside Kubernetes with one ListStreams pass per account.
//!
//! ListStreams returns up to 10,000 streams per call, each with its version, status and
//! retention, so one pass observes every stream of an account for the price of N/10,000
//! calls. The pass is kept as the account's [`Snapshot`]: a VideoStream whose stream it
//! shows unchanged since the VideoStream was last in sync needs no call of its own (that is
//! how the operator is almost free at rest, and after a restart). Only the VideoStreams
//! whose stream moved on are woken up — including those waiting for KVS to finish creating,
//! updating or deleting their stream, so that waiting costs one ListStreams per account
//! rather than a DescribeStream per stream. Tags, which ListStreams does not show, are
//! audited separately (see the controller).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::accounts::{AccountKey, Identity};
use crate::api::VideoStream;
use crate::controller::Context;
use crate::kvs::{Stream, StreamStatus};
use crate::tenancy;

/// One ListStreams pass over an account.
#[derive(Debug)]
pub struct Snapshot {
    pub streams: HashMap<String, Stream>,
    pub taken: Instant,
}

/// An account's scans: the latest snapshot, and a way to ask for the next one sooner.
#[derive(Debug)]
pub struct Scans {
    latest: watch::Sender<Option<Arc<Snapshot>>>,
    hurry: Notify,
}

impl Default for Scans {
    fn default() -> Self {
        Self {
            latest: watch::channel(None).0,
            hurry: Notify::new(),
        }
    }
}

impl Scans {
    /// The latest pass, if any.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.borrow().clone()
    }

    /// The latest pass, waiting up to `within` for the first one.
    pub async fn first(&self, within: Duration) -> Option<Arc<Snapshot>> {
        let mut receiver = self.latest.subscribe();
        let waited = tokio::time::timeout(within, receiver.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(snapshot)) => snapshot.clone(),
            _ => None,
        }
    }

    /// A stream of the account is changing: scan at the poll cadence until it settles.
    pub fn hurry(&self) {
        self.hurry.notify_one();
    }

    fn publish(&self, snapshot: Snapshot) {
        self.latest.send_replace(Some(Arc::new(snapshot)));
    }
}

/// The VideoStreams whose last recorded status no longer matches what KVS lists: their
/// stream changed outside Kubernetes, finished a transition, or disappeared.
///
/// A VideoStream never reconciled (no status) is skipped: it is already on its way
/// through the queue. One being deleted is woken only when its stream changed or went.
pub fn drifted(
    streams: &HashMap<String, Stream>,
    resources: &[Arc<VideoStream>],
) -> Vec<ObjectRef<VideoStream>> {
    resources
        .iter()
        .filter(|vs| {
            let Some(status) = &vs.status else {
                return false;
            };
            let listed = streams.get(&vs.stream_name());
            if vs.metadata.deletion_timestamp.is_some() {
                return status.stream_arn.is_some()
                    && listed
                        .is_none_or(|s| status.aws_status.as_deref() != Some(s.status.as_str()));
            }
            match listed {
                Some(stream) => {
                    status.version.as_deref() != Some(stream.version.as_str())
                        || status.aws_status.as_deref() != Some(stream.status.as_str())
                        || status.data_retention_in_hours != Some(stream.data_retention_in_hours)
                }
                // Gone while we thought it existed.
                None => status.stream_arn.is_some(),
            }
        })
        .map(|vs| ObjectRef::from(vs.as_ref()))
        .collect()
}

/// Whether a VideoStream's stream is in a transition KVS will finish by itself.
fn in_transition(vs: &VideoStream) -> bool {
    let status = vs
        .status
        .as_ref()
        .and_then(|s| s.aws_status.as_deref())
        .map(StreamStatus::parse);
    matches!(
        status,
        Some(StreamStatus::Creating | StreamStatus::Updating | StreamStatus::Deleting)
    )
}

/// Scans `identity`'s account and region for as long as the operator runs: every
/// `interval` at rest, every `poll` while one of its streams is in a transition (or a
/// reconcile asked to hurry). One scan runs per account, however many namespaces and
/// bindings act in it.
pub async fn scan_forever(
    ctx: Arc<Context>,
    identity: Arc<Identity>,
    interval: Duration,
    poll: Duration,
) {
    let account = identity.account.key.clone();
    let scans = &identity.account.scans;
    loop {
        let resources: Vec<Arc<VideoStream>> = ctx
            .known_resources()
            .into_iter()
            .filter(|vs| in_account(vs, &account))
            .collect();
        match identity.kvs.list_streams(None).await {
            Ok(streams) => {
                let taken = Instant::now();
                let streams: HashMap<String, Stream> =
                    streams.into_iter().map(|s| (s.name.clone(), s)).collect();
                for object in drifted(&streams, &resources) {
                    debug!(namespace = object.namespace.as_deref(), name = %object.name, "stream moved on");
                    ctx.trigger(object).await;
                }
                scans.publish(Snapshot { streams, taken });
            }
            Err(error) => warn!(%account, %error, "drift scan: ListStreams failed"),
        }
        let busy = resources.iter().any(|vs| in_transition(vs));
        let next = if busy { poll } else { interval };
        tokio::select! {
            () = tokio::time::sleep(next) => {}
            // Give the change that asked a moment to take effect at KVS.
            () = scans.hurry.notified() => tokio::time::sleep(poll).await,
        }
    }
}

/// Whether the stream `vs` recorded lives in `account`.
pub fn in_account(vs: &VideoStream, account: &AccountKey) -> bool {
    vs.status
        .as_ref()
        .and_then(|s| s.stream_arn.as_deref())
        .and_then(tenancy::arn_scope)
        .is_some_and(|(id, region)| id == account.account_id && region == account.region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStreamSpec, VideoStreamStatus};

    fn stream(name: &str, version: &str, retention: i32) -> Stream {
        Stream {
            name: name.into(),
            arn: format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1"),
            version: version.into(),
            status: StreamStatus::Active,
            device_name: None,
            media_type: None,
            kms_key_id: None,
            data_retention_in_hours: retention,
            creation_time: None,
        }
    }

    fn resource(name: &str, status: Option<(&str, i32)>) -> Arc<VideoStream> {
        let mut vs = VideoStream::new(name, VideoStreamSpec::default());
        vs.metadata.namespace = Some("ns".into());
        vs.status = status.map(|(version, retention)| VideoStreamStatus {
            stream_arn: Some(format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1")),
            version: Some(version.into()),
            aws_status: Some("ACTIVE".into()),
            data_retention_in_hours: Some(retention),
            ..Default::default()
        });
        Arc::new(vs)
    }

    #[test]
    fn only_streams_that_moved_on_wake_their_videostream() {
        let streams: HashMap<String, Stream> = [
            stream("same", "v1", 24),
            stream("new-version", "v2", 24),
            stream("retention", "v1", 48),
            stream("unreconciled", "v1", 1),
            stream("someone-elses", "v9", 1),
        ]
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
        let resources = [
            resource("same", Some(("v1", 24))),
            resource("new-version", Some(("v1", 24))),
            resource("retention", Some(("v1", 24))),
            resource("unreconciled", None),
            resource("deleted-outside", Some(("v1", 24))),
        ];
        let names: Vec<String> = drifted(&streams, &resources)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["new-version", "retention", "deleted-outside"]);
    }
}

#[cfg(test)]
mod transitions {
    use super::*;
    use crate::api::{VideoStreamSpec, VideoStreamStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn listed(name: &str, status: StreamStatus) -> (String, Stream) {
        let stream = Stream {
            name: name.into(),
            arn: format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1"),
            version: "v1".into(),
            status,
            device_name: None,
            media_type: None,
            kms_key_id: None,
            data_retention_in_hours: 24,
            creation_time: None,
        };
        (name.to_string(), stream)
    }

    fn waiting(name: &str, aws_status: &str, deleting: bool) -> Arc<VideoStream> {
        let mut vs = VideoStream::new(name, VideoStreamSpec::default());
        vs.metadata.namespace = Some("ns".into());
        if deleting {
            vs.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        vs.status = Some(VideoStreamStatus {
            stream_arn: Some(format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1")),
            version: Some("v1".into()),
            aws_status: Some(aws_status.into()),
            data_retention_in_hours: Some(24),
            ..Default::default()
        });
        Arc::new(vs)
    }

    #[test]
    fn a_finished_transition_wakes_the_videostream_that_waits_for_it() {
        let streams: HashMap<String, Stream> = [
            listed("created", StreamStatus::Active),
            listed("still-creating", StreamStatus::Creating),
            listed("still-deleting", StreamStatus::Deleting),
        ]
        .into_iter()
        .collect();
        let resources = [
            waiting("created", "CREATING", false),
            waiting("still-creating", "CREATING", false),
            waiting("still-deleting", "DELETING", true),
            waiting("deleted", "DELETING", true),
        ];
        let names: Vec<String> = drifted(&streams, &resources)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["created", "deleted"]);
        assert!(resources.iter().all(|vs| in_transition(vs)));
    }
}
