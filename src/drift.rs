//! Finding streams changed outside Kubernetes with one ListStreams pass.
//!
//! ListStreams returns up to 10,000 streams per call, each with its version, status and
//! retention, so one pass observes every stream for the price of N/10,000 calls. Only the
//! VideoStreams whose stream moved on since their last reconcile are woken up; tags (not in
//! ListStreams) are checked by the slower per-resource resync.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tracing::{debug, warn};

use crate::accounts::{AccountKey, Identity};
use crate::api::VideoStream;
use crate::controller::Context;
use crate::kvs::Stream;
use crate::tenancy;

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

/// Every `interval`, lists all streams of `identity`'s account and region and queues the
/// drifted VideoStreams of that account for reconcile. One scan runs per account, however
/// many namespaces and bindings act in it.
pub async fn scan_forever(ctx: Arc<Context>, identity: Arc<Identity>, interval: Duration) {
    let account = identity.account.key.clone();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let resources: Vec<Arc<VideoStream>> = ctx
            .known_resources()
            .into_iter()
            .filter(|vs| in_account(vs, &account))
            .collect();
        if resources.is_empty() {
            continue;
        }
        let streams = match identity.kvs.list_streams(None).await {
            Ok(streams) => streams,
            Err(error) => {
                warn!(%account, %error, "drift scan: ListStreams failed");
                continue;
            }
        };
        for object in drifted(&streams, &resources) {
            debug!(namespace = object.namespace.as_deref(), name = %object.name, "drift detected");
            ctx.trigger(object).await;
        }
    }
}

/// Whether the stream `vs` recorded lives in `account`.
fn in_account(vs: &VideoStream, account: &AccountKey) -> bool {
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
