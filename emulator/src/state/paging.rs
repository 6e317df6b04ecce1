//! Pages of name-ordered listings (ListStreams, ListSignalingChannels) and of tags, with
//! the key to continue after, and the opaque NextTokens that carry that key.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::wire::error::ApiError;

/// One page of a listing and the key to continue after, if there is more.
pub struct Page<T> {
    pub items: Vec<T>,
    pub last_key: Option<String>,
}

impl<T> Page<T> {
    /// The NextToken that continues after this page, if there is more.
    pub fn next_token(&self) -> Option<String> {
        self.last_key.as_deref().map(encode_token)
    }
}

/// NextTokens are the hex of the last key returned: opaque, within the model's
/// `[a-zA-Z0-9+/=]*` and at most 1024 characters for keys of up to 512 bytes.
pub fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key a NextToken continues after (`None` for no token or an empty one).
pub fn decode_token(token: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let invalid = || ApiError::invalid_argument(format!("NextToken {token} is not valid."));
    if token.len() % 2 != 0 {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    String::from_utf8(bytes).map(Some).map_err(|_| invalid())
}

/// Values of `map` in key order, starting after `after`, whose keys begin with
/// `prefix`; at most `max`.
pub fn by_name<'a, T>(
    map: &'a BTreeMap<String, T>,
    prefix: &str,
    after: Option<&str>,
    max: usize,
) -> Page<&'a T> {
    let start = match after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    };
    let mut entries: Vec<(&String, &T)> = map
        .range::<str, _>((start, Bound::Unbounded))
        .take_while(|(name, _)| name.starts_with(prefix))
        .take(max.saturating_add(1))
        .collect();
    let last_key = truncate(&mut entries, max);
    Page {
        items: entries.into_iter().map(|(_, value)| value).collect(),
        last_key,
    }
}

/// Tags in key order, starting after `after`; at most `page_size`.
pub fn tags<'a>(
    tags: &'a BTreeMap<String, String>,
    after: Option<&str>,
    page_size: usize,
) -> Page<(&'a String, &'a String)> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut items: Vec<(&String, &String)> = tags
        .range::<str, _>((start, Bound::Unbounded))
        .take(page_size.saturating_add(1))
        .collect();
    let last_key = truncate(&mut items, page_size);
    Page { items, last_key }
}

/// Cuts `items` (one more than a page, when there is more) to `max`, answering the
/// last key kept when something was cut.
fn truncate<T>(items: &mut Vec<(&String, T)>, max: usize) -> Option<String> {
    if items.len() <= max {
        return None;
    }
    items.truncate(max);
    items.last().map(|(key, _)| (*key).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for key in ["", "cam-1", "Équipe/π"] {
            let token = encode_token(key);
            assert!(token.len() <= 1024);
            if !key.is_empty() {
                assert_eq!(decode_token(Some(&token)).unwrap().as_deref(), Some(key));
            }
        }
        assert_eq!(decode_token(Some("")).unwrap(), None);
        assert!(decode_token(Some("abc")).is_err());
        assert!(decode_token(Some("zz")).is_err());
        assert!(decode_token(Some("ff")).is_err());
    }

    #[test]
    fn pages_stop_at_the_prefix_and_resume_after_the_key() {
        let map: BTreeMap<String, u8> = ["a", "b1", "b2", "b3", "c"]
            .into_iter()
            .map(|k| (k.to_owned(), 0))
            .collect();
        let page = by_name(&map, "b", None, 2);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.last_key.as_deref(), Some("b2"));
        let rest = by_name(&map, "b", page.last_key.as_deref(), 2);
        assert_eq!((rest.items.len(), rest.last_key), (1, None));
        // A key before the prefix starts at the prefix.
        assert_eq!(by_name(&map, "b", Some("a"), 10).items.len(), 3);
    }
}
