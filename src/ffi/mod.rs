//! The C ABI: `viz_*` functions over opaque handles, one module per C type.
//!
//! - [`collector`]: `viz_collector` and every function on it;
//! - [`config`]: `viz_collector_config`, the typed settings, and their enums;
//! - [`stats`]: `viz_stats` and `viz_destination_stats`, mirrors of the Rust stats;
//! - [`event`]: `viz_event`, its enums, and its conversions both ways;
//! - [`event_list`]: `viz_event_list`, events read back;
//! - [`cursor`]: `viz_cursor`, a query's results handed out in batches;
//! - [`storage`]: `viz_storage`, one backend instance used directly;
//! - [`backend`]: backends the host writes (`viz_backend_vtable`), their
//!   registration, and the `viz_event_sink` their reads fill;
//! - [`status`], [`error`], [`version`]: status codes, the last error, versions.
//!
//! Every export runs its body in `boundary::guard`, which catches panics (nothing
//! unwinds into the host), turns failures into the export's failure value and a
//! per-thread message for [`error::viz_last_error_message`], and owns every
//! raw-pointer helper. C enums are tied to their Rust types by one table each
//! (`abi_enum!`). `include/viz.h` is generated from this module by cbindgen (see
//! `cbindgen.toml`); `tests/c_abi.rs` fails when the checked-in header drifts, and
//! `tests/source_rules.rs` when an export skips the guard or modules here import
//! each other in a circle.

#![allow(non_camel_case_types)]

mod abi_enum;
pub mod aggregate;
pub mod backend;
mod boundary;
pub mod collector;
pub mod config;
pub mod cursor;
pub mod error;
pub mod event;
pub mod event_list;
pub mod log_tail;
pub mod metadata;
pub mod read_cache;
pub mod remote;
pub mod replication;
pub mod run_repository;
pub mod stats;
pub mod status;
pub mod storage;
pub mod subscription;
pub mod transaction;
pub mod version;
