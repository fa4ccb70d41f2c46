//! How a batch of requests from the host travels: grouped per subject in arrival order, then
//! each subject's requests go either as framed groups (see [`super::request_frames`]) or one
//! plain NATS request each.
//!
//! Invariant: every request of a planned batch reports exactly one outcome, under its own id.
//! A lone request, every request when framing is off (`requests_per_frame` 1), and every request
//! of a subject whose envelopes cannot be framed (one fits `max_payload` alone but not with the
//! frame's header) go as plain requests, so each of them fails or succeeds on its own.

use std::time::Duration;

use bytes::Bytes;

use super::engine::NatsEngine;
use super::request_frames::request_frames;
use crate::error::{CatgaError, Result};
use crate::frame::FrameOptions;

/// A finished request: the id the host gave it, and its reply bytes or its error.
pub type Completion = (u32, Result<Bytes>);

/// One request of a batch from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRequest<'a> {
    /// The host's id for this request; its [`Completion`] carries it back.
    pub id: u32,
    /// Index of the request's subject in the batch's subject list.
    pub subject: u32,
    /// The encoded envelope to send.
    pub envelope: &'a [u8],
}

/// One unit of work of a planned batch: one NATS request, carrying one or many host requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestJob {
    /// One request sent as a plain NATS request.
    Single {
        /// Where it goes.
        subject: String,
        /// The host's id for it.
        id: u32,
        /// Its envelope.
        payload: Bytes,
    },
    /// Requests to one subject sent as one `CTG1` frame.
    Framed {
        /// Where they go.
        subject: String,
        /// The host's ids, in frame order (member `i` answers to `ids[i]`).
        ids: Vec<u32>,
        /// The encoded frame.
        frame: Vec<u8>,
    },
}

/// Groups a batch per subject and decides how each subject's requests travel (see the module
/// doc): in frames of at most `per_frame` requests, or all plain when `per_frame` is 1.
/// `frame_options` is asked once, and only when some subject has several requests (the engine's
/// reads the server's `max_payload`). Frames are built before anything is sent; plain requests
/// come first in the plan, then framed groups, each in subject order. Fails only for a request
/// whose `subject` points past `subjects`, naming it as `subjectIndex[i]`.
pub fn plan_requests(
    subjects: &[String],
    requests: &[BatchRequest<'_>],
    per_frame: usize,
    frame_options: impl Fn() -> FrameOptions,
) -> Result<Vec<RequestJob>> {
    let mut by_subject: Vec<Vec<(u32, &[u8])>> = vec![Vec::new(); subjects.len()];
    for (i, request) in requests.iter().enumerate() {
        let group = by_subject
            .get_mut(request.subject as usize)
            .ok_or_else(|| CatgaError::invalid_argument(&format!("subjectIndex[{i}]"), "points past subjects"))?;
        group.push((request.id, request.envelope));
    }
    let mut options = None;
    let mut singles = Vec::new();
    let mut groups = Vec::new();
    for (subject, requests) in subjects.iter().zip(by_subject) {
        let framed = match requests.as_slice() {
            [] | [_] => None,
            _ if per_frame <= 1 => None,
            many => {
                let options = *options.get_or_insert_with(&frame_options);
                let envelopes: Vec<&[u8]> = many.iter().map(|(_, envelope)| *envelope).collect();
                request_frames(&envelopes, per_frame, options).ok()
            }
        };
        match framed {
            Some(frames) => {
                let mut ids = requests.iter().map(|(id, _)| *id);
                for (frame, count) in frames {
                    let ids = ids.by_ref().take(count).collect();
                    groups.push(RequestJob::Framed { subject: subject.clone(), ids, frame });
                }
            }
            None => singles.extend(requests.iter().map(|(id, envelope)| RequestJob::Single {
                subject: subject.clone(),
                id: *id,
                payload: Bytes::copy_from_slice(envelope),
            })),
        }
    }
    singles.append(&mut groups);
    Ok(singles)
}

impl RequestJob {
    /// Sends the job on `engine` and reports every request's outcome to `report` as soon as it
    /// is known (a framed group may report in several calls, each request once). `timeout`
    /// overrides the engine's request timeout.
    pub async fn run(self, engine: &NatsEngine, timeout: Option<Duration>, mut report: impl FnMut(Vec<Completion>)) {
        match self {
            RequestJob::Single { subject, id, payload } => {
                let outcome = engine.request(&subject, payload, timeout).await;
                report(vec![(id, outcome)]);
            }
            RequestJob::Framed { subject, ids, frame } => {
                let by_id = |outcomes: Vec<(usize, Result<Bytes>)>| {
                    let finished = outcomes
                        .into_iter()
                        .filter_map(|(index, outcome)| ids.get(index).map(|id| (*id, outcome)))
                        .collect();
                    report(finished);
                };
                engine.request_group(&subject, frame, ids.len(), timeout, by_id).await;
            }
        }
    }
}

#[cfg(test)]
#[path = "request_batch_tests.rs"]
mod tests;
