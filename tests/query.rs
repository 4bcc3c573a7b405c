//! The read side's query model: selection by tag pattern, kind, steps, wall time and
//! value; order, offset and limit; per-tag aggregates and downsampling; and every
//! backend that reads answering the same query the same way.

mod common;

use viz::query::{Cmp, aggregate, downsample};
use viz::{Event, EventKind, Order, Predicate, Query, StorageBackendFactory, TagPattern};

/// Two tags of scalars over steps 0..100 (wall time = 1000 + step), a text per 10
/// steps, and a NaN and an infinity among the losses.
fn sample() -> Vec<Event> {
    let mut events = Vec::new();
    for step in 0..100i64 {
        let loss = match step {
            50 => f64::NAN,
            60 => f64::INFINITY,
            _ => 1.0 / (step + 1) as f64,
        };
        events.push(
            Event::scalar("train/loss", step, loss)
                .unwrap()
                .at(1000.0 + step as f64),
        );
        events.push(
            Event::scalar("eval/acc", step, step as f64 / 100.0)
                .unwrap()
                .at(1000.5 + step as f64),
        );
        if step % 10 == 0 {
            events.push(
                Event::text("train/note", step, format!("step {step}"))
                    .unwrap()
                    .at(1000.0 + step as f64),
            );
        }
    }
    events
}

fn steps_of(events: &[Event]) -> Vec<i64> {
    common::steps(events)
}

#[test]
fn selection_by_tag_pattern_kind_steps_and_wall_time() {
    let all = sample();
    let q = |q: Query| q.run(all.clone()).unwrap();
    assert_eq!(
        q(Query::all().tag(TagPattern::exact("eval/acc"))).len(),
        100
    );
    assert_eq!(q(Query::all().tag(TagPattern::glob("train/*"))).len(), 110);
    let re = TagPattern::regex("^(eval|train)/(acc|note)$").unwrap();
    assert_eq!(q(Query::all().tag(re)).len(), 110);
    assert_eq!(q(Query::all().kinds(&[EventKind::Text])).len(), 10);
    let r = q(Query::all()
        .tag(TagPattern::exact("train/loss"))
        .steps(10, 19));
    assert_eq!(steps_of(&r), (10..20).collect::<Vec<_>>());
    let r = q(Query::all()
        .tag(TagPattern::exact("train/loss"))
        .wall_time(1090.0, 1094.0));
    assert_eq!(steps_of(&r), (90..95).collect::<Vec<_>>());
}

#[test]
fn value_predicates_combine_and_treat_nan_as_ieee_does() {
    let all = sample();
    let loss = || Query::all().tag(TagPattern::exact("train/loss"));
    let run = |q: Query| steps_of(&q.run(all.clone()).unwrap());
    // value < 0.02 (1/50, at step 49) is steps 51.., except the infinity at 60;
    // the NaN at 50 compares false.
    let small = run(loss().filter(Predicate::Value(Cmp::Lt, 0.02)));
    assert_eq!(small, (51..100).filter(|&s| s != 60).collect::<Vec<_>>());
    assert_eq!(
        run(loss().filter(Predicate::Not(Box::new(Predicate::Finite)))),
        [50, 60]
    );
    assert_eq!(run(loss().filter(Predicate::In(vec![1.0, 0.5]))), [0, 1]);
    let both = Predicate::And(vec![
        Predicate::Value(Cmp::Gte, 0.1),
        Predicate::Value(Cmp::Ne, 1.0),
    ]);
    assert_eq!(
        run(loss().filter(both)),
        (1..10).chain([60]).collect::<Vec<_>>()
    );
    let either = Predicate::Or(vec![
        Predicate::Value(Cmp::Eq, 1.0),
        Predicate::Value(Cmp::Gt, 1e300),
    ]);
    assert_eq!(run(loss().filter(either)), [0, 60]);
    // Texts are not scalars: a value condition never matches them.
    let texts = Query::all()
        .kinds(&[EventKind::Text])
        .filter(Predicate::Finite);
    assert!(texts.run(all.clone()).unwrap().is_empty());
}

#[test]
fn order_offset_and_limit_page_through_results() {
    let all = sample();
    let acc = || Query::all().tag(TagPattern::exact("eval/acc"));
    let last_three = acc()
        .order(Order::StepDesc)
        .limit(3)
        .run(all.clone())
        .unwrap();
    assert_eq!(steps_of(&last_three), [99, 98, 97]);
    let page = acc()
        .order(Order::StepAsc)
        .offset(95)
        .limit(10)
        .run(all.clone())
        .unwrap();
    assert_eq!(steps_of(&page), [95, 96, 97, 98, 99]);
    let past = acc().offset(1000).run(all.clone()).unwrap();
    assert!(past.is_empty());
    let by_wall = Query::all()
        .order(Order::WallDesc)
        .limit(2)
        .run(all.clone())
        .unwrap();
    assert_eq!(by_wall[0].tag.as_str(), "eval/acc");
    assert_eq!(by_wall[0].step, 99);
    let e = Query::all().steps(10, 5).run(all).unwrap_err();
    assert!(e.message().contains("reversed"), "{e}");
}

#[test]
fn aggregates_per_tag_and_downsampling() {
    let all = sample();
    let aggs = aggregate(&all);
    assert_eq!(aggs.len(), 2, "texts are not aggregated: {aggs:?}");
    let acc = aggs.iter().find(|a| a.tag == "eval/acc").unwrap();
    assert_eq!((acc.count, acc.min, acc.max), (100, 0.0, 0.99));
    assert!((acc.mean - 0.495).abs() < 1e-12);
    assert_eq!(acc.first, (0, 0.0));
    assert_eq!(acc.last, (99, 0.99));
    let loss = aggs.iter().find(|a| a.tag == "train/loss").unwrap();
    assert_eq!(loss.count, 100);
    assert_eq!(
        loss.max,
        f64::INFINITY,
        "NaN is skipped, infinity is a value"
    );

    let acc_events = Query::all()
        .tag(TagPattern::exact("eval/acc"))
        .run(all)
        .unwrap();
    let b = downsample(&acc_events, 0, 99, 10).unwrap();
    assert_eq!(b.len(), 10);
    assert_eq!((b[0].first_step, b[0].last_step, b[0].count), (0, 9, 10));
    assert_eq!((b[9].min, b[9].max), (0.9, 0.99));
    assert!((b[9].mean - 0.945).abs() < 1e-12);
    // The whole range of steps splits without overflow.
    let extremes = vec![
        Event::scalar("x", i64::MIN, 1.0).unwrap(),
        Event::scalar("x", i64::MAX, 3.0).unwrap(),
    ];
    let b = downsample(&extremes, i64::MIN, i64::MAX, 2).unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].first_step, b[1].last_step), (i64::MIN, i64::MAX));
    assert!(downsample(&extremes, 0, 1, 0).is_err());
}

#[test]
fn every_backend_that_reads_answers_a_query_the_same_way() {
    let events = sample();
    let dir = common::temp_dir("query", "backends");
    let q = Query::all()
        .tag(TagPattern::glob("train/*"))
        .steps(20, 80)
        .filter(Predicate::Or(vec![
            Predicate::Value(Cmp::Lt, 0.02),
            Predicate::Not(Box::new(Predicate::Finite)),
        ]))
        .order(Order::StepDesc)
        .offset(2)
        .limit(5);
    let want: Vec<(String, i64)> = q
        .run(events.clone())
        .unwrap()
        .iter()
        .map(|e| (e.tag.as_str().to_owned(), e.step))
        .collect();
    assert_eq!(want.len(), 5);
    for url in [
        "memory://".to_owned(),
        format!("jsonl://{}", dir.join("e.jsonl").display()),
        format!("file://{}", dir.join("log").display()),
    ] {
        let mut b = StorageBackendFactory::global().create_url(&url).unwrap();
        b.store_events(&events).unwrap();
        let got: Vec<(String, i64)> = b
            .query(&q)
            .unwrap()
            .iter()
            .map(|e| (e.tag.as_str().to_owned(), e.step))
            .collect();
        assert_eq!(got, want, "{url}");
        b.shutdown().unwrap();
    }
    // A write-only backend says so.
    let mut tb = StorageBackendFactory::global()
        .create_url(&format!("tensorboard://{}", dir.join("tb").display()))
        .unwrap();
    let e = tb.query(&q).unwrap_err();
    assert_eq!(e.kind(), viz::ErrorKind::Unsupported);
    tb.shutdown().unwrap();
}

#[test]
fn queries_read_from_json_and_bad_ones_are_refused_by_field() {
    let q = Query::from_json(
        r#"{"tags": ["train/*", {"regex": "^eval/acc$"}], "kinds": ["scalar"], "steps": [10, 90],
            "where": {"or": [{"lt": 0.02}, {"finite": false}]}, "order": "step_desc", "limit": 3}"#,
    )
    .unwrap();
    let got = q.run(sample()).unwrap();
    assert_eq!(steps_of(&got), [90, 89, 88]);
    let same = Query::all()
        .tag(TagPattern::glob("train/*"))
        .tag(TagPattern::regex("^eval/acc$").unwrap())
        .kinds(&[EventKind::Scalar])
        .steps(10, 90)
        .filter(Predicate::Or(vec![
            Predicate::Value(Cmp::Lt, 0.02),
            Predicate::Not(Box::new(Predicate::Finite)),
        ]))
        .order(Order::StepDesc)
        .limit(3);
    assert_eq!(q, same);
    assert_eq!(Query::from_json("{}").unwrap(), Query::all());
    let nan = Query::from_json(r#"{"where": {"in": ["NaN", "Infinity", 1]}}"#).unwrap();
    assert_eq!(
        nan.run(sample()).unwrap().len(),
        2,
        "1.0 at step 0 and the infinity; NaN equals nothing"
    );
    for (json, needle) in [
        (
            r#"{"tags": [{"regex": "("}]}"#,
            "tags[0]: tag regex '(' is invalid",
        ),
        (
            r#"{"limit": -1}"#,
            "query limit is -1; it must be a whole number, not negative",
        ),
        (r#"{"where": {"less": 1}}"#, "unknown condition 'less'"),
        (r#"{"where": {"and": [{"lt": "x"}]}}"#, "where.and[0].lt"),
        (r#"{"where": {"lt": 1, "gt": 0}}"#, "exactly one key"),
        (r#"{"steps": [5, 1]}"#, "reversed"),
        (r#"{"kinds": []}"#, "kinds is empty"),
        (r#"{"colour": "red"}"#, "unknown field `colour`"),
    ] {
        let e = Query::from_json(json).unwrap_err();
        assert_eq!(e.kind(), viz::ErrorKind::InvalidArgument, "{json}");
        assert!(e.message().contains(needle), "{json}: {e}");
    }
}

#[test]
fn a_collector_answers_a_query_against_one_of_its_backends() {
    let memory = viz::MemoryBackend::new();
    let c = viz::Collector::builder()
        .backend(memory.clone())
        .build_and_start()
        .unwrap();
    for e in sample() {
        c.collect(e).unwrap();
    }
    c.flush(common::LONG).unwrap();
    let latest = c
        .query(
            0,
            Query::all()
                .tag(TagPattern::exact("eval/acc"))
                .order(Order::StepDesc)
                .limit(2),
        )
        .unwrap();
    assert_eq!(steps_of(&latest), vec![99, 98]);
    let e = c.query(3, Query::all()).unwrap_err();
    assert!(e.message().contains('3'), "{e}");
    let bad = c.query(0, Query::all().steps(5, 1)).unwrap_err();
    assert_eq!(bad.kind(), viz::ErrorKind::InvalidArgument, "{bad}");
}
