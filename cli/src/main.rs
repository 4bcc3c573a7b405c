//! `viz`: inspect, query, follow, plot, verify and convert viz runs from a terminal.
//!
//! Exit codes: 0 on success, 1 on a failed check or operation, 2 on bad usage.
//! Errors go to stderr in one line.

mod commands;
mod convert;
mod fail;
mod mlflow;
mod out;
mod plot;
mod select;
mod source;
mod tensorboard;

use clap::{Parser, Subcommand};

use crate::out::Format;
use crate::select::{OrderArg, Selection};

/// Inspect, query, follow, plot, verify and convert viz runs.
///
/// RUN is a log directory (file://), a run directory of a project (its rank-N
/// logs read as one), sqlite://FILE?run=NAME, jsonl://FILE, a directory of
/// TensorBoard event files (tensorboard://DIR), or an MLflow run
/// (mlflow+http://HOST:PORT?experiment=NAME&run=NAME); the last two read-only.
#[derive(Parser, Debug)]
#[command(name = "viz", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A table of the runs under a project directory or in a SQLite file.
    #[command(after_help = "Example:\n  viz runs runs/\n  viz runs sqlite://exp.db --json")]
    Runs {
        /// A project directory (default: .) or sqlite://<file>.
        #[arg(default_value = ".")]
        root: String,
        /// One JSON object per run, for machines.
        #[arg(long)]
        json: bool,
    },
    /// Each tag of a run: kind, count, step range, and first/last/min/max of scalars.
    #[command(after_help = "Example:\n  viz tags runs/resnet/log")]
    Tags {
        /// The run.
        run: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Events a query selects, or their aggregates or downsampled buckets.
    #[command(
        after_help = "Examples:\n  viz query runs/a/log --tag 'train/*' --steps 1000..2000 --where 'value < 0.1' --limit 20 --order desc\n  viz query runs/a/log --tag train/loss --agg mean --buckets 100\n  viz query runs/a/log --tag train/loss --format csv | head"
    )]
    Query {
        /// The run.
        run: String,
        #[command(flatten)]
        select: Selection,
        /// Order of the events.
        #[arg(long, value_enum, default_value = "stored")]
        order: OrderArg,
        /// Events to skip, after ordering.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Most events to print.
        #[arg(long)]
        limit: Option<usize>,
        /// Per-tag statistics of the selected scalars instead of events:
        /// count, min, max, mean, first or last.
        #[arg(long, value_enum)]
        agg: Option<commands::Agg>,
        /// With --agg: the statistic per step bucket, this many buckets over the
        /// selected steps (one tag), through the read side's downsampling.
        #[arg(long, requires = "agg")]
        buckets: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Print a run's events as another process writes them.
    #[command(after_help = "Example:\n  viz tail -f runs/a/log --tag 'train/*'")]
    Tail {
        /// The run (a log directory).
        run: String,
        /// Keep following new events until Ctrl-C.
        #[arg(short, long)]
        follow: bool,
        /// Tags to print (exact or glob; repeatable).
        #[arg(long = "tag", short = 't')]
        tags: Vec<String>,
        /// Events to show from the end before following (default 10).
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
    },
    /// A line chart of scalar tags in the terminal, or as a PNG.
    #[command(
        after_help = "Examples:\n  viz plot runs/a/log --tag train/loss --tag eval/loss\n  viz plot runs/a/log --tag train/loss --png loss.png --width 800 --height 400"
    )]
    Plot {
        /// The run.
        run: String,
        /// Scalar tags to draw (repeatable).
        #[arg(long = "tag", short = 't', required = true)]
        tags: Vec<String>,
        /// Steps to draw, inclusive: A..B.
        #[arg(long)]
        steps: Option<String>,
        /// Write a PNG here instead of drawing in the terminal.
        #[arg(long)]
        png: Option<std::path::PathBuf>,
        /// Width: terminal columns, or PNG pixels.
        #[arg(long)]
        width: Option<u32>,
        /// Height: terminal rows, or PNG pixels.
        #[arg(long)]
        height: Option<u32>,
    },
    /// Check every segment, index and CRC (PRAGMA integrity_check for SQLite);
    /// exit 1 and report each damage with its offset if any.
    #[command(after_help = "Example:\n  viz verify runs/a/log")]
    Verify {
        /// The run.
        run: String,
    },
    /// Do the recovery the writer does on open: cut a torn tail, rebuild stale
    /// indexes, remove stray temporary files; report what was kept and dropped.
    #[command(after_help = "Example:\n  viz repair runs/a/log")]
    Repair {
        /// The run (a log directory; no writer may have it open).
        run: String,
    },
    /// Copy a run between backends by connection string, resumably and exactly once.
    #[command(
        after_help = "Examples:\n  viz convert runs/a/log tensorboard://tb/a\n  viz convert runs/a/log 'sqlite://exp.db?run=a'\n  viz convert runs/a/log 'mlflow+http://127.0.0.1:5000?experiment=e&run=a'"
    )]
    Convert {
        /// The run to copy.
        src: String,
        /// Where to: any connection string (file://, sqlite://, jsonl://,
        /// tensorboard://, mlflow+http://).
        dst: String,
        #[command(flatten)]
        select: Selection,
        /// Events read and written at a time.
        #[arg(long, default_value_t = 100_000)]
        batch: usize,
        /// The file that keeps the copy's position, so an interrupted copy resumes
        /// (default: one per source and destination in the temporary directory).
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
        /// Copy even into a destination that already holds events, or again after
        /// a finished copy (without it, the first is refused and the second a no-op).
        #[arg(long)]
        append: bool,
    },
    /// Size, events per kind, and the write rate over time.
    #[command(after_help = "Example:\n  viz stats runs/a/log")]
    Stats {
        /// The run.
        run: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Runs { root, json } => commands::runs(&root, json),
        Command::Tags { run, format } => commands::tags(&run, format),
        Command::Query {
            run,
            select,
            order,
            offset,
            limit,
            agg,
            buckets,
            format,
        } => commands::query(
            &run,
            &select,
            commands::Paging {
                order,
                offset,
                limit,
            },
            agg,
            buckets,
            format,
        ),
        Command::Tail {
            run,
            follow,
            tags,
            lines,
        } => commands::tail(&run, follow, &tags, lines),
        Command::Plot {
            run,
            tags,
            steps,
            png,
            width,
            height,
        } => plot::plot(&run, &tags, steps.as_deref(), png.as_deref(), width, height),
        Command::Verify { run } => commands::verify(&run),
        Command::Repair { run } => commands::repair(&run),
        Command::Convert {
            src,
            dst,
            select,
            batch,
            checkpoint,
            append,
        } => convert::convert(&src, &dst, &select, batch, checkpoint, append),
        Command::Stats { run, format } => commands::stats(&run, format),
    };
    if let Err(f) = result {
        eprintln!("viz: {}", f.message);
        std::process::exit(f.code);
    }
}
