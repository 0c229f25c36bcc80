//! HTTP plumbing shared by the Snowflake and BigQuery adapters: one blocking
//! agent (ureq, rustls) with a connect timeout and an overall per-request timeout,
//! retries with exponential backoff on 429/5xx and dropped connections for calls
//! that are safe to repeat, and error text scrubbed of every secret the adapter
//! holds.
//!
//! A timeout is never retried: the warehouse may still be running the statement.

use std::time::Duration;

use super::WarehouseError;
use crate::diagnostics::Diagnostic;
use crate::project::TargetDef;

/// How a warehouse connection behaves on the network.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// The warehouse's name, for messages ("Snowflake").
    pub warehouse: &'static str,
    pub connect_timeout: Duration,
    /// The longest one request may take, body included.
    pub request_timeout: Duration,
    /// Retries after the first attempt, for idempotent calls.
    pub retries: u32,
    /// The first backoff; it doubles after each retry (capped at 8 s).
    pub backoff: Duration,
}

impl HttpSettings {
    /// A target's network settings: `connect_timeout`, `timeout_seconds`,
    /// `retries` (dbt's `connect_retries` also accepted).
    pub fn from_target(
        def: &TargetDef,
        warehouse: &'static str,
    ) -> Result<HttpSettings, Diagnostic> {
        let retries = match def.number("retries")? {
            Some(n) => n,
            None => def.number("connect_retries")?.unwrap_or(3),
        };
        Ok(HttpSettings {
            warehouse,
            connect_timeout: Duration::from_secs(
                def.number("connect_timeout")?.unwrap_or(10).max(1),
            ),
            request_timeout: Duration::from_secs(
                def.number("timeout_seconds")?.unwrap_or(900).max(1),
            ),
            retries: retries.min(10) as u32,
            backoff: Duration::from_millis(500),
        })
    }
}

/// A response: the status and the body as text.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

impl HttpClient {
    /// A response's JSON body; a body that is not JSON (a proxy's error page, a
    /// traceback) is an error quoting its start. `what` names the request.
    pub fn json_body(
        &self,
        response: &HttpResponse,
        what: &str,
    ) -> Result<serde_json::Value, WarehouseError> {
        response.json().ok_or_else(|| {
            let snippet: String = response.body.chars().take(200).collect();
            WarehouseError(self.redact(&format!(
                "{} answered HTTP {} to {what}, not JSON: {}",
                self.settings.warehouse,
                response.status,
                snippet.trim()
            )))
        })
    }
}

/// Whether a call may be sent again after a transient failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Safe to repeat (reads, logins, requests the server deduplicates by id).
    Idempotent,
    /// Sent once: repeating it could apply a write twice.
    Once,
}

/// One HTTP client for one warehouse connection.
pub struct HttpClient {
    agent: ureq::Agent,
    settings: HttpSettings,
    secrets: Vec<String>,
}

/// A request body.
pub enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// Responses larger than this are refused rather than exhausting memory; big
/// Snowflake results arrive in chunks, and BigQuery pages, well under it.
const MAX_BODY_BYTES: u64 = 512 * 1024 * 1024;

impl HttpClient {
    pub fn new(settings: HttpSettings) -> HttpClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(settings.connect_timeout))
            .timeout_global(Some(settings.request_timeout))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        HttpClient {
            agent,
            settings,
            secrets: Vec::new(),
        }
    }

    /// Values that must never appear in an error message (passwords, tokens).
    pub fn add_secret(&mut self, secret: &str) {
        if secret.len() >= 4 && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        out
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Send a request; retry transient failures when `retry` allows. A response
    /// with any status is `Ok`: callers read warehouse errors from the body.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
        retry: Retry,
    ) -> Result<HttpResponse, WarehouseError> {
        let attempts = match retry {
            Retry::Idempotent => self.settings.retries + 1,
            Retry::Once => 1,
        };
        let mut backoff = self.settings.backoff;
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(method, url, headers, &body);
            let transient = match &outcome {
                Ok(r) => matches!(r.status, 429 | 500 | 502 | 503 | 504),
                Err(e) => matches!(
                    e,
                    ureq::Error::ConnectionFailed | ureq::Error::Io(_) | ureq::Error::Protocol(_)
                ),
            };
            if transient && attempt < attempts {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(8));
                attempt += 1;
                continue;
            }
            return outcome.map_err(|e| self.transport_error(url, e, attempt));
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
    ) -> Result<HttpResponse, ureq::Error> {
        let mut response = match method {
            "GET" | "DELETE" => {
                let mut request = if method == "GET" {
                    self.agent.get(url)
                } else {
                    self.agent.delete(url)
                };
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                request.call()?
            }
            _ => {
                let mut request = self.agent.post(url);
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                match body {
                    Body::None => request.send_empty()?,
                    Body::Json(v) => request
                        .header("Content-Type", "application/json")
                        .send(v.to_string().as_bytes())?,
                    Body::Form(fields) => request.send_form(fields.iter().copied())?,
                }
            }
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()?;
        Ok(HttpResponse { status, body })
    }

    /// A network failure as the user should read it: what, where, and what to
    /// check. The URL holds no secret (tokens travel in headers).
    fn transport_error(&self, url: &str, e: ureq::Error, attempts: u32) -> WarehouseError {
        let warehouse = self.settings.warehouse;
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(url);
        let tries = if attempts > 1 {
            format!(" (after {attempts} attempts)")
        } else {
            String::new()
        };
        let text = match e {
            ureq::Error::Timeout(_) => format!(
                "{warehouse} did not answer within {} s{tries} ({host}); raise the target's `timeout_seconds` if the statement is just slow",
                self.settings.request_timeout.as_secs_f64()
            ),
            ureq::Error::HostNotFound => format!(
                "cannot resolve {host}: check the target's account, host or base_url"
            ),
            ureq::Error::ConnectionFailed | ureq::Error::Io(_) => format!(
                "cannot reach {warehouse} at {host}{tries}: {e}; check the address and that the service is up"
            ),
            other => format!("HTTP error talking to {warehouse} at {host}{tries}: {other}"),
        };
        WarehouseError(self.redact(&text))
    }
}

/// `k=v&k2=v2`, percent-encoded.
pub fn query_string(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_percent_encoded() {
        assert_eq!(
            query_string(&[("databaseName", "GTM DB".into()), ("x", "a&b".into())]),
            "databaseName=GTM%20DB&x=a%26b"
        );
    }

    fn client() -> HttpClient {
        HttpClient::new(HttpSettings {
            warehouse: "Test",
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            retries: 2,
            backoff: Duration::from_millis(1),
        })
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let mut c = client();
        c.add_secret("hunter2-password");
        assert_eq!(
            c.redact("login failed for hunter2-password!"),
            "login failed for ***!"
        );
    }

    /// A local peer that answers each connection with the next canned status.
    fn serve(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<usize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut served = 0;
            for status in statuses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let body = format!("{{\"status\":{status}}}");
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                served += 1;
            }
            served
        });
        (url, handle)
    }

    #[test]
    fn idempotent_calls_retry_on_503_and_others_do_not() {
        let (url, peer) = serve(vec![503, 503, 200]);
        let r = client()
            .send("GET", &url, &[], Body::None, Retry::Idempotent)
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(peer.join().unwrap(), 3);

        let (url, peer) = serve(vec![503]);
        let r = client()
            .send("POST", &url, &[], Body::None, Retry::Once)
            .unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(peer.join().unwrap(), 1);
    }

    #[test]
    fn an_unreachable_host_says_where_and_what_to_check() {
        // A port nobody listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = client()
            .send(
                "GET",
                &format!("http://127.0.0.1:{port}/"),
                &[],
                Body::None,
                Retry::Idempotent,
            )
            .unwrap_err();
        assert!(
            e.0.contains(&format!("cannot reach Test at 127.0.0.1:{port}")),
            "{e}"
        );
        assert!(e.0.contains("after 3 attempts"), "{e}");
    }
}
