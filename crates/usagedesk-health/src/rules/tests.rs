//! Each factor against its definition in `docs/health.md`, written out by hand here.

use super::*;
use InstanceStatus::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_weights_add_up_to_100() {
    assert_eq!(Factor::ALL.iter().map(|f| f.weight()).sum::<u32>(), 100);
    for f in Factor::ALL {
        assert_eq!(Factor::from_key(f.key()), Some(f), "keys round-trip");
    }
}

#[test]
fn usage_trend_compares_the_means_of_the_known_months() {
    // Earlier 40, (n/a), 50 → mean 45; recent 45, 54, 36 → mean 45: no change.
    let earlier = [Some(40), None, Some(50)];
    assert_eq!(
        usage_change(&earlier, &[Some(45), Some(54), Some(36)]),
        Some(0.0)
    );
    // Recent 54 → +20 %.
    let up = usage_change(&earlier, &[Some(54), None, None]).unwrap();
    assert!(close(up, 0.2), "{up}");
    assert_eq!(usage_change(&[None, None, None], &[Some(3)]), None);
    assert_eq!(
        usage_change(&[Some(0)], &[Some(3)]),
        Some(1.0),
        "from nothing: +100 %"
    );
    assert_eq!(usage_change(&[Some(0)], &[Some(0)]), Some(0.0));
    // Anchors: −50 % → 0, 0 → 70, +20 % → 100; −25 % halfway between 0 and 70.
    assert_eq!(usage_trend_score(-0.9), 0.0);
    assert_eq!(usage_trend_score(-0.5), 0.0);
    assert!(close(usage_trend_score(-0.25), 35.0));
    assert_eq!(usage_trend_score(0.0), 70.0);
    assert!(close(usage_trend_score(0.1), 85.0));
    assert_eq!(usage_trend_score(0.2), 100.0);
    assert_eq!(usage_trend_score(3.0), 100.0);
}

#[test]
fn utilization_is_full_between_half_and_all_seats() {
    assert_eq!(utilization_score(0.0), 0.0);
    assert!(
        close(utilization_score(0.2), 40.0),
        "20 % is 2/5 of the way to 50 %"
    );
    assert_eq!(utilization_score(0.5), 100.0);
    assert_eq!(utilization_score(0.9), 100.0);
    assert_eq!(utilization_score(1.0), 100.0);
    assert!(
        close(utilization_score(1.25), 80.0),
        "25 % over: 20 points less"
    );
    assert_eq!(utilization_score(1.5), 60.0);
    assert_eq!(utilization_score(4.0), 60.0);
}

#[test]
fn instance_status_is_the_mean_of_the_reporting_instances_points() {
    assert_eq!(instance_status_score(&[]), None);
    // (100 + 80 + 50 + 10 + 0) / 5 = 48.
    assert_eq!(
        instance_status_score(&[Ready, Updating, Degraded, Unavailable, Missing]),
        Some(48.0)
    );
    assert_eq!(instance_status_score(&[Ready, Degraded]), Some(75.0));
}

#[test]
fn version_lag_costs_25_points_a_version() {
    assert_eq!(version_lag_score(0), 100.0);
    assert_eq!(version_lag_score(1), 75.0);
    assert_eq!(version_lag_score(3), 25.0);
    assert_eq!(version_lag_score(4), 0.0);
    assert_eq!(version_lag_score(9), 0.0);
}

#[test]
fn expiry_and_freshness_are_linear_between_their_anchors() {
    assert_eq!(license_expiry_score(-3), 0.0);
    assert_eq!(license_expiry_score(0), 0.0);
    assert!(close(license_expiry_score(45), 25.0), "45 of 180 days");
    assert_eq!(license_expiry_score(180), 100.0);
    assert_eq!(license_expiry_score(400), 100.0);
    assert_eq!(reporting_freshness_score(0), 100.0);
    assert_eq!(reporting_freshness_score(1), 100.0);
    // 1 day → 100, 30 days → 0: 100 − 100 × (15 − 1) / 29.
    assert!(close(
        reporting_freshness_score(15),
        100.0 - 100.0 * 14.0 / 29.0
    ));
    assert_eq!(reporting_freshness_score(30), 0.0);
    assert_eq!(reporting_freshness_score(90), 0.0);
}

#[test]
fn the_score_is_the_weighted_mean_and_contributions_add_up() {
    let inputs = HealthInputs {
        earlier: vec![Some(100), Some(100), Some(100)],
        recent: vec![Some(90), Some(90), Some(90)],
        used: 30,
        seats: 100,
        reporting: vec![Ready, Degraded],
        instances: 3,
        versions_behind: Some(2),
        days_to_expiry: Some(90),
        days_since_report: Some(0),
    };
    let h = score(&inputs);
    // trend −10 %: 70 − 14 = 56; utilization 30 %: 60; status 75; version 50; expiry 50;
    // freshness 100.
    let expected = [56.0, 60.0, 75.0, 50.0, 50.0, 100.0];
    for (f, e) in h.factors.iter().zip(expected) {
        assert!(
            close(f.score.unwrap(), e),
            "{:?}: {:?} vs {e}",
            f.factor,
            f.score
        );
        assert!(close(f.contribution, f64::from(f.weight) * e / 100.0));
    }
    let total: f64 =
        (20.0 * 56.0 + 20.0 * 60.0 + 20.0 * 75.0 + 15.0 * 50.0 + 15.0 * 50.0 + 10.0 * 100.0)
            / 100.0;
    assert_eq!(h.score, total.round() as u32);
    assert!(close(h.factors.iter().map(|f| f.contribution).sum(), total));
    assert_eq!(
        h.factors[2].detail,
        "1 Ready, 1 Degraded, 1 not reporting (left out)"
    );
}

#[test]
fn factors_without_data_are_left_out_and_the_others_weigh_more() {
    // No usage, no seats, no instances: only expiry (weight 15) has data.
    let inputs = HealthInputs {
        days_to_expiry: Some(36),
        ..Default::default()
    };
    let h = score(&inputs);
    let with_data: Vec<_> = h.factors.iter().filter(|f| f.score.is_some()).collect();
    assert_eq!(with_data.len(), 1);
    assert_eq!(with_data[0].factor, Factor::LicenseExpiry);
    // 36 of 180 days: 20; alone, it is the whole score.
    assert!(close(with_data[0].contribution, 20.0));
    assert_eq!(h.score, 20);
    // Never reporting instances score 0 for freshness; a license that never ends scores 100.
    let silent = score(&HealthInputs {
        instances: 2,
        ..Default::default()
    });
    let fresh = &silent.factors[5];
    assert_eq!(
        (fresh.score, fresh.detail.as_str()),
        (Some(0.0), "never reported")
    );
    assert_eq!(silent.factors[4].score, Some(100.0));
    // Expiry 100 × 15 + freshness 0 × 10 over 25: 60.
    assert_eq!(silent.score, 60);
}
