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
//! The crate reads like moto, by job, each folder using only those below it:
//! - `model`: the vocabulary every layer shares: operations, settings, ARNs, snapshots;
//! - `wire`: HTTP and the AWS protocols (rest-json, query and XML, SigV4), errors as AWS
//!   writes them;
//! - `state`: what is kept per (account, region) (streams, channels, schedules, quotas,
//!   counters) and overall (settings, STS sessions, the call log);
//! - `services`: each service a table of its operations over that state (streams,
//!   signaling channels, resource tags, STS), and the path of one call;
//! - `admin`: the admin API under `/_emulator`;
//! - `server`, `emulator`: the front door that routes a request, and the in-process handle.
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
mod emulator;
mod model;
mod server;
mod services;
mod state;
mod wire;

pub use admin::PREFIX as ADMIN_PREFIX;
pub use emulator::{Emulator, Running};
pub use model::config::{
    Config, DEFAULT_LOG_CAPACITY, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_SESSION_SECONDS, Delays,
    Faults, Limits, LogSettings, MAX_LIST_PAGE_SIZE, Quotas, RoleRule, Settings, Sts,
};
pub use model::error::EmulatorError;
pub use model::operation::{Addresses, Operation};
pub use model::snapshot::{
    ChannelSnapshot, ImageDestination, ImageGeneration, MediaStorage, MediaStorageStatus,
    Notification, NotificationDestination, StorageTier, StreamSnapshot, StreamStatus,
};
pub use state::counters::{CallCounts, OperationCalls};
pub use state::log::CallRecord;
pub use state::rules::MAX_TAGS;
pub use state::streams::MAX_RETENTION_HOURS;
pub use state::tenants::Scope;
pub use wire::error::ApiError;
