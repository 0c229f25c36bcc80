//! A live Snowflake connection: the target's fields read into a
//! [`SnowflakeConfig`], and the [`Adapter`]/[`Session`] the executor drives.
//!
//! Atomicity, as Snowflake allows it: every DDL statement commits on its own, so
//! a model is replaced by one `create or replace` statement (readers see the old
//! table or the new one, never neither), and several DML statements (an
//! incremental write) run between `begin` and `commit`.

use std::sync::Arc;

use super::client::{Client, SnowflakeAuth, SnowflakeConfig};
use super::SnowflakeDialect;
use crate::adapter::auth::RsaSigner;
use crate::adapter::http::HttpSettings;
use crate::adapter::remote::{self, Step};
use crate::adapter::{
    Adapter, Dialect, RelationKind, RelationName, Rows, SeedError, SeedLoad, Session,
    WarehouseError,
};
use crate::diagnostics::Diagnostic;
use crate::project::TargetDef;

pub struct SnowflakeAdapter {
    config: Arc<SnowflakeConfig>,
}

impl SnowflakeAdapter {
    /// Read the target: `account`, `user`, and `password` or a private key
    /// (`private_key_path`, or `private_key` holding the PEM text); `database`,
    /// `warehouse`, `role` as dbt-snowflake names them. `base_url` (or dbt's
    /// `host`/`port`/`protocol`) points sluice at another endpoint.
    pub fn from_target(def: &TargetDef, schema: &str) -> Result<SnowflakeAdapter, Diagnostic> {
        let account = def.required("account", "\"{{ env_var('SNOWFLAKE_ACCOUNT') }}\"")?;
        let user = def.required("user", "\"{{ env_var('SNOWFLAKE_USER') }}\"")?;
        let auth = if let Some(pem) = private_key(def)? {
            if def.rendered("private_key_passphrase")?.is_some() {
                return Err(Diagnostic::error("encrypted private keys are not supported")
                    .with_label(&def.span_of("private_key_passphrase"), "a passphrase is set")
                    .with_help("decrypt the key once with `openssl pkcs8 -in key.p8 -out key_plain.p8` and point `private_key_path` at it"));
            }
            let signer = RsaSigner::from_pem(&pem).map_err(|e| {
                Diagnostic::error(format!("cannot use the private key: {e}"))
                    .with_label(&def.span_of("private_key_path"), "this key")
                    .with_help("generate one with `openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt -out rsa_key.p8`")
            })?;
            SnowflakeAuth::KeyPair(Box::new(signer))
        } else if let Some(password) = def.rendered("password")? {
            SnowflakeAuth::Password(password)
        } else {
            return Err(Diagnostic::error(format!(
                "target `{}` has no credentials",
                def.name
            ))
            .with_label(&def.span, "this target")
            .with_help("add `password: \"{{ env_var('SNOWFLAKE_PASSWORD') }}\"`, or `private_key_path:` for key-pair authentication"));
        };
        let base_url = match def.rendered("base_url")? {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let protocol = def.rendered("protocol")?.unwrap_or_else(|| "https".into());
                let host = def
                    .rendered("host")?
                    .unwrap_or_else(|| format!("{account}.snowflakecomputing.com"));
                match def.number("port")? {
                    Some(port) => format!("{protocol}://{host}:{port}"),
                    None => format!("{protocol}://{host}"),
                }
            }
        };
        Ok(SnowflakeAdapter {
            config: Arc::new(SnowflakeConfig {
                base_url,
                account,
                user,
                auth,
                database: def.rendered("database")?,
                schema: Some(schema.to_owned()),
                warehouse: def.rendered("warehouse")?,
                role: def.rendered("role")?,
                http: HttpSettings::from_target(def, "Snowflake")?,
            }),
        })
    }
}

fn private_key(def: &TargetDef) -> Result<Option<String>, Diagnostic> {
    if let Some(pem) = def.rendered("private_key")? {
        return Ok(Some(pem));
    }
    let Some(path) = def.rendered("private_key_path")? else {
        return Ok(None);
    };
    std::fs::read_to_string(&path).map(Some).map_err(|e| {
        Diagnostic::error(format!("cannot read the private key file {path}: {e}"))
            .with_label(&def.span_of("private_key_path"), "named here")
            .with_help("check the path (it is read relative to the current directory)")
    })
}

impl Adapter for SnowflakeAdapter {
    fn dialect(&self) -> &'static dyn Dialect {
        &SnowflakeDialect
    }

    fn session(&self) -> Result<Box<dyn Session>, WarehouseError> {
        Ok(Box::new(SnowflakeSession {
            client: Client::login(Arc::clone(&self.config))?,
            tag: None,
        }))
    }

    fn connection_facts(&self) -> Result<Vec<(String, String)>, WarehouseError> {
        let rows = self
            .session()?
            .query("select current_database() as db, current_schema() as sch")?;
        let cell = |i: usize| {
            rows.rows
                .first()
                .and_then(|r| r.get(i).cloned().flatten())
                .unwrap_or_else(|| "(none)".to_owned())
        };
        let c = &self.config;
        Ok(vec![
            ("endpoint".to_owned(), c.base_url.clone()),
            ("account".to_owned(), c.account.clone()),
            ("user".to_owned(), c.user.clone()),
            (
                "auth".to_owned(),
                match c.auth {
                    SnowflakeAuth::Password(_) => "password".to_owned(),
                    SnowflakeAuth::KeyPair(_) => "key pair (JWT)".to_owned(),
                },
            ),
            ("database".to_owned(), cell(0)),
            ("schema".to_owned(), cell(1)),
        ])
    }
}

struct SnowflakeSession {
    client: Client,
    tag: Option<String>,
}

impl SnowflakeSession {
    fn run(&mut self, sql: &str) -> Result<super::client::QueryResult, WarehouseError> {
        self.client.query(sql, self.tag.as_deref())
    }
}

/// How Snowflake stores a name sluice writes: unquoted names are upper-cased.
fn stored_name(identifier: &str) -> String {
    if SnowflakeDialect.quote(identifier) == identifier {
        identifier.to_uppercase()
    } else {
        identifier.to_owned()
    }
}

impl SnowflakeSession {
    /// The relations of a schema (only `identifier`, when given), as Snowflake
    /// stores their names; `database` defaults to the session's.
    fn catalog_relations(
        &mut self,
        database: Option<&str>,
        schema: &str,
        identifier: Option<&str>,
    ) -> Result<Vec<(String, RelationKind)>, WarehouseError> {
        let d = SnowflakeDialect;
        let catalog = database.map_or("information_schema".to_owned(), |db| {
            format!("{}.information_schema", d.quote(db))
        });
        let mut filter = format!("table_schema = {}", d.string_literal(&stored_name(schema)));
        if let Some(name) = identifier {
            filter.push_str(&format!(
                " and table_name = {}",
                d.string_literal(&stored_name(name))
            ));
        }
        // Snowflake lists views in `tables` too (type VIEW); the fakesnow stand-in
        // lists them only in `views`, so both are asked. A view found twice has
        // the same kind both times; the first row per name is kept.
        let rows = self.query(&format!(
            "select table_name, 'VIEW' as table_type from {catalog}.views where {filter}\n\
             union all\n\
             select table_name, table_type from {catalog}.tables where {filter}"
        ))?;
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .rows
            .into_iter()
            .filter_map(|row| {
                let mut cells = row.into_iter().map(Option::unwrap_or_default);
                let (name, kind) = (cells.next()?, cells.next()?);
                seen.insert(name.clone())
                    .then(|| (name, RelationKind::from_table_type(&kind)))
            })
            .collect())
    }
}

impl Session for SnowflakeSession {
    /// DDL runs alone (Snowflake commits it by itself, ending any open
    /// transaction); each run of DML runs between `begin` and `commit`.
    fn execute_atomic(&mut self, statements: &[String]) -> Result<(), WarehouseError> {
        for step in remote::transaction_steps(statements) {
            match step {
                Step::Alone(sql) => {
                    self.run(sql)?;
                }
                Step::Together(group) => {
                    self.run("begin")?;
                    for statement in group {
                        if let Err(e) = self.run(statement) {
                            // Rolling back only fails when the transaction is gone.
                            let _ = self.run("rollback");
                            return Err(e);
                        }
                    }
                    self.run("commit")?;
                }
            }
        }
        Ok(())
    }

    fn query(&mut self, sql: &str) -> Result<Rows, WarehouseError> {
        let result = self.run(sql)?;
        Ok(Rows {
            columns: result.columns.into_iter().map(|c| c.name).collect(),
            rows: result.rows,
        })
    }

    fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let result = self.run(&format!("select * from (\n{sql}\n) as described limit 0"))?;
        Ok(result
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.sql_type()))
            .collect())
    }

    fn relation_kind(
        &mut self,
        relation: &RelationName,
    ) -> Result<Option<RelationKind>, WarehouseError> {
        let found = self.catalog_relations(
            relation.database.as_deref(),
            &relation.schema,
            Some(&relation.identifier),
        )?;
        Ok(found.into_iter().next().map(|(_, kind)| kind))
    }

    /// One `information_schema` query per schema instead of one per model: each
    /// is a round trip to Snowflake.
    fn list_relations(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Option<Vec<(String, RelationKind)>>, WarehouseError> {
        self.catalog_relations(database, schema, None).map(Some)
    }

    fn load_seed(&mut self, seed: &SeedLoad<'_>) -> Result<u64, SeedError> {
        let existing = self.relation_kind(seed.relation)?;
        remote::load_seed(&SnowflakeDialect, seed, existing, |sql| {
            self.run(sql).map(drop)
        })
    }

    fn create_schema(&mut self, schema: &str) -> Result<(), WarehouseError> {
        self.run(&SnowflakeDialect.create_schema(schema)).map(drop)
    }

    fn set_query_tag(&mut self, tag: &str) {
        self.tag = Some(tag.to_owned());
    }
}
