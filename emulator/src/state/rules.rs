//! The service's rules that streams and signaling channels share and that depend on no
//! store: the tag limit and reserved keys, versions, and what a create must find.

use std::collections::BTreeMap;

use crate::model::resource::Kind;
use crate::wire::error::ApiError;

/// Tags per resource (stream or signaling channel).
pub const MAX_TAGS: usize = 50;
/// AWS reserves tag keys with this prefix (case-insensitive) for itself.
const RESERVED_TAG_PREFIX: &str = "aws:";

fn too_many_tags(kind: Kind, count: usize) -> ApiError {
    ApiError::too_many_tags(format!(
        "The {} would have {count} tags; at most {MAX_TAGS} are allowed.",
        kind.noun()
    ))
}

/// The checks of a create before anything changes: the name is free (a resource being
/// deleted still holds it), at most 50 tags without reserved keys, and room under the
/// account's limit of `existing`'s kind.
pub fn check_create<T>(
    kind: Kind,
    name: &str,
    tags: &BTreeMap<String, String>,
    allow_reserved_tags: bool,
    existing: &BTreeMap<String, T>,
    max: Option<usize>,
) -> Result<(), ApiError> {
    let what = kind.noun();
    if existing.contains_key(name) {
        return Err(ApiError::resource_in_use(format!(
            "The {what} {name} already exists."
        )));
    }
    if tags.len() > MAX_TAGS {
        return Err(too_many_tags(kind, tags.len()));
    }
    check_reserved_keys(tags.keys(), allow_reserved_tags)?;
    if let Some(max) = max
        && existing.len() >= max
    {
        let message = format!("The account already has {max} {what}s in this region, its limit.");
        return Err(match kind {
            Kind::Stream => ApiError::account_stream_limit(message),
            Kind::Channel => ApiError::account_channel_limit(message),
        });
    }
    Ok(())
}

/// Adds or overwrites `tags`, unless the resource would then have more than 50.
pub fn add_tags(
    existing: &mut BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    kind: Kind,
) -> Result<(), ApiError> {
    let after = existing.len() + tags.keys().filter(|k| !existing.contains_key(*k)).count();
    if after > MAX_TAGS {
        return Err(too_many_tags(kind, after));
    }
    existing.extend(tags);
    Ok(())
}

/// Refuses keys with the `aws:` prefix, unless the settings allow them.
pub fn check_reserved_keys<'a>(
    mut keys: impl Iterator<Item = &'a String>,
    allowed: bool,
) -> Result<(), ApiError> {
    if allowed {
        return Ok(());
    }
    match keys.find(|key| {
        key.get(..RESERVED_TAG_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_TAG_PREFIX))
    }) {
        Some(key) => Err(ApiError::invalid_argument(format!(
            "Tag key {key} uses the prefix aws:, which is reserved for AWS use."
        ))),
        None => Ok(()),
    }
}

/// A fresh version: 20 random alphanumeric characters (model: `[a-zA-Z0-9]+`, ≤ 64).
pub fn new_version() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(20)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_case_insensitive() {
        let keys = ["team".to_owned(), "AWS:x".to_owned()];
        assert!(check_reserved_keys(keys.iter(), false).is_err());
        assert!(check_reserved_keys(keys.iter(), true).is_ok());
        assert!(check_reserved_keys(keys[..1].iter(), false).is_ok());
    }

    #[test]
    fn tag_limit_counts_new_keys_only() {
        let mut tags: BTreeMap<String, String> =
            (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        let overwrite = BTreeMap::from([("k0".to_owned(), "x".to_owned())]);
        assert!(add_tags(&mut tags, overwrite, Kind::Stream).is_ok());
        let more = BTreeMap::from([("new".to_owned(), String::new())]);
        let err = add_tags(&mut tags, more, Kind::Channel).unwrap_err();
        assert_eq!(err.code, "TagsPerResourceExceededLimitException");
        assert!(err.message.contains("signaling channel"), "{}", err.message);
    }
}
