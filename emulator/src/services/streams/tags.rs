//! A stream's tags by name or ARN: TagStream, UntagStream, ListTagsForStream.

use super::inputs::{Addressed, ListTagsForStreamInput, TagStreamInput, UntagStreamInput};
use crate::services::handler::Context;
use crate::services::listing::tags_page;
use crate::state::paging::{self, decode_token};
use crate::state::registry::{Address, ArnCheck, TagChange};
use crate::wire::error::ApiError;
use crate::wire::rest_json::empty;

/// TagStream: adds or overwrites tags; the stream keeps its version.
pub fn tag(input: TagStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let change = TagChange::Add(input.tags.clone().unwrap_or_default());
    retag(input.address(), change, ctx)
}

/// UntagStream: removes the keys that exist; absent keys are ignored.
pub fn untag(input: UntagStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let keys = input.tag_key_list.as_deref().unwrap_or_default();
    retag(input.address(), TagChange::Remove(keys), ctx)
}

fn retag(
    address: Address<'_>,
    change: TagChange<'_>,
    ctx: Context<'_>,
) -> Result<Vec<u8>, ApiError> {
    let allow_reserved = ctx.allow_reserved_tags();
    ctx.streams
        .retag(address, ArnCheck::Tagging, change, allow_reserved)?;
    empty()
}

/// ListTagsForStream: a page of the settings' tag page size, in key order (of a stream in
/// any state).
pub fn list(input: ListTagsForStreamInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let after = decode_token(input.next_token.as_deref())?;
    let stream = ctx.streams.get(input.address(), ArnCheck::Tagging)?;
    let page_size = ctx.settings.limits.tags_page_size;
    tags_page(paging::tags(&stream.tags, after.as_deref(), page_size))
}
