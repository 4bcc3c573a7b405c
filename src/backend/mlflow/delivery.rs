//! The MLflow [`Delivery`]: finds or creates the experiment and run on first use,
//! then turns spooled events into `runs/log-batch` requests and artifact uploads.

use serde_json::{Value, json};

use super::client::{Client, Failure};
use super::items::{self, Entity, Plan};
use crate::backend::remote::{Delivery, SendError, Sent};
use crate::error::{ErrorKind, Result, VizError};
use crate::event::Event;

/// How the ranks of a job share MLflow runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankLayout {
    /// Every rank logs into the one run; metric and artifact names take a
    /// `rank-<N>/` prefix when a rank is given.
    Shared,
    /// Each rank logs into a child run `<run>/rank-<N>` of the parent run `<run>`.
    Children,
}

/// Where the events go.
#[derive(Clone, Debug)]
pub struct Target {
    /// The experiment's name.
    pub experiment: String,
    /// The run's name.
    pub run: String,
    /// This process's rank, if the job has ranks.
    pub rank: Option<u32>,
    /// How ranks share runs.
    pub layout: RankLayout,
}

/// The run events go to, once found.
#[derive(Clone, Debug)]
struct Resolved {
    run_id: String,
    parent_id: Option<String>,
    /// The run's root under the artifact proxy (`<experiment>/<run>/artifacts`),
    /// or why artifacts cannot be sent.
    artifacts: std::result::Result<String, String>,
}

/// Delivers to one MLflow run (see the module documentation).
pub struct MlflowDelivery {
    client: Client,
    /// Where the backend records how the run ended.
    remote: crate::backend::remote::Remote,
    target: Target,
    resolved: Option<Resolved>,
}

fn retry(failure: Failure, doing: &str) -> SendError {
    match failure {
        Failure::Retry {
            error,
            maybe_delivered,
        } => SendError {
            error: error.context(doing),
            maybe_delivered,
        },
        rejected => SendError {
            error: rejected.into_error(doing),
            maybe_delivered: false,
        },
    }
}

impl MlflowDelivery {
    /// A delivery to `target` through `client`. Nothing is sent until the first batch.
    pub fn new(
        client: Client,
        remote: crate::backend::remote::Remote,
        target: Target,
    ) -> MlflowDelivery {
        MlflowDelivery {
            client,
            remote,
            target,
            resolved: None,
        }
    }

    /// Metric and artifact names' prefix.
    fn prefix(&self) -> String {
        match (self.target.layout, self.target.rank) {
            (RankLayout::Shared, Some(rank)) => format!("rank-{rank}/"),
            _ => String::new(),
        }
    }

    fn experiment_id(&self) -> std::result::Result<String, Failure> {
        let name = self.target.experiment.as_str();
        let get = || {
            self.client
                .get("experiments/get-by-name", &[("experiment_name", name)])
                .and_then(|v| id_in(&v["experiment"]["experiment_id"], "experiments/get-by-name"))
        };
        match get() {
            Ok(id) => Ok(id),
            Err(f) if f.is_code("RESOURCE_DOES_NOT_EXIST") => {
                match self
                    .client
                    .post("experiments/create", &json!({"name": name}))
                {
                    Ok(v) => id_in(&v["experiment_id"], "experiments/create"),
                    // Another rank created it first.
                    Err(f) if f.is_code("RESOURCE_ALREADY_EXISTS") => get(),
                    Err(f) => Err(f),
                }
            }
            Err(f) => Err(f),
        }
    }

    /// The active runs named `name` (children of `parent`, if given), oldest first
    /// (ties broken by id), so every process that finds several picks the same.
    fn find_runs(
        &self,
        experiment: &str,
        name: &str,
        parent: Option<&str>,
    ) -> std::result::Result<Vec<Value>, Failure> {
        let mut filter = format!("attributes.run_name = '{name}'");
        if let Some(parent) = parent {
            filter.push_str(&format!(" and tags.mlflow.parentRunId = '{parent}'"));
        }
        let found = self.client.post(
            "runs/search",
            &json!({
                "experiment_ids": [experiment],
                "filter": filter,
                "run_view_type": "ACTIVE_ONLY",
                "max_results": 100,
                "order_by": ["attributes.start_time ASC"],
            }),
        )?;
        let mut runs = found["runs"].as_array().cloned().unwrap_or_default();
        runs.sort_by(|a, b| {
            let key = |r: &Value| {
                (
                    r["info"]["start_time"]
                        .as_i64()
                        .or_else(|| r["info"]["start_time"].as_str()?.parse().ok())
                        .unwrap_or(i64::MAX),
                    r["info"]["run_id"].as_str().unwrap_or("").to_owned(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(runs)
    }

    /// Finds the run named `name`, or creates it if `create`. Only one process
    /// creates a given run (rank 0, or each rank its own child), so ranks never
    /// race to make two runs of one name; the others wait for it to appear.
    fn run(
        &self,
        experiment: &str,
        name: &str,
        parent: Option<&str>,
        create: bool,
    ) -> std::result::Result<Value, Failure> {
        if let Some(run) = self.find_runs(experiment, name, parent)?.into_iter().next() {
            return Ok(run);
        }
        if !create {
            return Err(Failure::Retry {
                error: VizError::new(
                    ErrorKind::Backend,
                    format!("waiting for rank 0 to create run '{name}'"),
                ),
                maybe_delivered: false,
            });
        }
        let mut tags = vec![json!({"key": "mlflow.runName", "value": name})];
        if let Some(parent) = parent {
            tags.push(json!({"key": "mlflow.parentRunId", "value": parent}));
        }
        tags.push(json!({"key": "mlflow.source.name", "value": "viz"}));
        let created = self.client.post(
            "runs/create",
            &json!({
                "experiment_id": experiment,
                "run_name": name,
                "start_time": now_millis(),
                "tags": tags,
            }),
        )?;
        Ok(created["run"].clone())
    }

    fn resolve(&mut self) -> std::result::Result<Resolved, SendError> {
        if let Some(r) = &self.resolved {
            return Ok(r.clone());
        }
        let doing = format!(
            "finding experiment '{}' and run '{}' on {}",
            self.target.experiment,
            self.target.run,
            self.client.base()
        );
        let experiment = self.experiment_id().map_err(|f| retry(f, &doing))?;
        let creator = self.target.rank.is_none_or(|r| r == 0);
        let top = self
            .run(&experiment, &self.target.run, None, creator)
            .map_err(|f| retry(f, &doing))?;
        let top_id = top["info"]["run_id"].as_str().unwrap_or("").to_owned();
        let (run, parent_id) = match (self.target.layout, self.target.rank) {
            (RankLayout::Children, Some(rank)) => {
                let name = format!("{}/rank-{rank}", self.target.run);
                let child = self
                    .run(&experiment, &name, Some(&top_id), true)
                    .map_err(|f| retry(f, &doing))?;
                (child, Some(top_id))
            }
            _ => (top, None),
        };
        let uri = run["info"]["artifact_uri"].as_str().unwrap_or("");
        let artifacts = proxy_root(uri).ok_or_else(|| {
            format!(
                "the run's artifact location '{uri}' is not behind the server's artifact proxy (mlflow-artifacts:); start the server with --serve-artifacts (the default) so viz can upload files"
            )
        });
        let resolved = Resolved {
            run_id: run["info"]["run_id"].as_str().unwrap_or("").to_owned(),
            parent_id,
            artifacts,
        };
        if resolved.run_id.is_empty() {
            return Err(SendError {
                error: VizError::new(
                    ErrorKind::Backend,
                    format!("{doing}: the server answered without a run id"),
                ),
                maybe_delivered: false,
            });
        }
        self.resolved = Some(resolved.clone());
        Ok(resolved)
    }

    /// Sends entities in requests within MLflow's limits. A request refused for
    /// good is split until the refused entities are found; they alone are dropped.
    fn log_batch(
        &self,
        run_id: &str,
        entities: &[Entity],
        sent: &mut Sent,
    ) -> std::result::Result<(), SendError> {
        let mut start = 0;
        while start < entities.len() {
            let end = start + fitting(&entities[start..]);
            self.log_slice(run_id, &entities[start..end], sent)?;
            start = end;
        }
        Ok(())
    }

    fn log_slice(
        &self,
        run_id: &str,
        slice: &[Entity],
        sent: &mut Sent,
    ) -> std::result::Result<(), SendError> {
        let mut body = json!({"run_id": run_id, "metrics": [], "params": [], "tags": []});
        for e in slice {
            body[e.field]
                .as_array_mut()
                .expect("made above")
                .push(e.json.clone());
        }
        sent.requests += 1;
        match self.client.post("runs/log-batch", &body) {
            Ok(_) => Ok(()),
            Err(f @ Failure::Retry { .. }) => Err(retry(f, "runs/log-batch")),
            Err(f) if slice.len() == 1 => {
                let e = &slice[0];
                sent.rejected += 1;
                sent.errors.push(f.into_error(&format!(
                    "logging {} '{}' (dropped)",
                    &e.field[..e.field.len() - 1],
                    e.key
                )));
                Ok(())
            }
            Err(_) => {
                let (a, b) = slice.split_at(slice.len() / 2);
                self.log_slice(run_id, a, sent)?;
                self.log_slice(run_id, b, sent)
            }
        }
    }

    fn upload(
        &self,
        resolved: &Resolved,
        plan: &Plan,
        sent: &mut Sent,
    ) -> std::result::Result<(), SendError> {
        if plan.artifacts.is_empty() {
            return Ok(());
        }
        let root = match &resolved.artifacts {
            Ok(root) => root,
            Err(why) => {
                sent.rejected += plan.artifacts.len() as u64;
                sent.errors.push(VizError::new(
                    ErrorKind::Backend,
                    format!("{} artifact files dropped: {why}", plan.artifacts.len()),
                ));
                return Ok(());
            }
        };
        for (path, bytes) in &plan.artifacts {
            sent.requests += 1;
            match self.client.put_artifact(&format!("{root}/{path}"), bytes) {
                Ok(_) => {}
                Err(f @ Failure::Retry { .. }) => {
                    return Err(retry(f, &format!("uploading artifact {path}")));
                }
                Err(f) => {
                    sent.rejected += 1;
                    sent.errors
                        .push(f.into_error(&format!("uploading artifact {path} (dropped)")));
                }
            }
        }
        Ok(())
    }

    fn delete_tags(
        &self,
        run_id: &str,
        keys: &[String],
        sent: &mut Sent,
    ) -> std::result::Result<(), SendError> {
        for key in keys {
            sent.requests += 1;
            match self
                .client
                .post("runs/delete-tag", &json!({"run_id": run_id, "key": key}))
            {
                Ok(_) => {}
                // Deleting an absent tag is what was wanted.
                Err(f) if f.is_code("RESOURCE_DOES_NOT_EXIST") => {}
                Err(f @ Failure::Retry { .. }) => return Err(retry(f, "runs/delete-tag")),
                Err(f) => {
                    sent.rejected += 1;
                    sent.errors
                        .push(f.into_error(&format!("deleting tag '{key}' (dropped)")));
                }
            }
        }
        Ok(())
    }

    /// The run's params and tags, read back.
    pub fn read_run(&mut self) -> Result<Value> {
        let resolved = self.resolve().map_err(|e| e.error)?;
        self.client
            .get("runs/get", &[("run_id", &resolved.run_id)])
            .map(|v| v["run"].clone())
            .map_err(|f| f.into_error("reading the run"))
    }
}

/// How many entities from the front fit one request.
fn fitting(entities: &[Entity]) -> usize {
    let (mut metrics, mut params, mut tags, mut bytes) = (0, 0, 0, 0);
    for (i, e) in entities.iter().enumerate() {
        let (m, p, t) = match e.field {
            "metrics" => (metrics + 1, params, tags),
            "params" => (metrics, params + 1, tags),
            _ => (metrics, params, tags + 1),
        };
        if i > 0
            && (m > items::MAX_METRICS
                || p > items::MAX_PARAMS
                || t > items::MAX_TAGS
                || i + 1 > items::MAX_ITEMS
                || bytes + e.bytes > items::MAX_REQUEST_BYTES)
        {
            return i;
        }
        (metrics, params, tags) = (m, p, t);
        bytes += e.bytes;
    }
    entities.len()
}

impl Delivery for MlflowDelivery {
    fn send(&mut self, first: u64, events: &[Event]) -> std::result::Result<Sent, SendError> {
        let resolved = self.resolve()?;
        let plan = items::plan(first, events, &self.prefix());
        let mut sent = Sent {
            rejected: plan.refused.len() as u64,
            errors: plan.refused.clone(),
            ..Sent::default()
        };
        self.log_batch(&resolved.run_id, &plan.entities, &mut sent)?;
        self.delete_tags(&resolved.run_id, &plan.delete_tags, &mut sent)?;
        self.upload(&resolved, &plan, &mut sent)?;
        Ok(sent)
    }

    fn finish(&mut self, drained: bool) -> Result<()> {
        let Some(resolved) = self.resolved.clone() else {
            return Ok(());
        };
        if !drained {
            // The run stays RUNNING: what is left is delivered by the next process
            // on this spool.
            return Ok(());
        }
        let status = match self.remote.run_status() {
            crate::runs::RunStatus::Finished => "FINISHED",
            crate::runs::RunStatus::Failed => "FAILED",
            crate::runs::RunStatus::Killed => "KILLED",
        };
        let finish = |run_id: &str| {
            self.client
                .post(
                    "runs/update",
                    &json!({"run_id": run_id, "status": status, "end_time": now_millis()}),
                )
                .map(|_| ())
                .map_err(|f| f.into_error(&format!("marking the run {status}")))
        };
        finish(&resolved.run_id)?;
        if let (Some(parent), Some(0)) = (&resolved.parent_id, self.target.rank) {
            finish(parent)?;
        }
        Ok(())
    }
}

/// `mlflow-artifacts:/1/abc/artifacts` (or `mlflow-artifacts://host/1/abc/artifacts`)
/// → `1/abc/artifacts`.
/// The id at `v`: a success without one is a garbled answer, retried rather than
/// taken as id "" (which would log into no experiment).
fn id_in(v: &Value, endpoint: &str) -> std::result::Result<String, Failure> {
    match v.as_str() {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(Failure::Retry {
            error: VizError::new(
                ErrorKind::Backend,
                format!("{endpoint}: the answer holds no id (got {v})"),
            ),
            maybe_delivered: true,
        }),
    }
}

fn proxy_root(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(i: usize, bytes: usize) -> Entity {
        Entity {
            field: "metrics",
            key: format!("m{i}"),
            json: Value::Null,
            bytes,
        }
    }

    #[test]
    fn requests_stay_within_mlflow_limits() {
        let many: Vec<Entity> = (0..2500).map(|i| metric(i, 60)).collect();
        assert_eq!(fitting(&many), 1000);
        let big: Vec<Entity> = (0..10).map(|i| metric(i, 400_000)).collect();
        assert_eq!(fitting(&big), 2);
        let params: Vec<Entity> = (0..150)
            .map(|i| Entity {
                field: "params",
                ..metric(i, 30)
            })
            .collect();
        assert_eq!(fitting(&params), 100);
        // One entity always goes, whatever its size: the server judges it.
        assert_eq!(fitting(&[metric(0, 2_000_000)]), 1);
    }

    #[test]
    fn proxy_roots_are_found_in_both_uri_forms() {
        assert_eq!(
            proxy_root("mlflow-artifacts:/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert_eq!(
            proxy_root("mlflow-artifacts://host:5000/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert!(proxy_root("/tmp/mlruns/1/abc/artifacts").is_none());
    }
}
