//! ARNs and the names in them: KVS resource ARNs (read and made), IAM role ARNs
//! (AssumeRole), partitions, account ids and region names.

use std::time::{SystemTime, UNIX_EPOCH};

use super::resource::Kind;

/// Whether `text` is a 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `text` can be a region name (lowercase letters, digits and '-').
pub fn is_region(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The partition a region belongs to: `aws-cn`, `aws-us-gov` or `aws`.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The DNS suffix of a partition's endpoints.
pub fn dns_suffix(partition: &str) -> &'static str {
    if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The resource type and name of `arn:…:kinesisvideo:REGION:ACCOUNT:TYPE/NAME/MILLIS`.
pub fn arn_parts(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':').nth(5)?.splitn(3, '/');
    Some((parts.next()?, parts.next()?))
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

/// A well-formed IAM role ARN: `arn:<partition>:iam::<12 digits>:role/[<path>/]<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleArn<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    /// The role name: the last segment after `role/`.
    pub name: &'a str,
}

/// IAM's role-name alphabet (`[\w+=,.@-]`, ASCII).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

impl<'a> RoleArn<'a> {
    pub fn parse(arn: &'a str) -> Option<RoleArn<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let partition_ok = !partition.is_empty()
            && partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-');
        if prefix != "arn"
            || !partition_ok
            || service != "iam"
            || !region.is_empty()
            || !is_account_id(account)
        {
            return None;
        }
        let path_and_name = resource.strip_prefix("role/")?;
        let name = path_and_name.rsplit('/').next()?;
        let path_ok = path_and_name.chars().all(|c| is_name_char(c) || c == '/');
        if name.is_empty() || name.len() > 64 || !path_ok {
            return None;
        }
        Some(RoleArn {
            partition,
            account,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        let arn = RoleArn::parse("arn:aws:iam::111111111111:role/tenant-a").unwrap();
        assert_eq!(
            (arn.partition, arn.account, arn.name),
            ("aws", "111111111111", "tenant-a")
        );
        let with_path = RoleArn::parse("arn:aws-cn:iam::111111111111:role/teams/cams/r").unwrap();
        assert_eq!(with_path.name, "r");
        for bad in [
            "arn:aws:iam::11111111111:role/r",
            "arn:aws:iam:us-west-2:111111111111:role/r",
            "arn:aws:sts::111111111111:role/r",
            "arn:aws:iam::111111111111:user/r",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:iam::111111111111:role/a b",
            "not-an-arn-at-all-but-long",
        ] {
            assert!(RoleArn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
        assert_eq!(dns_suffix("aws-cn"), "amazonaws.com.cn");
    }

    #[test]
    fn resource_arns() {
        let (_, arn) = new_arn("aws", "eu-west-1", "123456789012", Kind::Channel, "door");
        assert!(arn.starts_with("arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/"));
        assert_eq!(arn_parts(&arn), Some(("channel", "door")));
        assert_eq!(arn_parts("arn:aws:s3:::bucket"), None);
    }
}
