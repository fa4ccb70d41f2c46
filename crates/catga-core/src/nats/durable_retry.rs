//! The retry policy of durable publishes: which failed attempts are re-sent (with the same
//! `Nats-Msg-Id`, so the server keeps one copy however many arrive), how long to wait between
//! attempts, and how a publish still failing at its deadline is reported. Invariant: an attempt
//! is only retried when the failure may be temporary (no stream leader, ack lost or late,
//! connection lost); a definite refusal (payload too large, wrong expected sequence) is final.

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::context::{GetStreamByNameErrorKind, PublishError, PublishErrorKind};
use async_nats::jetstream::Context;
use tokio::sync::OnceCell;

use crate::error::{CatgaError, ErrorCode};

/// How a durable publish retries inside its deadline.
///
/// Measured on a 3-node cluster (R3 stream, stream leader killed with SIGKILL,
/// `__test__/jetstream/cluster-failover.test.ts`): publishes fail with no responders (503) or
/// lose their ack for the length of the election; re-sending them is what makes the failover
/// invisible to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRetry {
    /// Wait after the first retryable failure; doubles per failure up to `max_backoff`.
    pub first_backoff: Duration,
    /// Longest wait between two attempts of one message.
    pub max_backoff: Duration,
    /// An attempt not acked within this is re-sent (the earlier attempt's ack is still awaited:
    /// whichever comes first settles the message).
    pub attempt_timeout: Duration,
}

impl Default for PublishRetry {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(1),
        }
    }
}

impl PublishRetry {
    /// The wait after `backoff`: doubled, capped at `max_backoff`.
    pub(crate) fn next_backoff(&self, backoff: Duration) -> Duration {
        (backoff * 2).min(self.max_backoff).max(self.first_backoff.min(self.max_backoff))
    }
}

/// What a failed attempt means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No stream answered (NATS "no responders"): none captures the subject, or the stream's
    /// leader is being elected. Retried unless a lookup finds no stream for the subject.
    NoResponders,
    /// May pass: JetStream answered 503 (temporarily unavailable), the ack was lost, late or its
    /// connection dropped. Retried.
    Temporary,
    /// A definite refusal. Not retried.
    Final,
}

pub(crate) fn classify(err: &PublishError) -> Failure {
    match err.kind() {
        PublishErrorKind::StreamNotFound => Failure::NoResponders,
        PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => Failure::Temporary,
        PublishErrorKind::Other => {
            let api = err.source().and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>());
            match api {
                Some(api) if api.code() == 503 => Failure::Temporary,
                _ => Failure::Final,
            }
        }
        _ => Failure::Final,
    }
}

/// The error of a message whose last attempt failed for a temporary reason and whose deadline
/// passed. CATGA_TIMEOUT, as for any wait that ran out: the message may still be stored, and a
/// re-publish with the same message id is deduplicated. Never CATGA_NO_HANDLER: a stream without
/// a leader is not a missing handler.
pub(crate) fn gave_up(subject: &str, last: Option<PublishError>, timeout: Duration) -> CatgaError {
    let ms = timeout.as_millis();
    let dedupe = "it may still be stored: a retry with the same message id is deduplicated";
    let error = match last.as_ref().map(classify) {
        Some(Failure::NoResponders) => CatgaError::new(
            ErrorCode::Timeout,
            format!("JetStream unavailable for {subject} within {ms} ms: no stream leader answered (election?)"),
        ),
        Some(Failure::Temporary) if last.as_ref().is_some_and(|e| e.kind() == PublishErrorKind::Other) => {
            CatgaError::new(
                ErrorCode::Timeout,
                format!("JetStream unavailable for {subject} within {ms} ms ({dedupe})"),
            )
        }
        _ => CatgaError::new(ErrorCode::Timeout, format!("no JetStream ack for {subject} within {ms} ms ({dedupe})")),
    };
    match last {
        Some(cause) => error.with_cause(cause),
        None => error,
    }
}

/// Per call, whether a subject has no stream at all, asked of JetStream once per subject after
/// its first no-responders answer: a missing stream fails at once with CATGA_NO_HANDLER instead
/// of being retried until the deadline. An unanswered lookup (no meta leader either) counts as
/// "a stream may exist", so the message is retried.
#[derive(Default)]
pub(crate) struct StreamLookup {
    answers: Mutex<HashMap<String, Arc<OnceCell<bool>>>>,
}

impl StreamLookup {
    pub(crate) async fn missing(&self, js: &Context, subject: &str, wait: Duration) -> bool {
        let cell = {
            let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
            answers.entry(subject.to_owned()).or_default().clone()
        };
        *cell
            .get_or_init(|| async {
                match tokio::time::timeout(wait, js.stream_by_subject(subject)).await {
                    Ok(Err(err)) => matches!(err.kind(), GetStreamByNameErrorKind::NotFound),
                    Ok(Ok(_)) | Err(_) => false,
                }
            })
            .await
    }
}

pub(crate) fn no_stream(subject: &str) -> CatgaError {
    CatgaError::new(ErrorCode::NoHandler, format!("no stream captures {subject}; provision one first"))
}
