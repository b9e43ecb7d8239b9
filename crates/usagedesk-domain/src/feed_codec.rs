//! The compact encoding of a change-feed page (`docs/feed-encoding.md`): the same
//! [`ChangePage`] as the JSON of `GET /api/v1/changes`, as length-prefixed binary fields.
//! A client asks for it with `Accept: application/x-usagedesk-changes`; JSON stays the
//! default. Decoding checks every length, tag and value and never panics on any input.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::api::{Change, ChangePage, MonthUsage};
use crate::customer::{
    ClusterDetails, Connectivity, InstallAttempt, InstallStatus, InstallStep, InstanceEvent,
    InstanceReport, InstanceStatus, License, LicenseFeatures, LicenseType,
};
use crate::{Account, AccountStatus, Instance, Metric, Plan, UsageCounts, YearMonth};

/// The media type of the compact encoding.
pub const MEDIA_TYPE: &str = "application/x-usagedesk-changes";
/// The first bytes of an encoded page.
pub const MAGIC: &[u8; 4] = b"UDCH";
/// The encoding's newest version (the byte after the magic): version 2 adds each plan's seat
/// metric. A client asks for it with `version=2` in its `Accept`; others get version 1.
pub const VERSION: u8 = 2;
/// The versions this build reads and writes.
pub const VERSIONS: [u8; 2] = [1, 2];

/// Why a body is not a page in the compact encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a change page in the compact encoding (at byte {at}): {reason}")]
pub struct DecodeError {
    pub at: usize,
    pub reason: String,
}

// Change kinds, as tagged on the wire.
const ACCOUNT: u8 = 1;
const MONTH_USAGE: u8 = 2;
const TOMBSTONE: u8 = 3;
const INSTANCE: u8 = 4;
const LICENSE: u8 = 5;
const INSTANCE_REPORT: u8 = 6;
const INSTANCE_EVENT: u8 = 7;
const INSTALL_ATTEMPT: u8 = 8;

/// The days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

// ---- Encoding ----

/// Encodes a page in the newest version.
pub fn encode_page(page: &ChangePage) -> Vec<u8> {
    encode_page_version(page, VERSION)
}

/// Encodes a page in `version` (one of [`VERSIONS`]; version 1 leaves out the plans' seat
/// metrics, for clients that do not ask for more).
pub fn encode_page_version(page: &ChangePage, version: u8) -> Vec<u8> {
    // About 40 bytes for a month row; more for the others.
    let mut w = Writer(Vec::with_capacity(64 + page.changes.len() * 48));
    w.0.extend_from_slice(MAGIC);
    w.0.push(version);
    w.str(&page.next_cursor);
    w.bool(page.has_more);
    w.opt(page.remaining.as_ref(), |w, n| w.varint(*n));
    w.time(&page.server_time);
    w.varint(page.plans.len() as u64);
    for p in &page.plans {
        w.str(&p.id);
        w.str(&p.name);
        if version >= 2 {
            w.0.push(metric_code(p.seat_metric));
        }
    }
    w.varint(page.changes.len() as u64);
    for c in &page.changes {
        w.change(c);
    }
    w.0
}

struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn signed(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                f(self, v);
            }
        }
    }

    fn date(&mut self, d: NaiveDate) {
        self.signed(i64::from(d.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE);
    }

    fn time(&mut self, t: &DateTime<Utc>) {
        self.signed(t.timestamp());
        self.varint(u64::from(t.timestamp_subsec_nanos()));
    }

    fn counts(&mut self, c: &UsageCounts) {
        self.varint(c.users_registered);
        self.varint(c.users_with_token);
        self.varint(c.users_with_activity);
    }

    fn change(&mut self, c: &Change) {
        match c {
            Change::Account(a) => {
                self.0.push(ACCOUNT);
                self.str(&a.id);
                self.str(&a.name);
                self.opt(a.parent_id.as_deref(), Self::str);
                self.0.push(match a.status {
                    AccountStatus::Active => 0,
                    AccountStatus::Disabled => 1,
                });
                self.date(a.created_at);
            }
            Change::MonthUsage(m) => {
                self.0.push(MONTH_USAGE);
                self.str(&m.account_id);
                self.signed(i64::from(m.month.year()) * 12 + i64::from(m.month.month()) - 1);
                self.str(&m.plan);
                self.date(m.snapshot_date);
                self.counts(&m.counts);
            }
            Change::Tombstone { account_id } => {
                self.0.push(TOMBSTONE);
                self.str(account_id);
            }
            Change::Instance(i) => {
                self.0.push(INSTANCE);
                self.str(&i.id);
                self.str(&i.license_id);
                self.str(&i.account_id);
                self.bool(i.airgapped);
                self.opt(i.public_key.as_deref(), Self::str);
                self.varint(i.high_water_mark);
                self.opt(i.last_report_at.as_ref(), Self::time);
            }
            Change::License(l) => {
                self.0.push(LICENSE);
                self.str(&l.id);
                self.str(&l.account_id);
                self.0.push(match l.license_type {
                    LicenseType::Prod => 0,
                    LicenseType::Trial => 1,
                    LicenseType::Dev => 2,
                    LicenseType::Community => 3,
                });
                self.str(&l.channel);
                self.time(&l.created_at);
                self.opt(l.expires_at.as_ref(), Self::time);
                let f = &l.features;
                self.0.push(
                    u8::from(f.gitops)
                        | u8::from(f.airgap) << 1
                        | u8::from(f.identity) << 2
                        | u8::from(f.snapshots) << 3,
                );
                self.varint(l.seats.len() as u64);
                for (plan, n) in &l.seats {
                    self.str(plan);
                    self.varint(*n);
                }
            }
            Change::InstanceReport(r) => {
                self.0.push(INSTANCE_REPORT);
                self.str(&r.instance_id);
                self.0.push(instance_status_code(r.status));
                self.str(&r.app_version);
                let c = &r.cluster;
                self.str(&c.distribution);
                self.str(&c.kubernetes_version);
                self.bool(c.embedded_cluster);
                self.opt(c.nodes_ready, |w, n| w.varint(u64::from(n)));
                self.opt(c.nodes_total, |w, n| w.varint(u64::from(n)));
                self.str(&c.agent_version);
                self.opt(c.cloud_provider.as_deref(), Self::str);
                self.opt(c.region.as_deref(), Self::str);
                self.time(&r.first_check_in);
                self.time(&r.last_check_in);
            }
            Change::InstanceEvent(e) => {
                self.0.push(INSTANCE_EVENT);
                self.str(&e.instance_id);
                self.str(&e.field);
                self.opt(e.previous.as_deref(), Self::str);
                self.str(&e.new);
                self.time(&e.received_at);
            }
            Change::InstallAttempt(a) => {
                self.0.push(INSTALL_ATTEMPT);
                self.str(&a.id);
                self.str(&a.license_id);
                self.0.push(match a.status {
                    InstallStatus::Succeeded => 0,
                    InstallStatus::Stalled => 1,
                    InstallStatus::Failed => 2,
                });
                self.time(&a.started_at);
                self.str(&a.user_email);
                self.str(&a.environment);
                self.0.push(connectivity_code(a.mode));
                self.0.push(connectivity_code(a.registry));
                self.varint(a.steps.len() as u64);
                for s in &a.steps {
                    self.str(&s.name);
                    self.time(&s.at);
                }
            }
        }
    }
}

fn instance_status_code(s: InstanceStatus) -> u8 {
    match s {
        InstanceStatus::Missing => 0,
        InstanceStatus::Unavailable => 1,
        InstanceStatus::Degraded => 2,
        InstanceStatus::Ready => 3,
        InstanceStatus::Updating => 4,
    }
}

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::UsersRegistered => 0,
        Metric::UsersWithToken => 1,
        Metric::UsersWithActivity => 2,
    }
}

const METRICS: [Metric; 3] = [
    Metric::UsersRegistered,
    Metric::UsersWithToken,
    Metric::UsersWithActivity,
];

fn connectivity_code(c: Connectivity) -> u8 {
    match c {
        Connectivity::Online => 0,
        Connectivity::Offline => 1,
    }
}

// ---- Decoding ----

/// What a page says of the feed after it, read without decoding its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageHead {
    pub next_cursor: String,
    pub has_more: bool,
    pub remaining: Option<u64>,
    /// How many changes the page holds.
    pub changes: u64,
}

/// Reads a page's [`PageHead`] (a client fetching ahead needs the cursor before it decodes
/// the changes). The page as a whole is checked by [`decode_page`] only.
pub fn decode_head(bytes: &[u8]) -> Result<PageHead, DecodeError> {
    let mut r = Reader { buf: bytes, at: 0 };
    let version = r.version()?;
    let next_cursor = r.string()?;
    let has_more = r.bool()?;
    let remaining = r.opt(Reader::varint)?;
    r.time()?;
    r.list(|r| r.plan(version))?;
    Ok(PageHead {
        next_cursor,
        has_more,
        remaining,
        changes: r.varint()?,
    })
}

/// Decodes a page; refuses anything but exactly one well-formed page.
pub fn decode_page(bytes: &[u8]) -> Result<ChangePage, DecodeError> {
    let mut r = Reader { buf: bytes, at: 0 };
    let version = r.version()?;
    let next_cursor = r.string()?;
    let has_more = r.bool()?;
    let remaining = r.opt(Reader::varint)?;
    let server_time = r.time()?;
    let plans = r.list(|r| r.plan(version))?;
    let changes = r.list(Reader::change)?;
    if r.at != bytes.len() {
        return Err(r.fail(format!(
            "{} bytes after the last change",
            bytes.len() - r.at
        )));
    }
    Ok(ChangePage {
        changes,
        next_cursor,
        has_more,
        remaining,
        plans,
        server_time,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The magic and the version byte.
    fn version(&mut self) -> Result<u8, DecodeError> {
        if self.take(4)? != MAGIC {
            return Err(self.fail_at(0, "it does not start with UDCH"));
        }
        let version = self.u8()?;
        if !VERSIONS.contains(&version) {
            return Err(self.fail_at(
                4,
                format!(
                    "encoding version {version}; this build reads versions 1 to {VERSION}: update it"
                ),
            ));
        }
        Ok(version)
    }

    fn plan(&mut self, version: u8) -> Result<Plan, DecodeError> {
        let plan = Plan::new(self.string()?, self.string()?);
        if version < 2 {
            return Ok(plan);
        }
        let at = self.at;
        let code = self.u8()?;
        let metric = METRICS
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| self.fail_at(at, format!("seat metric {code} is none of 0, 1, 2")))?;
        Ok(plan.with_seat_metric(metric))
    }

    fn fail(&self, reason: impl Into<String>) -> DecodeError {
        self.fail_at(self.at, reason)
    }

    fn fail_at(&self, at: usize, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            at,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| self.fail("it ends in the middle of a value"))?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.at;
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.fail_at(start, "a number longer than 64 bits"))
    }

    fn signed(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.fail_at(self.at - 1, format!("{b} is not a boolean (0 or 1)"))),
        }
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let start = self.at;
        let n = usize::try_from(self.varint()?).map_err(|_| self.fail_at(start, "a huge text"))?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| self.fail_at(start, "a text that is not UTF-8"))
    }

    fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            b => Err(self.fail_at(self.at - 1, format!("{b} is not an option tag (0 or 1)"))),
        }
    }

    /// A count, then that many items. The count cannot exceed the bytes left (every item
    /// takes at least one), so a forged count cannot reserve much memory.
    fn list<T>(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let start = self.at;
        let n = self.varint()?;
        let left = (self.buf.len() - self.at) as u64;
        if n > left {
            return Err(self.fail_at(start, format!("{n} items announced, {left} bytes left")));
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let start = self.at;
        u32::try_from(self.varint()?).map_err(|_| self.fail_at(start, "a number above 2^32"))
    }

    fn date(&mut self) -> Result<NaiveDate, DecodeError> {
        let start = self.at;
        let days = self.signed()?;
        days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
            .and_then(|d| i32::try_from(d).ok())
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| self.fail_at(start, format!("day {days} is out of range")))
    }

    fn month(&mut self) -> Result<YearMonth, DecodeError> {
        let start = self.at;
        let n = self.signed()?;
        i32::try_from(n.div_euclid(12))
            .ok()
            .and_then(|y| YearMonth::new(y, (n.rem_euclid(12) + 1) as u32))
            .ok_or_else(|| self.fail_at(start, format!("month {n} is out of range")))
    }

    fn time(&mut self) -> Result<DateTime<Utc>, DecodeError> {
        let start = self.at;
        let secs = self.signed()?;
        let nanos = self.u32()?;
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| self.fail_at(start, format!("time {secs}.{nanos} is out of range")))
    }

    fn counts(&mut self) -> Result<UsageCounts, DecodeError> {
        Ok(UsageCounts::new(
            self.varint()?,
            self.varint()?,
            self.varint()?,
        ))
    }

    /// A one-byte code: the index of the value in `values`.
    fn code<T: Copy>(&mut self, what: &str, values: &[T]) -> Result<T, DecodeError> {
        let b = self.u8()?;
        values
            .get(usize::from(b))
            .copied()
            .ok_or_else(|| self.fail_at(self.at - 1, format!("{b} is not a {what} code")))
    }

    fn change(&mut self) -> Result<Change, DecodeError> {
        let start = self.at;
        Ok(match self.u8()? {
            ACCOUNT => Change::Account(Account {
                id: self.string()?,
                name: self.string()?,
                parent_id: self.opt(Self::string)?,
                status: self.code("status", &[AccountStatus::Active, AccountStatus::Disabled])?,
                created_at: self.date()?,
            }),
            MONTH_USAGE => Change::MonthUsage(MonthUsage {
                account_id: self.string()?,
                month: self.month()?,
                plan: self.string()?,
                snapshot_date: self.date()?,
                counts: self.counts()?,
            }),
            TOMBSTONE => Change::Tombstone {
                account_id: self.string()?,
            },
            INSTANCE => Change::Instance(Instance {
                id: self.string()?,
                license_id: self.string()?,
                account_id: self.string()?,
                airgapped: self.bool()?,
                public_key: self.opt(Self::string)?,
                high_water_mark: self.varint()?,
                last_report_at: self.opt(Self::time)?,
            }),
            LICENSE => Change::License(License {
                id: self.string()?,
                account_id: self.string()?,
                license_type: self.code(
                    "license type",
                    &[
                        LicenseType::Prod,
                        LicenseType::Trial,
                        LicenseType::Dev,
                        LicenseType::Community,
                    ],
                )?,
                channel: self.string()?,
                created_at: self.time()?,
                expires_at: self.opt(Self::time)?,
                features: {
                    let at = self.at;
                    let bits = self.u8()?;
                    if bits > 0x0f {
                        return Err(self.fail_at(at, format!("{bits} is not a feature set")));
                    }
                    LicenseFeatures {
                        gitops: bits & 1 != 0,
                        airgap: bits & 2 != 0,
                        identity: bits & 4 != 0,
                        snapshots: bits & 8 != 0,
                    }
                },
                seats: {
                    let pairs = self.list(|r| Ok((r.string()?, r.varint()?)))?;
                    let n = pairs.len();
                    let seats: BTreeMap<String, u64> = pairs.into_iter().collect();
                    if seats.len() != n {
                        return Err(self.fail("a plan twice in a license's seats"));
                    }
                    seats
                },
            }),
            INSTANCE_REPORT => Change::InstanceReport(InstanceReport {
                instance_id: self.string()?,
                status: self.code("instance status", &INSTANCE_STATUSES)?,
                app_version: self.string()?,
                cluster: ClusterDetails {
                    distribution: self.string()?,
                    kubernetes_version: self.string()?,
                    embedded_cluster: self.bool()?,
                    nodes_ready: self.opt(Self::u32)?,
                    nodes_total: self.opt(Self::u32)?,
                    agent_version: self.string()?,
                    cloud_provider: self.opt(Self::string)?,
                    region: self.opt(Self::string)?,
                },
                first_check_in: self.time()?,
                last_check_in: self.time()?,
            }),
            INSTANCE_EVENT => Change::InstanceEvent(InstanceEvent {
                instance_id: self.string()?,
                field: self.string()?,
                previous: self.opt(Self::string)?,
                new: self.string()?,
                received_at: self.time()?,
            }),
            INSTALL_ATTEMPT => Change::InstallAttempt(InstallAttempt {
                id: self.string()?,
                license_id: self.string()?,
                status: self.code(
                    "install status",
                    &[
                        InstallStatus::Succeeded,
                        InstallStatus::Stalled,
                        InstallStatus::Failed,
                    ],
                )?,
                started_at: self.time()?,
                user_email: self.string()?,
                environment: self.string()?,
                mode: self.code("connectivity", &CONNECTIVITY)?,
                registry: self.code("connectivity", &CONNECTIVITY)?,
                steps: self.list(|r| {
                    Ok(InstallStep {
                        name: r.string()?,
                        at: r.time()?,
                    })
                })?,
            }),
            kind => {
                return Err(self.fail_at(
                    start,
                    format!("{kind} is not a change kind of encoding versions 1 to {VERSION}"),
                ))
            }
        })
    }
}

const INSTANCE_STATUSES: [InstanceStatus; 5] = [
    InstanceStatus::Missing,
    InstanceStatus::Unavailable,
    InstanceStatus::Degraded,
    InstanceStatus::Ready,
    InstanceStatus::Updating,
];

const CONNECTIVITY: [Connectivity; 2] = [Connectivity::Online, Connectivity::Offline];

#[cfg(test)]
#[path = "feed_codec_tests.rs"]
mod tests;
