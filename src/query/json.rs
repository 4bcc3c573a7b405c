//! Queries written as JSON, the form every host can pass:
//!
//! ```json
//! {"tags": ["train/*", {"regex": "^eval/(acc|loss)$"}],
//!  "kinds": ["scalar"], "steps": [1000, 2000], "wall_time": [1.7e9, 1.8e9],
//!  "where": {"and": [{"lt": 0.1}, {"finite": true}]},
//!  "order": "step_desc", "offset": 0, "limit": 20}
//! ```
//!
//! Every field is optional. A tag given as a string is a glob (a string without `*`
//! or `?` is an exact tag); `{"regex": ...}` is a regular expression. A condition is
//! one of `{"eq"|"ne"|"lt"|"lte"|"gt"|"gte": number}`, `{"in": [numbers]}`,
//! `{"nin": [numbers]}`, `{"finite": true}`, `{"and": [conditions]}`,
//! `{"or": [conditions]}`, `{"not": condition}`; numbers may be `"NaN"`,
//! `"Infinity"` or `"-Infinity"`. Unknown fields are errors that name them.

use serde::Deserialize;
use serde_json::Value;

use super::{Cmp, Order, Predicate, Query, TagPattern};
use crate::error::{Result, VizError};
use crate::event::{EventKind, KindSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    #[serde(default)]
    tags: Vec<Value>,
    kinds: Option<Vec<EventKind>>,
    steps: Option<(i64, i64)>,
    wall_time: Option<(Value, Value)>,
    #[serde(rename = "where")]
    filter: Option<Value>,
    #[serde(default)]
    order: Order,
    offset: Option<Value>,
    limit: Option<Value>,
}

fn invalid(message: String) -> VizError {
    VizError::invalid_argument(message)
}

/// A number, or one of the strings JSON needs for the others.
fn number(v: &Value, at: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| invalid(format!("query {at}: {n} is not a number"))),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        other => Err(invalid(format!(
            "query {at}: {other} is not a number (or \"NaN\", \"Infinity\", \"-Infinity\")"
        ))),
    }
}

/// A count (offset, limit): a whole number, not negative.
fn count(v: &Value, at: &str) -> Result<usize> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            invalid(format!(
                "query {at} is {v}; it must be a whole number, not negative"
            ))
        })
}

fn numbers(v: &Value, at: &str) -> Result<Vec<f64>> {
    let Value::Array(items) = v else {
        return Err(invalid(format!(
            "query {at}: expected a list of numbers, got {v}"
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| number(x, &format!("{at}[{i}]")))
        .collect()
}

/// The condition a JSON object describes; `at` names where it is, for errors.
fn predicate(v: &Value, at: &str) -> Result<Predicate> {
    let Value::Object(map) = v else {
        return Err(invalid(format!(
            "query {at}: expected a condition object, got {v}"
        )));
    };
    let mut entries = map.iter();
    let (Some((key, arg)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(format!(
            "query {at}: a condition has exactly one key (lt, in, and, ...), got {v}"
        )));
    };
    let cmp = |c| Ok(Predicate::Value(c, number(arg, &format!("{at}.{key}"))?));
    let list = |arg: &Value| -> Result<Vec<Predicate>> {
        let Value::Array(items) = arg else {
            return Err(invalid(format!(
                "query {at}.{key}: expected a list of conditions"
            )));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, c)| predicate(c, &format!("{at}.{key}[{i}]")))
            .collect()
    };
    match key.as_str() {
        "eq" => cmp(Cmp::Eq),
        "ne" => cmp(Cmp::Ne),
        "lt" => cmp(Cmp::Lt),
        "lte" => cmp(Cmp::Lte),
        "gt" => cmp(Cmp::Gt),
        "gte" => cmp(Cmp::Gte),
        "in" => Ok(Predicate::In(numbers(arg, &format!("{at}.in"))?)),
        "nin" => Ok(Predicate::NotIn(numbers(arg, &format!("{at}.nin"))?)),
        "finite" => match arg {
            Value::Bool(true) => Ok(Predicate::Finite),
            Value::Bool(false) => Ok(Predicate::Not(Box::new(Predicate::Finite))),
            other => Err(invalid(format!(
                "query {at}.finite: expected true or false, got {other}"
            ))),
        },
        "and" => Ok(Predicate::And(list(arg)?)),
        "or" => Ok(Predicate::Or(list(arg)?)),
        "not" => Ok(Predicate::Not(Box::new(predicate(
            arg,
            &format!("{at}.not"),
        )?))),
        other => Err(invalid(format!(
            "query {at}: unknown condition '{other}' (use eq, ne, lt, lte, gt, gte, in, nin, finite, and, or, not)"
        ))),
    }
}

impl Query {
    /// Parses and validates a query written as JSON (see the module docs). Errors
    /// name the field: a bad regex, an unknown condition, a negative limit.
    pub fn from_json(json: &str) -> Result<Query> {
        let j: Json =
            serde_json::from_str(json).map_err(|e| invalid(format!("query JSON: {e}")))?;
        let mut q = Query::default();
        for (i, tag) in j.tags.iter().enumerate() {
            q.tags.push(match tag {
                Value::String(glob) => TagPattern::glob(glob.clone()),
                Value::Object(map) if map.len() == 1 && map.contains_key("regex") => {
                    match &map["regex"] {
                        Value::String(re) => TagPattern::regex(re)
                            .map_err(|e| e.context(format_args!("query tags[{i}]")))?,
                        other => {
                            return Err(invalid(format!(
                                "query tags[{i}].regex: expected a string, got {other}"
                            )));
                        }
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "query tags[{i}]: expected a glob string or {{\"regex\": ...}}, got {other}"
                    )));
                }
            });
        }
        if let Some(kinds) = j.kinds {
            if kinds.is_empty() {
                return Err(invalid(
                    "query kinds is empty, so nothing would match".into(),
                ));
            }
            q.kinds = KindSet::of(&kinds);
        }
        if let Some(steps) = j.steps {
            q.steps = steps;
        }
        if let Some((a, b)) = j.wall_time {
            q.wall_time = (number(&a, "wall_time[0]")?, number(&b, "wall_time[1]")?);
        }
        if let Some(f) = j.filter {
            q.filter = Some(predicate(&f, "where")?);
        }
        q.order = j.order;
        if let Some(offset) = j.offset {
            q.offset = count(&offset, "offset")?;
        }
        if let Some(limit) = j.limit {
            q.limit = Some(count(&limit, "limit")?);
        }
        q.validate()?;
        Ok(q)
    }
}
