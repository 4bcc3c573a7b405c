//! The file:// writer's lock is not inherited by programs it spawns. In a test
//! binary of its own: a program spawned while other tests hold writer locks would
//! hold copies of theirs until it execs, and make them fail spuriously.

mod common;

use std::time::{Duration, Instant};

use viz::StorageBackend;
use viz::backend::file::FileLogBackend;

#[test]
fn a_program_the_writer_spawns_does_not_inherit_its_lock() {
    let dir = common::temp_dir("lock", "cloexec");
    let url = format!("file://{}", dir.display());
    let b = common::open_log(&url);
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    drop(b);
    // Were the lock's descriptor inherited, the sleeping child would hold it for
    // 30 s; a moment is allowed for the child to finish exec'ing.
    let deadline = Instant::now() + Duration::from_secs(2);
    let opened = loop {
        let mut again = FileLogBackend::default();
        match again.initialize(&url) {
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    opened.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
