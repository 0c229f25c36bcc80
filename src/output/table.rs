//! Result rows as an aligned text table. [`plain`] keeps every value exactly as the
//! warehouse wrote it (unit-test and contract diffs compare values); [`human`] is
//! for people reading `show` and `metrics query`: numbers right-aligned, with
//! thousands separators and as many decimals as the column needs
//! (`973415.300000` → `973,415.30`).

use crate::adapter::Rows;

/// The most decimals a human table shows; more is noise in a preview.
const MAX_DECIMALS: usize = 6;

/// Rows as a table, values verbatim.
pub fn plain(rows: &Rows) -> String {
    let cells: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    render(&rows.columns, &cells, &vec![false; rows.columns.len()])
}

/// Rows as a table for people. Numeric columns are right-aligned and their
/// fractions shown to the column's needs; whole numbers get thousands separators
/// only in the columns `group_integers` names (metric values), as dbt's `show`
/// leaves integer columns (ids, years) as they are.
pub fn human(rows: &Rows, group_integers: &dyn Fn(&str) -> bool) -> String {
    let width = rows.columns.len();
    let mut numeric = vec![false; width];
    let mut cells: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    for (i, column) in rows.columns.iter().enumerate() {
        let values: Vec<&str> = rows
            .rows
            .iter()
            .filter_map(|r| r.get(i).and_then(|v| v.as_deref()))
            .collect();
        let Some(style) = NumberColumn::of(&values) else {
            continue;
        };
        numeric[i] = true;
        if style.decimals == 0 && !style.has_point && !group_integers(column) {
            continue;
        }
        for (r, row) in rows.rows.iter().enumerate() {
            if let Some(Some(v)) = row.get(i) {
                cells[r][i] = format_number(v, style.decimals);
            }
        }
    }
    render(&rows.columns, &cells, &numeric)
}

fn cell(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "NULL".to_owned())
}

fn render(columns: &[String], cells: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in cells {
        for (i, v) in r.iter().enumerate() {
            widths[i] = widths[i].max(v.chars().count());
        }
    }
    let line = |values: &[String]| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .zip(right)
            .map(|((v, w), right)| {
                if *right {
                    format!("{v:>w$}", w = *w)
                } else {
                    format!("{v:<w$}", w = *w)
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(columns);
    out.push_str(&format!(
        "|{}|\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in cells {
        out.push_str(&line(r));
    }
    out
}

/// How a column of plain decimal numbers is shown.
struct NumberColumn {
    decimals: usize,
    /// Some value is written with a decimal point (a DECIMAL or float column).
    has_point: bool,
}

impl NumberColumn {
    /// `None` unless every value is a plain decimal number (`-12`, `3.50`) and there
    /// is at least one; exponents, `inf` and text leave the column as it is.
    fn of(values: &[&str]) -> Option<NumberColumn> {
        if values.is_empty() {
            return None;
        }
        let mut scale = 0;
        let mut needed = 0;
        let mut has_point = false;
        for v in values {
            let (_, int, frac) = split(v)?;
            if int.is_empty() {
                return None;
            }
            has_point |= v.contains('.');
            scale = scale.max(frac.len());
            let rounded = round(v, MAX_DECIMALS.min(frac.len()));
            let (_, _, frac) = split(&rounded)?;
            needed = needed.max(frac.trim_end_matches('0').len());
        }
        // A fraction shows at least cents (`973,415.30`, not `973,415.3`), unless the
        // column's own scale is finer than that; a whole-valued column shows none.
        let decimals = if needed == 0 {
            0
        } else {
            needed.max(scale.min(2))
        };
        Some(NumberColumn {
            decimals,
            has_point,
        })
    }
}

/// A plain decimal number's sign, integer digits and fraction digits.
fn split(v: &str) -> Option<(bool, &str, &str)> {
    let (negative, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (plain(int) && plain(frac)).then_some((negative, int, frac))
}

/// `v` rounded half away from zero to `decimals` places, exactly (on the digits,
/// not through a float, so a DECIMAL(38, 2) keeps every digit).
fn round(v: &str, decimals: usize) -> String {
    let Some((negative, int, frac)) = split(v) else {
        return v.to_owned();
    };
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let keep = int.len() + decimals.min(frac.len());
    let round_up = digits.get(keep).is_some_and(|d| *d >= 5);
    digits.truncate(keep);
    digits.extend(std::iter::repeat_n(0, decimals.saturating_sub(frac.len())));
    let mut int_len = int.len();
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                int_len += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let (i, f) = text.split_at(int_len);
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    // -0.00 is 0.00 to a reader.
    let sign = if negative && text.bytes().any(|b| b != b'0') {
        "-"
    } else {
        ""
    };
    if f.is_empty() {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    }
}

/// `v` with `decimals` places and a comma between each group of three digits.
fn format_number(v: &str, decimals: usize) -> String {
    let rounded = round(v, decimals);
    let (sign, rest) = match rounded.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", rounded.as_str()),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (n, c) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], values: &[&[Option<&str>]]) -> Rows {
        Rows {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: values
                .iter()
                .map(|r| r.iter().map(|v| v.map(str::to_owned)).collect())
                .collect(),
        }
    }

    #[test]
    fn rounds_on_the_digits() {
        assert_eq!(round("973415.300000", 2), "973415.30");
        assert_eq!(round("9.995", 2), "10.00");
        assert_eq!(round("-0.004", 2), "0.00");
        assert_eq!(round("-1.5", 0), "-2");
        assert_eq!(round("12", 2), "12.00");
        assert_eq!(
            round("12345678901234567890123456.125", 2),
            "12345678901234567890123456.13"
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(format_number("973415.300000", 2), "973,415.30");
        assert_eq!(format_number("-1234567", 0), "-1,234,567");
        assert_eq!(format_number("999.999", 2), "1,000.00");
        assert_eq!(format_number("12", 0), "12");
    }

    #[test]
    fn decimals_follow_the_column() {
        let r = rows(
            &["id", "amount", "rate", "whole", "label", "tiny"],
            &[
                &[
                    Some("10234"),
                    Some("973415.300000"),
                    Some("0.3333333333"),
                    Some("12.000"),
                    Some("a"),
                    Some("0.5"),
                ],
                &[
                    Some("7"),
                    Some("12.450000"),
                    Some("1"),
                    Some("3.000"),
                    None,
                    Some("1e-05"),
                ],
            ],
        );
        let never = |_: &str| false;
        insta::assert_snapshot!(human(&r, &never), @r"
        |    id |     amount |     rate | whole | label | tiny  |
        |-------|------------|----------|-------|-------|-------|
        | 10234 | 973,415.30 | 0.333333 |    12 | a     | 0.5   |
        |     7 |      12.45 | 1.000000 |     3 | NULL  | 1e-05 |
        ");
        let metrics = |c: &str| c == "id";
        assert!(human(&r, &metrics).contains("| 10,234 |"));
    }
}
