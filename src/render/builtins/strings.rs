//! Python `str` methods dbt packages call that minijinja-contrib's pycompat lacks
//! (`zfill`, `ljust`, `partition`, `rsplit`, `index`, …).

use minijinja::value::{from_args, Value};
use minijinja::{Error, ErrorKind};

fn pad(s: &str, width: usize, fill: char, left: bool, center: bool) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_owned();
    }
    let total = width - len;
    let fill_str = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    if center {
        // Python puts the odd character on the right unless the width is odd.
        let left_n = total / 2 + (total & width & 1);
        return format!("{}{s}{}", fill_str(left_n), fill_str(total - left_n));
    }
    if left {
        format!("{s}{}", fill_str(total))
    } else {
        format!("{}{s}", fill_str(total))
    }
}

fn fill_char(fill: Option<String>) -> Result<char, Error> {
    let fill = fill.unwrap_or_else(|| " ".to_owned());
    let mut chars = fill.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            "the fill character must be exactly one character long",
        )),
    }
}

pub fn method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let s = value.as_str().unwrap_or_default();
    match method {
        "zfill" => {
            let (width,): (usize,) = from_args(args)?;
            let (sign, digits) = match s.strip_prefix(['-', '+']) {
                Some(rest) => (&s[..1], rest),
                None => ("", s),
            };
            let padded = pad(digits, width.saturating_sub(sign.len()), '0', false, false);
            Ok(Value::from(format!("{sign}{padded}")))
        }
        "ljust" | "rjust" | "center" => {
            let (width, fill): (usize, Option<String>) = from_args(args)?;
            let c = fill_char(fill)?;
            Ok(Value::from(pad(
                s,
                width,
                c,
                method == "ljust",
                method == "center",
            )))
        }
        "partition" | "rpartition" => {
            let (sep,): (String,) = from_args(args)?;
            let found = if method == "partition" {
                s.find(&sep)
            } else {
                s.rfind(&sep)
            };
            let parts = match found {
                Some(i) => [&s[..i], &sep[..], &s[i + sep.len()..]],
                None if method == "partition" => [s, "", ""],
                None => ["", "", s],
            };
            Ok(Value::from(
                parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>(),
            ))
        }
        "rsplit" => {
            let (sep, maxsplit): (Option<String>, Option<i64>) = from_args(args)?;
            let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize);
            let mut parts: Vec<String> = match (&sep, max) {
                (Some(sep), Some(m)) => s.rsplitn(m + 1, sep.as_str()).map(str::to_owned).collect(),
                (Some(sep), None) => s.rsplit(sep.as_str()).map(str::to_owned).collect(),
                (None, _) => {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    match max {
                        Some(m) if m < words.len() => {
                            // Keep the leftmost words joined as Python does.
                            let keep = words.len() - m;
                            let head_end = s
                                .split_whitespace()
                                .take(keep)
                                .last()
                                .map(|w| w.as_ptr() as usize - s.as_ptr() as usize + w.len())
                                .unwrap_or(0);
                            let mut v = vec![s[..head_end].trim_start().to_owned()];
                            v.extend(words[keep..].iter().map(|w| (*w).to_owned()));
                            v.reverse();
                            v
                        }
                        _ => words.iter().rev().map(|w| (*w).to_owned()).collect(),
                    }
                }
            };
            parts.reverse();
            Ok(Value::from(parts))
        }
        "index" | "rindex" => {
            let (sub,): (String,) = from_args(args)?;
            let found = if method == "index" {
                s.find(&sub)
            } else {
                s.rfind(&sub)
            };
            match found {
                Some(i) => Ok(Value::from(s[..i].chars().count())),
                None => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("substring {sub:?} not found"),
                )),
            }
        }
        "swapcase" => Ok(Value::from(
            s.chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect::<Vec<_>>()
                    }
                })
                .collect::<String>(),
        )),
        "casefold" => Ok(Value::from(s.to_lowercase())),
        "removeprefix" => {
            let (p,): (String,) = from_args(args)?;
            Ok(Value::from(s.strip_prefix(p.as_str()).unwrap_or(s)))
        }
        "removesuffix" => {
            let (p,): (String,) = from_args(args)?;
            Ok(Value::from(s.strip_suffix(p.as_str()).unwrap_or(s)))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &str, m: &str, args: &[Value]) -> String {
        method(&Value::from(s), m, args).expect("ok").to_string()
    }

    #[test]
    fn python_string_methods() {
        assert_eq!(call("7", "zfill", &[Value::from(3)]), "007");
        assert_eq!(call("-7", "zfill", &[Value::from(3)]), "-07");
        assert_eq!(call("ab", "ljust", &[Value::from(4)]), "ab  ");
        assert_eq!(
            call("ab", "rjust", &[Value::from(4), Value::from("*")]),
            "**ab"
        );
        assert_eq!(
            call("a.b.c", "rsplit", &[Value::from("."), Value::from(1)]),
            "[\"a.b\", \"c\"]"
        );
        assert_eq!(
            call("a.b.c", "partition", &[Value::from(".")]),
            "[\"a\", \".\", \"b.c\"]"
        );
    }
}
