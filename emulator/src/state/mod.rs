//! What the emulator remembers. Per (account, region), as AWS keeps it: the streams and
//! signaling channels (one `registry` of each kind, what each kind keeps in `streams` and
//! `channels`, the rules they share in `rules`), their due transitions (`schedule`),
//! pages (`paging`), quota buckets (`quota`) and call counters (`counters`).
//! For the whole emulator: the settings, the scopes, the STS sessions (`sessions`) and the
//! call log (`log`), held together by `shared`.

pub mod channels;
pub mod counters;
pub mod lock;
pub mod log;
pub mod paging;
pub mod quota;
pub mod registry;
pub mod rules;
pub mod schedule;
pub mod sessions;
pub mod shared;
pub mod streams;
pub mod tenants;
