//! Snowflake's connector protocol over HTTP, as its own drivers speak it:
//! `login-request` returns a session token; each `query-request` runs one
//! statement; `session?delete=true` closes the session.
//!
//! A statement that outlives the first response comes back "in progress" with a
//! result URL to poll. Results arrive inline (`rowset` as JSON strings, or
//! `rowsetBase64` as an Arrow IPC stream) and, when large, in chunks fetched from
//! the URLs listed. Errors are read from `success: false` bodies as well as from
//! HTTP statuses. Every response field is optional: servers differ in what they
//! send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::rows::{decode_arrow, ColumnType};
use crate::adapter::auth::{uuid_v4, RsaSigner};
use crate::adapter::http::{query_string, Body, HttpClient, HttpSettings, Retry};
use crate::adapter::remote::first_keyword;
use crate::adapter::WarehouseError;

/// How sluice signs in.
pub enum SnowflakeAuth {
    Password(String),
    /// Key-pair authentication: a JWT signed with the user's private key.
    KeyPair(Box<RsaSigner>),
}

/// Everything a Snowflake connection needs, read from the target.
pub struct SnowflakeConfig {
    /// `https://{account}.snowflakecomputing.com` unless the target says otherwise.
    pub base_url: String,
    pub account: String,
    pub user: String,
    pub auth: SnowflakeAuth,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub warehouse: Option<String>,
    pub role: Option<String>,
    pub http: HttpSettings,
}

impl SnowflakeConfig {
    /// The account name the login and the JWT carry: the identifier before any
    /// region or cloud suffix, upper-cased.
    fn account_name(&self) -> String {
        self.account
            .split('.')
            .next()
            .unwrap_or_default()
            .to_uppercase()
    }
}

/// A statement's result.
#[derive(Debug, Default)]
pub struct QueryResult {
    pub columns: Vec<ColumnType>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// One signed-in Snowflake session.
pub struct Client {
    config: Arc<SnowflakeConfig>,
    http: HttpClient,
    token: String,
    sequence: u64,
}

/// Snowflake's "statement still running" codes.
const IN_PROGRESS: [&str; 2] = ["333333", "333334"];
/// The session token expired or is unknown: sign in again.
const SESSION_GONE: [&str; 3] = ["390112", "390114", "390104"];

impl Client {
    /// Sign in and open a session.
    pub fn login(config: Arc<SnowflakeConfig>) -> Result<Client, WarehouseError> {
        let mut http = HttpClient::new(config.http.clone());
        if let SnowflakeAuth::Password(p) = &config.auth {
            http.add_secret(p);
        }
        let mut client = Client {
            config,
            http,
            token: String::new(),
            sequence: 0,
        };
        client.sign_in()?;
        Ok(client)
    }

    fn sign_in(&mut self) -> Result<(), WarehouseError> {
        let c = &self.config;
        let mut data = json!({
            "CLIENT_APP_ID": "sluice",
            "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
            "ACCOUNT_NAME": c.account_name(),
            "LOGIN_NAME": c.user,
            "CLIENT_ENVIRONMENT": {"APPLICATION": "sluice", "OS": std::env::consts::OS},
            "SESSION_PARAMETERS": {"AUTOCOMMIT": true},
        });
        match &c.auth {
            SnowflakeAuth::Password(p) => data["PASSWORD"] = json!(p),
            SnowflakeAuth::KeyPair(signer) => {
                let jwt =
                    key_pair_jwt(signer, &c.account_name(), &c.user).map_err(WarehouseError)?;
                self.http.add_secret(&jwt);
                data["AUTHENTICATOR"] = json!("SNOWFLAKE_JWT");
                data["TOKEN"] = json!(jwt);
            }
        }
        let mut params = vec![("requestId", uuid_v4())];
        for (key, value) in [
            ("databaseName", &c.database),
            ("schemaName", &c.schema),
            ("warehouse", &c.warehouse),
            ("roleName", &c.role),
        ] {
            if let Some(v) = value {
                params.push((key, v.clone()));
            }
        }
        let url = format!(
            "{}/session/v1/login-request?{}",
            c.base_url,
            query_string(&params)
        );
        let body = json!({ "data": data });
        let response = self.http.send(
            "POST",
            &url,
            &[("Accept", "application/json")],
            Body::Json(&body),
            Retry::Idempotent,
        )?;
        let v = self.http.json_body(&response, "a sign-in")?;
        if v["success"].as_bool() != Some(true) {
            return Err(self.error(
                &v,
                &format!(
                    "Snowflake refused the login of user `{}` to account `{}`",
                    c.user, c.account
                ),
            ));
        }
        let token = v["data"]["token"].as_str().unwrap_or_default().to_owned();
        if token.is_empty() {
            return Err(WarehouseError(
                "Snowflake accepted the login but sent no session token".to_owned(),
            ));
        }
        self.http.add_secret(&token);
        self.token = token;
        Ok(())
    }

    fn auth_header(&self) -> String {
        format!("Snowflake Token=\"{}\"", self.token)
    }

    /// Run one statement. `tag` becomes the statement's `QUERY_TAG`.
    pub fn query(&mut self, sql: &str, tag: Option<&str>) -> Result<QueryResult, WarehouseError> {
        let started = Instant::now();
        let mut v = self.submit(sql, tag)?;
        if v["success"].as_bool() != Some(true)
            && SESSION_GONE.contains(&v["code"].as_str().unwrap_or_default())
        {
            // The statement never ran: sign in again and send it once more.
            self.sign_in()?;
            v = self.submit(sql, tag)?;
        }
        let mut delay = Duration::from_millis(200);
        while IN_PROGRESS.contains(&v["code"].as_str().unwrap_or_default()) {
            if started.elapsed() > self.http.settings().request_timeout {
                return Err(WarehouseError(format!(
                    "the statement ran longer than the target's timeout ({} s) and was abandoned",
                    self.http.settings().request_timeout.as_secs()
                )));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(5));
            let path = v["data"]["getResultUrl"].as_str().unwrap_or_default();
            let url = format!("{}{}", self.config.base_url, path);
            let auth = self.auth_header();
            let response = self.http.send(
                "GET",
                &url,
                &[
                    ("Authorization", &auth),
                    ("Accept", "application/snowflake"),
                ],
                Body::None,
                Retry::Idempotent,
            )?;
            v = self.http.json_body(&response, "polling a statement")?;
        }
        if v["success"].as_bool() != Some(true) {
            return Err(self.error(&v, "Snowflake rejected the statement"));
        }
        self.result(&v["data"])
    }

    fn submit(&mut self, sql: &str, tag: Option<&str>) -> Result<Value, WarehouseError> {
        self.sequence += 1;
        let submitted_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut body = json!({
            "sqlText": sql,
            "asyncExec": false,
            "sequenceId": self.sequence,
            "querySubmissionTime": submitted_ms,
        });
        if let Some(tag) = tag {
            body["parameters"] = json!({ "QUERY_TAG": tag });
        }
        // Reads can be repeated safely; a write is sent once.
        let retry = if is_read_only(sql) {
            Retry::Idempotent
        } else {
            Retry::Once
        };
        let url = format!(
            "{}/queries/v1/query-request?requestId={}",
            self.config.base_url,
            uuid_v4()
        );
        let auth = self.auth_header();
        let response = self.http.send(
            "POST",
            &url,
            &[
                ("Authorization", &auth),
                ("Accept", "application/snowflake"),
            ],
            Body::Json(&body),
            retry,
        )?;
        if response.status == 401 {
            // An expired token: answered like a `success: false` with its code.
            return Ok(response.json().unwrap_or_else(
                || json!({"success": false, "code": "390112", "message": "session expired"}),
            ));
        }
        self.http.json_body(&response, "a statement")
    }

    /// A `success: false` body as an error: the server's message and code.
    fn error(&self, v: &Value, headline: &str) -> WarehouseError {
        let message = v["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("no message");
        let code = v["code"]
            .as_str()
            .or_else(|| v["data"]["errorCode"].as_str())
            .unwrap_or("");
        let code = if code.is_empty() || message.starts_with(code) {
            String::new()
        } else {
            format!(" ({code})")
        };
        WarehouseError(self.http.redact(&format!("{headline}{code}: {message}")))
    }

    fn result(&self, data: &Value) -> Result<QueryResult, WarehouseError> {
        let columns: Vec<ColumnType> = data["rowtype"]
            .as_array()
            .map(|a| a.iter().map(ColumnType::from_json).collect())
            .unwrap_or_default();
        let arrow = data["queryResultFormat"]
            .as_str()
            .is_some_and(|f| f.eq_ignore_ascii_case("arrow"));
        let mut rows = Vec::new();
        if arrow {
            let inline = data["rowsetBase64"].as_str().unwrap_or_default();
            if !inline.is_empty() {
                let bytes = STANDARD.decode(inline).map_err(|e| {
                    WarehouseError(format!("Snowflake sent a malformed Arrow result: {e}"))
                })?;
                rows.extend(decode_arrow(&bytes).map_err(WarehouseError)?);
            }
        } else if let Some(set) = data["rowset"].as_array() {
            rows.extend(set.iter().map(json_row));
        }
        if let Some(chunks) = data["chunks"].as_array() {
            for chunk in chunks {
                rows.extend(self.chunk(data, chunk, arrow)?);
            }
        }
        Ok(QueryResult { columns, rows })
    }

    /// One result chunk, from the URL Snowflake listed (cloud storage, signed).
    fn chunk(
        &self,
        data: &Value,
        chunk: &Value,
        arrow: bool,
    ) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
        let url = chunk["url"].as_str().unwrap_or_default();
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(h) = data["chunkHeaders"].as_object() {
            headers.extend(
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
            );
        } else if let Some(key) = data["qrmk"].as_str() {
            headers.push((
                "x-amz-server-side-encryption-customer-algorithm".into(),
                "AES256".into(),
            ));
            headers.push((
                "x-amz-server-side-encryption-customer-key".into(),
                key.to_owned(),
            ));
        }
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = self
            .http
            .send("GET", url, &header_refs, Body::None, Retry::Idempotent)?;
        if response.status != 200 {
            return Err(WarehouseError(format!(
                "cannot download a Snowflake result chunk: HTTP {}",
                response.status
            )));
        }
        if arrow {
            decode_arrow(response.body.as_bytes()).map_err(WarehouseError)
        } else {
            // JSON chunks are rows separated by commas, without the enclosing list.
            let list: Value = serde_json::from_str(&format!("[{}]", response.body))
                .map_err(|e| WarehouseError(format!("malformed Snowflake result chunk: {e}")))?;
            Ok(list
                .as_array()
                .map(|a| a.iter().map(json_row).collect())
                .unwrap_or_default())
        }
    }

    /// Close the session (best effort: the server expires it anyway).
    pub fn close(&mut self) {
        if self.token.is_empty() {
            return;
        }
        let url = format!("{}/session?delete=true", self.config.base_url);
        let auth = self.auth_header();
        let _ = self.http.send(
            "POST",
            &url,
            &[("Authorization", &auth)],
            Body::None,
            Retry::Once,
        );
        self.token.clear();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

fn json_row(row: &Value) -> Vec<Option<String>> {
    row.as_array()
        .map(|cells| {
            cells
                .iter()
                .map(|c| match c {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The JWT of key-pair authentication: issuer `ACCOUNT.USER.SHA256:<fingerprint>`,
/// subject `ACCOUNT.USER`, valid for one hour (Snowflake's maximum).
fn key_pair_jwt(signer: &RsaSigner, account: &str, user: &str) -> Result<String, String> {
    let qualified = format!("{account}.{}", user.to_uppercase());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    signer.sign_jwt(&json!({
        "iss": format!("{qualified}.{}", signer.snowflake_fingerprint()),
        "sub": qualified,
        "iat": now,
        "exp": now + 3600,
    }))
}

/// Whether a statement only reads (and so can be sent again after a dropped
/// connection).
pub fn is_read_only(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_str(),
        "select" | "with" | "show" | "describe" | "desc" | "values"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_told_from_writes() {
        assert!(is_read_only("  -- note\n/* c */ (select 1)"));
        assert!(is_read_only("WITH x AS (select 1) select * from x"));
        assert!(!is_read_only("insert into t select 1"));
        assert!(!is_read_only("create or replace table t as select 1"));
    }
}
