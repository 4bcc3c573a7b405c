//! How viz events become MLflow entities: metrics, params, tags and artifact files.
//! docs/MLFLOW.md lists the mapping for users.

use serde_json::{Value, json};

use crate::error::{Result, VizError};
use crate::event::{Event, EventData};
use crate::metadata::{Metadata, MetadataBatch};
use crate::payload::{DType, Histogram, Tensor};
use crate::tag::Tag;

/// MLflow's limits on one `runs/log-batch` request (mlflow/utils/validation.py).
pub const MAX_METRICS: usize = 1000;
/// Params per request.
pub const MAX_PARAMS: usize = 100;
/// Tags per request.
pub const MAX_TAGS: usize = 100;
/// Metrics, params and tags together per request.
pub const MAX_ITEMS: usize = 1000;
/// Bytes per request; viz keeps a margin below MLflow's 1 MB for the envelope.
pub const MAX_REQUEST_BYTES: usize = 1_000_000 - 4096;
/// Longest metric, param or tag key.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Longest tag value.
pub const MAX_TAG_VALUE_LEN: usize = 8000;

/// The content type of a spooled metadata batch (a raw event only the MLflow
/// delivery reads), so metadata changes travel the spool in order with events.
const METADATA_TYPE: &str = "application/x.viz-metadata+json";
const METADATA_TAG: &str = "\u{1}viz.metadata";

/// A metadata key whose value becomes an MLflow tag rather than a param.
pub const TAG_PREFIX: &str = "tags.";

/// One metric, param or tag of a `runs/log-batch` request, as JSON.
#[derive(Clone, Debug)]
pub struct Entity {
    /// `metrics`, `params` or `tags`.
    pub field: &'static str,
    /// The key, for errors.
    pub key: String,
    /// The JSON object sent.
    pub json: Value,
    /// Its encoded size.
    pub bytes: usize,
}

/// What a run of spooled events asks of the server.
#[derive(Debug, Default)]
pub struct Plan {
    /// Metrics, params and tags, in event order.
    pub entities: Vec<Entity>,
    /// Files to upload: path under the run's artifact root, and bytes.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// Tag keys to delete.
    pub delete_tags: Vec<String>,
    /// Items refused before sending, with why.
    pub refused: Vec<VizError>,
}

/// The spool record of a metadata batch.
pub fn metadata_event(batch: &MetadataBatch) -> Result<Event> {
    let json = serde_json::to_vec(batch)
        .map_err(|e| VizError::invalid_argument(format!("metadata batch: {e}")))?;
    let raw = crate::payload::RawBytes::new(METADATA_TYPE, json)?;
    let mut event = Event::new(Tag::new(METADATA_TAG)?, 0, EventData::Raw(Box::new(raw)));
    event.wall_time = Some(now_seconds());
    Ok(event)
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Checks a metric, param or tag key as MLflow does (`_validate_metric_name`):
/// alphanumerics, `_ - . : /` and spaces, at most 250 bytes, and no path
/// that would normalize to another (`a//b`, `./a`, `a/..`, a leading `/`).
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(format!("must be 1 to {MAX_KEY_LEN} bytes"));
    }
    if let Some(c) = key
        .chars()
        .find(|&c| !(c.is_alphanumeric() || "_-.: /".contains(c)))
    {
        return Err(format!(
            "has {c:?}; MLflow allows only alphanumerics, underscores, dashes, periods, colons, spaces and slashes"
        ));
    }
    if key.starts_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err("is not a normalized path (MLflow treats keys as file names)".to_owned());
    }
    Ok(())
}

/// A metric value as MLflow's JSON takes it: a number, or "NaN", "Infinity",
/// "-Infinity".
pub fn metric_value(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn entity(field: &'static str, key: String, json: Value) -> Entity {
    let bytes = serde_json::to_vec(&json).map_or(0, |v| v.len()) + 1;
    Entity {
        field,
        key,
        json,
        bytes,
    }
}

/// Maps spooled events (offsets `first..`) to MLflow entities and files. Metric and
/// artifact names take `prefix` (`rank-<N>/` for ranks sharing a run).
pub fn plan(first: u64, events: &[Event], prefix: &str) -> Plan {
    let mut plan = Plan::default();
    let mut images = false;
    for (i, event) in events.iter().enumerate() {
        let offset = first + i as u64;
        let key = format!("{prefix}{}", event.tag.as_str());
        let millis = (event.wall_time.unwrap_or_else(now_seconds) * 1000.0) as i64;
        let step = event.step;
        let refuse = |plan: &mut Plan, why: String| {
            plan.refused.push(VizError::invalid_argument(format!(
                "{} at step {step} cannot go to MLflow: {why}; dropped",
                event.tag.as_str()
            )))
        };
        match &event.data {
            EventData::Raw(raw)
                if raw.content_type == METADATA_TYPE && event.tag.as_str() == METADATA_TAG =>
            {
                match serde_json::from_slice::<MetadataBatch>(&raw.data) {
                    Ok(batch) => metadata(&mut plan, &batch),
                    Err(e) => refuse(&mut plan, format!("unreadable metadata batch: {e}")),
                }
            }
            EventData::Scalar(v) => match check_key(&key) {
                Ok(()) => plan.entities.push(entity(
                    "metrics",
                    key.clone(),
                    json!({"key": key, "value": metric_value(*v), "timestamp": millis, "step": step}),
                )),
                Err(why) => refuse(&mut plan, format!("metric key {key:?} {why}")),
            },
            EventData::Image(image) => match image_key(&key) {
                Ok(()) => {
                    // MLflow's log_image(key=..., step=...) layout, which its UI reads
                    // per step. The uuid part is the spool offset, so a resend
                    // overwrites instead of adding a copy.
                    let stem = format!(
                        "images/{}+step+{step}+timestamp+{millis}+viz-{offset:016x}",
                        key.replace('/', "~")
                    );
                    plan.artifacts
                        .push((format!("{stem}.png"), image.png.clone()));
                    // The UI shows the thumbnail file; viz sends the PNG itself
                    // (browsers read the format from the bytes, not the name).
                    plan.artifacts
                        .push((format!("{stem}+compressed.webp"), image.png.clone()));
                    images = true;
                }
                Err(why) => refuse(&mut plan, format!("image key {key:?} {why}")),
            },
            EventData::Text(text) => file(&mut plan, "text", &key, step, "txt", text.as_bytes().to_vec())
                .unwrap_or_else(|why| refuse(&mut plan, why)),
            EventData::Histogram(h) => file(&mut plan, "histograms", &key, step, "json", histogram_json(h, step, event.wall_time))
                .unwrap_or_else(|why| refuse(&mut plan, why)),
            EventData::Tensor(t) => file(&mut plan, "tensors", &key, step, "npy", npy(t))
                .unwrap_or_else(|why| refuse(&mut plan, why)),
            EventData::Raw(raw) => file(&mut plan, "raw", &key, step, "bin", raw.data.clone())
                .unwrap_or_else(|why| refuse(&mut plan, why)),
        }
    }
    if images {
        plan.entities.push(entity(
            "tags",
            "mlflow.loggedImages".to_owned(),
            json!({"key": "mlflow.loggedImages", "value": "true"}),
        ));
    }
    plan
}

fn image_key(key: &str) -> std::result::Result<(), String> {
    // log_image's own rule for keys.
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c))
    {
        return Err(
            "may only contain ASCII alphanumerics, underscores, dashes, periods, spaces and slashes (MLflow's rule for image keys)".to_owned(),
        );
    }
    Ok(())
}

/// Adds `<dir>/<key>/step-<step>.<ext>`.
fn file(
    plan: &mut Plan,
    dir: &str,
    key: &str,
    step: i64,
    ext: &str,
    bytes: Vec<u8>,
) -> std::result::Result<(), String> {
    if key.starts_with('/')
        || key.contains('\\')
        || key.chars().any(char::is_control)
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!(
            "artifact path {key:?} is not a plain relative path"
        ));
    }
    plan.artifacts
        .push((format!("{dir}/{key}/step-{step}.{ext}"), bytes));
    Ok(())
}

fn metadata(plan: &mut Plan, batch: &MetadataBatch) {
    for (key, value) in &batch.set {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (field, name, limit) = match key.strip_prefix(TAG_PREFIX) {
            Some(tag) => ("tags", tag, MAX_TAG_VALUE_LEN),
            None => ("params", key.as_str(), MAX_PARAM_VALUE_LEN),
        };
        let what = &field[..field.len() - 1];
        if let Err(why) = check_key(name) {
            plan.refused.push(VizError::invalid_argument(format!(
                "metadata key {key:?} cannot be an MLflow {what}: its name {why}; dropped"
            )));
        } else if text.chars().count() > limit {
            plan.refused.push(VizError::invalid_argument(format!(
                "metadata key {key:?}: its value is {} characters, over MLflow's {limit} for a {what}; dropped",
                text.chars().count()
            )));
        } else {
            plan.entities.push(entity(
                field,
                name.to_owned(),
                json!({"key": name, "value": text}),
            ));
        }
    }
    for key in &batch.delete {
        match key.strip_prefix(TAG_PREFIX) {
            Some(tag) => plan.delete_tags.push(tag.to_owned()),
            None => plan.refused.push(VizError::invalid_argument(format!(
                "metadata key {key:?} cannot be deleted: it is an MLflow param, and MLflow params are immutable"
            ))),
        }
    }
}

/// Metadata as MLflow shows it back: params as they are, tags under `tags.`.
pub fn metadata_from_run(run: &Value) -> Metadata {
    let mut out = Metadata::new();
    for p in run["data"]["params"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (p["key"].as_str(), p["value"].as_str()) {
            let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
            out.insert(k.to_owned(), value);
        }
    }
    for t in run["data"]["tags"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str())
            && !k.starts_with("mlflow.")
        {
            out.insert(format!("{TAG_PREFIX}{k}"), Value::String(v.to_owned()));
        }
    }
    out
}

fn histogram_json(h: &Histogram, step: i64, wall_time: Option<f64>) -> Vec<u8> {
    let finite = |v: f64| {
        if v.is_finite() {
            json!(v)
        } else {
            json!(v.to_string())
        }
    };
    serde_json::to_vec_pretty(&json!({
        "step": step,
        "wall_time": wall_time,
        "min": finite(h.min),
        "max": finite(h.max),
        "num": finite(h.num),
        "sum": finite(h.sum),
        "sum_squares": finite(h.sum_squares),
        "bucket_limits": h.bucket_limits.iter().map(|&v| finite(v)).collect::<Vec<_>>(),
        "bucket_counts": h.bucket_counts.iter().map(|&v| finite(v)).collect::<Vec<_>>(),
    }))
    .unwrap_or_default()
}

/// A tensor as a NumPy `.npy` file (format version 1.0), which `numpy.load` reads.
pub fn npy(t: &Tensor) -> Vec<u8> {
    let descr = match t.dtype {
        DType::F16 => "<f2",
        DType::BF16 => "<V2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
    };
    let shape = match t.shape.len() {
        0 => "()".to_owned(),
        1 => format!("({},)", t.shape[0]),
        _ => format!(
            "({})",
            t.shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        assert!(check_key("train/loss").is_ok());
        assert!(check_key("eval:acc 1.0-x_y").is_ok());
        for bad in ["", "a//b", "/a", "a/", "a/../b", "./a", "loss@1", "a\tb"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"k".repeat(251)).is_err());
    }

    #[test]
    fn non_finite_values_use_mlflow_strings() {
        assert_eq!(metric_value(f64::NAN), json!("NaN"));
        assert_eq!(metric_value(f64::INFINITY), json!("Infinity"));
        assert_eq!(metric_value(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(metric_value(0.5), json!(0.5));
    }

    #[test]
    fn npy_header_is_padded_and_describes_the_tensor() {
        let t = Tensor::from_f32(vec![2, 3], &[0.0; 6]).unwrap();
        let bytes = npy(&t);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'descr': '<f4'") && header.contains("'shape': (2, 3)"));
        assert_eq!(bytes.len(), 10 + header_len + 24);
    }

    #[test]
    fn metadata_becomes_params_and_tags_and_refuses_param_deletes() {
        let mut batch = MetadataBatch::set([
            ("lr".to_owned(), json!(0.001)),
            ("optimizer".to_owned(), json!("adam")),
            ("tags.team".to_owned(), json!("vision")),
        ]);
        batch.delete = vec!["lr".to_owned(), "tags.old".to_owned()];
        let plan = plan(0, &[metadata_event(&batch).unwrap()], "");
        let got: Vec<(&str, String)> = plan
            .entities
            .iter()
            .map(|e| (e.field, e.json.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("params", r#"{"key":"lr","value":"0.001"}"#.to_owned()),
                ("params", r#"{"key":"optimizer","value":"adam"}"#.to_owned()),
                ("tags", r#"{"key":"team","value":"vision"}"#.to_owned()),
            ]
        );
        assert_eq!(plan.delete_tags, vec!["old"]);
        assert_eq!(plan.refused.len(), 1);
        assert!(plan.refused[0].message().contains("immutable"));
    }
}
