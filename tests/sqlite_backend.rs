//! sqlite://: every kind round-trips; queries, aggregates, downsampling and latest
//! values answered by SQL equal a scan (NaN and infinities included); metadata;
//! WAL readers while a run writes; migrations from a version 1 file and refusal of
//! a newer one; bad paths, non-SQLite files and a locked database refused by name
//! with nothing collected lost; and SIGKILLs mid-run that lose nothing a flush
//! acknowledged and leave the file intact.

mod common;

use std::time::Duration;

use common::{LONG, temp_dir};
use rusqlite::Connection;
use serde_json::json;
use viz::backend::sqlite::{MIGRATIONS, schema_version};
use viz::metadata::MetadataBatch;
use viz::query::{Cmp, aggregate, downsample};
use viz::{
    Collector, CollectorConfig, ErrorKind, Event, EventKind, Histogram, Image, Order, Predicate,
    Query, RawBytes, RetryPolicy, StorageBackend, StorageBackendFactory, TagPattern, Tensor,
};

fn open(url: &str) -> Box<dyn StorageBackend> {
    StorageBackendFactory::default().create_url(url).unwrap()
}

fn events() -> Vec<Event> {
    let mut out = Vec::new();
    for step in 0..300i64 {
        let loss = match step {
            50 => f64::NAN,
            60 => f64::INFINITY,
            70 => f64::NEG_INFINITY,
            _ => ((step * 37) % 100) as f64 / 10.0,
        };
        out.push(
            Event::scalar("train/loss", step, loss)
                .unwrap()
                .at(1e9 + step as f64),
        );
        out.push(
            Event::scalar("eval/acc", step, step as f64)
                .unwrap()
                .at(1e9 + step as f64 + 0.5),
        );
        if step % 50 == 0 {
            out.push(Event::text("train/note", step, format!("step {step}")).unwrap());
            let h = Histogram::from_values(&[1.0, 2.0, step as f64], 3).unwrap();
            out.push(Event::histogram("train/w", step, h).unwrap().critical());
        }
    }
    out.push(Event::image("img", 1, Image::from_rgba8(1, 1, &[1, 2, 3, 4]).unwrap()).unwrap());
    out.push(Event::tensor("ten", 1, Tensor::from_f32(vec![2], &[1.0, 2.0]).unwrap()).unwrap());
    out.push(Event::raw("raw", 1, RawBytes::new("text/csv", b"a".to_vec()).unwrap()).unwrap());
    // A resumed run: eval/acc goes back.
    out.push(Event::scalar("eval/acc", 10, -1.0).unwrap());
    out
}

fn same(a: &[Event], b: &[Event], what: &str) {
    let show = |e: &[Event]| {
        format!(
            "{:?}",
            e.iter()
                .map(|e| (
                    e.tag.as_str(),
                    e.step,
                    format!("{:?}", e.data),
                    e.wall_time,
                    e.priority
                ))
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(show(a), show(b), "{what}");
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn sql_answers_every_query_as_a_scan_does() {
    let dir = temp_dir("sqlite", "queries");
    let mut db = open(&format!(
        "sqlite://{}/project.db?run=baseline",
        dir.display()
    ));
    let all = events();
    for chunk in all.chunks(97) {
        db.store_events(chunk).unwrap();
    }
    db.flush().unwrap();
    assert_eq!(db.event_count(), all.len() as u64);
    let one = || Query::all().tag(TagPattern::exact("train/loss"));
    let queries = vec![
        Query::all(),
        one(),
        one().steps(100, 199),
        one().order(Order::StepDesc).limit(7),
        one().order(Order::StepAsc).offset(10).limit(5),
        Query::all()
            .tag(TagPattern::glob("train/*"))
            .kinds(&[EventKind::Text, EventKind::Histogram]),
        Query::all()
            .tag(TagPattern::regex("^eval/").unwrap())
            .order(Order::WallDesc)
            .limit(4),
        one().filter(Predicate::Value(Cmp::Lt, 1.0)),
        one().filter(Predicate::Value(Cmp::Ne, 5.0)),
        one().filter(Predicate::Not(Box::new(Predicate::Finite))),
        one()
            .filter(Predicate::Finite)
            .order(Order::StepDesc)
            .limit(3),
        one().filter(Predicate::In(vec![0.0, 3.7, f64::INFINITY])),
        one().filter(Predicate::NotIn(vec![0.0, 3.7])),
        Query::all().filter(Predicate::Not(Box::new(Predicate::Value(Cmp::Gt, 2.0)))),
        Query::all().filter(Predicate::Or(vec![
            Predicate::Value(Cmp::Gte, 9.0),
            Predicate::And(vec![Predicate::Value(Cmp::Lte, 0.1), Predicate::Finite]),
        ])),
        Query::all().wall_time(1e9 + 10.0, 1e9 + 20.0),
        Query::all().tag(TagPattern::exact("nope")),
    ];
    for q in &queries {
        let want = q.run(all.clone()).unwrap();
        same(&db.query(q).unwrap(), &want, &format!("{q:?}"));
        if q.order == Order::Stored && q.offset == 0 && q.limit.is_none() {
            let (got, want_agg) = (db.aggregate(q).unwrap(), aggregate(&want));
            assert_eq!(got.len(), want_agg.len(), "{q:?}");
            for (g, w) in got.iter().zip(&want_agg) {
                assert_eq!(
                    (&g.tag, g.count, g.first.0, g.last.0),
                    (&w.tag, w.count, w.first.0, w.last.0),
                    "{q:?}"
                );
                for (x, y) in [
                    (g.min, w.min),
                    (g.max, w.max),
                    (g.mean, w.mean),
                    (g.last.1, w.last.1),
                ] {
                    assert!(close(x, y), "{q:?}: {g:?} vs {w:?}");
                }
            }
            for (first, last, n) in [(0, 299, 10), (-5, 400, 7), (100, 100, 1)] {
                let got = db.downsample(q, first, last, n).unwrap();
                let want_b = downsample(&want, first, last, n).unwrap();
                assert_eq!(got.len(), want_b.len(), "{q:?}");
                for (g, w) in got.iter().zip(&want_b) {
                    assert_eq!(
                        (g.first_step, g.last_step, g.count),
                        (w.first_step, w.last_step, w.count)
                    );
                    assert!(
                        close(g.min, w.min) && close(g.max, w.max) && close(g.mean, w.mean),
                        "{g:?} vs {w:?}"
                    );
                }
            }
            same(
                &db.latest(q).unwrap(),
                &viz::query::latest(want.clone()),
                &format!("latest {q:?}"),
            );
        }
    }
    same(
        &db.get_events(100, 101).unwrap(),
        &Query::all().steps(100, 101).run(all.clone()).unwrap(),
        "get_events",
    );

    // Metadata, kept per run.
    db.set_metadata(
        &MetadataBatch::from_json_object(r#"{"lr": 0.1, "opt": {"name": "adam"}}"#).unwrap(),
    )
    .unwrap();
    db.set_metadata(&MetadataBatch::delete(["absent".to_owned()]))
        .unwrap();
    let m = db.metadata().unwrap();
    assert_eq!(
        (m["lr"].clone(), m["opt"]["name"].clone()),
        (json!(0.1), json!("adam"))
    );
    let other = open(&format!(
        "sqlite://{}/project.db?run=other&busy_timeout=2s",
        dir.display()
    ));
    assert!(other.metadata().unwrap().is_empty(), "metadata is per run");
    assert!(
        other.query(&Query::all()).unwrap().is_empty(),
        "so are events"
    );
    db.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readers_in_other_connections_read_while_a_run_writes() {
    let dir = temp_dir("sqlite", "wal");
    let path = dir.join("p.db");
    let mut db = open(&format!("sqlite://{}", path.display()));
    db.store_events(&events()[..100]).unwrap();
    let reader = Connection::open(&path).unwrap();
    let mode: String = reader
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // A reader holds a snapshot open while the writer goes on.
    reader.execute_batch("BEGIN").unwrap();
    let before: i64 = reader
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    db.store_events(&events()[100..200]).unwrap();
    let during: i64 = reader
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    reader.execute_batch("COMMIT").unwrap();
    let after: i64 = reader
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!((before, during, after), (100, 100, 200));
    // Plain SQL a user would run.
    let (n, mean): (i64, f64) = reader
        .query_row(
            "SELECT COUNT(*), AVG(value) FROM scalars WHERE tag = 'eval/acc'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let want = events()[..200]
        .iter()
        .filter(|e| e.tag.as_str() == "eval/acc")
        .count();
    assert_eq!(n as usize, want);
    assert!(mean > 0.0);
    db.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_version_1_file_is_upgraded_with_nothing_lost_and_a_newer_one_refused() {
    let dir = temp_dir("sqlite", "migrate");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("old.db");
    {
        // A file made by the first schema, as the first version of the backend wrote.
        let c = Connection::open(&path).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute("INSERT INTO runs (project, name, rank, created_unix_ms) VALUES ('old', 'default', 0, 1)", [])
            .unwrap();
        c.execute("INSERT INTO tags (name) VALUES ('train/loss')", [])
            .unwrap();
        for step in 0..10i64 {
            c.execute(
                "INSERT INTO events (run_id, tag_id, kind, step, wall_time, priority, value) VALUES (1, 1, 0, ?1, 5.0, 0, ?2)",
                rusqlite::params![step, step as f64 * 2.0],
            )
            .unwrap();
        }
        c.execute("INSERT INTO metadata VALUES (1, 'lr', '0.5')", [])
            .unwrap();
    }
    let db = open(&format!("sqlite://{}?project=old", path.display()));
    let got = db.query(&Query::all()).unwrap();
    assert_eq!(common::steps(&got), (0..10).collect::<Vec<_>>());
    assert_eq!(got[3].data, viz::EventData::Scalar(6.0));
    assert_eq!(db.metadata().unwrap()["lr"], json!(0.5));
    assert_eq!(
        common::steps(&db.latest(&Query::all()).unwrap()),
        [9],
        "migration 3 filled tag_last"
    );
    drop(db);
    let c = Connection::open(&path).unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema_version());
    let view: i64 = c
        .query_row("SELECT COUNT(*) FROM scalars", [], |r| r.get(0))
        .unwrap();
    assert_eq!(view, 10, "migration 2's view over the old rows");
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let e = StorageBackendFactory::default()
        .create_url(&format!("sqlite://{}", path.display()))
        .err()
        .expect("a newer file is refused");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.message().contains("schema version 99") && e.message().contains("old.db"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_paths_and_files_are_refused_by_name() {
    let dir = temp_dir("sqlite", "bad");
    std::fs::create_dir_all(dir.join("a-directory")).unwrap();
    std::fs::write(dir.join("not.db"), vec![b'x'; 4096]).unwrap();
    let factory = StorageBackendFactory::default();
    let err = |url: String| factory.create_url(&url).err().expect(&url);
    let e = err(format!("sqlite://{}/a-directory", dir.display()));
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.message().contains("a-directory is a directory"), "{e}");
    let e = err(format!("sqlite://{}/not.db", dir.display()));
    assert_eq!(e.kind(), ErrorKind::CorruptData);
    assert!(
        e.message().contains("not.db") && e.message().contains("not a SQLite database"),
        "{e}"
    );
    for (url, needle) in [
        (
            format!("sqlite://{}/x.db?synchronous=off", dir.display()),
            "synchronous",
        ),
        (
            format!("sqlite://{}/x.db?run=a/b", dir.display()),
            "path separator",
        ),
        (
            format!("sqlite://{}/x.db?rank=70000", dir.display()),
            "rank has invalid value",
        ),
        ("sqlite://".to_owned(), "needs a file path"),
    ] {
        let e = err(url.clone());
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{url}: {e}");
        assert!(e.message().contains(needle), "{url}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_database_locked_past_busy_timeout_fails_by_name_and_loses_nothing() {
    let dir = temp_dir("sqlite", "locked");
    let path = dir.join("p.db");
    let c = Collector::builder()
        .config(CollectorConfig {
            retry: RetryPolicy {
                max_attempts: 1000,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                ..RetryPolicy::default()
            },
            ..CollectorConfig::default()
        })
        .backend_url(&format!("sqlite://{}?busy_timeout=50ms", path.display()))
        .build_and_start()
        .unwrap();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap(); // another writer holds the lock
    for step in 0..100 {
        c.collect(Event::scalar("x", step, 1.0).unwrap()).unwrap();
    }
    assert!(
        c.flush(Duration::from_millis(500)).is_err(),
        "it cannot store meanwhile"
    );
    let error = c.stats().last_error.unwrap_or_default();
    assert!(
        error.contains("p.db") && error.contains("another writer held the database"),
        "{error}"
    );
    other.execute_batch("COMMIT").unwrap();
    c.flush(LONG).unwrap();
    assert_eq!(
        c.query(0, Query::all()).unwrap().len(),
        100,
        "every event, retried"
    );
    c.stop(LONG).unwrap();
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn crash_child(path: &str) {
    let c = Collector::builder()
        .backend_url(&format!("sqlite://{path}"))
        .build_and_start()
        .unwrap();
    let tag = c.intern("crash/x").unwrap();
    let mut step = 0i64;
    loop {
        for _ in 0..2000 {
            c.collect_scalar(tag, step, step as f64).unwrap();
            step += 1;
        }
        c.flush(LONG).unwrap();
        println!("durable {step}");
    }
}

#[test]
fn sigkills_mid_run_lose_nothing_acknowledged_and_leave_the_file_intact() {
    use std::io::BufRead;
    if let Ok(path) = std::env::var("VIZ_SQLITE_CRASH_CHILD") {
        crash_child(&path);
        return;
    }
    let dir = temp_dir("sqlite", "sigkill");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("crash.db");
    let mut expected_next = 0i64;
    for kill in 0..20u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sigkills_mid_run_lose_nothing_acknowledged_and_leave_the_file_intact",
                "--nocapture",
            ])
            .env("VIZ_SQLITE_CRASH_CHILD", &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut durable = 0i64;
        while durable < 4000 {
            let line = lines.next().expect("the child ended early").unwrap();
            if let Some(n) = line.strip_prefix("durable ") {
                durable = n.parse().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(3 + kill % 7));
        child.kill().unwrap(); // SIGKILL: no destructor, no flush
        child.wait().unwrap();

        let c = Connection::open(&path).unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "after kill {kill}");
        // Each child starts again from step 0 in the same run: what each stored is
        // the events beyond what earlier children left.
        let stored: i64 = c
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert!(
            stored - expected_next >= durable,
            "kill {kill}: {stored} stored, {expected_next} before, {durable} acknowledged"
        );
        expected_next = stored;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_transaction_groups_stores_and_metadata_and_a_failure_inside_undoes_all_of_it() {
    let dir = temp_dir("sqlite", "tx");
    let path = dir.join("p.db");
    let mut db = open(&format!("sqlite://{}", path.display()));
    let batch = |from: i64| -> Vec<Event> {
        (from..from + 10)
            .map(|s| Event::scalar("t/x", s, 1.0).unwrap())
            .collect()
    };
    // Committed: both land, and another connection sees nothing before the commit.
    viz::backend::transaction(&mut *db, |b| {
        b.store_events(&batch(0))?;
        b.set_metadata(&MetadataBatch::from_json_object(r#"{"phase": "warmup"}"#)?)?;
        let reader = Connection::open(&path).unwrap();
        let seen: i64 = reader
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 0, "uncommitted");
        b.store_events(&batch(10))
    })
    .unwrap();
    assert_eq!(db.query(&Query::all()).unwrap().len(), 20);
    assert_eq!(db.event_count(), 20);
    assert_eq!(db.metadata().unwrap()["phase"], json!("warmup"));

    // A failure injected mid-transaction: a store and a metadata change went in,
    // then a bad metadata batch fails; everything since begin is undone.
    let e = viz::backend::transaction(&mut *db, |b| {
        b.store_events(&batch(100))?;
        b.set_metadata(&MetadataBatch::from_json_object(r#"{"phase": "train"}"#)?)?;
        b.set_metadata(&MetadataBatch::set([(
            "x".to_owned(),
            json!("y".repeat(70_000)),
        )]))
    })
    .unwrap_err();
    assert!(e.message().contains("the limit is 65536"), "{e}");
    assert_eq!(
        db.query(&Query::all()).unwrap().len(),
        20,
        "the store was rolled back"
    );
    assert_eq!(db.event_count(), 20);
    assert_eq!(
        db.metadata().unwrap()["phase"],
        json!("warmup"),
        "so was the metadata"
    );
    // Later writes go on normally.
    db.store_events(&batch(200)).unwrap();
    assert_eq!(db.query(&Query::all()).unwrap().len(), 30);

    // Misuse is refused by name; backends without transactions say so.
    db.begin_transaction().unwrap();
    let e = db.begin_transaction().unwrap_err();
    assert!(e.message().contains("already open"), "{e}");
    db.rollback_transaction().unwrap();
    let e = db.commit_transaction().unwrap_err();
    assert!(e.message().contains("no transaction is open"), "{e}");
    let mut memory = open("memory://");
    let e = memory.begin_transaction().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("'memory' backend has none"), "{e}");
    db.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_runs_of_a_sqlite_file_are_listed_found_read_and_deleted_by_sql() {
    use viz::factory::open_runs as open_store;
    use viz::runs::RunFilter;
    let dir = temp_dir("sqlite", "runs");
    let path = dir.join("project.db");
    for (run, rank) in [("baseline", 0), ("baseline", 1), ("tuned", 0)] {
        let c = Collector::builder()
            .backend_url(&format!(
                "sqlite://{}?run={run}&rank={rank}",
                path.display()
            ))
            .build_and_start()
            .unwrap();
        if run == "tuned" {
            c.set_metadata(MetadataBatch::from_json_object(r#"{"lr": 0.1}"#).unwrap())
                .unwrap();
        }
        for step in 0..50 {
            c.collect(
                Event::scalar("train/loss", step, step as f64)
                    .unwrap()
                    .at(1e9 + step as f64),
            )
            .unwrap();
        }
        c.stop(LONG).unwrap();
    }
    let store = open_store(&format!("sqlite://{}", path.display())).unwrap();
    assert_eq!(store.names().unwrap(), ["baseline", "tuned"]);
    assert_eq!(store.count().unwrap(), 2);
    assert!(store.exists("tuned").unwrap() && !store.exists("nope").unwrap());
    let info = store.info("baseline").unwrap();
    assert_eq!(info.identity.project, "project");
    assert_eq!((info.ranks.clone(), info.events), (vec![0, 1], 100));
    assert_eq!(info.tags["train/loss"], 100);
    assert_eq!(info.steps, Some((0, 49)));
    assert_eq!(info.wall_time, Some((1e9, 1e9 + 49.0)));
    let tuned = store
        .find(&RunFilter::from_json(r#"{"metadata": {"lr": 0.1}}"#).unwrap())
        .unwrap();
    assert_eq!(tuned.len(), 1);
    assert_eq!(tuned[0].identity.name, "tuned");
    let top = store
        .query("baseline", &Query::all().order(Order::StepDesc).limit(3))
        .unwrap();
    assert_eq!(common::steps(&top), [49, 49, 48], "both ranks, as one run");
    let by_run = store
        .query_runs(&RunFilter::default(), &Query::all().steps(0, 0))
        .unwrap();
    assert_eq!((by_run["baseline"].len(), by_run["tuned"].len()), (2, 1));
    store.delete("tuned").unwrap();
    assert_eq!(store.names().unwrap(), ["baseline"]);
    let e = store.info("tuned").unwrap_err();
    assert!(e.message().contains("no run 'tuned'"), "{e}");
    let e = open_store(&format!("sqlite://{}/missing.db", dir.display()))
        .err()
        .unwrap();
    assert!(
        e.message().contains("is not a sqlite:// file of runs"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_read_only_file_is_refused_by_name() {
    let dir = temp_dir("sqlite", "readonly");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ro.db");
    let url = format!("sqlite://{}", path.display());
    open(&url).shutdown().unwrap();
    // Root writes files whatever their mode; an immutable file it cannot write.
    let immutable = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    if !immutable {
        assert!(
            std::env::var_os("CI").is_none(),
            "chattr +i must work on CI (root, ext4)"
        );
        eprintln!("SKIPPED: chattr +i is not available here");
        return;
    }
    let result = StorageBackendFactory::default().create_url(&url);
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&path)
        .status();
    let e = result.err().expect("a read-only file is refused");
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(
        e.message().contains("ro.db") && e.message().contains("read-only"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tensor_and_raw_payloads_are_compressed_and_a_damaged_one_is_refused_by_name() {
    let dir = temp_dir("sqlite", "payloads");
    std::fs::create_dir_all(&dir).unwrap();
    // Sparse, as activations after a ReLU often are.
    let data: Vec<f32> = (0..16_384)
        .map(|i| {
            if i % 3 == 0 {
                (i % 50) as f32 * 0.5
            } else {
                0.0
            }
        })
        .collect();
    let csv: Vec<u8> = (0..2000)
        .flat_map(|i| format!("{i},{}\n", i % 7).into_bytes())
        .collect();
    let events = vec![
        Event::tensor(
            "w",
            1,
            viz::Tensor::from_f32(vec![128, 128], &data).unwrap(),
        )
        .unwrap()
        .at(1.0),
        Event::raw(
            "table",
            1,
            viz::RawBytes::new("text/csv", csv.clone()).unwrap(),
        )
        .unwrap()
        .at(1.0),
        // Small payloads are stored as they are.
        Event::raw(
            "tiny",
            1,
            viz::RawBytes::new("text/plain", b"hi".to_vec()).unwrap(),
        )
        .unwrap()
        .at(1.0),
    ];
    for (options, codec) in [("", 2), ("compression=lz4", 1), ("compression=none", 0)] {
        let path = dir.join(format!("p{codec}.db"));
        let mut db = open(&format!("sqlite://{}?{options}", path.display()));
        db.store_events(&events).unwrap();
        same(&db.query(&Query::all()).unwrap(), &events, options);
        db.shutdown().unwrap();
        let c = Connection::open(&path).unwrap();
        let rows: Vec<(i64, i64)> = c
            .prepare("SELECT payload_codec, length(payload) FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows[0].0, codec, "{options}: {rows:?}");
        assert_eq!(rows[1].0, codec, "{options}: {rows:?}");
        assert_eq!(rows[2].0, 0, "{options}: a tiny payload is stored as it is");
        if codec != 0 {
            assert!(
                rows[0].1 < 8192 && rows[1].1 < csv.len() as i64 * 3 / 4,
                "{rows:?}"
            );
        }
    }
    // A damaged compressed payload is an error naming it, never wrong data.
    let path = dir.join("p2.db");
    let c = Connection::open(&path).unwrap();
    c.execute(
        "UPDATE events SET payload = CAST(substr(payload, 1, 20) || zeroblob(8) AS BLOB) WHERE id = 1",
        [],
    )
    .unwrap();
    drop(c);
    let db = open(&format!("sqlite://{}", path.display()));
    let e = db.query(&Query::all()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CorruptData);
    assert!(e.message().contains("payload (compressed)"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
