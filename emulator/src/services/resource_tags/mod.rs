//! The resource-tag service: TagResource, UntagResource and ListTagsForResource, the tags
//! of a stream or a signaling channel by its ARN (a stream's tags are the ones TagStream
//! manages). The input shapes are in `inputs`.

mod inputs;

use self::inputs::{ListTagsForResourceInput, TagResourceInput, UntagResourceInput};
use super::handler::{Context, Route};
use super::listing::tags_page;
use super::validate::tag_map;
use crate::model::arn::arn_parts;
use crate::model::resource::Kind;
use crate::state::paging::{self, decode_token};
use crate::state::registry::{Address, ArnCheck, TagChange};
use crate::wire::error::ApiError;
use crate::wire::rest_json::empty;

/// The resource-tag operations and their handlers.
pub const OPERATIONS: &[Route] = &[
    route!(TagResource, tag),
    route!(UntagResource, untag),
    route!(ListTagsForResource, list),
];

/// The kind a ResourceARN names.
fn kind_of(arn: &str) -> Result<Kind, ApiError> {
    arn_parts(arn)
        .and_then(|(resource_type, _)| Kind::parse(resource_type))
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "The ARN {arn} identifies neither a stream nor a signaling channel."
            ))
        })
}

pub fn tag(input: TagResourceInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let change = TagChange::Add(tag_map(input.tags.as_deref()));
    retag(input.resource_arn.as_deref(), change, ctx)
}

pub fn untag(input: UntagResourceInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let keys = input.tag_key_list.as_deref().unwrap_or_default();
    retag(input.resource_arn.as_deref(), TagChange::Remove(keys), ctx)
}

/// Tags or untags the stream or channel `arn` names.
fn retag(arn: Option<&str>, change: TagChange<'_>, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let arn = arn.unwrap_or_default();
    let allow = ctx.allow_reserved_tags();
    let address = Address::arn(arn);
    match kind_of(arn)? {
        Kind::Stream => ctx
            .streams
            .retag(address, ArnCheck::Tagging, change, allow)?,
        Kind::Channel => ctx
            .channels
            .retag(address, ArnCheck::Plain, change, allow)?,
    }
    empty()
}

/// ListTagsForResource: a page of the settings' tag page size; the tags of a resource
/// being deleted are gone.
pub fn list(input: ListTagsForResourceInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let arn = input.resource_arn.as_deref().unwrap_or_default();
    let after = decode_token(input.next_token.as_deref())?;
    let address = Address::arn(arn);
    let tags = match kind_of(arn)? {
        Kind::Stream => &ctx.streams.get_live(address, ArnCheck::Tagging)?.tags,
        Kind::Channel => &ctx.channels.get_live(address, ArnCheck::Plain)?.tags,
    };
    let page_size = ctx.settings.limits.tags_page_size;
    tags_page(paging::tags(tags, after.as_deref(), page_size))
}
