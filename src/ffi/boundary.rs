//! The panic boundary, argument checks and the per-thread last error.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::status::viz_status;
use crate::error::{ErrorKind, VizError, panic_message};

thread_local! {
    /// The message of the calling thread's most recent failed call.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Why an entry point failed: a NULL argument (a status the Rust API does not
/// have), or any viz error.
pub(crate) enum Failure {
    Null(Cow<'static, str>),
    Viz(VizError),
}

impl Failure {
    /// A NULL `name` argument.
    pub(crate) fn null(name: &'static str) -> Failure {
        Failure::Null(Cow::Borrowed(name))
    }

    /// Prefixes the failure's message with `context` (such as `events[3]`).
    pub(crate) fn context(self, context: impl std::fmt::Display) -> Failure {
        match self {
            Failure::Null(name) => Failure::Null(Cow::Owned(format!("{context}: {name}"))),
            Failure::Viz(e) => Failure::Viz(e.context(context)),
        }
    }
}

impl From<VizError> for Failure {
    fn from(e: VizError) -> Failure {
        Failure::Viz(e)
    }
}

/// Runs an entry point's body: a panic becomes `Panic`, a failure its status, and
/// either leaves a message (prefixed with the function name) for
/// `viz_last_error_message`. Success leaves the last message alone.
pub(crate) fn guard(
    function: &'static str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> viz_status {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return viz_status::Ok,
        Ok(Err(Failure::Null(name))) => (viz_status::NullArgument, format!("{name} is NULL")),
        // The status carries the kind; the message says what is wrong.
        Ok(Err(Failure::Viz(e))) => (viz_status::from(e.kind()), e.message().to_owned()),
        Err(payload) => (
            viz_status::Panic,
            format!(
                "{}: {}",
                ErrorKind::Panic.as_str(),
                panic_message(&*payload)
            ),
        ),
    };
    set_last_error(format!("{function}: {message}"));
    status
}

pub(crate) fn set_last_error(message: String) {
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = message);
}

pub(crate) fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|m| f(&m.borrow()))
}

/// A shared reference from a handle pointer, or `Null(name)`.
///
/// # Safety
/// A non-NULL `ptr` must point to a live `T` for the returned lifetime.
pub(crate) unsafe fn deref<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees a non-NULL pointer is valid.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// A NUL-terminated C string as UTF-8, or `Null(name)` / `InvalidUtf8` naming `name`.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string valid for the returned lifetime.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, name: &'static str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated, by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::Viz(VizError::new(
            ErrorKind::InvalidUtf8,
            format!(
                "{name} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        ))
    })
}

/// Writes `value` through an out-pointer, or `Null(name)`.
///
/// # Safety
/// A non-NULL `out` must be valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(
    out: *mut T,
    value: T,
    name: &'static str,
) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and writable, by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Ties an opaque C handle type to the Rust type behind it, so casts happen in one
/// place and nowhere else uses `as` on handle pointers.
pub(crate) trait Handle: Sized {
    type Rust;

    /// Gives ownership of `value` to the host.
    fn into_raw(value: Box<Self::Rust>) -> *mut Self {
        Box::into_raw(value).cast()
    }

    /// Borrows the value behind a handle, or `Null(name)`.
    ///
    /// # Safety
    /// A non-NULL `ptr` must come from `into_raw` and not yet be freed.
    unsafe fn borrow<'a>(ptr: *const Self, name: &'static str) -> Result<&'a Self::Rust, Failure> {
        // SAFETY: by the caller's contract the pointer came from `into_raw`.
        unsafe { deref(ptr.cast::<Self::Rust>(), name) }
    }

    /// Takes ownership back from the host, or `Null(name)`.
    ///
    /// # Safety
    /// A non-NULL `ptr` must come from `into_raw` and not be used afterwards.
    unsafe fn take(ptr: *mut Self, name: &'static str) -> Result<Box<Self::Rust>, Failure> {
        if ptr.is_null() {
            return Err(Failure::null(name));
        }
        // SAFETY: by the caller's contract the pointer came from `into_raw`.
        Ok(unsafe { Box::from_raw(ptr.cast::<Self::Rust>()) })
    }
}
