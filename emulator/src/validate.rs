//! Input constraints of the AWS model (lengths, patterns, ranges, enums), reported the way
//! AWS services do: `N validation errors detected: Value '…' at 'field' failed to satisfy
//! constraint: …`, as an `InvalidArgumentException`.
//!
//! Patterns are matched against the whole value: the model's `[a-zA-Z0-9_.-]+` means a
//! name made only of those characters.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::ApiError;

/// A compiled, fully anchored model pattern.
pub struct Pattern {
    /// The pattern as the model writes it, quoted in error messages.
    source: &'static str,
    /// `None` only if a constant below has a typo, which the unit tests catch.
    regex: Option<Regex>,
}

impl Pattern {
    fn new(source: &'static str, regex: &str) -> Pattern {
        let regex = Regex::new(&format!("^(?:{regex})$")).ok();
        Pattern { source, regex }
    }

    fn matches(&self, value: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(value))
    }
}

macro_rules! pattern {
    ($name:ident, $source:expr) => {
        pattern!($name, $source, $source);
    };
    ($name:ident, $source:expr, $regex:expr) => {
        pub static $name: LazyLock<Pattern> = LazyLock::new(|| Pattern::new($source, $regex));
    };
}

pattern!(NAME, r"[a-zA-Z0-9_.-]+");
// The model's `\w` and `\d` are Java's ASCII classes, spelled out for the regex crate.
pattern!(
    MEDIA_TYPE,
    r"[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*",
    r"[a-zA-Z0-9_\-\.\+]+/[a-zA-Z0-9_\-\.\+]+(,[a-zA-Z0-9_\-\.\+]+/[a-zA-Z0-9_\-\.\+]+)*"
);
pattern!(KMS_KEY_ID, r".+");
pattern!(
    RESOURCE_ARN,
    r"arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+",
    r"arn:[a-z0-9-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+"
);
pattern!(VERSION, r"[a-zA-Z0-9]+");
pattern!(NEXT_TOKEN, r"[a-zA-Z0-9+/=]*");
pattern!(TAG, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*");

pattern!(
    DESTINATION_URI,
    r"^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$",
    r"[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)"
);
pattern!(
    DESTINATION_REGION,
    r"^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$",
    r"[a-z]+(-[a-z]+)?-[a-z]+-[0-9]"
);
pattern!(FORMAT_CONFIG_VALUE, r"^[a-zA-Z_0-9]+", r"[a-zA-Z_0-9]+");

// STS (`sts/2011-06-15`), `\w` and `\d` spelled out as ASCII.
pattern!(
    STS_ARN,
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+",
    r"[\t\n\r\x20-\x7E\x{85}\x{A0}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]+"
);
pattern!(ROLE_SESSION_NAME, r"[\w+=,.@-]*", r"[a-zA-Z0-9_+=,.@-]*");
pattern!(EXTERNAL_ID, r"[\w+=,.@:\/-]*", r"[a-zA-Z0-9_+=,.@:/-]*");
pattern!(
    SESSION_POLICY,
    r"[\u0009\u000A\u000D\u0020-\u00FF]+",
    r"[\t\n\r\x20-\x{FF}]+"
);
pattern!(SERIAL_NUMBER, r"[\w+=/:,.@-]*", r"[a-zA-Z0-9_+=/:,.@-]*");
pattern!(TOKEN_CODE, r"[\d]*", r"[0-9]*");

/// Largest 32-bit integer, the range of the model's `integer` shapes.
const INT_MAX: i64 = i32::MAX as i64;

/// Collects every constraint violation of one request before answering.
#[derive(Default)]
pub struct Violations {
    messages: Vec<String>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: &str, field: &str, constraint: &str) {
        self.messages.push(format!(
            "Value {value} at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Records a missing required member.
    pub fn required<T>(&mut self, field: &str, value: &Option<T>) {
        if value.is_none() {
            self.push("null", field, "Member must not be null");
        }
    }

    /// Checks an optional string member's length and pattern.
    pub fn string(
        &mut self,
        field: &str,
        value: Option<&str>,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
    ) {
        let Some(value) = value else { return };
        // Formatted only for a violation: every valid member of every call passes here.
        let quoted = || format!("'{value}'");
        let length = value.chars().count();
        if length < min {
            self.push(
                &quoted(),
                field,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if length > max {
            self.push(
                &quoted(),
                field,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
        if let Some(pattern) = pattern
            && length > 0
            && !pattern.matches(value)
        {
            self.push(
                &quoted(),
                field,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    pattern.source
                ),
            );
        }
    }

    /// Checks a `CurrentVersion` member (the model's `Version`: 1–64 of `[a-zA-Z0-9]+`).
    pub fn version(&mut self, value: Option<&str>) {
        self.string("currentVersion", value, 1, 64, Some(&VERSION));
    }

    /// Checks an optional integer member's range (and that it fits the model's int32).
    pub fn integer(&mut self, field: &str, value: Option<i64>, min: i64, max: Option<i64>) {
        let Some(value) = value else { return };
        // Formatted only for a violation: every valid member of every call passes here.
        let quoted = || format!("'{value}'");
        if value < min {
            self.push(
                &quoted(),
                field,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        let max = max.unwrap_or(INT_MAX);
        if value > max {
            self.push(
                &quoted(),
                field,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// Checks an optional enum member against its allowed values.
    pub fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) {
        let Some(value) = value else { return };
        if !allowed.contains(&value) {
            self.push(
                &format!("'{value}'"),
                field,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// Checks the keys and values of a tag map (the count is a service rule, checked
    /// where it applies).
    pub fn tags(&mut self, field: &str, tags: Option<&BTreeMap<String, String>>) {
        let Some(tags) = tags else { return };
        if tags.is_empty() {
            self.push(
                "'{}'",
                field,
                "Member must have length greater than or equal to 1",
            );
        }
        for (key, value) in tags {
            // The field names are formatted only for a violation.
            if !satisfies(key, 1, 128, &TAG) {
                self.tag_key(&format!("{field}.key"), key);
            }
            if !satisfies(value, 0, 256, &TAG) {
                self.string(&format!("{field}.{key}"), Some(value), 0, 256, Some(&TAG));
            }
        }
    }

    /// Checks a list of `{Key, Value}` tags (at least `min`, at most 50 members are the
    /// model's bounds; more than 50 is left to the tag limit, which answers
    /// TagsPerResourceExceededLimitException) and answers them as a map, later keys
    /// winning.
    pub fn tag_list(
        &mut self,
        field: &str,
        tags: Option<&[crate::wire::TagInput]>,
        min: usize,
    ) -> BTreeMap<String, String> {
        let Some(tags) = tags else {
            return BTreeMap::new();
        };
        if tags.len() < min {
            self.push(
                "'[]'",
                field,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        let mut map = BTreeMap::new();
        for (index, tag) in tags.iter().enumerate() {
            let member = format!("{field}.{}.member", index + 1);
            self.required(&format!("{member}.key"), &tag.key);
            self.required(&format!("{member}.value"), &tag.value);
            if let Some(key) = &tag.key {
                self.tag_key(&format!("{member}.key"), key);
            }
            self.string(
                &format!("{member}.value"),
                tag.value.as_deref(),
                0,
                256,
                Some(&TAG),
            );
            if let (Some(key), Some(value)) = (&tag.key, &tag.value) {
                map.insert(key.clone(), value.clone());
            }
        }
        map
    }

    /// Checks a list of tag keys.
    pub fn tag_keys(&mut self, field: &str, keys: Option<&[String]>) {
        let Some(keys) = keys else { return };
        if keys.is_empty() {
            self.push(
                "'[]'",
                field,
                "Member must have length greater than or equal to 1",
            );
        }
        if keys.len() > 50 {
            self.push(
                &format!("'[{} keys]'", keys.len()),
                field,
                "Member must have length less than or equal to 50",
            );
        }
        for key in keys {
            self.tag_key(&format!("{field}.member"), key);
        }
    }

    fn tag_key(&mut self, field: &str, key: &str) {
        self.string(field, Some(key), 1, 128, Some(&TAG));
    }

    /// Records a value that is not of the member's type (the query protocol sends
    /// every value as text).
    pub fn not_integer(&mut self, field: &str, value: &str) {
        self.push(&format!("'{value}'"), field, "Member must be an integer");
    }

    /// Records a list with fewer members than required.
    pub fn list_min(&mut self, field: &str, length: usize, min: usize) {
        if length < min {
            self.push(
                &format!("'[{length} members]'"),
                field,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
    }

    /// Records a list with more members than allowed.
    pub fn list_length(&mut self, field: &str, length: usize, max: usize) {
        if length > max {
            self.push(
                &format!("'[{length} members]'"),
                field,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// `Ok` when nothing was recorded, else one `InvalidArgumentException` listing all.
    pub fn finish(self) -> Result<(), ApiError> {
        self.finish_as(ApiError::invalid_argument)
    }

    /// Like [`Violations::finish`], with the error `make` builds (STS: ValidationError).
    pub fn finish_as(self, make: fn(String) -> ApiError) -> Result<(), ApiError> {
        match self.messages.len() {
            0 => Ok(()),
            1 => Err(make(format!(
                "1 validation error detected: {}",
                self.messages[0]
            ))),
            n => Err(make(format!(
                "{n} validation errors detected: {}",
                self.messages.join("; ")
            ))),
        }
    }
}

/// Whether `value` meets a string member's length and pattern (the check of
/// [`Violations::string`], without recording anything).
fn satisfies(value: &str, min: usize, max: usize, pattern: &Pattern) -> bool {
    let length = value.chars().count();
    (min..=max).contains(&length) && (length == 0 || pattern.matches(value))
}

/// The common members that address one stream.
pub fn stream_address(v: &mut Violations, name: Option<&str>, arn: Option<&str>) {
    v.string("streamName", name, 1, 256, Some(&NAME));
    v.string("streamARN", arn, 1, 1024, Some(&RESOURCE_ARN));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        field: &str,
        value: &str,
        min: usize,
        max: usize,
        p: &Pattern,
    ) -> Result<(), ApiError> {
        let mut v = Violations::new();
        v.string(field, Some(value), min, max, Some(p));
        v.finish()
    }

    #[test]
    fn patterns_compile_and_match_whole_values() {
        for p in [
            &NAME,
            &MEDIA_TYPE,
            &KMS_KEY_ID,
            &RESOURCE_ARN,
            &VERSION,
            &NEXT_TOKEN,
            &TAG,
            &STS_ARN,
            &ROLE_SESSION_NAME,
            &EXTERNAL_ID,
            &SESSION_POLICY,
            &SERIAL_NUMBER,
            &TOKEN_CODE,
            &DESTINATION_URI,
            &DESTINATION_REGION,
            &FORMAT_CONFIG_VALUE,
        ] {
            assert!(p.regex.is_some(), "{} must compile", p.source);
        }
        assert!(NAME.matches("front-door_cam.1"));
        assert!(!NAME.matches("front door"));
        assert!(!NAME.matches("a/b"));
        assert!(MEDIA_TYPE.matches("video/h264"));
        assert!(MEDIA_TYPE.matches("video/h264,audio/aac"));
        assert!(!MEDIA_TYPE.matches("video"));
        assert!(!MEDIA_TYPE.matches("vidéo/h264"));
        assert!(
            RESOURCE_ARN
                .matches("arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam/1700000000000")
        );
        assert!(!RESOURCE_ARN.matches("arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam"));
        assert!(TAG.matches("Équipe: sécurité/π=3.14 @home+1"));
        assert!(!TAG.matches("semi;colon"));
        assert!(!KMS_KEY_ID.matches("line\nbreak"));
        assert!(NEXT_TOKEN.matches(""));
        assert!(DESTINATION_URI.matches("s3://bucket/prefix/x"));
        assert!(DESTINATION_URI.matches("arn:aws:sns:us-west-2:123456789012:topic"));
        assert!(!DESTINATION_URI.matches("s3://bucket/*"));
        assert!(DESTINATION_REGION.matches("us-gov-west-1"));
        assert!(!DESTINATION_REGION.matches("uswest2"));
        assert!(STS_ARN.matches("arn:aws:iam::111111111111:role/r"));
        assert!(!STS_ARN.matches("bell\u{7}"));
        assert!(ROLE_SESSION_NAME.matches("kvs-operator@cluster.1"));
        assert!(!ROLE_SESSION_NAME.matches("a b"));
        assert!(EXTERNAL_ID.matches("urn:cluster/1"));
        assert!(!EXTERNAL_ID.matches("x;y"));
    }

    #[test]
    fn messages_name_the_field_and_count_violations() {
        let err = check("streamName", "bad name", 1, 256, &NAME).unwrap_err();
        assert_eq!(err.code, "InvalidArgumentException");
        assert!(
            err.message
                .starts_with("1 validation error detected: Value 'bad name' at 'streamName'")
        );
        let mut v = Violations::new();
        v.required::<String>("currentVersion", &None);
        v.integer("dataRetentionInHours", Some(-1), 0, None);
        let err = v.finish().unwrap_err();
        assert!(
            err.message.starts_with("2 validation errors detected"),
            "{}",
            err.message
        );
        assert!(err.message.contains("'currentVersion'"));
        assert!(err.message.contains("'dataRetentionInHours'"));
    }

    #[test]
    fn lengths_count_characters() {
        assert!(check("k", &"é".repeat(128), 1, 128, &TAG).is_ok());
        assert!(check("k", &"é".repeat(129), 1, 128, &TAG).is_err());
        assert!(check("k", "", 1, 128, &TAG).is_err());
    }
}
