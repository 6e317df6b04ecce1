//! The streams of one account and region: what a stream keeps beyond the common record
//! (device, media type, KMS key, retention, storage tier, image generation and
//! notification configurations), its StreamInfo document, and the rules only streams have
//! (retention arithmetic, KMS key ARNs, data endpoints).

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::registry::{CreateLimits, Details, NewRecord, Record, Registry};
use crate::model::resource::Kind;
use crate::model::snapshot::{
    ImageGeneration, Notification, StorageTier, StreamSnapshot, to_epoch_seconds,
};
use crate::wire::error::ApiError;

/// Retention bounds of the service, in hours (0 = no persistence, 87600 = ten years).
pub const MAX_RETENTION_HOURS: u32 = 87_600;

/// What a stream keeps beyond the common record.
#[derive(Debug, Clone, Default)]
pub struct StreamDetails {
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    /// Always an ARN: the AWS-managed key when the create named none.
    pub kms_key_id: String,
    pub retention_hours: u32,
    pub storage_tier: StorageTier,
    pub image_generation: Option<ImageGeneration>,
    pub notification: Option<Notification>,
    /// Its StreamInfo as JSON, serialized once and kept until the stream changes, so
    /// that a ListStreams page of 10,000 copies text instead of serializing.
    info_json: OnceCell<Box<str>>,
}

impl Details for StreamDetails {
    const KIND: Kind = Kind::Stream;

    fn changed(&mut self) {
        self.info_json = OnceCell::new();
    }
}

/// One stream as the service stores it.
pub type Stream = Record<StreamDetails>;
/// The streams of one account and region.
pub type Streams = Registry<StreamDetails>;

/// A CreateStream request that passed validation.
#[derive(Debug, Clone, Default)]
pub struct NewStream {
    pub name: String,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub retention_hours: u32,
    pub tags: BTreeMap<String, String>,
    pub storage_tier: StorageTier,
}

impl Registry<StreamDetails> {
    /// CreateStream: the new stream is CREATING until `delay` has passed.
    pub fn create_stream(
        &mut self,
        new: NewStream,
        limits: CreateLimits,
        delay: Duration,
        now: Instant,
    ) -> Result<&Stream, ApiError> {
        let details = StreamDetails {
            device_name: new.device_name,
            media_type: new.media_type,
            kms_key_id: self.kms_key_arn(new.kms_key_id.as_deref()),
            retention_hours: new.retention_hours,
            storage_tier: new.storage_tier,
            ..StreamDetails::default()
        };
        let new = NewRecord {
            name: new.name,
            tags: new.tags,
            details,
        };
        self.create(new, limits, delay, now)
    }

    /// The KMS key ARN a stream reports: the AWS-managed key when none was given, an
    /// alias or key id expanded to an ARN, an ARN unchanged.
    fn kms_key_arn(&self, given: Option<&str>) -> String {
        let prefix = format!(
            "arn:{}:kms:{}:{}",
            self.partition(),
            self.region(),
            self.account_id()
        );
        match given {
            None => format!("{prefix}:alias/aws/kinesisvideo"),
            Some(arn) if arn.starts_with("arn:") => arn.to_owned(),
            Some(alias) if alias.starts_with("alias/") => format!("{prefix}:{alias}"),
            Some(key_id) => format!("{prefix}:key/{key_id}"),
        }
    }

    /// The data endpoint of `stream` for `api_name`, shaped like the service's: `s-` hosts
    /// for PUT_MEDIA and GET_MEDIA, `b-` hosts for the archived-media APIs.
    pub fn data_endpoint(&self, stream: &Stream, api_name: &str) -> String {
        let host_kind = match api_name {
            "PUT_MEDIA" | "GET_MEDIA" => "s",
            _ => "b",
        };
        self.endpoint("https", host_kind, stream)
    }

    /// One stream with its tags, if it exists (in any state).
    pub fn snapshot(&self, name: &str) -> Option<StreamSnapshot> {
        self.named(name).map(snapshot)
    }

    /// Every stream with its tags, sorted by name.
    pub fn snapshots(&self) -> Vec<StreamSnapshot> {
        self.records().map(snapshot).collect()
    }
}

fn snapshot(stream: &Stream) -> StreamSnapshot {
    let details = &stream.details;
    StreamSnapshot {
        stream_name: stream.name.clone(),
        stream_arn: stream.arn.clone(),
        device_name: details.device_name.clone(),
        media_type: details.media_type.clone(),
        kms_key_id: details.kms_key_id.clone(),
        version: stream.version.clone(),
        status: stream.status,
        creation_time: stream.creation_time,
        data_retention_in_hours: details.retention_hours,
        storage_tier: details.storage_tier,
        tags: stream.tags.clone(),
        image_generation: details.image_generation.clone(),
        notification: details.notification.clone(),
    }
}

/// The retention after an UpdateDataRetention: `hours` more or less than `current`, within
/// the service's bounds.
pub fn changed_retention(current: u32, increase: bool, hours: u32) -> Result<u32, ApiError> {
    let result = if increase {
        i64::from(current) + i64::from(hours)
    } else {
        i64::from(current) - i64::from(hours)
    };
    u32::try_from(result)
        .ok()
        .filter(|hours| *hours <= MAX_RETENTION_HOURS)
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "The data retention would become {result} hours; it must be within 0 and \
                 {MAX_RETENTION_HOURS}."
            ))
        })
}

/// The model's `StreamInfo`, borrowed from the stream while it is serialized.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    device_name: Option<&'a str>,
    stream_name: &'a str,
    #[serde(rename = "StreamARN")]
    stream_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'a str>,
    kms_key_id: &'a str,
    version: &'a str,
    status: &'static str,
    creation_time: f64,
    data_retention_in_hours: u32,
}

/// The StreamInfo of `stream` as JSON, from its cache (filled on first use).
pub fn info_json(stream: &Stream) -> &str {
    let details = &stream.details;
    details.info_json.get_or_init(|| {
        let info = StreamInfo {
            device_name: details.device_name.as_deref(),
            stream_name: &stream.name,
            stream_arn: &stream.arn,
            media_type: details.media_type.as_deref(),
            kms_key_id: &details.kms_key_id,
            version: &stream.version,
            status: stream.status.as_str(),
            creation_time: to_epoch_seconds(stream.creation_time),
            data_retention_in_hours: details.retention_hours,
        };
        serde_json::to_string(&info)
            .unwrap_or_default()
            .into_boxed_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::StreamStatus;
    use crate::state::registry::{Address, ArnCheck};

    fn store() -> Streams {
        Streams::new("us-west-2", "123456789012")
    }

    fn new_stream(name: &str) -> NewStream {
        NewStream {
            name: name.to_owned(),
            ..NewStream::default()
        }
    }

    fn create(s: &mut Streams, name: &str, delay: Duration, now: Instant) {
        s.create_stream(new_stream(name), CreateLimits::default(), delay, now)
            .unwrap();
    }

    fn status(s: &Streams, name: &str) -> StreamStatus {
        s.get(Address::name(name), ArnCheck::Plain).unwrap().status
    }

    #[test]
    fn transitions_happen_when_due() {
        let mut s = store();
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        create(&mut s, "a", delay, t0);
        assert_eq!(status(&s, "a"), StreamStatus::Creating);
        s.settle(t0 + Duration::from_millis(999));
        assert_eq!(status(&s, "a"), StreamStatus::Creating);
        s.settle(t0 + delay);
        assert_eq!(status(&s, "a"), StreamStatus::Active);
        let stream = s.named("a").unwrap();
        let (arn, version) = (stream.arn.clone(), stream.version.clone());
        s.delete(&arn, Some(&version), delay, t0 + delay).unwrap();
        assert_eq!(status(&s, "a"), StreamStatus::Deleting);
        s.settle(t0 + delay * 2);
        assert!(s.get(Address::name("a"), ArnCheck::Plain).is_err());
        assert!(s.snapshots().is_empty());
    }

    #[test]
    fn the_cached_stream_info_follows_every_change() {
        let mut s = store();
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        create(&mut s, "a", delay, t0);
        let info = |s: &Streams| info_json(s.named("a").unwrap()).to_owned();
        assert!(info(&s).contains("\"Status\":\"CREATING\""), "{}", info(&s));
        s.settle(t0 + delay);
        assert!(info(&s).contains("\"Status\":\"ACTIVE\""), "{}", info(&s));
        let version = s.named("a").unwrap().version.clone();
        s.update(Address::name("a"), &version, delay, t0 + delay, |d| {
            d.retention_hours = changed_retention(d.retention_hours, true, 5)?;
            Ok(())
        })
        .unwrap();
        let updated = info(&s);
        assert!(updated.contains("\"DataRetentionInHours\":5"), "{updated}");
        assert!(updated.contains("\"Status\":\"UPDATING\""), "{updated}");
        assert!(!updated.contains(&version), "{updated}");
        s.settle(t0 + delay * 2);
        let stream = s.named("a").unwrap();
        let (arn, version) = (stream.arn.clone(), stream.version.clone());
        s.delete(&arn, Some(&version), delay, t0 + delay * 2)
            .unwrap();
        assert!(info(&s).contains("\"Status\":\"DELETING\""), "{}", info(&s));
    }

    #[test]
    fn kms_keys_become_arns() {
        let s = store();
        let prefix = "arn:aws:kms:us-west-2:123456789012";
        assert_eq!(
            s.kms_key_arn(None),
            format!("{prefix}:alias/aws/kinesisvideo")
        );
        assert_eq!(
            s.kms_key_arn(Some("alias/cams")),
            format!("{prefix}:alias/cams")
        );
        assert_eq!(
            s.kms_key_arn(Some("1234abcd")),
            format!("{prefix}:key/1234abcd")
        );
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/x";
        assert_eq!(s.kms_key_arn(Some(arn)), arn);
    }

    #[test]
    fn listing_pages_by_name_with_prefix() {
        let mut s = store();
        for name in ["b2", "a1", "b1", "c1", "b3"] {
            create(&mut s, name, Duration::ZERO, Instant::now());
        }
        let page = s.list("b", None, 2);
        let names: Vec<_> = page.items.iter().map(|st| st.name.as_str()).collect();
        assert_eq!(names, ["b1", "b2"]);
        assert_eq!(page.last_key.as_deref(), Some("b2"));
        let page = s.list("b", Some("b2"), 2);
        let names: Vec<_> = page.items.iter().map(|st| st.name.as_str()).collect();
        assert_eq!(names, ["b3"]);
        assert!(page.last_key.is_none());
        assert_eq!(s.list("", None, 10).items.len(), 5);
    }

    #[test]
    fn retention_bounds() {
        assert_eq!(changed_retention(0, true, 87_600), Ok(87_600));
        assert!(changed_retention(1, true, 87_600).is_err());
        assert_eq!(changed_retention(24, false, 24), Ok(0));
        assert!(changed_retention(24, false, 25).is_err());
    }
}
