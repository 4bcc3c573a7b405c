//! Evidence for the hot path's promises: `collect_scalar` with an interned tag
//! allocates nothing and makes no system call (so it takes no blocking lock and
//! wakes no thread), while the worker drains concurrently.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use viz::{Collector, CollectorConfig};

/// Counts allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn collector(queue: usize) -> Collector {
    Collector::builder()
        .config(CollectorConfig {
            max_queue_length: queue,
            ..CollectorConfig::default()
        })
        .backend_url("memory://?capacity=1000")
        .build_and_start()
        .unwrap()
}

#[test]
fn collect_scalar_allocates_nothing() {
    let c = collector(200_000);
    let tag = c.intern("hot/alloc").unwrap();
    // The first push from a thread allocates its lane, once.
    c.collect_scalar(tag, -1, 0.0).unwrap();
    let before = ALLOCATIONS.with(Cell::get);
    for step in 0..100_000 {
        c.collect_scalar(tag, step, step as f64).unwrap();
    }
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(after - before, 0, "collect_scalar allocated");
    // And the events are real: they all arrive.
    c.flush(Duration::from_secs(20)).unwrap();
    assert_eq!(c.stats().written, 100_001);
}

/// Whether wall-clock reads are served by the vDSO here (no system call).
fn vdso_clock() -> bool {
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .unwrap_or_default();
    matches!(
        source.trim(),
        "tsc" | "kvm-clock" | "arch_sys_counter" | "hyperv_clocksource_tsc_page"
    )
}

static DONE: AtomicBool = AtomicBool::new(false);
static PRODUCER_TID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Runs in a child process: the producing thread enters seccomp strict mode, where
/// any system call but read, write, exit and sigreturn kills that thread. The main
/// thread watches for the thread's death in /proc and reports it.
#[cfg(target_os = "linux")]
fn child_collects_under_seccomp() {
    let c = collector(400_000);
    let tag = c.intern("hot/seccomp").unwrap();
    let with_clock = vdso_clock();
    std::thread::scope(|s| {
        s.spawn(|| {
            c.collect_scalar(tag, -1, 0.0).unwrap();
            // SAFETY: gettid has no preconditions.
            PRODUCER_TID.store(unsafe { libc::gettid() }, Ordering::Release);
            // SAFETY: prctl with these arguments only changes this thread's filter.
            let rc =
                unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_STRICT, 0, 0, 0) };
            assert_eq!(rc, 0, "seccomp strict mode unavailable");
            let mut ok = true;
            for step in 0..200_000 {
                let r = if with_clock {
                    c.collect_scalar(tag, step, 1.0)
                } else {
                    c.collect_scalar_at(tag, step, 1.0, 1.0)
                };
                ok &= r.is_ok();
            }
            if ok {
                DONE.store(true, Ordering::Release);
            }
            // Leaving the thread would run clean-up code that makes system calls;
            // park here without any (the process exits from the main thread).
            loop {
                std::hint::spin_loop();
            }
        });
        while !DONE.load(Ordering::Acquire) {
            let tid = PRODUCER_TID.load(Ordering::Acquire);
            if tid != 0 && !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
                println!("SECCOMP-KILLED: the producing thread made a system call");
                std::process::exit(4);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        c.flush(Duration::from_secs(20)).unwrap();
        let written = c.stats().written;
        println!("SECCOMP-OK written={written} clock={with_clock}");
        std::process::exit(if written == 200_001 { 0 } else { 3 });
    });
}

#[cfg(target_os = "linux")]
#[test]
fn collect_scalar_makes_no_system_call() {
    if std::env::var_os("VIZ_SECCOMP_CHILD").is_some() {
        child_collects_under_seccomp();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "collect_scalar_makes_no_system_call",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VIZ_SECCOMP_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("SECCOMP-KILLED"), "{stdout}");
    assert!(
        out.status.success(),
        "child failed: {:?}\n{stdout}",
        out.status
    );
    assert!(stdout.contains("SECCOMP-OK written=200001"), "{stdout}");
    if !stdout.contains("clock=true") {
        eprintln!(
            "note: this machine's clock source is not vDSO-served; only the queue path was checked"
        );
    }
}
