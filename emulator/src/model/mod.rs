//! The vocabulary every layer shares and the crate's users see: the operations served (with
//! what each addresses and its published quota), the configuration and runtime settings,
//! ARNs and names, the snapshots tests read, and the emulator's own errors. Nothing here
//! depends on another folder of the crate.

pub mod arn;
pub mod config;
pub mod error;
pub mod operation;
pub mod resource;
pub mod snapshot;
