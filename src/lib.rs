//! kvs-operator: Amazon Kinesis Video Streams managed declaratively from Kubernetes.

pub mod accounts;
pub mod api;
pub mod bindings;
pub mod budget;
pub mod cli;
pub mod controller;
pub mod drift;
pub mod error;
pub mod events;
pub mod import;
pub mod kms;
pub mod kvs;
pub mod leader;
pub mod metrics;
pub mod plan;
pub mod server;
pub mod settle;
pub mod shards;
pub mod status;
pub mod sync;
pub mod telemetry;
pub mod tenancy;

pub use error::{Error, ErrorClass, Result};
