//! Connection strings: `<type>://<location>?<option>=<value>&...`.
//!
//! Options are validated by the backend that reads them: [`ConnectionString::take`]
//! parses one, and [`ConnectionString::finish`] rejects any the backend did not
//! know, naming the option, so a typo never passes silently.

use std::str::FromStr;
use std::time::Duration;

use crate::error::{Result, VizError};

/// A parsed connection string.
#[derive(Debug)]
pub struct ConnectionString {
    /// The scheme (the backend type).
    pub scheme: String,
    /// Everything between `://` and `?`, percent-decoded.
    pub location: String,
    options: Vec<(String, String)>,
}

impl ConnectionString {
    /// Parses `s`. Errors name what is malformed.
    pub fn parse(s: &str) -> Result<ConnectionString> {
        let scheme = scheme_of(s)?.to_owned();
        let rest = &s[scheme.len() + 3..];
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut options = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                VizError::invalid_config(format!(
                    "option '{pair}' in connection string '{}' has no value; write {pair}=<value>",
                    redacted(s)
                ))
            })?;
            options.push((decode(key, s, true)?, decode(value, s, false)?));
        }
        Ok(ConnectionString {
            scheme,
            location: decode(location, s, true)?,
            options,
        })
    }

    /// Removes and parses option `name`; `None` when absent.
    pub fn take<T: FromStr>(&mut self, name: &str) -> Result<Option<T>> {
        let Some(i) = self.options.iter().position(|(k, _)| k == name) else {
            return Ok(None);
        };
        let (_, value) = self.options.remove(i);
        value.parse().map(Some).map_err(|_| {
            VizError::invalid_config(format!(
                "option {name} has invalid value '{}' for a {}://",
                shown(name, &value),
                self.scheme
            ))
        })
    }

    /// Removes option `name`, which must be one of `choices`; `None` when absent.
    pub fn take_choice(
        &mut self,
        name: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>> {
        let Some(value) = self.take::<String>(name)? else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|&&c| c == value)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                VizError::invalid_config(format!(
                    "option {name} has invalid value '{}' for a {}:// (use {})",
                    shown(name, &value),
                    self.scheme,
                    choices.join(" or ")
                ))
            })
    }

    /// Removes option `name`, a duration such as `500ms`, `30s`, `10m` or `24h`
    /// (a bare number is seconds); `None` when absent. Zero is refused.
    pub fn take_duration(&mut self, name: &str) -> Result<Option<Duration>> {
        let Some(value) = self.take::<String>(name)? else {
            return Ok(None);
        };
        let split = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        let (digits, unit) = value.split_at(split);
        let scale = match unit {
            "ms" => Some(Duration::from_millis(1)),
            "" | "s" => Some(Duration::from_secs(1)),
            "m" => Some(Duration::from_secs(60)),
            "h" => Some(Duration::from_secs(3600)),
            _ => None,
        };
        digits
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .zip(scale)
            .map(|(n, scale)| Some(scale * n))
            .ok_or_else(|| {
                VizError::invalid_config(format!(
                    "option {name} has invalid value '{}' for a {}:// (use a positive duration such as 500ms, 30s, 10m or 24h)",
                    shown(name, &value),
                    self.scheme
                ))
            })
    }

    /// Fails if any option was not taken.
    pub fn finish(self) -> Result<()> {
        match self.options.first() {
            None => Ok(()),
            Some((k, _)) => Err(VizError::invalid_config(format!(
                "unknown option '{k}' for a {}:// connection string",
                self.scheme
            ))),
        }
    }
}

/// `s` for error messages: any password in its authority
/// (`scheme://user:password@host`) and every option value masked (`token=***`).
/// Every value, not only those of known credential keys: an option the backend
/// does not know (`tokn=...`, a typo) is exactly the one nobody can classify.
pub fn redacted(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return s.into();
    };
    // The query starts at the first `?` after the scheme, as `parse` reads it (a
    // `?` before `://` is part of a malformed scheme: the fuzzer found one).
    let (head, query) = match s[start..].find('?') {
        Some(i) => (&s[..start + i], Some(&s[start + i + 1..])),
        None => (s, None),
    };
    let authority_end = head[start..].find('/').map_or(head.len(), |i| start + i);
    let mut out = match head[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &head[..start], &head[start + at..]),
        None => head.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    if out == s { s.into() } else { out.into() }
}

/// Whether option `key` holds a credential, whose value no message may repeat.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "key",
        "auth",
        "credential",
        "signature",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// `value` of option `key` as an error message may show it.
fn shown<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) { "***" } else { value }
}

/// Percent-decodes `part` of connection string `whole`; a bad escape is named,
/// showing `part` only if `show` (a location or key, never an option value).
fn decode(part: &str, whole: &str, show: bool) -> Result<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    VizError::invalid_config(format!(
                        "bad percent-escape at byte {i} of '{}' in connection string '{}'",
                        if show { part } else { "an option value" },
                        redacted(whole)
                    ))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        VizError::new(
            crate::ErrorKind::InvalidUtf8,
            format!("'{part}' in connection string '{whole}' decodes to invalid UTF-8"),
        )
    })
}

/// The scheme of `scheme://rest`, validated.
pub fn scheme_of(connection_string: &str) -> Result<&str> {
    match connection_string.split_once("://") {
        Some((scheme, _)) if is_type_name(scheme) => Ok(scheme),
        _ => Err(VizError::invalid_config(format!(
            "connection_string '{}' is not of the form <type>://<location>, such as memory:// or file:///runs/a",
            redacted(connection_string)
        ))),
    }
}

/// Whether `s` is a backend type name: a letter, then letters, digits, `_`, `-`, `+`.
pub(crate) fn is_type_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
}
