//! `kvs-emulator`: the Amazon Kinesis Video Streams control plane over HTTP, for tests,
//! local demos and benchmarks.
//!
//! It speaks the rest-json protocol of the AWS model (`kinesisvideo/2017-09-30`) so the
//! real `aws-sdk-kinesisvideo` (or boto3) can be pointed at it with `endpoint_url`, and it
//! behaves like the service: ARNs, versions that change on every update, CREATING →
//! ACTIVE → UPDATING → ACTIVE → DELETING → gone after configurable delays, the model's
//! validation, tag limits, paging, and TPS quotas. Signaling channels, image generation
//! and notification configurations are served too. STS (AssumeRole, GetCallerIdentity)
//! answers on the same endpoint: the account comes from the credentials, the region from
//! the SigV4 scope, and state, quotas and counters are kept per (account, region).
//! Faults (errors, latency, throttling) can be injected; every call is counted and
//! written to a bounded call log.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kvs_emulator::EmulatorError> {
//! use kvs_emulator::{Config, Emulator, Operation};
//!
//! let emulator = Emulator::start(Config::default()).await?;
//! let endpoint_url = emulator.url(); // give this to the SDK, with any static credentials
//! // ... drive the SDK ...
//! assert_eq!(emulator.calls_of(Operation::CreateStream).total, 0);
//! emulator.set_quotas_enabled(false);
//! for stream in emulator.streams() {
//!     println!("{} {:?} {:?}", stream.stream_name, stream.status, stream.tags);
//! }
//! # Ok(()) }
//! ```

mod admin;
mod arn;
mod auth;
mod call;
mod channel_api;
mod channels;
mod config;
mod counters;
mod emulator;
mod error;
mod handlers;
mod http;
mod identity;
mod log;
mod model;
mod operation;
mod paging;
mod quota;
mod resource;
mod resource_tags;
mod rules;
mod schedule;
mod scope;
mod state;
mod store;
mod stream_configs;
mod sts;
mod validate;
mod wire;
mod xml;

pub use admin::PREFIX as ADMIN_PREFIX;
pub use config::{
    Config, DEFAULT_LOG_CAPACITY, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_SESSION_SECONDS, Delays,
    Faults, Limits, LogSettings, Quotas, RoleRule, Settings, Sts,
};
pub use counters::{CallCounts, OperationCalls};
pub use emulator::{Emulator, Running};
pub use error::{ApiError, EmulatorError};
pub use log::CallRecord;
pub use model::{
    ChannelSnapshot, ImageDestination, ImageGeneration, MediaStorage, MediaStorageStatus,
    Notification, NotificationDestination, StorageTier, StreamSnapshot, StreamStatus,
};
pub use operation::{Addresses, Operation};
pub use scope::Scope;
pub use store::{MAX_RETENTION_HOURS, MAX_TAGS};
