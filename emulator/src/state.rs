//! State shared by every connection of one running emulator.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::config::{Config, Settings};
use crate::counters::Counters;
use crate::error::EmulatorError;
use crate::quota::RateLimiter;
use crate::store::Store;

pub struct Shared {
    pub region: String,
    pub account_id: String,
    pub max_body_bytes: usize,
    /// Behind an `Arc` so a call takes a cheap, consistent copy.
    settings: RwLock<Arc<Settings>>,
    pub store: Mutex<Store>,
    pub limiter: Mutex<RateLimiter>,
    pub counters: Mutex<Counters>,
}

/// Locks `mutex` even if a panicking thread poisoned it: every critical section leaves
/// the data consistent, so the state is still usable.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(config: &Config) -> Shared {
        Shared {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            max_body_bytes: config.max_body_bytes,
            settings: RwLock::new(Arc::new(config.settings.clone())),
            store: Mutex::new(Store::new(&config.region, &config.account_id)),
            limiter: Mutex::new(RateLimiter::default()),
            counters: Mutex::new(Counters::default()),
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
            lock(&self.limiter).reset();
        }
        Ok(())
    }
}
