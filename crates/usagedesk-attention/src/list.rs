//! The list: its counts (the badge), one page, or every item streamed. Kinds come in a fixed
//! order (overdue, expiring, over seats), each in its own order; a page across kinds is cut
//! from the kinds' counts, so each kind's statement pages itself in SQL.

use serde::{Deserialize, Serialize};
use usagedesk_cache::{AttentionBounds, AttentionKind, Cache, CacheError};

use crate::AttentionItem;

/// The largest page the app may ask for.
pub const MAX_ATTENTION_PAGE: u64 = 500;

/// How many items of each kind there are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AttentionCounts {
    pub overdue: u64,
    pub expiring: u64,
    pub over_seats: u64,
    /// All three: the sidebar's badge.
    pub total: u64,
}

impl AttentionCounts {
    pub fn of(&self, kind: AttentionKind) -> u64 {
        match kind {
            AttentionKind::Overdue => self.overdue,
            AttentionKind::Expiring => self.expiring,
            AttentionKind::OverSeats => self.over_seats,
        }
    }
}

/// One page of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AttentionPage {
    pub items: Vec<AttentionItem>,
    /// Items in the list (of the kind asked for, or all).
    pub total: u64,
    pub offset: u64,
    /// Every kind's count, whatever the kind asked for (the filter's numbers).
    pub counts: AttentionCounts,
}

/// The kinds a list shows: one, or all in order.
fn kinds(kind: Option<AttentionKind>) -> Vec<AttentionKind> {
    kind.map_or_else(|| AttentionKind::ALL.to_vec(), |k| vec![k])
}

/// How many items of each kind are there at `bounds`.
pub fn counts(cache: &Cache, bounds: &AttentionBounds) -> Result<AttentionCounts, CacheError> {
    let mut c = AttentionCounts {
        overdue: cache.attention().count(AttentionKind::Overdue, bounds)?,
        expiring: cache.attention().count(AttentionKind::Expiring, bounds)?,
        over_seats: cache.attention().count(AttentionKind::OverSeats, bounds)?,
        total: 0,
    };
    c.total = c.overdue + c.expiring + c.over_seats;
    Ok(c)
}

/// Where `offset..offset + limit` of the list of `kinds` falls in each kind's own list:
/// `(kind, offset in it, how many)`, skipping kinds it does not reach. `limit` `None`: to the
/// end.
pub fn slices(
    counts: &AttentionCounts,
    kinds: &[AttentionKind],
    offset: u64,
    limit: Option<u64>,
) -> Vec<(AttentionKind, u64, Option<u64>)> {
    let mut out = Vec::new();
    let mut skip = offset;
    let mut left = limit;
    for &kind in kinds {
        if left == Some(0) {
            break;
        }
        let n = counts.of(kind);
        if skip >= n {
            skip -= n;
            continue;
        }
        let available = n - skip;
        let take = left.map_or(available, |l| l.min(available));
        out.push((kind, skip, left.map(|_| take)));
        skip = 0;
        left = left.map(|l| l - take);
    }
    out
}

/// One page (`limit` 1..=500) of the items of `kind` (`None`: all kinds) at `bounds`, with
/// the counts, from one read of the cache.
pub fn page(
    cache: &Cache,
    bounds: &AttentionBounds,
    kind: Option<AttentionKind>,
    offset: u64,
    limit: u64,
) -> Result<AttentionPage, CacheError> {
    let limit = limit.clamp(1, MAX_ATTENTION_PAGE);
    cache.read_snapshot(|c| {
        let counts = counts(c, bounds)?;
        let ks = kinds(kind);
        let total = ks.iter().map(|k| counts.of(*k)).sum();
        let mut items = Vec::new();
        for (k, off, take) in slices(&counts, &ks, offset, Some(limit)) {
            c.attention().each(k, bounds, off, take, |row| {
                items.push(AttentionItem::from_row(row));
                Ok::<(), CacheError>(())
            })?;
        }
        Ok(AttentionPage {
            items,
            total,
            offset,
            counts,
        })
    })
}

/// Every item of `kind` (`None`: all) at `bounds` from `offset`, at most `limit`, one at a
/// time to `each`, in the list's order and from one read of the cache (the CLI's stream).
pub fn each_item<E: From<CacheError>>(
    cache: &Cache,
    bounds: &AttentionBounds,
    kind: Option<AttentionKind>,
    offset: u64,
    limit: Option<u64>,
    mut each: impl FnMut(AttentionItem) -> Result<(), E>,
) -> Result<(), E> {
    cache.read_snapshot(|c| {
        let ks = kinds(kind);
        // Without an offset there is nothing to skip: no counts needed (streams at once).
        let plan = if offset == 0 && limit.is_none() {
            ks.iter().map(|k| (*k, 0, None)).collect()
        } else {
            slices(&counts(c, bounds)?, &ks, offset, limit)
        };
        for (k, off, take) in plan {
            c.attention().each(k, bounds, off, take, |row| {
                each(AttentionItem::from_row(row))
            })?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttentionKind::*;

    fn c(overdue: u64, expiring: u64, over_seats: u64) -> AttentionCounts {
        AttentionCounts {
            overdue,
            expiring,
            over_seats,
            total: overdue + expiring + over_seats,
        }
    }

    /// The positions a slice plan covers, as (kind, index in kind): written out one by one.
    fn positions(
        plan: &[(AttentionKind, u64, Option<u64>)],
        counts: &AttentionCounts,
    ) -> Vec<(AttentionKind, u64)> {
        plan.iter()
            .flat_map(|&(k, off, take)| {
                let end = take.map_or(counts.of(k), |t| off + t);
                (off..end).map(move |i| (k, i))
            })
            .collect()
    }

    #[test]
    fn slices_cut_the_concatenated_list_exactly() {
        for counts in [c(3, 0, 2), c(0, 0, 0), c(1, 4, 0), c(5, 5, 5)] {
            let all: Vec<(AttentionKind, u64)> = AttentionKind::ALL
                .iter()
                .flat_map(|&k| (0..counts.of(k)).map(move |i| (k, i)))
                .collect();
            for offset in 0..=all.len() as u64 + 1 {
                for limit in [1, 2, 3, 7, 100] {
                    let plan = slices(&counts, &AttentionKind::ALL, offset, Some(limit));
                    let want: Vec<_> = all
                        .iter()
                        .copied()
                        .skip(offset as usize)
                        .take(limit as usize)
                        .collect();
                    assert_eq!(
                        positions(&plan, &counts),
                        want,
                        "{counts:?} offset {offset} limit {limit}"
                    );
                }
                let plan = slices(&counts, &AttentionKind::ALL, offset, None);
                let want: Vec<_> = all.iter().copied().skip(offset as usize).collect();
                assert_eq!(positions(&plan, &counts), want, "to the end from {offset}");
            }
        }
    }

    #[test]
    fn one_kind_slices_only_that_kind() {
        let counts = c(3, 4, 5);
        assert_eq!(
            slices(&counts, &[Expiring], 1, Some(2)),
            vec![(Expiring, 1, Some(2))]
        );
        assert_eq!(
            slices(&counts, &[OverSeats], 5, Some(2)),
            vec![],
            "past the end"
        );
    }
}
