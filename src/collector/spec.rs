//! A whole collector described in JSON: its settings, its backends with their
//! routes, and whether to start at once. What `viz_collector_new` takes, and what
//! Rust programs can read from a config file.
//!
//! ```json
//! {"collector": {"batch_size": 1000, "strategy": "hybrid", "flush_interval_ms": 1000},
//!  "backends": ["memory://",
//!               {"url": "memory://?capacity=1000", "kinds": ["scalar"], "tag_prefixes": ["train/"]}],
//!  "start": true}
//! ```

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{Collector, CollectorBuilder, Route};
use crate::config::{CollectorConfig, StorageConfiguration};
use crate::error::{Result, VizError};
use crate::event::EventKind;

/// A collector's description, parsed and validated: build it with
/// [`CollectorSpec::builder`] or [`Collector::from_json`].
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorSpec {
    /// The collector's settings (`"collector"`; every field optional).
    pub config: CollectorConfig,
    /// The backends (`"backends"`), each with its route.
    pub backends: Vec<(StorageConfiguration, Route)>,
    /// Whether to start at once (`"start"`, default true).
    pub start: bool,
    /// Routes for the storage instances a host lends (`"storage_routes"`, one per
    /// lent storage in order, `null` for all events); see
    /// `viz_collector_new_with_storage`.
    pub storage_routes: Vec<Route>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    #[serde(default)]
    collector: CollectorConfig,
    #[serde(default)]
    backends: Vec<Value>,
    #[serde(default = "yes")]
    start: bool,
    #[serde(default)]
    storage_routes: Vec<Option<RouteEntry>>,
}

/// A lent storage's route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    kinds: Option<Vec<EventKind>>,
    #[serde(default)]
    tag_prefixes: Vec<String>,
}

/// The route of `kinds` and `tag_prefixes`; `at` names the entry in errors.
fn route_of(kinds: Option<Vec<EventKind>>, tag_prefixes: Vec<String>, at: &str) -> Result<Route> {
    let mut route = kinds.map_or_else(Route::all, |k| Route::kinds(&k));
    if route.accepts_nothing() {
        return Err(VizError::invalid_config(format!(
            "{at}: \"kinds\" is empty, so the backend would receive nothing"
        )));
    }
    for prefix in tag_prefixes {
        route = route.tag_prefix(prefix);
    }
    Ok(route)
}

fn yes() -> bool {
    true
}

/// One backend: a connection string, or an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendEntry {
    url: String,
    write_buffer_size: Option<usize>,
    flush_interval_ms: Option<u64>,
    enable_async_writes: Option<bool>,
    kinds: Option<Vec<EventKind>>,
    #[serde(default)]
    tag_prefixes: Vec<String>,
}

impl CollectorSpec {
    /// Parses and validates a spec; the error names the bad field (`backends[2]:
    /// ...`). Unknown fields are errors. Nothing is opened or started.
    pub fn from_json(json: &str) -> Result<CollectorSpec> {
        let spec: Json = serde_json::from_str(json)
            .map_err(|e| VizError::invalid_config(format!("config JSON: {e}")))?;
        spec.collector.validate()?;
        let mut backends = Vec::with_capacity(spec.backends.len());
        for (i, backend) in spec.backends.into_iter().enumerate() {
            let entry = match backend {
                Value::String(url) => BackendEntry {
                    url,
                    write_buffer_size: None,
                    flush_interval_ms: None,
                    enable_async_writes: None,
                    kinds: None,
                    tag_prefixes: Vec::new(),
                },
                other => serde_json::from_value(other)
                    .map_err(|e| VizError::invalid_config(format!("backends[{i}]: {e}")))?,
            };
            let defaults = StorageConfiguration::default();
            let storage = StorageConfiguration {
                connection_string: entry.url,
                write_buffer_size: entry
                    .write_buffer_size
                    .unwrap_or(defaults.write_buffer_size),
                flush_interval: entry
                    .flush_interval_ms
                    .map_or(defaults.flush_interval, Duration::from_millis),
                enable_async_writes: entry
                    .enable_async_writes
                    .unwrap_or(defaults.enable_async_writes),
                ..defaults
            };
            storage
                .validate()
                .map_err(|e| e.context(format_args!("backends[{i}]")))?;
            let route = route_of(entry.kinds, entry.tag_prefixes, &format!("backends[{i}]"))?;
            backends.push((storage, route));
        }
        let storage_routes = spec
            .storage_routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                None => Ok(Route::all()),
                Some(r) => route_of(r.kinds, r.tag_prefixes, &format!("storage_routes[{i}]")),
            })
            .collect::<Result<_>>()?;
        Ok(CollectorSpec {
            config: spec.collector,
            backends,
            start: spec.start,
            storage_routes,
        })
    }

    /// A builder holding the spec's settings and backends, to add more (backend
    /// objects, subscribers, an error callback) before building. `start` is the
    /// caller's to honour.
    pub fn builder(self) -> CollectorBuilder {
        self.backends.into_iter().fold(
            Collector::builder().config(self.config),
            |builder, (storage, route)| builder.backend_config(storage).route(route),
        )
    }
}

impl Collector {
    /// Builds the collector a JSON spec describes (see [`CollectorSpec`]), started
    /// unless it says `"start": false`.
    pub fn from_json(json: &str) -> Result<Collector> {
        let spec = CollectorSpec::from_json(json)?;
        let start = spec.start;
        let collector = spec.builder().build()?;
        if start {
            collector.start()?;
        }
        Ok(collector)
    }
}
