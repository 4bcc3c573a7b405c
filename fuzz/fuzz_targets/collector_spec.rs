//! The JSON collector spec (what viz_collector_new takes): a validated spec or an
//! error naming the field; never a panic, never an allocation sized by the input.
//! Nothing is built (a fuzzed connection string must not create files).
#![no_main]

use libfuzzer_sys::fuzz_target;
use viz::{CollectorConfig, CollectorSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = CollectorSpec::from_json(json) {
        spec.config.validate().expect("a parsed spec is valid");
        for (storage, _) in &spec.backends {
            storage.validate().expect("each backend's config is valid");
        }
    }
    if let Ok(config) = CollectorConfig::from_json(json) {
        config.validate().expect("a parsed config is valid");
    }
});
