//! The Event budget: Events are for people, and a burst of ten thousand creates is not ten
//! thousand things a person reads. Normal and Warning Events each get a bounded rate (with a
//! burst); past it they are dropped and counted (`kvs_operator_events_dropped_total`). What
//! an Event would have said is in the object's conditions anyway.
//!
//! Normal Events (created, deleting, released) come 20 at once and then one every ten
//! seconds: a person applying a few objects sees each one's, while a fleet's burst would
//! otherwise ask the API server to store one per object (253 for 10,000 creates at one a
//! second, 40 now), and the object's Ready condition says the same. Warnings, which ask
//! someone to act, refill far faster.

use kube::runtime::events::EventType;

use super::budget::Budget;

/// Events per second, and saved up, for each type.
const NORMAL_PER_SECOND: f64 = 0.1;
const NORMAL_BURST: f64 = 20.0;
const WARNING_PER_SECOND: f64 = 5.0;
const WARNING_BURST: f64 = 50.0;

#[derive(Debug)]
pub struct EventBudget {
    normal: Budget,
    warning: Budget,
}

impl Default for EventBudget {
    fn default() -> Self {
        Self {
            normal: Budget::new(NORMAL_PER_SECOND, NORMAL_BURST),
            warning: Budget::new(WARNING_PER_SECOND, WARNING_BURST),
        }
    }
}

impl EventBudget {
    /// Whether an Event of `type_` may be sent now (and takes its share if so).
    pub fn allows(&self, type_: &EventType) -> bool {
        match type_ {
            EventType::Normal => self.normal.try_take(),
            EventType::Warning => self.warning.try_take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_one_type_does_not_silence_the_other() {
        let budget = EventBudget::default();
        let sent = (0..10_000)
            .filter(|_| budget.allows(&EventType::Normal))
            .count();
        assert_eq!(sent, 20, "only the burst of a flood gets through");
        assert!(
            budget.allows(&EventType::Warning),
            "warnings keep their own budget"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_burst_warnings_come_back_faster_than_normal_events() {
        let budget = EventBudget::default();
        while budget.allows(&EventType::Normal) {}
        while budget.allows(&EventType::Warning) {}
        tokio::time::advance(std::time::Duration::from_secs(8)).await;
        let count = |type_: EventType| (0..100).filter(|_| budget.allows(&type_)).count();
        assert_eq!(
            count(EventType::Normal),
            0,
            "one Normal Event in ten seconds"
        );
        assert_eq!(count(EventType::Warning), 40, "five warnings a second");
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert_eq!(count(EventType::Normal), 1);
    }
}
