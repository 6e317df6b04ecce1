//! Input constraints of the AWS models (lengths, patterns, ranges, enums), named after the
//! model's shapes, and reported the way AWS services do: `N validation errors detected:
//! Value '…' at 'field' failed to satisfy constraint: …`, as an `InvalidArgumentException`
//! (KVS) or a `ValidationError` (STS).
//!
//! Patterns are matched against the whole value: the model's `[a-zA-Z0-9_.-]+` means a
//! name made only of those characters.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::de::DeserializeOwned;

use crate::wire::error::ApiError;

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

pattern!(NAME_PATTERN, r"[a-zA-Z0-9_.-]+");
// The model's `\w` and `\d` are Java's ASCII classes, spelled out for the regex crate.
pattern!(
    MEDIA_TYPE_PATTERN,
    r"[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*",
    r"[a-zA-Z0-9_\-\.\+]+/[a-zA-Z0-9_\-\.\+]+(,[a-zA-Z0-9_\-\.\+]+/[a-zA-Z0-9_\-\.\+]+)*"
);
pattern!(KMS_KEY_ID_PATTERN, r".+");
pattern!(
    RESOURCE_ARN_PATTERN,
    r"arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+",
    r"arn:[a-z0-9-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+"
);
pattern!(VERSION_PATTERN, r"[a-zA-Z0-9]+");
pattern!(NEXT_TOKEN_PATTERN, r"[a-zA-Z0-9+/=]*");
pattern!(TAG_PATTERN, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*");

pattern!(
    DESTINATION_URI_PATTERN,
    r"^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$",
    r"[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)"
);
pattern!(
    DESTINATION_REGION_PATTERN,
    r"^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$",
    r"[a-z]+(-[a-z]+)?-[a-z]+-[0-9]"
);
pattern!(
    FORMAT_CONFIG_VALUE_PATTERN,
    r"^[a-zA-Z_0-9]+",
    r"[a-zA-Z_0-9]+"
);

// STS (`sts/2011-06-15`), `\w` and `\d` spelled out as ASCII.
pattern!(
    STS_ARN_PATTERN,
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+",
    r"[\t\n\r\x20-\x7E\x{85}\x{A0}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]+"
);
pattern!(
    ROLE_SESSION_NAME_PATTERN,
    r"[\w+=,.@-]*",
    r"[a-zA-Z0-9_+=,.@-]*"
);
pattern!(
    EXTERNAL_ID_PATTERN,
    r"[\w+=,.@:\/-]*",
    r"[a-zA-Z0-9_+=,.@:/-]*"
);
pattern!(
    SESSION_POLICY_PATTERN,
    r"[\u0009\u000A\u000D\u0020-\u00FF]+",
    r"[\t\n\r\x20-\x{FF}]+"
);
pattern!(
    SERIAL_NUMBER_PATTERN,
    r"[\w+=/:,.@-]*",
    r"[a-zA-Z0-9_+=/:,.@-]*"
);
pattern!(TOKEN_CODE_PATTERN, r"[\d]*", r"[0-9]*");

/// A string shape of the model: its length in characters and its pattern.
pub struct Text {
    pub min: usize,
    pub max: usize,
    pub pattern: &'static LazyLock<Pattern>,
}

macro_rules! text {
    ($name:ident, $min:expr, $max:expr, $pattern:ident) => {
        pub static $name: Text = Text {
            min: $min,
            max: $max,
            pattern: &$pattern,
        };
    };
}

// The KVS model's string shapes (kinesisvideo/2017-09-30).
text!(STREAM_NAME, 1, 256, NAME_PATTERN);
text!(CHANNEL_NAME, 1, 256, NAME_PATTERN);
text!(DEVICE_NAME, 1, 128, NAME_PATTERN);
text!(MEDIA_TYPE, 1, 128, MEDIA_TYPE_PATTERN);
text!(KMS_KEY_ID, 1, 2048, KMS_KEY_ID_PATTERN);
text!(RESOURCE_ARN, 1, 1024, RESOURCE_ARN_PATTERN);
text!(VERSION, 1, 64, VERSION_PATTERN);
text!(NEXT_TOKEN, 0, 1024, NEXT_TOKEN_PATTERN);
text!(TAG_KEY, 1, 128, TAG_PATTERN);
text!(TAG_VALUE, 0, 256, TAG_PATTERN);
text!(DESTINATION_URI, 1, 255, DESTINATION_URI_PATTERN);
text!(DESTINATION_REGION, 9, 14, DESTINATION_REGION_PATTERN);
text!(FORMAT_CONFIG_VALUE, 0, 256, FORMAT_CONFIG_VALUE_PATTERN);

/// An integer shape of the model: its range (no maximum: the model's int32).
pub struct Range {
    pub min: i64,
    pub max: Option<i64>,
}

pub static DATA_RETENTION_IN_HOURS: Range = Range { min: 0, max: None };
pub static DATA_RETENTION_CHANGE_IN_HOURS: Range = Range { min: 1, max: None };
pub static LIST_LIMIT: Range = Range {
    min: 1,
    max: Some(10_000),
};
pub static MESSAGE_TTL_SECONDS: Range = Range {
    min: 5,
    max: Some(120),
};
pub static WIDTH_PIXELS: Range = Range {
    min: 1,
    max: Some(3840),
};
pub static HEIGHT_PIXELS: Range = Range {
    min: 1,
    max: Some(2160),
};
/// SamplingInterval in ms: the model's documentation gives the minimum (200), the API
/// reference the maximum (20000); the model itself has no range.
pub static SAMPLING_INTERVAL: Range = Range {
    min: 200,
    max: Some(20_000),
};

/// An operation's input shape: decoded loosely (every member optional), then checked.
pub trait Input: DeserializeOwned {
    /// Records every way the input breaks the model's constraints (lengths, patterns,
    /// ranges, enums, required members). Rules of the service come later, in the handler.
    fn validate(&self, v: &mut Violations);
}

/// The model's constraints on a member of type `T`, as a check of one present value.
pub trait Shape<T: ?Sized> {
    fn check(&self, v: &mut Violations, field: &str, value: &T);
}

impl Shape<String> for Text {
    fn check(&self, v: &mut Violations, field: &str, value: &String) {
        v.text(field, Some(value), self);
    }
}

impl Shape<i64> for Range {
    fn check(&self, v: &mut Violations, field: &str, value: &i64) {
        v.int(field, Some(*value), self);
    }
}

/// An enum shape: its values.
pub struct Enum(pub &'static [&'static str]);

impl Shape<String> for Enum {
    fn check(&self, v: &mut Violations, field: &str, value: &String) {
        v.one_of(field, Some(value), self.0);
    }
}

/// A structure member: its own members are checked, named under it.
pub struct Structure;

impl<I: Input> Shape<I> for Structure {
    fn check(&self, v: &mut Violations, field: &str, value: &I) {
        v.nested(field, |v| value.validate(v));
    }
}

/// A list shape: its length and its members' shape.
pub struct List<S: 'static> {
    pub min: usize,
    pub max: usize,
    pub member: &'static S,
}

impl<T, S: Shape<T>> Shape<Vec<T>> for List<S> {
    fn check(&self, v: &mut Violations, field: &str, value: &Vec<T>) {
        v.list_min(field, value.len(), self.min);
        v.list_length(field, value.len(), self.max);
        let member = format!("{field}.member");
        for item in value {
            self.member.check(v, &member, item);
        }
    }
}

/// The model's `ResourceTags` map (1–50 tags; more than 50 is left to the tag limit).
pub struct TagMap;

impl Shape<BTreeMap<String, String>> for TagMap {
    fn check(&self, v: &mut Violations, field: &str, value: &BTreeMap<String, String>) {
        v.tags(field, Some(value));
    }
}

/// The model's `TagList` / `TagOnCreateList` of `{Key, Value}` (at least `min`).
pub struct TagList {
    pub min: usize,
}

impl Shape<Vec<TagInput>> for TagList {
    fn check(&self, v: &mut Violations, field: &str, value: &Vec<TagInput>) {
        v.tag_list(field, Some(value), self.min);
    }
}

/// The model's `TagKeyList` (1–50 keys).
pub struct TagKeys;

impl Shape<Vec<String>> for TagKeys {
    fn check(&self, v: &mut Violations, field: &str, value: &Vec<String>) {
        v.tag_keys(field, Some(value));
    }
}

input! {
    /// A member of the model's tag lists (`[{"Key": …, "Value": …}]`).
    pub struct TagInput {
        key: String = "Key", required TAG_KEY;
        value: String = "Value", required TAG_VALUE;
    }
}

/// A validated tag list as a map, later keys winning.
pub fn tag_map(tags: Option<&[TagInput]>) -> BTreeMap<String, String> {
    tags.unwrap_or_default()
        .iter()
        .filter_map(|tag| Some((tag.key.clone()?, tag.value.clone()?)))
        .collect()
}

/// Largest 32-bit integer, the range of the model's `integer` shapes.
const INT_MAX: i64 = i32::MAX as i64;

/// Collects every constraint violation of one request before answering.
#[derive(Default)]
pub struct Violations {
    messages: Vec<String>,
    /// The path of the structure being checked, e.g. `imageGenerationConfiguration.`.
    prefix: String,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// How messages name `member` (as the model spells it) of the structure being
    /// checked: lower camel case, as AWS writes it (`streamARN`, `APIName`).
    pub fn field(&self, member: &str) -> String {
        let mut chars = member.chars();
        let first = chars.next().unwrap_or_default();
        let acronym = chars.next().is_some_and(char::is_uppercase);
        let first = if acronym {
            first
        } else {
            first.to_ascii_lowercase()
        };
        format!("{}{first}{}", self.prefix, &member[first.len_utf8()..])
    }

    /// A member the model requires: missing is a violation, present is checked.
    pub fn required<T, S: Shape<T> + ?Sized>(
        &mut self,
        member: &str,
        value: Option<&T>,
        shape: &S,
    ) {
        if value.is_none() {
            let field = self.field(member);
            self.push("null", &field, "Member must not be null");
        }
        self.optional(member, value, shape);
    }

    /// An optional member: checked when present.
    pub fn optional<T, S: Shape<T> + ?Sized>(
        &mut self,
        member: &str,
        value: Option<&T>,
        shape: &S,
    ) {
        if let Some(value) = value {
            let field = self.field(member);
            shape.check(self, &field, value);
        }
    }

    /// Checks the members of a nested structure, named under `field`.
    pub fn nested(&mut self, field: &str, check: impl FnOnce(&mut Violations)) {
        let outer = std::mem::replace(&mut self.prefix, format!("{field}."));
        check(self);
        self.prefix = outer;
    }

    fn push(&mut self, value: &str, field: &str, constraint: &str) {
        self.messages.push(format!(
            "Value {value} at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Records a missing required member.
    pub fn present<T>(&mut self, field: &str, value: &Option<T>) {
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

    /// Checks an optional member of a string shape.
    pub fn text(&mut self, field: &str, value: Option<&str>, shape: &Text) {
        self.string(field, value, shape.min, shape.max, Some(shape.pattern));
    }

    /// Checks an optional member of an integer shape.
    pub fn int(&mut self, field: &str, value: Option<i64>, shape: &Range) {
        self.integer(field, value, shape.min, shape.max);
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
            if !satisfies(key, &TAG_KEY) {
                self.text(&format!("{field}.key"), Some(key), &TAG_KEY);
            }
            if !satisfies(value, &TAG_VALUE) {
                self.text(&format!("{field}.{key}"), Some(value), &TAG_VALUE);
            }
        }
    }

    /// Checks a list of `{Key, Value}` tags: at least `min` members (at most 50 is the
    /// model's bound too, but more than 50 is left to the tag limit, which answers
    /// TagsPerResourceExceededLimitException), each named by its position.
    pub fn tag_list(&mut self, field: &str, tags: Option<&[TagInput]>, min: usize) {
        let Some(tags) = tags else { return };
        if tags.len() < min {
            self.push(
                "'[]'",
                field,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        for (index, tag) in tags.iter().enumerate() {
            self.nested(&format!("{field}.{}.member", index + 1), |v| {
                tag.validate(v)
            });
        }
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
            self.text(&format!("{field}.member"), Some(key), &TAG_KEY);
        }
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

/// Whether `value` meets a string shape (the check of [`Violations::text`], without
/// recording anything).
fn satisfies(value: &str, shape: &Text) -> bool {
    let length = value.chars().count();
    (shape.min..=shape.max).contains(&length) && (length == 0 || shape.pattern.matches(value))
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
            &NAME_PATTERN,
            &MEDIA_TYPE_PATTERN,
            &KMS_KEY_ID_PATTERN,
            &RESOURCE_ARN_PATTERN,
            &VERSION_PATTERN,
            &NEXT_TOKEN_PATTERN,
            &TAG_PATTERN,
            &STS_ARN_PATTERN,
            &ROLE_SESSION_NAME_PATTERN,
            &EXTERNAL_ID_PATTERN,
            &SESSION_POLICY_PATTERN,
            &SERIAL_NUMBER_PATTERN,
            &TOKEN_CODE_PATTERN,
            &DESTINATION_URI_PATTERN,
            &DESTINATION_REGION_PATTERN,
            &FORMAT_CONFIG_VALUE_PATTERN,
        ] {
            assert!(p.regex.is_some(), "{} must compile", p.source);
        }
        assert!(NAME_PATTERN.matches("front-door_cam.1"));
        assert!(!NAME_PATTERN.matches("front door"));
        assert!(!NAME_PATTERN.matches("a/b"));
        assert!(MEDIA_TYPE_PATTERN.matches("video/h264"));
        assert!(MEDIA_TYPE_PATTERN.matches("video/h264,audio/aac"));
        assert!(!MEDIA_TYPE_PATTERN.matches("video"));
        assert!(!MEDIA_TYPE_PATTERN.matches("vidéo/h264"));
        assert!(
            RESOURCE_ARN_PATTERN
                .matches("arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam/1700000000000")
        );
        assert!(
            !RESOURCE_ARN_PATTERN.matches("arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam")
        );
        assert!(TAG_PATTERN.matches("Équipe: sécurité/π=3.14 @home+1"));
        assert!(!TAG_PATTERN.matches("semi;colon"));
        assert!(!KMS_KEY_ID_PATTERN.matches("line\nbreak"));
        assert!(NEXT_TOKEN_PATTERN.matches(""));
        assert!(DESTINATION_URI_PATTERN.matches("s3://bucket/prefix/x"));
        assert!(DESTINATION_URI_PATTERN.matches("arn:aws:sns:us-west-2:123456789012:topic"));
        assert!(!DESTINATION_URI_PATTERN.matches("s3://bucket/*"));
        assert!(DESTINATION_REGION_PATTERN.matches("us-gov-west-1"));
        assert!(!DESTINATION_REGION_PATTERN.matches("uswest2"));
        assert!(STS_ARN_PATTERN.matches("arn:aws:iam::111111111111:role/r"));
        assert!(!STS_ARN_PATTERN.matches("bell\u{7}"));
        assert!(ROLE_SESSION_NAME_PATTERN.matches("kvs-operator@cluster.1"));
        assert!(!ROLE_SESSION_NAME_PATTERN.matches("a b"));
        assert!(EXTERNAL_ID_PATTERN.matches("urn:cluster/1"));
        assert!(!EXTERNAL_ID_PATTERN.matches("x;y"));
    }

    #[test]
    fn messages_name_the_field_and_count_violations() {
        let err = check("streamName", "bad name", 1, 256, &NAME_PATTERN).unwrap_err();
        assert_eq!(err.code, "InvalidArgumentException");
        assert!(
            err.message
                .starts_with("1 validation error detected: Value 'bad name' at 'streamName'")
        );
        let mut v = Violations::new();
        v.present::<String>("currentVersion", &None);
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
        assert!(check("k", &"é".repeat(128), 1, 128, &TAG_PATTERN).is_ok());
        assert!(check("k", &"é".repeat(129), 1, 128, &TAG_PATTERN).is_err());
        assert!(check("k", "", 1, 128, &TAG_PATTERN).is_err());
    }
}
