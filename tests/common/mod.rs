//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod s3;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use viz::backend::file::FileLogBackend;
use viz::{Event, Result, StorageBackend, StorageConfiguration, VizError};

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
/// Only an upper bound: tests never assert on how fast something happened.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub const LONG: Duration = Duration::from_secs(20);

/// What a [`ScriptedBackend`] does on `store_events`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// Stores the batch.
    Store,
    /// Fails the first `n` calls, then stores.
    FailFirst(u32),
    /// Always fails.
    FailAlways,
    /// Panics on every call.
    Panic,
    /// Sleeps this long, then stores.
    Slow(Duration),
}

/// A backend whose behaviour a test scripts, recording what it stored.
#[derive(Clone)]
pub struct ScriptedBackend {
    pub stored: Arc<Mutex<Vec<Event>>>,
    pub calls: Arc<AtomicU32>,
    pub flushes: Arc<AtomicU64>,
    pub shutdowns: Arc<AtomicU32>,
    pub behaviour: Behaviour,
    /// While set, store_events waits (a blocked backend); clearing it releases it.
    pub gate: Option<Arc<Mutex<()>>>,
    initialized: bool,
}

impl ScriptedBackend {
    pub fn new(behaviour: Behaviour) -> ScriptedBackend {
        ScriptedBackend {
            stored: Arc::default(),
            calls: Arc::default(),
            flushes: Arc::default(),
            shutdowns: Arc::default(),
            behaviour,
            gate: None,
            initialized: false,
        }
    }

    pub fn len(&self) -> usize {
        self.stored.lock().len()
    }
}

impl StorageBackend for ScriptedBackend {
    fn type_name(&self) -> &str {
        "scripted"
    }
    fn initialize_with(&mut self, _config: &StorageConfiguration) -> Result<()> {
        self.initialized = true;
        Ok(())
    }
    fn shutdown(&mut self) -> Result<()> {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        self.initialized = false;
        Ok(())
    }
    fn is_initialized(&self) -> bool {
        self.initialized
    }
    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            drop(gate.lock());
        }
        match self.behaviour {
            Behaviour::FailAlways => return Err(VizError::backend("scripted failure")),
            Behaviour::FailFirst(n) if call < n => {
                return Err(VizError::backend(format!("scripted failure {call}")));
            }
            Behaviour::Panic => panic!("scripted panic"),
            Behaviour::Slow(d) => std::thread::sleep(d),
            _ => {}
        }
        self.stored.lock().extend_from_slice(events);
        Ok(())
    }
    fn get_events(&self, start: i64, end: i64) -> Result<Vec<Event>> {
        Ok(self
            .stored
            .lock()
            .iter()
            .filter(|e| (start..=end).contains(&e.step))
            .cloned()
            .collect())
    }
    fn flush(&mut self) -> Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn event_count(&self) -> u64 {
        self.stored.lock().len() as u64
    }
    fn clear(&mut self) -> Result<()> {
        self.stored.lock().clear();
        Ok(())
    }
}

/// The scalar values of `events`, in order.
pub fn values(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .map(|e| match e.data {
            viz::EventData::Scalar(v) => v,
            _ => panic!("not a scalar: {e:?}"),
        })
        .collect()
}

/// A fresh directory path under the system's temp dir, unique to this test process.
pub fn temp_dir(prefix: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("viz-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A file:// log opened on `url`.
pub fn open_log(url: &str) -> FileLogBackend {
    let mut b = FileLogBackend::default();
    b.initialize(url).unwrap();
    b
}

/// The segment files of the log in `dir`, in offset order.
pub fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    viz::format::vizlog::segment_files(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// The steps of `events`, in order.
pub fn steps(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.step).collect()
}
