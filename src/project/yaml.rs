//! YAML with positions: a small document tree where every node keeps its [`Span`].
//!
//! serde_yaml discards positions once a document is deserialized, and sluice's errors
//! must point at the key or value that is wrong. So YAML is parsed with yaml-rust2's
//! marked event stream into [`Node`]s, and the loader reads typed values out of them
//! with the `expect_*` helpers, which produce located diagnostics. Scalars follow the
//! YAML 1.2 core schema (`true`, `null`, `1`, `1.5`; quoted scalars are strings).

use std::collections::HashMap;
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

/// The largest YAML file sluice reads (64 MiB): properties files are hand-written,
/// and a bigger one is a mistake or an attack, not a project (docs/limits.md).
pub const MAX_DOCUMENT_BYTES: usize = 64 << 20;

/// The most nodes a document may expand to, aliases counted at their full size
/// (1,000,000): bounds "billion laughs" alias bombs (docs/limits.md).
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

/// The deepest nesting of lists and mappings (256): sluice walks YAML trees
/// recursively, so depth is bounded rather than the stack (docs/limits.md).
pub const MAX_NESTING: usize = 256;

/// Parse one YAML document. An empty file is an empty mapping.
pub fn parse(file: &Arc<SourceFile>) -> Result<Node, Diagnostic> {
    parse_document(file, Duplicates::Refuse).map(|(node, _)| node)
}

/// What a mapping's repeated key is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Duplicates {
    /// An error (sluice's own files).
    Refuse,
    /// A warning, the last value winning, as dbt-core 1.10+ reads its files
    /// (`DuplicateYAMLKeysDeprecation`; PyYAML keeps the last value).
    WarnLastWins,
}

/// [`parse`] for a file dbt reads (dbt_project.yml, properties files): a repeated
/// key is a warning and its last value wins, as in dbt-core.
pub fn parse_dbt_file(
    file: &Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Node, Diagnostic> {
    let (node, found) = parse_document(file, Duplicates::WarnLastWins)?;
    warnings.extend(found);
    Ok(node)
}

fn parse_document(
    file: &Arc<SourceFile>,
    duplicates: Duplicates,
) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    if file.text.len() > MAX_DOCUMENT_BYTES {
        return Err(Diagnostic::error(format!(
            "{} is {} MiB, more than the {} MiB sluice reads from a YAML file",
            file.path.display(),
            file.text.len() >> 20,
            MAX_DOCUMENT_BYTES >> 20
        ))
        .with_label(&Span::file_start(file), "in this file")
        .with_help("split it into several properties files (see docs/limits.md)"));
    }
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        expanded: 0,
        error: None,
        duplicates,
        warnings: Vec::new(),
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
    let root = builder.root.unwrap_or_else(|| Node {
        value: Value::Map(Vec::new()),
        span: Span::file_start(file),
    });
    Ok((root, builder.warnings))
}

/// A list or mapping being built: its items, where it starts, its anchor id and its
/// size in nodes so far (itself included), which an alias to it counts again.
enum Frame {
    Seq(Vec<Node>, Span, usize, usize),
    /// Entries, the key waiting for its value, each key's index (duplicates are
    /// found by hashing: a 100,000-key mapping loads in linear time).
    Map(MapFrame, Span, usize, usize),
}

#[derive(Default)]
struct MapFrame {
    entries: Vec<(Node, Node)>,
    pending_key: Option<Node>,
    /// The index of the entry a repeated pending key replaces the value of.
    pending_repeat: Option<usize>,
    index: HashMap<String, usize>,
}

struct Builder<'a> {
    file: &'a Arc<SourceFile>,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchored nodes by id, with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes built so far, aliases counted at their full size.
    expanded: usize,
    error: Option<Diagnostic>,
    duplicates: Duplicates,
    warnings: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn span_at(&self, mark: Marker, len: usize) -> Span {
        let start = self.file.offset_of(mark.line(), mark.col());
        Span::new(self.file, start, start + len)
    }

    /// Add a finished node of `size` nodes to its parent (or make it the root).
    fn push_node(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(items, _, _, parent_size)) => {
                *parent_size += size;
                items.push(node);
            }
            Some(Frame::Map(map, _, _, parent_size)) => {
                *parent_size += size;
                match map.pending_key.take() {
                    None => {
                        if !matches!(node.value, Value::Str(_)) && self.error.is_none() {
                            self.error = Some(
                                Diagnostic::error("mapping keys must be strings")
                                    .with_label(&node.span, "this key is not a plain string"),
                            );
                        }
                        let key = node.as_str().unwrap_or_default().to_owned();
                        let next = map.entries.len();
                        if let Some(&first) = map.index.get(&key) {
                            let first_span = map.entries.get(first).map(|(k, _)| k.span.clone());
                            match self.duplicates {
                                Duplicates::Refuse if self.error.is_none() => {
                                    let mut d = Diagnostic::error(format!("duplicate key `{key}`"))
                                        .with_label(&node.span, "defined again here");
                                    if let Some(span) = &first_span {
                                        d = d.with_label(span, "first defined here");
                                    }
                                    self.error = Some(d.with_help("remove one of the two entries"));
                                }
                                Duplicates::Refuse => {}
                                Duplicates::WarnLastWins => {
                                    let mut d = Diagnostic::warning(format!(
                                        "duplicate key `{key}`: the last one is used, as dbt does"
                                    ))
                                    .with_event(crate::diagnostics::event::DUPLICATE_YAML_KEYS)
                                    .with_label(&node.span, "this value is used");
                                    if let Some(span) = &first_span {
                                        d = d.with_label(span, "this one is ignored");
                                    }
                                    self.warnings
                                        .push(d.with_help("remove one of the two entries"));
                                    map.pending_repeat = Some(first);
                                }
                            }
                        } else {
                            map.index.insert(key, next);
                        }
                        map.pending_key = Some(node);
                    }
                    Some(key) => match map.pending_repeat.take() {
                        // PyYAML keeps the first key's place and the last value.
                        Some(first) => {
                            if let Some(entry) = map.entries.get_mut(first) {
                                entry.1 = node;
                            }
                        }
                        None => map.entries.push((key, node)),
                    },
                }
            }
        }
    }

    /// Count `size` more nodes; past [`MAX_EXPANDED_NODES`] the document is refused.
    fn count(&mut self, size: usize, span: &Span) -> bool {
        self.expanded = self.expanded.saturating_add(size);
        if self.expanded <= MAX_EXPANDED_NODES {
            return true;
        }
        self.error = Some(
            Diagnostic::error(format!(
                "this YAML document expands to more than {MAX_EXPANDED_NODES} nodes"
            ))
            .with_label(span, "the limit is passed here")
            .with_help(
                "aliases (`*name`) repeat what their anchor holds; nested aliases multiply: \
                 write the values out, or split the file (see docs/limits.md)",
            ),
        );
        false
    }

    /// Open a list or mapping; past [`MAX_NESTING`] levels the document is refused.
    fn open(&mut self, frame: Frame, span: &Span) {
        if self.stack.len() >= MAX_NESTING {
            self.error = Some(
                Diagnostic::error(format!(
                    "this YAML document nests lists and mappings more than {MAX_NESTING} deep"
                ))
                .with_label(span, "the limit is passed here")
                .with_help("flatten the structure (see docs/limits.md)"),
            );
            return;
        }
        self.stack.push(frame);
    }
}

/// A mapping's entries with merge keys (`<<: *anchor`) resolved, as YAML 1.1
/// does: the merged entries come first, and the mapping's own keys win.
fn merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return entries;
    }
    let mut merged: Vec<Option<(Node, Node)>> = Vec::with_capacity(entries.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for (k, v) in entries {
        if k.as_str() == Some("<<") {
            if let Value::Map(inner) = v.value {
                for (ik, iv) in inner {
                    let key = ik.as_str().unwrap_or_default().to_owned();
                    if let std::collections::hash_map::Entry::Vacant(e) = index.entry(key) {
                        e.insert(merged.len());
                        merged.push(Some((ik, iv)));
                    }
                }
            }
        } else {
            let key = k.as_str().unwrap_or_default().to_owned();
            if let Some(old) = index.insert(key, merged.len()) {
                merged[old] = None;
            }
            merged.push(Some((k, v)));
        }
    }
    merged.into_iter().flatten().collect()
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
        // The first error is the document's: the rest of the events are not built.
        if self.error.is_some() {
            return;
        }
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
                if self.count(1, &span) {
                    self.push_node(Node { value, span }, anchor, 1);
                }
            }
            Event::SequenceStart(anchor, _) => {
                let span = self.span_at(mark, 1);
                if self.count(1, &span) {
                    self.open(Frame::Seq(Vec::new(), span.clone(), anchor, 1), &span);
                }
            }
            Event::MappingStart(anchor, _) => {
                let span = self.span_at(mark, 1);
                if self.count(1, &span) {
                    let frame = Frame::Map(MapFrame::default(), span.clone(), anchor, 1);
                    self.open(frame, &span);
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, span, anchor, size)) = self.stack.pop() {
                    let node = Node {
                        value: Value::Seq(items),
                        span,
                    };
                    self.push_node(node, anchor, size);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(map, span, anchor, size)) = self.stack.pop() {
                    let node = Node {
                        value: Value::Map(merge_keys(map.entries)),
                        span,
                    };
                    self.push_node(node, anchor, size);
                }
            }
            Event::Alias(id) => {
                let span = self.span_at(mark, 1);
                let (node, size) = self.anchors.get(&id).cloned().unwrap_or((
                    Node {
                        value: Value::Null,
                        span: span.clone(),
                    },
                    1,
                ));
                if self.count(size, &span) {
                    self.push_node(node, 0, size);
                }
            }
            _ => {}
        }
    }
}
