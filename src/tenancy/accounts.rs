//! Per-account state: every (account, region) the operator acts in has one rate limiter
//! at that account's quotas and one tag cache, shared by every identity (the operator's
//! own, or a role an AccountBinding names) that acts there; each identity has its own SDK
//! client. Identities are verified once (AssumeRole through the credentials chain, then
//! STS GetCallerIdentity, which also tells the account) and the outcome is remembered, so
//! a refused role costs one STS call per retry period, not one per VideoStream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_kinesisvideo::config::Region;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::engine::budget::Budget;
use crate::engine::scan::KindScans;
use crate::engine::shards::Shards;
use crate::kvs::KinesisVideo;
use crate::kvs::gate::{Gated, Limiter, Operation};
use crate::kvs::sdk::{SdkKinesisVideo, map_err};
use crate::kvs::tag_cache::{TagCache, TagCached};
use crate::metrics::Metrics;
use crate::tenancy::IdentityKey;
use crate::{Error, ErrorClass, Result};

/// An AWS account and region: the unit of KVS quotas and of state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    pub account_id: String,
    pub region: String,
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account_id, self.region)
    }
}

/// What every client acting in one account and region shares.
#[derive(Debug)]
pub struct Account {
    pub key: AccountKey,
    pub limiter: Arc<Limiter>,
    pub tags: Arc<TagCache>,
    /// The account's drift scan: its latest ListStreams pass, and how to hurry it.
    pub scans: KindScans,
    /// The share of ListTagsForStream's quota that tag audits may use.
    pub audits: Budget,
    /// The identities that acted here lately: the drift scan lists with whichever of
    /// them still may.
    pub scanners: Scanners,
}

/// The identities an account's drift scan may list with, most recently used first.
#[derive(Debug, Default)]
pub struct Scanners {
    used: Mutex<Vec<(IdentityKey, Instant)>>,
}

impl Scanners {
    /// `key` acted in the account just now.
    pub fn used(&self, key: &IdentityKey) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|(k, _)| k != key);
        used.insert(0, (key.clone(), Instant::now()));
    }

    /// The identities used within `recent`, most recent first; older ones are forgotten.
    pub fn recent(&self, recent: Duration) -> Vec<IdentityKey> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|(_, at)| at.elapsed() < recent);
        used.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Moves `key` to the back: it could not list, try the others first next time.
    pub fn demote(&self, key: &IdentityKey) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = used.iter().position(|(k, _)| k == key) {
            let entry = used.remove(index);
            used.push(entry);
        }
    }
}

/// A verified identity: who STS says it is, and its rate-limited, tag-caching client.
pub struct Identity {
    pub key: IdentityKey,
    pub account: Arc<Account>,
    /// The caller ARN from GetCallerIdentity (an assumed-role ARN for a role).
    pub caller_arn: String,
    pub kvs: Arc<dyn KinesisVideo>,
}

/// How the registry builds clients.
#[derive(Clone)]
pub struct Settings {
    /// Fraction of the published KVS quotas to use, per account.
    pub quota_share: f64,
    /// How long remembered tags are trusted (the tag audit reads them fresh before that).
    pub tag_cache_age: Duration,
    /// Share (0..=1) of the ListTagsForStream quota that tag audits may use.
    pub tag_audit_share: f64,
    /// Timeout of one AWS call, retries included.
    pub call_timeout: Duration,
    /// Session name of assumed roles (shown in CloudTrail).
    pub session_name: String,
    /// How long a failed verification is remembered before the next attempt.
    pub retry_failed_after: Duration,
    pub metrics: Option<Arc<Metrics>>,
    /// Whose shard's fence each identity's mutations pass (with leader election).
    pub shards: Arc<Shards>,
}

impl Settings {
    /// How long a failed verification stands: a refusal until `retry_failed_after`, an
    /// outage only briefly.
    fn retry_after(&self, denied: bool) -> Duration {
        if denied {
            self.retry_failed_after
        } else {
            self.retry_failed_after.min(Duration::from_secs(5))
        }
    }
}

/// One identity's last verification, locked while a verification runs.
type Slot = Arc<tokio::sync::Mutex<Option<Verification>>>;

/// The outcome of the last verification of one identity.
enum Verification {
    /// Verified, and when it was last asked for.
    Verified(Arc<Identity>, Instant),
    Failed {
        denied: bool,
        code: String,
        message: String,
        at: Instant,
    },
}

impl Verification {
    fn used_within(&self, window: Duration) -> bool {
        match self {
            Verification::Verified(_, used) => used.elapsed() < window,
            Verification::Failed { at, .. } => at.elapsed() < window,
        }
    }
}

/// Every identity and account the operator has used.
pub struct Accounts {
    base: SdkConfig,
    settings: Settings,
    /// Per identity: one client each, fenced by the identity's shard.
    identities: Mutex<HashMap<IdentityKey, Slot>>,
    accounts: Mutex<HashMap<AccountKey, Arc<Account>>>,
}

impl Accounts {
    /// A registry over the operator's own AWS configuration (credentials chain, region,
    /// endpoint). Fails without a region: every stream lives in one.
    pub fn new(base: SdkConfig, settings: Settings) -> Result<Self> {
        if base.region().is_none() {
            return Err(Error::Config(
                "no AWS region: set AWS_REGION (or a profile's region)".into(),
            ));
        }
        Ok(Self {
            base,
            settings,
            identities: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        })
    }

    /// Loads the operator's own configuration from the standard chain.
    pub async fn from_env(settings: Settings) -> Result<Self> {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(settings.call_timeout)
            .build();
        let base = aws_config::from_env().timeout_config(timeouts).load().await;
        Self::new(base, settings)
    }

    /// The operator's own region: where streams of unbound namespaces, and of bindings
    /// that name no region, live.
    pub fn default_region(&self) -> String {
        self.base
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default()
    }

    /// The identity for `key`, verified on first use. A failed verification is answered
    /// from memory (no AWS call) until `retry_failed_after` has passed.
    pub async fn identity(&self, key: &IdentityKey) -> Result<Arc<Identity>> {
        self.resolve(key, false).await
    }

    /// Verifies `key` again now (an AccountBinding changed or is re-checked).
    pub async fn verify(&self, key: &IdentityKey) -> Result<Arc<Identity>> {
        self.resolve(key, true).await
    }

    /// Forgets identities no one asked for within `unused`: a binding that was deleted or
    /// changed its role leaves its old client behind otherwise.
    pub fn forget_unused(&self, unused: Duration) {
        let mut identities = self.identities.lock().unwrap_or_else(|e| e.into_inner());
        identities.retain(|_, slot| {
            slot.try_lock().map_or(true, |state| {
                state.as_ref().is_none_or(|v| v.used_within(unused))
            })
        });
    }

    /// How many identities are remembered.
    pub fn identity_count(&self) -> usize {
        self.identities
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Every account in use, for the drift scans.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts.values().cloned().collect()
    }

    async fn resolve(&self, key: &IdentityKey, force: bool) -> Result<Arc<Identity>> {
        let slot = {
            let mut identities = self.identities.lock().unwrap_or_else(|e| e.into_inner());
            identities.entry(key.clone()).or_default().clone()
        };
        // One verification at a time per identity; the others wait for its outcome.
        let mut state = slot.lock().await;
        match &mut *state {
            Some(Verification::Verified(identity, used)) if !force => {
                *used = Instant::now();
                return Ok(identity.clone());
            }
            Some(Verification::Failed {
                denied,
                code,
                message,
                at,
            }) if !force && at.elapsed() < self.settings.retry_after(*denied) => {
                return Err(failure(*denied, code, message));
            }
            _ => {}
        }
        match self.build(key).await {
            Ok(identity) => {
                info!(identity = %key.describe(), account = %identity.account.key, caller = %identity.caller_arn, "identity verified");
                *state = Some(Verification::Verified(identity.clone(), Instant::now()));
                Ok(identity)
            }
            Err(error) => {
                warn!(identity = %key.describe(), %error, "identity not usable");
                let denied = error.class() == ErrorClass::Permission;
                let (code, message) = match &error {
                    Error::AccessDenied { code, message } => (code.clone(), message.clone()),
                    other => (other.reason().to_string(), other.to_string()),
                };
                *state = Some(Verification::Failed {
                    denied,
                    code,
                    message,
                    at: Instant::now(),
                });
                Err(error)
            }
        }
    }

    /// Builds the identity's configuration, asks STS who it is, and wires its client to
    /// its account's shared limiter and tag cache.
    async fn build(&self, key: &IdentityKey) -> Result<Arc<Identity>> {
        let region = Region::new(key.region.clone());
        let mut config = self.base.to_builder().region(region.clone());
        if let Some(role) = &key.role_arn {
            let mut provider = AssumeRoleProvider::builder(role.clone())
                .session_name(self.settings.session_name.clone())
                .region(region)
                .configure(&self.base);
            if let Some(external_id) = &key.external_id {
                provider = provider.external_id(external_id.clone());
            }
            let provider = provider.build().await;
            // One cache for the STS and KVS clients of this identity: sessions are
            // assumed once and refreshed before they expire.
            config = config
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .identity_cache(IdentityCache::lazy().build());
        }
        let config = config.build();
        let caller = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .map_err(map_err)?;
        let account_id = caller.account().unwrap_or_default().to_string();
        if account_id.is_empty() {
            return Err(Error::Aws {
                code: "GetCallerIdentity".into(),
                message: "STS named no account".into(),
            });
        }
        let account = self.account(AccountKey {
            account_id,
            region: key.region.clone(),
        });
        let sdk = SdkKinesisVideo::new(aws_sdk_kinesisvideo::Client::new(&config));
        let mut gated = Gated::sharing(sdk, account.limiter.clone(), self.settings.metrics.clone());
        if let Some(fence) = self.settings.shards.fence(&key.shard()) {
            gated = gated.fenced(fence);
        }
        let kvs = Arc::new(TagCached::sharing(gated, account.tags.clone()));
        Ok(Arc::new(Identity {
            key: key.clone(),
            account,
            caller_arn: caller.arn().unwrap_or_default().to_string(),
            kvs,
        }))
    }

    fn account(&self, key: AccountKey) -> Arc<Account> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts
            .entry(key.clone())
            .or_insert_with(|| {
                let audit_rate = Operation::ListTagsForStream.aws_quota()
                    * self.settings.quota_share
                    * self.settings.tag_audit_share;
                Arc::new(Account {
                    limiter: Arc::new(Limiter::for_account(
                        self.settings.quota_share,
                        &key,
                        self.settings.metrics.clone(),
                    )),
                    tags: Arc::new(TagCache::new(self.settings.tag_cache_age)),
                    scans: KindScans::default(),
                    audits: Budget::new(audit_rate, audit_rate),
                    scanners: Scanners::default(),
                    key,
                })
            })
            .clone()
    }
}

/// The error a remembered failed verification answers with.
fn failure(denied: bool, code: &str, message: &str) -> Error {
    if denied {
        Error::AccessDenied {
            code: code.to_string(),
            message: message.to_string(),
        }
    } else {
        Error::Unavailable(format!("{code}: {message}"))
    }
}
