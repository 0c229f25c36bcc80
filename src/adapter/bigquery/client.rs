//! BigQuery's REST API (v2), the calls sluice needs: `jobs.query` and
//! `getQueryResults` (with paging) for reads, `jobs.insert` and `jobs.get` for
//! statements, `datasets.insert`, `datasets.list` and `tables.get`.
//!
//! Every query carries a `requestId` and every job a client-chosen `jobId`, so
//! sending one again after a dropped connection cannot run it twice. Errors are
//! read from 4xx/5xx bodies (`{"error": …}`), from 200 responses carrying
//! `errors[]` (as emulators send them) and from a finished job's
//! `status.errorResult`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::token::TokenSource;
use crate::adapter::auth::uuid_v4;
use crate::adapter::http::{query_string, Body, HttpClient, HttpResponse, HttpSettings, Retry};
use crate::adapter::snowflake::rows::format_timestamp;
use crate::adapter::WarehouseError;

/// Everything a BigQuery connection needs, read from the target.
pub struct BigQueryConfig {
    /// `https://bigquery.googleapis.com/bigquery/v2` unless the target says
    /// otherwise.
    pub base_url: String,
    pub project: String,
    pub location: Option<String>,
    pub tokens: TokenSource,
    pub http: HttpSettings,
    pub maximum_bytes_billed: Option<u64>,
}

/// A result column: its name and BigQuery type (`INTEGER`, `STRING`, …).
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub kind: String,
    pub mode: String,
    pub fields: Vec<Field>,
}

impl Field {
    fn from_json(v: &Value) -> Field {
        Field {
            name: v["name"].as_str().unwrap_or_default().to_owned(),
            kind: v["type"].as_str().unwrap_or("STRING").to_uppercase(),
            mode: v["mode"].as_str().unwrap_or("NULLABLE").to_uppercase(),
            fields: v["fields"]
                .as_array()
                .map(|a| a.iter().map(Field::from_json).collect())
                .unwrap_or_default(),
        }
    }

    /// The type as Standard SQL writes it, for casts.
    pub fn sql_type(&self) -> String {
        let base = match self.kind.as_str() {
            "INTEGER" | "INT64" => "INT64".to_owned(),
            "FLOAT" | "FLOAT64" => "FLOAT64".to_owned(),
            "BOOLEAN" | "BOOL" => "BOOL".to_owned(),
            "RECORD" | "STRUCT" => format!(
                "STRUCT<{}>",
                self.fields
                    .iter()
                    .map(|f| format!("{} {}", f.name, f.sql_type()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.to_owned(),
        };
        if self.mode == "REPEATED" {
            format!("ARRAY<{base}>")
        } else {
            base
        }
    }
}

#[derive(Debug, Default)]
pub struct QueryResult {
    pub fields: Vec<Field>,
    pub rows: Vec<Vec<Option<String>>>,
}

pub struct Client {
    config: Arc<BigQueryConfig>,
    http: HttpClient,
}

/// How long one `jobs.query`/`getQueryResults` call waits server-side.
const SERVER_WAIT_MS: u64 = 10_000;
const PAGE_ROWS: u64 = 10_000;

impl Client {
    pub fn new(config: Arc<BigQueryConfig>) -> Client {
        let mut http = HttpClient::new(config.http.clone());
        if let TokenSource::Static(t) = &config.tokens {
            http.add_secret(t);
        }
        Client { config, http }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/projects/{}/{path}",
            self.config.base_url, self.config.project
        )
    }

    /// `path` under the project with query parameters, `location` among them
    /// when the target sets one (jobs outside the US need it to be found).
    fn url_with(&self, path: &str, params: &[(&str, String)]) -> String {
        let mut params = params.to_vec();
        if let Some(l) = &self.config.location {
            params.push(("location", l.clone()));
        }
        format!("{}?{}", self.url(path), query_string(&params))
    }

    fn send(
        &mut self,
        method: &str,
        url: &str,
        body: Body<'_>,
    ) -> Result<HttpResponse, WarehouseError> {
        let auth = self.config.tokens.header(&self.http)?;
        if let Some(a) = &auth {
            self.http.add_secret(a.trim_start_matches("Bearer ").trim());
        }
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        // Every call is safe to repeat: queries carry a requestId, jobs a jobId.
        self.http
            .send(method, url, &headers, body, Retry::Idempotent)
    }

    /// The JSON body of a successful call, or the error it reports.
    fn check(&self, response: &HttpResponse, what: &str) -> Result<Value, WarehouseError> {
        let v = self.http.json_body(response, what)?;
        if !(200..300).contains(&response.status) {
            let message = v["error"]["message"]
                .as_str()
                .unwrap_or("no message")
                .to_owned();
            let reason = v["error"]["errors"][0]["reason"]
                .as_str()
                .or_else(|| v["error"]["status"].as_str())
                .unwrap_or("error");
            let hint = match response.status {
                401 => "; check the target's credentials (keyfile, keyfile_json or token)",
                403 => "; the credentials lack a permission (the BigQuery Job User and Data Editor roles)",
                _ => "",
            };
            return Err(WarehouseError(self.http.redact(&format!(
                "BigQuery {reason} (HTTP {}): {message}{hint}",
                response.status
            ))));
        }
        if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
            return Err(self.errors_text(errors));
        }
        if let Some(e) = v["status"]["errorResult"].as_object() {
            let first = Value::Object(e.clone());
            let mut all: Vec<Value> = vec![first.clone()];
            if let Some(more) = v["status"]["errors"].as_array() {
                all.extend(more.iter().filter(|m| **m != first).cloned());
            }
            return Err(self.errors_text(&all));
        }
        Ok(v)
    }

    fn errors_text(&self, errors: &[Value]) -> WarehouseError {
        let text = errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e["reason"].as_str().unwrap_or("error"),
                    e["message"].as_str().unwrap_or("no message")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        WarehouseError(self.http.redact(&format!("BigQuery {text}")))
    }

    /// Run a query and read all of its rows.
    pub fn query(&mut self, sql: &str, label: Option<&str>) -> Result<QueryResult, WarehouseError> {
        let started = Instant::now();
        let mut body = json!({
            "query": sql,
            "useLegacySql": false,
            "requestId": uuid_v4(),
            "maxResults": PAGE_ROWS,
            "timeoutMs": SERVER_WAIT_MS,
            "formatOptions": {"useInt64Timestamp": true},
        });
        if let Some(l) = &self.config.location {
            body["location"] = json!(l);
        }
        if let Some(label) = label {
            body["labels"] = json!({ "sluice_node": label_value(label) });
        }
        if let Some(max) = self.config.maximum_bytes_billed {
            body["maximumBytesBilled"] = json!(max.to_string());
        }
        let url = self.url("queries");
        let response = self.send("POST", &url, Body::Json(&body))?;
        let mut page = self.check(&response, "a query")?;
        let job_id = page["jobReference"]["jobId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        while page["jobComplete"].as_bool() == Some(false) {
            self.deadline(started)?;
            page = self.results_page(&job_id, None)?;
        }
        let fields: Vec<Field> = page["schema"]["fields"]
            .as_array()
            .map(|a| a.iter().map(Field::from_json).collect())
            .unwrap_or_default();
        let mut rows = Vec::new();
        loop {
            if let Some(list) = page["rows"].as_array() {
                rows.extend(list.iter().map(|r| row_text(r, &fields)));
            }
            let Some(token) = page["pageToken"].as_str().filter(|t| !t.is_empty()) else {
                break;
            };
            let token = token.to_owned();
            self.deadline(started)?;
            page = self.results_page(&job_id, Some(&token))?;
        }
        Ok(QueryResult { fields, rows })
    }

    fn results_page(
        &mut self,
        job_id: &str,
        page_token: Option<&str>,
    ) -> Result<Value, WarehouseError> {
        let mut params = vec![
            ("maxResults", PAGE_ROWS.to_string()),
            ("timeoutMs", SERVER_WAIT_MS.to_string()),
            ("formatOptions.useInt64Timestamp", "true".to_owned()),
        ];
        if let Some(t) = page_token {
            params.push(("pageToken", t.to_owned()));
        }
        let url = self.url_with(&format!("queries/{job_id}"), &params);
        let response = self.send("GET", &url, Body::None)?;
        self.check(&response, "reading query results")
    }

    fn deadline(&self, started: Instant) -> Result<(), WarehouseError> {
        let limit = self.config.http.request_timeout;
        if started.elapsed() > limit {
            return Err(WarehouseError(format!(
                "the BigQuery job ran longer than the target's timeout ({} s) and was abandoned",
                limit.as_secs()
            )));
        }
        Ok(())
    }

    /// Run a statement as a job (`jobs.insert`), and wait until it is done.
    pub fn run_job(&mut self, sql: &str, label: Option<&str>) -> Result<(), WarehouseError> {
        let started = Instant::now();
        let job_id = format!("sluice_{}", uuid_v4().replace('-', "_"));
        let mut reference = json!({"projectId": self.config.project, "jobId": job_id});
        if let Some(l) = &self.config.location {
            reference["location"] = json!(l);
        }
        let mut configuration = json!({"query": {"query": sql, "useLegacySql": false}});
        if let Some(label) = label {
            configuration["labels"] = json!({ "sluice_node": label_value(label) });
        }
        if let Some(max) = self.config.maximum_bytes_billed {
            configuration["query"]["maximumBytesBilled"] = json!(max.to_string());
        }
        let body = json!({"jobReference": reference, "configuration": configuration});
        let url = self.url("jobs");
        let response = self.send("POST", &url, Body::Json(&body))?;
        // 409: a retry found the job already created; follow it like any other.
        let mut job = if response.status == 409 {
            json!({"status": {"state": "PENDING"}})
        } else {
            self.check(&response, "a job")?
        };
        let mut delay = Duration::from_millis(200);
        while job["status"]["state"].as_str() != Some("DONE") {
            self.deadline(started)?;
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(5));
            let url = self.url_with(&format!("jobs/{job_id}"), &[]);
            let response = self.send("GET", &url, Body::None)?;
            job = self.check(&response, "a job's status")?;
        }
        Ok(())
    }

    /// `datasets.insert`; a dataset that exists already is fine.
    pub fn create_dataset(&mut self, dataset: &str) -> Result<(), WarehouseError> {
        let mut body =
            json!({"datasetReference": {"projectId": self.config.project, "datasetId": dataset}});
        if let Some(l) = &self.config.location {
            body["location"] = json!(l);
        }
        let url = self.url("datasets");
        let response = self.send("POST", &url, Body::Json(&body))?;
        if response.status == 409 {
            return Ok(());
        }
        self.check(&response, "creating a dataset").map(drop)
    }

    /// `datasets.list`: the dataset ids of the project.
    pub fn list_datasets(&mut self) -> Result<Vec<String>, WarehouseError> {
        let url = self.url("datasets?all=false");
        let response = self.send("GET", &url, Body::None)?;
        let v = self.check(&response, "listing datasets")?;
        Ok(v["datasets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["datasetReference"]["datasetId"].as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `tables.get`: the table's type (`TABLE`, `VIEW`, …), or `None` if absent.
    pub fn table_type(
        &mut self,
        project: Option<&str>,
        dataset: &str,
        table: &str,
    ) -> Result<Option<String>, WarehouseError> {
        let url = format!(
            "{}/projects/{}/datasets/{dataset}/tables/{table}",
            self.config.base_url,
            project.unwrap_or(&self.config.project)
        );
        let response = self.send("GET", &url, Body::None)?;
        if response.status == 404 {
            return Ok(None);
        }
        let v = self.check(&response, "looking up a table")?;
        Ok(Some(v["type"].as_str().unwrap_or("TABLE").to_owned()))
    }
}

/// A label value BigQuery accepts: lowercase letters, digits, `_` and `-`, at
/// most 63 characters.
fn label_value(tag: &str) -> String {
    tag.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect()
}

/// One `{"f": [{"v": …}]}` row as text. TIMESTAMPs arrive as integer
/// microseconds (`useInt64Timestamp`) or, from older servers, float seconds;
/// both become `YYYY-MM-DD HH:MM:SS[.ffffff]`, as DATETIMEs do.
fn row_text(row: &Value, fields: &[Field]) -> Vec<Option<String>> {
    let cells = row["f"].as_array().cloned().unwrap_or_default();
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let field = fields.get(i);
            cell_text(&cell["v"], field)
        })
        .collect()
}

fn cell_text(v: &Value, field: Option<&Field>) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(match field.map(|f| f.kind.as_str()) {
            Some("TIMESTAMP") => timestamp_text(s),
            Some("DATETIME") => s.replacen('T', " ", 1),
            _ => s.clone(),
        }),
        // Arrays and records: JSON, with their scalar leaves unwrapped.
        other => Some(unwrap_nested(other).to_string()),
    }
}

fn unwrap_nested(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("f") => Value::Array(
            o["f"]
                .as_array()
                .map(|a| a.iter().map(|c| unwrap_nested(&c["v"])).collect())
                .unwrap_or_default(),
        ),
        Value::Object(o) if o.contains_key("v") => unwrap_nested(&o["v"]),
        Value::Array(a) => Value::Array(a.iter().map(unwrap_nested).collect()),
        other => other.clone(),
    }
}

pub fn timestamp_text(s: &str) -> String {
    if s.contains(['.', 'E', 'e']) {
        if let Ok(secs) = s.parse::<f64>() {
            let whole = secs.floor();
            let micros = ((secs - whole) * 1e6).round() as u32;
            return format_timestamp(whole as i64, micros * 1000);
        }
    } else if let Ok(micros) = s.parse::<i64>() {
        return format_timestamp(
            micros.div_euclid(1_000_000),
            (micros.rem_euclid(1_000_000) * 1000) as u32,
        );
    }
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_micros_or_float_seconds() {
        assert_eq!(timestamp_text("1704103200000000"), "2024-01-01 10:00:00");
        assert_eq!(timestamp_text("1.7041032E9"), "2024-01-01 10:00:00");
        assert_eq!(
            timestamp_text("1704103200250000"),
            "2024-01-01 10:00:00.250"
        );
        assert_eq!(timestamp_text("-1000000"), "1969-12-31 23:59:59");
    }

    #[test]
    fn labels_are_made_acceptable() {
        assert_eq!(label_value("model.GTM.fct_x"), "model-gtm-fct_x");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn nested_cells_become_json() {
        let fields = vec![Field::from_json(
            &json!({"name": "xs", "type": "INTEGER", "mode": "REPEATED"}),
        )];
        let row = json!({"f": [{"v": [{"v": "1"}, {"v": "2"}]}]});
        assert_eq!(row_text(&row, &fields), [Some(r#"["1","2"]"#.to_owned())]);
        assert_eq!(fields[0].sql_type(), "ARRAY<INT64>");
    }
}
