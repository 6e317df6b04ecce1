//! Startup configuration and the settings that can change while the emulator runs.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;
use crate::operation::Operation;

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
        let region_ok = !self.region.is_empty()
            && self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(EmulatorError::Config(format!(
                "region {:?} must be lowercase letters, digits and '-'",
                self.region
            )));
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
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
        Ok(())
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
    /// Per account and region, per operation.
    pub account_tps: BTreeMap<Operation, u32>,
    /// Per stream, for each operation that addresses one stream.
    pub per_stream_tps: u32,
}

impl Default for Quotas {
    /// The published KVS control-plane quotas.
    fn default() -> Self {
        Quotas {
            enabled: true,
            account_tps: Operation::ALL
                .into_iter()
                .map(|op| (op, op.default_account_tps()))
                .collect(),
            per_stream_tps: 5,
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
    /// Tags per ListTagsForStream page; smaller than 50 to exercise `NextToken`.
    pub tags_page_size: usize,
    /// Accept tag keys starting with `aws:`, which AWS reserves for itself, so tests can
    /// simulate tags that AWS services put on a stream.
    pub allow_reserved_tag_keys: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: None,
            tags_page_size: 50,
            allow_reserved_tag_keys: false,
        }
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
