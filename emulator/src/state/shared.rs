//! The state of one running emulator, shared by every connection: the settings, every
//! scope's state, the STS sessions and the call log.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use super::lock::lock;
use super::log::{CallLog, NewRecord};
use super::sessions::{Caller, IdentityError, Sessions};
use super::tenants::{Scope, Tenants};
use crate::model::config::{Config, Settings};
use crate::model::error::EmulatorError;
use crate::wire::sigv4::Signature;

pub struct Shared {
    /// Where base credentials act unless the settings name another account, and the
    /// region admin reads default to.
    pub default_scope: Scope,
    pub max_body_bytes: usize,
    /// Behind an `Arc` so a call takes a cheap, consistent copy.
    settings: RwLock<Arc<Settings>>,
    pub tenants: Tenants,
    pub sessions: Mutex<Sessions>,
    pub log: Mutex<CallLog>,
}

impl Shared {
    pub fn new(config: &Config) -> Shared {
        Shared {
            default_scope: Scope::new(&config.account_id, &config.region),
            max_body_bytes: config.max_body_bytes,
            settings: RwLock::new(Arc::new(config.settings.clone())),
            tenants: Tenants::default(),
            sessions: Mutex::new(Sessions::default()),
            log: Mutex::new(CallLog::default()),
        }
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the settings after checking them. When the quotas change, their buckets
    /// start full again.
    pub fn set_settings(&self, settings: Settings) -> Result<(), EmulatorError> {
        settings.validate()?;
        let mut current = self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let quotas_changed = current.quotas != settings.quotas;
        *current = Arc::new(settings);
        drop(current);
        if quotas_changed {
            self.tenants.for_each(|tenant| tenant.limiter.reset());
        }
        Ok(())
    }

    /// The identity a signature acts as.
    pub fn identify(
        &self,
        signature: &Signature,
        settings: &Settings,
        now: Instant,
    ) -> Result<Caller, IdentityError> {
        lock(&self.sessions).identify(signature, settings, &self.default_scope.account, now)
    }

    /// Appends a call to the log.
    pub fn log_call(&self, settings: &Settings, record: NewRecord) {
        lock(&self.log).push(record, settings.log.capacity);
    }

    /// Zeroes every scope's counters and clears the call log.
    pub fn reset_calls(&self) {
        self.tenants.for_each(|tenant| tenant.counters.reset());
        lock(&self.log).clear();
    }
}
