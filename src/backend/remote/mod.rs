//! Delivery to a remote destination through a durable [`Spool`](crate::backend::spool::Spool):
//! the reusable half of a remote backend.
//!
//! A remote backend stores each batch in its spool (durable when `store_events`
//! returns, so `flush` means "durably spooled") and a [`Sender`] thread moves the
//! spool's events to the destination through a [`Delivery`]: reserve, send, ack on
//! success, nack and back off on a failure that a retry can fix. [`Remote`] is the
//! handle both sides and the collector share: the counters in
//! [`DestinationStats::remote`](crate::DestinationStats), and the wait for "acknowledged
//! by the server" ([`Collector::wait_acknowledged`](crate::Collector::wait_acknowledged)).

pub(crate) mod backoff;
mod progress;
mod sender;

pub use backoff::Backoff;
pub(crate) use progress::Count;
pub use progress::{Remote, RemoteStats};
pub use sender::{Delivery, SendError, Sender, SenderOptions, Sent};
