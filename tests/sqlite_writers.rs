//! sqlite:// with many processes on one file: ranks that open a new file at once
//! all succeed (the schema is migrated under the write lock), a second writer of
//! the same run and rank is refused by name with the holder's pid, a writer that
//! was SIGKILLed leaves no claim behind, and different ranks write side by side.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{LONG, temp_dir};
use rusqlite::Connection;
use viz::{Collector, Event, StorageBackend, StorageBackendFactory};

fn open(url: &str) -> viz::Result<Box<dyn StorageBackend>> {
    StorageBackendFactory::default().create_url(url)
}

/// Re-runs this test binary as a child that runs `test` with `env` set.
fn child(test: &str, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A rank's process: opens the run, writes a few events, closes.
fn write_rank(url: &str) {
    let c = Collector::builder()
        .backend_url(url)
        .build_and_start()
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    for step in 0..10 {
        c.collect(Event::scalar("rank/x", step, step as f64).unwrap())
            .unwrap();
    }
    c.stop(LONG).unwrap();
    println!("rank done");
}

#[test]
fn eight_ranks_opening_one_new_file_at_once_all_succeed() {
    const TEST: &str = "eight_ranks_opening_one_new_file_at_once_all_succeed";
    if let Ok(url) = std::env::var("VIZ_SQLITE_RANK_CHILD") {
        write_rank(&url);
        return;
    }
    let dir = temp_dir("sqlite-writers", "first-open");
    std::fs::create_dir_all(&dir).unwrap();
    for round in 0..20 {
        let path = dir.join(format!("round{round}.db"));
        let children: Vec<Child> = (0..8)
            .map(|rank| {
                child(
                    TEST,
                    &[(
                        "VIZ_SQLITE_RANK_CHILD",
                        format!("sqlite://{}?run=job&rank={rank}", path.display()),
                    )],
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for (rank, c) in children.into_iter().enumerate() {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("rank done"),
                "round {round}, rank {rank} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let db = Connection::open(&path).unwrap();
        let (runs, events): (i64, i64) = db
            .query_row(
                "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM events)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((runs, events), (8, 80), "round {round}");
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, viz::backend::sqlite::schema_version());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_writer_of_a_run_and_rank_is_refused_by_name_and_pid() {
    let dir = temp_dir("sqlite-writers", "second");
    let path = dir.join("p.db");
    let url = |run: &str, rank: u32| format!("sqlite://{}?run={run}&rank={rank}", path.display());
    let mut first = open(&url("a", 0)).unwrap();
    first
        .store_events(&[Event::scalar("x", 0, 1.0).unwrap()])
        .unwrap();
    let e = open(&url("a", 0)).map(drop).unwrap_err();
    let msg = e.message();
    assert!(
        msg.contains("run 'a' rank 0 of project 'p'")
            && msg.contains(&format!("process {}", std::process::id())),
        "{e}"
    );
    // Another rank and another run of the same file write alongside.
    let mut rank1 = open(&url("a", 1)).unwrap();
    let mut other = open(&url("b", 0)).unwrap();
    rank1
        .store_events(&[Event::scalar("x", 0, 2.0).unwrap()])
        .unwrap();
    other
        .store_events(&[Event::scalar("x", 0, 3.0).unwrap()])
        .unwrap();
    // Closed, the claim is free again; dropped without shutdown, too.
    first.shutdown().unwrap();
    let again = open(&url("a", 0)).unwrap();
    drop(again);
    open(&url("a", 0)).unwrap().shutdown().unwrap();
    rank1.shutdown().unwrap();
    other.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_writer_in_another_process_is_refused_and_a_killed_one_holds_nothing() {
    const TEST: &str = "a_writer_in_another_process_is_refused_and_a_killed_one_holds_nothing";
    if let Ok(url) = std::env::var("VIZ_SQLITE_HOLD_CHILD") {
        let _db = open(&url).unwrap();
        println!("holding");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let dir = temp_dir("sqlite-writers", "killed");
    let url = format!("sqlite://{}?run=r&rank=3", dir.join("p.db").display());
    for round in 0..3 {
        let mut holder = child(TEST, &[("VIZ_SQLITE_HOLD_CHILD", url.clone())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        // libtest prints its own lines first; wait for ours.
        while !line.contains("holding") {
            line.clear();
            assert!(
                std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
                "the holder ended early"
            );
        }
        let e = open(&url).map(drop).unwrap_err();
        assert!(
            e.message().contains("run 'r' rank 3")
                && e.message().contains(&format!("process {}", holder.id())),
            "round {round}: {e}"
        );
        holder.kill().unwrap(); // SIGKILL: no shutdown, the claim row stays
        holder.wait().unwrap();
        let mut db = open(&url).unwrap_or_else(|e| panic!("round {round}: {e}"));
        db.shutdown().unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn docs_name_the_schema_version_viz_writes() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/SQLITE.md")).unwrap();
    let want = format!(
        "## Schema (version {})",
        viz::backend::sqlite::schema_version()
    );
    assert!(docs.contains(&want), "docs/SQLITE.md lacks \"{want}\"");
}
