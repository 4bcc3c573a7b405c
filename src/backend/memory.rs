//! The `memory://` backend: events kept in process memory, queryable by step range.
//!
//! [`MemoryBackend`] is a cheap-to-clone handle, so a program can give one clone to a
//! collector and read through another while training runs.
//! Options: `memory://?capacity=N` keeps only the newest N events.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{StorageBackend, ensure_initialized};
use crate::config::StorageConfiguration;
use crate::error::{Result, VizError};
use crate::event::Event;
use crate::url::ConnectionString;

#[derive(Default)]
struct Store {
    events: VecDeque<Event>,
    metadata: crate::metadata::Metadata,
    capacity: Option<usize>,
    evicted: u64,
    initialized: bool,
}

/// Thread-safe in-memory storage with an optional capacity.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    store: Arc<RwLock<Store>>,
}

impl MemoryBackend {
    /// An unbounded, uninitialized memory backend.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// An initialized memory backend keeping at most `capacity` events (`None`: no limit).
    pub fn with_capacity(capacity: Option<usize>) -> Result<MemoryBackend> {
        if capacity == Some(0) {
            return Err(VizError::invalid_config(
                "memory capacity is 0; it must be at least 1",
            ));
        }
        let backend = MemoryBackend::new();
        {
            let mut store = backend.store.write();
            store.capacity = capacity;
            store.initialized = true;
        }
        Ok(backend)
    }

    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(MemoryBackend::new())
    }

    /// Events dropped to respect the capacity.
    pub fn evicted(&self) -> u64 {
        self.store.read().evicted
    }

    /// Every event held, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.store.read().events.iter().cloned().collect()
    }

    /// Number of events held now (event_count also counts evicted ones).
    pub fn len(&self) -> usize {
        self.store.read().events.len()
    }

    /// Whether no events are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl StorageBackend for MemoryBackend {
    fn type_name(&self) -> &str {
        "memory"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut capacity = None;
        if !config.connection_string.is_empty() {
            let mut url = ConnectionString::parse(&config.connection_string)?;
            capacity = url.take::<usize>("capacity")?;
            if !url.location.is_empty() {
                return Err(VizError::invalid_config(format!(
                    "memory:// takes no location, got '{}'",
                    url.location
                )));
            }
            url.finish()?;
        }
        if capacity == Some(0) {
            return Err(VizError::invalid_config(
                "option capacity has invalid value '0' for a memory:// (it must be at least 1)",
            ));
        }
        let mut store = self.store.write();
        store.capacity = capacity;
        store.initialized = true;
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        self.store.write().initialized = false;
        Ok(())
    }

    fn is_initialized(&self) -> bool {
        self.store.read().initialized
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        let mut store = self.store.write();
        ensure_initialized(store.initialized, "memory")?;
        if let Some(cap) = store.capacity {
            let overflow = (store.events.len() + events.len()).saturating_sub(cap);
            let from_old = overflow.min(store.events.len());
            store.events.drain(..from_old);
            store.evicted += overflow as u64;
            let skip = overflow - from_old;
            store.events.extend(events[skip..].iter().cloned());
        } else {
            store.events.extend(events.iter().cloned());
        }
        Ok(())
    }

    fn get_events(&self, start_step: i64, end_step: i64) -> Result<Vec<Event>> {
        let store = self.store.read();
        Ok(store
            .events
            .iter()
            .filter(|e| (start_step..=end_step).contains(&e.step))
            .cloned()
            .collect())
    }

    fn set_metadata(&mut self, batch: &crate::metadata::MetadataBatch) -> Result<()> {
        ensure_initialized(self.store.read().initialized, "memory")?;
        batch.validate()?;
        batch.apply(&mut self.store.write().metadata);
        Ok(())
    }

    fn metadata(&self) -> Result<crate::metadata::Metadata> {
        let store = self.store.read();
        ensure_initialized(store.initialized, "memory")?;
        Ok(store.metadata.clone())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn event_count(&self) -> u64 {
        let store = self.store.read();
        store.events.len() as u64 + store.evicted
    }

    fn clear(&mut self) -> Result<()> {
        let mut store = self.store.write();
        store.events.clear();
        store.evicted = 0;
        Ok(())
    }
}
