//! Version lag: how many distinct versions seen on a channel are newer than an instance's.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// A version string ordered part by part (`.`, `-`, `+` apart): numbers numerically, a number
/// after text, text as text; more parts after equal ones is newer (`2.1.1` > `2.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(String);

impl Version {
    pub fn new(s: &str) -> Self {
        Self(s.trim().to_owned())
    }

    fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.trim_start_matches(['v', 'V']).split(['.', '-', '+'])
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = self.parts();
        let mut b = other.parts();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return self.0.cmp(&other.0),
                (Some(_), None) => return Ordering::Greater,
                (None, Some(_)) => return Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(p), Ok(q)) => p.cmp(&q),
                        (Ok(_), Err(_)) => Ordering::Greater,
                        (Err(_), Ok(_)) => Ordering::Less,
                        (Err(_), Err(_)) => x.cmp(y),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Every version seen, per channel.
#[derive(Debug, Default)]
pub struct ChannelVersions(BTreeMap<String, BTreeSet<Version>>);

impl ChannelVersions {
    pub fn add(&mut self, channel: &str, version: &str) {
        if !version.trim().is_empty() {
            self.0
                .entry(channel.to_owned())
                .or_default()
                .insert(Version::new(version));
        }
    }

    /// The distinct versions seen on `channel` that are newer than `version`.
    pub fn behind(&self, channel: &str, version: &str) -> u32 {
        let v = Version::new(version);
        self.0.get(channel).map_or(0, |set| {
            set.range((std::ops::Bound::Excluded(v), std::ops::Bound::Unbounded))
                .count() as u32
        })
    }

    /// The newest version seen on `channel`.
    pub fn newest(&self, channel: &str) -> Option<&str> {
        self.0.get(channel)?.last().map(|v| v.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically_part_by_part() {
        let v = |s: &str| Version::new(s);
        assert!(v("2.10.0") > v("2.9.3"), "10 > 9, not as text");
        assert!(v("2.1.1") > v("2.1"));
        assert!(v("v3.0") > v("2.99"));
        assert!(v("2.1.0") > v("2.1.0-rc1") || v("2.1.0-rc1") > v("2.1.0"));
        assert_eq!(v("1.2.3").cmp(&v("1.2.3")), Ordering::Equal);
    }

    #[test]
    fn behind_counts_the_newer_distinct_versions_of_the_channel() {
        let mut c = ChannelVersions::default();
        for (ch, ver) in [
            ("stable", "2.0.0"),
            ("stable", "2.1.0"),
            ("stable", "2.1.0"),
            ("stable", "2.10.0"),
            ("beta", "3.0.0"),
        ] {
            c.add(ch, ver);
        }
        assert_eq!(c.behind("stable", "2.10.0"), 0);
        assert_eq!(
            c.behind("stable", "2.1.0"),
            1,
            "2.1.0 seen twice counts once"
        );
        assert_eq!(
            c.behind("stable", "2.0.0"),
            2,
            "beta's 3.0.0 is another channel"
        );
        assert_eq!(c.behind("stable", "1.0.0"), 3, "a version nobody else runs");
        assert_eq!(c.newest("stable"), Some("2.10.0"));
        assert_eq!(c.behind("nightly", "1.0"), 0);
    }
}
