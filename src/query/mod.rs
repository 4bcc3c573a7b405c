//! The read side's query model (seed 001's where / orderBy / limit / aggregate): which
//! events to select, in what order, how many, or what to compute over them.
//!
//! A [`Query`] selects by tag ([`TagPattern`]: exact, glob such as `train/*`, or
//! regex), kind, step range, wall-time range and, for scalars, a value
//! [`Predicate`] (comparisons, `in`, `not in`, finiteness, combined with and/or/not);
//! orders by stored order, step or wall time; and pages with offset and limit.
//! [`aggregate`] computes per-tag statistics and [`downsample`] cuts one tag's
//! scalars into step buckets, so a plot of 10M points reads a thousand.
//!
//! [`Query::run`] answers a query over any sequence of events (a scan); backends
//! answer through [`crate::StorageBackend::query`], whose default reads the query's
//! step range and scans it.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VizError};
use crate::event::{Event, EventData, EventKind, KindSet};

mod aggregate;
mod json;
mod pages;
mod pattern;

pub use aggregate::{Aggregate, Bucket, aggregate, downsample, latest};
pub use pages::{PageFetch, PageIter, Pages};
pub use pattern::TagPattern;

/// A comparison of a scalar's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    /// Equal to.
    Eq,
    /// Not equal to.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal to.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal to.
    Gte,
}

/// A condition on a scalar's value. Events that are not scalars never match a
/// value condition (but may match `Not` of one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predicate {
    /// `value <cmp> operand`. NaN compares false with everything, as in IEEE 754.
    Value(Cmp, f64),
    /// The value is one of these.
    In(Vec<f64>),
    /// The value is none of these.
    NotIn(Vec<f64>),
    /// The value is finite (not NaN, not infinite).
    Finite,
    /// Every condition holds (true when empty).
    And(Vec<Predicate>),
    /// Some condition holds (false when empty).
    Or(Vec<Predicate>),
    /// The condition does not hold.
    Not(Box<Predicate>),
}

impl Predicate {
    /// Whether `event` satisfies the condition.
    pub fn matches(&self, event: &Event) -> bool {
        let value = match event.data {
            EventData::Scalar(v) => Some(v),
            _ => None,
        };
        match self {
            Predicate::Value(cmp, x) => value.is_some_and(|v| match cmp {
                Cmp::Eq => v == *x,
                Cmp::Ne => v != *x,
                Cmp::Lt => v < *x,
                Cmp::Lte => v <= *x,
                Cmp::Gt => v > *x,
                Cmp::Gte => v >= *x,
            }),
            Predicate::In(xs) => value.is_some_and(|v| xs.contains(&v)),
            Predicate::NotIn(xs) => value.is_some_and(|v| !xs.contains(&v)),
            Predicate::Finite => value.is_some_and(f64::is_finite),
            Predicate::And(all) => all.iter().all(|p| p.matches(event)),
            Predicate::Or(any) => any.iter().any(|p| p.matches(event)),
            Predicate::Not(p) => !p.matches(event),
        }
    }
}

/// The order of a query's results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// As stored.
    #[default]
    Stored,
    /// By step, then as stored.
    StepAsc,
    /// By step, largest first, then as stored.
    StepDesc,
    /// By wall time, then as stored.
    WallAsc,
    /// By wall time, latest first, then as stored.
    WallDesc,
}

/// Which events to read, in what order, how many.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// Tags to select; empty selects every tag.
    pub tags: Vec<TagPattern>,
    /// Kinds to select.
    pub kinds: KindSet,
    /// First and last step, inclusive.
    pub steps: (i64, i64),
    /// Earliest and latest wall time (seconds since the epoch), inclusive.
    pub wall_time: (f64, f64),
    /// A condition on scalar values.
    pub filter: Option<Predicate>,
    /// The order of the results.
    pub order: Order,
    /// Results to skip, after ordering.
    pub offset: usize,
    /// Most results to return, after the offset.
    pub limit: Option<usize>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            tags: Vec::new(),
            kinds: KindSet::ALL,
            steps: (i64::MIN, i64::MAX),
            wall_time: (f64::NEG_INFINITY, f64::INFINITY),
            filter: None,
            order: Order::Stored,
            offset: 0,
            limit: None,
        }
    }
}

impl Query {
    /// Every event.
    pub fn all() -> Query {
        Query::default()
    }

    /// Also selects tags matching `pattern` (`train/*` is a glob; see [`TagPattern`]).
    pub fn tag(mut self, pattern: TagPattern) -> Query {
        self.tags.push(pattern);
        self
    }

    /// Selects only these kinds.
    pub fn kinds(mut self, kinds: &[EventKind]) -> Query {
        self.kinds = KindSet::of(kinds);
        self
    }

    /// Selects steps `first..=last`.
    pub fn steps(mut self, first: i64, last: i64) -> Query {
        self.steps = (first, last);
        self
    }

    /// Selects wall times `earliest..=latest`.
    pub fn wall_time(mut self, earliest: f64, latest: f64) -> Query {
        self.wall_time = (earliest, latest);
        self
    }

    /// Keeps only events satisfying `predicate`.
    pub fn filter(mut self, predicate: Predicate) -> Query {
        self.filter = Some(predicate);
        self
    }

    /// Orders the results.
    pub fn order(mut self, order: Order) -> Query {
        self.order = order;
        self
    }

    /// Skips the first `offset` results.
    pub fn offset(mut self, offset: usize) -> Query {
        self.offset = offset;
        self
    }

    /// Returns at most `limit` results.
    pub fn limit(mut self, limit: usize) -> Query {
        self.limit = Some(limit);
        self
    }

    /// Checks what a caller can get wrong: ranges that select nothing by mistake
    /// (first after last) and NaN bounds. The error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.steps.0 > self.steps.1 {
            return Err(VizError::invalid_argument(format!(
                "query steps {}..={} are reversed: the first step is after the last",
                self.steps.0, self.steps.1
            )));
        }
        if self.wall_time.0.is_nan() || self.wall_time.1.is_nan() {
            return Err(VizError::invalid_argument(
                "query wall_time bounds must not be NaN",
            ));
        }
        if self.wall_time.0 > self.wall_time.1 {
            return Err(VizError::invalid_argument(format!(
                "query wall_time {}..={} is reversed",
                self.wall_time.0, self.wall_time.1
            )));
        }
        Ok(())
    }

    /// Checks that the query only selects (tags, kinds, steps, wall time, a
    /// condition), for uses where an order or a page means nothing: a watch
    /// filter, aggregates, downsampling, the latest value of each tag.
    pub fn check_selection_only(&self, what: &str) -> Result<()> {
        self.validate()?;
        if self.order != Order::Stored || self.offset != 0 || self.limit.is_some() {
            return Err(VizError::invalid_argument(format!(
                "{what} selects events (tags, kinds, steps, wall_time, where); it takes no order, offset or limit"
            )));
        }
        Ok(())
    }

    /// Whether `event` is selected (tag, kind, steps, wall time, filter).
    pub fn matches(&self, event: &Event) -> bool {
        (self.tags.is_empty() || self.tags.iter().any(|t| t.matches(event.tag.as_str())))
            && self.kinds.contains(event.kind())
            && (self.steps.0..=self.steps.1).contains(&event.step)
            && event
                .wall_time
                .is_none_or(|w| w >= self.wall_time.0 && w <= self.wall_time.1)
            && self.filter.as_ref().is_none_or(|f| f.matches(event))
    }

    /// Answers the query over `events` (in stored order): selects, orders (stably,
    /// so ties keep stored order), skips `offset` and keeps at most `limit`.
    pub fn run(&self, events: impl IntoIterator<Item = Event>) -> Result<Vec<Event>> {
        self.validate()?;
        let mut out: Vec<Event> = events.into_iter().filter(|e| self.matches(e)).collect();
        let wall = |e: &Event| e.wall_time.unwrap_or(0.0);
        match self.order {
            Order::Stored => {}
            Order::StepAsc => out.sort_by_key(|e| e.step),
            Order::StepDesc => out.sort_by_key(|e| std::cmp::Reverse(e.step)),
            Order::WallAsc => out.sort_by(|a, b| wall(a).total_cmp(&wall(b))),
            Order::WallDesc => out.sort_by(|a, b| wall(b).total_cmp(&wall(a))),
        }
        let end = self
            .limit
            .map_or(out.len(), |l| self.offset.saturating_add(l).min(out.len()));
        let start = self.offset.min(out.len());
        out.truncate(end);
        out.drain(..start);
        Ok(out)
    }
}
