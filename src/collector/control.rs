//! Messages to the worker, and the answer a flush or stop waits for.

use std::time::Instant;

use crossbeam_channel::Sender;

use crate::error::Result;

/// Where a flush or stop is answered (one answer per destination), and by when.
/// The caller's request to the worker and the worker's to each destination carry
/// the same `Reply`.
#[derive(Clone)]
pub(crate) struct Reply {
    pub to: Sender<Result<()>>,
    pub deadline: Instant,
}

/// Messages to the worker. Producers send only `Wake`, and only from the slow path.
pub(crate) enum Control {
    Wake,
    Flush(Reply),
    Stop(Reply),
}
