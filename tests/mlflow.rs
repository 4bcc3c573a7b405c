//! The mlflow+http:// backend. Tests marked `ignore` need a real MLflow server:
//! `scripts/test.sh` starts one on 127.0.0.1 (`scripts/mlflow-server.sh`) and runs them with
//! `VIZ_MLFLOW_URI` set. The others need no server (bad configuration, a server
//! that is not there).

mod common;

use std::time::Duration;

use common::temp_dir;
use serde_json::{Value, json};
use viz::metadata::MetadataBatch;
use viz::payload::{Histogram, Image, Tensor};
use viz::{Collector, ErrorKind, Event, EventData};

const LONG: Duration = Duration::from_secs(120);

fn server() -> String {
    std::env::var("VIZ_MLFLOW_URI").expect(
        "VIZ_MLFLOW_URI must name a running MLflow server (scripts/test.sh starts one with scripts/mlflow-server.sh)",
    )
}

/// A run name no other test (or earlier CI run) uses.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

fn url(server: &str, experiment: &str, run: &str, spool: &std::path::Path, extra: &str) -> String {
    format!(
        "mlflow+{server}?experiment={experiment}&run={run}&spool={}{extra}",
        spool.display()
    )
}

/// A started collector on `url`, and every error report it makes, as text.
fn reporting(url: &str) -> (Collector, std::sync::Arc<parking_lot::Mutex<Vec<String>>>) {
    let reports = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let seen = reports.clone();
    let collector = Collector::builder()
        .backend_url(url)
        .on_error(move |r| seen.lock().push(r.error.to_string()))
        .build_and_start()
        .unwrap();
    (collector, reports)
}

/// Reads the MLflow REST API directly, as any other client would.
struct Rest(String);

impl Rest {
    fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Value {
        let mut req = ureq::get(format!("{}/api/2.0/mlflow/{endpoint}", self.0));
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        let text = req.call().unwrap().body_mut().read_to_string().unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn post(&self, endpoint: &str, body: Value) -> Value {
        let text = ureq::post(format!("{}/api/2.0/mlflow/{endpoint}", self.0))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn run(&self, experiment: &str, name: &str) -> Value {
        let exp = self.get(
            "experiments/get-by-name",
            &[("experiment_name", experiment)],
        );
        let id = exp["experiment"]["experiment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let found = self.post(
            "runs/search",
            json!({"experiment_ids": [id], "filter": format!("attributes.run_name = '{name}'")}),
        );
        let runs = found["runs"].as_array().cloned().unwrap_or_default();
        assert_eq!(runs.len(), 1, "one run named {name}: {found}");
        runs[0].clone()
    }

    fn history(&self, run_id: &str, key: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut q = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if !token.is_empty() {
                q.push(("page_token", &token));
            }
            let page = self.get("metrics/get-history", &q);
            out.extend(page["metrics"].as_array().cloned().unwrap_or_default());
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_owned(),
                _ => return out,
            }
        }
    }

    fn artifacts(&self, run_id: &str, path: &str) -> Vec<String> {
        let listed = self.get("artifacts/list", &[("run_id", run_id), ("path", path)]);
        listed["files"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[test]
fn bad_configuration_is_refused_by_name() {
    let dir = temp_dir("mlflow", "config");
    let spool = dir.join("s");
    for (url, expect) in [
        (
            format!("mlflow+http://?spool={}", spool.display()),
            "host and port",
        ),
        (
            format!(
                "mlflow+http://user:secret@127.0.0.1:1?spool={}",
                spool.display()
            ),
            "MLFLOW_TRACKING_TOKEN",
        ),
        (
            format!(
                "mlflow+http://127.0.0.1:1?run=a/b&spool={}",
                spool.display()
            ),
            "option run",
        ),
        (
            format!(
                "mlflow+http://127.0.0.1:1?ranks=maybe&spool={}",
                spool.display()
            ),
            "ranks",
        ),
        (
            format!(
                "mlflow+http://127.0.0.1:1?retries=3&spool={}",
                spool.display()
            ),
            "unknown option 'retries'",
        ),
    ] {
        let err = viz::StorageBackendFactory::global()
            .create_url(&url)
            .err()
            .unwrap_or_else(|| panic!("{url} was accepted"));
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{url}: {err}");
        assert!(err.message().contains(expect), "{url}: {err}");
        assert!(!err.message().contains("secret"), "{err}");
    }
}

/// Nothing listens on the port: events are spooled durably, flush succeeds,
/// failures are counted and reported, and wait_acknowledged times out naming
/// what is left. A second backend on the same spool would be refused.
#[test]
fn an_absent_server_leaves_everything_spooled() {
    let dir = temp_dir("mlflow", "absent");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "mlflow+http://127.0.0.1:{port}?run=r&spool={}&retry_initial=10ms&retry_max=50ms&drain_timeout=200ms",
        dir.join("spool").display()
    );
    let (collector, reports) = reporting(&url);
    let loss = collector.intern("train/loss").unwrap();
    for step in 0..5000 {
        collector.collect_scalar(loss, step, 1.0).unwrap();
    }
    collector.flush(LONG).unwrap();
    let err = collector
        .wait_acknowledged(Duration::from_millis(300))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("5000 of the events"), "{err}");
    let remote = collector.stats().destinations[0].remote.unwrap();
    assert_eq!((remote.depth, remote.delivered), (5000, 0));
    assert!(remote.failures >= 2, "{remote:?}");
    assert!(remote.spool_bytes > 5000 * 8, "{remote:?}");
    assert!(remote.oldest_unsent_ms < 60_000, "{remote:?}");
    let second = viz::StorageBackendFactory::global().create_url(&url);
    assert!(second.is_err(), "a spool has one owner");
    collector.stop(LONG).unwrap();
    let reports = reports.lock();
    assert!(
        reports.iter().any(|r| r.contains("delivery failed")),
        "{reports:?}"
    );
    assert!(
        reports
            .iter()
            .any(|r| r.contains("not delivered to MLflow")),
        "{reports:?}"
    );
    // Still spooled for the next process.
    let q = viz::spool::Spool::open(dir.join("spool"), 1 << 30).unwrap();
    assert_eq!(q.depth(), 5000);
}

#[test]
fn a_full_spool_blocks_or_drops_as_configured() {
    let dir = temp_dir("mlflow", "full");
    let batch: Vec<Event> = (0..2000)
        .map(|s| Event::scalar("x", s, 0.0).unwrap().at(1.0))
        .collect();
    for (policy, dropping) in [("block", false), ("drop", true)] {
        let mut b = viz::StorageBackendFactory::global()
            .create_url(&format!(
                "mlflow+http://127.0.0.1:9?spool={}&spool_max_bytes=70000&spool_full={policy}&drain_timeout=10ms",
                dir.join(policy).display()
            ))
            .unwrap();
        let mut refused = None;
        for _ in 0..20 {
            if let Err(e) = b.store_events(&batch) {
                refused = Some(e);
                break;
            }
        }
        let remote = b.remote().unwrap().stats();
        if dropping {
            assert!(refused.is_none());
            assert!(remote.spool_full_drops >= 2000, "{remote:?}");
            let warnings = b.take_warnings();
            assert!(
                warnings
                    .iter()
                    .any(|w| w.message().contains("spool_full=drop"))
            );
        } else {
            let e = refused.expect("a full spool refuses the batch");
            assert_eq!(e.kind(), ErrorKind::QueueFull, "{e}");
            assert_eq!(remote.spool_full_drops, 0);
        }
        assert!(remote.spool_bytes < 70000 + 70000, "{remote:?}");
        b.shutdown().unwrap();
    }
}

fn png(side: u32, shade: u8) -> Image {
    let pixels: Vec<u8> = (0..side * side)
        .flat_map(|i| [shade, (i % 256) as u8, 0, 255])
        .collect();
    Image::from_rgba8(side, side, &pixels).unwrap()
}

/// Everything the issue lists, end to end: scalars (NaN and infinities too),
/// images, text, histograms, tensors and params, read back through MLflow's REST API.
#[test]
#[ignore = "needs a real MLflow server: scripts/test.sh starts one"]
fn events_arrive_as_mlflow_metrics_params_and_artifacts() {
    let server = server();
    let rest = Rest(server.clone());
    let dir = temp_dir("mlflow", "e2e");
    let run = unique("e2e");
    let collector = Collector::builder()
        .backend_url(&url(&server, "viz-tests", &run, &dir.join("spool"), ""))
        .build_and_start()
        .unwrap();
    collector
        .set_metadata(MetadataBatch::set([
            ("lr".to_owned(), json!(0.001)),
            ("optimizer".to_owned(), json!("adam")),
            ("tags.team".to_owned(), json!("vision")),
        ]))
        .unwrap();
    let loss = collector.intern("train/loss").unwrap();
    let n = 100_000;
    for step in 0..n {
        collector
            .collect_scalar_at(
                loss,
                step,
                1.0 / (step + 1) as f64,
                1_700_000_000.0 + step as f64 / 1000.0,
            )
            .unwrap();
    }
    for (step, v) in [(0, f64::NAN), (1, f64::INFINITY), (2, f64::NEG_INFINITY)] {
        collector
            .collect(Event::scalar("odd", step, v).unwrap())
            .unwrap();
    }
    for step in 0..10 {
        collector
            .collect(Event::new(
                viz::Tag::new("samples/input").unwrap(),
                step,
                EventData::Image(Box::new(png(8, step as u8 * 20))),
            ))
            .unwrap();
    }
    collector
        .collect(Event::text("notes", 3, "hello MLflow").unwrap())
        .unwrap();
    collector
        .collect(Event::new(
            viz::Tag::new("weights").unwrap(),
            5,
            EventData::Histogram(Box::new(
                Histogram::from_values(&[1.0, 2.0, 2.5, 9.0], 4).unwrap(),
            )),
        ))
        .unwrap();
    collector
        .collect(Event::new(
            viz::Tag::new("embedding").unwrap(),
            7,
            EventData::Tensor(Box::new(
                Tensor::from_f32(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap(),
            )),
        ))
        .unwrap();
    collector.wait_acknowledged(LONG).unwrap();
    let remote = collector.stats().destinations[0].remote.unwrap();
    assert_eq!(remote.depth, 0);
    assert_eq!(remote.rejected, 0, "{remote:?}");
    assert_eq!(remote.delivered, n as u64 + 3 + 10 + 3 + 1);
    collector.stop(LONG).unwrap();

    let found = rest.run("viz-tests", &run);
    let run_id = found["info"]["run_id"].as_str().unwrap();
    assert_eq!(found["info"]["status"], "FINISHED");
    let history = rest.history(run_id, "train/loss");
    assert_eq!(history.len(), n as usize);
    let mut steps: Vec<i64> = history
        .iter()
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..n).collect::<Vec<_>>());
    let at_7 = history.iter().find(|m| m["step"] == 7).unwrap();
    assert_eq!(at_7["value"].as_f64().unwrap(), 1.0 / 8.0);
    assert_eq!(at_7["timestamp"].as_i64().unwrap(), 1_700_000_000_007);
    let odd = rest.history(run_id, "odd");
    let mut odd: Vec<(i64, String)> = odd
        .iter()
        .map(|m| {
            let v = &m["value"];
            let text = v.as_f64().map_or_else(|| v.to_string(), |f| f.to_string());
            (m["step"].as_i64().unwrap(), text)
        })
        .collect();
    odd.sort();
    assert_eq!(
        odd,
        vec![
            (0, "\"NaN\"".to_owned()),
            // MLflow stores infinities as the largest finite doubles, as for its
            // own client.
            (1, f64::MAX.to_string()),
            (2, f64::MIN.to_string())
        ]
    );
    let params: Vec<(String, String)> = found["data"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().to_owned(),
                p["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        params.contains(&("lr".to_owned(), "0.001".to_owned())),
        "{params:?}"
    );
    assert!(
        params.contains(&("optimizer".to_owned(), "adam".to_owned())),
        "{params:?}"
    );
    let tags = found["data"]["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["key"] == "team" && t["value"] == "vision")
    );
    assert!(tags.iter().any(|t| t["key"] == "mlflow.loggedImages"));
    let images = rest.artifacts(run_id, "images");
    assert_eq!(
        images.len(),
        20,
        "10 images and their thumbnails: {images:?}"
    );
    for step in 0..10 {
        assert!(
            images.iter().any(|p| p
                .starts_with(&format!("images/samples~input+step+{step}+timestamp+"))
                && p.ends_with(".png")),
            "step {step}: {images:?}"
        );
    }
    assert_eq!(
        rest.artifacts(run_id, "text/notes"),
        vec!["text/notes/step-3.txt"]
    );
    assert_eq!(
        rest.artifacts(run_id, "histograms/weights"),
        vec!["histograms/weights/step-5.json"]
    );
    assert_eq!(
        rest.artifacts(run_id, "tensors/embedding"),
        vec!["tensors/embedding/step-7.npy"]
    );
}

/// A param's second, different value is refused by MLflow (params are immutable):
/// reported with MLflow's code, dropped and counted, and the metrics in the same
/// and later batches still arrive.
#[test]
#[ignore = "needs a real MLflow server: scripts/test.sh starts one"]
fn a_refused_item_is_dropped_and_reported_without_blocking_the_rest() {
    let server = server();
    let rest = Rest(server.clone());
    let dir = temp_dir("mlflow", "refused");
    let run = unique("refused");
    let reports = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let seen = reports.clone();
    let collector = Collector::builder()
        .backend_url(&url(&server, "viz-tests", &run, &dir.join("spool"), ""))
        .on_error(move |r| seen.lock().push(r.error.to_string()))
        .build_and_start()
        .unwrap();
    collector
        .set_metadata(MetadataBatch::set([("lr".to_owned(), json!(0.1))]))
        .unwrap();
    collector
        .collect(Event::scalar("x", 0, 1.0).unwrap())
        .unwrap();
    collector.wait_acknowledged(LONG).unwrap();
    collector
        .set_metadata(MetadataBatch::set([("lr".to_owned(), json!(0.2))]))
        .unwrap();
    for step in 1..50 {
        collector
            .collect(Event::scalar("x", step, 1.0).unwrap())
            .unwrap();
    }
    collector
        .collect(Event::scalar("bad@key", 1, 1.0).unwrap())
        .unwrap();
    collector.wait_acknowledged(LONG).unwrap();
    let remote = collector.stats().destinations[0].remote.unwrap();
    assert_eq!(remote.rejected, 2, "{remote:?}");
    // Warnings reach the error callback on the destination's next tick.
    std::thread::sleep(Duration::from_millis(300));
    collector.stop(LONG).unwrap();
    let reports = reports.lock();
    assert!(
        reports
            .iter()
            .any(|r| r.contains("INVALID_PARAMETER_VALUE") && r.contains("param 'lr'")),
        "{reports:?}"
    );
    assert!(reports.iter().any(|r| r.contains("bad@key")), "{reports:?}");
    let found = rest.run("viz-tests", &run);
    let run_id = found["info"]["run_id"].as_str().unwrap();
    assert_eq!(rest.history(run_id, "x").len(), 50);
    let lr: Vec<&Value> = found["data"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["key"] == "lr")
        .collect();
    assert_eq!(lr.len(), 1);
    assert_eq!(lr[0]["value"], "0.1", "the first value stays");
}

/// Ranks as child runs of one parent; and ranks sharing one run, keyed per rank.
#[test]
#[ignore = "needs a real MLflow server: scripts/test.sh starts one"]
fn ranks_log_into_child_runs_or_one_shared_run() {
    let server = server();
    let rest = Rest(server.clone());
    let dir = temp_dir("mlflow", "ranks");
    for layout in ["children", "shared"] {
        let run = unique(layout);
        let threads: Vec<_> = (0..3)
            .map(|rank| {
                let url = url(
                    &server,
                    "viz-tests",
                    &run,
                    &dir.join(format!("{layout}-{rank}")),
                    &format!("&rank={rank}&ranks={layout}"),
                );
                std::thread::spawn(move || {
                    let c = Collector::builder()
                        .backend_url(&url)
                        .build_and_start()
                        .unwrap();
                    for step in 0..300 {
                        c.collect(Event::scalar("loss", step, rank as f64).unwrap())
                            .unwrap();
                    }
                    c.wait_acknowledged(LONG).unwrap();
                    c.stop(LONG).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let parent = rest.run("viz-tests", &run);
        let parent_id = parent["info"]["run_id"].as_str().unwrap();
        for rank in 0..3 {
            let (run_id, key) = if layout == "children" {
                let child = rest.run("viz-tests", &format!("{run}/rank-{rank}"));
                let tags = child["data"]["tags"].as_array().unwrap();
                assert!(
                    tags.iter()
                        .any(|t| t["key"] == "mlflow.parentRunId" && t["value"] == parent_id)
                );
                (
                    child["info"]["run_id"].as_str().unwrap().to_owned(),
                    "loss".to_owned(),
                )
            } else {
                (parent_id.to_owned(), format!("rank-{rank}/loss"))
            };
            let history = rest.history(&run_id, &key);
            assert_eq!(history.len(), 300, "{layout} rank {rank}");
            assert!(
                history
                    .iter()
                    .all(|m| m["value"].as_f64() == Some(rank as f64))
            );
        }
    }
}

/// How the run ended reaches MLflow's run status; without a status it is FINISHED
/// (the end-to-end test), and a collector without such a backend says so.
#[test]
#[ignore = "needs a real MLflow server: scripts/test.sh starts one"]
fn the_run_status_is_set_at_close() {
    let server = server();
    let rest = Rest(server.clone());
    let dir = temp_dir("mlflow", "status");
    for (status, want) in [
        (viz::RunStatus::Failed, "FAILED"),
        (viz::RunStatus::Killed, "KILLED"),
    ] {
        let run = unique(want);
        let collector = Collector::builder()
            .backend_url(&url(&server, "viz-tests", &run, &dir.join(want), ""))
            .build_and_start()
            .unwrap();
        collector
            .collect(Event::scalar("x", 0, 1.0).unwrap())
            .unwrap();
        collector.set_run_status(status).unwrap();
        collector.stop(LONG).unwrap();
        assert_eq!(rest.run("viz-tests", &run)["info"]["status"], want);
    }
    let memory = Collector::builder()
        .backend_url("memory://")
        .build_and_start()
        .unwrap();
    let err = memory.set_run_status(viz::RunStatus::Failed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
}

/// A full spool under `spool_full=block` with the server away: the collector retries
/// the refused batches under its retry policy, then drops and counts them, so every
/// collected event is accounted for and the spool stays within its limit.
#[test]
fn a_full_spool_backs_up_into_the_collector_which_accounts_for_every_event() {
    let dir = temp_dir("mlflow", "backs-up");
    let collector = Collector::builder()
        .config(viz::CollectorConfig {
            retry: viz::RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(20),
                ..viz::RetryPolicy::default()
            },
            ..viz::CollectorConfig::default()
        })
        .backend_url(&format!(
            "mlflow+http://127.0.0.1:9?run=full&spool={}&spool_max_bytes=70000&drain_timeout=10ms",
            dir.join("spool").display()
        ))
        .build_and_start()
        .unwrap();
    let x = collector.intern("x").unwrap();
    let n = 20_000;
    for step in 0..n {
        collector.collect_scalar(x, step, 0.0).unwrap();
    }
    let _ = collector.flush(LONG);
    collector.stop(LONG).unwrap();
    let stats = collector.stats();
    let d = &stats.destinations[0];
    let remote = d.remote.unwrap();
    assert!(d.dropped > 0, "the spool filled: {d:?}");
    assert_eq!(
        d.written + d.dropped + stats.dropped(),
        n as u64,
        "{stats:?}"
    );
    assert_eq!(remote.depth, d.written, "what was written is spooled");
    assert!(remote.spool_bytes < 2 * 70_000, "{remote:?}");
}

/// A server that accepts connections and never answers: `close` returns about
/// `drain_timeout` after it starts, not at the caller's timeout or the request
/// timeout, and the events stay spooled for the next process.
#[test]
fn a_hung_server_does_not_hold_up_close() {
    let dir = temp_dir("mlflow", "hung");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection, reading nothing, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let url = format!(
        "mlflow+http://127.0.0.1:{port}?run=r&spool={}&drain_timeout=1s&request_timeout=8s",
        dir.join("spool").display()
    );
    let (collector, reports) = reporting(&url);
    for step in 0..100 {
        collector
            .collect(Event::scalar("train/loss", step, 1.0).unwrap())
            .unwrap();
    }
    collector.flush(LONG).unwrap();
    // Let the sender's first request reach the hung server.
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    collector.stop(Duration::from_secs(10)).unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "close took {took:?} against a 1 s drain_timeout"
    );
    assert!(
        reports.lock().iter().any(|r| r.contains("in flight")),
        "{:?}",
        reports.lock()
    );
    drop(collector);
    // The spool still holds them; its lock is free once the hung request ends, so
    // wait for that (the 8 s request timeout) only as long as needed.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        match viz::spool::Spool::open(dir.join("spool"), 1 << 30) {
            Ok(q) => {
                assert_eq!(q.depth(), 100);
                break;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// What a proxy in front of the real server does to chosen answers.
#[derive(Clone, Copy)]
enum Garble {
    /// Status 200 with an HTML page, as a captive portal or misrouted proxy sends.
    Html,
    /// Status 200 with JSON cut short of its Content-Length.
    Truncated,
}

/// A TCP proxy in front of the real MLflow server that garbles the first answers
/// to chosen endpoints and passes everything else through unchanged.
fn garbling_proxy(upstream: &str, rules: Vec<(&'static str, Garble, usize)>) -> String {
    use std::io::{Read, Write};
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rules = std::sync::Arc::new(parking_lot::Mutex::new(rules));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let (rules, upstream) = (rules.clone(), upstream.clone());
            std::thread::spawn(move || {
                // One request per connection: read its head and body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match client.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match client.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                let garble = {
                    let mut rules = rules.lock();
                    rules
                        .iter_mut()
                        .find(|(p, _, left)| path.contains(p) && *left > 0)
                        .map(|(_, g, left)| {
                            *left -= 1;
                            *g
                        })
                };
                let answer = match garble {
                    Some(Garble::Html) => {
                        let page = "<html><body>Proxy sign-in required</body></html>";
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                            page.len()
                        )
                        .into_bytes()
                    }
                    Some(Garble::Truncated) => {
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\nConnection: close\r\n\r\n{\"runs\": [{\"info\": {\"run_id\": \"ab"
                            .to_vec()
                    }
                    None => {
                        let mut request: Vec<u8> = head
                            .lines()
                            .filter(|l| {
                                !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty()
                            })
                            .flat_map(|l| format!("{l}\r\n").into_bytes())
                            .collect();
                        request.extend_from_slice(b"Connection: close\r\n\r\n");
                        request.extend_from_slice(&buf[head_end..]);
                        let Ok(mut up) = std::net::TcpStream::connect(&upstream) else {
                            return;
                        };
                        let mut answer = Vec::new();
                        if up.write_all(&request).is_err() || up.read_to_end(&mut answer).is_err()
                        {
                            return;
                        }
                        answer
                    }
                };
                let _ = client.write_all(&answer);
            });
        }
    });
    format!("http://{addr}")
}

/// 200 answers that are HTML or cut short, to the very requests that find the
/// experiment and the run: retried and reported with the status, content type and
/// the body's start, never taken as "no such run", so the run is not split in two.
#[test]
#[ignore = "needs a real MLflow server: scripts/test.sh starts one"]
fn garbled_success_answers_are_retried_and_never_split_a_run() {
    let server = server();
    let proxy = garbling_proxy(
        &server,
        vec![
            ("experiments/get-by-name", Garble::Html, 1),
            ("runs/search", Garble::Html, 1),
            ("runs/search", Garble::Truncated, 1),
        ],
    );
    let dir = temp_dir("mlflow", "garbled");
    let run = unique("garbled");
    let url = url(
        &proxy,
        "viz-garbled",
        &run,
        &dir.join("spool"),
        "&retry_initial=10ms&retry_max=50ms",
    );
    let (collector, reports) = reporting(&url);
    for step in 0..100 {
        collector
            .collect(Event::scalar("train/loss", step, step as f64).unwrap())
            .unwrap();
    }
    collector.wait_acknowledged(LONG).unwrap();
    collector.stop(LONG).unwrap();
    let rest = Rest(server);
    // Exactly one run of that name (Rest::run asserts it), holding every point.
    let found = rest.run("viz-garbled", &run);
    let run_id = found["info"]["run_id"].as_str().unwrap();
    assert_eq!(rest.history(run_id, "train/loss").len(), 100);
    let reports = reports.lock();
    assert!(
        reports.iter().any(|r| r.contains("unreadable body")
            && r.contains("text/html")
            && r.contains("Proxy sign-in")),
        "{reports:?}"
    );
}
