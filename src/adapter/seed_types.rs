//! A seed column's type, inferred from its CSV text as dbt-core infers it.
//!
//! dbt reads a seed into an agate table whose type tester tries, in order, integer,
//! number, date (`%Y-%m-%d`), datetime (`%Y-%m-%d %H:%M:%S`), ISO-8601 datetime,
//! boolean (`true`/`false`) and text, and keeps the first type every non-null value
//! of the column passes; `''` and `null` (any case, trimmed) count as null; a
//! column with no value at all is an integer. The adapter then names the type: a
//! number is `integer` unless some value has a fractional digit once trailing zeros
//! are dropped (`1.0` is an integer, `1.50` a float). Every adapter of sluice uses
//! this module, so a seed gets the types dbt gives it on every warehouse.
//!
//! Where dbt picks a type its own loader then cannot read (agate accepts `5%`,
//! `$1.00` and `1,000` as numbers, an integer wider than 32 bits as `integer`,
//! `' true '` as a boolean), dbt-duckdb's seed fails; sluice reads such a column as
//! text, a wide integer as `bigint`, and trims what it casts.

use std::sync::LazyLock;

use regex::Regex;

use super::GenericType;

/// A plain decimal or scientific number: what agate's number type and every
/// warehouse's cast both read.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$")
        .expect("static regex is valid")
});

/// `%Y-%m-%d` as Python's strptime reads it (one- or two-digit month and day).
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$").expect("static regex is valid")
});

/// `%Y-%m-%d %H:%M:%S` as Python's strptime reads it.
static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}$")
        .expect("static regex is valid")
});

/// ISO 8601 with the `T` designator, as isodate parses it and warehouses cast it:
/// minutes at least, optional seconds and fraction, an optional `Z` or offset.
static ISO_DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$",
    )
    .expect("static regex is valid")
});

/// Whether a CSV cell counts as null for inference (agate's null values, as dbt
/// configures them). The CSV reader already turned empty cells into `None`.
pub fn is_null_word(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("null")
}

/// The candidates in agate's order; the first every value passes wins.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Candidate {
    Number,
    Date,
    DateTime,
    IsoDateTime,
    Boolean,
}

const CANDIDATES: [Candidate; 5] = [
    Candidate::Number,
    Candidate::Date,
    Candidate::DateTime,
    Candidate::IsoDateTime,
    Candidate::Boolean,
];

/// A number's value as an integer, or None when it has a fractional digit (or
/// does not fit 64 bits).
fn integral(value: &str) -> Option<Result<i64, ()>> {
    let caps = NUMBER.captures(value)?;
    let sign = caps.get(1).map_or("", |m| m.as_str());
    let whole = caps.get(2).map_or("", |m| m.as_str());
    let fraction = caps.get(3).map_or("", |m| m.as_str());
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let exponent: i64 = match caps.get(4) {
        Some(e) => e.as_str().parse().ok()?,
        None => 0,
    };
    // The digits and the power of ten that scales them, trailing zeros dropped
    // (Python's Decimal.normalize()).
    let mut digits: String = format!("{whole}{fraction}");
    let mut power = exponent - fraction.len() as i64;
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
        power += 1;
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Ok(0));
    }
    if power < 0 {
        return None;
    }
    // Past 19 digits nothing fits 64 bits; a float holds it.
    if digits.len() as i64 + power > 19 {
        return Some(Err(()));
    }
    let text = format!("{sign}{digits}{}", "0".repeat(power as usize));
    Some(text.parse::<i64>().map_err(|_| ()))
}

fn real_date(value: &str) -> bool {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
}

fn passes(candidate: Candidate, value: &str) -> bool {
    match candidate {
        Candidate::Number => NUMBER.captures(value).is_some_and(|c| {
            c.get(2).is_some_and(|m| !m.is_empty()) || c.get(3).is_some_and(|m| !m.is_empty())
        }),
        Candidate::Date => DATE.is_match(value) && real_date(value),
        Candidate::DateTime => {
            DATE_TIME.is_match(value)
                && chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").is_ok()
        }
        Candidate::IsoDateTime => ISO_DATE_TIME.is_match(value) && real_date(&value[..10]),
        Candidate::Boolean => {
            let v = value.replace(',', "");
            v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
        }
    }
}

/// The type dbt gives a seed column with these values (`None`: an empty cell).
pub fn infer<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> GenericType {
    let present = || {
        values
            .clone()
            .flatten()
            .map(str::trim)
            .filter(|v| !is_null_word(v))
    };
    if present().next().is_none() {
        return GenericType::Int;
    }
    let Some(found) = CANDIDATES
        .into_iter()
        .find(|c| present().all(|v| passes(*c, v)))
    else {
        return GenericType::String;
    };
    match found {
        Candidate::Number => {
            let mut wide = false;
            for v in present() {
                match integral(v) {
                    Some(Ok(n)) => wide |= i32::try_from(n).is_err(),
                    Some(Err(())) | None => return GenericType::Float,
                }
            }
            if wide {
                GenericType::BigInt
            } else {
                GenericType::Int
            }
        }
        Candidate::Date => GenericType::Date,
        Candidate::DateTime | Candidate::IsoDateTime => GenericType::Timestamp,
        Candidate::Boolean => GenericType::Boolean,
    }
}

/// A non-null cell as the warehouse should cast it to an inferred `kind`: null
/// words are null, integers are written as plain digits (`1.0`, `1e3` cast
/// everywhere), and surrounding spaces go. Text keeps the cell as written.
pub fn cell<'a>(kind: GenericType, value: &'a str) -> Option<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow;
    if kind == GenericType::String {
        return Some(Cow::Borrowed(value));
    }
    if is_null_word(value) {
        return None;
    }
    let v = value.trim();
    match kind {
        GenericType::Int | GenericType::BigInt => match integral(v) {
            Some(Ok(n)) => Some(Cow::Owned(n.to_string())),
            _ => Some(Cow::Borrowed(v)),
        },
        GenericType::Boolean => Some(Cow::Owned(v.replace(',', "").to_ascii_lowercase())),
        _ => Some(Cow::Borrowed(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(values: &[&str]) -> GenericType {
        infer(values.iter().map(|v| Some(*v)))
    }

    #[test]
    fn numbers_are_integers_unless_a_fractional_digit_remains() {
        assert_eq!(kind(&["1", "-2", "007"]), GenericType::Int);
        assert_eq!(kind(&["1.0", "2.00", "1e3"]), GenericType::Int);
        assert_eq!(kind(&["1.0", "2.5"]), GenericType::Float);
        assert_eq!(kind(&["1e3", "2.5E-2"]), GenericType::Float);
        assert_eq!(kind(&["100e-2"]), GenericType::Int);
        assert_eq!(kind(&["1", "3000000000"]), GenericType::BigInt);
        assert_eq!(kind(&["12345678901234567890"]), GenericType::Float);
        assert_eq!(kind(&[".5", "5."]), GenericType::Float);
        // agate reads these as numbers; no warehouse casts them.
        assert_eq!(kind(&["5%"]), GenericType::String);
        assert_eq!(kind(&["1,000"]), GenericType::String);
        assert_eq!(kind(&["$1.00"]), GenericType::String);
    }

    #[test]
    fn dates_and_datetimes_follow_pythons_formats() {
        assert_eq!(kind(&["2024-01-31", "2024-2-9"]), GenericType::Date);
        assert_eq!(kind(&["2024-02-30"]), GenericType::String);
        assert_eq!(kind(&["2024-01-01 10:00:00"]), GenericType::Timestamp);
        assert_eq!(kind(&["2024-01-01T10:00:00Z"]), GenericType::Timestamp);
        assert_eq!(
            kind(&["2024-01-01T10:00:00.5+02:00"]),
            GenericType::Timestamp
        );
        // Microseconds match neither `%H:%M:%S` nor ISO (no `T`).
        assert_eq!(kind(&["2024-01-01 00:00:00.000000"]), GenericType::String);
        assert_eq!(kind(&["2024-01-01 10:00"]), GenericType::String);
        // One tester must pass every value: dates with datetimes are text.
        assert_eq!(
            kind(&["2024-01-01", "2024-01-01 10:00:00"]),
            GenericType::String
        );
        assert_eq!(
            kind(&["2024-01-01 10:00:00", "2024-01-01T10:00:00"]),
            GenericType::String
        );
    }

    #[test]
    fn booleans_nulls_and_empty_columns() {
        assert_eq!(kind(&["true", "False"]), GenericType::Boolean);
        assert_eq!(kind(&["yes", "no"]), GenericType::String);
        assert_eq!(kind(&["1", "null", "NULL"]), GenericType::Int);
        assert_eq!(infer([None, None].into_iter()), GenericType::Int);
        assert_eq!(kind(&["null"]), GenericType::Int);
        assert_eq!(kind(&["1", "x"]), GenericType::String);
    }

    #[test]
    fn cells_are_written_so_every_warehouse_casts_them() {
        assert_eq!(cell(GenericType::Int, " 1.0 ").as_deref(), Some("1"));
        assert_eq!(cell(GenericType::Int, "1e3").as_deref(), Some("1000"));
        assert_eq!(cell(GenericType::Int, "null"), None);
        assert_eq!(
            cell(GenericType::Boolean, " True ").as_deref(),
            Some("true")
        );
        assert_eq!(
            cell(GenericType::String, " null ").as_deref(),
            Some(" null ")
        );
    }
}
