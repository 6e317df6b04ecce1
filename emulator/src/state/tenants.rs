//! State is kept per (account, region), as AWS keeps it: each scope (a tenant) has its own
//! streams, signaling channels, quota buckets and call counters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::channels::Channels;
use super::counters::Counters;
use super::lock::lock;
use super::quota::RateLimiter;
use super::streams::Streams;

/// An AWS account and region: where a call acts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope {
    /// 12-digit account id.
    pub account: String,
    /// Region name, e.g. `us-west-2`.
    pub region: String,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Scope {
        Scope {
            account: account.into(),
            region: region.into(),
        }
    }
}

/// Everything one scope holds.
pub struct Tenant {
    pub streams: Streams,
    pub channels: Channels,
    pub limiter: RateLimiter,
    pub counters: Counters,
}

impl Tenant {
    fn new(scope: &Scope) -> Tenant {
        Tenant {
            streams: Streams::new(&scope.region, &scope.account),
            channels: Channels::new(&scope.region, &scope.account),
            limiter: RateLimiter::default(),
            counters: Counters::default(),
        }
    }

    /// Whether anything happened here: streams or channels exist, or calls were
    /// counted.
    pub fn has_state(&self) -> bool {
        !self.streams.is_empty() || !self.channels.is_empty() || !self.counters.is_empty()
    }
}

/// The scopes seen so far. Each has its own lock, so calls in different accounts or
/// regions do not wait for each other.
#[derive(Default)]
pub struct Tenants {
    scopes: Mutex<BTreeMap<Scope, Arc<Mutex<Tenant>>>>,
}

impl Tenants {
    /// The tenant of `scope`, created empty on first use.
    pub fn get_or_create(&self, scope: &Scope) -> Arc<Mutex<Tenant>> {
        let mut scopes = lock(&self.scopes);
        if let Some(tenant) = scopes.get(scope) {
            return tenant.clone();
        }
        let tenant = Arc::new(Mutex::new(Tenant::new(scope)));
        scopes.insert(scope.clone(), tenant.clone());
        tenant
    }

    /// The tenant of `scope`, if a call ever reached it.
    pub fn get(&self, scope: &Scope) -> Option<Arc<Mutex<Tenant>>> {
        lock(&self.scopes).get(scope).cloned()
    }

    /// Every scope with its tenant, in (account, region) order.
    pub fn all(&self) -> Vec<(Scope, Arc<Mutex<Tenant>>)> {
        lock(&self.scopes)
            .iter()
            .map(|(scope, tenant)| (scope.clone(), tenant.clone()))
            .collect()
    }

    /// Runs `f` on every tenant, one at a time.
    pub fn for_each(&self, mut f: impl FnMut(&mut Tenant)) {
        for (_, tenant) in self.all() {
            f(&mut lock(&tenant));
        }
    }
}
