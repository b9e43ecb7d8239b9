//! [`Rates`]: request budgets shared by the processes on one database. An engine served by
//! one process shares none (its process's budgets are exact); an engine that shares them
//! keeps the generic cell rate algorithm: a burst, then one request per interval.

use std::time::Duration;

use usagedesk_cloud::limits::RateLimit;
use usagedesk_cloud::storage::{Budget, SharedBudgets};

use super::*;

/// 3 requests an hour: the burst is 3, and one comes back every 20 minutes.
fn three_an_hour() -> RateLimit {
    RateLimit {
        burst: 3,
        period: Duration::from_secs(3600),
    }
}

fn allowed(b: Budget) -> bool {
    b == Budget::Allowed
}

pub fn shared_budgets_give_a_burst_then_refuse_for_at_most_an_interval(open: Open<'_>) {
    let fresh = open();
    let Some(budgets) = fresh.store.shared_budgets() else {
        // One process serves this engine's database: nothing is shared, nothing to check.
        return;
    };
    let limit = three_an_hour();
    // Peeking spends nothing: a key peeked many times still has its whole burst.
    for _ in 0..10 {
        assert!(allowed(budgets.peek("address 10.0.0.1", &limit).unwrap()));
    }
    for i in 0..3 {
        assert!(
            allowed(budgets.spend("address 10.0.0.1", &limit).unwrap()),
            "request {i} of the burst of 3"
        );
    }
    for what in ["spend", "peek"] {
        let b = if what == "spend" {
            budgets.spend("address 10.0.0.1", &limit).unwrap()
        } else {
            budgets.peek("address 10.0.0.1", &limit).unwrap()
        };
        match b {
            Budget::Denied(wait) => assert!(
                wait > Duration::ZERO && wait <= Duration::from_secs(1200),
                "{what}: one request comes back every 20 minutes, so the wait is at most that: {wait:?}"
            ),
            Budget::Allowed => panic!("{what}: the fourth request within the hour is over the burst"),
        }
    }
    assert!(
        allowed(budgets.spend("address 10.0.0.2", &limit).unwrap()),
        "another key has its own budget"
    );
}

pub fn shared_budgets_count_concurrent_requests_once_each(open: Open<'_>) {
    let fresh = open();
    let Some(budgets) = fresh.store.shared_budgets() else {
        return;
    };
    let limit = RateLimit {
        burst: 5,
        period: Duration::from_secs(3600),
    };
    let budgets: &dyn SharedBudgets = budgets;
    let passed: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..4)
                        .filter(|_| allowed(budgets.spend("instance inst-1", &limit).unwrap()))
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert_eq!(
        passed, 5,
        "32 requests at once against a burst of 5: exactly 5 pass, whatever the interleaving"
    );
}
