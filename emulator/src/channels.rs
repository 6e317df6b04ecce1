//! The signaling channels of one account and region, with the service's state machine
//! (CREATING → ACTIVE → UPDATING → ACTIVE → DELETING → gone, as for streams), versions,
//! tags and media storage.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::error::ApiError;
use crate::model::{ChannelSnapshot, MediaStorage, StreamStatus};
use crate::paging::{self, Page};
use crate::resource::Kind;
use crate::rules::{
    add_tags, check_create, check_reserved_keys, new_arn, new_version, partition_of,
};
use crate::schedule::{Schedule, Transitions};

/// The only channel type the service supports.
pub const SINGLE_MASTER: &str = "SINGLE_MASTER";

/// One signaling channel as the service stores it.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub arn: String,
    pub message_ttl_seconds: u32,
    pub version: String,
    pub status: StreamStatus,
    pub creation_time: SystemTime,
    pub tags: BTreeMap<String, String>,
    pub media_storage: MediaStorage,
    /// Random part of the channel's endpoints, fixed for its lifetime.
    pub endpoint_id: String,
    ticket: Option<u64>,
}

impl Transitions for Channel {
    fn ticket(&self) -> Option<u64> {
        self.ticket
    }

    fn status(&self) -> StreamStatus {
        self.status
    }

    fn become_active(&mut self) {
        self.ticket = None;
        self.status = StreamStatus::Active;
    }
}

impl Channel {
    fn snapshot(&self) -> ChannelSnapshot {
        ChannelSnapshot {
            channel_name: self.name.clone(),
            channel_arn: self.arn.clone(),
            channel_type: SINGLE_MASTER.to_owned(),
            channel_status: self.status,
            creation_time: self.creation_time,
            message_ttl_seconds: self.message_ttl_seconds,
            version: self.version.clone(),
            tags: self.tags.clone(),
            media_storage: self.media_storage.clone(),
        }
    }

    /// Mutations need the channel ACTIVE and, when given, at `version`.
    fn check_mutable(&self, version: Option<&str>) -> Result<(), ApiError> {
        if self.status != StreamStatus::Active {
            return Err(ApiError::resource_in_use(format!(
                "The signaling channel {} is {}; it can only be changed while ACTIVE.",
                self.name,
                self.status.as_str()
            )));
        }
        match version {
            Some(version) if version != self.version => Err(ApiError::version_mismatch(format!(
                "The channel version {version} does not match the current version {} of \
                     channel {}.",
                self.version, self.name
            ))),
            _ => Ok(()),
        }
    }
}

/// How a request names its channel: by name, by ARN, or both (which must agree).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelAddress<'a> {
    pub name: Option<&'a str>,
    pub arn: Option<&'a str>,
}

impl<'a> ChannelAddress<'a> {
    pub fn arn(arn: &'a str) -> ChannelAddress<'a> {
        ChannelAddress {
            name: None,
            arn: Some(arn),
        }
    }

    /// The channel name the address means (validation has checked the ARN's shape).
    fn locate(self) -> Result<&'a str, ApiError> {
        let Some(arn) = self.arn else {
            return self.name.ok_or_else(|| {
                ApiError::invalid_argument("Either ChannelName or ChannelARN must be specified.")
            });
        };
        let (kind, name) = crate::resource::arn_parts(arn).unwrap_or_default();
        if kind != "channel" {
            return Err(ApiError::invalid_argument(format!(
                "The ARN {arn} does not identify a signaling channel."
            )));
        }
        match self.name {
            Some(given) if given != name => Err(ApiError::invalid_argument(format!(
                "ChannelName {given} and ChannelARN {arn} do not identify the same channel."
            ))),
            _ => Ok(name),
        }
    }
}

/// A CreateSignalingChannel request that passed validation.
#[derive(Debug, Clone, Default)]
pub struct NewChannel {
    pub name: String,
    pub message_ttl_seconds: u32,
    pub tags: BTreeMap<String, String>,
}

/// All signaling channels of one account and region.
pub struct Channels {
    region: String,
    account_id: String,
    partition: &'static str,
    channels: BTreeMap<String, Channel>,
    schedule: Schedule,
}

impl Channels {
    pub fn new(region: &str, account_id: &str) -> Channels {
        Channels {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            partition: partition_of(region),
            channels: BTreeMap::new(),
            schedule: Schedule::default(),
        }
    }

    /// Applies every transition due by `now`.
    pub fn settle(&mut self, now: Instant) {
        self.schedule.settle(&mut self.channels, now);
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn snapshot(&self, name: &str) -> Option<ChannelSnapshot> {
        self.channels.get(name).map(Channel::snapshot)
    }

    /// Every channel with its tags, sorted by name.
    pub fn snapshots(&self) -> Vec<ChannelSnapshot> {
        self.channels.values().map(Channel::snapshot).collect()
    }

    pub fn clear(&mut self) {
        self.channels.clear();
        self.schedule.clear();
    }

    /// CreateSignalingChannel: the new channel is CREATING until `delay` has passed.
    pub fn create(
        &mut self,
        new: NewChannel,
        max_channels: Option<usize>,
        allow_reserved_tags: bool,
        delay: Duration,
        now: Instant,
    ) -> Result<&Channel, ApiError> {
        check_create(
            Kind::Channel,
            &new.name,
            &new.tags,
            allow_reserved_tags,
            &self.channels,
            max_channels,
        )?;
        let (creation_time, arn) = new_arn(
            self.partition,
            &self.region,
            &self.account_id,
            Kind::Channel,
            &new.name,
        );
        let ticket = self.schedule.enqueue(&new.name, delay, now);
        let channel = Channel {
            name: new.name.clone(),
            arn,
            message_ttl_seconds: new.message_ttl_seconds,
            version: new_version(),
            status: if ticket.is_some() {
                StreamStatus::Creating
            } else {
                StreamStatus::Active
            },
            creation_time,
            tags: new.tags,
            media_storage: MediaStorage::default(),
            endpoint_id: format!("{:08x}", fastrand::u32(..)),
            ticket,
        };
        Ok(self.channels.entry(new.name).or_insert(channel))
    }

    /// The channel addressed, in any state.
    pub fn get(&self, address: ChannelAddress<'_>) -> Result<&Channel, ApiError> {
        let name = address.locate()?;
        let channel = self
            .channels
            .get(name)
            .ok_or_else(ApiError::channel_not_found)?;
        match address.arn {
            Some(arn) if arn != channel.arn => Err(ApiError::channel_not_found()),
            _ => Ok(channel),
        }
    }

    /// The channel addressed, unless it is being deleted.
    pub fn get_live(&self, address: ChannelAddress<'_>) -> Result<&Channel, ApiError> {
        let channel = self.get(address)?;
        if channel.status == StreamStatus::Deleting {
            return Err(ApiError::channel_not_found());
        }
        Ok(channel)
    }

    fn get_mut(&mut self, address: ChannelAddress<'_>) -> Result<&mut Channel, ApiError> {
        let name = self.get(address)?.name.clone();
        self.channels
            .get_mut(&name)
            .ok_or_else(ApiError::channel_not_found)
    }

    /// ListSignalingChannels: channels in name order after `after`, with `prefix`.
    pub fn list(&self, prefix: &str, after: Option<&str>, max: usize) -> Page<&Channel> {
        paging::by_name(&self.channels, prefix, after, max)
    }

    /// UpdateSignalingChannel: ACTIVE at `version`; becomes UPDATING with a new version.
    pub fn update(
        &mut self,
        arn: &str,
        version: &str,
        message_ttl_seconds: Option<u32>,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ApiError> {
        let channel = self.get(ChannelAddress::arn(arn))?;
        channel.check_mutable(Some(version))?;
        let name = channel.name.clone();
        let ticket = self.schedule.enqueue(&name, delay, now);
        let channel = self.get_mut(ChannelAddress::arn(arn))?;
        if let Some(ttl) = message_ttl_seconds {
            channel.message_ttl_seconds = ttl;
        }
        channel.version = new_version();
        channel.ticket = ticket;
        if ticket.is_some() {
            channel.status = StreamStatus::Updating;
        }
        Ok(())
    }

    /// DeleteSignalingChannel: by ARN; DELETING until `delay` has passed.
    pub fn delete(
        &mut self,
        arn: &str,
        version: Option<&str>,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ApiError> {
        let channel = self.get(ChannelAddress::arn(arn))?;
        channel.check_mutable(version)?;
        let name = channel.name.clone();
        match self.schedule.enqueue(&name, delay, now) {
            None => {
                self.channels.remove(&name);
            }
            Some(ticket) => {
                let channel = self.get_mut(ChannelAddress::arn(arn))?;
                channel.status = StreamStatus::Deleting;
                channel.ticket = Some(ticket);
            }
        }
        Ok(())
    }

    /// TagResource on a channel: adds or overwrites tags; the version stays.
    pub fn tag(
        &mut self,
        arn: &str,
        tags: BTreeMap<String, String>,
        allow_reserved_tags: bool,
    ) -> Result<(), ApiError> {
        check_reserved_keys(tags.keys(), allow_reserved_tags)?;
        self.get_live(ChannelAddress::arn(arn))?;
        let channel = self.get_mut(ChannelAddress::arn(arn))?;
        add_tags(&mut channel.tags, tags, Kind::Channel)
    }

    /// UntagResource on a channel: removes the keys that exist.
    pub fn untag(
        &mut self,
        arn: &str,
        keys: &[String],
        allow_reserved_tags: bool,
    ) -> Result<(), ApiError> {
        check_reserved_keys(keys.iter(), allow_reserved_tags)?;
        self.get_live(ChannelAddress::arn(arn))?;
        let channel = self.get_mut(ChannelAddress::arn(arn))?;
        for key in keys {
            channel.tags.remove(key);
        }
        Ok(())
    }

    /// ListTagsForResource on a channel.
    pub fn list_tags(
        &self,
        arn: &str,
        after: Option<&str>,
        page_size: usize,
    ) -> Result<Page<(&String, &String)>, ApiError> {
        let channel = self.get_live(ChannelAddress::arn(arn))?;
        Ok(paging::tags(&channel.tags, after, page_size))
    }

    /// The channel (other than `except`) that stores its media into `stream_arn`.
    pub fn storing_into(&self, stream_arn: &str, except: &str) -> Option<&Channel> {
        self.channels.values().find(|channel| {
            channel.name != except
                && channel.media_storage.stream_arn.as_deref() == Some(stream_arn)
                && channel.media_storage.status == crate::model::MediaStorageStatus::Enabled
        })
    }

    /// UpdateMediaStorageConfiguration: the channel must be ACTIVE (checks of the stream
    /// are the caller's, which sees the streams).
    pub fn set_media_storage(&mut self, arn: &str, storage: MediaStorage) -> Result<(), ApiError> {
        let channel = self.get_mut(ChannelAddress::arn(arn))?;
        channel.check_mutable(None)?;
        channel.media_storage = storage;
        Ok(())
    }

    /// The endpoint of `channel` for `protocol` and `role`, shaped like the service's:
    /// `wss://m-…` (master) or `wss://v-…` (viewer), `https://r-…`, and `https://w-…`
    /// for WebRTC ingestion.
    pub fn endpoint(&self, channel: &Channel, protocol: &str, role: &str) -> String {
        let (scheme, kind) = match protocol {
            "WSS" if role == "VIEWER" => ("wss", "v"),
            "WSS" => ("wss", "m"),
            "WEBRTC" => ("https", "w"),
            _ => ("https", "r"),
        };
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!(
            "{scheme}://{kind}-{}.kinesisvideo.{}.{suffix}",
            channel.endpoint_id, self.region
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewChannel {
        NewChannel {
            name: name.into(),
            message_ttl_seconds: 60,
            ..NewChannel::default()
        }
    }

    #[test]
    fn lifecycle_and_versions() {
        let mut channels = Channels::new("us-west-2", "123456789012");
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        let arn = channels
            .create(new("door"), None, false, delay, t0)
            .unwrap()
            .arn
            .clone();
        assert!(arn.starts_with("arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/"));
        let version = channels
            .get(ChannelAddress::arn(&arn))
            .unwrap()
            .version
            .clone();
        let in_use = channels
            .update(&arn, &version, Some(30), delay, t0)
            .unwrap_err();
        assert_eq!(in_use.code, "ResourceInUseException");
        channels.settle(t0 + delay);
        let stale = channels
            .update(&arn, "stale", Some(30), delay, t0 + delay)
            .unwrap_err();
        assert_eq!(stale.code, "VersionMismatchException");
        channels
            .update(&arn, &version, Some(30), delay, t0 + delay)
            .unwrap();
        let updated = channels.snapshot("door").unwrap();
        assert_eq!(
            (updated.channel_status, updated.message_ttl_seconds),
            (StreamStatus::Updating, 30)
        );
        assert_ne!(updated.version, version);
        channels.settle(t0 + delay * 2);
        channels.delete(&arn, None, delay, t0 + delay * 2).unwrap();
        assert!(channels.get_live(ChannelAddress::arn(&arn)).is_err());
        assert!(channels.get(ChannelAddress::arn(&arn)).is_ok());
        channels.settle(t0 + delay * 3);
        assert!(channels.is_empty());
        assert!(
            channels
                .create(new("door"), Some(0), false, delay, t0)
                .is_err()
        );
    }

    #[test]
    fn addresses_must_agree_and_name_channels() {
        let channels = Channels::new("us-west-2", "123456789012");
        let stream_arn = "arn:aws:kinesisvideo:us-west-2:123456789012:stream/x/1";
        let err = channels.get(ChannelAddress::arn(stream_arn)).unwrap_err();
        assert_eq!(err.code, "InvalidArgumentException");
        let err = channels.get(ChannelAddress::default()).unwrap_err();
        assert_eq!(err.code, "InvalidArgumentException");
        let err = channels
            .get(ChannelAddress {
                name: Some("a"),
                arn: Some("arn:aws:kinesisvideo:us-west-2:123456789012:channel/b/1"),
            })
            .unwrap_err();
        assert!(err.message.contains("same channel"), "{}", err.message);
    }
}
