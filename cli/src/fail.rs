//! Errors and exit codes: 1 for a failed check or a failed operation, 2 for bad
//! usage (a missing run, a bad pattern, a malformed range), each reported on
//! stderr in one line.

use std::fmt;

/// Exit code of a failed check or operation.
pub const FAILED: i32 = 1;
/// Exit code of bad usage.
pub const USAGE: i32 = 2;

/// Why the command failed, and its exit code.
#[derive(Debug)]
pub struct Fail {
    /// The exit code.
    pub code: i32,
    /// One line naming the problem.
    pub message: String,
}

/// Bad usage: exit code 2.
pub fn usage(message: impl Into<String>) -> Fail {
    Fail {
        code: USAGE,
        message: message.into(),
    }
}

/// A failed check or operation: exit code 1.
pub fn failed(message: impl Into<String>) -> Fail {
    Fail {
        code: FAILED,
        message: message.into(),
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<viz::VizError> for Fail {
    fn from(e: viz::VizError) -> Fail {
        // The library says which of its errors are the caller's.
        let code = match e.kind() {
            viz::ErrorKind::InvalidArgument | viz::ErrorKind::InvalidConfig => USAGE,
            _ => FAILED,
        };
        Fail {
            code,
            message: e.to_string().replace('\n', " "),
        }
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Fail {
        failed(e.to_string())
    }
}
