//! Mutable lists and dicts: the values behind dbt's `{% do l.append(x) %}`.
//!
//! minijinja's own sequences and maps are immutable, so list/dict literals and
//! `set` values are routed here by the [`super::rewrite`] pre-pass. A
//! [`MutableList`] is a sequence and a [`MutableDict`] a map to everything else
//! in the engine (length, join, loops, indexing, `in`, tojson, comparison), with
//! Python's mutating methods on top. Also here: the unknown-method callback that
//! adds Python's read-only methods minijinja-contrib's pycompat lacks.

use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

/// A Python list.
#[derive(Debug, Default)]
pub struct MutableList(Mutex<Vec<Value>>);

/// A Python dict (insertion-ordered, as Python's).
#[derive(Debug, Default)]
pub struct MutableDict(Mutex<IndexMap<Value, Value>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Locks are held for one operation that does not call back into templates;
    // a poisoned lock only means a panic elsewhere, and the data is still whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

impl MutableList {
    pub fn value(items: Vec<Value>) -> Value {
        Value::from_object(MutableList(Mutex::new(items)))
    }

    pub fn snapshot(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
}

impl MutableDict {
    pub fn value(map: IndexMap<Value, Value>) -> Value {
        Value::from_object(MutableDict(Mutex::new(map)))
    }
}

fn iterate(v: &Value, method: &str) -> Result<Vec<Value>, Error> {
    v.try_iter()
        .map(|it| it.collect())
        .map_err(|_| err(format!("{method}() needs an iterable, got {}", v.kind())))
}

/// Python's index rules: negative counts from the end.
fn py_index(i: i64, len: usize) -> Option<usize> {
    if i < 0 {
        len.checked_sub(i.unsigned_abs() as usize)
    } else {
        Some(i as usize)
    }
}

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        render_py(Value::from_dyn_object(Arc::clone(self)), f)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "append" => {
                let (v,): (Value,) = from_args(args)?;
                lock(&self.0).push(v);
                Ok(Value::from(()))
            }
            "extend" => {
                let (v,): (Value,) = from_args(args)?;
                let items = iterate(&v, "extend")?;
                lock(&self.0).extend(items);
                Ok(Value::from(()))
            }
            "insert" => {
                let (i, v): (i64, Value) = from_args(args)?;
                let mut l = lock(&self.0);
                // Python clamps the position into the list.
                let at = py_index(i, l.len()).unwrap_or(0).min(l.len());
                l.insert(at, v);
                Ok(Value::from(()))
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                let mut l = lock(&self.0);
                let at = match i {
                    None => l.len().checked_sub(1),
                    Some(i) => py_index(i, l.len()).filter(|&a| a < l.len()),
                };
                match at {
                    Some(at) => Ok(l.remove(at)),
                    None if l.is_empty() => Err(err("pop from empty list")),
                    None => Err(err("pop index out of range")),
                }
            }
            "remove" => {
                let (v,): (Value,) = from_args(args)?;
                let mut l = lock(&self.0);
                match l.iter().position(|x| *x == v) {
                    Some(at) => {
                        l.remove(at);
                        Ok(Value::from(()))
                    }
                    None => Err(err(format!("list.remove(x): {v} is not in list"))),
                }
            }
            "index" => {
                let (v,): (Value,) = from_args(args)?;
                match lock(&self.0).iter().position(|x| *x == v) {
                    Some(at) => Ok(Value::from(at)),
                    None => Err(err(format!("{v} is not in list"))),
                }
            }
            "count" => {
                let (v,): (Value,) = from_args(args)?;
                Ok(Value::from(
                    lock(&self.0).iter().filter(|x| **x == v).count(),
                ))
            }
            "clear" => {
                from_args::<()>(args)?;
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            "reverse" => {
                from_args::<()>(args)?;
                lock(&self.0).reverse();
                Ok(Value::from(()))
            }
            "sort" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let reverse = kwargs.get::<Option<bool>>("reverse")?.unwrap_or(false);
                kwargs.assert_all_used()?;
                let mut l = lock(&self.0);
                l.sort();
                if reverse {
                    l.reverse();
                }
                Ok(Value::from(()))
            }
            "copy" => {
                from_args::<()>(args)?;
                Ok(MutableList::value(self.snapshot()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl Object for MutableDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).keys().cloned().collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        render_py(Value::from_dyn_object(Arc::clone(self)), f)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "update" => {
                let (other, kwargs): (Option<Value>, Kwargs) = from_args(args)?;
                let mut pairs = Vec::new();
                if let Some(other) = other {
                    match other.kind() {
                        ValueKind::Map => {
                            for k in iterate(&other, "update")? {
                                let v = other.get_item(&k)?;
                                pairs.push((k, v));
                            }
                        }
                        // A list of (key, value) pairs, as Python's dict.update.
                        _ => {
                            for pair in iterate(&other, "update")? {
                                let kv = iterate(&pair, "update")?;
                                match <[Value; 2]>::try_from(kv) {
                                    Ok([k, v]) => pairs.push((k, v)),
                                    Err(_) => {
                                        return Err(err(
                                            "dict.update() takes a dict or (key, value) pairs",
                                        ))
                                    }
                                }
                            }
                        }
                    }
                }
                for k in kwargs.args() {
                    pairs.push((Value::from(k), kwargs.get::<Value>(k)?));
                }
                lock(&self.0).extend(pairs);
                Ok(Value::from(()))
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                match (lock(&self.0).shift_remove(&key), default) {
                    (Some(v), _) | (None, Some(v)) => Ok(v),
                    (None, None) => Err(err(format!("dict.pop(): key {key} is not in the dict"))),
                }
            }
            "popitem" => {
                from_args::<()>(args)?;
                match lock(&self.0).pop() {
                    Some((k, v)) => Ok(Value::from(vec![k, v])),
                    None => Err(err("popitem(): dictionary is empty")),
                }
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut d = lock(&self.0);
                Ok(d.entry(key)
                    .or_insert_with(|| default.unwrap_or(Value::from(())))
                    .clone())
            }
            "clear" => {
                from_args::<()>(args)?;
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            "copy" => {
                from_args::<()>(args)?;
                Ok(MutableDict::value(lock(&self.0).clone()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A list literal's value (`__sluice_list([...])`).
fn list_fn(v: Value) -> Value {
    match v.downcast_object_ref::<Vec<Value>>() {
        Some(items) => MutableList::value(items.clone()),
        None => v,
    }
}

/// A dict literal's value (`__sluice_dict({...})`).
fn dict_fn(v: Value) -> Value {
    match v.downcast_object_ref::<IndexMap<Value, Value>>() {
        Some(map) => MutableDict::value(map.clone()),
        None => v,
    }
}

/// A `set` value (`__sluice_mut((...))`): the engine's immutable lists and dicts
/// (and lazy sequences such as `a + b`) become mutable copies; anything else,
/// including values that are already mutable and other objects, is kept as is.
pub fn mutable(v: Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v;
    };
    if obj.downcast_ref::<MutableList>().is_some() || obj.downcast_ref::<MutableDict>().is_some() {
        return v;
    }
    if let Some(items) = obj.downcast_ref::<Vec<Value>>() {
        return MutableList::value(items.clone());
    }
    if let Some(map) = obj.downcast_ref::<IndexMap<Value, Value>>() {
        return MutableDict::value(map.clone());
    }
    // `a + b` on lists is a lazy view of both: Python gives a new list.
    if obj.repr() == ObjectRepr::Iterable && obj.enumerator_len().is_some() {
        if let Some(it) = obj.try_iter() {
            return MutableList::value(it.collect());
        }
    }
    v
}

const MUTATING: &[&str] = &[
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "reverse",
    "sort",
    "update",
    "setdefault",
    "popitem",
];

/// pycompat's methods, then the Python methods it lacks; a mutating method on a
/// value the engine made immutable gets an error saying how to get a list.
pub fn unknown_method_callback(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let (Some(s), "replace", [from, to, ..]) = (value.as_str(), method, args) {
        if let (Some(from), Some(to)) = (from.as_str(), to.as_str()) {
            crate::render::limits::check_replace(s, from, to)?;
        }
    }
    match minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args) {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => {}
        other => return other,
    }
    match (value.kind(), method) {
        (ValueKind::Seq | ValueKind::Iterable, "index") => {
            let (v,): (Value,) = from_args(args)?;
            match value.try_iter()?.position(|x| x == v) {
                Some(at) => Ok(Value::from(at)),
                None => Err(err(format!("{v} is not in list"))),
            }
        }
        (ValueKind::Iterable, "count") => {
            let (v,): (Value,) = from_args(args)?;
            Ok(Value::from(value.try_iter()?.filter(|x| *x == v).count()))
        }
        (ValueKind::Seq | ValueKind::Iterable, "copy") => {
            Ok(MutableList::value(value.try_iter()?.collect()))
        }
        (ValueKind::Map, "copy") => {
            let mut map = IndexMap::new();
            for k in value.try_iter()? {
                let v = value.get_item(&k)?;
                map.insert(k, v);
            }
            Ok(MutableDict::value(map))
        }
        (ValueKind::String, _) => super::strings::method(value, method, args),
        (ValueKind::Seq | ValueKind::Iterable | ValueKind::Map, m) if MUTATING.contains(&m) => {
            Err(err(format!(
                "this {} cannot be changed in place: it was made by a filter or an \
                 expression; bind it first with `{{% set x = ... %}}` (which gives a \
                 mutable copy), then call `x.{m}(...)`",
                value.kind()
            )))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

/// Install the literal constructors and the method callback.
pub fn install(env: &mut Environment<'static>) {
    env.add_function(super::rewrite::LIST_FN, list_fn);
    env.add_function(super::rewrite::DICT_FN, dict_fn);
    env.add_function(super::rewrite::MUT_FN, mutable);
    // `{% do CALL if COND %}`, rewritten: the value was computed (or not); nothing
    // is printed.
    env.add_function(super::rewrite::DO_FN, |_: minijinja::value::Value| ());
    env.set_unknown_method_callback(unknown_method_callback);
    env.add_filter("replace", crate::render::limits::replace_filter);
}

/// Python's `repr` of a template value, as dbt prints a list or dict.
pub fn py_repr(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            // Python quotes with ' unless the text has ' and no ".
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            out.push(q);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(q);
        }
        ValueKind::Seq => {
            out.push('[');
            for (i, item) in v.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(&item, out);
            }
            out.push(']');
        }
        ValueKind::Map if v.as_object().is_some_and(|o| o.repr() == ObjectRepr::Map) => {
            out.push('{');
            for (i, k) in v.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(&k, out);
                out.push_str(": ");
                py_repr(&v.get_item(&k).unwrap_or_default(), out);
            }
            out.push('}');
        }
        _ => out.push_str(&v.to_string()),
    }
}

fn render_py(v: Value, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let mut out = String::new();
    py_repr(&v, &mut out);
    f.write_str(&out)
}
