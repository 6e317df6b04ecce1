//! The churn phase: the whole fleet deleted and applied again, twice, with the replicas of
//! the rest phase still running; then, once they are quiet, their RSS is compared with the
//! first rest's. Memory that grows with every object ever seen (and not with the objects
//! there are) shows here.

use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, ListParams};
use kvs_operator::api::VideoStream;

use crate::BoxError;
use crate::fleet::{self, ReadyCount};
use crate::machine;
use crate::operators::{self, Operator, rss_mib};
use crate::scenario::Scenario;

/// Rounds of delete-everything, apply-everything.
pub const ROUNDS: usize = 2;
/// Quiet (no reconcile counted) this long before the RSS is read.
const QUIET: Duration = Duration::from_secs(10);
/// Then this long at rest, so that nothing of the last round is still in flight.
const SETTLE: Duration = Duration::from_secs(60);
/// How long to wait for the quiet at most (resyncs may keep it from coming).
const QUIET_WITHIN: Duration = Duration::from_secs(300);

/// How one round went.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// From the delete request until every VideoStream was gone.
    pub deleted: Duration,
    /// From the apply until every VideoStream was Ready again.
    pub ready: Duration,
    /// Every replica's RSS added up when it was all Ready.
    pub rss_mib: f64,
}

/// The whole phase.
#[derive(Debug, Clone)]
pub struct Churned {
    pub rounds: Vec<Round>,
    /// Every replica's RSS added up at the end of the first rest.
    pub first_rest_mib: f64,
    /// The same after the rounds, once quiet.
    pub after_mib: f64,
    /// Whether the replicas went quiet before the RSS was read.
    pub quiet: bool,
}

impl Churned {
    /// How far the RSS after churn is from the first rest's, in percent.
    pub fn change_percent(&self) -> f64 {
        (self.after_mib / self.first_rest_mib.max(1e-9) - 1.0) * 100.0
    }

    /// `after 2 rounds: 104.1 MiB at rest vs 102.7 at the first rest (+1.4 %)`.
    pub fn describe(&self) -> String {
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "round {}: all gone in {}, all Ready again in {} ({:.1} MiB)",
                    i + 1,
                    machine::human(r.deleted),
                    machine::human(r.ready),
                    r.rss_mib
                )
            })
            .collect();
        format!(
            "{}; {} {:.1} MiB vs {:.1} MiB at the end of the first rest ({:+.1} %)",
            rounds.join("; "),
            if self.quiet {
                "at rest afterwards"
            } else {
                "afterwards (never quiet for 10 s within 5 minutes)"
            },
            self.after_mib,
            self.first_rest_mib,
            self.change_percent()
        )
    }
}

/// Runs [`ROUNDS`] rounds against `operators`, then waits for them to be quiet.
pub async fn churn(
    client: &kube::Client,
    scenario: &Scenario,
    operators: &[Operator],
    first_rest_mib: f64,
) -> Result<Churned, BoxError> {
    let within = Duration::from_secs(3600);
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        let ready = ReadyCount::start(client);
        wait_for(&ready, within, |r| r.seen() >= scenario.streams).await?;
        let began = Instant::now();
        for namespace in scenario.namespaces() {
            delete_all(&Api::namespaced(client.clone(), &namespace)).await?;
        }
        wait_for(&ready, within, |r| r.seen() == 0).await?;
        let deleted = began.elapsed();
        let began = Instant::now();
        fleet::apply(client, scenario, &AtomicUsize::new(0)).await?;
        wait_for(&ready, within, |r| r.ready() >= scenario.streams).await?;
        let finished = Round {
            deleted,
            ready: began.elapsed(),
            rss_mib: rss_mib(operators),
        };
        println!(
            "churn round {round}: all gone in {}, all Ready again in {}; operator RSS {:.1} MiB",
            machine::human(finished.deleted),
            machine::human(finished.ready),
            finished.rss_mib
        );
        rounds.push(finished);
    }
    let quiet = wait_quiet(operators, QUIET_WITHIN).await;
    tokio::time::sleep(SETTLE).await;
    Ok(Churned {
        rounds,
        first_rest_mib,
        after_mib: rss_mib(operators),
        quiet,
    })
}

/// Deletes every VideoStream `api` sees. The request follows minutes without one on its
/// connection, which the API server may close just as it is reused (the answer is then
/// `IncompleteMessage`; it stopped a run on 2026-12-07): a delete of the collection can
/// be asked again, so it is, at most three times in all.
async fn delete_all(api: &Api<VideoStream>) -> Result<(), BoxError> {
    let mut attempt = 1;
    loop {
        match api
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
        {
            Ok(_) => return Ok(()),
            Err(error @ (kube::Error::Service(_) | kube::Error::HyperError(_))) if attempt < 3 => {
                println!("churn: the delete failed before an answer ({error}); asking again");
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

async fn wait_for(
    ready: &ReadyCount,
    within: Duration,
    done: impl Fn(&ReadyCount) -> bool,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + within;
    while !done(ready) {
        if Instant::now() > deadline {
            return Err(format!(
                "churn: stuck with {} VideoStreams seen and {} Ready after {}",
                ready.seen(),
                ready.ready(),
                machine::human(within)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// Until no replica counted a reconcile for [`QUIET`]; false if that did not happen
/// `within`.
async fn wait_quiet(operators: &[Operator], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut last = (operators::reconciles(operators).await, Instant::now());
    while last.1.elapsed() < QUIET {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = operators::reconciles(operators).await;
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    true
}
