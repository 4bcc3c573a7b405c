//! The C `viz_event` conversion, through `viz_storage_store` on a memory:// handle:
//! arbitrary kinds, enum values, lengths and pointers, every pointer into a buffer
//! the fuzzer owns and every length within it (the ABI's contract), so what is
//! tested is viz's validation. Each call stores the event or fails with a status;
//! never a panic or an abort.
#![no_main]

use std::ffi::c_char;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use viz::ffi::event::viz_event;
use viz::ffi::status::viz_status;
use viz::ffi::storage::{viz_storage, viz_storage_clear, viz_storage_open, viz_storage_store};

struct Handle(*mut viz_storage);
// SAFETY: the handle is used from the fuzzing thread only.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

fn storage() -> *mut viz_storage {
    static S: OnceLock<Handle> = OnceLock::new();
    S.get_or_init(|| {
        let mut out = std::ptr::null_mut();
        // SAFETY: a NUL-terminated string and a valid out-pointer.
        let status = unsafe { viz_storage_open(std::ptr::null(), c"memory://".as_ptr(), &mut out) };
        assert_eq!(status, viz_status::Ok);
        Handle(out)
    })
    .0
}

/// Reads little-endian integers off the front of the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let n = self.0.len().min(8);
        b[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        u64::from_le_bytes(b)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let header: Vec<u64> = (0..12).map(|_| input.u64()).collect();
    // The rest is the buffer every pointer points into, NUL-terminated.
    let mut buffer = input.0.to_vec();
    buffer.push(0);
    let len = buffer.len();
    let base = buffer.as_ptr();
    // A pointer at an offset inside the buffer, or NULL.
    let at = |x: u64| -> (usize, *const u8) {
        if x % 7 == 0 {
            (0, std::ptr::null())
        } else {
            let off = (x as usize) % len;
            // SAFETY: off < len, inside the buffer.
            (off, unsafe { base.add(off) })
        }
    };
    // A length that keeps `count` elements of `size` bytes inside the buffer.
    let fit = |x: u64, off: usize, size: usize| (x as usize) % ((len - off) / size + 1);
    // SAFETY: all-zero is a valid viz_event.
    let mut e: viz_event = unsafe { std::mem::zeroed() };
    e.kind = (header[0] % 8) as u32;
    e.priority = (header[0] >> 8 & 3) as u32;
    e.step = header[1] as i64;
    e.wall_time = f64::from_bits(header[2]);
    e.scalar = f64::from_bits(header[3]);
    let (_, tag) = at(header[4]);
    e.tag = tag.cast::<c_char>();
    let (_, text) = at(header[5]);
    e.text = text.cast::<c_char>();
    let (_, content_type) = at(header[6]);
    e.content_type = content_type.cast::<c_char>();
    // f64 and u64 arrays need aligned pointers: copy them out to aligned storage.
    let words: Vec<u64> = buffer
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect();
    let words_len = words.len();
    let word_at = |x: u64| (x as usize) % words_len;
    let v = word_at(header[7]);
    e.values = if header[7] % 5 == 0 {
        std::ptr::null()
    } else {
        words[v..].as_ptr().cast::<f64>()
    };
    e.values_len = if e.values.is_null() {
        0
    } else {
        (header[8] as usize) % (words_len - v + 1)
    };
    e.bins = (header[8] >> 32) as u32;
    let b = word_at(header[9]);
    e.bucket_limits = words[b..].as_ptr().cast::<f64>();
    e.bucket_counts = words[b..].as_ptr().cast::<f64>();
    e.buckets_len = (header[9] >> 32) as usize % (words_len - b + 1);
    let (off, data_ptr) = at(header[10]);
    e.data = data_ptr;
    e.data_len = if data_ptr.is_null() {
        0
    } else {
        fit(header[10] >> 20, off, 1)
    };
    e.width = (header[11] & 0xffff) as u32;
    e.height = (header[11] >> 16 & 0xffff) as u32;
    e.channels = (header[11] >> 32 & 7) as u32;
    e.dtype = (header[11] >> 40 & 15) as u32;
    let s = word_at(header[11] >> 44);
    e.shape = words[s..].as_ptr();
    e.shape_len = (header[11] >> 56) as usize % (words_len - s + 1);
    // SAFETY: every pointer is NULL or inside `buffer`/`words`, every length within
    // them, and strings end at the buffer's NUL at the latest.
    let status = unsafe { viz_storage_store(storage(), &e, 1) };
    let _ = status;
    // Keep memory flat across millions of runs.
    // SAFETY: a live handle.
    unsafe { viz_storage_clear(storage()) };
});
