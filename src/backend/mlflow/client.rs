//! A small client for MLflow's tracking REST API (`/api/2.0/mlflow/...`) and its
//! artifact proxy (`/api/2.0/mlflow-artifacts/...`), over ureq with rustls.
//!
//! Credentials come from the environment as MLflow's own client reads them
//! (`MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` and
//! `MLFLOW_TRACKING_PASSWORD`) and live only in the request header: no error, log
//! line, stat or spool record holds them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{ErrorKind, VizError};

/// How a request failed.
#[derive(Debug)]
pub enum Failure {
    /// Worth retrying: the connection failed or timed out, or the server answered
    /// 429, 5xx, 401 or 403 (credentials can be fixed without losing data).
    Retry {
        /// What happened.
        error: VizError,
        /// Whether the request may have reached the server.
        maybe_delivered: bool,
    },
    /// Refused for good (another 4xx): retrying the same request cannot help.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// MLflow's error code, such as `INVALID_PARAMETER_VALUE`.
        code: String,
        /// MLflow's message.
        message: String,
    },
}

impl Failure {
    /// The failure as an error naming what was attempted.
    pub fn into_error(self, doing: &str) -> VizError {
        match self {
            Failure::Retry { error, .. } => error.context(doing),
            Failure::Rejected {
                status,
                code,
                message,
            } => VizError::new(
                ErrorKind::Backend,
                format!("{doing}: the MLflow server refused it (HTTP {status}, {code}): {message}"),
            ),
        }
    }

    /// Whether this is MLflow error `code`.
    pub fn is_code(&self, wanted: &str) -> bool {
        matches!(self, Failure::Rejected { code, .. } if code == wanted)
    }
}

/// The answer of a request, or how it failed.
pub type Answer = std::result::Result<Value, Failure>;

/// A connection to one MLflow tracking server.
pub struct Client {
    agent: ureq::Agent,
    /// `http://host:port` (or https), with any path prefix, no trailing slash.
    base: String,
    auth: Option<String>,
}

impl Client {
    /// A client for the server at `base` (`http://host:port[/prefix]`), trusting
    /// the root certificates in `ca_pem` (PEM text) instead of the webpki roots
    /// when given, for a server whose certificate a private CA signed.
    pub fn new(
        base: &str,
        connect_timeout: Duration,
        request_timeout: Duration,
        ca_pem: Option<&[u8]>,
    ) -> Result<Client, VizError> {
        let loopback = is_loopback(base);
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(connect_timeout))
            .timeout_global(Some(request_timeout))
            .user_agent(concat!("viz/", env!("CARGO_PKG_VERSION")));
        if loopback {
            // A server on this machine is never reached through a proxy.
            config = config.proxy(None);
        }
        if let Some(pem) = ca_pem {
            let mut roots = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => roots.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(VizError::invalid_config(format!(
                            "option ca_file: not PEM certificates: {e}"
                        )));
                    }
                }
            }
            if roots.is_empty() {
                return Err(VizError::invalid_config(
                    "option ca_file: the file holds no PEM certificate",
                ));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        Ok(Client {
            agent: config.build().into(),
            base: base.trim_end_matches('/').to_owned(),
            auth: auth_from_env(),
        })
    }

    /// The server's address, as errors name it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/2.0/mlflow/<endpoint>?<query>`.
    pub fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Answer {
        let mut request = self
            .agent
            .get(format!("{}/api/2.0/mlflow/{endpoint}", self.base));
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        answer(request.call(), endpoint)
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body.
    pub fn post(&self, endpoint: &str, body: &Value) -> Answer {
        self.post_bytes(endpoint, &serde_json::to_vec(body).unwrap_or_default())
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body already encoded.
    pub fn post_bytes(&self, endpoint: &str, body: &[u8]) -> Answer {
        let mut request = self
            .agent
            .post(format!("{}/api/2.0/mlflow/{endpoint}", self.base))
            .header("Content-Type", "application/json");
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        answer(request.send(body), endpoint)
    }

    /// Uploads `bytes` through the artifact proxy to `path`, relative to the
    /// proxy's root (`<experiment>/<run>/artifacts/<file>`).
    pub fn put_artifact(&self, path: &str, bytes: &[u8]) -> Answer {
        let encoded: String = path
            .split('/')
            .map(encode_segment)
            .collect::<Vec<_>>()
            .join("/");
        let mut request = self
            .agent
            .put(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/{encoded}",
                self.base
            ))
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        answer(request.send(bytes), "mlflow-artifacts")
    }
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>, endpoint: &str) -> Answer {
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            // Failing to connect means nothing was sent; anything later may have
            // reached the server.
            let maybe_delivered = !matches!(
                e,
                ureq::Error::ConnectionFailed | ureq::Error::HostNotFound
            ) && !matches!(&e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
                && !matches!(&e, ureq::Error::Timeout(t) if matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve));
            return Err(Failure::Retry {
                error: VizError::new(ErrorKind::Io, format!("{endpoint}: {e}")),
                maybe_delivered,
            });
        }
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let read = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec();
    if (200..300).contains(&status) {
        // A success whose body is cut short or is not JSON (a proxy's HTML page)
        // is a failure to retry, never an empty answer: read as empty, a garbled
        // runs/search made viz create a second run of the same name.
        let bytes =
            read.map_err(|e| unreadable(endpoint, status, &content_type, &e.to_string(), &[]))?;
        let text = String::from_utf8_lossy(&bytes);
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        return match serde_json::from_slice::<Value>(&bytes) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(unreadable(
                endpoint,
                status,
                &content_type,
                "not a JSON object",
                &bytes,
            )),
            Err(e) => Err(unreadable(
                endpoint,
                status,
                &content_type,
                &e.to_string(),
                &bytes,
            )),
        };
    }
    let text = read
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = body["error_code"].as_str().unwrap_or("").to_owned();
    let message = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(300).collect());
    if status == 429 || status >= 500 || status == 401 || status == 403 {
        let what = match status {
            401 | 403 => " (check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD)",
            _ => "",
        };
        return Err(Failure::Retry {
            error: VizError::new(
                ErrorKind::Backend,
                format!("{endpoint}: HTTP {status} {code}{what}: {message}"),
            ),
            maybe_delivered: true,
        });
    }
    Err(Failure::Rejected {
        status,
        code,
        message,
    })
}

/// A 2xx answer viz cannot read: retried, and named by its status, content type
/// and first 200 bytes.
fn unreadable(endpoint: &str, status: u16, content_type: &str, why: &str, body: &[u8]) -> Failure {
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    Failure::Retry {
        error: VizError::new(
            ErrorKind::Backend,
            format!(
                "{endpoint}: HTTP {status} with an unreadable body ({why}; content type {content_type}; first {} bytes: {head:?})",
                body.len().min(200)
            ),
        ),
        maybe_delivered: true,
    }
}

fn is_loopback(base: &str) -> bool {
    let host = base
        .split("://")
        .nth(1)
        .unwrap_or(base)
        .split('/')
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn auth_from_env() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    auth_header(
        var("MLFLOW_TRACKING_TOKEN"),
        var("MLFLOW_TRACKING_USERNAME"),
        var("MLFLOW_TRACKING_PASSWORD"),
    )
}

/// The `Authorization` header MLflow's client sends: the token as a bearer token,
/// else the user and password as basic auth, else none.
fn auth_header(
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
) -> Option<String> {
    if let Some(token) = token {
        return Some(format!("Bearer {token}"));
    }
    let user = user?;
    let password = password.unwrap_or_default();
    Some(format!(
        "Basic {}",
        base64(format!("{user}:{password}").as_bytes())
    ))
}

/// Standard base64 with padding (RFC 4648), for a basic-auth header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes one path segment (unreserved characters kept).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn a_token_wins_over_basic_auth_and_nothing_means_no_header() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            auth_header(s("tok"), s("u"), s("p")).as_deref(),
            Some("Bearer tok")
        );
        assert_eq!(
            auth_header(None, s("admin"), s("password1234")).as_deref(),
            Some("Basic YWRtaW46cGFzc3dvcmQxMjM0")
        );
        assert_eq!(auth_header(None, None, s("p")), None);
    }

    #[test]
    fn loopback_hosts_are_recognized() {
        assert!(is_loopback("http://127.0.0.1:5000"));
        assert!(is_loopback("http://localhost:5000/prefix"));
        assert!(is_loopback("https://[::1]:443"));
        assert!(!is_loopback("http://10.0.0.1:5000"));
        assert!(!is_loopback("https://mlflow.example.com"));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("a b+c%"), "a%20b%2Bc%25");
        assert_eq!(encode_segment("step~1.png"), "step~1.png");
    }
}
