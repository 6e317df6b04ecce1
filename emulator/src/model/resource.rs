//! The two kinds of KVS resources, and one resource named by kind and name.

/// The two kinds of KVS resources, as their ARNs spell them (`stream/…`, `channel/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Stream,
    Channel,
}

impl Kind {
    /// The resource type in ARNs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::Channel => "channel",
        }
    }

    /// The kind an ARN's resource type names.
    pub fn parse(resource_type: &str) -> Option<Kind> {
        match resource_type {
            "stream" => Some(Kind::Stream),
            "channel" => Some(Kind::Channel),
            _ => None,
        }
    }

    /// How input members name it: `StreamName`/`StreamARN`, `ChannelName`/`ChannelARN`.
    pub fn member_prefix(self) -> &'static str {
        match self {
            Kind::Stream => "Stream",
            Kind::Channel => "Channel",
        }
    }

    /// How messages name it: "stream" or "signaling channel".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::Channel => "signaling channel",
        }
    }
}

/// A stream or channel by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    pub kind: Kind,
    pub name: &'a str,
}
