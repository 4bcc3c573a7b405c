//! The real `viz` binary on runs these tests write: every command, its output and
//! its error paths (exit 2 for bad usage, 1 for a failed check, one line on stderr).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use viz::{Collector, Event, StorageBackendFactory};

fn viz() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_viz"));
    c.env("NO_COLOR", "1").env_remove("COLUMNS");
    c
}

fn run(args: &[&str]) -> Output {
    viz().args(args).output().expect("viz runs")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "viz {args:?} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a failing command: its exit code and its one-line error.
fn fails(args: &[&str]) -> (i32, String) {
    let out = run(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(out.stdout.is_empty() || !out.status.success());
    (out.status.code().unwrap(), err)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A log of `loss` (1/(step+1)) and `acc` for steps 0..n, and a note every 100.
/// A closed log of `n` steps (two scalars each, a note every 100), compressed
/// with the default (lz4) when it was closed.
fn write_log(dir: &Path, n: i64) {
    write_log_with(dir, n, "");
}

/// [`write_log`] with file:// `options` (`compression=none`, say).
fn write_log_with(dir: &Path, n: i64, options: &str) {
    let mut log = StorageBackendFactory::global()
        .create_url(&format!("file://{}?{options}", dir.display()))
        .unwrap();
    let mut events = Vec::new();
    for step in 0..n {
        let wall = 1_700_000_000.0 + step as f64;
        events.push(
            Event::scalar("train/loss", step, 1.0 / (step + 1) as f64)
                .unwrap()
                .at(wall),
        );
        events.push(
            Event::scalar("train/acc", step, step as f64 / n as f64)
                .unwrap()
                .at(wall),
        );
        if step % 100 == 0 {
            events.push(
                Event::text("notes", step, format!("step {step}"))
                    .unwrap()
                    .at(wall),
            );
        }
    }
    log.store_events(&events).unwrap();
    log.shutdown().unwrap();
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        "runs", "tags", "query", "tail", "plot", "verify", "repair", "convert", "stats",
    ] {
        let help = ok(&[cmd, "--help"]);
        assert!(help.contains("Example"), "{cmd}: {help}");
    }
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn runs_lists_a_projects_runs_as_a_table_and_as_json() {
    let project = temp("runs");
    for (name, steps) in [("alpha", 100), ("beta", 50)] {
        for rank in 0..2 {
            let c = Collector::builder()
                .backend_url(&format!(
                    "file://{}?run={name}&rank={rank}",
                    project.display()
                ))
                .build_and_start()
                .unwrap();
            for step in 0..steps {
                c.collect(Event::scalar("loss", step, 1.0).unwrap())
                    .unwrap();
            }
            c.stop(Duration::from_secs(10)).unwrap();
        }
    }
    let table = ok(&["runs", project.to_str().unwrap()]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("run") && lines[0].contains("events"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("alpha") && lines[1].contains(" 200 "),
        "{table}"
    );
    assert!(
        lines[2].starts_with("beta") && lines[2].contains(" 100 "),
        "{table}"
    );
    let json = ok(&["runs", project.to_str().unwrap(), "--json"]);
    let runs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["name"], "alpha");
    assert_eq!(runs[0]["events"], 200);
    assert_eq!(runs[0]["ranks"], serde_json::json!([0, 1]));
    // A run directory reads as one run, over its ranks.
    let tags = ok(&["tags", project.join("alpha").to_str().unwrap()]);
    assert!(tags.contains("loss") && tags.contains(" 200 "), "{tags}");
    let tail = ok(&["tail", project.join("beta").to_str().unwrap(), "-n", "3"]);
    assert_eq!(tail.lines().count(), 3, "{tail}");
    assert!(
        tail.lines().all(|l| l.starts_with("rank-")),
        "each line names its rank: {tail}"
    );
    let (code, err) = fails(&["runs", "/no/such/project"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no project directory at /no/such/project"),
        "{err}"
    );
}

#[test]
fn tags_and_stats_describe_a_run() {
    let dir = temp("tags");
    write_log(&dir, 1000);
    let d = dir.to_str().unwrap();
    let tags = ok(&["tags", d]);
    let row = |tag: &str| -> Vec<String> {
        tags.lines()
            .find(|l| l.starts_with(&format!("{tag} ")))
            .unwrap_or_else(|| panic!("{tag} in {tags}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        row("train/loss"),
        [
            "train/loss",
            "scalar",
            "1000",
            "0",
            "999",
            "1",
            "0.001",
            "0.001",
            "1"
        ]
    );
    assert_eq!(row("notes")[..5], ["notes", "text", "10", "0", "900"]);
    let csv = ok(&["tags", d, "--format", "csv"]);
    assert!(csv.starts_with("tag,kind,count,"), "{csv}");
    let stats = ok(&["stats", d]);
    assert!(
        stats.contains("scalar events") && stats.contains("2000"),
        "{stats}"
    );
    assert!(
        stats.contains("text events") && stats.contains("10"),
        "{stats}"
    );
    assert!(stats.contains("events_per_s"), "{stats}");
}

#[test]
fn query_selects_orders_pages_aggregates_and_buckets() {
    let dir = temp("query");
    write_log(&dir, 3000);
    let d = dir.to_str().unwrap();
    let out = ok(&[
        "query",
        d,
        "--tag",
        "train/*",
        "--steps",
        "1000..2000",
        "--where",
        "value < 0.001",
        "--limit",
        "3",
        "--order",
        "desc",
    ]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows[0].starts_with("train/loss  2000"), "{out}");
    assert!(rows[2].starts_with("train/loss  1998"), "{out}");
    let jsonl = ok(&["query", d, "--tag", "notes", "--format", "jsonl"]);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["tag"], "notes");
    assert_eq!(first["value"], "step 0");
    assert_eq!(jsonl.lines().count(), 30);
    let mean = ok(&["query", d, "--tag", "train/acc", "--agg", "mean"]);
    let cells: Vec<&str> = mean.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(cells, ["train/acc", "3000", "0.499833"], "{mean}");
    let buckets = ok(&[
        "query",
        d,
        "--tag",
        "train/acc",
        "--agg",
        "max",
        "--buckets",
        "3",
        "--format",
        "csv",
    ]);
    assert_eq!(
        buckets,
        "first_step,last_step,count,max\n0,999,1000,0.333\n1000,1999,1000,0.666333\n2000,2999,1000,0.999667\n"
    );
    for (args, message) in [
        (vec!["--steps", "10..x"], "malformed step range '10..x'"),
        (
            vec!["--where", "loss < 1"],
            "malformed condition 'loss < 1'",
        ),
        (vec!["--kind", "movie"], "unknown kind 'movie'"),
        (vec!["--agg", "mean", "--buckets", "5"], "one scalar tag"),
    ] {
        let mut all = vec!["query", d];
        all.extend(args);
        let (code, err) = fails(&all);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(message), "{err}");
    }
    let (code, err) = fails(&["query", "/no/run"]);
    assert_eq!(
        (code, err.contains("no run at /no/run")),
        (2, true),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = temp("pipe");
    write_log(&dir, 20_000);
    let mut child = viz()
        .args(["query", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader goes away, as `| head -1` does.
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(first.starts_with("tag"), "{first}");
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn plot_draws_axes_in_the_terminal_and_a_png_of_the_requested_size() {
    let dir = temp("plot");
    write_log(&dir, 1000);
    let d = dir.to_str().unwrap();
    let text = ok(&[
        "plot",
        d,
        "--tag",
        "train/acc",
        "--width",
        "40",
        "--height",
        "8",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    // The axis spans the bucket means: one bucket per horizontal dot.
    let label = |l: &str| -> f64 { l.split('┤').next().unwrap().trim().parse().unwrap() };
    assert!((0.98..1.0).contains(&label(lines[0])), "{text}");
    assert!((0.0..0.02).contains(&label(lines[7])), "{text}");
    assert!(lines[9].contains('0') && lines[9].contains("999") && lines[9].ends_with("step"));
    assert!(lines[10].contains("train/acc"), "{text}");
    let png = dir.join("acc.png");
    ok(&[
        "plot",
        d,
        "--tag",
        "train/acc",
        "--tag",
        "train/loss",
        "--png",
        png.to_str().unwrap(),
        "--width",
        "640",
        "--height",
        "360",
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!((be(16), be(20)), (640, 360));
    let (code, err) = fails(&["plot", d, "--tag", "absent"]);
    assert_eq!(code, 2);
    assert!(err.contains("no scalars tagged 'absent'"), "{err}");
}

#[test]
fn verify_finds_damage_by_offset_and_repair_keeps_every_intact_record() {
    let dir = temp("verify");
    // A writer killed mid-record leaves its segment uncompressed, as here.
    write_log_with(&dir, 500, "compression=none");
    let d = dir.to_str().unwrap();
    assert!(ok(&["verify", d]).contains("ok: every segment"));
    // A torn tail: half a record at the end of the segment.
    let segment = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "vzl"))
        .unwrap();
    let intact = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&[0x40, 0, 0, 0, 1, 2, 3])
        .unwrap();
    let out = run(&["verify", d]);
    assert_eq!(out.status.code(), Some(1), "a failed check exits 1");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("at byte offset {intact}")),
        "{report}"
    );
    let repaired = ok(&["repair", d]);
    assert!(
        repaired.contains("kept 1005 intact events of the 1005"),
        "{repaired}"
    );
    assert!(
        repaired.contains("dropped 7 bytes from byte offset"),
        "{repaired}"
    );
    assert!(ok(&["verify", d]).contains("ok: every segment"));
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), intact);
    // A damaged index sidecar is damage too, and repair rewrites it.
    let sidecar = segment.with_extension("vzi");
    let mut bytes = std::fs::read(&sidecar).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&sidecar, bytes).unwrap();
    let out = run(&["verify", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the index sidecar is damaged"));
    assert!(ok(&["repair", d]).contains("rewrote 1 index sidecars"));
    assert!(ok(&["verify", d]).contains("ok: every segment"));
}

#[test]
fn verify_reports_a_damaged_compressed_block_and_convert_recompresses() {
    let dir = temp("zip");
    let src = dir.join("log");
    write_log(&src, 3000);
    let s = src.to_str().unwrap();
    let verified = ok(&["verify", s]);
    assert!(verified.contains("6030 intact events"), "{verified}");
    // Recompress into lz4, and back out uncompressed: the same run each time.
    let lz4 = dir.join("lz4");
    let out = ok(&[
        "convert",
        s,
        &format!("file://{}?compression=lz4", lz4.display()),
    ]);
    assert!(out.contains("copied 6030 events"), "{out}");
    let plain = dir.join("plain");
    ok(&[
        "convert",
        lz4.to_str().unwrap(),
        &format!("file://{}?compression=none", plain.display()),
    ]);
    for other in [&lz4, &plain] {
        let d = other.to_str().unwrap();
        assert_eq!(ok(&["tags", d]), ok(&["tags", s]), "{d}");
        assert_eq!(
            ok(&["query", d, "--format", "csv"]),
            ok(&["query", s, "--format", "csv"])
        );
        assert!(ok(&["verify", d]).contains("ok: every segment"));
    }
    let size = |d: &Path| -> u64 {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "vzl"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    assert!(
        size(&src) * 4 < size(&plain),
        "{} vs {}",
        size(&src),
        size(&plain)
    );
    // A flipped byte inside a compressed block: reported with the block's offset
    // in the file, its records skipped, the rest read.
    let segment = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "vzl"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[32 + 12 + 40] ^= 0x20;
    std::fs::write(&segment, bytes).unwrap();
    let out = run(&["verify", s]);
    assert_eq!(out.status.code(), Some(1), "damage exits 1");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("at byte offset 32: compressed block holding record offsets 32.."),
        "{report}"
    );
    let kept: u64 = report
        .lines()
        .find_map(|l| {
            l.split(": ")
                .nth(1)?
                .strip_suffix(" intact events in 1 segments")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{report}"));
    // Only the damaged block's records (about 1300 of 64 KiB) are lost.
    assert!(kept < 6030 && kept > 6030 - 1400, "{report}");
}

#[test]
fn convert_copies_between_backends_and_resumes() {
    let dir = temp("convert");
    let src = dir.join("log");
    write_log(&src, 2000);
    let s = src.to_str().unwrap();
    let db = format!("sqlite://{}/c.db?run=a", dir.display());
    let out = ok(&["convert", s, &db]);
    assert!(out.contains("copied 4020 events"), "{out}");
    let tags = ok(&["tags", &db]);
    assert!(
        tags.contains("train/loss") && tags.contains(" 2000 "),
        "{tags}"
    );
    assert!(ok(&["verify", &db]).contains("PRAGMA integrity_check"));
    // Only what a selection picks, into JSON Lines.
    let jsonl = format!("jsonl://{}/notes.jsonl", dir.display());
    let out = ok(&["convert", s, &jsonl, "--tag", "notes"]);
    assert!(
        out.contains("copied 20 events") && out.contains("4000 not selected"),
        "{out}"
    );
    assert_eq!(ok(&["query", &jsonl]).lines().count(), 21);
    // Into TensorBoard event files, and read back from them (read-only).
    let tb = dir.join("tb");
    ok(&["convert", s, &format!("tensorboard://{}", tb.display())]);
    assert!(std::fs::read_dir(&tb).unwrap().count() == 1);
    let from_tb = ok(&["tags", &format!("tensorboard://{}", tb.display())]);
    assert_eq!(
        from_tb,
        ok(&["tags", s]),
        "the event files hold what the log holds"
    );
    let notes = ok(&[
        "query",
        tb.to_str().unwrap(),
        "--tag",
        "notes",
        "--limit",
        "1",
    ]);
    assert!(
        notes.contains("notes     0") && notes.contains("step 0"),
        "{notes}"
    );
    let (code, err) = fails(&["tags", "tensorboard:///no/such/dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no TensorBoard log directory"), "{err}");
    // Resumed: a copy interrupted after 1000 events copies the rest.
    let checkpoint = dir.join("pos");
    std::fs::write(&checkpoint, "1000").unwrap();
    let again = dir.join("again");
    let out = ok(&[
        "convert",
        s,
        &format!("file://{}", again.display()),
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--batch",
        "700",
    ]);
    assert!(
        out.contains("copied 3020 events") && out.contains("resumed after 1000"),
        "{out}"
    );
    // A finished copy keeps its checkpoint, marked complete: again, it is a no-op.
    let out = ok(&[
        "convert",
        s,
        &format!("file://{}", again.display()),
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert!(out.contains("nothing to do"), "{out}");
    let (code, err) = fails(&["convert", s, "nowhere://x"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown backend type 'nowhere'"), "{err}");
}

#[test]
fn tail_follows_a_writer_across_segment_rolls_and_exits_cleanly_on_ctrl_c() {
    let dir = temp("tail");
    let url = format!("file://{}?segment_max_bytes=65536", dir.display());
    let c = Collector::builder()
        .backend_url(&url)
        .build_and_start()
        .unwrap();
    for step in 0..100 {
        c.collect(Event::scalar("old", step, 0.0).unwrap()).unwrap();
    }
    c.flush(Duration::from_secs(10)).unwrap();
    let mut child = viz()
        .args([
            "tail",
            "-f",
            dir.to_str().unwrap(),
            "--tag",
            "new",
            "-n",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("new  step 4999 ");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    std::thread::sleep(Duration::from_millis(300));
    for step in 0..5000 {
        c.collect(Event::scalar("new", step, step as f64).unwrap())
            .unwrap();
        c.collect(Event::text("filler", step, "x".repeat(40)).unwrap())
            .unwrap();
    }
    c.flush(Duration::from_secs(10)).unwrap();
    let lines = reader.join().unwrap();
    assert_eq!(
        lines.len(),
        5000,
        "every new event once: {:?}",
        &lines[..3.min(lines.len())]
    );
    assert!(lines.iter().all(|l| l.starts_with("new  step ")));
    let segments = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "vzl")
        })
        .count();
    assert!(segments > 3, "the writer rolled segments: {segments}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "Ctrl-C ends tail with success: {status:?}"
    );
    c.stop(Duration::from_secs(10)).unwrap();
}

/// Into a real MLflow server: convert returns once the server acknowledged it all.
#[test]
#[ignore = "needs a real MLflow server (VIZ_MLFLOW_URI): scripts/test.sh starts one"]
fn convert_delivers_a_run_to_mlflow() {
    let server = std::env::var("VIZ_MLFLOW_URI").expect("VIZ_MLFLOW_URI");
    let dir = temp("convert-mlflow");
    write_log(&dir.join("log"), 1500);
    let run = format!("cli-{}", std::process::id());
    let dst = format!(
        "mlflow+{server}?experiment=viz-cli&run={run}&spool={}",
        dir.join("spool").display()
    );
    let out = ok(&[
        "convert",
        dir.join("log").to_str().unwrap(),
        &dst,
        "--tag",
        "train/*",
    ]);
    assert!(out.contains("copied 3000 events"), "{out}");
    // Read back through the REST API: the history of one metric.
    let api = |path: &str, body: Option<serde_json::Value>| -> serde_json::Value {
        let url = format!("{server}/api/2.0/mlflow/{path}");
        let mut response = match body {
            Some(b) => ureq::post(&url)
                .header("Content-Type", "application/json")
                .send(b.to_string())
                .unwrap(),
            None => ureq::get(&url).call().unwrap(),
        };
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    };
    let exp = api("experiments/get-by-name?experiment_name=viz-cli", None);
    let id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let runs = api(
        "runs/search",
        Some(
            serde_json::json!({"experiment_ids": [id], "filter": format!("attributes.run_name = '{run}'")}),
        ),
    );
    let run_id = runs["runs"][0]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = api(
        &format!("metrics/get-history?run_id={run_id}&metric_key=train/loss&max_results=25000"),
        None,
    );
    assert_eq!(history["metrics"].as_array().unwrap().len(), 1500);
    // And read back through viz itself: an MLflow run is a read-only source.
    let source = format!("mlflow+{server}?experiment=viz-cli&run={run}");
    let tags = ok(&["tags", &source]);
    let loss: Vec<&str> = tags
        .lines()
        .find(|l| l.starts_with("train/loss "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        loss,
        [
            "train/loss",
            "scalar",
            "1500",
            "0",
            "1499",
            "1",
            "0.000667",
            "0.000667",
            "1"
        ]
    );
    let (code, err) = fails(&[
        "tags",
        &format!("mlflow+{server}?experiment=viz-cli&run=absent"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no run 'absent'"), "{err}");
}

/// A tiny seeded generator for kill times (no dependency for a few draws).
fn draw(state: &mut u64, below: u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*state >> 33) % below
}

/// The audit's case: `viz convert` SIGKILLed at random points, 20 times into each
/// of file://, sqlite:// and tensorboard://, then resumed: the destination holds
/// each source event exactly once, with the run's metadata. Run again, it is a
/// no-op; a fresh copy into the full destination is refused without --append.
#[test]
fn convert_is_exactly_once_across_sigkills_and_reruns() {
    let dir = temp("convert-kill");
    let src = dir.join("log");
    write_log_with(&src, 40_000, "compression=none");
    {
        let mut log = StorageBackendFactory::global()
            .create_url(&format!("file://{}", src.display()))
            .unwrap();
        log.set_metadata(&viz::metadata::MetadataBatch::set([
            ("log_every".to_owned(), serde_json::json!(10)),
            ("optimizer".to_owned(), serde_json::json!("adam")),
        ]))
        .unwrap();
        log.set_run_status(viz::RunStatus::Failed).unwrap();
        log.shutdown().unwrap();
    }
    let s = src.to_str().unwrap();
    let sorted = |run: &str| {
        let mut lines: Vec<String> = ok(&["query", run, "--format", "csv"])
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    let want = sorted(s);
    assert_eq!(want.len(), 80_400 + 1, "events plus the header");
    let mut rng = std::process::id() as u64;
    for (name, dst) in [
        ("file", format!("file://{}/out-log", dir.display())),
        ("sqlite", format!("sqlite://{}/out.db?run=a", dir.display())),
        (
            "tensorboard",
            format!("tensorboard://{}/out-tb", dir.display()),
        ),
    ] {
        let checkpoint = dir.join(format!("{name}.pos"));
        let mut kills = 0;
        while kills < 20 {
            let mut child = viz()
                .args(["convert", s, &dst, "--batch", "1000", "--checkpoint"])
                .arg(&checkpoint)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(5 + draw(&mut rng, 120)));
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                assert!(status.success(), "{name}: convert failed: {err}");
                break; // finished before the kill
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        }
        let out = ok(&[
            "convert",
            s,
            &dst,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ]);
        assert!(
            out.contains("copied") || out.contains("nothing to do"),
            "{name}: {out}"
        );
        let read_back = match name {
            "tensorboard" => format!("tensorboard://{}/out-tb", dir.display()),
            _ => dst.clone(),
        };
        // TensorBoard keeps scalars as f32: compare with an uninterrupted copy.
        let want = if name == "tensorboard" {
            let reference = format!("tensorboard://{}/reference-tb", dir.display());
            ok(&["convert", s, &reference]);
            sorted(&reference)
        } else {
            want.clone()
        };
        let got = sorted(&read_back);
        assert!(
            kills >= 5,
            "{name}: only {kills} kills landed before the copy finished"
        );
        assert_eq!(
            got.len(),
            want.len(),
            "{name}: event count after {kills} kills"
        );
        assert!(
            got == want,
            "{name}: the events differ from the source's after {kills} kills"
        );
        // Again: a no-op that says so, and nothing added.
        let out = ok(&[
            "convert",
            s,
            &dst,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ]);
        assert!(out.contains("nothing to do"), "{name}: {out}");
        assert_eq!(
            sorted(&read_back).len(),
            want.len(),
            "{name}: a rerun added events"
        );
        // A fresh copy into the full destination is refused without --append
        // (stderr may also say that a killed writer left a torn TensorBoard record).
        let other = dir.join("other.pos");
        let out = run(&["convert", s, &dst, "--checkpoint", other.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("already holds") && err.contains("--append"),
            "{name}: {err}"
        );
    }
    // The run's metadata arrived.
    let meta = viz::metadata::MetadataLog::open(&dir.join("out-log")).unwrap();
    assert_eq!(meta.values()["optimizer"], "adam");
    assert_eq!(meta.values()["log_every"], 10);
    let db = rusqlite::Connection::open(dir.join("out.db")).unwrap();
    let optimizer: String = db
        .query_row(
            "SELECT value FROM metadata WHERE key = 'optimizer'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(optimizer, "\"adam\"");
    // And how the run ended: in file://'s status.json, sqlite://'s runs.status,
    // and TensorBoard's HPARAMS session end (status 2, failure).
    assert_eq!(
        viz::runs::read_status(&dir.join("out-log")).unwrap(),
        Some(viz::RunStatus::Failed)
    );
    let status: String = db
        .query_row("SELECT status FROM runs WHERE name = 'a'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "failed");
    let tb = std::fs::read_dir(dir.join("out-tb"))
        .unwrap()
        .flat_map(|f| std::fs::read(f.unwrap().path()).unwrap())
        .collect::<Vec<u8>>();
    assert!(
        tb.windows(26).any(|w| w == b"_hparams_/session_end_info"),
        "the TensorBoard run records how it ended"
    );
}
