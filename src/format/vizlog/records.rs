//! Records without their frames: how a compressed block stores each record before
//! the codec, shared by ungrouped blocks (`blocks.rs`) and groups (`groups.rs`).
//!
//! A record is its payload's length as a varint, then (with delta) its step as the
//! zigzag-varint difference from the previous record's and its wall time as the
//! varint XOR with the previous record's bits, then the rest of its payload.
//! Decoding finds every record (`index_records`) and rebuilds one, framed with
//! fresh CRCs, only when it is read (`rebuild`).

use super::segment::{self, FRAME_LEN};

/// The step and wall time: the bytes of a record's head that delta encodes.
pub(super) const DELTA_SPAN: std::ops::Range<usize> = 4..20;

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

pub(super) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(super) fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Appends one record's payload without its frame: a varint length, then (with
/// delta) its step and wall time against `prev`'s, then the rest.
pub(super) fn put_record(out: &mut Vec<u8>, payload: &[u8], delta: bool, prev: &mut (u64, u64)) {
    put_varint(out, payload.len() as u64);
    if delta && payload.len() >= DELTA_SPAN.end {
        let s = le_u64(payload, 4);
        let w = le_u64(payload, 12);
        let d = s.wrapping_sub(prev.0) as i64;
        put_varint(out, ((d << 1) ^ (d >> 63)) as u64);
        put_varint(out, w ^ prev.1);
        *prev = (s, w);
        out.extend_from_slice(&payload[..DELTA_SPAN.start]);
        out.extend_from_slice(&payload[DELTA_SPAN.end..]);
    } else {
        out.extend_from_slice(payload);
    }
}

/// Where one stripped record is in a decoded block's stream.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rec {
    /// Its frame's offset from the block's start.
    pub(super) at: u32,
    /// Where its payload bytes (less the delta-encoded span) start in the stream.
    pos: u32,
    /// Its payload length.
    pub(super) len: u32,
    /// Its step and wall-time bits, when delta-encoded.
    step: u64,
    wall: u64,
}

/// Finds every record [`strip`] (or, `placed`, a group of [`groups::split`])
/// encoded in `b` without rebuilding any; `None` if `b` is not such an encoding, or
/// its records would exceed `raw_len` bytes (or, not `placed`, fall short of it).
pub(super) fn index_records(
    b: &[u8],
    delta: bool,
    raw_len: usize,
    placed: bool,
) -> Option<Vec<Rec>> {
    let mut recs = Vec::new();
    let (mut at, mut raw) = (0usize, 0usize);
    let (mut step, mut wall) = (0u64, 0u64);
    while at < b.len() {
        if placed {
            // A group's record says how far past the group's previous one it starts.
            raw = raw.checked_add(usize::try_from(get_varint(b, &mut at)?).ok()?)?;
        }
        let len = usize::try_from(get_varint(b, &mut at)?).ok()?;
        let frame = raw;
        raw = raw.checked_add(FRAME_LEN + len)?;
        if raw > raw_len {
            return None;
        }
        let stored = if delta && len >= DELTA_SPAN.end {
            let z = get_varint(b, &mut at)?;
            let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
            step = step.wrapping_add(d as u64);
            wall ^= get_varint(b, &mut at)?;
            len - DELTA_SPAN.len()
        } else {
            len
        };
        let pos = at;
        at = at.checked_add(stored).filter(|&end| end <= b.len())?;
        recs.push(Rec {
            at: frame as u32,
            pos: pos as u32,
            len: len as u32,
            step,
            wall,
        });
    }
    (placed || raw == raw_len).then_some(recs)
}

/// Appends record `r` of `stream`, framed as it was.
pub(super) fn rebuild(stream: &[u8], r: &Rec, delta: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_LEN]);
    let (pos, len) = (r.pos as usize, r.len as usize);
    if delta && len >= DELTA_SPAN.end {
        let rest = &stream[pos..pos + len - DELTA_SPAN.len()];
        out.extend_from_slice(&rest[..DELTA_SPAN.start]);
        out.extend_from_slice(&r.step.to_le_bytes());
        out.extend_from_slice(&r.wall.to_le_bytes());
        out.extend_from_slice(&rest[DELTA_SPAN.start..]);
    } else {
        out.extend_from_slice(&stream[pos..pos + len]);
    }
    segment::seal_frame(out, start);
}

impl Rec {
    /// Where its frame ends, from the block's start.
    pub(super) fn end(&self) -> usize {
        self.at as usize + FRAME_LEN + self.len as usize
    }
}

/// Writes what `recs` (records of `stream`) hold of block offsets `[from, to)`
/// into `out`, whose first byte is offset `from`. Bytes no record covers are left
/// as they are.
pub(super) fn place(
    stream: &[u8],
    recs: &[Rec],
    delta: bool,
    (from, to): (usize, usize),
    out: &mut [u8],
) {
    let first = recs.partition_point(|r| r.end() <= from);
    let mut whole = Vec::new();
    for r in &recs[first..] {
        let (at, end) = (r.at as usize, r.end());
        if at >= to {
            break;
        }
        whole.clear();
        rebuild(stream, r, delta, &mut whole);
        let (a, b) = (from.max(at), to.min(end));
        out[a - from..b - from].copy_from_slice(&whole[a - at..b - at]);
    }
}
