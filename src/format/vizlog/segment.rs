//! Segment files: a 32-byte header, then framed records.
//!
//! ```text
//! header: magic "VIZ-LOG\0" | version u32 | header CRC32C u32 | base offset u64 | created unix ms u64
//! record: length u32 | masked CRC32C of the length u32 | masked CRC32C of the payload u32 | payload
//! ```
//!
//! The length has its own CRC so that a damaged length is told apart from a record
//! cut short by a crash. A damaged payload under an intact length is skipped, and
//! reading goes on at the next record. A damaged length (or a zeroed page) hides
//! where the next record starts, so the scan resynchronises: it searches forward
//! for the next position where both CRCs of a frame match, reports the bytes in
//! between as damaged, and goes on from there. Only damage that runs to the end of
//! the bytes stops the scan; that alone is a torn tail a writer may truncate.

use crate::format::tfrecord::masked_crc;

/// The first eight bytes of every segment.
pub const MAGIC: [u8; 8] = *b"VIZ-LOG\0";
/// How a segment holds its records. The format version in the header names the
/// layout: version `n` is [`LAYOUTS`]`[n - 1]`. This table is the one place a
/// reader learns how to read a version; a version past its end was written by a
/// newer viz and is refused by name (an old reader sees a compressed segment that
/// way, never as garbage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Version 1: framed records, appended; what a writer appends to.
    #[default]
    Records,
    /// Version 2: a sealed segment whose records are compressed block by block
    /// (see `blocks.rs`). Read through `segfile.rs`, which gives the same bytes a
    /// version 1 segment holds.
    Blocks,
}

/// Every layout, by format version (see [`Layout`]).
pub const LAYOUTS: [Layout; 2] = [Layout::Records, Layout::Blocks];

impl Layout {
    /// The format version naming this layout.
    pub fn version(self) -> u32 {
        LAYOUTS.iter().position(|l| *l == self).expect("in LAYOUTS") as u32 + 1
    }
}

/// The newest segment format this build reads and writes.
pub const VERSION: u32 = LAYOUTS.len() as u32;
/// Header size in bytes.
pub const HEADER_LEN: u64 = 32;
/// Frame overhead per record in bytes.
pub const FRAME_LEN: usize = 12;
/// Largest payload a record may carry.
pub const MAX_RECORD: usize = u32::MAX as usize;

/// What a segment header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The offset (event sequence number) of the segment's first record.
    pub base_offset: u64,
    /// When the segment was created, for age-based rolling across restarts.
    pub created_unix_ms: u64,
    /// How its records are laid out (its format version).
    pub layout: Layout,
}

impl Header {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.layout.version().to_le_bytes());
        b[16..24].copy_from_slice(&self.base_offset.to_le_bytes());
        b[24..32].copy_from_slice(&self.created_unix_ms.to_le_bytes());
        let crc = crc32c::crc32c(&b);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses a header; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Header, HeaderError> {
        let damaged = HeaderError::Damaged;
        let b: &[u8; HEADER_LEN as usize] = bytes
            .get(..HEADER_LEN as usize)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                damaged(format!(
                    "{} bytes, shorter than the {HEADER_LEN}-byte header",
                    bytes.len()
                ))
            })?;
        if b[..8] != MAGIC {
            return Err(damaged(format!(
                "bad magic {:02x?} (not a viz event log segment)",
                &b[..8]
            )));
        }
        let version = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
        let mut unsummed = *b;
        unsummed[12..16].fill(0);
        let crc = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes"));
        if crc32c::crc32c(&unsummed) != crc {
            return Err(damaged("header CRC mismatch".to_owned()));
        }
        if version > VERSION {
            return Err(HeaderError::Newer(version));
        }
        let Some(&layout) = (version as usize)
            .checked_sub(1)
            .and_then(|i| LAYOUTS.get(i))
        else {
            return Err(damaged(format!(
                "format version {version}, but this viz reads versions 1 to {VERSION}"
            )));
        };
        Ok(Header {
            layout,
            base_offset: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
            created_unix_ms: u64::from_le_bytes(b[24..32].try_into().expect("8 bytes")),
        })
    }
}

/// Why a header does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Damaged, or not a segment at all: readers report and skip it.
    Damaged(String),
    /// Written by a newer viz (this version): refused, since skipping would hide
    /// its data.
    Newer(u32),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Damaged(why) => f.write_str(why),
            HeaderError::Newer(version) => write!(
                f,
                "format version {version}, but this viz reads versions 1 to {VERSION} (written by a newer viz; upgrade to read it)"
            ),
        }
    }
}

/// Appends one framed record whose payload `encode` writes. Returns the payload
/// length, or an error when it exceeds [`MAX_RECORD`] (nothing is left appended).
pub fn frame(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) -> Result<usize, usize> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_LEN]);
    encode(out);
    let len = out.len() - start - FRAME_LEN;
    if len > MAX_RECORD {
        out.truncate(start);
        return Err(len);
    }
    seal_frame(out, start);
    Ok(len)
}

/// Fills in the frame of a record whose payload follows `FRAME_LEN` zero bytes
/// at `start` and runs to the end of `out` (which must fit [`MAX_RECORD`]).
pub fn seal_frame(out: &mut [u8], start: usize) {
    let len = out.len() - start - FRAME_LEN;
    debug_assert!(len <= MAX_RECORD);
    let len_bytes = (len as u32).to_le_bytes();
    let payload_crc = masked_crc(&out[start + FRAME_LEN..]);
    out[start..start + 4].copy_from_slice(&len_bytes);
    out[start + 4..start + 8].copy_from_slice(&masked_crc(&len_bytes).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&payload_crc.to_le_bytes());
}

/// A frame read at an offset an index gave.
#[derive(Debug, PartialEq, Eq)]
pub enum At<'a> {
    /// An intact record's payload.
    Record(&'a [u8]),
    /// The framing is intact but the frame needs this many bytes in all.
    Short(usize),
    /// Not an intact frame: what is wrong.
    Bad(&'static str),
}

/// The frame at the start of `bytes`, checked against both its CRCs.
pub fn frame_at(bytes: &[u8]) -> At<'_> {
    let Some(head) = bytes.get(..FRAME_LEN) else {
        return At::Short(FRAME_LEN);
    };
    let field = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    if masked_crc(&head[..4]) != field(4) {
        return At::Bad("a record length that fails its CRC");
    }
    let total = FRAME_LEN + field(0) as usize;
    match bytes.get(FRAME_LEN..total) {
        None => At::Short(total),
        Some(payload) if masked_crc(payload) == field(8) => At::Record(payload),
        Some(_) => At::Bad("record payload fails its CRC"),
    }
}

/// One step of a scan.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An intact record starting at `offset`.
    Record {
        /// Byte offset of the frame in the segment.
        offset: u64,
        /// The payload.
        payload: &'a [u8],
    },
    /// A record whose payload fails its CRC; the scan continues after it.
    Corrupt {
        /// Byte offset of the frame in the segment.
        offset: u64,
        /// Its payload length.
        len: u64,
    },
    /// Bytes whose framing is damaged (a length failing its CRC, a zeroed page),
    /// followed by an intact record where the scan resumed. How many records they
    /// held is unknown.
    Damaged {
        /// Byte offset where the damage starts.
        offset: u64,
        /// Bytes skipped to the next intact record.
        len: u64,
    },
}

/// Why a scan stopped before the end of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A record is cut short: a crash mid-write, or a writer still appending.
    Torn {
        /// Byte offset where the partial record starts.
        offset: u64,
    },
    /// A record length fails its CRC and no intact record follows it.
    BadLength {
        /// Byte offset of the damaged frame.
        offset: u64,
    },
}

impl Stop {
    /// Where the unreadable bytes start.
    pub fn offset(self) -> u64 {
        match self {
            Stop::Torn { offset } | Stop::BadLength { offset } => offset,
        }
    }

    /// A phrase for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Stop::Torn { .. } => "a torn record (cut short)",
            Stop::BadLength { .. } => {
                "a record length that fails its CRC, with no intact record after it"
            }
        }
    }
}

/// Walks the frames in `bytes`, which start at segment offset `base`. Iteration
/// ends at the end of the bytes, or where damage runs to the end (left in `stop`).
pub struct Frames<'a> {
    bytes: &'a [u8],
    at: usize,
    base: u64,
    /// Set when iteration ended early.
    pub stop: Option<Stop>,
}

impl<'a> Frames<'a> {
    /// Scans `bytes`, which sit at segment offset `base`.
    pub fn new(bytes: &'a [u8], base: u64) -> Frames<'a> {
        Frames {
            bytes,
            at: 0,
            base,
            stop: None,
        }
    }

    /// The segment offset just past the last frame walked.
    pub fn offset(&self) -> u64 {
        self.base + self.at as u64
    }
}

impl Frames<'_> {
    /// The payload of an intact frame starting `at` bytes in, if one does: its
    /// length and payload both match their CRCs, and it fits.
    fn intact_at(&self, at: usize) -> Option<usize> {
        let head = self.bytes.get(at..at + FRAME_LEN)?;
        let len_bytes: [u8; 4] = head[..4].try_into().expect("4 bytes");
        if masked_crc(&len_bytes) != u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) {
            return None;
        }
        let len = u32::from_le_bytes(len_bytes) as usize;
        let payload = self.bytes.get(at + FRAME_LEN..at + FRAME_LEN + len)?;
        (masked_crc(payload) == u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")))
            .then_some(len)
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.stop.is_some() || self.at == self.bytes.len() {
            return None;
        }
        let offset = self.offset();
        let rest = &self.bytes[self.at..];
        let Some(head) = rest.get(..FRAME_LEN) else {
            self.stop = Some(Stop::Torn { offset });
            return None;
        };
        let len_bytes: [u8; 4] = head[..4].try_into().expect("4 bytes");
        let field = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
        if masked_crc(&len_bytes) != field(4) {
            // Resynchronise on the next intact frame; none means the damage runs
            // to the end.
            return match (self.at + 1..self.bytes.len()).find(|&p| self.intact_at(p).is_some()) {
                Some(p) => {
                    let len = (p - self.at) as u64;
                    self.at = p;
                    Some(Frame::Damaged { offset, len })
                }
                None => {
                    self.stop = Some(Stop::BadLength { offset });
                    None
                }
            };
        }
        let len = u32::from_le_bytes(len_bytes) as usize;
        let Some(payload) = rest.get(FRAME_LEN..FRAME_LEN + len) else {
            self.stop = Some(Stop::Torn { offset });
            return None;
        };
        self.at += FRAME_LEN + len;
        Some(if masked_crc(payload) == field(8) {
            Frame::Record { offset, payload }
        } else {
            Frame::Corrupt {
                offset,
                len: len as u64,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            frame(&mut out, |o| o.extend_from_slice(p)).unwrap();
        }
        out
    }

    #[test]
    fn header_round_trips_and_names_what_is_wrong() {
        let h = Header {
            base_offset: 7,
            created_unix_ms: 99,
            layout: Layout::Records,
        };
        let sealed = Header {
            layout: Layout::Blocks,
            ..h
        };
        assert_eq!(Header::decode(&sealed.encode()), Ok(sealed));
        assert_eq!(
            u32::from_le_bytes(sealed.encode()[8..12].try_into().unwrap()),
            2
        );
        let b = h.encode();
        assert_eq!(Header::decode(&b), Ok(h));
        assert!(
            Header::decode(&b[..31])
                .unwrap_err()
                .to_string()
                .contains("shorter")
        );
        let mut bad = b;
        bad[0] = b'X';
        assert!(
            Header::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("bad magic")
        );
        let mut bad = b;
        bad[20] ^= 1;
        assert_eq!(
            Header::decode(&bad).unwrap_err(),
            HeaderError::Damaged("header CRC mismatch".to_owned())
        );
        let mut newer = b;
        newer[8..12].copy_from_slice(&3u32.to_le_bytes());
        newer[12..16].fill(0);
        let crc = crc32c::crc32c(&newer);
        newer[12..16].copy_from_slice(&crc.to_le_bytes());
        let e = Header::decode(&newer).unwrap_err();
        assert_eq!(e, HeaderError::Newer(3));
        assert!(e.to_string().contains("newer viz"));
    }

    #[test]
    fn scan_skips_bad_payloads_and_stops_at_bad_lengths_and_torn_tails() {
        let bytes = framed(&[b"one", b"two", b"three"]);
        let offsets: Vec<u64> = Frames::new(&bytes, 32)
            .map(|f| match f {
                Frame::Record { offset, .. } => offset,
                Frame::Corrupt { .. } | Frame::Damaged { .. } => panic!("intact"),
            })
            .collect();
        assert_eq!(offsets, [32, 32 + 15, 32 + 30]);

        let mut flipped = bytes.clone();
        flipped[15 + 12] ^= 0x40; // a payload byte of "two"
        let frames: Vec<_> = Frames::new(&flipped, 0).collect();
        assert_eq!(frames[1], Frame::Corrupt { offset: 15, len: 3 });
        assert!(matches!(
            frames[2],
            Frame::Record {
                payload: b"three",
                ..
            }
        ));

        // A damaged length: the scan resumes at the next intact record.
        let mut bad_len = bytes.clone();
        bad_len[15] ^= 1;
        let frames: Vec<_> = Frames::new(&bad_len, 0).collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames[1],
            Frame::Damaged {
                offset: 15,
                len: 15
            }
        );
        assert!(matches!(
            frames[2],
            Frame::Record {
                offset: 30,
                payload: b"three"
            }
        ));
        // A zeroed stretch over two records' framing, then an intact one.
        let mut zeroed = bytes.clone();
        zeroed[3..20].fill(0);
        let frames: Vec<_> = Frames::new(&zeroed, 0).collect();
        assert_eq!(frames[0], Frame::Damaged { offset: 0, len: 30 });
        assert!(matches!(
            frames[1],
            Frame::Record {
                payload: b"three",
                ..
            }
        ));
        // Damage with nothing intact after it runs to the end: a stop.
        let mut last = bytes.clone();
        last[30] ^= 1;
        let mut scan = Frames::new(&last, 0);
        assert_eq!(scan.by_ref().count(), 2);
        assert_eq!(scan.stop, Some(Stop::BadLength { offset: 30 }));

        for cut in [31, 40, 44] {
            let mut scan = Frames::new(&bytes[..cut], 0);
            assert_eq!(scan.by_ref().count(), 2);
            assert_eq!(scan.stop, Some(Stop::Torn { offset: 30 }), "cut {cut}");
            assert_eq!(scan.offset(), 30);
        }
    }
}
