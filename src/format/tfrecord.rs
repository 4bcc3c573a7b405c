//! TFRecord framing, as TensorBoard reads it: a little-endian u64 length, the masked
//! CRC32C of those 8 bytes, the payload, the masked CRC32C of the payload.

use std::io::{self, Write};

use crate::error::{ErrorKind, Result, VizError};

/// CRC32C, masked as TFRecord does so that a CRC of data containing CRCs stays strong.
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Writes one framed record.
pub fn write_record(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = (payload.len() as u64).to_le_bytes();
    w.write_all(&len)?;
    w.write_all(&masked_crc(&len).to_le_bytes())?;
    w.write_all(payload)?;
    w.write_all(&masked_crc(payload).to_le_bytes())
}

/// Splits a file's bytes into record payloads, checking both CRCs of each. The error
/// names the byte offset of the first bad record; a record cut short at the end is
/// reported as a torn tail.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    match read_prefix(bytes) {
        (records, None) => Ok(records),
        (_, Some(e)) => Err(e),
    }
}

/// The records before the first bad one, and what was wrong with it, if any: as
/// TensorBoard's own reader does, a file whose writer was killed mid-record reads
/// up to the torn tail.
pub fn read_prefix(bytes: &[u8]) -> (Vec<&[u8]>, Option<VizError>) {
    let mut records = Vec::new();
    let error = read_into(bytes, &mut records).err();
    (records, error)
}

fn read_into<'a>(bytes: &'a [u8], records: &mut Vec<&'a [u8]>) -> Result<()> {
    let mut at = 0usize;
    while at < bytes.len() {
        let corrupt = |what: &str| {
            VizError::new(
                ErrorKind::CorruptData,
                format!("TFRecord at byte offset {at}: {what}"),
            )
        };
        let header = bytes
            .get(at..at + 12)
            .ok_or_else(|| corrupt("torn tail (header cut short)"))?;
        let len_bytes: [u8; 8] = header[..8].try_into().expect("8 bytes");
        let len_crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if masked_crc(&len_bytes) != len_crc {
            return Err(corrupt("length CRC mismatch"));
        }
        let len = usize::try_from(u64::from_le_bytes(len_bytes))
            .map_err(|_| corrupt("length too large"))?;
        // Checked: a damaged length near usize::MAX must not wrap to a small end.
        let end = len
            .checked_add(12 + 4)
            .and_then(|n| at.checked_add(n))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| corrupt("torn tail (payload cut short)"))?;
        let payload = &bytes[at + 12..at + 12 + len];
        let crc = u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        if masked_crc(payload) != crc {
            return Err(corrupt("payload CRC mismatch"));
        }
        records.push(payload);
        at = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_corruption_is_located() {
        let mut file = Vec::new();
        for payload in [&b"first"[..], b"", b"third record"] {
            write_record(&mut file, payload).unwrap();
        }
        let records = read_records(&file).unwrap();
        assert_eq!(records, vec![&b"first"[..], b"", b"third record"]);

        let second = 12 + 5 + 4;
        let mut flipped = file.clone();
        flipped[second + 12 + 2] ^= 0x01; // inside the third record's header area
        let e = read_records(&flipped).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptData);
        assert!(
            e.message().contains(&format!("byte offset {second}")),
            "{e}"
        );

        let e = read_records(&file[..file.len() - 3]).unwrap_err();
        assert!(e.message().contains("torn tail"), "{e}");

        // A length whose CRC matches but which is near u64::MAX (found by fuzzing).
        let len = u64::MAX - 3;
        let mut huge = len.to_le_bytes().to_vec();
        huge.extend_from_slice(&masked_crc(&len.to_le_bytes()).to_le_bytes());
        huge.extend_from_slice(b"tail");
        let e = read_records(&huge).unwrap_err();
        assert!(e.message().contains("torn tail"), "{e}");
    }

    #[test]
    fn masked_crc_matches_the_tfrecord_definition() {
        // CRC32C("123456789") is 0xE3069283; masked per TFRecord.
        let crc: u32 = 0xE306_9283;
        assert_eq!(crc32c::crc32c(b"123456789"), crc);
        assert_eq!(
            masked_crc(b"123456789"),
            crc.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }
}
