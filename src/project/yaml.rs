//! YAML with positions: a small document tree where every node keeps its [`Span`].
//!
//! serde_yaml discards positions once a document is deserialized, and sluice's errors
//! must point at the key or value that is wrong. So YAML is parsed with yaml-rust2's
//! marked event stream into [`Node`]s, and the loader reads typed values out of them
//! with the `expect_*` helpers, which produce located diagnostics. Scalars follow the
//! YAML 1.2 core schema (`true`, `null`, `1`, `1.5`; quoted scalars are strings).

use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping's entries, keyed by string (non-string keys are rejected on load).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node, &Node)> {
        let entries: &[(Node, Node)] = match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        };
        entries
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default(), k, v))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| v)
    }

    /// The span of a key in a mapping (for errors about the key itself).
    pub fn key_span(&self, key: &str) -> Option<&Span> {
        self.entries()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| &k.span)
    }

    fn type_error(&self, what: &str, expected: &str) -> Diagnostic {
        Diagnostic::error(format!(
            "{what} must be {expected}, found {}",
            self.kind_name()
        ))
        .with_label(&self.span, format!("expected {expected}"))
    }

    pub fn expect_str(&self, what: &str) -> Result<&str, Diagnostic> {
        self.as_str()
            .ok_or_else(|| self.type_error(what, "a string"))
    }

    /// A scalar read as text: strings, numbers and booleans (for names and versions).
    pub fn expect_scalar_text(&self, what: &str) -> Result<String, Diagnostic> {
        match &self.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.type_error(what, "a string")),
        }
    }

    pub fn expect_bool(&self, what: &str) -> Result<bool, Diagnostic> {
        match self.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.type_error(what, "true or false")),
        }
    }

    pub fn expect_int(&self, what: &str) -> Result<i64, Diagnostic> {
        match self.value {
            Value::Int(i) => Ok(i),
            _ => Err(self.type_error(what, "an integer")),
        }
    }

    pub fn expect_seq(&self, what: &str) -> Result<&[Node], Diagnostic> {
        match &self.value {
            Value::Seq(items) => Ok(items),
            _ => Err(self.type_error(what, "a list")),
        }
    }

    pub fn expect_map(&self, what: &str) -> Result<&Node, Diagnostic> {
        match &self.value {
            Value::Map(_) => Ok(self),
            _ => Err(self.type_error(what, "a mapping")),
        }
    }

    /// A string or a list of strings (dbt accepts both for `tags`, paths, hooks).
    pub fn expect_str_list(&self, what: &str) -> Result<Vec<String>, Diagnostic> {
        match &self.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::Seq(items) => items
                .iter()
                .map(|i| i.expect_str(what).map(str::to_owned))
                .collect(),
            _ => Err(self.type_error(what, "a string or a list of strings")),
        }
    }

    /// Convert to JSON (for vars, meta and config values that flow into templates).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The keys a YAML mapping may hold, and what sluice does with the others.
pub struct KeySet<'a> {
    /// What the mapping is, for messages ("a model property", "project.yml").
    pub what: &'a str,
    /// Keys sluice implements.
    pub known: &'a [&'a str],
    /// Keys dbt knows that sluice accepts but ignores for now: a warning names them.
    pub ignored: &'a [&'a str],
}

impl KeySet<'_> {
    /// Check every key of `map`: unknown keys are errors with a suggestion, keys dbt
    /// knows but sluice ignores become warnings.
    pub fn check(&self, map: &Node, warnings: &mut Vec<Diagnostic>) -> Result<(), Diagnostic> {
        for (key, key_node, _) in map.entries() {
            if self.known.contains(&key) {
                continue;
            }
            if self.ignored.contains(&key) {
                warnings.push(
                    Diagnostic::warning(format!(
                        "`{key}` in {} is a dbt key sluice does not support yet; it is ignored",
                        self.what
                    ))
                    .with_event(crate::diagnostics::event::UNSUPPORTED_KEY)
                    .with_label(&key_node.span, "ignored"),
                );
                continue;
            }
            let all = self.known.iter().chain(self.ignored).copied();
            let help = suggestion_help(key, all.clone(), || {
                format!("the keys allowed here are: {}", self.known.join(", "))
            });
            return Err(
                Diagnostic::error(format!("unknown key `{key}` in {}", self.what))
                    .with_label(&key_node.span, "unknown key")
                    .with_help(help),
            );
        }
        Ok(())
    }
}

/// Parse one YAML document. An empty file is an empty mapping.
pub fn parse(file: &Arc<SourceFile>) -> Result<Node, Diagnostic> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        root: None,
        anchors: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(&file.text);
    if let Err(e) = parser.load(&mut builder, false) {
        let mark = e.marker();
        let offset = file.offset_of(mark.line(), mark.col());
        let span = Span::new(file, offset, offset);
        return Err(Diagnostic::error(format!("invalid YAML: {}", e.info()))
            .with_label(&span, "the YAML parser stopped here")
            .with_help("check the indentation and quoting around this line"));
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or_else(|| Node {
        value: Value::Map(Vec::new()),
        span: Span::file_start(file),
    }))
}

enum Frame {
    Seq(Vec<Node>, Span, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Span, usize),
}

struct Builder<'a> {
    file: &'a Arc<SourceFile>,
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: Vec<(usize, Node)>,
    error: Option<Diagnostic>,
}

impl Builder<'_> {
    fn span_at(&self, mark: Marker, len: usize) -> Span {
        let start = self.file.offset_of(mark.line(), mark.col());
        Span::new(self.file, start, start + len)
    }

    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(entries, pending_key, _, _)) => match pending_key.take() {
                None => {
                    if !matches!(node.value, Value::Str(_)) && self.error.is_none() {
                        self.error = Some(
                            Diagnostic::error("mapping keys must be strings")
                                .with_label(&node.span, "this key is not a plain string"),
                        );
                    }
                    let key = node.as_str().unwrap_or_default();
                    if let Some((dup, _)) = entries.iter().find(|(k, _)| k.as_str() == Some(key)) {
                        if self.error.is_none() {
                            self.error = Some(
                                Diagnostic::error(format!("duplicate key `{key}`"))
                                    .with_label(&node.span, "defined again here")
                                    .with_label(&dup.span, "first defined here")
                                    .with_help("remove one of the two entries"),
                            );
                        }
                    }
                    *pending_key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::Int(i);
    }
    let looks_numeric = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && s.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_owned())
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let (value, len) = match style {
                    TScalarStyle::Plain => (plain_scalar(&text), text.len()),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                        let len = text.len() + 2;
                        (Value::Str(text), len)
                    }
                    _ => (Value::Str(text), 1),
                };
                let span = self.span_at(mark, len);
                self.push_node(Node { value, span }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let span = self.span_at(mark, 1);
                self.stack.push(Frame::Seq(Vec::new(), span, anchor));
            }
            Event::MappingStart(anchor, _) => {
                let span = self.span_at(mark, 1);
                self.stack.push(Frame::Map(Vec::new(), None, span, anchor));
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, span, anchor)) = self.stack.pop() {
                    let node = Node {
                        value: Value::Seq(items),
                        span,
                    };
                    self.push_node(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, _, span, anchor)) = self.stack.pop() {
                    // Merge keys (`<<: *anchor`) are resolved here, as YAML 1.1 does.
                    let mut merged: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
                    for (k, v) in entries {
                        if k.as_str() == Some("<<") {
                            if let Value::Map(inner) = v.value {
                                for (ik, iv) in inner {
                                    if !merged.iter().any(|(mk, _)| mk.as_str() == ik.as_str()) {
                                        merged.push((ik, iv));
                                    }
                                }
                            }
                        } else {
                            merged.retain(|(mk, _)| mk.as_str() != k.as_str());
                            merged.push((k, v));
                        }
                    }
                    let node = Node {
                        value: Value::Map(merged),
                        span,
                    };
                    self.push_node(node, anchor);
                }
            }
            Event::Alias(id) => {
                let found = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                let span = self.span_at(mark, 1);
                let node = found.unwrap_or(Node {
                    value: Value::Null,
                    span,
                });
                self.push_node(node, 0);
            }
            _ => {}
        }
    }
}
