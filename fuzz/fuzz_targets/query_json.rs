//! Queries written as JSON (what viz_collector_query takes): a valid query or an
//! error naming the field; never a panic, whatever the nesting or the patterns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use viz::{Event, Query};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Query::from_json(json) {
        q.validate().expect("a parsed query is valid");
        let events = vec![
            Event::scalar("train/loss", 1, 0.5).unwrap().at(1.0),
            Event::scalar("eval/acc", 2, f64::NAN).unwrap().at(2.0),
            Event::text("train/note", 3, "x").unwrap().at(3.0),
        ];
        let got = q.run(events).expect("a valid query runs");
        assert!(got.len() <= 3);
    }
});
