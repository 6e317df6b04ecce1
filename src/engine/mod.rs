//! The one reconcile engine every kind runs on. A kind ([`kind::Kind`]) brings its types,
//! its pure planner and its KVS calls; the engine brings everything else, once:
//!
//! - [`run`]: the watches (namespaces, AccountBindings, one controller per kind);
//!   [`wake_filter`]: which watch events wake an object;
//! - [`reconcile`]: shard and pause, finalizer, tenancy before any AWS call, the step,
//!   status and Events, backoff;
//! - [`conditions`]: Ready, Synced and the kstatus conditions;
//! - [`export`]: `spec.exportTo`, the coordinates in a ConfigMap for workloads;
//! - [`ownership`]: owner and cluster tags, fresh reads, claim-then-confirm adoption;
//! - [`lifecycle`]: the gate every planner starts with, and the cleanup plan;
//! - [`scan`] and [`settle`]: one listing per account and kind finds drift and proves
//!   in-sync objects without per-resource calls; tag audits on a budget; [`scope_index`]:
//!   each account's objects, so a scan looks at those only;
//! - [`shards`] and [`leader`]: Lease-fenced shards shared between replicas;
//!   [`shard_watch`]: each replica watches the objects of its shards only;
//! - [`resync`]: when each in-sync object is looked at next, held compactly;
//! - [`context`], [`ledger`], [`events`], [`budget`]: shared state, each object's memory
//!   between reconciles, bounded Events, token budgets.

pub mod budget;
pub mod conditions;
pub mod context;
pub mod events;
pub mod export;
pub mod kind;
pub mod leader;
pub mod ledger;
pub mod lifecycle;
pub mod ownership;
pub mod reconcile;
pub mod resync;
pub mod run;
pub mod scan;
pub mod scope_index;
pub mod settle;
pub mod shard_watch;
pub mod shards;
pub mod wake_filter;
