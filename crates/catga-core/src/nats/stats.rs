//! Counters the engine keeps; JS reads them in bulk (`stats()`), never per message.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub messages_sent: AtomicU64,
    pub frames_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_before_compression: AtomicU64,
    pub messages_received: AtomicU64,
    pub frames_received: AtomicU64,
    pub batches_delivered: AtomicU64,
    pub malformed_received: AtomicU64,
    pub requests: AtomicU64,
    pub request_failures: AtomicU64,
    pub backpressure_waits: AtomicU64,
    pub backpressure_rejections: AtomicU64,
    pub reconnects: AtomicU64,
    pub frames_dropped: AtomicU64,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Envelopes published (events, replies, durable publishes), whatever frames carried them.
    pub messages_sent: u64,
    /// `CTG1` frames sent (event frames, reply frames, request group frames).
    pub frames_sent: u64,
    /// Payload bytes handed to the client, after compression.
    pub bytes_sent: u64,
    /// Envelope bytes published, before framing and compression.
    pub bytes_before_compression: u64,
    /// Envelopes received on subscriptions (the same unit as `messages_sent`).
    pub messages_received: u64,
    /// NATS messages received on subscriptions: frames and single envelopes alike (the unit of
    /// `frames_sent`, plus messages from other clients).
    pub frames_received: u64,
    /// Inbound batches handed to the host.
    pub batches_delivered: u64,
    /// Inbound messages skipped as not valid Catga frames or envelopes.
    pub malformed_received: u64,
    /// Requests sent (each member of a framed group counts once).
    pub requests: u64,
    /// Requests sent that got no reply (timeout, no handler, transport error).
    pub request_failures: u64,
    /// Publishes, replies and requests that waited for room under `BackpressurePolicy::Wait`.
    pub backpressure_waits: u64,
    /// Publishes, replies and requests refused under `BackpressurePolicy::Reject`.
    pub backpressure_rejections: u64,
    /// Times a lost connection came back.
    pub reconnects: u64,
    /// NATS messages this client dropped on receipt (a subscription's buffer was full while JS
    /// was busy): counted exactly past `subscription_buffer_bytes`, and once per `slowConsumer`
    /// event when async-nats' own channel overflows (those events can themselves be lost, so
    /// this is a lower bound). The server drops nothing for a core subscription it delivered.
    pub frames_dropped: u64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            messages_sent: self.messages_sent.load(Relaxed),
            frames_sent: self.frames_sent.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            bytes_before_compression: self.bytes_before_compression.load(Relaxed),
            messages_received: self.messages_received.load(Relaxed),
            frames_received: self.frames_received.load(Relaxed),
            batches_delivered: self.batches_delivered.load(Relaxed),
            malformed_received: self.malformed_received.load(Relaxed),
            requests: self.requests.load(Relaxed),
            request_failures: self.request_failures.load(Relaxed),
            backpressure_waits: self.backpressure_waits.load(Relaxed),
            backpressure_rejections: self.backpressure_rejections.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            frames_dropped: self.frames_dropped.load(Relaxed),
        }
    }
}
