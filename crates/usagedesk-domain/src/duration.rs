//! Durations typed by people (`30d`, `72h`, `1h30m`, `2w`), always with an upper bound, so a
//! typo like `100000000y` is a clear error and never an overflow further on.

use chrono::Duration;

use crate::ParseError;

/// The units a duration may use, longest name first so `ms`-like prefixes cannot mislead.
const UNITS: [(&str, i64); 6] = [
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 7 * 86_400),
    ("y", 365 * 86_400),
];

/// Parses `text` as a positive duration of at most `max`: one or more `<number><unit>` parts
/// (units `s`, `m`, `h`, `d`, `w`, `y` = 365 days), optionally separated by spaces.
/// `what` names the value in the error ("--expires-in").
pub fn parse_duration(text: &str, max: Duration, what: &str) -> Result<Duration, ParseError> {
    let bad = || {
        ParseError(format!(
            "{what}: '{}' is not a duration; write a number and a unit, e.g. 30d, 72h or 1h30m \
             (units: s, m, h, d, w, y)",
            shorten(text)
        ))
    };
    let too_long = || {
        ParseError(format!(
            "{what}: '{}' is too long; at most {} is allowed",
            shorten(text),
            describe(max)
        ))
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut seconds: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        // More digits than any bounded duration needs: too long, not a parse failure.
        let n: i64 = rest[..digits].parse().map_err(|_| too_long())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        let factor = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, f)| *f)
            .ok_or_else(bad)?;
        rest = rest[letters..].trim_start();
        seconds = n
            .checked_mul(factor)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(too_long)?;
    }
    if seconds == 0 {
        return Err(ParseError(format!(
            "{what}: '{}' is zero; give a positive duration",
            shorten(text)
        )));
    }
    let d = Duration::try_seconds(seconds).ok_or_else(too_long)?;
    if d > max {
        return Err(too_long());
    }
    Ok(d)
}

/// `90 days`, `12 hours`, `30 minutes`, `45 seconds`: the largest whole unit.
pub fn describe(d: Duration) -> String {
    let s = d.num_seconds();
    let (n, unit) = if s % 86_400 == 0 {
        (s / 86_400, "day")
    } else if s % 3_600 == 0 {
        (s / 3_600, "hour")
    } else if s % 60 == 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// At most 40 characters of what the user typed, for an error message.
fn shorten(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: Duration = Duration::days(365);

    #[test]
    fn units_and_combinations_add_up() {
        for (text, seconds) in [
            ("30d", 30 * 86_400),
            ("72h", 72 * 3_600),
            ("1h30m", 5_400),
            ("1h 30m", 5_400),
            ("2w", 14 * 86_400),
            ("90s", 90),
            (" 1y ", 365 * 86_400),
        ] {
            assert_eq!(
                parse_duration(text, Duration::days(400), "x").unwrap(),
                Duration::seconds(seconds),
                "{text}"
            );
        }
    }

    #[test]
    fn huge_values_are_too_long_not_a_panic() {
        for text in [
            "100000000y",
            "9223372036854775807s",
            "99999999999999999999999d",
            "366d",
        ] {
            let e = parse_duration(text, YEAR, "--expires-in").unwrap_err().0;
            assert!(
                e.contains("too long") && e.contains("365 days"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn garbage_zero_and_negative_are_refused_with_the_form() {
        for text in ["", "d", "30", "30 days", "-1d", "1.5h", "30x", "1h30"] {
            let e = parse_duration(text, YEAR, "--expires-in").unwrap_err().0;
            assert!(e.contains("--expires-in"), "{text}: {e}");
            assert!(e.contains("e.g. 30d"), "{text}: {e}");
        }
        let e = parse_duration("0h", YEAR, "x").unwrap_err().0;
        assert!(e.contains("zero"), "{e}");
    }

    #[test]
    fn durations_are_described_in_their_largest_whole_unit() {
        assert_eq!(describe(Duration::days(365)), "365 days");
        assert_eq!(describe(Duration::hours(1)), "1 hour");
        assert_eq!(describe(Duration::seconds(90)), "90 seconds");
        assert_eq!(describe(Duration::minutes(90)), "90 minutes");
    }
}
