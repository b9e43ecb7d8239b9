//! The Attention list over the cache (`docs/attention.md`): per kind, one SQL statement
//! that selects the items at a given moment, in the list's order, paged with `LIMIT/OFFSET`,
//! counted with the same conditions, or streamed; and the record of the occurrences a
//! reminder check has seen (`attention_noticed`, migration 0008). The rules (the bounds from
//! the clock, what each item says, which new occurrences are notified) are
//! `usagedesk-attention`'s.
//!
//! - **overdue**: air-gapped instances whose last verified exchange is before the overdue
//!   cut-off (or missing), oldest exchange first (`instances`, `airgap_summary`);
//! - **expiring**: licenses expiring after now and at the latest at the horizon, soonest first
//!   (`ent_licenses` by its expiry index);
//! - **over_seats**: (license, plan) pairs of one completed month whose used seats exceed the
//!   seats (none: any use), largest overage first (`ent_over`, materialized per month with
//!   the used seats, migration 0009).

use chrono::{DateTime, Utc};
use rusqlite::types::ToSql;
use rusqlite::{Connection, Row};
use serde::{Deserialize, Serialize};
use usagedesk_domain::YearMonth;

use crate::airgap_page::LAST_EXCHANGE;
use crate::entitlements::bind;
use crate::{codec, AttentionHandle, AttentionHandleMut, CacheError, Result};

/// What an attention item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AttentionKind {
    /// An air-gapped instance is overdue with its usage data file.
    Overdue,
    /// A license expires within the horizon (30 days).
    Expiring,
    /// A license used more than its seats of a plan in the last completed month.
    OverSeats,
}

impl AttentionKind {
    /// The list's order of kinds.
    pub const ALL: [AttentionKind; 3] = [Self::Overdue, Self::Expiring, Self::OverSeats];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::Expiring => "expiring",
            Self::OverSeats => "over_seats",
        }
    }
}

impl std::str::FromStr for AttentionKind {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "overdue" => Ok(Self::Overdue),
            "expiring" => Ok(Self::Expiring),
            "over-seats" | "over_seats" => Ok(Self::OverSeats),
            _ => Err(CacheError::Invalid(format!(
                "kind '{s}' is none of overdue, expiring, over-seats"
            ))),
        }
    }
}

/// The moment a list is asked for, as the conditions read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionBounds {
    /// An air-gapped instance whose last verified exchange is before this is overdue.
    pub overdue_before: DateTime<Utc>,
    /// Licenses expiring after this…
    pub now: DateTime<Utc>,
    /// …and at the latest at this are expiring.
    pub expiring_until: DateTime<Utc>,
    /// The completed month whose overage counts.
    pub month: YearMonth,
}

/// One item as the cache selects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionRow {
    pub kind: AttentionKind,
    /// The instance (overdue) or the license (expiring, over seats).
    pub subject: String,
    /// Over seats: the plan.
    pub plan: Option<String>,
    /// Tells occurrences of one subject's condition apart: the last exchange (RFC 3339, ""
    /// for never: overdue), the expiry (expiring), the month (over seats).
    pub occurrence: String,
    /// The instance's account (overdue) or the license holder.
    pub account_id: String,
    /// `None`: the account is not in the cache.
    pub account_name: Option<String>,
    pub license_id: String,
    /// Overdue: the last verified exchange (`None`: never).
    pub last_exchange_at: Option<DateTime<Utc>>,
    /// Expiring: the expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Over seats: the seats (`None`: none for the plan) and the used seats.
    pub seats: Option<u64>,
    pub used: Option<u64>,
}

/// Columns of every kind's statement, in [`row_at`]'s order.
const COLUMNS: &str = "kind, subject, plan, occurrence, account_id, account_name, license_id, \
                       at, seats, used";

/// The statement selecting `kind`'s items (columns [`COLUMNS`]) in the list's order, with
/// named parameters `:overdue_before`, `:now`, `:until`, `:from`/`:to` (the month).
fn select(kind: AttentionKind) -> String {
    match kind {
        AttentionKind::Overdue => format!(
            "SELECT 'overdue' AS kind, i.id AS subject, NULL AS plan,
                    {LAST_EXCHANGE} AS occurrence, i.account_id AS account_id,
                    a.name AS account_name, i.license_id AS license_id,
                    NULLIF({LAST_EXCHANGE}, '') AS at, NULL AS seats, NULL AS used,
                    {LAST_EXCHANGE} AS o1, i.id AS o2, '' AS o3
             FROM instances i
             LEFT JOIN airgap_summary s ON s.instance_id = i.id
             LEFT JOIN accounts a ON a.id = i.account_id
             WHERE i.airgapped = 1 AND {LAST_EXCHANGE} < :overdue_before"
        ),
        AttentionKind::Expiring => "SELECT 'expiring' AS kind, l.license_id AS subject,
                    NULL AS plan, l.expires_at AS occurrence, a.id AS account_id,
                    a.name AS account_name, l.license_id AS license_id, l.expires_at AS at,
                    NULL AS seats, NULL AS used,
                    l.expires_at AS o1, l.license_id AS o2, '' AS o3
             FROM ent_licenses l JOIN accounts a ON a.k = l.account_k
             WHERE l.expires_at > :now AND l.expires_at <= :until"
            .to_owned(),
        AttentionKind::OverSeats => "SELECT 'over_seats' AS kind, o.license_id AS subject,
                    o.plan AS plan, o.month AS occurrence, a.id AS account_id,
                    a.name AS account_name, o.license_id AS license_id, NULL AS at,
                    o.seats AS seats, o.used AS used,
                    -o.overage AS o1, o.license_id AS o2, o.plan AS o3
             FROM ent_over o JOIN accounts a ON a.k = o.account_k
             WHERE o.month = :from"
            .to_owned(),
    }
}

const ORDER: &str = "ORDER BY o1, o2, o3";

fn time_arg(t: DateTime<Utc>) -> String {
    codec::time_text(t)
}

/// Licenses' times are the feed's RFC 3339 (`…:SSZ`): bounds in the same form compare as
/// text to the second.
fn license_time_arg(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    b: &AttentionBounds,
    extra: &[(&str, &dyn ToSql)],
) -> Result<rusqlite::Statement<'c>> {
    let mut st = conn.prepare(sql)?;
    let (before, now, until, month) = (
        time_arg(b.overdue_before),
        license_time_arg(b.now),
        license_time_arg(b.expiring_until),
        b.month.to_string(),
    );
    let mut params: Vec<(&str, &dyn ToSql)> = vec![
        (":overdue_before", &before),
        (":now", &now),
        (":until", &until),
        (":from", &month),
        (":to", &month),
    ];
    params.extend_from_slice(extra);
    bind(&mut st, &params)?;
    Ok(st)
}

fn row_at(r: &Row<'_>) -> Result<AttentionRow> {
    let kind: String = r.get(0)?;
    let kind: AttentionKind = kind
        .parse()
        .map_err(|_| CacheError::corrupt(format!("attention kind '{kind}'")))?;
    let at = r
        .get_ref(7)?
        .as_str_or_null()?
        .map(codec::parse_time)
        .transpose()?;
    let count = |i: usize| -> Result<Option<u64>> {
        r.get::<_, Option<i64>>(i)?
            .map(|n| codec::count(n.max(0)))
            .transpose()
    };
    Ok(AttentionRow {
        kind,
        subject: r.get(1)?,
        plan: r.get(2)?,
        occurrence: r.get(3)?,
        account_id: r.get(4)?,
        account_name: r.get(5)?,
        license_id: r.get(6)?,
        last_exchange_at: if kind == AttentionKind::Overdue {
            at
        } else {
            None
        },
        expires_at: if kind == AttentionKind::Expiring {
            at
        } else {
            None
        },
        seats: count(8)?,
        used: count(9)?,
    })
}

fn each_row<E: From<CacheError>>(
    st: &mut rusqlite::Statement<'_>,
    mut each: impl FnMut(AttentionRow) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut rows = st.raw_query();
    while let Some(r) = rows.next().map_err(CacheError::from)? {
        each(row_at(r)?)?;
    }
    Ok(())
}

impl AttentionHandle<'_> {
    /// How many items of `kind` there are at `bounds` (the badge's numbers).
    pub fn count(&self, kind: AttentionKind, bounds: &AttentionBounds) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM ({})", select(kind));
        let mut st = prepare(&self.cache.conn, &sql, bounds, &[])?;
        let mut rows = st.raw_query();
        match rows.next()? {
            Some(r) => codec::count(r.get(0)?),
            None => Ok(0),
        }
    }

    /// The items of `kind` at `bounds` in the list's order, from `offset`, at most `limit`
    /// (`None`: to the end), one at a time to `each` (which may stop with an error).
    pub fn each<E: From<CacheError>>(
        &self,
        kind: AttentionKind,
        bounds: &AttentionBounds,
        offset: u64,
        limit: Option<u64>,
        each: impl FnMut(AttentionRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ({}) {ORDER} LIMIT :limit OFFSET :offset",
            select(kind)
        );
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut st = prepare(
            &self.cache.conn,
            &sql,
            bounds,
            &[(":limit", &limit), (":offset", &offset)],
        )?;
        each_row(&mut st, each)
    }

    /// How many occurrences the reminder checks have recorded, and how many of them were
    /// notified (the rest were seen while reminders were off).
    pub fn noticed_counts(&self) -> Result<(u64, u64)> {
        let (all, notified): (i64, i64) = self.cache.conn.query_row(
            "SELECT count(*), coalesce(sum(notified), 0) FROM attention_noticed",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((codec::count(all)?, codec::count(notified)?))
    }
}

/// What a reminder check found new ([`AttentionHandleMut::note`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Noted {
    /// New occurrences per kind, in [`AttentionKind::ALL`]'s order.
    pub new_by_kind: [u64; 3],
    /// The first new ones in list order (kinds in list order), at most as many as asked for.
    pub first: Vec<AttentionRow>,
}

impl Noted {
    /// How many occurrences were new.
    pub fn total(&self) -> u64 {
        self.new_by_kind.iter().sum()
    }
}

/// Whether the item `item` of a kind's statement was seen before.
const NOTICED: &str = "SELECT 1 FROM attention_noticed n
                       WHERE n.kind = item.kind AND n.subject = item.subject
                         AND n.plan = coalesce(item.plan, '') AND n.occurrence = item.occurrence";

impl AttentionHandleMut<'_> {
    /// Records every item of every kind at `bounds` not seen before (a new occurrence) as
    /// seen at `noticed_at`, `notified` or not, in one write transaction, and says how many of
    /// each kind were new, with the first `first` of them in list order. An occurrence is
    /// recorded once: a second call at the same state finds none.
    ///
    /// Set-based: the items go from one statement into the record without passing through
    /// here, and only the first new ones are put in order. Ordering all of them (44,148 items at
    /// 100k accounts) took a 4 MiB sort buffer that the C library kept.
    pub fn note(
        &mut self,
        bounds: &AttentionBounds,
        noticed_at: DateTime<Utc>,
        notified: bool,
        first: usize,
    ) -> Result<Noted> {
        let tx = self.cache.write_tx()?;
        let at = codec::time_text(noticed_at);
        let mut noted = Noted::default();
        for (i, kind) in AttentionKind::ALL.into_iter().enumerate() {
            let room = first.saturating_sub(noted.first.len());
            if room > 0 {
                let sql = format!(
                    "SELECT {COLUMNS} FROM ({}) item WHERE NOT EXISTS ({NOTICED}) {ORDER} LIMIT :limit",
                    select(kind)
                );
                let limit = i64::try_from(room).unwrap_or(i64::MAX);
                let mut st = prepare(&tx, &sql, bounds, &[(":limit", &limit)])?;
                each_row(&mut st, |row| -> Result<()> {
                    noted.first.push(row);
                    Ok(())
                })?;
            }
            let sql = format!(
                "INSERT OR IGNORE INTO attention_noticed
                     (kind, subject, plan, occurrence, noticed_at, notified)
                 SELECT kind, subject, coalesce(plan, ''), occurrence, :noticed_at, :notified
                 FROM ({})",
                select(kind)
            );
            let mut st = prepare(
                &tx,
                &sql,
                bounds,
                &[(":noticed_at", &at), (":notified", &notified)],
            )?;
            noted.new_by_kind[i] = st.raw_execute()? as u64;
        }
        tx.commit()?;
        Ok(noted)
    }
}
