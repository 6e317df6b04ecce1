//! Pages of name-ordered listings (ListStreams, ListSignalingChannels) and of tags, with
//! the key to continue after.

use std::collections::BTreeMap;
use std::ops::Bound;

/// One page of a listing and the key to continue after, if there is more.
pub struct Page<T> {
    pub items: Vec<T>,
    pub last_key: Option<String>,
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
