//! The backend factory (the seed's `StorageBackendFactory`): type name → constructor,
//! with the built-in types pre-registered and more registered at run time (the C ABI
//! registers host callback backends here).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

use crate::backend::{BUILTIN, StorageBackend};
use crate::config::StorageConfiguration;
use crate::error::{ErrorKind, Result, VizError};

type Constructor = Arc<dyn Fn() -> Box<dyn StorageBackend> + Send + Sync>;

/// Creates backends by type name.
pub struct StorageBackendFactory {
    types: RwLock<BTreeMap<String, Constructor>>,
}

static GLOBAL: LazyLock<StorageBackendFactory> = LazyLock::new(StorageBackendFactory::new);

impl Default for StorageBackendFactory {
    fn default() -> Self {
        StorageBackendFactory::new()
    }
}

impl StorageBackendFactory {
    /// A factory knowing the built-in types.
    pub fn new() -> StorageBackendFactory {
        let factory = StorageBackendFactory {
            types: RwLock::new(BTreeMap::new()),
        };
        for &(name, ctor) in BUILTIN {
            factory
                .register(name, ctor)
                .expect("built-in backend names are unique");
        }
        factory
    }

    /// The process-wide factory, used by the collector builder and the C ABI.
    pub fn global() -> &'static StorageBackendFactory {
        &GLOBAL
    }

    /// Registers `type_name`. Fails if the name is taken or malformed.
    pub fn register<F>(&self, type_name: &str, constructor: F) -> Result<()>
    where
        F: Fn() -> Box<dyn StorageBackend> + Send + Sync + 'static,
    {
        StorageConfiguration {
            backend_type: type_name.to_owned(),
            ..StorageConfiguration::default()
        }
        .validate()
        .map_err(|e| e.context("cannot register backend type"))?;
        let mut types = self.types.write();
        if types.contains_key(type_name) {
            return Err(VizError::invalid_argument(format!(
                "backend type '{type_name}' is already registered; unregister it first"
            )));
        }
        types.insert(type_name.to_owned(), Arc::new(constructor));
        Ok(())
    }

    /// Removes `type_name`; returns whether it was registered. Backends already
    /// created from it are unaffected.
    pub fn unregister(&self, type_name: &str) -> bool {
        self.types.write().remove(type_name).is_some()
    }

    /// Registered type names, sorted.
    pub fn known_types(&self) -> Vec<String> {
        self.types.read().keys().cloned().collect()
    }

    /// Whether `type_name` is registered.
    pub fn is_registered(&self, type_name: &str) -> bool {
        self.types.read().contains_key(type_name)
    }

    /// Creates and initializes a backend of `type_name` from `connection_string`
    /// (empty means `<type_name>://`).
    pub fn create(
        &self,
        type_name: &str,
        connection_string: &str,
    ) -> Result<Box<dyn StorageBackend>> {
        self.create_from_config(&StorageConfiguration {
            backend_type: type_name.to_owned(),
            connection_string: connection_string.to_owned(),
            ..StorageConfiguration::default()
        })
    }

    /// Creates and initializes a backend from a connection string, its type taken
    /// from the scheme (`memory://`, `file:///runs/a`).
    ///
    /// A plain path to something that exists opens what is there, detected as
    /// the `viz` command does ([`detect`]): a file:// log, a TensorBoard run, a
    /// SQLite file or a JSON Lines file.
    pub fn create_url(&self, connection_string: &str) -> Result<Box<dyn StorageBackend>> {
        if !connection_string.contains("://") {
            let url = detect(std::path::Path::new(connection_string))?;
            return self.create_from_config(&StorageConfiguration::for_url(&url));
        }
        self.create_from_config(&StorageConfiguration::for_url(connection_string))
    }

    /// Creates and initializes a backend from a validated configuration.
    pub fn create_from_config(
        &self,
        config: &StorageConfiguration,
    ) -> Result<Box<dyn StorageBackend>> {
        config.validate()?;
        let requested = config.resolved_type()?;
        let constructor = self.lookup(&requested)?;
        let mut config = config.clone();
        if config.connection_string.is_empty() {
            config.connection_string = format!("{requested}://");
        }
        // The constructor and initialize may be host code: no factory lock is held here.
        let mut backend = constructor();
        backend.initialize_with(&config).map_err(|e| {
            e.context(format_args!(
                "initializing '{}'",
                crate::url::redacted(&config.connection_string)
            ))
        })?;
        Ok(backend)
    }

    /// The constructor for `name`, or for its part before `+` (`mlflow+http` → `mlflow`).
    fn lookup(&self, name: &str) -> Result<Constructor> {
        let types = self.types.read();
        let base = name.split('+').next().unwrap_or(name);
        types
            .get(name)
            .or_else(|| types.get(base))
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = types.keys().map(String::as_str).collect();
                VizError::new(
                    ErrorKind::UnknownBackendType,
                    format!(
                        "unknown backend type '{name}'; known types: {}",
                        known.join(", ")
                    ),
                )
            })
    }
}

/// The runs at `location`: a `sqlite://` file's
/// ([`crate::backend::sqlite::SqliteRuns`]), or else a project directory's
/// ([`crate::runs::RunRepository`]).
pub fn open_runs(location: &str) -> Result<Box<dyn crate::runs::RunStore + Send + Sync>> {
    match location.strip_prefix("sqlite://") {
        Some(path) => Ok(Box::new(crate::backend::sqlite::SqliteRuns::open(path)?)),
        None => Ok(Box::new(crate::runs::RunRepository::open(location)?)),
    }
}

/// The connection string for what a plain path holds: `file://` for a directory
/// of log segments (`*.vzl`), `tensorboard://` for a directory of event files,
/// `sqlite://` for a SQLite database (its magic header), `jsonl://` for a `.jsonl`
/// file. Anything else (or nothing there) is refused, naming the path and what
/// was looked for.
pub fn detect(path: &std::path::Path) -> Result<String> {
    let shown = path.display();
    let entries = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    if path.is_dir() {
        let names = entries(path);
        if names.iter().any(|n| n.ends_with(".vzl")) {
            return Ok(format!("file://{shown}"));
        }
        if names.iter().any(|n| n.contains("tfevents")) {
            return Ok(format!("tensorboard://{shown}"));
        }
        return Err(VizError::invalid_config(format!(
            "{shown} holds neither log segments (*.vzl) nor TensorBoard event files; give <type>://<location> to create a store there"
        )));
    }
    if path.is_file() {
        let mut magic = [0u8; 16];
        let n = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
            .map_err(|e| VizError::from(e).context(format_args!("reading {shown}")))?;
        if n == 16 && &magic == b"SQLite format 3\0" {
            return Ok(format!("sqlite://{shown}"));
        }
        if path.extension().is_some_and(|x| x == "jsonl") {
            return Ok(format!("jsonl://{shown}"));
        }
        return Err(VizError::invalid_config(format!(
            "{shown} is neither a SQLite database nor a .jsonl file; give <type>://<location>"
        )));
    }
    Err(VizError::invalid_config(format!(
        "nothing at {shown}, and it is not of the form <type>://<location> (such as memory:// or file:///runs/a); a plain path opens an existing log directory, TensorBoard run, SQLite file or .jsonl file"
    )))
}
