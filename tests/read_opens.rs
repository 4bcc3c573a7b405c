//! Opening a store to read it: event_count counts what it holds (seed 000's
//! EventCount), not what this handle wrote, and a TensorBoard run opened to read is
//! left as it was (no empty event file).

use viz::{Event, StorageBackendFactory};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("viz-read-opens-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn hundred() -> Vec<Event> {
    (0..100)
        .map(|i| Event::scalar("r/x", i, i as f64).unwrap())
        .collect()
}

#[test]
fn event_count_counts_what_a_reopened_store_holds() {
    let d = dir("count");
    for url in [
        format!("file://{}/log", d.display()),
        format!("file://{}/small?segment_max_bytes=1024", d.display()),
        format!("sqlite://{}/p.db?run=a", d.display()),
    ] {
        let f = StorageBackendFactory::global();
        let mut w = f.create_url(&url).unwrap();
        w.store_events(&hundred()).unwrap();
        w.shutdown().unwrap();
        let mut r = f.create_url(&url).unwrap();
        assert_eq!(r.event_count(), 100, "{url}");
        r.store_events(&hundred()[..10]).unwrap();
        assert_eq!(r.event_count(), 110, "{url}");
        r.clear().unwrap();
        assert_eq!(r.event_count(), 0, "{url}");
        r.shutdown().unwrap();
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn opening_a_tensorboard_run_to_read_writes_nothing() {
    let d = dir("tb");
    let url = format!("tensorboard://{}", d.display());
    let f = StorageBackendFactory::global();
    let mut w = f.create_url(&url).unwrap();
    w.store_events(&hundred()).unwrap();
    w.shutdown().unwrap();
    let listing = || {
        let mut names: Vec<(String, u64)> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        names.sort();
        names
    };
    let before = listing();
    assert_eq!(before.len(), 1);
    let mut r = f.create_url(&url).unwrap();
    let _ = r.get_events(0, 10);
    r.flush().unwrap();
    r.shutdown().unwrap();
    drop(r);
    assert_eq!(
        listing(),
        before,
        "opening to read changed the run directory"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_plain_path_opens_what_is_there() {
    let d = dir("plain");
    let f = StorageBackendFactory::global();
    let log = d.join("log");
    let db = d.join("p.db");
    let jsonl = d.join("e.jsonl");
    for url in [
        format!("file://{}", log.display()),
        format!("sqlite://{}", db.display()),
        format!("jsonl://{}", jsonl.display()),
    ] {
        let mut w = f.create_url(&url).unwrap();
        w.store_events(&hundred()).unwrap();
        w.shutdown().unwrap();
    }
    for (path, kind) in [(&log, "file"), (&db, "sqlite"), (&jsonl, "jsonl")] {
        let mut r = f.create_url(&path.display().to_string()).unwrap();
        assert_eq!(r.type_name(), kind, "{}", path.display());
        assert_eq!(r.get_events(0, 1000).unwrap().len(), 100, "{kind}");
        r.shutdown().unwrap();
    }
    let tb = d.join("tb");
    let mut w = f
        .create_url(&format!("tensorboard://{}", tb.display()))
        .unwrap();
    w.store_events(&hundred()).unwrap();
    w.shutdown().unwrap();
    assert_eq!(
        f.create_url(&tb.display().to_string()).unwrap().type_name(),
        "tensorboard"
    );
    for (path, says) in [
        (d.join("absent"), "nothing at"),
        (d.clone(), "neither log segments"),
    ] {
        let e = f
            .create_url(&path.display().to_string())
            .map(drop)
            .unwrap_err();
        assert!(e.message().contains(says), "{e}");
    }
    std::fs::write(d.join("x.txt"), b"hello").unwrap();
    let e = f
        .create_url(&d.join("x.txt").display().to_string())
        .map(drop)
        .unwrap_err();
    assert!(e.message().contains("neither a SQLite database"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}
