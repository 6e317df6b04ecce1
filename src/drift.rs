//! Finding streams changed outside Kubernetes with one ListStreams pass.
//!
//! ListStreams returns up to 10,000 streams per call, each with its version, status and
//! retention, so one pass observes every stream for the price of N/10,000 calls. Only the
//! VideoStreams whose stream moved on since their last reconcile are woken up; tags (not in
//! ListStreams) are checked by the slower per-resource resync.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc::Sender;
use kube::runtime::reflector::{ObjectRef, Store};
use tracing::{debug, warn};

use crate::api::VideoStream;
use crate::kvs::{KinesisVideo, Stream};

/// The VideoStreams whose last recorded status no longer matches what KVS lists.
///
/// A VideoStream never reconciled (no status) or being deleted is skipped: it is already
/// on its way through the queue.
pub fn drifted(streams: &[Stream], resources: &[Arc<VideoStream>]) -> Vec<ObjectRef<VideoStream>> {
    let by_name: HashMap<&str, &Stream> = streams.iter().map(|s| (s.name.as_str(), s)).collect();
    resources
        .iter()
        .filter(|vs| vs.metadata.deletion_timestamp.is_none())
        .filter(|vs| {
            let Some(status) = &vs.status else {
                return false;
            };
            match by_name.get(vs.stream_name().as_str()) {
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

/// Every `interval`, lists all streams and queues the drifted VideoStreams for reconcile.
pub async fn scan_forever(
    kvs: Arc<dyn KinesisVideo>,
    store: Store<VideoStream>,
    interval: Duration,
    mut trigger: Sender<ObjectRef<VideoStream>>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let resources = store.state();
        if resources.is_empty() {
            continue;
        }
        let streams = match kvs.list_streams(None).await {
            Ok(streams) => streams,
            Err(error) => {
                warn!(%error, "drift scan: ListStreams failed");
                continue;
            }
        };
        for object in drifted(&streams, &resources) {
            debug!(namespace = object.namespace.as_deref(), name = %object.name, "drift detected");
            if trigger.send(object).await.is_err() {
                return; // The controller has stopped.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStreamSpec, VideoStreamStatus};
    use crate::kvs::StreamStatus;

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
        let streams = [
            stream("same", "v1", 24),
            stream("new-version", "v2", 24),
            stream("retention", "v1", 48),
            stream("unreconciled", "v1", 1),
            stream("someone-elses", "v9", 1),
        ];
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
