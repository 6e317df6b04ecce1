//! The emulator's own failures (not those of an API call, which are `wire::error::ApiError`).

use std::io;

/// A failure of the emulator itself.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The listener's local address could not be read.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(#[source] io::Error),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A settings document (admin `PUT /_emulator/config`) could not be applied.
    #[error("invalid settings: {0}")]
    Settings(#[from] serde_json::Error),
}
