//! Host-defined backends: a C vtable registered under a type name, then used by
//! collectors like a built-in type (`"<type>://..."` in the config).
//!
//! Ownership: `userdata` belongs to viz from a successful `viz_backend_register`
//! until the finalizer runs, exactly once, when the type is unregistered *and* every
//! backend created from it has been shut down and dropped.

use std::collections::HashMap;
use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::boundary::{Failure, Handle, c_str, c_str_lossy, c_string, guard, read_in};
use super::event::{to_event, views_of, viz_event};
use super::status::viz_status;
use crate::backend::StorageBackend;
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::factory::StorageBackendFactory;
use crate::tag::TagId;

/// Callbacks of a host-defined backend. Every callback takes the registration's
/// `userdata` first and returns a `viz_status`: `VIZ_STATUS_OK` on success, else
/// the status that says what failed (`VIZ_STATUS_UNSUPPORTED` from a write-only
/// backend's `get_events`, `VIZ_STATUS_IO` for a full disk), which callers then
/// receive; a value outside the enum counts as `VIZ_STATUS_BACKEND_ERROR`. A failed
/// `store_batch` is retried under the collector's retry policy.
///
/// Instances: every `"<type>://..."` a collector or storage opens is an instance of
/// its own, and `init` decides what its callbacks receive. `*instance` starts as the
/// registration's `userdata`; `init` may set it to state of that instance's own (a
/// per-instance struct, a handle into the host's object table), and every later
/// callback of that instance receives it as its `userdata`. viz calls `shutdown`
/// exactly once for every instance whose `init` succeeded, so free that state
/// there; after a failed `init` it calls nothing more for that instance.
///
/// Threads: callbacks of one backend instance run on that instance's delivery
/// thread, one at a time. Instances made from one registration (several collectors,
/// or one type listed twice) run on different threads: any state they share (such
/// as the registration's `userdata` when `init` leaves `*instance` alone) needs
/// synchronising. No viz lock is held during a
/// callback: it may call back into viz, except `viz_collector_flush` and `viz_collector_close`
/// on the collector it serves (refused with `VIZ_STATUS_UNSUPPORTED`).
/// Callbacks must not unwind (no C++ exceptions or longjmp out of them).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct viz_backend_vtable {
    /// Required. Opens an instance for `connection_string` (NUL-terminated).
    /// `instance` is never NULL and points to the registration's `userdata`: set
    /// `*instance` to give this instance's later callbacks state of its own.
    pub init: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            connection_string: *const c_char,
            instance: *mut *mut c_void,
        ) -> viz_status,
    >,
    /// Required. Stores `len` events. The array, and every pointer in it, is valid
    /// only during the call: copy what you keep. `wall_time` is always set.
    pub store_batch: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            events: *const viz_event,
            len: usize,
        ) -> viz_status,
    >,
    /// Optional. Reads the stored events with `start_step <= step <= end_step`:
    /// push each into `sink` with `viz_event_sink_push` (viz copies them). If NULL,
    /// reads of this backend answer `VIZ_STATUS_UNSUPPORTED`.
    pub get_events: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            start_step: i64,
            end_step: i64,
            sink: *mut viz_event_sink,
        ) -> viz_status,
    >,
    /// Optional. Makes stored events durable.
    pub flush: Option<unsafe extern "C" fn(userdata: *mut c_void) -> viz_status>,
    /// Optional. Events stored since init or clear; if NULL, viz counts them.
    pub event_count: Option<unsafe extern "C" fn(userdata: *mut c_void) -> u64>,
    /// Optional. Removes every stored event.
    pub clear: Option<unsafe extern "C" fn(userdata: *mut c_void) -> viz_status>,
    /// Optional. Flushes and closes; called exactly once per instance whose `init`
    /// succeeded (at the latest when viz drops the instance), so it is where
    /// per-instance state is freed.
    pub shutdown: Option<unsafe extern "C" fn(userdata: *mut c_void) -> viz_status>,
}

/// A registration: the vtable, the host's pointer and its finalizer. Dropping the
/// last reference runs the finalizer, which is how "exactly once" is kept.
struct Registration {
    type_name: String,
    vtable: viz_backend_vtable,
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    /// Cleared when registering fails: the host then still owns `userdata`.
    armed: AtomicBool,
}

// SAFETY: viz only hands `userdata` back to the host's callbacks; the header tells
// the host those run on delivery threads and must be safe to call from them.
unsafe impl Send for Registration {}
// SAFETY: as above.
unsafe impl Sync for Registration {}

impl Drop for Registration {
    fn drop(&mut self) {
        if let (Some(finalizer), true) = (self.finalizer, *self.armed.get_mut()) {
            // SAFETY: the host gave this finalizer for this userdata; this runs once,
            // when the last reference to the registration goes.
            unsafe { finalizer(self.userdata) };
        }
    }
}

/// Calls a host callback declared to return `viz_status`, reading the status as a
/// `u32`: the C enum may hold any integer, and an out-of-range value read as a Rust
/// enum would be undefined behaviour. Both return types are a 32-bit integer in the
/// C ABI, so the call is the same.
macro_rules! call_host {
    ($f:expr, ($($arg:ty),*), $($value:expr),*) => {{
        // SAFETY: same ABI; only the declared return type differs (both 32-bit ints).
        let f: unsafe extern "C" fn($($arg),*) -> u32 = unsafe { std::mem::transmute($f) };
        // SAFETY: a callback the host registered, called under the header's contract.
        unsafe { f($($value),*) }
    }};
}

thread_local! {
    /// What a host callback running on this thread said about its failure
    /// (`viz_backend_set_error`), until the callback returns.
    static HOST_MESSAGE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Called by a host backend callback before it returns a failing status: `message`
/// (NUL-terminated UTF-8; invalid bytes are replaced) becomes part of the error
/// viz reports for the call, so the host's own explanation (an exception's message,
/// `strerror`) reaches whoever sees the error. Ignored outside a callback.
///
/// Thread safety: call it on the thread running the callback.
///
/// # Safety
/// `message` must be NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_backend_set_error(message: *const c_char) -> viz_status {
    guard("viz_backend_set_error", || {
        // SAFETY: NULL or NUL-terminated, per the header.
        let text = unsafe { c_str_lossy(message, "message") }?;
        let _ = HOST_MESSAGE.try_with(|m| *m.borrow_mut() = Some(text));
        Ok(())
    })
}

impl Registration {
    /// Turns a callback's raw status into a result, naming the callback and value,
    /// with the message the callback left through `viz_backend_set_error`.
    fn check(&self, callback: &str, raw: u32) -> Result<()> {
        let said = HOST_MESSAGE
            .try_with(|m| m.borrow_mut().take())
            .ok()
            .flatten()
            .map_or_else(String::new, |m| format!(": {m}"));
        match viz_status::from_raw(raw) {
            Some(viz_status::Ok) => Ok(()),
            // The host's status says what kind of failure it was (a write-only
            // backend answers Unsupported, a full disk Io), so it is passed on.
            Some(status) => Err(VizError::new(
                status.kind().unwrap_or(ErrorKind::Backend),
                format!(
                    "host backend '{}': {callback} returned {status:?} ({raw}){said}",
                    self.type_name
                ),
            )),
            None => Err(VizError::backend(format!(
                "host backend '{}': {callback} returned {raw}, which is not a viz_status value{said}",
                self.type_name
            ))),
        }
    }
}

/// One backend instance of a host-defined type.
struct HostBackend {
    registration: Arc<Registration>,
    /// What this instance's callbacks receive: the registration's userdata, or what
    /// `init` put in its place.
    instance: *mut c_void,
    initialized: bool,
    stored: u64,
    /// NUL-terminated copies of tags, made once per tag.
    tags: HashMap<TagId, CString>,
}

impl HostBackend {
    fn call(
        &self,
        name: &str,
        f: Option<unsafe extern "C" fn(*mut c_void) -> viz_status>,
    ) -> Result<()> {
        match f {
            Some(f) => {
                let raw = call_host!(f, (*mut c_void), self.instance);
                self.registration.check(name, raw)
            }
            None => Ok(()),
        }
    }
}

// SAFETY: `instance` is the host's, handed only to its callbacks, which the header
// requires to be callable from viz's delivery threads (as for Registration).
unsafe impl Send for HostBackend {}

impl Drop for HostBackend {
    /// Keeps "shutdown exactly once per initialized instance" even when an instance
    /// is dropped without being closed (a collector whose later backend failed to
    /// open, say), so host state made in `init` is always released.
    fn drop(&mut self) {
        if self.initialized {
            if let Err(e) = StorageBackend::shutdown(self) {
                crate::error::warn_on_stderr(e);
            }
        }
    }
}

impl StorageBackend for HostBackend {
    fn type_name(&self) -> &str {
        &self.registration.type_name
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let url = c_string(&config.connection_string);
        let init = self
            .registration
            .vtable
            .init
            .expect("checked at registration");
        let mut instance = self.registration.userdata;
        // The string and `instance` live through the call.
        let raw = call_host!(
            init,
            (*mut c_void, *const c_char, *mut *mut c_void),
            self.registration.userdata,
            url.as_ptr(),
            &mut instance
        );
        self.registration.check("init", raw)?;
        self.instance = instance;
        self.initialized = true;
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if !self.initialized {
            return Ok(());
        }
        self.initialized = false;
        self.call("shutdown", self.registration.vtable.shutdown)
    }

    fn is_initialized(&self) -> bool {
        self.initialized
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let mut strings = Vec::new();
        let views = views_of(events, &mut self.tags, &mut strings);
        let store = self
            .registration
            .vtable
            .store_batch
            .expect("checked at registration");
        // The views and everything they point to live until it returns.
        let raw = call_host!(
            store,
            (*mut c_void, *const viz_event, usize),
            self.instance,
            views.as_ptr(),
            views.len()
        );
        self.registration.check("store_batch", raw)?;
        self.stored += events.len() as u64;
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        let Some(get) = self.registration.vtable.get_events else {
            return Err(VizError::unsupported("get_events", self.type_name()));
        };
        // The sink lives for the call.
        let (raw, events) = read_through(|sink| {
            call_host!(
                get,
                (*mut c_void, i64, i64, *mut viz_event_sink),
                self.instance,
                start_step,
                end_step,
                sink
            )
        });
        self.registration.check("get_events", raw)?;
        Ok(events)
    }

    fn flush(&mut self) -> Result<()> {
        self.call("flush", self.registration.vtable.flush)
    }

    fn event_count(&self) -> u64 {
        match self.registration.vtable.event_count {
            Some(f) => {
                // SAFETY: a registered callback with its instance's userdata.
                let n = unsafe { f(self.instance) };
                // It has no status to fail with, so anything it said is dropped here
                // rather than attached to a later, unrelated error.
                let _ = HOST_MESSAGE.try_with(|m| m.borrow_mut().take());
                n
            }
            None => self.stored,
        }
    }

    fn clear(&mut self) -> Result<()> {
        self.stored = 0;
        self.call("clear", self.registration.vtable.clear)
    }
}

/// Registers a backend type implemented by the host. Collectors then use it like a
/// built-in type: `{"backends": ["<type_name>://<anything>"]}`.
///
/// On success viz owns `userdata` until it calls `finalizer(userdata)` (if not
/// NULL), exactly once, after `viz_backend_unregister(type_name)` and after every
/// backend created from the type has shut down. The finalizer runs on whichever
/// thread lets go last: the one calling `viz_backend_unregister`, or a collector's
/// delivery thread (or the thread closing the collector) as its backend is dropped. On failure (NULL or malformed
/// arguments, a missing required callback, a name already registered) viz keeps
/// nothing and never calls `finalizer`. The vtable is copied.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `type_name` must be NULL or NUL-terminated; `vtable` NULL or a valid vtable whose
/// callbacks are safe to call, with `userdata`, from viz's delivery threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_backend_register(
    type_name: *const c_char,
    vtable: *const viz_backend_vtable,
    userdata: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
) -> viz_status {
    guard("viz_backend_register", || {
        // SAFETY: per the header's contract.
        let name = unsafe { c_str(type_name, "type_name") }?.to_owned();
        let vtable = *unsafe { read_in(vtable, "vtable") }?;
        if vtable.init.is_none() {
            return Err(Failure::null("vtable->init"));
        }
        if vtable.store_batch.is_none() {
            return Err(Failure::null("vtable->store_batch"));
        }
        let registration = Arc::new(Registration {
            type_name: name.clone(),
            vtable,
            userdata,
            finalizer,
            armed: AtomicBool::new(true),
        });
        let for_factory = registration.clone();
        let registered = StorageBackendFactory::global().register(&name, move || {
            Box::new(HostBackend {
                registration: for_factory.clone(),
                instance: for_factory.userdata,
                initialized: false,
                stored: 0,
                tags: HashMap::new(),
            })
        });
        // Our clone outlives the call, so a failed register cannot finalize here,
        // and a concurrent unregister after success cannot finalize early.
        if registered.is_err() {
            registration.armed.store(false, Ordering::Relaxed);
        }
        drop(registration);
        Ok(registered?)
    })
}

/// Removes a backend type. Backends already created from it keep working; the
/// registration's finalizer runs once the last of them is gone (at once if none).
/// Fails with `VIZ_STATUS_UNKNOWN_BACKEND_TYPE` if no such type is registered.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `type_name` must be NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_backend_unregister(type_name: *const c_char) -> viz_status {
    guard("viz_backend_unregister", || {
        // SAFETY: per the header's contract.
        let name = unsafe { c_str(type_name, "type_name") }?;
        if StorageBackendFactory::global().unregister(name) {
            Ok(())
        } else {
            Err(VizError::new(
                crate::ErrorKind::UnknownBackendType,
                format!("no backend type '{name}' is registered"),
            )
            .into())
        }
    })
}

/// Where a host backend's `get_events` callback puts the events it read. Opaque;
/// valid only during that callback.
pub struct viz_event_sink {
    _private: [u8; 0],
}

impl Handle for viz_event_sink {
    type Rust = Vec<Event>;
}

/// Adds one event to a sink, from inside a host backend's `get_events` callback.
/// The event is validated and copied, as by `viz_collector_collect`.
///
/// Thread safety: only on the thread running the callback that got the sink.
///
/// # Safety
/// `sink` must be the sink passed to the running callback; `event` NULL or a valid
/// `viz_event` whose pointers satisfy the contract of its kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn viz_event_sink_push(
    sink: *mut viz_event_sink,
    event: *const viz_event,
) -> viz_status {
    guard("viz_event_sink_push", || {
        // SAFETY: per the header's contract the sink is live and ours alone here.
        let events = unsafe { viz_event_sink::borrow_mut(sink, "sink") }?;
        let e = unsafe { read_in(event, "event") }?;
        let mut event = unsafe { to_event(e) }?;
        if event.wall_time.is_none() {
            event.wall_time = Some(0.0);
        }
        events.push(event);
        Ok(())
    })
}

/// Runs a host `get_events` callback with a fresh sink and returns what it pushed.
pub(crate) fn read_through(call: impl FnOnce(*mut viz_event_sink) -> u32) -> (u32, Vec<Event>) {
    let mut events: Vec<Event> = Vec::new();
    let status = call((&mut events as *mut Vec<Event>).cast());
    (status, events)
}
