//! Computations over selected scalars: per-tag statistics, and downsampling into
//! step buckets for plots.

use std::collections::BTreeMap;

use crate::error::{Result, VizError};
use crate::event::{Event, EventData};

/// Statistics of one tag's scalars. NaN values count in `count` but not in `min`,
/// `max` or `mean`, which are over the finite and infinite values only.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The tag.
    pub tag: String,
    /// Scalars seen.
    pub count: u64,
    /// Smallest value (NaN if none but NaN).
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// The first scalar in the order given: `(step, value)`.
    pub first: (i64, f64),
    /// The last scalar in the order given: `(step, value)`.
    pub last: (i64, f64),
}

/// Per-tag statistics of the scalars among `events`, by tag name. Other kinds are
/// ignored. "Latest value of each tag" is `last`, with events in stored order.
pub fn aggregate<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<Aggregate> {
    struct Acc {
        count: u64,
        numbers: u64,
        sum: f64,
        min: f64,
        max: f64,
        first: (i64, f64),
        last: (i64, f64),
    }
    let mut by_tag: BTreeMap<&'static str, Acc> = BTreeMap::new();
    for e in events {
        let EventData::Scalar(v) = e.data else {
            continue;
        };
        let acc = by_tag.entry(e.tag.as_str()).or_insert(Acc {
            count: 0,
            numbers: 0,
            sum: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            first: (e.step, v),
            last: (e.step, v),
        });
        acc.count += 1;
        acc.last = (e.step, v);
        if !v.is_nan() {
            acc.numbers += 1;
            acc.sum += v;
            acc.min = acc.min.min(v);
            acc.max = acc.max.max(v);
        }
    }
    by_tag
        .into_iter()
        .map(|(tag, a)| Aggregate {
            tag: tag.to_owned(),
            count: a.count,
            min: a.min,
            max: a.max,
            mean: if a.numbers == 0 {
                f64::NAN
            } else {
                a.sum / a.numbers as f64
            },
            first: a.first,
            last: a.last,
        })
        .collect()
}

/// The last event of each tag among `events` (in stored order), ordered by tag:
/// "the latest value of each tag".
pub fn latest(events: impl IntoIterator<Item = Event>) -> Vec<Event> {
    let mut last = BTreeMap::new();
    for e in events {
        last.insert(e.tag.as_str(), e);
    }
    last.into_values().collect()
}

/// One step bucket of a downsampled series.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// First step the bucket covers.
    pub first_step: i64,
    /// Last step it covers.
    pub last_step: i64,
    /// Scalars in it.
    pub count: u64,
    /// Smallest value (NaN values aside).
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
}

/// Cuts the scalars among `events` into `buckets` equal step ranges spanning
/// `first..=last` and gives each non-empty bucket's count, min, max and mean. Pass
/// one tag's events (a query selects them); other kinds are ignored.
pub fn downsample<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    first: i64,
    last: i64,
    buckets: usize,
) -> Result<Vec<Bucket>> {
    if buckets == 0 {
        return Err(VizError::invalid_argument(
            "downsample buckets must be at least 1",
        ));
    }
    crate::limits::at_most_arg(
        "downsample buckets",
        buckets,
        crate::limits::MAX_HISTOGRAM_BINS,
    )?;
    if first > last {
        return Err(VizError::invalid_argument(format!(
            "downsample steps {first}..={last} are reversed"
        )));
    }
    // i128: the span of i64 steps does not fit in i64.
    let span = i128::from(last) - i128::from(first) + 1;
    let width = (span + buckets as i128 - 1) / buckets as i128;
    let mut acc: Vec<Option<Bucket>> = vec![None; buckets];
    let mut sums = vec![(0.0f64, 0u64); buckets];
    for e in events {
        let EventData::Scalar(v) = e.data else {
            continue;
        };
        if e.step < first || e.step > last {
            continue;
        }
        let i = ((i128::from(e.step) - i128::from(first)) / width) as usize;
        let b = acc[i].get_or_insert_with(|| {
            let lo = i128::from(first) + i as i128 * width;
            Bucket {
                first_step: lo as i64,
                last_step: (lo + width - 1).min(i128::from(last)) as i64,
                count: 0,
                min: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
            }
        });
        b.count += 1;
        if !v.is_nan() {
            b.min = b.min.min(v);
            b.max = b.max.max(v);
            sums[i].0 += v;
            sums[i].1 += 1;
        }
    }
    Ok(acc
        .into_iter()
        .zip(sums)
        .filter_map(|(b, (sum, n))| {
            b.map(|mut b| {
                if n > 0 {
                    b.mean = sum / n as f64;
                }
                b
            })
        })
        .collect())
}
