//! The file:// writer's lock is not inherited by programs it spawns, and a writer
//! closing releases its lock even while a forked child still holds a copy of its
//! descriptor (as a program spawned by another thread does until it execs). In a
//! test binary of its own: a program spawned while other tests hold writer locks
//! would hold copies of theirs until it execs.

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

/// Forks a child that holds copies of every descriptor until killed, as a
/// program spawned by another thread does between its fork and its exec.
fn fork_holder() -> libc::pid_t {
    // SAFETY: the child calls only async-signal-safe functions (pause, _exit).
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            loop {
                libc::pause();
            }
        }
        pid
    }
}

fn reap(pid: libc::pid_t) {
    // SAFETY: kills and reaps the child this test forked.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

#[test]
fn a_closed_writer_releases_its_lock_while_a_forked_child_holds_a_copy() {
    let dir = common::temp_dir("lock", "fork");
    let factory = viz::StorageBackendFactory::new();
    for url in [
        format!("file://{}/log", dir.display()),
        format!("jsonl://{}/events.jsonl", dir.display()),
    ] {
        let mut first = factory.create_url(&url).unwrap();
        let child = fork_holder();
        // While the first writer is open, the lock holds.
        let mut second = factory.create_url(&url);
        let refused = second.as_ref().err().map(|e| e.message().to_owned());
        first.shutdown().unwrap();
        drop(first);
        // Closed, it is free at once, though the child still has the descriptor.
        let third = factory.create_url(&url);
        reap(child);
        assert!(
            refused.is_some_and(|m| m.contains("in use by another")),
            "{url}"
        );
        if let Ok(second) = &mut second {
            second.shutdown().unwrap();
        }
        third.unwrap().shutdown().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
