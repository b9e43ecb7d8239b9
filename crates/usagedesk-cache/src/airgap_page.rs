//! The Air-gapped view's lists, one page at a time: instances (filtered, searched and sorted
//! in SQL over `instances`, `airgap_summary` and `accounts`) and the exchange ledger (rows
//! without their documents; [`AirgapHandle::ledger_document`] fetches one). Totals come from count
//! queries with the same conditions.
//!
//! Every page carries a `generation`: it changes whenever what the lists show may have
//! changed (a sync page applied, the ledger or the outbox written). A reader that pages with
//! offsets starts over when it changes, so what it shows never mixes two states (no row
//! twice, none skipped). [`Cache::read_snapshot`] reads several pages in one state.

use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row, ToSql};
use serde::{Deserialize, Serialize};
use usagedesk_domain::Instance;

use crate::airgap::{upload_state, AirgapInstance, LedgerEvent, UploadState};
use crate::codec::{self, saturating_i64};
use crate::outbox::{OutboxBinding, QueuedUpload};
use crate::state::{KEY_CURSOR, KEY_LAST_APPLIED_AT};
use crate::{AirgapHandle, CacheError, Result};

/// Which instances to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum InstanceKind {
    /// Those that report by file.
    #[default]
    Airgapped,
    /// Every instance (online ones can exchange files too).
    All,
}

/// The order of an instance list; ties always by instance id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum InstanceSort {
    /// Air-gapped first, overdue first among them, then by id.
    #[default]
    Status,
    Id,
    /// By account name (byte order; instances of accounts not cached last, by account id).
    Account,
    /// By the last verified exchange (a file imported here or the cloud's last report),
    /// never first.
    LastExchange,
    /// By the mark the next sync key names.
    Mark,
}

/// A page of instances to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceQuery {
    pub kind: InstanceKind,
    /// Only air-gapped instances overdue with their usage data file.
    pub overdue_only: bool,
    /// Part of the instance id, the account id or the account name (case-insensitive).
    pub text: Option<String>,
    pub sort: InstanceSort,
    /// Reverse the order (ties too).
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

impl Default for InstanceQuery {
    fn default() -> Self {
        Self {
            kind: InstanceKind::Airgapped,
            overdue_only: false,
            text: None,
            sort: InstanceSort::Status,
            descending: false,
            offset: 0,
            limit: 100,
        }
    }
}

/// One page of a list of the Air-gapped view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AirgapPage<T> {
    pub items: Vec<T>,
    /// Items in the whole list (with the same filter and search).
    pub total: u64,
    pub offset: usize,
    /// Changes when the data under the list changed: pages of different generations do not
    /// fit together.
    pub generation: String,
}

/// Which ledger entries to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LedgerQuery {
    /// One instance's entries (`None`: everyone's).
    pub instance: Option<String>,
    /// Only imports whose file is still kept here (queued, retrying or refused): the outbox.
    pub kept_only: bool,
    pub offset: usize,
    pub limit: usize,
}

/// A ledger entry as listed: everything but the document (see [`AirgapHandle::ledger_document`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LedgerRow {
    pub id: i64,
    pub instance_id: String,
    pub event: LedgerEvent,
    pub at: DateTime<Utc>,
    pub by: String,
    pub nonce: String,
    pub file_sha256: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub high_water_mark: u64,
    pub records: u64,
    pub new_records: u64,
    pub already_present: u64,
    pub changed: u64,
    pub upload: Option<UploadState>,
    /// Why the cloud refused the file, or the last failure of a retried upload.
    pub upload_error: Option<String>,
    /// The imported file, while it is kept here (until the cloud accepts it).
    pub queued: Option<QueuedUpload>,
    /// A refused file discarded by hand: when, and by whom.
    pub discarded_at: Option<DateTime<Utc>>,
    pub discarded_by: Option<String>,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern matching `text` anywhere.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The latest verified exchange of `i` joined with `s`, as text ('' for none): RFC 3339
/// times of one format sort as text.
pub(crate) const LAST_EXCHANGE: &str =
    "max(coalesce(i.last_report_at, ''), coalesce(s.last_import_at, ''))";
const MARK: &str = "max(i.high_water_mark, coalesce(s.imported_mark, 0))";

const ROW_COLUMNS: &str = "i.id, i.license_id, i.account_id, i.airgapped, i.public_key,
    i.high_water_mark, i.last_report_at, a.name, s.last_import_at, s.last_sync_key_at,
    s.imported_mark, coalesce(s.pending_uploads, 0), coalesce(s.refused_uploads, 0)";

const FROM: &str = "FROM instances i
    LEFT JOIN airgap_summary s ON s.instance_id = i.id
    LEFT JOIN accounts a ON a.id = i.account_id";

/// The WHERE clause and its arguments for `q` (the overdue cut-off is the time before
/// which a last exchange makes an air-gapped instance overdue).
fn conditions(q: &InstanceQuery, overdue_before: DateTime<Utc>) -> (String, Vec<Box<dyn ToSql>>) {
    let mut clauses = Vec::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    if q.kind == InstanceKind::Airgapped {
        clauses.push("i.airgapped = 1".to_owned());
    }
    if q.overdue_only {
        args.push(Box::new(codec::time_text(overdue_before)));
        clauses.push(format!(
            "i.airgapped = 1 AND {LAST_EXCHANGE} < ?{}",
            args.len()
        ));
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        args.push(Box::new(contains_pattern(text)));
        args.push(Box::new(contains_pattern(&text.to_lowercase())));
        let (a, b) = (args.len() - 1, args.len());
        clauses.push(format!(
            "(i.id LIKE ?{a} ESCAPE '\\' OR i.account_id LIKE ?{a} ESCAPE '\\' \
              OR a.name_fold LIKE ?{b} ESCAPE '\\')"
        ));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, args)
}

fn order_by(
    q: &InstanceQuery,
    overdue_before: DateTime<Utc>,
    args: &mut Vec<Box<dyn ToSql>>,
) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    let rev = if q.descending { "ASC" } else { "DESC" };
    match q.sort {
        InstanceSort::Status => {
            args.push(Box::new(codec::time_text(overdue_before)));
            let n = args.len();
            format!(
                "i.airgapped {rev}, (i.airgapped = 1 AND {LAST_EXCHANGE} < ?{n}) {rev}, i.id {dir}"
            )
        }
        InstanceSort::Id => format!("i.id {dir}"),
        InstanceSort::Account => {
            format!("a.name IS NULL {dir}, a.name {dir}, i.account_id {dir}, i.id {dir}")
        }
        InstanceSort::LastExchange => format!("{LAST_EXCHANGE} {dir}, i.id {dir}"),
        InstanceSort::Mark => format!("{MARK} {dir}, i.id {dir}"),
    }
}

fn row_at(r: &Row<'_>) -> Result<AirgapInstance> {
    let time = |i: usize| -> Result<Option<DateTime<Utc>>> {
        r.get_ref(i)?
            .as_str_or_null()?
            .map(codec::parse_time)
            .transpose()
    };
    let instance = Instance {
        id: r.get(0)?,
        license_id: r.get(1)?,
        account_id: r.get(2)?,
        airgapped: r.get(3)?,
        public_key: r.get(4)?,
        high_water_mark: codec::count(r.get(5)?)?,
        last_report_at: time(6)?,
    };
    let imported_mark = r.get::<_, Option<i64>>(10)?.map(codec::count).transpose()?;
    Ok(AirgapInstance {
        high_water_mark: instance.high_water_mark.max(imported_mark.unwrap_or(0)),
        account_name: r.get(7)?,
        last_import_at: time(8)?,
        last_sync_key_at: time(9)?,
        pending_uploads: codec::count(r.get(11)?)?,
        refused_uploads: codec::count(r.get(12)?)?,
        instance,
    })
}

fn collect(conn: &Connection, sql: &str, args: &[Box<dyn ToSql>]) -> Result<Vec<AirgapInstance>> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(row_at(r)?);
    }
    Ok(out)
}

pub(crate) fn all_instances(conn: &Connection) -> Result<Vec<AirgapInstance>> {
    collect(
        conn,
        &format!("SELECT {ROW_COLUMNS} {FROM} ORDER BY i.airgapped DESC, i.id"),
        &[],
    )
}

pub(crate) fn one_instance(conn: &Connection, id: &str) -> Result<Option<AirgapInstance>> {
    Ok(collect(
        conn,
        &format!("SELECT {ROW_COLUMNS} {FROM} WHERE i.id = ?1"),
        &[Box::new(id.to_owned())],
    )?
    .pop())
}

const LEDGER_ROW_COLUMNS: &str = "l.id, l.instance_id, l.event, l.at, l.by, l.nonce,
    l.file_sha256, l.expires_at, l.high_water_mark, l.records, l.new_records,
    l.already_present, l.changed, l.upload, l.upload_error, l.discarded_at, l.discarded_by,
    o.ledger_id IS NOT NULL, o.cloud_url, o.account_id, o.attempts, o.last_attempt_at,
    o.next_attempt_at, o.last_error, o.refused_status";

fn ledger_row_at(r: &Row<'_>) -> Result<LedgerRow> {
    let time = |i: usize| -> Result<Option<DateTime<Utc>>> {
        r.get_ref(i)?
            .as_str_or_null()?
            .map(codec::parse_time)
            .transpose()
    };
    let discarded_at = time(15)?;
    let queued = if r.get::<_, bool>(17)? {
        Some(QueuedUpload {
            binding: OutboxBinding {
                cloud_url: r.get(18)?,
                account_id: r.get(19)?,
            },
            attempts: u32::try_from(r.get::<_, i64>(20)?).unwrap_or(u32::MAX),
            last_attempt_at: time(21)?,
            next_attempt_at: time(22)?,
            last_error: r.get(23)?,
            refused_status: r
                .get::<_, Option<i64>>(24)?
                .and_then(|s| u16::try_from(s).ok()),
        })
    } else {
        None
    };
    Ok(LedgerRow {
        id: r.get(0)?,
        instance_id: r.get(1)?,
        event: crate::airgap::ledger_event(r.get_ref(2)?.as_str()?)?,
        at: time(3)?.ok_or_else(|| CacheError::corrupt("a ledger entry without a time"))?,
        by: r.get(4)?,
        nonce: r.get(5)?,
        file_sha256: r.get(6)?,
        expires_at: time(7)?,
        high_water_mark: codec::count(r.get(8)?)?,
        records: codec::count(r.get(9)?)?,
        new_records: codec::count(r.get(10)?)?,
        already_present: codec::count(r.get(11)?)?,
        changed: codec::count(r.get(12)?)?,
        upload: upload_state(r.get_ref(13)?.as_str_or_null()?, discarded_at.is_some())?,
        upload_error: r.get(14)?,
        discarded_at,
        discarded_by: r.get(16)?,
        queued,
    })
}

impl AirgapHandle<'_> {
    /// Every cached instance, air-gapped first, then by id, with its ledger summary. Loads
    /// them all: lists on screen page with [`AirgapHandle::instance_page`].
    pub fn instances(&self) -> Result<Vec<AirgapInstance>> {
        all_instances(&self.cache.conn)
    }

    /// One instance with its ledger summary (`None`: not in the cache).
    pub fn instance(&self, id: &str) -> Result<Option<AirgapInstance>> {
        one_instance(&self.cache.conn, id)
    }

    /// One page of instances as `q` asks; `overdue_before` is the cut-off of
    /// `usagedesk_domain::overdue::is_overdue` (an air-gapped instance whose last verified exchange
    /// is older, or missing, is overdue).
    pub fn instance_page(
        &self,
        q: &InstanceQuery,
        overdue_before: DateTime<Utc>,
    ) -> Result<AirgapPage<AirgapInstance>> {
        self.cache.read_snapshot(|c| {
            let (items, total) = if q.sort == InstanceSort::Status {
                c.airgap().status_page(q, overdue_before)?
            } else {
                let (filter, mut args) = conditions(q, overdue_before);
                let total: i64 = c
                    .conn
                    .prepare_cached(&format!("SELECT count(*) {FROM} {filter}"))?
                    .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
                let order = order_by(q, overdue_before, &mut args);
                args.push(Box::new(saturating_i64(q.limit)));
                args.push(Box::new(saturating_i64(q.offset)));
                let n = args.len();
                let items = collect(
                    &c.conn,
                    &format!(
                        "SELECT {ROW_COLUMNS} {FROM} {filter} ORDER BY {order} LIMIT ?{} OFFSET ?{n}",
                        n - 1
                    ),
                    &args,
                )?;
                (items, codec::count(total)?)
            };
            Ok(AirgapPage {
                items,
                total,
                offset: q.offset,
                generation: c.airgap().generation()?,
            })
        })
    }

    /// Every instance `q` asks for from `q.offset` (at most `q.limit`), in one statement, one
    /// row at a time to `f` (which returns false to stop): for streaming a whole list.
    pub fn for_each_instance(
        &self,
        q: &InstanceQuery,
        overdue_before: DateTime<Utc>,
        mut f: impl FnMut(AirgapInstance) -> Result<bool>,
    ) -> Result<()> {
        let (filter, mut args) = conditions(q, overdue_before);
        let order = order_by(q, overdue_before, &mut args);
        args.push(Box::new(saturating_i64(q.limit)));
        args.push(Box::new(saturating_i64(q.offset)));
        let n = args.len();
        let mut st = self.cache.conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} {FROM} {filter} ORDER BY {order} LIMIT ?{} OFFSET ?{n}",
            n - 1
        ))?;
        let mut rows = st.query(params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            if !f(row_at(r)?)? {
                break;
            }
        }
        Ok(())
    }

    /// How many instances `q` lists (its offset and limit aside).
    pub fn count_instances(&self, q: &InstanceQuery, overdue_before: DateTime<Utc>) -> Result<u64> {
        let (filter, args) = conditions(q, overdue_before);
        let n: i64 = self
            .cache
            .conn
            .prepare_cached(&format!("SELECT count(*) {FROM} {filter}"))?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
        codec::count(n)
    }

    /// Air-gapped instances whose last verified exchange is before `overdue_before` (or
    /// missing): the sidebar's badge.
    pub fn overdue_count(&self, overdue_before: DateTime<Utc>) -> Result<u64> {
        let n: i64 = self
            .cache
            .conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM instances i
                 LEFT JOIN airgap_summary s ON s.instance_id = i.id
                 WHERE i.airgapped = 1 AND {LAST_EXCHANGE} < ?1"
            ))?
            .query_row([codec::time_text(overdue_before)], |r| r.get(0))?;
        codec::count(n)
    }

    /// One page of the ledger, newest first, without documents.
    pub fn ledger_page(&self, q: &LedgerQuery) -> Result<AirgapPage<LedgerRow>> {
        self.cache.read_snapshot(|c| {
            let join = if q.kept_only { "JOIN" } else { "LEFT JOIN" };
            let filter = "WHERE (?1 IS NULL OR l.instance_id = ?1)";
            let total: i64 = c
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM airgap_ledger l {join} airgap_outbox o
                     ON o.ledger_id = l.id {filter}"
                ))?
                .query_row([&q.instance], |r| r.get(0))?;
            let mut st = c.conn.prepare_cached(&format!(
                "SELECT {LEDGER_ROW_COLUMNS} FROM airgap_ledger l {join} airgap_outbox o
                 ON o.ledger_id = l.id {filter} ORDER BY l.id DESC LIMIT ?2 OFFSET ?3"
            ))?;
            let mut rows = st.query(rusqlite::params![
                q.instance,
                saturating_i64(q.limit),
                saturating_i64(q.offset)
            ])?;
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                items.push(ledger_row_at(r)?);
            }
            Ok(AirgapPage {
                items,
                total: codec::count(total)?,
                offset: q.offset,
                generation: c.airgap().generation()?,
            })
        })
    }

    /// One ledger entry as listed (`None`: no such entry).
    pub fn ledger_row(&self, id: i64) -> Result<Option<LedgerRow>> {
        let mut st = self.cache.conn.prepare_cached(&format!(
            "SELECT {LEDGER_ROW_COLUMNS} FROM airgap_ledger l LEFT JOIN airgap_outbox o
             ON o.ledger_id = l.id WHERE l.id = ?1"
        ))?;
        let mut rows = st.query([id])?;
        rows.next()?.map(ledger_row_at).transpose()
    }

    /// The document of ledger entry `id`: the sync key issued, or the verification key
    /// issued for an import (`None`: no such entry).
    pub fn ledger_document(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .cache
            .conn
            .prepare_cached("SELECT document FROM airgap_ledger WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// What the lists of the Air-gapped view are a view of: changes with every applied sync
    /// page and every write of the ledger or the outbox.
    pub fn generation(&self) -> Result<String> {
        let airgap: i64 = self
            .cache
            .conn
            .prepare_cached("SELECT value FROM airgap_generation WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        let cursor = crate::state::get(&self.cache.conn, KEY_CURSOR)?.unwrap_or_default();
        let applied = crate::state::get(&self.cache.conn, KEY_LAST_APPLIED_AT)?.unwrap_or_default();
        Ok(format!("{airgap}:{cursor}:{applied}"))
    }

    /// The status order (air-gapped and overdue, air-gapped, online; each by id) as three
    /// segments, each read in index order: no sort of the whole list for any page.
    fn status_page(
        &self,
        q: &InstanceQuery,
        overdue_before: DateTime<Utc>,
    ) -> Result<(Vec<AirgapInstance>, u64)> {
        let (filter, mut args) = conditions(q, overdue_before);
        args.push(Box::new(codec::time_text(overdue_before)));
        let c = args.len();
        let mut segments = vec![
            format!("i.airgapped = 1 AND {LAST_EXCHANGE} < ?{c}"),
            format!("i.airgapped = 1 AND {LAST_EXCHANGE} >= ?{c}"),
            // (names the cut-off too, so every segment binds the same parameters)
            format!("i.airgapped = 0 AND ?{c} IS NOT NULL"),
        ];
        let dir = if q.descending {
            segments.reverse();
            "DESC"
        } else {
            "ASC"
        };
        let joined = |seg: &str| {
            if filter.is_empty() {
                format!("WHERE {seg}")
            } else {
                format!("{filter} AND {seg}")
            }
        };
        let mut items = Vec::new();
        let mut total = 0u64;
        let (mut skip, mut want) = (q.offset as u64, q.limit as u64);
        for seg in &segments {
            let where_ = joined(seg);
            let n: i64 = self
                .cache
                .conn
                .prepare_cached(&format!("SELECT count(*) {FROM} {where_}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            let n = codec::count(n)?;
            total += n;
            if want == 0 || skip >= n {
                skip = skip.saturating_sub(n);
                continue;
            }
            let mut a: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref() as &dyn ToSql).collect();
            let (lim, off) = (want.min(n - skip) as i64, skip as i64);
            a.push(&lim);
            a.push(&off);
            let k = a.len();
            let mut st = self.cache.conn.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} {FROM} {where_} ORDER BY i.id {dir} LIMIT ?{} OFFSET ?{k}",
                k - 1
            ))?;
            let mut rows = st.query(a.as_slice())?;
            while let Some(r) = rows.next()? {
                items.push(row_at(r)?);
            }
            want -= lim as u64;
            skip = 0;
        }
        Ok((items, total))
    }
}
