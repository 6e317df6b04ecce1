//! Per-operation call counters, so tests and benchmarks can assert exactly which AWS
//! calls were made.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::operation::Operation;

/// Calls of one operation since the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperationCalls {
    /// Every call that reached the operation, whatever its outcome.
    pub total: u64,
    /// Calls answered successfully.
    pub succeeded: u64,
    /// Failed calls by error type, e.g. `ClientLimitExceededException`.
    pub errors: BTreeMap<String, u64>,
}

impl OperationCalls {
    /// Failed calls with error type `code`.
    pub fn errors_of(&self, code: &str) -> u64 {
        self.errors.get(code).copied().unwrap_or(0)
    }
}

/// Counters of every operation called at least once since the last reset.
pub type CallCounts = BTreeMap<Operation, OperationCalls>;

/// Records calls as they are answered.
#[derive(Debug, Default)]
pub struct Counters {
    calls: CallCounts,
}

impl Counters {
    /// Records one call of `op`; `error` is the error type when it failed.
    pub fn record(&mut self, op: Operation, error: Option<&str>) {
        let calls = self.calls.entry(op).or_default();
        calls.total += 1;
        match error {
            None => calls.succeeded += 1,
            // No allocation once the code has been seen.
            Some(code) => match calls.errors.get_mut(code) {
                Some(count) => *count += 1,
                None => {
                    calls.errors.insert(code.to_owned(), 1);
                }
            },
        }
    }

    /// Whether no call was recorded since the last reset.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Calls of every operation.
    pub fn total(&self) -> u64 {
        self.calls.values().map(|calls| calls.total).sum()
    }

    pub fn snapshot(&self) -> CallCounts {
        self.calls.clone()
    }

    pub fn reset(&mut self) {
        self.calls.clear();
    }
}
