//! Runs: project / run / rank layout from file:// options, ranks writing one run
//! without colliding, and the run repository: list, find by name and metadata,
//! count, exists, info, read as one run or per rank, and delete (refused while a
//! rank is being written).

mod common;

use common::{LONG, temp_dir};
use serde_json::json;
use viz::metadata::MetadataBatch;
use viz::runs::{RunFilter, RunRepository, RunStore};
use viz::{Collector, ErrorKind, Event, Order, Query, TagPattern};

fn run_collector(project: &std::path::Path, run: &str, rank: u32) -> Collector {
    Collector::builder()
        .backend_url(&format!(
            "file://{}?run={run}&rank={rank}",
            project.display()
        ))
        .build_and_start()
        .unwrap()
}

#[test]
fn ranks_of_a_run_write_apart_and_read_as_one() {
    let project = temp_dir("runs", "exp1");
    // Two ranks of "baseline" write at once, in threads, as two processes would.
    let writers: Vec<_> = (0..2u32)
        .map(|rank| {
            let project = project.clone();
            std::thread::spawn(move || {
                let c = run_collector(&project, "baseline", rank);
                c.set_metadata(MetadataBatch::set([(
                    format!("rank{rank}/host"),
                    json!("node"),
                )]))
                .unwrap();
                for step in 0..100 {
                    let v = (rank * 1000 + step as u32) as f64;
                    c.collect(
                        Event::scalar("train/loss", step, v)
                            .unwrap()
                            .at(1e9 + step as f64),
                    )
                    .unwrap();
                    c.collect(Event::scalar(&format!("rank{rank}/mem"), step, 1.0).unwrap())
                        .unwrap();
                }
                c.stop(LONG).unwrap();
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let other = run_collector(&project, "lr-0.1", 0);
    other
        .set_metadata(MetadataBatch::set([("lr".to_owned(), json!(0.1))]))
        .unwrap();
    other
        .collect(Event::scalar("train/loss", 0, 9.0).unwrap())
        .unwrap();
    other.stop(LONG).unwrap();
    drop(other);

    let repo = RunRepository::open(&project).unwrap();
    assert_eq!(repo.names().unwrap(), ["baseline", "lr-0.1"]);
    assert_eq!(repo.count().unwrap(), 2);
    assert!(repo.exists("baseline") && !repo.exists("nope") && !repo.exists("../x"));

    let info = repo.info("baseline").unwrap();
    assert_eq!(info.identity.name, "baseline");
    assert_eq!(
        info.identity.project,
        project.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(info.ranks, [0, 1]);
    assert_eq!(info.events, 400);
    assert_eq!(info.tags["train/loss"], 200);
    assert_eq!(info.tags["rank1/mem"], 100);
    assert_eq!(info.steps, Some((0, 99)));
    assert!(info.wall_time.is_some() && info.bytes > 0);
    assert_eq!(
        info.metadata.len(),
        2,
        "both ranks' metadata, shared: {:?}",
        info.metadata
    );

    // As one run, and per rank.
    let reader = repo.reader("baseline").unwrap();
    let loss = Query::all().tag(TagPattern::exact("train/loss"));
    assert_eq!(reader.query(&loss).unwrap().len(), 200);
    let top = reader
        .query(&loss.clone().order(Order::StepDesc).limit(3))
        .unwrap();
    assert_eq!(common::steps(&top), [99, 99, 98]);
    let agg = reader.aggregate(&loss).unwrap();
    assert_eq!((agg[0].count, agg[0].max), (200, 1099.0));
    let latest = reader.latest(&Query::all()).unwrap();
    assert_eq!(latest.len(), 3, "train/loss, rank0/mem, rank1/mem");
    assert_eq!(
        reader.downsample(&loss, 0, 99, 10).unwrap()[0].count,
        20,
        "ten steps of two ranks"
    );
    let rank1 = repo.rank_reader("baseline", 1).unwrap();
    assert_eq!(rank1.query(&loss).unwrap().events.len(), 100);
    let e = repo.rank_reader("baseline", 7).unwrap_err();
    assert!(e.message().contains("has no rank 7"), "{e}");

    // Find by name pattern and by metadata.
    let by_meta = repo
        .find(&RunFilter::from_json(r#"{"metadata": {"lr": 0.1}}"#).unwrap())
        .unwrap();
    assert_eq!(by_meta.len(), 1);
    assert_eq!(by_meta[0].identity.name, "lr-0.1");
    let by_name = repo
        .find(&RunFilter::from_json(r#"{"name": "base*"}"#).unwrap())
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(repo.list().unwrap().len(), 2);
    // A query over several runs, by run.
    let every = repo.query_runs(&RunFilter::default(), &loss).unwrap();
    assert_eq!(every.keys().collect::<Vec<_>>(), ["baseline", "lr-0.1"]);
    assert_eq!((every["baseline"].len(), every["lr-0.1"].len()), (200, 1));
    let e = RunFilter::from_json(r#"{"name": {"regex": "("}}"#).unwrap_err();
    assert!(e.message().contains("run filter name"), "{e}");

    // Delete: refused while a rank is written, then done with all its data.
    let writing = run_collector(&project, "lr-0.1", 0);
    let e = repo.delete("lr-0.1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.message().contains("is being written"), "{e}");
    writing.stop(LONG).unwrap();
    drop(writing);
    repo.delete("lr-0.1").unwrap();
    assert_eq!(repo.names().unwrap(), ["baseline"]);
    assert!(!project.join("lr-0.1").exists());
    let e = repo.info("lr-0.1").unwrap_err();
    assert!(e.message().contains("no run 'lr-0.1'"), "{e}");
    std::fs::remove_dir_all(&project).unwrap();
}

#[test]
fn bad_run_options_are_refused_by_name() {
    let project = temp_dir("runs", "bad");
    for (url, needle) in [
        (
            format!("file://{}?rank=1", project.display()),
            "rank needs option run",
        ),
        (
            format!("file://{}?run=a/b", project.display()),
            "path separator",
        ),
        (
            format!("file://{}?run=..", project.display()),
            "path separator",
        ),
        (
            format!("file://{}?run=x&rank=70000", project.display()),
            "rank has invalid value",
        ),
    ] {
        let e = match Collector::builder().backend_url(&url).build() {
            Err(e) => e,
            Ok(_) => panic!("{url} was accepted"),
        };
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{url}: {e}");
        assert!(e.message().contains(needle), "{url}: {e}");
    }
    let e = RunRepository::open(project.join("missing")).unwrap_err();
    assert!(e.message().contains("is not a project directory"), "{e}");
    let _ = std::fs::remove_dir_all(&project);
}
