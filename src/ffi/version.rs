//! Library and ABI versions. The constants become `#define`s in `viz.h`.

use std::ffi::c_char;

use super::boundary::guard;

/// Major version of the library (the header's `VIZ_VERSION_MAJOR`).
pub const VIZ_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const VIZ_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const VIZ_VERSION_PATCH: u32 = 0;
/// The C ABI version, bumped on every incompatible change to the `viz_*` functions
/// or types. Compare it with `viz_abi_version()` at run time.
pub const VIZ_ABI_VERSION: u32 = 5;

/// The library version as a static NUL-terminated string, such as `"0.1.0"`.
/// Never NULL; do not free. Thread safety: safe from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn viz_version() -> *const c_char {
    guard("viz_version", || {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
}

/// The C ABI version of the loaded library; a host built against a header whose
/// `VIZ_ABI_VERSION` differs must not use it. Thread safety: safe from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn viz_abi_version() -> u32 {
    guard("viz_abi_version", || Ok(VIZ_ABI_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_macros_match_the_crate_version() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(VIZ_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(VIZ_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(VIZ_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
        let s = unsafe { std::ffi::CStr::from_ptr(viz_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
