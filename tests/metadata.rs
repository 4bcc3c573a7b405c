//! Run metadata: typed values set and deleted in atomic batches, durable in file://
//! (surviving a reopen, a torn append and compaction, shared by the writers of one
//! run), kept by memory://, written by tensorboard:// as hyperparameters, and set
//! through a collector on every backend that keeps it.

mod common;

use common::{LONG, open_log, temp_dir};
use serde_json::json;
use viz::metadata::{COMPACT_AFTER, MetadataBatch, MetadataLog};
use viz::{Collector, ErrorKind, MemoryBackend, StorageBackend};

fn batch(v: serde_json::Value) -> MetadataBatch {
    MetadataBatch::from_json_object(&v.to_string()).unwrap()
}

#[test]
fn memory_and_file_keep_typed_values_in_atomic_batches() {
    let dir = temp_dir("meta", "types");
    let mut file = open_log(&format!("file://{}", dir.display()));
    let mut memory = MemoryBackend::new();
    memory.initialize("memory://").unwrap();
    let backends: [&mut dyn StorageBackend; 2] = [&mut file, &mut memory];
    for b in backends {
        b.set_metadata(&batch(json!({
            "lr": 0.001, "model": "resnet50", "pretrained": true,
            "layers": [64, 128], "optimizer": {"name": "adam", "beta": 0.9}
        })))
        .unwrap();
        b.set_metadata(&MetadataBatch {
            set: [("lr".to_owned(), json!(0.01))].into(),
            delete: vec!["pretrained".to_owned(), "absent".to_owned()],
        })
        .unwrap();
        let m = b.metadata().unwrap();
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["layers", "lr", "model", "optimizer"]
        );
        assert_eq!(m["lr"], json!(0.01));
        assert_eq!(m["optimizer"]["name"], json!("adam"));
        // A batch with one bad key changes nothing.
        let bad = MetadataBatch::set([
            ("ok".to_owned(), json!(1)),
            ("bad\u{7}".to_owned(), json!(2)),
        ]);
        let e = b.set_metadata(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("control character"), "{e}");
        assert!(!b.metadata().unwrap().contains_key("ok"));
    }
    file.shutdown().unwrap();
    // Durable: a new writer reads it back.
    let again = open_log(&format!("file://{}", dir.display()));
    assert_eq!(again.metadata().unwrap()["model"], json!("resnet50"));
    drop(again);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_writers_of_one_run_share_its_metadata() {
    let dir = temp_dir("meta", "shared");
    let mut rank0 = MetadataLog::open(&dir).unwrap();
    let mut rank1 = MetadataLog::open(&dir).unwrap();
    rank0.apply(&batch(json!({"seed": 1}))).unwrap();
    rank1
        .apply(&batch(json!({"rank1/host": "node-b"})))
        .unwrap();
    rank0.refresh().unwrap();
    assert_eq!(rank0.values().len(), 2);
    assert_eq!(
        rank1.values()["seed"],
        json!(1),
        "applied on top of the other's"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_append_loses_only_its_batch_and_compaction_keeps_the_values() {
    let dir = temp_dir("meta", "torn");
    let mut log = MetadataLog::open(&dir).unwrap();
    log.apply(&batch(json!({"a": 1}))).unwrap();
    log.apply(&batch(json!({"b": 2}))).unwrap();
    let path = viz::metadata::path_in(&dir);
    let len = std::fs::metadata(&path).unwrap().len();
    // A crash mid-append: the second batch is cut short.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let mut log = MetadataLog::open(&dir).unwrap();
    assert_eq!(log.values().keys().collect::<Vec<_>>(), ["a"]);
    log.apply(&batch(json!({"c": 3}))).unwrap();
    let reopened = MetadataLog::open(&dir).unwrap();
    assert_eq!(reopened.values().keys().collect::<Vec<_>>(), ["a", "c"]);

    for i in 0..COMPACT_AFTER + 5 {
        log.apply(&batch(json!({ "counter": i }))).unwrap();
    }
    let before = std::fs::metadata(&path).unwrap().len();
    let compacted = MetadataLog::open(&dir).unwrap();
    assert!(
        std::fs::metadata(&path).unwrap().len() < before / 100,
        "rewritten as one record"
    );
    assert_eq!(compacted.values()["counter"], json!(COMPACT_AFTER + 4));
    assert_eq!(compacted.values()["c"], json!(3));
    // A writer that had read the old file reads the compacted one afresh.
    log.refresh().unwrap();
    assert_eq!(log.values(), compacted.values());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_collector_sets_metadata_on_every_backend_that_keeps_it() {
    let dir = temp_dir("meta", "collector");
    let memory = MemoryBackend::new();
    let c = Collector::builder()
        .backend(memory.clone())
        .backend_url(&format!("jsonl://{}/events.jsonl", dir.display()))
        .backend_url(&format!("file://{}/log", dir.display()))
        .build_and_start()
        .unwrap();
    c.set_metadata(batch(json!({"lr": 0.1, "commit": "abc123"})))
        .unwrap();
    assert_eq!(c.metadata(0).unwrap()["commit"], json!("abc123"));
    assert_eq!(c.metadata(2).unwrap()["lr"], json!(0.1));
    let e = c.metadata(1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("keeps no run metadata"), "{e}");
    let e = c.set_metadata(batch(json!({"": 1}))).unwrap_err();
    assert!(e.message().contains("keys are 1 to 250 bytes"), "{e}");
    c.stop(LONG).unwrap();

    let only_jsonl = Collector::builder()
        .backend_url(&format!("jsonl://{}/other.jsonl", dir.display()))
        .build_and_start()
        .unwrap();
    let e = only_jsonl
        .set_metadata(batch(json!({"lr": 0.1})))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.message()
            .contains("no backend of this collector keeps run metadata"),
        "{e}"
    );
    drop(only_jsonl);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// How a run ended is kept by file:// (status.json) and sqlite:// (runs.status),
/// set through a collector and read back by a reader opened later; a run still
/// going, or killed before it said, has none.
#[test]
fn run_status_is_kept_by_file_and_sqlite() {
    let dir = temp_dir("meta", "status");
    let urls = [
        format!("file://{}/log", dir.display()),
        format!("sqlite://{}/runs.db?run=r", dir.display()),
    ];
    let c = Collector::builder()
        .backend_url(&urls[0])
        .backend_url(&urls[1])
        .build_and_start()
        .unwrap();
    let tag = c.intern("s/x").unwrap();
    c.collect_scalar(tag, 0, 1.0).unwrap();
    c.flush(LONG).unwrap();
    c.set_run_status(viz::RunStatus::Killed).unwrap();
    c.stop(LONG).unwrap();
    for url in &urls {
        let mut reader = viz::StorageBackendFactory::global()
            .create_url(url)
            .unwrap();
        assert_eq!(
            reader.run_status().unwrap(),
            Some(viz::RunStatus::Killed),
            "{url}"
        );
        reader.set_run_status(viz::RunStatus::Finished).unwrap();
        reader.shutdown().unwrap();
        let reader = viz::StorageBackendFactory::global()
            .create_url(url)
            .unwrap();
        assert_eq!(
            reader.run_status().unwrap(),
            Some(viz::RunStatus::Finished),
            "{url}"
        );
    }
    // A run that never said.
    let fresh = viz::StorageBackendFactory::global()
        .create_url(&format!("sqlite://{}/runs.db?run=other", dir.display()))
        .unwrap();
    assert_eq!(fresh.run_status().unwrap(), None);
    drop(fresh);
    // A damaged status file is named, not taken as a status.
    std::fs::write(dir.join("log/status.json"), b"{\"status\": \"exploded\"").unwrap();
    let e = open_log(&urls[0]).run_status().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CorruptData, "{e}");
    assert!(e.message().contains("status.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
