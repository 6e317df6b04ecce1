//! GetSignalingChannelEndpoint: one endpoint per protocol asked for, for a role.

use serde_json::json;

use super::inputs::EndpointInput;
use crate::model::snapshot::{MediaStorageStatus, StreamStatus};
use crate::services::handler::Context;
use crate::state::registry::{Address, ArnCheck};
use crate::wire::error::ApiError;
use crate::wire::rest_json::encode;

/// One endpoint per protocol asked for, in order (WSS and HTTPS when the request names
/// none), for the MASTER role unless it names VIEWER. WEBRTC needs media storage ENABLED.
pub fn get(input: EndpointInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let arn = input.channel_arn.as_deref().unwrap_or_default();
    let channel = ctx.channels.get_live(Address::arn(arn), ArnCheck::Plain)?;
    if channel.status == StreamStatus::Creating {
        return Err(ApiError::resource_in_use(format!(
            "The signaling channel {} is CREATING.",
            channel.name
        )));
    }
    let default = ["WSS".to_owned(), "HTTPS".to_owned()];
    let mut asked: Vec<&str> = Vec::new();
    for protocol in input.protocols().unwrap_or(&default) {
        if !asked.contains(&protocol.as_str()) {
            asked.push(protocol);
        }
    }
    let storing = channel.details.media_storage.status == MediaStorageStatus::Enabled;
    if asked.contains(&"WEBRTC") && !storing {
        return Err(ApiError::invalid_argument(format!(
            "The signaling channel {} is not configured for ingestion (its media storage is \
             DISABLED), so it has no WEBRTC endpoint.",
            channel.name
        )));
    }
    let role = input.role().unwrap_or("MASTER");
    let endpoints: Vec<serde_json::Value> = asked
        .into_iter()
        .map(|protocol| {
            json!({
                "Protocol": protocol,
                "ResourceEndpoint": ctx.channels.channel_endpoint(channel, protocol, role),
            })
        })
        .collect();
    encode(&json!({ "ResourceEndpointList": endpoints }))
}
