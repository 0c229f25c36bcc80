//! dbt's `modules`: `datetime`, `pytz` (see [`super::datetime`]), `re` (Python's
//! regular expressions over the `regex` crate: no look-around or backreferences,
//! which are reported as errors) and `itertools` (dbt's subset: no `groupby`).

use std::sync::Arc;

use minijinja::value::{from_args, Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Error, ErrorKind, State};
use regex::{Regex, RegexBuilder};

use super::datetime::{DatetimeModule, PytzModule};
use super::mutable::{MutableDict, MutableList};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// `module.function` read as a value (`try_or_compiler_error(msg, modules.re.sub, ...)`):
/// calling it calls the method.
#[derive(Debug)]
pub struct BoundMethod {
    pub target: Value,
    pub name: &'static str,
}

impl Object for BoundMethod {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        self.target.call_method(state, self.name, args)
    }
}

/// The method `key` of `target`, if `key` is one of `names`.
pub fn bound(target: Value, names: &[&'static str], key: &Value) -> Option<Value> {
    let key = key.as_str()?;
    let name = names.iter().find(|n| **n == key)?;
    Some(Value::from_object(BoundMethod { target, name }))
}

/// `modules`.
#[derive(Debug)]
pub struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(DatetimeModule),
            "pytz" => Value::from_object(PytzModule),
            "re" => Value::from_object(ReModule),
            "itertools" => Value::from_object(Itertools),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&["datetime", "pytz", "re", "itertools"])
    }
}

const IGNORECASE: i64 = 2;
const MULTILINE: i64 = 8;
const DOTALL: i64 = 16;
const VERBOSE: i64 = 64;

/// `re` and a compiled pattern share their methods.
#[derive(Debug)]
pub struct ReModule;

#[derive(Debug)]
pub struct Pattern {
    source: String,
    flags: i64,
    re: Regex,
}

/// A Python `re` pattern in the regex crate's syntax, where the two differ on
/// what packages write: Python reads a `{` that does not start a quantifier
/// (`{{ ref(` in codegen's patterns) as a literal, and `{,n}` as `{0,n}`; `\Z`
/// is the regex crate's `\z`.
fn rust_pattern(python: &str) -> String {
    let chars: Vec<char> = python.chars().collect();
    let mut out = String::with_capacity(python.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                if next == 'Z' && !in_class {
                    out.push_str("\\z");
                } else {
                    out.push(c);
                    out.push(next);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // `[]...]` and `[^]...]`: a leading `]` is a literal in both.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' if !in_class => match quantifier_end(&chars, i) {
                Some((end, lo, hi)) => {
                    out.push('{');
                    out.push_str(if lo.is_empty() { "0" } else { &lo });
                    if let Some(hi) = hi {
                        out.push(',');
                        out.push_str(&hi);
                    }
                    out.push('}');
                    i = end + 1;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// The quantifier `{lo}`, `{lo,}`, `{lo,hi}` or `{,hi}` starting at `chars[at]`,
/// as Python's parser reads one: (index of its `}`, lo, hi if a comma came).
fn quantifier_end(chars: &[char], at: usize) -> Option<(usize, String, Option<String>)> {
    let mut i = at + 1;
    let digits = |i: &mut usize| {
        let mut d = String::new();
        while let Some(c) = chars.get(*i).filter(|c| c.is_ascii_digit()) {
            d.push(*c);
            *i += 1;
        }
        d
    };
    let lo = digits(&mut i);
    let hi = if chars.get(i) == Some(&',') {
        i += 1;
        Some(digits(&mut i))
    } else {
        None
    };
    // `{}` is a literal in Python; `{,}` is `{0,}`.
    if chars.get(i) != Some(&'}') || (lo.is_empty() && hi.is_none()) {
        return None;
    }
    Some((i, lo, hi))
}

fn compile(pattern: &str, flags: i64) -> Result<Pattern, Error> {
    let re = RegexBuilder::new(&rust_pattern(pattern))
        .case_insensitive(flags & IGNORECASE != 0)
        .multi_line(flags & MULTILINE != 0)
        .dot_matches_new_line(flags & DOTALL != 0)
        .ignore_whitespace(flags & VERBOSE != 0)
        .build()
        .map_err(|e| {
            err(format!(
                "modules.re: cannot compile {pattern:?}: {e} (sluice's `re` has no look-around \
                 or backreferences)"
            ))
        })?;
    Ok(Pattern {
        source: pattern.to_owned(),
        flags,
        re,
    })
}

/// A Python replacement string (`\1`, `\g<name>`) as the regex crate's (`${1}`).
fn replacement(repl: &str) -> String {
    let mut out = String::with_capacity(repl.len());
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

/// A Python match object.
#[derive(Debug)]
pub struct Match {
    groups: Vec<Option<(usize, usize, String)>>,
    names: Vec<(String, usize)>,
    string: String,
}

impl Match {
    fn value(re: &Regex, caps: regex::Captures<'_>, text: &str) -> Value {
        let groups = (0..caps.len())
            .map(|i| {
                caps.get(i)
                    .map(|m| (m.start(), m.end(), m.as_str().to_owned()))
            })
            .collect();
        let names = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_owned(), i)))
            .collect();
        Value::from_object(Match {
            groups,
            names,
            string: text.to_owned(),
        })
    }

    fn index(&self, key: &Value) -> Result<usize, Error> {
        if let Some(name) = key.as_str() {
            return self
                .names
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, i)| *i)
                .ok_or_else(|| err(format!("no such group: {name:?}")));
        }
        key.as_usize()
            .filter(|i| *i < self.groups.len())
            .ok_or_else(|| err("no such group"))
    }

    fn group(&self, i: usize) -> Value {
        match &self.groups[i] {
            Some((_, _, s)) => Value::from(s.as_str()),
            None => Value::from(()),
        }
    }
}

impl Object for Match {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "string" => Some(Value::from(self.string.as_str())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let span = |args: &[Value]| -> Result<Option<(usize, usize)>, Error> {
            let (g,): (Option<Value>,) = from_args(args)?;
            let i = match g {
                Some(g) => self.index(&g)?,
                None => 0,
            };
            Ok(self.groups[i].as_ref().map(|(s, e, _)| (*s, *e)))
        };
        match method {
            "group" => {
                if args.len() <= 1 {
                    let i = match args.first() {
                        Some(g) => self.index(g)?,
                        None => 0,
                    };
                    return Ok(self.group(i));
                }
                let items = args
                    .iter()
                    .map(|g| self.index(g).map(|i| self.group(i)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::from(items))
            }
            "groups" => Ok(Value::from(
                (1..self.groups.len())
                    .map(|i| self.group(i))
                    .collect::<Vec<_>>(),
            )),
            "groupdict" => Ok(MutableDict::value(
                self.names
                    .iter()
                    .map(|(n, i)| (Value::from(n.as_str()), self.group(*i)))
                    .collect(),
            )),
            "start" => Ok(Value::from(span(args)?.map_or(-1, |(s, _)| s as i64))),
            "end" => Ok(Value::from(span(args)?.map_or(-1, |(_, e)| e as i64))),
            "span" => {
                let (s, e) = span(args)?.map_or((-1, -1), |(s, e)| (s as i64, e as i64));
                Ok(Value::from(vec![Value::from(s), Value::from(e)]))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (s, e) = self.groups[0].as_ref().map_or((0, 0), |(s, e, _)| (*s, *e));
        write!(
            f,
            "<re.Match object; span=({s}, {e}), match={:?}>",
            self.group(0).to_string()
        )
    }
}

fn flags_of(pos: Option<i64>, kwargs: &Kwargs) -> Result<i64, Error> {
    Ok(pos.or(kwargs.get::<Option<i64>>("flags")?).unwrap_or(0))
}

/// Run a `re` function; `pattern` is None for a compiled pattern's method.
fn re_call(pattern: Option<&Pattern>, method: &str, args: &[Value]) -> Result<Value, Error> {
    // With a module call the pattern is the first argument.
    let (owned, args) = match pattern {
        Some(_) => (None, args),
        None => {
            let Some((p, rest)) = args.split_first() else {
                return Err(err(format!("re.{method}() needs a pattern")));
            };
            (Some(p.clone()), rest)
        }
    };
    let get_pattern = |flags: i64| -> Result<Arc<Pattern>, Error> {
        match (pattern, &owned) {
            (Some(p), _) => Ok(Arc::new(compile(&p.source, p.flags | flags)?)),
            (None, Some(p)) => match p.downcast_object::<Pattern>() {
                Some(p) => Ok(p),
                None => Ok(Arc::new(compile(&p.to_string(), flags)?)),
            },
            (None, None) => Err(err("missing pattern")),
        }
    };
    match method {
        "match" | "search" | "fullmatch" => {
            let (text, flags, kwargs): (String, Option<i64>, Kwargs) = from_args(args)?;
            let flags = flags_of(flags, &kwargs)?;
            kwargs.assert_all_used()?;
            let p = get_pattern(if pattern.is_some() { 0 } else { flags })?;
            // Python's match/fullmatch anchor the pattern; search does not.
            let anchored = match method {
                "match" => Some(compile(&format!(r"\A(?:{})", p.source), p.flags)?),
                "fullmatch" => Some(compile(&format!(r"\A(?:{})\z", p.source), p.flags)?),
                _ => None,
            };
            let re = anchored.as_ref().map_or(&p.re, |a| &a.re);
            Ok(re
                .captures(&text)
                .map(|c| Match::value(re, c, &text))
                .unwrap_or(Value::from(())))
        }
        "findall" => {
            let (text, flags, kwargs): (String, Option<i64>, Kwargs) = from_args(args)?;
            let flags = flags_of(flags, &kwargs)?;
            kwargs.assert_all_used()?;
            let p = get_pattern(if pattern.is_some() { 0 } else { flags })?;
            let groups = p.re.captures_len() - 1;
            let items =
                p.re.captures_iter(&text)
                    .map(|c| {
                        let g = |i: usize| Value::from(c.get(i).map_or("", |m| m.as_str()));
                        match groups {
                            0 => g(0),
                            1 => g(1),
                            n => Value::from((1..=n).map(g).collect::<Vec<_>>()),
                        }
                    })
                    .collect();
            Ok(MutableList::value(items))
        }
        "sub" | "subn" => {
            let (repl, text, count, flags, kwargs): (
                String,
                String,
                Option<usize>,
                Option<i64>,
                Kwargs,
            ) = from_args(args)?;
            let count = count.or(kwargs.get("count")?).unwrap_or(0);
            let flags = flags_of(flags, &kwargs)?;
            kwargs.assert_all_used()?;
            let p = get_pattern(if pattern.is_some() { 0 } else { flags })?;
            let repl = replacement(&repl);
            let n = p.re.find_iter(&text).count();
            let out = p.re.replacen(&text, count, repl.as_str()).into_owned();
            if method == "subn" {
                let done = if count == 0 { n } else { n.min(count) };
                return Ok(Value::from(vec![Value::from(out), Value::from(done)]));
            }
            Ok(Value::from(out))
        }
        "split" => {
            let (text, maxsplit, flags, kwargs): (String, Option<usize>, Option<i64>, Kwargs) =
                from_args(args)?;
            let maxsplit = maxsplit.or(kwargs.get("maxsplit")?).unwrap_or(0);
            let flags = flags_of(flags, &kwargs)?;
            kwargs.assert_all_used()?;
            let p = get_pattern(if pattern.is_some() { 0 } else { flags })?;
            let mut out = Vec::new();
            let mut last = 0;
            for (i, c) in p.re.captures_iter(&text).enumerate() {
                if maxsplit != 0 && i >= maxsplit {
                    break;
                }
                let m = c.get(0).expect("group 0 always matches");
                out.push(Value::from(&text[last..m.start()]));
                // Python includes the groups of the separator.
                for g in 1..c.len() {
                    out.push(
                        c.get(g)
                            .map_or(Value::from(()), |m| Value::from(m.as_str())),
                    );
                }
                last = m.end();
            }
            out.push(Value::from(&text[last..]));
            Ok(MutableList::value(out))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

impl Object for ReModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "IGNORECASE" | "I" => IGNORECASE,
            "MULTILINE" | "M" => MULTILINE,
            "DOTALL" | "S" => DOTALL,
            "VERBOSE" | "X" => VERBOSE,
            "ASCII" | "A" => 256,
            "UNICODE" | "U" => 32,
            _ => {
                return bound(
                    Value::from_dyn_object(Arc::clone(self)),
                    &[
                        "match",
                        "search",
                        "fullmatch",
                        "sub",
                        "subn",
                        "findall",
                        "split",
                        "compile",
                        "escape",
                    ],
                    key,
                )
            }
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "compile" => {
                let (p, flags): (String, Option<i64>) = from_args(args)?;
                Ok(Value::from_object(compile(&p, flags.unwrap_or(0))?))
            }
            "escape" => {
                let (s,): (String,) = from_args(args)?;
                Ok(Value::from(regex::escape(&s)))
            }
            _ => re_call(None, method, args),
        }
    }
}

impl Object for Pattern {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "pattern" => Some(Value::from(self.source.as_str())),
            "flags" => Some(Value::from(self.flags)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        re_call(Some(self), method, args)
    }
}

/// `modules.itertools`: the functions packages use, returning lists.
#[derive(Debug)]
pub struct Itertools;

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    v.try_iter()
        .map(|it| it.collect())
        .map_err(|_| err(format!("'{}' object is not iterable", v.kind())))
}

fn product(pools: &[Vec<Value>]) -> Vec<Value> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in pools {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                pool.iter().map(move |x| {
                    let mut p = prefix.clone();
                    p.push(x.clone());
                    p
                })
            })
            .collect();
    }
    out.into_iter().map(Value::from).collect()
}

fn combinations(pool: &[Value], r: usize, replace: bool) -> Vec<Value> {
    fn go(
        pool: &[Value],
        r: usize,
        start: usize,
        replace: bool,
        cur: &mut Vec<Value>,
        out: &mut Vec<Value>,
    ) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in start..pool.len() {
            cur.push(pool[i].clone());
            go(pool, r, if replace { i } else { i + 1 }, replace, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(pool, r, 0, replace, &mut Vec::new(), &mut out);
    out
}

fn permutations(pool: &[Value], r: usize) -> Vec<Value> {
    fn go(
        pool: &[Value],
        r: usize,
        used: &mut Vec<bool>,
        cur: &mut Vec<Value>,
        out: &mut Vec<Value>,
    ) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in 0..pool.len() {
            if !used[i] {
                used[i] = true;
                cur.push(pool[i].clone());
                go(pool, r, used, cur, out);
                cur.pop();
                used[i] = false;
            }
        }
    }
    let mut out = Vec::new();
    go(
        pool,
        r,
        &mut vec![false; pool.len()],
        &mut Vec::new(),
        &mut out,
    );
    out
}

impl Object for Itertools {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        bound(
            Value::from_dyn_object(Arc::clone(self)),
            &[
                "chain",
                "chain_from_iterable",
                "product",
                "combinations",
                "combinations_with_replacement",
                "permutations",
                "accumulate",
                "compress",
                "repeat",
                "islice",
                "zip_longest",
            ],
            key,
        )
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let list = |v: Vec<Value>| Ok(MutableList::value(v));
        match method {
            "chain" => {
                let (its,): (Rest<Value>,) = from_args(args)?;
                let mut out = Vec::new();
                for it in its.iter() {
                    out.extend(items(it)?);
                }
                list(out)
            }
            "chain_from_iterable" => {
                let (it,): (Value,) = from_args(args)?;
                let mut out = Vec::new();
                for inner in items(&it)? {
                    out.extend(items(&inner)?);
                }
                list(out)
            }
            "product" => {
                let (its, kwargs): (Rest<Value>, Kwargs) = from_args(args)?;
                let repeat = kwargs.get::<Option<usize>>("repeat")?.unwrap_or(1);
                kwargs.assert_all_used()?;
                let pools: Vec<Vec<Value>> = its.iter().map(items).collect::<Result<_, _>>()?;
                let pools: Vec<Vec<Value>> = (0..repeat).flat_map(|_| pools.clone()).collect();
                list(product(&pools))
            }
            "combinations" | "combinations_with_replacement" => {
                let (it, r): (Value, usize) = from_args(args)?;
                list(combinations(&items(&it)?, r, method != "combinations"))
            }
            "permutations" => {
                let (it, r): (Value, Option<usize>) = from_args(args)?;
                let pool = items(&it)?;
                let r = r.unwrap_or(pool.len());
                list(permutations(&pool, r))
            }
            "accumulate" => {
                let (it,): (Value,) = from_args(args)?;
                let mut acc: Option<Value> = None;
                let mut out = Vec::new();
                for x in items(&it)? {
                    let next = match acc {
                        None => x,
                        Some(a) => state
                            .env()
                            .compile_expression("a + b")?
                            .eval(minijinja::context! { a => a, b => x })?,
                    };
                    out.push(next.clone());
                    acc = Some(next);
                }
                list(out)
            }
            "compress" => {
                let (data, selectors): (Value, Value) = from_args(args)?;
                let sel = items(&selectors)?;
                list(
                    items(&data)?
                        .into_iter()
                        .zip(sel)
                        .filter(|(_, s)| s.is_true())
                        .map(|(d, _)| d)
                        .collect(),
                )
            }
            "repeat" => {
                let (x, times): (Value, Option<usize>) = from_args(args)?;
                let Some(times) = times else {
                    return Err(err("itertools.repeat() without `times` never ends"));
                };
                list(std::iter::repeat_n(x, times).collect())
            }
            "islice" => {
                let (it, a, b): (Value, Option<usize>, Option<usize>) = from_args(args)?;
                let all = items(&it)?;
                let (start, stop) = match b {
                    Some(b) => (a.unwrap_or(0), b),
                    None => (0, a.unwrap_or(all.len())),
                };
                list(all.into_iter().take(stop).skip(start).collect())
            }
            "zip_longest" => {
                let (its, kwargs): (Rest<Value>, Kwargs) = from_args(args)?;
                let fill = kwargs
                    .get::<Option<Value>>("fillvalue")?
                    .unwrap_or(Value::from(()));
                kwargs.assert_all_used()?;
                let lists: Vec<Vec<Value>> = its.iter().map(items).collect::<Result<_, _>>()?;
                let n = lists.iter().map(Vec::len).max().unwrap_or(0);
                list(
                    (0..n)
                        .map(|i| {
                            Value::from(
                                lists
                                    .iter()
                                    .map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone()))
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .collect(),
                )
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
