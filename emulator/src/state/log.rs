//! The call log: every API call (KVS and STS) in the order it was answered, with who made
//! it, where and what came of it. Bounded: the oldest records are dropped first.

use std::collections::VecDeque;
use std::time::SystemTime;

use serde::Serialize;

use crate::model::operation::Operation;
use crate::model::snapshot::to_epoch_seconds;

/// One answered API call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// Increases by one with every call, across clears, so two reads can be ordered.
    pub seq: u64,
    /// Wall time of the answer (epoch seconds with milliseconds in JSON).
    #[serde(serialize_with = "epoch_seconds")]
    pub time: SystemTime,
    pub operation: Operation,
    /// The account the call acted in; `None` when the credentials were refused before
    /// an account was known (missing, malformed or unrecognised).
    pub account: Option<String>,
    /// The region of the call's SigV4 scope (or the emulator's region).
    pub region: String,
    /// The access key id that signed the call (empty when unsigned).
    pub access_key_id: String,
    /// The stream the call addressed by name or ARN, if any.
    pub stream: Option<String>,
    /// The signaling channel the call addressed by name or ARN, if any.
    pub channel: Option<String>,
    /// The role an AssumeRole call asked for.
    pub role_arn: Option<String>,
    /// `None` for success, else the error code answered, e.g. `ResourceInUseException`.
    pub error: Option<String>,
}

impl CallRecord {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

fn epoch_seconds<S: serde::Serializer>(
    time: &SystemTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(to_epoch_seconds(*time))
}

/// A record before it gets its sequence number.
pub struct NewRecord {
    pub operation: Operation,
    pub account: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub stream: Option<String>,
    pub channel: Option<String>,
    pub role_arn: Option<String>,
    pub error: Option<&'static str>,
}

/// The ring buffer of recent calls.
#[derive(Debug, Default)]
pub struct CallLog {
    records: VecDeque<CallRecord>,
    next_seq: u64,
    /// Records dropped (for capacity) since the last clear.
    dropped: u64,
}

impl CallLog {
    /// Appends a record, dropping the oldest ones beyond `capacity`.
    pub fn push(&mut self, record: NewRecord, capacity: usize) {
        self.next_seq += 1;
        while self.records.len() >= capacity.max(1) {
            self.records.pop_front();
            self.dropped += 1;
        }
        if capacity == 0 {
            self.dropped += 1;
            return;
        }
        self.records.push_back(CallRecord {
            seq: self.next_seq,
            time: SystemTime::now(),
            operation: record.operation,
            account: record.account,
            region: record.region,
            access_key_id: record.access_key_id,
            stream: record.stream,
            channel: record.channel,
            role_arn: record.role_arn,
            error: record.error.map(str::to_owned),
        });
    }

    /// Records with a sequence number greater than `after`, oldest first.
    pub fn since(&self, after: u64) -> Vec<CallRecord> {
        let start = self.records.partition_point(|r| r.seq <= after);
        self.records.range(start..).cloned().collect()
    }

    /// How many records were dropped for capacity since the last clear.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets every record; sequence numbers keep increasing.
    pub fn clear(&mut self) {
        self.records.clear();
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(op: Operation) -> NewRecord {
        NewRecord {
            operation: op,
            account: Some("123456789012".into()),
            region: "us-west-2".into(),
            access_key_id: "AKID".into(),
            stream: None,
            channel: None,
            role_arn: None,
            error: None,
        }
    }

    #[test]
    fn ring_buffer_keeps_the_newest_in_order() {
        let mut log = CallLog::default();
        for _ in 0..5 {
            log.push(record(Operation::ListStreams), 3);
        }
        let seqs: Vec<u64> = log.since(0).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(log.dropped(), 2);
        assert_eq!(log.since(4).len(), 1);
        log.clear();
        assert!(log.since(0).is_empty());
        log.push(record(Operation::CreateStream), 3);
        assert_eq!(log.since(0)[0].seq, 6, "sequence survives a clear");
        log.push(record(Operation::CreateStream), 0);
        assert_eq!(log.since(0).len(), 0, "capacity 0 keeps nothing");
    }
}
