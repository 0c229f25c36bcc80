//! Analyse stage: compiled SQL → sqlparser AST, checked before anything runs.
//!
//! Every compiled model is parsed with its target's dialect. Besides syntax, the
//! check flags functions and types that belong to another warehouse (a DuckDB
//! `date_diff` in Snowflake SQL, a Snowflake `iff` in BigQuery SQL): the local
//! stand-ins accept more than the real warehouses do, so this is where such SQL
//! must be caught.

use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{CastKind, DataType, Expr, Statement, Visit, Visitor};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, TokenizerError};

use crate::adapter::Dialect;
use crate::diagnostics::{Diagnostic, SourceFile, Span};

/// One problem found in compiled SQL, located in the compiled file.
#[derive(Debug)]
pub struct SqlProblem {
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub help: Option<String>,
}

struct ForeignFinder<'a> {
    dialect: &'a dyn Dialect,
    found: Vec<(String, String, &'static str)>,
}

impl Visitor for ForeignFinder<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(f) => {
                let name = f.name.to_string().to_lowercase();
                let short = name.rsplit('.').next().unwrap_or(&name).to_owned();
                if let Some((_, hint)) = self
                    .dialect
                    .foreign_functions()
                    .iter()
                    .find(|(n, _)| *n == short)
                {
                    self.found.push(("function".into(), short, hint));
                }
            }
            Expr::Cast {
                kind, data_type, ..
            } => {
                self.check_type(data_type);
                let warehouse = self.dialect.kind().as_str();
                match (kind, warehouse) {
                    (CastKind::SafeCast, "duckdb" | "snowflake") => {
                        self.found
                            .push(("function".into(), "safe_cast".into(), "dbt.safe_cast"))
                    }
                    (CastKind::TryCast, "bigquery") => {
                        self.found
                            .push(("function".into(), "try_cast".into(), "dbt.safe_cast"))
                    }
                    (CastKind::DoubleColon, "bigquery") => {
                        self.found
                            .push(("syntax".into(), "::".into(), "cast(x as type)"))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl ForeignFinder<'_> {
    fn check_type(&mut self, data_type: &DataType) {
        let text = data_type.to_string().to_lowercase();
        let base = text.split(['(', ' ']).next().unwrap_or(&text).to_owned();
        if let Some((_, hint)) = self
            .dialect
            .foreign_types()
            .iter()
            .find(|(n, _)| *n == base)
        {
            self.found.push(("type".into(), base, hint));
        }
    }
}

/// How deep SQL may nest (subqueries, parenthesised expressions, function calls)
/// for the check to parse it (docs/limits.md). A long flat `union all` is not
/// nesting: sqlparser reads its branches in a loop.
pub const MAX_SQL_NESTING: usize = 256;

/// Compiled SQL read into tokens once: the statement count and the check both
/// need them, and tokenizing is as costly as parsing.
pub struct Tokens(Result<Vec<TokenWithSpan>, TokenizerError>);

/// Tokenize `sql` with the dialect's tokenizer (as sqlparser's `try_with_sql` does).
pub fn tokenize(sql: &str, dialect: &dyn Dialect) -> Tokens {
    let parser_dialect = dialect.parser_dialect();
    // Room for the tokens of typical SQL (a token per 2 bytes or so, whitespace
    // included) up front: growing a vector of tokens copies them each time.
    let mut tokens = Vec::with_capacity(sql.len() / 2 + 16);
    let tokenized =
        Tokenizer::new(parser_dialect.as_ref(), sql).tokenize_with_location_into_buf(&mut tokens);
    Tokens(tokenized.map(|()| tokens))
}

/// Parse `sql` with the dialect's parser; return the problems found.
pub fn check(sql: &str, dialect: &dyn Dialect) -> Vec<SqlProblem> {
    check_tokens(sql, tokenize(sql, dialect), dialect)
}

/// [`check`] on SQL already tokenized by [`tokenize`].
pub fn check_tokens(sql: &str, tokens: Tokens, dialect: &dyn Dialect) -> Vec<SqlProblem> {
    let parser_dialect = dialect.parser_dialect();
    let parsed = tokens.0.map_err(ParserError::from).map(|tokens| {
        let mut parser = Parser::new(parser_dialect.as_ref())
            .with_recursion_limit(MAX_SQL_NESTING)
            .with_tokens_with_locations(tokens);
        (parser.parse_statements(), parser)
    });
    let statements: Vec<Statement> = match parsed {
        Ok((Ok(s), _)) => s,
        Ok((Err(ParserError::RecursionLimitExceeded), parser)) => {
            // The error has no location: the token the parser stopped at has.
            let at = parser.peek_token().span.start;
            return vec![SqlProblem {
                message: format!("the SQL nests more than {MAX_SQL_NESTING} levels deep"),
                line: at.line as usize,
                column: at.column as usize,
                help: Some(
                    "this is sluice's limit on SQL nesting (docs/limits.md): flatten the \
                     subqueries or parentheses, e.g. into CTEs"
                        .to_owned(),
                ),
            }];
        }
        Ok((Err(e), _)) | Err(e) => {
            let msg = e.to_string();
            let (line, column) = location_in(&msg);
            let message = msg
                .trim_start_matches("sql parser error: ")
                .split(" at Line:")
                .next()
                .unwrap_or(&msg)
                .to_owned();
            return vec![SqlProblem {
                message: format!("SQL syntax error: {message}"),
                line,
                column,
                help: Some(format!(
                    "fix the SQL; if {} accepts it and sqlparser does not, set `sql_check: warn` (or `off`) in the model's config",
                    dialect.kind().as_str()
                )),
            }];
        }
    };
    let mut finder = ForeignFinder {
        dialect,
        found: Vec::new(),
    };
    for s in &statements {
        let _ = s.visit(&mut finder);
    }
    let warehouse = dialect.kind().as_str();
    finder
        .found
        .into_iter()
        .map(|(what, name, hint)| {
            let (line, column) = find_word(sql, &name);
            SqlProblem {
                message: format!("{what} `{name}` does not exist in {warehouse}"),
                line,
                column,
                help: Some(format!("use {hint}, which compiles for every warehouse")),
            }
        })
        .collect()
}

/// A model must compile to exactly one statement (dbt wraps it in one `create ...
/// as (...)`): `Empty` when it renders to nothing but whitespace and comments,
/// `Several` (at the second statement) when a `;` separates two. A trailing `;`
/// is one statement. Checked whatever `sql_check` says; SQL the tokenizer cannot
/// read is left to [`check`] and the warehouse.
#[derive(Debug, PartialEq, Eq)]
pub enum StatementCount {
    One,
    Empty,
    Several { line: usize, column: usize },
}

pub fn statement_count(sql: &str, dialect: &dyn Dialect) -> StatementCount {
    count_statements(&tokenize(sql, dialect))
}

/// [`statement_count`] of SQL already tokenized by [`tokenize`].
pub fn count_statements(tokens: &Tokens) -> StatementCount {
    let Ok(tokens) = &tokens.0 else {
        return StatementCount::One;
    };
    let mut seen_code = false;
    let mut after_semicolon = false;
    for t in tokens {
        match t.token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => after_semicolon = seen_code,
            _ if after_semicolon => {
                return StatementCount::Several {
                    line: t.span.start.line as usize,
                    column: t.span.start.column as usize,
                }
            }
            _ => seen_code = true,
        }
    }
    if seen_code {
        StatementCount::One
    } else {
        StatementCount::Empty
    }
}

/// sqlparser reports "... at Line: 3, Column: 14".
fn location_in(msg: &str) -> (usize, usize) {
    let num_after = |key: &str| -> Option<usize> {
        let i = msg.find(key)? + key.len();
        msg[i..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    (
        num_after("Line:").unwrap_or(1),
        num_after("Column:").unwrap_or(1),
    )
}

fn find_word(sql: &str, word: &str) -> (usize, usize) {
    let lower = sql.to_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(word) {
        let at = from + i;
        let before_ok =
            at == 0 || !lower[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let after = at + word.len();
        let after_ok = !lower[after..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if before_ok && after_ok {
            let line = lower[..at].matches('\n').count() + 1;
            let col = at - lower[..at].rfind('\n').map_or(0, |p| p + 1) + 1;
            return (line, col);
        }
        from = after;
    }
    (1, 1)
}

/// A problem as a diagnostic pointing into the compiled file.
pub fn diagnostic(
    problem: &SqlProblem,
    model: &str,
    compiled: &Arc<SourceFile>,
    warn: bool,
) -> Diagnostic {
    let offset = compiled.offset_of(problem.line, problem.column.saturating_sub(1));
    let span = Span::new(compiled, offset, offset + 1);
    let mut d = if warn {
        Diagnostic::warning(format!("in model `{model}`: {}", problem.message))
            .with_event(crate::diagnostics::event::SQL_CHECK)
    } else {
        Diagnostic::error(format!("in model `{model}`: {}", problem.message))
    };
    d = d.with_label(&span, "here");
    if let Some(h) = &problem.help {
        d = d.with_help(h.clone());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{
        bigquery::BigQueryDialect, duckdb::DuckDbDialect, snowflake::SnowflakeDialect,
    };

    #[test]
    fn syntax_error_has_a_location() {
        let problems = check("select a\nfrom t where a = = 1", &DuckDbDialect);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("SQL syntax error"));
        assert_eq!(problems[0].line, 2, "{problems:?}");
    }

    #[test]
    fn a_model_is_one_statement() {
        let one = |sql| statement_count(sql, &DuckDbDialect);
        assert_eq!(one("select 1;\n-- done\n"), StatementCount::One);
        assert_eq!(one("select ';' as a"), StatementCount::One);
        assert_eq!(
            one("-- only a comment\n /* and */ ;"),
            StatementCount::Empty
        );
        assert_eq!(
            one("select 1;\n  select 2"),
            StatementCount::Several { line: 2, column: 3 }
        );
    }

    #[test]
    fn foreign_functions_are_flagged_per_dialect() {
        let duck = "select date_diff('day', a, b) from t";
        assert!(check(duck, &DuckDbDialect).is_empty());
        let sf = check(duck, &SnowflakeDialect);
        assert_eq!(sf.len(), 1);
        assert!(sf[0].message.contains("date_diff"));
        let bq = check("select iff(a > 1, 1, 0) from t", &BigQueryDialect);
        assert!(bq[0].message.contains("iff"), "{bq:?}");
        let bq_type = check("select cast(a as varchar) from t", &BigQueryDialect);
        assert!(bq_type[0].message.contains("varchar"));
    }
}
