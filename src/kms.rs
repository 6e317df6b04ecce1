//! Comparing KMS key references without calling KMS.
//!
//! A spec may name a key by id (`1234abcd-...`), alias (`alias/cameras`), key ARN or alias
//! ARN, while DescribeStream always answers with an ARN. Two references are known to differ
//! only when they are the same kind of name (both key ids or both aliases) and disagree, or
//! when both carry a region/account and those disagree. An alias and a key id cannot be
//! compared without KMS, so they are not treated as drift.

/// The AWS-managed key KVS uses when no key is chosen.
pub const AWS_MANAGED_ALIAS: &str = "alias/aws/kinesisvideo";

#[derive(Debug, PartialEq, Eq)]
struct KeyRef<'a> {
    /// `region:account` when the reference is an ARN.
    scope: Option<(&'a str, &'a str)>,
    name: KeyName<'a>,
}

#[derive(Debug, PartialEq, Eq)]
enum KeyName<'a> {
    Id(&'a str),
    Alias(&'a str),
}

fn parse(reference: &str) -> KeyRef<'_> {
    // arn:<partition>:kms:<region>:<account>:<resource>
    let parts: Vec<&str> = reference.splitn(6, ':').collect();
    let (scope, resource) = match parts.as_slice() {
        ["arn", _, "kms", region, account, resource] => (Some((*region, *account)), *resource),
        _ => (None, reference),
    };
    let name = match resource.strip_prefix("alias/") {
        Some(alias) => KeyName::Alias(alias),
        None => KeyName::Id(resource.strip_prefix("key/").unwrap_or(resource)),
    };
    KeyRef { scope, name }
}

/// Whether the key the spec asks for is known to differ from the key the stream has.
///
/// `desired == None` means the spec does not manage the key: never a difference.
pub fn differs(desired: Option<&str>, actual: Option<&str>) -> bool {
    let Some(desired) = desired else {
        return false;
    };
    let actual = actual.unwrap_or(AWS_MANAGED_ALIAS);
    let (d, a) = (parse(desired), parse(actual));
    if let (Some(ds), Some(as_)) = (d.scope, a.scope)
        && ds != as_
    {
        return true;
    }
    match (d.name, a.name) {
        (KeyName::Id(x), KeyName::Id(y)) | (KeyName::Alias(x), KeyName::Alias(y)) => x != y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::differs;

    const DEFAULT_ARN: &str = "arn:aws:kms:us-west-2:123456789012:alias/aws/kinesisvideo";
    const KEY_ARN: &str =
        "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn same_key_spelled_differently_is_not_drift() {
        let cases = [
            (None, Some(DEFAULT_ARN), "spec names no key"),
            (
                None,
                Some(KEY_ARN),
                "spec names no key, stream has a custom one",
            ),
            (
                Some("alias/aws/kinesisvideo"),
                Some(DEFAULT_ARN),
                "alias vs alias ARN",
            ),
            (
                Some("1234abcd-12ab-34cd-56ef-1234567890ab"),
                Some(KEY_ARN),
                "id vs key ARN",
            ),
            (Some(KEY_ARN), Some(KEY_ARN), "identical ARNs"),
            (
                Some("alias/cameras"),
                Some(KEY_ARN),
                "alias vs key: cannot tell without KMS",
            ),
            (
                Some("alias/aws/kinesisvideo"),
                None,
                "default key when KVS reports none",
            ),
        ];
        for (desired, actual, why) in cases {
            assert!(!differs(desired, actual), "{why}");
        }
    }

    #[test]
    fn a_different_key_is_drift() {
        let cases = [
            (
                Some("alias/cameras"),
                Some(DEFAULT_ARN),
                "custom alias vs default",
            ),
            (
                Some("ffffffff-12ab-34cd-56ef-1234567890ab"),
                Some(KEY_ARN),
                "other key id",
            ),
            (
                Some("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                Some(KEY_ARN),
                "same id in another region",
            ),
            (
                Some("alias/cameras"),
                None,
                "custom alias vs none (default)",
            ),
        ];
        for (desired, actual, why) in cases {
            assert!(differs(desired, actual), "{why}");
        }
    }
}
