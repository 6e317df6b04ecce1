//! kvs-operator: Amazon Kinesis Video Streams managed declaratively from Kubernetes.
//!
//! - [`api`]: the custom resources (VideoStream, SignalingChannel, AccountBinding);
//! - [`engine`]: the one reconcile engine every kind runs on;
//! - [`stream`], [`channel`]: the kinds — their planners and KVS calls;
//! - [`tenancy`]: AccountBindings, per-account identities and state;
//! - [`kvs`]: the port to Kinesis Video Streams (the SDK adapter, the rate-limiting gate,
//!   the tag cache, the read-only wrapper);
//! - the commands beside `run`: [`import`], [`plan`] (what applying manifests would do),
//!   [`fleet`] (`status`).

pub mod api;
pub mod channel;
pub mod cli;
pub mod engine;
pub mod error;
pub mod fingerprint;
pub mod fleet;
pub mod import;
pub mod kms;
pub mod kvs;
pub mod metrics;
pub mod plan;
pub mod server;
pub mod stream;
pub mod telemetry;
pub mod tenancy;

pub use error::{Error, ErrorClass, Result};
