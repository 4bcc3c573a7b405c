//! The TFRecord reader over arbitrary bytes: records or an error naming an offset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use viz::format::tfrecord::{read_records, write_record};

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = read_records(data) {
        // What reads back frames back to the same bytes.
        let mut again = Vec::new();
        for r in &records {
            write_record(&mut again, r).unwrap();
        }
        assert_eq!(again, data);
    }
});
