//! A small map of strings (tags, endpoints) as the cached objects hold it.
//!
//! The reflector keeps every VideoStream in memory. A `BTreeMap` allocates a node of about
//! 550 bytes however few entries it has, and a VideoStream carries two such maps (its tags,
//! its data endpoints) with one to a handful of entries each: about 1 KB an object, 10 MB at
//! 10,000. Sorted pairs in one boxed slice take a few dozen bytes for the same entries. On
//! the wire and in the schema it is a plain JSON object, exactly like the map it replaces.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// String keys to string values, sorted by key, each key once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StringMap(Box<[(String, String)]>);

impl StringMap {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same entries as a `BTreeMap`, for code that edits or merges them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl From<BTreeMap<String, String>> for StringMap {
    fn from(map: BTreeMap<String, String>) -> Self {
        // A BTreeMap iterates sorted and without repeats: the invariant holds as collected.
        Self(map.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, String); N]> for StringMap {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// Later entries win over earlier ones with the same key, as in a `BTreeMap`.
impl FromIterator<(String, String)> for StringMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        BTreeMap::from_iter(pairs).into()
    }
}

impl std::ops::Index<&str> for StringMap {
    type Output = String;

    /// Panics when `key` is absent, like a map's index (tests use it).
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no entry {key:?}"),
        }
    }
}

impl fmt::Debug for StringMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for StringMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Self::from)
    }
}

impl schemars::JsonSchema for StringMap {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        BTreeMap::<String, String>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        BTreeMap::<String, String>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn entries_are_sorted_once_each_with_the_last_value_winning() {
        let map: StringMap = pairs(&[("b", "1"), ("a", "2"), ("b", "3")])
            .into_iter()
            .collect();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(map.get("b").map(String::as_str), Some("3"));
        assert_eq!(map.get("c"), None);
        assert!(map.contains_key("a"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn it_reads_and_writes_the_same_json_as_a_map() {
        let map: StringMap = pairs(&[("PUT_MEDIA", "https://p"), ("GET_MEDIA", "https://g")])
            .into_iter()
            .collect();
        let json = serde_json::to_string(&map).unwrap();
        let as_map: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
        assert_eq!(json, serde_json::to_string(&as_map).unwrap());
        assert_eq!(serde_json::from_str::<StringMap>(&json).unwrap(), map);
        assert_eq!(map.to_map(), as_map);
        assert_eq!(
            schemars::schema_for!(StringMap).as_value()["additionalProperties"],
            schemars::schema_for!(BTreeMap<String, String>).as_value()["additionalProperties"]
        );
    }

    #[test]
    fn a_json_value_that_is_not_a_map_of_strings_is_refused() {
        assert!(serde_json::from_str::<StringMap>(r#"{"a": 1}"#).is_err());
        assert!(serde_json::from_str::<StringMap>(r#"["a"]"#).is_err());
    }
}
