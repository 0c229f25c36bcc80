//! `package-lock.yml` byte for byte as `dbt deps` writes it, and the `sha1_hash`
//! that ties it to packages.yml.
//!
//! dbt writes the lock with PyYAML (`yaml.dump`, sorted keys, block style, list
//! items indented under their key) and hashes the packages as Python's
//! `json.dumps(spec.to_dict(), sort_keys=True)` lines, sorted and joined with
//! newlines. Both are reproduced here for the values a lock holds (strings);
//! the scalar-style rules follow PyYAML's emitter (`analyze_scalar`,
//! `choose_scalar_style`) and its YAML 1.1 resolver.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

/// Python's `json.dumps(value, sort_keys=True)`: `", "` and `": "` separators,
/// keys sorted at every level, non-ASCII escaped as `\uXXXX`.
pub fn py_json(value: &Json) -> String {
    let mut out = String::new();
    write_py_json(value, &mut out);
    out
}

fn write_py_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => py_json_str(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(v, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_json_str(k, out);
                out.push_str(": ");
                write_py_json(&map[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

fn py_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// dbt's `_create_sha1_hash`: SHA-1 of the sorted JSON lines of the packages.
pub fn sha1_hash(dicts: &[Json]) -> String {
    let mut lines: Vec<String> = dicts.iter().map(py_json).collect();
    lines.sort();
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        lines.join("\n").as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The lock file's text: `packages:` (each entry's keys sorted, as PyYAML
/// sorts them) and `sha1_hash:`.
pub fn render(entries: &[Vec<(String, String)>], hash: &str) -> String {
    let mut out = String::from("packages:\n");
    for entry in entries {
        let mut entry = entry.clone();
        entry.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (k, v)) in entry.iter().enumerate() {
            out.push_str(if i == 0 { "  - " } else { "    " });
            out.push_str(k);
            out.push_str(": ");
            out.push_str(&yaml_scalar(v));
            out.push('\n');
        }
    }
    out.push_str("sha1_hash: ");
    out.push_str(&yaml_scalar(hash));
    out.push('\n');
    out
}

/// Plain scalars PyYAML's YAML 1.1 resolver would read as something other than
/// a string: those are quoted.
static NON_STR: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
        r"^(?:<<)$",
        r"^(?:~|null|Null|NULL|)$",
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])$",
        r"^(?:=)$",
    ]
    .iter()
    // Constant patterns: they compile.
    .map(|p| Regex::new(p).expect("valid resolver regex"))
    .collect()
});

/// A string value as PyYAML's `yaml.dump` writes it in block context (no
/// unicode allowed, as dbt calls it): plain when it reads back as the same
/// string, else single-quoted, else double-quoted with escapes.
pub fn yaml_scalar(s: &str) -> String {
    let a = analyze(s);
    if a.block_plain && !NON_STR.iter().any(|r| r.is_match(s)) {
        return s.to_owned();
    }
    if a.single_quoted {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

struct Analysis {
    block_plain: bool,
    single_quoted: bool,
}

fn is_space_or_end(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some('\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
    )
}

/// PyYAML's `Emitter.analyze_scalar`, for the two styles a block value can take.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain: false,
            single_quoted: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut line_breaks = false;
    let mut special = false;
    let mut preceded_by_ws = true;
    let mut followed_by_ws = is_space_or_end(chars.get(1).copied());
    let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
    for (i, &c) in chars.iter().enumerate() {
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':' || c == '-') && followed_by_ws {
                block_indicators = true;
            }
        } else if (c == ':' && followed_by_ws) || (c == '#' && preceded_by_ws) {
            block_indicators = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        // allow_unicode is off in dbt's dump: anything outside printable ASCII
        // forces double quotes.
        if !(c == '\n' || (' '..='~').contains(&c)) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = "\0 \t\r\n\u{85}\u{2028}\u{2029}".contains(c);
        followed_by_ws = is_space_or_end(chars.get(i + 2).copied());
    }
    let mut block_plain = true;
    let mut single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain = false;
    }
    if break_space {
        block_plain = false;
        single_quoted = false;
    }
    if space_break || special {
        block_plain = false;
        single_quoted = false;
    }
    if line_breaks || block_indicators {
        block_plain = false;
    }
    Analysis {
        block_plain,
        single_quoted,
    }
}

/// PyYAML's double-quoted style with its escapes (`\xE9`, `\u2028`, ...).
fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (' '..='~').contains(&c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_as_pyyaml_writes_them() {
        assert_eq!(yaml_scalar("dbt-labs/dbt_utils"), "dbt-labs/dbt_utils");
        assert_eq!(yaml_scalar("1.3.0"), "1.3.0");
        assert_eq!(yaml_scalar("1.0"), "'1.0'");
        assert_eq!(yaml_scalar("123"), "'123'");
        assert_eq!(yaml_scalar("yes"), "'yes'");
        assert_eq!(yaml_scalar("file:///tmp/a b.git"), "file:///tmp/a b.git");
        assert_eq!(yaml_scalar("../pkg"), "../pkg");
        assert_eq!(yaml_scalar("a: b"), "'a: b'");
        assert_eq!(yaml_scalar("{{ env_var('X') }}"), "'{{ env_var(''X'') }}'");
        assert_eq!(yaml_scalar("é"), "\"\\xE9\"");
        assert_eq!(yaml_scalar(""), "''");
    }

    #[test]
    fn hash_of_a_local_package_matches_dbt() {
        // From `dbt deps` 1.11 on `packages: [{local: ../pkg_a}]`.
        let spec = serde_json::json!({"local": "../pkg_a", "unrendered": {"local": "../pkg_a"}});
        assert_eq!(
            sha1_hash(&[spec]),
            "99cf489a783420f614f5b06f4e30162a7b594918"
        );
        assert_eq!(
            py_json(&serde_json::json!({"b": [1, "é"], "a": null})),
            r#"{"a": null, "b": [1, "\u00e9"]}"#
        );
    }
}
