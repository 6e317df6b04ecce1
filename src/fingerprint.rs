//! A 64-bit fingerprint of a string, for maps that need to recognise a string again but not
//! read it back (resource versions, names, ARNs): 8 bytes instead of the string.

use std::hash::{DefaultHasher, Hash, Hasher};

/// The fingerprint of `text`: the same for the same text within a process.
pub fn of(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}
