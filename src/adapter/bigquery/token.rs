//! Where BigQuery's bearer tokens come from: a pluggable [`TokenSource`].
//!
//! - `service-account` / `service-account-json`: the key file's JSON (a path, or
//!   the JSON itself from an environment variable). sluice signs a JWT with the
//!   account's key and trades it at the key's `token_uri` for an access token
//!   (Google's OAuth 2.0 JWT bearer flow), cached until a minute before it
//!   expires.
//! - `oauth-secrets` with `token:`: a ready access token.
//! - `none`: no `Authorization` header at all, for local emulators.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::adapter::auth::RsaSigner;
use crate::adapter::http::{Body, HttpClient, Retry};
use crate::adapter::WarehouseError;

const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

pub enum TokenSource {
    None,
    Static(String),
    ServiceAccount(Box<ServiceAccount>),
}

pub struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    signer: RsaSigner,
    cached: Mutex<Option<(String, Instant)>>,
}

impl ServiceAccount {
    /// Read a service-account key file's JSON. Errors name the missing field,
    /// never a value.
    pub fn from_json(text: &str) -> Result<ServiceAccount, String> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("the service-account key is not JSON ({e})"))?;
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("the service-account key has no `{k}`"))
        };
        if v["type"].as_str() != Some("service_account") {
            return Err(
                "the key is not a service-account key (`type` should be `service_account`)"
                    .to_owned(),
            );
        }
        Ok(ServiceAccount {
            client_email: field("client_email")?,
            token_uri: v["token_uri"]
                .as_str()
                .unwrap_or("https://oauth2.googleapis.com/token")
                .to_owned(),
            signer: RsaSigner::from_pem(&field("private_key")?)?,
            cached: Mutex::new(None),
        })
    }
}

impl TokenSource {
    /// The `Authorization` header value, if any; fetches or refreshes a token.
    pub fn header(&self, http: &HttpClient) -> Result<Option<String>, WarehouseError> {
        match self {
            TokenSource::None => Ok(None),
            TokenSource::Static(token) => Ok(Some(format!("Bearer {token}"))),
            TokenSource::ServiceAccount(sa) => {
                // A poisoned lock only means another thread panicked mid-refresh;
                // the cached value is then simply fetched again.
                let mut cached = sa.cached.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((token, valid_until)) = cached.as_ref() {
                    if Instant::now() < *valid_until {
                        return Ok(Some(format!("Bearer {token}")));
                    }
                }
                let (token, lifetime) = fetch_token(sa, http)?;
                let header = format!("Bearer {token}");
                *cached = Some((
                    token,
                    Instant::now() + lifetime.saturating_sub(Duration::from_secs(60)),
                ));
                Ok(Some(header))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TokenSource::None => "none (emulator)".to_owned(),
            TokenSource::Static(_) => "access token".to_owned(),
            TokenSource::ServiceAccount(sa) => format!("service account {}", sa.client_email),
        }
    }
}

fn fetch_token(
    sa: &ServiceAccount,
    http: &HttpClient,
) -> Result<(String, Duration), WarehouseError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let assertion = sa
        .signer
        .sign_jwt(&json!({
            "iss": sa.client_email,
            "scope": SCOPE,
            "aud": sa.token_uri,
            "iat": now,
            "exp": now + 3600,
        }))
        .map_err(WarehouseError)?;
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.as_str()),
    ];
    let response = http.send(
        "POST",
        &sa.token_uri,
        &[],
        Body::Form(&form),
        Retry::Idempotent,
    )?;
    let v = response.json().unwrap_or_default();
    let token = v["access_token"].as_str().unwrap_or_default();
    if response.status != 200 || token.is_empty() {
        let reason = v["error_description"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .unwrap_or("no reason given");
        return Err(WarehouseError(http.redact(&format!(
            "Google refused the service account {}'s credentials (HTTP {}): {reason}",
            sa.client_email, response.status
        ))));
    }
    let lifetime = Duration::from_secs(v["expires_in"].as_u64().unwrap_or(3600));
    Ok((token.to_owned(), lifetime))
}
