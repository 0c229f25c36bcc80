//! The reporter: everything sluice says goes through here, once, as an event.
//!
//! Each message is an [`Event`] with dbt's structured-log fields (`name`, `code`,
//! `level`, `msg`, `ts`, `invocation_id`, and `data`). Where it goes is decided
//! here and nowhere else:
//! - the console, as text (`--log-format text`, the default), with timestamps
//!   (`debug`), or as one JSON object per line (`json`, every event on stdout as
//!   dbt writes them); `-q/--quiet` keeps only errors and the command's result
//!   (`ls`'s lines, `show`'s table);
//! - the log file, `logs/sluice.log` in the project unless `--log-path` says
//!   otherwise, appended, every event whatever `--quiet` says, never in colour,
//!   in `--log-format-file` (dbt's default, `debug`: one timestamped line each).
//!
//! Colour only on a terminal and never under `NO_COLOR` (anstream decides, for
//! diagnostics too). A build on a terminal shows a live progress bar under its
//! node lines; piped, it prints the lines alone.
//!
//! A closed stdout pipe (`sluice ls | head`) never panics, as `println!` would:
//! for a command's result ([`print`]/[`println`]) the process exits with status 0,
//! as ripgrep does; for progress lines the output stops and the command carries
//! on to its real exit status, which does not depend on who reads its log.

pub mod table;

use std::fs::File;
use std::io::{ErrorKind, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value as Json};

use crate::diagnostics::{Diagnostic, Severity};

/// How events are written: to the console (`--log-format`) or the log file
/// (`--log-format-file`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The message alone (a log file line gets dbt's `HH:MM:SS  ` in front).
    Text,
    /// `HH:MM:SS.ffffff [level] [thread]: message`, as dbt's debug format.
    Debug,
    /// One JSON object per event: `{"info": {...}, "data": {...}}`.
    Json,
}

/// How this invocation reports, from the command line ([`init`]).
#[derive(Clone, Debug)]
pub struct Settings {
    pub quiet: bool,
    pub format: Format,
    /// The log file's folder (`None`: no file) and format.
    pub log_dir: Option<LogDir>,
    pub file_format: Format,
}

/// Where the log file goes.
#[derive(Clone, Debug)]
pub enum LogDir {
    /// `--log-path`/`DBT_LOG_PATH`: this folder, whatever the project says.
    Given(PathBuf),
    /// The project's `log-path` once the project is loaded ([`project_log_dir`]),
    /// else this default (`logs/` in the project folder).
    Project(PathBuf),
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            quiet: false,
            format: Format::Text,
            log_dir: None,
            file_format: Format::Debug,
        }
    }
}

/// The log file: lines wait in memory until its folder is known.
enum LogFile {
    None,
    Pending(Vec<String>),
    Open(File),
}

/// The log file's name in its folder, as dbt's `dbt.log`.
const LOG_FILE: &str = "sluice.log";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One message: dbt's structured-log event (`info` fields and `data`).
pub struct Event {
    /// dbt's event name where dbt has the event (`LogModelResult`), else sluice's.
    pub name: &'static str,
    pub level: Level,
    /// The text a person reads; may carry colour, stripped off the console.
    pub msg: String,
    /// The event's fields (`data` in JSON).
    pub data: Json,
}

impl Event {
    pub fn new(name: &'static str, level: Level, msg: impl Into<String>) -> Event {
        let msg = msg.into();
        Event {
            name,
            level,
            data: json!({ "msg": anstream::adapter::strip_str(&msg).to_string() }),
            msg,
        }
    }

    pub fn with_data(mut self, data: Json) -> Event {
        self.data = data;
        self
    }
}

/// Where an event's text goes on the console.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// The command's result on stdout: shown under `--quiet`; a closed pipe exits 0.
    Result,
    /// Progress on stdout: a closed pipe only stops the output.
    Progress,
    /// Notes and diagnostics on stderr.
    Side,
}

struct State {
    settings: Settings,
    file: Mutex<LogFile>,
    bar: Mutex<Option<ProgressBar>>,
}

static STATE: OnceLock<State> = OnceLock::new();
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

fn state() -> &'static State {
    STATE.get_or_init(|| State {
        settings: Settings::default(),
        file: Mutex::new(LogFile::None),
        bar: Mutex::new(None),
    })
}

/// Set how this invocation reports; call once, before anything is said. With
/// `--log-path` the log file opens (appends) now; otherwise its lines wait for the
/// project's `log-path` ([`project_log_dir`]) or the end of the command ([`finish`]).
pub fn init(settings: Settings) {
    let file = match &settings.log_dir {
        None => LogFile::None,
        Some(LogDir::Given(_)) | Some(LogDir::Project(_)) => LogFile::Pending(Vec::new()),
    };
    let given = match &settings.log_dir {
        Some(LogDir::Given(dir)) => Some(dir.clone()),
        _ => None,
    };
    let json_file = settings.file_format == Format::Json;
    let installed = STATE
        .set(State {
            settings,
            file: Mutex::new(file),
            bar: Mutex::new(None),
        })
        .is_ok();
    // dbt's invocation header; a JSON file keeps to one event per line.
    if installed && !json_file {
        write_file_line(&format!(
            "{} {} | {} {}",
            "=".repeat(30),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f"),
            invocation_id(),
            "=".repeat(30)
        ));
    }
    if let Some(dir) = given {
        open_log_in(&dir);
    }
}

/// The loaded project's `log-path` (absolute): the log file's folder unless
/// `--log-path` gave one.
pub fn project_log_dir(dir: &Path) {
    if matches!(state().settings.log_dir, Some(LogDir::Project(_))) {
        open_log_in(dir);
    }
}

/// The command is over: a log file still waiting for its folder goes to the
/// default one (the project was never loaded: `clean`, a load error).
pub fn finish() {
    if let Some(LogDir::Project(dir)) = &state().settings.log_dir {
        open_log_in(dir);
    }
}

/// Open the log file in `dir` and write the lines that waited for it; a file that
/// cannot be written is said once on stderr and the command goes on without it.
fn open_log_in(dir: &Path) {
    let mut file = state().file.lock().unwrap_or_else(|p| p.into_inner());
    let LogFile::Pending(lines) = &mut *file else {
        return;
    };
    let lines = std::mem::take(lines);
    let path = dir.join(LOG_FILE);
    let opened = std::fs::create_dir_all(dir).and_then(|()| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(lines.concat().as_bytes())?;
        Ok(f)
    });
    match opened {
        Ok(f) => *file = LogFile::Open(f),
        Err(e) => {
            *file = LogFile::None;
            drop(file);
            diagnostics(&[Diagnostic::warning(format!(
                "cannot write the log file {}: {e}",
                path.display()
            ))
            .with_help("give --log-path a folder sluice can write")]);
        }
    }
}

/// This invocation's id: in every log event and artifact (`invocation_id`).
pub fn invocation_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(crate::adapter::auth::uuid_v4)
}

/// Is `--quiet` in effect (for commands that would print extras)?
pub fn quiet() -> bool {
    state().settings.quiet
}

/// Colour on stderr: a terminal, and no `NO_COLOR` (anstream's rules).
pub fn color_stderr() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

/// Write `text` to stdout as the command's result (dbt's `PrintEvent`); a closed
/// pipe exits the process with status 0.
pub fn print(text: &str) {
    emit(
        &Event::new("PrintEvent", Level::Info, text.trim_end_matches('\n')),
        Stream::Result,
        text,
    );
}

/// [`print`] with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// A command's result under its own event name (`ShowNode`), with its fields.
pub fn result(event: Event) {
    let text = format!("{}\n", event.msg);
    emit(&event, Stream::Result, &text);
}

/// A progress line on stdout (hidden by `--quiet`).
pub fn progress(line: &str) {
    info(Event::new("Note", Level::Info, line));
}

/// A progress event on stdout (hidden by `--quiet`, unless it is an error).
pub fn info(event: Event) {
    let text = format!("{}\n", event.msg);
    emit(&event, Stream::Progress, &text);
}

/// A note to stderr (timings, `log()` from Jinja); hidden by `--quiet`.
pub fn eprintln(text: &str) {
    emit(
        &Event::new("Note", Level::Info, text),
        Stream::Side,
        &format!("{text}\n"),
    );
}

/// A note under its own event name to stderr (hidden by `--quiet`).
pub fn note(event: Event) {
    let text = format!("{}\n", event.msg);
    emit(&event, Stream::Side, &text);
}

/// Errors and warnings: rendered with their snippet on stderr (colour by
/// [`color_stderr`]); in JSON, one event each with the file, line and column.
/// `--quiet` keeps the errors.
pub fn diagnostics(diagnostics: &[Diagnostic]) {
    let color = color_stderr();
    for d in diagnostics {
        let plain = d.render(false);
        let event = Event {
            name: d.event.unwrap_or(match d.severity {
                Severity::Error => "MainEncounteredError",
                Severity::Warning => "Note",
            }),
            level: match d.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warn,
            },
            data: diagnostic_data(d),
            msg: plain.clone(),
        };
        let text = if color { d.render(true) } else { plain };
        emit(&event, Stream::Side, &format!("{text}\n"));
    }
}

/// A diagnostic's fields: its message, primary place and every label's.
fn diagnostic_data(d: &Diagnostic) -> Json {
    let place = |span: &crate::diagnostics::Span| {
        let (line, column) = span.line_col();
        json!({"file": span.path().display().to_string(), "line": line, "column": column})
    };
    let mut data = json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": d.message,
        "file": Json::Null, "line": Json::Null, "column": Json::Null,
        "help": d.help,
        "notes": d.notes,
        "labels": d.labels.iter().map(|l| {
            let mut p = place(&l.span);
            p["message"] = Json::from(l.message.clone());
            p
        }).collect::<Vec<_>>(),
    });
    if let Some(first) = d.labels.first() {
        let p = place(&first.span);
        for key in ["file", "line", "column"] {
            data[key] = p[key].clone();
        }
    }
    data
}

/// Start the live progress bar for `total` nodes: only for text output on a
/// terminal, not under `--quiet`; node lines scroll above it.
pub fn progress_start(total: u64) {
    let st = state();
    if st.settings.quiet || st.settings.format != Format::Text || !std::io::stdout().is_terminal() {
        return;
    }
    let style = ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} [{elapsed}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout())
        .with_style(style.progress_chars("=> "));
    *st.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
}

/// One node is done: advance the bar (if there is one), showing what finished.
pub fn progress_advance(what: &str) {
    if let Some(bar) = state()
        .bar
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        bar.inc(1);
        bar.set_message(what.to_owned());
    }
}

/// The run is over: remove the bar, leaving the node lines.
pub fn progress_finish() {
    if let Some(bar) = state().bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}

/// Send one event where the settings say; `text` is its console form.
fn emit(event: &Event, stream: Stream, text: &str) {
    let st = state();
    write_file(st, event);
    let shown = stream == Stream::Result || event.level == Level::Error || !st.settings.quiet;
    if !shown {
        return;
    }
    match st.settings.format {
        Format::Text => write_console(stream, text),
        Format::Debug => write_console(stream, &format!("{}\n", debug_line(event))),
        // Every event on stdout, as dbt writes them, so one stream carries all.
        Format::Json => {
            let stream = if stream == Stream::Result {
                Stream::Result
            } else {
                Stream::Progress
            };
            write_console(stream, &format!("{}\n", json_line(event)));
        }
    }
}

fn write_console(stream: Stream, text: &str) {
    let bar = state()
        .bar
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let write = || match stream {
        Stream::Side => {
            // A closed stderr is ignored: there is nowhere left to say so.
            let mut err = anstream::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        }
        Stream::Result => write_result(text),
        Stream::Progress => {
            if !STDOUT_CLOSED.load(Ordering::SeqCst) && write_out(text).is_err() {
                STDOUT_CLOSED.store(true, Ordering::SeqCst);
            }
        }
    };
    match bar {
        // The bar is hidden while a line is written above it, then redrawn.
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

fn write_result(text: &str) {
    if let Err(e) = write_out(text) {
        if e.kind() == ErrorKind::BrokenPipe {
            finish();
            std::process::exit(0);
        }
        // Any other write error (a full disk behind a redirect) is reported once,
        // to stderr, and the output stops; it is not a reason to panic.
        if !STDOUT_CLOSED.swap(true, Ordering::SeqCst) {
            let _ = writeln!(std::io::stderr(), "sluice: cannot write to stdout: {e}");
        }
    }
}

fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn write_file(st: &State, event: &Event) {
    if st.settings.log_dir.is_none() {
        return;
    }
    let line = match st.settings.file_format {
        Format::Json => json_line(event),
        Format::Debug => debug_line(event),
        Format::Text => {
            let msg = anstream::adapter::strip_str(&event.msg).to_string();
            format!("{}  {msg}", chrono::Utc::now().format("%H:%M:%S"))
        }
    };
    write_file_line(&line);
}

fn write_file_line(line: &str) {
    let mut file = state().file.lock().unwrap_or_else(|p| p.into_inner());
    match &mut *file {
        LogFile::None => {}
        LogFile::Pending(lines) => lines.push(format!("{line}\n")),
        LogFile::Open(f) => {
            // One write per line, so processes appending to the same file interleave
            // whole lines; a failed write drops the file rather than the command.
            if f.write_all(format!("{line}\n").as_bytes()).is_err() {
                *file = LogFile::None;
            }
        }
    }
}

/// `18:43:22.012102 [info ] [MainThread]: message`, as dbt's debug format.
fn debug_line(event: &Event) -> String {
    let msg = anstream::adapter::strip_str(&event.msg).to_string();
    format!(
        "{} [{:<5}] [{}]: {msg}",
        chrono::Utc::now().format("%H:%M:%S%.6f"),
        event.level.as_str(),
        thread_name()
    )
}

/// The event as dbt's structured log line: `{"info": {...}, "data": {...}}`.
fn json_line(event: &Event) -> String {
    json!({
        "info": {
            "name": event.name,
            "code": code(event.name),
            "msg": anstream::adapter::strip_str(&event.msg).to_string(),
            "level": event.level.as_str(),
            "ts": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "invocation_id": invocation_id(),
            "pid": std::process::id(),
            "thread": thread_name(),
            "category": "",
            "extra": {},
        },
        "data": event.data,
    })
    .to_string()
}

/// dbt's names for threads: `MainThread`, and the scheduler's workers (unnamed).
fn thread_name() -> String {
    match std::thread::current().name() {
        Some("main") => "MainThread".to_owned(),
        Some(name) => name.to_owned(),
        None => "worker".to_owned(),
    }
}

/// dbt's event code for the events sluice shares with dbt; `""` for sluice's own.
fn code(name: &str) -> &'static str {
    match name {
        "MainReportVersion" => "A001",
        "FoundStats" => "W006",
        "ConcurrencyLine" => "Q027",
        "LogTestResult" => "Q007",
        "LogStartLine" => "Q011",
        "LogModelResult" => "Q012",
        "LogSnapshotResult" => "Q015",
        "LogSeedResult" => "Q016",
        "LogFreshnessResult" => "Q018",
        "LogHookStartLine" => "Q032",
        "LogHookEndLine" => "Q033",
        "NothingToDo" => "Q035",
        "NoNodesSelected" => "Q038",
        "ShowNode" => "Q041",
        "CompiledNode" => "Q042",
        "NoNodesForSelectionCriteria" => "M030",
        "NoNodeForYamlKey" => "I004",
        "JinjaLogInfo" => "I062",
        "DeprecatedModel" => "I065",
        "UpcomingReferenceDeprecation" => "I066",
        "DeprecatedReference" => "I067",
        "UnsupportedConstraintMaterialization" => "I068",
        "FinishedRunningStats" => "E047",
        "ConstraintNotEnforced" => "E048",
        "ConstraintNotSupported" => "E049",
        "MainEncounteredError" => "Z002",
        "StatsLine" => "Z023",
        "RunResultError" => "Z024",
        "RunResultFailure" => "Z022",
        "EndOfRunSummary" => "Z030",
        "JinjaLogWarning" => "Z046",
        "Note" => "Z050",
        "PrintEvent" => "Z052",
        _ => "",
    }
}
