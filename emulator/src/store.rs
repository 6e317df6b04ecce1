//! The streams of one account and region, with the service's state machine.
//!
//! Transitions (CREATING→ACTIVE, UPDATING→ACTIVE, DELETING→gone) are scheduled at a due
//! time and applied by [`Store::settle`] at the start of every call.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::error::ApiError;
use crate::model::{ImageGeneration, Notification, StorageTier, StreamSnapshot, StreamStatus};
use crate::paging::{self, Page};
use crate::resource::Kind;
use crate::rules::{
    add_tags, changed_retention, check_create, check_mutable, check_reserved_keys, locate, new_arn,
    new_version, partition_of,
};
use crate::schedule::{Schedule, Transitions};

/// Retention bounds of the service, in hours (0 = no persistence, 87600 = ten years).
pub const MAX_RETENTION_HOURS: u32 = 87_600;
/// Tags per stream.
pub const MAX_TAGS: usize = 50;

/// One stream as the service stores it.
#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    pub arn: String,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: String,
    pub version: String,
    pub status: StreamStatus,
    pub creation_time: SystemTime,
    pub retention_hours: u32,
    pub storage_tier: StorageTier,
    pub tags: BTreeMap<String, String>,
    pub image_generation: Option<ImageGeneration>,
    pub notification: Option<Notification>,
    /// Random part of the stream's data endpoints, fixed for its lifetime.
    pub endpoint_id: String,
    /// The scheduled transition this stream waits for, if any.
    ticket: Option<u64>,
    /// Its StreamInfo as JSON, serialized once and kept until the stream changes, so
    /// that a ListStreams page of 10,000 copies text instead of serializing (see
    /// `wire::stream_info_json`).
    pub(crate) info_json: OnceCell<Box<str>>,
}

impl Transitions for Stream {
    fn ticket(&self) -> Option<u64> {
        self.ticket
    }

    fn status(&self) -> StreamStatus {
        self.status
    }

    fn become_active(&mut self) {
        self.ticket = None;
        self.status = StreamStatus::Active;
        self.changed();
    }
}

impl Stream {
    /// Forgets the cached StreamInfo JSON; called by every change of a member of it.
    fn changed(&mut self) {
        self.info_json = OnceCell::new();
    }

    /// The region in the stream's ARN.
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or_default()
    }

    fn snapshot(&self) -> StreamSnapshot {
        StreamSnapshot {
            stream_name: self.name.clone(),
            stream_arn: self.arn.clone(),
            device_name: self.device_name.clone(),
            media_type: self.media_type.clone(),
            kms_key_id: self.kms_key_id.clone(),
            version: self.version.clone(),
            status: self.status,
            creation_time: self.creation_time,
            data_retention_in_hours: self.retention_hours,
            storage_tier: self.storage_tier,
            tags: self.tags.clone(),
            image_generation: self.image_generation.clone(),
            notification: self.notification.clone(),
        }
    }
}

/// How a request names its stream: by name, by ARN, or by both (which must agree).
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamAddress<'a> {
    pub name: Option<&'a str>,
    pub arn: Option<&'a str>,
}

/// Which error a well-formed ARN of another resource type (e.g. a signaling channel)
/// gets: the tagging operations model `InvalidResourceFormatException`, the rest do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnCheck {
    Tagging,
    Plain,
}

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

/// A requested change that makes the stream UPDATING with a new version.
#[derive(Debug, Clone)]
pub enum Change {
    Stream {
        device_name: Option<String>,
        media_type: Option<String>,
    },
    Retention {
        increase: bool,
        hours: u32,
    },
    StorageTier(StorageTier),
}

/// All streams of the emulated account and region.
pub struct Store {
    region: String,
    account_id: String,
    partition: &'static str,
    streams: BTreeMap<String, Stream>,
    schedule: Schedule,
}

impl Store {
    pub fn new(region: &str, account_id: &str) -> Store {
        Store {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            partition: partition_of(region),
            streams: BTreeMap::new(),
            schedule: Schedule::default(),
        }
    }

    /// Applies every transition due by `now`.
    pub fn settle(&mut self, now: Instant) {
        self.schedule.settle(&mut self.streams, now);
    }

    /// Whether the store holds no stream.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// How many streams the store holds (in any state).
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// One stream with its tags, if it exists (in any state).
    pub fn snapshot(&self, name: &str) -> Option<StreamSnapshot> {
        self.streams.get(name).map(Stream::snapshot)
    }

    /// Every stream with its tags, sorted by name.
    pub fn snapshots(&self) -> Vec<StreamSnapshot> {
        self.streams.values().map(Stream::snapshot).collect()
    }

    /// Forgets every stream.
    pub fn clear(&mut self) {
        self.streams.clear();
        self.schedule.clear();
    }

    /// CreateStream: the new stream is CREATING until `delay` has passed.
    pub fn create(
        &mut self,
        new: NewStream,
        max_streams: Option<usize>,
        allow_reserved_tags: bool,
        delay: Duration,
        now: Instant,
    ) -> Result<&Stream, ApiError> {
        check_create(
            Kind::Stream,
            &new.name,
            &new.tags,
            allow_reserved_tags,
            &self.streams,
            max_streams,
        )?;
        let (creation_time, arn) = new_arn(
            self.partition,
            &self.region,
            &self.account_id,
            Kind::Stream,
            &new.name,
        );
        let kms_key_id = self.kms_key_arn(new.kms_key_id.as_deref());
        let ticket = self.enqueue_if_delayed(&new.name, delay, now);
        let stream = Stream {
            name: new.name.clone(),
            arn,
            device_name: new.device_name,
            media_type: new.media_type,
            kms_key_id,
            version: new_version(),
            status: if ticket.is_some() {
                StreamStatus::Creating
            } else {
                StreamStatus::Active
            },
            creation_time,
            retention_hours: new.retention_hours,
            storage_tier: new.storage_tier,
            tags: new.tags,
            image_generation: None,
            notification: None,
            endpoint_id: format!("{:08x}", fastrand::u32(..)),
            ticket,
            info_json: OnceCell::new(),
        };
        Ok(self.streams.entry(new.name).or_insert(stream))
    }

    /// The stream a read addresses, in any state.
    pub fn get(&self, address: StreamAddress<'_>, check: ArnCheck) -> Result<&Stream, ApiError> {
        let name = locate(address, check)?;
        let stream = self
            .streams
            .get(name)
            .ok_or_else(ApiError::stream_not_found)?;
        match address.arn {
            Some(arn) if arn != stream.arn => Err(ApiError::stream_not_found()),
            _ => Ok(stream),
        }
    }

    /// The stream addressed, unless it is being deleted.
    pub fn get_live(
        &self,
        address: StreamAddress<'_>,
        check: ArnCheck,
    ) -> Result<&Stream, ApiError> {
        let stream = self.get(address, check)?;
        if stream.status == StreamStatus::Deleting {
            return Err(ApiError::stream_not_found());
        }
        Ok(stream)
    }

    /// The stream addressed, for a change that needs it ACTIVE but takes no version
    /// (the image generation and notification configurations).
    pub fn get_active_mut(&mut self, address: StreamAddress<'_>) -> Result<&mut Stream, ApiError> {
        let stream = self.get(address, ArnCheck::Plain)?;
        check_mutable(stream, None)?;
        let name = stream.name.clone();
        self.streams
            .get_mut(&name)
            .ok_or_else(ApiError::stream_not_found)
    }

    /// The stream with this exact ARN (this incarnation), in any state.
    pub fn by_arn(&self, arn: &str) -> Option<&Stream> {
        let (_, name) = crate::resource::arn_parts(arn)?;
        self.streams.get(name).filter(|stream| stream.arn == arn)
    }

    /// ListStreams: streams in name order, starting after `after`, whose names begin
    /// with `prefix`.
    pub fn list(&self, prefix: &str, after: Option<&str>, max: usize) -> Page<&Stream> {
        paging::by_name(&self.streams, prefix, after, max)
    }

    /// ListTagsForStream: tags in key order, starting after `after`.
    pub fn list_tags(
        &self,
        address: StreamAddress<'_>,
        after: Option<&str>,
        page_size: usize,
    ) -> Result<Page<(&String, &String)>, ApiError> {
        let stream = self.get(address, ArnCheck::Tagging)?;
        Ok(paging::tags(&stream.tags, after, page_size))
    }

    /// UpdateStream, UpdateDataRetention and UpdateStreamStorageConfiguration: the stream
    /// must be ACTIVE at `current_version`; it becomes UPDATING with a new version.
    pub fn update(
        &mut self,
        address: StreamAddress<'_>,
        current_version: &str,
        change: Change,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ApiError> {
        let stream = self.get(address, ArnCheck::Plain)?;
        check_mutable(stream, Some(current_version))?;
        let retention = match change {
            Change::Retention { increase, hours } => {
                Some(changed_retention(stream.retention_hours, increase, hours)?)
            }
            _ => None,
        };
        let name = stream.name.clone();
        let ticket = self.enqueue_if_delayed(&name, delay, now);
        let Some(stream) = self.streams.get_mut(&name) else {
            return Err(ApiError::stream_not_found());
        };
        match change {
            Change::Stream {
                device_name,
                media_type,
            } => {
                if device_name.is_some() {
                    stream.device_name = device_name;
                }
                if media_type.is_some() {
                    stream.media_type = media_type;
                }
            }
            Change::Retention { .. } => {
                if let Some(hours) = retention {
                    stream.retention_hours = hours;
                }
            }
            Change::StorageTier(tier) => stream.storage_tier = tier,
        }
        stream.version = new_version();
        stream.ticket = ticket;
        stream.changed();
        if ticket.is_some() {
            stream.status = StreamStatus::Updating;
        }
        Ok(())
    }

    /// TagStream: adds or overwrites tags; the stream keeps its version.
    pub fn tag(
        &mut self,
        address: StreamAddress<'_>,
        tags: BTreeMap<String, String>,
        allow_reserved_tags: bool,
    ) -> Result<(), ApiError> {
        check_reserved_keys(tags.keys(), allow_reserved_tags)?;
        let name = self.get_live(address, ArnCheck::Tagging)?.name.clone();
        let Some(stream) = self.streams.get_mut(&name) else {
            return Err(ApiError::stream_not_found());
        };
        add_tags(&mut stream.tags, tags, Kind::Stream)
    }

    /// UntagStream: removes the keys that exist; absent keys are ignored.
    pub fn untag(
        &mut self,
        address: StreamAddress<'_>,
        keys: &[String],
        allow_reserved_tags: bool,
    ) -> Result<(), ApiError> {
        check_reserved_keys(keys.iter(), allow_reserved_tags)?;
        let name = self.get_live(address, ArnCheck::Tagging)?.name.clone();
        if let Some(stream) = self.streams.get_mut(&name) {
            for key in keys {
                stream.tags.remove(key);
            }
        }
        Ok(())
    }

    /// DeleteStream: by ARN only; the stream is DELETING until `delay` has passed.
    pub fn delete(
        &mut self,
        arn: &str,
        current_version: Option<&str>,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ApiError> {
        let address = StreamAddress {
            name: None,
            arn: Some(arn),
        };
        let stream = self.get(address, ArnCheck::Plain)?;
        check_mutable(stream, current_version)?;
        let name = stream.name.clone();
        match self.enqueue_if_delayed(&name, delay, now) {
            None => {
                self.streams.remove(&name);
            }
            Some(ticket) => {
                if let Some(stream) = self.streams.get_mut(&name) {
                    stream.status = StreamStatus::Deleting;
                    stream.ticket = Some(ticket);
                    stream.changed();
                }
            }
        }
        Ok(())
    }

    /// The data endpoint of `stream` for `api_name`, shaped like the service's: `s-` hosts
    /// for PUT_MEDIA and GET_MEDIA, `b-` hosts for the archived-media APIs.
    pub fn data_endpoint(&self, stream: &Stream, api_name: &str) -> String {
        let kind = match api_name {
            "PUT_MEDIA" | "GET_MEDIA" => "s",
            _ => "b",
        };
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!(
            "https://{kind}-{}.kinesisvideo.{}.{suffix}",
            stream.endpoint_id, self.region
        )
    }

    /// The KMS key ARN a stream reports: the AWS-managed key when none was given, an
    /// alias or key id expanded to an ARN, an ARN unchanged.
    fn kms_key_arn(&self, given: Option<&str>) -> String {
        let prefix = format!(
            "arn:{}:kms:{}:{}",
            self.partition, self.region, self.account_id
        );
        match given {
            None => format!("{prefix}:alias/aws/kinesisvideo"),
            Some(arn) if arn.starts_with("arn:") => arn.to_owned(),
            Some(alias) if alias.starts_with("alias/") => format!("{prefix}:{alias}"),
            Some(key_id) => format!("{prefix}:key/{key_id}"),
        }
    }

    fn enqueue_if_delayed(&mut self, name: &str, delay: Duration, now: Instant) -> Option<u64> {
        self.schedule.enqueue(name, delay, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new("us-west-2", "123456789012")
    }

    fn named(name: &str) -> StreamAddress<'_> {
        StreamAddress {
            name: Some(name),
            arn: None,
        }
    }

    fn new_stream(name: &str) -> NewStream {
        NewStream {
            name: name.to_owned(),
            ..NewStream::default()
        }
    }

    #[test]
    fn transitions_happen_when_due() {
        let mut s = store();
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        s.create(new_stream("a"), None, false, delay, t0).unwrap();
        assert_eq!(
            s.get(named("a"), ArnCheck::Plain).unwrap().status,
            StreamStatus::Creating
        );
        s.settle(t0 + Duration::from_millis(999));
        assert_eq!(
            s.get(named("a"), ArnCheck::Plain).unwrap().status,
            StreamStatus::Creating
        );
        s.settle(t0 + delay);
        let stream = s.get(named("a"), ArnCheck::Plain).unwrap();
        assert_eq!(stream.status, StreamStatus::Active);
        let (arn, version) = (stream.arn.clone(), stream.version.clone());
        s.delete(&arn, Some(&version), delay, t0 + delay).unwrap();
        assert_eq!(
            s.get(named("a"), ArnCheck::Plain).unwrap().status,
            StreamStatus::Deleting
        );
        s.settle(t0 + delay * 2);
        assert!(s.get(named("a"), ArnCheck::Plain).is_err());
        assert!(s.snapshots().is_empty());
    }

    #[test]
    fn the_cached_stream_info_follows_every_change() {
        use crate::wire::stream_info_json;
        let mut s = store();
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        s.create(new_stream("a"), None, false, delay, t0).unwrap();
        let info =
            |s: &Store| stream_info_json(s.get(named("a"), ArnCheck::Plain).unwrap()).to_owned();
        assert!(info(&s).contains("\"Status\":\"CREATING\""), "{}", info(&s));
        s.settle(t0 + delay);
        assert!(info(&s).contains("\"Status\":\"ACTIVE\""), "{}", info(&s));
        let version = s.get(named("a"), ArnCheck::Plain).unwrap().version.clone();
        let change = Change::Retention {
            increase: true,
            hours: 5,
        };
        s.update(named("a"), &version, change, delay, t0 + delay)
            .unwrap();
        let updated = info(&s);
        assert!(updated.contains("\"DataRetentionInHours\":5"), "{updated}");
        assert!(updated.contains("\"Status\":\"UPDATING\""), "{updated}");
        assert!(!updated.contains(&version), "{updated}");
        s.settle(t0 + delay * 2);
        let stream = s.get(named("a"), ArnCheck::Plain).unwrap();
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
            s.create(
                new_stream(name),
                None,
                false,
                Duration::ZERO,
                Instant::now(),
            )
            .unwrap();
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
}
