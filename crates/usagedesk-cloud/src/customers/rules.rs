//! The rules of customer-reporting values, shared by the loader and the check-in endpoint:
//! text fields, cluster details, the fields an instance event may name and their text forms,
//! license features and seats, and the fixed-width time text the storage keeps.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use usagedesk_domain::customer::{ClusterDetails, InstanceStatus, LicenseFeatures};
use usagedesk_domain::PlanCatalog;

/// The longest version, distribution, channel, environment or step name (bytes).
pub const MAX_TEXT_LEN: usize = 128;
/// The longest user e-mail address (bytes).
pub const MAX_EMAIL_LEN: usize = 254;

pub use usagedesk_domain::customer::TRACKED_FIELDS;

/// The feature names of `licenses.csv`, in their canonical order.
pub const FEATURE_NAMES: [&str; 4] = ["gitops", "airgap", "identity", "snapshots"];

/// Checks a short text value: at most [`MAX_TEXT_LEN`] bytes, no control characters, no
/// surrounding spaces; empty only when `may_be_empty`.
pub fn check_text(field: &str, value: &str, may_be_empty: bool) -> Result<(), String> {
    if value.is_empty() {
        return if may_be_empty {
            Ok(())
        } else {
            Err(format!("{field} is empty"))
        };
    }
    if value.len() > MAX_TEXT_LEN {
        return Err(format!("{field} is longer than {MAX_TEXT_LEN} bytes"));
    }
    if value.trim() != value || value.chars().any(char::is_control) {
        return Err(format!(
            "{field} '{}' has surrounding spaces or control characters",
            value.escape_debug()
        ));
    }
    Ok(())
}

/// Checks an e-mail address loosely: one `@` with text on both sides, no spaces or control
/// characters, at most [`MAX_EMAIL_LEN`] bytes.
pub fn check_email(value: &str) -> Result<(), String> {
    let shown = value.escape_debug();
    if value.len() > MAX_EMAIL_LEN {
        return Err(format!("user_email is longer than {MAX_EMAIL_LEN} bytes"));
    }
    let ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "user_email '{shown}' is not an e-mail address (name@domain)"
        ))
    }
}

/// Checks cluster details: the text rule for each text, and `nodes_ready` not above
/// `nodes_total` when both are given.
pub fn check_cluster(c: &ClusterDetails) -> Result<(), String> {
    check_text("distribution", &c.distribution, true)?;
    check_text("kubernetes_version", &c.kubernetes_version, true)?;
    check_text("agent_version", &c.agent_version, true)?;
    if let Some(p) = &c.cloud_provider {
        check_text("cloud_provider", p, false)?;
    }
    if let Some(r) = &c.region {
        check_text("region", r, false)?;
    }
    if let (Some(ready), Some(total)) = (c.nodes_ready, c.nodes_total) {
        if ready > total {
            return Err(format!(
                "nodes_ready ({ready}) is more than nodes_total ({total})"
            ));
        }
    }
    Ok(())
}

/// The text form of every tracked field of a report, in [`TRACKED_FIELDS`] order; an absent
/// value is the empty text.
pub fn field_values(status: InstanceStatus, app_version: &str, c: &ClusterDetails) -> [String; 10] {
    let opt = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
    [
        status.as_str().to_owned(),
        app_version.to_owned(),
        c.distribution.clone(),
        c.kubernetes_version.clone(),
        c.embedded_cluster.to_string(),
        opt(c.nodes_ready),
        opt(c.nodes_total),
        c.agent_version.clone(),
        c.cloud_provider.clone().unwrap_or_default(),
        c.region.clone().unwrap_or_default(),
    ]
}

/// Checks a field name and one of its values (`previous` or `new` of an event; empty: no
/// value).
pub fn check_event_value(field: &str, what: &str, value: &str) -> Result<(), String> {
    match field {
        "status" => {
            if value.is_empty() {
                return Err(format!("{what} is empty; a status event needs a status"));
            }
            if value != value.to_ascii_lowercase() {
                return Err(format!(
                    "{what} '{}' must be lowercase",
                    value.escape_debug()
                ));
            }
            value
                .parse::<InstanceStatus>()
                .map(|_| ())
                .map_err(|e| format!("{what}: {e}"))
        }
        "embedded_cluster" => match value {
            "true" | "false" => Ok(()),
            _ => Err(format!(
                "{what} is '{}'; embedded_cluster is true or false",
                value.escape_debug()
            )),
        },
        "nodes_ready" | "nodes_total" => {
            if value.is_empty() || value.parse::<u32>().is_ok() {
                Ok(())
            } else {
                Err(format!(
                    "{what} '{}' is not a whole number of nodes",
                    value.escape_debug()
                ))
            }
        }
        _ if TRACKED_FIELDS.contains(&field) => check_text(what, value, true),
        _ => Err(format!(
            "field '{}' is none of {}",
            field.escape_debug(),
            TRACKED_FIELDS.join(", ")
        )),
    }
}

/// Parses `gitops;airgap;…` (any order, each at most once; empty: none).
pub fn parse_features(s: &str) -> Result<LicenseFeatures, String> {
    let mut f = LicenseFeatures::default();
    if s.is_empty() {
        return Ok(f);
    }
    for name in s.split(';') {
        let slot = match name {
            "gitops" => &mut f.gitops,
            "airgap" => &mut f.airgap,
            "identity" => &mut f.identity,
            "snapshots" => &mut f.snapshots,
            other => {
                return Err(format!(
                    "features: '{}' is none of {}",
                    other.escape_debug(),
                    FEATURE_NAMES.join(", ")
                ))
            }
        };
        if *slot {
            return Err(format!("features: '{name}' appears twice"));
        }
        *slot = true;
    }
    Ok(f)
}

/// The features as the storage keeps them: 1 gitops, 2 airgap, 4 identity, 8 snapshots.
pub fn feature_bits(f: &LicenseFeatures) -> i64 {
    (f.gitops as i64)
        | (f.airgap as i64) << 1
        | (f.identity as i64) << 2
        | (f.snapshots as i64) << 3
}

pub fn features_from_bits(bits: i64) -> LicenseFeatures {
    LicenseFeatures {
        gitops: bits & 1 != 0,
        airgap: bits & 2 != 0,
        identity: bits & 4 != 0,
        snapshots: bits & 8 != 0,
    }
}

/// Parses `plan=N;plan=N` (each plan at most once; empty: none). The plans are checked
/// against the catalog with [`check_seat_plans`] when the catalog is known.
pub fn parse_seats(s: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut seats = BTreeMap::new();
    if s.is_empty() {
        return Ok(seats);
    }
    for part in s.split(';') {
        let Some((plan, n)) = part.split_once('=') else {
            return Err(format!(
                "seats: '{}' is not plan=N (e.g. basic=50;premium=10)",
                part.escape_debug()
            ));
        };
        if plan.is_empty() {
            return Err(format!("seats: '{}' names no plan", part.escape_debug()));
        }
        let n: u64 = n.parse().map_err(|_| {
            format!(
                "seats: '{}' for plan {plan} is not a whole number",
                n.escape_debug()
            )
        })?;
        if i64::try_from(n).is_err() {
            return Err(format!("seats: {n} for plan {plan} is too large"));
        }
        if seats.insert(plan.to_owned(), n).is_some() {
            return Err(format!("seats: plan '{plan}' appears twice"));
        }
    }
    Ok(seats)
}

/// Checks that every plan of `seats` is in the catalog.
pub fn check_seat_plans(
    seats: &BTreeMap<String, u64>,
    catalog: &PlanCatalog,
) -> Result<(), String> {
    match seats.keys().find(|p| catalog.index_of(p).is_none()) {
        None => Ok(()),
        Some(plan) => Err(format!(
            "seats: plan '{}' is not in the catalog ({})",
            plan.escape_debug(),
            catalog.describe()
        )),
    }
}

/// Seats as the storage keeps them: `plan=N;…` in plan id order.
pub fn seats_text(seats: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = seats.iter().map(|(p, n)| format!("{p}={n}")).collect();
    parts.join(";")
}

/// Parses [`seats_text`] back (stored values only).
pub fn seats_from_text(s: &str) -> Option<BTreeMap<String, u64>> {
    if s.is_empty() {
        return Some(BTreeMap::new());
    }
    s.split(';')
        .map(|p| {
            let (plan, n) = p.split_once('=')?;
            Some((plan.to_owned(), n.parse().ok()?))
        })
        .collect()
}

/// Parses an RFC 3339 time (any offset) into UTC, kept to the millisecond.
pub fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(value).map_err(|_| {
        format!(
            "{field} '{}' is not an RFC 3339 time (e.g. 2026-03-01T09:30:00Z)",
            value.escape_debug()
        )
    })?;
    Ok(truncate_ms(t.with_timezone(&Utc)))
}

/// `t` without its sub-millisecond part.
pub fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms).unwrap_or(t)
}

/// The storage's time text: `YYYY-MM-DDTHH:MM:SS.mmmZ` (fixed width: text order is time
/// order).
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_parse_in_any_order_and_round_trip_through_bits() {
        let f = parse_features("snapshots;gitops").unwrap();
        assert!(f.gitops && f.snapshots && !f.airgap && !f.identity);
        assert_eq!(features_from_bits(feature_bits(&f)), f);
        assert_eq!(parse_features("").unwrap(), LicenseFeatures::default());
        assert!(parse_features("gitops;gitops")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_features("sso").unwrap_err().contains("none of"));
        assert!(parse_features("gitops;").unwrap_err().contains("none of"));
    }

    #[test]
    fn seats_name_catalog_plans_once_with_whole_numbers() {
        let c = PlanCatalog::default();
        let s = parse_seats("premium=10;basic=50").unwrap();
        assert_eq!(seats_text(&s), "basic=50;premium=10");
        assert_eq!(seats_from_text(&seats_text(&s)).unwrap(), s);
        assert!(check_seat_plans(&s, &c).is_ok());
        let gold = parse_seats("gold=1").unwrap();
        assert!(check_seat_plans(&gold, &c).unwrap_err().contains("catalog"));
        assert!(parse_seats("basic=-1").unwrap_err().contains("whole"));
        assert!(parse_seats("basic").unwrap_err().contains("plan=N"));
        assert!(parse_seats("=3").unwrap_err().contains("names no plan"));
        assert!(parse_seats("basic=1;basic=2")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn event_values_follow_their_field() {
        assert!(check_event_value("status", "new", "ready").is_ok());
        assert!(check_event_value("status", "new", "Ready").is_err());
        assert!(check_event_value("status", "new", "").is_err());
        assert!(check_event_value("status", "new", "sleeping").is_err());
        assert!(check_event_value("nodes_ready", "new", "3").is_ok());
        assert!(check_event_value("nodes_ready", "new", "-1").is_err());
        assert!(check_event_value("embedded_cluster", "new", "yes").is_err());
        assert!(check_event_value("region", "previous", "").is_ok());
        assert!(check_event_value("colour", "new", "red")
            .unwrap_err()
            .contains("none of status"));
    }

    #[test]
    fn times_are_utc_milliseconds_in_fixed_width() {
        let t = parse_time("t", "2026-03-01T10:30:00.123456+01:00").unwrap();
        assert_eq!(time_text(&t), "2026-03-01T09:30:00.123Z");
        let t = parse_time("t", "2026-03-01T09:30:00Z").unwrap();
        assert_eq!(time_text(&t), "2026-03-01T09:30:00.000Z");
        assert!(parse_time("t", "2026-03-01 09:30").is_err());
    }

    #[test]
    fn e_mail_addresses_are_checked_loosely() {
        assert!(check_email("ana@example.com").is_ok());
        for bad in ["ana", "@x", "ana@", "a b@x", "a@b@c"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
