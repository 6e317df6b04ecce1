//! The operations the emulator serves: the KVS control plane (rest-json, one path each)
//! and STS (query protocol, `POST /` with an `Action`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One operation, named as in its AWS model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operation {
    CreateStream,
    DescribeStream,
    ListStreams,
    UpdateStream,
    UpdateDataRetention,
    TagStream,
    UntagStream,
    ListTagsForStream,
    DeleteStream,
    GetDataEndpoint,
    DescribeStreamStorageConfiguration,
    UpdateStreamStorageConfiguration,
    /// STS.
    AssumeRole,
    /// STS.
    GetCallerIdentity,
}

impl Operation {
    /// Every operation: KVS in model order, then STS.
    pub const ALL: [Operation; 14] = [
        Operation::CreateStream,
        Operation::DescribeStream,
        Operation::ListStreams,
        Operation::UpdateStream,
        Operation::UpdateDataRetention,
        Operation::TagStream,
        Operation::UntagStream,
        Operation::ListTagsForStream,
        Operation::DeleteStream,
        Operation::GetDataEndpoint,
        Operation::DescribeStreamStorageConfiguration,
        Operation::UpdateStreamStorageConfiguration,
        Operation::AssumeRole,
        Operation::GetCallerIdentity,
    ];

    /// The operation's name in the AWS model, e.g. `DescribeStream`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateStream => "CreateStream",
            Operation::DescribeStream => "DescribeStream",
            Operation::ListStreams => "ListStreams",
            Operation::UpdateStream => "UpdateStream",
            Operation::UpdateDataRetention => "UpdateDataRetention",
            Operation::TagStream => "TagStream",
            Operation::UntagStream => "UntagStream",
            Operation::ListTagsForStream => "ListTagsForStream",
            Operation::DeleteStream => "DeleteStream",
            Operation::GetDataEndpoint => "GetDataEndpoint",
            Operation::DescribeStreamStorageConfiguration => "DescribeStreamStorageConfiguration",
            Operation::UpdateStreamStorageConfiguration => "UpdateStreamStorageConfiguration",
            Operation::AssumeRole => "AssumeRole",
            Operation::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// Whether this is an STS operation (query protocol on `/`).
    pub fn is_sts(self) -> bool {
        matches!(self, Operation::AssumeRole | Operation::GetCallerIdentity)
    }

    /// The STS operation named by a query `Action`.
    pub fn from_action(action: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.is_sts() && op.name() == action)
    }

    /// The rest-json `requestUri` of a KVS operation, e.g. `/describeStream`; `None` for
    /// STS, which is served on `/`.
    pub fn path(self) -> Option<&'static str> {
        Some(match self {
            Operation::CreateStream => "/createStream",
            Operation::DescribeStream => "/describeStream",
            Operation::ListStreams => "/listStreams",
            Operation::UpdateStream => "/updateStream",
            Operation::UpdateDataRetention => "/updateDataRetention",
            Operation::TagStream => "/tagStream",
            Operation::UntagStream => "/untagStream",
            Operation::ListTagsForStream => "/listTagsForStream",
            Operation::DeleteStream => "/deleteStream",
            Operation::GetDataEndpoint => "/getDataEndpoint",
            Operation::DescribeStreamStorageConfiguration => "/describeStreamStorageConfiguration",
            Operation::UpdateStreamStorageConfiguration => "/updateStreamStorageConfiguration",
            Operation::AssumeRole | Operation::GetCallerIdentity => return None,
        })
    }

    /// The KVS operation served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.path() == Some(path))
    }

    /// Whether the call addresses one existing stream, and so also counts against the
    /// per-stream quota.
    pub fn is_per_stream(self) -> bool {
        !matches!(self, Operation::CreateStream | Operation::ListStreams) && !self.is_sts()
    }

    /// The published KVS control-plane quota in calls per second per account and region
    /// (STS operations get none by default: see `Quotas::account_tps`).
    pub fn default_account_tps(self) -> u32 {
        match self {
            Operation::DescribeStream | Operation::GetDataEndpoint => 300,
            _ => 50,
        }
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
        for op in Operation::ALL {
            match op.path() {
                Some(path) => assert_eq!(Operation::from_path(path), Some(op)),
                None => assert_eq!(Operation::from_action(op.name()), Some(op)),
            }
        }
        assert_eq!(Operation::from_path("/"), None);
        assert_eq!(Operation::from_action("CreateStream"), None);
        assert_eq!(Operation::from_path("/CreateStream"), None);
        assert_eq!(Operation::from_path("/listTagsForResource"), None);
    }
}
