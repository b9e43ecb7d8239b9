//! The usage data file: an instance's answer to one sync key, signed by the instance's own key.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::armor::{self, Body, Signed, Verified};
use crate::error::{AirgapError, Artifact, Result};
use crate::fields::{
    check_id, date, timestamp, whole_seconds, Nonce, Sha256Digest, MAX_CLOCK_SKEW,
};
use crate::file_kind::FileKind;
use crate::keys::{PublicKey, SigningKey};
use crate::license::{Enrollment, KnownInstance};
use crate::sync_key::SyncKey;

const WHAT: Artifact = Artifact::File(FileKind::UsageData);
const SYNC_KEY: Artifact = Artifact::File(FileKind::SyncKey);

/// How far above the sync key's mark one file's records may go: 2^32. An agent gives one
/// `seq` per new or changed account-day, so a real instance never numbers this many between
/// two exchanges (100,000 accounts changing every day for a century stay below it), while a
/// file can no longer push the vendor's mark, and with it every later sync key's, to the end
/// of the 63-bit range the agent and the cloud count in.
pub const MAX_SEQ_ADVANCE: u64 = 1 << 32;

/// One daily usage snapshot of one account, as the instance recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageRecord {
    /// The instance's sequence number of this record: the record's key, strictly increasing.
    pub seq: u64,
    pub account_id: String,
    #[serde(with = "date")]
    pub date: NaiveDate,
    pub plan: String,
    pub users_registered: u64,
    pub users_with_token: u64,
    pub users_with_activity: u64,
}

/// The first and last date of the records in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    #[serde(with = "date")]
    pub first: NaiveDate,
    #[serde(with = "date")]
    pub last: NaiveDate,
}

/// The content of a usage data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageData {
    pub instance_id: String,
    pub license_id: String,
    /// The instance's own public key, which signs this file. The vendor pins it on first
    /// contact and refuses files signed by another key afterwards.
    pub instance_key: PublicKey,
    /// The nonce of the sync key this file answers.
    pub answers_nonce: Nonce,
    /// SHA-256 of that sync key file (canonical form).
    pub sync_key_sha256: Sha256Digest,
    /// The sync key's high-water mark: every record's `seq` is above it.
    pub above_mark: u64,
    /// First and last record date; `null` when there are no records.
    pub period: Option<Period>,
    pub records: Vec<UsageRecord>,
    /// Records above the mark that did not fit under the size limit: they go in the next
    /// exchange.
    pub remaining_records: u64,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Format version 2: the instance's license and the proof, made with its license file's
    /// enrollment secret, that `instance_key` is the licensed instance's. It is what lets the
    /// vendor take the key on first contact. Version 1 files have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<Enrollment>,
}

impl Body for UsageData {
    const KIND: FileKind = FileKind::UsageData;

    fn version(&self) -> u32 {
        if self.enrollment.is_some() {
            2
        } else {
            1
        }
    }

    fn check(&self) -> Result<()> {
        let invalid = |r: String| AirgapError::invalid(WHAT, r);
        check_id("instance_id", &self.instance_id).map_err(invalid)?;
        check_id("license_id", &self.license_id).map_err(invalid)?;
        let mut previous = self.above_mark;
        for (i, r) in self.records.iter().enumerate() {
            let at = |m: String| invalid(format!("record {} (seq {}): {m}", i + 1, r.seq));
            if r.seq <= previous {
                return Err(at(if i == 0 {
                    format!("seq must be above the mark {}", self.above_mark)
                } else {
                    format!("seq must be above the previous record's {previous}")
                }));
            }
            previous = r.seq;
            check_id("account_id", &r.account_id).map_err(at)?;
            check_id("plan", &r.plan).map_err(at)?;
        }
        if previous - self.above_mark > MAX_SEQ_ADVANCE {
            return Err(invalid(format!(
                "its records reach seq {previous}, more than {MAX_SEQ_ADVANCE} above the mark {}",
                self.above_mark
            )));
        }
        let period = self
            .records
            .iter()
            .map(|r| r.date)
            .fold(None, |p: Option<Period>, d| {
                Some(match p {
                    None => Period { first: d, last: d },
                    Some(p) => Period {
                        first: p.first.min(d),
                        last: p.last.max(d),
                    },
                })
            });
        if period != self.period {
            return Err(invalid(
                "period must give the first and last record date (null without records)".into(),
            ));
        }
        Ok(())
    }
}

impl UsageData {
    /// Writes the usage data file answering `sync_key`: the `records` above its mark, in `seq`
    /// order, as many as fit under the size limit (the lowest `seq` first; the count left out
    /// is `remaining_records`), signed by the instance's own `key`.
    ///
    /// With an `enrollment` (made by the instance's license file for `key`) the file is format
    /// version 2, which a vendor that holds no key for the instance yet can take; without, the
    /// older version 1, which only a vendor that already holds the key accepts. Records more
    /// than [`MAX_SEQ_ADVANCE`] above the mark count as remaining.
    ///
    /// Refuses a sync key for another instance or license, and one not in force at `now`.
    pub fn answer(
        sync_key: &Verified<SyncKey>,
        instance_id: &str,
        license_id: &str,
        records: &[UsageRecord],
        key: &SigningKey,
        enrollment: Option<&Enrollment>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let now = whole_seconds(now);
        if let Some(e) = enrollment {
            e.check_proof(instance_id, license_id, &key.public_key())
                .map_err(|e| {
                    AirgapError::request(
                        WHAT,
                        format!("the enrollment is not this instance key's: {e}"),
                    )
                })?;
        }
        if sync_key.instance_id != instance_id {
            return Err(AirgapError::WrongInstance {
                what: SYNC_KEY,
                expected: instance_id.to_owned(),
                found: sync_key.instance_id.clone(),
            });
        }
        check_license(SYNC_KEY, sync_key, instance_id, license_id)?;
        if now + MAX_CLOCK_SKEW < sync_key.issued_at {
            return Err(AirgapError::NotYetValid {
                what: SYNC_KEY,
                valid_from: sync_key.issued_at,
                now,
            });
        }
        if now >= sync_key.expires_at {
            return Err(AirgapError::Expired {
                what: SYNC_KEY,
                expired_at: sync_key.expires_at,
            });
        }

        let mark = sync_key.high_water_mark;
        let mut above: Vec<UsageRecord> =
            records.iter().filter(|r| r.seq > mark).cloned().collect();
        above.sort_by_key(|r| r.seq);
        // Records too far above the mark for one file wait, counted as remaining.
        let reach = above.partition_point(|r| r.seq - mark <= MAX_SEQ_ADVANCE);
        if let Some(w) = above.windows(2).find(|w| w[0].seq == w[1].seq) {
            return Err(AirgapError::request(
                WHAT,
                format!("two records have seq {}", w[0].seq),
            ));
        }

        let limit = FileKind::UsageData.max_bytes();
        let total = above.len();
        let mut take = reach;
        loop {
            let chosen = &above[..take];
            let body = UsageData {
                instance_id: instance_id.to_owned(),
                license_id: license_id.to_owned(),
                instance_key: key.public_key(),
                answers_nonce: sync_key.nonce,
                sync_key_sha256: sync_key.sha256(),
                above_mark: sync_key.high_water_mark,
                period: period_of(chosen),
                records: chosen.to_vec(),
                remaining_records: (total - take) as u64,
                created_at: now,
                enrollment: enrollment.cloned(),
            };
            let text = armor::write(&body, key)?;
            // Within the limit even once a mail client rewrote every line end as CRLF.
            let size_as_crlf = text.len() + text.bytes().filter(|&b| b == b'\n').count();
            if size_as_crlf <= limit {
                return Ok(text);
            }
            if take == 0 {
                return Err(AirgapError::request(
                    WHAT,
                    "even an empty file is too large",
                ));
            }
            // Shrink in proportion, with a margin, and always by at least one record.
            let estimate =
                (take as u128 * limit as u128 * 97 / 100 / size_as_crlf as u128) as usize;
            take = estimate.min(take - 1);
        }
    }

    /// Reads a usage data file: every check that needs no key. Look up the sync key it
    /// answers by `unverified().answers_nonce`, then call [`Signed::verify_for`].
    pub fn parse(bytes: &[u8]) -> Result<Signed<UsageData>> {
        armor::parse(bytes)
    }

    /// The highest `seq` the file carries, or its mark when it carries none.
    pub fn highest_seq(&self) -> u64 {
        self.records.last().map_or(self.above_mark, |r| r.seq)
    }
}

fn period_of(records: &[UsageRecord]) -> Option<Period> {
    let first = records.iter().map(|r| r.date).min()?;
    let last = records.iter().map(|r| r.date).max()?;
    Some(Period { first, last })
}

fn check_license(
    what: Artifact,
    sync_key: &SyncKey,
    instance_id: &str,
    license_id: &str,
) -> Result<()> {
    match &sync_key.license_id {
        Some(l) if l != license_id => Err(AirgapError::WrongInstance {
            what,
            expected: format!("{instance_id}` of license `{license_id}"),
            found: format!("{}` of license `{l}", sync_key.instance_id),
        }),
        _ => Ok(()),
    }
}

impl Signed<UsageData> {
    /// Checks, in order: the signature by the file's `instance_key`; the instance is the sync
    /// key's; a version 2 file's enrollment names the file's instance and license and proves
    /// `instance_key` ([`Enrollment::check_proof`]); the license, when the sync key names one,
    /// is the sync key's; the nonce, the sync key's hash and the mark are those of
    /// `sync_key`; the instance key is `pinned` (when the vendor holds a key for the
    /// instance); the file was created while the sync key was in force.
    ///
    /// On first contact (`pinned` is `None`) the key is not trusted yet: call
    /// [`Verified::check_enrollment`] before taking it.
    pub fn verify_for(
        &self,
        sync_key: &Verified<SyncKey>,
        pinned: Option<&PublicKey>,
    ) -> Result<Verified<UsageData>> {
        let ud = &self.body;
        if !ud
            .instance_key
            .verifies(self.signed_bytes(), &self.signature)
        {
            return Err(AirgapError::BadSignature { what: WHAT });
        }
        if ud.instance_id != sync_key.instance_id {
            return Err(AirgapError::WrongInstance {
                what: WHAT,
                expected: sync_key.instance_id.clone(),
                found: ud.instance_id.clone(),
            });
        }
        if let Some(e) = &ud.enrollment {
            e.check_proof(&ud.instance_id, &ud.license_id, &ud.instance_key)?;
        }
        if let Some(l) = &sync_key.license_id {
            if *l != ud.license_id {
                return Err(AirgapError::WrongInstance {
                    what: WHAT,
                    expected: format!("{}` of license `{l}", sync_key.instance_id),
                    found: format!("{}` of license `{}", ud.instance_id, ud.license_id),
                });
            }
        }
        let wrong = |reason: String| AirgapError::WrongNonce { what: WHAT, reason };
        if ud.answers_nonce != sync_key.nonce {
            return Err(wrong(format!(
                "it answers nonce {}, this sync key has nonce {}",
                ud.answers_nonce, sync_key.nonce
            )));
        }
        if ud.sync_key_sha256 != sync_key.sha256() {
            return Err(wrong(format!(
                "it names a sync key with sha256 {}, this one has sha256 {}",
                ud.sync_key_sha256,
                sync_key.sha256()
            )));
        }
        if ud.above_mark != sync_key.high_water_mark {
            return Err(wrong(format!(
                "it carries records above {}, the sync key asked for those above {}",
                ud.above_mark, sync_key.high_water_mark
            )));
        }
        if let Some(pinned) = pinned {
            if *pinned != ud.instance_key {
                return Err(AirgapError::UntrustedKey {
                    what: WHAT,
                    reason: format!(
                        "it is signed by {}, but the vendor holds another key for instance `{}`: \
                         if the instance was reinstalled, have the vendor reset its key \
                         (usagedesk-cloud instance reset-key); otherwise the file did not come \
                         from that instance",
                        ud.instance_key, ud.instance_id
                    ),
                });
            }
        }
        if ud.created_at + MAX_CLOCK_SKEW < sync_key.issued_at {
            return Err(AirgapError::invalid(
                WHAT,
                format!(
                    "it was created on {}, before the sync key it answers was issued",
                    crate::error::when(&ud.created_at)
                ),
            ));
        }
        if ud.created_at >= sync_key.expires_at {
            return Err(AirgapError::Expired {
                what: SYNC_KEY,
                expired_at: sync_key.expires_at,
            });
        }
        Ok(self.verified())
    }
}

impl Verified<UsageData> {
    /// First contact: the vendor holds no key for the instance, so the file must prove that
    /// its `instance_key` is the licensed instance's. Refuses a version 1 file
    /// (`enrollment_required`), else checks its enrollment against `root` and `known` at the
    /// file's `created_at` ([`Enrollment::verify`]), which [`Signed::verify_for`] has bound to
    /// the sync key's validity.
    pub fn check_enrollment(&self, root: &PublicKey, known: &KnownInstance<'_>) -> Result<()> {
        let Some(enrollment) = &self.enrollment else {
            return Err(AirgapError::EnrollmentRequired {
                what: WHAT,
                instance_id: self.instance_id.clone(),
            });
        };
        enrollment.verify(root, &self.instance_key, known, self.created_at)
    }

    /// What a verification key for this file must confirm.
    pub fn expected_answer(&self) -> ExpectedAnswer {
        ExpectedAnswer {
            instance_id: self.instance_id.clone(),
            answers_nonce: self.answers_nonce,
            usage_file_sha256: self.sha256(),
            highest_seq_sent: self.highest_seq(),
        }
    }
}

/// What the instance expects a verification key to confirm: see
/// [`Verified::expected_answer`](crate::Verified#method.expected_answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedAnswer {
    pub instance_id: String,
    pub answers_nonce: Nonce,
    pub usage_file_sha256: Sha256Digest,
    /// The highest `seq` the file carried (its mark when it carried none): the vendor cannot
    /// accept beyond it.
    pub highest_seq_sent: u64,
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use rand::SeedableRng;

    use super::*;
    use crate::error::ErrorKind;
    use crate::testutil::{day, fixture, record, Fixture};

    fn answer(f: &Fixture, records: &[UsageRecord]) -> String {
        let sk = f.verified_sync_key();
        UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            records,
            &f.instance,
            None,
            f.now,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_carries_only_records_above_the_mark_in_seq_order() {
        let f = fixture();
        let sk = f.verified_sync_key();
        let records = vec![
            record(43, "acme-eu", "2026-03-01"),
            record(39, "acme", "2026-02-25"), // below the mark of 40: already with the vendor
            record(41, "acme", "2026-02-28"),
            record(42, "acme", "2026-03-01"),
        ];
        let text = answer(&f, &records);
        let parsed = UsageData::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.text(), text);
        let ud = parsed
            .verify_for(&sk, Some(&f.instance.public_key()))
            .unwrap();
        assert_eq!(
            ud.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [41, 42, 43]
        );
        assert_eq!(ud.above_mark, 40);
        assert_eq!(ud.answers_nonce, sk.nonce);
        assert_eq!(ud.sync_key_sha256, sk.sha256());
        assert_eq!(
            ud.period,
            Some(Period {
                first: day("2026-02-28"),
                last: day("2026-03-01")
            })
        );
        assert_eq!(ud.remaining_records, 0);
        assert_eq!(ud.instance_key, f.instance.public_key());
        let expected = ud.expected_answer();
        assert_eq!(expected.highest_seq_sent, 43);
        assert_eq!(expected.usage_file_sha256, parsed.sha256());
    }

    #[test]
    fn an_answer_with_no_new_records_is_valid() {
        let f = fixture();
        let text = answer(&f, &[record(40, "acme", "2026-02-27")]);
        let ud = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&f.verified_sync_key(), None)
            .unwrap();
        assert!(ud.records.is_empty());
        assert_eq!(ud.period, None);
        assert_eq!(ud.highest_seq(), 40, "nothing sent beyond the mark");
    }

    #[test]
    fn a_file_for_another_sync_key_is_refused_as_wrong_nonce() {
        let f = fixture();
        let text = answer(&f, &[record(41, "acme", "2026-03-01")]);
        let parsed = UsageData::parse(text.as_bytes()).unwrap();
        // A second sync key for the same instance: same fields, fresh nonce.
        let mut rng = f.rng();
        rng.set_word_pos(1 << 20);
        let other =
            SyncKey::issue(&f.sync_request(), &f.delegated, &f.cert, &mut rng, f.now).unwrap();
        let other = SyncKey::parse(other.as_bytes())
            .unwrap()
            .verify(&f.root.public_key(), f.now)
            .unwrap();
        let e = parsed.verify_for(&other, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongNonce, "{e}");
        assert!(
            e.to_string()
                .contains("export again with the latest sync key"),
            "{e}"
        );
    }

    #[test]
    fn a_file_from_a_foreign_instance_is_refused() {
        let f = fixture();
        // Another instance answers (a copy of) our sync key with its own key.
        let mut request = f.sync_request();
        request.instance_id = "inst-globex-7".into();
        request.license_id = None;
        let foreign_sk =
            SyncKey::issue(&request, &f.delegated, &f.cert, &mut f.rng(), f.now).unwrap();
        let foreign_sk = SyncKey::parse(foreign_sk.as_bytes())
            .unwrap()
            .verify(&f.root.public_key(), f.now)
            .unwrap();
        let foreign_key = SigningKey::generate(&mut f.rng());
        let text = UsageData::answer(
            &foreign_sk,
            "inst-globex-7",
            "lic-globex",
            &[record(41, "globex", "2026-03-01")],
            &foreign_key,
            None,
            f.now,
        )
        .unwrap();
        let e = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&f.verified_sync_key(), Some(&f.instance.public_key()))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstance, "{e}");
        assert!(e.to_string().contains("inst-globex-7"), "{e}");
    }

    #[test]
    fn the_agent_refuses_a_sync_key_for_another_instance_or_license() {
        let f = fixture();
        let sk = f.verified_sync_key();
        let e = UsageData::answer(
            &sk,
            "inst-other",
            "lic-acme-2026",
            &[],
            &f.instance,
            None,
            f.now,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstance, "{e}");
        let e = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-other",
            &[],
            &f.instance,
            None,
            f.now,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstance, "{e}");
        assert!(e.to_string().contains("lic-other"), "{e}");
    }

    #[test]
    fn the_agent_refuses_an_expired_sync_key() {
        let f = fixture();
        let sk = f.verified_sync_key();
        let e = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            &[],
            &f.instance,
            None,
            sk.expires_at + Duration::seconds(1),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
    }

    #[test]
    fn a_file_created_after_its_sync_key_expired_is_refused() {
        let f = fixture();
        let sk = f.verified_sync_key();
        let mut body = UsageData::parse(answer(&f, &[record(41, "acme", "2026-03-01")]).as_bytes())
            .unwrap()
            .unverified()
            .clone();
        // An agent with a clock far ahead, or one that skipped the expiry check.
        body.created_at = sk.expires_at + Duration::hours(1);
        let text = armor::write(&body, &f.instance).unwrap();
        let e = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
        assert!(e.to_string().contains("the sync key expired"), "{e}");
    }

    #[test]
    fn a_wrong_pinned_key_is_refused() {
        let f = fixture();
        let text = answer(&f, &[record(41, "acme", "2026-03-01")]);
        let impostor = SigningKey::generate(&mut f.rng()).public_key();
        let e = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&f.verified_sync_key(), Some(&impostor))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UntrustedKey, "{e}");
        assert!(
            e.to_string().contains("the vendor holds another key"),
            "{e}"
        );
        // The key the vendor holds is not told to whoever sent the file.
        assert!(!e.to_string().contains(&impostor.to_string()), "{e}");
    }

    #[test]
    fn a_file_signed_by_another_key_than_it_names_is_refused() {
        let f = fixture();
        let text = answer(&f, &[record(41, "acme", "2026-03-01")]);
        let body = UsageData::parse(text.as_bytes())
            .unwrap()
            .unverified()
            .clone();
        let forged = armor::write(&body, &SigningKey::generate(&mut f.rng())).unwrap();
        let e = UsageData::parse(forged.as_bytes())
            .unwrap()
            .verify_for(&f.verified_sync_key(), None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
    }

    #[test]
    fn invalid_records_are_refused_even_when_signed() {
        let f = fixture();
        let good = UsageData::parse(answer(&f, &[record(41, "acme", "2026-03-01")]).as_bytes())
            .unwrap()
            .unverified()
            .clone();
        type Edit = fn(&mut UsageData);
        let cases: [(&str, Edit); 8] = [
            ("seq at the mark", |u| u.records[0].seq = 40),
            ("seq not increasing", |u| {
                let mut r = u.records[0].clone();
                r.seq = 41;
                u.records.push(r);
            }),
            ("empty account id", |u| {
                u.records[0].account_id = String::new()
            }),
            ("spaced account id", |u| {
                u.records[0].account_id = "acme ".into()
            }),
            ("control char", |u| {
                u.records[0].account_id = "ac\u{7}me".into()
            }),
            ("long account id", |u| {
                u.records[0].account_id = "a".repeat(129)
            }),
            ("empty plan", |u| u.records[0].plan = String::new()),
            ("wrong period", |u| u.period = None),
        ];
        for (why, mutate) in cases {
            let mut body = good.clone();
            mutate(&mut body);
            // The writer refuses it...
            let e = armor::write(&body, &f.instance).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{why}: {e}");
            // ...and so does the parser, when a broken writer signs it anyway.
            let json = serde_json::to_string_pretty(&body).unwrap();
            let text = crate::testutil::sign_raw(FileKind::UsageData, &json, &f.instance);
            let e = UsageData::parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidData, "{why}: {e}");
        }
    }

    #[test]
    fn negative_counts_and_bad_dates_are_refused() {
        let f = fixture();
        let text = answer(&f, &[record(41, "acme", "2026-03-01")]);
        for (from, to) in [
            ("\"users_registered\": 10", "\"users_registered\": -10"),
            ("\"date\": \"2026-03-01\"", "\"date\": \"2026-3-1\""),
            ("\"date\": \"2026-03-01\"", "\"date\": \"2026-02-30\""),
            ("\"users_with_token\": 7", "\"users_with_token\": 7.0"),
        ] {
            assert!(text.contains(from), "sample lacks {from}");
            let json_start = text.find('{').unwrap();
            let json_end = text.rfind("\nSignature:").unwrap();
            let json = text[json_start..json_end].replacen(from, to, 1);
            let edited = crate::testutil::sign_raw(FileKind::UsageData, &json, &f.instance);
            let e = UsageData::parse(edited.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Malformed, "{to}: {e}");
        }
    }

    #[test]
    fn records_beyond_the_size_limit_wait_for_the_next_exchange() {
        let f = fixture();
        let sk = f.verified_sync_key();
        // About 290 bytes per record: 20 000 records are well over 4 MiB.
        let records: Vec<UsageRecord> = (0..20_000u64)
            .map(|i| record(41 + i, &format!("account-{:06}", i % 500), "2026-03-01"))
            .collect();
        let text = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            &records,
            &f.instance,
            None,
            f.now,
        )
        .unwrap();
        assert!(text.len() <= FileKind::UsageData.max_bytes());
        let ud = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap();
        // A full file still fits once its line ends went through a CRLF mail client.
        let crlf = text.replace('\n', "\r\n");
        assert!(crlf.len() <= FileKind::UsageData.max_bytes());
        let via_crlf = UsageData::parse(crlf.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap();
        assert_eq!(via_crlf.text(), ud.text(), "the same file, the same hash");
        let sent = ud.records.len() as u64;
        assert!(sent > 10_000 && sent < 20_000, "sent {sent}");
        assert_eq!(ud.remaining_records, 20_000 - sent);
        assert_eq!(ud.records[0].seq, 41, "the lowest seq go first");
        assert_eq!(
            ud.highest_seq(),
            40 + sent,
            "no gap: the next mark follows on"
        );
    }

    #[test]
    fn a_file_cannot_reach_far_above_its_mark() {
        let f = fixture();
        let sk = f.verified_sync_key();
        // The writer keeps records beyond the reach for later...
        let far = 40 + MAX_SEQ_ADVANCE + 1;
        let text = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            &[
                record(41, "acme", "2026-03-01"),
                record(far, "acme", "2026-03-02"),
            ],
            &f.instance,
            None,
            f.now,
        )
        .unwrap();
        let ud = UsageData::parse(text.as_bytes())
            .unwrap()
            .unverified()
            .clone();
        assert_eq!(ud.records.len(), 1);
        assert_eq!(ud.remaining_records, 1);
        // ...and a file claiming them anyway is refused, signed or not.
        let mut body = ud.clone();
        body.records.push(record(far, "acme", "2026-03-02"));
        body.period = Some(Period {
            first: day("2026-03-01"),
            last: day("2026-03-02"),
        });
        body.remaining_records = 0;
        let forged = armor::write(&body, &f.instance);
        assert_eq!(forged.unwrap_err().kind(), ErrorKind::InvalidRequest);
        let json = serde_json::to_string_pretty(&body).unwrap();
        let signed = crate::testutil::sign_raw(FileKind::UsageData, &json, &f.instance);
        let e = UsageData::parse(signed.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
        assert!(
            e.to_string().contains("4294967296 above the mark 40"),
            "{e}"
        );
        // Exactly the reach is fine.
        body.records[1].seq = 40 + MAX_SEQ_ADVANCE;
        let json = serde_json::to_string_pretty(&body).unwrap();
        let signed = crate::testutil::sign_raw(FileKind::UsageData, &json, &f.instance);
        UsageData::parse(signed.as_bytes()).unwrap();
    }

    #[test]
    fn a_version_2_file_carries_an_enrollment_that_proves_its_own_key() {
        let f = fixture();
        let sk = f.verified_sync_key();
        let enrollment = f.enrollment(&f.instance.public_key());
        let text = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            &[record(41, "acme", "2026-03-01")],
            &f.instance,
            Some(&enrollment),
            f.now,
        )
        .unwrap();
        assert!(text.contains("\nVersion: 2\n"), "{text}");
        let ud = UsageData::parse(text.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap();
        let p = crate::testutil::path(&["msp", "acme"]);
        let known = KnownInstance {
            instance_id: "inst-acme-1",
            license_id: "lic-acme-2026",
            account_path: &p,
            airgapped: true,
        };
        ud.check_enrollment(&f.root.public_key(), &known).unwrap();

        // An enrollment made for another key cannot be written with this one...
        let thief = SigningKey::generate(&mut rand_chacha::ChaCha20Rng::from_seed([7; 32]));
        let e = UsageData::answer(
            &sk,
            "inst-acme-1",
            "lic-acme-2026",
            &[],
            &thief,
            Some(&enrollment),
            f.now,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        // ...nor read: a copied enrollment in a file signed by another key.
        let mut body = ud.clone().into_inner();
        body.instance_key = thief.public_key();
        let forged = crate::testutil::sign_raw_versioned(
            FileKind::UsageData,
            "2",
            &serde_json::to_string_pretty(&body).unwrap(),
            &thief,
        );
        let e = UsageData::parse(forged.as_bytes())
            .unwrap()
            .verify_for(&sk, None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadSignature, "{e}");
        assert!(e.to_string().contains("enrollment proof"), "{e}");
    }

    #[test]
    fn duplicate_seq_cannot_be_written() {
        let f = fixture();
        let e = UsageData::answer(
            &f.verified_sync_key(),
            "inst-acme-1",
            "lic-acme-2026",
            &[
                record(41, "acme", "2026-03-01"),
                record(41, "acme-eu", "2026-03-01"),
            ],
            &f.instance,
            None,
            f.now,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    }
}
