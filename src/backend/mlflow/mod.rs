//! `mlflow+http://host:port?experiment=NAME&run=NAME` (and `mlflow+https://`): an
//! MLflow tracking server, reached through a durable local spool.
//!
//! `store_events` appends to the spool and syncs it, so a stored (flushed) event
//! survives a crash of the process and an outage of the server; a sender thread
//! delivers the spool to the server at least once (`src/backend/remote`), and the
//! events become MLflow metrics, params, tags and artifacts: `client` is the REST
//! client, `items` the mapping, `delivery` the protocol. docs/MLFLOW.md documents
//! the options and the mapping.

pub mod client;
pub mod delivery;
pub mod items;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{StorageBackend, ensure_initialized};
use crate::backend::remote::{Remote, Sender, SenderOptions};
use crate::backend::spool::{DEFAULT_MAX_BYTES, Spool};
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;
use crate::metadata::MetadataBatch;
use crate::url::ConnectionString;
use client::Client;
use delivery::{MlflowDelivery, RankLayout, Target};
use items::metadata_event;

/// What `store_events` does when the spool is at its size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WhenFull {
    /// Refuse the batch (`QueueFull`): the collector keeps it and retries under its
    /// retry policy, and its queue fills, so its overflow policy decides.
    Block,
    /// Drop the batch, counted in `spool_full_drops` and reported.
    Drop,
}

/// The MLflow backend (see the module documentation).
pub struct MlflowBackend {
    spool: Option<Arc<Mutex<Spool>>>,
    sender: Option<Sender>,
    remote: Remote,
    when_full: WhenFull,
    drain: Duration,
    stored: u64,
    spool_dir: PathBuf,
}

impl Default for MlflowBackend {
    fn default() -> Self {
        MlflowBackend {
            spool: None,
            sender: None,
            remote: Remote::new(),
            when_full: WhenFull::Block,
            drain: Duration::from_secs(3),
            stored: 0,
            spool_dir: PathBuf::new(),
        }
    }
}

impl MlflowBackend {
    /// A boxed, uninitialized instance, for the factory.
    pub fn boxed() -> Box<dyn StorageBackend> {
        Box::new(MlflowBackend::default())
    }

    fn spool(&self) -> Result<&Arc<Mutex<Spool>>> {
        ensure_initialized(self.spool.is_some(), "mlflow")?;
        Ok(self.spool.as_ref().expect("checked"))
    }

    fn enqueue(&mut self, events: &[Event]) -> Result<()> {
        let spool = self.spool()?.clone();
        let result = spool.lock().enqueue(events);
        match result {
            Ok(()) => {
                self.remote.set_spooled(spool.lock().next_offset());
                if let Some(sender) = &self.sender {
                    sender.notify();
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::QueueFull && self.when_full == WhenFull::Drop => {
                self.remote.add(
                    crate::backend::remote::Count::SpoolFullDrops,
                    events.len() as u64,
                );
                self.remote.warn(e.context(format_args!(
                    "{} events dropped (spool_full=drop)",
                    events.len()
                )));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// A directory name made of `s`'s safe characters.
fn dir_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl StorageBackend for MlflowBackend {
    fn type_name(&self) -> &str {
        "mlflow"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut url = ConnectionString::parse(&config.connection_string)?;
        let http = match url.scheme.as_str() {
            "mlflow+http" => "http",
            "mlflow+https" => "https",
            other => {
                return Err(VizError::invalid_config(format!(
                    "'{other}://' is not an MLflow address; use mlflow+http://host:port or mlflow+https://host"
                )));
            }
        };
        let experiment = url
            .take::<String>("experiment")?
            .unwrap_or_else(|| "Default".to_owned());
        let run = url
            .take::<String>("run")?
            .unwrap_or_else(|| "default".to_owned());
        let rank = url.take::<u32>("rank")?;
        let layout = match url.take_choice("ranks", &["shared", "children"])? {
            Some("children") => RankLayout::Children,
            _ => RankLayout::Shared,
        };
        let spool_dir = url.take::<String>("spool")?;
        let max_bytes = url
            .take::<u64>("spool_max_bytes")?
            .unwrap_or(DEFAULT_MAX_BYTES);
        self.when_full = match url.take_choice("spool_full", &["block", "drop"])? {
            Some("drop") => WhenFull::Drop,
            _ => WhenFull::Block,
        };
        let connect = url
            .take_duration("connect_timeout")?
            .unwrap_or(Duration::from_secs(3));
        let request = url
            .take_duration("request_timeout")?
            .unwrap_or(Duration::from_secs(60));
        let ca_file = url.take::<String>("ca_file")?;
        let defaults = SenderOptions::default();
        let options = SenderOptions {
            batch: url.take::<usize>("batch")?.unwrap_or(defaults.batch).max(1),
            visibility: request.saturating_mul(4).max(Duration::from_secs(60)),
            backoff_initial: url
                .take_duration("retry_initial")?
                .unwrap_or(defaults.backoff_initial),
            backoff_max: url
                .take_duration("retry_max")?
                .unwrap_or(defaults.backoff_max),
        };
        self.drain = url
            .take_duration("drain_timeout")?
            .unwrap_or(Duration::from_secs(3));
        let location = std::mem::take(&mut url.location);
        url.finish()?;
        let host = location.split('/').next().unwrap_or("");
        if host.contains('@') {
            return Err(VizError::invalid_config(
                "credentials do not belong in an mlflow+http:// address (they would show in errors); set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
            ));
        }
        if host.is_empty() {
            return Err(VizError::invalid_config(
                "mlflow+http:// needs the tracking server's host and port, such as mlflow+http://127.0.0.1:5000?experiment=exp&run=run1",
            ));
        }
        crate::runs::validate_name(&run)
            .map_err(|e| VizError::invalid_config(format!("option run: {}", e.message())))?;
        if run.contains('\'') {
            return Err(VizError::invalid_config(format!(
                "option run: {run:?} contains a single quote, which MLflow's run search cannot match"
            )));
        }
        if experiment.is_empty() || experiment.len() > 500 {
            return Err(VizError::invalid_config(
                "option experiment: MLflow experiment names are 1 to 500 characters",
            ));
        }
        let base = format!("{http}://{location}");
        let spool_dir = PathBuf::from(spool_dir.unwrap_or_else(|| {
            format!(
                ".viz-spool/{}/{}/{}/rank-{}",
                dir_name(host),
                dir_name(&experiment),
                dir_name(&run),
                rank.unwrap_or(0)
            )
        }));
        let ca_pem = match &ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                VizError::invalid_config(format!("option ca_file: cannot read {path}: {e}"))
            })?),
            None => None,
        };
        let client = Client::new(&base, connect, request, ca_pem.as_deref())?;
        let spool = Spool::open(&spool_dir, max_bytes)
            .map_err(|e| e.context(format_args!("opening the spool {}", spool_dir.display())))?;
        self.remote = Remote::new();
        {
            let oldest = spool.oldest_wall_time().ok().flatten();
            self.remote
                .observe(spool.next_offset(), spool.acked(), spool.bytes(), oldest);
        }
        let spool = Arc::new(Mutex::new(spool));
        let delivery = MlflowDelivery::new(
            client,
            self.remote.clone(),
            Target {
                experiment,
                run,
                rank,
                layout,
            },
        );
        self.sender = Some(Sender::spawn(
            "viz-mlflow-sender",
            spool.clone(),
            Box::new(delivery),
            self.remote.clone(),
            options,
        )?);
        self.spool = Some(spool);
        self.spool_dir = spool_dir;
        self.stored = 0;
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(mut sender) = self.sender.take() else {
            return Ok(());
        };
        let drained = sender.stop(Instant::now() + self.drain);
        self.spool = None;
        match drained {
            Ok(true) => Ok(()),
            Ok(false) => {
                let left = self.remote.stats().depth;
                self.remote.warn(VizError::timeout(format!(
                    "{left} events are not delivered to MLflow after the drain timeout; they stay in the spool {} and are sent when a backend opens it again",
                    self.spool_dir.display()
                )));
                Ok(())
            }
            // A hung request was cut at the drain deadline: its events stay spooled.
            Err(e) if e.kind() == crate::error::ErrorKind::Timeout => {
                self.remote
                    .warn(e.context(format_args!("spool {}", self.spool_dir.display())));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn is_initialized(&self) -> bool {
        self.spool.is_some()
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        self.enqueue(events)?;
        self.stored += events.len() as u64;
        Ok(())
    }

    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        batch.validate()?;
        let event = metadata_event(batch)?;
        self.enqueue(std::slice::from_ref(&event))
    }

    fn flush(&mut self) -> Result<()> {
        // Every store is synced to the spool before it returns: flushed means spooled.
        self.spool().map(|_| ())
    }

    fn event_count(&self) -> u64 {
        self.stored
    }

    fn clear(&mut self) -> Result<()> {
        Err(VizError::unsupported("clear", "mlflow"))
    }

    fn take_warnings(&mut self) -> Vec<VizError> {
        self.remote.take_warnings()
    }

    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        self.spool()?;
        self.remote.set_run_status(status);
        Ok(())
    }

    fn remote(&self) -> Option<Remote> {
        Some(self.remote.clone())
    }
}
