//! New York wall-clock times (LOBSTER's "seconds after midnight") to UTC nanoseconds, by the US
//! daylight-saving rule, so no time-zone database is needed.
//!
//! Since 2007 Eastern daylight time (UTC-4) runs from 02:00 on the second Sunday of March to
//! 02:00 on the first Sunday of November; from 1987 to 2006 from the first Sunday of April to the
//! last Sunday of October; otherwise Eastern standard time (UTC-5). On a change day the hour
//! that does not exist (spring) is read as daylight time and the hour that happens twice (autumn)
//! as its first, daylight, occurrence: the markets are closed then.

use crate::error::{LobzeroError, Result};

const NS: i64 = 1_000_000_000;
const HOUR: i64 = 3600;

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The day of the month of the `n`-th Sunday (1-based) of a month; `n = 0` for the last one.
fn sunday(year: i64, month: u32, n: i64) -> u32 {
    if n == 0 {
        let last = days_in_month(year, month);
        let w = weekday(days_from_civil(year, month, last));
        return last - w as u32;
    }
    let w = weekday(days_from_civil(year, month, 1));
    (1 + (7 - w) % 7 + 7 * (n - 1)) as u32
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A trading day `YYYY-MM-DD`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl std::str::FromStr for Date {
    type Err = LobzeroError;
    fn from_str(text: &str) -> Result<Self> {
        let bad = || LobzeroError::config(format!("date {text:?} is not a day YYYY-MM-DD"));
        let mut parts = text.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i64 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(bad());
        }
        if year < 1970 {
            return Err(LobzeroError::config(format!(
                "date {text:?} is before 1970: lobzero times are ns since 1970 UTC"
            )));
        }
        Ok(Self { year, month, day })
    }
}

impl Date {
    /// The UTC offset of New York, in hours west, at `seconds` after local midnight of this day.
    pub fn new_york_hours_behind_utc(&self, seconds: i64) -> i64 {
        let (start, end) = match self.year {
            2007.. => ((3, sunday(self.year, 3, 2)), (11, sunday(self.year, 11, 1))),
            1987..=2006 => ((4, sunday(self.year, 4, 1)), (10, sunday(self.year, 10, 0))),
            _ => return 5,
        };
        let here = (self.month, self.day);
        let daylight = if here == start {
            seconds >= 2 * HOUR
        } else if here == end {
            seconds < 2 * HOUR
        } else {
            here > start && here < end
        };
        if daylight {
            4
        } else {
            5
        }
    }

    /// UTC ns of `local_ns` nanoseconds after New York midnight of this day.
    pub fn new_york_to_utc_ns(&self, local_ns: i64) -> i64 {
        let midnight = days_from_civil(self.year, self.month, self.day) * 86_400 * NS;
        let behind = self.new_york_hours_behind_utc(local_ns.div_euclid(NS));
        midnight + local_ns + behind * HOUR * NS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn civil_days_and_sundays() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2012, 6, 21), 15_512);
        assert_eq!(sunday(2012, 3, 2), 11);
        assert_eq!(sunday(2012, 11, 1), 4);
        assert_eq!(sunday(2006, 4, 1), 2);
        assert_eq!(sunday(2006, 10, 0), 29);
    }

    #[test]
    fn the_goog_sample_day_is_edt() {
        // 2012-06-21 09:30 New York = 13:30 UTC = 1340285400 s
        let utc = date("2012-06-21").new_york_to_utc_ns(34_200 * NS);
        assert_eq!(utc, 1_340_285_400 * NS);
    }

    #[test]
    fn both_sides_of_the_changes() {
        // 2012: daylight time from Sunday 11 March to Sunday 4 November
        let noon = 12 * HOUR;
        assert_eq!(date("2012-03-09").new_york_hours_behind_utc(noon), 5);
        assert_eq!(date("2012-03-12").new_york_hours_behind_utc(noon), 4);
        assert_eq!(date("2012-03-11").new_york_hours_behind_utc(HOUR), 5);
        assert_eq!(date("2012-03-11").new_york_hours_behind_utc(3 * HOUR), 4);
        assert_eq!(date("2012-11-02").new_york_hours_behind_utc(noon), 4);
        assert_eq!(date("2012-11-05").new_york_hours_behind_utc(noon), 5);
        assert_eq!(date("2012-11-04").new_york_hours_behind_utc(HOUR), 4);
        assert_eq!(date("2012-11-04").new_york_hours_behind_utc(3 * HOUR), 5);
        // the old rule: 2006-04-03 daylight, 2006-03-20 standard (the new rule would say daylight)
        assert_eq!(date("2006-04-03").new_york_hours_behind_utc(noon), 4);
        assert_eq!(date("2006-03-20").new_york_hours_behind_utc(noon), 5);
        assert_eq!(date("2006-10-30").new_york_hours_behind_utc(noon), 5);
        // the open on the Fridays around a change: one hour apart in UTC
        let before = date("2012-03-09").new_york_to_utc_ns(34_200 * NS);
        let after = date("2012-03-16").new_york_to_utc_ns(34_200 * NS);
        assert_eq!(after - before, (7 * 86_400 - 3600) * NS);
    }

    #[test]
    fn bad_dates_are_refused() {
        for bad in [
            "2012-6-21",
            "2012-02-30",
            "2012-13-01",
            "12-06-21",
            "1969-12-31",
            "x",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }
}
