//! The C face: the checked-in header matches a fresh cbindgen run, compiles as C11
//! and C++17 with -Wall -Wextra -Werror, and C programs built against it and the
//! cdylib run correctly (tests/c/*.c), as does the C++ wrapper's test
//! (bindings/cpp/test.cpp).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn generate_header() -> String {
    let config =
        cbindgen::Config::from_file(format!("{ROOT}/cbindgen.toml")).expect("cbindgen.toml parses");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(format!("{ROOT}/src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let fresh = generate_header();
    let path = format!("{ROOT}/include/viz.h");
    if std::env::var_os("VIZ_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/viz.h differs from a fresh cbindgen run; regenerate it with \
         `VIZ_BLESS=1 cargo test --test c_abi` and commit it"
    );
}

/// The C or C++ compiler the `cc` crate picks for this target, strict warnings on.
fn compiler(cpp: bool) -> Command {
    let target = env!("VIZ_TARGET");
    let mut cmd = cc::Build::new()
        .cpp(cpp)
        .target(target)
        .host(target)
        .opt_level(0)
        .cargo_metadata(false)
        .get_compiler()
        .to_command();
    cmd.args(["-Wall", "-Wextra", "-Werror", "-I"])
        .arg(format!("{ROOT}/include"));
    cmd
}

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-c-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{text}",
        out.status
    );
    text
}

#[test]
fn header_compiles_as_c11_and_cpp17_with_strict_warnings() {
    let dir = out_dir();
    let src = dir.join("include_only.c");
    std::fs::write(&src, "#include \"viz.h\"\nint main(void) { return VIZ_ABI_VERSION == viz_abi_version() ? 0 : 1; }\n").unwrap();
    for (cpp, std) in [(false, "-std=c11"), (true, "-std=c++17")] {
        let mut cmd = compiler(cpp);
        cmd.args([std, "-x", if cpp { "c++" } else { "c" }, "-fsyntax-only"])
            .arg(&src);
        run(cmd, &format!("compiling viz.h with {std}"));
    }
}

/// The directory holding the cdylib, built on first use with the profile, target and
/// target directory of this test binary. `cargo test` links the rlib only, so without
/// this a fresh clone's `cargo test` would find no libviz.so to run the C programs on.
fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This binary is <target dir>[/<triple>]/<profile dir>/deps/c_abi-<hash>.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let profile = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let mut target_dir = dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--lib", "--manifest-path"])
            .arg(format!("{ROOT}/Cargo.toml"));
        let triple = env!("VIZ_TARGET");
        if target_dir.file_name().and_then(|n| n.to_str()) == Some(triple) {
            cmd.args(["--target", triple]);
            target_dir = target_dir.parent().unwrap();
        }
        cmd.arg("--target-dir").arg(target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        run(cmd, "building the cdylib (cargo build --lib)");
        assert!(
            dir.join("libviz.so").exists(),
            "libviz.so not found in {} after cargo build --lib",
            dir.display()
        );
        dir
    })
    .clone()
}

/// Compiles tests/c/<name>.c against viz.h and the cdylib into an executable of
/// its own for `test` (tests run in parallel); returns its path.
fn build_c(name: &str, test: &str) -> PathBuf {
    let exe = out_dir().join(format!("{name}-{test}"));
    let lib = lib_dir();
    let mut cmd = compiler(false);
    cmd.args(["-std=c11", "-g"])
        .arg(format!("{ROOT}/tests/c/{name}.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lviz", "-lpthread", "-lm"]);
    run(cmd, &format!("compiling tests/c/{name}.c"));
    exe
}

#[test]
fn c_lifecycle_and_bad_input() {
    let out = run(
        Command::new(build_c("lifecycle", "plain")),
        "running lifecycle",
    );
    assert!(out.contains("lifecycle: ok"), "{out}");
}

#[test]
fn c_every_event_kind_batches_and_bad_events() {
    let out = run(Command::new(build_c("events", "plain")), "running events");
    assert!(out.contains("events: ok"), "{out}");
}

/// bindings/cpp/viz.hpp: its test program, built as C++17 with -Wall -Wextra -Werror
/// against the cdylib, then run (also under valgrind when it is installed).
#[test]
fn cpp_wrapper_compiles_strictly_and_its_test_passes() {
    let exe = out_dir().join("cpp-wrapper");
    let lib = lib_dir();
    let mut cmd = compiler(true);
    cmd.args(["-std=c++17", "-g", "-I"])
        .arg(format!("{ROOT}/bindings/cpp"))
        .arg(format!("{ROOT}/bindings/cpp/test.cpp"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lviz", "-lpthread"]);
    run(cmd, "compiling bindings/cpp/test.cpp");
    let out = run(Command::new(&exe), "running the C++ wrapper test");
    assert!(out.contains("cpp: ok"), "{out}");
}

#[test]
fn c_hostile_sizes_configs_and_wall_times_are_refused_by_name() {
    let out = run(Command::new(build_c("hostile", "plain")), "running hostile");
    assert!(out.contains("hostile: ok"), "{out}");
}

#[test]
fn c_forked_child_cannot_write_the_parents_log_or_wait_on_its_collector() {
    let out = run(Command::new(build_c("fork", "plain")), "running fork");
    assert!(out.contains("fork: ok"), "{out}");
}

#[test]
fn c_queries_through_cursors_and_bad_queries_by_field() {
    let out = run(Command::new(build_c("query", "plain")), "running query");
    assert!(out.contains("query: ok"), "{out}");
}

#[test]
fn c_error_callbacks_get_reports_and_finalize_once() {
    let out = run(
        Command::new(build_c("on_error", "plain")),
        "running on_error",
    );
    assert!(out.contains("on_error: ok"), "{out}");
}

#[test]
fn c_aggregates_buckets_and_latest_values_from_an_index_and_a_scan() {
    let out = run(
        Command::new(build_c("aggregate", "plain")),
        "running aggregate",
    );
    assert!(out.contains("aggregate: ok"), "{out}");
}

#[test]
fn c_a_log_tail_follows_a_collectors_log() {
    let out = run(
        Command::new(build_c("log_tail", "plain")),
        "running log_tail",
    );
    assert!(out.contains("log_tail: ok"), "{out}");
}

#[test]
fn c_run_metadata_is_set_deleted_and_read_back_as_json() {
    let out = run(
        Command::new(build_c("metadata", "plain")),
        "running metadata",
    );
    assert!(out.contains("metadata: ok"), "{out}");
}

#[test]
#[ignore = "needs a real MLflow server (VIZ_MLFLOW_URI): scripts/test.sh starts one"]
fn c_mlflow_events_are_acknowledged_by_a_real_server() {
    let out = run(Command::new(build_c("mlflow", "plain")), "running mlflow");
    assert!(out.contains("mlflow: ok"), "{out}");
}

/// tests/c/s3.c against a SeaweedFS this test starts; the run it wrote is then
/// read back from the bucket alone.
#[test]
fn c_s3_sync_puts_every_segment_in_the_store() {
    let Some(server) = common::s3::Server::start() else {
        return;
    };
    let staging = std::env::temp_dir().join(format!("viz-c-s3-{}", std::process::id()));
    let bucket = server.open("viz-c");
    bucket.create_bucket().unwrap();
    let mut cmd = Command::new(build_c("s3", "plain"));
    cmd.env("VIZ_S3_ENDPOINT", &server.endpoint)
        .env("VIZ_S3_STAGING", &staging)
        .env("AWS_ACCESS_KEY_ID", &server.key)
        .env("AWS_SECRET_ACCESS_KEY", &server.secret);
    let out = run(cmd, "running s3");
    assert!(out.contains("s3: ok"), "{out}");
    let copy = staging.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for o in bucket.list("proj/c/rank-0/").unwrap() {
        if o.key.ends_with(".vzl") {
            let name = o.key.rsplit('/').next().unwrap();
            std::fs::write(copy.join(name), bucket.get(&o.key).unwrap().unwrap()).unwrap();
        }
    }
    let summary = viz::format::vizlog::LogReader::open(&copy)
        .unwrap()
        .summary()
        .unwrap();
    assert_eq!(
        summary.events, 5000,
        "every event C collected is in the bucket"
    );
    std::fs::remove_dir_all(&staging).unwrap();
}

#[test]
fn c_runs_are_listed_found_read_and_deleted_through_a_repository() {
    let out = run(Command::new(build_c("runs", "plain")), "running runs");
    assert!(out.contains("runs: ok"), "{out}");
}

#[test]
fn c_transactions_commit_together_and_roll_back_after_a_failure() {
    let out = run(
        Command::new(build_c("transaction", "plain")),
        "running transaction",
    );
    assert!(out.contains("transaction: ok"), "{out}");
}

#[test]
fn c_watchers_see_their_events_and_finalize_once() {
    let out = run(Command::new(build_c("watch", "plain")), "running watch");
    assert!(out.contains("watch: ok"), "{out}");
}

#[test]
fn c_storage_handles_and_collector_lifecycle() {
    let out = run(Command::new(build_c("storage", "plain")), "running storage");
    assert!(out.contains("storage: ok"), "{out}");
}

#[test]
fn c_host_backend_with_callbacks_and_finalizer() {
    let out = run(
        Command::new(build_c("host_backend", "plain")),
        "running host_backend",
    );
    assert!(out.contains("host_backend: ok"), "{out}");
}

#[test]
fn c_large_events_arrive_or_are_counted_and_reported_under_every_policy() {
    let out = run(
        Command::new(build_c("large_events", "plain")),
        "running large_events",
    );
    assert!(out.contains("large_events: ok"), "{out}");
}

#[test]
fn c_programs_are_clean_under_valgrind_memcheck() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "valgrind is missing on CI; scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: valgrind is not installed; `bash scripts/test.sh` installs it");
        return;
    }
    for name in [
        "lifecycle",
        "events",
        "host_backend",
        "storage",
        "hostile",
        "query",
        "watch",
        "aggregate",
        "log_tail",
        "metadata",
        "runs",
        "transaction",
    ] {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(build_c(name, "valgrind"));
        let out = run(cmd, &format!("{name} under valgrind memcheck"));
        assert!(out.contains(&format!("{name}: ok")), "{out}");
        assert!(out.contains("ERROR SUMMARY: 0 errors"), "{out}");
    }
}

#[test]
fn the_cdylib_exports_only_viz_symbols() {
    let lib = lib_dir().join("libviz.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm (binutils) is installed");
    assert!(out.status.success());
    let symbols: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    assert!(
        symbols
            .iter()
            .any(|s| s == "viz_collector_collect_scalar_id"),
        "{symbols:?}"
    );
    let foreign: Vec<&String> = symbols.iter().filter(|s| !s.starts_with("viz_")).collect();
    assert!(
        foreign.is_empty(),
        "exported without the viz_ prefix: {foreign:?}"
    );
}
