//! Transitions due at a time (CREATING→ACTIVE, UPDATING→ACTIVE, DELETING→gone), applied
//! by the store at the start of every call, so no background task is needed and a zero
//! delay makes a transition immediate.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::model::snapshot::StreamStatus;

/// A resource whose transitions the schedule drives (streams, signaling channels).
pub trait Transitions {
    /// The ticket of the transition it waits for.
    fn ticket(&self) -> Option<u64>;
    fn status(&self) -> StreamStatus;
    /// Ends a CREATING or UPDATING transition: no ticket, ACTIVE.
    fn become_active(&mut self);
}

/// Pending transitions by due time. Each resource remembers the ticket of the one it
/// waits for; a ticket that no longer matches (the resource changed again, or is gone)
/// is ignored when it comes due.
#[derive(Debug, Default)]
pub struct Schedule {
    due: BTreeMap<(Instant, u64), String>,
    next_ticket: u64,
}

impl Schedule {
    /// A ticket for `name` due after `delay`, or `None` when the transition is
    /// immediate.
    pub fn enqueue(&mut self, name: &str, delay: Duration, now: Instant) -> Option<u64> {
        if delay.is_zero() {
            return None;
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.due.insert((now + delay, ticket), name.to_owned());
        Some(ticket)
    }

    /// The next transition due by `now`: its resource name and ticket.
    fn pop_due(&mut self, now: Instant) -> Option<(String, u64)> {
        let entry = self.due.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let ((_, ticket), name) = entry.remove_entry();
        Some((name, ticket))
    }

    /// Applies every transition of `resources` due by `now`: DELETING ones are gone,
    /// the others become ACTIVE.
    pub fn settle<T: Transitions>(&mut self, resources: &mut BTreeMap<String, T>, now: Instant) {
        while let Some((name, ticket)) = self.pop_due(now) {
            let Some(resource) = resources.get_mut(&name) else {
                continue;
            };
            if resource.ticket() != Some(ticket) {
                continue;
            }
            if resource.status() == StreamStatus::Deleting {
                resources.remove(&name);
            } else {
                resource.become_active();
            }
        }
    }

    pub fn clear(&mut self) {
        self.due.clear();
    }
}
