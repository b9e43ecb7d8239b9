//! The bench's output: one row per figure with our value, the baseline measured in the same
//! run, their ratio and the target, printed as an aligned table.

use std::time::Duration;

/// Which way a ratio must go to meet its target.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// ours / baseline at most this.
    AtMost(f64),
    /// ours / baseline at least this.
    AtLeast(f64),
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub ours: String,
    pub baseline: String,
    pub ratio: Option<f64>,
    pub target: String,
    /// Whether the target is met; `None` when there is nothing to check.
    pub met: Option<bool>,
}

impl Figure {
    /// A figure with a same-run baseline; the ratio is `ours / baseline` of the two numbers
    /// (none, and nothing met or missed, when the baseline measured 0).
    pub fn ratio(
        name: impl Into<String>,
        (ours, ours_text): (f64, String),
        (baseline, baseline_text): (f64, String),
        goal: Goal,
    ) -> Self {
        let ratio = (baseline > 0.0).then(|| ours / baseline);
        let (target, met) = match goal {
            Goal::AtMost(x) => (format!("ratio <= {x}"), ratio.map(|r| r <= x)),
            Goal::AtLeast(x) => (format!("ratio >= {x}"), ratio.map(|r| r >= x)),
        };
        Self {
            name: name.into(),
            ours: ours_text,
            baseline: baseline_text,
            ratio,
            target,
            met,
        }
    }

    /// A figure measured on its own, with an absolute target (or none).
    pub fn plain(name: impl Into<String>, ours: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ours: ours.into(),
            baseline: "-".into(),
            ratio: None,
            target: "-".into(),
            met: None,
        }
    }

    /// Shows a same-run baseline beside a figure whose target is absolute: the baseline's
    /// value and `ours / baseline` (none when the baseline is 0), the target unchanged.
    pub fn beside(
        mut self,
        (ours, baseline): (f64, f64),
        baseline_text: impl Into<String>,
    ) -> Self {
        self.baseline = baseline_text.into();
        self.ratio = (baseline > 0.0).then(|| ours / baseline);
        self
    }

    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.met = Some(met);
        self
    }

    /// A figure this run did not measure, with why.
    pub fn not_measured(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ours: format!("not measured ({})", why.into()),
            baseline: "-".into(),
            ratio: None,
            target: "-".into(),
            met: None,
        }
    }
}

/// The round whose ratio is the median of all rounds' (of an even count, the lower middle
/// one: the bench asks for an odd count); `None` without rounds. Each round measures ours
/// and its baseline back to back, so both see the machine in the same state; the median
/// round leaves out one round a neighbour slowed down, on either side.
pub fn median_round<T>(rounds: &[T], ratio: impl Fn(&T) -> f64) -> Option<&T> {
    let mut order: Vec<&T> = rounds.iter().collect();
    order.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    order.get(order.len().saturating_sub(1) / 2).copied()
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

pub fn rate(rows: f64, d: Duration) -> String {
    format!("{:.0} rows/s", rows / d.as_secs_f64())
}

pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A peak of this process's memory above what it held before ("N MiB (before → peak)"), as
/// measured by `procs::reset_own_peak` and `procs::own_peak_since_reset`.
pub fn peak_figure(name: &str, before: Option<u64>, peak: Option<u64>) -> Figure {
    match (before, peak) {
        (Some(before), Some(peak)) => Figure::plain(
            name,
            format!(
                "{} ({} → {})",
                mib(peak.saturating_sub(before)),
                mib(before),
                mib(peak)
            ),
        ),
        _ => Figure::not_measured(name, "the kernel refused to reset the peak"),
    }
}

/// Prints the figures as an aligned table.
pub fn print(title: &str, figures: &[Figure]) {
    let head = ["figure", "ours", "baseline", "ratio", "target", "met"];
    let rows: Vec<[String; 6]> = figures
        .iter()
        .map(|f| {
            [
                f.name.clone(),
                f.ours.clone(),
                f.baseline.clone(),
                f.ratio.map_or("-".into(), |r| format!("{r:.2}")),
                f.target.clone(),
                match f.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            out.push_str(c);
            out.push_str(&" ".repeat(w - c.chars().count()));
        }
        println!("{}", out.trim_end());
    };
    println!();
    println!("{title}");
    line(head);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(std::array::from_fn(|i| rule[i].as_str()));
    for r in &rows {
        line(std::array::from_fn(|i| r[i].as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_round_is_the_middle_one_by_ratio() {
        // (ours, baseline): ratios 2.0, 0.5, 1.0.
        let rounds = [(4.0, 2.0), (1.0, 2.0), (3.0, 3.0)];
        let ratio = |r: &(f64, f64)| r.0 / r.1;
        assert_eq!(
            median_round(&rounds, ratio),
            Some(&(3.0, 3.0)),
            "ratio 1.0 lies between 0.5 and 2.0"
        );
        assert_eq!(
            median_round(&rounds[..2], ratio),
            Some(&(1.0, 2.0)),
            "of two, the lower: 0.5"
        );
        assert_eq!(median_round(&rounds[..1], ratio), Some(&(4.0, 2.0)));
        assert_eq!(median_round(&[] as &[(f64, f64)], ratio), None);
    }

    #[test]
    fn ratios_are_ours_over_baseline_and_checked_against_the_goal() {
        let f = Figure::ratio(
            "sync",
            (300.0, "300".into()),
            (1000.0, "1000".into()),
            Goal::AtLeast(0.5),
        );
        assert_eq!(f.ratio, Some(0.3), "300 / 1000");
        assert_eq!(f.met, Some(false), "0.3 is below the 0.5 wanted");
        let g = Figure::ratio(
            "load",
            (3.0, "3 s".into()),
            (2.0, "2 s".into()),
            Goal::AtMost(2.0),
        );
        assert_eq!(g.ratio, Some(1.5));
        assert_eq!(g.met, Some(true), "1.5 is within 2");
        let z = Figure::ratio(
            "empty",
            (3.0, "3 s".into()),
            (0.0, "0 s".into()),
            Goal::AtMost(2.0),
        );
        assert_eq!(
            (z.ratio, z.met),
            (None, None),
            "a baseline of 0 gives no ratio to judge"
        );
    }

    #[test]
    fn a_baseline_beside_an_absolute_target_adds_the_ratio_and_keeps_the_target() {
        let f = Figure::plain("memory", "318 MiB")
            .target("<= 250 MiB", false)
            .beside((318.0, 212.0), "212 MiB");
        assert_eq!(f.baseline, "212 MiB");
        assert_eq!(f.ratio, Some(1.5), "318 / 212");
        assert_eq!(
            f.target, "<= 250 MiB",
            "the target is still the absolute one"
        );
        assert_eq!(f.met, Some(false), "and whether it is met does not change");
        let zero = Figure::plain("memory", "1 MiB").beside((1.0, 0.0), "0 MiB");
        assert_eq!(zero.ratio, None, "no ratio to a baseline of nothing");
    }
}
