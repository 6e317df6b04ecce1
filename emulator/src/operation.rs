//! The KVS control-plane operations the emulator serves, and the HTTP path of each.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One control-plane operation of the stream API, named as in the AWS model.
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
}

impl Operation {
    /// Every operation, in model order.
    pub const ALL: [Operation; 12] = [
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
        }
    }

    /// The model's `requestUri`, e.g. `/describeStream`.
    pub fn path(self) -> &'static str {
        match self {
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
        }
    }

    /// The operation served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.path() == path)
    }

    /// Whether the call addresses one existing stream, and so also counts against the
    /// per-stream quota.
    pub fn is_per_stream(self) -> bool {
        !matches!(self, Operation::CreateStream | Operation::ListStreams)
    }

    /// The published KVS control-plane quota in calls per second per account and region.
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
        assert_eq!(Operation::CreateStream.path(), "/createStream");
        assert_eq!(
            Operation::DescribeStreamStorageConfiguration.path(),
            "/describeStreamStorageConfiguration"
        );
        for op in Operation::ALL {
            assert_eq!(Operation::from_path(op.path()), Some(op));
        }
        assert_eq!(Operation::from_path("/CreateStream"), None);
        assert_eq!(Operation::from_path("/listTagsForResource"), None);
    }
}
