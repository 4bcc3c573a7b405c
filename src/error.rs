//! Errors: one kind per failure class, each with a message that names what is wrong.
//!
//! The kinds map one-to-one onto the C ABI's `viz_status` codes, so a Rust error
//! crosses the boundary without losing its class.

use std::borrow::Cow;
use std::fmt;

/// The class of a failure. Values are stable: the C ABI exposes them as status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is out of range or malformed.
    InvalidArgument,
    /// A string argument is not valid UTF-8.
    InvalidUtf8,
    /// A configuration field is invalid; the message names the field and value.
    InvalidConfig,
    /// No backend type is registered under the requested name.
    UnknownBackendType,
    /// A storage backend reported a failure.
    Backend,
    /// An operating-system I/O operation failed.
    Io,
    /// The collector's queue is full and the overflow policy rejected the event.
    QueueFull,
    /// The collector (or backend) is stopped and accepts nothing more.
    Closed,
    /// An operation did not complete before its deadline.
    Timeout,
    /// The operation is not supported by this backend.
    Unsupported,
    /// Stored data failed an integrity check.
    CorruptData,
    /// Code that viz called (a backend or subscriber) panicked.
    Panic,
}

impl ErrorKind {
    /// A short lowercase name, used in messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::InvalidUtf8 => "invalid UTF-8",
            ErrorKind::InvalidConfig => "invalid config",
            ErrorKind::UnknownBackendType => "unknown backend type",
            ErrorKind::Backend => "backend error",
            ErrorKind::Io => "I/O error",
            ErrorKind::QueueFull => "queue full",
            ErrorKind::Closed => "closed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::CorruptData => "corrupt data",
            ErrorKind::Panic => "panic",
        }
    }
}

/// A viz error: a kind plus a human-readable message.
///
/// The message is a `Cow` so the errors the hot path can return (queue full,
/// closed, unknown tag id) carry static text and never allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VizError {
    kind: ErrorKind,
    message: Cow<'static, str>,
}

/// The result type used throughout viz.
pub type Result<T, E = VizError> = std::result::Result<T, E>;

impl VizError {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        VizError {
            kind,
            message: message.into(),
        }
    }

    /// The failure class.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Shorthand for [`ErrorKind::InvalidConfig`].
    pub fn invalid_config(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidConfig, message)
    }

    /// Shorthand for [`ErrorKind::Backend`].
    pub fn backend(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }

    /// The error a write-only backend returns from a read operation.
    pub fn unsupported(operation: &str, backend: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("{operation} is not supported by the '{backend}' backend (it is write-only)"),
        )
    }

    /// Shorthand for [`ErrorKind::Timeout`].
    pub fn timeout(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// Shorthand for [`ErrorKind::Closed`].
    pub fn closed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Closed, message)
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(self, context: impl fmt::Display) -> Self {
        VizError {
            kind: self.kind,
            message: format!("{context}: {}", self.message).into(),
        }
    }
}

impl fmt::Display for VizError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for VizError {}

impl From<std::io::Error> for VizError {
    fn from(e: std::io::Error) -> Self {
        VizError::new(ErrorKind::Io, e.to_string())
    }
}

/// Turns a caught panic payload into a message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Writes a warning to standard error, but only when the host asked for it with the
/// environment variable `VIZ_WARNINGS=stderr`: a library must not write to a
/// program's terminal on its own. Every warning also reaches the collector's error
/// callback, `last_error` and the destination's `warnings` count.
pub(crate) fn warn_on_stderr(message: impl fmt::Display) {
    static ON: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var("VIZ_WARNINGS").is_ok_and(|v| v == "stderr"));
    if *ON {
        eprintln!("viz: warning: {message}");
    }
}
