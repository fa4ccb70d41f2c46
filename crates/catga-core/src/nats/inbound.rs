//! Inbound side: turns NATS messages into batches for JS. Each wake-up takes every message that
//! is already waiting (up to a cap), unframes `CTG1` frames, checks each envelope, and packs them
//! into one buffer plus offsets, so JS is called once per batch however many messages arrived.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use async_nats::{Message, Subscriber};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use super::request_frames::member_reply_subject;
use super::stats::Stats;
use crate::envelope::{decode_envelope, ENVELOPE_VERSION};
use crate::error::CatgaError;
use crate::frame::{decode_frame, FLAG_ZSTD, FRAME_MAGIC};
use crate::limits::Limits;

/// Envelopes received together: envelope `i` is `data[offsets[2i]..][..offsets[2i+1]]`, and
/// `replies[i]` is the reply subject when it came as a request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InboundBatch {
    /// The envelopes' bytes, back to back (empty when `shared` is set).
    pub data: Vec<u8>,
    /// `(start, length)` of each envelope, two entries per envelope.
    pub offsets: Vec<u32>,
    /// Reply subject per envelope; `None` for events.
    pub replies: Vec<Option<String>>,
    /// Messages skipped because they were not valid Catga frames or envelopes.
    pub malformed: u32,
    /// The first reason a message was skipped, for the host's log.
    pub malformed_reason: Option<String>,
    /// Framed request groups in this batch: (group reply subject, request count). Their members'
    /// reply subjects are `<reply>.<i>`; the engine frames the replies back per group.
    pub reply_groups: Vec<(String, u32)>,
    /// Set when the batch is one large uncompressed frame handed over as received: `offsets`
    /// then index into these bytes (no copy) and `data` is empty.
    pub shared: Option<Bytes>,
    /// NATS messages the subscription dropped (buffer full) since the previous batch.
    pub dropped: u32,
}

impl InboundBatch {
    /// Number of envelopes.
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// Whether the batch holds no envelope.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    fn push(&mut self, envelope: &[u8], reply: Option<String>) {
        self.offsets.push(self.data.len() as u32);
        self.offsets.push(envelope.len() as u32);
        self.data.extend_from_slice(envelope);
        self.replies.push(reply);
    }

    fn skip(&mut self, subject: &str, reason: impl std::fmt::Display) {
        self.malformed += 1;
        if self.malformed_reason.is_none() {
            self.malformed_reason = Some(format!("{subject}: {reason}"));
        }
    }

    /// Takes one large uncompressed frame as the whole batch without copying it: the envelopes
    /// are checked and their offsets point into `payload`. False (and nothing taken) when the
    /// message is not such a frame; small frames are copied so several share one JS call.
    fn adopt_frame(&mut self, payload: &Bytes, subject: &str, reply: Option<&str>, limits: &Limits) -> bool {
        if payload.len() < SHARED_FRAME_BYTES || !is_raw_frame(payload) {
            return false;
        }
        match decode_frame(payload, limits) {
            Ok(frame) => self.take_entries(Some(payload), 0, &frame.ranges, subject, reply),
            Err(err) => {
                self.skip(subject, err);
                return true;
            }
        }
        // A frame whose entries were all skipped hands JS nothing to hold on to.
        if !self.offsets.is_empty() {
            self.shared = Some(payload.clone());
        }
        true
    }

    /// Copies a frame into `data` and takes its entries. An uncompressed frame is copied whole
    /// *before* it is parsed: one sequential copy, then the entries are walked while they are in
    /// cache (parsing first read every envelope's length cold from a frame that waited in the
    /// subscription's queue: ~15 % of the subscriber's CPU).
    fn copy_frame(&mut self, payload: &[u8], subject: &str, reply: Option<&str>, limits: &Limits) {
        let base = self.data.len();
        if is_raw_frame(payload) {
            self.data.extend_from_slice(payload);
            match decode_frame(&self.data[base..], limits).map(|frame| frame.ranges) {
                Ok(ranges) => self.take_entries(None, base, &ranges, subject, reply),
                Err(err) => {
                    self.data.truncate(base);
                    self.skip(subject, err);
                }
            }
        } else {
            match decode_frame(payload, limits) {
                Ok(frame) => {
                    self.data.extend_from_slice(&frame.body);
                    self.take_entries(None, base, &frame.ranges, subject, reply);
                }
                Err(err) => self.skip(subject, err),
            }
        }
    }

    /// Takes a frame's entries whose header checks out; the others are counted and skipped.
    /// `ranges` index into `body`, or, when it is `None`, into `data` from `base`. A frame with a
    /// reply subject is a framed request group: member i answers on `<reply>.<i>`, i being its
    /// position in the frame, skipped entries included.
    fn take_entries(
        &mut self,
        body: Option<&[u8]>,
        base: usize,
        ranges: &[Range<usize>],
        subject: &str,
        reply: Option<&str>,
    ) {
        if let Some(reply) = reply {
            self.reply_groups.push((reply.to_owned(), ranges.len() as u32));
        }
        self.offsets.reserve(2 * ranges.len());
        self.replies.reserve(ranges.len());
        for (index, range) in ranges.iter().enumerate() {
            let start = base + range.start;
            let entry = match body {
                Some(body) => body.get(range.clone()),
                None => self.data.get(start..start + range.len()),
            };
            let checked =
                entry.map_or_else(|| Err(CatgaError::decode("frame entry out of range")), check_envelope_header);
            if let Err(err) = checked {
                self.skip(subject, err);
                continue;
            }
            self.offsets.push(start as u32);
            self.offsets.push(range.len() as u32);
            self.replies.push(reply.map(|r| member_reply_subject(r, index)));
        }
    }

    /// Adds one NATS message: a frame of envelopes or a single envelope. Bad input is counted and
    /// skipped, never fatal: a foreign publisher must not break the subscription.
    pub fn absorb(&mut self, payload: &[u8], subject: &str, reply: Option<&str>, limits: &Limits) {
        if payload.starts_with(&FRAME_MAGIC) {
            self.copy_frame(payload, subject, reply, limits);
        } else {
            match decode_envelope(payload, limits) {
                Ok(_) => self.push(payload, reply.map(str::to_owned)),
                Err(err) => self.skip(subject, err),
            }
        }
    }
}

/// A `CTG1` frame whose body is not compressed (its entries can be used where they are).
fn is_raw_frame(payload: &[u8]) -> bool {
    payload.starts_with(&FRAME_MAGIC) && payload.get(5).is_some_and(|flags| flags & FLAG_ZSTD == 0)
}

/// Inside a frame (whose structure and lengths `decode_frame` already checked) only the envelope's
/// header is checked here: a 10-element MessagePack array of version 1. The full decode happens
/// once, on the JS side, instead of twice (it cost ~20 µs per 128-message frame here).
fn check_envelope_header(envelope: &[u8]) -> Result<(), CatgaError> {
    match envelope {
        [0x9a, version, ..] if *version == ENVELOPE_VERSION => Ok(()),
        [0x9a, version, ..] => Err(CatgaError::new(
            crate::error::ErrorCode::UnsupportedVersion,
            format!("envelope version {version} is not supported"),
        )),
        _ => Err(CatgaError::decode("frame entry is not a Catga envelope")),
    }
}

/// Frames at least this large are handed to JS as received (see `adopt_frame`); below it the
/// copy is cheaper than a JS call per frame. Well above the publishers' 16 KiB frame target, so
/// frames of about that size are always merged into one batch, never one JS call each.
const SHARED_FRAME_BYTES: usize = 64 * 1024;

/// A subscription that yields [`InboundBatch`]es.
///
/// Messages that arrive while JS handles the previous batch are held here, bounded by *bytes*
/// (`max_held_bytes`), not left in async-nats' channel, which is bounded by a message *count*:
/// a count sized for full frames overflows when the same traffic comes as single envelopes
/// (after a reconnect, or from a client that does not frame), and async-nats then drops without
/// telling which subscription. Past the byte bound the newest message is dropped and counted.
pub struct InboundSubscription {
    subscriber: Subscriber,
    limits: Limits,
    max_messages: usize,
    stats: Arc<Stats>,
    held: VecDeque<Message>,
    held_bytes: usize,
    max_held_bytes: usize,
    /// The subscriber has ended; only `held` remains to deliver.
    ended: bool,
    dropped: Arc<AtomicU64>,
    /// `dropped` as last reported in a batch.
    dropped_reported: u64,
}

impl InboundSubscription {
    pub(crate) fn new(
        subscriber: Subscriber,
        limits: Limits,
        max_messages: usize,
        max_held_bytes: usize,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            subscriber,
            limits,
            max_messages,
            stats,
            held: VecDeque::new(),
            held_bytes: 0,
            max_held_bytes,
            ended: false,
            dropped: Arc::new(AtomicU64::new(0)),
            dropped_reported: 0,
        }
    }

    /// Messages this subscription dropped because `max_held_bytes` was reached, shared with
    /// whoever reports it (the count only grows).
    pub fn dropped(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    /// Waits for at least one message, then takes whatever else is already queued. `None` when
    /// the subscription has ended (unsubscribed, drained or connection closed).
    pub async fn next_batch(&mut self) -> Option<InboundBatch> {
        loop {
            let first = match self.take_held() {
                Some(message) => message,
                None if self.ended => return None,
                None => self.subscriber.next().await?,
            };
            let mut batch = InboundBatch { data: super::batch_buffers::take(), ..InboundBatch::default() };
            let mut received = 1u64;
            let adopted =
                batch.adopt_frame(&first.payload, first.subject.as_str(), first.reply.as_deref(), &self.limits);
            if !adopted {
                batch.absorb(&first.payload, first.subject.as_str(), first.reply.as_deref(), &self.limits);
            }
            while !adopted && batch.len() < self.max_messages && batch.data.len() < self.limits.max_batch_bytes {
                let Some(message) = self.next_ready() else { break };
                received += 1;
                batch.absorb(&message.payload, message.subject.as_str(), message.reply.as_deref(), &self.limits);
            }
            Stats::add(&self.stats.malformed_received, u64::from(batch.malformed));
            Stats::add(&self.stats.frames_received, received);
            Stats::add(&self.stats.messages_received, batch.len() as u64);
            if !batch.is_empty() || batch.malformed > 0 {
                let dropped = self.dropped.load(Relaxed);
                batch.dropped = u32::try_from(dropped - self.dropped_reported).unwrap_or(u32::MAX);
                self.dropped_reported = dropped;
                Stats::add(&self.stats.batches_delivered, 1);
                return Some(batch);
            }
        }
    }

    /// Runs `work` (JS handling the last batch) while holding what arrives meanwhile, so
    /// async-nats' channel keeps draining and the bound that applies is `max_held_bytes`.
    pub async fn hold_while<F: Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        while !self.ended {
            tokio::select! {
                biased;
                out = &mut work => return out,
                message = self.subscriber.next() => match message {
                    Some(message) => self.hold(message),
                    None => self.ended = true,
                },
            }
        }
        work.await
    }

    fn hold(&mut self, message: Message) {
        let size = message.payload.len();
        // One message is always taken, however large (the server's max_payload bounds it).
        if !self.held.is_empty() && self.held_bytes + size > self.max_held_bytes {
            self.dropped.fetch_add(1, Relaxed);
            Stats::add(&self.stats.frames_dropped, 1);
            return;
        }
        self.held_bytes += size;
        self.held.push_back(message);
    }

    fn take_held(&mut self) -> Option<Message> {
        let message = self.held.pop_front()?;
        self.held_bytes -= message.payload.len();
        Some(message)
    }

    /// The next message already received, without waiting.
    fn next_ready(&mut self) -> Option<Message> {
        if let Some(message) = self.take_held() {
            return Some(message);
        }
        if self.ended {
            return None;
        }
        match self.subscriber.next().now_or_never() {
            Some(Some(message)) => Some(message),
            Some(None) => {
                self.ended = true;
                None
            }
            None => None,
        }
    }

    /// Stops delivery after the messages already received.
    pub async fn drain(&mut self) {
        let _ = self.subscriber.drain().await;
    }

    /// Stops delivery at once, dropping what the server has not delivered yet.
    pub async fn unsubscribe(&mut self) {
        let _ = self.subscriber.unsubscribe().await;
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
