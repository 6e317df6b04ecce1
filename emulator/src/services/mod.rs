//! The services: what each operation means. A service is a table from its operations to
//! handlers over its state (`streams`: streams with their configurations and tags;
//! `channels`: signaling channels; `resource_tags`: the tags of either by ARN; `sts`).
//!
//! Every KVS handler goes one way (`handler::run`): decode the JSON input, check it
//! against the model's constraints, apply it, encode the output; so a handler states only
//! what is particular to it. `call` is what happens around every operation: who calls, in
//! which scope, permissions, faults, quotas, counters and the call log.

use serde_json::Value;

use crate::model::operation::Operation;
use crate::wire::error::ApiError;
use handler::{Context, Route};

#[macro_use]
pub mod handler;

pub mod call;
mod channels;
mod listing;
mod resource_tags;
mod streams;
pub mod sts;
pub mod validate;

/// Every table of a KVS service.
const TABLES: [&[Route]; 3] = [
    streams::OPERATIONS,
    channels::OPERATIONS,
    resource_tags::OPERATIONS,
];

/// Runs the KVS operation `op` on a JSON object body, after applying the transitions
/// that are due, and returns the JSON output body.
pub fn dispatch(op: Operation, body: &Value, ctx: Context<'_>) -> Result<Vec<u8>, ApiError> {
    ctx.streams.settle(ctx.now);
    ctx.channels.settle(ctx.now);
    let handler = TABLES
        .iter()
        .flat_map(|table| table.iter())
        .find(|(o, _)| *o == op)
        .map(|(_, handler)| *handler)
        .ok_or_else(|| ApiError::unknown_operation("POST", op.name()))?;
    handler(body, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kvs_operation_is_in_exactly_one_table() {
        for op in Operation::ALL {
            let rows = TABLES
                .iter()
                .flat_map(|table| table.iter())
                .filter(|(o, _)| *o == op)
                .count();
            let expected = usize::from(op.path().is_some());
            assert_eq!(rows, expected, "{op}");
        }
    }
}
