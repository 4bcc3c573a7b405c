//! The file:// log's tag index answers queries, aggregates, downsampling and
//! "latest value of each tag" exactly as a scan of the log does, in the writer and
//! in a separate reader, across segments, resumed (non-monotonic) steps, mixed
//! kinds and NaN values; it reads only the records it needs; and the read cache
//! never serves an index that no longer describes its segment.

mod common;

use common::{open_log, temp_dir};
use viz::format::vizlog::{LogReader, cache};
use viz::query::{Cmp, aggregate, downsample};
use viz::{Event, EventKind, Order, Predicate, Query, StorageBackend, TagPattern};

const TAGS: [&str; 5] = [
    "train/loss",
    "train/acc",
    "eval/loss",
    "eval/acc",
    "sys/mem",
];

/// Five interleaved scalar tags over steps 0..2000, a text every 100 steps, NaN
/// losses now and then, and a resumed run: eval/acc goes back to step 500 at the
/// end, so its steps are not sorted.
fn events() -> Vec<Event> {
    let mut out = Vec::new();
    for step in 0..2000i64 {
        for (i, tag) in TAGS.iter().enumerate() {
            let v = if step % 97 == 0 && i == 0 {
                f64::NAN
            } else {
                ((step * 31 + i as i64 * 7) % 1000) as f64 / 10.0
            };
            out.push(Event::scalar(tag, step, v).unwrap().at(1e9 + step as f64));
        }
        if step % 100 == 0 {
            out.push(Event::text("train/loss", step, format!("note {step}")).unwrap());
        }
    }
    for step in 500..700i64 {
        out.push(Event::scalar("eval/acc", step, -(step as f64)).unwrap());
    }
    out
}

fn queries() -> Vec<Query> {
    let one = || Query::all().tag(TagPattern::exact("train/loss"));
    vec![
        Query::all(),
        one(),
        one().kinds(&[EventKind::Scalar]),
        one().kinds(&[EventKind::Text]),
        one().steps(1000, 1999),
        one().steps(1500, 1500),
        one().order(Order::StepDesc).limit(7),
        one().order(Order::StepAsc).offset(10).limit(5),
        Query::all()
            .tag(TagPattern::glob("eval/*"))
            .order(Order::StepDesc)
            .limit(30),
        Query::all()
            .tag(TagPattern::exact("eval/acc"))
            .steps(550, 560),
        Query::all()
            .tag(TagPattern::exact("eval/acc"))
            .order(Order::StepAsc)
            .limit(12),
        Query::all()
            .tag(TagPattern::regex("^(train|sys)/").unwrap())
            .steps(10, 40)
            .offset(3)
            .limit(50),
        one().filter(Predicate::Value(Cmp::Lt, 5.0)).limit(9),
        one()
            .filter(Predicate::Not(Box::new(Predicate::Finite)))
            .order(Order::StepDesc),
        Query::all().wall_time(1e9 + 100.0, 1e9 + 110.0),
        Query::all()
            .tag(TagPattern::glob("*/acc"))
            .order(Order::WallDesc)
            .limit(4),
        Query::all().steps(5000, 6000),
        Query::all().tag(TagPattern::exact("no/such")),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Compares two lists of aggregates; means may differ in the last bits, since
/// chunk sums add in another order.
fn same_aggregates(a: &[viz::query::Aggregate], b: &[viz::query::Aggregate]) {
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (&x.tag, x.count, x.first.0, x.last.0),
            (&y.tag, y.count, y.first.0, y.last.0)
        );
        for (p, q) in [
            (x.min, y.min),
            (x.max, y.max),
            (x.mean, y.mean),
            (x.first.1, y.first.1),
            (x.last.1, y.last.1),
        ] {
            assert!(close(p, q), "{x:?}\n{y:?}");
        }
    }
}

fn same_buckets(a: &[viz::query::Bucket], b: &[viz::query::Bucket]) {
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.first_step, x.last_step, x.count),
            (y.first_step, y.last_step, y.count)
        );
        assert!(
            close(x.min, y.min) && close(x.max, y.max) && close(x.mean, y.mean),
            "{x:?}\n{y:?}"
        );
    }
}

fn latest_by_scan(all: &[Event], q: &Query) -> Vec<Event> {
    let mut last = std::collections::BTreeMap::new();
    for e in q.run(all.to_vec()).unwrap() {
        last.insert(e.tag.as_str(), e);
    }
    last.into_values().collect()
}

/// Every answer of the index equals the scan's, through `answer`.
fn check_all(
    all: &[Event],
    query: impl Fn(&Query) -> Vec<Event>,
    agg: impl Fn(&Query) -> Vec<viz::query::Aggregate>,
    down: impl Fn(&Query, i64, i64, usize) -> Vec<viz::query::Bucket>,
    latest: impl Fn(&Query) -> Vec<Event>,
) {
    for q in queries() {
        let want = q.run(all.to_vec()).unwrap();
        let got = query(&q);
        assert_eq!(got.len(), want.len(), "{q:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                (g.tag, g.step, g.kind()),
                (w.tag, w.step, w.kind()),
                "{q:?}"
            );
            assert!(
                g.data == w.data || format!("{:?}", g.data) == format!("{:?}", w.data),
                "{q:?}"
            );
        }
        if q.order == Order::Stored && q.offset == 0 && q.limit.is_none() {
            same_aggregates(&agg(&q), &aggregate(&want));
            for (first, last, buckets) in [
                (0, 1999, 100),
                (0, 1999, 1000),
                (250, 777, 13),
                (-50, 3000, 7),
            ] {
                same_buckets(
                    &down(&q, first, last, buckets),
                    &downsample(&want, first, last, buckets).unwrap(),
                );
            }
            let l = latest(&q);
            let w = latest_by_scan(all, &q);
            assert_eq!(common::steps(&l), common::steps(&w), "{q:?}");
            assert_eq!(
                l.iter().map(|e| e.tag.as_str()).collect::<Vec<_>>(),
                w.iter().map(|e| e.tag.as_str()).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn the_writer_answers_through_its_indexes_as_a_scan_does() {
    let dir = temp_dir("fq", "writer");
    let mut log = open_log(&format!("file://{}?segment_max_bytes=65536", dir.display()));
    let all = events();
    for chunk in all.chunks(333) {
        log.store_events(chunk).unwrap();
    }
    assert!(common::segments(&dir).len() > 5, "several segments");
    // Part of the active segment is still in the writer's buffer: it is read too.
    check_all(
        &all,
        |q| log.query(q).unwrap(),
        |q| log.aggregate(q).unwrap(),
        |q, a, b, n| log.downsample(q, a, b, n).unwrap(),
        |q| log.latest(q).unwrap(),
    );
    // A one-tag range reads that tag's records, not the whole range.
    let q = Query::all()
        .tag(TagPattern::exact("train/loss"))
        .steps(1000, 1099);
    let read = log.indexed_query(&q).unwrap().expect("the index answers");
    assert_eq!(read.events.len(), 101, "100 scalars and a text");
    let range_bytes = log.read(1000, 1099).unwrap().bytes_read;
    assert!(
        read.bytes_read * 3 < range_bytes,
        "{} vs {range_bytes}",
        read.bytes_read
    );
    let last3 = Query::all()
        .tag(TagPattern::exact("sys/mem"))
        .order(Order::StepDesc)
        .limit(3);
    let read = log.indexed_query(&last3).unwrap().unwrap();
    assert_eq!(read.records_read, 3, "the last 3 points read 3 records");
    log.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reader_answers_as_a_scan_does_and_reuses_its_cached_indexes() {
    let dir = temp_dir("fq", "reader");
    let mut log = open_log(&format!("file://{}?segment_max_bytes=65536", dir.display()));
    let all = events();
    log.store_events(&all).unwrap();
    log.flush().unwrap();
    let reader = LogReader::open(&dir).unwrap();
    check_all(
        &all,
        |q| reader.query(q).unwrap().events,
        |q| reader.aggregate(q).unwrap(),
        |q, a, b, n| reader.downsample(q, a, b, n).unwrap(),
        |q| reader.latest(q).unwrap(),
    );
    let before = cache::stats();
    let q = Query::all().tag(TagPattern::exact("eval/loss"));
    reader.query(&q).unwrap();
    let after = cache::stats();
    assert!(after.hits > before.hits, "{before:?} -> {after:?}");
    assert!(after.entries > 0 && after.bytes > 0 && after.bytes <= after.capacity);

    // The writer goes on: the reader sees the new records (the active segment's
    // cached index is extended, never served stale).
    let more: Vec<Event> = (2000..2100)
        .map(|s| Event::scalar("train/loss", s, 1.0).unwrap())
        .collect();
    log.store_events(&more).unwrap();
    log.flush().unwrap();
    let latest = reader
        .latest(&Query::all().tag(TagPattern::exact("train/loss")))
        .unwrap();
    assert_eq!(common::steps(&latest), vec![2099]);
    log.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cached_index_of_a_rewritten_tail_is_rebuilt_not_served() {
    let dir = temp_dir("fq", "rewritten");
    // A crash leaves the active segment as written: uncompressed.
    let url = format!("file://{}?compression=none", dir.display());
    let mut log = open_log(&url);
    let first: Vec<Event> = (0..50)
        .map(|s| Event::scalar("a", s, 1.0).unwrap())
        .collect();
    log.store_events(&first).unwrap();
    log.flush().unwrap();
    let reader = LogReader::open(&dir).unwrap();
    assert_eq!(reader.query(&Query::all()).unwrap().events.len(), 50);
    log.shutdown().unwrap();
    drop(log);
    // A crash tore the last record; recovery truncates it, and new records of
    // another tag land where the old ones were.
    let seg = common::segments(&dir).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let mut log = open_log(&url);
    let second: Vec<Event> = (100..110)
        .map(|s| Event::scalar("b", s, 2.0).unwrap())
        .collect();
    log.store_events(&second).unwrap();
    log.flush().unwrap();
    let rebuilds = cache::stats().rebuilds;
    let got = reader.query(&Query::all()).unwrap().events;
    assert!(
        cache::stats().rebuilds > rebuilds,
        "the changed tail was noticed"
    );
    let tags: Vec<&str> = got.iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(got.len(), 59, "{tags:?}");
    assert_eq!(common::steps(&got[49..]), (100..110).collect::<Vec<_>>());
    log.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sealed_segment_sidecar_carries_its_tag_index() {
    let dir = temp_dir("fq", "sidecar");
    let mut log = open_log(&format!("file://{}?segment_max_bytes=4096", dir.display()));
    for chunk in events()[..400].chunks(20) {
        log.store_events(chunk).unwrap();
    }
    log.shutdown().unwrap();
    let segs = common::segments(&dir);
    assert!(segs.len() > 2);
    // Read straight from the files (no cache::clear here: the process-wide read
    // cache is shared with the tests running beside this one, which count its hits).
    for seg in &segs {
        let sidecar = std::fs::read(viz::format::vizlog::index_path(seg)).unwrap();
        let head = std::fs::read(seg).unwrap();
        let header = viz::format::vizlog::segment::Header::decode(&head).unwrap();
        let index =
            viz::format::vizlog::index::SegmentIndex::decode(&sidecar, &header, true).unwrap();
        assert!(index.has_tags, "{}", seg.display());
        assert_eq!(index.tags.records() as u64, index.records);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn aggregate_and_latest_refuse_an_order_or_a_page() {
    let dir = temp_dir("fq", "refuse");
    let mut log = open_log(&format!("file://{}", dir.display()));
    log.store_events(&events()[..10]).unwrap();
    let e = log.aggregate(&Query::all().limit(3)).unwrap_err();
    assert!(e.message().contains("no order, offset or limit"), "{e}");
    let e = log
        .latest(&Query::all().order(Order::StepDesc))
        .unwrap_err();
    assert!(e.message().contains("latest-value query"), "{e}");
    let e = log.downsample(&Query::all(), 0, 10, 0).unwrap_err();
    assert!(e.message().contains("buckets"), "{e}");
    log.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_collectors_answer_is_read_a_page_at_a_time_from_the_file_log() {
    let dir = temp_dir("fq", "pages");
    let c = viz::Collector::builder()
        .backend_url(&format!("file://{}", dir.display()))
        .backend(viz::MemoryBackend::new())
        .build_and_start()
        .unwrap();
    for e in events() {
        c.collect(e).unwrap();
    }
    c.flush(common::LONG).unwrap();
    let q = Query::all().tag(TagPattern::exact("train/loss"));
    let want = q.run(events()).unwrap();
    // The file:// log pages; memory:// answers at once: the same events either way.
    for index in [0, 1] {
        let pages = c.query_pages(index, q.clone(), common::LONG).unwrap();
        assert_eq!(
            matches!(pages, viz::query::Pages::Fetched { .. }),
            index == 0,
            "only the indexed log fetches its pages lazily"
        );
        let got: Vec<Event> = pages.into_iter(7).collect::<viz::Result<_>>().unwrap();
        assert_eq!(common::steps(&got), common::steps(&want));
    }
    // A lazily fetched answer sees events stored after it began, and fails by
    // name once the collector stops.
    let mut pages = c.query_pages(0, q.clone(), common::LONG).unwrap();
    assert_eq!(pages.next_page(10).unwrap().len(), 10);
    c.stop(common::LONG).unwrap();
    let e = pages.next_page(10).unwrap_err();
    assert_eq!(e.kind(), viz::ErrorKind::Closed, "{e}");
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}
