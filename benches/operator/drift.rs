//! Changes made outside Kubernetes (as someone in the console would), and how long the
//! operator takes to put each right.

use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation;
use kube::api::Api;
use kvs_emulator::{Running, StreamSnapshot};
use kvs_operator::api::VideoStream;

use crate::BoxError;
use crate::fleet::camera;

/// One kind of drift on its own stream, and when it was put right.
#[derive(Debug, Clone)]
pub struct Corrected {
    pub kind: &'static str,
    pub stream: String,
    pub after: Option<Duration>,
}

/// Where the drifted streams live: the first namespace, in its account.
pub struct Target<'a> {
    pub emulator: &'a Running,
    pub sdk: aws_sdk_kinesisvideo::Client,
    pub account: String,
    pub region: String,
    pub api: Api<VideoStream>,
}

impl Target<'_> {
    fn stream(&self, name: &str) -> Option<StreamSnapshot> {
        self.emulator.stream_in(&self.account, &self.region, name)
    }

    fn existing(&self, name: &str) -> Result<StreamSnapshot, BoxError> {
        self.stream(name)
            .ok_or_else(|| format!("stream {name} is not in account {}", self.account).into())
    }
}

/// The drifts ListStreams shows (version, status, retention, media type, device name),
/// each made on its own stream at once; waits up to `within` for all to be put right.
pub async fn listed_drifts(
    target: &Target<'_>,
    within: Duration,
) -> Result<Vec<Corrected>, BoxError> {
    let sdk = &target.sdk;
    let names: Vec<String> = (0..5).map(camera).collect();

    // Retention doubled.
    let s = target.existing(&names[0])?;
    sdk.update_data_retention()
        .stream_arn(&s.stream_arn)
        .current_version(&s.version)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(24)
        .send()
        .await?;
    let retention_at = Instant::now();
    // Media type changed.
    let s = target.existing(&names[1])?;
    sdk.update_stream()
        .stream_arn(&s.stream_arn)
        .current_version(&s.version)
        .media_type("video/h265")
        .send()
        .await?;
    let media_at = Instant::now();
    // Device name changed.
    let s = target.existing(&names[2])?;
    sdk.update_stream()
        .stream_arn(&s.stream_arn)
        .current_version(&s.version)
        .device_name("moved-in-the-console")
        .send()
        .await?;
    let device_at = Instant::now();
    // Only the version moved on (an update that changed nothing else).
    let s = target.existing(&names[3])?;
    sdk.update_stream()
        .stream_arn(&s.stream_arn)
        .current_version(&s.version)
        .device_name("cam-3")
        .media_type("video/h264")
        .send()
        .await?;
    let version_at = Instant::now();
    // The stream deleted (its status goes DELETING, then it is gone).
    let deleted = target.existing(&names[4])?;
    sdk.delete_stream()
        .stream_arn(&deleted.stream_arn)
        .current_version(&deleted.version)
        .send()
        .await?;
    let status_at = Instant::now();

    let mut results = vec![
        Corrected {
            kind: "retention",
            stream: names[0].clone(),
            after: None,
        },
        Corrected {
            kind: "media type",
            stream: names[1].clone(),
            after: None,
        },
        Corrected {
            kind: "device name",
            stream: names[2].clone(),
            after: None,
        },
        Corrected {
            kind: "version",
            stream: names[3].clone(),
            after: None,
        },
        Corrected {
            kind: "status (deleted)",
            stream: names[4].clone(),
            after: None,
        },
    ];
    let started = Instant::now();
    while started.elapsed() < within && results.iter().any(|r| r.after.is_none()) {
        for result in results.iter_mut().filter(|r| r.after.is_none()) {
            let now = target.stream(&result.stream);
            let active = now.as_ref().is_some_and(|s| s.status.as_str() == "ACTIVE");
            let (done, since) = match result.kind {
                "retention" => (
                    active
                        && now
                            .as_ref()
                            .is_some_and(|s| s.data_retention_in_hours == 24),
                    retention_at,
                ),
                "media type" => (
                    active
                        && now
                            .as_ref()
                            .is_some_and(|s| s.media_type.as_deref() == Some("video/h264")),
                    media_at,
                ),
                "device name" => (
                    active
                        && now
                            .as_ref()
                            .is_some_and(|s| s.device_name.as_deref() == Some("cam-2")),
                    device_at,
                ),
                "version" => {
                    let recorded = target
                        .api
                        .get(&result.stream)
                        .await?
                        .status
                        .and_then(|s| s.version);
                    let live = now.map(|s| s.version);
                    (live.is_some() && recorded == live, version_at)
                }
                _ => (
                    active
                        && now
                            .as_ref()
                            .is_some_and(|s| s.stream_arn != deleted.stream_arn),
                    status_at,
                ),
            };
            if done {
                result.after = Some(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(results)
}

/// Tags changed and added outside Kubernetes on one stream; waits up to `within` until the
/// tag audit has put them back.
pub async fn tag_drift(target: &Target<'_>, within: Duration) -> Result<Corrected, BoxError> {
    let name = camera(5);
    let stream = target.existing(&name)?;
    target
        .sdk
        .tag_stream()
        .stream_arn(&stream.stream_arn)
        .tags("bench", "changed-in-the-console")
        .tags("added-by", "console")
        .send()
        .await?;
    let changed = Instant::now();
    let mut result = Corrected {
        kind: "tags",
        stream: name.clone(),
        after: None,
    };
    while changed.elapsed() < within {
        // The spec's key is set back; the key the console added stays (`tagPolicy:
        // Shared`, the default, removes only keys the operator applied itself).
        let restored = target
            .stream(&name)
            .is_some_and(|s| s.tags.get("bench").map(String::as_str) == Some("true"));
        if restored {
            result.after = Some(changed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(result)
}
