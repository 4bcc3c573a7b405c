//! Payload types for the non-scalar event kinds, each with its own validation.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VizError};
use crate::limits;

/// A histogram in TensorBoard's layout: bucket `i` counts values in
/// `(bucket_limits[i-1], bucket_limits[i]]`, the first bucket being open below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Smallest value seen.
    #[serde(with = "crate::float_serde")]
    pub min: f64,
    /// Largest value seen.
    #[serde(with = "crate::float_serde")]
    pub max: f64,
    /// Number of values.
    #[serde(with = "crate::float_serde")]
    pub num: f64,
    /// Sum of the values.
    #[serde(with = "crate::float_serde")]
    pub sum: f64,
    /// Sum of the squared values.
    #[serde(with = "crate::float_serde")]
    pub sum_squares: f64,
    /// Right edge of each bucket, strictly increasing.
    #[serde(with = "crate::float_serde::vec")]
    pub bucket_limits: Vec<f64>,
    /// Count in each bucket; same length as `bucket_limits`.
    #[serde(with = "crate::float_serde::vec")]
    pub bucket_counts: Vec<f64>,
}

impl Histogram {
    /// Buckets raw values into `bins` equal-width buckets spanning their range.
    ///
    /// Any finite input gives a valid histogram, however close or far apart its
    /// values: where neighbouring limits would round to the same number (a range of
    /// a few ulps) the buckets between them merge, and a range wider than `f64` can
    /// hold (`-1e308..1e308`) is split without overflowing. Errors name the first
    /// non-finite value, or `bins` past [`limits::MAX_HISTOGRAM_BINS`]. An empty input
    /// gives an empty histogram.
    pub fn from_values(values: &[f64], bins: usize) -> Result<Histogram> {
        if bins == 0 {
            return Err(VizError::invalid_argument(
                "histogram bins must be at least 1",
            ));
        }
        limits::at_most_arg("histogram bins", bins, limits::MAX_HISTOGRAM_BINS)?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(VizError::invalid_argument(format!(
                "histogram value at index {i} is {}; values must be finite",
                values[i]
            )));
        }
        let (mut min, mut max, mut sum, mut sum_squares) =
            (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
        for &v in values {
            min = min.min(v);
            max = max.max(v);
            sum += v;
            sum_squares += v * v;
        }
        if values.is_empty() {
            return Ok(Histogram {
                min: 0.0,
                max: 0.0,
                num: 0.0,
                sum: 0.0,
                sum_squares: 0.0,
                bucket_limits: Vec::new(),
                bucket_counts: Vec::new(),
            });
        }
        let bucket_limits = equal_width_limits(min, max, bins);
        let mut bucket_counts = vec![0.0; bucket_limits.len()];
        for &v in values {
            // Bucket i holds (limit[i-1], limit[i]]; v <= max, the last limit.
            bucket_counts[bucket_limits.partition_point(|&limit| limit < v)] += 1.0;
        }
        Ok(Histogram {
            min,
            max,
            num: values.len() as f64,
            sum,
            sum_squares,
            bucket_limits,
            bucket_counts,
        })
    }

    /// A histogram from precomputed buckets. `min`, `max`, `num`, `sum` and
    /// `sum_squares` are derived from the buckets' edges and counts.
    pub fn from_buckets(bucket_limits: Vec<f64>, bucket_counts: Vec<f64>) -> Result<Histogram> {
        let num = bucket_counts.iter().sum();
        let mut h = Histogram {
            min: 0.0,
            max: 0.0,
            num,
            sum: 0.0,
            sum_squares: 0.0,
            bucket_limits,
            bucket_counts,
        };
        h.validate()?;
        if let (Some(first), Some(last)) = (h.bucket_limits.first(), h.bucket_limits.last()) {
            h.min = *first;
            h.max = *last;
        }
        for (&limit, &count) in h.bucket_limits.iter().zip(&h.bucket_counts) {
            h.sum += limit * count;
            h.sum_squares += limit * limit * count;
        }
        Ok(h)
    }

    /// Checks that limits and counts agree in length (at most
    /// [`limits::MAX_HISTOGRAM_BINS`]), limits increase strictly, and every count is
    /// finite and not negative.
    pub fn validate(&self) -> Result<()> {
        limits::at_most_arg(
            "histogram bucket count",
            self.bucket_limits.len().max(self.bucket_counts.len()),
            limits::MAX_HISTOGRAM_BINS,
        )?;
        if self.bucket_limits.len() != self.bucket_counts.len() {
            return Err(VizError::invalid_argument(format!(
                "histogram has {} bucket limits but {} bucket counts; they must match",
                self.bucket_limits.len(),
                self.bucket_counts.len()
            )));
        }
        for (i, pair) in self.bucket_limits.windows(2).enumerate() {
            if pair[0].partial_cmp(&pair[1]) != Some(std::cmp::Ordering::Less) {
                return Err(VizError::invalid_argument(format!(
                    "histogram bucket limits must increase strictly: limit {} is {} and limit {} is {}",
                    i,
                    pair[0],
                    i + 1,
                    pair[1]
                )));
            }
        }
        if let Some(i) = self.bucket_limits.iter().position(|v| v.is_nan()) {
            return Err(VizError::invalid_argument(format!(
                "histogram bucket limit {i} is NaN"
            )));
        }
        if let Some(i) = self
            .bucket_counts
            .iter()
            .position(|c| !(c.is_finite() && *c >= 0.0))
        {
            return Err(VizError::invalid_argument(format!(
                "histogram bucket count {i} is {}; counts must be finite and not negative",
                self.bucket_counts[i]
            )));
        }
        Ok(())
    }
}

/// The right edges of `bins` equal-width buckets over `[min, max]`, strictly
/// increasing and ending at `max`; fewer than `bins` when rounding merges some.
fn equal_width_limits(min: f64, max: f64, bins: usize) -> Vec<f64> {
    let span = max - min;
    let mut limits = Vec::with_capacity(bins);
    for i in 1..bins {
        let t = i as f64 / bins as f64;
        // max - min overflows for ranges wider than f64::MAX; interpolate instead.
        let limit = if span.is_finite() {
            min + span * t
        } else {
            min * (1.0 - t) + max * t
        };
        if limit < max && limits.last().is_none_or(|&last| limit > last) {
            limits.push(limit);
        }
    }
    limits.push(max);
    limits
}

/// The eight bytes every PNG file starts with.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// An encoded PNG image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Channels: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    pub channels: u8,
}

impl Image {
    /// An image from PNG bytes; validated.
    pub fn png(png: Vec<u8>, width: u32, height: u32, channels: u8) -> Result<Image> {
        let image = Image {
            png,
            width,
            height,
            channels,
        };
        image.validate()?;
        Ok(image)
    }

    /// Encodes 8-bit RGBA pixels (row-major, `width * height * 4` bytes) as a PNG.
    ///
    /// Encoded with the `png` crate's fast deflate (fdeflate) and adaptive row
    /// filters: a training loop calls this on its own thread, so speed comes first,
    /// and the result is still a fraction of the pixels' size for most images
    /// (docs/PERFORMANCE.md, `cargo bench --bench engine -- png`).
    pub fn from_rgba8(width: u32, height: u32, pixels: &[u8]) -> Result<Image> {
        limits::at_most_arg(
            "image width",
            width as usize,
            limits::MAX_IMAGE_SIDE as usize,
        )?;
        limits::at_most_arg(
            "image height",
            height as usize,
            limits::MAX_IMAGE_SIDE as usize,
        )?;
        let row = (width as usize) * 4;
        if pixels.len() != row * height as usize {
            return Err(VizError::invalid_argument(format!(
                "{width}x{height} RGBA needs {} bytes of pixels but has {}",
                row * height as usize,
                pixels.len()
            )));
        }
        if width == 0 || height == 0 {
            return Err(VizError::invalid_argument(format!(
                "image is {width}x{height}; width and height must be at least 1"
            )));
        }
        let mut png = Vec::with_capacity(pixels.len() / 4 + 64);
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(pixels))
            .map_err(|e| {
                VizError::invalid_argument(format!("encoding a {width}x{height} PNG: {e}"))
            })?;
        Image::png(png, width, height, 4)
    }

    /// Checks the PNG signature, the size given against the PNG header (each side at
    /// most [`limits::MAX_IMAGE_SIDE`]), the channels, and the PNG's length (at most
    /// [`limits::MAX_PAYLOAD_BYTES`]).
    pub fn validate(&self) -> Result<()> {
        limits::at_most_arg(
            "image PNG length",
            self.png.len(),
            limits::MAX_PAYLOAD_BYTES,
        )?;
        for (side, value) in [("width", self.width), ("height", self.height)] {
            limits::at_most_arg(
                &format!("image {side}"),
                value as usize,
                limits::MAX_IMAGE_SIDE as usize,
            )?;
        }
        if !(1..=4).contains(&self.channels) {
            return Err(VizError::invalid_argument(format!(
                "image channels is {}; it must be 1, 2, 3 or 4",
                self.channels
            )));
        }
        if self.width == 0 || self.height == 0 {
            return Err(VizError::invalid_argument(format!(
                "image is {}x{}; width and height must be at least 1",
                self.width, self.height
            )));
        }
        // Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4).
        if self.png.len() < 24 || self.png[..8] != PNG_SIGNATURE || &self.png[12..16] != b"IHDR" {
            return Err(VizError::invalid_argument(
                "image bytes are not a PNG file (bad signature or missing IHDR chunk)",
            ));
        }
        let w = u32::from_be_bytes(self.png[16..20].try_into().expect("4 bytes"));
        let h = u32::from_be_bytes(self.png[20..24].try_into().expect("4 bytes"));
        if (w, h) != (self.width, self.height) {
            return Err(VizError::invalid_argument(format!(
                "image is declared {}x{} but the PNG header says {w}x{h}",
                self.width, self.height
            )));
        }
        Ok(())
    }
}

/// Element type of a tensor. The values are fixed: the C ABI exposes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum DType {
    /// 32-bit float.
    F32 = 0,
    /// 64-bit float.
    F64 = 1,
    /// 16-bit IEEE float.
    F16 = 2,
    /// bfloat16.
    BF16 = 3,
    /// Signed 8-bit integer.
    I8 = 4,
    /// Signed 16-bit integer.
    I16 = 5,
    /// Signed 32-bit integer.
    I32 = 6,
    /// Signed 64-bit integer.
    I64 = 7,
    /// Unsigned 8-bit integer.
    U8 = 8,
    /// Unsigned 16-bit integer.
    U16 = 9,
    /// Unsigned 32-bit integer.
    U32 = 10,
    /// Unsigned 64-bit integer.
    U64 = 11,
    /// Boolean, one byte each.
    Bool = 12,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 => 8,
        }
    }

    /// The dtype for a raw value, rejecting unknown ones (as the C ABI must).
    pub fn from_u32(raw: u32) -> Result<DType> {
        const ALL: [DType; 13] = [
            DType::F32,
            DType::F64,
            DType::F16,
            DType::BF16,
            DType::I8,
            DType::I16,
            DType::I32,
            DType::I64,
            DType::U8,
            DType::U16,
            DType::U32,
            DType::U64,
            DType::Bool,
        ];
        ALL.get(raw as usize).copied().ok_or_else(|| {
            VizError::invalid_argument(format!(
                "unknown dtype value {raw}; valid values are 0 to 12"
            ))
        })
    }
}

/// A dense tensor: little-endian elements in row-major order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Dimensions; empty for a scalar tensor.
    pub shape: Vec<u64>,
    /// Raw element bytes.
    pub data: Vec<u8>,
}

impl Tensor {
    /// A tensor; validated.
    pub fn new(dtype: DType, shape: Vec<u64>, data: Vec<u8>) -> Result<Tensor> {
        let t = Tensor { dtype, shape, data };
        t.validate()?;
        Ok(t)
    }

    /// A tensor of `f32` values.
    pub fn from_f32(shape: Vec<u64>, values: &[f32]) -> Result<Tensor> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(DType::F32, shape, data)
    }

    /// Checks that the byte length equals the element count times the element size,
    /// within [`limits::MAX_TENSOR_RANK`] dimensions and [`limits::MAX_PAYLOAD_BYTES`].
    pub fn validate(&self) -> Result<()> {
        limits::at_most_arg("tensor rank", self.shape.len(), limits::MAX_TENSOR_RANK)?;
        limits::at_most_arg(
            "tensor data length",
            self.data.len(),
            limits::MAX_PAYLOAD_BYTES,
        )?;
        let elements = self
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| {
                VizError::invalid_argument(format!("tensor shape {:?} overflows", self.shape))
            })?;
        let expected = elements.checked_mul(self.dtype.size() as u64);
        if expected != Some(self.data.len() as u64) {
            return Err(VizError::invalid_argument(format!(
                "tensor of shape {:?} and dtype {:?} needs {} bytes but has {}",
                self.shape,
                self.dtype,
                elements.saturating_mul(self.dtype.size() as u64),
                self.data.len()
            )));
        }
        Ok(())
    }
}

/// Opaque bytes with a MIME content type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawBytes {
    /// MIME type, such as `application/octet-stream`.
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

impl RawBytes {
    /// Raw bytes; validated.
    pub fn new(content_type: impl Into<String>, data: Vec<u8>) -> Result<RawBytes> {
        let r = RawBytes {
            content_type: content_type.into(),
            data,
        };
        r.validate()?;
        Ok(r)
    }

    /// Checks that the content type is present (at most
    /// [`limits::MAX_CONTENT_TYPE_BYTES`]) and the bytes within
    /// [`limits::MAX_PAYLOAD_BYTES`].
    pub fn validate(&self) -> Result<()> {
        if self.content_type.is_empty() {
            return Err(VizError::invalid_argument("raw bytes need a content type"));
        }
        limits::at_most_arg(
            "raw content type length",
            self.content_type.len(),
            limits::MAX_CONTENT_TYPE_BYTES,
        )?;
        limits::at_most_arg(
            "raw data length",
            self.data.len(),
            limits::MAX_PAYLOAD_BYTES,
        )
    }
}
