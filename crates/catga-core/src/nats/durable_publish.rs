//! Durable publishes: each message goes to JetStream with `Nats-Msg-Id` = its message id (the
//! server drops a repeat within the stream's duplicate window), acks are awaited in bounded
//! batches, and every message gets its own outcome by the call's deadline: a receipt or a coded
//! error, never nothing and never later.

use std::future::IntoFuture;
use std::time::Duration;

use async_nats::jetstream::context::PublishError;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Context;
use bytes::Bytes;
use tokio::time::Instant;

use crate::error::{CatgaError, ErrorCode, Result};

use super::request_frames::group_deadline;

/// The server's answer to one durable publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReceipt {
    /// The message's sequence in its stream (that of the copy kept, for a duplicate).
    pub sequence: u64,
    /// The stream already held a message with this id inside its duplicate window.
    pub duplicate: bool,
}

fn js_error(what: &str, err: impl std::fmt::Display) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}"))
}

/// When a durable publish must have settled: every item has its outcome by `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishDeadline {
    at: Instant,
    timeout: Duration,
}

impl PublishDeadline {
    /// `timeout` from now (capped at a week, so the instant cannot overflow).
    pub fn after(timeout: Duration) -> Self {
        Self { at: group_deadline(timeout), timeout }
    }

    /// The instant every outcome is due.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// The wait this deadline stands for (named in timeout errors).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    fn no_ack(&self, subject: &str) -> CatgaError {
        CatgaError::new(
            ErrorCode::Timeout,
            format!(
                "no JetStream ack for {subject} within {} ms (it may still be stored: a retry with the same \
                 message id is deduplicated)",
                self.timeout.as_millis()
            ),
        )
    }

    fn not_sent(&self, subject: &str) -> CatgaError {
        CatgaError::new(
            ErrorCode::Timeout,
            format!("durable publish to {subject} not sent within {} ms (NATS unreachable?)", self.timeout.as_millis()),
        )
    }
}

/// Publishes each item with `Nats-Msg-Id` = its message id, then awaits every ack. At most
/// `max_in_flight` acks are outstanding at once. Each item gets its own outcome, by `deadline`
/// whatever the broker does: one not acked by then is `CATGA_TIMEOUT`, and one not yet sent by
/// then is never sent. One failure does not fail the others, and nothing is dropped silently.
///
/// Every wait ends at the one deadline. async-nats bounds each ack by its own timer, started when
/// that ack is first awaited: acks awaited one after another, each lost in a broker restart,
/// took 5 s apiece (a batch of 64 settled after 320 s, issue 21). The acks of a chunk are
/// therefore awaited together, and the sends too are bounded (while async-nats reconnects, a
/// send waits for room in its command queue and for an in-flight permit, with no bound of its own).
pub async fn publish_durable(
    js: &Context,
    items: &[(&str, &str, &[u8])],
    max_in_flight: usize,
    deadline: PublishDeadline,
) -> Vec<Result<PublishReceipt>> {
    // async-nats' own ack timer defaults to 5 s; it must not end a wait before the deadline does.
    let mut js = js.clone();
    js.set_timeout(deadline.timeout.max(Duration::from_millis(1)));
    let mut outcomes = Vec::with_capacity(items.len());
    for chunk in items.chunks(max_in_flight.max(1)) {
        let mut pending = Vec::with_capacity(chunk.len());
        for (subject, message_id, payload) in chunk {
            if deadline.passed() {
                pending.push(Err(deadline.not_sent(subject)));
                continue;
            }
            let publish = PublishMessage::build().payload(Bytes::copy_from_slice(payload)).message_id(message_id);
            let sent = match tokio::time::timeout_at(deadline.at, js.send_publish((*subject).to_owned(), publish)).await
            {
                Ok(Ok(ack)) => Ok(ack),
                Ok(Err(e)) => Err(publish_error(subject, e, &deadline)),
                Err(_) => Err(deadline.not_sent(subject)),
            };
            pending.push(sent);
        }
        let acks = pending.into_iter().zip(chunk).map(|(sent, (subject, _, _))| async move {
            match tokio::time::timeout_at(deadline.at, sent?.into_future()).await {
                Ok(Ok(ack)) => Ok(PublishReceipt { sequence: ack.sequence, duplicate: ack.duplicate }),
                Ok(Err(e)) => Err(publish_error(subject, e, &deadline)),
                Err(_) => Err(deadline.no_ack(subject)),
            }
        });
        outcomes.extend(futures_util::future::join_all(acks).await);
    }
    outcomes
}

/// A failed publish or ack as a coded error naming the subject, async-nats' error kept as the cause.
fn publish_error(subject: &str, err: PublishError, deadline: &PublishDeadline) -> CatgaError {
    use async_nats::jetstream::context::PublishErrorKind as K;
    let coded = match err.kind() {
        K::TimedOut => deadline.no_ack(subject),
        K::StreamNotFound => {
            CatgaError::new(ErrorCode::NoHandler, format!("no stream captures {subject}; provision one first"))
        }
        K::MaxPayloadExceeded => CatgaError::new(ErrorCode::Limit, format!("{subject}: {err}")),
        _ => js_error(&format!("durable publish to {subject}"), &err),
    };
    coded.with_cause(err)
}

#[cfg(test)]
#[path = "durable_publish_tests.rs"]
mod tests;
