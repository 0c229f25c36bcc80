//! dbt's base-context functions: `tojson`/`fromjson`/`toyaml`/`fromyaml`, `zip`,
//! `set`/`set_strict`, `local_md5`, `print`, `try_or_compiler_error`,
//! `diff_of_two_dicts` (dbt-core `context/base.py`).

use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexSet;
use md5::{Digest, Md5};
use minijinja::value::{from_args, DynObject, Enumerator, Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Value as Json;

use super::mutable::{MutableDict, MutableList};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// JSON → a template value whose lists and dicts are mutable, as Python's.
pub fn from_json(v: &Json) -> Value {
    match v {
        Json::Array(items) => MutableList::value(items.iter().map(from_json).collect()),
        Json::Object(map) => MutableDict::value(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
        other => Value::from_serialize(other),
    }
}

fn to_json(value: &Value) -> Result<Json, Error> {
    serde_json::to_value(value).map_err(|e| err(format!("cannot serialize to JSON: {e}")))
}

fn sort_keys(v: Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Python's `json.dumps` spacing: `", "` between items and `": "` after keys.
fn python_json(v: &Json, out: &mut String) {
    match v {
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&python_str(k));
                out.push_str(": ");
                python_json(item, out);
            }
            out.push('}');
        }
        Json::String(s) => out.push_str(&python_str(s)),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string with non-ASCII escaped, as Python's `ensure_ascii`.
fn python_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in Json::String(s.to_owned()).to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `tojson(value, default=none, sort_keys=false)`: `json.dumps` as dbt calls it.
fn tojson(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let default = default.or(kwargs.get::<Option<Value>>("default")?);
    kwargs.assert_all_used()?;
    match to_json(&value) {
        Ok(j) => {
            let j = if sort { sort_keys(j) } else { j };
            let mut out = String::new();
            python_json(&j, &mut out);
            Ok(Value::from(out))
        }
        Err(e) => default.ok_or(e),
    }
}

fn fromjson(s: String, default: Option<Value>) -> Result<Value, Error> {
    match serde_json::from_str::<Json>(&s) {
        Ok(v) => Ok(from_json(&v)),
        Err(e) => default.ok_or_else(|| err(format!("fromjson: {e}"))),
    }
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Json {
    use yaml_rust2::Yaml as Y;
    match y {
        Y::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        Y::Integer(i) => Json::from(*i),
        Y::String(s) => Json::String(s.clone()),
        Y::Boolean(b) => Json::Bool(*b),
        Y::Array(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        Y::Hash(map) => Json::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        Y::Integer(i) => i.to_string(),
                        Y::Boolean(b) => if *b { "True" } else { "False" }.to_owned(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

fn fromyaml(s: String, default: Option<Value>) -> Result<Value, Error> {
    match yaml_rust2::YamlLoader::load_from_str(&s) {
        Ok(docs) => Ok(docs
            .first()
            .map(|d| from_json(&yaml_to_json(d)))
            .unwrap_or(Value::from(()))),
        Err(e) => default.ok_or_else(|| err(format!("fromyaml: {e}"))),
    }
}

/// A YAML scalar as PyYAML's `safe_dump` writes it: quoted only when needed.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with([
            ' ', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
            '%', '@', '`',
        ])
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\n')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn yaml_dump(v: &Json, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Json::Object(map) if !map.is_empty() => {
            for (k, item) in map {
                out.push_str(&format!("{pad}{}:", yaml_scalar(k)));
                yaml_nested(item, indent, out);
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    Json::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        yaml_dump(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                    _ => yaml_nested(item, indent, out),
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&yaml_inline(other));
            out.push('\n');
        }
    }
}

fn yaml_nested(item: &Json, indent: usize, out: &mut String) {
    match item {
        Json::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml_dump(item, indent + 2, out);
        }
        // PyYAML does not indent a list under a key.
        Json::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml_dump(item, indent, out);
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_inline(other));
            out.push('\n');
        }
    }
}

fn yaml_inline(v: &Json) -> String {
    match v {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => yaml_scalar(s),
        Json::Array(_) => "[]".to_owned(),
        Json::Object(_) => "{}".to_owned(),
    }
}

/// `toyaml(value, default=none, sort_keys=false)`: `yaml.safe_dump` as dbt calls it.
fn toyaml(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let default = default.or(kwargs.get::<Option<Value>>("default")?);
    kwargs.assert_all_used()?;
    match to_json(&value) {
        Ok(j) => {
            let j = if sort { sort_keys(j) } else { j };
            let mut out = String::new();
            match &j {
                Json::Object(m) if !m.is_empty() => yaml_dump(&j, 0, &mut out),
                Json::Array(a) if !a.is_empty() => yaml_dump(&j, 0, &mut out),
                // PyYAML ends a lone scalar document with `...`.
                other => out.push_str(&format!("{}\n...\n", yaml_inline(other))),
            }
            Ok(Value::from(out))
        }
        Err(e) => default.ok_or(e),
    }
}

/// `zip(*iterables, default=none)`: the items side by side, to the shortest.
fn zip_impl(args: &[Value]) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = args
        .iter()
        .map(|a| {
            a.try_iter()
                .map(|it| it.collect())
                .map_err(|_| err(format!("zip() argument is not iterable: {}", a.kind())))
        })
        .collect::<Result<_, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn zip(args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default: Option<Value> = kwargs.get("default")?;
    kwargs.assert_all_used()?;
    match zip_impl(&args) {
        Ok(v) => Ok(v),
        Err(e) => default.ok_or(e),
    }
}

fn zip_strict(args: Rest<Value>) -> Result<Value, Error> {
    zip_impl(&args)
}

/// A Python `set`: unique items, iterated in insertion order.
#[derive(Debug, Default)]
pub struct PySet(Mutex<IndexSet<Value>>);

fn lock(s: &PySet) -> MutexGuard<'_, IndexSet<Value>> {
    // Held for one operation; a poisoned lock still holds whole data.
    s.0.lock().unwrap_or_else(|p| p.into_inner())
}

impl PySet {
    pub fn value(items: impl IntoIterator<Item = Value>) -> Value {
        Value::from_object(PySet(Mutex::new(items.into_iter().collect())))
    }

    fn items(&self) -> Vec<Value> {
        lock(self).iter().cloned().collect()
    }
}

fn items_of(v: &Value) -> Result<Vec<Value>, Error> {
    if let Some(s) = v.downcast_object_ref::<PySet>() {
        return Ok(s.items());
    }
    v.try_iter()
        .map(|it| it.collect())
        .map_err(|_| err(format!("'{}' object is not iterable", v.kind())))
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(self).get_index(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(self).len())
    }

    /// Python's set equality ignores order (dbt_utils' `equality` compares
    /// two sets of column names). Unequal sets fall back to minijinja's ordered
    /// comparison, which finds them unequal too.
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<PySet>()?;
        // Copies first: never two locks held at once.
        let (mine, theirs) = (self.items(), other.items());
        let same = mine.len() == theirs.len() && mine.iter().all(|v| theirs.contains(v));
        same.then_some(std::cmp::Ordering::Equal)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items = self.items();
        if items.is_empty() {
            return f.write_str("set()");
        }
        f.write_str("{")?;
        for (i, v) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match v.as_str() {
                Some(s) => write!(f, "'{s}'")?,
                None => write!(f, "{v}")?,
            }
        }
        f.write_str("}")
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mine = self.items();
        let others = || -> Result<Vec<IndexSet<Value>>, Error> {
            args.iter()
                .map(|a| items_of(a).map(|v| v.into_iter().collect()))
                .collect()
        };
        match method {
            "add" => {
                let (v,): (Value,) = from_args(args)?;
                lock(self).insert(v);
                Ok(Value::from(()))
            }
            "update" => {
                for o in others()? {
                    lock(self).extend(o);
                }
                Ok(Value::from(()))
            }
            "discard" | "remove" => {
                let (v,): (Value,) = from_args(args)?;
                let removed = lock(self).shift_remove(&v);
                if !removed && method == "remove" {
                    return Err(err(format!("set.remove(x): {v} is not in the set")));
                }
                Ok(Value::from(()))
            }
            "pop" => lock(self)
                .shift_remove_index(0)
                .ok_or_else(|| err("pop from an empty set")),
            "clear" => {
                lock(self).clear();
                Ok(Value::from(()))
            }
            "copy" => Ok(PySet::value(mine)),
            "union" => {
                let mut out: IndexSet<Value> = mine.into_iter().collect();
                for o in others()? {
                    out.extend(o);
                }
                Ok(PySet::value(out))
            }
            "intersection" => {
                let os = others()?;
                Ok(PySet::value(
                    mine.into_iter()
                        .filter(|v| os.iter().all(|o| o.contains(v))),
                ))
            }
            "difference" => {
                let os = others()?;
                Ok(PySet::value(
                    mine.into_iter()
                        .filter(|v| os.iter().all(|o| !o.contains(v))),
                ))
            }
            "symmetric_difference" => {
                let (other,): (Value,) = from_args(args)?;
                let o: IndexSet<Value> = items_of(&other)?.into_iter().collect();
                let m: IndexSet<Value> = mine.iter().cloned().collect();
                let mut out: Vec<Value> = mine.into_iter().filter(|v| !o.contains(v)).collect();
                out.extend(o.into_iter().filter(|v| !m.contains(v)));
                Ok(PySet::value(out))
            }
            "issubset" | "issuperset" | "isdisjoint" => {
                let (other,): (Value,) = from_args(args)?;
                let o: IndexSet<Value> = items_of(&other)?.into_iter().collect();
                let m: IndexSet<Value> = mine.into_iter().collect();
                Ok(Value::from(match method {
                    "issubset" => m.is_subset(&o),
                    "issuperset" => m.is_superset(&o),
                    _ => m.is_disjoint(&o),
                }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// dbt's `set(value, default=none)`: a set, or `default` if `value` is not iterable.
fn set_fn(value: Value, default: Option<Value>) -> Result<Value, Error> {
    match items_of(&value) {
        Ok(items) => Ok(PySet::value(items)),
        Err(_) => Ok(default.unwrap_or(Value::from(()))),
    }
}

fn set_strict(value: Value) -> Result<Value, Error> {
    items_of(&value).map(PySet::value)
}

fn local_md5(value: String) -> String {
    Md5::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn print_fn(msg: Value) -> Value {
    // dbt's print() writes to stdout even under --quiet (it is the user's own output).
    crate::output::println(&msg.to_string());
    Value::from("")
}

/// `try_or_compiler_error(message_if_exception, func, *args, **kwargs)`.
fn try_or_compiler_error(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let (message, rest) = match args.as_slice() {
        [m, f, rest @ ..] => (m.to_string(), (f, rest)),
        _ => {
            return Err(err(
                "try_or_compiler_error(message_if_exception, func, *args, **kwargs) needs a message and a function",
            ))
        }
    };
    rest.0.call(state, rest.1).map_err(|e| {
        err(format!(
            "{message}{}",
            e.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ))
    })
}

/// `diff_of_two_dicts(a, b)`: per key of `a`, the values `b` lacks (keys matched
/// case-insensitively, values exactly, as dbt-core).
fn diff_of_two_dicts(a: Value, b: Value) -> Result<Value, Error> {
    let mut out = indexmap::IndexMap::new();
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    for k in a.try_iter()? {
        let av = a.get_item(&k)?;
        if !b.try_iter()?.any(|bk| lower(&bk) == lower(&k)) {
            out.insert(k, av);
            continue;
        }
        let bv: Vec<Value> = b.get_item(&k)?.try_iter()?.collect();
        let missing: Vec<Value> = av.try_iter()?.filter(|v| !bv.contains(v)).collect();
        if !missing.is_empty() {
            out.insert(k, MutableList::value(missing));
        }
    }
    Ok(MutableDict::value(out))
}

pub fn install(env: &mut Environment<'static>) {
    env.add_function("tojson", tojson);
    env.add_function("fromjson", fromjson);
    env.add_function("toyaml", toyaml);
    env.add_function("fromyaml", fromyaml);
    env.add_function("zip", zip);
    env.add_function("zip_strict", zip_strict);
    env.add_function("set", set_fn);
    env.add_function("set_strict", set_strict);
    env.add_function("local_md5", local_md5);
    env.add_function("print", print_fn);
    env.add_function("try_or_compiler_error", try_or_compiler_error);
    env.add_function("diff_of_two_dicts", diff_of_two_dicts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_hex() {
        assert_eq!(local_md5("abc".into()), "900150983cd24fb0d6963f7d28e17f72");
    }
}
