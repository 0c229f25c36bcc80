//! Python models (`.py` files in the model paths): read, never run.
//!
//! dbt 1.11 parses a Python model's source with Python's `ast` and records the
//! literal arguments of its `dbt.ref(...)`, `dbt.source(...)` and `dbt.config(...)`
//! calls; the model is a node like any other (`language: python`, materialized
//! `table` by default). sluice reads the same calls, with their spans, so the node
//! has its place in the graph and the manifest; running it is an error of that
//! node (sluice runs SQL models only) and its descendants are skipped.

use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::Value as Json;

use crate::diagnostics::{Diagnostic, SourceFile, Span};

/// One `dbt.<func>(...)` call of a Python model, its arguments evaluated.
#[derive(Debug)]
pub struct DbtCall {
    pub func: &'static str,
    pub args: Vec<Json>,
    pub kwargs: Vec<(String, Json)>,
    /// The call, from `dbt` to its closing parenthesis.
    pub span: Span,
}

static DBT_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bdbt\s*\.\s*(ref|source|config)\s*\(").expect("static regex is valid")
});

/// The `dbt.ref`/`dbt.source`/`dbt.config` calls of a Python model, in order. An
/// argument that is not a Python literal is an error, as in dbt.
pub fn dbt_calls(file: &Arc<SourceFile>) -> Result<Vec<DbtCall>, Diagnostic> {
    let text = &file.text;
    let mut calls = Vec::new();
    for caps in DBT_CALL.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        if in_comment_or_string(text, whole.start()) {
            continue;
        }
        let func = match &caps[1] {
            "ref" => "ref",
            "source" => "source",
            _ => "config",
        };
        let mut p = Parser {
            text,
            pos: whole.end(),
        };
        let (args, kwargs) = p.arguments().map_err(|at| {
            let at = at.min(text.len());
            Diagnostic::error(format!(
                "the arguments of `dbt.{func}(...)` in a Python model must be literals"
            ))
            .with_label(
                &Span::new(file, at, (at + 1).min(text.len())),
                "not a Python literal",
            )
            .with_help("write the names as strings, as dbt requires: `dbt.ref(\"model_name\")`")
        })?;
        calls.push(DbtCall {
            func,
            args,
            kwargs,
            span: Span::new(file, whole.start(), p.pos),
        });
    }
    Ok(calls)
}

/// Whether `at` is inside a `#` comment or a string literal of its line (a
/// line-level approximation: triple-quoted strings spanning lines are not tracked).
fn in_comment_or_string(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut quote: Option<char> = None;
    let mut chars = text[line_start..at].chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return true,
            (None, '\'' | '"') => quote = Some(c),
            _ => {}
        }
    }
    quote.is_some()
}

/// A parser of Python call arguments made of literals (`ast.literal_eval`'s
/// subset dbt accepts): strings, numbers, `True`/`False`/`None`, lists, tuples,
/// dicts. Errors are the byte offset where parsing stopped.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

type Arguments = (Vec<Json>, Vec<(String, Json)>);

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            let (space, comment) = (
                rest.len() - trimmed.len(),
                trimmed
                    .starts_with('#')
                    .then(|| trimmed.find('\n').unwrap_or(trimmed.len())),
            );
            self.pos += space;
            match comment {
                Some(len) => self.pos += len,
                None => return,
            }
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// After the opening parenthesis: arguments up to and including `)`.
    fn arguments(&mut self) -> Result<Arguments, usize> {
        let (mut args, mut kwargs) = (Vec::new(), Vec::new());
        loop {
            if self.eat(")") {
                return Ok((args, kwargs));
            }
            self.skip_space();
            let ident_len = self
                .rest()
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(self.rest().len());
            let after = self.rest()[ident_len..].trim_start();
            if ident_len > 0 && after.starts_with('=') && !after.starts_with("==") {
                let key = self.rest()[..ident_len].to_owned();
                self.pos += ident_len;
                self.eat("=");
                kwargs.push((key, self.literal()?));
            } else {
                args.push(self.literal()?);
            }
            if !self.eat(",") {
                return if self.eat(")") {
                    Ok((args, kwargs))
                } else {
                    Err(self.pos)
                };
            }
        }
    }

    /// Items up to the closing `close`, separated by commas.
    fn items(&mut self, close: &str) -> Result<Vec<Json>, usize> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.literal()?);
            if !self.eat(",") {
                return if self.eat(close) {
                    Ok(items)
                } else {
                    Err(self.pos)
                };
            }
        }
    }

    fn literal(&mut self) -> Result<Json, usize> {
        self.skip_space();
        let start = self.pos;
        if self.eat("[") {
            return self.items("]").map(Json::Array);
        }
        if self.eat("(") {
            return self.items(")").map(Json::Array);
        }
        if self.eat("{") {
            let mut map = serde_json::Map::new();
            loop {
                if self.eat("}") {
                    return Ok(Json::Object(map));
                }
                let key = match self.literal()? {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                if !self.eat(":") {
                    return Err(self.pos);
                }
                map.insert(key, self.literal()?);
                if !self.eat(",") {
                    return if self.eat("}") {
                        Ok(Json::Object(map))
                    } else {
                        Err(self.pos)
                    };
                }
            }
        }
        let rest = self.rest();
        for (word, value) in [
            ("True", Json::Bool(true)),
            ("False", Json::Bool(false)),
            ("None", Json::Null),
        ] {
            let ends = rest[word.len().min(rest.len())..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if rest.starts_with(word) && ends {
                self.pos += word.len();
                return Ok(value);
            }
        }
        if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            return self.string(q).ok_or(start);
        }
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E' | '_')))
            .unwrap_or(rest.len());
        let number = rest[..number_len].replace('_', "");
        if let Ok(i) = number.parse::<i64>() {
            self.pos += number_len;
            return Ok(Json::from(i));
        }
        if let Some(f) = number
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            self.pos += number_len;
            return Ok(Json::Number(f));
        }
        Err(start)
    }

    /// A quoted string (single, double or triple quotes) with Python's common escapes.
    fn string(&mut self, q: char) -> Option<Json> {
        let triple: String = std::iter::repeat_n(q, 3).collect();
        let delim = if self.rest().starts_with(&triple) {
            triple
        } else {
            q.to_string()
        };
        self.pos += delim.len();
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if self.rest()[i..].starts_with(&delim) {
                self.pos += i + delim.len();
                return Some(Json::String(out));
            }
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                '\n' if delim.len() == 1 => return None,
                c => out.push(c),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each call as `func args kwargs `written``.
    fn calls(text: &str) -> Vec<String> {
        let file = SourceFile::new("models/m.py", text);
        dbt_calls(&file)
            .expect("literal arguments")
            .into_iter()
            .map(|c| {
                let written = &file.text[c.span.start..c.span.end];
                format!("{} {:?} {:?} `{written}`", c.func, c.args, c.kwargs)
            })
            .collect()
    }

    #[test]
    fn reads_refs_sources_and_config_literals() {
        let found = calls(
            "def model(dbt, session):\n    # dbt.ref('commented_out')\n    dbt.config(materialized=\"incremental\", tags=['a', \"b\"], meta={'n': 1, 'ok': True})\n    s = \"dbt.ref('in_a_string')\"\n    a = dbt.ref(\"orders\")\n    b = dbt.ref('pkg', 'items', v=2)\n    c = dbt.source('raw', 'people')\n    return a\n",
        );
        assert_eq!(
            found,
            [
                "config [] [(\"materialized\", String(\"incremental\")), (\"tags\", Array [String(\"a\"), String(\"b\")]), (\"meta\", Object {\"n\": Number(1), \"ok\": Bool(true)})] `dbt.config(materialized=\"incremental\", tags=['a', \"b\"], meta={'n': 1, 'ok': True})`",
                "ref [String(\"orders\")] [] `dbt.ref(\"orders\")`",
                "ref [String(\"pkg\"), String(\"items\")] [(\"v\", Number(2))] `dbt.ref('pkg', 'items', v=2)`",
                "source [String(\"raw\"), String(\"people\")] [] `dbt.source('raw', 'people')`",
            ]
        );
    }

    #[test]
    fn a_non_literal_argument_is_a_located_error() {
        let file = SourceFile::new(
            "models/m.py",
            "def model(dbt, s):\n    return dbt.ref(name)\n",
        );
        let e = dbt_calls(&file).expect_err("a variable is not a literal");
        assert!(e.message.contains("must be literals"), "{}", e.message);
    }
}
