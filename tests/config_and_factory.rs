//! Configuration validation and the backend factory.

mod common;

use std::time::Duration;

use common::{Behaviour, ScriptedBackend};
use viz::{
    CollectorConfig, ErrorKind, FlushStrategy, OverflowPolicy, StorageBackendFactory,
    StorageConfiguration,
};

fn config_error(c: &CollectorConfig) -> String {
    let e = c.validate().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    e.message().to_owned()
}

#[test]
fn collector_defaults_are_the_seeds_except_where_measured() {
    let c = CollectorConfig::default();
    // Seed: 1000 and 100; raised per docs/PERFORMANCE.md.
    assert_eq!(c.buffer_capacity, 10_000);
    assert_eq!(c.batch_size, 1000);
    assert_eq!(c.flush_interval, Duration::from_secs(1));
    assert_eq!(c.strategy, FlushStrategy::Hybrid);
    assert!(c.enable_backpressure());
    assert_eq!(c.max_queue_length, 10_000);
    c.validate().unwrap();
}

#[test]
fn collector_validation_names_field_and_value() {
    let base = CollectorConfig::default();
    let m = config_error(&CollectorConfig {
        buffer_capacity: 0,
        ..base.clone()
    });
    assert!(m.contains("buffer_capacity is 0"), "{m}");
    let m = config_error(&CollectorConfig {
        batch_size: 0,
        ..base.clone()
    });
    assert!(m.contains("batch_size is 0"), "{m}");
    let m = config_error(&CollectorConfig {
        max_queue_length: 0,
        ..base.clone()
    });
    assert!(m.contains("max_queue_length is 0"), "{m}");
    let m = config_error(&CollectorConfig {
        batch_size: 20_000,
        ..base.clone()
    });
    assert!(
        m.contains("batch_size is 20000") && m.contains("buffer_capacity is 10000"),
        "{m}"
    );
    let m = config_error(&CollectorConfig {
        flush_interval: Duration::ZERO,
        ..base.clone()
    });
    assert!(m.contains("flush_interval is 0 ms"), "{m}");
    let m = config_error(&CollectorConfig {
        block_timeout: Some(Duration::ZERO),
        ..base.clone()
    });
    assert!(m.contains("block_timeout is 0 ms"), "{m}");
    let mut retry = base.retry;
    retry.max_attempts = 0;
    let m = config_error(&CollectorConfig {
        retry,
        ..base.clone()
    });
    assert!(m.contains("retry.max_attempts is 0"), "{m}");
}

#[test]
fn collector_config_reads_json_and_rejects_unknown_fields() {
    let c = CollectorConfig::from_json(
        r#"{"batch_size": 50, "strategy": "size_based", "overflow": "drop_oldest", "flush_interval_ms": 250, "block_timeout_ms": 10}"#,
    )
    .unwrap();
    assert_eq!(c.batch_size, 50);
    assert_eq!(c.strategy, FlushStrategy::SizeBased);
    assert_eq!(c.overflow, OverflowPolicy::DropOldest);
    assert_eq!(c.flush_interval, Duration::from_millis(250));
    assert_eq!(c.block_timeout, Some(Duration::from_millis(10)));
    assert_eq!(c.buffer_capacity, 10_000, "missing fields take defaults");

    let e = CollectorConfig::from_json(r#"{"batch_sise": 5}"#).unwrap_err();
    assert!(e.message().contains("batch_sise"), "{e}");
    let e = CollectorConfig::from_json(r#"{"strategy": "sometimes"}"#).unwrap_err();
    assert!(e.message().contains("sometimes"), "{e}");
    let e = CollectorConfig::from_json(r#"{"batch_size": 0}"#).unwrap_err();
    assert!(e.message().contains("batch_size is 0"), "{e}");
    let round = serde_json::to_string(&c).unwrap();
    assert_eq!(CollectorConfig::from_json(&round).unwrap(), c);
}

#[test]
fn backpressure_switch_maps_to_overflow_policy() {
    let mut c = CollectorConfig::default();
    c.set_enable_backpressure(false);
    assert_eq!(c.overflow, OverflowPolicy::DropOldest);
    assert!(!c.enable_backpressure());
    c.set_enable_backpressure(true);
    assert_eq!(c.overflow, OverflowPolicy::Block);
}

#[test]
fn storage_configuration_validation_names_field_and_value() {
    let ok = StorageConfiguration::for_url("memory://");
    ok.validate().unwrap();
    assert_eq!(ok.resolved_type().unwrap(), "memory");

    let m = StorageConfiguration {
        write_buffer_size: 0,
        ..ok.clone()
    }
    .validate()
    .unwrap_err();
    assert!(m.message().contains("write_buffer_size is 0"), "{m}");
    let m = StorageConfiguration {
        flush_interval: Duration::ZERO,
        ..ok.clone()
    }
    .validate()
    .unwrap_err();
    assert!(m.message().contains("flush_interval is 0 ms"), "{m}");
    let m = StorageConfiguration::for_url("no-scheme-here")
        .validate()
        .unwrap_err();
    assert!(
        m.message().contains("'no-scheme-here'") && m.message().contains("<type>://"),
        "{m}"
    );
    let m = StorageConfiguration {
        backend_type: "memory".into(),
        connection_string: "file:///tmp/x".into(),
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(
        m.message().contains("scheme 'file'") && m.message().contains("backend_type 'memory'"),
        "{m}"
    );
    let m = StorageConfiguration {
        backend_type: "bad name".into(),
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(m.message().contains("'bad name'"), "{m}");
    let m = StorageConfiguration::default().validate().unwrap_err();
    assert!(m.message().contains("both empty"), "{m}");
}

#[test]
fn factory_creates_builtin_memory_backend() {
    let f = StorageBackendFactory::new();
    assert_eq!(
        f.known_types(),
        [
            "file",
            "jsonl",
            "memory",
            "mlflow",
            "s3",
            "sqlite",
            "tensorboard"
        ]
        .map(String::from)
    );
    let b = f.create_url("memory://").unwrap();
    assert!(b.is_initialized());
    assert_eq!(b.type_name(), "memory");
    let b = f.create("memory", "").unwrap();
    assert!(b.is_initialized());
}

#[test]
fn unknown_type_error_lists_known_types() {
    let f = StorageBackendFactory::new();
    f.register("scripted", || {
        Box::new(ScriptedBackend::new(Behaviour::Store))
    })
    .unwrap();
    let e = f.create_url("tensorbored:///tmp/x").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::UnknownBackendType);
    assert!(e.message().contains("'tensorbored'"), "{e}");
    assert!(
        e.message().contains(
            "known types: file, jsonl, memory, mlflow, s3, scripted, sqlite, tensorboard"
        ),
        "{e}"
    );
}

#[test]
fn runtime_registration_and_unregistration() {
    let f = StorageBackendFactory::new();
    f.register("scripted", || {
        Box::new(ScriptedBackend::new(Behaviour::Store))
    })
    .unwrap();
    assert!(f.is_registered("scripted"));
    let b = f.create_url("scripted://anything").unwrap();
    assert_eq!(b.type_name(), "scripted");
    assert!(b.is_initialized());
    // `type+transport` schemes resolve to `type`.
    assert!(f.create_url("scripted+http://host:1/x").is_ok());

    let e = f
        .register("scripted", || {
            Box::new(ScriptedBackend::new(Behaviour::Store))
        })
        .unwrap_err();
    assert!(e.message().contains("already registered"), "{e}");
    let e = f
        .register("no spaces", || {
            Box::new(ScriptedBackend::new(Behaviour::Store))
        })
        .unwrap_err();
    assert!(e.message().contains("cannot register backend type"), "{e}");

    assert!(f.unregister("scripted"));
    assert!(!f.unregister("scripted"));
    assert_eq!(
        f.create_url("scripted://x").err().unwrap().kind(),
        ErrorKind::UnknownBackendType
    );
}

#[test]
fn global_factory_reaches_the_collector_builder() {
    let f = StorageBackendFactory::global();
    f.register("globally-scripted", || {
        Box::new(ScriptedBackend::new(Behaviour::Store))
    })
    .unwrap();
    let collector = viz::Collector::builder()
        .backend_url("globally-scripted://")
        .build_and_start()
        .unwrap();
    assert_eq!(collector.destination_names(), vec!["scripted#0"]);
    collector.stop(Duration::from_secs(5)).unwrap();
    assert!(f.unregister("globally-scripted"));
}

#[test]
fn memory_connection_string_options_are_validated() {
    let f = StorageBackendFactory::new();
    assert!(f.create_url("memory://?capacity=10").is_ok());
    let e = f.create_url("memory://?capacity=ten").err().unwrap();
    assert!(
        e.message()
            .contains("option capacity has invalid value 'ten'"),
        "{e}"
    );
    let e = f.create_url("memory://?capacity=0").err().unwrap();
    assert!(e.message().contains("capacity"), "{e}");
    let e = f.create_url("memory://?capasity=10").err().unwrap();
    assert!(e.message().contains("unknown option 'capasity'"), "{e}");
    let e = f.create_url("memory://somewhere").err().unwrap();
    assert!(e.message().contains("takes no location"), "{e}");
    let e = f.create_url("memory://?capacity").err().unwrap();
    assert!(e.message().contains("has no value"), "{e}");
}
