//! Hostile input from Rust: histograms at the edges of `f64`, sizes past their bounds,
//! absurd configs, and non-finite values, which every backend that reads must give
//! back as they were stored.

use std::path::PathBuf;

use prost::Message;
use viz::format::tb_proto::{self as pb, summary_value::Value};
use viz::format::tfrecord::read_records;
use viz::limits::{MAX_HISTOGRAM_BINS, MAX_PAYLOAD_BYTES};
use viz::{
    CollectorConfig, DType, ErrorKind, Event, EventData, Histogram, StorageBackendFactory,
    StorageConfiguration, Tensor,
};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn finite_input_always_gives_a_valid_histogram() {
    let cases: [&[f64]; 5] = [
        &[1.0, f64::from_bits(1.0f64.to_bits() + 1)],
        &[-1e308, 1e308],
        &[-f64::MAX, f64::MAX, 0.0],
        &[f64::MIN_POSITIVE, 2.0 * f64::MIN_POSITIVE, 5e-324],
        &[1e-300, 1e300, -1e-300],
    ];
    for values in cases {
        for bins in [1, 2, 30, 1000, MAX_HISTOGRAM_BINS] {
            let h = Histogram::from_values(values, bins)
                .unwrap_or_else(|e| panic!("{values:?} in {bins} bins: {e}"));
            h.validate().unwrap();
            assert!(h.bucket_limits.len() <= bins);
            assert_eq!(h.bucket_counts.iter().sum::<f64>(), values.len() as f64);
            assert_eq!(*h.bucket_limits.last().unwrap(), h.max);
            // Every value is counted in the bucket whose range holds it.
            for &v in values {
                let i = h.bucket_limits.iter().position(|&l| v <= l).unwrap();
                assert!(i == 0 || v > h.bucket_limits[i - 1]);
            }
        }
    }
    let wide = Histogram::from_values(&[-1e308, 1e308, 0.0], 4).unwrap();
    assert_eq!(wide.bucket_counts, [1.0, 1.0, 0.0, 1.0]);
}

#[test]
fn sizes_past_their_bound_are_refused_by_name() {
    let e = Histogram::from_values(&[1.0], MAX_HISTOGRAM_BINS + 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.message()
            .contains("histogram bins is 65537; the limit is 65536"),
        "{e}"
    );
    let e = Tensor::new(DType::U8, vec![1; 65], vec![1]).unwrap_err();
    assert!(
        e.message().contains("tensor rank is 65; the limit is 64"),
        "{e}"
    );
    let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    let e = Tensor::new(DType::U8, vec![big.len() as u64], big.clone()).unwrap_err();
    assert!(e.message().contains("tensor data length"), "{e}");
    let e = viz::RawBytes::new("a/b", big).unwrap_err();
    assert!(e.message().contains("raw data length"), "{e}");
    let e = viz::Image::from_rgba8(70_000, 1, &[]).unwrap_err();
    assert!(e.message().contains("image width is 70000"), "{e}");
    let text = Event::text("t", 0, "x".repeat(MAX_PAYLOAD_BYTES + 1)).unwrap();
    let e = text.validate().unwrap_err();
    assert!(e.message().contains("text length"), "{e}");
}

#[test]
fn absurd_config_sizes_and_durations_are_refused_by_name() {
    let cases = [
        (
            r#"{"max_queue_length": 1099511627776}"#,
            "max_queue_length is 1099511627776",
        ),
        (
            r#"{"buffer_capacity": 1099511627776}"#,
            "buffer_capacity is 1099511627776",
        ),
        (
            r#"{"destination_queue_batches": 1099511627776}"#,
            "destination_queue_batches is 1099511627776",
        ),
        (r#"{"max_held_bytes": 1000}"#, "max_held_bytes is 1000"),
        (
            r#"{"max_held_bytes": 1000000000000000}"#,
            "max_held_bytes is 1000000000000000; the limit is",
        ),
        (
            r#"{"flush_interval_ms": 18446744073709551615}"#,
            "flush_interval is",
        ),
        (
            r#"{"block_timeout_ms": 864000000}"#,
            "block_timeout is 864000000 ms",
        ),
        (
            r#"{"retry": {"max_pending_events": 1099511627776}}"#,
            "retry.max_pending_events",
        ),
        (
            r#"{"retry": {"max_backoff_ms": 999999999999}}"#,
            "retry.max_backoff",
        ),
    ];
    for (json, needle) in cases {
        let e = CollectorConfig::from_json(json).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{json}");
        assert!(e.message().contains(needle), "{json}: {e}");
    }
    let defaults = CollectorConfig::default();
    assert_eq!(
        defaults.block_timeout,
        Some(std::time::Duration::from_secs(1))
    );
    assert_eq!(defaults.max_held_bytes, 256 << 20);
    let storage = StorageConfiguration {
        write_buffer_size: 1 << 40,
        ..StorageConfiguration::for_url("memory://")
    };
    let e = storage.validate().unwrap_err();
    assert!(
        e.message().contains("write_buffer_size is 1099511627776"),
        "{e}"
    );
}

/// Scalars and a histogram whose sums overflow, with every non-finite value.
fn non_finite() -> Vec<Event> {
    let mut events: Vec<Event> = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1.5]
        .iter()
        .enumerate()
        .map(|(i, &v)| Event::scalar("nf/value", i as i64, v).unwrap().at(1.0e9))
        .collect();
    let h = Histogram::from_values(&[-1e308, 1e308], 2).unwrap();
    assert!(h.sum_squares.is_infinite());
    let mut b = Histogram::from_buckets(vec![0.0, f64::INFINITY], vec![1.0, 2.0]).unwrap();
    b.sum = f64::NAN;
    events.push(Event::histogram("nf/h", 10, h).unwrap().at(1.0e9));
    events.push(Event::histogram("nf/b", 11, b).unwrap().at(1.0e9));
    events
}

/// Equal, with NaN equal to NaN (bit for bit) where `PartialEq` says it never is.
fn same(a: &[Event], b: &[Event]) -> bool {
    let json = |e: &[Event]| serde_json::to_string(e).unwrap();
    a.len() == b.len() && json(a) == json(b)
}

fn round_trip(url: &str) {
    let mut backend = StorageBackendFactory::global().create_url(url).unwrap();
    let events = non_finite();
    backend.store_events(&events).unwrap();
    backend.flush().unwrap();
    let back = backend.get_events(i64::MIN, i64::MAX).unwrap();
    assert!(same(&events, &back), "{url}: {back:?}");
    backend.shutdown().unwrap();
    // And after reopening, from what is on disk.
    let again = StorageBackendFactory::global().create_url(url).unwrap();
    let back = again.get_events(i64::MIN, i64::MAX).unwrap();
    assert!(
        url.starts_with("memory") || same(&events, &back),
        "{url} reopened: {back:?}"
    );
}

#[test]
fn non_finite_values_round_trip_in_every_backend_that_reads() {
    round_trip("memory://");
    let jsonl = temp_dir("jsonl").join("events.jsonl");
    round_trip(&format!("jsonl://{}", jsonl.display()));
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(text.contains(r#""value":"NaN""#), "{text}");
    assert!(text.contains(r#""-Infinity""#), "{text}");
    round_trip(&format!("file://{}", temp_dir("file").display()));
}

#[test]
fn non_finite_values_reach_tensorboard_files_as_they_are() {
    let dir = temp_dir("tb");
    let mut backend = StorageBackendFactory::global()
        .create_url(&format!("tensorboard://{}", dir.display()))
        .unwrap();
    backend.store_events(&non_finite()).unwrap();
    backend.shutdown().unwrap();
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(file).unwrap();
    let values: Vec<pb::SummaryValue> = read_records(&bytes)
        .unwrap()
        .into_iter()
        .skip(1)
        .flat_map(|r| match pb::Event::decode(r).unwrap().what {
            Some(pb::event::What::Summary(s)) => s.value,
            _ => Vec::new(),
        })
        .collect();
    let scalars: Vec<f32> = values
        .iter()
        .filter_map(|v| match v.value {
            Some(Value::SimpleValue(x)) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(scalars.len(), 5);
    assert!(scalars[0].is_nan());
    assert_eq!(&scalars[1..], [f32::INFINITY, f32::NEG_INFINITY, -0.0, 1.5]);
    let Some(Value::Histo(h)) = &values[5].value else {
        panic!("{:?}", values[5]);
    };
    assert!(h.sum_squares.is_infinite());
}

#[test]
fn event_data_serde_reads_both_spellings() {
    let e: Event = serde_json::from_str(
        r#"{"tag":"x","step":1,"wall_time":2.0,"kind":"scalar","value":"Infinity"}"#,
    )
    .unwrap();
    assert_eq!(e.data, EventData::Scalar(f64::INFINITY));
    let e: Event =
        serde_json::from_str(r#"{"tag":"x","step":1,"wall_time":2.0,"kind":"scalar","value":3}"#)
            .unwrap();
    assert_eq!(e.data, EventData::Scalar(3.0));
    let bad = serde_json::from_str::<Event>(
        r#"{"tag":"x","step":1,"wall_time":2.0,"kind":"scalar","value":"lots"}"#,
    );
    assert!(bad.unwrap_err().to_string().contains("lots"));
}

/// No error repeats an option value it does not know, or a credential's value,
/// from any backend's URL: the audit found `token=s3cret` echoed whole.
#[test]
fn errors_never_repeat_unknown_option_values_or_credentials() {
    let dir = std::env::temp_dir().join(format!("viz-secrets-{}", std::process::id()));
    let d = dir.display();
    let secrets = ["s3cret", "hunter2", "sk-live-1", "p4ss%zz"];
    let urls = [
        "mlflow+http://127.0.0.1:1?experiment=e&token=s3cret".to_owned(),
        "mlflow+http://u:hunter2@127.0.0.1:1?experiment=e&tokn=sk-live-1".to_owned(),
        "mlflow+http://127.0.0.1:1?experiment=e&api_key=s3cret&request_timeout=x".to_owned(),
        format!("file://{d}/f?password=hunter2"),
        format!("file://{d}/f?fsync=never&typo=s3cret"),
        format!("tensorboard://{d}/t?secret=s3cret"),
        format!("jsonl://{d}/j.jsonl?access_key=sk-live-1"),
        format!("sqlite://{d}/s.db?run=a&auth=s3cret"),
        format!("sqlite://{d}/s.db?token=p4ss%zz"),
        "memory://?token=s3cret".to_owned(),
        "nosuchbackend://x?token=s3cret".to_owned(),
        "mlflow+http://127.0.0.1:1?token".to_owned(),
    ];
    for url in &urls {
        let e = match viz::StorageBackendFactory::default().create_url(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e.to_string(),
        };
        for secret in secrets {
            assert!(
                !e.contains(secret),
                "{url}: the error repeats '{secret}': {e}"
            );
        }
        // Still useful: the error names the option.
        assert!(
            e.contains("token")
                || e.contains("tokn")
                || e.contains("key")
                || e.contains("password")
                || e.contains("secret")
                || e.contains("typo")
                || e.contains("auth")
                || e.contains("nosuchbackend"),
            "{url}: {e}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fuzzer's find: a `?` before `://` made the redaction of an error message
/// slice out of bounds. Each such string is refused by name, never a panic.
#[test]
fn a_question_mark_before_the_scheme_is_refused_not_a_panic() {
    for text in [
        "\u{2}\u{12}\u{12}?\u{12}L\u{2}\u{0}/://:",
        "a?b://c?token=x",
        "?://",
        "x?y://",
    ] {
        let e = viz::StorageBackendFactory::default()
            .create_url(text)
            .map(drop)
            .unwrap_err();
        assert!(!e.message().is_empty(), "{text:?}");
        assert!(!e.message().contains("token=x"), "{e}");
        let _ = viz::url::redacted(text);
    }
}
