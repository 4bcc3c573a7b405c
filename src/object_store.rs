//! A signed client for S3-compatible object stores (AWS S3, MinIO, Ceph RGW,
//! SeaweedFS, GCS's S3 interface, R2): the ground that viz's shared tier
//! (`s3://`, issue 26) is built on.
//!
//! Requests are built and SigV4-signed by `rusty-s3`, which does no I/O, and sent
//! by the `ureq` agent libviz already has for MLflow: no async runtime and no AWS
//! SDK in the cdylib. Each request is signed as a URL that expires in a minute,
//! so nothing but the request in flight can be replayed.
//!
//! Credentials follow the AWS conventions: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` and
//! `AWS_ENDPOINT_URL` from the environment, or the `endpoint=` and `region=`
//! options. A key or secret written into the URL is refused, and no error names
//! a signed URL (whose query carries the key id and signature): errors name the
//! object as `s3://BUCKET/KEY`.

use std::time::Duration;

use rusty_s3::actions::{
    CreateBucket, DeleteObject, GetObject, ListObjectsV2, PutObject, S3Action,
};
use rusty_s3::{Bucket, Credentials, UrlStyle};

use crate::error::{ErrorKind, Result, VizError};
use crate::url::ConnectionString;

/// How long a signed request stays valid: long enough for a slow upload to
/// start, short enough that a leaked URL is soon useless.
const SIGNED_FOR: Duration = Duration::from_secs(60);

/// The largest object a `get` reads: a sealed segment is at most a few tens of
/// megabytes, and a body past this is a misconfiguration, not data.
const MAX_OBJECT_BYTES: u64 = 1 << 30;

/// An object's key and size, as a listing gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The full key, prefix included.
    pub key: String,
    /// Bytes.
    pub size: u64,
}

/// One bucket of an S3-compatible store, with the prefix an `s3://` URL named.
pub struct ObjectStore {
    agent: ureq::Agent,
    bucket: Bucket,
    credentials: Option<Credentials>,
    prefix: String,
    endpoint: String,
}

impl std::fmt::Debug for ObjectStore {
    // Never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.bucket.name())
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl ObjectStore {
    /// Opens `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&addressing=path|virtual`
    /// with credentials from the environment. Options it does not know are
    /// refused by name; `access_key`, `secret_key` and the like are refused as
    /// credentials that do not belong in a URL.
    pub fn open(url: &str) -> Result<ObjectStore> {
        let mut cs = ConnectionString::parse(url)?;
        if cs.scheme != "s3" {
            return Err(VizError::invalid_config(format!(
                "an object store URL is s3://BUCKET/PREFIX, not {}://",
                cs.scheme
            )));
        }
        let location = std::mem::take(&mut cs.location);
        let store = ObjectStore::from_options(&location, &mut cs)?;
        cs.finish()?;
        Ok(store)
    }

    /// Opens `BUCKET[/PREFIX]` (an `s3://` URL's location), taking the object
    /// store's own options out of `cs` and leaving the rest to the caller (the
    /// `s3://` backend passes its staging log's on).
    pub fn from_options(location: &str, cs: &mut ConnectionString) -> Result<ObjectStore> {
        for secret in [
            "access_key",
            "access_key_id",
            "secret_key",
            "secret_access_key",
            "session_token",
            "token",
            "password",
        ] {
            if cs.take::<String>(secret)?.is_some() {
                return Err(VizError::invalid_config(format!(
                    "option {secret}: credentials do not belong in a URL (where logs and errors would show them); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                )));
            }
        }
        let endpoint = match cs.take::<String>("endpoint")? {
            Some(e) => e,
            None => std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
                VizError::invalid_config(
                    "s3://: no endpoint; give endpoint=http://HOST:PORT or set AWS_ENDPOINT_URL",
                )
            })?,
        };
        let region = match cs.take::<String>("region")? {
            Some(r) => r,
            None => std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|_| "us-east-1".to_owned()),
        };
        let style = match cs.take_choice("addressing", &["path", "virtual"])? {
            Some("virtual") => UrlStyle::VirtualHost,
            _ => UrlStyle::Path,
        };
        let timeout = cs
            .take_duration("request_timeout")?
            .unwrap_or(Duration::from_secs(30));
        let (name, prefix) = location.split_once('/').unwrap_or((location, ""));
        if name.is_empty() {
            return Err(VizError::invalid_config(
                "s3://: the URL names no bucket; write s3://BUCKET/PREFIX",
            ));
        }
        let parsed: url::Url = endpoint.parse().map_err(|e| {
            VizError::invalid_config(format!("option endpoint: '{endpoint}' is not a URL: {e}"))
        })?;
        let bucket = Bucket::new(parsed, style, name.to_owned(), region)
            .map_err(|e| VizError::invalid_config(format!("s3://{name} at {endpoint}: {e}")))?;
        let credentials = match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(key), Ok(secret)) => Some(match std::env::var("AWS_SESSION_TOKEN") {
                Ok(token) => Credentials::new_with_token(key, secret, token),
                Err(_) => Credentials::new(key, secret),
            }),
            _ => None,
        };
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(timeout))
            .user_agent(concat!("viz/", env!("CARGO_PKG_VERSION")));
        if endpoint.contains("://127.0.0.1") || endpoint.contains("://localhost") {
            config = config.proxy(None);
        }
        Ok(ObjectStore {
            agent: config.build().into(),
            bucket,
            credentials,
            prefix: prefix.trim_end_matches('/').to_owned(),
            endpoint,
        })
    }

    /// Signs with these credentials instead of the environment's: for a host
    /// that keeps its secrets elsewhere.
    pub fn with_credentials(mut self, key: &str, secret: &str, token: Option<&str>) -> Self {
        self.credentials = Some(match token {
            Some(t) => Credentials::new_with_token(key, secret, t),
            None => Credentials::new(key, secret),
        });
        self
    }

    /// Sends requests unsigned (anonymous access to a public bucket).
    pub fn without_credentials(mut self) -> Self {
        self.credentials = None;
        self
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        self.bucket.name()
    }

    /// The prefix the URL named, without a trailing slash ("" for none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `key` under the URL's prefix.
    pub fn key(&self, relative: &str) -> String {
        if self.prefix.is_empty() {
            relative.to_owned()
        } else {
            format!("{}/{relative}", self.prefix)
        }
    }

    /// Creates the bucket; one that already exists and is ours is fine.
    pub fn create_bucket(&self) -> Result<()> {
        let creds = self.credentials.as_ref().ok_or_else(|| {
            VizError::invalid_config(format!(
                "creating bucket s3://{}: no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                self.bucket()
            ))
        })?;
        let action = CreateBucket::new(&self.bucket, creds);
        let answer = self.send(
            self.agent
                .put(action.sign(SIGNED_FOR).as_str())
                .send(&[][..]),
        );
        match answer {
            Ok(_) => Ok(()),
            Err(e) if e.message().contains("BucketAlreadyOwnedByYou") => Ok(()),
            Err(e) => Err(e.context(format_args!("creating bucket s3://{}", self.bucket()))),
        }
    }

    /// Writes `bytes` as object `key`, whole: a reader sees the old object or
    /// the new one, never part of either.
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let action = PutObject::new(&self.bucket, self.credentials.as_ref(), key);
        self.send(self.agent.put(action.sign(SIGNED_FOR).as_str()).send(bytes))
            .map(drop)
            .map_err(|e| e.context(format_args!("writing {}", self.name(key))))
    }

    /// Writes `bytes` as object `key` only if no object has that key (S3's
    /// conditional write, `If-None-Match: *`): true if written, false if one was
    /// there. A store without conditional writes writes anyway and answers true.
    pub fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool> {
        let action = PutObject::new(&self.bucket, self.credentials.as_ref(), key);
        let sent = self
            .agent
            .put(action.sign(SIGNED_FOR).as_str())
            .header("if-none-match", "*")
            .send(bytes);
        match self.send(sent) {
            Ok(_) => Ok(true),
            Err(e) if e.message().contains(" 412 ") => Ok(false),
            Err(e) => Err(e.context(format_args!("writing {} if new", self.name(key)))),
        }
    }

    /// Reads object `key`; `None` if there is none.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let action = GetObject::new(&self.bucket, self.credentials.as_ref(), key);
        match self.send(self.agent.get(action.sign(SIGNED_FOR).as_str()).call()) {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.message().contains("NoSuchKey") => Ok(None),
            Err(e) => Err(e.context(format_args!("reading {}", self.name(key)))),
        }
    }

    /// Reads `len` bytes of object `key` from `start` (a ranged GET).
    pub fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut action = GetObject::new(&self.bucket, self.credentials.as_ref(), key);
        let range = format!("bytes={start}-{}", start + len - 1);
        action.headers_mut().insert("range", range.clone());
        self.send(
            self.agent
                .get(action.sign(SIGNED_FOR).as_str())
                .header("range", &range)
                .call(),
        )
        .map_err(|e| e.context(format_args!("reading {range} of {}", self.name(key))))
    }

    /// Every object whose key starts with `prefix`, in key order, page by page.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, self.credentials.as_ref());
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let body = self
                .send(self.agent.get(action.sign(SIGNED_FOR).as_str()).call())
                .map_err(|e| e.context(format_args!("listing s3://{}/{prefix}", self.bucket())))?;
            let text = String::from_utf8_lossy(&body);
            let page = ListObjectsV2::parse_response(&text).map_err(|e| {
                VizError::new(
                    ErrorKind::CorruptData,
                    format!(
                        "listing s3://{}/{prefix}: the answer is not a listing: {e}",
                        self.bucket()
                    ),
                )
            })?;
            out.extend(page.contents.into_iter().map(|c| ObjectInfo {
                key: c.key,
                size: c.size,
            }));
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes object `key` (deleting one that is not there is not an error).
    pub fn delete(&self, key: &str) -> Result<()> {
        let action = DeleteObject::new(&self.bucket, self.credentials.as_ref(), key);
        self.send(self.agent.delete(action.sign(SIGNED_FOR).as_str()).call())
            .map(drop)
            .map_err(|e| e.context(format_args!("deleting {}", self.name(key))))
    }

    fn name(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket())
    }

    /// The body of a 2xx answer; anything else as an error carrying the store's
    /// own code and message (never the signed URL).
    fn send(
        &self,
        result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>> {
        let mut response = result.map_err(|e| {
            VizError::new(
                ErrorKind::Io,
                format!("{}: {}", self.endpoint, without_query(&e.to_string())),
            )
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_OBJECT_BYTES)
            .read_to_vec()
            .map_err(|e| {
                VizError::new(
                    ErrorKind::Io,
                    format!(
                        "{}: reading the answer: {}",
                        self.endpoint,
                        without_query(&e.to_string())
                    ),
                )
            })?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let code = xml_field(&text, "Code").unwrap_or("");
        let message = xml_field(&text, "Message").unwrap_or("");
        let kind = match (status, code) {
            (403, _) | (400, "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
                ErrorKind::InvalidConfig
            }
            (404, _) => ErrorKind::InvalidConfig,
            (500..=599, _) | (429, _) => ErrorKind::Io,
            _ => ErrorKind::Backend,
        };
        let hint = match code {
            "NoSuchBucket" => format!(
                " (bucket '{}' does not exist at {})",
                self.bucket(),
                self.endpoint
            ),
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" => {
                if self.credentials.is_none() {
                    " (no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)".to_owned()
                } else {
                    " (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)".to_owned()
                }
            }
            _ => String::new(),
        };
        Err(VizError::new(
            kind,
            format!(
                "{} answered {status} {code}: {message}{hint}",
                self.endpoint
            ),
        ))
    }
}

/// `text` with every URL query cut out: a signed URL's query holds the key id
/// and the signature.
fn without_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_query = false;
    for c in text.chars() {
        if c == '?' {
            in_query = true;
            out.push_str("?…");
        } else if in_query && (c.is_whitespace() || c == '"' || c == '\'' || c == ')') {
            in_query = false;
            out.push(c);
        } else if !in_query {
            out.push(c);
        }
    }
    out
}

/// The text of the first `<name>…</name>` in an S3 error document.
fn xml_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..start + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_cut_out_of_messages() {
        assert_eq!(
            without_query("http://h/b/k?X-Amz-Credential=AKIA&X-Amz-Signature=ab: refused"),
            "http://h/b/k?… refused"
        );
        assert_eq!(
            without_query("GET \"http://h/k?sig=1\" failed"),
            "GET \"http://h/k?…\" failed"
        );
    }

    #[test]
    fn error_documents_are_read() {
        let doc = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>";
        assert_eq!(xml_field(doc, "Code"), Some("NoSuchBucket"));
        assert_eq!(xml_field(doc, "Message"), Some("gone"));
        assert_eq!(xml_field(doc, "Resource"), None);
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let e = ObjectStore::open("s3://b/p?endpoint=http://127.0.0.1:1&secret_key=hunter2")
            .unwrap_err();
        assert!(e.message().contains("do not belong in a URL"), "{e}");
        assert!(!e.message().contains("hunter2"), "{e}");
        let e = ObjectStore::open("s3:///p?endpoint=http://127.0.0.1:1").unwrap_err();
        assert!(e.message().contains("names no bucket"), "{e}");
    }
}
