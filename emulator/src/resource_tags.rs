//! TagResource, UntagResource and ListTagsForResource: tags of a stream or a signaling
//! channel by its ARN (the stream tags are the same ones TagStream manages).

use serde::Deserialize;

use crate::error::ApiError;
use crate::handlers::{Context, check_next_token, decode_token, empty, tags_page};
use crate::paging::Page;
use crate::resource::arn_parts;
use crate::store::{ArnCheck, StreamAddress};
use crate::validate::{RESOURCE_ARN, Violations};
use crate::wire::TagInput;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TagInputs {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tags: Option<Vec<TagInput>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UntagInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tag_key_list: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ListInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub next_token: Option<String>,
}

/// What a ResourceARN names.
enum Target<'a> {
    Stream(StreamAddress<'a>),
    Channel(&'a str),
}

fn target(arn: &str) -> Result<Target<'_>, ApiError> {
    match arn_parts(arn).map(|(kind, _)| kind) {
        Some("stream") => Ok(Target::Stream(StreamAddress {
            name: None,
            arn: Some(arn),
        })),
        Some("channel") => Ok(Target::Channel(arn)),
        _ => Err(ApiError::invalid_argument(format!(
            "The ARN {arn} identifies neither a stream nor a signaling channel."
        ))),
    }
}

fn check_arn(v: &mut Violations, arn: &Option<String>) {
    v.required("resourceARN", arn);
    v.string("resourceARN", arn.as_deref(), 1, 1024, Some(&RESOURCE_ARN));
}

pub fn tag(input: TagInputs, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_arn(&mut v, &input.resource_arn);
    v.required("tags", &input.tags);
    let tags = v.tag_list("tags", input.tags.as_deref(), 1);
    v.finish()?;
    let allow_reserved = ctx.settings.limits.allow_reserved_tag_keys;
    match target(input.resource_arn.as_deref().unwrap_or_default())? {
        Target::Stream(address) => ctx.store.tag(address, tags, allow_reserved)?,
        Target::Channel(arn) => ctx.channels.tag(arn, tags, allow_reserved)?,
    }
    empty()
}

pub fn untag(input: UntagInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_arn(&mut v, &input.resource_arn);
    v.required("tagKeyList", &input.tag_key_list);
    v.tag_keys("tagKeyList", input.tag_key_list.as_deref());
    v.finish()?;
    let keys = input.tag_key_list.as_deref().unwrap_or_default();
    let allow_reserved = ctx.settings.limits.allow_reserved_tag_keys;
    match target(input.resource_arn.as_deref().unwrap_or_default())? {
        Target::Stream(address) => ctx.store.untag(address, keys, allow_reserved)?,
        Target::Channel(arn) => ctx.channels.untag(arn, keys, allow_reserved)?,
    }
    empty()
}

pub fn list(input: ListInput, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_arn(&mut v, &input.resource_arn);
    check_next_token(&mut v, input.next_token.as_deref());
    v.finish()?;
    let after = decode_token(input.next_token.as_deref())?;
    let page_size = ctx.settings.limits.tags_page_size;
    let page: Page<(&String, &String)> =
        match target(input.resource_arn.as_deref().unwrap_or_default())? {
            Target::Stream(address) => {
                // Tags of a stream being deleted are gone, as ListTagsForStream says.
                ctx.store.get_live(address, ArnCheck::Tagging)?;
                ctx.store.list_tags(address, after.as_deref(), page_size)?
            }
            Target::Channel(arn) => ctx.channels.list_tags(arn, after.as_deref(), page_size)?,
        };
    tags_page(page)
}
