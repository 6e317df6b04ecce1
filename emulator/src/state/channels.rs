//! The signaling channels of one account and region: what a channel keeps beyond the
//! common record (its message TTL and media storage), and its endpoints.

use super::registry::{Details, Record, Registry};
use crate::model::resource::Kind;
use crate::model::snapshot::{ChannelSnapshot, MediaStorage, MediaStorageStatus};

/// The only channel type the service supports.
pub const SINGLE_MASTER: &str = "SINGLE_MASTER";

/// What a signaling channel keeps beyond the common record.
#[derive(Debug, Clone, Default)]
pub struct ChannelDetails {
    pub message_ttl_seconds: u32,
    pub media_storage: MediaStorage,
}

impl Details for ChannelDetails {
    const KIND: Kind = Kind::Channel;
}

/// One signaling channel as the service stores it.
pub type Channel = Record<ChannelDetails>;
/// The signaling channels of one account and region.
pub type Channels = Registry<ChannelDetails>;

impl Registry<ChannelDetails> {
    /// The channel (other than `except`) that stores its media into `stream_arn`.
    pub fn storing_into(&self, stream_arn: &str, except: &str) -> Option<&Channel> {
        self.records().find(|channel| {
            let storage = &channel.details.media_storage;
            channel.name != except
                && storage.stream_arn.as_deref() == Some(stream_arn)
                && storage.status == MediaStorageStatus::Enabled
        })
    }

    /// The endpoint of `channel` for `protocol` and `role`, shaped like the service's:
    /// `wss://m-…` (master) or `wss://v-…` (viewer), `https://r-…`, and `https://w-…`
    /// for WebRTC ingestion.
    pub fn channel_endpoint(&self, channel: &Channel, protocol: &str, role: &str) -> String {
        let (scheme, host_kind) = match protocol {
            "WSS" if role == "VIEWER" => ("wss", "v"),
            "WSS" => ("wss", "m"),
            "WEBRTC" => ("https", "w"),
            _ => ("https", "r"),
        };
        self.endpoint(scheme, host_kind, channel)
    }

    /// One channel, if it exists (in any state).
    pub fn snapshot(&self, name: &str) -> Option<ChannelSnapshot> {
        self.named(name).map(snapshot)
    }

    /// Every channel with its tags, sorted by name.
    pub fn snapshots(&self) -> Vec<ChannelSnapshot> {
        self.records().map(snapshot).collect()
    }
}

fn snapshot(channel: &Channel) -> ChannelSnapshot {
    ChannelSnapshot {
        channel_name: channel.name.clone(),
        channel_arn: channel.arn.clone(),
        channel_type: SINGLE_MASTER.to_owned(),
        channel_status: channel.status,
        creation_time: channel.creation_time,
        message_ttl_seconds: channel.details.message_ttl_seconds,
        version: channel.version.clone(),
        tags: channel.tags.clone(),
        media_storage: channel.details.media_storage.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::state::registry::{CreateLimits, NewRecord};

    #[test]
    fn endpoints_by_protocol_and_role() {
        let mut channels = Channels::new("cn-north-1", "123456789012");
        let new = NewRecord {
            name: "door".into(),
            tags: BTreeMap::new(),
            details: ChannelDetails::default(),
        };
        let limits = CreateLimits::default();
        let channel = channels
            .create(new, limits, Duration::ZERO, Instant::now())
            .unwrap()
            .clone();
        let id = &channel.endpoint_id;
        let suffix = "kinesisvideo.cn-north-1.amazonaws.com.cn";
        assert_eq!(
            channels.channel_endpoint(&channel, "WSS", "MASTER"),
            format!("wss://m-{id}.{suffix}")
        );
        assert_eq!(
            channels.channel_endpoint(&channel, "WSS", "VIEWER"),
            format!("wss://v-{id}.{suffix}")
        );
        assert_eq!(
            channels.channel_endpoint(&channel, "WEBRTC", "MASTER"),
            format!("https://w-{id}.{suffix}")
        );
        assert_eq!(
            channels.channel_endpoint(&channel, "HTTPS", "VIEWER"),
            format!("https://r-{id}.{suffix}")
        );
        assert_eq!(channels.snapshots()[0].channel_type, SINGLE_MASTER);
    }
}
