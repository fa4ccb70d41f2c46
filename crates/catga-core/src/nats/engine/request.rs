//! Request/reply: plain requests, framed request groups and planning a host batch. Invariant: a
//! request never outlives its timeout (admission, queueing while reconnecting and the wait for
//! the reply all count against one deadline), a passed deadline is always `CATGA_TIMEOUT`, and a
//! request the server refuses to publish fails `CATGA_PERMISSION_DENIED` as soon as it says so.

use std::time::Duration;

use bytes::Bytes;

use super::NatsEngine;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::nats::errors::request_error;
use crate::nats::permissions::publish_denied;
use crate::nats::request_batch::{plan_requests, BatchRequest, RequestJob};
use crate::nats::request_frames::{group_deadline, GroupRequest};
use crate::nats::stats::Stats;

impl NatsEngine {
    /// Groups are never larger than the in-flight bound, so a group is admitted whole.
    fn requests_per_frame(&self) -> usize {
        self.options.requests_per_frame.min(self.options.max_in_flight_requests)
    }

    /// Plans a batch of requests from the host (see [`crate::nats::plan_requests`]): per subject, in
    /// order, framed groups of at most `requests_per_frame`, or plain requests. Run each job with
    /// [`RequestJob::run`].
    pub fn plan_requests(&self, subjects: &[String], requests: &[BatchRequest<'_>]) -> Result<Vec<RequestJob>> {
        plan_requests(subjects, requests, self.requests_per_frame(), || self.frame_options())
    }

    /// Sends one framed request group (see [`Self::plan_requests`]); `report` gets each member's
    /// outcome (by its index in the group) as soon as it is known.
    pub async fn request_group(
        &self,
        subject: &str,
        frame: Vec<u8>,
        count: usize,
        timeout: Option<Duration>,
        mut report: impl FnMut(Vec<(usize, Result<Bytes>)>),
    ) {
        let failed = |err: CatgaError| (0..count).map(|i| (i, Err(err.clone()))).collect::<Vec<_>>();
        if let Err(err) = self.check_open() {
            return report(failed(err));
        }
        if self.permissions.is_denied(subject) {
            return report(failed(publish_denied(subject)));
        }
        let timeout = timeout.unwrap_or(self.options.request_timeout);
        let deadline = group_deadline(timeout);
        // Groups are framed no larger than the bound (see `frame_requests`), so a group is admitted whole.
        let permits = count.min(self.options.max_in_flight_requests).max(1) as u32;
        let admitted = self.admit(&self.requests, permits, count as u64, "requests in flight");
        let _permit = match tokio::time::timeout_at(deadline, admitted).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(err)) => return report(failed(err)),
            Err(_) => return report(failed(self.timeout_error(subject, timeout))),
        };
        Stats::add(&self.stats.requests, count as u64);
        let group = GroupRequest {
            client: &self.client,
            router: &self.router,
            stats: &self.stats,
            subject,
            frame,
            count,
            deadline,
            limits: &self.options.frame.limits,
            permissions: &self.permissions,
        };
        let stats = &self.stats;
        let counted = |outcomes: Vec<(usize, Result<Bytes>)>| {
            Stats::add(&stats.request_failures, outcomes.iter().filter(|(_, o)| o.is_err()).count() as u64);
            report(outcomes);
        };
        group.run(|| self.timeout_error(subject, timeout), counted).await;
    }

    /// A request's deadline passed: always `CATGA_TIMEOUT` (what the docs and the default retry
    /// classification expect), with the disconnection named in the message when that was why.
    /// `CATGA_NOT_CONNECTED` is for refusing work at once (`whenDisconnected: reject`, connect).
    fn timeout_error(&self, subject: &str, timeout: Duration) -> CatgaError {
        let waited = timeout.as_millis();
        if self.is_connected() {
            CatgaError::new(ErrorCode::Timeout, format!("no reply on {subject} within {waited} ms"))
        } else {
            CatgaError::new(
                ErrorCode::Timeout,
                format!("no reply on {subject} within {waited} ms (NATS was disconnected meanwhile)"),
            )
        }
    }

    /// Sends one request and waits for its reply, bounded by `timeout` (or the default).
    pub async fn request(&self, subject: &str, payload: Bytes, timeout: Option<Duration>) -> Result<Bytes> {
        self.check_open()?;
        if self.permissions.is_denied(subject) {
            return Err(publish_denied(subject));
        }
        let timeout = timeout.unwrap_or(self.options.request_timeout);
        let deadline = group_deadline(timeout);
        let admitted = self.admit(&self.requests, 1, 1, "requests in flight");
        let _permit = match tokio::time::timeout_at(deadline, admitted).await {
            Ok(permit) => permit?,
            Err(_) => return Err(self.timeout_error(subject, timeout)),
        };
        Stats::add(&self.stats.requests, 1);
        let request = async_nats::Request::new().payload(payload).timeout(Some(timeout));
        // Taken before the request goes out, so a refusal of it is seen (see `permissions`).
        let mut changes = self.permissions.watch();
        // async-nats starts its timeout once the request is queued, and queueing waits while it
        // reconnects: the whole call is bounded here so a request never outlives its timeout.
        let replied = tokio::time::timeout_at(deadline, self.client.send_request(subject.to_owned(), request));
        let sent = tokio::select! {
            sent = replied => sent,
            // The server refused to let this connection publish to the subject: no reply can come.
            denied = self.permissions.denied(subject, &mut changes) => {
                Stats::add(&self.stats.request_failures, 1);
                return Err(denied);
            }
        };
        let sent = match sent {
            Ok(sent) => sent,
            Err(_) => {
                Stats::add(&self.stats.request_failures, 1);
                return Err(self.timeout_error(subject, timeout));
            }
        };
        match sent {
            Ok(message) => Ok(message.payload),
            Err(err) => {
                Stats::add(&self.stats.request_failures, 1);
                Err(request_error(subject, err, || self.timeout_error(subject, timeout)))
            }
        }
    }
}
