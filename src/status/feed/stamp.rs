//! The stamps of update HTML: a month, a day, a time, a zone, and seldom a year.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// Reads an update stamp: `Feb 8, 03:55 UTC`, `Jan 1, 09:09 PST`, optionally with a year
/// (`Dec 29, 2013 12:20 PST`) or a 12-hour clock (`3:05 PM`). Without a year, the year is the
/// one that puts the stamp closest to `reference` (the entry's own date), so a December update
/// of an incident published in January lands in the previous year. Unknown time zones give
/// `None` rather than a guess.
pub fn parse_stamp(stamp: &str, reference: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let words: Vec<&str> =
        stamp.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty() && *w != "-").collect();
    let mut month = None;
    let mut day = None;
    let mut year = None;
    let mut time = None;
    let mut pm = None;
    let mut zone = None;
    for word in &words {
        if month.is_none()
            && let Some(m) = month_number(word)
        {
            month = Some(m);
        } else if let Some((h, m)) = word.split_once(':') {
            // `09:09`, or `3:05PM` with the meridiem attached.
            let lower = m.to_ascii_lowercase();
            let (m, meridiem) = match (lower.strip_suffix("pm"), lower.strip_suffix("am")) {
                (Some(m), _) => (m.to_owned(), Some(true)),
                (_, Some(m)) => (m.to_owned(), Some(false)),
                _ => (lower.clone(), None),
            };
            time = Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?));
            pm = pm.or(meridiem);
        } else if word.eq_ignore_ascii_case("am") || word.eq_ignore_ascii_case("pm") {
            pm = Some(word.eq_ignore_ascii_case("pm"));
        } else if word.starts_with(['+', '-']) {
            // A numeric offset (`+0530`); `u32::from_str` would take `+0530` for a number.
            zone = Some(zone_offset(word)?);
        } else if let Ok(n) = word.parse::<u32>() {
            if n >= 1000 {
                year = Some(i32::try_from(n).ok()?);
            } else if day.is_none() {
                day = Some(n);
            }
        } else if time.is_some() {
            zone = Some(zone_offset(word)?);
        }
    }
    let (month, day, (mut hour, minute)) = (month?, day?, time?);
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let offset = FixedOffset::east_opt(zone.unwrap_or(0))?;
    let naive_time = NaiveTime::from_hms_opt(hour, minute, 0)?;
    let at_year = |y: i32| -> Option<DateTime<Utc>> {
        let date = NaiveDate::from_ymd_opt(y, month, day)?;
        offset.from_local_datetime(&date.and_time(naive_time)).single().map(|t| t.with_timezone(&Utc))
    };
    if let Some(y) = year {
        return at_year(y);
    }
    let reference = reference?;
    // The candidate years around the reference; the closest wins.
    let y = reference.year();
    [y - 1, y, y + 1].into_iter().filter_map(at_year).min_by_key(|t| (*t - reference).abs())
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let lower = word.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    let n = MONTHS.iter().position(|m| *m == prefix)?;
    // "Feb", "February", "Sept" are months; "Febxyz" is not.
    const FULL: [&str; 12] = [
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
    ];
    (FULL[n].starts_with(&lower) || lower == "sept").then_some(n as u32 + 1)
}

/// Offset east of UTC in seconds for the zone abbreviations Statuspage pages use, and for
/// numeric offsets (`+0100`, `-08:00`).
fn zone_offset(word: &str) -> Option<i32> {
    const H: i32 = 3600;
    let upper = word.to_ascii_uppercase();
    if let Some(sign) = upper.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = upper[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits[2..].parse().ok()?;
        let total = hours * H + minutes * 60;
        return Some(if sign == '-' { -total } else { total });
    }
    let offset = match upper.as_str() {
        "UTC" | "GMT" | "Z" | "WET" => 0,
        // IST (India or Ireland) is ambiguous and left unread.
        "BST" | "CET" | "WEST" | "WAT" => H,
        "CEST" | "EET" | "SAST" | "CAT" => 2 * H,
        "EEST" | "MSK" | "EAT" => 3 * H,
        "GST" => 4 * H,
        "PKT" => 5 * H,
        "ICT" | "WIB" => 7 * H,
        "SGT" | "HKT" | "AWST" | "PHT" => 8 * H,
        "JST" | "KST" => 9 * H,
        "ACST" => 9 * H + 30 * 60,
        "AEST" => 10 * H,
        "ACDT" => 10 * H + 30 * 60,
        "AEDT" => 11 * H,
        "NZST" => 12 * H,
        "NZDT" => 13 * H,
        "BRT" | "ART" => -3 * H,
        "NST" => -(3 * H + 30 * 60),
        "AST" | "EDT" => -4 * H,
        "EST" | "CDT" => -5 * H,
        // CST is read as US Central, as on the US-based pages that use it.
        "CST" | "MDT" => -6 * H,
        "MST" | "PDT" => -7 * H,
        "PST" | "AKDT" => -8 * H,
        "AKST" | "HDT" => -9 * H,
        "HST" => -10 * H,
        _ => return None,
    };
    Some(offset)
}
