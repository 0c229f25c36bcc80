//! The warehouse behind introspective Jinja: [`Introspector`] (the render stage's
//! trait) implemented over a live [`Session`].
//!
//! A render is synchronous and needs `'static` values, while a worker's session is
//! borrowed: [`with_session`] lends the session to a scoped thread that answers the
//! render's requests over a channel for as long as the render lasts.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::adapter::{Dialect, RelationKind, RelationName, Session};
use crate::render::introspect::{Introspector, QueryResult};

type Job = Box<dyn FnOnce(&mut dyn Session) + Send>;

/// An [`Introspector`] whose requests a session thread answers.
struct Bridge {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    dialect: &'static dyn Dialect,
}

const ENDED: &str = "the warehouse session of this render has ended";

impl Bridge {
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Session) -> T + Send + 'static,
    ) -> Result<T, String> {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| ENDED.to_owned())?;
        let (reply, answer) = mpsc::channel();
        tx.send(Box::new(move |s: &mut dyn Session| {
            let _ = reply.send(f(s));
        }))
        .map_err(|_| ENDED.to_owned())?;
        answer.recv().map_err(|_| ENDED.to_owned())
    }

    fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Closes the bridge when the render ends, even by unwinding, so the session
/// thread stops waiting.
struct CloseOnDrop(Arc<Bridge>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Run `f` with an introspector answered by `session`.
pub fn with_session<R>(
    session: &mut dyn Session,
    dialect: &'static dyn Dialect,
    f: impl FnOnce(Arc<dyn Introspector>) -> R,
) -> R {
    let (tx, rx) = mpsc::channel::<Job>();
    let bridge = Arc::new(Bridge {
        tx: Mutex::new(Some(tx)),
        dialect,
    });
    std::thread::scope(|scope| {
        // The warehouse's statements run here: DuckDB plans a long `union all`
        // recursively, so this thread gets the big stack too.
        crate::render::limits::spawn_scoped(scope, move || {
            while let Ok(job) = rx.recv() {
                job(&mut *session);
            }
        });
        let _close = CloseOnDrop(Arc::clone(&bridge));
        f(bridge)
    })
}

/// The statement's first keyword, past comments and parentheses.
fn first_keyword(sql: &str) -> String {
    let mut rest = sql;
    loop {
        rest = rest.trim_start().trim_start_matches('(').trim_start();
        if rest.starts_with("--") {
            rest = rest.find('\n').map_or("", |n| &rest[n + 1..]);
        } else if rest.starts_with("/*") {
            rest = rest.find("*/").map_or("", |n| &rest[n + 2..]);
        } else {
            break;
        }
    }
    rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether `sql` returns rows (a query) rather than changing something.
fn returns_rows(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_str(),
        "select" | "with" | "values" | "from" | "table" | "show" | "describe" | "summarize"
    )
}

/// Run one statement as dbt's `statement` does: a query's rows, typed by its
/// columns' warehouse types; anything else executed for its effect.
fn run_statement(session: &mut dyn Session, sql: &str) -> Result<QueryResult, String> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    if sql.is_empty() {
        return Ok(QueryResult::default());
    }
    if !returns_rows(sql) {
        session.execute_atomic(&[sql.to_owned()]).map_err(|e| e.0)?;
        return Ok(QueryResult {
            message: "OK".to_owned(),
            ..QueryResult::default()
        });
    }
    // The warehouse's types make numbers numbers, as agate's inference does.
    let types = session
        .describe(sql)
        .map(|cols| cols.into_iter().map(|(_, t)| t).collect::<Vec<String>>());
    let rows = session.query(sql).map_err(|e| e.0)?;
    let types = types.unwrap_or_else(|_| vec![String::new(); rows.columns.len()]);
    Ok(QueryResult {
        message: format!("SELECT {}", rows.rows.len()),
        columns: rows.columns,
        types,
        rows: rows.rows,
    })
}

impl Introspector for Bridge {
    fn run_query(&self, sql: &str) -> Result<QueryResult, String> {
        let sql = sql.to_owned();
        self.call(move |s| run_statement(s, &sql))?
    }

    fn columns(&self, relation: &RelationName) -> Result<Vec<(String, String)>, String> {
        let sql = format!("select * from {}", self.dialect.render_relation(relation));
        self.call(move |s| s.describe(&sql).map_err(|e| e.0))?
    }

    fn relation_kind(&self, relation: &RelationName) -> Result<Option<RelationKind>, String> {
        let relation = relation.clone();
        self.call(move |s| s.relation_kind(&relation).map_err(|e| e.0))?
    }

    fn list_relations(
        &self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>, String> {
        let (database, schema) = (database.map(str::to_owned), schema.to_owned());
        self.call(
            move |s| match s.list_relations(database.as_deref(), &schema) {
                Ok(Some(found)) => Ok(found),
                Ok(None) => Err(format!(
                    "this warehouse cannot list the relations of schema `{schema}`"
                )),
                Err(e) => Err(e.0),
            },
        )?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_told_from_statements() {
        assert!(returns_rows("select 1"));
        assert!(returns_rows(
            "  -- a note\n(with x as (select 1) select * from x)"
        ));
        assert!(returns_rows("/* c */ SELECT 1"));
        assert!(!returns_rows("insert into t values (1)"));
        assert!(!returns_rows("create table t as select 1"));
    }
}
