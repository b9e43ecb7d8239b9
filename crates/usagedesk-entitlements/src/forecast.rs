//! The forecast at renewal: a least-squares line through the last used-seat counts,
//! evaluated at the license's expiry month.

use usagedesk_domain::YearMonth;

/// At most this many completed months feed the line.
pub const FORECAST_MONTHS: usize = 6;
/// Fewer months than this give no forecast.
pub const MIN_FORECAST_MONTHS: usize = 3;

/// A month as a number; consecutive months differ by 1.
pub fn month_index(m: YearMonth) -> i64 {
    i64::from(m.year()) * 12 + i64::from(m.month()) - 1
}

/// The least-squares line through `points` (month, value), evaluated at `at`; `None` with
/// fewer than [`MIN_FORECAST_MONTHS`] points. Never below 0 (seats are not negative), and
/// rounded to one decimal.
pub fn forecast_at(points: &[(YearMonth, u64)], at: YearMonth) -> Option<f64> {
    if points.len() < MIN_FORECAST_MONTHS {
        return None;
    }
    let n = points.len() as f64;
    let xs: Vec<f64> = points.iter().map(|(m, _)| month_index(*m) as f64).collect();
    let ys: Vec<f64> = points.iter().map(|(_, v)| *v as f64).collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    // Distinct months, so sxx > 0 whenever there are two or more points.
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let value = mean_y + slope * (month_index(at) as f64 - mean_x);
    Some(round1(value.max(0.0)))
}

/// Rounded to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ym(s: &str) -> YearMonth {
        s.parse().unwrap()
    }

    #[test]
    fn a_straight_line_is_extended_exactly() {
        // 10, 12, 14, 16: +2 a month; six months after the last point: 16 + 12 = 28.
        let points = [
            (ym("2024-01"), 10),
            (ym("2024-02"), 12),
            (ym("2024-03"), 14),
            (ym("2024-04"), 16),
        ];
        assert_eq!(forecast_at(&points, ym("2024-10")), Some(28.0));
        assert_eq!(forecast_at(&points, ym("2024-02")), Some(12.0));
    }

    #[test]
    fn fewer_than_three_months_give_none_and_a_falling_line_stops_at_zero() {
        let two = [(ym("2024-01"), 10), (ym("2024-02"), 12)];
        assert_eq!(forecast_at(&two, ym("2024-06")), None);
        let falling = [
            (ym("2024-01"), 30),
            (ym("2024-02"), 20),
            (ym("2024-03"), 10),
        ];
        assert_eq!(forecast_at(&falling, ym("2025-01")), Some(0.0));
    }

    #[test]
    fn noisy_points_give_the_least_squares_fit() {
        // x = 0,1,2 (Dec, Jan, Feb across a year end), y = 1, 3, 2: slope 0.5, mean (1, 2);
        // at x = 5 (May): 2 + 0.5 * 4 = 4.
        let points = [(ym("2023-12"), 1), (ym("2024-01"), 3), (ym("2024-02"), 2)];
        assert_eq!(forecast_at(&points, ym("2024-05")), Some(4.0));
    }
}
