//! The template pre-pass that gives dbt's Python-style mutation its values.
//!
//! minijinja's lists and dicts are immutable (`Arc<Vec<Value>>`), and it has no
//! hook for literal construction, so `{% do l.append(x) %}` cannot work on a value
//! the engine built. Before a template is compiled, this pass rewrites, with
//! minijinja's own lexer (so strings, comments and `{% raw %}` are never touched):
//!
//! * a list literal `[...]` into `__sluice_list([...])` and a dict literal `{...}`
//!   into `__sluice_dict({...})` — both build a [`super::mutable`] value;
//! * the value of `{% set x = EXPR %}` into `__sluice_mut((EXPR))`, so a list or
//!   dict bound by `set` (from a filter, `+`, `split()`, a macro) is mutable too;
//!   a value that is already mutable is kept as is, so aliasing is Python's;
//! * `{% do CALL if COND %}` (Jinja2's `do` takes any expression; minijinja's only
//!   a call) into `{% do __sluice_do((CALL if COND)) %}`: the call runs only when
//!   the condition holds, as in dbt (Fivetran's salesforce macros).
//!
//! Only text inside `{{ }}`/`{% %}` changes and no newline is added: lines stay
//! right, and the returned [`OffsetMap`] maps error columns back to the original.
//! A literal right after `in` (`x in ['a', 'b']`, `for x in [...]`) is left alone:
//! it cannot be mutated, and membership tests are hot.

use minijinja::machinery::{tokenize, Token, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;

use crate::render::macros::OffsetMap;

pub const LIST_FN: &str = "__sluice_list";
pub const DICT_FN: &str = "__sluice_dict";
pub const MUT_FN: &str = "__sluice_mut";
pub const DO_FN: &str = "__sluice_do";

/// Whether `source` may hold a literal or a `set` at all: most templates can be
/// passed through without running the lexer.
fn may_need_rewrite(source: &str) -> bool {
    let b = source.as_bytes();
    if memchr(b'[', b) || source.contains("set") || source.contains("do ") {
        return true;
    }
    // A `{` that is not the start of `{{`, `{%`, `{#` nor their second brace.
    b.iter().enumerate().any(|(i, &c)| {
        c == b'{'
            && (i == 0 || b[i - 1] != b'{')
            && !matches!(b.get(i + 1), Some(b'{' | b'%' | b'#'))
    })
}

fn memchr(needle: u8, hay: &[u8]) -> bool {
    hay.contains(&needle)
}

/// Whether a `[` after `prev` indexes a value (`x[0]`, `f()[0]`) rather than
/// opening a list literal.
fn is_subscript(prev: Option<&Token<'_>>) -> bool {
    match prev {
        Some(Token::Ident(name)) => !matches!(
            *name,
            "in" | "not"
                | "and"
                | "or"
                | "if"
                | "elif"
                | "else"
                | "is"
                | "do"
                | "for"
                | "true"
                | "false"
                | "none"
                | "True"
                | "False"
                | "None"
        ),
        Some(
            Token::Str(_)
            | Token::String(_)
            | Token::ParenClose
            | Token::BracketClose
            | Token::BraceClose,
        ) => true,
        _ => false,
    }
}

#[derive(PartialEq)]
enum SetState {
    None,
    /// After `{% set`: waiting for a top-level `=`.
    Target,
    /// Inside the wrapped value.
    Value,
}

/// The rewritten template and its offset map, or `None` when nothing changes
/// (or the template does not lex: minijinja then reports the error itself).
pub fn rewrite(source: &str) -> Option<(String, OffsetMap)> {
    if !may_need_rewrite(source) {
        return None;
    }
    let mut inserts: Vec<(usize, &'static str)> = Vec::new();
    // One entry per open bracket: whether its closer ends a wrap.
    let mut stack: Vec<bool> = Vec::new();
    let mut prev: Option<Token<'_>> = None;
    let mut block_first = false;
    let mut set = SetState::None;
    // After a block's leading `do`: where its expression starts, and whether a
    // conditional `if` stands at its top level.
    let mut do_expr: Option<(usize, bool)> = None;
    let mut last_end = 0usize;
    for item in tokenize(
        source,
        false,
        SyntaxConfig::default(),
        WhitespaceConfig::default(),
    ) {
        let (tok, span) = item.ok()?;
        let (start, end) = (span.start_offset as usize, span.end_offset as usize);
        let first_in_block = block_first;
        block_first = false;
        match &tok {
            Token::BlockStart => {
                block_first = true;
                stack.clear();
                set = SetState::None;
                do_expr = None;
            }
            Token::VariableStart => {
                stack.clear();
                set = SetState::None;
            }
            Token::BlockEnd | Token::VariableEnd => {
                if set == SetState::Value {
                    inserts.push((last_end, "))"));
                }
                if let Some((at, true)) = do_expr.take() {
                    inserts.push((at, " __sluice_do(("));
                    inserts.push((last_end, "))"));
                }
                set = SetState::None;
                stack.clear();
            }
            Token::Ident("set") if first_in_block => set = SetState::Target,
            Token::Ident("do") if first_in_block => do_expr = Some((end, false)),
            Token::Ident("if") if stack.is_empty() => {
                if let Some((_, conditional)) = do_expr.as_mut() {
                    *conditional = true;
                }
            }
            Token::Assign if set == SetState::Target && stack.is_empty() => {
                inserts.push((end, "__sluice_mut(("));
                set = SetState::Value;
            }
            Token::BracketOpen => {
                let literal = !is_subscript(prev.as_ref());
                let after_in = matches!(prev, Some(Token::Ident("in")));
                let wrap = literal && !after_in;
                if wrap {
                    inserts.push((start, "__sluice_list("));
                }
                stack.push(wrap);
            }
            Token::BraceOpen => {
                inserts.push((start, "__sluice_dict("));
                stack.push(true);
            }
            Token::ParenOpen => stack.push(false),
            // The guard pops for every closer; only a wrapped literal gets its `)`.
            Token::BracketClose | Token::BraceClose | Token::ParenClose
                if stack.pop() == Some(true) =>
            {
                inserts.push((end, ")"));
            }
            _ => {}
        }
        if !matches!(tok, Token::BlockEnd | Token::VariableEnd) {
            last_end = end;
        }
        prev = Some(tok);
    }
    if inserts.is_empty() {
        return None;
    }
    // Stable: insertions at one offset keep the order they were found in.
    inserts.sort_by_key(|(at, _)| *at);
    let extra: usize = inserts.iter().map(|(_, s)| s.len()).sum();
    let mut out = String::with_capacity(source.len() + extra);
    let mut shifts = Vec::with_capacity(inserts.len());
    let mut last = 0;
    let mut shift = 0isize;
    for (at, text) in inserts {
        out.push_str(&source[last..at]);
        out.push_str(text);
        shift += text.len() as isize;
        shifts.push((out.len(), shift));
        last = at;
    }
    out.push_str(&source[last..]);
    Some((out, OffsetMap::from_shifts(shifts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(s: &str) -> String {
        rewrite(s).map(|(s, _)| s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn literals_are_wrapped_subscripts_are_not() {
        assert_eq!(
            rw("{{ f([1, [2]], {'a': x[0]}) }}"),
            "{{ f(__sluice_list([1, __sluice_list([2])]), __sluice_dict({'a': x[0]})) }}"
        );
        assert_eq!(rw("{{ x['a'][0] ~ f()[1] }}"), "{{ x['a'][0] ~ f()[1] }}");
        assert_eq!(rw("{% if x in ['a'] %}"), "{% if x in ['a'] %}");
        assert_eq!(rw("{% if not [] %}"), "{% if not __sluice_list([]) %}");
    }

    #[test]
    fn set_values_are_wrapped() {
        assert_eq!(
            rw("{%- set l = [] -%}"),
            "{%- set l =__sluice_mut(( __sluice_list([]))) -%}"
        );
        assert_eq!(
            rw("{% set a, b = x.split('.') %}"),
            "{% set a, b =__sluice_mut(( x.split('.'))) %}"
        );
        assert_eq!(
            rw("{% set x %}[1]{% endset %}"),
            "{% set x %}[1]{% endset %}"
        );
    }

    #[test]
    fn a_conditional_do_becomes_a_call() {
        assert_eq!(
            rw("{%- do d.update(x) if not y -%}"),
            "{%- do __sluice_do(( d.update(x) if not y)) -%}"
        );
        // A plain `do`, and an `if` inside the call's arguments, stay as they are.
        assert_eq!(rw("{% do l.append(x) %}"), "{% do l.append(x) %}");
        assert_eq!(
            rw("{% do l.append(a if b else c) %}"),
            "{% do l.append(a if b else c) %}"
        );
    }

    #[test]
    fn text_strings_and_comments_are_untouched() {
        let s =
            "select a[1], '{' from t {# [x] #} {{ '[' ~ \"{\" }} {% raw %}{{ [1] }}{% endraw %}";
        assert_eq!(rw(s), s);
    }

    #[test]
    fn offsets_map_back() {
        let src = "{% set l = [] %}\n{{ l.nope() }}";
        let (out, map) = rewrite(src).expect("rewrites");
        let at = out.find("l.nope").expect("present");
        assert_eq!(map.to_original(at), src.find("l.nope").expect("present"));
    }
}
