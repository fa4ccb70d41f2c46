//! Durable publishes: each message goes to JetStream with `Nats-Msg-Id` = its message id (the
//! server drops a repeat within the stream's duplicate window), acks are awaited in bounded
//! batches, and every message gets its own outcome by the call's deadline: a receipt or a coded
//! error, never nothing and never later.

use std::future::IntoFuture;
use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::Context;
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{CatgaError, ErrorCode, Result};

pub use super::durable_retry::PublishRetry;
use super::durable_retry::{classify, gave_up, no_stream, Failure, StreamLookup};
use super::permissions::{publish_denied, Permissions};
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

    fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
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
/// `max_in_flight` messages are outstanding at once. Each item gets its own outcome, by `deadline`
/// whatever the broker does: one not acked by then is `CATGA_TIMEOUT`, and one not yet sent by
/// then is never sent. One failure does not fail the others, and nothing is dropped silently.
///
/// A failed attempt that may be temporary (no stream leader during an election, a lost or late
/// ack, a dropped connection) is re-sent with the same message id as `retry` says, until it is
/// acked or the deadline passes; the server deduplicates, so a retry never stores a second copy
/// (a receipt may then say `duplicate` for the copy an earlier attempt stored). A retried message
/// may land after messages of the same call sent later.
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
    retry: PublishRetry,
) -> Vec<Result<PublishReceipt>> {
    publish_durable_checked(js, items, max_in_flight, deadline, retry, None).await
}

/// [`publish_durable`], where an item whose subject the server refuses to let this connection
/// publish to (as `permissions` records) fails `CATGA_PERMISSION_DENIED` as soon as the refusal
/// arrives, or at once when one came before, instead of being re-sent until its deadline.
pub(crate) async fn publish_durable_checked(
    js: &Context,
    items: &[(&str, &str, &[u8])],
    max_in_flight: usize,
    deadline: PublishDeadline,
    retry: PublishRetry,
    permissions: Option<&Permissions>,
) -> Vec<Result<PublishReceipt>> {
    // async-nats' own ack timer defaults to 5 s; it must not end a wait before the deadline does.
    let mut js = js.clone();
    js.set_timeout(deadline.timeout.max(Duration::from_millis(1)));
    let lookup = StreamLookup::default();
    let mut outcomes = Vec::with_capacity(items.len());
    for chunk in items.chunks(max_in_flight.max(1)) {
        // Taken before the chunk goes out, so a refusal of any of it is seen.
        let changes = permissions.map(Permissions::watch);
        let mut pending = Vec::with_capacity(chunk.len());
        for &(subject, message_id, payload) in chunk {
            let sent = match permissions {
                Some(permissions) if permissions.is_denied(subject) => Err(publish_denied(subject)),
                _ => send(&js, subject, message_id, payload, &deadline).await,
            };
            pending.push(sent);
        }
        let (js, lookup) = (&js, &lookup);
        let acks = pending.into_iter().zip(chunk).map(|(sent, &item)| {
            let refusal = permissions.zip(changes.clone());
            async move { settle(js, item, sent?, deadline, retry, lookup, refusal).await }
        });
        outcomes.extend(futures_util::future::join_all(acks).await);
    }
    outcomes
}

/// Resolves with the refusal of `subject` once the server reported one; never without `refusal`.
async fn refused(refusal: &mut Option<(&Permissions, watch::Receiver<u64>)>, subject: &str) -> CatgaError {
    match refusal {
        Some((permissions, changes)) => permissions.denied(subject, changes).await,
        None => std::future::pending().await,
    }
}

/// One attempt's send, bounded by the deadline.
async fn send(
    js: &Context,
    subject: &str,
    message_id: &str,
    payload: &[u8],
    deadline: &PublishDeadline,
) -> Result<PublishAckFuture> {
    if deadline.passed() {
        return Err(deadline.not_sent(subject));
    }
    let publish = PublishMessage::build().payload(Bytes::copy_from_slice(payload)).message_id(message_id);
    match tokio::time::timeout_at(deadline.at, js.send_publish(subject.to_owned(), publish)).await {
        Ok(Ok(ack)) => Ok(ack),
        Ok(Err(e)) => Err(publish_error(subject, e, deadline)),
        Err(_) => Err(deadline.not_sent(subject)),
    }
}

/// The ack of attempt `attempt` (0 for the first send), with its number.
async fn numbered(attempt: u32, ack: PublishAckFuture) -> (u32, std::result::Result<PublishAck, PublishError>) {
    (attempt, ack.into_future().await)
}

/// Awaits the acks of a sent message, re-sending it after a temporary failure or an attempt
/// unacked for `retry.attempt_timeout`, until one attempt is acked or the deadline passes.
async fn settle(
    js: &Context,
    (subject, message_id, payload): (&str, &str, &[u8]),
    first: PublishAckFuture,
    deadline: PublishDeadline,
    retry: PublishRetry,
    lookup: &StreamLookup,
    mut refusal: Option<(&Permissions, watch::Receiver<u64>)>,
) -> Result<PublishReceipt> {
    let mut acks = FuturesUnordered::new();
    let mut attempts = 0u32;
    acks.push(numbered(attempts, first));
    let mut backoff = retry.first_backoff;
    let mut resend_at = Instant::now() + retry.attempt_timeout;
    let mut last_failure = None;
    loop {
        tokio::select! {
            // The server refused the publish: no attempt can be stored, so none is re-sent.
            denied = refused(&mut refusal, subject) => return Err(denied),
            Some((attempt, ack)) = acks.next(), if !acks.is_empty() => {
                let err = match ack {
                    Ok(ack) => return Ok(PublishReceipt { sequence: ack.sequence, duplicate: ack.duplicate }),
                    Err(err) => err,
                };
                let lookup_wait = retry.attempt_timeout.min(deadline.remaining());
                match classify(&err) {
                    Failure::Final => return Err(publish_error(subject, err, &deadline)),
                    Failure::NoResponders if lookup.missing(js, subject, lookup_wait).await => {
                        return Err(no_stream(subject).with_cause(err));
                    }
                    Failure::NoResponders | Failure::Temporary => {}
                }
                last_failure = Some(err);
                // An earlier attempt failing says nothing new: the latest one is still awaited.
                if attempt == attempts {
                    resend_at = Instant::now() + backoff;
                    backoff = retry.next_backoff(backoff);
                }
            }
            () = tokio::time::sleep_until(resend_at.min(deadline.at)) => {
                if deadline.passed() {
                    return Err(gave_up(subject, last_failure, deadline.timeout));
                }
                match send(js, subject, message_id, payload, &deadline).await {
                    Ok(ack) => {
                        attempts += 1;
                        acks.push(numbered(attempts, ack));
                        resend_at = Instant::now() + retry.attempt_timeout;
                    }
                    Err(e) if e.code == ErrorCode::Timeout => {
                        return Err(gave_up(subject, last_failure, deadline.timeout));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// A failed publish or ack as a coded error naming the subject, async-nats' error kept as the cause.
fn publish_error(subject: &str, err: PublishError, deadline: &PublishDeadline) -> CatgaError {
    use async_nats::jetstream::context::PublishErrorKind as K;
    let coded = match err.kind() {
        K::TimedOut => deadline.no_ack(subject),
        K::StreamNotFound => no_stream(subject),
        K::MaxPayloadExceeded => CatgaError::new(ErrorCode::Limit, format!("{subject}: {err}")),
        _ => js_error(&format!("durable publish to {subject}"), &err),
    };
    coded.with_cause(err)
}

#[cfg(test)]
#[path = "durable_publish_tests.rs"]
mod tests;
