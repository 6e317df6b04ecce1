//! The stream service over the scope's streams: the lifecycle (CreateStream to
//! GetDataEndpoint, `lifecycle`), tags (`tags`), the storage tier (`storage`), and the
//! image generation and notification configurations (`configurations`). The input shapes
//! of all of them, with the model's constraints, are in `inputs`.

mod configurations;
mod inputs;
mod lifecycle;
mod storage;
mod tags;

use super::handler::Route;

/// The stream operations and their handlers.
pub const OPERATIONS: &[Route] = &[
    route!(CreateStream, lifecycle::create),
    route!(DescribeStream, lifecycle::describe),
    route!(ListStreams, lifecycle::list),
    route!(UpdateStream, lifecycle::update),
    route!(UpdateDataRetention, lifecycle::update_data_retention),
    route!(DeleteStream, lifecycle::delete),
    route!(GetDataEndpoint, lifecycle::get_data_endpoint),
    route!(TagStream, tags::tag),
    route!(UntagStream, tags::untag),
    route!(ListTagsForStream, tags::list),
    route!(DescribeStreamStorageConfiguration, storage::describe),
    route!(UpdateStreamStorageConfiguration, storage::update),
    route!(
        DescribeImageGenerationConfiguration,
        configurations::describe_image_generation
    ),
    route!(
        UpdateImageGenerationConfiguration,
        configurations::update_image_generation
    ),
    route!(
        DescribeNotificationConfiguration,
        configurations::describe_notification
    ),
    route!(
        UpdateNotificationConfiguration,
        configurations::update_notification
    ),
];
