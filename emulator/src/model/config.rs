//! Startup configuration and the settings that can change while the emulator runs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::arn::{RoleArn, is_account_id, is_region};
use super::error::EmulatorError;
use super::operation::Operation;

/// Largest request body accepted; the biggest valid request (50 tags) is far smaller.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Everything fixed when the emulator starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Region reported in ARNs and endpoints.
    pub region: String,
    /// 12-digit account id reported in ARNs.
    pub account_id: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The initial runtime settings.
    pub settings: Settings,
}

impl Default for Config {
    /// An ephemeral loopback port, `us-west-2`, account `123456789012`, default settings.
    fn default() -> Self {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            region: "us-west-2".to_owned(),
            account_id: "123456789012".to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            settings: Settings::default(),
        }
    }
}

impl Config {
    /// Checks values that would make ARNs or the server unusable.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        if !is_region(&self.region) {
            return Err(EmulatorError::Config(format!(
                "region {:?} must be lowercase letters, digits and '-'",
                self.region
            )));
        }
        if !is_account_id(&self.account_id) {
            return Err(EmulatorError::Config(format!(
                "account id {:?} must be 12 digits",
                self.account_id
            )));
        }
        if self.max_body_bytes == 0 {
            return Err(EmulatorError::Config("max body bytes must be > 0".into()));
        }
        self.settings.validate()
    }
}

/// Behaviour that tests may change while the emulator runs (library setters or
/// `PUT /_emulator/config`). Serialized with durations in milliseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How long streams stay in their transitional states.
    pub delays: Delays,
    /// TPS quotas answered with `ClientLimitExceededException`.
    pub quotas: Quotas,
    /// Injected failures and latency.
    pub faults: Faults,
    /// Account limits and paging.
    pub limits: Limits,
    /// When set, GetDataEndpoint answers this URL for every stream and API; otherwise a
    /// realistic `https://{s|b}-xxxxxxxx.kinesisvideo.<region>.amazonaws.com` per stream.
    pub data_endpoint: Option<String>,
    /// Image-generation and notification destinations (S3 URIs, SNS topic ARNs) that do
    /// not exist: an update naming one answers InvalidArgumentException, as AWS refuses a
    /// destination it cannot deliver to.
    #[serde(default)]
    pub unknown_destinations: BTreeSet<String>,
    /// Which account each access key acts in, and which roles STS lets it assume.
    #[serde(default)]
    pub sts: Sts,
    /// The call log's size.
    #[serde(default)]
    pub log: LogSettings,
}

impl Settings {
    /// Checks ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let rate = self.faults.error_rate;
        if !(0.0..=1.0).contains(&rate) {
            return Err(EmulatorError::Config(format!(
                "error rate {rate} must be within 0..=1"
            )));
        }
        if self.limits.tags_page_size == 0 {
            return Err(EmulatorError::Config("tags page size must be >= 1".into()));
        }
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&self.limits.list_page_size) {
            return Err(EmulatorError::Config(format!(
                "list page size must be within 1..={MAX_LIST_PAGE_SIZE}"
            )));
        }
        self.sts.validate()
    }

    /// Applies a JSON merge patch (RFC 7396) to these settings: objects merge, `null`
    /// resets a field to absent, anything else replaces.
    pub fn merged(&self, patch: &serde_json::Value) -> Result<Settings, EmulatorError> {
        let mut current = serde_json::to_value(self)?;
        merge_json(&mut current, patch);
        let settings: Settings = serde_json::from_value(current)?;
        settings.validate()?;
        Ok(settings)
    }
}

fn merge_json(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    // RFC 7396: null removes the member (an optional field becomes absent,
                    // a map entry such as a role rule is dropped).
                    _ if value.is_null() => {
                        target.remove(key);
                    }
                    Some(existing) if value.is_object() && existing.is_object() => {
                        merge_json(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Time spent in CREATING, UPDATING and DELETING. Zero makes the transition immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delays {
    /// CREATING → ACTIVE.
    #[serde(rename = "create_ms", with = "duration_ms")]
    pub create: Duration,
    /// UPDATING → ACTIVE.
    #[serde(rename = "update_ms", with = "duration_ms")]
    pub update: Duration,
    /// DELETING → gone.
    #[serde(rename = "delete_ms", with = "duration_ms")]
    pub delete: Duration,
}

impl Delays {
    /// Every transition immediate.
    pub const NONE: Delays = Delays {
        create: Duration::ZERO,
        update: Duration::ZERO,
        delete: Duration::ZERO,
    };
}

impl Default for Delays {
    /// Short but visible, so clients must handle the transitional states.
    fn default() -> Self {
        Delays {
            create: Duration::from_millis(500),
            update: Duration::from_millis(250),
            delete: Duration::from_millis(500),
        }
    }
}

/// Calls-per-second quotas. A call over a quota fails with `ClientLimitExceededException`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Off switch for all quotas.
    pub enabled: bool,
    /// Per account and region, per operation. STS operations have no quota unless one
    /// is set here (then they answer `Throttling`).
    pub account_tps: BTreeMap<Operation, u32>,
    /// Per stream, for each operation that addresses one stream.
    pub per_stream_tps: u32,
    /// Per signaling channel, for each operation with a per-channel quota.
    #[serde(default = "default_per_resource_tps")]
    pub per_channel_tps: u32,
    /// Buckets refill at the quota rate (on by default). Off, a bucket holds exactly one
    /// second of calls until the quotas change again, so a test can count a quota exactly
    /// however fast or slow its client is.
    #[serde(default = "default_refill")]
    pub refill: bool,
}

fn default_refill() -> bool {
    true
}

fn default_per_resource_tps() -> u32 {
    5
}

impl Default for Quotas {
    /// The published KVS control-plane quotas (streams and signaling channels).
    fn default() -> Self {
        Quotas {
            enabled: true,
            account_tps: Operation::ALL
                .into_iter()
                .filter_map(|op| Some((op, op.default_account_tps()?)))
                .collect(),
            per_stream_tps: default_per_resource_tps(),
            per_channel_tps: default_per_resource_tps(),
            refill: true,
        }
    }
}

impl Quotas {
    /// The account quota of `op`; operations missing from the map are unlimited.
    pub fn account_limit(&self, op: Operation) -> Option<u32> {
        self.account_tps.get(&op).copied()
    }
}

/// Failures and slowness injected into API calls (never into admin calls).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Probability (0..=1) that a call fails with a 500 `InternalFailure` before it has
    /// any effect.
    pub error_rate: f64,
    /// Added to every API call before it is answered.
    #[serde(rename = "latency_ms", with = "duration_ms")]
    pub latency: Duration,
}

/// Account limits and paging sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Streams per account before CreateStream fails with
    /// `AccountStreamLimitExceededException`; `None` means unlimited.
    pub max_streams: Option<usize>,
    /// Signaling channels per account and region before CreateSignalingChannel fails
    /// with `AccountChannelLimitExceededException` (AWS: 10,000 in us-east-1 and
    /// us-west-2, 5,000 elsewhere); `None` means unlimited.
    #[serde(default)]
    pub max_channels: Option<usize>,
    /// Tags per ListTagsForStream and ListTagsForResource page; smaller than 50 to
    /// exercise `NextToken`.
    pub tags_page_size: usize,
    /// The most streams (ListStreams) or signaling channels (ListSignalingChannels) one
    /// page holds, whatever `MaxResults` asks for: AWS may answer fewer than asked, and a
    /// small page makes a client's paging run. At most 10,000, the model's `MaxResults`.
    #[serde(default = "default_list_page_size")]
    pub list_page_size: usize,
    /// Accept tag keys starting with `aws:`, which AWS reserves for itself, so tests can
    /// simulate tags that AWS services put on a stream.
    pub allow_reserved_tag_keys: bool,
}

/// The largest `MaxResults` of ListStreams and ListSignalingChannels, and their default.
pub const MAX_LIST_PAGE_SIZE: usize = 10_000;

fn default_list_page_size() -> usize {
    MAX_LIST_PAGE_SIZE
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: None,
            max_channels: None,
            tags_page_size: 50,
            list_page_size: MAX_LIST_PAGE_SIZE,
            allow_reserved_tag_keys: false,
        }
    }
}

/// STS: accounts of access keys and the trust rules of roles.
///
/// ```json
/// {"sts": {
///   "access_keys": {"AKIAOPERATOR": "123456789012"},
///   "require_listed_roles": false,
///   "session_lifetime_ms": null,
///   "roles": {
///     "arn:aws:iam::111111111111:role/tenant-a": {
///       "external_id": "cluster-1",
///       "deny": null,
///       "name_prefixes": ["team-a-"],
///       "max_session_seconds": 3600,
///       "trusted_accounts": ["123456789012"],
///       "actions": null
///     }
///   }
/// }}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sts {
    /// Base credentials: the account an access key acts in. Keys not listed (and not
    /// issued by AssumeRole) act in the emulator's default account.
    pub access_keys: BTreeMap<String, String>,
    /// Only roles listed in `roles` may be assumed; others answer AccessDenied. Off by
    /// default: any well-formed role ARN may be assumed, as moto allows.
    pub require_listed_roles: bool,
    /// Trust rules by role ARN.
    pub roles: BTreeMap<String, RoleRule>,
    /// When set, credentials issued by AssumeRole expire after this long, whatever the
    /// request's DurationSeconds said (the answer's Expiration tells the truth), so tests
    /// can see a session expire.
    #[serde(rename = "session_lifetime_ms", with = "optional_duration_ms")]
    pub session_lifetime: Option<Duration>,
}

/// What a role's trust policy and permissions allow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleRule {
    /// When set, AssumeRole must pass exactly this ExternalId.
    pub external_id: Option<String>,
    /// When set, AssumeRole answers AccessDenied with this message.
    pub deny: Option<String>,
    /// When set, the role's sessions may only address streams (and signaling channels)
    /// whose names start with one of these, like an IAM policy on `stream/<prefix>*`:
    /// other names answer AccessDeniedException. ListStreams and ListSignalingChannels,
    /// which IAM cannot restrict to resources, stay allowed.
    pub name_prefixes: Option<Vec<String>>,
    /// The role's MaxSessionDuration (IAM: 3600..=43200, default 3600): a longer
    /// DurationSeconds answers ValidationError.
    pub max_session_seconds: Option<u32>,
    /// When set, only callers acting in these accounts may assume the role (the trust
    /// policy's principals); others answer AccessDenied.
    pub trusted_accounts: Option<Vec<String>>,
    /// When set, the role's sessions may call only these KVS operations, like the
    /// actions an IAM policy allows: any other answers AccessDeniedException, listings
    /// included.
    pub actions: Option<Vec<Operation>>,
}

/// IAM's default and bounds of a role's MaxSessionDuration, in seconds.
pub const DEFAULT_MAX_SESSION_SECONDS: u32 = 3600;
const MAX_SESSION_SECONDS_RANGE: std::ops::RangeInclusive<u32> = 3600..=43_200;

impl Sts {
    fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |message: String| Err(EmulatorError::Config(message));
        for (key, account) in &self.access_keys {
            if !is_account_id(account) {
                return bad(format!(
                    "sts.access_keys[{key:?}]: account {account:?} must be 12 digits"
                ));
            }
        }
        for (arn, rule) in &self.roles {
            if RoleArn::parse(arn).is_none() {
                return bad(format!(
                    "sts.roles: {arn:?} is not a role ARN (arn:aws:iam::<12 digits>:role/<name>)"
                ));
            }
            if let Some(seconds) = rule.max_session_seconds
                && !MAX_SESSION_SECONDS_RANGE.contains(&seconds)
            {
                return bad(format!(
                    "sts.roles[{arn:?}].max_session_seconds {seconds} must be within 3600..=43200"
                ));
            }
            if rule
                .name_prefixes
                .as_ref()
                .is_some_and(|prefixes| prefixes.iter().any(String::is_empty))
            {
                return bad(format!(
                    "sts.roles[{arn:?}].name_prefixes: a prefix must not be empty"
                ));
            }
            for account in rule.trusted_accounts.iter().flatten() {
                if !is_account_id(account) {
                    return bad(format!(
                        "sts.roles[{arn:?}].trusted_accounts: {account:?} must be 12 digits"
                    ));
                }
            }
        }
        if self.session_lifetime.is_some_and(|d| d.is_zero()) {
            return bad("sts.session_lifetime_ms must be > 0".into());
        }
        Ok(())
    }
}

/// The call log (`call_log()`, `GET /_emulator/log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Most recent calls kept; older ones are dropped first. 0 keeps none.
    pub capacity: usize,
}

/// Enough for a 10,000-stream convergence run; a 100,000-stream run keeps its tail.
pub const DEFAULT_LOG_CAPACITY: usize = 100_000;

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            capacity: DEFAULT_LOG_CAPACITY,
        }
    }
}

mod optional_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::duration_ms::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_changes_only_named_fields() {
        let settings = Settings::default();
        let patched = settings
            .merged(&serde_json::json!({
                "faults": {"error_rate": 0.5},
                "quotas": {"account_tps": {"DescribeStream": 7}},
                "delays": {"create_ms": 0},
            }))
            .unwrap();
        assert_eq!(patched.faults.error_rate, 0.5);
        assert_eq!(patched.faults.latency, Duration::ZERO);
        assert_eq!(
            patched.quotas.account_limit(Operation::DescribeStream),
            Some(7)
        );
        assert_eq!(
            patched.quotas.account_limit(Operation::ListStreams),
            Some(50)
        );
        assert_eq!(patched.delays.create, Duration::ZERO);
        assert_eq!(patched.delays.update, settings.delays.update);
    }

    #[test]
    fn merge_patch_rejects_bad_values() {
        let settings = Settings::default();
        assert!(
            settings
                .merged(&serde_json::json!({"faults": {"error_rate": 2.0}}))
                .is_err()
        );
        assert!(
            settings
                .merged(&serde_json::json!({"nonsense": 1}))
                .is_err()
        );
        assert!(
            settings
                .merged(&serde_json::json!({"quotas": {"account_tps": {"Nope": 1}}}))
                .is_err()
        );
    }

    #[test]
    fn default_config_is_valid() {
        Config::default().validate().unwrap();
        let bad = Config {
            account_id: "12".into(),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}
