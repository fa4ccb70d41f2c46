//! Bounded admission: requests in flight and bytes pending are semaphores, and the backpressure
//! policy decides between waiting for room and failing at once. Invariant: a refusal while
//! closing is `CATGA_CLOSED`, never `CATGA_BACKPRESSURE`, and every refused or waiting unit is
//! counted once in the stats.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::NatsEngine;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::nats::errors::closed;
use crate::nats::options::BackpressurePolicy;
use crate::nats::stats::Stats;

impl NatsEngine {
    /// Fails with `CATGA_CLOSED` once closing began, or `CATGA_NOT_CONNECTED` while disconnected
    /// under `when_disconnected: Reject`; for work that takes no admission bound (e.g. starting
    /// a JetStream consumer).
    pub fn check_accepting(&self) -> Result<()> {
        self.check_open()
    }

    pub(super) fn check_open(&self) -> Result<()> {
        if self.closing.load(Ordering::SeqCst) {
            return Err(CatgaError::new(
                ErrorCode::Closed,
                "the NATS connection is closing or closed; no new work is accepted",
            ));
        }
        if self.options.when_disconnected == BackpressurePolicy::Reject && !self.is_connected() {
            return Err(CatgaError::new(
                ErrorCode::NotConnected,
                "NATS is disconnected (policy: reject while disconnected)",
            ));
        }
        Ok(())
    }

    /// Admits `total` bytes under `max_pending_bytes`. A batch larger than the whole budget still
    /// goes through once it has the budget to itself.
    ///
    /// `messages` is how many envelopes the bytes hold: what the wait/rejection stats count, so a
    /// refused batch of 200 counts 200 rejections, as 200 single publishes would.
    pub(super) async fn admit_bytes(&self, total: usize, messages: usize) -> Result<OwnedSemaphorePermit> {
        let permits = total.min(self.options.max_pending_bytes).max(1) as u32;
        self.admit(&self.pending_bytes, permits, messages.max(1) as u64, "pending bytes").await
    }

    /// Takes `permits` from a bound, per the backpressure policy. `units` is how many requests or
    /// publishes the admission stands for, as counted in the wait/rejection stats.
    pub(super) async fn admit(
        &self,
        semaphore: &Arc<Semaphore>,
        permits: u32,
        units: u64,
        what: &str,
    ) -> Result<OwnedSemaphorePermit> {
        match semaphore.clone().try_acquire_many_owned(permits) {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::Closed) => Err(closed()),
            // close() queues for every permit: work that arrives meanwhile is refused as closed,
            // not as backpressure.
            Err(TryAcquireError::NoPermits) if self.closing.load(Ordering::SeqCst) => Err(closed()),
            Err(TryAcquireError::NoPermits) if self.options.backpressure == BackpressurePolicy::Reject => {
                Stats::add(&self.stats.backpressure_rejections, units);
                Err(CatgaError::new(ErrorCode::Backpressure, format!("{what} limit reached (policy: reject)")))
            }
            Err(TryAcquireError::NoPermits) => {
                Stats::add(&self.stats.backpressure_waits, units);
                semaphore.clone().acquire_many_owned(permits).await.map_err(|_| closed())
            }
        }
    }
}
