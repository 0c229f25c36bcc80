//! A live BigQuery connection: the target's fields read into a
//! [`BigQueryConfig`], and the [`Adapter`]/[`Session`] the executor drives.
//!
//! Atomicity, as BigQuery allows it: DDL cannot run inside a transaction, so a
//! model is replaced by one `create or replace` statement (readers see the old
//! table or the new one); several DML statements (an incremental write) run as
//! one script between `begin transaction` and `commit transaction`, which
//! BigQuery rolls back when a statement fails.

use std::sync::Arc;

use super::client::{BigQueryConfig, Client};
use super::token::{ServiceAccount, TokenSource};
use super::BigQueryDialect;
use crate::adapter::http::HttpSettings;
use crate::adapter::remote::{self, Step};
use crate::adapter::{
    Adapter, Dialect, RelationKind, RelationName, Rows, SeedError, SeedLoad, Session,
    WarehouseError,
};
use crate::diagnostics::Diagnostic;
use crate::project::TargetDef;

pub struct BigQueryAdapter {
    config: Arc<BigQueryConfig>,
    dataset: String,
}

impl BigQueryAdapter {
    /// Read the target, with dbt-bigquery's names: `project`, `dataset`,
    /// `location`, `method` (`service-account` with `keyfile`,
    /// `service-account-json` with `keyfile_json`, `oauth-secrets` with `token`,
    /// `oauth` from `GOOGLE_APPLICATION_CREDENTIALS`, or `none` for an emulator),
    /// `maximum_bytes_billed`. `base_url` points sluice at another endpoint.
    pub fn from_target(def: &TargetDef, dataset: &str) -> Result<BigQueryAdapter, Diagnostic> {
        let project = def.required("project", "\"{{ env_var('BQ_PROJECT') }}\"")?;
        let method = match def.rendered("method")? {
            Some(m) => m,
            None if def.field("keyfile").is_some() => "service-account".to_owned(),
            None if def.field("keyfile_json").is_some() => "service-account-json".to_owned(),
            None if def.field("token").is_some() => "oauth-secrets".to_owned(),
            None => "oauth".to_owned(),
        };
        let key_error = |key: &str, e: String| {
            Diagnostic::error(format!("cannot use the service-account key: {e}"))
                .with_label(&def.span_of(key), "this key")
                .with_help(
                    "download a JSON key for the service account (IAM → Service accounts → Keys)",
                )
        };
        let tokens =
            match method.as_str() {
                "service-account" => {
                    let path = def.required("keyfile", "/path/to/key.json")?;
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        Diagnostic::error(format!("cannot read the key file {path}: {e}"))
                            .with_label(&def.span_of("keyfile"), "named here")
                            .with_help(
                                "check the path (it is read relative to the current directory)",
                            )
                    })?;
                    TokenSource::ServiceAccount(Box::new(
                        ServiceAccount::from_json(&text).map_err(|e| key_error("keyfile", e))?,
                    ))
                }
                "service-account-json" => {
                    let text =
                        def.required("keyfile_json", "\"{{ env_var('BQ_KEYFILE_JSON') }}\"")?;
                    TokenSource::ServiceAccount(Box::new(
                        ServiceAccount::from_json(&text)
                            .map_err(|e| key_error("keyfile_json", e))?,
                    ))
                }
                "oauth-secrets" => TokenSource::Static(
                    def.required("token", "\"{{ env_var('BQ_ACCESS_TOKEN') }}\"")?,
                ),
                "oauth" => {
                    let Ok(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") else {
                        return Err(Diagnostic::error(format!(
                        "target `{}` has no BigQuery credentials",
                        def.name
                    ))
                    .with_label(&def.span, "this target")
                    .with_help("set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or add `method: service-account-json` and `keyfile_json: \"{{ env_var('BQ_KEYFILE_JSON') }}\"`"));
                    };
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| {
                            Diagnostic::error(format!(
                        "cannot read GOOGLE_APPLICATION_CREDENTIALS ({path}): {e}"
                    ))
                    .with_label(&def.span, "this target")
                    .with_help("point GOOGLE_APPLICATION_CREDENTIALS at a service-account key file")
                        })?;
                    TokenSource::ServiceAccount(Box::new(
                        ServiceAccount::from_json(&text).map_err(|e| key_error("method", e))?,
                    ))
                }
                "none" => TokenSource::None,
                other => return Err(Diagnostic::error(format!(
                    "unknown BigQuery `method` `{other}`"
                ))
                .with_label(&def.span_of("method"), "not a method sluice knows")
                .with_help(crate::diagnostics::suggestion_help(
                    other,
                    [
                        "service-account",
                        "service-account-json",
                        "oauth-secrets",
                        "oauth",
                        "none",
                    ],
                    || {
                        "use service-account, service-account-json, oauth-secrets, oauth or none"
                            .to_owned()
                    },
                ))),
            };
        let base_url = def
            .rendered("base_url")?
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| "https://bigquery.googleapis.com/bigquery/v2".to_owned());
        let mut http = HttpSettings::from_target(def, "BigQuery")?;
        if let Some(t) = def.number("job_execution_timeout_seconds")? {
            http.request_timeout = std::time::Duration::from_secs(t.max(1));
        }
        if let Some(r) = def.number("job_retries")? {
            http.retries = r.min(10) as u32;
        }
        Ok(BigQueryAdapter {
            config: Arc::new(BigQueryConfig {
                base_url,
                project,
                location: def.rendered("location")?,
                tokens,
                http,
                maximum_bytes_billed: def.number("maximum_bytes_billed")?,
            }),
            dataset: dataset.to_owned(),
        })
    }
}

impl Adapter for BigQueryAdapter {
    fn dialect(&self) -> &'static dyn Dialect {
        &BigQueryDialect
    }

    fn session(&self) -> Result<Box<dyn Session>, WarehouseError> {
        Ok(Box::new(BigQuerySession {
            client: Client::new(Arc::clone(&self.config)),
            label: None,
        }))
    }

    fn connection_facts(&self) -> Result<Vec<(String, String)>, WarehouseError> {
        let mut client = Client::new(Arc::clone(&self.config));
        let datasets = client.list_datasets()?;
        client.query("select 1 as ok", None)?;
        let c = &self.config;
        Ok(vec![
            ("endpoint".to_owned(), c.base_url.clone()),
            ("project".to_owned(), c.project.clone()),
            ("auth".to_owned(), c.tokens.describe()),
            (
                "location".to_owned(),
                c.location.clone().unwrap_or_else(|| "(default)".to_owned()),
            ),
            (
                "datasets".to_owned(),
                format!(
                    "{} in the project; `{}` {}",
                    datasets.len(),
                    self.dataset,
                    if datasets.iter().any(|d| d == &self.dataset) {
                        "exists"
                    } else {
                        "will be created by the first run"
                    }
                ),
            ),
        ])
    }
}

struct BigQuerySession {
    client: Client,
    label: Option<String>,
}

impl Session for BigQuerySession {
    /// DDL runs alone (it cannot join a transaction); each run of DML runs as one
    /// script between `begin transaction` and `commit transaction`.
    fn execute_atomic(&mut self, statements: &[String]) -> Result<(), WarehouseError> {
        let label = self.label.clone();
        for step in remote::transaction_steps(statements) {
            match step {
                Step::Alone(sql) => self.client.run_job(sql, label.as_deref())?,
                Step::Together(group) => {
                    let script = format!(
                        "begin transaction;\n{};\ncommit transaction;",
                        group.join(";\n")
                    );
                    self.client.run_job(&script, label.as_deref())?;
                }
            }
        }
        Ok(())
    }

    fn query(&mut self, sql: &str) -> Result<Rows, WarehouseError> {
        let result = self.client.query(sql, self.label.as_deref())?;
        Ok(Rows {
            columns: result.fields.into_iter().map(|f| f.name).collect(),
            rows: result.rows,
        })
    }

    fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let result = self.client.query(
            &format!("select * from (\n{sql}\n) as described limit 0"),
            self.label.as_deref(),
        )?;
        Ok(result
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.sql_type()))
            .collect())
    }

    fn relation_kind(
        &mut self,
        relation: &RelationName,
    ) -> Result<Option<RelationKind>, WarehouseError> {
        let kind = self.client.table_type(
            relation.database.as_deref(),
            &relation.schema,
            &relation.identifier,
        )?;
        Ok(kind.as_deref().map(RelationKind::from_table_type))
    }

    fn load_seed(&mut self, seed: &SeedLoad<'_>) -> Result<u64, SeedError> {
        let existing = self.relation_kind(seed.relation)?;
        let label = self.label.clone();
        remote::load_seed(&BigQueryDialect, seed, existing, |sql| {
            self.client.run_job(sql, label.as_deref())
        })
    }

    fn create_schema(&mut self, schema: &str) -> Result<(), WarehouseError> {
        self.client.create_dataset(schema)
    }

    fn set_query_tag(&mut self, tag: &str) {
        self.label = Some(tag.to_owned());
    }
}
