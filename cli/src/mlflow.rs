//! An MLflow run read as a run (read-only): its metrics' full histories and its
//! params and tags, fetched over the tracking server's REST API and held in a
//! memory:// store so every read works on them.

use std::time::Duration;

use serde_json::{Value, json};
use viz::backend::mlflow::client::Client;
use viz::metadata::MetadataBatch;
use viz::{Event, MemoryBackend, StorageBackend};

use crate::fail::{Fail, failed, usage};

/// Opens `mlflow+http(s)://host:port?experiment=NAME&run=NAME`.
pub fn open(spec: &str) -> Result<Box<dyn StorageBackend>, Fail> {
    let rest = spec.strip_prefix("mlflow+").unwrap_or(spec);
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let option = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")[..]))
            .map(str::to_owned)
    };
    let experiment = option("experiment").unwrap_or_else(|| "Default".to_owned());
    let run = option("run").ok_or_else(|| usage(format!("{spec}: name the run (?run=NAME)")))?;
    let client = Client::new(
        base,
        Duration::from_secs(10),
        Duration::from_secs(120),
        None,
    )?;
    let asked = |doing: &str| {
        let doing = doing.to_owned();
        move |f: viz::backend::mlflow::client::Failure| failed(f.into_error(&doing).to_string())
    };
    let exp = client
        .get(
            "experiments/get-by-name",
            &[("experiment_name", &experiment)],
        )
        .map_err(asked(&format!(
            "finding experiment '{experiment}' on {base}"
        )))?;
    let id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let found = client
        .post(
            "runs/search",
            &json!({"experiment_ids": [id], "filter": format!("attributes.run_name = '{run}'"),
                    "order_by": ["attributes.start_time ASC"]}),
        )
        .map_err(asked(&format!("finding run '{run}'")))?;
    let Some(found) = found["runs"].as_array().and_then(|r| r.first()).cloned() else {
        return Err(usage(format!(
            "no run '{run}' in experiment '{experiment}' on {base}"
        )));
    };
    let run_id = found["info"]["run_id"].as_str().unwrap_or("").to_owned();
    let mut store = MemoryBackend::new();
    store.initialize("memory://")?;
    for metric in found["data"]["metrics"].as_array().into_iter().flatten() {
        let Some(key) = metric["key"].as_str() else {
            continue;
        };
        let mut token = String::new();
        loop {
            let mut q = vec![
                ("run_id", run_id.as_str()),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if !token.is_empty() {
                q.push(("page_token", token.as_str()));
            }
            let page = client
                .get("metrics/get-history", &q)
                .map_err(asked(&format!("reading metric '{key}'")))?;
            let mut events = Vec::new();
            for m in page["metrics"].as_array().into_iter().flatten() {
                let value = match &m["value"] {
                    Value::String(s) => match s.as_str() {
                        "Infinity" => f64::INFINITY,
                        "-Infinity" => f64::NEG_INFINITY,
                        _ => f64::NAN,
                    },
                    v => v.as_f64().unwrap_or(f64::NAN),
                };
                let step = m["step"]
                    .as_i64()
                    .or_else(|| m["step"].as_str()?.parse().ok())
                    .unwrap_or(0);
                let millis = m["timestamp"]
                    .as_i64()
                    .or_else(|| m["timestamp"].as_str()?.parse().ok())
                    .unwrap_or(0);
                events.push(Event::scalar(key, step, value)?.at(millis as f64 / 1000.0));
            }
            store.store_events(&events)?;
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_owned(),
                _ => break,
            }
        }
    }
    // Params as they are, tags under "tags.": the metadata the backend sent.
    let mut metadata = MetadataBatch::default();
    for p in found["data"]["params"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (p["key"].as_str(), p["value"].as_str()) {
            metadata.set.insert(k.to_owned(), json!(v));
        }
    }
    for t in found["data"]["tags"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str())
            && !k.starts_with("mlflow.")
        {
            metadata.set.insert(format!("tags.{k}"), json!(v));
        }
    }
    if !metadata.set.is_empty() {
        store.set_metadata(&metadata)?;
    }
    Ok(Box::new(store))
}
