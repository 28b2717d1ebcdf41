use std::fmt;

use chrono::{DateTime, FixedOffset, Offset, SubsecRound, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, JobType};

/// A six-field cron expression (with seconds) evaluated in an IANA time zone.
///
/// Daylight-saving rules follow cron tradition. An expression with a single fixed second,
/// minute and hour (such as `0 30 1 * * *`) fires once a day: when that wall time is
/// skipped it fires at the first instant after the gap, and when it repeats only the first
/// pass counts. Any other expression fires at every real instant whose wall time matches,
/// so `0 */15 * * * *` keeps a 15-minute rhythm through both changes.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    /// Boxed: the parsed pattern is large, and `Schedule` is moved around a lot.
    cron: Box<Cron>,
    tz: Tz,
    expr: String,
    fixed_time: bool,
}

impl CronSchedule {
    /// Parses `expr`, a cron expression with six fields (second minute hour day-of-month
    /// month day-of-week), in the time zone `tz` (an IANA name; UTC when absent).
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<CronSchedule, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let expr = fields.join(" ");
        if !expr.starts_with('@') && fields.len() != 6 {
            return Err(format!(
                "cron expression \"{expr}\" has {} fields but needs 6 \
                 (second minute hour day-of-month month day-of-week)",
                fields.len()
            ));
        }
        let tz = match tz {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!("unknown time zone \"{name}\"; use an IANA name such as \"Europe/London\"")
            })?,
        };
        let cron = parser().parse(&expr).map_err(|e| {
            format!(
                "cron expression \"{expr}\" is invalid: {}",
                explain(&fields, &e)
            )
        })?;
        let fixed_time = cron.determine_job_type() == JobType::FixedTime;
        let schedule = CronSchedule {
            cron: Box::new(cron),
            tz,
            expr,
            fixed_time,
        };
        if schedule.next_after(DateTime::<Utc>::UNIX_EPOCH).is_none() {
            return Err(format!(
                "cron expression \"{}\" never matches a real date",
                schedule.expr
            ));
        }
        Ok(schedule)
    }

    /// The expression as written, with its whitespace folded.
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The time zone the expression is read in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first occurrence strictly after `t`, or `None` when there is none.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = t.trunc_subsecs(0);
        if self.fixed_time {
            return self.next_wall_time(t);
        }
        self.next_real_instant(t).or_else(|| self.next_wall_time(t))
    }

    /// Searches in local wall time, which gives the once-a-day rules for fixed-time jobs.
    fn next_wall_time(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = t.with_timezone(&self.tz);
        for _ in 0..8 {
            let found = self.cron.find_next_occurrence(&from, false).ok()?;
            if found > t {
                return Some(found.with_timezone(&Utc));
            }
            // A wall time that repeats is mapped to its first pass even when that has gone
            // by; for every-match jobs its second pass is the answer.
            let second_pass = self.tz.from_local_datetime(&found.naive_local()).latest()?;
            if !self.fixed_time && second_pass > t {
                return Some(second_pass.with_timezone(&Utc));
            }
            from = second_pass;
        }
        None
    }

    /// Searches one stretch of constant UTC offset at a time, so every real instant whose
    /// wall time matches is found, including both passes of a repeated hour.
    fn next_real_instant(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = t;
        let mut inclusive = false;
        for _ in 0..16 {
            let offset = self.offset_at(from);
            let found = self
                .cron
                .find_next_occurrence(&from.with_timezone(&offset), inclusive)
                .ok()?
                .with_timezone(&Utc);
            if self.offset_at(found) == offset {
                return Some(found);
            }
            from = self.offset_change(from, found, offset);
            inclusive = true;
        }
        None
    }

    fn offset_at(&self, t: DateTime<Utc>) -> FixedOffset {
        self.tz.offset_from_utc_datetime(&t.naive_utc()).fix()
    }

    /// The first whole second in `(lo, hi]` whose offset differs from `offset`, given that
    /// `lo` has it and `hi` does not.
    fn offset_change(
        &self,
        mut lo: DateTime<Utc>,
        mut hi: DateTime<Utc>,
        offset: FixedOffset,
    ) -> DateTime<Utc> {
        while (hi - lo).num_seconds() > 1 {
            let mid = lo + TimeDelta::seconds((hi - lo).num_seconds() / 2);
            if self.offset_at(mid) == offset {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .build()
}

const FIELD_NAMES: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
];

/// Names the field at fault, found by parsing each field alone, since the parser's own
/// messages do not say which one it was.
fn explain(fields: &[&str], error: &croner::errors::CronError) -> String {
    for (index, name) in FIELD_NAMES.iter().enumerate().take(fields.len()) {
        let alone: Vec<&str> = (0..fields.len())
            .map(|other| if other == index { fields[other] } else { "*" })
            .collect();
        if let Err(field_error) = parser().parse(&alone.join(" ")) {
            return format!(
                "{name} field \"{}\": {}",
                fields[index],
                describe(&field_error)
            );
        }
    }
    describe(error)
}

/// Croner's messages carry a type-like prefix and a final full stop; keep the substance.
fn describe(error: &croner::errors::CronError) -> String {
    use croner::errors::CronError;
    let text = match error {
        CronError::IllegalCharacters(_) => return "contains an illegal character".to_owned(),
        CronError::InvalidPattern(text) | CronError::ComponentError(text) => text.clone(),
        other => other.to_string(),
    };
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz == other.tz
    }
}

impl Eq for CronSchedule {}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Schedule;
    use super::super::test_util::{at, cron};
    use super::*;

    #[test]
    fn parse_rejects_five_fields() {
        let error = CronSchedule::parse("0 * * * *", None).expect_err("five fields");
        assert_eq!(
            error,
            "cron expression \"0 * * * *\" has 5 fields but needs 6 \
             (second minute hour day-of-month month day-of-week)"
        );
    }

    #[test]
    fn parse_names_the_bad_field() {
        let error = CronSchedule::parse("0 61 * * * *", None).expect_err("minute 61");
        assert_eq!(
            error,
            "cron expression \"0 61 * * * *\" is invalid: minute field \"61\": number out of bounds"
        );
        let error = CronSchedule::parse("0 0 */0 * * *", None).expect_err("zero step");
        assert!(error.contains("hour field \"*/0\""), "{error}");
        let error = CronSchedule::parse("0 0 0 * * fri-x", None).expect_err("bad weekday");
        assert!(error.contains("day-of-week field \"fri-x\""), "{error}");
    }

    #[test]
    fn parse_rejects_unknown_time_zone() {
        let error = CronSchedule::parse("0 0 * * * *", Some("Europe/Lndon")).expect_err("typo");
        assert_eq!(
            error,
            "unknown time zone \"Europe/Lndon\"; use an IANA name such as \"Europe/London\""
        );
    }

    #[test]
    fn parse_rejects_an_expression_that_never_fires() {
        let error = CronSchedule::parse("0 0 0 30 2 *", None).expect_err("30 February");
        assert_eq!(
            error,
            "cron expression \"0 0 0 30 2 *\" never matches a real date"
        );
    }

    fn occurrences(schedule: &Schedule, from: &str, until: &str) -> Vec<DateTime<Utc>> {
        let until = at(until);
        std::iter::successors(Some(schedule.next_after(at(from))), |t| {
            Some(schedule.next_after(*t))
        })
        .take_while(|t| *t < until)
        .collect()
    }

    #[test]
    fn fixed_time_fires_once_in_the_repeated_hour() {
        let daily = cron("0 30 1 * * *", Some("Europe/London"));
        let fires = occurrences(&daily, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z");
        // 01:30 BST, then 01:30 GMT: the second pass of 01:30 on the 25th is not a firing.
        let expected = [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ];
        assert_eq!(fires, expected.map(at));
        // Starting inside the second pass must still move forward.
        assert_eq!(
            daily.next_after(at("2026-10-25T01:10:00Z")),
            at("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn every_match_cron_keeps_real_time_rhythm_across_both_changes() {
        let quarterly = cron("0 */15 * * * *", Some("Europe/London"));
        for (from, until) in [
            ("2026-03-28T22:00:00Z", "2026-03-29T04:00:00Z"),
            ("2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z"),
        ] {
            let fires = occurrences(&quarterly, from, until);
            assert_eq!(fires.len(), 6 * 4 - 1, "{from}");
            assert!(
                fires
                    .windows(2)
                    .all(|w| w[1] - w[0] == TimeDelta::minutes(15)),
                "{from}"
            );
        }
        // Inside the second pass of the repeated hour, the next quarter is 15 real minutes on.
        assert_eq!(
            quarterly.next_after(at("2026-10-25T01:05:00Z")),
            at("2026-10-25T01:15:00Z")
        );
    }
}
