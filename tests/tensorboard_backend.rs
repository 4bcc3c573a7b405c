//! The tensorboard:// backend, read back with viz's own TFRecord reader. TensorBoard's
//! own readers check the same output in tests/python/test_tensorboard_reader.py.

use std::path::PathBuf;
use std::time::Duration;

use prost::Message;
use viz::format::tb_proto::{self as pb, summary_value::Value};
use viz::format::tfrecord::read_records;
use viz::{Collector, ErrorKind, Event, StorageBackendFactory};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-tb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn events_in(dir: &PathBuf) -> (String, Vec<pb::Event>) {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&files[0]).unwrap();
    let events = read_records(&bytes)
        .unwrap()
        .into_iter()
        .map(|r| pb::Event::decode(r).unwrap())
        .collect();
    (name, events)
}

#[test]
fn every_kind_is_framed_encoded_and_flushed_to_disk() {
    let dir = temp_dir("kinds");
    let c = Collector::builder()
        .backend_url(&format!("tensorboard://{}", dir.display()))
        .build_and_start()
        .unwrap();
    c.collect(Event::scalar("t/loss", 3, 0.25).unwrap().at(100.5))
        .unwrap();
    c.collect(Event::text("t/note", 4, "one").unwrap()).unwrap();
    c.collect(Event::text("t/note", 5, "two").unwrap()).unwrap();
    c.collect(
        Event::tensor(
            "t/w",
            6,
            viz::Tensor::from_f32(vec![2], &[1.0, 2.0]).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    c.flush(Duration::from_secs(10)).unwrap();

    // After flush, before stop: the data is in the file.
    let (name, events) = events_in(&dir);
    let parts: Vec<&str> = name.split('.').collect();
    assert_eq!(&parts[..3], ["events", "out", "tfevents"], "{name}");
    assert_eq!(parts[3].len(), 10, "{name}");
    assert_eq!(
        parts[parts.len() - 2],
        std::process::id().to_string(),
        "{name}"
    );
    assert_eq!(
        events[0].what,
        Some(pb::event::What::FileVersion("brain.Event:2".into()))
    );
    assert_eq!(events.len(), 5);

    let values: Vec<(i64, f64, pb::SummaryValue)> = events[1..]
        .iter()
        .map(|e| match &e.what {
            Some(pb::event::What::Summary(s)) => (e.step, e.wall_time, s.value[0].clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values[0].0, 3);
    assert_eq!(values[0].1, 100.5);
    assert_eq!(values[0].2.value, Some(Value::SimpleValue(0.25)));
    // Text: plugin metadata on the tag's first value only.
    let plugin = |v: &pb::SummaryValue| {
        v.metadata
            .as_ref()
            .and_then(|m| m.plugin_data.as_ref())
            .map(|p| p.plugin_name.clone())
    };
    assert_eq!(plugin(&values[1].2).as_deref(), Some("text"));
    assert_eq!(plugin(&values[2].2), None);
    match &values[2].2.value {
        Some(Value::Tensor(t)) => assert_eq!(t.string_val, vec![b"two".to_vec()]),
        other => panic!("{other:?}"),
    }
    match &values[3].2.value {
        Some(Value::Tensor(t)) => {
            assert_eq!(t.dtype, pb::data_type::FLOAT);
            assert_eq!(t.tensor_shape.as_ref().unwrap().dim[0].size, 2);
            assert_eq!(
                t.tensor_content,
                [1.0f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat()
            );
        }
        other => panic!("{other:?}"),
    }
    c.stop(Duration::from_secs(10)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn connection_string_errors_name_the_problem() {
    let f = StorageBackendFactory::global();
    let e = f.create_url("tensorboard://").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.message().contains("needs a log directory"), "{e}");
    let dir = temp_dir("opts");
    let e = f
        .create_url(&format!("tensorboard://{}?fsync=sometimes", dir.display()))
        .err()
        .unwrap();
    assert!(
        e.message()
            .contains("option fsync has invalid value 'sometimes'"),
        "{e}"
    );
    let e = f
        .create_url(&format!("tensorboard://{}?compress=yes", dir.display()))
        .err()
        .unwrap();
    assert!(e.message().contains("unknown option 'compress'"), "{e}");
    let e = f
        .create_url("tensorboard:///proc/no/such/place")
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(
        e.message()
            .contains("creating log directory /proc/no/such/place"),
        "{e}"
    );
}

#[test]
fn reads_are_unsupported_on_the_write_only_event_file() {
    let dir = temp_dir("ro");
    let b = StorageBackendFactory::global()
        .create_url(&format!("tensorboard://{}", dir.display()))
        .unwrap();
    let e = b.get_events(0, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    drop(b);
    std::fs::remove_dir_all(&dir).unwrap();
}
