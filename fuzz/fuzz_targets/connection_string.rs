//! Connection strings and storage configurations: parsed and validated, or refused
//! with a message; never a panic. Nothing is opened (a fuzzed path must not create
//! directories).
#![no_main]

use libfuzzer_sys::fuzz_target;
use viz::StorageConfiguration;
use viz::url::ConnectionString;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mut url) = ConnectionString::parse(text) {
        let _ = url.take::<u64>("segment_max_bytes");
        let _ = url.take_duration("segment_max_age");
        let _ = url.take_choice("fsync", &["never", "flush", "batch"]);
        let _ = url.take::<bool>("atomic");
        let _ = url.finish();
    }
    let config = StorageConfiguration::for_url(text);
    let _ = config.validate();
    let _ = config.resolved_type();
    let _ = viz::config::scheme_of(text);
});
