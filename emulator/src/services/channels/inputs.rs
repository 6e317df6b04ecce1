//! The input shapes of the signaling-channel operations, member by member as the model
//! writes them: name, whether required, and the shape whose constraints validation checks.

use crate::services::listing::NameCondition;
use crate::services::validate::{
    CHANNEL_NAME, Enum, LIST_LIMIT, List, MESSAGE_TTL_SECONDS, NEXT_TOKEN, RESOURCE_ARN, Structure,
    TagInput, TagList, VERSION,
};
use crate::state::registry::Address;

static CHANNEL_TYPES: Enum = Enum(&["SINGLE_MASTER", "FULL_MESH"]);
static PROTOCOLS: List<Enum> = List {
    min: 1,
    max: 5,
    member: &Enum(&["WSS", "HTTPS", "WEBRTC"]),
};
static ROLES: Enum = Enum(&["MASTER", "VIEWER"]);
static STATUSES: Enum = Enum(&["ENABLED", "DISABLED"]);

input! {
    pub struct SingleMasterConfiguration {
        message_ttl_seconds: i64 = "MessageTtlSeconds", optional MESSAGE_TTL_SECONDS;
    }
}

impl SingleMasterConfiguration {
    /// The TTL a configuration gives, if any.
    pub fn ttl(config: Option<&SingleMasterConfiguration>) -> Option<u32> {
        config
            .and_then(|c| c.message_ttl_seconds)
            .and_then(|t| u32::try_from(t).ok())
    }
}

input! {
    /// DescribeSignalingChannel and DescribeMediaStorageConfiguration: a channel only.
    pub struct ChannelAddressInput {
        channel_name: String = "ChannelName", optional CHANNEL_NAME;
        channel_arn: String = "ChannelARN", optional RESOURCE_ARN;
    }
}

impl ChannelAddressInput {
    /// The channel the input names.
    pub fn address(&self) -> Address<'_> {
        Address {
            name: self.channel_name.as_deref(),
            arn: self.channel_arn.as_deref(),
        }
    }
}

input! {
    pub struct CreateInput {
        channel_name: String = "ChannelName", required CHANNEL_NAME;
        channel_type: String = "ChannelType", optional CHANNEL_TYPES;
        single_master_configuration: SingleMasterConfiguration = "SingleMasterConfiguration",
            optional Structure;
        tags: Vec<TagInput> = "Tags", optional TagList { min: 0 };
    }
}

input! {
    pub struct ListInput {
        max_results: i64 = "MaxResults", optional LIST_LIMIT;
        next_token: String = "NextToken", optional NEXT_TOKEN;
        channel_name_condition: NameCondition = "ChannelNameCondition", optional Structure;
    }
}

input! {
    pub struct UpdateInput {
        channel_arn: String = "ChannelARN", required RESOURCE_ARN;
        current_version: String = "CurrentVersion", required VERSION;
        single_master_configuration: SingleMasterConfiguration = "SingleMasterConfiguration",
            optional Structure;
    }
}

input! {
    pub struct DeleteInput {
        channel_arn: String = "ChannelARN", required RESOURCE_ARN;
        current_version: String = "CurrentVersion", optional VERSION;
    }
}

input! {
    pub struct EndpointConfiguration {
        protocols: Vec<String> = "Protocols", optional PROTOCOLS;
        role: String = "Role", optional ROLES;
    }
}

input! {
    pub struct EndpointInput {
        channel_arn: String = "ChannelARN", required RESOURCE_ARN;
        single_master_channel_endpoint_configuration: EndpointConfiguration =
            "SingleMasterChannelEndpointConfiguration", optional Structure;
    }
}

impl EndpointInput {
    /// The protocols asked for, if any.
    pub fn protocols(&self) -> Option<&[String]> {
        let config = self.single_master_channel_endpoint_configuration.as_ref();
        config.and_then(|c| c.protocols.as_deref())
    }

    /// The role asked for, if any.
    pub fn role(&self) -> Option<&str> {
        let config = self.single_master_channel_endpoint_configuration.as_ref();
        config.and_then(|c| c.role.as_deref())
    }
}

input! {
    pub struct MediaStorageInput {
        status: String = "Status", required STATUSES;
        stream_arn: String = "StreamARN", optional RESOURCE_ARN;
    }
}

input! {
    pub struct UpdateMediaStorageInput {
        channel_arn: String = "ChannelARN", required RESOURCE_ARN;
        media_storage_configuration: MediaStorageInput = "MediaStorageConfiguration",
            required Structure;
    }
}
