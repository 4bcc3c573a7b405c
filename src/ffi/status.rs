//! Status codes returned by every fallible `viz_*` function.

use super::abi_enum::abi_enum;
use crate::error::ErrorKind;

/// The outcome of a `viz_*` call. The values are fixed and never reused: hosts may
/// switch on them. On anything but `VIZ_STATUS_OK`, `viz_last_error_message` tells
/// the calling thread what went wrong.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum viz_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is out of range or malformed (including an unknown enum value).
    InvalidArgument = 2,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 3,
    /// The configuration is invalid; the message names the field and value.
    InvalidConfig = 4,
    /// No backend type is registered under the requested name.
    UnknownBackendType = 5,
    /// A storage backend failed.
    BackendError = 6,
    /// An operating-system I/O operation failed.
    Io = 7,
    /// The queue is full and the overflow policy rejected the event.
    QueueFull = 8,
    /// The collector is stopped or closed.
    Closed = 9,
    /// The operation did not complete before its deadline.
    Timeout = 10,
    /// The operation is not supported (for example, reading a write-only backend).
    Unsupported = 11,
    /// Stored data failed an integrity check.
    CorruptData = 12,
    /// viz or code it called panicked; the panic was caught at the boundary.
    Panic = 13,
}

impl From<ErrorKind> for viz_status {
    fn from(kind: ErrorKind) -> viz_status {
        match kind {
            ErrorKind::InvalidArgument => viz_status::InvalidArgument,
            ErrorKind::InvalidUtf8 => viz_status::InvalidUtf8,
            ErrorKind::InvalidConfig => viz_status::InvalidConfig,
            ErrorKind::UnknownBackendType => viz_status::UnknownBackendType,
            ErrorKind::Backend => viz_status::BackendError,
            ErrorKind::Io => viz_status::Io,
            ErrorKind::QueueFull => viz_status::QueueFull,
            ErrorKind::Closed => viz_status::Closed,
            ErrorKind::Timeout => viz_status::Timeout,
            ErrorKind::Unsupported => viz_status::Unsupported,
            ErrorKind::CorruptData => viz_status::CorruptData,
            ErrorKind::Panic => viz_status::Panic,
        }
    }
}

impl viz_status {
    /// The error kind a failing status stands for, such as a host callback's answer
    /// (`Ok` has none; a NULL argument is an invalid one).
    pub(crate) fn kind(self) -> Option<ErrorKind> {
        use viz_status::*;
        Some(match self {
            Ok => return None,
            NullArgument | InvalidArgument => ErrorKind::InvalidArgument,
            InvalidUtf8 => ErrorKind::InvalidUtf8,
            InvalidConfig => ErrorKind::InvalidConfig,
            UnknownBackendType => ErrorKind::UnknownBackendType,
            BackendError => ErrorKind::Backend,
            Io => ErrorKind::Io,
            QueueFull => ErrorKind::QueueFull,
            Closed => ErrorKind::Closed,
            Timeout => ErrorKind::Timeout,
            Unsupported => ErrorKind::Unsupported,
            CorruptData => ErrorKind::CorruptData,
            Panic => ErrorKind::Panic,
        })
    }
}

abi_enum!(viz_status, "status" {
    Ok,
    NullArgument,
    InvalidArgument,
    InvalidUtf8,
    InvalidConfig,
    UnknownBackendType,
    BackendError,
    Io,
    QueueFull,
    Closed,
    Timeout,
    Unsupported,
    CorruptData,
    Panic,
});

#[cfg(test)]
mod tests {
    use super::viz_status;

    #[test]
    fn raw_statuses_convert_only_when_valid() {
        for raw in 0..14u32 {
            assert_eq!(viz_status::from_raw(raw).map(viz_status::raw), Some(raw));
        }
        assert_eq!(viz_status::from_raw(14), None);
        assert_eq!(viz_status::from_raw(99), None);
        assert_eq!(viz_status::from_raw(u32::MAX), None);
    }
}
