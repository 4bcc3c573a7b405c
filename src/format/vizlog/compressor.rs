//! The general-purpose compressors a block, a group or a payload goes through, and
//! the checks that refuse, before allocating, a length the data cannot hold.

/// A general-purpose compressor for blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as encoded.
    None = 0,
    /// LZ4 block format: fastest to write and read, larger.
    Lz4 = 1,
    /// Zstandard: smallest, at a configurable level.
    Zstd = 2,
}

impl Codec {
    /// The codec called `name` (`none`, `lz4`, `zstd`).
    pub fn parse(name: &str) -> Option<Codec> {
        match name {
            "none" => Some(Codec::None),
            "lz4" => Some(Codec::Lz4),
            "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }

    /// The codec whose code (`Codec as u8`) is `code`.
    pub fn from_u8(code: u8) -> Option<Codec> {
        [Codec::None, Codec::Lz4, Codec::Zstd]
            .into_iter()
            .find(|c| *c as u8 == code)
    }
}

thread_local! {
    // A zstd context holds about a hundred KiB of tables: made once per thread,
    // not once per block.
    static ZSTD_OUT: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static ZSTD_IN: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The most a zstd frame of `data.len()` bytes can decompress to: each block,
/// even a run-length one, takes a 3-byte header and holds at most 128 KiB. A frame
/// claiming more is refused before anything is allocated for it.
pub(super) fn zstd_bound(data: &[u8]) -> u64 {
    (data.len() as u64 / 3 + 1) * (128 << 10)
}

pub(super) fn zstd_compress(data: &[u8], out: &mut [u8], level: i32) -> std::io::Result<usize> {
    ZSTD_OUT.with(|z| {
        let mut z = z.borrow_mut();
        let z = match &mut *z {
            Some(z) => z,
            empty => empty.insert(zstd::bulk::Compressor::new(level)?),
        };
        z.set_compression_level(level)?;
        z.compress_to_buffer(data, out)
    })
}

pub(super) fn zstd_decompress(data: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    ZSTD_IN.with(|z| {
        let mut z = z.borrow_mut();
        let z = match &mut *z {
            Some(z) => z,
            empty => empty.insert(zstd::bulk::Decompressor::new()?),
        };
        z.decompress(data, capacity)
    })
}

/// `data` decompressed with `codec` to exactly `encoded_len` bytes; the error says
/// what is wrong. Lengths the data cannot hold are refused before allocating.
pub(super) fn decompress(codec: Codec, data: &[u8], encoded_len: usize) -> Result<Vec<u8>, String> {
    let stream = match codec {
        Codec::None if data.len() == encoded_len => data.to_vec(),
        Codec::None => return Err("stored data has the wrong length".to_owned()),
        Codec::Lz4 if encoded_len / 255 <= data.len() => {
            lz4_flex::block::decompress(data, encoded_len).map_err(|e| format!("lz4: {e}"))?
        }
        Codec::Lz4 => return Err("lz4 data too short for its length".to_owned()),
        Codec::Zstd => {
            match zstd::zstd_safe::get_frame_content_size(data) {
                Ok(Some(n)) if n == encoded_len as u64 && n <= zstd_bound(data) => {}
                _ => return Err("zstd frame does not state a length it can hold".to_owned()),
            }
            zstd_decompress(data, encoded_len).map_err(|e| format!("zstd: {e}"))?
        }
    };
    if stream.len() != encoded_len {
        return Err("decompressed bytes have the wrong length".to_owned());
    }
    Ok(stream)
}

/// Appends `data` compressed with `codec` to `out`; `false` (with `out` as it
/// was) when the codec failed.
pub(super) fn compress(codec: Codec, level: i32, data: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    match codec {
        Codec::None => out.extend_from_slice(data),
        Codec::Lz4 => {
            let bound = lz4_flex::block::get_maximum_output_size(data.len());
            out.resize(start + bound, 0);
            let n = lz4_flex::block::compress_into(data, &mut out[start..])
                .expect("the buffer holds the bound");
            out.truncate(start + n);
        }
        Codec::Zstd => {
            out.resize(start + zstd::zstd_safe::compress_bound(data.len()), 0);
            match zstd_compress(data, &mut out[start..], level) {
                Ok(n) => out.truncate(start + n),
                Err(_) => {
                    out.truncate(start);
                    return false;
                }
            }
        }
    }
    true
}
