//! ARNs the emulator reads: IAM role ARNs (AssumeRole) and the names inside them.

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
            || !crate::config::is_account_id(account)
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
}
