//! The compression options file:// and sqlite:// share (see
//! [`crate::format::vizlog::blocks`] for what they do).

use crate::error::{Result, VizError};
use crate::format::vizlog::blocks::{Codec, Compression};
use crate::url::ConnectionString;

/// The `compression`, `level` and `delta` options of a `scheme` connection
/// string, over `default`; `None` for `compression=none`.
pub(crate) fn option(
    url: &mut ConnectionString,
    scheme: &str,
    default: Compression,
) -> Result<Option<Compression>> {
    let codec = url.take_choice("compression", &["zstd", "lz4", "none"])?;
    let level = url.take::<i32>("level")?;
    let delta = url.take_choice("delta", &["true", "false"])?;
    let mut c = default;
    if let Some(codec) = codec {
        c.codec = Codec::parse(codec).expect("one of the choices");
    }
    if let Some(level) = level {
        if c.codec != Codec::Zstd {
            return Err(VizError::invalid_config(format!(
                "option level ({level}) sets the zstd level: use it with compression=zstd",
            )));
        }
        let (lo, hi) = (
            zstd::zstd_safe::min_c_level(),
            zstd::zstd_safe::max_c_level(),
        );
        if !(lo..=hi).contains(&level) {
            return Err(VizError::invalid_config(format!(
                "option level has invalid value '{level}' for a {scheme} (zstd levels run from {lo} to {hi})"
            )));
        }
        c.level = level;
    }
    if let Some(delta) = delta {
        c.delta = delta == "true";
    }
    Ok((c.codec != Codec::None).then_some(c))
}
