//! The operations the emulator serves: the KVS control plane (rest-json, one path each)
//! and STS (query protocol, `POST /` with an `Action`), with what each addresses and the
//! quotas AWS publishes for it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the input of an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// Nothing in particular (a listing, STS).
    Nothing,
    /// A stream, by `StreamName` and/or `StreamARN`.
    Stream,
    /// A signaling channel, by `ChannelName` and/or `ChannelARN`.
    Channel,
    /// A stream or a channel, by `ResourceARN`.
    Resource,
}

/// The published quota of an operation: calls per second per account and region, and
/// whether it also has the per-resource quota (5/s per stream or channel).
struct Quota {
    account_tps: Option<u32>,
    per_resource: bool,
}

macro_rules! operations {
    ($($(#[$doc:meta])* $op:ident: $path:expr, $addresses:ident, $tps:expr, $per_resource:expr;)+) => {
        /// One operation, named as in its AWS model.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Operation {
            $($(#[$doc])* $op,)+
        }

        const COUNT: usize = [$(stringify!($op)),+].len();

        impl Operation {
            /// Every operation: KVS streams, signaling channels, then STS.
            pub const ALL: [Operation; COUNT] = [$(Operation::$op),+];

            /// The operation's name in the AWS model, e.g. `DescribeStream`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)+
                }
            }

            /// The rest-json `requestUri` of a KVS operation, e.g. `/describeStream`;
            /// `None` for STS, which is served on `/`.
            pub fn path(self) -> Option<&'static str> {
                match self {
                    $(Operation::$op => $path,)+
                }
            }

            /// What the operation's input addresses.
            pub fn addresses(self) -> Addresses {
                match self {
                    $(Operation::$op => Addresses::$addresses,)+
                }
            }

            fn quota(self) -> Quota {
                match self {
                    $(Operation::$op => Quota { account_tps: $tps, per_resource: $per_resource },)+
                }
            }
        }
    };
}

// Quotas: the KVS developer guide's control-plane quotas (the stream operations, their
// configurations included) and the WebRTC developer guide's (the signaling channels);
// conformance/test_model.py holds them to both guides. STS has no quota unless one is set
// (see `Quotas::account_tps`).
operations! {
    CreateStream: Some("/createStream"), Stream, Some(50), false;
    DescribeStream: Some("/describeStream"), Stream, Some(300), true;
    ListStreams: Some("/listStreams"), Nothing, Some(50), false;
    UpdateStream: Some("/updateStream"), Stream, Some(50), true;
    UpdateDataRetention: Some("/updateDataRetention"), Stream, Some(50), true;
    TagStream: Some("/tagStream"), Stream, Some(50), true;
    UntagStream: Some("/untagStream"), Stream, Some(50), true;
    ListTagsForStream: Some("/listTagsForStream"), Stream, Some(50), true;
    DeleteStream: Some("/deleteStream"), Stream, Some(50), true;
    GetDataEndpoint: Some("/getDataEndpoint"), Stream, Some(300), true;
    DescribeStreamStorageConfiguration: Some("/describeStreamStorageConfiguration"), Stream, Some(50), true;
    UpdateStreamStorageConfiguration: Some("/updateStreamStorageConfiguration"), Stream, Some(50), true;
    DescribeImageGenerationConfiguration: Some("/describeImageGenerationConfiguration"), Stream, Some(50), true;
    UpdateImageGenerationConfiguration: Some("/updateImageGenerationConfiguration"), Stream, Some(50), true;
    DescribeNotificationConfiguration: Some("/describeNotificationConfiguration"), Stream, Some(50), true;
    UpdateNotificationConfiguration: Some("/updateNotificationConfiguration"), Stream, Some(50), true;
    CreateSignalingChannel: Some("/createSignalingChannel"), Channel, Some(50), false;
    DescribeSignalingChannel: Some("/describeSignalingChannel"), Channel, Some(300), true;
    ListSignalingChannels: Some("/listSignalingChannels"), Nothing, Some(50), false;
    UpdateSignalingChannel: Some("/updateSignalingChannel"), Channel, Some(50), true;
    DeleteSignalingChannel: Some("/deleteSignalingChannel"), Channel, Some(50), true;
    GetSignalingChannelEndpoint: Some("/getSignalingChannelEndpoint"), Channel, Some(300), false;
    DescribeMediaStorageConfiguration: Some("/describeMediaStorageConfiguration"), Channel, Some(50), true;
    UpdateMediaStorageConfiguration: Some("/updateMediaStorageConfiguration"), Channel, Some(10), true;
    TagResource: Some("/TagResource"), Resource, Some(50), true;
    UntagResource: Some("/UntagResource"), Resource, Some(50), true;
    ListTagsForResource: Some("/ListTagsForResource"), Resource, Some(50), true;
    /// STS.
    AssumeRole: None, Nothing, None, false;
    /// STS.
    GetCallerIdentity: None, Nothing, None, false;
}

impl Operation {
    /// Whether this is an STS operation (query protocol on `/`).
    pub fn is_sts(self) -> bool {
        self.path().is_none()
    }

    /// The STS operation named by a query `Action`.
    pub fn from_action(action: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.is_sts() && op.name() == action)
    }

    /// The KVS operation served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.path() == Some(path))
    }

    /// Whether the call addresses one existing stream or channel, and so also counts
    /// against the per-resource quota.
    pub fn is_per_resource(self) -> bool {
        self.quota().per_resource
    }

    /// Whether a successful call changes state in AWS (creates, updates, deletes,
    /// tags, configurations; AssumeRole issues credentials and counts as none), for
    /// tests that read the call log for writes.
    pub fn is_mutation(self) -> bool {
        let name = self.name();
        !self.is_sts()
            && ["Create", "Update", "Delete", "Tag", "Untag"]
                .iter()
                .any(|verb| name.starts_with(verb))
    }

    /// The published quota in calls per second per account and region, if any.
    pub fn default_account_tps(self) -> Option<u32> {
        self.quota().account_tps
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_model() {
        assert_eq!(Operation::CreateStream.path(), Some("/createStream"));
        assert_eq!(
            Operation::DescribeStreamStorageConfiguration.path(),
            Some("/describeStreamStorageConfiguration")
        );
        assert_eq!(Operation::TagResource.path(), Some("/TagResource"));
        for op in Operation::ALL {
            match op.path() {
                Some(path) => assert_eq!(Operation::from_path(path), Some(op)),
                None => assert_eq!(Operation::from_action(op.name()), Some(op)),
            }
        }
        assert_eq!(Operation::from_path("/"), None);
        assert_eq!(Operation::from_path("/CreateStream"), None);
        assert_eq!(Operation::from_action("CreateStream"), None);
        assert_eq!(Operation::ALL.len(), 29);
    }

    #[test]
    fn mutations() {
        let mutations: Vec<Operation> = Operation::ALL
            .into_iter()
            .filter(|op| op.is_mutation())
            .collect();
        assert_eq!(mutations.len(), 15, "{mutations:?}");
        assert!(Operation::UpdateMediaStorageConfiguration.is_mutation());
        assert!(Operation::UntagResource.is_mutation());
        assert!(!Operation::DescribeStream.is_mutation());
        assert!(!Operation::ListTagsForResource.is_mutation());
        assert!(!Operation::AssumeRole.is_mutation());
    }

    #[test]
    fn published_quotas() {
        assert_eq!(Operation::DescribeStream.default_account_tps(), Some(300));
        assert_eq!(
            Operation::UpdateMediaStorageConfiguration.default_account_tps(),
            Some(10)
        );
        assert_eq!(Operation::AssumeRole.default_account_tps(), None);
        assert!(!Operation::GetSignalingChannelEndpoint.is_per_resource());
        assert!(Operation::UntagResource.is_per_resource());
        assert!(!Operation::CreateStream.is_per_resource());
    }
}
