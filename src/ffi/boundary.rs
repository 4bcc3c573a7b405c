//! The boundary every `viz_*` export goes through: one guard that catches panics
//! and turns failures into the function's failure value, the per-thread last error,
//! and every raw-pointer helper (slices, C strings in and out, out-parameters,
//! handle borrows). Nothing else in `src/ffi` dereferences a host pointer.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
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

/// What an export returns, and what it returns when its body fails or panics (the
/// way rustls-ffi's `PanicOrDefault` picks a panic value from the return type): a
/// status function returns the failure's status; one returning a value returns
/// false, 0 or NULL, with the message left for `viz_last_error_message`.
pub(crate) trait Outcome {
    /// What the body produces on success.
    type Value;
    /// The export's return value for a successful body.
    fn success(value: Self::Value) -> Self;
    /// The export's return value for a failure with `status`.
    fn failure(status: viz_status) -> Self;
}

impl Outcome for viz_status {
    type Value = ();
    fn success((): ()) -> Self {
        viz_status::Ok
    }
    fn failure(status: viz_status) -> Self {
        status
    }
}

/// Values whose failure value is their default (false, 0).
macro_rules! default_on_failure {
    ($($t:ty),*) => {$(
        impl Outcome for $t {
            type Value = $t;
            fn success(value: $t) -> Self {
                value
            }
            fn failure(_: viz_status) -> Self {
                <$t>::default()
            }
        }
    )*};
}
default_on_failure!(bool, usize, u32, u64, ());

impl<T> Outcome for *const T {
    type Value = *const T;
    fn success(value: *const T) -> Self {
        value
    }
    fn failure(_: viz_status) -> Self {
        std::ptr::null()
    }
}

/// Runs an export's body: a panic becomes `VIZ_STATUS_PANIC`, a failure its status,
/// and either leaves a message prefixed with the function's name for
/// `viz_last_error_message`; the export returns `R`'s value for it. Success leaves
/// the last message alone. Every `viz_*` export calls this, with its own name
/// (`tests/source_rules.rs` checks both).
pub(crate) fn guard<R: Outcome>(
    function: &'static str,
    body: impl FnOnce() -> Result<R::Value, Failure>,
) -> R {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return R::success(value),
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
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = format!("{function}: {message}"));
    R::failure(status)
}

/// Runs `f` on the calling thread's last error message.
pub(crate) fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|m| f(&m.borrow()))
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

/// A NUL-terminated C string as text, invalid UTF-8 replaced: for messages a host
/// hands over, which must arrive whatever their bytes.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string.
pub(crate) unsafe fn c_str_lossy(
    ptr: *const c_char,
    name: &'static str,
) -> Result<String, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated, by the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned())
}

/// A C string copy of `s` for the host; interior NULs cannot come from valid input,
/// but are replaced rather than trusted.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s)
        .unwrap_or_else(|_| CString::new(s.replace('\0', "\u{FFFD}")).expect("NULs replaced"))
}

/// Copies `text` into the host's `buf` (at most `len - 1` bytes, then a NUL) and
/// returns the length the whole text needs, excluding the NUL.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
pub(crate) unsafe fn copy_out(text: &str, buf: *mut c_char, len: usize) -> usize {
    let bytes = text.as_bytes();
    if !buf.is_null() && len > 0 {
        let n = bytes.len().min(len - 1);
        // SAFETY: the caller gives `len` writable bytes at `buf`; n < len.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
            buf.add(n).write(0);
        }
    }
    bytes.len()
}

/// Hands `text` to a host through the size-then-copy protocol: its length (without
/// the NUL) to `*needed`, and as much as fits into `buf` (see [`copy_out`]); the host
/// calls again with `*needed + 1` bytes when `*needed >= len`.
///
/// # Safety
/// `buf` NULL or writable for `len` bytes; `needed` NULL or writable.
pub(crate) unsafe fn text_out(
    text: &str,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> Result<(), Failure> {
    // SAFETY: per the caller's contract.
    unsafe {
        write_out(needed, text.len(), "needed")?;
        copy_out(text, buf, len);
    }
    Ok(())
}

/// A slice from a pointer and length; NULL is allowed only for length 0.
///
/// # Safety
/// A non-NULL `ptr` must be valid for `len` reads of `T`.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    name: &'static str,
) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and valid for `len` elements, per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A shared reference to a struct the host passes by pointer, or `Null(name)`.
///
/// # Safety
/// A non-NULL `ptr` must point to a valid `T` for the returned lifetime.
pub(crate) unsafe fn read_in<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees a non-NULL pointer is valid.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Fails with `Null(name)` unless `out` can be written; checked before the work
/// whose result goes there, so a NULL out-pointer costs nothing.
pub(crate) fn check_out<T>(out: *mut T, name: &'static str) -> Result<(), Failure> {
    if out.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(())
    }
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
    check_out(out, name)?;
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

    /// Gives ownership of a new `value` to the host through `out`; `value` is not
    /// made unless `out` can take it.
    ///
    /// # Safety
    /// A non-NULL `out` must be valid for writing a pointer.
    unsafe fn create(
        out: *mut *mut Self,
        make: impl FnOnce() -> Result<Self::Rust, Failure>,
    ) -> Result<(), Failure> {
        check_out(out, "out")?;
        let handle = Self::into_raw(Box::new(make()?));
        // SAFETY: non-NULL and writable, per the caller's contract.
        unsafe { out.write(handle) };
        Ok(())
    }

    /// Borrows the value behind a handle, or `Null(name)`.
    ///
    /// # Safety
    /// A non-NULL `ptr` must come from `into_raw` and not yet be freed.
    unsafe fn borrow<'a>(ptr: *const Self, name: &'static str) -> Result<&'a Self::Rust, Failure> {
        // SAFETY: by the caller's contract the pointer came from `into_raw`.
        unsafe { ptr.cast::<Self::Rust>().as_ref() }.ok_or_else(|| Failure::null(name))
    }

    /// Borrows the value behind a handle mutably, or `Null(name)`.
    ///
    /// # Safety
    /// A non-NULL `ptr` must come from `into_raw` (or be `Self::Rust` lent for a
    /// call), not be freed, and not be borrowed elsewhere meanwhile.
    unsafe fn borrow_mut<'a>(
        ptr: *mut Self,
        name: &'static str,
    ) -> Result<&'a mut Self::Rust, Failure> {
        // SAFETY: by the caller's contract the pointer is live and unaliased.
        unsafe { ptr.cast::<Self::Rust>().as_mut() }.ok_or_else(|| Failure::null(name))
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
