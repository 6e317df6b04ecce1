//! Which stream or signaling channel a request addresses, read from its input before
//! validation (for the per-resource quota, permissions and the call log).

use serde_json::Value;

use crate::operation::{Addresses, Operation};

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
}

/// A stream or channel by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    pub kind: Kind,
    pub name: &'a str,
}

/// The resource `op`'s input addresses: its name, or the name inside its ARN. Best
/// effort: validation reports malformed values later.
pub fn addressed(op: Operation, body: &Value) -> Option<Resource<'_>> {
    match op.addresses() {
        Addresses::Nothing => None,
        Addresses::Stream => by_name_or_arn(body, "StreamName", "StreamARN", Kind::Stream),
        Addresses::Channel => by_name_or_arn(body, "ChannelName", "ChannelARN", Kind::Channel),
        Addresses::Resource => {
            let (kind, name) = arn_parts(body.get("ResourceARN")?.as_str()?)?;
            let kind = match kind {
                "stream" => Kind::Stream,
                "channel" => Kind::Channel,
                _ => return None,
            };
            Some(Resource { kind, name })
        }
    }
}

fn by_name_or_arn<'a>(body: &'a Value, name: &str, arn: &str, kind: Kind) -> Option<Resource<'a>> {
    let name = match body.get(name).and_then(Value::as_str) {
        Some(name) => name,
        None => arn_parts(body.get(arn)?.as_str()?)?.1,
    };
    Some(Resource { kind, name })
}

/// The resource type and name of `arn:…:kinesisvideo:REGION:ACCOUNT:TYPE/NAME/MILLIS`.
pub fn arn_parts(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':').nth(5)?.splitn(3, '/');
    Some((parts.next()?, parts.next()?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_come_from_names_or_arns() {
        let stream = |name| {
            Some(Resource {
                kind: Kind::Stream,
                name,
            })
        };
        let channel = |name| {
            Some(Resource {
                kind: Kind::Channel,
                name,
            })
        };
        let by_name = json!({"StreamName": "cam"});
        assert_eq!(
            addressed(Operation::DescribeStream, &by_name),
            stream("cam")
        );
        let by_arn =
            json!({"StreamARN": "arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam/1"});
        assert_eq!(addressed(Operation::DeleteStream, &by_arn), stream("cam"));
        let channel_arn =
            json!({"ChannelARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/1"});
        assert_eq!(
            addressed(Operation::UpdateSignalingChannel, &channel_arn),
            channel("door")
        );
        let tagged =
            json!({"ResourceARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/1"});
        assert_eq!(addressed(Operation::TagResource, &tagged), channel("door"));
        let other = json!({"ResourceARN": "arn:aws:kinesisvideo:us-west-2:1:thing/x/1"});
        assert_eq!(addressed(Operation::TagResource, &other), None);
        assert_eq!(addressed(Operation::ListStreams, &by_name), None);
        assert_eq!(addressed(Operation::DescribeStream, &json!({})), None);
    }
}
