//! The Event budget: Events are for people, and a burst of ten thousand creates is not ten
//! thousand things a person reads. Normal and Warning Events each get a bounded rate (with a
//! burst); past it they are dropped and counted (`kvs_operator_events_dropped_total`). What
//! an Event would have said is in the object's conditions anyway.

use kube::runtime::events::EventType;

use super::budget::Budget;

/// Events per second, and saved up, for each type.
const PER_SECOND: f64 = 5.0;
const BURST: f64 = 50.0;

#[derive(Debug)]
pub struct EventBudget {
    normal: Budget,
    warning: Budget,
}

impl Default for EventBudget {
    fn default() -> Self {
        Self {
            normal: Budget::new(PER_SECOND, BURST),
            warning: Budget::new(PER_SECOND, BURST),
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
        assert_eq!(sent, 50, "only the burst of a flood gets through");
        assert!(
            budget.allows(&EventType::Warning),
            "warnings keep their own budget"
        );
    }
}
