//! User-facing diagnostics: every error and warning sluice prints.
//!
//! A [`Diagnostic`] carries a message, the [`Span`]s it is about (a file and a byte
//! range in it), and an optional fix hint. Rendering goes through
//! `annotate-snippets`, the renderer rustc and ruff use, so every error shows
//! `file:line:col`, the offending source lines and a caret under the spot.
//!
//! Library code returns [`Diagnostics`] (one or more errors) for invalid input; the
//! CLI renders them and exits with code 2.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use annotate_snippets::{Level, Renderer, Snippet};

/// A file sluice read, kept whole so diagnostics can quote it.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as shown to the user (relative to the project directory).
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of each line's start, computed on first use (YAML spans ask
    /// for many offsets in the same file).
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<SourceFile> {
        Arc::new(SourceFile {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        })
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// Byte offset of a 1-based line and 0-based character column.
    pub fn offset_of(&self, line: usize, col0: usize) -> usize {
        let starts = self.line_starts();
        let Some(&start) = line.checked_sub(1).and_then(|l| starts.get(l)) else {
            return self.text.len();
        };
        let end = starts.get(line).copied().unwrap_or(self.text.len());
        let text = &self.text[start..end];
        start + text.char_indices().nth(col0).map_or(text.len(), |(b, _)| b)
    }

    /// The byte range of a whole 1-based line, without its newline.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = self.offset_of(line, 0);
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        start..end
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A byte range in a source file.
#[derive(Clone)]
pub struct Span {
    pub file: Arc<SourceFile>,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: &Arc<SourceFile>, start: usize, end: usize) -> Span {
        let len = file.text.len();
        let start = floor_char_boundary(&file.text, start.min(len));
        let end = floor_char_boundary(&file.text, end.clamp(start, len));
        Span {
            file: Arc::clone(file),
            start,
            end,
        }
    }

    /// A span covering the first line of a file: for errors about a whole file.
    pub fn file_start(file: &Arc<SourceFile>) -> Span {
        let end = file.text.find('\n').unwrap_or(file.text.len());
        Span::new(file, 0, end)
    }

    /// The span of a whole 1-based line.
    pub fn line(file: &Arc<SourceFile>, line: usize) -> Span {
        let r = file.line_range(line);
        Span::new(file, r.start, r.end)
    }

    pub fn line_col(&self) -> (usize, usize) {
        self.file.line_col(self.start)
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// `path:line:col`, the way editors and terminals link to a place.
    pub fn location(&self) -> String {
        let (line, col) = self.line_col();
        format!("{}:{line}:{col}", self.file.path.display())
    }

    pub fn text(&self) -> &str {
        &self.file.text[self.start..self.end]
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One error or warning, with the places it is about and how to fix it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The first label is the primary location; the rest are context.
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
    /// A warning's event name (dbt's where dbt has one, see [`event`]), shown as
    /// `warning[Name]` so `--warn-error-options` can name it.
    pub event: Option<&'static str>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            event: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn with_label(mut self, span: &Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span: span.clone(),
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Name the event this diagnostic is (one of [`event::ALL`]).
    pub fn with_event(mut self, event: &'static str) -> Diagnostic {
        self.event = Some(event);
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The primary location, if the diagnostic has one.
    pub fn location(&self) -> Option<String> {
        self.labels.first().map(|l| l.span.location())
    }

    /// Render as rustc does: header, `--> file:line:col`, snippet, caret, help.
    pub fn render(&self, color: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        // Group labels by file so each file is quoted once.
        let mut files: Vec<(&Arc<SourceFile>, Vec<&Label>)> = Vec::new();
        for label in &self.labels {
            match files
                .iter_mut()
                .find(|(f, _)| Arc::ptr_eq(f, &label.span.file))
            {
                Some((_, labels)) => labels.push(label),
                None => files.push((&label.span.file, vec![label])),
            }
        }
        let paths: Vec<String> = files
            .iter()
            .map(|(f, _)| f.path.display().to_string())
            .collect();
        let mut message = level.title(&self.message);
        if let Some(event) = self.event {
            message = message.id(event);
        }
        for (i, (file, labels)) in files.iter().enumerate() {
            let mut snippet = Snippet::source(&file.text)
                .origin(&paths[i])
                .line_start(1)
                // Long files show only the lines around each label.
                .fold(file.text.lines().count() > 12);
            for (j, label) in labels.iter().enumerate() {
                let annotation_level = if i == 0 && j == 0 { level } else { Level::Info };
                // An empty range renders no caret; widen it to one character.
                let mut range = label.span.start..label.span.end;
                if range.is_empty() {
                    range.end = next_char_end(&file.text, range.start);
                }
                snippet = snippet.annotation(annotation_level.span(range).label(&label.message));
            }
            message = message.snippet(snippet);
        }
        for note in &self.notes {
            message = message.footer(Level::Note.title(note));
        }
        if let Some(help) = &self.help {
            message = message.footer(Level::Help.title(help));
        }
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let rendered = renderer.render(message).to_string();
        rendered
    }
}

fn next_char_end(text: &str, start: usize) -> usize {
    if start >= text.len() {
        return text.len();
    }
    text[start..]
        .chars()
        .next()
        .map_or(text.len(), |c| start + c.len_utf8())
}

/// One or more errors: the `Err` of every fallible stage of the pipeline.
#[derive(Debug)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn render(&self, color: bool) -> String {
        self.0
            .iter()
            .map(|d| d.render(color))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(d: Vec<Diagnostic>) -> Diagnostics {
        Diagnostics(d)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

pub type Result<T, E = Diagnostics> = std::result::Result<T, E>;

/// The closest candidate to `name`, for "did you mean" hints.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    closest_within(name, candidates, 0.8)
}

/// The candidate most like `name` with a Jaro-Winkler similarity of at least
/// `min_similarity` (0.8 for suggestions; higher to call something a typo).
pub fn closest_within<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    min_similarity: f64,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= min_similarity)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// "`what` `name` is defined twice", pointing at both definitions.
pub fn defined_twice(what: &str, name: &str, again: &Span, first: &Span) -> Diagnostic {
    Diagnostic::error(format!("{what} `{name}` is defined twice"))
        .with_label(again, "defined again here")
        .with_label(first, "first defined here")
}

/// A "did you mean `x`?" help text, or the fallback when nothing is close.
pub fn suggestion_help<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fallback: impl FnOnce() -> String,
) -> String {
    match did_you_mean(name, candidates) {
        Some(best) => format!("did you mean `{best}`?"),
        None => fallback(),
    }
}

/// The name of every warning sluice emits: dbt's event name where dbt has the same
/// warning, sluice's own otherwise. `--warn-error-options` names these.
pub mod event {
    /// A `--select`/`--exclude` term matched no node (dbt M030).
    pub const NO_NODES_FOR_SELECTION_CRITERIA: &str = "NoNodesForSelectionCriteria";
    /// The selection left nothing to run (dbt Q035).
    pub const NOTHING_TO_DO: &str = "NothingToDo";
    /// `ls` selected nothing (dbt Q038).
    pub const NO_NODES_SELECTED: &str = "NoNodesSelected";
    /// sluice: `ls --resource-type` named a kind sluice's graph has no nodes of.
    pub const RESOURCE_TYPE_NOT_LISTED: &str = "ResourceTypeNotListed";
    /// YAML properties for a model that has no file (dbt I004).
    pub const NO_NODE_FOR_YAML_KEY: &str = "NoNodeForYamlKey";
    /// A key repeated in a mapping of a file dbt reads (dbt's name).
    pub const DUPLICATE_YAML_KEYS: &str = "DuplicateYAMLKeysDeprecation";
    /// A seed's properties under `models:` in a properties file (dbt's name).
    pub const WRONG_RESOURCE_SCHEMA_FILE: &str = "WrongResourceSchemaFile";
    /// A config key dbt does not define, kept in the node's config (dbt's name).
    pub const CUSTOM_KEY_IN_CONFIG: &str = "CustomKeyInConfigDeprecation";
    /// `{{ exceptions.warn(...) }}` in Jinja (dbt Z046).
    pub const JINJA_LOG_WARNING: &str = "JinjaLogWarning";
    /// A data test with `severity: warn` found rows (dbt Q007).
    pub const LOG_TEST_RESULT: &str = "LogTestResult";
    /// sluice: a dbt config key sluice does not support yet, ignored.
    pub const UNSUPPORTED_CONFIG: &str = "UnsupportedConfigIgnored";
    /// sluice: a dbt YAML key sluice does not support yet, ignored.
    pub const UNSUPPORTED_KEY: &str = "UnsupportedKeyIgnored";
    /// sluice: a SQL check found a likely mistake (`static_analysis` warnings).
    pub const SQL_CHECK: &str = "SqlCheckWarning";
    /// sluice: the `--state` folder has no sluice_state.json, so vars are not compared.
    pub const STATE_WITHOUT_VARS: &str = "StateVarsUnknown";
    /// sluice: the warehouse reported a problem after the run (a failed checkpoint).
    pub const WAREHOUSE_AFTER_RUN: &str = "WarehouseAfterRun";
    /// sluice: the project's `{% materialization table %}` (or view, ...) is not
    /// used; sluice builds its own materializations.
    pub const MATERIALIZATION_OVERRIDE: &str = "BuiltinMaterializationOverrideIgnored";
    /// A version of a model is past its `deprecation_date` (dbt I065).
    pub const DEPRECATED_MODEL: &str = "DeprecatedModel";
    /// A model refs a version with a `deprecation_date` to come (dbt I066).
    pub const UPCOMING_REFERENCE_DEPRECATION: &str = "UpcomingReferenceDeprecation";
    /// A model refs a version past its `deprecation_date` (dbt I067).
    pub const DEPRECATED_REFERENCE: &str = "DeprecatedReference";

    /// Constraints on a model whose materialization does not apply them (dbt I068).
    pub const UNSUPPORTED_CONSTRAINT_MATERIALIZATION: &str = "UnsupportedConstraintMaterialization";
    /// A constraint the warehouse writes in DDL but does not check (dbt E048).
    pub const CONSTRAINT_NOT_ENFORCED: &str = "ConstraintNotEnforced";
    /// A constraint the warehouse does not support, left out of the DDL (dbt E049).
    pub const CONSTRAINT_NOT_SUPPORTED: &str = "ConstraintNotSupported";
    /// sluice: an enforced contract on an ephemeral model, which nothing checks.
    pub const CONTRACT_NOT_CHECKED: &str = "ContractNotChecked";

    pub const ALL: &[&str] = &[
        NO_NODES_FOR_SELECTION_CRITERIA,
        NOTHING_TO_DO,
        NO_NODES_SELECTED,
        RESOURCE_TYPE_NOT_LISTED,
        NO_NODE_FOR_YAML_KEY,
        JINJA_LOG_WARNING,
        LOG_TEST_RESULT,
        UNSUPPORTED_CONFIG,
        UNSUPPORTED_KEY,
        SQL_CHECK,
        STATE_WITHOUT_VARS,
        WAREHOUSE_AFTER_RUN,
        MATERIALIZATION_OVERRIDE,
        DEPRECATED_MODEL,
        UPCOMING_REFERENCE_DEPRECATION,
        DEPRECATED_REFERENCE,
        UNSUPPORTED_CONSTRAINT_MATERIALIZATION,
        CONSTRAINT_NOT_ENFORCED,
        CONSTRAINT_NOT_SUPPORTED,
        CONTRACT_NOT_CHECKED,
        CUSTOM_KEY_IN_CONFIG,
        WRONG_RESOURCE_SCHEMA_FILE,
        DUPLICATE_YAML_KEYS,
    ];
}

/// Which warnings are errors, and which are not shown: dbt's `--warn-error` and
/// `--warn-error-options` (`error`/`warn`/`silence`, or the older
/// `include`/`exclude`). Set once per process by the CLI.
#[derive(Clone, Debug, Default)]
pub struct WarnErrorPolicy {
    /// Every warning is an error (`--warn-error`, `error: all`).
    pub error_all: bool,
    pub error: Vec<String>,
    /// Stay warnings even under `error_all`.
    pub warn: Vec<String>,
    /// Not shown at all (and so never errors).
    pub silence: Vec<String>,
}

/// What the policy makes of one warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarningFate {
    Warn,
    Error,
    Silence,
}

impl WarnErrorPolicy {
    pub fn fate(&self, event: Option<&str>) -> WarningFate {
        let named = |list: &[String]| event.is_some_and(|e| list.iter().any(|n| n == e));
        if named(&self.silence) {
            WarningFate::Silence
        } else if (self.error_all || named(&self.error)) && !named(&self.warn) {
            WarningFate::Error
        } else {
            WarningFate::Warn
        }
    }

    /// Split warnings into those still shown as warnings and those that are now
    /// errors; silenced ones are dropped. Errors pass through untouched.
    pub fn apply(&self, diagnostics: &[Diagnostic]) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let (mut shown, mut errors) = (Vec::new(), Vec::new());
        for d in diagnostics {
            if d.severity == Severity::Error {
                shown.push(d.clone());
                continue;
            }
            match self.fate(d.event) {
                WarningFate::Warn => shown.push(d.clone()),
                WarningFate::Silence => {}
                WarningFate::Error => {
                    let mut e = d.clone();
                    e.severity = Severity::Error;
                    e.notes.push(format!(
                        "this warning is an error because of --warn-error{}",
                        if self.error_all { "" } else { "-options" }
                    ));
                    errors.push(e);
                }
            }
        }
        (shown, errors)
    }
}

static POLICY: OnceLock<WarnErrorPolicy> = OnceLock::new();

/// Set the process's warning policy (the CLI does, once, from its flags).
pub fn set_policy(policy: WarnErrorPolicy) {
    let _ = POLICY.set(policy);
}

/// The process's warning policy: none unless the CLI set one.
pub fn policy() -> &'static WarnErrorPolicy {
    POLICY.get_or_init(WarnErrorPolicy::default)
}
