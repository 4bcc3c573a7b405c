//! The read side's query language on the command line: `--tag`, `--kind`,
//! `--steps A..B`, `--where 'value < 0.1 and finite'`, `--order`, `--offset`,
//! `--limit`, turned into a [`Query`].

use viz::query::{Cmp, Order, Predicate};
use viz::{EventKind, Query, TagPattern};

use crate::fail::{Fail, usage};

/// The selection options every reading command shares.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Selection {
    /// Tags to select: exact names or globs such as 'train/*' (repeatable).
    #[arg(long = "tag", short = 't', value_name = "PATTERN")]
    pub tags: Vec<String>,
    /// Kinds to select: scalar, histogram, text, image, tensor, raw (repeatable).
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Steps to select, inclusive: 1000..2000, 1000.., ..2000 or 1500.
    #[arg(long, value_name = "A..B")]
    pub steps: Option<String>,
    /// A condition on scalar values: 'value < 0.1', 'value >= 1 and value < 2', 'finite'.
    #[arg(long = "where", value_name = "CONDITION")]
    pub condition: Option<String>,
}

impl Selection {
    /// The query these options select (every event by default).
    pub fn query(&self) -> Result<Query, Fail> {
        let mut q = Query::all();
        for t in &self.tags {
            let pattern = if t.contains(['*', '?', '[']) {
                TagPattern::glob(t.clone())
            } else {
                TagPattern::exact(t.clone())
            };
            q = q.tag(pattern);
        }
        if !self.kinds.is_empty() {
            let kinds = self
                .kinds
                .iter()
                .map(|k| kind(k))
                .collect::<Result<Vec<_>, _>>()?;
            q = q.kinds(&kinds);
        }
        if let Some(s) = &self.steps {
            let (a, b) = steps(s)?;
            q = q.steps(a, b);
        }
        if let Some(c) = &self.condition {
            q.filter = Some(condition(c)?);
        }
        Ok(q)
    }
}

/// An event kind by name.
pub fn kind(name: &str) -> Result<EventKind, Fail> {
    EventKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| {
            usage(format!(
                "unknown kind '{name}'; use scalar, histogram, text, image, tensor or raw"
            ))
        })
}

/// `A..B`, `A..`, `..B` or `A`: an inclusive step range.
pub fn steps(s: &str) -> Result<(i64, i64), Fail> {
    let bad = || {
        usage(format!(
            "malformed step range '{s}'; write A..B, A.., ..B or a single step"
        ))
    };
    let parse = |t: &str, default: i64| {
        if t.trim().is_empty() {
            Ok(default)
        } else {
            t.trim().parse::<i64>().map_err(|_| bad())
        }
    };
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (parse(a, i64::MIN)?, parse(b, i64::MAX)?),
        None => {
            let v = parse(s, 0).map_err(|_| bad())?;
            if s.trim().is_empty() {
                return Err(bad());
            }
            (v, v)
        }
    };
    if a > b {
        return Err(usage(format!(
            "step range '{s}' is empty: {a} is after {b}"
        )));
    }
    Ok((a, b))
}

/// `value <op> number` conditions joined by `and`, or `finite`.
pub fn condition(s: &str) -> Result<Predicate, Fail> {
    let mut all = Vec::new();
    for part in s.split(" and ") {
        let part = part.trim();
        if part == "finite" {
            all.push(Predicate::Finite);
            continue;
        }
        let rest = part.strip_prefix("value").ok_or_else(|| {
            usage(format!(
                "malformed condition '{part}'; write 'value < 0.1' (operators < <= > >= == !=), conditions joined by 'and', or 'finite'"
            ))
        })?;
        let rest = rest.trim_start();
        let (cmp, number) = [
            ("<=", Cmp::Lte),
            (">=", Cmp::Gte),
            ("==", Cmp::Eq),
            ("!=", Cmp::Ne),
            ("<", Cmp::Lt),
            (">", Cmp::Gt),
        ]
        .iter()
        .find_map(|(op, cmp)| rest.strip_prefix(op).map(|n| (*cmp, n.trim())))
        .ok_or_else(|| {
            usage(format!(
                "condition '{part}' has no operator (< <= > >= == !=)"
            ))
        })?;
        let value: f64 = number
            .parse()
            .map_err(|_| usage(format!("condition '{part}': '{number}' is not a number")))?;
        all.push(Predicate::Value(cmp, value));
    }
    Ok(if all.len() == 1 {
        all.pop().expect("one")
    } else {
        Predicate::And(all)
    })
}

/// An order by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderArg {
    /// As stored.
    Stored,
    /// By step, smallest first.
    Asc,
    /// By step, largest first.
    Desc,
    /// By wall time, earliest first.
    Time,
    /// By wall time, latest first.
    TimeDesc,
}

impl From<OrderArg> for Order {
    fn from(o: OrderArg) -> Order {
        match o {
            OrderArg::Stored => Order::Stored,
            OrderArg::Asc => Order::StepAsc,
            OrderArg::Desc => Order::StepDesc,
            OrderArg::Time => Order::WallAsc,
            OrderArg::TimeDesc => Order::WallDesc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ranges_parse_and_bad_ones_are_named() {
        assert_eq!(steps("1000..2000").unwrap(), (1000, 2000));
        assert_eq!(steps("5..").unwrap(), (5, i64::MAX));
        assert_eq!(steps("..5").unwrap(), (i64::MIN, 5));
        assert_eq!(steps("7").unwrap(), (7, 7));
        assert!(
            steps("a..b")
                .unwrap_err()
                .message
                .contains("malformed step range 'a..b'")
        );
        assert!(steps("9..1").unwrap_err().message.contains("empty"));
    }

    #[test]
    fn conditions_parse_and_bad_ones_are_named() {
        assert_eq!(
            condition("value < 0.1").unwrap(),
            Predicate::Value(Cmp::Lt, 0.1)
        );
        assert_eq!(
            condition("value >= 1 and finite").unwrap(),
            Predicate::And(vec![Predicate::Value(Cmp::Gte, 1.0), Predicate::Finite])
        );
        assert!(
            condition("loss < 1")
                .unwrap_err()
                .message
                .contains("malformed condition")
        );
        assert!(
            condition("value ~ 1")
                .unwrap_err()
                .message
                .contains("no operator")
        );
        assert!(
            condition("value < x")
                .unwrap_err()
                .message
                .contains("not a number")
        );
    }
}
