//! The process-wide read cache, alone in its own test binary so no other test
//! moves its counters: a log whose indexes outgrow the cache's capacity still
//! answers a step-range query by loading only the indexes of the segments the
//! range overlaps.

mod common;

use std::time::Duration;

use common::{open_log, segments, temp_dir};
use viz::format::vizlog::{LogReader, cache};
use viz::{Event, Query, StorageBackend, TagPattern};

#[test]
fn a_step_range_query_loads_only_the_indexes_it_needs_when_they_outgrow_the_cache() {
    for compression in ["none", "lz4"] {
        let dir = temp_dir("cache", compression);
        let url = format!(
            "file://{}?segment_max_bytes=8192&compression={compression}",
            dir.display()
        );
        let mut log = open_log(&url);
        for step in 0..3000 {
            let events: Vec<Event> = ["a", "b"]
                .iter()
                .map(|t| Event::scalar(t, step, step as f64).unwrap())
                .collect();
            log.store_events(&events).unwrap();
        }
        log.shutdown().unwrap();
        let count = segments(&dir).len();
        assert!(count > 20, "{count} segments");

        // Room for about one segment's index: every load evicts the one before.
        cache::configure(4096, Duration::from_secs(600));
        cache::clear();
        let reader = LogReader::open(&dir).unwrap();
        let q = Query::all().tag(TagPattern::exact("a")).steps(1500, 1509);
        let first = cache::stats().misses;
        assert_eq!(reader.query(&q).unwrap().events.len(), 10);
        // The first query learns every segment's steps (it loads each index once)...
        assert_eq!(cache::stats().misses - first, count as u64, "{compression}");
        for _ in 0..3 {
            let before = cache::stats().misses;
            let read = reader.query(&q).unwrap();
            assert_eq!(read.events.len(), 10);
            assert!(read.problems.is_empty(), "{:?}", read.problems);
            // ...and later ones load only the one or two segments holding those
            // steps, though the cache keeps none of the others' indexes.
            let loaded = cache::stats().misses - before;
            assert!(
                (1..=2).contains(&loaded),
                "{compression}: loaded {loaded} of {count}"
            );
        }
        // A range no segment holds loads nothing.
        let before = cache::stats().misses;
        let none = reader.query(&q.clone().steps(10_000, 10_010)).unwrap();
        assert!(none.events.is_empty());
        assert_eq!(cache::stats().misses, before);
        cache::configure(cache::DEFAULT_CAPACITY, cache::DEFAULT_TTL);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
