//! The service's rules that do not depend on the store: how a request addresses a
//! stream, when a stream may change, retention arithmetic, reserved tag keys, versions.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ApiError;
use crate::model::StreamStatus;
use crate::resource::Kind;
use crate::store::{ArnCheck, MAX_RETENTION_HOURS, MAX_TAGS, Stream, StreamAddress};

/// AWS reserves tag keys with this prefix (case-insensitive) for itself.
const RESERVED_TAG_PREFIX: &str = "aws:";

/// The stream name a request addresses, from its name, its ARN or both.
pub fn locate<'a>(address: StreamAddress<'a>, check: ArnCheck) -> Result<&'a str, ApiError> {
    let Some(arn) = address.arn else {
        return address.name.ok_or_else(|| {
            ApiError::invalid_argument("Either StreamName or StreamARN must be specified.")
        });
    };
    // Validation guarantees `arn:<partition>:kinesisvideo:<region>:<account>:<type>/<name>/<millis>`.
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let mut parts = resource.splitn(3, '/');
    let (kind, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if kind != "stream" {
        let message = format!("The ARN {arn} does not identify a stream.");
        return Err(match check {
            ArnCheck::Tagging => ApiError::invalid_resource_format(message),
            ArnCheck::Plain => ApiError::invalid_argument(message),
        });
    }
    match address.name {
        Some(given) if given != name => Err(ApiError::invalid_argument(format!(
            "StreamName {given} and StreamARN {arn} do not identify the same stream."
        ))),
        _ => Ok(name),
    }
}

pub fn check_mutable(stream: &Stream, current_version: Option<&str>) -> Result<(), ApiError> {
    if stream.status != StreamStatus::Active {
        return Err(ApiError::resource_in_use(format!(
            "The stream {} is {}; it can only be changed while ACTIVE.",
            stream.name,
            stream.status.as_str()
        )));
    }
    match current_version {
        Some(version) if version != stream.version => Err(ApiError::version_mismatch(format!(
            "The stream version {version} does not match the current version {} of stream {}.",
            stream.version, stream.name
        ))),
        _ => Ok(()),
    }
}

pub fn changed_retention(current: u32, increase: bool, hours: u32) -> Result<u32, ApiError> {
    let result = if increase {
        i64::from(current) + i64::from(hours)
    } else {
        i64::from(current) - i64::from(hours)
    };
    u32::try_from(result)
        .ok()
        .filter(|hours| *hours <= MAX_RETENTION_HOURS)
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "The data retention would become {result} hours; it must be within 0 and \
                 {MAX_RETENTION_HOURS}."
            ))
        })
}

pub fn too_many_tags(kind: Kind, count: usize) -> ApiError {
    let kind = match kind {
        Kind::Stream => "stream",
        Kind::Channel => "signaling channel",
    };
    ApiError::too_many_tags(format!(
        "The {kind} would have {count} tags; at most {MAX_TAGS} are allowed."
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
    let what = match kind {
        Kind::Stream => "stream",
        Kind::Channel => "signaling channel",
    };
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

/// A fresh stream version: 20 random alphanumeric characters (model: `[a-zA-Z0-9]+`, ≤ 64).
pub fn new_version() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(20)
        .collect()
}

/// A new resource's creation time and ARN,
/// `arn:PARTITION:kinesisvideo:REGION:ACCOUNT:KIND/NAME/CREATION_MILLIS`: a resource
/// made again under the same name gets a new ARN.
pub fn new_arn(
    partition: &str,
    region: &str,
    account: &str,
    kind: Kind,
    name: &str,
) -> (SystemTime, String) {
    let created = SystemTime::now();
    let millis = created
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let arn = format!(
        "arn:{partition}:kinesisvideo:{region}:{account}:{}/{name}/{millis}",
        kind.as_str()
    );
    (created, arn)
}

pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_bounds() {
        assert_eq!(changed_retention(0, true, 87_600), Ok(87_600));
        assert!(changed_retention(1, true, 87_600).is_err());
        assert_eq!(changed_retention(24, false, 24), Ok(0));
        assert!(changed_retention(24, false, 25).is_err());
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }

    #[test]
    fn reserved_keys_are_case_insensitive() {
        let keys = ["team".to_owned(), "AWS:x".to_owned()];
        assert!(check_reserved_keys(keys.iter(), false).is_err());
        assert!(check_reserved_keys(keys.iter(), true).is_ok());
        assert!(check_reserved_keys(keys[..1].iter(), false).is_ok());
    }
}
