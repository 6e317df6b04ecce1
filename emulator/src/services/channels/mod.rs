//! The signaling-channel service over the scope's channels: the lifecycle
//! (CreateSignalingChannel to DeleteSignalingChannel, `lifecycle`), endpoints (`endpoint`)
//! and media storage into a stream (`media_storage`). The input shapes of all of them,
//! with the model's constraints, are in `inputs`.

mod endpoint;
mod inputs;
mod lifecycle;
mod media_storage;

use super::handler::Route;

/// The signaling-channel operations and their handlers.
pub const OPERATIONS: &[Route] = &[
    route!(CreateSignalingChannel, lifecycle::create),
    route!(DescribeSignalingChannel, lifecycle::describe),
    route!(ListSignalingChannels, lifecycle::list),
    route!(UpdateSignalingChannel, lifecycle::update),
    route!(DeleteSignalingChannel, lifecycle::delete),
    route!(GetSignalingChannelEndpoint, endpoint::get),
    route!(DescribeMediaStorageConfiguration, media_storage::describe),
    route!(UpdateMediaStorageConfiguration, media_storage::update),
];
