//! MLflow's tracking server as a destination: its REST client, the mapping of viz
//! events to MLflow entities, and the [`Delivery`](crate::remote::Delivery) the
//! `mlflow+http(s)://` backend ([`crate::backend::mlflow`]) sends through.

pub mod client;
pub mod delivery;
pub mod items;
