//! Dates as feeds write them: RFC 822 and its many deviations, RFC 3339 and
//! the ISO 8601 forms around it, W3C-DTF's partial dates. A date that cannot
//! be read is `None`, never an error: the item stays.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Longer text is no date anyone wrote.
const MAX_LEN: usize = 64;

/// Reads a date in any of the forms feeds use; the zone defaults to UTC.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_LEN {
        return None;
    }
    let parsed = if text.as_bytes()[0].is_ascii_digit() && looks_iso(text) {
        iso8601(text)
    } else {
        None
    };
    parsed
        .or_else(|| rfc822(text))
        .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
}

/// `YYYY-…` or `YYYYMMDD…`: four digits, then a dash, a `T` or more digits.
fn looks_iso(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 4
        && b[..4].iter().all(u8::is_ascii_digit)
        && b.get(4)
            .is_none_or(|c| matches!(c, b'-' | b'T' | b't') || c.is_ascii_digit())
}

/// RFC 3339, ISO 8601 extended and basic forms, and W3C-DTF's partial
/// dates (`2025`, `2025-02`, `2025-02-03`, `2025-02-03T09:00Z`).
fn iso8601(text: &str) -> Option<DateTime<Utc>> {
    let (date_part, rest) = split_date(text)?;
    let date = iso_date(date_part)?;
    let rest = rest.trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    let zone_at = rest
        .find(|c: char| matches!(c, 'Z' | 'z' | '+' | '-') || c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let time = clock(time.trim())?;
    let offset = zone_offset(zone.trim())?;
    local_to_utc(date.and_time(time), offset)
}

/// The date at the start of `text`, and what follows it.
fn split_date(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    Some(text.split_at(end))
}

fn iso_date(d: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = d.split('-').collect();
    let num = |s: &str| s.parse::<u32>().ok();
    match parts.as_slice() {
        [y] if y.len() == 8 => {
            NaiveDate::from_ymd_opt(y[..4].parse().ok()?, num(&y[4..6])?, num(&y[6..8])?)
        }
        [y] if y.len() == 4 => NaiveDate::from_ymd_opt(y.parse().ok()?, 1, 1),
        [y, m] if y.len() == 4 => NaiveDate::from_ymd_opt(y.parse().ok()?, num(m)?, 1),
        [y, m, d] if y.len() == 4 => NaiveDate::from_ymd_opt(y.parse().ok()?, num(m)?, num(d)?),
        _ => None,
    }
}

/// `HH:MM[:SS[.fff]]`, or `HHMM[SS]` in the basic form.
fn clock(t: &str) -> Option<NaiveTime> {
    if t.is_empty() {
        return Some(NaiveTime::MIN);
    }
    let (whole, fraction) = match t.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    let parts: Vec<u32> = if whole.contains(':') {
        whole
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?
    } else if whole.len() == 4 || whole.len() == 6 {
        (0..whole.len() / 2)
            .map(|i| whole.get(i * 2..i * 2 + 2)?.parse().ok())
            .collect::<Option<_>>()?
    } else {
        return None;
    };
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(9).collect();
        let value: u32 = digits.parse().ok()?;
        value * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
    };
    match parts.as_slice() {
        [h, m] => NaiveTime::from_hms_opt(*h, *m, 0),
        // A leap second is read as the last second before it.
        [h, m, s] => NaiveTime::from_hms_nano_opt(*h, *m, (*s).min(59), nanos),
        _ => None,
    }
}

/// `Z`, `±HH:MM`, `±HHMM`, `±HH`, or a zone name; none means UTC.
fn zone_offset(zone: &str) -> Option<i32> {
    if zone.is_empty() {
        return Some(0);
    }
    let bytes = zone.as_bytes();
    if matches!(bytes[0], b'+' | b'-') {
        let sign = if bytes[0] == b'-' { -1 } else { 1 };
        let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i32>().ok()?, 0),
            3 | 4 => {
                let split = digits.len() - 2;
                (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
            }
            _ => return None,
        };
        if h > 23 || m > 59 {
            return None;
        }
        return Some(sign * (h * 3600 + m * 60));
    }
    named_zone(zone)
}

fn named_zone(zone: &str) -> Option<i32> {
    let hours = match zone.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" => 0,
        "BST" | "CET" | "WEST" => 1,
        "CEST" | "EET" => 2,
        "EEST" | "MSK" => 3,
        "IST" => return Some(5 * 3600 + 1800),
        "JST" | "KST" => 9,
        "AEST" => 10,
        "AEDT" => 11,
        "NZST" => 12,
        "EST" | "CDT" => -5,
        "EDT" => -4,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" | "AKDT" => -8,
        "AKST" => -9,
        "HST" => -10,
        "AST" => -4,
        "ADT" => -3,
        "NST" => return Some(-(3 * 3600 + 1800)),
        _ => return None,
    };
    Some(hours * 3600)
}

fn local_to_utc(local: NaiveDateTime, offset: i32) -> Option<DateTime<Utc>> {
    let zone = FixedOffset::east_opt(offset)?;
    zone.from_local_datetime(&local)
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// RFC 822 and what feeds make of it: with or without the day name and its
/// comma, two- or four-digit years, month before or after the day (as in
/// `asctime`), seconds optional, zones by name or number, or none.
fn rfc822(text: &str) -> Option<DateTime<Utc>> {
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time = None;
    let mut offset = None;
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
    {
        let first = token.as_bytes()[0];
        if token.contains(':') && first.is_ascii_digit() && time.is_none() {
            let (clock_part, zone) = split_glued_zone(token);
            time = Some(clock(clock_part)?);
            if !zone.is_empty() {
                offset = Some(zone_offset(zone)?);
            }
        } else if first.is_ascii_digit() {
            let n: i32 = token.trim_end_matches('.').parse().ok()?;
            if token.len() >= 3 || day.is_some() {
                year = Some(full_year(n, token.len()));
            } else {
                day = Some(u32::try_from(n).ok()?);
            }
        } else if matches!(first, b'+' | b'-') && time.is_some() {
            offset = Some(zone_offset(token)?);
        } else if let Some(m) = month_number(token) {
            month = Some(m);
        } else if is_day_name(token) {
            continue;
        } else if time.is_some() && offset.is_none() {
            offset = Some(named_zone(token.trim_matches(['(', ')']))?);
        } else if token.starts_with('(') {
            continue;
        } else {
            return None;
        }
    }
    let date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    local_to_utc(
        date.and_time(time.unwrap_or(NaiveTime::MIN)),
        offset.unwrap_or(0),
    )
}

/// `09:00:00+0100` or `09:00:00Z` split into the clock and the zone.
fn split_glued_zone(token: &str) -> (&str, &str) {
    match token.find(|c: char| matches!(c, '+' | '-') || c.is_ascii_alphabetic()) {
        Some(at) => token.split_at(at),
        None => (token, ""),
    }
}

/// RFC 2822's reading of short years: 00–49 are 2000–2049, 50–99 are
/// 1950–1999, and three digits count from 1900.
fn full_year(n: i32, digits: usize) -> i32 {
    match digits {
        1 | 2 if n < 50 => 2000 + n,
        1 | 2 => 1900 + n,
        3 => 1900 + n,
        _ => n,
    }
}

fn month_number(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = token.trim_end_matches('.').to_ascii_lowercase();
    let head = lower.get(..3)?;
    let n = MONTHS.iter().position(|m| *m == head)?;
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][n];
    (lower.len() == 3 || full.starts_with(&lower) || lower == "sept")
        .then(|| u32::try_from(n + 1).ok())
        .flatten()
}

fn is_day_name(token: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let lower = token.trim_end_matches('.').to_ascii_lowercase();
    lower.get(..3).is_some_and(|head| DAYS.contains(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<String> {
        parse(text).map(crate::event::format_time)
    }

    #[test]
    fn rfc822_with_every_common_deviation() {
        let want = Some("2025-02-04T09:00:00Z".to_string());
        for text in [
            "Tue, 04 Feb 2025 09:00:00 +0000",
            "Tue, 04 Feb 2025 09:00:00 GMT",
            "Tue, 04 Feb 2025 09:00:00 UT",
            "Tue, 04 Feb 2025 09:00:00 Z",
            "Tue, 4 Feb 2025 09:00:00 UTC",
            "04 Feb 2025 09:00:00 +0000",
            "Tue 04 Feb 2025 09:00:00 GMT",
            "Tue, 04 Feb 25 09:00:00 GMT",
            "Tue, 04 Feb 2025 09:00 GMT",
            "Tue, 04 Feb 2025 10:00:00 +0100",
            "Tue, 04 Feb 2025 10:00:00 +01:00",
            "Tue, 04 Feb 2025 04:00:00 EST",
            "Tue, 04 Feb 2025 01:00:00 PST",
            "Tuesday, 04 February 2025 09:00:00 GMT",
            "Tue, 04 Feb 2025 09:00:00",
            "Tue Feb  4 09:00:00 2025",
            "Tue, 04 Feb 2025 09:00:00 +0000 (UTC)",
        ] {
            assert_eq!(at(text), want, "{text}");
        }
    }

    #[test]
    fn two_digit_years_follow_rfc_2822() {
        assert_eq!(
            at("01 Jan 99 00:00 GMT").as_deref(),
            Some("1999-01-01T00:00:00Z")
        );
        assert_eq!(
            at("01 Jan 04 00:00 GMT").as_deref(),
            Some("2004-01-01T00:00:00Z")
        );
    }

    #[test]
    fn iso8601_and_w3cdtf() {
        for (text, want) in [
            ("2025-02-04T09:00:00Z", "2025-02-04T09:00:00Z"),
            ("2025-02-04T09:00:00.123+00:00", "2025-02-04T09:00:00Z"),
            ("2025-02-04T10:00:00+01:00", "2025-02-04T09:00:00Z"),
            ("2025-02-04T10:00:00+0100", "2025-02-04T09:00:00Z"),
            ("2025-02-04T10:00+01", "2025-02-04T09:00:00Z"),
            ("2025-02-04 09:00:00", "2025-02-04T09:00:00Z"),
            ("2025-02-04t09:00:00z", "2025-02-04T09:00:00Z"),
            ("20250204T090000Z", "2025-02-04T09:00:00Z"),
            ("2025-02-04", "2025-02-04T00:00:00Z"),
            ("2025-02", "2025-02-01T00:00:00Z"),
            ("2025", "2025-01-01T00:00:00Z"),
            ("2025-02-04T09:00:60Z", "2025-02-04T09:00:59Z"),
        ] {
            assert_eq!(at(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn nonsense_is_none() {
        for text in [
            "",
            "not a date",
            "2025-13-45",
            "Tue, 31 Feb 2025 25:61:00 +0000",
            "Tue, 04 Feb 2025 09:00:00 +9999",
            "Tue, 04 Feb 2025 09:00:00 XYZ",
            "2025-02-03T17:33:00+99:99",
            "10000-01-01T00:00:00Z",
            "0000-00-00T00:00:00Z",
            &"9".repeat(10_000),
        ] {
            assert_eq!(at(text), None, "{text}");
        }
    }
}
