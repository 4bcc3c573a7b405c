//! TensorBoard event files read as a run (read-only): a log directory's
//! `events.out.tfevents.*` files, decoded and mapped back to viz events, held in
//! a memory:// store so every read works on them.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use viz::format::tb_proto::{self as pb, summary_value::Value};
use viz::format::tfrecord::read_prefix;
use viz::payload::{Histogram, Image};
use viz::{Event, EventData, MemoryBackend, StorageBackend, Tag};

use crate::fail::{Fail, failed, usage};

/// Whether `dir` holds TensorBoard event files.
pub fn is_event_dir(dir: &Path) -> bool {
    event_files(dir).is_ok_and(|files| !files.is_empty())
}

fn event_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The events of every event file in `dir`, in file order, in a memory store.
/// Values viz has no kind for (other plugins' tensors) are skipped and counted.
pub fn open(dir: &Path) -> Result<(Box<dyn StorageBackend>, u64), Fail> {
    let files = event_files(dir).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
    if files.is_empty() {
        return Err(usage(format!(
            "no TensorBoard event files (events.out.tfevents.*) in {}",
            dir.display()
        )));
    }
    let mut store = MemoryBackend::new();
    store.initialize("memory://")?;
    let mut skipped = 0u64;
    // The plugin a tag's first value named (later values carry no metadata).
    let mut plugins: HashMap<String, String> = HashMap::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| failed(format!("{}: {e}", file.display())))?;
        // A writer killed mid-record leaves a torn tail: read up to it, as
        // TensorBoard does; damage anywhere else is an error.
        let (records, damage) = read_prefix(&bytes);
        if let Some(e) = damage {
            if !e.message().contains("torn tail") {
                return Err(failed(format!("{}: {e}", file.display())));
            }
            eprintln!("viz: {}: {e}; read the records before it", file.display());
        }
        let mut events = Vec::new();
        for record in records {
            let event = pb::Event::decode(record)
                .map_err(|e| failed(format!("{}: not a TensorBoard event: {e}", file.display())))?;
            let Some(pb::event::What::Summary(summary)) = event.what else {
                continue;
            };
            for value in summary.value {
                if let Some(plugin) = value.metadata.and_then(|m| m.plugin_data) {
                    plugins.insert(value.tag.clone(), plugin.plugin_name);
                }
                let plugin = plugins.get(&value.tag).map_or("", String::as_str);
                let data = match (value.value, plugin) {
                    (Some(Value::SimpleValue(v)), _) => Some(EventData::Scalar(f64::from(v))),
                    (Some(Value::Histo(h)), _) => Some(EventData::Histogram(Box::new(Histogram {
                        min: h.min,
                        max: h.max,
                        num: h.num,
                        sum: h.sum,
                        sum_squares: h.sum_squares,
                        bucket_limits: h.bucket_limit,
                        bucket_counts: h.bucket,
                    }))),
                    (Some(Value::Image(i)), _) => Some(EventData::Image(Box::new(Image {
                        png: i.encoded_image_string,
                        width: i.width.max(0) as u32,
                        height: i.height.max(0) as u32,
                        channels: i.colorspace.clamp(1, 4) as u8,
                    }))),
                    (Some(Value::Tensor(t)), "text") => t
                        .string_val
                        .first()
                        .map(|s| EventData::Text(String::from_utf8_lossy(s).into_owned())),
                    (Some(Value::Tensor(t)), "scalars") if t.tensor_content.len() == 4 => {
                        let b: [u8; 4] = t.tensor_content[..4].try_into().expect("4 bytes");
                        Some(EventData::Scalar(f64::from(f32::from_le_bytes(b))))
                    }
                    _ => None,
                };
                match (data, Tag::new(&value.tag)) {
                    (Some(data), Ok(tag)) => {
                        let mut e = Event::new(tag, event.step, data);
                        e.wall_time = Some(event.wall_time);
                        events.push(e);
                    }
                    _ => skipped += 1,
                }
            }
        }
        store.store_events(&events)?;
    }
    Ok((Box::new(store), skipped))
}
