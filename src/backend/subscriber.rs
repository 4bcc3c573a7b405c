//! In-process subscribers: code that wants batches of events as they are delivered,
//! such as a live dashboard or a test probe.

use super::StorageBackend;
use crate::config::StorageConfiguration;
use crate::error::Result;
use crate::event::Event;

/// Receives delivered batches (the seed's `IEventSubscriber`).
///
/// Runs on its own delivery thread, so a slow subscriber delays only itself.
pub trait EventSubscriber: Send {
    /// Called with each delivered batch.
    fn on_events(&mut self, events: &[Event]) -> Result<()>;

    /// Called when the collector flushes.
    fn on_flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<F: FnMut(&[Event]) + Send> EventSubscriber for F {
    fn on_events(&mut self, events: &[Event]) -> Result<()> {
        self(events);
        Ok(())
    }
}

/// Presents a subscriber as a write-only backend, so the collector treats both alike.
pub(crate) struct SubscriberBackend {
    subscriber: Box<dyn EventSubscriber>,
    delivered: u64,
}

impl SubscriberBackend {
    pub(crate) fn new(subscriber: Box<dyn EventSubscriber>) -> Self {
        SubscriberBackend {
            subscriber,
            delivered: 0,
        }
    }
}

impl StorageBackend for SubscriberBackend {
    fn type_name(&self) -> &str {
        "subscriber"
    }

    fn initialize_with(&mut self, _config: &StorageConfiguration) -> Result<()> {
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        Ok(())
    }

    fn is_initialized(&self) -> bool {
        true
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        self.subscriber.on_events(events)?;
        self.delivered += events.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.subscriber.on_flush()
    }

    fn event_count(&self) -> u64 {
        self.delivered
    }

    fn clear(&mut self) -> Result<()> {
        self.delivered = 0;
        Ok(())
    }
}
