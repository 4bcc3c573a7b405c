//! Core engine benchmarks: collect latency (1 and 2 producers), sustained
//! throughput into the memory backend, idle CPU, shutdown time, and the effect of
//! batch_size / max_queue_length on throughput.
//!
//! Run: `cargo bench --bench engine` (add `-- quick` for a shorter run, and section
//! names such as `-- quick interleaved idle` to run only those).
//! Results and method: docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use viz::{Collector, CollectorConfig, TagId};

/// Cycle counter and its frequency, calibrated against `Instant`.
struct Timer {
    ticks_per_ns: f64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn ticks() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn ticks() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

impl Timer {
    fn calibrate() -> Timer {
        let (t0, c0) = (Instant::now(), ticks());
        std::thread::sleep(Duration::from_millis(200));
        let (t1, c1) = (Instant::now(), ticks());
        Timer {
            ticks_per_ns: (c1 - c0) as f64 / (t1 - t0).as_nanos() as f64,
        }
    }
    fn ns(&self, ticks: u64) -> u64 {
        (ticks as f64 / self.ticks_per_ns) as u64
    }
}

fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:>5} ns  p99 {:>6} ns  p99.9 {:>7} ns  max {:>9} ns  (n={})",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        h.len()
    )
}

fn merged(hists: &[Histogram<u64>]) -> Histogram<u64> {
    let mut all = Histogram::<u64>::new(3).unwrap();
    for h in hists {
        all.add(h).unwrap();
    }
    all
}

/// The timer's own cost: two back-to-back reads, same method as the measurements.
fn timer_overhead(timer: &Timer) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..1_000_000 {
        let a = ticks();
        let b = ticks();
        h.record(timer.ns(b - a)).unwrap();
    }
    h
}

fn collector(config: CollectorConfig) -> Collector {
    Collector::builder()
        .config(config)
        .backend_url("memory://?capacity=1000000")
        .build_and_start()
        .unwrap()
}

/// Runs `producer(collector, index)` on `producers` threads against one collector
/// built from `config`, then stops it and merges the threads' histograms.
fn per_producer(
    config: CollectorConfig,
    producers: usize,
    producer: impl Fn(&Collector, usize) -> Histogram<u64> + Sync,
) -> Histogram<u64> {
    let c = collector(config);
    let hists: Vec<Histogram<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let (c, producer) = (&c, &producer);
                s.spawn(move || producer(c, p))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    c.stop(Duration::from_secs(30)).unwrap();
    merged(&hists)
}

/// Each producer collects `bursts` bursts of `burst` scalars, pausing `pause`
/// between bursts (a training loop logs in bursts, then computes), timing every call.
fn latency(
    timer: &Timer,
    config: CollectorConfig,
    producers: usize,
    bursts: usize,
    burst: usize,
    pause: Duration,
) -> Histogram<u64> {
    per_producer(config, producers, |c, p| {
        let tag = c.intern(&format!("bench/latency/{p}")).unwrap();
        let mut h = Histogram::<u64>::new(3).unwrap();
        let mut step = 0i64;
        for _ in 0..bursts {
            for _ in 0..burst {
                let a = ticks();
                let r = c.collect_scalar(tag, step, 0.5);
                let b = ticks();
                std::hint::black_box(r).ok();
                h.record(timer.ns(b - a)).unwrap();
                step += 1;
            }
            std::thread::sleep(pause);
        }
        h
    })
}

/// The call's own cost: a collector that is not started (nothing drains, so no
/// other core touches the queue). Each round uses a fresh collector whose lane
/// (default size, 10000 slots) holds the round; the first round is discarded.
fn intrinsic(timer: &Timer, rounds: usize, per_round: usize) -> (Histogram<u64>, f64) {
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut means = Vec::new();
    for round in 0..rounds + 1 {
        for timed in [true, false] {
            let c = Collector::builder()
                .config(CollectorConfig {
                    max_queue_length: per_round + 1,
                    ..CollectorConfig::default()
                })
                .backend_url("memory://?capacity=1")
                .build()
                .unwrap();
            let tag = c.intern("bench/intrinsic").unwrap();
            // The first push from a thread allocates its lane: keep that out of the timing.
            c.collect_scalar(tag, -1, 0.5).unwrap();
            let t = Instant::now();
            for step in 0..per_round as i64 {
                if timed {
                    let a = ticks();
                    let r = c.collect_scalar(tag, step, 0.5);
                    let b = ticks();
                    std::hint::black_box(r).ok();
                    if round > 0 {
                        h.record(timer.ns(b - a)).unwrap();
                    }
                } else {
                    std::hint::black_box(c.collect_scalar(tag, step, 0.5)).ok();
                }
            }
            if !timed && round > 0 {
                means.push(t.elapsed().as_nanos() as f64 / per_round as f64);
            }
            // Dropping an unstarted collector starts and stops it, draining the queue.
        }
    }
    (h, median(means))
}

/// Each producer runs `steps` training steps: `per_step` scalars, each timed, then
/// about `work` iterations of dependent floating-point compute (a few µs), so the
/// worker polls between small bursts: the way a training loop logs.
fn interleaved(
    timer: &Timer,
    config: CollectorConfig,
    producers: usize,
    steps: usize,
    per_step: usize,
    work: u32,
) -> Histogram<u64> {
    per_producer(config, producers, |c, p| {
        let tags: Vec<TagId> = (0..per_step)
            .map(|i| c.intern(&format!("bench/interleaved/{p}/{i}")).unwrap())
            .collect();
        let mut h = Histogram::<u64>::new(3).unwrap();
        let mut x = 1.0f64;
        for step in 0..steps as i64 {
            for _ in 0..work {
                x = std::hint::black_box(x * 1.000_000_1 + 1e-9);
            }
            for &tag in &tags {
                let a = ticks();
                let r = c.collect_scalar(tag, step, x);
                let b = ticks();
                std::hint::black_box(r).ok();
                h.record(timer.ns(b - a)).unwrap();
            }
        }
        h
    })
}

/// The `interleaved` scenario (one producer, 4 scalars then ~5 us of compute per
/// step) with the collector writing to `url`.
fn interleaved_to(timer: &Timer, url: &str, steps: usize) -> Histogram<u64> {
    let c = Collector::builder()
        .backend_url(url)
        .build_and_start()
        .unwrap();
    let tags: Vec<TagId> = (0..4)
        .map(|i| c.intern(&format!("bench/remote/{i}")).unwrap())
        .collect();
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut x = 1.0f64;
    for step in 0..steps as i64 {
        for _ in 0..1000 {
            x = std::hint::black_box(x * 1.000_000_1 + 1e-9);
        }
        for &tag in &tags {
            let a = ticks();
            let r = c.collect_scalar(tag, step, x);
            let b = ticks();
            std::hint::black_box(r).ok();
            h.record(timer.ns(b - a)).unwrap();
        }
    }
    c.stop(Duration::from_secs(30)).unwrap();
    h
}

/// The PNG `Image::from_rgba8` made before it used the `png` crate: zlib "stored"
/// blocks (no compression), kept here as the baseline it is measured against.
fn stored_png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    let row = width as usize * 4;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in pixels.chunks(row) {
        raw.push(0);
        raw.extend_from_slice(line);
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks = raw.chunks(65_535);
    let last = blocks.len().saturating_sub(1);
    for (i, block) in blocks.enumerate() {
        zlib.push(u8::from(i == last));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// The C ABI's own cost: the same no-consumer setup (Manual strategy, a staging
/// buffer of 1, so the worker takes one event and then stops draining) built through
/// the Rust API and through `viz_collector_new`, then `collect_scalar` against
/// `viz_collector_collect_scalar_id`, in interleaved rounds of `per_round` calls.
fn ffi_overhead(timer: &Timer, rounds: usize, per_round: usize) -> [(Histogram<u64>, f64); 2] {
    use std::ffi::CString;
    use viz::ffi::collector::{
        viz_collector_close, viz_collector_collect_scalar_id, viz_collector_new,
        viz_collector_tag_intern,
    };
    let config = CollectorConfig {
        strategy: viz::FlushStrategy::Manual,
        buffer_capacity: 1,
        batch_size: 1,
        max_queue_length: per_round + 2,
        ..CollectorConfig::default()
    };
    let json = CString::new(format!(
        r#"{{"collector": {}, "backends": ["memory://?capacity=1"]}}"#,
        serde_json::to_string(&config).unwrap()
    ))
    .unwrap();
    let mut results = [
        (Histogram::<u64>::new(3).unwrap(), Vec::new()),
        (Histogram::<u64>::new(3).unwrap(), Vec::new()),
    ];
    for round in 0..rounds + 1 {
        for (which, result) in results.iter_mut().enumerate() {
            for timed in [true, false] {
                // 0: the Rust API; 1: the C ABI, called from Rust.
                let rust = (which == 0).then(|| collector(config.clone()));
                let mut handle = std::ptr::null_mut();
                let mut tag_id = 0u32;
                if which == 1 {
                    unsafe {
                        assert_eq!(
                            viz_collector_new(json.as_ptr(), &mut handle),
                            viz::ffi::status::viz_status::Ok
                        );
                        viz_collector_tag_intern(handle, c"bench/ffi".as_ptr(), &mut tag_id);
                    }
                }
                let rust_tag = rust.as_ref().map(|c| c.intern("bench/ffi").unwrap());
                let call = |step: i64| match &rust {
                    Some(c) => c.collect_scalar(rust_tag.unwrap(), step, 0.5).is_ok(),
                    None => {
                        let status =
                            unsafe { viz_collector_collect_scalar_id(handle, tag_id, step, 0.5) };
                        status == viz::ffi::status::viz_status::Ok
                    }
                };
                // Let the worker take its one event, and register this thread's lane.
                call(-2);
                std::thread::sleep(Duration::from_millis(5));
                call(-1);
                let t = Instant::now();
                for step in 0..per_round as i64 {
                    if timed {
                        let a = ticks();
                        let ok = call(step);
                        let b = ticks();
                        std::hint::black_box(ok);
                        if round > 0 {
                            result.0.record(timer.ns(b - a)).unwrap();
                        }
                    } else {
                        std::hint::black_box(call(step));
                    }
                }
                if !timed && round > 0 {
                    result
                        .1
                        .push(t.elapsed().as_nanos() as f64 / per_round as f64);
                }
                if which == 1 {
                    unsafe { viz_collector_close(handle, 10_000) };
                }
            }
        }
    }
    results.map(|(h, means)| (h, median(means)))
}

/// One producer (or more) collects `n` scalars each as fast as it can; the clock
/// stops when flush confirms every event reached the memory backend.
fn throughput(config: CollectorConfig, producers: usize, n: i64) -> (f64, viz::CollectorStats) {
    let c = collector(config);
    let tags: Vec<TagId> = (0..producers)
        .map(|p| c.intern(&format!("bench/tput/{p}")).unwrap())
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for &tag in &tags {
            let c = &c;
            s.spawn(move || {
                for step in 0..n {
                    c.collect_scalar(tag, step, step as f64).unwrap();
                }
            });
        }
    });
    c.flush(Duration::from_secs(120)).unwrap();
    let elapsed = start.elapsed();
    let stats = c.stats();
    assert_eq!(
        stats.written,
        n as u64 * producers as u64,
        "every event reached the backend"
    );
    c.stop(Duration::from_secs(30)).unwrap();
    ((n as f64 * producers as f64) / elapsed.as_secs_f64(), stats)
}

/// Scalars/s from one producer into `url`, until flush confirms they are written
/// (and, for event files, synced to disk).
fn throughput_into(url: &str, n: i64) -> f64 {
    let c = Collector::builder()
        .backend_url(url)
        .build_and_start()
        .unwrap();
    let tag = c.intern("bench/file").unwrap();
    let start = Instant::now();
    for step in 0..n {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    c.flush(Duration::from_secs(300)).unwrap();
    let rate = n as f64 / start.elapsed().as_secs_f64();
    assert_eq!(c.stats().written, n as u64);
    c.stop(Duration::from_secs(30)).unwrap();
    rate
}

/// get_events for 1000 steps out of `n` scalars in a file:// log: through the
/// writer (indexes in memory) and through a fresh `LogReader` (indexes from the
/// sidecars), against reading the whole log.
fn range_reads(n: i64, reps: usize, options: &str) {
    use viz::StorageBackend;
    use viz::backend::file::FileLogBackend;
    use viz::format::vizlog::LogReader;

    println!(
        "\n## get_events for 1000 steps out of {n} scalars in a file:// log, {options} (median of {reps})"
    );
    let dir = std::env::temp_dir().join(format!("viz-bench-range-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut log = FileLogBackend::default();
    log.initialize(&format!("file://{}?fsync=never&{options}", dir.display()))
        .unwrap();
    let tag = viz::Tag::new("bench/range").unwrap();
    let mut batch = Vec::with_capacity(1000);
    for chunk in 0..n / 1000 {
        batch.clear();
        batch.extend((0..1000).map(|i| {
            let step = chunk * 1000 + i;
            viz::Event::new(tag, step, viz::EventData::Scalar(step as f64)).at(1.0)
        }));
        log.store_events(&batch).unwrap();
    }
    log.flush().unwrap();
    log.wait_sealed().unwrap();
    let total: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let reader = LogReader::open(&dir).unwrap();
    let (mut writer_us, mut reader_us) = (Vec::new(), Vec::new());
    let mut last = None;
    for rep in 0..reps {
        // A different range each time, so the page cache is not always warm for it.
        let start = (n / 2 + rep as i64 * 7919 * 13) % (n - 1000);
        let t = Instant::now();
        let read = log.read(start, start + 999).unwrap();
        writer_us.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(read.events.len(), 1000);
        let t = Instant::now();
        let cold = reader.read(start, start + 999).unwrap();
        reader_us.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(cold.events.len(), 1000);
        last = Some(read);
    }
    let last = last.unwrap();
    let t = Instant::now();
    let all = log.read(i64::MIN, i64::MAX).unwrap();
    let full = t.elapsed();
    assert_eq!(all.events.len() as i64, n);
    println!(
        "  log: {total} bytes in {} segments",
        viz::format::vizlog::segment_files(&dir).unwrap().len()
    );
    println!(
        "  through the writer: median {:.0} us; read {} bytes in {} segment(s) ({:.4}% of the log)",
        median(writer_us),
        last.bytes_read,
        last.segments_read,
        last.bytes_read as f64 * 100.0 / total as f64
    );
    println!(
        "  through a LogReader (index sidecars): median {:.0} us",
        median(reader_us)
    );
    println!(
        "  reading the whole log instead: {:.0} ms",
        full.as_secs_f64() * 1e3
    );
    log.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The read side on a log of `n` scalars over 100 interleaved tags (every step
/// logs all 100): one tag's 1000-step range, the last value of every tag, and a
/// 1000-bucket downsample of one tag over the whole log, through the writer and
/// through a `LogReader` (cold: indexes loaded from the sidecars; warm: from the
/// read cache), each against the scan the query would otherwise need.
fn tag_queries(n: i64, reps: usize, options: &str) {
    use viz::StorageBackend;
    use viz::backend::file::FileLogBackend;
    use viz::format::vizlog::{LogReader, cache};
    use viz::{Query, TagPattern};

    const TAGS: i64 = 100;
    println!(
        "\n## queries on {n} scalars over {TAGS} tags in a file:// log, {options} (median of {reps})"
    );
    let dir = std::env::temp_dir().join(format!("viz-bench-tags-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut log = FileLogBackend::default();
    log.initialize(&format!("file://{}?fsync=never&{options}", dir.display()))
        .unwrap();
    let tags: Vec<viz::Tag> = (0..TAGS)
        .map(|i| viz::Tag::new(&format!("bench/tag{i:03}")).unwrap())
        .collect();
    let steps = n / TAGS;
    let mut batch = Vec::with_capacity(1000);
    let t = Instant::now();
    for step in 0..steps {
        for tag in &tags {
            batch.push(
                viz::Event::new(*tag, step, viz::EventData::Scalar((step % 1000) as f64)).at(1.0),
            );
        }
        if batch.len() >= 1000 {
            log.store_events(&batch).unwrap();
            batch.clear();
        }
    }
    log.store_events(&batch).unwrap();
    log.flush().unwrap();
    let write = t.elapsed();
    // Measured once the rolled segments are compressed (in the background).
    log.wait_sealed().unwrap();
    let size = |ext: &str| -> u64 {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    let (log_bytes, index_bytes) = (size("vzl"), size("vzi"));
    println!(
        "  log: {log_bytes} bytes in {} segments, written at {:.2} M scalars/s; sidecars {index_bytes} bytes ({:.1}% of the log, {:.2} bytes a record)",
        viz::format::vizlog::segment_files(&dir).unwrap().len(),
        n as f64 / write.as_secs_f64() / 1e6,
        index_bytes as f64 * 100.0 / log_bytes as f64,
        index_bytes as f64 / n as f64
    );
    let one = TagPattern::exact("bench/tag042");
    let range_of = |rep: usize| {
        let start = (steps / 3 + rep as i64 * 7919) % (steps - 1000);
        Query::all().tag(one.clone()).steps(start, start + 999)
    };

    // Cold: a fresh process's first query loads the sidecars' tag indexes.
    cache::clear();
    let reader = LogReader::open(&dir).unwrap();
    let t = Instant::now();
    let first = reader.query(&range_of(0)).unwrap();
    let cold = t.elapsed();
    assert_eq!(first.events.len(), 1000);
    println!(
        "  first query of a fresh reader (loads every segment's tag index): {:.1} ms; cache {:?}",
        cold.as_secs_f64() * 1e3,
        cache::stats()
    );

    let time = |f: &mut dyn FnMut(usize)| -> f64 {
        let mut us = Vec::new();
        for rep in 0..reps {
            let t = Instant::now();
            f(rep);
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        median(us)
    };
    let mut bytes = 0;
    let writer_range = time(&mut |rep| {
        let read = log.indexed_query(&range_of(rep)).unwrap().unwrap();
        assert_eq!(read.events.len(), 1000);
        bytes = read.bytes_read;
    });
    let reader_range = time(&mut |rep| {
        assert_eq!(reader.query(&range_of(rep)).unwrap().events.len(), 1000);
    });
    let scan_range = time(&mut |rep| {
        let q = range_of(rep);
        let all = log.read(q.steps.0, q.steps.1).unwrap();
        assert_eq!(q.run(all.events).unwrap().len(), 1000);
    });
    println!(
        "  one tag, 1000 steps: writer {writer_range:.0} us, reader {reader_range:.0} us; {bytes} bytes read ({:.5}% of the log); the step index alone: {scan_range:.0} us",
        bytes as f64 * 100.0 / log_bytes as f64
    );
    let all_tags = Query::all();
    let writer_latest =
        time(&mut |_| assert_eq!(log.latest(&all_tags).unwrap().len(), TAGS as usize));
    let reader_latest =
        time(&mut |_| assert_eq!(reader.latest(&all_tags).unwrap().len(), TAGS as usize));
    println!(
        "  last value of every tag: writer {writer_latest:.0} us, reader {reader_latest:.0} us"
    );
    let whole = Query::all().tag(one.clone());
    let writer_down = time(&mut |_| {
        assert_eq!(
            log.downsample(&whole, 0, steps - 1, 1000).unwrap().len(),
            1000
        );
    });
    let reader_down = time(&mut |_| {
        assert_eq!(
            reader.downsample(&whole, 0, steps - 1, 1000).unwrap().len(),
            1000
        );
    });
    let t = Instant::now();
    let scanned = viz::query::downsample(
        &whole
            .run(log.read(i64::MIN, i64::MAX).unwrap().events)
            .unwrap(),
        0,
        steps - 1,
        1000,
    )
    .unwrap();
    let scan_down = t.elapsed();
    let indexed = log.downsample(&whole, 0, steps - 1, 1000).unwrap();
    let shape = |b: &viz::query::Bucket| (b.first_step, b.count, b.min, b.max);
    assert!(
        scanned.iter().map(shape).eq(indexed.iter().map(shape)),
        "the index agrees with the scan"
    );
    println!(
        "  1000-bucket downsample of one tag ({steps} points) over the whole log: writer {:.1} ms, reader {:.1} ms; by a full scan {:.0} ms",
        writer_down / 1e3,
        reader_down / 1e3,
        scan_down.as_secs_f64() * 1e3
    );
    println!("  read cache after: {:?}", cache::stats());
    log.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Durable log size, ingest and a one-tag query for each compression of file://:
/// `n` scalars over 100 tags (every step logs all 100, f32 values of a noisy
/// falling curve, wall times stamped at collection), written through a collector
/// as a training loop would. The variants run interleaved, `rounds` times.
fn compression(n: i64, rounds: usize, reps: usize) {
    use viz::format::vizlog::LogReader;
    use viz::{Query, TagPattern};

    const TAGS: i64 = 100;
    let variants = [
        ("none", "compression=none"),
        ("lz4, no delta", "compression=lz4&delta=false"),
        ("lz4 (default)", "compression=lz4"),
        ("zstd 1", "compression=zstd&level=1"),
        ("zstd 3, no delta", "compression=zstd&delta=false"),
        ("zstd 3", "compression=zstd"),
        ("zstd 9", "compression=zstd&level=9"),
    ];
    // `VIZ_BENCH_CODECS='compression=lz4,compression=zstd'` runs only the
    // variants with those options (`none` always runs: it is the baseline).
    let only = std::env::var("VIZ_BENCH_CODECS").unwrap_or_default();
    let variants: Vec<_> = variants
        .into_iter()
        .enumerate()
        .filter(|(i, (_, options))| {
            *i == 0 || only.is_empty() || only.split(',').any(|w| *options == w)
        })
        .map(|(_, v)| v)
        .collect();
    println!(
        "\n## file:// compression: {n} scalars over {TAGS} tags through a collector (median of {rounds} rounds; queries median of {reps})"
    );
    let dir = std::env::temp_dir().join(format!("viz-bench-zip-{}", std::process::id()));
    let steps = n / TAGS;
    // Per variant: ingest rate, stop ms, warm query us, cold query us, and the
    // cores busy during ingest (process CPU time over wall time).
    let mut results: Vec<[Vec<f64>; 5]> = variants.iter().map(|_| Default::default()).collect();
    let mut sizes = vec![(0u64, 0u64); variants.len()];
    for round in 0..rounds {
        for (v, (_, options)) in variants.iter().enumerate() {
            let log = dir.join(format!("{v}-{round}"));
            let c = Collector::builder()
                .backend_url(&format!("file://{}?fsync=never&{options}", log.display()))
                .build_and_start()
                .unwrap();
            let tags: Vec<TagId> = (0..TAGS)
                .map(|i| c.intern(&format!("train/metric{i:03}")).unwrap())
                .collect();
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let cpu_start = process_cpu();
            let start = Instant::now();
            for step in 0..steps {
                for (i, &tag) in tags.iter().enumerate() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let noise = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    let curve = (1.0 + i as f64) / (1.0 + step as f64 * 1e-3);
                    c.collect_scalar(tag, step, (curve + 0.05 * noise) as f32 as f64)
                        .unwrap();
                }
            }
            c.flush(Duration::from_secs(600)).unwrap();
            let ingest = start.elapsed();
            let cpu = process_cpu() - cpu_start;
            let stats = c.stats();
            assert_eq!(stats.written, (steps * TAGS) as u64, "{options}: {stats:?}");
            let t = Instant::now();
            c.stop(Duration::from_secs(600)).unwrap();
            let stop = t.elapsed();
            let size = |ext: &str| -> u64 {
                std::fs::read_dir(&log)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == ext))
                    .map(|p| std::fs::metadata(p).unwrap().len())
                    .sum()
            };
            sizes[v] = (size("vzl"), size("vzi"));
            let reader = LogReader::open(&log).unwrap();
            let one = TagPattern::exact("train/metric042");
            let mut us = Vec::new();
            for rep in 0..reps {
                let from = (steps / 3 + rep as i64 * 7919) % (steps - 1000);
                let q = Query::all().tag(one.clone()).steps(from, from + 999);
                let t = Instant::now();
                let read = reader.query(&q).unwrap();
                us.push(t.elapsed().as_secs_f64() * 1e6);
                assert_eq!(read.events.len(), 1000);
                assert!(read.problems.is_empty(), "{:?}", read.problems);
            }
            // Cold: the page cache dropped (root only) and a fresh process read
            // cache, as when a run kept for months is opened again.
            let mut cold = Vec::new();
            for rep in 0..3 {
                if !drop_page_cache() {
                    break;
                }
                viz::format::vizlog::cache::clear();
                let from = (steps / 5 + rep as i64 * 104_729) % (steps - 1000);
                let q = Query::all().tag(one.clone()).steps(from, from + 999);
                let t = Instant::now();
                let read = LogReader::open(&log).unwrap().query(&q).unwrap();
                cold.push(t.elapsed().as_secs_f64() * 1e6);
                assert_eq!(read.events.len(), 1000);
            }
            let r = &mut results[v];
            r[0].push(n as f64 / ingest.as_secs_f64());
            r[1].push(stop.as_secs_f64() * 1e3);
            r[4].push(cpu.as_secs_f64() / ingest.as_secs_f64());
            r[2].push(median(us));
            r[3].push(if cold.is_empty() {
                f64::NAN
            } else {
                median(cold)
            });
            let _ = std::fs::remove_dir_all(&log);
        }
    }
    let base = median(results[0][0].clone());
    let base_query = median(results[0][2].clone());
    let base_cold = median(results[0][3].clone());
    println!(
        "  | compression | bytes/scalar (log + sidecars) | ingest M scalars/s (vs none) | cores busy ingesting | stop ms | one-tag 1000-step query us, warm (vs none) | the same, page cache dropped (vs none) |"
    );
    println!("  |---|---|---|---|---|---|---|");
    for (v, (name, _)) in variants.iter().enumerate() {
        let r = &results[v];
        let (ingest, query) = (median(r[0].clone()), median(r[2].clone()));
        let cold = median(r[3].clone());
        println!(
            "  | {name} | {:.2} + {:.2} | {:.2} ({:.2}x) | {:.2} | {:.0} | {:.0} ({:.2}x) | {:.0} ({:.2}x) |",
            sizes[v].0 as f64 / n as f64,
            sizes[v].1 as f64 / n as f64,
            ingest / 1e6,
            ingest / base,
            median(r[4].clone()),
            median(r[1].clone()),
            query,
            query / base_query,
            cold,
            cold / base_cold
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Encode and decode time of one 64 KiB index block of interleaved scalars (100
/// tags), per codec and transform: what a query pays per block it touches.
fn block_codec(reps: usize) {
    use viz::format::vizlog::blocks::{Codec, Compression, decode, decode_block, encode_block};
    use viz::format::vizlog::{codec, segment};

    let mut raw = Vec::new();
    let tags: Vec<viz::Tag> = (0..100)
        .map(|i| viz::Tag::new(&format!("train/metric{i:03}")).unwrap())
        .collect();
    let mut i = 0i64;
    while raw.len() < 64 * 1024 {
        let tag = tags[(i % 100) as usize];
        let v = (1.0 / (1.0 + i as f64 * 1e-5) + (i % 7) as f64 * 1e-3) as f32 as f64;
        let e =
            viz::Event::new(tag, i / 100, viz::EventData::Scalar(v)).at(1.7e9 + i as f64 * 3e-6);
        segment::frame(&mut raw, |o| codec::encode(&e, o)).unwrap();
        i += 1;
    }
    println!(
        "\n## one index block ({} bytes, {i} scalars over 100 tags): encode and decode (median of {reps})",
        raw.len()
    );
    for (name, codec, delta) in [
        ("lz4, no delta", Codec::Lz4, false),
        ("lz4", Codec::Lz4, true),
        ("zstd 3, no delta", Codec::Zstd, false),
        ("zstd 3", Codec::Zstd, true),
    ] {
        let c = Compression {
            codec,
            level: 3,
            delta,
        };
        let (mut enc, mut dec, mut one) = (Vec::new(), Vec::new(), Vec::new());
        let mut payload = Vec::new();
        // One tag's records in the block: what a one-tag query reads from it.
        let wanted: Vec<usize> = segment::Frames::new(&raw, 0)
            .filter_map(|f| match f {
                segment::Frame::Record { offset, payload } => {
                    (codec::peek(payload)?.tag == b"train/metric042").then_some(offset as usize)
                }
                _ => None,
            })
            .collect();
        for _ in 0..reps {
            payload.clear();
            let t = Instant::now();
            encode_block(&c, 32, &raw, &mut Vec::new(), &mut payload);
            enc.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            let (_, back) = decode_block(&payload).unwrap();
            dec.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(back.len(), raw.len());
            let t = Instant::now();
            let block = decode(&payload).unwrap();
            for &at in &wanted {
                assert!(block.record(at, b"train/metric042").is_some());
            }
            one.push(t.elapsed().as_secs_f64() * 1e6);
        }
        println!(
            "  {name:<18} {} bytes; encode {:.0} us; decode with every record rebuilt {:.0} us; one tag's {} records {:.1} us",
            payload.len(),
            median(enc),
            median(dec),
            wanted.len(),
            median(one)
        );
    }
}

/// The read side of sqlite:// on the data set of `tag_queries`: `n` scalars over
/// 100 interleaved tags, then the same three queries, answered by SQL.
fn sqlite_queries(n: i64, reps: usize) {
    use viz::{Query, TagPattern};

    const TAGS: i64 = 100;
    println!("\n## sqlite:// queries on {n} scalars over {TAGS} tags (median of {reps})");
    let dir = std::env::temp_dir().join(format!("viz-bench-sqltags-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut db = viz::StorageBackendFactory::default()
        .create_url(&format!("sqlite://{}/runs.db", dir.display()))
        .unwrap();
    let tags: Vec<viz::Tag> = (0..TAGS)
        .map(|i| viz::Tag::new(&format!("bench/tag{i:03}")).unwrap())
        .collect();
    let steps = n / TAGS;
    let mut batch = Vec::with_capacity(1000);
    let t = Instant::now();
    for step in 0..steps {
        for tag in &tags {
            batch.push(
                viz::Event::new(*tag, step, viz::EventData::Scalar((step % 1000) as f64)).at(1.0),
            );
        }
        if batch.len() >= 1000 {
            db.store_events(&batch).unwrap();
            batch.clear();
        }
    }
    db.store_events(&batch).unwrap();
    db.flush().unwrap();
    let write = t.elapsed();
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "  stored at {:.2} M scalars/s (batches of 1000 straight into the backend); {bytes} bytes, {:.1} bytes per scalar",
        n as f64 / write.as_secs_f64() / 1e6,
        bytes as f64 / n as f64
    );
    let one = TagPattern::exact("bench/tag042");
    let time = |f: &mut dyn FnMut(usize)| -> f64 {
        let mut us = Vec::new();
        for rep in 0..reps {
            let t = Instant::now();
            f(rep);
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        median(us)
    };
    let range = time(&mut |rep| {
        let start = (steps / 3 + rep as i64 * 7919) % (steps - 1000);
        let q = Query::all().tag(one.clone()).steps(start, start + 999);
        assert_eq!(db.query(&q).unwrap().len(), 1000);
    });
    let latest = time(&mut |_| assert_eq!(db.latest(&Query::all()).unwrap().len(), TAGS as usize));
    let whole = Query::all().tag(one.clone());
    let down = time(&mut |_| {
        assert_eq!(
            db.downsample(&whole, 0, steps - 1, 1000).unwrap().len(),
            1000
        );
    });
    println!(
        "  one tag, 1000 steps: {range:.0} us; last value of every tag: {latest:.0} us; 1000-bucket downsample of one tag ({steps} points): {:.1} ms",
        down / 1e3
    );
    db.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn cpu_time() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Process CPU time over `window` while a started collector has nothing to do.
fn idle_cpu(config: CollectorConfig, window: Duration) -> f64 {
    let c = collector(config);
    std::thread::sleep(Duration::from_millis(500));
    let (cpu0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(window);
    let (cpu1, t1) = (cpu_time(), Instant::now());
    drop(c);
    (cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64() * 100.0
}

/// Time for `stop` on a running collector whose queue is empty.
fn shutdown_times(rounds: usize) -> Vec<Duration> {
    (0..rounds)
        .map(|i| {
            let c = collector(CollectorConfig::default());
            let tag = c.intern("bench/shutdown").unwrap();
            for step in 0..1000 {
                c.collect_scalar(tag, step, 0.0).unwrap();
            }
            c.flush(Duration::from_secs(10)).unwrap();
            std::thread::sleep(Duration::from_millis(20 + (i % 5) as u64 * 10));
            let t = Instant::now();
            c.stop(Duration::from_secs(10)).unwrap();
            t.elapsed()
        })
        .collect()
}

/// What `max_held_events` costs a producer: the same started collector with and
/// without the event bound, alternating round by round, per call timed and as
/// tight-loop means. The bound is far above what is held, so only the counting is
/// measured, not drops.
fn event_bound(timer: &Timer, rounds: usize, per_round: usize) -> [(Histogram<u64>, f64); 2] {
    let mut out = [(); 2].map(|_| (Histogram::<u64>::new(3).unwrap(), Vec::new()));
    for round in 0..rounds + 1 {
        for (k, bound) in [0u64, 1 << 24].into_iter().enumerate() {
            let c = Collector::builder()
                .config(CollectorConfig {
                    max_queue_length: per_round + 1,
                    max_held_events: bound,
                    ..CollectorConfig::default()
                })
                .backend_url("memory://?capacity=1")
                .build()
                .unwrap();
            c.start().unwrap();
            let tag = c.intern("bench/bound").unwrap();
            c.collect_scalar(tag, -1, 0.5).unwrap();
            for step in 0..per_round as i64 {
                let a = ticks();
                let r = c.collect_scalar(tag, step, 0.5);
                let b = ticks();
                std::hint::black_box(r).ok();
                if round > 0 {
                    out[k].0.record(timer.ns(b - a)).unwrap();
                }
            }
            c.flush(Duration::from_secs(10)).unwrap();
            let t = Instant::now();
            for step in 0..per_round as i64 {
                std::hint::black_box(c.collect_scalar(tag, step, 0.5)).ok();
            }
            if round > 0 {
                out[k]
                    .1
                    .push(t.elapsed().as_nanos() as f64 / per_round as f64);
            }
        }
    }
    out.map(|(h, means)| (h, median(means)))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Syncs and drops the page cache, for cold reads; false when not permitted
/// (it needs root).
fn drop_page_cache() -> bool {
    // SAFETY: sync has no arguments and cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// CPU time this process has used so far, over all its threads.
fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() {
    // Arguments: `quick` for a shorter run, and section names (timer, intrinsic,
    // ffi, bound, interleaved, bursts, saturated, throughput, files, remote, png, range, tags,
    // sqltags, idle, shutdown)
    // to run only those.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let quick = args.iter().any(|a| a == "quick");
    let sections: Vec<&String> = args.iter().filter(|a| *a != "quick").collect();
    let want = |name: &str| sections.is_empty() || sections.iter().any(|s| *s == name);
    let reps = if quick { 3 } else { 7 };
    let timer = Timer::calibrate();
    println!(
        "viz engine benchmark (quick={quick}); TSC {:.3} ticks/ns",
        timer.ticks_per_ns
    );

    if want("timer") {
        println!("\n## timer overhead (two back-to-back reads)");
        println!("  {}", percentiles(&timer_overhead(&timer)));
    }

    if want("intrinsic") {
        println!(
            "\n## collect_scalar intrinsic cost (collector not started: no consumer, no contention)"
        );
        let (h, mean) = intrinsic(&timer, if quick { 50 } else { 200 }, 9_999);
        println!("  per call timed: {}", percentiles(&h));
        println!("  tight loop, untimed: median of per-round means {mean:.1} ns per call");
    }

    if want("bound") {
        println!(
            "\n## max_held_events: a started collector without and with the event bound (alternating rounds)"
        );
        let [off, on] = event_bound(&timer, if quick { 20 } else { 100 }, 9_000);
        println!("  without (0):  per call timed: {}", percentiles(&off.0));
        println!("  with (2^24):  per call timed: {}", percentiles(&on.0));
        println!(
            "  untimed tight-loop medians of round means: without {:.1} ns, with {:.1} ns per call ({:.2}x)",
            off.1,
            on.1,
            on.1 / off.1
        );
    }

    if want("ffi") {
        println!(
            "\n## the C ABI's cost: collect_scalar against viz_collector_collect_scalar_id (no consumer)"
        );
        let [rust, c] = ffi_overhead(&timer, if quick { 20 } else { 100 }, 9_000);
        println!(
            "  Rust collect_scalar:        per call timed: {}",
            percentiles(&rust.0)
        );
        println!(
            "  C ABI viz_collector_collect_scalar_id: per call timed: {}",
            percentiles(&c.0)
        );
        println!(
            "  untimed tight-loop means: Rust {:.1} ns, C ABI {:.1} ns per call (+{:.1} ns)",
            rust.1,
            c.1,
            c.1 - rust.1
        );
    }

    if want("interleaved") {
        println!(
            "\n## collect_scalar latency, interleaved with compute: 4 scalars, then ~5 us of compute"
        );
        let steps = if quick { 100_000 } else { 250_000 };
        // Drop-oldest lanes are MPMC rings (the producer may displace the oldest while
        // the worker pops); the default policy's lanes are SPSC: the same scenario on both.
        let mpmc = CollectorConfig {
            overflow: viz::OverflowPolicy::DropOldest,
            ..CollectorConfig::default()
        };
        for producers in [1, 2] {
            let h = interleaved(
                &timer,
                CollectorConfig::default(),
                producers,
                steps,
                4,
                1000,
            );
            println!(
                "  {producers} producer(s), SPSC lanes (default): {}",
                percentiles(&h)
            );
            let h = interleaved(&timer, mpmc.clone(), producers, steps, 4, 1000);
            println!(
                "  {producers} producer(s), MPMC lanes (drop_oldest): {}",
                percentiles(&h)
            );
        }
    }

    if want("bursts") {
        println!("\n## collect_scalar latency, interned tag, bursts of 1000 then 1 ms pause");
        let bursts = if quick { 300 } else { 1000 };
        for producers in [1, 2] {
            let h = latency(
                &timer,
                CollectorConfig::default(),
                producers,
                bursts,
                1000,
                Duration::from_millis(1),
            );
            println!("  {producers} producer(s): {}", percentiles(&h));
        }
    }

    if want("saturated") {
        println!("\n## collect_scalar latency, saturated (no pause; includes backpressure waits)");
        for producers in [1, 2] {
            let n = if quick { 2_000_000 } else { 5_000_000 };
            let h = latency(
                &timer,
                CollectorConfig::default(),
                producers,
                1,
                n,
                Duration::ZERO,
            );
            println!("  {producers} producer(s): {}", percentiles(&h));
        }
    }

    if want("throughput") {
        let n = if quick { 3_000_000 } else { 10_000_000 };
        println!(
            "\n## sustained throughput into memory:// ({n} scalars per producer, until flush confirms; median of {reps})"
        );
        let defaults = CollectorConfig::default();
        let variants: Vec<(&str, CollectorConfig)> = vec![
            (
                "seed sizes (batch 100, buffer 1000)",
                CollectorConfig {
                    batch_size: 100,
                    buffer_capacity: 1000,
                    ..defaults.clone()
                },
            ),
            ("defaults (batch 1000, buffer 10000)", defaults.clone()),
            (
                "batch 1000, buffer 10000, queue 65536",
                CollectorConfig {
                    batch_size: 1000,
                    buffer_capacity: 10_000,
                    max_queue_length: 65_536,
                    ..defaults.clone()
                },
            ),
        ];
        // Reps are interleaved across configurations, so drift on this shared machine
        // lands on every configuration alike instead of on whichever ran last.
        let cases: Vec<(usize, usize)> =
            (0..variants.len()).flat_map(|v| [(v, 1), (v, 2)]).collect();
        let mut rates = vec![Vec::new(); cases.len()];
        let mut last = vec![None; cases.len()];
        for _ in 0..reps {
            for (k, &(v, producers)) in cases.iter().enumerate() {
                let (rate, stats) =
                    throughput(variants[v].1.clone(), producers, n / producers as i64);
                rates[k].push(rate);
                last[k] = Some(stats);
            }
        }
        for (k, &(v, producers)) in cases.iter().enumerate() {
            let s: &viz::CollectorStats = last[k].as_ref().unwrap();
            println!(
                "  {}, {producers} producer(s): median {:.2} M events/s  (runs: {})  deliveries {} peak_queue {}",
                variants[v].0,
                median(rates[k].clone()) / 1e6,
                rates[k]
                    .iter()
                    .map(|r| format!("{:.2}", r / 1e6))
                    .collect::<Vec<_>>()
                    .join(" "),
                s.deliveries,
                s.peak_queue_len
            );
        }
    }

    if want("blocks") {
        block_codec(if quick { 21 } else { 101 });
    }

    if want("compression") {
        // `VIZ_BENCH_SCALARS` sets another size: a longer run shows the rate
        // once background compression has fallen as far behind as it may.
        let n = std::env::var("VIZ_BENCH_SCALARS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(if quick { 1_000_000 } else { 10_000_000 });
        compression(n, if quick { 1 } else { 3 }, reps);
    }

    if want("files") {
        let n = if quick { 1_000_000 } else { 5_000_000 };
        println!(
            "\n## sustained scalars/s, 1 producer, into tensorboard://, file://, sqlite:// and memory:// ({n} scalars, until a flush confirmed them; median of {reps}, the four interleaved)"
        );
        let dir = std::env::temp_dir().join(format!("viz-bench-files-{}", std::process::id()));
        let mut rates: [Vec<f64>; 4] = Default::default();
        for rep in 0..reps {
            let (tb, log) = (dir.join(format!("tb{rep}")), dir.join(format!("log{rep}")));
            let db = dir.join(format!("db{rep}"));
            rates[0].push(throughput_into(
                &format!("tensorboard://{}", tb.display()),
                n,
            ));
            rates[1].push(throughput_into(&format!("file://{}", log.display()), n));
            rates[2].push(throughput_into(
                &format!("sqlite://{}/runs.db", db.display()),
                n,
            ));
            rates[3].push(throughput_into("memory://?capacity=1000000", n));
            if rep == 0 {
                for (name, d) in [
                    ("event file", &tb),
                    ("event log", &log),
                    ("sqlite file", &db),
                ] {
                    let bytes: u64 = std::fs::read_dir(d)
                        .unwrap()
                        .map(|e| e.unwrap().metadata().unwrap().len())
                        .sum();
                    println!(
                        "  {name}: {bytes} bytes, {:.1} bytes per scalar",
                        bytes as f64 / n as f64
                    );
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        for (name, r) in ["tensorboard://", "file://", "sqlite://", "memory://"]
            .iter()
            .zip(&rates)
        {
            println!(
                "  {name:<15} median {:.2} M scalars/s (runs: {})",
                median(r.clone()) / 1e6,
                r.iter()
                    .map(|r| format!("{:.2}", r / 1e6))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }

    if want("remote") {
        println!(
            "\n## collect_scalar latency while the MLflow server is down (interleaved with compute, 1 producer)"
        );
        let steps = if quick { 50_000 } else { 200_000 };
        let dir = std::env::temp_dir().join(format!("viz-bench-remote-{}", std::process::id()));
        // A port nothing listens on: every send fails, the spool grows.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut memory = Vec::new();
        let mut down = Vec::new();
        for rep in 0..reps {
            memory.push(interleaved_to(&timer, "memory://?capacity=1000000", steps));
            let url = format!(
                "mlflow+http://127.0.0.1:{port}?run=bench&spool={}/{rep}&drain_timeout=10ms",
                dir.display()
            );
            down.push(interleaved_to(&timer, &url, steps));
        }
        println!(
            "  memory://:               {}",
            percentiles(&merged(&memory))
        );
        println!("  mlflow+http:// (down):   {}", percentiles(&merged(&down)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    if want("png") {
        println!(
            "\n## Image::from_rgba8: PNG size and encode time, against the stored-block encoder it replaced"
        );
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        // A smooth picture with a little sensor noise, like a sample or an
        // activation map; and pure noise, the worst case.
        let side = 256u32;
        let grain = noise((side * side) as usize);
        let smooth: Vec<u8> = (0..side * side)
            .flat_map(|i| {
                let (x, y) = (i % side, i / side);
                let g = grain[i as usize] % 8;
                [
                    (x as u8).wrapping_add(g),
                    (y as u8).wrapping_add(g),
                    ((x + y) / 2) as u8,
                    255,
                ]
            })
            .collect();
        let random = noise((side * side * 4) as usize);
        for (name, pixels) in [("smooth 256x256", &smooth), ("noise 256x256", &random)] {
            let mut old_t = Vec::new();
            let mut new_t = Vec::new();
            let (mut old_len, mut new_len) = (0, 0);
            for _ in 0..reps * 3 {
                let t = Instant::now();
                old_len = std::hint::black_box(stored_png(side, side, pixels)).len();
                old_t.push(t.elapsed().as_secs_f64() * 1e6);
                let t = Instant::now();
                new_len = std::hint::black_box(viz::Image::from_rgba8(side, side, pixels).unwrap())
                    .png
                    .len();
                new_t.push(t.elapsed().as_secs_f64() * 1e6);
            }
            println!(
                "  {name} ({} bytes of pixels): stored {old_len} bytes in median {:.0} us; png crate (Fast) {new_len} bytes in median {:.0} us",
                pixels.len(),
                median(old_t),
                median(new_t)
            );
        }
    }

    // Each read-side section runs on an uncompressed log, then on a zstd one
    // (the default), side by side.
    if want("range") {
        for options in ["compression=none", "compression=lz4", "compression=zstd"] {
            range_reads(if quick { 2_000_000 } else { 10_000_000 }, reps, options);
        }
    }

    if want("tags") {
        for options in ["compression=none", "compression=lz4", "compression=zstd"] {
            tag_queries(if quick { 2_000_000 } else { 10_000_000 }, reps, options);
        }
    }

    if want("sqltags") {
        sqlite_queries(if quick { 2_000_000 } else { 10_000_000 }, reps);
    }

    if want("idle") {
        println!("\n## idle CPU (started collector, one memory:// destination, nothing collected)");
        let window = Duration::from_secs(if quick { 3 } else { 10 });
        for poll_ms in [5, 10, 20] {
            let config = CollectorConfig {
                max_poll_interval: Duration::from_millis(poll_ms),
                ..CollectorConfig::default()
            };
            let idle: Vec<f64> = (0..reps)
                .map(|_| idle_cpu(config.clone(), window))
                .collect();
            println!(
                "  max_poll_interval {poll_ms:>2} ms: median {:.3}% of one core over {window:?} windows (runs: {})",
                median(idle.clone()),
                idle.iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }

        // A Manual collector whose staging buffer is full waits for flush() with events
        // still queued: the worker must sleep, not spin on the non-empty queue.
        let stalled_idle: Vec<f64> = (0..reps)
            .map(|_| {
                let config = CollectorConfig {
                    strategy: viz::FlushStrategy::Manual,
                    buffer_capacity: 10,
                    batch_size: 10,
                    overflow: viz::OverflowPolicy::DropNewest,
                    ..CollectorConfig::default()
                };
                let c = collector(config);
                let tag = c.intern("bench/stalled").unwrap();
                for step in 0..100 {
                    let _ = c.collect_scalar(tag, step, 0.0);
                }
                std::thread::sleep(Duration::from_millis(500));
                assert!(c.stats().queued > 0 && c.stats().staged == 10);
                let (cpu0, t0) = (cpu_time(), Instant::now());
                std::thread::sleep(window);
                let pct = (cpu_time() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
                drop(c);
                pct
            })
            .collect();
        println!(
            "  Manual strategy, staging full, events queued (default poll): median {:.3}% (runs: {})",
            median(stalled_idle.clone()),
            stalled_idle
                .iter()
                .map(|v| format!("{v:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    if want("shutdown") {
        println!("\n## shutdown time (stop with an empty queue)");
        let times = shutdown_times(if quick { 10 } else { 30 });
        let ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
        println!(
            "  median {:.3} ms, max {:.3} ms over {} runs",
            median(ms.clone()),
            ms.iter().cloned().fold(0.0, f64::max),
            ms.len()
        );
    }
}
