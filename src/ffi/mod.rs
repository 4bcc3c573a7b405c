//! The C ABI: `viz_*` functions over opaque handles.
//!
//! One module per API area ([`status`], [`error`], [`collector`], [`config`], [`event`],
//! [`backend`], [`query`], [`storage`], [`version`]).
//! Every entry point runs inside `boundary::guard`, which catches panics (nothing
//! unwinds into the host), checks pointers and turns errors into a fixed-value
//! [`status::viz_status`] plus a per-thread message for [`error::viz_last_error_message`].
//! `include/viz.h` is generated from this module by cbindgen (see `cbindgen.toml`);
//! `tests/c_header.rs` fails when the checked-in header drifts.

#![allow(non_camel_case_types)]

pub mod backend;
mod boundary;
pub mod collector;
pub mod config;
pub mod error;
pub mod event;
pub mod query;
pub mod status;
pub mod storage;
pub mod version;
