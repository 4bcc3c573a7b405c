//! One table per C enum. Each C enum is written out with its explicit values (so
//! cbindgen puts it in `viz.h`); `abi_enum!` then lists its variants once, next to
//! the Rust type each stands for, and derives everything else from that list: every
//! value (`ALL`), the checked conversion from the integer a host passed (an error
//! naming the field, never undefined behaviour), and the conversions to and from the
//! Rust type. Both conversions are exhaustive matches, so a variant added on either
//! side without its pair does not compile.

/// `abi_enum!(c_enum, "field name", RustType { CVariant <=> RustType::Variant, .. })`,
/// or `abi_enum!(c_enum, "field name" { CVariant, .. })` for an enum with no Rust twin.
macro_rules! abi_enum {
    ($c:ident, $field:literal, $rust:ty { $($cv:ident <=> $rv:path),+ $(,)? }) => {
        abi_enum!($c, $field { $($cv),+ });

        impl From<$c> for $rust {
            fn from(v: $c) -> $rust {
                match v {
                    $($c::$cv => $rv),+
                }
            }
        }

        impl From<$rust> for $c {
            fn from(v: $rust) -> $c {
                match v {
                    $($rv => $c::$cv),+
                }
            }
        }
    };
    ($c:ident, $field:literal { $($cv:ident),+ $(,)? }) => {
        impl $c {
            /// Every value, in declaration order.
            pub(crate) const ALL: &'static [$c] = &[$($c::$cv),+];

            /// The integer a host passes for this value.
            pub(crate) fn raw(self) -> u32 {
                self as u32
            }

            /// The value of a C integer field, if it is one. Hosts pass C enums
            /// as integers; reading one as a Rust enum directly would be undefined
            /// behaviour for a value outside it.
            pub(crate) fn from_raw(raw: u32) -> Option<$c> {
                // Exhaustive, so a variant missing from the list does not compile.
                let _listed = |v: $c| match v {
                    $($c::$cv => ()),+
                };
                Self::ALL.iter().copied().find(|v| v.raw() == raw)
            }

            /// [`Self::from_raw`], or an error naming the field and the valid values.
            // Not every enum is read from a host's integer field (statuses come
            // back from callbacks through `from_raw`).
            #[allow(dead_code)]
            pub(crate) fn parse(raw: u32) -> Result<$c, crate::error::VizError> {
                Self::from_raw(raw).ok_or_else(|| {
                    let values: Vec<u32> = Self::ALL.iter().map(|v| v.raw()).collect();
                    let max = values.iter().copied().max().unwrap_or(0);
                    let valid = if values.len() as u32 == max + 1 {
                        format!("0 to {max}")
                    } else {
                        format!("{values:?}")
                    };
                    crate::error::VizError::invalid_argument(format!(
                        "{} is {raw}; valid values are {valid}",
                        $field
                    ))
                })
            }
        }
    };
}

pub(crate) use abi_enum;

#[cfg(test)]
mod tests {
    use crate::ffi::config::{viz_flush_strategy, viz_overflow_policy, viz_wall_clock};
    use crate::ffi::event::{viz_dtype, viz_event_kind, viz_priority};
    use crate::ffi::status::viz_status;

    /// Every C value maps to its Rust twin and back to itself, reads back from its
    /// integer, and the first integer past the values is refused by field name.
    macro_rules! check {
        ($c:ty, $rust:ty, $field:literal) => {{
            for &v in <$c>::ALL {
                assert_eq!(<$c>::from_raw(v.raw()), Some(v));
                assert_eq!(<$c>::from(<$rust>::from(v)), v, "{v:?}");
            }
            let past = <$c>::ALL.len() as u32;
            assert_eq!(<$c>::from_raw(past), None);
            let e = <$c>::parse(past).unwrap_err();
            assert!(
                e.message().starts_with(&format!(
                    "{} is {past}; valid values are 0 to {}",
                    $field,
                    past - 1
                )),
                "{e}"
            );
        }};
    }

    #[test]
    fn every_abi_enum_maps_both_ways_and_refuses_unknown_values() {
        check!(viz_event_kind, crate::event::EventKind, "event.kind");
        check!(viz_priority, crate::event::Priority, "event.priority");
        check!(viz_dtype, crate::payload::DType, "event.dtype");
        check!(
            viz_flush_strategy,
            crate::config::FlushStrategy,
            "config.strategy"
        );
        check!(
            viz_overflow_policy,
            crate::config::OverflowPolicy,
            "config.overflow"
        );
        check!(viz_wall_clock, crate::clock::WallClock, "config.wall_clock");
        // Statuses have no one-to-one Rust twin; their values are fixed 0 to 13.
        for (i, &s) in viz_status::ALL.iter().enumerate() {
            assert_eq!(s.raw(), i as u32);
            assert_eq!(viz_status::from_raw(i as u32), Some(s));
        }
        assert_eq!(viz_status::from_raw(viz_status::ALL.len() as u32), None);
    }
}
