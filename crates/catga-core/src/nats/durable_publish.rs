//! Durable publishes: each message goes to JetStream with `Nats-Msg-Id` = its message id (the
//! server drops a repeat within the stream's duplicate window), acks are awaited in bounded
//! batches, and every message gets its own outcome: a receipt or a coded error, never nothing.

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Context;
use bytes::Bytes;

use crate::error::{CatgaError, ErrorCode, Result};

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

/// Publishes each item with `Nats-Msg-Id` = its message id, then awaits every ack. At most
/// `max_in_flight` acks are outstanding at once. Each item gets its own outcome; one failure
/// does not fail the others, and nothing is dropped silently.
pub async fn publish_durable(
    js: &Context,
    items: &[(&str, &str, &[u8])],
    max_in_flight: usize,
) -> Vec<Result<PublishReceipt>> {
    let mut outcomes = Vec::with_capacity(items.len());
    for chunk in items.chunks(max_in_flight.max(1)) {
        let mut pending = Vec::with_capacity(chunk.len());
        for (subject, message_id, payload) in chunk {
            let publish = PublishMessage::build().payload(Bytes::copy_from_slice(payload)).message_id(message_id);
            pending.push(js.send_publish((*subject).to_owned(), publish).await);
        }
        for (sent, (subject, _, _)) in pending.into_iter().zip(chunk) {
            let outcome = match sent {
                Err(e) => Err(publish_error(subject, e.kind(), &e)),
                Ok(ack) => match ack.await {
                    Ok(ack) => Ok(PublishReceipt { sequence: ack.sequence, duplicate: ack.duplicate }),
                    Err(e) => Err(publish_error(subject, e.kind(), &e)),
                },
            };
            outcomes.push(outcome);
        }
    }
    outcomes
}

fn publish_error(
    subject: &str,
    kind: async_nats::jetstream::context::PublishErrorKind,
    err: &dyn std::fmt::Display,
) -> CatgaError {
    use async_nats::jetstream::context::PublishErrorKind as K;
    match kind {
        K::TimedOut => CatgaError::new(ErrorCode::Timeout, format!("no JetStream ack for {subject}: {err}")),
        K::StreamNotFound => {
            CatgaError::new(ErrorCode::NoHandler, format!("no stream captures {subject}; provision one first"))
        }
        K::MaxPayloadExceeded => CatgaError::new(ErrorCode::Limit, format!("{subject}: {err}")),
        _ => js_error(&format!("durable publish to {subject}"), err),
    }
}
