//! How one event is laid out inside a log record: a fixed 22-byte head, the tag,
//! then a body that depends on the kind. Little-endian throughout.
//!
//! ```text
//! 0  kind u8 | 1 priority u8 | 2 flags u8 (bit 0: has wall time) | 3 reserved 0
//! 4  step i64 | 12 wall_time f64 | 20 tag length u16 | 22 tag bytes | body
//! ```
//!
//! The step sits at a fixed offset so the index can be rebuilt without decoding
//! whole events. Decoding goes through each payload's own validation, so a record
//! whose CRC matches but whose content is nonsense (a bug, not bit rot) is still
//! refused rather than handed to a reader.

use crate::event::{Event, EventData, EventKind, Priority};
use crate::payload::{DType, Histogram, Image, RawBytes, Tensor};
use crate::tag::Tag;

const HEAD: usize = 22;
const HAS_WALL_TIME: u8 = 1;

/// Appends the encoding of `event` to `out`.
pub fn encode(event: &Event, out: &mut Vec<u8>) {
    let tag = event.tag.as_str().as_bytes();
    out.push(event.kind() as u8);
    out.push(event.priority as u8);
    out.push(if event.wall_time.is_some() {
        HAS_WALL_TIME
    } else {
        0
    });
    out.push(0);
    out.extend_from_slice(&event.step.to_le_bytes());
    out.extend_from_slice(&event.wall_time.unwrap_or(0.0).to_le_bytes());
    // Tags are validated to at most 1024 bytes, so the length fits in a u16.
    out.extend_from_slice(&(tag.len() as u16).to_le_bytes());
    out.extend_from_slice(tag);
    match &event.data {
        EventData::Scalar(v) => out.extend_from_slice(&v.to_le_bytes()),
        EventData::Text(t) => bytes(out, t.as_bytes()),
        EventData::Histogram(h) => {
            for v in [h.min, h.max, h.num, h.sum, h.sum_squares] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&(h.bucket_limits.len() as u32).to_le_bytes());
            for v in h.bucket_limits.iter().chain(&h.bucket_counts) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        EventData::Image(i) => {
            out.extend_from_slice(&i.width.to_le_bytes());
            out.extend_from_slice(&i.height.to_le_bytes());
            out.push(i.channels);
            bytes(out, &i.png);
        }
        EventData::Tensor(t) => {
            out.extend_from_slice(&(t.dtype as u32).to_le_bytes());
            out.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
            for d in &t.shape {
                out.extend_from_slice(&d.to_le_bytes());
            }
            bytes(out, &t.data);
        }
        EventData::Raw(r) => {
            bytes(out, r.content_type.as_bytes());
            bytes(out, &r.data);
        }
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

/// The step of an encoded event, read without decoding the rest.
pub fn step_of(record: &[u8]) -> Option<i64> {
    record
        .get(4..12)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// What the indexes need of a record, read without decoding it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peek<'a> {
    /// The event kind's code.
    pub kind: u8,
    /// The step.
    pub step: i64,
    /// The tag's bytes (not checked to be a valid tag).
    pub tag: &'a [u8],
    /// The value, for a well-formed scalar record.
    pub scalar: Option<f64>,
}

/// Peeks at an encoded event; `None` if it is too short to hold its head and tag.
pub fn peek(record: &[u8]) -> Option<Peek<'_>> {
    let step = step_of(record)?;
    let tag_len = usize::from(u16::from_le_bytes(record.get(20..22)?.try_into().ok()?));
    let tag = record.get(HEAD..HEAD + tag_len)?;
    let kind = record[0];
    let body = &record[HEAD + tag_len..];
    let scalar = (kind == EventKind::Scalar as u8 && body.len() == 8)
        .then(|| f64::from_le_bytes(body.try_into().expect("8 bytes")));
    Some(Peek {
        kind,
        step,
        tag,
        scalar,
    })
}

/// Decodes one event. The error says what is wrong with the record.
pub fn decode(record: &[u8]) -> Result<Event, String> {
    let mut r = Reader { buf: record, at: 0 };
    let kind = r.u8()?;
    let priority = match r.u8()? {
        0 => Priority::Normal,
        1 => Priority::Critical,
        p => return Err(format!("unknown priority {p}")),
    };
    let flags = r.u8()?;
    r.u8()?;
    let step = r.i64()?;
    let wall = r.f64()?;
    let tag_len = usize::from(r.u16()?);
    let tag = Tag::from_bytes(r.take(tag_len)?).map_err(|e| e.message().to_owned())?;
    debug_assert_eq!(r.at, HEAD + tag_len);
    let kind = EventKind::ALL
        .get(usize::from(kind))
        .copied()
        .ok_or_else(|| format!("unknown event kind {kind}"))?;
    let data = match kind {
        EventKind::Scalar => EventData::Scalar(r.f64()?),
        EventKind::Text => EventData::Text(
            String::from_utf8(r.bytes()?.to_vec()).map_err(|_| "text is not UTF-8")?,
        ),
        EventKind::Histogram => {
            let [min, max, num, sum, sum_squares] =
                [r.f64()?, r.f64()?, r.f64()?, r.f64()?, r.f64()?];
            let count = r.u32()?;
            let n = r.len(u64::from(count), 16)?;
            let mut values = (0..2 * n).map(|_| r.f64()).collect::<Result<Vec<_>, _>>()?;
            let bucket_counts = values.split_off(n);
            let h = Histogram {
                min,
                max,
                num,
                sum,
                sum_squares,
                bucket_limits: values,
                bucket_counts,
            };
            h.validate().map_err(|e| e.message().to_owned())?;
            EventData::Histogram(Box::new(h))
        }
        EventKind::Image => {
            let (width, height, channels) = (r.u32()?, r.u32()?, r.u8()?);
            let png = r.bytes()?.to_vec();
            let image =
                Image::png(png, width, height, channels).map_err(|e| e.message().to_owned())?;
            EventData::Image(Box::new(image))
        }
        EventKind::Tensor => {
            let dtype = DType::from_u32(r.u32()?).map_err(|e| e.message().to_owned())?;
            let count = r.u32()?;
            let rank = r.len(u64::from(count), 8)?;
            let shape = (0..rank).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
            let data = r.bytes()?.to_vec();
            let t = Tensor::new(dtype, shape, data).map_err(|e| e.message().to_owned())?;
            EventData::Tensor(Box::new(t))
        }
        EventKind::Raw => {
            let content_type = String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| "raw content type is not UTF-8")?;
            let raw = RawBytes::new(content_type, r.bytes()?.to_vec())
                .map_err(|e| e.message().to_owned())?;
            EventData::Raw(Box::new(raw))
        }
    };
    if r.at != record.len() {
        return Err(format!(
            "{} unexpected bytes after the {} payload",
            record.len() - r.at,
            kind.as_str()
        ));
    }
    let event = Event {
        tag,
        step,
        wall_time: (flags & HAS_WALL_TIME != 0).then_some(wall),
        priority,
        data,
    };
    // The payloads checked themselves; this adds the wall time and the limits.
    event.validate().map_err(|e| e.message().to_owned())?;
    Ok(event)
}

/// A bounds-checked cursor: every read names what ran short.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "record ends at byte {} but a field needs {n} bytes from byte {}",
                    self.buf.len(),
                    self.at
                )
            })?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A count of items of `item_size` bytes each, refused when the record is too
    /// short to hold them (so a corrupt count cannot trigger a huge allocation).
    fn len(&self, count: u64, item_size: u64) -> Result<usize, String> {
        let left = (self.buf.len() - self.at) as u64;
        if count.saturating_mul(item_size) > left {
            return Err(format!(
                "a count of {count} needs more than the {left} bytes left in the record"
            ));
        }
        Ok(count as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let count = self.u64()?;
        let n = self.len(count, 1)?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Event> {
        vec![
            Event::scalar("c/s", -3, 1.5).unwrap(),
            Event::text("c/t", 1, "héllo").unwrap().at(2.5).critical(),
            Event::histogram("c/h", 2, Histogram::from_values(&[1.0, 2.0], 2).unwrap())
                .unwrap()
                .at(3.0),
            Event::image("c/i", 3, Image::from_rgba8(1, 1, &[1, 2, 3, 4]).unwrap()).unwrap(),
            Event::tensor("c/w", 4, Tensor::from_f32(vec![2, 1], &[1.0, 2.0]).unwrap()).unwrap(),
            Event::raw("c/r", 5, RawBytes::new("a/b", vec![0, 1]).unwrap()).unwrap(),
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for event in every_kind() {
            let mut buf = Vec::new();
            encode(&event, &mut buf);
            assert_eq!(step_of(&buf), Some(event.step));
            assert_eq!(decode(&buf).unwrap(), event);
        }
    }

    #[test]
    fn truncated_or_padded_records_are_refused_with_a_reason() {
        for event in every_kind() {
            let mut buf = Vec::new();
            encode(&event, &mut buf);
            for cut in 0..buf.len() {
                assert!(decode(&buf[..cut]).is_err(), "{event:?} cut at {cut}");
            }
            buf.push(0);
            let e = decode(&buf).unwrap_err();
            assert!(e.contains("unexpected bytes"), "{e}");
        }
        let mut buf = Vec::new();
        encode(&every_kind()[0], &mut buf);
        buf[0] = 9;
        assert_eq!(decode(&buf).unwrap_err(), "unknown event kind 9");
    }
}
