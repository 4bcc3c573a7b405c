//! The `tensorboard://<logdir>` backend: TensorBoard event files.
//!
//! One file per backend, named `events.out.tfevents.<10-digit secs>.<host>.<pid>.<n>`,
//! kept open for the writer's life behind a buffer. Records are TFRecord-framed Event
//! protos; the first is `file_version: "brain.Event:2"`. A flush writes the buffer
//! out and (with `fsync=flush`, the default) syncs the file, so a collector flush
//! reaches the disk. A write that fails part way (a full disk, a size limit) is cut
//! off the file and the batch forgotten, so TensorBoard never meets a torn record
//! and the collector's retry stores the batch exactly once.
//!
//! How each kind is written: scalars as `simple_value`; histograms as
//! `HistogramProto`; images as `Summary.Image` (PNG); text as plugin `text` with a
//! DT_STRING tensor; tensors as `TensorProto`; raw bytes as a DT_STRING tensor with
//! plugin `viz_raw` (its content type in the plugin content). Plugin metadata goes on
//! a tag's first value only, since readers take it from there. Run metadata becomes
//! the hparams plugin's session start summary (`set_metadata`), and a session end
//! summary on shutdown.
//!
//! Options: `fsync=flush|never`.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;

use super::appender::Appender;
use super::{StorageBackend, ensure_initialized};
use crate::config::StorageConfiguration;
use crate::error::{Result, VizError};
use crate::event::{Event, EventData};
use crate::format::tb_proto::{self as pb, data_type, hparams_plugin_data as hparams_data};
use crate::format::tfrecord::write_record;
use crate::metadata::{Metadata, MetadataBatch};
use crate::payload::DType;
use crate::tag::TagId;
use crate::url::ConnectionString;
use serde_json::Value;

/// Distinguishes files a process creates in the same second.
static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes are made in multiples of this between flushes.
const CHUNK: usize = 1 << 16;

/// Writes TensorBoard event files.
#[derive(Default)]
pub struct TensorBoardBackend {
    /// The log directory, once initialized.
    dir: Option<PathBuf>,
    /// The event file, created at the first write: a backend opened only to read
    /// (a `Storage` in Python or C#) leaves the run directory as it was.
    path: Option<PathBuf>,
    out: Option<Appender>,
    fsync: bool,
    with_metadata: HashSet<TagId>,
    /// Tags given metadata by the batch being stored, to forget if it fails.
    metadata_added: Vec<TagId>,
    written: u64,
    buffer: Vec<u8>,
    /// Hyperparameters written so far (run metadata), for the hparams plugin.
    hparams: Metadata,
    /// How the run ended, for the session end summary.
    status: crate::runs::RunStatus,
}

impl TensorBoardBackend {
    pub(crate) fn boxed() -> Box<dyn StorageBackend> {
        Box::new(TensorBoardBackend::default())
    }

    /// The event file being written, once initialized.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends an hparams plugin summary under `tag`.
    fn append_hparams(&mut self, tag: &str, data: hparams_data::Data) {
        let content = pb::HParamsPluginData {
            version: 0,
            data: Some(data),
        }
        .encode_to_vec();
        let value = pb::SummaryValue {
            tag: tag.to_owned(),
            metadata: Some(pb::SummaryMetadata {
                plugin_data: Some(pb::PluginData {
                    plugin_name: "hparams".to_owned(),
                    content,
                }),
                ..Default::default()
            }),
            // The summary carries only metadata; readers expect an (empty) tensor.
            value: Some(pb::summary_value::Value::Tensor(pb::TensorProto {
                dtype: data_type::FLOAT,
                tensor_shape: Some(shape(&[0])),
                tensor_content: Vec::new(),
                string_val: Vec::new(),
            })),
        };
        self.append_event(&pb::Event {
            wall_time: now_secs(),
            step: 0,
            what: Some(pb::event::What::Summary(pb::Summary { value: vec![value] })),
        });
    }

    /// Creates the run's event file, with its file_version record, on the first
    /// write.
    fn ensure_file(&mut self) -> Result<()> {
        ensure_initialized(self.dir.is_some(), "tensorboard")?;
        if self.out.is_some() {
            return Ok(());
        }
        let dir = self.dir.clone().expect("checked");
        std::fs::create_dir_all(&dir).map_err(|e| {
            VizError::from(e).context(format_args!("creating log directory {}", dir.display()))
        })?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!(
            "events.out.tfevents.{secs:010}.{}.{}.{}",
            hostname(),
            std::process::id(),
            FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| VizError::from(e).context(format_args!("creating {}", path.display())))?;
        self.out = Some(Appender::new(file, &path, 0, CHUNK));
        self.path = Some(path);
        let wall_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.append_event(&pb::Event {
            wall_time,
            step: 0,
            what: Some(pb::event::What::FileVersion("brain.Event:2".to_owned())),
        });
        Ok(())
    }

    /// Appends one framed record to the pending buffer.
    fn append_event(&mut self, event: &pb::Event) {
        self.buffer.clear();
        event.encode(&mut self.buffer).expect("Vec grows as needed");
        let out = self.out.as_mut().expect("initialized");
        write_record(out.pending(), &self.buffer).expect("Vec grows as needed");
    }

    /// The summary value for `event`, with plugin metadata on a tag's first value.
    fn value_of(&mut self, event: &Event) -> pb::SummaryValue {
        use pb::summary_value::Value;
        let mut metadata = None;
        let mut plugin = |name: &str, content: Vec<u8>| {
            if self.with_metadata.insert(event.tag.id()) {
                self.metadata_added.push(event.tag.id());
                metadata = Some(pb::SummaryMetadata {
                    plugin_data: Some(pb::PluginData {
                        plugin_name: name.to_owned(),
                        content,
                    }),
                    ..Default::default()
                });
            }
        };
        let value = match &event.data {
            EventData::Scalar(v) => Value::SimpleValue(*v as f32),
            EventData::Histogram(h) => Value::Histo(pb::HistogramProto {
                min: h.min,
                max: h.max,
                num: h.num,
                sum: h.sum,
                sum_squares: h.sum_squares,
                bucket_limit: h.bucket_limits.clone(),
                bucket: h.bucket_counts.clone(),
            }),
            EventData::Image(i) => Value::Image(pb::Image {
                height: i32::try_from(i.height).unwrap_or(i32::MAX),
                width: i32::try_from(i.width).unwrap_or(i32::MAX),
                colorspace: i.channels.into(),
                encoded_image_string: i.png.clone(),
            }),
            EventData::Text(t) => {
                plugin("text", Vec::new());
                Value::Tensor(string_tensor(t.as_bytes().to_vec()))
            }
            EventData::Tensor(t) => Value::Tensor(pb::TensorProto {
                dtype: tf_dtype(t.dtype),
                tensor_shape: Some(shape(&t.shape)),
                tensor_content: t.data.clone(),
                string_val: Vec::new(),
            }),
            EventData::Raw(r) => {
                plugin("viz_raw", r.content_type.as_bytes().to_vec());
                Value::Tensor(string_tensor(r.data.clone()))
            }
        };
        pb::SummaryValue {
            tag: event.tag.as_str().to_owned(),
            metadata,
            value: Some(value),
        }
    }
}

fn string_tensor(bytes: Vec<u8>) -> pb::TensorProto {
    pb::TensorProto {
        dtype: data_type::STRING,
        tensor_shape: Some(pb::TensorShapeProto { dim: Vec::new() }),
        tensor_content: Vec::new(),
        string_val: vec![bytes],
    }
}

fn shape(dims: &[u64]) -> pb::TensorShapeProto {
    pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| pb::TensorShapeDim {
                size: i64::try_from(d).unwrap_or(i64::MAX),
            })
            .collect(),
    }
}

fn tf_dtype(d: DType) -> i32 {
    match d {
        DType::F32 => data_type::FLOAT,
        DType::F64 => data_type::DOUBLE,
        DType::F16 => data_type::HALF,
        DType::BF16 => data_type::BFLOAT16,
        DType::I8 => data_type::INT8,
        DType::I16 => data_type::INT16,
        DType::I32 => data_type::INT32,
        DType::I64 => data_type::INT64,
        DType::U8 => data_type::UINT8,
        DType::U16 => data_type::UINT16,
        DType::U32 => data_type::UINT32,
        DType::U64 => data_type::UINT64,
        DType::Bool => data_type::BOOL,
    }
}

/// The hparams plugin's tags for a run's session start and end.
const SESSION_START: &str = "_hparams_/session_start_info";
const SESSION_END: &str = "_hparams_/session_end_info";

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates or
    // truncates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if rc == 0 && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".to_owned()
    }
}

impl StorageBackend for TensorBoardBackend {
    fn type_name(&self) -> &str {
        "tensorboard"
    }

    fn initialize_with(&mut self, config: &StorageConfiguration) -> Result<()> {
        config.validate()?;
        let mut url = ConnectionString::parse(&config.connection_string)?;
        self.fsync = url.take_choice("fsync", &["flush", "never"])? != Some("never");
        let location = std::mem::take(&mut url.location);
        url.finish()?;
        if location.is_empty() {
            return Err(VizError::invalid_config(
                "tensorboard:// needs a log directory, such as tensorboard:///runs/exp1 or tensorboard://runs/exp1",
            ));
        }
        let dir = PathBuf::from(&location);
        if dir.exists() && !dir.is_dir() {
            return Err(VizError::new(
                crate::error::ErrorKind::Io,
                format!(
                    "{} is not a directory; tensorboard:// needs a log directory",
                    dir.display()
                ),
            ));
        }
        if !dir.exists() {
            // A directory that cannot be made is refused now, not at the first write.
            std::fs::create_dir_all(&dir).map_err(|e| {
                VizError::from(e).context(format_args!("creating log directory {}", dir.display()))
            })?;
        }
        self.dir = Some(dir);
        Ok(())
    }
    fn shutdown(&mut self) -> Result<()> {
        if self.out.is_none() {
            // Nothing was written: no file to finish.
            self.dir = None;
            return Ok(());
        }
        if !self.hparams.is_empty() {
            // The HPARAMS dashboard's statuses: 1 success, 2 failure.
            let status = match self.status {
                crate::runs::RunStatus::Finished => 1,
                crate::runs::RunStatus::Failed | crate::runs::RunStatus::Killed => 2,
            };
            let end = hparams_data::Data::SessionEndInfo(pb::SessionEndInfo {
                status,
                end_time_secs: now_secs(),
            });
            self.append_hparams(SESSION_END, end);
        }
        // Stay open if the last write fails, so a retry can still deliver.
        self.flush()?;
        self.out = None;
        self.dir = None;
        Ok(())
    }

    fn is_initialized(&self) -> bool {
        self.dir.is_some()
    }

    fn set_run_status(&mut self, status: crate::runs::RunStatus) -> Result<()> {
        ensure_initialized(self.dir.is_some(), "tensorboard")?;
        self.status = status;
        Ok(())
    }

    fn store_events(&mut self, events: &[Event]) -> Result<()> {
        self.ensure_file()?;
        self.out.as_ref().expect("checked").check_owner()?;
        let mark = self.out.as_ref().expect("checked").mark();
        self.metadata_added.clear();
        for event in events {
            let value = self.value_of(event);
            self.append_event(&pb::Event {
                wall_time: event.wall_time.unwrap_or(0.0),
                step: event.step,
                what: Some(pb::event::What::Summary(pb::Summary { value: vec![value] })),
            });
        }
        if let Err(e) = self.out.as_mut().expect("checked").write_out(false) {
            // Forget the batch, metadata included, so the retry writes it whole.
            self.out.as_mut().expect("checked").rewind(mark);
            for tag in self.metadata_added.drain(..) {
                self.with_metadata.remove(&tag);
            }
            return Err(e);
        }
        self.written += events.len() as u64;
        Ok(())
    }

    /// Writes the run's hyperparameters for TensorBoard's HPARAMS dashboard: the
    /// hparams plugin's session start summary, holding every scalar value (string,
    /// number, bool) of the metadata so far; JSON arrays and objects are written as
    /// their JSON text. TensorBoard keeps the first such summary a run writes, so
    /// set hyperparameters before training.
    fn set_metadata(&mut self, batch: &MetadataBatch) -> Result<()> {
        ensure_initialized(self.dir.is_some(), "tensorboard")?;
        batch.validate()?;
        self.ensure_file()?;
        self.out.as_ref().expect("checked").check_owner()?;
        let mut next = self.hparams.clone();
        batch.apply(&mut next);
        let hparams = next
            .iter()
            .filter_map(|(k, v)| {
                let kind = match v {
                    Value::Null => return None,
                    Value::Bool(b) => pb::proto_value::Kind::BoolValue(*b),
                    Value::Number(n) => pb::proto_value::Kind::NumberValue(n.as_f64()?),
                    Value::String(s) => pb::proto_value::Kind::StringValue(s.clone()),
                    other => pb::proto_value::Kind::StringValue(other.to_string()),
                };
                Some((k.clone(), pb::ProtoValue { kind: Some(kind) }))
            })
            .collect();
        let start = hparams_data::Data::SessionStartInfo(pb::SessionStartInfo {
            hparams,
            group_name: String::new(),
            start_time_secs: now_secs(),
        });
        let mark = self.out.as_ref().expect("checked").mark();
        self.append_hparams(SESSION_START, start);
        let out = self.out.as_mut().expect("checked");
        if let Err(e) = out.write_out(false) {
            out.rewind(mark);
            return Err(e);
        }
        self.hparams = next;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        ensure_initialized(self.dir.is_some(), "tensorboard")?;
        let Some(out) = self.out.as_mut() else {
            return Ok(()); // Nothing written yet.
        };
        out.write_out(true)?;
        if self.fsync {
            out.sync()?;
        }
        Ok(())
    }

    fn event_count(&self) -> u64 {
        self.written
    }

    fn clear(&mut self) -> Result<()> {
        Err(VizError::unsupported("clear", "tensorboard"))
    }
}
